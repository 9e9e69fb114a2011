"""Sequence-to-sequence models, one class per ``architecture.name``.

Every model implements :class:`~int2int.models.base.Seq2SeqModel` (teacher-forced logits and loss,
step-by-step decoding or one-pass prediction) and ``check_task(task)``, which raises ValueError
before training when the task's sequences cannot fit the architecture.
"""

from __future__ import annotations

from ..config import ArchitectureConfig
from .base import Seq2SeqModel
from .decoder_only import DecoderOnly
from .encoder_only import EncoderOnly
from .rnn import RecurrentSeq2Seq
from .transformer import EncoderDecoder

#: architecture.name -> model class
ARCHITECTURES: dict[str, type[Seq2SeqModel]] = {
    "encoder_decoder": EncoderDecoder,
    "encoder_only": EncoderOnly,
    "decoder_only": DecoderOnly,
    "lstm": RecurrentSeq2Seq,
    "gru": RecurrentSeq2Seq,
}


def build_model(a: ArchitectureConfig, vocab_size: int) -> Seq2SeqModel:
    """The model of ``architecture.name`` for a vocabulary of ``vocab_size`` tokens."""
    try:
        cls = ARCHITECTURES[a.name]
    except KeyError:
        raise ValueError(f"architecture.name={a.name!r}: unknown architecture "
                         f"(known: {', '.join(ARCHITECTURES)})") from None
    return cls(a, vocab_size)


__all__ = ["ARCHITECTURES", "DecoderOnly", "EncoderDecoder", "EncoderOnly", "RecurrentSeq2Seq", "Seq2SeqModel",
           "build_model"]
