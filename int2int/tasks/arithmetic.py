"""Tasks on pairs of integers: ``gcd``, ``modular_add`` and ``modular_mul``.

Operands a, b are uniform in [min_int, max_int]. The input is the pair as an array, ``V2 + a + b``;
the output is one positional integer. An output is right (``acc``) when it decodes to the right
value, so ``+ 0 8`` counts for 8 although it is not a perfect token match.
"""

from __future__ import annotations

import numpy as np

from ..config import IntPairTaskConfig, ModularConfig
from ..encodings import PositionalInts, Vocabulary, digit_symbols, n_digits
from .base import Examples, Task, Verdict


class IntPairTask(Task):
    """Two operands in, one integer out; subclasses say what the integer is."""

    def __init__(self, cfg: IntPairTaskConfig, base: int):
        self.cfg = cfg
        self.vocab = Vocabulary(digit_symbols(base) + ["V2"])
        self.ints = PositionalInts(base, self.vocab)
        self.in_width = n_digits(max(abs(cfg.min_int), abs(cfg.max_int)), base)
        self.out_width = n_digits(self.max_answer, base)
        self.prefix = [self.vocab.id("V2")]

    @property
    def max_answer(self) -> int:
        return max(abs(self.cfg.min_int), abs(self.cfg.max_int))

    def answer(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        a = rng.integers(self.cfg.min_int, self.cfg.max_int, size=n, endpoint=True, dtype=np.int64)
        b = rng.integers(self.cfg.min_int, self.cfg.max_int, size=n, endpoint=True, dtype=np.int64)
        return a, b

    def generate(self, rng: np.random.Generator, n: int) -> Examples:
        a, b = self.sample(rng, n)
        x, x_len = self.ints.encode(np.stack([a, b], axis=1), self.in_width, self.prefix)
        y, y_len = self.ints.encode(self.answer(a, b), self.out_width)
        return Examples(x, x_len, y, y_len)

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        target, _, _ = self.ints.decode(ex.y, ex.y_len, 1)
        value, valid, overflow = self.ints.decode(pred, pred_len, 1)
        acc = valid & ~overflow & (value[:, 0] == target[:, 0])
        return Verdict(acc=acc, correct=valid, classes=np.minimum(np.abs(target[:, 0]), self.cfg.max_class))

    @property
    def max_input_len(self) -> int:
        return 1 + 2 * (1 + self.in_width)

    @property
    def max_output_len(self) -> int:
        return 1 + self.out_width


class GcdTask(IntPairTask):
    """gcd(a, b); the per-class key is the GCD, capped at ``task.max_class``.

    With ``task.stratified_eval`` a ``strat`` eval set has its GCD uniform in 1..100 (operands
    g*a', g*b' with a', b' coprime, uniform up to max_int // g), and ``strat_gcd_learned`` counts the
    GCD in 1..100 whose accuracy reaches ``task.learned_threshold``.
    """

    class_key = "gcd"

    def answer(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.gcd(a, b)

    def stratified(self, rng: np.random.Generator, n: int) -> Examples:
        g = rng.integers(1, 100, size=n, endpoint=True)
        a, b = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        todo = np.arange(n)
        lo = np.maximum(1, -(-self.cfg.min_int // g))  # ceil(min_int / g), at least 1
        for _ in range(1000):  # coprime pairs have probability 6/pi^2: a few rounds suffice
            hi = self.cfg.max_int // g[todo]
            a[todo] = rng.integers(lo[todo], hi, endpoint=True)
            b[todo] = rng.integers(lo[todo], hi, endpoint=True)
            todo = todo[np.gcd(a[todo], b[todo]) != 1]
            if len(todo) == 0:
                break
        else:
            raise ValueError("task.stratified_eval: cannot draw coprime operands (raise task.max_int)")
        x, x_len = self.ints.encode(np.stack([g * a, g * b], axis=1), self.in_width, self.prefix)
        y, y_len = self.ints.encode(g, self.out_width)
        return Examples(x, x_len, y, y_len)

    def extra_eval_sets(self, rng: np.random.Generator, size: int) -> dict[str, Examples]:
        return {"strat": self.stratified(rng, size)} if self.cfg.stratified_eval else {}

    def set_metrics(self, name: str, classes: dict[str, list[int]]) -> dict[str, float | int]:
        if name != "strat":
            return {}
        learned = sum(1 for k in range(1, 101) if str(k) in classes
                      and classes[str(k)][1] >= self.cfg.learned_threshold * classes[str(k)][0])
        return {f"{name}_gcd_learned": learned}


class ModularTask(IntPairTask):
    """(a + b) or (a * b) mod ``task.modulus``, in [0, modulus); the per-class key is the residue."""

    class_key = "residue"

    def __init__(self, cfg: ModularConfig, base: int):
        self.op = {"modular_add": "add", "modular_mul": "mul"}[cfg.name]
        super().__init__(cfg, base)

    @property
    def max_answer(self) -> int:
        return self.cfg.modulus - 1

    def answer(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        m = self.cfg.modulus
        if self.op == "add":
            return (a % m + b % m) % m
        # (a mod m) * (b mod m) < 2**63 while m < 2**31; beyond that, multiply exactly in Python ints.
        if m < 2**31:
            return (a % m) * (b % m) % m
        return np.array([(int(x) * int(y)) % m for x, y in zip(a, b)], dtype=np.int64)
