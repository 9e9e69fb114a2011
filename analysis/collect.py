"""Collect int2int run directories into two tidy tables and write them as parquet.

A *run directory* holds ``run.json`` (config, group choices, overrides), ``status.json`` and
``metrics.jsonl`` (one JSON object per evaluation). :func:`collect` finds every run directory under
the given paths and returns:

- the **runs** table: one row per run and evaluation (one row with null metrics for a run that has
  not evaluated yet), with the run's identity and status, its config flattened to dotted columns,
  and every metric of the evaluation;
- the **classes** table: one row per run, evaluation, eval set and class, with the per-class
  counts.

The schema is documented in ``analysis/README.md``. Command line::

    python -m analysis.collect SWEEP_DIR [SWEEP_DIR ...] [-o results.parquet]
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from itertools import chain
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, Union

import numpy as np
import pandas as pd

try:  # optional: about 2x faster than json on metrics lines
    import orjson

    def _loads(data: bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:  # NaN / Infinity (json.dumps(allow_nan=True)) are not in orjson
            return json.loads(data)

except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads

log = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

RUN_FILE, STATUS_FILE, METRICS_FILE = "run.json", "status.json", "metrics.jsonl"

#: Identity columns, first in the runs table. Config columns (``choice.*`` then the flattened
#: config) come right after ``status`` and end right before ``overrides``.
ID_COLUMNS = ["run_id", "run_dir", "sweep_dir", "job_num", "status"]
#: Run-level columns written after the config columns.
RUN_EXTRA_COLUMNS = ["overrides", "started", "error"]
#: Per-evaluation columns always present (null when a line lacks them); metric columns follow.
EVAL_COLUMNS = ["epoch", "examples", "steps", "wall_time", "train_loss", "lr"]
CLASSES_COLUMNS = ["run_id", "run_dir", "epoch", "examples", "eval_set", "class", "count", "correct", "acc"]

STRING, INT, FLOAT, BOOL = "string", "Int64", "float64", "boolean"
FIXED_DTYPES = {
    "run_id": STRING, "run_dir": STRING, "sweep_dir": STRING, "job_num": INT, "status": STRING,
    "overrides": STRING, "started": STRING, "error": STRING,
    "epoch": INT, "examples": INT, "steps": INT, "wall_time": FLOAT, "train_loss": FLOAT, "lr": FLOAT,
}
CLASSES_DTYPES = {
    "run_id": STRING, "run_dir": STRING, "epoch": INT, "examples": INT, "eval_set": STRING,
    "class": STRING, "count": INT, "correct": INT, "acc": FLOAT,
}
# Metric columns whose dtype is fixed by name, so that tables of different sweeps concatenate even
# when a JSON writer printed 1 instead of 1.0. Any other column's dtype is inferred from its values.
_FLOAT_METRIC = re.compile(r"(acc|perfect|correct|loss|time|lr)$")
_INT_METRIC = re.compile(r"_(size|gcd_learned)$")


# --------------------------------------------------------------------------------------------------
# Finding and reading run directories


def find_run_dirs(paths: Iterable[PathLike]) -> list[Path]:
    """Every run directory (one holding ``run.json``) at or under ``paths``, absolute, without repeats.

    The search does not descend into a run directory. Sub-directories are visited in natural
    order (``2`` before ``10``); a path that does not exist is reported and skipped.
    """
    found: list[Path] = []
    seen: set[str] = set()
    for p in paths:
        root = Path(p).expanduser()
        if root.is_file() and root.name == RUN_FILE:
            root = root.parent
        if not root.is_dir():
            log.warning("%s: not a directory, skipped", root)
            continue
        for dirpath, dirnames, filenames in os.walk(root.resolve()):
            if RUN_FILE in filenames:
                dirnames[:] = []
                if dirpath not in seen:
                    seen.add(dirpath)
                    found.append(Path(dirpath))
            else:
                dirnames[:] = sorted((d for d in dirnames if not d.startswith(".")), key=_natural_key)
    return found


def _natural_key(name: str) -> list[Any]:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t]


Report = Callable[..., None]  # report(level, msg, *args), like Logger.log


def read_metrics_lines(path: Path, report: Report = log.log) -> list[dict[str, Any]]:
    """The evaluation records of a ``metrics.jsonl`` file.

    A partly written last line (a process killed mid-write) is ignored with a warning; any other
    malformed line is skipped with a warning naming the file and line number. Blank lines are skipped.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")
    last = len(lines) - 1
    while last >= 0 and not lines[last].strip():
        last -= 1
    records = []
    for i, line in enumerate(lines[: last + 1]):
        if not line.strip():
            continue
        try:
            rec = _loads(line)
        except ValueError:
            if i == last:
                report(logging.WARNING, "%s: ignoring a partly written last line (line %d)", path, i + 1)
            else:
                report(logging.WARNING, "%s:%d: skipping a malformed line", path, i + 1)
            continue
        if isinstance(rec, dict):
            records.append(rec)
        else:
            report(logging.WARNING, "%s:%d: skipping a line that is not a JSON object", path, i + 1)
    return _drop_repeated_evaluations(records, path, report)


