"""One transformer stack over one sequence: the common body of encoder-only and decoder-only models."""

from __future__ import annotations

import torch
from torch import nn

from ..config import ArchitectureConfig
from .base import Seq2SeqModel
from .layers import (
    EncoderLayer,
    LoopPlan,
    check_loop_options,
    init_embeddings,
    loop_control,
    make_positions,
    xavier_init,
)


class SingleStack(Seq2SeqModel):
    """Token and position embeddings, one stack of self-attention layers with the ``side`` (``enc`` or
    ``dec``) options of ``ArchitectureConfig``, loops, and an output projection."""

    def __init__(self, a: ArchitectureConfig, vocab_size: int, side: str):
        super().__init__(a, vocab_size)
        d, post = getattr(a, f"{side}_emb_dim"), a.norm == "post"
        n_layers, heads, hidden = (getattr(a, f"n_{side}_layers"), getattr(a, f"n_{side}_heads"),
                                   getattr(a, f"n_{side}_hidden_layers"))
        self.tok, self.pos = nn.Embedding(vocab_size, d), make_positions(a.positional_embeddings, a.max_positions, d)
        self.layers = nn.ModuleList(EncoderLayer(d, heads, hidden, a) for _ in range(n_layers))
        self.norm = nn.Identity() if post else nn.LayerNorm(d)
        self.emb_norm = nn.LayerNorm(d) if post else nn.Identity()
        self.drop = nn.Dropout(a.dropout)
        self.proj = nn.Linear(d, vocab_size, bias=False)
        self.plan = LoopPlan(n_layers, getattr(a, f"{side}_loop_idx"), getattr(a, f"{side}_loops"))
        check_loop_options(a, [self.plan])
        self.loop = loop_control(d, self.plan, a)
        init_embeddings(self.tok, self.pos)
        if a.share_inout_emb:
            self.proj.weight = self.tok.weight
        if a.xavier_init:
            xavier_init(self, skip=(self.tok.weight,))
        self._aux: torch.Tensor | float = 0.0
