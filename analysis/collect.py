"""Collect int2int run directories into two tidy tables and write them as parquet.

A *run directory* holds ``run.json`` (config, group choices, overrides), ``status.json``,
``metrics.jsonl`` (one JSON object per evaluation) and ``classes.csv`` (one row per evaluation,
eval set and class). :func:`collect` finds every run directory under the given paths, reads their
files with Arrow (several runs at a time) and returns:

- the **runs** table: one row per run and evaluation (one row with null metrics for a run that has
  not evaluated yet), with the run's identity and status, its config flattened to dotted columns,
  and every metric of the evaluation;
- the **classes** table: one row per run, evaluation, eval set and class, with the per-class
  counts (:mod:`analysis.classes`).

The schema is documented in ``analysis/README.md``. Command line::

    python -m analysis.collect SWEEP_DIR [SWEEP_DIR ...] [-o results.parquet]
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence, Union

import numpy as np
import pandas as pd
import pyarrow as pa

from .classes import CLASSES_FILE, classes_frame, clean_nested, nested_class_rows, read_class_rows  # noqa: F401
from .jsonl import Report, concat_arrow, read_jsonl, to_pandas
from .schema import (  # noqa: F401 - re-exported: the names users of analysis.collect know
    CLASSES_COLUMNS,
    CLASSES_DTYPES,
    EVAL_COLUMNS,
    FIXED_DTYPES,
    ID_COLUMNS,
    RUN_EXTRA_COLUMNS,
    as_dtype,
    concat_tables,
    empty_classes_frame,
    empty_column,
    empty_runs_frame,
    infer_kind,
    metric_dtype,
    typed_array,
)
from .sweep_status import METRICS_FILE, RUN_FILE, STATUS_FILE, find_run_dirs as run_dirs_under

log = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

#: The fields of a metrics line whose type is known (other keys are inferred from their values).
METRICS_SCHEMA = pa.schema([(name, pa.int64() if FIXED_DTYPES[name] == "Int64" else pa.float64())
                            for name in EVAL_COLUMNS])
_NOT_METRICS = ("eval_sets", "classes")  # keys of a metrics line that are not columns


# --------------------------------------------------------------------------------------------------
# Finding and reading run directories


def find_run_dirs(paths: Iterable[PathLike]) -> list[Path]:
    """Every run directory (one holding ``run.json``) at or under ``paths``, absolute, without repeats.

    The search does not descend into a run directory. Sub-directories are visited in natural
    order (``2`` before ``10``); a path that does not exist is reported and skipped.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for p in paths:
        root = Path(p).expanduser()
        if root.is_file() and root.name == RUN_FILE:
            root = root.parent
        if not root.is_dir():
            log.warning("%s: not a directory, skipped", root)
            continue
        for run_dir in run_dirs_under(root.resolve()):
            if run_dir not in seen:
                seen.add(run_dir)
                found.append(run_dir)
    return found


@dataclass
class RunFiles:
    """The files of one run directory, read."""

    fields: dict[str, Any]  #: identity columns, ``overrides``, ``started``, ``error``
    config: dict[str, Any]  #: ``choice.<group>`` keys then the dotted config keys
    metrics: pa.Table  #: one row per line of metrics.jsonl (repeated evaluations still there)
    class_rows: pa.Table | None  #: per-class rows (:mod:`analysis.classes`), None if not read


def read_run(run_dir: Path, classes: bool = True, report: Report = log.log) -> RunFiles:
    """The files of a run directory; raises if ``run.json`` is missing or bad.

    ``classes``: also read the per-class rows (of ``classes.csv``, or of the ``classes`` objects
    of metrics lines written before that file existed).
    """
    run_dir = Path(run_dir)
    fields, config = read_run_info(run_dir, report)
    path = run_dir / METRICS_FILE
    metrics = read_jsonl(path, METRICS_SCHEMA, report=report, clean=clean_nested)
    if metrics is None:
        metrics = METRICS_SCHEMA.empty_table()
    class_rows = None
    if classes:
        parts = [t for t in (nested_class_rows(metrics, path, report), read_class_rows(run_dir, report))
                 if t is not None]
        class_rows = pa.concat_tables(parts) if parts else None
    metrics = metrics.drop_columns([c for c in _NOT_METRICS if c in metrics.column_names])
    return RunFiles(fields, config, metrics, class_rows)


