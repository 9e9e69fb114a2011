"""Transformer options and building blocks shared by the encoder-decoder, encoder-only and decoder-only models.

- :class:`TransformerConfig`: the options of every transformer architecture, with their checks;
- :class:`SelfAttention` / :class:`CrossAttention`: scaled dot-product attention (torch's fused kernel, or on the
  CPU over short sequences its plain form, :func:`attend`), optional query/key normalisation (``norm_attention``), a
  :class:`~int2int.models.kv_cache.KVCache` for step-by-step decoding;
- :class:`FeedForward`: ``n_hidden_layers`` hidden layers of ``ffn_mult x dim``, ReLU or GELU;
- :class:`EncoderLayer` / :class:`DecoderLayer`: pre-norm or post-norm residual blocks.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config, opt
from .base import ArchitectureConfig
from .kv_cache import KVCache
from .loops import Stack


class Activation(str, Enum):
    relu = "relu"
    gelu = "gelu"


class Norm(str, Enum):
    pre = "pre"
    post = "post"


class Positions(str, Enum):
    learned = "learned"
    sinusoidal = "sinusoidal"
    none = "none"


@dataclass
class TransformerConfig(ArchitectureConfig):
    n_enc_heads: int = opt(4, "Encoder attention heads (original default 8).")
    n_dec_heads: int = opt(4, "Decoder attention heads (original default 8).")
    ffn_mult: int = opt(4, "Feed-forward hidden size as a multiple of the embedding dimension.")
    n_enc_hidden_layers: int = opt(1, "Hidden layers of each encoder feed-forward block (the original's "
                                   "n_enc_hidden_layers).")
    n_dec_hidden_layers: int = opt(1, "Hidden layers of each decoder feed-forward block.")
    activation: Activation = opt(Activation.relu, "Feed-forward activation: relu or gelu (the original's "
                                 "gelu_activation).")
    attention_dropout: float = opt(0.0, "Dropout on attention weights (training only).")
    positional_embeddings: Positions = opt(Positions.learned, "learned, sinusoidal (the original's "
                                           "sinusoidal_embeddings) or none.")
    enc_has_pos_emb: bool = opt(True, "Positional embeddings in the encoder (the original's enc_has_pos_emb).")
    dec_has_pos_emb: bool = opt(True, "Positional embeddings in the decoder (the original's dec_has_pos_emb).")
    norm: Norm = opt(Norm.pre, "Layer normalisation before (pre) or after (post, the original's) each sub-layer.")
    norm_attention: bool = opt(False, "Normalise queries and keys before their dot product (with a learned scale).")
    max_positions: int = opt(512, "Size of the positional embedding tables (longest sequence).")
    enc_loop_idx: int = opt(-1, "Universal transformer: the encoder layer repeated enc_loops times; -1 none, -2 all "
                            "layers.")
    dec_loop_idx: int = opt(-1, "Universal transformer: the decoder layer repeated dec_loops times; -1 none, -2 all "
                            "layers.")
    enc_loops: int = opt(1, "Repetitions of the looped encoder layer(s).")
    dec_loops: int = opt(1, "Repetitions of the looped decoder layer(s).")
    gated: bool = opt(False, "Copy gates on looped layers: a learned gate mixes each loop's output with its input.")
    act: bool = opt(False, "Adaptive computation time on looped layers: each position halts when its halting "
                    "probability reaches act_threshold.")
    act_threshold: float = opt(0.99, "Adaptive computation time: cumulative halting probability at which to stop.")
    act_ponder_coupling: float = opt(0.01, "Adaptive computation time: weight of the ponder cost added to the loss.")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        for side in ("enc", "dec"):
            dim, heads = f"{side}_emb_dim", f"n_{side}_heads"
            self.require_positive(heads, f"n_{side}_hidden_layers", f"{side}_loops")
            self.require(getattr(self, dim) % getattr(self, heads) == 0, dim,
                         f"must be divisible by architecture.{heads} ({getattr(self, heads)})")
            idx, n = getattr(self, f"{side}_loop_idx"), getattr(self, f"n_{side}_layers")
            self.require(idx in (-1, -2) or 0 <= idx < n, f"{side}_loop_idx",
                         f"must be -1 (none), -2 (all layers) or a layer index below architecture.n_{side}_layers "
                         f"({n})")
        self.require_positive("ffn_mult", "max_positions")
        self.require(0.0 <= self.attention_dropout < 1.0, "attention_dropout", "must be in [0, 1)")
        self.require(0 < self.act_threshold <= 1, "act_threshold", "must be in (0, 1]")
        self.require_positive("act_ponder_coupling", strict=False)

    def positions(self, side: str) -> str:
        """The positional embeddings of the ``enc`` or ``dec`` side: learned, sinusoidal or none."""
        return self.positional_embeddings.value if getattr(self, f"{side}_has_pos_emb") else "none"

    def stack(self, side: str, layers: list[nn.Module]) -> Stack:
        """The ``enc`` or ``dec`` stack of ``layers`` with this config's loops, gates, ACT and final norm."""
        return Stack(layers, getattr(self, f"{side}_emb_dim"), getattr(self, f"{side}_loop_idx"),
                     getattr(self, f"{side}_loops"), self.gated, self.act, self.act_threshold, self.norm == Norm.pre)


