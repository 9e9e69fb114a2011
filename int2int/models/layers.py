"""Transformer building blocks shared by the encoder-decoder, encoder-only and decoder-only models.

- :func:`make_positions`: learned, sinusoidal or no positional embeddings (a module with a
  ``weight`` table, or ``None``).
- :class:`SelfAttention` / :class:`CrossAttention`: fused SDPA attention, optional query/key
  normalisation (``norm_attention``), a key/value cache for step-by-step decoding.
- :class:`FeedForward`: ``n_hidden_layers`` hidden layers of ``ffn_mult x dim``, ReLU or GELU.
- :class:`EncoderLayer` / :class:`DecoderLayer`: pre-norm or post-norm residual blocks.
- :class:`LoopPlan`, :class:`LoopControl`, :func:`run_stack`: the order in which a stack's layers
  run (universal-transformer loops), copy gates on looped layers, and adaptive computation time.

Every layer *application* (a looped layer runs several times) has its own slot number, so that
decoders keep one key/value cache per application.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ArchitectureConfig


# --------------------------------------------------------------------------------------------
# positions
# --------------------------------------------------------------------------------------------
class SinusoidalPositions(nn.Module):
    """The fixed sin/cos table of the original transformer, scaled by ``dim ** -0.5`` so that it has
    the magnitude of the token embeddings (initialised with that standard deviation).

    The table is a non-persistent buffer: it is rebuilt, never saved in checkpoints."""

    def __init__(self, max_positions: int, dim: int):
        super().__init__()
        pos = torch.arange(max_positions, dtype=torch.float64)[:, None]
        freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float64) / dim)
        table = torch.zeros(max_positions, dim, dtype=torch.float64)
        table[:, 0::2] = torch.sin(pos * freq)
        table[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
        self.register_buffer("weight", (table * dim**-0.5).float(), persistent=False)


def make_positions(kind: str, max_positions: int, dim: int) -> nn.Module | None:
    """A module whose ``weight`` (max_positions x dim) is added to the token embeddings, or None.

    Learned tables are created with torch's default initialisation: call :func:`init_embeddings`."""
    if kind == "learned":
        return nn.Embedding(max_positions, dim)
    if kind == "sinusoidal":
        return SinusoidalPositions(max_positions, dim)
    if kind == "none":
        return None
    raise ValueError(f"architecture.positional_embeddings={kind!r}: must be learned, sinusoidal or none")


def init_embeddings(*embs: nn.Module | None) -> None:
    """Normal initialisation with standard deviation ``dim ** -0.5`` of token and learned position tables."""
    for emb in embs:
        if isinstance(emb, nn.Embedding):
            nn.init.normal_(emb.weight, std=emb.embedding_dim**-0.5)


# --------------------------------------------------------------------------------------------
# attention and feed-forward
# --------------------------------------------------------------------------------------------
class QKNorm(nn.Module):
    """``norm_attention``: unit-norm queries and keys, their dot product times a learned per-head
    scale (initialised to sqrt(head_dim), the magnitude of a standard scaled dot product)."""

    def __init__(self, n_heads: int, head_dim: int):
        super().__init__()
        self.scale = nn.Parameter(torch.full((n_heads, 1, 1), math.sqrt(head_dim)))

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return F.normalize(q, dim=-1) * self.scale.to(q.dtype), F.normalize(k, dim=-1)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, n_heads: int, attn_dropout: float, norm_attention: bool = False):
        super().__init__()
        self.n_heads, self.head_dim, self.attn_dropout = n_heads, dim // n_heads, attn_dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.qk_norm = QKNorm(n_heads, self.head_dim) if norm_attention else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, causal: bool = False,
                cache: tuple[torch.Tensor, torch.Tensor] | None = None, pos: int = 0) -> torch.Tensor:
        """``cache`` (k, v) of shape B x H x T x D is filled at slots ``pos..pos+t`` and attended up to them."""
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        scale = None
        if self.qk_norm is not None:
            q, k = self.qk_norm(q, k)
            scale = 1.0
        if cache is not None:
            cache[0][:, :, pos : pos + t] = k
            cache[1][:, :, pos : pos + t] = v
            k, v = cache[0][:, :, : pos + t], cache[1][:, :, : pos + t]
        drop = self.attn_dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop,
                                           is_causal=causal and t > 1 and mask is None, scale=scale)
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
        b, t, _ = x.shape
        q = self.q(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        scale = None
        if self.qk_norm is not None:
            q, scale = F.normalize(q, dim=-1) * self.qk_norm.scale.to(q.dtype), 1.0
        drop = self.attn_dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, kv[0], kv[1], attn_mask=mask, dropout_p=drop, scale=scale)
        return self.out(y.transpose(1, 2).reshape(b, t, -1))


