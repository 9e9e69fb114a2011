"""Object tokenizers: a number, or an array of numbers as the original writes it (``V<n>`` per axis, then
the elements row by row), in any element encoding.

These are the "two tokenizers" of the Int2Int manual: a task describes its input and its output with them
and gets encoding, decoding and length bounds for free. Arrays may be ragged across a batch (matrices of
several sizes): shapes are given per example.
"""

from __future__ import annotations

import math

import numpy as np

from .base import NumberEncoding, compact, row_params
from .vocab import Vocabulary

#: The original's dimension tokens V1..V100: every vocabulary has them, so any array file loads.
MAX_DIM = 100
DIM_TOKENS = [f"V{i}" for i in range(1, MAX_DIM + 1)]


class Number:
    """One number per example, in ``enc``."""

    def __init__(self, enc: NumberEncoding):
        self.enc = enc

    def symbols(self) -> list[str]:
        return self.enc.symbols()

    def bind(self, vocab: Vocabulary) -> Number:
        self.enc.bind(vocab)
        return self

    def encode(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        toks, mask = self.enc.tokens(np.asarray(values).reshape(-1))
        return compact(toks, mask)

    def decode(self, ids: np.ndarray, lengths: np.ndarray,
               start: int | np.ndarray = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(values n, valid n)``."""
        values, valid = self.enc.decode(ids, lengths, 1, start)
        return values[:, 0], valid

    def max_len(self, max_abs: float) -> int:
        return self.enc.max_len(max_abs)


class NumberArray:
    """An ``ndim``-axis array per example: ``V<d1> [V<d2>]`` then the elements row-major, in ``enc``.

    With ``complex_pairs`` each element is a complex number written as its real then imaginary part."""

    def __init__(self, enc: NumberEncoding, ndim: int = 1, complex_pairs: bool = False):
        self.enc, self.ndim, self.complex_pairs = enc, ndim, complex_pairs

    def symbols(self) -> list[str]:
        return self.enc.symbols() + DIM_TOKENS

    def bind(self, vocab: Vocabulary) -> NumberArray:
        self.enc.bind(vocab)
        self.dim_ids = np.array(vocab.ids(DIM_TOKENS), dtype=np.int64)
        self.dim_of = np.zeros(len(vocab), dtype=np.int64)  # token id -> dimension, 0: not a V token
        self.dim_of[self.dim_ids] = np.arange(1, MAX_DIM + 1)
        return self

    def max_len(self, shape: tuple[int, ...], max_abs: float) -> int:
        """Tokens of the longest array of this shape (or smaller) with elements of magnitude <= ``max_abs``."""
        per = self.enc.max_len(max_abs) * (2 if self.complex_pairs else 1)
        return self.ndim + math.prod(shape) * per

    def encode(self, values: np.ndarray, shapes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``values``: n x d1 [x d2] (padded when ragged); ``shapes``: n x ndim actual sizes (default: full)."""
        values = np.asarray(values)
        n = values.shape[0]
        full = values.shape[1:]
        if len(full) != self.ndim:
            raise ValueError(f"expected arrays of {self.ndim} axes, got shape {values.shape}")
        if shapes is None:
            shapes = np.broadcast_to(np.asarray(full, dtype=np.int64), (n, self.ndim))
        shapes = np.asarray(shapes, dtype=np.int64)
        if shapes.size and (shapes.min() < 1 or shapes.max() > MAX_DIM):
            raise ValueError(f"array dimensions must be in 1..{MAX_DIM}, got {shapes.min()}..{shapes.max()}")
        inside = np.ones((n,) + full, dtype=bool)  # elements within each example's own shape
        for axis in range(self.ndim):
            idx = np.arange(full[axis]).reshape((1,) * (axis + 1) + (-1,) + (1,) * (self.ndim - axis - 1))
            inside &= idx < shapes[:, axis].reshape((n,) + (1,) * self.ndim)
        flat = values.reshape(n, -1)
        keep = inside.reshape(n, -1)
        if self.complex_pairs:
            flat = np.stack([flat.real, flat.imag], axis=-1).reshape(n, -1)
            keep = np.repeat(keep, 2, axis=1)
        toks, mask = self.enc.tokens(np.where(keep, flat, 0))
        mask &= keep[..., None]
        toks, mask = toks.reshape(n, -1), mask.reshape(n, -1)
        dims = self.dim_ids[shapes - 1]
        toks = np.concatenate([dims, toks], axis=1)
        mask = np.concatenate([np.ones((n, self.ndim), dtype=bool), mask], axis=1)
        return compact(toks, mask)

    def decode(self, ids: np.ndarray, lengths: np.ndarray,
               start: int | np.ndarray = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(values n x max elements (flat, row-major), shapes n x ndim, valid n)``; complex values with
        ``complex_pairs``. ``valid``: the dimension tokens then exactly that many well-formed numbers."""
        n, width = ids.shape
        start = row_params(start, n)
        lengths = np.asarray(lengths)
        cols = np.minimum(start[:, None] + np.arange(self.ndim)[None, :], max(width - 1, 0))
        shapes = self.dim_of[np.take_along_axis(ids, cols, axis=1)] if width else np.zeros((n, self.ndim), np.int64)
        valid = (shapes > 0).all(axis=1) & (start + self.ndim <= lengths)
        count = np.where(valid, shapes.prod(axis=1), 0) * (2 if self.complex_pairs else 1)
        values, ok = self.enc.decode(ids, lengths, count, start + self.ndim)
        if self.complex_pairs:
            values = values[:, 0::2] + 1j * values[:, 1::2]
        return values, shapes, valid & ok
