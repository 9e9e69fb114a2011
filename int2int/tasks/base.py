"""What a task is: a vectorised generator of tokenized examples, and a verifier of model outputs.

A task is one module: a config dataclass (its options and their checks) and a :class:`Task` subclass
registered with ``@TASKS.register("<name>", config=<Config>)``. The task describes its input and its output
with the object tokenizers of :mod:`int2int.encodings` (a number, an array of numbers, a symbol), draws
problems and solutions on whole batches with numpy, and judges decoded outputs. See ``docs/extending.md``.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ..config import Config, ConfigError, Options, Registry, opt
from ..data.examples import Examples
from ..encodings import Vocabulary, build_encodings, require_kind

TASKS: Registry[type[Task]] = Registry("task")


@dataclass
class TaskConfig(Options):
    """Fields every task has."""

    section: ClassVar[str] = "task"
    name: str = opt("", "The task (set by the chosen option of the `task` group).")
    max_class: int = opt(101, "Per-class accuracy lumps every class key >= max_class together (counts and values).")

    def check(self, cfg: Config) -> None:
        self.require(self.max_class >= 1, "max_class", "must be >= 1")


@dataclass
class Verdict:
    """The verifier's judgement of each output."""

    acc: np.ndarray  # bool: decodes to a right answer
    correct: np.ndarray  # bool: decodes to a well-formed answer
    classes: np.ndarray  # per-class key of the *target* (e.g. the true GCD), for per-class accuracy
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # named success metrics (bool), e.g. "divisor"
    values: np.ndarray | None = None  # the output decoded as one integer, when the answer is one (else None)


class Task(ABC):
    """A problem: its vocabulary, a generator of examples and a verifier of model outputs."""

    #: What the per-class key is (logged and documented), e.g. "gcd" or "residue".
    class_key: ClassVar[str] = "class"
    #: The kind of numbers the task writes: "int" or "real" (which encodings fit).
    number_kind: ClassVar[str] = "int"
    #: Names of the verifier's extra metrics (reported as <set>_<name>).
    extra_metrics: ClassVar[tuple[str, ...]] = ()

    vocab: Vocabulary

    def __init__(self, cfg: Config):
        self.config, self.cfg = cfg, cfg.task
        self.input_enc, self.output_enc = build_encodings(cfg)
        require_kind(cfg, self.number_kind, self.input_enc, self.output_enc)

    def build_vocab(self, *tokenizers: Any, extra: list[str] | tuple[str, ...] = ()) -> Vocabulary:
        """The vocabulary of the given tokenizers' symbols (then ``extra`` symbols), bound into each of them."""
        symbols = [s for t in tokenizers for s in t.symbols()] + list(extra)
        self.vocab = Vocabulary(symbols)
        for t in tokenizers:
            t.bind(self.vocab)
        return self.vocab

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

    def solved(self, ex: Examples) -> Examples | None:
        """The examples ``ex`` with their outputs recomputed from their inputs (to judge a model on problems typed by
        a person: ``python -m int2int.predict``), or None when the task cannot solve a given input."""
        return None

    # -- evaluation sets --------------------------------------------------------------------------
    def extra_eval_sets(self, rng: np.random.Generator, size: int) -> dict[str, Examples]:
        """Task-specific evaluation sets beside ``valid`` (e.g. the GCD paper's stratified set)."""
        return {}

    def set_metrics(self, name: str, classes: dict[str, list[int]]) -> dict[str, float | int]:
        """Task-specific metrics of eval set ``name`` from its per-class counts ``{class: [count, right]}``."""
        return {}

    def variant(self, **changes: Any) -> Task:
        """The same task with other option values (e.g. another distribution, for an evaluation set)."""
        known = {f.name for f in dataclasses.fields(self.cfg)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"eval.generated: task {self.cfg.name} has no key {', '.join(unknown)} "
                              f"(keys: {', '.join(sorted(known))})")
        try:  # OmegaConf checks the values against the fields' types (enums, ints...)
            task_cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(self.cfg), changes))
        except OmegaConfBaseException as err:
            raise ConfigError(f"eval.generated: {changes}: {str(err).splitlines()[0]}") from None
        config = dataclasses.replace(self.config, task=task_cfg)
        task_cfg.check(config)
        return type(self)(config)

    def natural(self) -> Task:
        """This task with every ``train_only`` option at its default: what ``valid`` is generated from."""
        defaults = {f.name: f.default for f in dataclasses.fields(self.cfg) if f.metadata.get("train_only")}
        changed = {k: v for k, v in defaults.items() if getattr(self.cfg, k) != v}
        return self.variant(**changed) if changed else self

    def domain_size(self) -> int | None:
        """Number of distinct inputs when the task can enumerate them all (small finite domains), else None."""
        return None

    def enumerate(self, index: np.ndarray) -> Examples:
        """The examples of the inputs numbered ``index`` (0 .. domain_size-1)."""
        raise NotImplementedError(f"task {self.cfg.name} cannot enumerate its inputs")

    def describe(self) -> str:
        return (f"{self.cfg.name} (vocabulary {len(self.vocab)} tokens, input <= {self.max_input_len}, "
                f"output <= {self.max_output_len} tokens)")


def build_task(cfg: Config) -> Task:
    """The task of ``cfg.task.name``, tokenized with ``cfg.encoding``."""
    return TASKS.get(cfg.task.name)(cfg)


def cap(values: np.ndarray, max_class: int) -> np.ndarray:
    """Class keys lumped at ``max_class`` (keys are counts or values)."""
    return np.minimum(values, max_class)
