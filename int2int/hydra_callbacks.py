"""Hydra callbacks: at the end of a multirun, gather every run of the sweep into ``results.parquet``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class CollectResults(Callback):
    """Writes ``<sweep dir>/results.parquet`` (and its ``.classes.parquet`` companion) when a multirun ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from analysis.collect import write_results

        sweep_dir = Path(config.hydra.sweep.dir)
        out = sweep_dir / "results.parquet"
        write_results([sweep_dir], out)
