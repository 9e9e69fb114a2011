"""Markdown summaries of collected results, one row per value of the swept key(s).

    python -m analysis.table results.parquet --by encoding.base
    python -m analysis.table results.parquet --by encoding.base architecture.n_enc_layers --metric test_acc
    python -m analysis.table results.parquet --by encoding.base --over seed --threshold 0.9

Without ``--over``, like Table 2 of the GCD paper (best of N runs): for each group of runs, the
best model, i.e. one run at one evaluation, with its accuracy, final accuracy, number of GCD
learned (when a ``*_gcd_learned`` column exists), epoch and examples (:func:`summary_table`).
With ``--over seed``: the spread over seeds of each group (:func:`aggregate_table`).
"""

from __future__ import annotations

import argparse
import logging
import math
import numbers
import sys
from collections import Counter
from typing import Any, Iterator, Sequence

import pandas as pd

from .frames import (
    describe_keys,
    filter_runs,
    format_value,
    is_fraction_metric,
    last_rows,
    lower_is_better,
    per_run_values,
    runs_only,
    sort_key,
    varying_keys,
)
from .stats import CONFIDENCE, describe

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
    """One row per value of the ``by`` key(s) (default: the config keys that vary across runs),
    describing the best model of the group: the evaluation with the best ``metric`` (lowest for
    losses) over every evaluation of every run of the group (the first one, on ties).

    Columns: the keys, ``runs`` (runs in the group), ``best <metric>`` (its value), ``last
    <metric>`` (the final value of that same run), ``GCD learned`` (the ``gcd`` column at that same
    evaluation, if there is such a column), ``epoch`` and ``examples`` (of that evaluation), ``run``
    (its ``run_id``, with the job number), and ``status`` when some run did not finish. Fraction
    metrics are multiplied by ``scale`` (default: 100 for accuracies within [0, 1], giving
    percentages; the headers then end in ``(%)``).
    """
    by = _check_columns(runs, metric, by)
    scale = _default_scale(runs[metric], metric) if scale is None else scale
    unit = " (%)" if scale == 100 else ""
    gcd = gcd_column(runs, metric) if gcd == AUTO else gcd
    if gcd is not None and gcd not in runs.columns:
        raise KeyError(f"no column {gcd!r}")
    values = runs[metric].astype("float64")
    lower = lower_is_better(metric)
    best_col, last_col = f"best {metric}{unit}", f"last {metric}{unit}"
    rows = []
    for key, group in _groups(runs.assign(_v=values), by):
        row: dict[str, Any] = dict(zip(by, key))
        row["runs"] = group["run_dir"].nunique()
        scored = group["_v"].dropna()
        row.update({best_col: math.nan, last_col: math.nan, **({"GCD learned": None} if gcd else {}),
                    "epoch": None, "examples": None, "run": None})
        if len(scored):
            best = group.loc[scored.idxmin() if lower else scored.idxmax()]
            final = last_rows(group[group["run_dir"] == best["run_dir"]], metric)["_v"].iloc[0]
            row[best_col], row[last_col] = best["_v"] * scale, final * scale
            if gcd:
                row["GCD learned"] = _clean(best[gcd])
            row["epoch"], row["examples"], row["run"] = _clean(best["epoch"]), _clean(best["examples"]), run_label(best)
        statuses = Counter(runs_only(group)["status"].fillna("unknown"))
        row["status"] = ", ".join(f"{n} {s}" for s, n in statuses.most_common())
        rows.append(row)
    table = _sorted(pd.DataFrame(rows), by)
    if (runs_only(runs)["status"] == "finished").all():
        table = table.drop(columns="status")
    return table


def aggregate_table(runs: pd.DataFrame, over: Sequence[str], by: Sequence[str] | None = None,
                    metric: str = "valid_acc", at: str = "final", threshold: float | None = None,
                    confidence: float = CONFIDENCE) -> pd.DataFrame:
    """One row per value of the ``by`` key(s), aggregating the runs that differ in the ``over``
    key(s) (e.g. the seed): each run gives one value of ``metric``, that of its final evaluation
    (``at="final"``) or its best (``"best"``).

    Columns, in the metric's units: the keys, ``n`` (runs with a value), ``mean``, ``ci_low`` and
    ``ci_high`` (the ``confidence`` t interval of the mean, NaN for n = 1), ``min``, ``max`` and,
    with a ``threshold``, ``reached`` (runs at or above it; at or below it for losses). ``by``
    defaults to the config keys that vary, less the ``over`` keys. Runs of a group that differ in
    other keys too, or share their ``over`` values, are reported with a warning.
    """
    over = list(over)
    for key in over:
        if key not in runs.columns:
            raise KeyError(f"no column {key!r} to aggregate over")
    if by is None:
        by = [k for k in varying_keys(runs) if k not in over]
    by = _check_columns(runs, metric, by)
    values = per_run_values(runs, metric, at)
    per_run = runs_only(runs)
    lower = lower_is_better(metric)
    rows = []
    for key, group in _groups(per_run, by):
        _check_group(group, by, over, key)
        row: dict[str, Any] = dict(zip(by, key))
        group_values = values[values["run_dir"].isin(group["run_dir"])][metric]
        row.update(describe(group_values, threshold, lower, confidence))
        if len(group_values) < len(group):
            log.warning("%s: %d of %d runs have no value of %s", describe_keys(by, key) or "all runs",
                        len(group) - len(group_values), len(group), metric)
        rows.append(row)
    return _sorted(pd.DataFrame(rows), by)


