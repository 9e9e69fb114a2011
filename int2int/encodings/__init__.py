"""Number encodings (the ``encoding`` config group) and the tokenizers of numbers and arrays built on them.

Importing this package registers every encoding."""

from . import b1999, fp15, p10, p1000, positional, symbolic  # noqa: F401  (registration)
from .arrays import DIM_TOKENS, Number, NumberArray
from .base import ENCODINGS, EncodingConfig, NumberEncoding, build_encodings, compact, require_kind
from .positional import PositionalInts, digit_symbols, n_digits
from .symbolic import SymbolicInts
from .vocab import EOS, PAD, SEP, SPECIAL_TOKENS, Vocabulary

__all__ = ["DIM_TOKENS", "ENCODINGS", "EOS", "PAD", "SEP", "SPECIAL_TOKENS", "EncodingConfig", "Number",
           "NumberArray", "NumberEncoding", "PositionalInts", "SymbolicInts", "Vocabulary", "build_encodings",
           "compact", "digit_symbols", "n_digits", "require_kind"]
