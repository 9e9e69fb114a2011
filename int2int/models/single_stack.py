"""One transformer stack over one sequence: the common body of the encoder-only and decoder-only models."""

from __future__ import annotations

from torch import nn

from .base import Seq2SeqModel
from .embedding import Embedding
from .layers import EncoderLayer, Norm, TransformerConfig


class SingleStack(Seq2SeqModel):
    """Embeddings, one stack of self-attention layers with the ``side`` (``enc`` or ``dec``) options, and an
    output projection tied to the token embeddings."""

    legacy_names = (("tok.", "emb.tok."), ("pos.", "emb.pos."), ("emb_norm.", "emb.norm."),
                    ("layers.", "stack.layers."), ("norm.", "stack.norm."), ("loop.", "stack.loop."))

    def __init__(self, a: TransformerConfig, vocab_size: int, side: str):
        super().__init__(a, vocab_size)
        d = getattr(a, f"{side}_emb_dim")
        n_layers, heads, hidden = (getattr(a, f"n_{side}_layers"), getattr(a, f"n_{side}_heads"),
                                   getattr(a, f"n_{side}_hidden_layers"))
        self.emb = Embedding(vocab_size, d, a.positions(side), a.max_positions, a.norm == Norm.post, a.dropout)
        self.stack = a.stack(side, [EncoderLayer(d, heads, hidden, a) for _ in range(n_layers)])
        self.proj = nn.Linear(d, vocab_size, bias=False)
        self.finish_init(self.proj, self.emb.tok, self.stack)
