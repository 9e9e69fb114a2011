"""The evaluation sets of a run, each with its own distribution, whatever the training distribution is.

- ``valid``, ``test``, ``test2``... from ``data.eval_paths``; otherwise a generated ``valid`` of ``eval.size``
  examples from the task's *natural* distribution (its ``train_only`` options at their defaults: uniform
  GCD operands, say), so accuracies stay comparable with the papers'. With ``eval.held_out`` the ``valid``
  examples are inputs outside the training pool.
- the task's own sets (the GCD paper's stratified ``strat``);
- ``eval.generated``: more generated sets, each with other task options (``{loguni: {operands: loguniform}}``);
- ``train``: a fixed sample of the training pool (``eval.train_size`` examples of the data budget or of the
  repeated subset), for memorisation next to generalisation.
Generated sets come from ``eval.seed`` (one stream per set), so every run of a sweep sees the same sets.
"""

from __future__ import annotations

import logging

import numpy as np

from ..config import Config
from .examples import Examples
from .files import load_file
from .sources import Source, generate, held_out_partition
from .streams import Stream, rng

log = logging.getLogger(__name__)


def file_set_names(n: int) -> list[str]:
    """``valid``, ``test``, ``test2``, ... for ``n`` evaluation files (the original's names)."""
    return ["valid" if i == 0 else "test" if i == 1 else f"test{i}" for i in range(n)]


def held_out_valid(cfg: Config, task, source: Source) -> Examples:
    """Validation examples whose inputs are not in the training pool."""
    partition = held_out_partition(cfg, task)
    if partition is not None:
        return partition[1]
    data = generate(task.natural(), rng(cfg.eval.seed, Stream.EVAL), 2 * cfg.eval.size, cfg.data.max_len)
    fresh = ~np.isin(data.input_hashes(), source.pool.input_hashes())
    log.info("held-out validation set: %d of %d generated examples are outside the training pool",
             int(fresh.sum()), len(data))
    return data.take(np.nonzero(fresh)[0][: cfg.eval.size])


def eval_sets(cfg: Config, task, source: Source) -> dict[str, Examples]:
    """Every evaluation set of the run, by name (see the module's docstring)."""
    e, max_len = cfg.eval, cfg.data.max_len
    sets: dict[str, Examples] = {}
    for name, path in zip(file_set_names(len(cfg.data.eval_paths)), cfg.data.eval_paths):
        sets[name] = load_file(path, task.vocab, max_len)
    if not sets:
        if e.held_out:
            sets["valid"] = held_out_valid(cfg, task, source)
        else:
            data, n_drop = task.natural().generate(rng(e.seed, Stream.EVAL), e.size).drop_long(max_len)
            if n_drop:
                log.warning("validation set: dropped %d examples longer than data.max_len=%d", n_drop, max_len)
            sets["valid"] = data
    sets.update(task.natural().extra_eval_sets(rng(e.seed, Stream.TASK_EVAL), e.size))
    for i, (name, changes) in enumerate(sorted(e.generated.items())):
        variant = task.natural().variant(**dict(changes))
        sets[name] = generate(variant, rng(e.seed, Stream.EXTRA_EVAL, i), e.size, max_len)
    if e.train_size and source.pool is not None and (cfg.data.budget or cfg.data.repeat_size):
        pool = source.pool
        pick = rng(e.seed, Stream.TRAIN_SAMPLE).permutation(len(pool))[: e.train_size]
        sets["train"] = pool.take(np.sort(pick))
    return sets
