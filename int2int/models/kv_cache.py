"""The key/value cache of one attention layer application, for step-by-step decoding."""

from __future__ import annotations

import torch


class KVCache:
    """Keys and values of the positions decoded so far, preallocated as B x H x T x D.

    :meth:`update` writes the new positions and returns the keys and values up to them; beam search
    selects and repeats rows with :meth:`reorder`."""

    def __init__(self, k: torch.Tensor, v: torch.Tensor):
        self.k, self.v = k, v

    @classmethod
    def empty(cls, batch: int, heads: int, length: int, head_dim: int, like: torch.Tensor) -> KVCache:
        return cls(like.new_empty(batch, heads, length, head_dim), like.new_empty(batch, heads, length, head_dim))

    def update(self, k: torch.Tensor, v: torch.Tensor, pos: int) -> tuple[torch.Tensor, torch.Tensor]:
        end = pos + k.shape[2]
        self.k[:, :, pos:end] = k
        self.v[:, :, pos:end] = v
        return self.k[:, :, :end], self.v[:, :, :end]

    def reorder(self, index: torch.Tensor) -> KVCache:
        return KVCache(self.k[index], self.v[index])
