"""Plots of collected results: learning curves, heatmaps over two config keys, per-class accuracy.

    python -m analysis.plot results.parquet --kind curves -o curves.png
    python -m analysis.plot results.parquet --kind heatmap --x encoding.base --y architecture.n_enc_layers -o heat.pdf
    python -m analysis.plot results.parquet --kind classes --hue encoding.base -o classes.png

Each ``plot_*`` function returns a :class:`matplotlib.figure.Figure` drawn on the Agg canvas
(pyplot is never used: no global state, nothing to close). Keys left out default to the config
keys that vary across runs (:func:`analysis.frames.varying_keys`).
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import matplotlib
import matplotlib.colors
import matplotlib.transforms
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .frames import (
    config_columns,
    filter_runs,
    format_value,
    is_fraction_metric,
    lower_is_better,
    metric_columns,
    per_run_values,
    runs_only,
    sorted_values,
    varying_keys,
)
from .stats import mean_band

log = logging.getLogger(__name__)

AUTO = "auto"  #: pick the key from the config keys that vary across runs
KINDS = ("curves", "heatmap", "classes")
_LINE_STYLES = ("-", "--", ":", "-.")  # one per metric when curves show several
_MAX_AUTO_ROWS = 6  # an automatic row facet is used only for keys with at most this many values
_STYLE = {
    "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9,
    "legend.title_fontsize": 9, "axes.spines.top": False, "axes.spines.right": False,
}


# --------------------------------------------------------------------------------------------------
# Helpers


def _styled(func: Callable[..., Figure]) -> Callable[..., Figure]:
    """Draw with the module's style (rc parameters apply to the artists created while drawing)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with matplotlib.rc_context(_STYLE):
            return func(*args, **kwargs)

    return wrapper


def _figure(nrows: int, width: float, height_per_row: float, share: bool = True) -> tuple[Figure, list[Any]]:
    fig = Figure(figsize=(width, max(2.8, height_per_row * nrows + 0.6)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, 1, squeeze=False, sharex=share, sharey=share)[:, 0]
    return fig, list(axes)


def _style_axes(ax: Any) -> None:
    ax.grid(True, alpha=0.3, linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _palette(n: int) -> list[Any]:
    if n <= 10:
        return list(matplotlib.colormaps["tab10"].colors[: max(n, 1)])
    cmap = matplotlib.colormaps["viridis"]
    return [cmap(i / (n + 1)) for i in range(n)]  # ordered values; without the pale yellow end


def _require(df: pd.DataFrame, *cols: str | None) -> None:
    for col in cols:
        if col is not None and col not in df.columns:
            keys = ", ".join(config_columns(df)[:30]) or "none"
            metrics = ", ".join(metric_columns(df)[:30]) or "none"
            raise KeyError(f"no column {col!r} in the results (config keys: {keys}; metrics: {metrics})")


def _pick(value: str | None, candidates: Sequence[str], exclude: Sequence[str | None] = ()) -> str | None:
    if value != AUTO:
        return value or None
    for key in candidates:
        if key not in exclude:
            return key
    return None


def _pick_row(value: str | None, runs: pd.DataFrame, candidates: Sequence[str],
              exclude: Sequence[str | None]) -> str | None:
    if value != AUTO:
        return value or None
    key = _pick(AUTO, candidates, exclude)
    if key is not None and runs_only(runs)[key].nunique(dropna=False) <= _MAX_AUTO_ROWS:
        return key
    return None


def _matches(col: pd.Series, value: Any) -> pd.Series:
    if value is None:
        return col.isna()
    return (col == value).fillna(False).astype(bool)


def _is_fraction(metric: str, values: pd.Series) -> bool:
    """An accuracy-like metric whose values lie within [0, 1]: shown as percentages."""
    v = pd.to_numeric(values, errors="coerce").dropna()
    return is_fraction_metric(metric) and len(v) > 0 and v.min() >= 0 and v.max() <= 1


def _percent_axis(axis: Any, metric: str, values: pd.Series) -> None:
    if _is_fraction(metric, values):
        axis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=0))