#: Attention through plain matmuls instead of the fused kernel (see :func:`math_attention`).
_MATH_ATTENTION = False


@contextmanager
def math_attention():
    """Attention as matmul, softmax, matmul: what ``torch.func.vmap`` batches well (the fused SDPA kernel has no
    batching rule on CPU and falls back to a loop). Packed runs train in it."""
    global _MATH_ATTENTION
    before, _MATH_ATTENTION = _MATH_ATTENTION, True
    try:
        yield
    finally:
        _MATH_ATTENTION = before


#: On the CPU, attention over at most this many keys (or from one query) runs in its plain form (see :func:`attend`).
PLAIN_MAX_KEYS = 32


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, dropout: float,
           causal: bool, scale: float | None) -> torch.Tensor:
    """Scaled dot-product attention: the fused kernel, or its plain form (matmul, :class:`ShortSoftmax`, matmul).

    The plain form runs in :func:`math_attention`, and on the CPU for one query (a decoding step) or at most
    :data:`PLAIN_MAX_KEYS` keys, where the fused kernel is slower: its CPU kernel parallelises poorly over short
    sequences. Measured with 2 threads, forward and backward (fused / plain, ms): batch 256, 8 heads of 8, 13 x 13
    keys, 7.67 / 3.76; batch 32, 8 heads of 32, 24 x 24, 2.25 / 1.40; 32 x 32, 2.65 / 2.37; batch 500, 8 heads of
    32, 32 x 32, 65.6 / 38.9. Without autograd: batch 500, 8 heads of 32, 24 x 24, 16.2 / 9.8; 32 x 32, 17.8 / 16.2;
    but batch 32, 48 x 48, 2.14 / 2.82. Training steps: tiny model 6-8% faster (fp32; 43% with bf16), small and
    default 5-7%; beam search 3-11%."""
    plain = _MATH_ATTENTION or (q.device.type == "cpu" and (q.shape[-2] == 1 or k.shape[-2] <= PLAIN_MAX_KEYS))
    if not plain:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=causal, scale=scale)
    if causal:
        t, u = q.shape[-2], k.shape[-2]
        keep = torch.ones(t, u, dtype=torch.bool, device=q.device).tril(u - t)
        mask = keep if mask is None else mask & keep
    weights = ShortSoftmax.apply(q @ k.transpose(-2, -1), mask, scale if scale is not None else q.shape[-1] ** -0.5)
    return F.dropout(weights, dropout) @ v if dropout else weights @ v


