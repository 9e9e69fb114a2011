"""Real numbers in scientific notation: exact vectorised rounding, and the API every real encoding shares.

A real ``x`` rounded to ``precision`` significant digits is ``(-1)^negative * mantissa * 10^exponent`` with an
integer mantissa of exactly ``precision`` digits (100..999 at precision 3), or mantissa 0 and exponent 0 for zero.
The four LAWT encodings (:mod:`.p10`, :mod:`.p1000`, :mod:`.b1999`, :mod:`.fp15`) differ only in how they spell
that triple and in what they do at the ends of their exponent range, so the rounding, the value a triple reads
back as (:func:`compose`) and the token parser (:meth:`RealEncoding.decode`) live here, once.

Rounding is exact: the result is that of rounding the float's exact binary value, the way C's ``printf("%.*e")``
and Python's ``format`` do. Two tie rules exist: ``"even"`` (a value exactly halfway goes to the even mantissa,
printf's rule, used by P10, P1000 and B1999) and ``"away"`` (halfway goes away from zero, "half up" on the
magnitude, FP15's rule). The hot path is numpy arithmetic on whole arrays; the few values whose scaled magnitude
lies within a few ulps of a half-integer (exact ties such as 0.125, or float error that could flip the decision)
are settled exactly with :mod:`decimal`, one by one. Random data almost never has any; data made of short dyadic
fractions (0.25, 1.5, ...) may, and stays exact at a Python-loop cost for those values only.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

import numpy as np

from ..config import Config, opt
from .base import EncodingConfig, NumberEncoding
from .vocab import PAD, Vocabulary

if TYPE_CHECKING:
    from typing import Self

log = logging.getLogger(__name__)

#: Largest supported precision: the mantissa (< 10^precision) must be an exact float64 integer.
MAX_PRECISION = 15
#: Tie rules of :func:`round_scaled`, by name, with their :mod:`decimal` counterparts for exact resolution.
TIE_RULES = {"even": ROUND_HALF_EVEN, "away": ROUND_HALF_UP}
#: Half-width of the window around a half-integer, relative to the scaled value, inside which the float decision
#: is not trusted (the scaled value carries at most 4 roundings, < 5e-16 relative error; this is ~30x that).
_TIE_WINDOW = 2.0**-46


def exponent_symbols(max_exponent: int) -> list[str]:
    """Exponent tokens ``E-<max>`` .. ``E<max>``, ascending."""
    return [f"E{k}" for k in range(-max_exponent, max_exponent + 1)]


#: 10^k for k in 0..308, each the correctly rounded float64 (exact up to 10^22).
_POW10 = np.array([float(f"1e{k}") for k in range(309)])


def times_pow10(values: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``values * 10^k`` elementwise (k integer, any sign), with as few roundings as float64 allows.

    For |k| <= 22 it is one correctly rounded multiplication or division by an exact power of ten; up to 308,
    one operation with the correctly rounded 10^|k| (at most ~1 ulp off). Beyond (only on the way to or from
    subnormal floats) a first step of 10^±(|k| - 308) keeps intermediates finite.
    """
    values = np.asarray(values, dtype=np.float64)
    k = np.asarray(k, dtype=np.int64)
    first = np.sign(k) * np.maximum(np.abs(k) - 308, 0)
    with np.errstate(over="ignore", under="ignore"):
        for step in (first, k - first):
            power = _POW10[np.abs(step)]
            values = np.where(step >= 0, values * power, values / power)
    return values


