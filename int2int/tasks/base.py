"""What a task is: a vectorised generator of tokenized examples and a verifier of model outputs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ..encodings import Vocabulary
from ..examples import Examples


@dataclass
class Verdict:
    """The verifier's judgement of each output: right answer, well-formed answer, and class key."""

    acc: np.ndarray  # bool: decodes to a right answer
    correct: np.ndarray  # bool: decodes to a well-formed answer
    classes: np.ndarray  # per-class key of the *target* (e.g. the true GCD), for per-class accuracy


class Task(ABC):
    """A problem: its vocabulary, a generator of examples and a verifier of model outputs."""

    #: What the per-class key is (logged and documented), e.g. "gcd" or "residue".
    class_key: str = "class"

    vocab: Vocabulary

    @abstractmethod
    def generate(self, rng: np.random.Generator, n: int) -> Examples:
        """``n`` random examples, drawn on the whole batch at once from ``rng``."""

    @abstractmethod
    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        """Judge predicted outputs ``pred`` (ids without ``<eos>``, padded) against the examples."""

    @property
    @abstractmethod
    def max_input_len(self) -> int:
        """Longest input the generator can produce, in tokens (without ``<eos>``)."""

    @property
    @abstractmethod
    def max_output_len(self) -> int:
        """Longest right answer, in tokens (without ``<eos>``): bounds greedy decoding."""

    def extra_eval_sets(self, rng: np.random.Generator, size: int) -> dict[str, Examples]:
        """Task-specific evaluation sets beside ``valid`` (e.g. the GCD paper's stratified set)."""
        return {}

    def set_metrics(self, name: str, classes: dict[str, list[int]]) -> dict[str, float | int]:
        """Task-specific metrics of eval set ``name`` from its per-class counts ``{class: [count, right]}``."""
        return {}

    def describe(self) -> str:
        return f"{type(self).__name__}(vocabulary {len(self.vocab)} tokens, input <= {self.max_input_len}, output <= {self.max_output_len})"
