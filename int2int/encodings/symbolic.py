"""Symbolic integers (the original's ``SymbolicInts``): one token per value, encoded on whole batches.

A value ``v`` is the single token ``<prefix>v`` (``3``, or ``N3`` with prefix ``N``). Without a
prefix, the tokens of small values are the base digits ``0 .. B-1`` that every positional
vocabulary already has, so a task reuses them and only adds the tokens it lacks (a rank of 12 in
base 10 adds ``12``): :func:`symbolic_symbols` lists those.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .vocab import PAD, Vocabulary


def symbolic_symbols(values: Iterable[int], known: Iterable[str] = (), prefix: str = "") -> list[str]:
    """Tokens of ``values`` (in order) that are not already among the ``known`` symbols."""
    seen = set(known)
    out = []
    for v in values:
        tok = f"{prefix}{int(v)}"
        if tok not in seen:
            seen.add(tok)
            out.append(tok)
    return out


class SymbolicInts:
    """Vectorised encoder/decoder of a fixed set of integer values, one token each."""

    def __init__(self, vocab: Vocabulary, values: Iterable[int], prefix: str = ""):
        self.values = np.array(sorted({int(v) for v in values}), dtype=np.int64)
        if self.values.size == 0:
            raise ValueError("SymbolicInts needs at least one value")
        self.token_ids = np.array(vocab.ids([f"{prefix}{v}" for v in self.values]), dtype=np.int64)
        # Lookup tables from token id to value, and whether the token is one of ours.
        self.is_symbol = np.zeros(len(vocab), dtype=bool)
        self.is_symbol[self.token_ids] = True
        self.value_of = np.zeros(len(vocab), dtype=np.int64)
        self.value_of[self.token_ids] = self.values

    def encode(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values (n,) to id rows (n x 1) and lengths (all 1); raises on a value without a token."""
        values = np.asarray(values, dtype=np.int64).reshape(-1)
        pos = np.searchsorted(self.values, values)
        pos_c = np.minimum(pos, len(self.values) - 1)
        if np.any(self.values[pos_c] != values):
            bad = values[self.values[pos_c] != values][0]
            raise ValueError(f"value {bad} has no symbolic token (known: {self.values.min()}..{self.values.max()})")
        return self.token_ids[pos_c][:, None], np.ones(len(values), dtype=np.int64)

    def decode(self, ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(values, valid)``: ``valid`` when the row is exactly one token of this set."""
        ids = np.asarray(ids, dtype=np.int64)
        first = ids[:, 0] if ids.shape[1] else np.full(len(ids), PAD, dtype=np.int64)
        valid = (np.asarray(lengths) == 1) & self.is_symbol[first]
        return np.where(valid, self.value_of[first], 0), valid
