"""``task=file``: learn from data files alone, with outputs of any kind.

The vocabulary is built from the files (``data.train_path`` and ``data.eval_paths``). An output is right
(``acc``) when its tokens equal the target's. It is well formed (``correct``) when it has the shape of the
file's outputs: as many positional integers (``+``/``-`` then digit tokens, read in ``encoding.base``) when
the first 1,000 outputs of the first evaluation file are such (decided once, for every set), else only tokens
that appear in outputs. The per-class key is the target's value when it is one integer (positional, or a single
numeric token like an elliptic curve's rank ``2``, capped at ``task.max_class``), else the target's tokens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..config import Config, Mode, opt
from ..data.examples import Examples
from ..data.files import load_file, scan_file
from ..encodings import PAD, PositionalInts, Vocabulary
from .base import TASKS, Task, TaskConfig, Verdict, cap

log = logging.getLogger(__name__)


@dataclass
class FileTaskConfig(TaskConfig):
    name: str = opt("file", "Learn from data files alone: the vocabulary is built from data.train_path and "
                    "data.eval_paths.")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        cfg.data.require(bool(cfg.data.train_path) or cfg.mode == Mode.eval, "train_path",
                         "task=file needs a training file")
        cfg.data.require(bool(cfg.data.eval_paths), "eval_paths", "task=file needs at least one evaluation file")
        self.require(cfg.mode != Mode.export, "name", "mode=export needs a generator task, not file")


def file_order(tokens: set[str]) -> list[str]:
    """A stable vocabulary order: signs, then integer tokens by value, then the rest alphabetically."""
    def key(t: str):
        if t in ("+", "-"):
            return (0, "+-".index(t), "")
        if t.lstrip("-").isdigit():
            return (1, int(t), "")
        return (2, 0, t)

    return sorted(tokens, key=key)


@TASKS.register("file", config=FileTaskConfig)
class FileTask(Task):
    """A task known only through its data files."""

    class_key = "output"

    def __init__(self, cfg: Config):
        self.config, self.cfg = cfg, cfg.task
        paths = [p for p in [cfg.data.train_path, *cfg.data.eval_paths] if p]
        scans = []
        for p in paths:
            scans.append(scan_file(p))
            log.info("%s: %d lines", p, scans[-1].lines)
        x_tokens = set().union(*(s.x_tokens for s in scans))
        y_tokens = set().union(*(s.y_tokens for s in scans))
        self.vocab = Vocabulary(file_order((x_tokens | y_tokens) - set(Vocabulary([]).itos)))
        self.output_tokens = np.zeros(len(self.vocab), dtype=bool)
        self.output_tokens[self.vocab.ids(sorted(y_tokens))] = True
        self._max_x = max(s.max_x for s in scans)
        self._max_y = max(s.max_y for s in scans)
        base = getattr(cfg.encoding, "base", 10)
        self.ints = None
        if "+" in self.vocab and all(str(d) in self.vocab for d in range(base)):
            try:
                self.ints = PositionalInts(cfg.encoding).bind(self.vocab)
            except (KeyError, ValueError, AttributeError):
                self.ints = None
        self.symbolic_numbers = all(t.lstrip("-").isdigit() for t in y_tokens)
        self.token_ints = np.array([int(t) if t.lstrip("-").isdigit() else 0 for t in self.vocab.itos])
        self.int_count = self.ints_per_output(load_file(cfg.data.eval_paths[0], self.vocab, cfg.data.max_len,
                                                        limit=1000)) if cfg.data.eval_paths else None

    def generate(self, rng: np.random.Generator, n: int) -> Examples:
        raise RuntimeError("task=file cannot generate examples: it learns from data.train_path")

    def ints_per_output(self, sample: Examples) -> int | None:
        """How many positional integers (1 to 3) every output of ``sample`` holds, or None when they are not."""
        if self.ints is None or not len(sample):
            return None
        for count in (1, 2, 3):
            if self.ints.decode(sample.y, sample.y_len, count)[1].all():
                return count
        return None

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        width = max(pred.shape[1], ex.y.shape[1])
        p = np.pad(pred, ((0, 0), (0, width - pred.shape[1])), constant_values=PAD)
        y = np.pad(ex.y, ((0, 0), (0, width - ex.y.shape[1])), constant_values=PAD)
        acc = (pred_len == ex.y_len) & (p == y).all(axis=1)
        if self.int_count:
            correct = self.ints.decode(pred, pred_len, self.int_count)[1]
        else:
            inside = self.output_tokens[p] | (np.arange(width)[None, :] >= pred_len[:, None])
            correct = inside.all(axis=1) & (pred_len > 0)
        return Verdict(acc=acc, correct=correct, classes=self.classes(ex))

    def classes(self, ex: Examples) -> np.ndarray:
        """The target's integer (capped) where it is one, else its tokens."""
        keys = np.array(self.vocab.lines(ex.y, ex.y_len), dtype=object)
        if self.int_count == 1:
            values, valid = self.ints.decode(ex.y, ex.y_len, 1)
            keys[valid] = cap(values[valid, 0], self.cfg.max_class)
        elif self.symbolic_numbers:
            one = ex.y_len == 1
            keys[one] = cap(self.token_ints[ex.y[one, 0]], self.cfg.max_class)
        return keys

    @property
    def max_input_len(self) -> int:
        return self._max_x

    @property
    def max_output_len(self) -> int:
        return self._max_y
