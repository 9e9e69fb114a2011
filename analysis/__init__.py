"""Results of int2int sweeps as tidy pandas tables: collect, tabulate, plot.

This package reads run directories only (``run.json``, ``status.json``, ``metrics.jsonl``,
``classes.csv``, ``predictions/``); it never imports torch or :mod:`int2int`, so it stays quick to
import. Collection lives in :mod:`analysis.collect`, plots in :mod:`analysis.plot`, tables in
:mod:`analysis.table` (statistics over seeds in :mod:`analysis.stats`), per-example predictions in
:mod:`analysis.predictions`.

    >>> from analysis import load_results
    >>> runs, classes = load_results("sweeps/gcd_bases/results.parquet")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Union

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load_results", "write_results", "write_tables", "read_tables", "concat_tables", "classes_path"]
_FROM_COLLECT = set(__all__) - {"load_results"}


def __getattr__(name: str) -> Any:
    # Imported on first use, so that ``python -m analysis.collect`` does not import the module twice.
    # (``analysis.collect`` is the module; its function is ``analysis.collect.collect``.)
    if name in _FROM_COLLECT:
        import importlib

        return getattr(importlib.import_module("analysis.collect"), name)
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")


def load_results(path_or_dirs: Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]],
                 classes: bool = True) -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """``(runs_df, classes_df)`` from a parquet file, run/sweep directories, or a list mixing both.

    - a ``.parquet`` file (the runs table written by ``python -m analysis.collect`` or
      :func:`write_results`): read it and its companion ``<stem>.classes.parquet`` (an empty classes
      table if that file is missing);
    - a directory: collect the run directories under it (:func:`analysis.collect.collect`);
    - a list: load each item and concatenate with consistent dtypes (:func:`concat_tables`).
    """
    from .collect import collect, concat_tables, read_tables

    items = [path_or_dirs] if isinstance(path_or_dirs, (str, os.PathLike)) else list(path_or_dirs)
    dirs = [p for p in items if Path(p).is_dir()]
    files = [p for p in items if not Path(p).is_dir()]
    for f in files:
        if not Path(f).is_file():
            raise FileNotFoundError(f"no such results file or directory: {f}")
    parts: list[tuple[pd.DataFrame, pd.DataFrame]] = []
    if dirs:
        parts.append(collect(dirs, classes=classes))
    parts.extend(read_tables(f, classes=classes) for f in files)
    if len(parts) == 1:
        return parts[0]
    return concat_tables([p[0] for p in parts]), concat_tables([p[1] for p in parts])
