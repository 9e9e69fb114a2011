"""The key/value cache of one attention layer application, for step-by-step decoding."""

from __future__ import annotations

import torch


class KVCache:
    """Keys and values of the positions decoded so far, preallocated as B x H x T x D.

    :meth:`update` writes the new positions and returns the keys and values up to them; beam search
    selects and repeats rows with :meth:`reorder`."""

    def __init__(self, k: torch.Tensor, v: torch.Tensor):
        self.k, self.v = k, v
        self.end = 0  #: positions written so far: 0..end-1 (what a reorder copies)

    @classmethod
    def empty(cls, batch: int, heads: int, length: int, head_dim: int, like: torch.Tensor) -> KVCache:
        return cls(like.new_empty(batch, heads, length, head_dim), like.new_empty(batch, heads, length, head_dim))

    def update(self, k: torch.Tensor, v: torch.Tensor, pos: int) -> tuple[torch.Tensor, torch.Tensor]:
        end = pos + k.shape[2]
        self.k[:, :, pos:end] = k
        self.v[:, :, pos:end] = v
        self.end = max(self.end, end)
        return self.k[:, :, :end], self.v[:, :, :end]

    def reorder(self, index: torch.Tensor) -> KVCache:
        """The rows ``index``, in new buffers of the same length: only the positions written so far are copied,
        with ``index_select`` (2-3x faster than indexing the whole buffer: beam search reorders every step)."""
        out = KVCache.empty(len(index), *self.k.shape[1:], like=self.k)
        out.end = self.end
        for src, dst in ((self.k, out.k), (self.v, out.v)):
            torch.index_select(src[:, :, : self.end], 0, index, out=dst[:, :, : self.end])
        return out
