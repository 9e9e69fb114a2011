"""The state of every job of a sweep, read from its files: jobs, progress, ETA, and a text page.

:func:`snapshot` reads only what a sweep writes (``sweep.json``, ``slurm.json``, and each run
directory's ``run.json``, ``status.json``, ``progress.json``, ``metrics.jsonl``) and, for Slurm
sweeps, makes one ``sacct`` call; :func:`render` turns the snapshot into the page that
``python -m int2int.status`` prints, and :mod:`analysis.report` puts it in its HTML page. So it
works from any shell, for a sweep launched elsewhere, while it runs and after it ended.

It is stdlib only (no numpy, no pandas, no torch): it imports in tens of milliseconds, which matters
for a command run every few seconds.

Sweeps written before ``sweep.json`` existed are listed from the run directories found under the sweep
directory; runs without ``progress.json`` are followed through ``metrics.jsonl`` alone.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import re
import statistics
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)

#: The files of a sweep directory (written by the sweeper) and of a run directory (by the training code).
SWEEP_FILE, SLURM_FILE = "sweep.json", "slurm.json"
RUN_FILE, STATUS_FILE, PROGRESS_FILE, METRICS_FILE = "run.json", "status.json", "progress.json", "metrics.jsonl"

#: A running job whose progress.json is older than this many log intervals, and older than
#: STALE_MIN_S, is shown as ``stale?`` (its process may have died without saying so).
STALE_INTERVALS, STALE_MIN_S = 10, 300.0
#: Without progress.json, a running job is ``stale?`` when nothing was written for this many epochs.
STALE_EPOCHS = 3
STALE = "stale?"
#: States after which nothing more will happen to a job without a relaunch.
ENDED = frozenset({"finished", "failed"})
#: Slurm states of a job that is still alive (queued, running or about to be requeued).
SLURM_ACTIVE = frozenset({"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING",
                          "SUSPENDED", "CONFIGURING", "COMPLETING", "SIGNALING", "STAGE_OUT", "PREEMPTED"})
SACCT_TIMEOUT_S = 30


@dataclass
class Job:
    """One job of a sweep, as its files describe it at one moment."""

    num: int | None
    overrides: list[str]
    run_dir: Path | None
    state: str = "pending"
    slurm: str | None = None  #: Slurm state from sacct (None: not a Slurm sweep, or unknown)
    epoch: int | None = None  #: epoch being trained (running) or epochs done (otherwise)
    max_epoch: int | None = None
    valid_acc: float | None = None  #: last evaluation's valid_acc, a fraction
    rate: float | None = None  #: training examples/s lately (running jobs only)
    work_left: int | None = None  #: training examples still to do (None: unknown or nothing to do)
    seconds_left: float | None = None  #: work_left / rate, minus the time since the rate was measured
    error: str | None = None  #: last line of the failure's traceback


@dataclass
class Snapshot:
    """A sweep at one moment: its jobs and what could not be read."""

    sweep_dir: Path
    taken: datetime
    launcher: str | None = None
    created: str | None = None
    jobs: list[Job] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  #: problems worth a line (sacct failed, bad files)

    @property
    def is_slurm(self) -> bool:
        return any(j.slurm is not None for j in self.jobs) or (self.sweep_dir / SLURM_FILE).exists()

    @property
    def ended(self) -> bool:
        """Every job finished or failed (nothing more will happen without a relaunch)."""
        return bool(self.jobs) and all(j.state in ENDED for j in self.jobs)


# --------------------------------------------------------------------------------------------------
# Reading files


def _read_json(path: Path) -> Any:
    """The JSON content of ``path``, or None when it is missing or unreadable (being replaced, corrupt)."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.debug("%s: unreadable (%s)", path, e)
        return None


def parse_time(text: Any) -> datetime | None:
    """An aware datetime from an ISO string (naive strings are taken as local time)."""
    if not isinstance(text, str):
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.astimezone()


def last_metrics(path: Path, key: str = "valid_acc") -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``(last record, last record holding key)`` of a metrics.jsonl, reading only the end of the file.

    Long runs have thousands of lines (with per-class counts): a status refresh must not read them all.
    A partly written last line is skipped.
    """
    try:
        size = path.stat().st_size
    except OSError:
        return None, None
    chunk = 1 << 16
    last = None
    with open(path, "rb") as f:
        while True:
            start = max(0, size - chunk)
            f.seek(start)
            lines = f.read(size - start).splitlines()
            if start > 0:
                lines = lines[1:]  # may be cut
            for raw in reversed(lines):
                try:
                    rec = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(rec, dict):
                    continue
                last = rec if last is None else last
                if key in rec:
                    return last, rec
            if start == 0:
                return last, None
            chunk *= 4


def _config_value(config: dict[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def natural_key(name: str) -> list[tuple[int, int, str]]:
    """Sort key of a name with numbers in it: ``2`` before ``10``, ``seed=2`` before ``seed=10``."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t]


