"""``architecture=decoder_only`` (GPT-like): ``<eos> x <sep> y <eos>`` as one causal sequence.

Training packs each example at the left of its row: the input ``<eos> x <sep> y`` and the targets
``x <sep> y <eos>`` (one token ahead), ``<pad>`` after the end. The loss is the cross-entropy of the output part
``y <eos>`` (what :meth:`logits` returns, aligned with ``y_out``, so that the validation ``xe_loss`` means the same
as for the other architectures). With ``loss_on_input`` the model is also trained to predict ``x <sep>``: that
part's summed cross-entropy, divided by the batch's output tokens, is added through :meth:`aux_loss`, so the
training objective is the cross-entropy summed over every predicted token, while the logged train loss stays the
output's. Decoding prefills the cache with the prompts in :meth:`start`, right-aligned (left padding, masked as
keys, each row's positions starting at 0), so that every row then writes its next token to the same cache slot.
The decoder options (``dec_*``, ``n_dec_*``) configure the stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..config import ConfigError, opt
from ..encodings.vocab import EOS, PAD, SEP
from .base import ARCHITECTURES
from .kv_cache import KVCache
from .layers import TransformerConfig
from .single_stack import SingleStack


@dataclass
class DecoderOnlyConfig(TransformerConfig):
    name: str = opt("decoder_only", "Causal transformer on <eos> x <sep> y <eos>.")
    loss_on_input: bool = opt(False, "Also train on predicting the input tokens (default: output only).")


def ragged_concat(left: torch.Tensor, left_len: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Rows ``left[i, :left_len[i]] + right[i]``, padded with ``<pad>`` (B x (L + R))."""
    b, lw = left.shape
    out = torch.full((b, lw + right.shape[1]), PAD, dtype=left.dtype, device=left.device)
    cols = torch.arange(lw, device=left.device)[None, :]
    out[:, :lw] = torch.where(cols < left_len[:, None], left, out[:, :lw])
    idx = left_len[:, None] + torch.arange(right.shape[1], device=left.device)[None, :]
    return out.scatter_(1, idx, right)