class FeedForward(nn.Sequential):
    """dim -> hidden (-> hidden ...) -> dim with ``n_hidden_layers`` activated hidden layers, then dropout."""

    def __init__(self, dim: int, hidden: int, dropout: float, n_hidden_layers: int = 1, activation: str = "relu"):
        act = {"relu": nn.ReLU, "gelu": nn.GELU}[activation]
        mods: list[nn.Module] = [nn.Linear(dim, hidden), act()]
        for _ in range(n_hidden_layers - 1):
            mods += [nn.Linear(hidden, hidden), act()]
        super().__init__(*mods, nn.Linear(hidden, dim), nn.Dropout(dropout))


# --------------------------------------------------------------------------------------------
# layers
# --------------------------------------------------------------------------------------------
class EncoderLayer(nn.Module):
    """Self-attention and feed-forward. Bidirectional (with a key mask) in encoders; causal, with a
    key/value cache, in the decoder-only model.

    Pre-norm: ``x + f(LN(x))`` per sub-layer. Post-norm (the original's): ``LN(x + f(x))``."""

    def __init__(self, dim: int, n_heads: int, n_hidden_layers: int, a: ArchitectureConfig):
        super().__init__()
        self.post = a.norm == "post"
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, n_heads, a.attention_dropout, a.norm_attention)
        self.ffn = FeedForward(dim, a.ffn_mult * dim, a.dropout, n_hidden_layers, a.activation)
        self.drop = nn.Dropout(a.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, causal: bool = False,
                cache: tuple[torch.Tensor, torch.Tensor] | None = None, pos: int = 0) -> torch.Tensor:
        if self.post:
            x = self.ln1(x + self.drop(self.attn(x, mask=mask, causal=causal, cache=cache, pos=pos)))
            return self.ln2(x + self.ffn(x))
        x = x + self.drop(self.attn(self.ln1(x), mask=mask, causal=causal, cache=cache, pos=pos))
        return x + self.ffn(self.ln2(x))


class DecoderLayer(nn.Module):
    """Causal self-attention (cached when decoding), cross-attention over the encoder, feed-forward."""

    def __init__(self, dim: int, enc_dim: int, a: ArchitectureConfig):
        super().__init__()
        self.post = a.norm == "post"
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.self_attn = SelfAttention(dim, a.n_dec_heads, a.attention_dropout, a.norm_attention)
        self.cross_attn = CrossAttention(dim, enc_dim, a.n_dec_heads, a.attention_dropout, a.norm_attention)
        self.ffn = FeedForward(dim, a.ffn_mult * dim, a.dropout, a.n_dec_hidden_layers, a.activation)
        self.drop = nn.Dropout(a.dropout)

    def forward(self, x, mem_kv, mem_mask, cache=None, pos: int = 0) -> torch.Tensor:
        if self.post:
            x = self.ln1(x + self.drop(self.self_attn(x, causal=True, cache=cache, pos=pos)))
            x = self.ln2(x + self.drop(self.cross_attn(x, mem_kv, mem_mask)))
            return self.ln3(x + self.ffn(x))
        x = x + self.drop(self.self_attn(self.ln1(x), causal=True, cache=cache, pos=pos))
        x = x + self.drop(self.cross_attn(self.ln2(x), mem_kv, mem_mask))
        return x + self.ffn(self.ln3(x))