def _check_columns(runs: pd.DataFrame, metric: str, by: Sequence[str] | None) -> list[str]:
    if metric not in runs.columns:
        raise KeyError(f"no metric column {metric!r} (try one of: "
                       f"{', '.join(c for c in runs.columns if c.endswith('_acc')) or 'none'})")
    by = list(varying_keys(runs) if by is None else by)
    for key in by:
        if key not in runs.columns:
            raise KeyError(f"no column {key!r} to group by")
    return by


def _check_group(group: pd.DataFrame, by: Sequence[str], over: Sequence[str], key: tuple[Any, ...]) -> None:
    name = describe_keys(by, key) or "all runs"
    others = [k for k in varying_keys(group) if k not in over and k not in by]
    if others:
        log.warning("%s: the runs also differ in %s (aggregated all the same)", name, ", ".join(others))
    repeated = group[over].astype("string").fillna("<NA>").duplicated()
    if repeated.any():
        log.warning("%s: %d runs repeat the %s of another run", name, int(repeated.sum()), "/".join(over))


def _groups(df: pd.DataFrame, by: Sequence[str]) -> Iterator[tuple[tuple[Any, ...], pd.DataFrame]]:
    """``(key values, rows)`` of each group of ``by`` (one group of everything without keys); null keys kept."""
    if not by:
        yield (), df
        return
    for key, group in df.groupby(list(by), dropna=False, sort=False):
        yield tuple(_clean(v) for v in (key if isinstance(key, tuple) else (key,))), group


