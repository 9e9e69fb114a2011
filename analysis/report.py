"""One self-contained HTML page per sweep: what ran, what varied, the results, the curves, the failures.

    python -m analysis.report SWEEP_DIR [-o report.html] [--metric valid_acc]

The page has no external file and needs no network (figures are inline base64 PNG, the CSS is in
the page): it can be mailed, attached to an issue or opened from a cluster's shared disk. It reads
the run directories (the freshest truth, while the sweep runs or after it ended; ``results.parquet``
only when the directory holds no run directory), and the sweep's job list and states through
:mod:`analysis.sweep_status` (what ``python -m int2int.status`` shows), so that jobs not started yet
are listed too.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import logging
import math
import numbers
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from .sweep_status import (
    METRICS_FILE,
    PROGRESS_FILE,
    STALE,
    STATUS_FILE,
    Job,
    Snapshot,
    format_duration,
    local_time,
    parse_time,
    snapshot,
    split_override,
    varying_keys,
)

log = logging.getLogger(__name__)

#: Order of states in the counts, and their colours on the page.
STATE_ORDER = ["finished", "running", STALE, "preempted", "pending", "failed", "unknown"]
_FIG_DPI = 100
#: Sweeps with more jobs show their per-job table folded.
FOLDED_JOBS = 40

_CSS = """
body { font: 15px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328; margin: 0;
       background: #fff; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.sub { color: #57606a; margin: 2px 0; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; }
code { background: #f3f4f6; padding: 1px 5px; border-radius: 4px; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 12px; overflow-x: auto;
      white-space: pre; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 14px; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
tr:nth-child(even) td { background: #fafbfc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.path { word-break: break-all; max-width: 280px; }
td.path code { font-size: 12px; }
.state { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 13px; font-weight: 600;
         color: #fff; }
.s-finished { background: #1a7f37; } .s-running { background: #0969da; } .s-failed { background: #cf222e; }
.s-preempted { background: #9a6700; } .s-pending { background: #6e7781; } .s-stale { background: #bc4c00; }
.s-unknown { background: #6e7781; }
.counts .state { margin-right: 6px; }
figure { margin: 10px 0 20px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { color: #57606a; font-size: 13px; }
.note { color: #57606a; font-style: italic; }
.failure { border-left: 4px solid #cf222e; padding: 2px 0 2px 12px; margin: 12px 0; }
.failure .last { color: #cf222e; font-weight: 600; }
details summary { cursor: pointer; color: #0969da; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0; }
dl.kv dt { color: #57606a; } dl.kv dd { margin: 0; }
.columns { column-width: 330px; column-gap: 28px; font-size: 13px; }
.columns div { break-inside: avoid; }
"""


# --------------------------------------------------------------------------------------------------
# What the page is made of


@dataclass
class SweepData:
    """Everything the page shows, read once."""

    sweep_dir: Path
    snap: Snapshot
    runs: pd.DataFrame  #: the runs table (analysis/README.md), one row per run and evaluation
    classes: pd.DataFrame
    source: str  #: where the results came from, said on the page


def load_sweep(sweep_dir: str | Path) -> SweepData:
    """The sweep's jobs (analysis.sweep_status) and results (collected from its run directories)."""
    from analysis import load_results
    from analysis.collect import collect

    sweep_dir = Path(sweep_dir).expanduser().resolve()
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"{sweep_dir}: no such sweep directory")
    snap = snapshot(sweep_dir)
    runs, classes = collect([sweep_dir])
    source = f"collected from the {runs['run_dir'].nunique()} run directories"
    parquet = sweep_dir / "results.parquet"
    if runs.empty and parquet.exists():
        runs, classes = load_results(parquet)
        source = f"read from {parquet.name} (no run directory here)"
    return SweepData(sweep_dir, snap, runs, classes, source)


def _per_run(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per run_dir: best and last value of ``metric``, epochs, examples, training time."""
    if runs.empty:
        return pd.DataFrame(columns=["best", "last", "epoch", "examples", "wall_time"])
    resolved = {d: _resolved(d) for d in runs["run_dir"].unique()}
    df = runs.assign(_key=runs["run_dir"].map(resolved))
    g = df.groupby("_key", sort=False)
    out = pd.DataFrame(index=g.size().index)
    if metric in df.columns:
        values = df[metric].astype("float64")
        lower = "loss" in metric
        out["best"] = values.groupby(df["_key"], sort=False).min() if lower else \
            values.groupby(df["_key"], sort=False).max()
        out["last"] = df[values.notna()].groupby("_key", sort=False)[metric].last().astype("float64")
    for col in ("epoch", "examples", "wall_time"):
        if col in df.columns:
            out[col] = g[col].max()
    return out


def _resolved(path: Any) -> str:
    return str(Path(str(path)).resolve())


def job_rows(data: SweepData) -> list[Job]:
    """The jobs of the sweep, plus any run of the results that the job list lacks (all of them when the
    results come from a results.parquet alone)."""
    jobs = list(data.snap.jobs)
    known = {_resolved(j.run_dir) for j in jobs if j.run_dir is not None}
    if data.runs.empty:
        return jobs
    last = data.runs.groupby("run_dir", sort=False).tail(1)
    extra = []
    for r in last.to_dict("records"):
        if _resolved(r["run_dir"]) in known:
            continue
        extra.append(Job(num=None if _missing(r.get("job_num")) else int(r["job_num"]),
                        overrides=str(r.get("overrides") or "").split(), run_dir=Path(str(r["run_dir"])),
                        state=str(r.get("status") or "unknown"),
                        epoch=None if _missing(r.get("epoch")) else int(r["epoch"]),
                        max_epoch=None if _missing(r.get("schedule.max_epoch")) else int(r["schedule.max_epoch"]),
                        error=None if _missing(r.get("error")) else str(r["error"])))
    return jobs + sorted(extra, key=lambda j: (j.num is None, j.num or 0))


def config_columns(runs: pd.DataFrame) -> list[str]:
    """The config columns of a runs table: between ``status`` and ``overrides`` (analysis/README.md)."""
    cols = list(runs.columns)
    if "status" not in cols or "overrides" not in cols:
        return []
    return cols[cols.index("status") + 1: cols.index("overrides")]


# --------------------------------------------------------------------------------------------------
# HTML pieces


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


@dataclass
class Markup:
    """HTML that is already safe (built here from escaped parts)."""

    html: str


def html_table(header: Sequence[str], rows: Sequence[Sequence[Any]], kinds: Sequence[str]) -> str:
    """A table of formatted cells: strings are escaped, :class:`Markup` cells inserted as they are.

    ``kinds[i]`` is the CSS class of column i: ``num`` (right-aligned), ``path`` (may break anywhere) or ``""``.
    """
    def attr(kind: str) -> str:
        return f' class="{kind}"' if kind else ""

    head = "".join(f"<th{attr(k)}>{esc(h)}</th>" for h, k in zip(header, kinds))
    body = "".join("<tr>" + "".join(f"<td{attr(k)}>{c.html if isinstance(c, Markup) else esc(c)}</td>"
                                    for c, k in zip(row, kinds)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def state_badge(state: str, label: str | None = None) -> Markup:
    """The state as a coloured label (``label`` replaces its text, e.g. ``2 finished``)."""
    css = "stale" if state == STALE else state if state in STATE_ORDER else "unknown"
    return Markup(f'<span class="state s-{css}">{esc(state if label is None else label)}</span>')


def _fmt_number(v: Any, percent: bool = False) -> str:
    if _missing(v):
        return "-"
    if percent:
        return f"{100 * float(v):.2f}%"
    if isinstance(v, numbers.Integral) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1000):
        return f"{int(v):,}"
    return f"{float(v):.4g}" if isinstance(v, float) else str(v)


def figure_html(make: Callable[[], Any], caption: str, optional: bool = False) -> str:
    """An inline PNG of the figure ``make()`` returns, or a note saying why there is none
    (nothing at all for an ``optional`` figure)."""
    try:
        fig = make()
    except Exception as e:  # a figure that cannot be drawn must not cost the whole page
        log.info("no figure (%s): %s", caption, e)
        return "" if optional else f'<p class="note">No figure: {esc(e.args[0] if e.args else e)}</p>'
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_FIG_DPI)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


# --------------------------------------------------------------------------------------------------
# Sections


def header_section(data: SweepData, jobs: Sequence[Job]) -> str:
    snap, runs = data.snap, data.runs
    counts: dict[str, int] = {}
    for j in jobs:
        counts[j.state] = counts.get(j.state, 0) + 1
    states = sorted(counts, key=lambda s: (STATE_ORDER.index(s) if s in STATE_ORDER else len(STATE_ORDER), s))
    badges = " ".join(f'<a href="#failures">{state_badge(s, f"{counts[s]} {s}").html}</a>' if s == "failed"
                      else state_badge(s, f"{counts[s]} {s}").html for s in states)
    facts = {"sweep directory": Markup(f"<code>{esc(data.sweep_dir)}</code>")}
    if snap.launcher:
        facts["launcher"] = snap.launcher
    created = parse_time(snap.created)
    started = [t for t in (parse_time(s) for s in runs.get("started", pd.Series(dtype="string")).dropna()) if t]
    if created:
        facts["created"] = local_time(created)
    if started:
        facts["runs started"] = f"{local_time(min(started))} to {local_time(max(started))}"
    last = _last_activity(jobs)
    if last:
        facts["last activity"] = f"{local_time(last)} (newest file written by a run)"
    per_run = _per_run(runs, "valid_acc")
    if "wall_time" in per_run and per_run["wall_time"].notna().any():
        facts["training time"] = (f"{format_duration(float(per_run['wall_time'].sum()))} in all, "
                                  f"{format_duration(float(per_run['wall_time'].max()))} for the longest run")
    facts["results"] = data.source
    facts["report written"] = local_time(datetime.now(timezone.utc))
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{v.html if isinstance(v, Markup) else esc(v)}</dd>" for k, v in facts.items())
    return (f"<h1>Sweep {esc(data.sweep_dir.name)}</h1>"
            f'<p class="sub counts">{len(jobs)} jobs: {badges}</p><dl class="kv">{rows}</dl>')


def _last_activity(jobs: Sequence[Job]) -> datetime | None:
    times = []
    for j in jobs:
        if j.run_dir is None:
            continue
        for name in (STATUS_FILE, PROGRESS_FILE, METRICS_FILE):
            try:
                times.append((j.run_dir / name).stat().st_mtime)
            except OSError:
                pass
    return datetime.fromtimestamp(max(times), timezone.utc) if times else None


def varied_section(data: SweepData, jobs: Sequence[Job]) -> str:
    """The swept override keys with their values, then the config the runs share."""
    overrides = [j.overrides for j in jobs]
    keys = varying_keys(overrides)
    parts = ["<h2>What varied</h2>"]
    if keys:
        rows = []
        for k in keys:
            values = {dict(split_override(o) for o in ovr).get(k) for ovr in overrides}
            shown = sorted((v for v in values if v is not None), key=_natural)
            rows.append([Markup(f"<code>{esc(k)}</code>"), ", ".join(shown) + (" (unset in some jobs)"
                                                                                  if None in values else "")])
        parts.append(html_table(["swept key", "values"], rows, ["", ""]))
    else:
        parts.append('<p class="note">Nothing: every job has the same overrides.</p>')
    common = sorted({o for ovr in overrides for o in ovr if all(o in other for other in overrides)})
    if common:
        parts.append("<p>Overrides of every job: " + " ".join(f"<code>{esc(o)}</code>" for o in common) + "</p>")
    runs = data.runs.drop_duplicates("run_dir") if not data.runs.empty else data.runs
    cols = config_columns(runs)
    if cols:
        n_values = {c: runs[c].astype("string").fillna("<NA>").nunique() for c in cols}
        shared = [c for c in cols if n_values[c] == 1]
        differing = [c for c in cols if n_values[c] > 1]
        choices = [c for c in shared if c.startswith("choice.")]
        if choices:
            parts.append("<p>Config groups: " + ", ".join(
                f"<code>{esc(c[len('choice.'):])}={esc(runs[c].iloc[0])}</code>" for c in choices) + "</p>")
        swept = {name for k in keys for name in (k.lstrip("+~"), f"choice.{k.lstrip('+~')}")}
        others = [c for c in differing if c not in swept]
        if others:
            parts.append("<p>Other config keys that differ between runs (set by swept groups or presets): "
                         + ", ".join(f"<code>{esc(c)}</code>" for c in others) + "</p>")
        items = "".join(f"<div><span class=mono>{esc(c)}</span> = {esc(_fmt_config(runs[c].iloc[0]))}</div>"
                        for c in shared if not c.startswith("choice."))
        parts.append(f"<details><summary>The {len(shared) - len(choices)} config keys every run shares</summary>"
                     f'<div class="columns">{items}</div></details>')
    return "".join(parts)


def _fmt_config(v: Any) -> str:
    return "null" if _missing(v) else str(v)


def _natural(value: str) -> tuple[int, Any]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def results_section(data: SweepData, jobs: Sequence[Job], metric: str) -> str:
    from analysis.table import summary_table

    parts = ["<h2>Results</h2>"]
    if not data.runs.empty and metric in data.runs.columns:
        try:
            table = summary_table(data.runs, metric=metric)
            header = list(table.columns)
            kinds = ["num" if pd.api.types.is_numeric_dtype(table[h]) else "" for h in header]
            keys = header[: header.index("runs")] if "runs" in header else []
            rows = [[_summary_cell(h, table.iat[i, j], h in keys) for j, h in enumerate(header)]
                    for i in range(len(table))]
            parts.append("<h3>Summary (best of the runs of each setting)</h3>" + html_table(header, rows, kinds))
        except (KeyError, ValueError) as e:
            parts.append(f'<p class="note">No summary table: {esc(e.args[0] if e.args else e)}</p>')
    else:
        parts.append(f'<p class="note">No evaluation with <code>{esc(metric)}</code> yet.</p>')
    table = jobs_table(data, jobs, metric)
    if len(jobs) > FOLDED_JOBS:  # a long list would push the figures far down the page
        parts.append(f"<h3>Every job</h3><details><summary>the {len(jobs)} jobs</summary>{table}</details>")
    else:
        parts.append("<h3>Every job</h3>" + table)
    return "".join(parts)


def _summary_cell(header: str, v: Any, is_key: bool) -> str:
    if _missing(v):
        return "-"
    if is_key:
        return str(v)
    if header.startswith(("best ", "last ")):
        return f"{v:.2f}" if header.endswith("(%)") else f"{v:.4g}"
    return _fmt_number(v)


def jobs_table(data: SweepData, jobs: Sequence[Job], metric: str) -> str:
    keys = varying_keys([j.overrides for j in jobs])
    per_run = _per_run(data.runs, metric)
    percent = metric.endswith(("acc", "perfect", "correct"))
    header = ["job", *keys, "state", "epoch", "examples", f"best {metric}", f"last {metric}", "training time",
              "run directory"]
    values = [[dict(split_override(o) for o in j.overrides).get(k) for j in jobs] for k in keys]
    key_kinds = ["num" if all(v is None or _natural(v)[0] == 0 for v in vs) else "" for vs in values]
    kinds = ["num", *key_kinds, "", "num", "num", "num", "num", "num", "path"]
    rows = []
    for j in jobs:
        given = dict(split_override(o) for o in j.overrides)
        key = _resolved(j.run_dir) if j.run_dir is not None else None
        r = per_run.loc[key] if key is not None and key in per_run.index else None
        epoch = "-" if j.epoch is None and j.max_epoch is None else \
            f"{'-' if j.epoch is None else j.epoch}/{'?' if j.max_epoch is None else j.max_epoch}"
        rel = _relative(j.run_dir, data.sweep_dir) if j.run_dir is not None else "-"
        rows.append(["-" if j.num is None else j.num, *[given.get(k, "-") or "-" for k in keys], state_badge(j.state),
                     epoch, _fmt_number(None if r is None else r.get("examples")),
                     _fmt_number(None if r is None else r.get("best"), percent),
                     _fmt_number(None if r is None else r.get("last"), percent),
                     "-" if r is None or _missing(r.get("wall_time")) else format_duration(float(r["wall_time"])),
                     Markup(f"<code>{esc(rel)}</code>")])
    if not rows:
        return '<p class="note">No job: no sweep.json and no run directory.</p>'
    return html_table(header, rows, kinds)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def figures_section(data: SweepData, jobs: Sequence[Job], metric: str) -> str:
    """Learning curves and accuracy per class; a heatmap too when two keys or more were swept."""
    from analysis.plot import plot_classes, plot_curves, plot_heatmap

    runs, classes = data.runs, data.classes
    if runs.empty:
        return '<h2>Figures</h2><p class="note">No run has results yet.</p>'
    parts = ["<h2>Learning curves</h2>",
             figure_html(lambda: plot_curves(runs, y=metric), f"{metric} against examples seen, one line per run"),
             "<h2>Accuracy per class</h2>",
             figure_html(lambda: plot_classes(runs, classes, eval_set=metric.split("_")[0]),
                         "accuracy per class at the last evaluation of each run")]
    if len(varying_keys([j.overrides for j in jobs])) >= 2:
        heatmap = figure_html(lambda: plot_heatmap(runs, metric=metric), f"last {metric} of each setting",
                              optional=True)
        if heatmap:
            parts += ["<h2>Over two swept keys</h2>", heatmap]
    return "".join(parts)


def failures_section(jobs: Sequence[Job]) -> str:
    failed = [j for j in jobs if j.state == "failed"]
    if not failed:
        return ""
    parts = [f'<h2 id="failures">Failures ({len(failed)})</h2>']
    for j in failed:
        trace = _traceback(j.run_dir)
        last = j.error or (trace.strip().splitlines()[-1] if trace and trace.strip() else "no error recorded")
        num = "-" if j.num is None else j.num
        parts.append(
            f'<div class="failure"><h3>job {esc(num)}: <code>{esc(" ".join(j.overrides) or "(no overrides)")}</code>'
            f'</h3><p class="last mono">{esc(last)}</p>'
            + (f"<details><summary>full traceback</summary><pre>{esc(trace.rstrip())}</pre></details>" if trace else "")
            + (f'<p class="sub">run directory <code>{esc(j.run_dir)}</code></p>' if j.run_dir else "") + "</div>")
    return "".join(parts)


def _traceback(run_dir: Path | None) -> str | None:
    if run_dir is None:
        return None
    try:
        error = json.loads((run_dir / STATUS_FILE).read_text()).get("error")
    except (OSError, ValueError, AttributeError):
        return None
    return str(error) if error else None


# --------------------------------------------------------------------------------------------------
# The page


def build_report(sweep_dir: str | Path, metric: str = "valid_acc", data: SweepData | None = None) -> str:
    """The HTML page of a sweep, as a string."""
    data = data or load_sweep(sweep_dir)
    jobs = job_rows(data)
    body = "".join([header_section(data, jobs), varied_section(data, jobs), results_section(data, jobs, metric),
                    figures_section(data, jobs, metric), failures_section(jobs)])
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Sweep {esc(data.sweep_dir.name)}: int2int report</title><style>{_CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n")


def write_report(sweep_dir: str | Path, out: str | Path, metric: str = "valid_acc") -> tuple[Path, SweepData]:
    """Write the page to ``out`` (through a temporary file: a reader never sees half a page)."""
    data = load_sweep(sweep_dir)
    page = build_report(sweep_dir, metric, data)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out, data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", type=Path, help="the sweep directory (hydra.sweep.dir)")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="the HTML file to write (default: SWEEP_DIR/report.html)")
    parser.add_argument("--metric", default="valid_acc", help="metric of the tables and curves (default valid_acc)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    t0 = time.perf_counter()
    try:
        out, data = write_report(args.sweep_dir, args.output or args.sweep_dir / "report.html", args.metric)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    jobs = job_rows(data)
    failed = sum(j.state == "failed" for j in jobs)
    print(f"wrote {out} ({out.stat().st_size / 1024:,.0f} KiB): {len(jobs)} jobs, {failed} failed, "
          f"in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