# --------------------------------------------------------------------------------------------
# loops, copy gates, adaptive computation time
# --------------------------------------------------------------------------------------------
class LoopPlan:
    """The order in which a stack of ``n_layers`` layers runs.

    ``loop_idx`` -1: each layer once. ``k``: layers before k once, layer k ``loops`` times, layers
    after k once. -2: the whole stack, in order, ``loops`` times. ``pre`` layers, then the ``block``
    ``loops`` times, then ``post`` layers; ``n_slots`` counts layer applications (one key/value
    cache each in a decoder).
    """

    def __init__(self, n_layers: int, loop_idx: int, loops: int):
        layers = list(range(n_layers))
        if loop_idx == -1 or n_layers == 0:
            self.pre, self.block, self.post, self.loops = layers, [], [], 0
        elif loop_idx == -2:
            self.pre, self.block, self.post, self.loops = [], layers, [], loops
        elif 0 <= loop_idx < n_layers:
            self.pre, self.block, self.post, self.loops = layers[:loop_idx], [loop_idx], layers[loop_idx + 1 :], loops
        else:
            raise ValueError(f"loop index {loop_idx}: must be -1, -2 or a layer index below {n_layers}")
        self.n_slots = len(self.pre) + len(self.block) * self.loops + len(self.post)

    @property
    def looped(self) -> bool:
        return bool(self.block)

    def __repr__(self) -> str:
        return f"LoopPlan(pre={self.pre}, block={self.block} x {self.loops}, post={self.post})"


