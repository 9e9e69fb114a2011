"""Digit arithmetic: ``add``, ``sub`` and ``mix`` of ``task.n_digits``-digit integers in base ``encoding.base``.

Operands are uniform among the integers with exactly n digits, [B^(n-1), B^n - 1] (for n = 1: [1, B-1]),
so every operand is written with n digit tokens and digits line up by position. Numbers are handled as
digit arrays, never as machine integers, so any number of digits works (the addition seed goes to 20).

- ``add``: input ``V2 + a + b``, output a + b: ``+`` then its digits;
- ``sub``: input ``V2 + a + b``, output a - b: ``+`` or ``-`` then the digits of |a - b|;
- ``mix``: input ``add V2 + a + b`` or ``sub V2 + a + b`` (the operation drawn 50/50 per example).

With ``task.reverse_output`` the answer's digits are written least significant first, the sign still first:
579 is ``+ 9 7 5`` (leading zeros are dropped before reversing). An answer is right (``acc``) when it reads
as the right value (digit zeros at the most significant end are accepted, as for every positional integer).

Class keys: ``add``: the number of carries; ``sub``: the number of borrows when subtracting the smaller
operand from the larger, digit by digit; ``mix``: the operation and that count, e.g. ``add2`` or ``sub0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Config, ConfigError, opt
from ..data.examples import Examples
from ..encodings import PositionalInts, compact
from ..encodings.arrays import DIM_TOKENS
from .base import TASKS, Task, TaskConfig, Verdict, cap

OPS = ("add", "sub")
#: Longest operands accepted (each digit is a token; attention is quadratic in the length).
MAX_DIGITS = 1000


@dataclass
class DigitsConfig(TaskConfig):
    name: str = opt("add", "add, sub or mix (add or sub per example) of n_digits-digit integers.")
    n_digits: int = opt(5, "Digits of each operand, in encoding.base.")
    reverse_output: bool = opt(False, "Write the output least significant digit first.")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        self.require(1 <= self.n_digits <= MAX_DIGITS, "n_digits", f"must be in 1..{MAX_DIGITS}")


def column_arithmetic(a: np.ndarray, b: np.ndarray, base: int, subtract: bool) -> tuple[np.ndarray, np.ndarray]:
    """a + b (n x (N+1) digits) or a - b for a >= b (n x N digits), digits most significant first, and the
    number of carries (or borrows) of each row."""
    n, width = a.shape
    out = np.zeros((n, width + (not subtract)), dtype=np.int64)
    carry = np.zeros(n, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    shift = 0 if subtract else 1
    for j in range(width - 1, -1, -1):
        s = a[:, j] - b[:, j] - carry if subtract else a[:, j] + b[:, j] + carry
        carry = (s < 0).astype(np.int64) if subtract else (s >= base).astype(np.int64)
        out[:, j + shift] = s % base
        count += carry
    if not subtract:
        out[:, 0] = carry
    return out, count


@TASKS.register("add", "sub", "mix", config=DigitsConfig)
class DigitsTask(Task):
    def __init__(self, cfg: Config):
        super().__init__(cfg)
        if not isinstance(self.input_enc, PositionalInts) or self.output_enc is not self.input_enc:
            raise ConfigError(f"encoding.name={cfg.encoding.name!r}: task={self.cfg.name} writes digits: it needs "
                              "encoding=positional for inputs and outputs")
        self.enc, self.base, self.n = self.input_enc, self.input_enc.base, self.cfg.n_digits
        self.mode = self.cfg.name
        self.class_key = {"add": "carries", "sub": "borrows", "mix": "operation"}[self.mode]
        self.build_vocab(self.enc, extra=DIM_TOKENS + (list(OPS) if self.mode == "mix" else []))
        self.op_ids = np.array(self.vocab.ids(OPS)) if self.mode == "mix" else None
        self.v2 = self.vocab.id("V2")

    # -- generation -------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Digits of the operands a, b (n x n_digits, most significant first) and the operation (0 add, 1 sub)."""
        def operand() -> np.ndarray:
            d = rng.integers(0, self.base, size=(n, self.n), dtype=np.int64)
            d[:, 0] = rng.integers(1, self.base, size=n, dtype=np.int64)
            return d

        a, b = operand(), operand()
        op = (rng.integers(0, 2, size=n, dtype=np.int64) if self.mode == "mix"
              else np.full(n, OPS.index(self.mode), dtype=np.int64))
        return a, b, op

    def generate(self, rng: np.random.Generator, n: int) -> Examples:
        return self.build(*self.sample(rng, n))

    def answer(self, a: np.ndarray, b: np.ndarray, op: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(negative, digits n x (N+1), carries)`` of a + b or a - b."""
        total, carries = column_arithmetic(a, b, self.base, subtract=False)
        differs = a != b
        first = differs.argmax(axis=1)
        rows = np.arange(len(a))
        a_less = differs.any(axis=1) & (a[rows, first] < b[rows, first])
        big, small = np.where(a_less[:, None], b, a), np.where(a_less[:, None], a, b)
        diff, borrows = column_arithmetic(big, small, self.base, subtract=True)
        sub = op == 1
        digits = np.where(sub[:, None], np.pad(diff, ((0, 0), (1, 0))), total)
        return sub & a_less, digits, np.where(sub, borrows, carries)

    def number_tokens(self, negative: np.ndarray, digits: np.ndarray, reverse: bool = False) -> tuple[np.ndarray, ...]:
        """Tokens and mask of signed integers given as digit rows (leading zeros dropped; reversed on request)."""
        n, width = digits.shape
        nonzero = digits != 0
        first = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), width - 1)
        keep = np.arange(width)[None, :] >= first[:, None]
        if reverse:  # least significant first: the kept digits (a suffix) become a prefix, leading zeros last
            digits, keep = digits[:, ::-1], keep[:, ::-1]
        sign = np.where(negative, self.enc.minus, self.enc.plus)
        return (np.concatenate([sign[:, None], digits + self.enc.digit0], axis=1),
                np.concatenate([np.ones((n, 1), dtype=bool), keep], axis=1))

    def build(self, a: np.ndarray, b: np.ndarray, op: np.ndarray | None = None) -> Examples:
        """Examples of operands given as digit rows (n x n_digits); ``op`` (0 add, 1 sub) is needed for mix."""
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        n = len(a)
        op = np.full(n, OPS.index(self.mode), dtype=np.int64) if op is None else np.asarray(op, dtype=np.int64)
        plus = np.full((n, 1), self.enc.plus)
        x = np.concatenate([np.full((n, 1), self.v2), plus, a + self.enc.digit0, plus, b + self.enc.digit0], axis=1)
        if self.mode == "mix":
            x = np.concatenate([self.op_ids[op][:, None], x], axis=1)
        negative, digits, _ = self.answer(a, b, op)
        y = compact(*self.number_tokens(negative, digits, self.cfg.reverse_output))
        return Examples(x, np.full(n, x.shape[1], dtype=np.int64), y[0], y[1])

    @staticmethod
    def from_ints(values: list[int], n_digits: int, base: int) -> np.ndarray:
        """Digit rows (most significant first) of Python integers: to build examples by hand in tests and docs."""
        rows = []
        for v in values:
            row = []
            for _ in range(n_digits):
                v, d = divmod(v, base)
                row.append(d)
            rows.append(row[::-1])
        return np.array(rows, dtype=np.int64)

    # -- verification -----------------------------------------------------------------------------
    def read_number(self, ids: np.ndarray, lengths: np.ndarray, start: int = 0) -> tuple[np.ndarray, ...]:
        """``(negative, digits n x W right-aligned, valid)`` of one signed integer per row, read from ``start``."""
        n, width = ids.shape
        cols = np.arange(width)[None, :]
        inside = (cols > start) & (cols < lengths[:, None])
        digit = self.enc.digit_of[ids]
        sign = self.enc.sign_of[ids[:, start]] if width > start else np.zeros(n, dtype=np.int64)
        valid = (sign != 0) & (lengths > start + 1) & np.all(~inside | (digit >= 0), axis=1)
        digits = np.where(inside, np.maximum(digit, 0), 0)[:, start + 1:]
        used = np.maximum(lengths - start - 1, 0)
        if self.cfg.reverse_output:  # least significant first: reverse each row's used part
            w = digits.shape[1]
            src = np.clip(used[:, None] - 1 - np.arange(w)[None, :], 0, max(w - 1, 0))
            digits = np.where(np.arange(w)[None, :] < used[:, None], np.take_along_axis(digits, src, axis=1), 0)
        # right-align: shift each row so that its last used digit is in the last column
        w = digits.shape[1]
        src = np.arange(w)[None, :] - (w - used[:, None])
        aligned = np.where(src >= 0, np.take_along_axis(digits, np.clip(src, 0, max(w - 1, 0)), axis=1), 0)
        return sign < 0, aligned, valid

    def read_input(self, ex: Examples) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Operand digits and operation of canonical inputs ``[op] V2 + a + b``."""
        off = 1 if self.mode == "mix" else 0
        digit = self.enc.digit_of[ex.x]
        a, b = digit[:, off + 2: off + 2 + self.n], digit[:, off + 3 + self.n: off + 3 + 2 * self.n]
        op = ((ex.x[:, 0] == self.op_ids[1]).astype(np.int64) if self.mode == "mix"
              else np.full(len(ex), OPS.index(self.mode), dtype=np.int64))
        return a, b, op

    def solved(self, ex: Examples) -> Examples:
        return self.build(*self.read_input(ex))

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        t_neg, t_digits, _ = self.read_number(ex.y, ex.y_len)
        p_neg, p_digits, valid = self.read_number(pred, pred_len)
        width = max(t_digits.shape[1], p_digits.shape[1])
        t = np.pad(t_digits, ((0, 0), (width - t_digits.shape[1], 0)))
        p = np.pad(p_digits, ((0, 0), (width - p_digits.shape[1], 0)))
        same = (t == p).all(axis=1)
        zero = ~t.any(axis=1)
        acc = valid & same & ((p_neg == t_neg) | zero)
        a, b, op = self.read_input(ex)
        _, _, count = self.answer(a, b, op)
        count = cap(count, self.cfg.max_class)
        classes = count if self.mode != "mix" else np.char.add(np.where(op == 1, "sub", "add"),
                                                               count.astype(str)).astype(object)
        return Verdict(acc=acc, correct=valid, classes=classes)

    @property
    def max_input_len(self) -> int:
        return (self.mode == "mix") + 1 + 2 * (1 + self.n)

    @property
    def max_output_len(self) -> int:
        return 2 + self.n if self.mode != "sub" else 1 + self.n