def _count_axis(axis: Any, key: str) -> None:
    if key in ("examples", "steps"):
        axis.set_major_formatter(ticker.EngFormatter(sep=""))
    if key == "epoch":
        axis.set_major_locator(ticker.MaxNLocator(integer=True))


def _legend(fig: Figure, handles: list[Any], title: str | None) -> None:
    """One legend right of the top panel (clear of the figure title; constrained layout makes room)."""
    if handles:
        fig.axes[0].legend(handles=handles, title=title, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                           borderaxespad=0.0, frameon=False, ncols=1 if len(handles) <= 18 else 2)


def _hue_handles(values: list[Any], colors: list[Any], counts: dict[Any, int], patches: bool = False) -> list[Any]:
    handles = []
    for v, c in zip(values, colors):
        n = counts.get(v, 0)
        label = format_value(v) + (f"  ({n} runs)" if n > 1 else "")
        handles.append(Patch(color=c, label=label) if patches else Line2D([], [], color=c, lw=2, label=label))
    return handles


def _facets(df: pd.DataFrame, row: str | None) -> list[tuple[str | None, pd.DataFrame]]:
    if row is None:
        return [(None, df)]
    values = sorted_values(df[row]) + ([None] if df[row].isna().any() else [])
    return [(f"{row} = {format_value(v)}", df[_matches(df[row], v)]) for v in values]


# --------------------------------------------------------------------------------------------------
# Curves


@_styled
def plot_curves(runs: pd.DataFrame, y: str | Sequence[str] = "valid_acc", x: str = "examples",
                hue: str | None = AUTO, row: str | None = AUTO, title: str | None = None,
                over: str | Sequence[str] | None = None, band: str = "ci") -> Figure:
    """``y`` (a metric, or several drawn on the same axes with one line style each: ``["train_acc",
    "valid_acc"]`` shows memorisation and generalisation together) against ``x`` (``examples``, ``epoch``,
    ``steps``, ``wall_time``), one line per run, coloured by the value of ``hue``; one panel per value of ``row``.

    With ``over`` (e.g. ``"seed"``): one line per group of runs that differ only in the ``over``
    key(s), the mean of the group's runs at each value of ``x``, with a band: the 95% t interval of
    that mean (``band="ci"``; none where a single run has a value) or the range of the runs
    (``band="minmax"``).
    """
    ys = [y] if isinstance(y, str) else list(dict.fromkeys(y))
    if len(ys) > len(_LINE_STYLES):
        raise ValueError(f"at most {len(_LINE_STYLES)} metrics on one figure, got {len(ys)}")
    over = [over] if isinstance(over, str) else list(over or [])
    keys = [k for k in varying_keys(runs) if k not in over]
    hue = _pick(hue, keys)
    row = _pick_row(row, runs, keys, exclude=[hue])
    _require(runs, x, *ys, hue, row, *over)
    df = runs[runs[x].notna() & runs[ys].notna().any(axis=1)]
    if df.empty:
        raise ValueError(f"no evaluation has both {x!r} and {' or '.join(map(repr, ys))}")
    hue_values = sorted_values(df[hue]) + ([None] if df[hue].isna().any() else []) if hue else [None]
    colors = _palette(len(hue_values))
    color_of = {format_value(v): c for v, c in zip(hue_values, colors)}
    facets = _facets(df, row)
    fig, axes = _figure(len(facets), width=8.5 if hue or len(ys) > 1 else 7, height_per_row=3.6)
    for ax, (facet_title, sub) in zip(axes, facets):
        for metric, style in zip(ys, _LINE_STYLES):
            rows = sub[sub[metric].notna()]
            if over:
                group = list(dict.fromkeys([k for k in (hue, row) if k] + keys))
                _mean_curves(ax, rows, group, x, metric, hue, color_of, band, style)
                continue
            for _, run in rows.groupby("run_dir", sort=False):
                key = format_value(run[hue].iloc[0]) if hue else "none"
                ax.plot(run[x].astype("float64").to_numpy(), run[metric].astype("float64").to_numpy(),
                        color=color_of[key], ls=style, lw=1.5, alpha=0.85, marker="o" if len(run) <= 25 else None,
                        ms=3)
        ax.set_ylabel(" / ".join(ys))
        if facet_title:
            ax.set_title(facet_title, loc="left")
        if all(_is_fraction(m, df[m]) for m in ys):
            _percent_axis(ax.yaxis, ys[0], df[ys[0]])
        _count_axis(ax.xaxis, x)
        _style_axes(ax)
    axes[-1].set_xlabel(x)
    handles = []
    if hue:
        counts = runs_only(df)[hue].map(format_value).value_counts().to_dict()
        handles = _hue_handles(hue_values, colors, {v: counts.get(format_value(v), 0) for v in hue_values})
    if len(ys) > 1:
        handles += [Line2D([], [], color="0.3", ls=style, lw=1.5, label=m) for m, style in zip(ys, _LINE_STYLES)]
    _legend(fig, handles, hue)
    spread = f", mean over {'/'.join(over)} ({'95% CI' if band == 'ci' else 'min-max'})" if over else ""
    fig.suptitle(title or f"{' and '.join(ys)} vs {x}" + (f" by {hue}" if hue else "") + spread, fontweight="bold")
    return fig