class ShortSoftmax(torch.autograd.Function):
    """softmax(scale * scores) over the keys that ``mask`` keeps (all if None), computed in fp32 with in-place
    elementwise ops: torch's CPU softmax kernel is 3-6x slower over rows this short (e.g. 500 x 8 x 9 x 9 scores:
    2.87 ms against 0.50 ms). The gradient is the softmax's, ``scale * y * (g - sum(g * y))``, computed in fp32.
    Written in torch ops with ``setup_context``, so that ``torch.func.vmap`` (packed runs) generates its batching
    rule."""

    generate_vmap_rule = True

    @staticmethod
    def forward(scores: torch.Tensor, mask: torch.Tensor | None, scale: float) -> torch.Tensor:
        x = scores.float()
        if mask is not None:
            x = x.masked_fill(~mask, float("-inf"))
        elif x is scores:  # the ops below work in place: never on the caller's tensor
            x = x.clone()
        y = x.sub_(x.amax(dim=-1, keepdim=True)).mul_(scale).exp_()
        return y.div_(y.sum(dim=-1, keepdim=True)).to(scores.dtype)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: torch.Tensor) -> None:
        ctx.scale = inputs[2]
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (out,) = ctx.saved_tensors
        y, g = out.float(), grad.float()
        return (y * (g - (g * y).sum(dim=-1, keepdim=True)) * ctx.scale).to(grad.dtype), None, None


class QKNorm(nn.Module):
    """``norm_attention``: unit-norm queries and keys, their dot product times a learned per-head scale
    (initialised to sqrt(head_dim), the magnitude of a standard scaled dot product)."""

    def __init__(self, n_heads: int, head_dim: int):
        super().__init__()
        self.scale = nn.Parameter(torch.full((n_heads, 1, 1), math.sqrt(head_dim)))

    def queries(self, q: torch.Tensor) -> torch.Tensor:
        return F.normalize(q, dim=-1) * self.scale.to(q.dtype)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, n_heads: int, attn_dropout: float, norm_attention: bool = False):
        super().__init__()
        self.n_heads, self.head_dim, self.attn_dropout = n_heads, dim // n_heads, attn_dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.qk_norm = QKNorm(n_heads, self.head_dim) if norm_attention else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, causal: bool = False,
                cache: KVCache | None = None, pos: int = 0) -> torch.Tensor:
        """With a ``cache``, the keys and values of ``x`` are stored at positions ``pos..`` and attention reads
        every position up to them."""
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        scale = None
        if self.qk_norm is not None:
            q, k, scale = self.qk_norm.queries(q), F.normalize(k, dim=-1), 1.0
        if cache is not None:
            k, v = cache.update(k, v, pos)
        drop = self.attn_dropout if self.training else 0.0
        y = attend(q, k, v, mask, drop, causal and t > 1 and mask is None, scale)
        return self.out(y.transpose(1, 2).reshape(b, t, -1))


