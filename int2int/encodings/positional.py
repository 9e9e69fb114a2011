"""``encoding=positional``: integers as a sign token then base-B digits (the original's ``PositionalInts``).

Digits are most significant first, each written as its decimal string: -3124 is ``- 3 1 2 4`` in base 10
and ``- 3 124`` in base 1000; zero is ``+ 0``. The sign doubles as the separator between consecutive
integers. Encoded and decoded on whole batches with lookup tables from token id to digit and sign.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Config, opt
from .base import ENCODINGS, EncodingConfig, NumberEncoding, row_params
from .vocab import Vocabulary

#: Decoded magnitudes must stay below this bound; a longer integer is not a well-formed answer.
MAX_MAGNITUDE = 2**62


@dataclass
class PositionalConfig(EncodingConfig):
    name: str = opt("positional", "Integers as a sign token then base-B digits, most significant first.")
    base: int = opt(30, "Base B of positional integers (the original's --base; its default is 1000).")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        self.require(self.base >= 2, "base", "must be >= 2")


def digit_symbols(base: int) -> list[str]:
    return ["+", "-"] + [str(d) for d in range(base)]


def n_digits(max_abs: int, base: int) -> int:
    """Digits needed to write every integer of magnitude <= max_abs in base ``base`` (at least 1)."""
    n, v = 1, max(int(max_abs), 0) // base
    while v:
        n, v = n + 1, v // base
    return n


@ENCODINGS.register("positional", config=PositionalConfig)
class PositionalInts(NumberEncoding):
    kind = "int"

    def __init__(self, cfg: PositionalConfig):
        super().__init__(cfg)
        if cfg.base < 2:
            raise ValueError(f"base must be >= 2, got {cfg.base}")
        self.base = cfg.base

    def symbols(self) -> list[str]:
        return digit_symbols(self.base)

    def bind(self, vocab: Vocabulary) -> PositionalInts:
        # a vocabulary built from a file of positive integers may lack "-"
        self.plus, self.minus, self.digit0 = vocab.id("+"), vocab.stoi.get("-"), vocab.id("0")
        if vocab.id(str(self.base - 1)) != self.digit0 + self.base - 1:
            raise ValueError("digit tokens must be contiguous in the vocabulary")
        self.digit_of = np.full(len(vocab), -1, dtype=np.int64)  # token id -> digit value, -1: not a digit
        self.digit_of[self.digit0 : self.digit0 + self.base] = np.arange(self.base)
        self.sign_of = np.zeros(len(vocab), dtype=np.int64)  # token id -> +1, -1, 0: not a sign
        self.sign_of[self.plus] = 1
        if self.minus is not None:
            self.sign_of[self.minus] = -1
        return self

    def max_len(self, max_abs: float) -> int:
        return 1 + n_digits(int(max_abs), self.base)

    def tokens(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = np.asarray(values, dtype=np.int64)
        width = n_digits(int(np.abs(values).max(initial=0)), self.base)
        mag = np.abs(values)
        digits = np.empty(values.shape + (width,), dtype=np.int64)
        for j in range(width - 1, -1, -1):
            digits[..., j] = mag % self.base
            mag = mag // self.base
        if self.minus is None and np.any(values < 0):
            raise ValueError(f"negative integer {values[values < 0].flat[0]} needs a '-' token in the vocabulary")
        nonzero = digits != 0
        first = np.where(nonzero.any(axis=-1), nonzero.argmax(axis=-1), width - 1)
        mask = np.arange(width) >= first[..., None]
        sign = np.where(values < 0, self.minus if self.minus is not None else self.plus, self.plus)
        toks = np.concatenate([sign[..., None], digits + self.digit0], axis=-1)
        mask = np.concatenate([np.ones(values.shape + (1,), dtype=bool), mask], axis=-1)
        return toks, mask

    def decode(self, ids: np.ndarray, lengths: np.ndarray, count: int | np.ndarray,
               start: int | np.ndarray = 0) -> tuple[np.ndarray, np.ndarray]:
        """Leading zero digits are accepted (``+ 0 8`` is 8); an integer of 2**62 or more is not valid."""
        n, width = ids.shape
        count, start = row_params(count, n), row_params(start, n)
        digit, sign = self.digit_of[ids], self.sign_of[ids]
        values = np.zeros((n, max(int(count.max(initial=0)), 1)), dtype=np.int64)
        valid = np.ones(n, dtype=bool)
        started = np.zeros(n, dtype=np.int64)  # integers started so far
        ndig = np.zeros(n, dtype=np.int64)  # digits of the current integer
        cur = np.zeros(n, dtype=np.int64)
        cur_sign = np.ones(n, dtype=np.int64)
        limit = MAX_MAGNITUDE // self.base
        rows = np.arange(n)

        def flush(where: np.ndarray) -> None:
            ok = where & (started >= 1) & (started <= count)
            values[rows[ok], started[ok] - 1] = cur[ok] * cur_sign[ok]

        for j in range(int(start.min(initial=0)), width):
            active = (j >= start) & (j < lengths)
            is_sign = active & (sign[:, j] != 0)
            is_digit = active & (digit[:, j] >= 0)
            valid &= ~active | is_sign | is_digit
            valid &= ~(is_sign & (started > 0) & (ndig == 0))  # a sign closes an integer with a digit
            flush(is_sign)
            started = started + is_sign
            ndig = np.where(is_sign, 0, ndig)
            cur = np.where(is_sign, 0, cur)
            cur_sign = np.where(is_sign, sign[:, j], cur_sign)
            valid &= ~(is_digit & (started == 0))
            valid &= ~(is_digit & (cur >= limit))  # too long for int64 arithmetic
            cur = np.where(is_digit & valid, cur * self.base + digit[:, j], cur)
            ndig = ndig + is_digit
        flush(np.ones(n, dtype=bool))
        valid &= (started == count) & ((ndig > 0) | (count == 0))
        return values, valid
