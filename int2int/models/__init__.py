"""Sequence-to-sequence models."""

from .transformer import EncoderDecoder, build_model

__all__ = ["EncoderDecoder", "build_model"]
