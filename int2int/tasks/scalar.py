"""A scalar-friendly path to a new task: write one example at a time, in plain Python; the adapter vectorises the rest.

A :class:`ScalarTask` subclass defines :meth:`~ScalarTask.example` (a problem and its solution, as Python integers)
and the sizes of its numbers; tokenizing, decoding, verification (the answer equals the solution, or
:meth:`~ScalarTask.is_right`) and per-class counts come from the adapter. It costs speed: ``example`` runs once per
example in the Python interpreter, where a vectorised task draws a whole batch in a few numpy calls (the GCD task
written both ways generates 19-20x fewer examples per second this way: ``python -m int2int.tasks.bench_scalar``).
Vectorise once the task is settled.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..config import Config
from ..data.examples import Examples
from ..encodings import Number, NumberArray
from .base import Task, Verdict, cap


class ScalarTask(Task):
    """Subclasses set :attr:`input_size`, :attr:`max_input`, :attr:`max_output` and define :meth:`example`."""

    #: Integers in each problem (written as an array ``V<n> ...``); the solution is one integer.
    input_size: ClassVar[int] = 1
    #: Largest magnitude of a problem's integers, and of a solution (bounds the sequence lengths).
    max_input: ClassVar[int] = 10**6
    max_output: ClassVar[int] = 10**6

    def __init__(self, cfg: Config):
        super().__init__(cfg)
        self.input, self.output = NumberArray(self.input_enc, 1), Number(self.output_enc)
        self.build_vocab(self.input, self.output)

    def example(self, rng: np.random.Generator) -> tuple[list[int], int]:
        """One problem (``input_size`` integers) and its solution, drawn from ``rng``."""
        raise NotImplementedError

    def is_right(self, problem: list[int], solution: int, answer: int) -> bool:
        """Whether ``answer`` solves ``problem`` (default: it equals the generated solution)."""
        return answer == solution

    def class_of(self, problem: list[int], solution: int) -> Any:
        """The per-class key of an example (default: the solution, capped at ``task.max_class``)."""
        return solution

    def generate(self, rng: np.random.Generator, n: int) -> Examples:
        problems, solutions = zip(*(self.example(rng) for _ in range(n)))
        return Examples.of(self.input.encode(np.array(problems, dtype=np.int64)),
                           self.output.encode(np.array(solutions, dtype=np.int64)))

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        problems, _, _ = self.input.decode(ex.x, ex.x_len)
        target, _ = self.output.decode(ex.y, ex.y_len)
        value, valid = self.output.decode(pred, pred_len)
        rows = zip(problems.tolist(), target.tolist(), value.tolist(), valid.tolist())
        acc = np.array([ok and self.is_right(p, t, v) for p, t, v, ok in rows], dtype=bool)
        classes = [self.class_of(p, t) for p, t in zip(problems.tolist(), target.tolist())]
        keys = (cap(np.array(classes, dtype=np.int64), self.cfg.max_class) if all(isinstance(c, int) for c in classes)
                else np.array(classes, dtype=object))
        return Verdict(acc=acc, correct=valid, classes=keys, values=np.where(valid, value, 0))

    @property
    def max_input_len(self) -> int:
        return self.input.max_len((self.input_size,), self.max_input)

    @property
    def max_output_len(self) -> int:
        return self.output.max_len(self.max_output)