def read_run_info(run_dir: Path, report: Report = log.log) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(run fields, flattened config)`` from ``run.json`` and ``status.json``; raises if ``run.json`` is bad."""
    meta = _read_json(run_dir / RUN_FILE)
    if not isinstance(meta, dict):
        raise ValueError("run.json is not a JSON object")
    status, error = "unknown", None
    status_path = run_dir / STATUS_FILE
    if status_path.exists():
        try:
            st = _read_json(status_path)
            status = str(st.get("status") or "unknown")
            error = _last_line(st.get("error"))
        except (OSError, ValueError, AttributeError) as e:
            report(logging.WARNING, "%s: unreadable (%s); status 'unknown'", status_path, e)
    overrides = meta.get("overrides")
    if isinstance(overrides, (list, tuple)):
        overrides = " ".join(map(str, overrides))
    fields = {
        "run_id": str(meta["run_id"]) if meta.get("run_id") is not None else run_dir.name,
        "run_dir": str(run_dir),
        "sweep_dir": None if meta.get("sweep_dir") is None else str(meta["sweep_dir"]),
        "job_num": meta.get("job_num"),
        "status": status,
        "overrides": None if overrides is None else str(overrides),
        "started": None if meta.get("started") is None else str(meta["started"]),
        "error": error,
    }
    choices = meta.get("choices") or {}
    config = {f"choice.{k}": _scalar(v) for k, v in choices.items()} if isinstance(choices, dict) else {}
    config.update(flatten_config(meta.get("config") or {}))
    return fields, config


def _read_json(path: Path) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read())


def flatten_config(config: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts to dotted keys; lists become JSON strings (``[1, 2]``); scalars stay as they are."""
    out: dict[str, Any] = {}
    if not isinstance(config, dict):
        return {prefix.rstrip(".") or "config": _scalar(config)}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_config(value, name + "."))
        else:
            out[name] = _scalar(value)
    return out


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value), default=str)
    return str(value)


def _last_line(error: Any) -> str | None:
    """The last non-blank line of a traceback (``ValueError: ...``): the full text stays in status.json."""
    if error is None:
        return None
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    return lines[-1] if lines else None


# --------------------------------------------------------------------------------------------------
# Collection


