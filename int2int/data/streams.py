"""Independent random streams, one per purpose, derived from a seed with ``numpy.random.SeedSequence``.

Training batches, data pools, the order of file passes, evaluation sets and exports each draw from their own
stream (the seed's spawn key names the purpose), so no two of them can coincide: with ``seed == eval.seed``
the first training batch is still not the validation set.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    TRAIN = 0  # fresh training batches, draws from pools and repeated subsets (checkpointed)
    POOL = 1  # the data budget (generated once), and the held-out partition of a finite domain
    REPEATED = 2  # the repeated subset of two-set training
    FILE_ORDER = 3  # the order of each pass over a training file
    EVAL = 4  # the generated validation set
    TASK_EVAL = 5  # the task's own evaluation sets (the GCD paper's stratified set)
    EXTRA_EVAL = 6  # eval.generated sets
    TRAIN_SAMPLE = 7  # the `train` evaluation set, a fixed sample of the training pool
    EXPORT = 8  # mode=export


def rng(seed: int, stream: Stream, *more: int) -> np.random.Generator:
    """The generator of ``stream`` for ``seed`` (``more``: sub-streams, e.g. a pass number)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(stream), *more)))
