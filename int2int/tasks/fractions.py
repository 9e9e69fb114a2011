"""Fraction tasks: ``fraction_add``, ``fraction_product``, ``fraction_simplify``, ``fraction_round``,
``fraction_compare`` and ``fraction_determinant`` (the original's, in its formats).

Integers are uniform in [``task.min_int``, ``task.max_int``]; a denominator (b, d) is uniform in the same
range without 0 (it can only be 0 when ``min_int <= 0``), so every input is a genuine fraction.

- ``fraction_add``: ``V4 + a + b + c + d`` (a/b, c/d) -> a/b + c/d in lowest terms as the 2-element array
  ``V2 + num + den``, den > 0; class ``cancelled``: the gcd divided out of (a*d + b*c) / (b*d).
- ``fraction_product``: same input -> (a/b)(c/d) in lowest terms, ``V2 + num + den``; class ``cancelled``.
- ``fraction_simplify``: ``V2 + k*a/g + k*b/g`` (g = gcd(a, b), k >= 2) -> ``V2 + a/g + b/g``; class
  ``cancelled``: k, the gcd of the input pair.
- ``fraction_round``: ``V2 + k*m2 + m1 + m2`` (m2 = max(a, b), m1 = min(a, b), or m2 - 1 when they are
  equal) -> the floor, one integer (k when min_int >= 0); class ``quotient_digits``: digits of the answer.
- ``fraction_compare``: ``V4 + a + b + c + d`` -> the symbol ``1`` if a*d - b*c > 0 else ``0``; class
  ``outcome``: the answer.
- ``fraction_determinant``: ``V4 + a + b + c + d`` -> a*d - b*c, one signed integer; class ``sign``.

Class keys that are counts or values are capped at ``task.max_class``. ``acc`` credits any output that
decodes to a right answer; for fraction_add/product an unreduced but equal fraction only with
``task.accept_unreduced`` (the extra metric ``unreduced`` counts those answers either way), and a zero or
negative denominator never.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Config, ConfigError, opt
from ..data.examples import Examples
from ..encodings import Number, NumberArray, SymbolicInts
from .base import TASKS, Task, TaskConfig, Verdict, cap

#: Largest |integer| of a fraction task: products and sums of two products must fit in int64.
FRACTION_INT_LIMIT = 2**30
#: Rounds of redrawing rejected examples (fraction_round with min_int <= 0) before giving up.
MAX_ROUNDS = 100


@dataclass
class FractionConfig(TaskConfig):
    name: str = opt("fraction_add", "fraction_add, fraction_product, fraction_simplify, fraction_round, "
                    "fraction_compare or fraction_determinant; integers uniform in [min_int, max_int].")
    min_int: int = opt(1, "Smallest integer of the fractions (the original's --minint).")
    max_int: int = opt(1000, "Largest integer of the fractions (the original's --maxint, whose default is 1000000).")
    accept_unreduced: bool = opt(False, "fraction_add/fraction_product: credit an unreduced but equal fraction as "
                                 "right.")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        self.require(self.min_int <= self.max_int, "min_int", f"must be <= task.max_int ({self.max_int})")
        self.require(max(abs(self.min_int), abs(self.max_int)) <= FRACTION_INT_LIMIT, "max_int",
                     f"{self.name} needs |integers| <= 2**30 (products of two of them must fit in int64)")
        self.require(not (self.min_int == self.max_int == 0), "max_int", "the range needs a nonzero denominator")


def uniform(rng: np.random.Generator, lo: int, hi: int, n: int) -> np.ndarray:
    return rng.integers(lo, hi, size=n, endpoint=True, dtype=np.int64)


def uniform_nonzero(rng: np.random.Generator, lo: int, hi: int, n: int) -> np.ndarray:
    """Uniform in [lo, hi] without 0 (the range must hold a nonzero integer)."""
    if lo <= 0 <= hi:
        u = rng.integers(lo, hi - 1, size=n, endpoint=True, dtype=np.int64)
        return u + (u >= 0)
    return uniform(rng, lo, hi, n)


def reduce_fraction(num: np.ndarray, den: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lowest terms with a positive denominator (den != 0): ``(num, den, g)``, g the gcd divided out."""
    s = np.where(den < 0, -1, 1)
    num, den = num * s, den * s
    g = np.gcd(num, den)
    return num // g, den // g, g


def count_digits(values: np.ndarray, base: int) -> np.ndarray:
    """Number of base-``base`` digits of |values| (1 for 0)."""
    v = np.abs(np.asarray(values, dtype=np.int64)) // base
    d = np.ones(v.shape, dtype=np.int64)
    while v.any():
        d += v > 0
        v //= base
    return d