def _drop_repeated_evaluations(records: list[dict[str, Any]], path: Path, report: Report) -> list[dict[str, Any]]:
    """Keep the last record of each (epoch, steps, examples): a resumed run may log an evaluation twice."""
    keys = [(r.get("epoch"), r.get("steps"), r.get("examples")) for r in records]
    if len(set(keys)) == len(keys):
        return records
    none = (None, None, None)
    last = {k: i for i, k in enumerate(keys) if k != none}
    kept = [r for i, (r, k) in enumerate(zip(records, keys)) if k == none or last[k] == i]
    if len(kept) < len(records):
        report(logging.INFO, "%s: %d repeated evaluations replaced by their last record", path, len(records) - len(kept))
    return kept


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


def read_run(run_dir: Path, report: Report = log.log) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """``(run fields, flattened config, metrics records)`` of a run directory; raises if ``run.json`` is bad.

    The run fields are the identity columns, ``overrides``, ``started`` and ``error``; the config
    holds ``choice.<group>`` keys then the dotted config keys.
    """
    run_dir = Path(run_dir)
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
    return fields, config, read_metrics_lines(run_dir / METRICS_FILE, report)


def _last_line(error: Any) -> str | None:
    """The last non-blank line of a traceback (``ValueError: ...``): the full text stays in status.json."""
    if error is None:
        return None
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    return lines[-1] if lines else None


# --------------------------------------------------------------------------------------------------
# Typed columns


def _kind_of(name: str, values: Any, default: str, metric: bool = False) -> str:
    """The dtype of a column: fixed for known names and metric names, else inferred from the values."""
    fixed = FIXED_DTYPES.get(name)
    if fixed:
        return fixed
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if metric:
        if _INT_METRIC.search(name) and inferred in ("integer", "floating", "mixed-integer-float", "empty"):
            return INT
        if _FLOAT_METRIC.search(name) and inferred in ("integer", "floating", "mixed-integer-float", "empty"):
            return FLOAT
    return {
        "integer": INT, "floating": FLOAT, "mixed-integer-float": FLOAT, "decimal": FLOAT,
        "boolean": BOOL, "string": STRING, "empty": default,
    }.get(inferred, STRING)


def _typed_array(values: Any, kind: str, name: str) -> Any:
    """``values`` (Python objects, None for missing) as an array of dtype ``kind``; falls back gracefully."""
    try:
        if kind == FLOAT:
            return np.array(values, dtype=np.float64)
        if kind == INT:
            return pd.array(values, dtype=INT)
        if kind == BOOL:
            return pd.array(values, dtype=BOOL)
    except (TypeError, ValueError, OverflowError):
        if kind == INT:
            try:
                arr = np.array(values, dtype=np.float64)
                log.warning("column %s: non-integer values, stored as float64", name)
                return arr
            except (TypeError, ValueError):
                pass
        log.warning("column %s: values of mixed types, stored as strings", name)
    return pd.array([None if v is None else v if isinstance(v, str) else _to_str(v) for v in values], dtype=STRING)


def _to_str(value: Any) -> str:
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return str(value)


def _empty(kind: str, n: int) -> Any:
    if kind == FLOAT:
        return np.full(n, np.nan)
    return pd.array([None] * n, dtype=kind)


def _take(arr: Any, idx: np.ndarray) -> Any:
    return arr[idx] if isinstance(arr, np.ndarray) else arr.take(idx)


# --------------------------------------------------------------------------------------------------
# Reading many runs into flat columns (in worker processes when there are many)


