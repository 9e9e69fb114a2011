"""Helpers on the runs table shared by :mod:`analysis.plot` and :mod:`analysis.table`.

Column roles follow the layout written by :mod:`analysis.collect`: the config columns
(``choice.*`` then the dotted config) sit between ``status`` and ``overrides``; the metric columns
come after ``lr``.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .schema import EVAL_COLUMNS, FIXED_DTYPES, ID_COLUMNS, RUN_EXTRA_COLUMNS

log = logging.getLogger(__name__)

#: Run-specific config keys: their values identify a run rather than a setting worth comparing.
_RUN_SPECIFIC = re.compile(
    r"(^|[._])(([a-z0-9_]*_)?(seed|path|paths|dir|dirs|file|files)|dump[a-z0-9_]*|exp_id|exp_name|run_id|job_id"
    r"|job_num|output[a-z0-9_]*|checkpoint[a-z0-9_]*|resume[a-z0-9_]*)$")
_FRACTION_METRIC = re.compile(r"(acc|perfect|correct)$")
_NON_CONFIG = set(FIXED_DTYPES) | {"run_dir"}


def config_columns(runs: pd.DataFrame) -> list[str]:
    """The config columns (``choice.*`` and dotted config keys) of a runs table."""
    cols = list(runs.columns)
    if "status" in cols and "overrides" in cols:
        return cols[cols.index("status") + 1: cols.index("overrides")]
    return [c for c in cols if "." in c and not c.startswith("metrics.") and c not in _NON_CONFIG]


def metric_columns(runs: pd.DataFrame) -> list[str]:
    """The per-evaluation metric columns (``valid_acc``, ``test_xe_loss``...), after ``lr``."""
    cols = list(runs.columns)
    if "lr" in cols:
        return cols[cols.index("lr") + 1:]
    return [c for c in cols if c not in _NON_CONFIG and c not in config_columns(runs)]


def is_run_specific(key: str) -> bool:
    """True for keys like ``seed``, ``data.train_path``, ``dump_dir``: they vary by run, not by setting."""
    return bool(_RUN_SPECIFIC.search(key.lower()))


def lower_is_better(metric: str) -> bool:
    """``*loss`` metrics are minimised; every other metric is maximised."""
    return "loss" in metric


def is_fraction_metric(metric: str) -> bool:
    """Accuracy-like metrics (``*acc``, ``*perfect``, ``*correct``): fractions in [0, 1]."""
    return bool(_FRACTION_METRIC.search(metric))


def runs_only(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run (its first row): the run-level columns are the same on every row of a run."""
    return runs.drop_duplicates("run_dir")


def override_keys(runs: pd.DataFrame) -> list[str]:
    """Config columns named by the runs' overrides (``encoding.base=30`` -> ``encoding.base``,
    ``encoding=balanced`` -> ``choice.encoding``), in order of first appearance."""
    if "overrides" not in runs.columns:
        return []
    cols = set(config_columns(runs))
    keys: list[str] = []
    for text in runs_only(runs)["overrides"].dropna().unique():
        for token in str(text).split():
            name = token.split("=", 1)[0].lstrip("+~")
            for key in (name, f"choice.{name}"):
                if key in cols and key not in keys:
                    keys.append(key)
    return keys


def varying_keys(runs: pd.DataFrame, include_run_specific: bool = False) -> list[str]:
    """Config keys whose value differs between runs, most relevant first.

    Run-specific keys (seeds, paths: :func:`is_run_specific`) are left out unless nothing else varies
    (or ``include_run_specific``). Keys that split the runs the same way (``choice.encoding`` and
    ``encoding.name``) are reported once. Keys named in the overrides come first.
    """
    per_run = runs_only(runs)
    if len(per_run) < 2:
        return []
    varying: list[str] = []
    partitions: set[bytes] = set()
    first = override_keys(runs)
    for col in first + [c for c in config_columns(runs) if c not in first]:
        codes, uniques = pd.factorize(per_run[col].astype("string").fillna("<NA>"), sort=False)
        if len(uniques) < 2:
            continue
        signature = codes.astype(np.int64).tobytes()
        if signature in partitions:
            continue
        partitions.add(signature)
        varying.append(col)
    meaningful = [k for k in varying if not is_run_specific(k)]
    if include_run_specific or not meaningful:
        return varying
    return meaningful


