"""Tasks on two integer operands (``gcd``, ``modular_add``, ``modular_mul``): shared options and sampling.

The input is the pair as an array, ``V2 + a + b``; the output one integer. Operands are uniform in
[``task.min_int``, ``task.max_int``], or log-uniform there with ``task.operands=loguniform`` (training only:
generated evaluation sets keep uniform operands, so accuracies stay comparable with the papers').
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from ..config import Config, opt
from ..data.examples import Examples
from ..encodings import Number, NumberArray
from .base import Task, TaskConfig, Verdict, cap

#: Operands must stay far from the int64 limit (products of the modular tasks are reduced first).
INT_LIMIT = 2**62
#: Largest domain (pairs) that held-out evaluation enumerates instead of sampling.
MAX_DOMAIN = 2**24


class Distribution(str, Enum):
    uniform = "uniform"
    loguniform = "loguniform"


@dataclass
class IntPairConfig(TaskConfig):
    min_int: int = opt(1, "Smallest operand (the original's --minint).")
    max_int: int = opt(1_000_000, "Largest operand (the original's --maxint).")
    operands: Distribution = opt(Distribution.uniform, "Training operands: uniform or loguniform in [min_int, max_int] "
                                 "(log-uniform: log(a) uniform; the GCD paper's log-uniform operands).",
                                 train_only=True)

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        self.require(self.min_int <= self.max_int, "min_int", f"must be <= task.max_int ({self.max_int})")
        self.require(max(abs(self.min_int), abs(self.max_int)) < INT_LIMIT, "max_int", "must be < 2**62")
        self.require(self.operands == Distribution.uniform or self.min_int >= 1, "operands",
                     "loguniform needs task.min_int >= 1")


def draw(rng: np.random.Generator, lo: np.ndarray | int, hi: np.ndarray | int, n: int,
         dist: Distribution = Distribution.uniform) -> np.ndarray:
    """``n`` integers in [lo, hi] (scalars or arrays), uniform or log-uniform (lo >= 1 for log-uniform)."""
    lo, hi = np.broadcast_to(lo, (n,)).astype(np.int64), np.broadcast_to(hi, (n,)).astype(np.int64)
    if dist == Distribution.uniform:
        return rng.integers(lo, hi, endpoint=True, dtype=np.int64)
    u = rng.uniform(np.log(lo), np.log(hi + 1.0))
    return np.clip(np.floor(np.exp(u)).astype(np.int64), lo, hi)


class IntPairTask(Task):
    """Two operands in, one integer out; subclasses say what the integer is."""

    def __init__(self, cfg: Config):
        super().__init__(cfg)
        self.input, self.output = NumberArray(self.input_enc, 1), Number(self.output_enc)
        self.build_vocab(self.input, self.output)

    @property
    def max_operand(self) -> int:
        return max(abs(self.cfg.min_int), abs(self.cfg.max_int))

    @property
    def max_answer(self) -> int:
        return self.max_operand

    def answer(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        c = self.cfg
        return draw(rng, c.min_int, c.max_int, n, c.operands), draw(rng, c.min_int, c.max_int, n, c.operands)

    def build(self, a: np.ndarray, b: np.ndarray, answer: np.ndarray | None = None) -> Examples:
        """Examples of given operands (and answers, computed when not given)."""
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        answer = self.answer(a, b) if answer is None else answer
        return Examples.of(self.input.encode(np.stack([a, b], axis=1)), self.output.encode(answer))

    def generate(self, rng: np.random.Generator, n: int) -> Examples:
        return self.build(*self.sample(rng, n))

    def solved(self, ex: Examples) -> Examples:
        values, _, _ = self.input.decode(ex.x, ex.x_len)
        return self.build(values[:, 0], values[:, 1])

    def classes_of(self, target: np.ndarray) -> np.ndarray:
        return cap(np.abs(target), self.cfg.max_class)

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        target, _ = self.output.decode(ex.y, ex.y_len)
        value, valid = self.output.decode(pred, pred_len)
        return Verdict(acc=valid & (value == target), correct=valid, classes=self.classes_of(target),
                       values=np.where(valid, value, 0))

    def domain_size(self) -> int | None:
        span = self.cfg.max_int - self.cfg.min_int + 1
        return span * span if span * span <= MAX_DOMAIN else None

    def enumerate(self, index: np.ndarray) -> Examples:
        span = self.cfg.max_int - self.cfg.min_int + 1
        index = np.asarray(index, dtype=np.int64)
        return self.build(self.cfg.min_int + index // span, self.cfg.min_int + index % span)

    @property
    def max_input_len(self) -> int:
        return self.input.max_len((2,), self.max_operand)

    @property
    def max_output_len(self) -> int:
        return self.output.max_len(self.max_answer)
