"""What the training loop and the decoders need from an architecture.

Every model computes next-token logits under teacher forcing (:meth:`Seq2SeqModel.logits`) and its
loss; autoregressive models also expose one-step decoding (:meth:`start`, :meth:`step`,
:meth:`reorder`), on which :mod:`int2int.decoding` builds greedy decoding and beam search once for
every architecture. Non-autoregressive models (encoder-only) override :meth:`predict` instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ArchitectureConfig
from ..encodings import PAD


class Seq2SeqModel(nn.Module, ABC):
    autoregressive: bool = True

    def __init__(self, a: ArchitectureConfig, vocab_size: int):
        super().__init__()
        self.cfg, self.vocab_size = a, vocab_size

    @abstractmethod
    def logits(self, x: torch.Tensor, x_len: torch.Tensor, y_in: torch.Tensor) -> torch.Tensor:
        """Logits (B x T x V) of each output token given ``x <eos>`` and the decoder input ``<eos> y``."""

    def forward(self, x: torch.Tensor, x_len: torch.Tensor, y_in: torch.Tensor, y_out: torch.Tensor) -> torch.Tensor:
        """The training entry point (what DDP and ``torch.compile`` wrap): summed target cross-entropy."""
        return self.loss(x, x_len, y_in, y_out, reduction="sum")

    def loss(self, x: torch.Tensor, x_len: torch.Tensor, y_in: torch.Tensor, y_out: torch.Tensor,
             reduction: str = "mean") -> torch.Tensor:
        """Token cross-entropy of the targets ``y <eos>`` (``<pad>`` ignored)."""
        logits = self.logits(x, x_len, y_in)
        return F.cross_entropy(logits.flatten(0, 1).float(), y_out.flatten(), ignore_index=PAD, reduction=reduction)

    def aux_loss(self) -> torch.Tensor | float:
        """An extra training cost of the last forward pass (e.g. adaptive computation's ponder cost),
        added to the mean token loss by the training step."""
        return 0.0

    # -- autoregressive decoding ---------------------------------------------------------------
    def start(self, x: torch.Tensor, x_len: torch.Tensor, max_len: int) -> Any:
        """Decoding state for inputs ``x`` (encoder output, caches) for up to ``max_len`` steps."""
        raise NotImplementedError(f"{type(self).__name__} does not decode step by step")

    def step(self, state: Any, tokens: torch.Tensor, pos: int) -> torch.Tensor:
        """Logits (B x V) of the token after ``tokens`` (B,), the decoder input at position ``pos``."""
        raise NotImplementedError

    def reorder(self, state: Any, index: torch.Tensor) -> Any:
        """The state of the rows ``index`` (beam search selects and repeats rows)."""
        raise NotImplementedError

    # -- non-autoregressive decoding -----------------------------------------------------------
    def predict(self, x: torch.Tensor, x_len: torch.Tensor, max_len: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Outputs, lengths and ended flags in one pass (encoder-only models)."""
        raise NotImplementedError

    # -- size ----------------------------------------------------------------------------------
    def embedding_params(self) -> int:
        """Parameters of token and position embeddings, and of an untied output projection ``proj``
        (excluded from FLOP estimates)."""
        n = sum(m.weight.numel() for m in self.modules() if isinstance(m, nn.Embedding))
        proj = getattr(self, "proj", None)
        if isinstance(proj, nn.Linear) and not self.cfg.share_inout_emb:
            n += proj.weight.numel()
        return n

    def n_params(self, non_embedding: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())
        return n - self.embedding_params() if non_embedding else n
