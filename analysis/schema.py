"""The columns and dtypes of the runs and classes tables, and how tables of several sweeps concatenate.

The layout is documented in ``analysis/README.md``: identity columns, then the config columns
(``choice.*`` then the dotted config), then ``overrides``/``started``/``error``, then the evaluation
columns and the metrics. Dtypes are fixed by name where a name says what a value is (``epoch`` is
an integer, ``*_acc`` a float) so that tables of different sweeps concatenate, and inferred from the
values elsewhere.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Sequence

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

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


def metric_dtype(name: str, inferred: str) -> str:
    """The dtype of metric column ``name`` whose values were read as ``inferred`` (a dtype name)."""
    numeric = inferred in (INT, FLOAT)
    if numeric and _INT_METRIC.search(name):
        return INT
    if numeric and _FLOAT_METRIC.search(name):
        return FLOAT
    return inferred


# --------------------------------------------------------------------------------------------------
# Columns of Python values (run-level fields and config values)


def infer_kind(name: str, values: Any, default: str = STRING) -> str:
    """The dtype of a column of Python values: fixed for known names, else inferred.

    Ints give ``Int64``, ints and floats ``float64``, booleans ``boolean``, text ``string``; a mix
    of types becomes ``string``; a column with no value gets ``default``.
    """
    fixed = FIXED_DTYPES.get(name)
    if fixed:
        return fixed
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    return {
        "integer": INT, "floating": FLOAT, "mixed-integer-float": FLOAT, "decimal": FLOAT,
        "boolean": BOOL, "string": STRING, "empty": default,
    }.get(inferred, STRING)


def typed_array(values: Any, kind: str, name: str) -> Any:
    """``values`` (Python objects, None for missing) as an array of dtype ``kind``.

    Values that do not fit (a float in an integer column, text among numbers) fall back to
    ``float64`` or ``string`` with a warning naming the column.
    """
    try:
        if kind == FLOAT:
            return np.array(values, dtype=np.float64)
        if kind in (INT, BOOL):
            return pd.array(values, dtype=kind)
    except (TypeError, ValueError, OverflowError):
        if kind == INT:
            try:
                arr = np.array(values, dtype=np.float64)
                log.warning("column %s: non-integer values, stored as float64", name)
                return arr
            except (TypeError, ValueError):
                pass
        log.warning("column %s: values of mixed types, stored as strings", name)
    return pd.array([None if v is None else v if isinstance(v, str) else to_str(v) for v in values], dtype=STRING)


def to_str(value: Any) -> str:
    """Text of a value: JSON for lists and dicts (``[0.9, 0.999]``), ``str`` otherwise."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return str(value)


def as_dtype(col: pd.Series, kind: str, name: str) -> pd.Series:
    """``col`` converted to ``kind``; like :func:`typed_array` when the values do not fit."""
    if str(col.dtype) == kind:
        return col
    try:
        return col.astype(kind)
    except (TypeError, ValueError, OverflowError):
        values = col.astype(object).where(col.notna(), None).tolist()
        return pd.Series(typed_array(values, kind, name), index=col.index, name=col.name)


def empty_column(kind: str, n: int) -> Any:
    """``n`` nulls of dtype ``kind``."""
    if kind == FLOAT:
        return np.full(n, np.nan)
    return pd.array([None] * n, dtype=kind)


def empty_runs_frame() -> pd.DataFrame:
    """A runs table with no rows and the fixed columns."""
    cols = ID_COLUMNS + RUN_EXTRA_COLUMNS + EVAL_COLUMNS
    return pd.DataFrame({c: empty_column(FIXED_DTYPES[c], 0) for c in cols})


def empty_classes_frame() -> pd.DataFrame:
    """A classes table with no rows."""
    return pd.DataFrame({c: empty_column(k, 0) for c, k in CLASSES_DTYPES.items()})


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
                cols[col] = s.array if s.dtype == targets[col] else s.astype(targets[col]).array
            else:
                cols[col] = empty_column(str(targets[col]), len(f))
        parts.append(pd.DataFrame(cols, index=pd.RangeIndex(len(f))))
    return pd.concat(parts, ignore_index=True)


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