class _Classes:
    """The ``classes`` objects of evaluations as flat arrays (one item per class row)."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []  # runs-table row (evaluation) of each class row
        self.sets: list[np.ndarray] = []  # code of the eval set name
        self.codes: list[np.ndarray] = []  # code of the class key
        self.pairs: list[np.ndarray] = []  # (count, n_correct), shape (n, 2)
        self.set_codes: dict[str, int] = {}
        self.class_codes: dict[str, int] = {}
        self._keys_cache: dict[tuple[str, ...], np.ndarray] = {}

    def add_run(self, rows: list[int], records: list[Any], where: Path, report: Report) -> None:
        """Add the ``classes`` objects of one run's evaluations (``rows``: their runs-table rows)."""
        per_set: dict[str, tuple[list[int], list[dict[str, Any]]]] = {}
        for row, classes in zip(rows, records):
            if not isinstance(classes, dict):
                report(logging.WARNING, "%s/%s: 'classes' is not an object, ignored", where, METRICS_FILE)
                continue
            for set_name, per_class in classes.items():
                if isinstance(per_class, dict) and per_class:
                    entry = per_set.get(set_name)
                    if entry is None:
                        entry = per_set[set_name] = ([], [])
                    entry[0].append(row)
                    entry[1].append(per_class)
        for set_name, (set_rows, dicts) in per_set.items():
            # Fast path: every evaluation of this set has the same class keys (the usual case).
            keys = tuple(dicts[0])
            if all(len(d) == len(keys) for d in dicts) and all(tuple(d) == keys for d in dicts):
                pairs = _int_pairs(chain.from_iterable(d.values() for d in dicts), len(keys) * len(dicts))
                if pairs is not None:
                    self._append(set_name, np.repeat(np.asarray(set_rows, np.int64), len(keys)),
                                 np.tile(self._codes(keys), len(dicts)), pairs)
                    continue
            for row, per_class in zip(set_rows, dicts):
                keys = tuple(per_class)
                pairs = _int_pairs(per_class.values(), len(keys))
                if pairs is None:
                    keys, pairs = self._clean(per_class, where, report)
                    if not keys:
                        continue
                self._append(set_name, np.full(len(keys), row, np.int64), self._codes(keys), pairs)

    def _codes(self, keys: tuple[str, ...]) -> np.ndarray:
        codes = self._keys_cache.get(keys)
        if codes is None:
            codes = np.array([self.class_codes.setdefault(str(k), len(self.class_codes)) for k in keys], np.int64)
            self._keys_cache[keys] = codes
        return codes

    def _append(self, set_name: str, rows: np.ndarray, codes: np.ndarray, pairs: np.ndarray) -> None:
        code = self.set_codes.setdefault(str(set_name), len(self.set_codes))
        self.rows.append(rows)
        self.sets.append(np.full(len(rows), code, np.int64))
        self.codes.append(codes)
        self.pairs.append(pairs)

    @staticmethod
    def _clean(per_class: dict[str, Any], where: Path, report: Report) -> tuple[tuple[str, ...], np.ndarray]:
        keys, pairs = [], []
        for k, v in per_class.items():
            if (isinstance(v, (list, tuple)) and len(v) == 2
                    and all(isinstance(x, (int, float)) and not isinstance(x, bool) and x == x for x in v)):
                keys.append(k)
                pairs.append((int(v[0]), int(v[1])))
        report(logging.WARNING, "%s/%s: %d malformed class entries ignored (expected [count, n_correct])",
               where, METRICS_FILE, len(per_class) - len(keys))
        return tuple(keys), np.array(pairs, dtype=np.int64).reshape(-1, 2)

    def finish(self) -> None:
        """Concatenate the pieces (cheaper to send back from a worker process)."""
        for name in ("rows", "sets", "codes"):
            parts = getattr(self, name)
            setattr(self, name, [np.concatenate(parts)] if len(parts) > 1 else parts)
        if len(self.pairs) > 1:
            self.pairs = [np.concatenate(self.pairs)]
        self._keys_cache = {}