def last_rows(runs: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """The last evaluation of each run (the last one with a value of ``metric`` if given)."""
    df = runs if metric is None else runs[runs[metric].notna()]
    return df.groupby("run_dir", sort=False, dropna=False).tail(1)


def best_rows(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The evaluation of each run with the best ``metric`` (lowest for losses)."""
    df = runs[runs[metric].notna()]
    if df.empty:
        return df
    values = df[metric].astype("float64")
    idx = (values.groupby(df["run_dir"], sort=False).idxmin() if lower_is_better(metric)
           else values.groupby(df["run_dir"], sort=False).idxmax())
    return df.loc[idx.to_numpy()]


def per_run_values(runs: pd.DataFrame, metric: str, agg: str = "final") -> pd.DataFrame:
    """One row per run holding a value of ``metric``: its last evaluation (``final``) or its best."""
    if agg == "final":
        return last_rows(runs, metric)
    if agg == "best":
        return best_rows(runs, metric)
    raise ValueError(f"agg must be 'final' or 'best', not {agg!r}")


def filter_runs(runs: pd.DataFrame, where: Iterable[str] | None) -> pd.DataFrame:
    """Rows matching every ``KEY=VALUE`` / ``KEY!=VALUE`` condition (values compared as numbers when both are)."""
    for cond in where or []:
        m = re.fullmatch(r"\s*([^!=\s]+)\s*(!=|==|=)\s*(.*?)\s*", cond)
        if not m:
            raise ValueError(f"bad filter {cond!r}: expected KEY=VALUE or KEY!=VALUE")
        key, op, value = m.groups()
        if key not in runs.columns:
            raise KeyError(f"no column {key!r} to filter on")
        mask = _equals(runs[key], value)
        runs = runs[~mask if op == "!=" else mask]
    return runs


def _equals(col: pd.Series, value: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        try:
            return (col.astype("float64") == float(value)).fillna(False).astype(bool)
        except ValueError:
            pass
    if value.lower() in ("none", "null", "nan", "<na>"):
        return col.isna()
    return (col.astype("string") == value).fillna(False).astype(bool)


def sorted_values(values: Iterable[Any]) -> list[Any]:
    """Distinct non-null values, numbers in numeric order, then strings in natural order."""
    uniq = pd.unique(pd.Series(list(values), dtype=object).dropna())
    return sorted(uniq, key=sort_key)


def sort_key(v: Any) -> tuple[Any, ...]:
    """Numbers by value first, then strings in natural order (``r2`` before ``r10``)."""
    if isinstance(v, (bool, np.bool_)):
        return (0, float(v), ())
    if isinstance(v, (int, float, np.integer, np.floating)) and not math.isnan(float(v)):
        return (0, float(v), ())
    try:
        return (0, float(str(v)), ())
    except ValueError:
        return (1, 0.0, tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", str(v)) if t))


def format_value(v: Any) -> str:
    """A config value as a short label: ``30``, ``0.0001``, ``True``, ``none``."""
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return "none"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}"
    return str(v)


def describe_keys(keys: Sequence[str], values: Sequence[Any]) -> str:
    """``encoding.base=30, seed=0``."""
    return ", ".join(f"{k}={format_value(v)}" for k, v in zip(keys, values))


def short_key(key: str) -> str:
    """``architecture.n_enc_layers`` -> ``n_enc_layers`` (``choice.encoding`` -> ``encoding``)."""
    return key.rsplit(".", 1)[-1]


__all__ = [
    "config_columns", "metric_columns", "is_run_specific", "lower_is_better", "is_fraction_metric",
    "runs_only", "override_keys", "varying_keys", "last_rows", "best_rows", "per_run_values", "filter_runs",
    "sorted_values", "sort_key", "format_value", "describe_keys", "short_key",
    "ID_COLUMNS", "RUN_EXTRA_COLUMNS", "EVAL_COLUMNS",
]
