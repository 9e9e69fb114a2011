"""What a number encoding is, and the ``encoding`` config group.

An encoding writes numbers (integers or reals) as tokens and reads them back, on whole batches:
``tokens(values)`` gives each number's tokens, left-aligned, with a mask; ``decode`` parses a given count
of numbers from each row of a padded id matrix. Tasks build their inputs and outputs from numbers with the
object tokenizers of :mod:`int2int.encodings.arrays`, so any task works with any encoding of the right kind.

An encoding is one module: a config dataclass (its options, their checks) and a class, registered with
``@ENCODINGS.register("<name>", config=<Config>)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..config import Config, ConfigError, Options, Registry, opt
from .vocab import PAD, Vocabulary

ENCODINGS: Registry[type[NumberEncoding]] = Registry("encoding")


@dataclass
class EncodingConfig(Options):
    section: ClassVar[str] = "encoding"
    name: str = opt("positional", "The number encoding (config group `encoding`).")
    output: str = opt("", "Encoding of the outputs when it differs from the inputs' (e.g. encoding=fp15 "
                      "encoding.output=p1000); empty: the same as the inputs.")

    def check(self, cfg: Config) -> None:
        self.require(not self.output or self.output in ENCODINGS, "output",
                     f"unknown encoding (known: {', '.join(ENCODINGS)})")


class NumberEncoding(ABC):
    """Numbers to tokens and back, vectorised over whole arrays."""

    #: "int" (integers, exact) or "real" (floats, rounded to a precision).
    kind: ClassVar[str] = "int"

    def __init__(self, cfg: Any):
        self.cfg = cfg

    @classmethod
    def from_config(cls, cfg: Any) -> NumberEncoding:
        """The encoding of its config dataclass (the ``encoding`` section)."""
        return cls(cfg)

    @abstractmethod
    def symbols(self) -> list[str]:
        """Every token the encoding may write, in a fixed order."""

    @abstractmethod
    def bind(self, vocab: Vocabulary) -> NumberEncoding:
        """Build the id lookup tables for ``vocab`` (which holds :meth:`symbols`); returns self."""

    @abstractmethod
    def tokens(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of ``values`` (any shape S) as ``S x W`` ids and mask, each number left-aligned.

        Raises ValueError naming the value when one cannot be encoded."""

    @abstractmethod
    def decode(self, ids: np.ndarray, lengths: np.ndarray, count: int | np.ndarray,
               start: int | np.ndarray = 0) -> tuple[np.ndarray, np.ndarray]:
        """Parse ``count`` numbers from tokens ``start .. length-1`` of each row (scalars or per-row arrays).

        Returns ``(values n x max(count), valid n)``: ``valid`` when that part of the row is exactly
        ``count`` well-formed numbers."""

    @abstractmethod
    def max_len(self, max_abs: float) -> int:
        """Tokens of the longest number of magnitude at most ``max_abs`` (bounds sequence lengths)."""


def build_encodings(cfg: Config) -> tuple[NumberEncoding, NumberEncoding]:
    """The input and output encodings of ``cfg.encoding`` (the output one from ``encoding.output``)."""
    enc_cfg = cfg.encoding
    inp = ENCODINGS.get(enc_cfg.name).from_config(enc_cfg)
    if not enc_cfg.output or enc_cfg.output == enc_cfg.name:
        return inp, inp
    out_cls, schema = ENCODINGS.get(enc_cfg.output), ENCODINGS.schemas[enc_cfg.output]
    shared = {k: v for k, v in vars(enc_cfg).items()
              if k in schema.__dataclass_fields__ and k not in ("name", "output")}
    out_cfg = schema(**{**shared, "name": enc_cfg.output})
    out_cfg.check(cfg)
    return inp, out_cls.from_config(out_cfg)


def require_kind(cfg: Config, kind: str, *encodings: NumberEncoding) -> None:
    """Fail with a config error when a task of integers gets a real encoding, or the reverse."""
    for enc in encodings:
        if enc.kind != kind:
            what = "integers" if kind == "int" else "real numbers"
            raise ConfigError(f"encoding.name={enc.cfg.name!r}: task={cfg.task.name} writes {what}, this encoding "
                              f"writes {'integers' if enc.kind == 'int' else 'real numbers'}")


def compact(tokens: np.ndarray, mask: np.ndarray, pad: int = PAD) -> tuple[np.ndarray, np.ndarray]:
    """Left-align the tokens of each row where ``mask`` is set; pad the rest. Returns ids and lengths."""
    lengths = mask.sum(axis=1)
    out = np.full((tokens.shape[0], max(int(lengths.max(initial=0)), 1)), pad, dtype=np.int64)
    rows, cols = np.nonzero(mask)
    pos = np.cumsum(mask, axis=1)[rows, cols] - 1
    out[rows, pos] = tokens[rows, cols]
    return out, lengths.astype(np.int64)


def row_params(value: int | np.ndarray, n: int) -> np.ndarray:
    """A scalar or per-row parameter (start, count) as an int64 array of length n."""
    return np.broadcast_to(np.asarray(value, dtype=np.int64), (n,)).copy()
