"""P1000 (LAWT ``float,2,1000``, its default): a sign, the mantissa in base 1000, an exponent: ``+ 314 E-2``.

At precision 3 the mantissa is one token (100..999), so a number is 3 tokens; at precision 4..6 it is two base-1000
digits (31416 is ``31 416``), and so on. Zero is ``+ 0 E0``.
"""

from __future__ import annotations

from .base import ENCODINGS
from .p10 import PositionalReal
from .scientific import RealConfig


@ENCODINGS.register("p1000", config=RealConfig)
class P1000(PositionalReal):
    """LAWT's P1000: ``+ 314 E-2``; symbols ``+ -``, ``0`` .. ``999``, ``E-<max>`` .. ``E<max>`` (1203 at the
    defaults). Rounding ties to even, like printf."""

    name = "P1000"
    digit_base = 1000
