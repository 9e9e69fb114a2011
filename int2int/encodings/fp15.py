"""FP15 (LAWT ``FP15,2,16``): the whole number in one token ``N<m>e<j>`` = m x 10^(j - offset): 3.14159 is ``N314e7``.

With ``precision`` significant digits and ``exponents`` exponent values (j in 0..exponents-1), the offset is
(precision - 1 + exponents) / 2 (9 at the defaults, so normal numbers run from 1e-7 = ``N100e0`` to
9.99e8 = ``N999e15``). Below the smallest normal, numbers are denormals ``N<m>e0`` with m in 1..10^(p-1) - 1,
i.e. multiples of 10^-offset (1e-9); below half the smallest denormal they are ``N0e0``.

Differences from LAWT: LAWT writes ``NaN`` / ``-NaN`` for magnitudes that round past the largest normal (and reads
them back as +-1e9). We raise ValueError naming the value instead (a value that cannot be encoded is an error, never
a silent wrong token), so our vocabulary lacks the two NaN tokens: 28,999 symbols at the defaults, LAWT's 29,001
minus two.
"""

from __future__ import annotations

import numpy as np

from dataclasses import dataclass

from ..config import Config, opt
from .base import ENCODINGS, EncodingConfig
from .scientific import NUMBER, RealEncoding, check_finite, compose, raise_overflow, round_scaled, to_scientific
from .vocab import Vocabulary


@dataclass
class FP15Config(EncodingConfig):
    precision: int = opt(3, "Significant digits of the mantissa (LAWT's precision 2 is 3 digits).")
    exponents: int = opt(16, "Exponent values j in 0..exponents-1 (value m x 10^(j - offset), offset "
                         "(precision - 1 + exponents) / 2, which must be a whole number).")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        self.require(1 <= self.precision <= FP15.max_precision, "precision", f"must be in 1..{FP15.max_precision}")
        self.require(self.exponents >= 1 and (self.precision - 1 + self.exponents) % 2 == 0, "exponents",
                     "must be >= 1 with precision - 1 + exponents even")


@ENCODINGS.register("fp15", config=FP15Config)
class FP15(RealEncoding):
    """LAWT's FP15: one token a number; rounding half up (ties away from zero) on the exact value.

    Symbols, in order: ``N0e0``; the positive tokens by increasing value (``N1e0`` .. ``N999e0``, then
    ``N100e1`` .. ``N999e1``, ..., up to ``N999e15``); then the negative ones in the same order (``N-1e0`` ...).
    """

    name = "FP15"
    ties = "away"
    max_precision = 5  # already ~2.9M symbols at 16 exponents
    max_tokens = 1

    def __init__(self, precision: int = 3, exponents: int = 16):
        if exponents < 1 or (precision - 1 + exponents) % 2:
            raise ValueError(f"FP15: exponents must be >= 1 and precision - 1 + exponents even (the offset is "
                             f"their half), got precision={precision}, exponents={exponents}")
        self.exponents = exponents
        self.offset = (precision - 1 + exponents) // 2
        # the largest value is (10^p - 1) x 10^(exponents - 1 - offset)
        super().__init__(precision, max_exponent=exponents - 1 - self.offset)

    @classmethod
    def from_config(cls, cfg: FP15Config) -> FP15:
        enc = cls(cfg.precision, cfg.exponents)
        enc.cfg = cfg
        return enc

    def __repr__(self) -> str:
        return f"FP15(precision={self.precision}, exponents={self.exponents})"

    def _table(self) -> tuple[np.ndarray, np.ndarray]:
        """(signed mantissa, j) of every symbol, in symbol order."""
        low, high = 10 ** (self.precision - 1), 10**self.precision
        m = np.concatenate([np.arange(1, high)] + [np.arange(low, high)] * (self.exponents - 1))
        j = np.concatenate([np.zeros(high - 1, dtype=np.int64)]
                           + [np.full(high - low, k, dtype=np.int64) for k in range(1, self.exponents)])
        return np.concatenate([[0], m, -m]), np.concatenate([[0], j, j])

    def symbols(self) -> list[str]:
        m, j = self._table()
        return [f"N{a}e{b}" for a, b in zip(m.tolist(), j.tolist())]

    def _token_roles(self):
        m, j = self._table()
        return self.symbols(), np.full(len(m), NUMBER, dtype=np.int8), compose(m, j - self.offset)

    def _bind_tables(self, vocab: Vocabulary) -> None:
        m, j = self._table()
        high = 10**self.precision
        self._ids = np.full(2 * high * self.exponents, -1, dtype=np.int64)
        self._ids[self._index(m < 0, np.abs(m), j)] = [vocab.stoi[s] for s in self.symbols()]

    def _index(self, negative: np.ndarray, mantissa: np.ndarray, j: np.ndarray) -> np.ndarray:
        return (negative.astype(np.int64) * 10**self.precision + mantissa) * self.exponents + j

    def scientific(self, values: np.ndarray):
        """Normal numbers are rounded half up at ``precision`` digits; exponents below -offset become denormals
        (j = 0, rounded half up to a multiple of 10^-offset) or zero; at or above the largest normal (after
        rounding), ValueError naming the value."""
        values = np.asarray(values, dtype=np.float64)
        check_finite(values, self.name)
        negative, mantissa, exponent = to_scientific(values, self.precision, self.ties)
        raise_overflow(values, exponent > self.max_exponent, self.name,
                       f"it rounds to {10**self.precision} x 10^{self.max_exponent} or more, past the largest "
                       f"token N{10**self.precision - 1}e{self.exponents - 1} (LAWT would write NaN)")
        denormal = (mantissa > 0) & (exponent < -self.offset)
        if np.any(denormal):
            small = np.abs(values[denormal])
            mantissa[denormal] = round_scaled(small, np.full(small.shape, -self.offset), self.ties)
            exponent[denormal] = -self.offset
        zero = mantissa == 0
        return negative & ~zero, mantissa, np.where(zero, 0, exponent)

    def _spell(self, negative, mantissa, exponent):
        j = np.where(mantissa == 0, 0, exponent + self.offset)
        ids = self._ids[self._index(negative, mantissa, j)][..., None]
        return ids, np.ones(ids.shape, dtype=bool)