class FractionTask(Task):
    """Common parts: input array of ``arity`` integers, sampling, fraction verification."""

    arity = 4  # integers in the input array

    def __init__(self, cfg: Config):
        super().__init__(cfg)
        self.M = max(abs(self.cfg.min_int), abs(self.cfg.max_int))
        self.input = NumberArray(self.input_enc, 1)
        self.output = self.make_output()
        self.build_vocab(self.input, self.output)

    def make_output(self):
        return Number(self.output_enc)

    def max_input_int(self) -> int:
        return self.M

    def generate(self, rng: np.random.Generator, n: int) -> Examples:
        return self.build(*self.sample(rng, n))

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        lo, hi = self.cfg.min_int, self.cfg.max_int
        return (uniform(rng, lo, hi, n), uniform_nonzero(rng, lo, hi, n),
                uniform(rng, lo, hi, n), uniform_nonzero(rng, lo, hi, n))

    def build(self, *operands: np.ndarray) -> Examples:
        """Examples of given operands (arrays of equal length): what ``generate`` draws at random."""
        ops = [np.asarray(v, dtype=np.int64) for v in operands]
        inputs, answers = self.problem(*ops)
        return Examples.of(self.input.encode(np.stack(inputs, axis=1)), self.output.encode(answers))

    def problem(self, *operands: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """The input integers and the answer of given operands."""
        raise NotImplementedError

    def solved(self, ex: Examples) -> Examples:
        x = self.decode_input(ex)
        return self.build(*x.T) if self.arity == 4 else self.from_input(x[:, 0], x[:, 1])

    def from_input(self, p: np.ndarray, q: np.ndarray) -> Examples:
        """Examples of given input pairs (the two-integer tasks: their operands are not the input)."""
        raise NotImplementedError

    def decode_input(self, ex: Examples) -> np.ndarray:
        """The input integers, n x arity (inputs are generated or checked files, hence well formed)."""
        values, _, _ = self.input.decode(ex.x, ex.x_len)
        return values[:, : self.arity]

    def verify_fraction(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray,
                        accept_unreduced: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(acc, correct, unreduced)`` of a fraction answer ``V2 + num + den``.

        ``correct``: a 2-element array with a nonzero denominator. ``acc``: the target (lowest terms,
        den > 0) exactly, or, with ``accept_unreduced``, any equal fraction with den > 0. ``unreduced``:
        an equal fraction with den > 0 that is not in lowest terms."""
        target, _, _ = self.output.decode(ex.y, ex.y_len)
        value, shape, valid = self.output.decode(pred, pred_len)
        valid &= shape[:, 0] == 2
        pn, pd = value[:, 0], value[:, 1] if value.shape[1] > 1 else np.zeros(len(value), dtype=np.int64)
        correct = valid & (pd != 0)
        ok = correct & (pd > 0)
        g = np.gcd(pn, pd)
        g = np.where(g == 0, 1, g)
        equal = ok & (pn // g == target[:, 0]) & (pd // g == target[:, 1])
        exact = ok & (pn == target[:, 0]) & (pd == target[:, 1])
        return (equal if accept_unreduced else exact), correct, equal & ~exact

    def verify_int(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(acc, correct, target, value)`` for a one-integer answer."""
        target, _ = self.output.decode(ex.y, ex.y_len)
        value, valid = self.output.decode(pred, pred_len)
        return valid & (value == target), valid, target, np.where(valid, value, 0)

    @property
    def max_input_len(self) -> int:
        return self.input.max_len((self.arity,), self.max_input_int())


@TASKS.register("fraction_add", "fraction_product", config=FractionConfig)
class ReducedFractionTask(FractionTask):
    """fraction_add / fraction_product: the answer in lowest terms as ``V2 + num + den``; class: the gcd cancelled."""

    class_key = "cancelled"
    extra_metrics = ("unreduced",)

    def make_output(self):
        return NumberArray(self.output_enc, 1)

    def unreduced(self, a, b, c, d) -> tuple[np.ndarray, np.ndarray]:
        if self.cfg.name == "fraction_add":
            return a * d + b * c, b * d
        return a * c, b * d

    def problem(self, a, b, c, d):
        num, den, _ = reduce_fraction(*self.unreduced(a, b, c, d))
        return [a, b, c, d], np.stack([num, den], axis=1)

    @property
    def max_output_len(self) -> int:
        num_bound = (2 if self.cfg.name == "fraction_add" else 1) * self.M * self.M
        return 1 + self.output.enc.max_len(num_bound) + self.output.enc.max_len(self.M * self.M)

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        acc, correct, unreduced = self.verify_fraction(ex, pred, pred_len, self.cfg.accept_unreduced)
        _, _, g = reduce_fraction(*self.unreduced(*self.decode_input(ex).T))
        return Verdict(acc=acc, correct=correct, classes=cap(g, self.cfg.max_class), extra={"unreduced": unreduced})


@TASKS.register("fraction_compare", config=FractionConfig)
class FractionCompareTask(FractionTask):
    """``1`` if a*d - b*c > 0 else ``0`` (that is a/b > c/d when b*d > 0, always so if min_int >= 1)."""

    class_key = "outcome"

    def make_output(self):
        return Number(SymbolicInts(values=[0, 1]))

    def problem(self, a, b, c, d):
        return [a, b, c, d], (a * d - b * c > 0).astype(np.int64)

    @property
    def max_output_len(self) -> int:
        return 1

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        acc, correct, target, value = self.verify_int(ex, pred, pred_len)
        return Verdict(acc=acc, correct=correct, classes=target, values=value)


@TASKS.register("fraction_determinant", config=FractionConfig)
class FractionDeterminantTask(FractionTask):
    """a*d - b*c as a signed integer; the class is its sign (-1, 0, 1)."""

    class_key = "sign"

    def problem(self, a, b, c, d):
        return [a, b, c, d], a * d - b * c

    @property
    def max_output_len(self) -> int:
        return self.output.max_len(2 * self.M * self.M)

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        acc, correct, target, value = self.verify_int(ex, pred, pred_len)
        return Verdict(acc=acc, correct=correct, classes=np.sign(target), values=value)


@TASKS.register("fraction_simplify", config=FractionConfig)
class FractionSimplifyTask(FractionTask):
    """a/b written as (k*a/g) / (k*b/g), g = gcd(a, b), k >= 2; the answer is ``V2 + a/g + b/g``.

    k is uniform in [min_int, max_int] and, when below 2, redrawn uniform in [2, max(2, max_int)] (the
    original redraws k = 1 so; negative and zero k only arise with min_int <= 0). The class is k (the
    factor to cancel, the gcd of the input pair), capped at ``task.max_class``."""

    arity = 2
    class_key = "cancelled"

    def make_output(self):
        return NumberArray(self.output_enc, 1)

    def max_input_int(self) -> int:
        return max(2, self.cfg.max_int) * self.M

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        lo, hi = self.cfg.min_int, self.cfg.max_int
        k = uniform(rng, lo, hi, n)
        k = np.where(k < 2, uniform(rng, 2, max(2, hi), n), k)
        return k, uniform(rng, lo, hi, n), uniform_nonzero(rng, lo, hi, n)

    def problem(self, k, a, b):
        g = np.gcd(a, b)
        num, den, _ = reduce_fraction(a, b)
        return [k * (a // g), k * (b // g)], np.stack([num, den], axis=1)

    def from_input(self, p, q):
        num, den, _ = reduce_fraction(p, q)
        return Examples.of(self.input.encode(np.stack([p, q], axis=1)), self.output.encode(np.stack([num, den], 1)))

    @property
    def max_output_len(self) -> int:
        return self.output.max_len((2,), self.M)

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        acc, correct, _ = self.verify_fraction(ex, pred, pred_len, accept_unreduced=False)
        x = self.decode_input(ex)
        return Verdict(acc=acc, correct=correct, classes=cap(np.gcd(x[:, 0], x[:, 1]), self.cfg.max_class))


@TASKS.register("fraction_round", config=FractionConfig)
class FractionRoundTask(FractionTask):
    """``V2 + k*m2 + m1 + m2`` -> floor of the fraction, one integer.

    k, a, b uniform in [min_int, max_int]; m2 = max(a, b), m1 = min(a, b), or m2 - 1 if a == b. With
    min_int >= 0 the answer is k (0 <= m1 < m2); otherwise it is the true floor, which may differ from k.
    Draws with m2 = 0 (possible only when min_int <= 0) are redrawn. The class is the number of base-B
    digits of the answer (of decimal digits with a non-positional encoding)."""

    arity = 2
    class_key = "quotient_digits"

    def max_input_int(self) -> int:
        return self.M * self.M + self.M + 1

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        lo, hi = self.cfg.min_int, self.cfg.max_int
        k, a, b = uniform(rng, lo, hi, n), uniform(rng, lo, hi, n), uniform(rng, lo, hi, n)
        todo = np.nonzero(np.maximum(a, b) == 0)[0]  # m2 = 0: no fraction; only when min_int <= 0
        for _ in range(MAX_ROUNDS):
            if todo.size == 0:
                return k, a, b
            a[todo], b[todo] = uniform(rng, lo, hi, todo.size), uniform(rng, lo, hi, todo.size)
            todo = todo[np.maximum(a[todo], b[todo]) == 0]
        raise ConfigError(f"task.min_int={lo}, task.max_int={hi}: {self.cfg.name} could not draw "
                          f"max(a, b) != 0 in {MAX_ROUNDS} rounds")

    def problem(self, k, a, b):
        m2, m1 = np.maximum(a, b), np.minimum(a, b)
        m1 = np.where(m1 == m2, m2 - 1, m1)
        if np.any(m2 == 0):
            raise ValueError("fraction_round: max(a, b) must not be 0")
        num = k * m2 + m1
        return [num, m2], np.floor_divide(num, m2)

    def from_input(self, num, den):
        return Examples.of(self.input.encode(np.stack([num, den], axis=1)),
                           self.output.encode(np.floor_divide(num, den)))

    @property
    def max_output_len(self) -> int:
        return self.output.max_len(self.M if self.cfg.min_int >= 0 else 2 * self.M + 2)

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        acc, correct, target, value = self.verify_int(ex, pred, pred_len)
        base = getattr(self.output_enc, "base", 10)
        return Verdict(acc=acc, correct=correct, classes=cap(count_digits(target, base), self.cfg.max_class),
                       values=value)
