"""Fraction tasks: ``fraction_add``, ``fraction_product``, ``fraction_simplify``, ``fraction_round``,
``fraction_compare`` and ``fraction_determinant``.

Integers are uniform in [``task.min_int``, ``task.max_int``]; a denominator (b, d) is uniform in the
same range without 0 (it can only be 0 when ``min_int <= 0``), so every input is a genuine fraction.
Inputs are arrays of positional integers; answers are one or two positional integers or a symbol:

- ``fraction_add``: ``V4 + a + b + c + d`` (a/b, c/d) -> a/b + c/d in lowest terms, ``+ num + den``,
  den > 0; class ``cancelled``: the gcd divided out of (a*d + b*c) / (b*d).
- ``fraction_product``: same input -> (a/b)(c/d) in lowest terms; class ``cancelled`` (of a*c / b*d).
- ``fraction_simplify``: ``V2 + k*a/g + k*b/g`` (g = gcd(a, b), k >= 2) -> a/b in lowest terms;
  class ``cancelled``: k, the gcd of the input pair.
- ``fraction_round``: ``V2 + k*m2 + m1 + m2`` (m2 = max(a, b), m1 = min(a, b), or m2 - 1 when they are
  equal) -> the floor, k when min_int >= 0; class ``quotient_digits``: digits of the answer.
- ``fraction_compare``: ``V4 + a + b + c + d`` -> the symbol ``1`` if a*d - b*c > 0 else ``0``; class
  ``outcome``: the answer.
- ``fraction_determinant``: ``V4 + a + b + c + d`` -> a*d - b*c, signed; class ``sign``: its sign.

Class keys that are counts or values are capped at ``task.max_class``. ``acc`` credits any output that
decodes to a right answer; for fraction_add/product an unreduced but equal fraction only with
``task.accept_unreduced``, and a zero or negative denominator never.
"""

from __future__ import annotations

import numpy as np

from ..config import ConfigError, FractionConfig
from ..encodings import PositionalInts, Vocabulary, digit_symbols, n_digits
from ..encodings.symbolic import SymbolicInts
from .base import Examples, Task, Verdict

