"""Tokenizers: the vocabulary and vectorised number encodings."""

from .positional import PositionalInts, compact, digit_symbols, n_digits
from .vocab import EOS, PAD, SEP, SPECIAL_TOKENS, Vocabulary

__all__ = ["EOS", "PAD", "SEP", "SPECIAL_TOKENS", "PositionalInts", "Vocabulary", "compact", "digit_symbols", "n_digits"]