def find_run_dirs(sweep_dir: Path) -> list[Path]:
    """Directories holding run.json at or under ``sweep_dir``, in natural order: the search skips
    hidden directories (``.hydra``) and does not descend into a run directory."""
    found = []
    for dirpath, dirnames, filenames in os.walk(sweep_dir):
        if RUN_FILE in filenames:
            found.append(Path(dirpath))
            dirnames[:] = []
        else:
            dirnames[:] = sorted((d for d in dirnames if not d.startswith(".")), key=natural_key)
    return found


def list_jobs(sweep_dir: Path, notes: list[str]) -> tuple[dict[str, Any], list[Job]]:
    """``(sweep.json content, jobs)``: the jobs sweep.json lists, else the run directories found."""
    meta = _read_json(sweep_dir / SWEEP_FILE)
    if isinstance(meta, dict) and isinstance(meta.get("jobs"), list):
        jobs = []
        for i, entry in enumerate(meta["jobs"]):
            if not isinstance(entry, dict):
                notes.append(f"{sweep_dir / SWEEP_FILE}: jobs[{i}] is not an object, skipped")
                continue
            run_dir = entry.get("run_dir")
            jobs.append(Job(num=_int(entry.get("num", i)), overrides=[str(o) for o in entry.get("overrides") or []],
                            run_dir=_locate(sweep_dir, run_dir) if run_dir else None))
        return meta, jobs
    if (sweep_dir / SWEEP_FILE).exists():
        notes.append(f"{sweep_dir / SWEEP_FILE}: unreadable or without a 'jobs' list; listing run directories")
    jobs = []
    for run_dir in find_run_dirs(sweep_dir):
        run = _read_json(run_dir / RUN_FILE) or {}
        overrides = run.get("overrides") if isinstance(run, dict) else None
        jobs.append(Job(num=_int(run.get("job_num")) if isinstance(run, dict) else None,
                        overrides=[str(o) for o in overrides] if isinstance(overrides, list) else [], run_dir=run_dir))
    jobs.sort(key=lambda j: (j.num is None, j.num if j.num is not None else 0))
    return meta if isinstance(meta, dict) else {}, jobs


def _locate(sweep_dir: Path, run_dir: str) -> Path:
    """The run directory sweep.json names; if the sweep was moved, the directory of that name here."""
    path = Path(run_dir)
    if not path.is_absolute():
        return sweep_dir / path
    if not path.exists() and (sweep_dir / path.name).exists():
        return sweep_dir / path.name
    return path


# --------------------------------------------------------------------------------------------------
# One job's state


def read_job(job: Job, now: datetime) -> dict[str, Any]:
    """Fill ``job`` from its run directory; returns its config (empty when not started)."""
    if job.run_dir is None or not job.run_dir.is_dir():
        return {}
    run = _read_json(job.run_dir / RUN_FILE)
    config = run.get("config") if isinstance(run, dict) and isinstance(run.get("config"), dict) else {}
    status = _read_json(job.run_dir / STATUS_FILE)
    if not isinstance(status, dict):
        return config
    job.state = str(status.get("status") or "unknown")
    error = status.get("error")
    if job.state == "failed" and error:
        lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
        job.error = lines[-1] if lines else None
    job.max_epoch = _int(_config_value(config, "schedule.max_epoch"))
    epoch_size = _int(_config_value(config, "schedule.epoch_size"))
    last, with_acc = last_metrics(job.run_dir / METRICS_FILE)
    if with_acc is not None:
        job.valid_acc = _float(with_acc.get("valid_acc"))
    done = _int(last.get("epoch")) if last else _int(status.get("epoch"))
    job.epoch = done
    progress = _read_json(job.run_dir / PROGRESS_FILE) if job.state in ("running", "preempted") else None
    if isinstance(progress, dict):
        _from_progress(job, progress, config, now)
    elif job.state in ("running", "preempted") and job.max_epoch is not None and epoch_size is not None:
        job.work_left = max(0, job.max_epoch - (done or 0)) * epoch_size
        if job.state == "running" and last is not None:
            _from_metrics(job, last, now)
    if job.state == "finished":
        job.work_left = 0
    return config


