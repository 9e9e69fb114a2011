"""The input of every transformer stack: token embeddings, positions, the post-norm LayerNorm and dropout."""

from __future__ import annotations

import math

import torch
from torch import nn


class SinusoidalPositions(nn.Module):
    """The fixed sin/cos table of the original transformer, scaled by ``dim ** -0.5`` so that it has the magnitude
    of the token embeddings. The table is a non-persistent buffer: rebuilt, never saved in checkpoints."""

    def __init__(self, max_positions: int, dim: int):
        super().__init__()
        pos = torch.arange(max_positions, dtype=torch.float64)[:, None]
        freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float64) / dim)
        table = torch.zeros(max_positions, dim, dtype=torch.float64)
        table[:, 0::2] = torch.sin(pos * freq)
        table[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
        self.register_buffer("weight", (table * dim**-0.5).float(), persistent=False)


class Embedding(nn.Module):
    """Tokens + positions (learned, sinusoidal or none), then a LayerNorm (post-norm models, as the original's)
    and dropout. Token and learned position tables start normal with standard deviation ``dim ** -0.5``."""

    def __init__(self, vocab_size: int, dim: int, positions: str, max_positions: int, norm: bool, dropout: float):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, dim)
        self.pos: nn.Module | None = {"learned": lambda: nn.Embedding(max_positions, dim),
                                      "sinusoidal": lambda: SinusoidalPositions(max_positions, dim),
                                      "none": lambda: None}[positions]()
        self.norm = nn.LayerNorm(dim) if norm else nn.Identity()
        self.drop = nn.Dropout(dropout)
        for table in (self.tok, self.pos):
            if isinstance(table, nn.Embedding):
                nn.init.normal_(table.weight, std=dim**-0.5)

    def forward(self, ids: torch.Tensor, positions: int | torch.Tensor = 0) -> torch.Tensor:
        """Embeddings of ``ids`` (B x T); positions start at ``positions`` (an int), or are given per token."""
        h = self.tok(ids)
        if self.pos is not None:
            if isinstance(positions, int):
                h = h + self.pos.weight[positions : positions + ids.shape[1]]
            else:
                h = h + self.pos.weight[positions]
        return self.drop(self.norm(h))