class LoopControl(nn.Module):
    """The learned parts of a looped stack: a copy gate per looped layer (``gated``) and the halting
    unit of adaptive computation time (``act``).

    Copy gate (after Csordas et al.): ``g = sigmoid(W [h_in; h_out] + b)`` per position and channel,
    the layer's result is ``g * h_out + (1 - g) * h_in``.

    ACT (Graves): after each iteration n of the block, each position's halting probability
    ``p_n = sigmoid(w . h_n + b)`` (b initialised to 1: short pondering first); a position halts at
    the first N where ``p_1 + ... + p_N >= act_threshold`` (or at the last loop), its output is
    ``sum_{n<N} p_n h_n + R h_N`` with the remainder ``R = 1 - sum_{n<N} p_n``, and its ponder cost
    is ``N + R``. A halted position keeps its state (later iterations neither change it nor count
    in its output), but every iteration is still computed for every position when decoding with a
    cache, so that the cache of each iteration is complete: see :func:`run_stack`.
    """

    def __init__(self, dim: int, plan: LoopPlan, gated: bool, act: bool, act_threshold: float):
        super().__init__()
        self.plan, self.threshold = plan, act_threshold
        self.gates = nn.ModuleDict({str(i): nn.Linear(2 * dim, dim) for i in plan.block}) if gated else None
        self.halt = nn.Linear(dim, 1) if act else None
        self.init_special()

    def init_special(self) -> None:
        """Bias initialisations that must survive a generic (e.g. Xavier) re-initialisation."""
        if self.gates is not None:
            for g in self.gates.values():
                nn.init.zeros_(g.bias)
        if self.halt is not None:
            nn.init.constant_(self.halt.bias, 1.0)

    def gate(self, i: int, h_in: torch.Tensor, h_out: torch.Tensor) -> torch.Tensor:
        if self.gates is None:
            return h_out
        g = torch.sigmoid(self.gates[str(i)](torch.cat([h_in, h_out], dim=-1)))
        return h_in + g * (h_out - h_in)

    def act_loop(self, h: torch.Tensor, iteration: Callable[[torch.Tensor, int], torch.Tensor],
                 valid: torch.Tensor | None, exhaustive: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Run ``iteration(h, n)`` up to ``plan.loops`` times with per-position halting.

        Returns the halting-weighted output (B x T x D) and the ponder cost N + R (B x T, 0 where not
        ``valid``). Positions not ``valid`` (padding) start halted. Unless ``exhaustive``, stops as
        soon as every valid position has halted: the results are the same, since halted positions
        neither change nor count.
        """
        b, t, _ = h.shape
        running = torch.ones(b, t, dtype=torch.bool, device=h.device) if valid is None else valid.clone()
        cum = h.new_zeros(b, t, dtype=torch.float32)
        n_updates = torch.zeros_like(cum)
        remainder = torch.zeros_like(cum)
        out = torch.zeros_like(h)
        loops = self.plan.loops
        for n in range(loops):
            new = iteration(h, n)
            p = torch.sigmoid(self.halt(new).squeeze(-1).float())
            halt_now = running & ((cum + p >= self.threshold) | (n == loops - 1))
            cont = running & ~halt_now
            w = torch.where(cont, p, torch.where(halt_now, 1.0 - cum, torch.zeros_like(p)))
            out = out + w[..., None].to(new.dtype) * new
            n_updates = n_updates + running.float()
            remainder = torch.where(halt_now, 1.0 - cum, remainder)
            cum = cum + torch.where(cont, p, torch.zeros_like(p))
            h = torch.where(running[..., None], new, h)
            running = cont
            if not exhaustive and n < loops - 1 and not bool(running.any()):
                break
        return out, n_updates + remainder


LayerCall = Callable[[int, torch.Tensor, int], torch.Tensor]


def run_stack(h: torch.Tensor, plan: LoopPlan, ctrl: LoopControl | None, call: LayerCall,
              valid: torch.Tensor | None = None, exhaustive: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run a stack's layers in the order of ``plan``: ``call(i, h, slot)`` applies layer ``i``, ``slot``
    numbering this application of it (the key/value cache to use).

    Returns the output and, with ACT, the ponder cost per position (else None). ``valid`` marks the
    real positions (ACT: padding starts halted and costs nothing); ``exhaustive`` (decoding with a
    cache) runs every ACT iteration even when every position has halted, so that each iteration's
    cache is filled for the positions to come.
    """
    slot = 0
    for i in plan.pre:
        h = call(i, h, slot)
        slot += 1
    ponder = None
    if plan.looped:
        base = slot

        def iteration(h: torch.Tensor, n: int) -> torch.Tensor:
            for j, i in enumerate(plan.block):
                out = call(i, h, base + n * len(plan.block) + j)
                h = out if ctrl is None else ctrl.gate(i, h, out)
            return h

        if ctrl is not None and ctrl.halt is not None:
            h, ponder = ctrl.act_loop(h, iteration, valid, exhaustive)
        else:
            for n in range(plan.loops):
                h = iteration(h, n)
        slot = base + plan.loops * len(plan.block)
    for i in plan.post:
        h = call(i, h, slot)
        slot += 1
    return h, ponder


def loop_control(dim: int, plan: LoopPlan, a: ArchitectureConfig) -> LoopControl | None:
    """The stack's gates and halting unit, or None when it has no looped layer or neither option."""
    if not plan.looped or not (a.gated or a.act):
        return None
    return LoopControl(dim, plan, a.gated, a.act, a.act_threshold)


def check_loop_options(a: ArchitectureConfig, plans: list[LoopPlan]) -> None:
    """``gated`` and ``act`` act on looped layers: fail clearly when there is none."""
    for key in ("gated", "act"):
        if getattr(a, key) and not any(p.looped for p in plans):
            raise ValueError(f"architecture.{key}=true acts on looped layers, and architecture={a.name} has none: "
                             "set architecture.enc_loop_idx or architecture.dec_loop_idx (-2: all layers, k: layer k) "
                             "and architecture.enc_loops/dec_loops")


def ponder_mean(ponder: torch.Tensor | None, valid: torch.Tensor | None) -> torch.Tensor | float:
    """Mean ponder cost over the real positions."""
    if ponder is None:
        return 0.0
    if valid is None:
        return ponder.mean()
    return ponder.sum() / valid.sum().clamp(min=1)


def xavier_init(module: nn.Module, skip: tuple[nn.Parameter, ...] = ()) -> None:
    """Xavier-uniform weights and zero biases for every linear layer of ``module`` (except tied weights in ``skip``)."""
    skip_ids = {id(p) for p in skip}
    for m in module.modules():
        if isinstance(m, nn.Linear) and id(m.weight) not in skip_ids:
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    for m in module.modules():
        if isinstance(m, LoopControl):
            m.init_special()


def key_mask(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """B x 1 x 1 x width: True at the first ``lengths`` positions (attention key padding mask)."""
    return (torch.arange(width, device=lengths.device)[None, :] < lengths[:, None])[:, None, None, :]
