"""A Markdown summary of collected results, one row per value of the swept key(s).

    python -m analysis.table results.parquet --by encoding.base
    python -m analysis.table results.parquet --by encoding.base architecture.n_enc_layers --metric test_acc

Like Table 2 of the GCD paper (best of N runs): for each group of runs, the number of runs, the best
accuracy over all evaluations, the best final accuracy, the number of GCD learned (when a
``*_gcd_learned`` column exists), and how long the runs trained.
"""

from __future__ import annotations

import argparse
import logging
import math
import numbers
import sys
from collections import Counter
from typing import Any, Sequence

import pandas as pd

from .frames import (
    filter_runs,
    format_value,
    is_fraction_metric,
    last_rows,
    lower_is_better,
    runs_only,
    sort_key,
    varying_keys,
)

log = logging.getLogger(__name__)

AUTO = "auto"


def gcd_column(runs: pd.DataFrame, metric: str) -> str | None:
    """The ``*_gcd_learned`` column of the metric's eval set (``valid_acc`` -> ``valid_gcd_learned``),
    else the first ``*_gcd_learned`` column, else None."""
    cols = [c for c in runs.columns if c.endswith("_gcd_learned")]
    prefix = metric.rsplit("_", 1)[0] if "_" in metric else metric
    for c in cols:
        if c == f"{prefix}_gcd_learned":
            return c
    return cols[0] if cols else None