#: Largest |integer| of a fraction task: products and sums of two products must fit in int64.
FRACTION_INT_LIMIT = 2**30
#: Rounds of redrawing rejected examples (fraction_round with min_int <= 0) before giving up.
MAX_ROUNDS = 100


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
    """Common parts: configuration checks, vocabulary, input encoding and decoding."""

    arity = 4  # integers in the input array

    def __init__(self, cfg: FractionConfig, base: int):
        self.cfg, self.base = cfg, base
        lo, hi = cfg.min_int, cfg.max_int
        if lo > hi:
            raise ConfigError(f"task.min_int={lo} must be <= task.max_int={hi}")
        self.M = max(abs(lo), abs(hi))
        if self.M > FRACTION_INT_LIMIT:
            raise ConfigError(f"task.min_int={lo}, task.max_int={hi}: {cfg.name} needs |integers| <= 2**30 "
                              "(products of two of them must fit in int64)")
        if lo == hi == 0:
            raise ConfigError(f"task.min_int=0, task.max_int=0: {cfg.name} needs a nonzero denominator in the range")
        self.vocab = Vocabulary(digit_symbols(base) + [f"V{self.arity}"])
        self.ints = PositionalInts(base, self.vocab)
        self.prefix = [self.vocab.id(f"V{self.arity}")]
        self.in_width = n_digits(self.max_input_int(), base)

    def max_input_int(self) -> int:
        return self.M

    def generate(self, rng: np.random.Generator, n: int) -> Examples:
        return self.build(*self.sample(rng, n))

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        raise NotImplementedError

    def build(self, *operands: np.ndarray) -> Examples:
        """Examples of given operands (arrays of equal length): what ``generate`` draws at random."""
        raise NotImplementedError

    def encode_input(self, values: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return self.ints.encode(np.stack([np.asarray(v, dtype=np.int64) for v in values], axis=1), self.in_width, self.prefix)

    def decode_input(self, ex: Examples) -> np.ndarray:
        """The input integers, n x arity (inputs are generated, hence well formed)."""
        values, _, _ = self.ints.decode(ex.x, ex.x_len, self.arity, start=1)
        return values

    @property
    def max_input_len(self) -> int:
        return 1 + self.arity * (1 + self.in_width)

    # -- verifiers shared by subclasses -----------------------------------------------------
    def verify_int(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(acc, correct, target)`` for a one-integer answer."""
        target, _, _ = self.ints.decode(ex.y, ex.y_len, 1)
        value, valid, overflow = self.ints.decode(pred, pred_len, 1)
        return valid & ~overflow & (value[:, 0] == target[:, 0]), valid, target[:, 0]

    def verify_fraction(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray,
                        accept_unreduced: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(acc, correct)`` for a fraction answer ``+ num + den``.

        ``correct``: two well-formed integers with a nonzero denominator. ``acc``: the target (lowest
        terms, den > 0) exactly, or, with ``accept_unreduced``, any equal fraction with den > 0.
        """
        target, _, _ = self.ints.decode(ex.y, ex.y_len, 2)
        value, valid, overflow = self.ints.decode(pred, pred_len, 2)
        pn, pd = value[:, 0], value[:, 1]
        correct = valid & (pd != 0)
        ok = correct & ~overflow & (pd > 0)
        if accept_unreduced:
            g = np.gcd(pn, pd)
            g = np.where(g == 0, 1, g)
            pn, pd = pn // g, pd // g
        return ok & (pn == target[:, 0]) & (pd == target[:, 1]), correct


class FourIntFractionTask(FractionTask):
    """Two fractions a/b and c/d in: ``V4 + a + b + c + d``."""

    arity = 4

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        lo, hi = self.cfg.min_int, self.cfg.max_int
        return (uniform(rng, lo, hi, n), uniform_nonzero(rng, lo, hi, n),
                uniform(rng, lo, hi, n), uniform_nonzero(rng, lo, hi, n))

    def build(self, a, b, c, d) -> Examples:
        a, b, c, d = (np.asarray(v, dtype=np.int64) for v in (a, b, c, d))
        x, x_len = self.encode_input([a, b, c, d])
        y, y_len = self.answer_tokens(a, b, c, d)
        return Examples(x, x_len, y, y_len)

    def answer_tokens(self, a, b, c, d) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class _ReducedFractionTask(FourIntFractionTask):
    """fraction_add / fraction_product: the answer in lowest terms; class = the gcd cancelled."""

    class_key = "cancelled"

    def unreduced(self, a, b, c, d) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def num_bound(self) -> int:
        raise NotImplementedError

    def answer_tokens(self, a, b, c, d):
        num, den, _ = reduce_fraction(*self.unreduced(a, b, c, d))
        return self.ints.encode(np.stack([num, den], axis=1), self.out_width)

    @property
    def out_width(self) -> int:
        return n_digits(max(self.num_bound(), self.M * self.M), self.base)

    @property
    def max_output_len(self) -> int:
        return 2 + n_digits(self.num_bound(), self.base) + n_digits(self.M * self.M, self.base)

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        acc, correct = self.verify_fraction(ex, pred, pred_len, self.cfg.accept_unreduced)
        _, _, g = reduce_fraction(*self.unreduced(*self.decode_input(ex).T))
        return Verdict(acc=acc, correct=correct, classes=np.minimum(g, self.cfg.max_class))


class FractionAddTask(_ReducedFractionTask):
    """a/b + c/d = (a*d + b*c) / (b*d), in lowest terms."""

    def unreduced(self, a, b, c, d):
        return a * d + b * c, b * d

    def num_bound(self) -> int:
        return 2 * self.M * self.M


class FractionProductTask(_ReducedFractionTask):
    """(a/b) * (c/d) = (a*c) / (b*d), in lowest terms."""

    def unreduced(self, a, b, c, d):
        return a * c, b * d

    def num_bound(self) -> int:
        return self.M * self.M


class FractionCompareTask(FourIntFractionTask):
    """``1`` if a*d - b*c > 0 else ``0`` (that is a/b > c/d when b*d > 0, always so if min_int >= 1).

    The answer is one symbolic token, the base digits ``0``/``1``; the class is the answer.
    """

    class_key = "outcome"

    def __init__(self, cfg: FractionConfig, base: int):
        super().__init__(cfg, base)
        self.sym = SymbolicInts(self.vocab, [0, 1])

    def answer_tokens(self, a, b, c, d):
        return self.sym.encode((a * d - b * c > 0).astype(np.int64))

    @property
    def max_output_len(self) -> int:
        return 1

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        target, _ = self.sym.decode(ex.y, ex.y_len)
        value, valid = self.sym.decode(pred, pred_len)
        return Verdict(acc=valid & (value == target), correct=valid, classes=target)


class FractionDeterminantTask(FourIntFractionTask):
    """a*d - b*c as a signed positional integer; the class is its sign (-1, 0, 1)."""

    class_key = "sign"

    def answer_tokens(self, a, b, c, d):
        return self.ints.encode(a * d - b * c, self.out_width)

    @property
    def out_width(self) -> int:
        return n_digits(2 * self.M * self.M, self.base)

    @property
    def max_output_len(self) -> int:
        return 1 + self.out_width

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        acc, correct, target = self.verify_int(ex, pred, pred_len)
        return Verdict(acc=acc, correct=correct, classes=np.sign(target))


class FractionSimplifyTask(FractionTask):
    """a/b written as (k*a/g) / (k*b/g), g = gcd(a, b), k >= 2; the answer is a/b in lowest terms.

    k is uniform in [min_int, max_int] and, when below 2, redrawn uniform in [2, max(2, max_int)] (the
    original redraws k = 1 so; negative and zero k only arise with min_int <= 0). The class is k
    (the factor to cancel, the gcd of the input pair), capped at ``task.max_class``.
    """

    arity = 2
    class_key = "cancelled"

    def max_input_int(self) -> int:
        return max(2, self.cfg.max_int) * self.M

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        lo, hi = self.cfg.min_int, self.cfg.max_int
        k = uniform(rng, lo, hi, n)
        k = np.where(k < 2, uniform(rng, 2, max(2, hi), n), k)
        return k, uniform(rng, lo, hi, n), uniform_nonzero(rng, lo, hi, n)

    def build(self, k, a, b) -> Examples:
        k, a, b = (np.asarray(v, dtype=np.int64) for v in (k, a, b))
        g = np.gcd(a, b)
        x, x_len = self.encode_input([k * (a // g), k * (b // g)])
        num, den, _ = reduce_fraction(a, b)
        y, y_len = self.ints.encode(np.stack([num, den], axis=1), self.out_width)
        return Examples(x, x_len, y, y_len)

    @property
    def out_width(self) -> int:
        return n_digits(self.M, self.base)

    @property
    def max_output_len(self) -> int:
        return 2 + 2 * self.out_width

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        acc, correct = self.verify_fraction(ex, pred, pred_len, accept_unreduced=False)
        x = self.decode_input(ex)
        return Verdict(acc=acc, correct=correct, classes=np.minimum(np.gcd(x[:, 0], x[:, 1]), self.cfg.max_class))


class FractionRoundTask(FractionTask):
    """``V2 + k*m2 + m1 + m2`` -> floor of the fraction, one positional integer.

    k, a, b uniform in [min_int, max_int]; m2 = max(a, b), m1 = min(a, b), or m2 - 1 if a == b. With
    min_int >= 0 the answer is k (0 <= m1 < m2); otherwise it is the true floor, which may differ from
    k. Draws with m2 = 0 (possible only when min_int <= 0) are redrawn. The class is the number of
    base-B digits of the answer.
    """

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
                break
            a[todo], b[todo] = uniform(rng, lo, hi, todo.size), uniform(rng, lo, hi, todo.size)
            todo = todo[np.maximum(a[todo], b[todo]) == 0]
        if todo.size:
            raise ConfigError(f"task.min_int={lo}, task.max_int={hi}: {self.cfg.name} could not draw "
                              f"max(a, b) != 0 in {MAX_ROUNDS} rounds")
        return k, a, b

    def build(self, k, a, b) -> Examples:
        k, a, b = (np.asarray(v, dtype=np.int64) for v in (k, a, b))
        m2, m1 = np.maximum(a, b), np.minimum(a, b)
        m1 = np.where(m1 == m2, m2 - 1, m1)
        if np.any(m2 == 0):
            raise ValueError("fraction_round: max(a, b) must not be 0")
        num = k * m2 + m1
        x, x_len = self.encode_input([num, m2])
        y, y_len = self.ints.encode(np.floor_divide(num, m2), self.out_width)
        return Examples(x, x_len, y, y_len)

    @property
    def out_width(self) -> int:
        return n_digits(self.M if self.cfg.min_int >= 0 else 2 * self.M + 2, self.base)

    @property
    def max_output_len(self) -> int:
        return 1 + self.out_width

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        acc, correct, target = self.verify_int(ex, pred, pred_len)
        return Verdict(acc=acc, correct=correct, classes=np.minimum(count_digits(target, self.base), self.cfg.max_class))


FRACTION_TASKS: dict[str, type[FractionTask]] = {
    "fraction_add": FractionAddTask,
    "fraction_product": FractionProductTask,
    "fraction_simplify": FractionSimplifyTask,
    "fraction_round": FractionRoundTask,
    "fraction_compare": FractionCompareTask,
    "fraction_determinant": FractionDeterminantTask,
}
