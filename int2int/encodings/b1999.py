"""B1999 (LAWT ``floatsymbol,2``): one signed mantissa token, then an exponent: 3.14159 is ``N314 E-2``.

The mantissa is a single "digit" of the balanced base 1999 (at precision 3): ``N-999`` .. ``N999``. The encoder
writes only normalised mantissas (``N-999`` .. ``N-100``, ``N100`` .. ``N999``) and ``N0 E0`` for zero; the other
tokens (``N1`` .. ``N99`` and their negatives) exist so that the balanced base is complete and a decoder reads
unnormalised mantissas (``N5 E-1`` is 0.5).

Vocabulary: 2 x 10^precision - 1 mantissa tokens + 2 x max_exponent + 1 exponent tokens = 1999 + 201 = 2200 at
the defaults. LAWT's list (2202) runs from ``N-1000`` to ``N1000``: two tokens no 3-digit mantissa ever uses.
"""

from __future__ import annotations

import numpy as np

from .base import ENCODINGS
from .scientific import EXPONENT, MANTISSA, RealConfig, RealEncoding, exponent_symbols
from .vocab import Vocabulary


@ENCODINGS.register("b1999", config=RealConfig)
class B1999(RealEncoding):
    """LAWT's B1999: ``N314 E-2``, ``N-271 E-4``, zero ``N0 E0``; 2 tokens a number.

    Rounding: to nearest at ``precision`` significant digits, ties to even (printf's rule). Symbols, in order:
    ``N-<10^p - 1>`` .. ``N<10^p - 1>`` ascending, then ``E-<max>`` .. ``E<max>``.
    """

    name = "B1999"
    max_precision = 6  # 2 x 10^6 mantissa tokens already
    max_tokens = 2

    def _mantissas(self) -> np.ndarray:
        top = 10**self.precision - 1
        return np.arange(-top, top + 1)

    def symbols(self) -> list[str]:
        return [f"N{m}" for m in self._mantissas()] + exponent_symbols(self.max_exponent)

    def _token_roles(self):
        mantissas = self._mantissas()
        exps = np.arange(-self.max_exponent, self.max_exponent + 1)
        roles = np.concatenate([np.full(len(mantissas), MANTISSA), np.full(len(exps), EXPONENT)]).astype(np.int8)
        return self.symbols(), roles, np.concatenate([mantissas, exps]).astype(np.float64)

    def _bind_tables(self, vocab: Vocabulary) -> None:
        self._mantissa_ids = np.array([vocab.stoi[f"N{m}"] for m in self._mantissas()], dtype=np.int64)
        self._exp_ids = np.array(vocab.ids(exponent_symbols(self.max_exponent)), dtype=np.int64)

    def _spell(self, negative, mantissa, exponent):
        signed = np.where(negative, -mantissa, mantissa)
        ids = np.stack([self._mantissa_ids[signed + 10**self.precision - 1],
                        self._exp_ids[exponent + self.max_exponent]], axis=-1)
        return ids, np.ones(ids.shape, dtype=bool)