@ARCHITECTURES.register("decoder_only", config=DecoderOnlyConfig)
class DecoderOnly(SingleStack):
    def __init__(self, a: DecoderOnlyConfig, vocab_size: int):
        super().__init__(a, vocab_size, "dec")

    def check_task(self, task: Any, max_len: int = 10**9) -> None:
        n = task.max_input_len + task.max_output_len + 3
        if n > self.cfg.max_positions:
            raise ConfigError(f"architecture=decoder_only: sequences <eos> x <sep> y <eos> of up to {n} tokens (input "
                              f"{task.max_input_len}, output {task.max_output_len}) exceed architecture.max_positions="
                              f"{self.cfg.max_positions}")

    def max_steps(self, max_len: int) -> int:
        return max(1, min(max_len + 1, self.cfg.max_positions - 1))

    # -- teacher forcing -------------------------------------------------------------------------
    def _sequences(self, x: torch.Tensor, x_len: torch.Tensor, y_in: torch.Tensor, y_out: torch.Tensor | None):
        """Packed inputs ``<eos> x <sep> y`` and targets ``x <sep> y <eos>`` (B x (Sx + Ty))."""
        eos = torch.full_like(x[:, :1], EOS)
        prompt = torch.cat([eos, x[:, :-1]], dim=1)  # <eos> x (length x_len per row)
        dec_in = torch.cat([torch.full_like(y_in[:, :1], SEP), y_in[:, 1:]], dim=1)  # <sep> y
        seq = ragged_concat(prompt, x_len, dec_in)
        tgt = None
        if y_out is not None:
            x_sep = torch.where(x == EOS, torch.full_like(x, SEP), x)  # x <sep>
            tgt = ragged_concat(x_sep, x_len, y_out)
        return seq, tgt

    def _run(self, seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | float]:
        layers = self.stack.layers
        h, ponder = self.stack.run(self.emb(seq), lambda i, h, slot: layers[i](h, causal=True),
                                   seq != PAD if self.stack.act else None)
        return self.proj(h), self.cfg.act_ponder_coupling * ponder

    def logits(self, x: torch.Tensor, x_len: torch.Tensor, y_in: torch.Tensor) -> torch.Tensor:
        """Logits at the positions of ``<sep> y`` (they predict ``y <eos>``), B x Ty x V."""
        seq, _ = self._sequences(x, x_len, y_in, None)
        full, self._aux = self._run(seq)
        idx = x_len[:, None] + torch.arange(y_in.shape[1], device=full.device)[None, :]
        return full.gather(1, idx[..., None].expand(-1, -1, full.shape[-1]))

    def forward(self, x: torch.Tensor, x_len: torch.Tensor, y_in: torch.Tensor, y_out: torch.Tensor) -> torch.Tensor:
        """Summed cross-entropy of ``y <eos>``; with ``loss_on_input`` the input part goes to :meth:`aux_loss`."""
        if not self.cfg.loss_on_input:
            return self.loss(x, x_len, y_in, y_out, reduction="sum")
        seq, tgt = self._sequences(x, x_len, y_in, y_out)
        full, ponder = self._run(seq)
        ce = F.cross_entropy(full.flatten(0, 1).float(), tgt.flatten(), ignore_index=PAD, reduction="none")
        ce = ce.view(tgt.shape)
        is_out = torch.arange(tgt.shape[1], device=x.device)[None, :] >= x_len[:, None]
        self._aux = ponder + (ce * ~is_out).sum() / (y_out != PAD).sum().clamp(min=1)
        return (ce * is_out).sum()

    # -- decoding --------------------------------------------------------------------------------
    def start(self, x: torch.Tensor, x_len: torch.Tensor, max_len: int) -> dict[str, Any]:
        """Prefill the cache with the right-aligned prompts ``<eos> x`` (P = the longest prompt)."""
        b, p, dev = x.shape[0], int(x_len.max()), x.device
        cols = torch.arange(p, device=dev)[None, :]
        offset = p - x_len[:, None]  # left padding of each row
        src = (cols - offset).clamp(min=0)
        prompt = torch.cat([torch.full_like(x[:, :1], EOS), x[:, :-1]], dim=1)
        tokens = torch.where(cols >= offset, prompt.gather(1, src.clamp(max=prompt.shape[1] - 1)),
                             torch.full_like(src, PAD))
        t_max = p + max_len + 1
        heads, d = self.cfg.n_dec_heads, self.cfg.dec_emb_dim
        key_ok = torch.ones(b, t_max, dtype=torch.bool, device=dev)
        key_ok[:, :p] = cols >= offset
        # a padding query may attend to itself only (no row without keys: no NaN)
        causal = torch.ones(p, p, dtype=torch.bool, device=dev).tril()
        eye = torch.eye(p, dtype=torch.bool, device=dev)
        mask = (causal[None] & (key_ok[:, None, :p] | eye[None]))[:, None]
        like = self.emb.tok.weight
        state = {"cache": [KVCache.empty(b, heads, t_max, d // heads, like) for _ in range(self.stack.plan.n_slots)],
                 "key_ok": key_ok, "x_len": x_len, "p": p}
        self._forward_cached(state, tokens, src, 0, mask)
        return state

    def _forward_cached(self, state: dict[str, Any], tokens: torch.Tensor, pos_ids: torch.Tensor, slot0: int,
                        mask: torch.Tensor) -> torch.Tensor:
        layers, caches = self.stack.layers, state["cache"]
        h, _ = self.stack.run(self.emb(tokens, pos_ids.clamp(max=self.cfg.max_positions - 1)),
                              lambda i, h, slot: layers[i](h, mask=mask, cache=caches[slot], pos=slot0),
                              exhaustive=True)
        return h

    def step(self, state: dict[str, Any], tokens: torch.Tensor, pos: int) -> torch.Tensor:
        """``pos`` 0 is the ``<sep>`` after the prompt (decoders pass ``<eos>`` there, the ``y_in`` convention)."""
        p = state["p"]
        if pos == 0:
            tokens = torch.full_like(tokens, SEP)
        slot = p + pos
        mask = state["key_ok"][:, None, None, : slot + 1]
        h = self._forward_cached(state, tokens[:, None], (state["x_len"] + pos)[:, None], slot, mask)
        return self.proj(h[:, -1])

    def reorder(self, state: dict[str, Any], index: torch.Tensor) -> dict[str, Any]:
        return {"cache": [c.reorder(index) for c in state["cache"]], "key_ok": state["key_ok"][index],
                "x_len": state["x_len"][index], "p": state["p"]}
