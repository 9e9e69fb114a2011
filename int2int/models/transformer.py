"""Encoder-decoder transformer (the original's default architecture), fused SDPA attention.

Defaults: pre-norm residual blocks (LayerNorm before attention and feed-forward, one final
LayerNorm), learned positions, ReLU, one FFN hidden layer, output projection tied to the decoder's
token embeddings. Options (``architecture.*``, see ``docs/architectures.md``): sinusoidal or no
positions, GELU, deeper FFNs, post-norm, query/key normalisation, Xavier initialisation, dropout,
universal-transformer loops with copy gates and adaptive computation time.

Decoding keeps a key/value cache per decoder layer *application* (a looped layer has one per
loop), so that each step runs the decoder on one new token.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..config import ArchitectureConfig
from ..encodings import PAD
from .base import Seq2SeqModel
from .layers import (CrossAttention, DecoderLayer, EncoderLayer, FeedForward, LoopPlan, SelfAttention,
                     check_loop_options, init_embeddings, key_mask, loop_control, make_positions, ponder_mean,
                     run_stack, xavier_init)

__all__ = ["EncoderDecoder", "SelfAttention", "CrossAttention", "FeedForward", "EncoderLayer", "DecoderLayer"]


class EncoderDecoder(Seq2SeqModel):
    """Transformer encoder and decoder with cross-attention."""

    def __init__(self, a: ArchitectureConfig, vocab_size: int):
        super().__init__(a, vocab_size)
        de, dd = a.enc_emb_dim, a.dec_emb_dim
        post = a.norm == "post"
        kind, n_pos = a.positional_embeddings, a.max_positions
        self.enc_tok, self.enc_pos = nn.Embedding(vocab_size, de), make_positions(kind, n_pos, de)
        self.dec_tok, self.dec_pos = nn.Embedding(vocab_size, dd), make_positions(kind, n_pos, dd)
        self.enc_layers = nn.ModuleList(EncoderLayer(de, a.n_enc_heads, a.n_enc_hidden_layers, a)
                                        for _ in range(a.n_enc_layers))
        self.dec_layers = nn.ModuleList(DecoderLayer(dd, de, a) for _ in range(a.n_dec_layers))
        # pre-norm: a final LayerNorm after each stack; post-norm: a LayerNorm on the embeddings instead
        self.enc_norm = nn.Identity() if post else nn.LayerNorm(de)
        self.dec_norm = nn.Identity() if post else nn.LayerNorm(dd)
        self.enc_emb_norm = nn.LayerNorm(de) if post else nn.Identity()
        self.dec_emb_norm = nn.LayerNorm(dd) if post else nn.Identity()
        self.drop = nn.Dropout(a.dropout)
        self.proj = nn.Linear(dd, vocab_size, bias=False)
        self.enc_plan = LoopPlan(a.n_enc_layers, a.enc_loop_idx, a.enc_loops)
        self.dec_plan = LoopPlan(a.n_dec_layers, a.dec_loop_idx, a.dec_loops)
        check_loop_options(a, [self.enc_plan, self.dec_plan])
        self.enc_loop = loop_control(de, self.enc_plan, a)
        self.dec_loop = loop_control(dd, self.dec_plan, a)
        init_embeddings(self.enc_tok, self.enc_pos, self.dec_tok, self.dec_pos)
        if a.share_inout_emb:
            self.proj.weight = self.dec_tok.weight
        if a.xavier_init:
            xavier_init(self, skip=(self.dec_tok.weight,))
        self._aux: torch.Tensor | float = 0.0

    def check_task(self, task: Any) -> None:
        """Nothing beyond ``train.check_lengths``: inputs and outputs have their own positions."""

    def aux_loss(self) -> torch.Tensor | float:
        return self._aux

    def _embed(self, tok: nn.Embedding, pos_table: nn.Module | None, norm: nn.Module, ids: torch.Tensor) -> torch.Tensor:
        h = tok(ids)
        if pos_table is not None:
            h = h + pos_table.weight[: ids.shape[1]]
        return self.drop(norm(h))

    def encode(self, x: torch.Tensor, x_len: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder output for ``x <eos>`` (x already ends with eos) and its key mask (B x 1 x 1 x S).

        With ACT, the encoder's mean ponder cost is left in ``self._enc_ponder``."""
        mask = key_mask(x_len, x.shape[1])
        h = self._embed(self.enc_tok, self.enc_pos, self.enc_emb_norm, x)
        valid = mask[:, 0, 0] if self.cfg.act else None
        layers = self.enc_layers
        h, ponder = run_stack(h, self.enc_plan, self.enc_loop, lambda i, h, slot: layers[i](h, mask), valid)
        self._enc_ponder = ponder_mean(ponder, valid)
        return self.enc_norm(h), mask

    def logits(self, x: torch.Tensor, x_len: torch.Tensor, y_in: torch.Tensor) -> torch.Tensor:
        mem, mask = self.encode(x, x_len)
        h = self._embed(self.dec_tok, self.dec_pos, self.dec_emb_norm, y_in)
        layers = self.dec_layers
        kvs = [layer.cross_attn.memory(mem) for layer in layers]
        valid = y_in != PAD if self.cfg.act else None
        h, ponder = run_stack(h, self.dec_plan, self.dec_loop, lambda i, h, slot: layers[i](h, kvs[i], mask), valid)
        if self.cfg.act:
            self._aux = self.cfg.act_ponder_coupling * (self._enc_ponder + ponder_mean(ponder, valid))
        return self.proj(self.dec_norm(h))

    def start(self, x: torch.Tensor, x_len: torch.Tensor, max_len: int) -> dict[str, Any]:
        """Encoder output projected once per decoder layer, and an empty key/value cache per layer application."""
        b = x.shape[0]
        mem, mask = self.encode(x, x_len)
        heads, dd = self.cfg.n_dec_heads, self.cfg.dec_emb_dim
        t_max = min(max_len + 1, self.cfg.max_positions)
        return {
            "mask": mask,
            "mem_kv": [layer.cross_attn.memory(mem) for layer in self.dec_layers],
            "cache": [(mem.new_empty(b, heads, t_max, dd // heads), mem.new_empty(b, heads, t_max, dd // heads))
                      for _ in range(self.dec_plan.n_slots)],
        }

    def step(self, state: dict[str, Any], tokens: torch.Tensor, pos: int) -> torch.Tensor:
        h = self.dec_tok(tokens[:, None])
        if self.dec_pos is not None:
            h = h + self.dec_pos.weight[pos]
        h = self.dec_emb_norm(h)
        layers, kvs, caches, mask = self.dec_layers, state["mem_kv"], state["cache"], state["mask"]
        h, _ = run_stack(h, self.dec_plan, self.dec_loop,
                         lambda i, h, slot: layers[i](h, kvs[i], mask, cache=caches[slot], pos=pos), exhaustive=True)
        return self.proj(self.dec_norm(h[:, -1]))

    def reorder(self, state: dict[str, Any], index: torch.Tensor) -> dict[str, Any]:
        return {
            "mask": state["mask"][index],
            "mem_kv": [(k[index], v[index]) for k, v in state["mem_kv"]],
            "cache": [(k[index], v[index]) for k, v in state["cache"]],
        }


def build_model(a: ArchitectureConfig, vocab_size: int) -> Seq2SeqModel:
    """Kept for older imports: see :func:`int2int.models.build_model`."""
    from . import build_model as build

    return build(a, vocab_size)