class CrossAttention(nn.Module):
    def __init__(self, dim: int, kv_dim: int, n_heads: int, attn_dropout: float, norm_attention: bool = False):
        super().__init__()
        self.n_heads, self.head_dim, self.attn_dropout = n_heads, dim // n_heads, attn_dropout
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(kv_dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.qk_norm = QKNorm(n_heads, self.head_dim) if norm_attention else None

    def memory(self, mem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of the encoder output, computed once per sequence."""
        b, s, _ = mem.shape
        k, v = self.kv(mem).view(b, s, 2, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if self.qk_norm is not None:
            k = F.normalize(k, dim=-1)
        return k, v

    def forward(self, x: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        """``x``: B x T queries; ``kv``: the memory of B inputs, or of B / G inputs when each input has G
        consecutive rows of ``x`` (beam search's hypotheses), whose G x T queries then attend to it together."""
        (b, t, _), n, h, d = x.shape, kv[0].shape[0], self.n_heads, self.head_dim
        g = b // n
        # (n G) x T x (H D) -> n x H x (G T) x D: the queries of an input's G rows attend to its memory together
        q = self.q(x).view(n, g, t, h, d).permute(0, 3, 1, 2, 4).reshape(n, h, g * t, d)
        scale = None
        if self.qk_norm is not None:
            q, scale = self.qk_norm.queries(q), 1.0
        drop = self.attn_dropout if self.training else 0.0
        y = attend(q, kv[0], kv[1], mask, drop, False, scale)
        return self.out(y.view(n, h, g, t, d).permute(0, 2, 3, 1, 4).reshape(b, t, -1))


class FeedForward(nn.Sequential):
    """dim -> hidden (-> hidden ...) -> dim with ``n_hidden_layers`` activated hidden layers, then dropout."""

    def __init__(self, dim: int, hidden: int, dropout: float, n_hidden_layers: int = 1, activation: str = "relu"):
        act = {"relu": nn.ReLU, "gelu": nn.GELU}[activation]
        mods: list[nn.Module] = [nn.Linear(dim, hidden), act()]
        for _ in range(n_hidden_layers - 1):
            mods += [nn.Linear(hidden, hidden), act()]
        super().__init__(*mods, nn.Linear(hidden, dim), nn.Dropout(dropout))


class EncoderLayer(nn.Module):
    """Self-attention and feed-forward. Bidirectional (with a key mask) in encoders; causal, with a key/value
    cache, in the decoder-only model. Pre-norm: ``x + f(LN(x))`` per sub-layer; post-norm (the original's):
    ``LN(x + f(x))``."""

    def __init__(self, dim: int, n_heads: int, n_hidden_layers: int, a: TransformerConfig):
        super().__init__()
        self.post = a.norm == Norm.post
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, n_heads, a.attention_dropout, a.norm_attention)
        self.ffn = FeedForward(dim, a.ffn_mult * dim, a.dropout, n_hidden_layers, a.activation.value)
        self.drop = nn.Dropout(a.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, causal: bool = False,
                cache: KVCache | None = None, pos: int = 0) -> torch.Tensor:
        if self.post:
            x = self.ln1(x + self.drop(self.attn(x, mask=mask, causal=causal, cache=cache, pos=pos)))
            return self.ln2(x + self.ffn(x))
        x = x + self.drop(self.attn(self.ln1(x), mask=mask, causal=causal, cache=cache, pos=pos))
        return x + self.ffn(self.ln2(x))


class DecoderLayer(nn.Module):
    """Causal self-attention (cached when decoding), cross-attention over the encoder, feed-forward. The
    cross-attention's queries are the self-attention's output (LAWT's decoder takes the layer input: a bug)."""

    def __init__(self, dim: int, enc_dim: int, a: TransformerConfig):
        super().__init__()
        self.post = a.norm == Norm.post
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.self_attn = SelfAttention(dim, a.n_dec_heads, a.attention_dropout, a.norm_attention)
        self.cross_attn = CrossAttention(dim, enc_dim, a.n_dec_heads, a.attention_dropout, a.norm_attention)
        self.ffn = FeedForward(dim, a.ffn_mult * dim, a.dropout, a.n_dec_hidden_layers, a.activation.value)
        self.drop = nn.Dropout(a.dropout)

    def forward(self, x: torch.Tensor, mem_kv: tuple[torch.Tensor, torch.Tensor], mem_mask: torch.Tensor,
                cache: KVCache | None = None, pos: int = 0) -> torch.Tensor:
        if self.post:
            x = self.ln1(x + self.drop(self.self_attn(x, causal=True, cache=cache, pos=pos)))
            x = self.ln2(x + self.drop(self.cross_attn(x, mem_kv, mem_mask)))
            return self.ln3(x + self.ffn(x))
        x = x + self.drop(self.self_attn(self.ln1(x), causal=True, cache=cache, pos=pos))
        x = x + self.drop(self.cross_attn(self.ln2(x), mem_kv, mem_mask))
        return x + self.ffn(self.ln3(x))


def key_mask(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """B x 1 x 1 x width: True at the first ``lengths`` positions (attention key padding mask)."""
    return (torch.arange(width, device=lengths.device)[None, :] < lengths[:, None])[:, None, None, :]