def _mean_curves(ax: Any, df: pd.DataFrame, keys: list[str], x: str, y: str, hue: str | None,
                 color_of: dict[str, Any], kind: str, style: str = "-") -> None:
    """One line per group of ``keys``: the mean of ``y`` over the group's runs at each ``x``, with its band."""
    stats = mean_band(df, keys, x, y, kind)
    groups = stats.groupby(keys, dropna=False, sort=False) if keys else [((), stats)]
    for _, g in groups:
        color = color_of[format_value(g[hue].iloc[0]) if hue else "none"]
        xs = g[x].astype("float64").to_numpy()
        ax.plot(xs, g["mean"].to_numpy(), color=color, ls=style, lw=1.8, marker="o" if len(g) <= 25 else None, ms=3)
        ax.fill_between(xs, g["low"].to_numpy(), g["high"].to_numpy(), color=color, alpha=0.2, linewidth=0)


# --------------------------------------------------------------------------------------------------
# Heatmap


@_styled
def plot_heatmap(runs: pd.DataFrame, x: str | None = AUTO, y: str | None = AUTO, metric: str = "valid_acc",
                 agg: str = "final", row: str | None = None, title: str | None = None) -> Figure:
    """``metric`` over two config keys: columns are values of ``x``, rows values of ``y``.

    Each run gives its final (``agg="final"``) or best (``"best"``) value; a cell shows the best run
    (lowest for losses). Fractions are shown as percentages.
    """
    keys = varying_keys(runs)
    x = _pick(x, keys)
    y = _pick(y, keys, exclude=[x])
    if x is None:
        raise ValueError("no config key varies across these runs: choose one with --x")
    _require(runs, x, y, row, metric)
    values = per_run_values(runs, metric, agg)
    if values.empty:
        raise ValueError(f"no run has a value of {metric!r}")
    scale = 100.0 if _is_fraction(metric, values[metric]) else 1.0
    unit = " (%)" if scale == 100 else ""
    better = "min" if lower_is_better(metric) else "max"
    x_values = sorted_values(values[x]) + ([None] if values[x].isna().any() else [])
    y_values = (sorted_values(values[y]) + ([None] if values[y].isna().any() else [])) if y else [None]
    facets = _facets(values, row)
    width = max(5.0, 0.85 * len(x_values) + 3.0)
    fig, axes = _figure(len(facets), width=width, height_per_row=max(2.4, 0.55 * len(y_values) + 1.4), share=False)
    vmin, vmax = float(values[metric].min()) * scale, float(values[metric].max()) * scale
    if vmax - vmin < 1e-9:
        vmin, vmax = vmin - 1, vmax + 1
    max_runs = 1
    for ax, (facet_title, sub) in zip(axes, facets):
        grid = np.full((len(y_values), len(x_values)), np.nan)
        for i, yv in enumerate(y_values):
            in_row = sub if y is None else sub[_matches(sub[y], yv)]
            for j, xv in enumerate(x_values):
                cell = in_row[_matches(in_row[x], xv)][metric].astype("float64")
                if len(cell):
                    grid[i, j] = (cell.min() if better == "min" else cell.max()) * scale
                    max_runs = max(max_runs, len(cell))
        _annotated_grid(fig, ax, grid, "viridis_r" if better == "min" else "viridis", vmin, vmax,
                        ".1f" if scale == 100 else ".3g", f"{agg} {metric}{unit}")
        ax.set_xticks(np.arange(len(x_values)), [format_value(v) for v in x_values],
                      rotation=0 if len(x_values) <= 12 else 90)
        ax.set_yticks(np.arange(len(y_values)), [format_value(v) for v in y_values] if y else [""])
        ax.set_xlabel(x)
        ax.set_ylabel(y or "")
        if facet_title:
            ax.set_title(facet_title, loc="left")
    runs_note = f"best of up to {max_runs} runs per cell" if max_runs > 1 else "one run per cell"
    fig.suptitle(title or f"{agg} {metric}{unit}, {runs_note}", fontweight="bold")
    return fig


