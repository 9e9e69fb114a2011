"""``encoding=symbolic``: one token per integer of a range (the original's ``SymbolicInts``).

A value ``v`` is the single token ``<prefix>v`` (``3``, or ``N3`` with ``encoding.prefix=N``). Suited to
small bounded integers (residues modulo a small prime, ranks, dimensions); a value outside
[``encoding.min``, ``encoding.max``] is an error at generation. Tasks also use :class:`SymbolicInts`
directly for symbolic answers (``fraction_compare``'s ``0``/``1``, ``matrix_rank``'s ranks).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..config import Config, opt
from .base import ENCODINGS, EncodingConfig, NumberEncoding, row_params
from .vocab import Vocabulary

#: A symbolic vocabulary larger than this is certainly a mistake (each value is one embedding row).
MAX_SYMBOLS = 1_000_000


@dataclass
class SymbolicConfig(EncodingConfig):
    name: str = opt("symbolic", "One token per integer in [min, max], optionally prefixed.")
    min: int = opt(0, "Smallest integer with a token.")
    max: int = opt(1000, "Largest integer with a token.")
    prefix: str = opt("", "Prefix of every token (`N` gives N0, N1...); empty: the bare integer.")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        self.require(self.min <= self.max, "min", f"must be <= encoding.max ({self.max})")
        self.require(self.max - self.min < MAX_SYMBOLS, "max", f"at most {MAX_SYMBOLS:,} tokens")


@ENCODINGS.register("symbolic", config=SymbolicConfig)
class SymbolicInts(NumberEncoding):
    """Vectorised encoder/decoder of the integers min..max, one token each."""

    kind = "int"

    def __init__(self, cfg: SymbolicConfig | None = None, *, values: Iterable[int] | None = None, prefix: str = ""):
        super().__init__(cfg)
        if cfg is not None:
            values, prefix = range(cfg.min, cfg.max + 1), cfg.prefix
        self.values = np.array(sorted({int(v) for v in values or ()}), dtype=np.int64)
        if self.values.size == 0:
            raise ValueError("SymbolicInts needs at least one value")
        self.prefix = prefix

    def symbols(self) -> list[str]:
        return [f"{self.prefix}{v}" for v in self.values]

    def bind(self, vocab: Vocabulary) -> SymbolicInts:
        self.token_ids = np.array(vocab.ids(self.symbols()), dtype=np.int64)
        self.is_symbol = np.zeros(len(vocab), dtype=bool)  # token id -> one of ours
        self.is_symbol[self.token_ids] = True
        self.value_of = np.zeros(len(vocab), dtype=np.int64)  # token id -> its value
        self.value_of[self.token_ids] = self.values
        return self

    def max_len(self, max_abs: float) -> int:
        return 1

    def tokens(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = np.asarray(values, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.values, values), len(self.values) - 1)
        bad = self.values[pos] != values
        if np.any(bad):
            raise ValueError(f"value {values[bad].flat[0]} has no symbolic token "
                             f"(known: {self.values.min()}..{self.values.max()})")
        return self.token_ids[pos][..., None], np.ones(values.shape + (1,), dtype=bool)

    def decode(self, ids: np.ndarray, lengths: np.ndarray, count: int | np.ndarray,
               start: int | np.ndarray = 0) -> tuple[np.ndarray, np.ndarray]:
        n, width = ids.shape
        count, start = row_params(count, n), row_params(start, n)
        k = max(int(count.max(initial=0)), 1)
        cols = start[:, None] + np.arange(k)[None, :]
        inside = cols < np.minimum(np.asarray(lengths)[:, None], width)
        tok = np.take_along_axis(ids, np.minimum(cols, width - 1), axis=1)
        wanted = np.arange(k)[None, :] < count[:, None]
        ok = np.where(wanted, inside & self.is_symbol[tok], True)
        valid = ok.all(axis=1) & (np.asarray(lengths) - start == count)
        return np.where(wanted & inside, self.value_of[tok], 0), valid
