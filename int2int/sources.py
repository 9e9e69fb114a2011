"""Where training and evaluation examples come from: generators, files, budgets and repeated subsets.

A training source hands out batches (``batch(n)``) and keeps a small ``state`` (ints only) that
the checkpoint stores, so a resumed run sees exactly the examples an uninterrupted run would.
Random choices draw from the run's training generator, whose state is checkpointed too.

| settings | source |
|---|---|
| nothing | :class:`Fresh`: the task's generator, a new batch every step |
| ``data.train_path`` | :class:`FileEpochs` (the file in memory, reshuffled at every pass) or, with ``data.batch_load``, :class:`FileStream` (chunks of ``data.reload_size`` lines) |
| ``data.budget=N`` | :class:`Pool`: N examples (generated once, or the file's first N lines), drawn uniformly with repetition |
| ``data.repeat_size=S`` | :class:`TwoSets`: S examples (generated once, or the file's first S lines) drawn with probability ``data.repeat_prob``, the others from the rest (fresh data, or the rest of the file) |
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import numpy as np

from .batching import drop_long
from .config import Config
from .data_files import iter_chunks, load_file, scan_file
from .tasks import Examples, Task

log = logging.getLogger(__name__)


class Source:
    """A supply of training batches."""

    #: Examples the source holds (None: unlimited fresh data); used to report repetition.
    pool_size: int | None = None

    def __init__(self) -> None:
        self.state: dict[str, int] = {}  # position in files (checkpointed)
        self.dropped = 0  # examples longer than data.max_len skipped so far

    def batch(self, n: int) -> Examples:
        raise NotImplementedError

    def load_state(self, state: dict[str, int]) -> None:
        self.state = dict(state)


class Fresh(Source):
    def __init__(self, task: Task, rng: np.random.Generator, max_len: int):
        super().__init__()
        self.task, self.rng, self.max_len = task, rng, max_len

    def batch(self, n: int) -> Examples:
        ex, dropped = drop_long(self.task.generate(self.rng, n), self.max_len)
        self.dropped += dropped
        return ex


class Pool(Source):
    """A fixed set of examples drawn uniformly with repetition."""

    def __init__(self, data: Examples, rng: np.random.Generator):
        super().__init__()
        self.data, self.rng, self.pool_size = data, rng, len(data)

    def batch(self, n: int) -> Examples:
        return self.data.take(self.rng.integers(0, len(self.data), size=n))


class FileEpochs(Source):
    """A file held in memory, read in a new random order at every pass (permutation seeded by the pass)."""

    def __init__(self, data: Examples, seed: int):
        super().__init__()
        self.data, self.seed, self.pool_size = data, seed, len(data)
        self.state = {"pass": 0, "pos": 0}
        self._perm: np.ndarray | None = None

    def load_state(self, state: dict[str, int]) -> None:
        self.state, self._perm = dict(state), None

    def _order(self) -> np.ndarray:
        if self._perm is None:
            self._perm = np.random.default_rng([self.seed, self.state["pass"]]).permutation(len(self.data))
        return self._perm

    def batch(self, n: int) -> Examples:
        idx = []
        while n > 0:
            perm, pos = self._order(), self.state["pos"]
            take = perm[pos : pos + n]
            idx.append(take)
            n -= len(take)
            self.state["pos"] += len(take)
            if self.state["pos"] >= len(perm):
                self.state = {"pass": self.state["pass"] + 1, "pos": 0}
                self._perm = None
        return self.data.take(np.concatenate(idx))


class FileStream(Source):
    """A file too large for memory, read in chunks of ``chunk`` lines, each chunk shuffled."""

    def __init__(self, path: str, task: Task, max_len: int, chunk: int, seed: int):
        super().__init__()
        self.path, self.task, self.max_len, self.chunk, self.seed = path, task, max_len, chunk, seed
        self.state = {"pass": 0, "chunk": 0, "pos": 0}
        self._data: Examples | None = None
        self._chunks = None

    def load_state(self, state: dict[str, int]) -> None:
        self.state, self._data, self._chunks = dict(state), None, None

    def _load(self) -> Examples:
        while self._data is None or self.state["pos"] >= len(self._data):
            if self._data is not None:  # current chunk used up: next one
                self.state = {**self.state, "chunk": self.state["chunk"] + 1, "pos": 0}
                self._data = None
            if self._chunks is None:
                self._chunks = iter_chunks(self.path, self.task.vocab, self.max_len, self.chunk,
                                           start=self.state["chunk"] * self.chunk)
            try:
                ex, dropped = next(self._chunks)
            except StopIteration:
                if self.state["chunk"] == 0:
                    raise RuntimeError(f"{self.path}: no example fits data.max_len={self.max_len}") from None
                self.state = {"pass": self.state["pass"] + 1, "chunk": 0, "pos": 0}
                self._chunks = None
                continue
            self.dropped += dropped
            if len(ex) == 0:
                self.state = {**self.state, "chunk": self.state["chunk"] + 1, "pos": 0}
                continue
            order = np.random.default_rng([self.seed, self.state["pass"], self.state["chunk"]]).permutation(len(ex))
            self._data = ex.take(order)
        return self._data

    def batch(self, n: int) -> Examples:
        parts = []
        while n > 0:
            data, pos = self._load(), self.state["pos"]
            part = data.take(slice(pos, pos + n))
            parts.append(part)
            n -= len(part)
            self.state = {**self.state, "pos": pos + len(part)}
        return parts[0] if len(parts) == 1 else Examples.concat(parts)


class TwoSets(Source):
    """Each example comes from a small repeated subset with probability p, else from the rest."""

    def __init__(self, repeated: Examples, rest: Source, prob: float, rng: np.random.Generator):
        super().__init__()
        self.repeated, self.rest, self.prob, self.rng = repeated, rest, prob, rng
        self.pool_size = len(repeated)

    def load_state(self, state: dict[str, int]) -> None:
        self.rest.load_state(state)

    def batch(self, n: int) -> Examples:
        k = int(self.rng.binomial(n, self.prob))
        parts = [self.repeated.take(self.rng.integers(0, len(self.repeated), size=k))] if k else []
        if n - k:
            parts.append(self.rest.batch(n - k))
        self.dropped, self.state = self.rest.dropped, self.rest.state
        return parts[0] if len(parts) == 1 else Examples.concat(parts)


def generated_chunks(task: Task, rng: np.random.Generator, n: int, max_len: int,
                     chunk: int = 100_000) -> Iterator[tuple[Examples, int]]:
    """``n`` generated examples that fit ``max_len``, in chunks, each with its count of dropped examples."""
    left = n
    while left > 0:
        ex, dropped = drop_long(task.generate(rng, min(left, chunk)), max_len)
        if len(ex) == 0:
            raise RuntimeError(f"data.max_len={max_len}: no generated example fits")
        left -= len(ex)
        yield ex, dropped


def _generate(task: Task, seed: list[int], n: int, max_len: int) -> Examples:
    """``n`` generated examples from a generator of their own (so the pool is the same whatever the run did)."""
    return Examples.concat([ex for ex, _ in generated_chunks(task, np.random.default_rng(seed), n, max_len)])


def training_source(cfg: Config, task: Task, rng: np.random.Generator) -> Source:
    """The training source that ``cfg.data`` describes (see the module's table)."""
    d = cfg.data
    if d.train_path and d.batch_load:
        scan_file(d.train_path, task.vocab)  # every line checked before training starts
        return FileStream(d.train_path, task, d.max_len, d.reload_size, cfg.seed)
    if d.train_path:
        limit = d.budget or None
        data = load_file(d.train_path, task.vocab, d.max_len, limit=limit)
        if d.budget and len(data) < d.budget:
            log.warning("data.budget=%d but %s has only %d usable lines", d.budget, d.train_path, len(data))
        if d.budget:
            return Pool(data, rng)
        if d.repeat_size:
            if d.repeat_size >= len(data):
                raise ValueError(f"data.repeat_size={d.repeat_size}: the training file has only {len(data)} examples")
            rest = FileEpochs(data.take(slice(d.repeat_size, len(data))), cfg.seed)
            return TwoSets(data.take(slice(0, d.repeat_size)), rest, d.repeat_prob, rng)
        return FileEpochs(data, cfg.seed)
    if d.budget:
        log.info("generating the data budget: %d examples", d.budget)
        return Pool(_generate(task, [cfg.seed, 1], d.budget, d.max_len), rng)
    if d.repeat_size:
        return TwoSets(_generate(task, [cfg.seed, 2], d.repeat_size, d.max_len), Fresh(task, rng, d.max_len),
                       d.repeat_prob, rng)
    return Fresh(task, rng, d.max_len)


def repetition(cfg: Config, source: Source, examples: int) -> float | None:
    """How many times, on average, an example of the pool (or of the repeated subset) has been seen."""
    if source.pool_size is None:
        return None
    if isinstance(source, TwoSets):
        return examples * cfg.data.repeat_prob / source.pool_size
    return examples / source.pool_size


def describe_repetition(cfg: Config, source: Source, total: int) -> str:
    rep = repetition(cfg, source, total)
    if rep is None:
        return f"fresh generated data: {total:,} training examples, none repeated"
    if isinstance(source, TwoSets):
        return (f"two-set training: {source.pool_size:,} repeated examples drawn with probability "
                f"{cfg.data.repeat_prob}: each seen ~{rep:.1f} times over {total:,} training examples")
    what = "data budget" if cfg.data.budget else "training file"
    return f"{what} of {source.pool_size:,} examples: each seen ~{rep:.1f} times over {total:,} training examples"


def eval_sets(cfg: Config, task: Task) -> dict[str, Examples]:
    """Evaluation sets: ``valid``, ``test``, ``test2``... from ``data.eval_paths``, or a generated ``valid``;
    plus the task's own sets (GCD: ``strat``)."""
    sets: dict[str, Examples] = {}
    for i, path in enumerate(cfg.data.eval_paths):
        name = "valid" if i == 0 else "test" if i == 1 else f"test{i}"
        sets[name] = load_file(path, task.vocab, cfg.data.max_len)
    if not sets:
        data, n_drop = drop_long(task.generate(np.random.default_rng(cfg.eval.seed), cfg.eval.size), cfg.data.max_len)
        if n_drop:
            log.warning("validation set: dropped %d examples longer than data.max_len=%d", n_drop, cfg.data.max_len)
        sets["valid"] = data
    sets.update(task.extra_eval_sets(np.random.default_rng([cfg.eval.seed, 1]), cfg.eval.size))
    return sets


def total_examples(cfg: Config) -> int:
    return math.ceil(cfg.schedule.epoch_size / cfg.schedule.batch_size) * cfg.schedule.batch_size * cfg.schedule.max_epoch
