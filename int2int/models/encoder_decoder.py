"""``architecture=encoder_decoder``: the original's default, a transformer encoder and decoder with cross-attention.

Defaults: pre-norm residual blocks (LayerNorm before attention and feed-forward, one final LayerNorm),
learned positions, ReLU, one FFN hidden layer, output projection tied to the decoder's token embeddings.
Options (``architecture.*``, see ``docs/architectures.md``): sinusoidal or no positions, GELU, deeper FFNs,
post-norm, query/key normalisation, Xavier initialisation, dropout, universal-transformer loops with copy gates
and adaptive computation time. Decoding keeps a key/value cache per decoder layer *application* (a looped
layer has one per loop), so that each step runs the decoder on one new token.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..config import ConfigError
from ..encodings.vocab import PAD
from .base import ARCHITECTURES, Seq2SeqModel
from .embedding import Embedding
from .kv_cache import KVCache
from .layers import DecoderLayer, EncoderLayer, Norm, TransformerConfig, key_mask


@ARCHITECTURES.register("encoder_decoder", config=TransformerConfig)
class EncoderDecoder(Seq2SeqModel):
    legacy_names = tuple((f"{side}_{old}", f"{side}_{new}") for side in ("enc", "dec")
                         for old, new in (("tok.", "emb.tok."), ("pos.", "emb.pos."), ("emb_norm.", "emb.norm."))) + (
        ("enc_layers.", "encoder.layers."), ("enc_norm.", "encoder.norm."), ("enc_loop.", "encoder.loop."),
        ("dec_layers.", "decoder.layers."), ("dec_norm.", "decoder.norm."), ("dec_loop.", "decoder.loop."))

    def __init__(self, a: TransformerConfig, vocab_size: int):
        super().__init__(a, vocab_size)
        de, dd, post = a.enc_emb_dim, a.dec_emb_dim, a.norm == Norm.post
        self.enc_emb = Embedding(vocab_size, de, a.positions("enc"), a.max_positions, post, a.dropout)
        self.dec_emb = Embedding(vocab_size, dd, a.positions("dec"), a.max_positions, post, a.dropout)
        self.encoder = a.stack("enc", [EncoderLayer(de, a.n_enc_heads, a.n_enc_hidden_layers, a)
                                       for _ in range(a.n_enc_layers)])
        self.decoder = a.stack("dec", [DecoderLayer(dd, de, a) for _ in range(a.n_dec_layers)])
        self.proj = nn.Linear(dd, vocab_size, bias=False)
        self.finish_init(self.proj, self.dec_emb.tok, self.encoder, self.decoder)

    def check_task(self, task: Any, max_len: int = 10**9) -> None:
        longest = min(max(task.max_input_len + 1, task.max_output_len + 2), max_len)
        if longest > self.cfg.max_positions:
            raise ConfigError(f"architecture.max_positions={self.cfg.max_positions}: the task needs sequences of "
                              f"{longest} tokens (input {task.max_input_len}, output {task.max_output_len}, plus "
                              f"<eos>; data.max_len={max_len})")

    def max_steps(self, max_len: int) -> int:
        return max(1, min(max_len + 1, self.cfg.max_positions - 1))

    def encode(self, x: torch.Tensor, x_len: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """Encoder output for ``x <eos>``, its key mask (B x 1 x 1 x S) and its mean ponder cost."""
        mask = key_mask(x_len, x.shape[1])
        layers = self.encoder.layers
        h, ponder = self.encoder.run(self.enc_emb(x), lambda i, h, slot: layers[i](h, mask),
                                     mask[:, 0, 0] if self.encoder.act else None)
        return h, mask, ponder

    def memory(self, x: torch.Tensor, x_len: torch.Tensor) -> dict[str, Any]:
        """The encoder pass: its key mask, its output projected once per decoder layer, its mean ponder cost."""
        mem, mask, ponder = self.encode(x, x_len)
        return {"mask": mask, "mem_kv": [layer.cross_attn.memory(mem) for layer in self.decoder.layers],
                "ponder": ponder, "mem": mem}

    def logits(self, x: torch.Tensor, x_len: torch.Tensor, y_in: torch.Tensor) -> torch.Tensor:
        return self.teacher_forced(self.memory(x, x_len), y_in)

    def teacher_forced(self, m: dict[str, Any], y_in: torch.Tensor, caches: list | None = None) -> torch.Tensor:
        """Logits of every position of ``y_in``; with ``caches`` (a decoding state's), their keys and values are
        written there, as decoding ``y_in`` step by step would write them."""
        layers, kvs, mask = self.decoder.layers, m["mem_kv"], m["mask"]
        h, dec_ponder = self.decoder.run(
            self.dec_emb(y_in), lambda i, h, slot: layers[i](h, kvs[i], mask, cache=caches[slot] if caches else None),
            y_in != PAD if self.decoder.act else None)
        if self.encoder.act or self.decoder.act:
            self._aux = self.cfg.act_ponder_coupling * (m["ponder"] + dec_ponder)
        return self.proj(h)

    def start(self, x: torch.Tensor, x_len: torch.Tensor, max_len: int) -> dict[str, Any]:
        return self.decoding_state(self.memory(x, x_len), max_len)

    def logits_and_start(self, x: torch.Tensor, x_len: torch.Tensor, y_in: torch.Tensor,
                         max_len: int) -> tuple[torch.Tensor, dict[str, Any]]:
        m = self.memory(x, x_len)  # one encoder pass for both
        state = self.decoding_state(m, self.max_steps(max_len))
        # the decoder's pass over the target is also decoding's first positions: its keys and values go to the
        # caches (not with ACT, whose decoding runs every iteration where the pass stops at each position's halt)
        fill = not self.decoder.act and y_in.shape[1] <= state["cache"][0].k.shape[2]
        state["cached"] = y_in.shape[1] if fill else 0
        return self.teacher_forced(m, y_in, state["cache"] if fill else None), state

    def teacher_forced_positions(self, state: dict[str, Any]) -> int:
        return state.get("cached", 0)

    def decoding_state(self, m: dict[str, Any], max_len: int) -> dict[str, Any]:
        """The encoder's projections and an empty cache per decoder layer application, for ``max_len`` steps."""
        heads, dd, mem = self.cfg.n_dec_heads, self.cfg.dec_emb_dim, m["mem"]
        t_max = min(max_len + 1, self.cfg.max_positions)
        return {"mask": m["mask"], "mem_kv": m["mem_kv"],
                "cache": [KVCache.empty(mem.shape[0], heads, t_max, dd // heads, mem)
                          for _ in range(self.decoder.plan.n_slots)]}

    def step(self, state: dict[str, Any], tokens: torch.Tensor, pos: int) -> torch.Tensor:
        layers, kvs, caches, mask = self.decoder.layers, state["mem_kv"], state["cache"], state["mask"]
        h, _ = self.decoder.run(self.dec_emb(tokens[:, None], pos),
                                lambda i, h, slot: layers[i](h, kvs[i], mask, cache=caches[slot], pos=pos),
                                exhaustive=True)
        return self.proj(h[:, -1])

    def reorder(self, state: dict[str, Any], index: torch.Tensor) -> dict[str, Any]:
        return {"mask": state["mask"][index], "mem_kv": [(k[index], v[index]) for k, v in state["mem_kv"]],
                "cache": [c.reorder(index) for c in state["cache"]]}

    def reorder_beams(self, state: dict[str, Any], index: torch.Tensor) -> dict[str, Any]:
        """Only the self-attention caches move: the encoder's keys, values and mask stay one per input, and the
        cross-attention reads them for all the input's hypotheses at once (:class:`~.layers.CrossAttention`)."""
        return {**state, "cache": [c.reorder(index) for c in state["cache"]]}