def _annotated_grid(fig: Figure, ax: Any, grid: np.ndarray, cmap: str, vmin: float, vmax: float, fmt: str,
                    label: str) -> None:
    """Cells coloured by value, each annotated (empty cells stay blank), with a colour bar."""
    colormap = matplotlib.colormaps[cmap]
    mesh = ax.pcolormesh(np.ma.masked_invalid(grid), cmap=colormap, vmin=vmin, vmax=vmax,
                         edgecolors="white", linewidth=1.5)
    mesh.set_transform(matplotlib.transforms.Affine2D().translate(-0.5, -0.5) + ax.transData)
    ax.set_xlim(-0.5, grid.shape[1] - 0.5)
    ax.set_ylim(grid.shape[0] - 0.5, -0.5)  # first row at the top, as in a table
    norm = matplotlib.colors.Normalize(vmin, vmax)
    for (i, j), v in np.ndenumerate(grid):
        if np.isfinite(v):
            r, g, b, _ = colormap(norm(v))
            dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5
            ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=9, color="white" if dark else "black")
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0)
    fig.colorbar(mesh, ax=ax, label=label, pad=0.02)


# --------------------------------------------------------------------------------------------------
# Per-class accuracy


def last_evaluation_classes(classes: pd.DataFrame, eval_set: str) -> pd.DataFrame:
    """Class rows of ``eval_set`` at the last evaluation of each run."""
    c = classes[classes["eval_set"] == eval_set]
    ev = c[["run_dir", "epoch", "examples"]].drop_duplicates()
    ev = ev.sort_values(["epoch", "examples"], na_position="first", kind="stable")
    last = ev.groupby("run_dir", sort=False).tail(1)
    return c.merge(last, on=["run_dir", "epoch", "examples"], how="inner")


def _eval_set_of(metric: str | None, sets: Sequence[str]) -> str | None:
    if metric:
        matching = [s for s in sets if metric.startswith(f"{s}_")]
        if matching:
            return max(matching, key=len)
    return None