def summary_table(runs: pd.DataFrame, by: Sequence[str] | None = None, metric: str = "valid_acc",
                  scale: float | None = None, gcd: str | None = AUTO) -> pd.DataFrame:
    """One row per value of the ``by`` key(s) (default: the config keys that vary across runs).

    Columns: the keys, ``runs``, ``best <metric>`` (best over all evaluations of all runs of the
    group), ``last <metric>`` (best over the runs of their last evaluation), ``GCD learned`` (best of
    the ``gcd`` column, if any), ``epochs`` and ``examples`` (the most any run of the group reached),
    and ``status`` when some run did not finish. Fraction metrics are multiplied by ``scale``
    (default: 100 for accuracies within [0, 1], giving percentages; the headers then end in ``(%)``).
    """
    if metric not in runs.columns:
        raise KeyError(f"no metric column {metric!r} (try one of: "
                       f"{', '.join(c for c in runs.columns if c.endswith('_acc')) or 'none'})")
    by = list(varying_keys(runs) if by is None else by)
    for key in by:
        if key not in runs.columns:
            raise KeyError(f"no column {key!r} to group by")
    values = runs[metric].astype("float64")
    if scale is None:
        v = values.dropna()
        scale = 100.0 if is_fraction_metric(metric) and len(v) and v.min() >= 0 and v.max() <= 1 else 1.0
    unit = " (%)" if scale == 100 else ""
    lower = lower_is_better(metric)
    gcd = gcd_column(runs, metric) if gcd == AUTO else gcd
    if gcd is not None and gcd not in runs.columns:
        raise KeyError(f"no column {gcd!r}")

    per_run = runs_only(runs)[["run_dir", "status", *by]].set_index("run_dir")
    grouped = runs.assign(_v=values).groupby("run_dir", sort=False)
    per_run["_best"] = grouped["_v"].min() if lower else grouped["_v"].max()
    per_run["_last"] = last_rows(runs, metric).set_index("run_dir")[metric].astype("float64")
    if gcd:
        per_run["_gcd"] = grouped[gcd].max()
    per_run["_epochs"] = grouped["epoch"].max()
    per_run["_examples"] = grouped["examples"].max()

    best_col, last_col = f"best {metric}{unit}", f"last {metric}{unit}"
    rows = []
    groups = per_run.groupby(by, dropna=False, sort=False) if by else [((), per_run)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        pick = "min" if lower else "max"
        row: dict[str, Any] = {k: _clean(v) for k, v in zip(by, key)}
        row["runs"] = len(g)
        row[best_col] = _agg(g["_best"], pick) * scale
        row[last_col] = _agg(g["_last"], pick) * scale
        if gcd:
            row["GCD learned"] = _agg(g["_gcd"], "max")
        row["epochs"] = _agg(g["_epochs"], "max")
        row["examples"] = _agg(g["_examples"], "max")
        statuses = Counter(g["status"].fillna("unknown"))
        row["status"] = ", ".join(f"{n} {s}" for s, n in statuses.most_common())
        rows.append(row)
    table = pd.DataFrame(rows)
    if by:
        order = sorted(range(len(table)), key=lambda i: tuple(_sort_key_na(table.at[i, k]) for k in by))
        table = table.iloc[order].reset_index(drop=True)
    if (per_run["status"] == "finished").all():
        table = table.drop(columns="status")
    return table


def _clean(v: Any) -> Any:
    return None if v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v


def _sort_key_na(v: Any) -> tuple[int, Any]:
    return (1, ()) if v is None else (0, sort_key(v))


def _agg(s: pd.Series, how: str) -> float:
    s = pd.to_numeric(s, errors="coerce").dropna()
    if s.empty:
        return math.nan
    return float(s.min() if how == "min" else s.max())


def to_markdown(table: pd.DataFrame, transpose: bool = False) -> str:
    """A GitHub Markdown table: numbers right-aligned, missing values as ``-``.

    ``transpose``: one column per group and one row per statistic, like the paper's Table 2.
    """
    headers = list(table.columns)
    cells = [[_format_cell(h, table.iat[i, j]) for j, h in enumerate(headers)] for i in range(len(table))]
    numeric = [h not in ("status",) and not _is_text_column(table[h]) for h in headers]
    if transpose:
        key_cols = [j for j, h in enumerate(headers) if h not in _STAT_COLUMNS and not h.startswith(("best ", "last "))]
        stat_cols = [j for j in range(len(headers)) if j not in key_cols]
        top = " / ".join(headers[j] for j in key_cols) or "group"
        new_headers = [top] + [", ".join(row[j] for j in key_cols) or "all" for row in cells]
        new_cells = [[headers[j]] + [row[j] for row in cells] for j in stat_cols]
        headers, cells = new_headers, new_cells
        numeric = [False] + [True] * (len(headers) - 1)
    widths = [max([len(h)] + [len(r[j]) for r in cells]) for j, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        return "| " + " | ".join(v.rjust(w) if num else v.ljust(w)
                                 for v, w, num in zip(values, widths, numeric)) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if num else (":" + "-" * (w + 1)) for w, num in zip(widths, numeric)) + "|"
    return "\n".join([line(headers), sep] + [line(r) for r in cells])


_STAT_COLUMNS = {"runs", "GCD learned", "epochs", "examples", "status"}


def _is_text_column(col: pd.Series) -> bool:
    return not all(v is None or (isinstance(v, numbers.Number) and not isinstance(v, bool)) for v in col.tolist())


def _format_cell(header: str, v: Any) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if header.startswith(("best ", "last ")):
        return f"{v:.1f}" if header.endswith("(%)") else f"{v:.4g}"
    if header in ("runs", "GCD learned", "epochs", "examples"):
        return f"{int(v):,}"
    return format_value(v)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.table",
        description="Print a Markdown summary of collected int2int results: one row per value of --by.")
    parser.add_argument("results", nargs="+", help="results.parquet file(s) or sweep/run directories")
    parser.add_argument("--by", nargs="+", default=None, metavar="KEY",
                        help="config key(s) to group runs by (comma or space separated; default: the keys that vary)")
    parser.add_argument("--metric", default="valid_acc", help="accuracy metric (default valid_acc)")
    parser.add_argument("--gcd-metric", default=AUTO,
                        help="column for 'GCD learned' (default: <set>_gcd_learned of the metric's set; 'none': omit)")
    parser.add_argument("--scale", type=float, default=None,
                        help="multiply the metric by this (default: 100 for accuracies in [0, 1])")
    parser.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                        help="keep only rows where KEY=VALUE (or KEY!=VALUE); repeatable")
    parser.add_argument("--transpose", action="store_true", help="one column per group (the paper's layout)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from . import load_results

    by = None if args.by is None else [k for item in args.by for k in item.split(",") if k]
    gcd = None if args.gcd_metric.lower() == "none" else args.gcd_metric
    try:
        runs, _ = load_results(args.results[0] if len(args.results) == 1 else args.results, classes=False)
        runs = filter_runs(runs, args.where)
        if runs.empty:
            raise ValueError("no runs to summarise")
        table = summary_table(runs, by=by, metric=args.metric, scale=args.scale, gcd=gcd)
    except (KeyError, ValueError, FileNotFoundError) as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    print(to_markdown(table, transpose=args.transpose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
