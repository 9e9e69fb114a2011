"""A batch of tokenized examples: the currency between tasks, data files, sources and the model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .encodings import PAD


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

    @staticmethod
    def concat(parts: list[Examples]) -> Examples:
        def cat(mats: list[np.ndarray]) -> np.ndarray:
            width = max(m.shape[1] for m in mats)
            return np.concatenate([np.pad(m, ((0, 0), (0, width - m.shape[1])), constant_values=PAD) for m in mats])

        return Examples(
            cat([p.x for p in parts]), np.concatenate([p.x_len for p in parts]),
            cat([p.y for p in parts]), np.concatenate([p.y_len for p in parts]),
        )