@_styled
def plot_classes(runs: pd.DataFrame, classes: pd.DataFrame, hue: str | None = AUTO, eval_set: str | None = None,
                 row: str | None = AUTO, min_count: int = 1, title: str | None = None) -> Figure:
    """Accuracy per class (e.g. per GCD value) at the last evaluation of each run.

    Runs with the same ``hue`` value are pooled (sum of correct / sum of counts); one group of bars
    per class, one bar per ``hue`` value.
    """
    if classes is None or classes.empty:
        raise ValueError("the classes table is empty (collected with --no-classes, or no 'classes' in metrics.jsonl)")
    sets = list(pd.unique(classes["eval_set"].dropna()))
    eval_set = eval_set or ("valid" if "valid" in sets else sets[0])
    if eval_set not in sets:
        raise ValueError(f"no eval set {eval_set!r} in the classes table (sets: {', '.join(sets)})")
    keys = varying_keys(runs)
    hue = _pick(hue, keys)
    row = _pick_row(row, runs, keys, exclude=[hue])
    _require(runs, hue, row)
    c = last_evaluation_classes(classes[classes["run_dir"].isin(runs["run_dir"])], eval_set)
    if c.empty:
        raise ValueError(f"no class counts for the eval set {eval_set!r} in these runs")
    extra = [k for k in (hue, row) if k]
    if extra:
        c = c.merge(runs_only(runs)[["run_dir", *extra]], on="run_dir", how="left")
    group_cols = extra + ["class"]
    pooled = (c.assign(count=c["count"].astype("float64"), correct=c["correct"].astype("float64"))
              .groupby(group_cols, dropna=False, sort=False)[["count", "correct"]].sum().reset_index())
    pooled = pooled[pooled["count"] >= max(min_count, 1)].assign(acc=lambda d: d["correct"] / d["count"])
    names = list(pd.unique(pooled["class"]))
    numeric = bool(pd.to_numeric(pd.Series(names, dtype=object), errors="coerce").notna().all())
    class_order = sorted(names, key=float) if numeric else names
    hue_values = (sorted_values(pooled[hue]) + ([None] if pooled[hue].isna().any() else [])) if hue else [None]
    colors = _palette(len(hue_values))
    n_classes = len(class_order)
    facets = _facets(pooled, row)
    fig, axes = _figure(len(facets), width=min(12.0, max(7.5, 0.08 * n_classes * len(hue_values) + 4)),
                        height_per_row=3.4)
    width = 0.8 / len(hue_values)
    positions = np.arange(n_classes, dtype=float)
    for ax, (facet_title, sub) in zip(axes, facets):
        for k, (hv, color) in enumerate(zip(hue_values, colors)):
            part = sub if hue is None else sub[_matches(sub[hue], hv)]
            acc = part.set_index("class").reindex(class_order)["acc"].to_numpy(dtype=float)
            _bars(ax, positions + (k - (len(hue_values) - 1) / 2) * width, acc, width, color)
        ticks = _class_ticks(n_classes)
        ax.set_xticks(ticks)
        ax.set_xticklabels([class_order[i] for i in ticks], rotation=0 if len(ticks) <= 30 else 90)
        ax.set_xlim(-0.6, n_classes - 0.4)
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=0))
        ax.set_ylabel("accuracy")
        ax.grid(True, axis="y", alpha=0.3, linewidth=0.6)
        if facet_title:
            ax.set_title(facet_title, loc="left")
    axes[-1].set_xlabel("class")
    if hue:
        counts = runs_only(runs[runs["run_dir"].isin(c["run_dir"])])[hue].map(format_value).value_counts().to_dict()
        _legend(fig, _hue_handles(hue_values, colors, {v: counts.get(format_value(v), 0) for v in hue_values},
                                  patches=True), hue)
    task = _single_value(runs, "task.name")
    fig.suptitle(title or f"per-class accuracy at the last evaluation ({eval_set} set"
                 + (f", task {task}" if task else "") + ")", fontweight="bold")
    return fig


def _bars(ax: Any, centers: np.ndarray, heights: np.ndarray, width: float, color: Any) -> None:
    """Bars as one collection (``ax.bar`` makes one patch per bar: slow for hundreds of classes)."""
    ok = np.isfinite(heights)
    left, right, h = centers[ok] - width / 2, centers[ok] + width / 2, heights[ok]
    zero = np.zeros_like(h)
    verts = np.stack([np.stack([left, zero], 1), np.stack([left, h], 1), np.stack([right, h], 1),
                      np.stack([right, zero], 1)], axis=1)
    ax.add_collection(PolyCollection(verts, facecolors=[color], edgecolors="none", alpha=0.9))


def _class_ticks(n: int) -> list[int]:
    """Positions of the labelled classes: all of them up to 30, else the first and every 5th/10th/..."""
    if n <= 30:
        return list(range(n))
    step = next(k for k in (5, 10, 20, 25, 50, 100, 200, 500, 1000, 10**9) if n / k <= 25)
    return [0] + [i for i in range(step - 1, n, step)]


