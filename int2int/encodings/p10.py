"""P10 (LAWT ``float,2,10``): a sign, the mantissa's decimal digits, an exponent: 3.14159 is ``+ 3 1 4 E-2``.

:class:`PositionalReal` is the family: the mantissa written in base B, most significant digit first, each digit
one token (its decimal string). P10 is base 10 (5 tokens a number at precision 3); :class:`.p1000.P1000` is base
1000. Zero (and -0, and whatever rounds to 0 or underflows) is ``+ 0 E0``.
"""

from __future__ import annotations

import numpy as np

from .base import ENCODINGS
from .scientific import DIGIT, EXPONENT, SIGN, RealConfig, RealEncoding, exponent_symbols
from .vocab import PAD, Vocabulary


class PositionalReal(RealEncoding):
    """Sign token, mantissa digits in base ``digit_base``, exponent token ``E<k>`` (k in -max..max).

    Rounding: to nearest at ``precision`` significant digits, ties to even (printf's ``%.{p-1}e``). Symbols, in
    order: ``+ -``, the digits ``0`` .. ``B-1``, then ``E-<max>`` .. ``E<max>`` (P10 at the defaults: 213).
    """

    def __init__(self, precision: int = 3, max_exponent: int = 100):
        super().__init__(precision, max_exponent)
        #: Digit tokens of a mantissa (a precision-digit integer has no leading zero, so this is fixed).
        self.mantissa_digits = 1
        while self.digit_base**self.mantissa_digits < 10**precision:
            self.mantissa_digits += 1
        self.max_tokens = self.mantissa_digits + 2

    def symbols(self) -> list[str]:
        return ["+", "-"] + [str(d) for d in range(self.digit_base)] + exponent_symbols(self.max_exponent)

    def _token_roles(self):
        exps = np.arange(-self.max_exponent, self.max_exponent + 1)
        roles = [SIGN, SIGN] + [DIGIT] * self.digit_base + [EXPONENT] * len(exps)
        values = np.concatenate([[1.0, -1.0], np.arange(self.digit_base), exps]).astype(np.float64)
        return self.symbols(), np.array(roles, dtype=np.int8), values

    def _bind_tables(self, vocab: Vocabulary) -> None:
        self._sign_ids = np.array(vocab.ids(["+", "-"]), dtype=np.int64)
        self._digit_ids = np.array(vocab.ids([str(d) for d in range(self.digit_base)]), dtype=np.int64)
        self._exp_ids = np.array(vocab.ids(exponent_symbols(self.max_exponent)), dtype=np.int64)

    def _spell(self, negative, mantissa, exponent):
        k = self.mantissa_digits
        shape = negative.shape
        ids = np.empty(shape + (k + 2,), dtype=np.int64)
        ids[..., 0] = self._sign_ids[negative.astype(np.int64)]
        rest = mantissa
        for j in range(k, 0, -1):
            ids[..., j] = self._digit_ids[rest % self.digit_base]
            rest = rest // self.digit_base
        exp_ids = self._exp_ids[exponent + self.max_exponent]
        ids[..., k + 1] = exp_ids
        mask = np.ones(ids.shape, dtype=bool)
        zero = mantissa == 0
        if k > 1 and np.any(zero):  # zero is `+ 0 E0`: one digit, the exponent right after it
            ids[..., 2] = np.where(zero, exp_ids, ids[..., 2])
            ids[..., 3:] = np.where(zero[..., None], PAD, ids[..., 3:])
            mask[..., 3:] = ~zero[..., None]
        return ids, mask


@ENCODINGS.register("p10", config=RealConfig)
class P10(PositionalReal):
    """LAWT's P10: ``+ 3 1 4 E-2``; 2 + precision tokens a number; 213 symbols at the defaults."""

    name = "P10"
    digit_base = 10