def _from_progress(job: Job, progress: dict[str, Any], config: dict[str, Any], now: datetime) -> None:
    """Epoch, rate, work and time left of a running (or preempted) job from its progress.json."""
    job.epoch = _int(progress.get("epoch")) or job.epoch
    job.max_epoch = _int(progress.get("max_epoch")) or job.max_epoch
    epoch_size = _int(progress.get("epoch_size")) or _int(_config_value(config, "schedule.epoch_size"))
    epoch_done = _int(progress.get("epoch_examples")) or 0
    if job.epoch is not None and job.max_epoch is not None and epoch_size is not None:
        job.work_left = max(0, job.max_epoch - job.epoch) * epoch_size + max(0, epoch_size - epoch_done)
    if job.state != "running":
        return
    rate = _float(progress.get("examples_per_s"))
    job.rate = rate if rate and rate > 0 else None
    updated = parse_time(progress.get("updated"))
    age = (now - updated).total_seconds() if updated else 0.0
    steps = _int(_config_value(config, "schedule.log_every")) or 0
    batch = (_int(_config_value(config, "schedule.batch_size")) or 0) * (
        _int(_config_value(config, "schedule.accumulate_gradients")) or 1)
    interval = steps * batch / job.rate if job.rate else 0.0
    if age > max(STALE_INTERVALS * interval, STALE_MIN_S):
        job.state = STALE
    elif job.rate and job.work_left is not None:
        job.seconds_left = max(0.0, job.work_left / job.rate - max(0.0, age))


def _from_metrics(job: Job, last: dict[str, Any], now: datetime) -> None:
    """Rate and time left of a running job without progress.json: examples / wall_time of its last evaluation."""
    examples, wall, epoch = _int(last.get("examples")), _float(last.get("wall_time")), _int(last.get("epoch"))
    if not examples or not wall or wall <= 0:
        return
    job.rate = examples / wall
    try:
        age = now.timestamp() - (job.run_dir / METRICS_FILE).stat().st_mtime  # type: ignore[operator]
    except OSError:
        age = 0.0
    if epoch and age > max(STALE_EPOCHS * wall / epoch, STALE_MIN_S):
        job.state = STALE
    elif job.work_left is not None:
        job.seconds_left = max(0.0, job.work_left / job.rate - max(0.0, age))


# --------------------------------------------------------------------------------------------------
# Slurm


def parse_sacct(text: str) -> dict[str, str]:
    """Slurm job id -> state from ``sacct -P -n -o JobID,State`` output.

    Steps (``1234_0.batch``) are skipped; pending array ranges (``1234_[2-5,7%4]``) are expanded;
    ``CANCELLED by 0`` becomes ``CANCELLED``; a later line for the same id (a requeued job) wins.
    """
    states: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 2 or not parts[0] or "." in parts[0]:
            continue
        job_id, state = parts[0], (parts[1].split() or ["?"])[0]
        m = re.fullmatch(r"(\d+)_\[([^\]]*)\]", job_id)
        if m is None:
            states[job_id] = state
            continue
        for item in m.group(2).split("%")[0].split(","):
            lo, _, hi = item.partition("-")
            if lo.isdigit() and (not hi or hi.isdigit()):
                for i in range(int(lo), int(hi or lo) + 1):
                    states[f"{m.group(1)}_{i}"] = state
    return states


