"""``mode=export``: write generated examples in the original's file format, reproducibly from ``seed``.

Examples are generated in vectorised chunks (from the ``EXPORT`` stream of ``seed``) and written atomically,
so an interrupted export never leaves a half-written file behind. The file trains back unchanged with
``data.train_path=FILE`` (here or in the original).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

from ..config import Config
from .examples import Examples
from .files import write_examples
from .sources import generated_chunks
from .streams import Stream, rng

log = logging.getLogger(__name__)


def export(cfg: Config, task) -> Path:
    path = Path(cfg.export.path)
    dropped = 0

    def chunks() -> Iterator[Examples]:
        nonlocal dropped
        done = 0
        for ex, d in generated_chunks(task, rng(cfg.seed, Stream.EXPORT), cfg.export.size, cfg.data.max_len):
            dropped, done = dropped + d, done + len(ex)
            yield ex
            log.info("exported %d / %d examples", done, cfg.export.size)

    t = time.perf_counter()
    n = write_examples(path, task.vocab, chunks())
    dt = time.perf_counter() - t
    if dropped:
        log.warning("skipped %d generated examples longer than data.max_len=%d", dropped, cfg.data.max_len)
    log.info("wrote %d examples of %s to %s in %.1fs (%.0f examples/s)", n, cfg.task.name, path.resolve(), dt, n / dt)
    return path
