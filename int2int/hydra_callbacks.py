"""Hydra callbacks: at the end of a multirun, gather every run of the sweep into ``results.parquet``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class CollectResults(Callback):
    """Writes ``<sweep dir>/results.parquet`` (and its ``.classes.parquet`` companion) when a multirun ends, then
    reports the jobs that failed and exits with status 1 if there were any. A dry run (``+plan=true``) and a
    detached Slurm submission have nothing to collect yet."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra_plugins.int2int_sweeping import FAILURES, NO_TABLE

        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.exists() or NO_TABLE:
            return
        from analysis.collect import write_results

        write_results([sweep_dir], sweep_dir / "results.parquet")
        if FAILURES:
            for num, overrides, error in FAILURES:
                last = error.strip().splitlines()[-1] if error.strip() else "?"
                log.error("job #%d failed (%s): %s", num, " ".join(overrides), last)
            log.error("%d of the sweep's jobs failed (tracebacks above and in each run's status.json); the results "
                      "table holds every run with metrics", len(FAILURES))
            sys.exit(1)