def _int_pairs(entries: Iterable[Any], n: int) -> np.ndarray | None:
    """``n`` entries ``[count, n_correct]`` as an ``(n, 2)`` int64 array, or None if any is malformed."""
    try:
        flat = np.fromiter(chain.from_iterable(entries), dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        return None
    return flat.reshape(n, 2) if len(flat) == 2 * n else None


class _Chunk:
    """Run directories read into flat columns: run-level fields and sparse per-evaluation columns."""

    def __init__(self) -> None:
        self.run_fields: list[dict[str, Any]] = []
        self.run_configs: list[dict[str, Any]] = []
        self.n_rows: list[int] = []  # rows of each run in the runs table (at least 1)
        self.total = 0  # rows in all
        # column -> (row index parts, value parts): rows of the runs table holding a value
        self.eval_cols: dict[str, tuple[list[Any], list[Any]]] = {}
        self.classes = _Classes()
        self.messages: list[tuple[int, str, tuple[Any, ...]]] = []

    def read(self, run_dirs: Sequence[Path], classes: bool, report: Report) -> "_Chunk":
        for run_dir in run_dirs:
            try:
                fields, config, records = read_run(run_dir, report)
            except Exception as e:  # noqa: BLE001 - a bad run directory must not stop the collection
                report(logging.WARNING, "%s: skipped, cannot read the run (%s: %s)", run_dir, type(e).__name__, e)
                continue
            self._add_run(run_dir, fields, config, records, classes, report)
        return self

    def _add_run(self, run_dir: Path, fields: dict[str, Any], config: dict[str, Any],
                 records: list[dict[str, Any]], classes: bool, report: Report) -> None:
        self.run_fields.append(fields)
        self.run_configs.append(config)
        self.n_rows.append(max(len(records), 1))
        row = self.total
        self.total += max(len(records), 1)
        # The records of a run nearly always share their keys: transpose each group of records with
        # the same keys at C speed rather than visiting every value in Python.
        groups: dict[tuple[str, ...], tuple[list[int], list[dict[str, Any]]]] = {}
        class_rows: list[int] = []
        class_records: list[Any] = []
        for rec in records:
            per_class = rec.pop("classes", None)
            rec.pop("eval_sets", None)
            if classes and per_class is not None:
                class_rows.append(row)
                class_records.append(per_class)
            group = groups.get(keys := tuple(rec))
            if group is None:
                group = groups[keys] = ([], [])
            group[0].append(row)
            group[1].append(rec)
            row += 1
        for keys, (rows, recs) in groups.items():
            for key, values in zip(keys, zip(*(r.values() for r in recs))):
                col = self.eval_cols.get(key)
                if col is None:
                    col = self.eval_cols[key] = ([], [])
                col[0].append(rows)
                col[1].append(values)
        if class_rows:
            self.classes.add_run(class_rows, class_records, run_dir, report)

    def finish(self) -> "_Chunk":
        for key, (idx, vals) in self.eval_cols.items():
            self.eval_cols[key] = ([np.fromiter(chain.from_iterable(idx), np.int64)], [list(chain.from_iterable(vals))])
        self.classes.finish()
        return self

    def extend(self, other: "_Chunk") -> None:
        """Append the runs of ``other`` (rows renumbered, class codes translated)."""
        offset = self.total
        self.run_fields.extend(other.run_fields)
        self.run_configs.extend(other.run_configs)
        self.n_rows.extend(other.n_rows)
        self.total += other.total
        for key, (idx, vals) in other.eval_cols.items():
            col = self.eval_cols.get(key)
            if col is None:
                col = self.eval_cols[key] = ([], [])
            col[0].extend(np.asarray(i, np.int64) + offset for i in idx)
            col[1].extend(vals)
        mine, theirs = self.classes, other.classes
        set_map = np.array([mine.set_codes.setdefault(s, len(mine.set_codes)) for s in theirs.set_codes], np.int64)
        class_map = np.array([mine.class_codes.setdefault(c, len(mine.class_codes)) for c in theirs.class_codes], np.int64)
        mine.rows.extend(r + offset for r in theirs.rows)
        mine.sets.extend(set_map[s] for s in theirs.sets)
        mine.codes.extend(class_map[c] for c in theirs.codes)
        mine.pairs.extend(theirs.pairs)


def _read_chunk_in_worker(run_dirs: Sequence[Path], classes: bool) -> _Chunk:
    gc.disable()
    chunk = _Chunk()
    chunk.read(run_dirs, classes, lambda level, msg, *args: chunk.messages.append((level, msg, args)))
    return chunk.finish()


def _default_workers(n_runs: int) -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    if cpus < _MIN_CPUS:
        return 1
    return max(1, min(cpus, n_runs // _RUNS_PER_WORKER))


_RUNS_PER_WORKER = 100  # below this many runs per process, a process pool does not pay for itself
_MIN_CPUS = 4  # on 2 CPUs (often shared) the pool was measured no faster than one process


def _read_all(run_dirs: list[Path], classes: bool, workers: int) -> _Chunk:
    if workers > 1:
        try:
            return _read_parallel(run_dirs, classes, workers)
        except (OSError, ImportError, RuntimeError) as e:  # no fork, no semaphores...: read in this process
            log.info("reading in one process (a process pool failed: %s)", e)
    return _Chunk().read(run_dirs, classes, log.log).finish()


def _read_parallel(run_dirs: list[Path], classes: bool, workers: int) -> _Chunk:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork: the workers start at once (no re-import of pandas) and only read files and use numpy.
    # Forking a process with other threads can deadlock: start a clean server process then.
    method = None  # the platform's default (spawn on macOS and Windows)
    if sys.platform.startswith("linux"):
        method = "fork" if threading.active_count() == 1 else "forkserver"
    n_chunks = min(len(run_dirs), 4 * workers)
    bounds = np.linspace(0, len(run_dirs), n_chunks + 1).astype(int)
    pieces = [run_dirs[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    result = _Chunk()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        for chunk in pool.map(_read_chunk_in_worker, pieces, [classes] * len(pieces)):
            for level, msg, args in chunk.messages:
                log.log(level, msg, *args)
            result.extend(chunk)
    return result


# --------------------------------------------------------------------------------------------------
# Collection


def collect(dirs: Union[PathLike, Iterable[PathLike]], classes: bool = True,
            workers: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Collect every run directory at or under ``dirs`` into ``(runs_df, classes_df)``.

    A run directory that cannot be read (no valid ``run.json``, unreadable files) is skipped with a
    warning; this function raises only on programming errors. With ``classes=False`` the classes
    table is returned empty (faster when the per-class counts are not needed). ``workers``: processes
    reading run directories (default: one per CPU for collections of a few hundred runs or more, on
    machines with at least 4 CPUs; else 1).
    """
    if isinstance(dirs, (str, os.PathLike)):
        dirs = [dirs]
    run_dirs = find_run_dirs(dirs)
    if workers is None:
        workers = _default_workers(len(run_dirs))
    # Millions of small containers are created and kept: the cyclic garbage collector would rescan
    # them over and over (several times slower). Nothing here makes reference cycles.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        data = _read_all(run_dirs, classes, workers)
        runs = _runs_frame(data)
        return runs, _classes_frame(runs, data.classes)
    finally:
        if gc_was_enabled:
            gc.enable()


def _runs_frame(data: _Chunk) -> pd.DataFrame:
    total = data.total
    run_of_row = np.repeat(np.arange(len(data.n_rows)), data.n_rows)
    columns: dict[str, Any] = {}

    def add_run_column(name: str, values: list[Any]) -> None:
        arr = _typed_array(values, _kind_of(name, values, STRING), name)
        columns[name] = _take(arr, run_of_row)

    for name in ID_COLUMNS:
        add_run_column(name, [f[name] for f in data.run_fields])
    for name in _config_order(data.run_configs):
        out = f"config.{name}" if name in FIXED_DTYPES else name
        if out != name:
            log.warning("config key %r clashes with a fixed column, stored as %r", name, out)
        add_run_column(out, [c.get(name) for c in data.run_configs])
    for name in RUN_EXTRA_COLUMNS:
        add_run_column(name, [f[name] for f in data.run_fields])

    for name in EVAL_COLUMNS + [k for k in data.eval_cols if k not in EVAL_COLUMNS]:
        out = name
        if name in columns:
            out = f"metrics.{name}"
            log.warning("metrics key %r clashes with a run column, stored as %r", name, out)
        if name not in data.eval_cols:
            columns[out] = _empty(FIXED_DTYPES[name], total)
            continue
        idx, vals = data.eval_cols[name]
        full = np.full(total, None, dtype=object)
        full[np.concatenate(idx) if idx else np.zeros(0, np.int64)] = _object_array(list(chain.from_iterable(vals)))
        columns[out] = _typed_array(full, _kind_of(name, full, FLOAT, metric=True), name)
    return pd.DataFrame(columns, index=pd.RangeIndex(total))


def _object_array(values: list[Any]) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


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


def _classes_frame(runs: pd.DataFrame, acc: _Classes) -> pd.DataFrame:
    if not acc.rows:
        return empty_classes_frame()
    rows = np.concatenate(acc.rows)
    pairs = np.concatenate(acc.pairs)
    counts, correct = pairs[:, 0], pairs[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(counts > 0, correct / np.maximum(counts, 1), np.nan)
    return pd.DataFrame({
        "run_id": runs["run_id"].array.take(rows),
        "run_dir": runs["run_dir"].array.take(rows),
        "epoch": runs["epoch"].array.take(rows),
        "examples": runs["examples"].array.take(rows),
        "eval_set": pd.array(list(acc.set_codes), dtype=STRING).take(np.concatenate(acc.sets)),
        "class": pd.array(list(acc.class_codes), dtype=STRING).take(np.concatenate(acc.codes)),
        "count": pd.array(counts, dtype=INT),
        "correct": pd.array(correct, dtype=INT),
        "acc": ratio.astype(np.float64),
    })


def empty_runs_frame() -> pd.DataFrame:
    """A runs table with no rows and the fixed columns."""
    cols = ID_COLUMNS + RUN_EXTRA_COLUMNS + EVAL_COLUMNS
    return pd.DataFrame({c: _empty(FIXED_DTYPES[c], 0) for c in cols})


def empty_classes_frame() -> pd.DataFrame:
    """A classes table with no rows."""
    return pd.DataFrame({c: _empty(k, 0) for c, k in CLASSES_DTYPES.items()})


# --------------------------------------------------------------------------------------------------
# Combining tables of several sweeps


def concat_tables(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate tables (e.g. of several sweeps) giving each column a single dtype.

    A column missing from a frame, or null throughout it, takes the dtype of the others; ``Int64``
    and ``float64`` meet as ``float64``; any other disagreement becomes ``string``. In a runs table
    the config columns stay between ``status`` and ``overrides``.
    """
    frames = [f for f in frames if f is not None]
    if not frames:
        return empty_runs_frame()
    if len(frames) == 1:
        return frames[0]
    order = _merged_column_order(frames)
    targets: dict[str, Any] = {}
    for col in order:
        dtypes = [f[col].dtype for f in frames if col in f.columns and f[col].notna().any()]
        if not dtypes:
            dtypes = [f[col].dtype for f in frames if col in f.columns]
        targets[col] = _common_dtype(dtypes)
    parts = []
    for f in frames:
        cols = {}
        for col in order:
            if col in f.columns:
                s = f[col]
                cols[col] = s.array if s.dtype == targets[col] else _convert(s, targets[col]).array
            else:
                cols[col] = _empty(str(targets[col]) if str(targets[col]) != "float64" else FLOAT, len(f))
        parts.append(pd.DataFrame(cols, index=pd.RangeIndex(len(f))))
    return pd.concat(parts, ignore_index=True)


def _convert(s: pd.Series, dtype: Any) -> pd.Series:
    return s.astype(dtype)


def _common_dtype(dtypes: list[Any]) -> Any:
    names = {str(d) for d in dtypes}
    if len(names) == 1:
        return dtypes[0]
    if names <= {"Int64", "int64", "float64", "Float64"}:
        return np.dtype("float64") if names & {"float64", "Float64"} else INT
    return STRING


def _merged_column_order(frames: Sequence[pd.DataFrame]) -> list[str]:
    def sections(f: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
        cols = list(f.columns)
        if "status" in cols and "overrides" in cols:
            i, j = cols.index("status") + 1, cols.index("overrides")
            return cols[:i], cols[i:j], cols[j:]
        return cols, [], []

    merged: tuple[list[str], list[str], list[str]] = ([], [], [])
    seen: set[str] = set()
    for f in frames:
        for part, out in zip(sections(f), merged):
            for c in part:
                if c not in seen:
                    seen.add(c)
                    out.append(c)
    head, config, tail = merged
    config = [c for c in config if c.startswith("choice.")] + [c for c in config if not c.startswith("choice.")]
    return head + config + tail


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
                        help="processes reading run directories (default: one per CPU for large collections)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print errors")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
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