def compose(mantissa: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """The float64 that ``mantissa * 10^exponent`` reads back as (signed mantissa, float or int).

    The one definition of a number's value, shared by :meth:`RealEncoding.round` and the decoder, so that
    decoding the tokens of ``x`` gives exactly ``round(x)``. Correctly rounded for |exponent| <= 22 (then it
    equals ``float(f"{mantissa}e{exponent}")``), within ~1 ulp beyond.
    """
    return times_pow10(np.asarray(mantissa, dtype=np.float64), exponent)


def _first_index(bad: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(bad)[0])


def check_finite(values: np.ndarray, who: str) -> None:
    """Raise ValueError naming the first NaN or infinite value (and its index) of ``values``."""
    bad = ~np.isfinite(values)
    if np.any(bad):
        idx = _first_index(bad)
        raise ValueError(f"{who} cannot encode non-finite value {float(values[idx])!r} at index {idx} "
                         f"({int(bad.sum())} non-finite value(s) in all)")


def raise_overflow(values: np.ndarray, bad: np.ndarray, who: str, limit: str) -> None:
    """Raise ValueError naming the first value of ``values`` flagged in ``bad`` as too large, if any."""
    if np.any(bad):
        idx = _first_index(bad)
        raise ValueError(f"{who} cannot encode {float(values[idx])!r} at index {idx}: {limit} "
                         f"({int(bad.sum())} overflowing value(s) in all)")


def round_scaled(magnitude: np.ndarray, exponent: np.ndarray, ties: str) -> np.ndarray:
    """``magnitude / 10^exponent`` rounded to an integer (int64), exactly, with tie rule ``ties``.

    ``magnitude`` >= 0 and finite; the quotient must stay below 2^52 (it does at precision <= 15).
    """
    rounding = TIE_RULES[ties]
    scaled = times_pow10(magnitude, -np.asarray(exponent, dtype=np.int64))
    floor = np.floor(scaled)
    frac = scaled - floor  # exact: the fractional part of a float is a float
    out = floor + (frac > 0.5)
    unsure = np.abs(frac - 0.5) <= scaled * _TIE_WINDOW
    if np.any(unsure):
        # Settle ties (and near-ties the float error could flip) on the exact binary value.
        idx = np.nonzero(unsure)
        mags, exps = magnitude[idx], np.broadcast_to(exponent, magnitude.shape)[idx]
        out[idx] = [float(Decimal(float(m)).quantize(Decimal((0, (1,), int(e))), rounding=rounding).scaleb(-int(e)))
                    for m, e in zip(mags, exps)]
        log.debug("settled %d near-tie value(s) exactly", len(mags))
    return out.astype(np.int64)


def to_scientific(values: np.ndarray, precision: int, ties: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Round ``values`` (finite float64, any shape) to ``precision`` significant digits.

    Returns ``(negative, mantissa, exponent)``: bool, int64 with 10^(p-1) <= mantissa < 10^p, int64, such that
    the rounded value is ``(-1)^negative * mantissa * 10^exponent``. A carry moves the exponent up (9.996 at
    precision 3 is 100 x 10^-1). Zero and -0 give (False, 0, 0). The exponent is unbounded: each encoding
    applies its own range rules.
    """
    values = np.asarray(values, dtype=np.float64)
    magnitude = np.abs(values)
    nonzero = magnitude > 0
    safe = np.where(nonzero, magnitude, 1.0)
    low, high = 10.0 ** (precision - 1), 10.0**precision
    exponent = np.floor(np.log10(safe)).astype(np.int64) - (precision - 1)
    # log10 may be off by one next to powers of ten: bring the scaled magnitude into [10^(p-1), 10^p).
    scaled = times_pow10(safe, -exponent)
    exponent += (scaled >= high).astype(np.int64) - (scaled < low).astype(np.int64)
    mantissa = round_scaled(safe, exponent, ties)
    carry = mantissa >= int(high)
    mantissa = np.where(carry, mantissa // 10, mantissa)
    exponent = exponent + carry
    negative = (values < 0) & nonzero
    return negative, np.where(nonzero, mantissa, 0), np.where(nonzero, exponent, 0)


# Roles of tokens in the decoder's grammar. A number is one of
#   SIGN DIGIT+ EXPONENT   (P10, P1000: positional mantissa in base ``digit_base``)
#   MANTISSA EXPONENT      (B1999: one signed mantissa token)
#   NUMBER                 (FP15: the whole number in one token)
OTHER, SIGN, DIGIT, MANTISSA, EXPONENT, NUMBER = range(6)
# Parser states: expecting a new number, after a sign, inside the digits, after a one-token mantissa.
_START, _SIGNED, _DIGITS, _MANTISSA = range(4)


@dataclass
class RealConfig(EncodingConfig):
    """Options of the real-number encodings with exponent tokens (P10, P1000, B1999)."""

    precision: int = opt(3, "Significant digits of the mantissa (LAWT's precision 2 is 3 digits).")
    max_exponent: int = opt(100, "Exponent tokens E-<max_exponent> .. E<max_exponent>; smaller exponents underflow "
                            "to zero, larger ones are an error.")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        self.require(1 <= self.precision <= MAX_PRECISION, "precision", f"must be in 1..{MAX_PRECISION}")
        self.require(0 <= self.max_exponent <= 308 - self.precision, "max_exponent",
                     "must be in 0..308 - precision (every number a finite float64)")


class RealEncoding(NumberEncoding):
    """A way of writing real numbers as tokens: rounding rules, symbols, vectorised encoder and decoder.

    ``precision`` is the number of significant digits of the mantissa (LAWT's p=2 is our 3). ``max_exponent``
    bounds the exponent tokens ``E-<max>``..``E<max>`` of P10, P1000 and B1999 (FP15 has its own exponent
    span). Use: ``enc.bind(Vocabulary(enc.symbols()))`` (or any vocabulary that holds ``enc.symbols()``), then
    ``enc.tokens(values)`` and ``enc.decode(ids, lengths, count)``.
    """

    #: Name used in error messages.
    name: str = "RealEncoding"
    #: Tie rule of the rounding (see :data:`TIE_RULES`).
    ties: str = "even"
    #: Largest precision this encoding accepts (its vocabulary grows like 10^precision).
    max_precision: int = MAX_PRECISION
    #: Tokens of the longest number.
    max_tokens: int
    #: Base of the positional mantissa digits (P10, P1000); unused by the others.
    digit_base: int = 10

    kind = "real"

    @classmethod
    def from_config(cls, cfg: RealConfig) -> RealEncoding:
        enc = cls(cfg.precision, cfg.max_exponent)
        enc.cfg = cfg
        return enc

    def max_len(self, max_abs: float) -> int:
        return self.max_tokens

    def __init__(self, precision: int = 3, max_exponent: int = 100):
        self.cfg = None
        if not 1 <= precision <= self.max_precision:
            raise ValueError(f"{self.name}: precision must be in 1..{self.max_precision}, got {precision}")
        if not 0 <= max_exponent <= 308 - precision:
            raise ValueError(f"{self.name}: max_exponent must be in 0..{308 - precision} (so that every number is "
                             f"a finite float64), got {max_exponent}")
        self.precision = precision
        self.max_exponent = max_exponent
        self.vocab: Vocabulary | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(precision={self.precision}, max_exponent={self.max_exponent})"

    # ----- what subclasses provide -----

    @abstractmethod
    def symbols(self) -> list[str]:
        """Every token this encoding can write or read, in a fixed, documented order."""

    @abstractmethod
    def _token_roles(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """``(tokens, roles, values)`` for the decoder: each token's role and its value in that role
        (sign +-1, digit, signed mantissa, exponent, or the whole number's value)."""

    @abstractmethod
    def _bind_tables(self, vocab: Vocabulary) -> None:
        """Build the encoder's lookup tables (token ids) for ``vocab``."""

    @abstractmethod
    def _spell(self, negative: np.ndarray, mantissa: np.ndarray, exponent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Token ids S x max_tokens and mask of rounded triples already within range (zero: mantissa 0)."""

    def scientific(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(negative, mantissa, exponent)`` of ``values`` as this encoding writes them, range rules applied.

        Default (exponent tokens): an exponent below -max_exponent underflows to zero, one above max_exponent
        raises ValueError.
        """
        values = np.asarray(values, dtype=np.float64)
        check_finite(values, self.name)
        negative, mantissa, exponent = to_scientific(values, self.precision, self.ties)
        raise_overflow(values, exponent > self.max_exponent, self.name,
                       f"its exponent exceeds E{self.max_exponent} (largest value "
                       f"{10**self.precision - 1}e{self.max_exponent})")
        under = exponent < -self.max_exponent
        return negative & ~under, np.where(under, 0, mantissa), np.where(under, 0, exponent)

    # ----- the common API -----

    def bind(self, vocab: Vocabulary) -> Self:
        """Build the id lookup tables for ``vocab`` (which must contain :meth:`symbols`); returns self."""
        missing = [s for s in self.symbols() if s not in vocab]
        if missing:
            raise KeyError(f"{self.name}: the vocabulary lacks {len(missing)} of its symbols, e.g. {missing[:5]}")
        tokens, roles, token_values = self._token_roles()
        ids = np.array([vocab.stoi[t] for t in tokens], dtype=np.int64)
        self._role = np.full(len(vocab), OTHER, dtype=np.int8)
        self._role[ids] = roles
        self._value = np.zeros(len(vocab), dtype=np.float64)
        self._value[ids] = token_values
        self._bind_tables(vocab)
        self.vocab = vocab
        return self

    def round(self, values: np.ndarray) -> np.ndarray:
        """The float64 each of ``values`` reads back as after encoding (same shape); raises like :meth:`tokens`."""
        negative, mantissa, exponent = self.scientific(values)
        return compose(np.where(negative, -mantissa, mantissa), exponent)

    def tokens(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of ``values`` (float64, any shape S) as an array S x max_tokens, left-aligned, and the mask
        of present tokens (padding is ``<pad>``). Raises ValueError naming the value for NaN, inf and overflow."""
        if self.vocab is None:
            raise RuntimeError(f"{self.name}: call bind(vocab) before tokens()")
        return self._spell(*self.scientific(values))

    def decode(self, ids: np.ndarray, lengths: np.ndarray, count: int | np.ndarray,
               start: int | np.ndarray = 0) -> tuple[np.ndarray, np.ndarray]:
        """Parse ``count`` numbers from tokens ``start .. length-1`` of each row of ``ids`` (n x T).

        ``count`` and ``start`` are ints or per-row arrays. Returns ``(values, valid)``: values n x max(count)
        float64 (0 where absent), ``valid`` when the part read is exactly ``count`` well-formed numbers of finite
        value, nothing more, nothing less. Positional mantissas may have any number of digits (``+ 0 3 E0`` is 3)
        and B1999 mantissas need not be normalised (``N5 E-1`` is 0.5): the tolerance of the task judges them.
        """
        if self.vocab is None:
            raise RuntimeError(f"{self.name}: call bind(vocab) before decode()")
        ids = np.asarray(ids, dtype=np.int64)
        n, width = ids.shape
        lengths = np.broadcast_to(np.asarray(lengths, dtype=np.int64), (n,))
        count = np.broadcast_to(np.asarray(count, dtype=np.int64), (n,))
        start = np.broadcast_to(np.asarray(start, dtype=np.int64), (n,))
        bad = (lengths < 0) | (lengths > width) | (start < 0) | (count < 0)
        if np.any(bad):
            row = int(np.argmax(bad))
            raise ValueError(f"{self.name}.decode: row {row} has length {lengths[row]}, start {start[row]} and count "
                             f"{count[row]}: lengths must be in 0..{width} (the width of ids), start and count >= 0")
        values = np.zeros((n, int(count.max(initial=0))), dtype=np.float64)
        valid = np.ones(n, dtype=bool)
        state = np.full(n, _START, dtype=np.int8)
        found = np.zeros(n, dtype=np.int64)  # numbers completed so far
        sign = np.ones(n, dtype=np.float64)
        mantissa = np.zeros(n, dtype=np.float64)
        rows = np.arange(n)
        known = len(self._role)
        first = int(start.min()) if n else 0  # columns before every row's start hold no numbers
        last = int(lengths.max(initial=0))
        for j in range(first, last):
            active = (j >= start) & (j < lengths)
            col = ids[:, j]
            inside = (col >= 0) & (col < known)
            col = np.where(inside, col, PAD)
            role = np.where(inside, self._role[col], OTHER)
            token_value = self._value[col]
            at_start, signed = state == _START, state == _SIGNED
            digits, one_token = state == _DIGITS, state == _MANTISSA
            opens_signed = active & at_start & (role == SIGN)
            opens_mantissa = active & at_start & (role == MANTISSA)
            whole = active & at_start & (role == NUMBER)
            first_digit = active & signed & (role == DIGIT)
            more_digit = active & digits & (role == DIGIT)
            closes = active & (digits | one_token) & (role == EXPONENT)
            valid &= ~active | opens_signed | opens_mantissa | whole | first_digit | more_digit | closes
            sign = np.where(opens_signed, token_value, np.where(opens_mantissa, np.copysign(1.0, token_value), sign))
            mantissa = np.where(opens_signed, 0.0, np.where(opens_mantissa, np.abs(token_value), mantissa))
            with np.errstate(over="ignore", invalid="ignore"):  # an overlong mantissa becomes inf: invalid below
                mantissa = np.where(first_digit | more_digit, mantissa * self.digit_base + token_value, mantissa)
            done = closes | whole
            if np.any(done):
                number = np.where(whole, token_value, 0.0)
                number[closes] = sign[closes] * compose(mantissa[closes], token_value[closes].astype(np.int64))
                slot = done & (found < count)
                values[rows[slot], found[slot]] = number[slot]
                valid &= ~done | np.isfinite(number)
                found = found + done
            state = np.select([opens_signed, opens_mantissa, first_digit, done],
                              [_SIGNED, _MANTISSA, _DIGITS, _START], state).astype(np.int8)
        valid &= (state == _START) & (found == count)
        return values, valid
