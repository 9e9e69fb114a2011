"""Digit arithmetic: ``add``, ``sub`` and ``mix`` of ``task.n_digits``-digit integers in base ``encoding.base``.

Operands are uniform among the integers with exactly n digits, [B^(n-1), B^n - 1] (for n = 1:
[1, B-1]), so every operand is written with n digit tokens and digits line up by position.

- ``add``: input ``V2 + a + b``, output a + b: ``+`` then its digits;
- ``sub``: input ``V2 + a + b``, output a - b: ``+`` or ``-`` then the digits of |a - b|;
- ``mix``: input ``add V2 + a + b`` or ``sub V2 + a + b`` (the operation drawn 50/50 per example),
  output a + b or a - b.

With ``task.reverse_output`` the answer's digits are written least significant first, the sign still
first: 579 is ``+ 9 7 5`` (leading zeros are dropped before reversing, so the last digit is the most
significant nonzero one). An answer is right (``acc``) when it decodes to the right value (digit zeros
at the most significant end are accepted, as for every positional integer).

Class keys: ``add``: the number of carries; ``sub``: the number of borrows when subtracting the
smaller operand from the larger, digit by digit; ``mix``: the operation and that count, e.g.
``add2`` or ``sub0``. Counts are capped at ``task.max_class``.
"""

from __future__ import annotations

import numpy as np

from ..config import ConfigError, DigitsConfig
from ..encodings import PositionalInts, Vocabulary, digit_symbols
from .base import Examples, Task, Verdict

#: Operands and answers must fit in int64 with room to spare.
DIGITS_LIMIT = 2**61
OPS = ("add", "sub")


def reverse_digits(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Reverse tokens 1 .. length-1 of each row (the digits after the sign); its own inverse."""
    ids = np.asarray(ids)
    cols = np.arange(ids.shape[1])[None, :]
    lengths = np.asarray(lengths)[:, None]
    src = np.where((cols >= 1) & (cols < lengths), lengths - cols, cols)
    return np.take_along_axis(ids, src, axis=1)


def count_carries(a: np.ndarray, b: np.ndarray, base: int, n: int, subtract: bool) -> np.ndarray:
    """Carries of a + b, or borrows of a - b (a >= b), over the ``n`` least significant digits and beyond."""
    a, b = a.copy(), b.copy()
    carry = np.zeros(a.shape, dtype=np.int64)
    count = np.zeros(a.shape, dtype=np.int64)
    for _ in range(n):
        da, db = a % base, b % base
        if subtract:
            carry = (da - db - carry < 0).astype(np.int64)
        else:
            carry = (da + db + carry >= base).astype(np.int64)
        count += carry
        a, b = a // base, b // base
    return count


class DigitsTask(Task):
    """add / sub / mix of two n-digit integers."""

    def __init__(self, cfg: DigitsConfig, base: int):
        if cfg.name not in ("add", "sub", "mix"):
            raise ConfigError(f"task.name={cfg.name!r}: a digits task is add, sub or mix")
        if cfg.n_digits < 1:
            raise ConfigError(f"task.n_digits={cfg.n_digits}: must be >= 1")
        if base ** cfg.n_digits > DIGITS_LIMIT:
            raise ConfigError(f"task.n_digits={cfg.n_digits}, encoding.base={base}: operands of base**n_digits "
                              "must stay <= 2**61 (int64 arithmetic)")
        self.cfg, self.base, self.n = cfg, base, cfg.n_digits
        self.mode = cfg.name
        self.class_key = {"add": "carries", "sub": "borrows", "mix": "operation"}[self.mode]
        ops = list(OPS) if self.mode == "mix" else []
        self.vocab = Vocabulary(digit_symbols(base) + ["V2"] + ops)
        self.ints = PositionalInts(base, self.vocab)
        self.prefix = [self.vocab.id("V2")]
        self.op_ids = np.array([self.vocab.id(o) for o in OPS]) if ops else None
        self.lo, self.hi = base ** (self.n - 1), base**self.n - 1

    # -- generation -------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Operands a, b and the operation (0: add, 1: sub) of ``n`` examples."""
        a = rng.integers(self.lo, self.hi, size=n, endpoint=True, dtype=np.int64)
        b = rng.integers(self.lo, self.hi, size=n, endpoint=True, dtype=np.int64)
        if self.mode == "mix":
            op = rng.integers(0, 2, size=n, dtype=np.int64)
        else:
            op = np.full(n, OPS.index(self.mode), dtype=np.int64)
        return a, b, op

    def generate(self, rng: np.random.Generator, n: int) -> Examples:
        return self.build(*self.sample(rng, n))

    def build(self, a, b, op=None) -> Examples:
        """Examples of given operands; ``op`` (0: add, 1: sub) is needed for ``mix`` only."""
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        if op is None:
            if self.mode == "mix":
                raise ValueError("mix: build() needs the operations")
            op = np.full(len(a), OPS.index(self.mode), dtype=np.int64)
        op = np.asarray(op, dtype=np.int64)
        x, x_len = self.ints.encode(np.stack([a, b], axis=1), self.n, self.prefix)
        if self.mode == "mix":
            x = np.concatenate([self.op_ids[op][:, None], x], axis=1)
            x_len = x_len + 1
        y, y_len = self.ints.encode(np.where(op == 1, a - b, a + b), self.n + 1)
        if self.cfg.reverse_output:
            y = reverse_digits(y, y_len)
        return Examples(x, x_len, y, y_len)

    # -- verification -----------------------------------------------------------------------
    def decode_input(self, ex: Examples) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        start = 1 if self.mode != "mix" else 2
        vals, _, _ = self.ints.decode(ex.x, ex.x_len, 2, start=start)
        if self.mode == "mix":
            op = (ex.x[:, 0] == self.op_ids[1]).astype(np.int64)
        else:
            op = np.full(len(ex), OPS.index(self.mode), dtype=np.int64)
        return vals[:, 0], vals[:, 1], op

    def decode_output(self, ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(values, valid, overflow)`` of answers written in this task's digit order."""
        if self.cfg.reverse_output:
            ids = reverse_digits(ids, lengths)
        values, valid, overflow = self.ints.decode(ids, lengths, 1)
        return values[:, 0], valid, overflow

    def classes(self, a: np.ndarray, b: np.ndarray, op: np.ndarray) -> np.ndarray:
        sub = op == 1
        big, small = np.where(sub, np.maximum(a, b), a), np.where(sub, np.minimum(a, b), b)
        carries = np.where(sub, count_carries(big, small, self.base, self.n, True),
                           count_carries(a, b, self.base, self.n, False))
        carries = np.minimum(carries, self.cfg.max_class)
        if self.mode != "mix":
            return carries
        return np.char.add(np.where(sub, "sub", "add"), carries.astype(str)).astype(object)

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        a, b, op = self.decode_input(ex)
        target = np.where(op == 1, a - b, a + b)
        value, valid, overflow = self.decode_output(pred, pred_len)
        acc = valid & ~overflow & (value == target)
        return Verdict(acc=acc, correct=valid, classes=self.classes(a, b, op))

    @property
    def max_input_len(self) -> int:
        return (self.mode == "mix") + 1 + 2 * (1 + self.n)

    @property
    def max_output_len(self) -> int:
        return 2 + self.n if self.mode != "sub" else 1 + self.n