def collect(dirs: Union[PathLike, Iterable[PathLike]], classes: bool = True,
            workers: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Collect every run directory at or under ``dirs`` into ``(runs_df, classes_df)``.

    A run directory that cannot be read (no valid ``run.json``, unreadable files) is skipped with a
    warning; this function raises only on programming errors. With ``classes=False`` the classes
    table is returned empty (faster when the per-class counts are not needed). ``workers``: threads
    reading run directories (default: one per CPU, at most 8; Arrow parses without holding the GIL).
    """
    if isinstance(dirs, (str, os.PathLike)):
        dirs = [dirs]
    run_dirs = find_run_dirs(dirs)
    if workers is None:
        workers = default_workers(len(run_dirs))
    read = functools.partial(_read_or_skip, classes=classes)
    if workers > 1 and len(run_dirs) > 1:
        with ThreadPoolExecutor(workers, thread_name_prefix="collect") as pool:
            read_runs = list(pool.map(read, run_dirs))
    else:
        read_runs = [read(d) for d in run_dirs]
    done = [r for r in read_runs if r is not None]
    runs, run_of_row = runs_frame(done)
    rows = [(i, r.class_rows) for i, r in enumerate(done)] if classes else []
    return runs, classes_frame(runs, run_of_row, rows)


def _read_or_skip(run_dir: Path, classes: bool) -> RunFiles | None:
    try:
        return read_run(run_dir, classes)
    except Exception as e:  # noqa: BLE001 - a bad run directory must not stop the collection
        log.warning("%s: skipped, cannot read the run (%s: %s)", run_dir, type(e).__name__, e)
        return None


def default_workers(n_runs: int) -> int:
    """Reading threads for ``n_runs`` run directories: one per CPU (at most 8), one for a few runs."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8, n_runs // _RUNS_PER_THREAD))


_RUNS_PER_THREAD = 8  # below this many runs per thread, starting threads does not pay


def runs_frame(read_runs: Sequence[RunFiles]) -> tuple[pd.DataFrame, np.ndarray]:
    """The runs table of the runs read, and the run number (index in ``read_runs``) of each row."""
    if not read_runs:
        return empty_runs_frame(), np.zeros(0, np.int64)
    per_run = _run_level_frame(read_runs)
    metrics = to_pandas(concat_arrow([r.metrics for r in read_runs]))
    run = np.repeat(np.arange(len(read_runs)), [r.metrics.num_rows for r in read_runs])
    metrics, run = _drop_repeated_evaluations(metrics, run, per_run["run_dir"])
    # a run without any metrics line keeps one row (null metrics), so that it shows with its status
    empty = np.setdiff1d(np.arange(len(read_runs)), run)
    rows = np.r_[np.arange(len(metrics)), np.full(len(empty), -1)]
    run = np.r_[run, empty]
    order = np.argsort(run, kind="stable")
    metrics, run = metrics.reindex(rows[order]).reset_index(drop=True), run[order]
    columns = {name: per_run[name].array.take(run) for name in per_run.columns}
    for name in EVAL_COLUMNS + [c for c in metrics.columns if c not in EVAL_COLUMNS]:
        out = name
        if name in columns:
            out = f"metrics.{name}"
            log.warning("metrics key %r clashes with a run column, stored as %r", name, out)
        col = metrics[name] if name in metrics.columns else pd.Series(empty_column(FIXED_DTYPES[name], len(run)))
        kind = FIXED_DTYPES[name] if name in EVAL_COLUMNS else metric_dtype(name, str(col.dtype))
        columns[out] = as_dtype(col, kind, name).array
    return pd.DataFrame(columns, index=pd.RangeIndex(len(run))), run


def _run_level_frame(read_runs: Sequence[RunFiles]) -> pd.DataFrame:
    """One row per run: the identity columns, the config columns, ``overrides``, ``started``, ``error``."""
    columns: dict[str, Any] = {}

    def add(name: str, values: list[Any]) -> None:
        columns[name] = typed_array(values, infer_kind(name, values), name)

    for name in ID_COLUMNS:
        add(name, [r.fields[name] for r in read_runs])
    for name in _config_order([r.config for r in read_runs]):
        out = f"config.{name}" if name in FIXED_DTYPES else name
        if out != name:
            log.warning("config key %r clashes with a fixed column, stored as %r", name, out)
        add(out, [r.config.get(name) for r in read_runs])
    for name in RUN_EXTRA_COLUMNS:
        add(name, [r.fields[name] for r in read_runs])
    return pd.DataFrame(columns)


def _drop_repeated_evaluations(metrics: pd.DataFrame, run: np.ndarray,
                               run_dirs: pd.Series) -> tuple[pd.DataFrame, np.ndarray]:
    """Keep the last line of each (run, epoch, steps, examples): a resumed run may log an evaluation twice."""
    keys = metrics[["epoch", "steps", "examples"]]
    repeated = keys.assign(_run=run).duplicated(keep="last").to_numpy() & keys.notna().any(axis=1).to_numpy()
    if not repeated.any():
        return metrics, run
    for r, n in zip(*np.unique(run[repeated], return_counts=True)):
        log.info("%s: %d repeated evaluations replaced by their last record", Path(run_dirs.iloc[r]) / METRICS_FILE, n)
    return metrics[~repeated].reset_index(drop=True), run[~repeated]


def _config_order(configs: list[dict[str, Any]]) -> list[str]:
    """Config keys in order of first appearance, keeping the keys of one group (``task.*``) together."""
    first: dict[str, int] = {}
    groups: dict[str, int] = {}
    for cfg in configs:
        for key in cfg:
            if key not in first:
                first[key] = len(first)
                groups.setdefault(key.split(".", 1)[0], len(groups))

    def order(key: str) -> tuple[int, int, int]:
        group = key.split(".", 1)[0]
        return (0 if group == "choice" else 1, groups[group], first[key])

    return sorted(first, key=order)


# --------------------------------------------------------------------------------------------------
# Writing and reading parquet


def classes_path(out_path: PathLike) -> Path:
    """The classes table beside a runs table: ``results.parquet`` -> ``results.classes.parquet``."""
    p = Path(out_path)
    suffix = p.suffix or ".parquet"
    return p.with_name(f"{p.stem if p.suffix else p.name}.classes{suffix}")


def _atomic_parquet(df: pd.DataFrame, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        df.to_parquet(tmp, engine="pyarrow", index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_tables(runs: pd.DataFrame, classes: pd.DataFrame, out_path: PathLike) -> tuple[Path, Path]:
    """Write ``runs`` to ``out_path`` and ``classes`` beside it (each atomically); returns both paths."""
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    cpath = classes_path(out)
    _atomic_parquet(classes, cpath)  # first, so a reader that sees the new runs table sees its classes
    _atomic_parquet(runs, out)
    return out, cpath


def read_tables(path: PathLike, classes: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a runs table and its companion classes table (empty if missing, or if ``classes`` is false)."""
    path = Path(path)
    runs = pd.read_parquet(path, engine="pyarrow")
    cpath = classes_path(path)
    if classes and cpath.exists():
        return runs, pd.read_parquet(cpath, engine="pyarrow")
    return runs, empty_classes_frame()


def write_results(dirs: Union[PathLike, Iterable[PathLike]], out_path: PathLike,
                  classes: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Collect ``dirs`` and write ``out_path`` (runs) and ``<stem>.classes.parquet``; never raises.

    Meant for the end of a multirun: bad run directories are skipped with a warning, and any other
    failure (e.g. a read-only disk) is logged and answered with whatever could be collected (empty
    tables at worst).
    """
    runs, cls = empty_runs_frame(), empty_classes_frame()
    try:
        runs, cls = collect(dirs, classes=classes)
        write_tables(runs, cls, out_path)
        log.info("wrote %s: %d runs, %d rows, %d class rows", out_path, runs["run_dir"].nunique(), len(runs), len(cls))
    except Exception:  # noqa: BLE001 - results collection must never break the sweep
        log.exception("could not write the results to %s", out_path)
    return runs, cls


# --------------------------------------------------------------------------------------------------
# Command line


def summary(runs: pd.DataFrame, classes: pd.DataFrame) -> str:
    """``12 runs (1,200 rows, 24,000 class rows): finished 10, failed 1, running 1``."""
    per_run = runs.drop_duplicates("run_dir")
    statuses = Counter(per_run["status"].fillna("unknown"))
    status = ", ".join(f"{k} {v}" for k, v in statuses.most_common())
    return f"{len(per_run)} runs ({len(runs):,} rows, {len(classes):,} class rows)" + (f": {status}" if status else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.collect",
        description="Collect int2int run directories (searched recursively for run.json) into parquet tables.")
    parser.add_argument("dirs", nargs="+", help="sweep or run directories")
    parser.add_argument("-o", "--output", default="results.parquet",
                        help="runs table (default: results.parquet); the classes table goes to <stem>.classes.parquet")
    parser.add_argument("--no-classes", action="store_true", help="skip the per-class table (faster)")
    parser.add_argument("-j", "--workers", type=int, default=None,
                        help="threads reading run directories (default: one per CPU, at most 8)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print errors")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    t0 = time.perf_counter()
    runs, cls = collect(args.dirs, classes=not args.no_classes, workers=args.workers)
    elapsed = time.perf_counter() - t0
    if runs.empty:
        print(f"no run directories (with {RUN_FILE}) found under: {' '.join(args.dirs)}", file=sys.stderr)
        return 1
    out, cpath = write_tables(runs, cls, args.output)
    print(f"collected {summary(runs, cls)} in {elapsed:.2f} s")
    print(f"wrote {out} and {cpath}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
