"""``architecture=encoder_only`` (BERT-like): the output is read at the input positions, in one pass.

The encoder reads ``x <eos>`` with bidirectional attention; its output at position i predicts the i-th token of
``y <eos>`` through a linear layer (tied to the token embeddings with ``share_inout_emb``). Outputs must fit the
input's positions: :meth:`EncoderOnly.check_task` rejects tasks whose outputs can be longer than their inputs. A
single example whose output is longer than its own input still works: the sequence is padded with ``<pad>``
positions (masked as keys, read as queries) up to the output's length. Non-autoregressive: :meth:`predict` decodes
every position at once (the argmax at each position, cut at the first ``<eos>``); beam search falls back to it.
The encoder options (``enc_*``, ``n_enc_*``) configure the stack.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..config import ConfigError
from ..encodings.vocab import EOS, PAD
from .base import ARCHITECTURES
from .layers import TransformerConfig, key_mask
from .single_stack import SingleStack


@ARCHITECTURES.register("encoder_only", config=TransformerConfig)
class EncoderOnly(SingleStack):
    autoregressive = False

    def __init__(self, a: TransformerConfig, vocab_size: int):
        if a.n_enc_layers < 1:
            raise ConfigError(f"architecture.n_enc_layers={a.n_enc_layers}: architecture=encoder_only needs >= 1")
        super().__init__(a, vocab_size, "enc")

    def check_task(self, task: Any, max_len: int = 10**9) -> None:
        n_in, n_out = task.max_input_len, task.max_output_len
        if n_out > n_in:
            raise ConfigError(
                f"architecture=encoder_only reads the output `y <eos>` at the input positions `x <eos>`, "
                f"but this task's outputs can be longer than its inputs (output up to {n_out} tokens, input up to "
                f"{n_in}): use architecture=encoder_decoder or decoder_only")
        if min(n_in + 1, max_len) > self.cfg.max_positions:
            raise ConfigError(f"architecture.max_positions={self.cfg.max_positions}: architecture=encoder_only needs "
                              f"inputs of {n_in + 1} tokens (with <eos>)")

    def encode(self, x: torch.Tensor, x_len: torch.Tensor, width: int) -> torch.Tensor:
        """Output vectors (B x width x D) of ``x <eos>`` padded (or cut) to ``width`` positions."""
        if width > x.shape[1]:
            x = F.pad(x, (0, width - x.shape[1]), value=PAD)
        mask = key_mask(x_len, x.shape[1])
        layers = self.stack.layers
        h, ponder = self.stack.run(self.emb(x), lambda i, h, slot: layers[i](h, mask),
                                   mask[:, 0, 0] if self.stack.act else None)
        if self.stack.act:
            self._aux = self.cfg.act_ponder_coupling * ponder
        return h[:, :width]

    def logits(self, x: torch.Tensor, x_len: torch.Tensor, y_in: torch.Tensor) -> torch.Tensor:
        """Position i of the encoder output predicts token i of ``y <eos>`` (``y_in`` gives only the length)."""
        return self.proj(self.encode(x, x_len, y_in.shape[1]))

    @torch.no_grad()
    def predict(self, x: torch.Tensor, x_len: torch.Tensor, max_len: int) -> tuple[torch.Tensor, ...]:
        """The argmax at positions 0..max_len, cut at the first ``<eos>``: outputs (``<pad>`` after the end),
        lengths, and whether an ``<eos>`` was produced."""
        width = max(1, min(max_len + 1, self.cfg.max_positions))
        tokens = self.proj(self.encode(x, x_len, width)).argmax(dim=-1)
        is_eos = tokens == EOS
        ended = is_eos.any(dim=1)
        lengths = torch.where(ended, is_eos.float().argmax(dim=1), torch.full_like(x_len, width))
        cols = torch.arange(width, device=x.device)[None, :]
        out = torch.where(cols < lengths[:, None], tokens, torch.full_like(tokens, PAD))
        return out[:, : max(int(lengths.max()), 1)], lengths, ended
