"""``architecture=lstm`` and ``architecture=gru``: recurrent sequence-to-sequence models.

- Encoder: token embeddings (``enc_emb_dim``), an ``n_enc_layers``-layer LSTM/GRU of ``hidden_dim`` units per
  direction, bidirectional by default (``architecture.bidirectional``; the original's default is one direction),
  over packed sequences (padding is never read); its outputs are projected to ``hidden_dim``.
- Bridge: the top layer's final states give, through a linear layer and tanh, the initial hidden state of each of
  the ``n_dec_layers`` decoder layers (LSTM cells start at 0).
- Decoder: token embeddings (``dec_emb_dim``), a unidirectional ``n_dec_layers``-layer LSTM/GRU run over the whole
  ``<eos> y`` at once under teacher forcing; with ``rnn_attention`` each output attends over the encoder outputs
  (dot product after a learned query projection, padding masked). ``tanh(W [output; context])`` (``dec_emb_dim``)
  goes through the output projection, tied to the decoder embeddings with ``share_inout_emb``.
Step-by-step decoding carries the recurrent state, so greedy decoding and beam search follow exactly the
teacher-forced computation. ``dropout`` applies to embeddings, between recurrent layers and before the output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..config import Config, opt
from .base import ARCHITECTURES, ArchitectureConfig, Seq2SeqModel
from .layers import key_mask


@dataclass
class RecurrentConfig(ArchitectureConfig):
    name: str = opt("lstm", "lstm or gru.")
    hidden_dim: int = opt(256, "Hidden size of the recurrent layers (the original's lstm_hidden_dim, default 2048).")
    rnn_attention: bool = opt(True, "The decoder attends over the encoder outputs.")
    bidirectional: bool = opt(True, "Bidirectional encoder (the original's --bidirectional, default false).")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        self.require_positive("hidden_dim", "n_enc_layers")


@ARCHITECTURES.register("lstm", "gru", config=RecurrentConfig)
class RecurrentSeq2Seq(Seq2SeqModel):
    def __init__(self, a: RecurrentConfig, vocab_size: int):
        super().__init__(a, vocab_size)
        self.is_lstm = a.name == "lstm"
        rnn = nn.LSTM if self.is_lstm else nn.GRU
        de, dd, hid = a.enc_emb_dim, a.dec_emb_dim, a.hidden_dim
        dirs = 2 if a.bidirectional else 1
        self.enc_tok, self.dec_tok = nn.Embedding(vocab_size, de), nn.Embedding(vocab_size, dd)
        for emb in (self.enc_tok, self.dec_tok):
            nn.init.normal_(emb.weight, std=emb.embedding_dim**-0.5)
        self.encoder = rnn(de, hid, a.n_enc_layers, batch_first=True, bidirectional=a.bidirectional,
                           dropout=a.dropout if a.n_enc_layers > 1 else 0.0)
        self.enc_out = nn.Linear(dirs * hid, hid)
        self.bridge = nn.Linear(dirs * hid, a.n_dec_layers * hid)
        self.decoder = rnn(dd, hid, a.n_dec_layers, batch_first=True, dropout=a.dropout if a.n_dec_layers > 1 else 0.0)
        self.query = nn.Linear(hid, hid, bias=False) if a.rnn_attention else None
        self.combine = nn.Linear(2 * hid if a.rnn_attention else hid, dd)
        self.drop = nn.Dropout(a.dropout)
        self.proj = nn.Linear(dd, vocab_size, bias=False)
        self.finish_init(self.proj, self.dec_tok)

    # -- encoder ---------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, x_len: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """Encoder outputs (B x S x H), their key mask (B x 1 x S) and the decoder's initial state."""
        s = x.shape[1]
        packed = pack_padded_sequence(self.drop(self.enc_tok(x)), x_len.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.encoder(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=s)
        h_n = state[0] if self.is_lstm else state  # (layers * directions) x B x H
        last = torch.cat([h_n[-2], h_n[-1]], dim=-1) if self.cfg.bidirectional else h_n[-1]
        b, hid, n_dec = x.shape[0], self.cfg.hidden_dim, self.cfg.n_dec_layers
        h0 = torch.tanh(self.bridge(last)).view(b, n_dec, hid).transpose(0, 1).contiguous()
        dec_state = (h0, torch.zeros_like(h0)) if self.is_lstm else h0
        return self.enc_out(out), key_mask(x_len, s)[:, 0], dec_state

    # -- decoder ---------------------------------------------------------------------------------
    def _output(self, o: torch.Tensor, mem: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits of decoder outputs ``o`` (B x T x H), attending over ``mem`` (B x S x H)."""
        if self.query is not None:
            scores = torch.bmm(self.query(o), mem.transpose(1, 2)).masked_fill(~mask, float("-inf"))  # B x T x S
            ctx = torch.bmm(F.softmax(scores.float(), dim=-1).to(mem.dtype), mem)
            o = torch.cat([o, ctx], dim=-1)
        return self.proj(self.drop(torch.tanh(self.combine(o))))

    def logits(self, x: torch.Tensor, x_len: torch.Tensor, y_in: torch.Tensor) -> torch.Tensor:
        mem, mask, state = self.encode(x, x_len)
        o, _ = self.decoder(self.drop(self.dec_tok(y_in)), state)
        return self._output(o, mem, mask)

    def start(self, x: torch.Tensor, x_len: torch.Tensor, max_len: int) -> dict[str, Any]:
        mem, mask, state = self.encode(x, x_len)
        return {"mem": mem, "mask": mask, "state": state}

    def step(self, state: dict[str, Any], tokens: torch.Tensor, pos: int) -> torch.Tensor:
        o, state["state"] = self.decoder(self.dec_tok(tokens[:, None]), state["state"])
        return self._output(o, state["mem"], state["mask"])[:, -1]

    def reorder(self, state: dict[str, Any], index: torch.Tensor) -> dict[str, Any]:
        s = state["state"]
        s = (s[0][:, index], s[1][:, index]) if self.is_lstm else s[:, index]
        return {"mem": state["mem"][index], "mask": state["mask"][index], "state": s}
