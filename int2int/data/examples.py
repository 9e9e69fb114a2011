"""A batch of tokenized examples: the currency between tasks, data files, sources and the model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..encodings.vocab import PAD


def fits(x_len, y_len, max_len: int):
    """Whether an example fits ``max_len`` tokens: ``x <eos>`` and ``<eos> y <eos>`` (ints or arrays)."""
    return (x_len + 1 <= max_len) & (y_len + 2 <= max_len)


@dataclass
class Examples:
    """A batch of tokenized examples: padded id matrices and their lengths (no ``<eos>``)."""

    x: np.ndarray
    x_len: np.ndarray
    y: np.ndarray
    y_len: np.ndarray

    def __len__(self) -> int:
        return len(self.x_len)

    def take(self, index: np.ndarray | slice) -> Examples:
        """A subset of the rows, trimmed to its own longest sequences."""
        x_len, y_len = self.x_len[index], self.y_len[index]
        lx, ly = max(int(x_len.max(initial=1)), 1), max(int(y_len.max(initial=1)), 1)
        return Examples(self.x[index][:, :lx], x_len, self.y[index][:, :ly], y_len)

    def drop_long(self, max_len: int) -> tuple[Examples, int]:
        """The examples that fit ``max_len`` tokens, and how many were dropped."""
        keep = fits(self.x_len, self.y_len, max_len)
        n_drop = int((~keep).sum())
        return (self if n_drop == 0 else self.take(np.nonzero(keep)[0])), n_drop

    def input_hashes(self) -> np.ndarray:
        """A 64-bit hash of each example's input tokens (to tell inputs apart: held-out evaluation sets)."""
        x = np.where(np.arange(self.x.shape[1])[None, :] < self.x_len[:, None], self.x, PAD).astype(np.uint64)
        h = np.full(len(self), 0xCBF29CE484222325, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(x.shape[1]):
                h = (h ^ x[:, j]) * np.uint64(0x100000001B3)
        return h

    @staticmethod
    def concat(parts: list[Examples]) -> Examples:
        def cat(mats: list[np.ndarray]) -> np.ndarray:
            width = max(m.shape[1] for m in mats)
            return np.concatenate([np.pad(m, ((0, 0), (0, width - m.shape[1])), constant_values=PAD) for m in mats])

        return Examples(cat([p.x for p in parts]), np.concatenate([p.x_len for p in parts]),
                        cat([p.y for p in parts]), np.concatenate([p.y_len for p in parts]))

    @staticmethod
    def of(x: tuple[np.ndarray, np.ndarray], y: tuple[np.ndarray, np.ndarray]) -> Examples:
        """Examples from the ``(ids, lengths)`` of the inputs and of the outputs."""
        return Examples(x[0], x[1], y[0], y[1])
