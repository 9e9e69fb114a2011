"""What a task is: a vectorised generator of tokenized examples and a verifier of model outputs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ..encodings import PAD, Vocabulary


@dataclass
class Examples:
    """A batch of tokenized examples: padded id matrices and their lengths (no ``<eos>``)."""

    x: np.ndarray
    x_len: np.ndarray
    y: np.ndarray
    y_len: np.ndarray

    def __len__(self) -> int:
        return len(self.x_len)

    def take(self, index: np.ndarray | slice) -> Examples:
        """A subset of the rows, trimmed to its own longest sequences."""
        x_len, y_len = self.x_len[index], self.y_len[index]
        lx, ly = max(int(x_len.max(initial=1)), 1), max(int(y_len.max(initial=1)), 1)
        return Examples(self.x[index][:, :lx], x_len, self.y[index][:, :ly], y_len)

    @staticmethod
    def concat(parts: list[Examples]) -> Examples:
        def cat(mats: list[np.ndarray]) -> np.ndarray:
            width = max(m.shape[1] for m in mats)
            return np.concatenate([np.pad(m, ((0, 0), (0, width - m.shape[1])), constant_values=PAD) for m in mats])

        return Examples(
            cat([p.x for p in parts]), np.concatenate([p.x_len for p in parts]),
            cat([p.y for p in parts]), np.concatenate([p.y_len for p in parts]),
        )


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

    def describe(self) -> str:
        return f"{type(self).__name__}(vocabulary {len(self.vocab)} tokens, input <= {self.max_input_len}, output <= {self.max_output_len})"
