"""Universal-transformer loops, copy gates and adaptive computation time (ACT), for any transformer stack.

- :class:`LoopPlan`: the order in which a stack's layers run (a layer, or the whole stack, repeated).
- :class:`LoopControl`: the learned parts of a looped stack: copy gates and the ACT halting unit.
- :class:`Stack`: layers, their plan and control, and the final LayerNorm: what every transformer stacks.

Every layer *application* (a looped layer runs several times) has its own slot number, so that decoders keep
one key/value cache per application.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class LoopPlan:
    """The order in which a stack of ``n_layers`` layers runs.

    ``loop_idx`` -1: each layer once. ``k``: layers before k once, layer k ``loops`` times, layers after k once.
    -2: the whole stack, in order, ``loops`` times. ``pre`` layers, then the ``block`` ``loops`` times, then
    ``post`` layers; ``n_slots`` counts layer applications (one key/value cache each in a decoder).
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
    """Copy gates on looped layers (``gated``) and the halting unit of adaptive computation time (``act``).

    Copy gate (after Csordas et al.): ``g = sigmoid(W [h_in; h_out] + b)`` per position and channel; the
    layer's result is ``g * h_out + (1 - g) * h_in``.

    ACT (Graves): after each iteration n of the block, each position's halting probability
    ``p_n = sigmoid(w . h_n + b)`` (b initialised to 1: short pondering first); a position halts at the first
    N where ``p_1 + ... + p_N >= act_threshold`` (or at the last loop); its output is
    ``sum_{n<N} p_n h_n + R h_N`` with the remainder ``R = 1 - sum_{n<N} p_n``, and its ponder cost is
    ``N + R``. A halted position keeps its state; every iteration is still computed for every position when
    decoding with a cache, so that the cache of each iteration is complete.
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
        ``valid``). Padding positions start halted. Unless ``exhaustive``, stops as soon as every valid
        position has halted (halted positions neither change nor count)."""
        b, t, _ = h.shape
        running = torch.ones(b, t, dtype=torch.bool, device=h.device) if valid is None else valid.clone()
        cum = h.new_zeros(b, t, dtype=torch.float32)
        n_updates, remainder, out = torch.zeros_like(cum), torch.zeros_like(cum), torch.zeros_like(h)
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


#: ``call(i, h, slot)`` applies layer ``i`` to ``h``; ``slot`` numbers this application (its cache).
LayerCall = Callable[[int, torch.Tensor, int], torch.Tensor]


class Stack(nn.Module):
    """A transformer stack: its layers run in the order of a :class:`LoopPlan`, with optional copy gates and ACT,
    then a final LayerNorm (pre-norm) or none (post-norm)."""

    def __init__(self, layers: list[nn.Module], dim: int, loop_idx: int, loops: int, gated: bool, act: bool,
                 act_threshold: float, final_norm: bool):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.plan = LoopPlan(len(layers), loop_idx, loops)
        self.loop = LoopControl(dim, self.plan, gated, act, act_threshold) if self.plan.looped and (gated or act) \
            else None
        self.norm = nn.LayerNorm(dim) if final_norm else nn.Identity()

    @property
    def act(self) -> bool:
        return self.loop is not None and self.loop.halt is not None

    def run(self, h: torch.Tensor, call: LayerCall, valid: torch.Tensor | None = None,
            exhaustive: bool = False) -> tuple[torch.Tensor, torch.Tensor | float]:
        """The stack's output and its mean ponder cost over ``valid`` positions (0.0 without ACT).

        ``exhaustive`` (decoding with a cache) runs every ACT iteration, to fill each iteration's cache."""
        plan, slot = self.plan, 0
        for i in plan.pre:
            h, slot = call(i, h, slot), slot + 1
        ponder: torch.Tensor | None = None
        if plan.looped:
            base = slot

            def iteration(h: torch.Tensor, n: int) -> torch.Tensor:
                for j, i in enumerate(plan.block):
                    out = call(i, h, base + n * len(plan.block) + j)
                    h = out if self.loop is None else self.loop.gate(i, h, out)
                return h

            if self.act:
                h, ponder = self.loop.act_loop(h, iteration, valid, exhaustive)
            else:
                for n in range(plan.loops):
                    h = iteration(h, n)
            slot = base + plan.loops * len(plan.block)
        for i in plan.post:
            h, slot = call(i, h, slot), slot + 1
        return self.norm(h), ponder_mean(ponder, valid)


def ponder_mean(ponder: torch.Tensor | None, valid: torch.Tensor | None) -> torch.Tensor | float:
    """Mean ponder cost over the real positions."""
    if ponder is None:
        return 0.0
    if valid is None:
        return ponder.mean()
    return ponder.sum() / valid.sum().clamp(min=1)