def _single_value(runs: pd.DataFrame, key: str) -> str | None:
    if key in runs.columns:
        values = runs[key].dropna().unique()
        if len(values) == 1:
            return str(values[0])
    return None


# --------------------------------------------------------------------------------------------------
# Command line


def save(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Save ``fig`` (format from the extension: .png, .pdf, .svg...)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def _key_arg(value: str | None) -> str | None:
    if value is None:
        return AUTO
    return None if value.lower() in ("none", "") else value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.plot",
        description="Plot collected int2int results (a results.parquet, or run/sweep directories).")
    parser.add_argument("results", nargs="+", help="results.parquet file(s) or sweep/run directories")
    parser.add_argument("--kind", choices=KINDS, default="curves",
                        help="curves: metric vs examples; heatmap: metric over two config keys; "
                             "classes: per-class accuracy of the last evaluation")
    parser.add_argument("--x", help="curves: x axis column (default examples); heatmap: config key of the columns")
    parser.add_argument("--y", help="curves: the metric (default valid_acc); heatmap: config key of the rows; "
                                    "classes: a metric naming the eval set (test_acc -> test)")
    parser.add_argument("--metric", nargs="+", help="the metric (default valid_acc); curves: one or more metrics "
                                                    "on the same axes (--metric train_acc valid_acc)")
    parser.add_argument("--hue", help="config key: one colour per value (default: the first varying key; 'none': off)")
    parser.add_argument("--row", help="config key: one panel per value (curves/classes default: the second varying "
                                      "key if it has few values; 'none': off)")
    parser.add_argument("--over", nargs="+", metavar="KEY",
                        help="curves: one line per group of runs differing only in these key(s) (e.g. seed), "
                             "the mean of the runs with a band")
    parser.add_argument("--band", choices=("ci", "minmax"), default="ci",
                        help="curves with --over: 95%% confidence interval of the mean (default) "
                             "or min-max of the runs")
    parser.add_argument("--agg", choices=("final", "best"), default="final",
                        help="heatmap: each run's last evaluation or its best (default final)")
    parser.add_argument("--eval-set", help="classes: the eval set (default: from the metric, else valid)")
    parser.add_argument("--min-count", type=int, default=1, help="classes: hide classes with fewer examples")
    parser.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                        help="keep only rows where KEY=VALUE (or KEY!=VALUE); repeatable")
    parser.add_argument("--title", help="figure title")
    parser.add_argument("--dpi", type=int, default=150)
    parser.add_argument("-o", "--output", required=True, help="image file: .png, .pdf, .svg")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from . import load_results

    try:
        runs, classes = load_results(args.results[0] if len(args.results) == 1 else args.results,
                                     classes=args.kind == "classes")
        runs = filter_runs(runs, args.where)
        if runs.empty:
            raise ValueError("no runs left to plot")
        if args.kind == "curves":
            fig = plot_curves(runs, y=args.metric or [args.y or "valid_acc"], x=args.x or "examples",
                              hue=_key_arg(args.hue), row=_key_arg(args.row), title=args.title,
                              over=[k for item in args.over or [] for k in item.split(",") if k], band=args.band)
        elif args.metric and len(args.metric) > 1:
            raise ValueError(f"--kind {args.kind} shows one metric, got --metric {' '.join(args.metric)}")
        elif args.kind == "heatmap":
            fig = plot_heatmap(runs, x=_key_arg(args.x), y=_key_arg(args.y), metric=(args.metric or ["valid_acc"])[0],
                               agg=args.agg, row=_key_arg(args.row) if args.row else None, title=args.title)
        else:
            sets = list(pd.unique(classes["eval_set"].dropna())) if not classes.empty else []
            eval_set = args.eval_set or _eval_set_of((args.metric or [args.y])[0], sets)
            fig = plot_classes(runs, classes, hue=_key_arg(args.hue), eval_set=eval_set, row=_key_arg(args.row),
                               min_count=args.min_count, title=args.title)
        out = save(fig, args.output, dpi=args.dpi)
    except (KeyError, ValueError, FileNotFoundError) as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