def _sorted(table: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    if not by or table.empty:
        return table
    order = sorted(range(len(table)), key=lambda i: tuple(_sort_key_na(table.at[i, k]) for k in by))
    return table.iloc[order].reset_index(drop=True)


def _default_scale(values: pd.Series, metric: str) -> float:
    """100 (percent) for an accuracy whose values lie in [0, 1], else 1."""
    v = values.astype("float64").dropna()
    return 100.0 if is_fraction_metric(metric) and len(v) and v.min() >= 0 and v.max() <= 1 else 1.0


def run_label(row: pd.Series) -> str:
    """``id-3 (job 3)``: which run a row comes from."""
    job = row.get("job_num")
    return str(row["run_id"]) + ("" if job is None or pd.isna(job) else f" (job {int(job)})")


def _clean(v: Any) -> Any:
    return None if v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v


def _sort_key_na(v: Any) -> tuple[int, Any]:
    return (1, ()) if v is None else (0, sort_key(v))


def aggregate_markdown(table: pd.DataFrame, metric: str, scale: float = 1.0,
                       threshold: float | None = None) -> pd.DataFrame:
    """The rows of :func:`aggregate_table` as display text: values times ``scale`` (``(%)`` in the
    headers for 100), the interval as ``[low, high]``, the threshold count as ``k of n``."""
    unit = " (%)" if scale == 100 else ""
    keys = list(table.columns[: list(table.columns).index("n")])

    def number(v: Any) -> str:
        return "-" if _clean(v) is None else f"{v * scale:.1f}" if scale == 100 else f"{v * scale:.4g}"

    out = table[keys].copy()
    out["runs"] = table["n"]
    out[f"mean {metric}{unit}"] = [number(v) for v in table["mean"]]
    out[f"{round(100 * CONFIDENCE)}% CI{unit}"] = [
        "-" if _clean(lo) is None else f"[{number(lo)}, {number(hi)}]"
        for lo, hi in zip(table["ci_low"], table["ci_high"])]
    out[f"min{unit}"] = [number(v) for v in table["min"]]
    out[f"max{unit}"] = [number(v) for v in table["max"]]
    if threshold is not None and "reached" in table.columns:
        sign = "<=" if lower_is_better(metric) else ">="
        shown = f"{threshold * scale:g}%" if scale == 100 else f"{threshold:g}"
        out[f"runs {sign} {shown}"] = [f"{k} of {n}" for k, n in zip(table["reached"], table["n"])]
    return out


def to_markdown(table: pd.DataFrame, transpose: bool = False) -> str:
    """A GitHub Markdown table: numbers right-aligned, missing values as ``-``.

    The group keys are the columns before ``runs``. ``transpose``: one column per group and one
    row per statistic, like the paper's Table 2.
    """
    headers = list(table.columns)
    n_keys = headers.index("runs") if "runs" in headers else 0
    cells = [[_format_cell(h, table.iat[i, j]) for j, h in enumerate(headers)] for i in range(len(table))]
    numeric = [h not in _TEXT_COLUMNS and not (j < n_keys and _is_text_column(table[h]))
               for j, h in enumerate(headers)]
    if transpose:
        top = " / ".join(headers[:n_keys]) or "group"
        new_headers = [top] + [", ".join(row[:n_keys]) or "all" for row in cells]
        new_cells = [[headers[j]] + [row[j] for row in cells] for j in range(n_keys, len(headers))]
        headers, cells = new_headers, new_cells
        numeric = [False] + [True] * (len(headers) - 1)
    widths = [max([len(h)] + [len(r[j]) for r in cells]) for j, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        return "| " + " | ".join(v.rjust(w) if num else v.ljust(w)
                                 for v, w, num in zip(values, widths, numeric)) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if num else (":" + "-" * (w + 1))
                         for w, num in zip(widths, numeric)) + "|"
    return "\n".join([line(headers), sep] + [line(r) for r in cells])


_TEXT_COLUMNS = {"status", "run"}


def _is_text_column(col: pd.Series) -> bool:
    return not all(v is None or (isinstance(v, numbers.Number) and not isinstance(v, bool)) for v in col.tolist())


def _format_cell(header: str, v: Any) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, str):
        return v
    if header.startswith(("best ", "last ")):
        return f"{v:.1f}" if header.endswith("(%)") else f"{v:.4g}"
    if header in ("runs", "GCD learned", "epoch", "examples"):
        return f"{int(v):,}"
    return format_value(v)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.table",
        description="Print a Markdown summary of collected int2int results: one row per value of --by.")
    parser.add_argument("results", nargs="+", help="results.parquet file(s) or sweep/run directories")
    parser.add_argument("--by", nargs="+", default=None, metavar="KEY",
                        help="config key(s) to group runs by (comma or space separated; default: the keys that vary)")
    parser.add_argument("--metric", default="valid_acc", help="the metric (default valid_acc)")
    parser.add_argument("--over", nargs="+", default=None, metavar="KEY",
                        help="aggregate the runs of each group that differ in these key(s), e.g. seed: "
                             "n, mean, 95%% confidence interval, min, max")
    parser.add_argument("--at", choices=("final", "best"), default="final",
                        help="with --over: each run's final evaluation (default) or its best")
    parser.add_argument("--threshold", type=float, default=None,
                        help="with --over: count the runs that reached this value (a fraction for accuracies)")
    parser.add_argument("--gcd-metric", default=AUTO,
                        help="column for 'GCD learned' (default: <set>_gcd_learned of the metric's set; 'none': omit)")
    parser.add_argument("--scale", type=float, default=None,
                        help="multiply the metric by this (default: 100 for accuracies in [0, 1])")
    parser.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                        help="keep only rows where KEY=VALUE (or KEY!=VALUE); repeatable")
    parser.add_argument("--transpose", action="store_true", help="one column per group (the paper's layout)")
    args = parser.parse_args(argv)
    if not args.over and (args.threshold is not None or args.at != "final"):
        parser.error("--threshold and --at go with --over")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from . import load_results

    def keys(items: list[str] | None) -> list[str] | None:
        return None if items is None else [k for item in items for k in item.split(",") if k]

    gcd = None if args.gcd_metric.lower() == "none" else args.gcd_metric
    try:
        runs, _ = load_results(args.results[0] if len(args.results) == 1 else args.results, classes=False)
        runs = filter_runs(runs, args.where)
        if runs.empty:
            raise ValueError("no runs to summarise")
        if args.over:
            stats = aggregate_table(runs, keys(args.over), by=keys(args.by), metric=args.metric, at=args.at,
                                    threshold=args.threshold)
            scale = _default_scale(runs[args.metric], args.metric) if args.scale is None else args.scale
            table = aggregate_markdown(stats, args.metric, scale, args.threshold)
        else:
            table = summary_table(runs, by=keys(args.by), metric=args.metric, scale=args.scale, gcd=gcd)
    except (KeyError, ValueError, FileNotFoundError) as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    print(to_markdown(table, transpose=args.transpose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