def slurm_states(sweep_dir: Path, notes: list[str],
                 run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> dict[int, str] | None:
    """Job number -> Slurm state from one ``sacct`` call, or None when the sweep has no slurm.json.

    A job missing from sacct's answer (too old for its database, or not submitted) has no entry;
    a missing or failing sacct gives an empty mapping and a note.
    """
    meta = _read_json(sweep_dir / SLURM_FILE)
    if not isinstance(meta, dict):
        return None
    ids = {str(num): str(sid) for num, sid in (meta.get("jobs") or {}).items()}
    arrays = {sid.split("_")[0] for sid in ids.values()}
    if meta.get("array_job_id"):
        arrays.add(str(meta["array_job_id"]))
    if not arrays:
        return {}
    cmd = ["sacct", "-j", ",".join(sorted(arrays)), "-P", "-n", "-o", "JobID,State"]
    try:
        proc = run(cmd, capture_output=True, text=True, timeout=SACCT_TIMEOUT_S)
    except FileNotFoundError:
        notes.append("sacct not found: no Slurm states")
        return {}
    except (OSError, subprocess.TimeoutExpired) as e:
        notes.append(f"sacct failed ({e}): no Slurm states")
        return {}
    if proc.returncode != 0:
        first = (proc.stderr or proc.stdout or "").strip().splitlines()
        notes.append(f"sacct failed (exit {proc.returncode}: {first[0] if first else 'no message'}): no Slurm states")
        return {}
    states = parse_sacct(proc.stdout)
    return {int(num): states[sid] for num, sid in ids.items() if num.isdigit() and sid in states}


# --------------------------------------------------------------------------------------------------
# The whole sweep


def snapshot(sweep_dir: str | os.PathLike[str], now: datetime | None = None,
             run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> Snapshot:
    """Every job of the sweep at ``now``. Slurm is asked first, so that a job ending in between
    shows its final files rather than a dead Slurm job with a ``running`` status."""
    sweep_dir = Path(sweep_dir).expanduser().resolve()
    snap = Snapshot(sweep_dir=sweep_dir, taken=now or datetime.now(timezone.utc))
    slurm = slurm_states(sweep_dir, snap.notes, run)
    meta, snap.jobs = list_jobs(sweep_dir, snap.notes)
    snap.launcher, snap.created = meta.get("launcher"), meta.get("created")
    configs = []
    for job in snap.jobs:
        configs.append(read_job(job, snap.taken))
        if slurm is not None:
            job.slurm = slurm.get(job.num) if job.num is not None else None
            if job.state == "running" and job.slurm is not None and job.slurm not in SLURM_ACTIVE:
                job.state, job.seconds_left = STALE, None  # Slurm says the process is gone
    _fill_pending_work(snap.jobs, configs)
    return snap


def _fill_pending_work(jobs: list[Job], configs: list[dict[str, Any]]) -> None:
    """Work of jobs not started yet: their overrides' max_epoch and epoch_size, else the started jobs' usual ones."""
    def usual(key: str) -> int | None:
        values = [v for v in (_int(_config_value(c, key)) for c in configs if c) if v is not None]
        return statistics.mode(values) if values else None

    defaults = {key: usual(key) for key in ("schedule.max_epoch", "schedule.epoch_size")}
    for job in jobs:
        if job.state != "pending":
            continue
        given = dict(o.lstrip("+").split("=", 1) for o in job.overrides if "=" in o)
        max_epoch = _int(given.get("schedule.max_epoch")) or defaults["schedule.max_epoch"]
        epoch_size = _int(given.get("schedule.epoch_size")) or defaults["schedule.epoch_size"]
        job.epoch, job.max_epoch = 0, max_epoch
        if max_epoch is not None and epoch_size is not None:
            job.work_left = max_epoch * epoch_size


@dataclass
class Eta:
    seconds: float | None
    how: str


def sweep_eta(jobs: Sequence[Job]) -> Eta:
    """When the sweep should end if its jobs go on at their rates.

    The running jobs keep their current rates; the queued ones (pending, preempted) then start
    in job order as running ones end, as many at a time as run now, each at the median rate of the
    running jobs. Evaluations and queueing delays are not counted. Stale and failed jobs are ignored.
    """
    running = [j for j in jobs if j.state == "running"]
    queued = [j for j in jobs if j.state in ("pending", "preempted")]
    if not running and not queued:
        return Eta(0.0, "nothing left to run")
    if not running:
        return Eta(None, f"{_plural(len(queued), 'job')} waiting and none running: no rate measured")
    ends = [j.seconds_left for j in running if j.seconds_left is not None]
    if len(ends) < len(running):
        return Eta(None, "some running jobs have no measured rate yet")
    how = "the running job at its current rate" if len(running) == 1 else \
        f"the {len(running)} running jobs at their current rates"
    if queued:
        if any(j.work_left is None for j in queued):
            return Eta(None, "the size of some queued jobs is unknown")
        rate = statistics.median(j.rate for j in running if j.rate)
        slots = list(ends)
        heapq.heapify(slots)
        for job in queued:
            heapq.heappush(slots, heapq.heappop(slots) + job.work_left / rate)  # type: ignore[operator]
        ends = slots
        at_a_time = "one at a time" if len(running) == 1 else f"{len(running)} at a time"
        how += (f", then the {_plural(len(queued), 'queued job')} (pending, preempted) {at_a_time} "
                f"at {rate:,.0f} examples/s, the running jobs' median rate")
    return Eta(max(ends), how + "; evaluations not counted")


# --------------------------------------------------------------------------------------------------
# Rendering


def split_override(override: str) -> tuple[str, str]:
    """``("encoding.base", "10")`` from ``encoding.base=10`` (``~key`` and ``key`` have an empty value)."""
    key, _, value = override.partition("=")
    return key, value


def varying_keys(overrides: Sequence[Sequence[str]]) -> list[str]:
    """Override keys, in order of first appearance, whose value differs between jobs (or that some lack)."""
    values: dict[str, set[str | None]] = {}
    parsed = [dict(split_override(o) for o in ovr) for ovr in overrides]
    for d in parsed:
        for k in d:
            values.setdefault(k, set())
    for k in values:
        values[k] = {d.get(k) for d in parsed}
    return [k for k, v in values.items() if len(v) > 1]


def all_keys(overrides: Sequence[Sequence[str]]) -> list[str]:
    keys: dict[str, None] = {}
    for ovr in overrides:
        for o in ovr:
            keys.setdefault(split_override(o)[0], None)
    return list(keys)


def format_duration(seconds: float | None) -> str:
    """``42s``, ``12m05s``, ``3h07m``, ``2d04h``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def local_time(t: datetime) -> str:
    """``2026-11-29 13:00:00 CET``: a time as the reader's clock shows it."""
    return t.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z").rstrip()


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    """Plain aligned columns, two spaces apart; ``right[i]`` right-aligns column i."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    return [line(header)] + [line(r) for r in rows]


def render(snap: Snapshot, show_all_keys: bool = False) -> str:
    """The status page: a title line, one line per job, totals, the sweep's ETA, failures and notes."""
    when = f"{local_time(snap.taken)}"
    about = [_plural(len(snap.jobs), "job")]
    if snap.launcher:
        about.append(f"launcher {snap.launcher}")
    created = parse_time(snap.created)
    if created:
        about.append(f"created {local_time(created)}")
    out = [f"sweep {snap.sweep_dir} ({', '.join(about)}), at {when}"]
    if not snap.jobs:
        out.append("no jobs yet: no sweep.json and no run directory")
        out.extend(f"note: {n}" for n in snap.notes)
        return "\n".join(out)

    overrides = [j.overrides for j in snap.jobs]
    keys = all_keys(overrides) if show_all_keys else varying_keys(overrides)
    slurm = snap.is_slurm
    header = ["job", *keys, "state"] + (["slurm"] if slurm else []) + ["epoch", "valid_acc", "examples/s", "left"]
    right = [True] + [False] * len(keys) + [False] + ([False] if slurm else []) + [True] * 4
    rows = []
    for j in snap.jobs:
        given = dict(split_override(o) for o in j.overrides)
        epoch = "-" if j.epoch is None and j.max_epoch is None else \
            f"{'-' if j.epoch is None else j.epoch}/{'?' if j.max_epoch is None else j.max_epoch}"
        rows.append([
            "-" if j.num is None else str(j.num), *[given.get(k, "-") or "-" for k in keys], j.state,
            *([j.slurm or "-"] if slurm else []), epoch,
            "-" if j.valid_acc is None else f"{100 * j.valid_acc:.2f}%",
            "-" if j.rate is None or j.state != "running" else f"{j.rate:,.0f}",
            "-" if j.state != "running" else format_duration(j.seconds_left),
        ])
    out.extend(format_table(header, rows, right))

    counts: dict[str, int] = {}
    for j in snap.jobs:
        counts[j.state] = counts.get(j.state, 0) + 1
    order = ["finished", "running", STALE, "preempted", "pending", "failed"]
    states = sorted(counts, key=lambda s: (order.index(s) if s in order else len(order), s))
    out.append("")
    out.append(f"{_plural(len(snap.jobs), 'job')}: " + ", ".join(f"{counts[s]} {s}" for s in states))
    if snap.ended:
        out.append("the sweep has ended" + (" (some jobs failed)" if counts.get("failed") else ""))
    else:
        eta = sweep_eta(snap.jobs)
        if eta.seconds is None:
            out.append(f"ETA: unknown ({eta.how})")
        else:
            end = datetime.fromtimestamp(snap.taken.timestamp() + eta.seconds, timezone.utc)
            out.append(f"ETA: {format_duration(eta.seconds)}, about {local_time(end)}")
            out.append(f"     ({eta.how})")
    failed = [j for j in snap.jobs if j.state == "failed"]
    if failed:
        out.append("failures (full tracebacks in each run's status.json):")
        for j in failed:
            num = "-" if j.num is None else j.num
            out.append(f"  #{num} {' '.join(j.overrides)}: {j.error or 'no error recorded'}")
    out.extend(f"note: {n}" for n in snap.notes)
    return "\n".join(out)
