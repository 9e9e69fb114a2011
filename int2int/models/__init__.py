"""Sequence-to-sequence models (the ``architecture`` config group).

Importing this package registers every architecture; a new one is one more module here, registered with
``@ARCHITECTURES.register``, inheriting the contract of :class:`~int2int.models.base.Seq2SeqModel`.
"""

from . import encoder_decoder, encoder_only, decoder_only, recurrent  # noqa: F401,I001  (registration, in this order)
from .base import ARCHITECTURES, ArchitectureConfig, Seq2SeqModel, build_model
from .decoder_only import DecoderOnly
from .encoder_decoder import EncoderDecoder
from .encoder_only import EncoderOnly
from .recurrent import RecurrentSeq2Seq

__all__ = ["ARCHITECTURES", "ArchitectureConfig", "DecoderOnly", "EncoderDecoder", "EncoderOnly",
           "RecurrentSeq2Seq", "Seq2SeqModel", "build_model"]
