"""Encoder-decoder transformer: learned positions, tied output embeddings, fused SDPA attention.

Pre-norm residual blocks (LayerNorm before attention and feed-forward, one final LayerNorm) train
stably at the learning rates small math models like. Attention goes through
``torch.nn.functional.scaled_dot_product_attention``, which picks a fused kernel on CPU and GPU.
Decoding keeps a key/value cache: each step runs the decoder on one new token.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ArchitectureConfig
from .base import Seq2SeqModel


class SelfAttention(nn.Module):
    def __init__(self, dim: int, n_heads: int, attn_dropout: float):
        super().__init__()
        self.n_heads, self.head_dim, self.attn_dropout = n_heads, dim // n_heads, attn_dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, causal: bool = False,
                cache: tuple[torch.Tensor, torch.Tensor] | None = None, pos: int = 0) -> torch.Tensor:
        """``cache`` (k, v) of shape B x H x T x D is filled at ``pos`` and attended up to it."""
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if cache is not None:
            cache[0][:, :, pos : pos + t] = k
            cache[1][:, :, pos : pos + t] = v
            k, v = cache[0][:, :, : pos + t], cache[1][:, :, : pos + t]
        drop = self.attn_dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop, is_causal=causal and t > 1)
        return self.out(y.transpose(1, 2).reshape(b, t, -1))


class CrossAttention(nn.Module):
    def __init__(self, dim: int, kv_dim: int, n_heads: int, attn_dropout: float):
        super().__init__()
        self.n_heads, self.head_dim, self.attn_dropout = n_heads, dim // n_heads, attn_dropout
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(kv_dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def memory(self, mem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of the encoder output, computed once per sequence."""
        b, s, _ = mem.shape
        k, v = self.kv(mem).view(b, s, 2, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return k, v

    def forward(self, x: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        drop = self.attn_dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, kv[0], kv[1], attn_mask=mask, dropout_p=drop)
        return self.out(y.transpose(1, 2).reshape(b, t, -1))


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, dim), nn.Dropout(dropout))


class EncoderLayer(nn.Module):
    def __init__(self, dim: int, a: ArchitectureConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, a.n_enc_heads, a.attention_dropout)
        self.ffn = FeedForward(dim, a.ffn_mult * dim, a.dropout)
        self.drop = nn.Dropout(a.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x), mask=mask))
        return x + self.ffn(self.ln2(x))


class DecoderLayer(nn.Module):
    def __init__(self, dim: int, enc_dim: int, a: ArchitectureConfig):
        super().__init__()
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.self_attn = SelfAttention(dim, a.n_dec_heads, a.attention_dropout)
        self.cross_attn = CrossAttention(dim, enc_dim, a.n_dec_heads, a.attention_dropout)
        self.ffn = FeedForward(dim, a.ffn_mult * dim, a.dropout)
        self.drop = nn.Dropout(a.dropout)

    def forward(self, x, mem_kv, mem_mask, cache=None, pos: int = 0) -> torch.Tensor:
        x = x + self.drop(self.self_attn(self.ln1(x), causal=True, cache=cache, pos=pos))
        x = x + self.drop(self.cross_attn(self.ln2(x), mem_kv, mem_mask))
        return x + self.ffn(self.ln3(x))


class EncoderDecoder(Seq2SeqModel):
    """Transformer encoder and decoder with cross-attention (the original's default architecture)."""

    def __init__(self, a: ArchitectureConfig, vocab_size: int):
        super().__init__(a, vocab_size)
        de, dd = a.enc_emb_dim, a.dec_emb_dim
        self.enc_tok, self.enc_pos = nn.Embedding(vocab_size, de), nn.Embedding(a.max_positions, de)
        self.dec_tok, self.dec_pos = nn.Embedding(vocab_size, dd), nn.Embedding(a.max_positions, dd)
        self.enc_layers = nn.ModuleList(EncoderLayer(de, a) for _ in range(a.n_enc_layers))
        self.dec_layers = nn.ModuleList(DecoderLayer(dd, de, a) for _ in range(a.n_dec_layers))
        self.enc_norm, self.dec_norm = nn.LayerNorm(de), nn.LayerNorm(dd)
        self.drop = nn.Dropout(a.dropout)
        self.proj = nn.Linear(dd, vocab_size, bias=False)
        for emb in (self.enc_tok, self.enc_pos, self.dec_tok, self.dec_pos):
            nn.init.normal_(emb.weight, std=emb.embedding_dim**-0.5)
        if a.share_inout_emb:
            self.proj.weight = self.dec_tok.weight

    def embedding_params(self) -> int:
        n = super().embedding_params()
        return n if self.cfg.share_inout_emb else n + self.proj.weight.numel()

    def encode(self, x: torch.Tensor, x_len: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder output for ``x <eos>`` (x already ends with eos) and its key mask (B x 1 x 1 x S)."""
        s = x.shape[1]
        mask = (torch.arange(s, device=x.device)[None, :] < x_len[:, None])[:, None, None, :]
        h = self.drop(self.enc_tok(x) + self.enc_pos.weight[:s])
        for layer in self.enc_layers:
            h = layer(h, mask)
        return self.enc_norm(h), mask

    def logits(self, x: torch.Tensor, x_len: torch.Tensor, y_in: torch.Tensor) -> torch.Tensor:
        mem, mask = self.encode(x, x_len)
        t = y_in.shape[1]
        h = self.drop(self.dec_tok(y_in) + self.dec_pos.weight[:t])
        for layer in self.dec_layers:
            h = layer(h, layer.cross_attn.memory(mem), mask)
        return self.proj(self.dec_norm(h))

    def start(self, x: torch.Tensor, x_len: torch.Tensor, max_len: int) -> dict[str, Any]:
        """Encoder output projected once per decoder layer, and an empty key/value cache per layer."""
        b = x.shape[0]
        mem, mask = self.encode(x, x_len)
        heads, dd = self.cfg.n_dec_heads, self.cfg.dec_emb_dim
        t_max = min(max_len + 1, self.cfg.max_positions)
        return {
            "mask": mask,
            "mem_kv": [layer.cross_attn.memory(mem) for layer in self.dec_layers],
            "cache": [(mem.new_empty(b, heads, t_max, dd // heads), mem.new_empty(b, heads, t_max, dd // heads))
                      for _ in self.dec_layers],
        }

    def step(self, state: dict[str, Any], tokens: torch.Tensor, pos: int) -> torch.Tensor:
        h = self.dec_tok(tokens[:, None]) + self.dec_pos.weight[pos]
        for layer, cache, kv in zip(self.dec_layers, state["cache"], state["mem_kv"]):
            h = layer(h, kv, state["mask"], cache=cache, pos=pos)
        return self.proj(self.dec_norm(h[:, -1]))

    def reorder(self, state: dict[str, Any], index: torch.Tensor) -> dict[str, Any]:
        return {
            "mask": state["mask"][index],
            "mem_kv": [(k[index], v[index]) for k, v in state["mem_kv"]],
            "cache": [(k[index], v[index]) for k, v in state["cache"]],
        }


def build_model(a: ArchitectureConfig, vocab_size: int) -> Seq2SeqModel:
    if a.name != "encoder_decoder":
        raise ValueError(f"architecture.name={a.name!r}: unknown architecture (known: encoder_decoder)")
    return EncoderDecoder(a, vocab_size)
