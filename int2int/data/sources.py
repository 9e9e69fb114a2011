"""Where training batches come from: generators, files, budgets and repeated subsets.

A training source hands out batches (``batch(n)``) and keeps a small ``state`` (ints only) that the
checkpoint stores, so a resumed run sees exactly the examples an uninterrupted run would. Random choices
draw from the run's training stream, whose state is checkpointed too.

- nothing: :class:`Fresh`, the task's generator, a new batch every step.
- ``data.train_path``: :class:`FileEpochs` (the file in memory, reshuffled at every pass) or, with
  ``data.batch_load``, :class:`FileStream` (chunks of ``data.reload_size`` lines).
- ``data.budget=N``: :class:`Pool`, N examples (generated once, or the file's first N lines) drawn uniformly with
  repetition; with ``eval.held_out`` on a small finite domain, N inputs of the domain and the rest held out.
- ``data.repeat_size=S``: :class:`TwoSets`, S examples (generated once, or the file's first S lines) drawn with
  probability ``data.repeat_prob``, the others from the rest (fresh data, or the rest of the file).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

from ..config import Config, ConfigError
from .examples import Examples
from .files import DataFileError, iter_chunks, load_file, scan_file
from .streams import Stream, rng

log = logging.getLogger(__name__)


class Source:
    """A supply of training batches."""

    #: The examples the source draws from when it holds them in memory (pool, file, repeated subset), else None.
    pool: Examples | None = None

    def __init__(self) -> None:
        self.state: dict[str, int] = {}  # position in files (checkpointed)
        self.dropped = 0  # examples longer than data.max_len skipped so far

    def batch(self, n: int) -> Examples:
        raise NotImplementedError

    def load_state(self, state: dict[str, int]) -> None:
        self.state = dict(state)


class Fresh(Source):
    def __init__(self, task, gen: np.random.Generator, max_len: int):
        super().__init__()
        self.task, self.rng, self.max_len = task, gen, max_len

    def batch(self, n: int) -> Examples:
        ex, dropped = self.task.generate(self.rng, n).drop_long(self.max_len)
        self.dropped += dropped
        return ex


class Pool(Source):
    """A fixed set of examples drawn uniformly with repetition."""

    def __init__(self, data: Examples, gen: np.random.Generator):
        super().__init__()
        self.pool, self.rng = data, gen

    def batch(self, n: int) -> Examples:
        return self.pool.take(self.rng.integers(0, len(self.pool), size=n))


class FileEpochs(Source):
    """A file held in memory, read in a new random order at every pass (the order seeded by the pass)."""

    def __init__(self, data: Examples, seed: int):
        super().__init__()
        self.pool, self.seed = data, seed
        self.state = {"pass": 0, "pos": 0}
        self._perm: np.ndarray | None = None

    def load_state(self, state: dict[str, int]) -> None:
        self.state, self._perm = dict(state), None

    def _order(self) -> np.ndarray:
        if self._perm is None:
            self._perm = rng(self.seed, Stream.FILE_ORDER, self.state["pass"]).permutation(len(self.pool))
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
        return self.pool.take(np.concatenate(idx))


class FileStream(Source):
    """A file too large for memory, read in chunks of ``chunk`` lines, each chunk shuffled."""

    def __init__(self, path: str, task, max_len: int, chunk: int, seed: int):
        super().__init__()
        self.path, self.task, self.max_len, self.chunk, self.seed = path, task, max_len, chunk, seed
        self.state = {"pass": 0, "chunk": 0, "pos": 0}
        self._data: Examples | None = None
        self._chunks: Iterator[tuple[Examples, int]] | None = None
        self._whole_pass = self._found_in_pass = False  # reading a pass from line 1 / any example found in it

    def load_state(self, state: dict[str, int]) -> None:
        self.state, self._data, self._chunks = dict(state), None, None

    def _next_chunk(self) -> None:
        self.state = {**self.state, "chunk": self.state["chunk"] + 1, "pos": 0}
        self._data = None

    def _load(self) -> Examples:
        while self._data is None or self.state["pos"] >= len(self._data):
            if self._data is not None:  # current chunk used up
                self._next_chunk()
            if self._chunks is None:
                self._chunks = iter_chunks(self.path, self.task.vocab, self.max_len, self.chunk,
                                           start=self.state["chunk"] * self.chunk)
                self._whole_pass, self._found_in_pass = self.state["chunk"] == 0, False
            try:
                ex, dropped = next(self._chunks)
            except StopIteration:
                if self._whole_pass and not self._found_in_pass:
                    raise DataFileError(f"{self.path}: no line fits data.max_len={self.max_len} (every example is "
                                        "longer)") from None
                self.state = {"pass": self.state["pass"] + 1, "chunk": 0, "pos": 0}
                self._chunks = None
                continue
            self.dropped += dropped
            if len(ex) == 0:
                self._next_chunk()
                continue
            self._found_in_pass = True
            order = rng(self.seed, Stream.FILE_ORDER, self.state["pass"], self.state["chunk"]).permutation(len(ex))
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

    def __init__(self, repeated: Examples, rest: Source, prob: float, gen: np.random.Generator):
        super().__init__()
        self.pool, self.rest, self.prob, self.rng = repeated, rest, prob, gen

    def load_state(self, state: dict[str, int]) -> None:
        self.rest.load_state(state)

    def batch(self, n: int) -> Examples:
        k = int(self.rng.binomial(n, self.prob))
        parts = [self.pool.take(self.rng.integers(0, len(self.pool), size=k))] if k else []
        if n - k:
            parts.append(self.rest.batch(n - k))
        self.dropped, self.state = self.rest.dropped, self.rest.state
        return parts[0] if len(parts) == 1 else Examples.concat(parts)


def generated_chunks(task, gen: np.random.Generator, n: int, max_len: int,
                     chunk: int = 100_000) -> Iterator[tuple[Examples, int]]:
    """``n`` generated examples that fit ``max_len``, in chunks, each with its count of dropped examples."""
    left = n
    while left > 0:
        ex, dropped = task.generate(gen, min(left, chunk)).drop_long(max_len)
        if len(ex) == 0:
            raise ConfigError(f"data.max_len={max_len}: no generated example fits (the task's inputs take up to "
                              f"{task.max_input_len} tokens, outputs {task.max_output_len}, plus <eos>)")
        left -= len(ex)
        yield ex, dropped


def generate(task, gen: np.random.Generator, n: int, max_len: int) -> Examples:
    """``n`` generated examples that fit ``max_len``, in memory."""
    return Examples.concat([ex for ex, _ in generated_chunks(task, gen, n, max_len)])


def held_out_partition(cfg: Config, task) -> tuple[Examples, Examples] | None:
    """``(pool, held-out)`` inputs of a finite domain (the grokking setup), or None when the domain is too large.

    The domain's inputs are shuffled once (the ``POOL`` stream of ``seed``): the first ``data.budget`` are the
    training pool, the next ``eval.size`` (at most the rest) the held-out validation set."""
    size = task.domain_size()
    if size is None:
        return None
    budget = cfg.data.budget
    if budget >= size:
        raise ConfigError(f"data.budget={budget}: the task has only {size:,} distinct inputs; eval.held_out needs "
                          "some left out")
    order = rng(cfg.seed, Stream.POOL).permutation(size)
    pool = task.enumerate(order[:budget])
    held = task.enumerate(order[budget : budget + cfg.eval.size])
    return pool.drop_long(cfg.data.max_len)[0], held.drop_long(cfg.data.max_len)[0]


def training_source(cfg: Config, task, gen: np.random.Generator) -> Source:
    """The training source that ``cfg.data`` describes (see the module's table); files are checked first."""
    d = cfg.data
    if d.train_path and d.batch_load:
        scan_file(d.train_path, task.vocab)  # every line checked before training starts
        return FileStream(d.train_path, task, d.max_len, d.reload_size, cfg.seed)
    if d.train_path:
        data = load_file(d.train_path, task.vocab, d.max_len, limit=d.budget or None)
        if d.budget and len(data) < d.budget:
            log.warning("data.budget=%d but %s has only %d usable lines", d.budget, d.train_path, len(data))
        if d.budget:
            return Pool(data, gen)
        if d.repeat_size:
            if d.repeat_size >= len(data):
                raise ConfigError(f"data.repeat_size={d.repeat_size}: the training file has only {len(data)} examples")
            rest = FileEpochs(data.take(slice(d.repeat_size, len(data))), cfg.seed)
            return TwoSets(data.take(slice(0, d.repeat_size)), rest, d.repeat_prob, gen)
        return FileEpochs(data, cfg.seed)
    if d.budget:
        partition = held_out_partition(cfg, task) if cfg.eval.held_out else None
        if partition is not None:
            log.info("data budget: %d of the task's %d inputs; the others are held out", d.budget, task.domain_size())
            return Pool(partition[0], gen)
        log.info("generating the data budget: %d examples", d.budget)
        return Pool(generate(task, rng(cfg.seed, Stream.POOL), d.budget, d.max_len), gen)
    if d.repeat_size:
        repeated = generate(task, rng(cfg.seed, Stream.REPEATED), d.repeat_size, d.max_len)
        return TwoSets(repeated, Fresh(task, gen, d.max_len), d.repeat_prob, gen)
    return Fresh(task, gen, d.max_len)


def repetition(cfg: Config, source: Source, examples: int) -> float | None:
    """How many times, on average, an example of the pool (or of the repeated subset) has been seen."""
    if source.pool is None:
        return None
    seen = examples * cfg.data.repeat_prob if isinstance(source, TwoSets) else examples
    return seen / len(source.pool)


def describe_repetition(cfg: Config, source: Source, total: int) -> str:
    rep = repetition(cfg, source, total)
    if rep is None:
        what = "training file streamed" if isinstance(source, FileStream) else "fresh generated data"
        return f"{what}: {total:,} training examples" + ("" if isinstance(source, FileStream) else ", none repeated")
    size = len(source.pool)
    if isinstance(source, TwoSets):
        return (f"two-set training: {size:,} repeated examples drawn with probability {cfg.data.repeat_prob}: "
                f"each seen ~{rep:.1f} times over {total:,} training examples")
    what = "data budget" if cfg.data.budget else "training file"
    return f"{what} of {size:,} examples: each seen ~{rep:.1f} times over {total:,} training examples"
