"""Positional integers (the original's ``PositionalInts``), encoded and decoded on whole batches.

An integer is a sign token (``+`` or ``-``) then its digits in base B, most significant first, each
digit written as its decimal string: -3124 is ``- 3 1 2 4`` in base 10 and ``- 3 124`` in base 1000;
zero is ``+ 0``. The sign doubles as the separator between consecutive integers.
"""

from __future__ import annotations

import numpy as np

from .vocab import PAD, Vocabulary

#: Decoded magnitudes must stay below this bound; larger outputs are flagged as overflowing.
MAX_MAGNITUDE = 2**62


def digit_symbols(base: int) -> list[str]:
    return ["+", "-"] + [str(d) for d in range(base)]


def n_digits(max_abs: int, base: int) -> int:
    """Digits needed to write every integer of magnitude <= max_abs in base ``base`` (at least 1)."""
    n, v = 1, max(int(max_abs), 0) // base
    while v:
        n, v = n + 1, v // base
    return n


def compact(tokens: np.ndarray, mask: np.ndarray, pad: int = PAD) -> tuple[np.ndarray, np.ndarray]:
    """Left-align the tokens of each row where ``mask`` is set; pad the rest. Returns ids and lengths."""
    lengths = mask.sum(axis=1)
    out = np.full((tokens.shape[0], max(int(lengths.max(initial=0)), 1)), pad, dtype=np.int64)
    rows, cols = np.nonzero(mask)
    pos = np.cumsum(mask, axis=1)[rows, cols] - 1
    out[rows, pos] = tokens[rows, cols]
    return out, lengths.astype(np.int64)


class PositionalInts:
    """Vectorised encoder/decoder of positional integers for one base and one vocabulary."""

    def __init__(self, base: int, vocab: Vocabulary):
        if base < 2:
            raise ValueError(f"base must be >= 2, got {base}")
        self.base = base
        # a vocabulary built from a file of positive integers may lack "-"
        self.plus, self.minus, self.digit0 = vocab.id("+"), vocab.stoi.get("-"), vocab.id("0")
        if vocab.id(str(base - 1)) != self.digit0 + base - 1:
            raise ValueError("digit tokens must be contiguous in the vocabulary")
        # Lookup tables from token id to digit value (-1: not a digit) and sign (+1, -1, 0).
        self.digit_of = np.full(len(vocab), -1, dtype=np.int64)
        self.digit_of[self.digit0 : self.digit0 + base] = np.arange(base)
        self.sign_of = np.zeros(len(vocab), dtype=np.int64)
        self.sign_of[self.plus] = 1
        if self.minus is not None:
            self.sign_of[self.minus] = -1

    def tokens(self, values: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Tokens of integers ``values`` (any shape S) as an array S x (1 + width) and its validity mask.

        ``width`` is the largest number of digits; leading zero digits are masked out.
        """
        values = np.asarray(values, dtype=np.int64)
        mag = np.abs(values)
        digits = np.empty(values.shape + (width,), dtype=np.int64)
        for j in range(width - 1, -1, -1):
            digits[..., j] = mag % self.base
            mag = mag // self.base
        if np.any(mag):
            raise ValueError(f"an integer needs more than {width} digits in base {self.base}")
        if self.minus is None and np.any(values < 0):
            raise ValueError("negative integers need a '-' token in the vocabulary")
        nonzero = digits != 0
        first = np.where(nonzero.any(axis=-1), nonzero.argmax(axis=-1), width - 1)
        mask = np.arange(width) >= first[..., None]
        sign = np.where(values < 0, self.minus, self.plus)
        toks = np.concatenate([sign[..., None], digits + self.digit0], axis=-1)
        mask = np.concatenate([np.ones(values.shape + (1,), dtype=bool), mask], axis=-1)
        return toks, mask

    def encode(self, values: np.ndarray, width: int, prefix: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows of integers (n x k) to padded id rows ``prefix int_1 ... int_k`` and their lengths."""
        values = np.asarray(values, dtype=np.int64)
        if values.ndim == 1:
            values = values[:, None]
        n = values.shape[0]
        toks, mask = self.tokens(values, width)
        toks, mask = toks.reshape(n, -1), mask.reshape(n, -1)
        if prefix:
            pre = np.broadcast_to(np.asarray(prefix, dtype=np.int64), (n, len(prefix)))
            toks = np.concatenate([pre, toks], axis=1)
            mask = np.concatenate([np.ones((n, len(prefix)), dtype=bool), mask], axis=1)
        return compact(toks, mask)

    def decode(self, ids: np.ndarray, lengths: np.ndarray, count: int, start: int = 0):
        """Parse ``count`` integers from each row, reading tokens ``start .. length-1``.

        Returns ``(values, valid, overflow)``: values (n x count) int64, ``valid`` when the row is
        exactly ``count`` well-formed integers, ``overflow`` when one of them is too large for int64
        (its value is then meaningless). Leading zero digits are accepted (``+ 0 8`` is 8).
        """
        n, width = ids.shape
        digit = self.digit_of[ids]
        sign = self.sign_of[ids]
        values = np.zeros((n, count), dtype=np.int64)
        valid = np.ones(n, dtype=bool)
        overflow = np.zeros(n, dtype=bool)
        started = np.zeros(n, dtype=np.int64)  # integers started so far
        ndig = np.zeros(n, dtype=np.int64)  # digits of the current integer
        cur = np.zeros(n, dtype=np.int64)
        cur_sign = np.ones(n, dtype=np.int64)
        limit = MAX_MAGNITUDE // self.base
        rows = np.arange(n)

        def flush(where: np.ndarray) -> None:
            idx = np.clip(started - 1, 0, count - 1)
            ok = where & (started >= 1) & (started <= count)
            values[rows[ok], idx[ok]] = cur[ok] * cur_sign[ok]

        for j in range(start, width):
            active = j < lengths
            is_sign = active & (sign[:, j] != 0)
            is_digit = active & (digit[:, j] >= 0)
            valid &= ~active | is_sign | is_digit
            # a sign closes the previous integer, which needs at least one digit
            valid &= ~(is_sign & (started > 0) & (ndig == 0))
            flush(is_sign)
            started = started + is_sign
            ndig = np.where(is_sign, 0, ndig)
            cur = np.where(is_sign, 0, cur)
            cur_sign = np.where(is_sign, sign[:, j], cur_sign)
            valid &= ~(is_digit & (started == 0))
            overflow |= is_digit & (cur >= limit)
            cur = np.where(is_digit & ~overflow, cur * self.base + digit[:, j], cur)
            ndig = ndig + is_digit
        flush(np.ones(n, dtype=bool))
        valid &= (started == count) & (ndig > 0)
        return values, valid, overflow
