"""``python -m int2int.status``: the state of every job of a sweep, read from its files (and sacct) by
:mod:`analysis.sweep_status`.

Sweep directories are written by hand, as the training code and the sweeper write them, with a fixed
"now" so that ages, rates and times left are known answers; one slow test follows a real sweep.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from analysis import sweep_status as status
from analysis.sweep_status import parse_sacct, render, snapshot
from int2int import status as command
from int2int.status import main

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=timezone.utc)
CONFIG = {"schedule": {"max_epoch": 6, "epoch_size": 50000, "batch_size": 128, "log_every": 100,
                       "accumulate_gradients": 1}, "encoding": {"base": 10}}


def iso(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).isoformat()


def write_run(run_dir: Path, overrides: list[str], state: str | None, metrics: list[dict] = (),
              progress: dict | None = None, error: str | None = None, job_num: int | None = None,
              config: dict = CONFIG) -> Path:
    """A run directory as int2int.job and int2int.train write it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "run.json").write_text(json.dumps({
        "run_id": run_dir.name, "run_dir": str(run_dir), "config": config, "overrides": overrides,
        "job_num": job_num, "sweep_dir": str(run_dir.parent), "started": iso(3600)}))
    if state is not None:
        epoch = metrics[-1]["epoch"] if metrics else 0
        (run_dir / "status.json").write_text(json.dumps(
            {"status": state, "updated": iso(30), "error": error, "epoch": epoch}))
    if metrics:
        (run_dir / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    if progress is not None:
        (run_dir / "progress.json").write_text(json.dumps(progress))
    return run_dir


def evals(n: int, acc: float = 0.5, per_epoch: int = 50048, seconds: float = 20.0) -> list[dict]:
    return [{"epoch": e, "examples": e * per_epoch, "steps": e * 391, "wall_time": e * seconds,
             "valid_acc": acc + 0.01 * e} for e in range(1, n + 1)]


def write_sweep(sweep: Path, jobs: list[tuple[int, list[str], str]], launcher: str = "basic") -> None:
    sweep.mkdir(parents=True, exist_ok=True)
    (sweep / "sweep.json").write_text(json.dumps({
        "created": iso(7200), "launcher": launcher,
        "jobs": [{"num": n, "overrides": o, "run_dir": str(sweep / name)} for n, o, name in jobs]}))


def table(page: str) -> tuple[list[str], dict[str, list[str]]]:
    """(header cells, job number -> cells) of a status page."""
    lines = page.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.split()[:1] == ["job"])
    rows = {}
    for ln in lines[start + 1:]:
        if not ln.strip():
            break
        cells = ln.split()
        rows[cells[0]] = cells
    return lines[start].split(), rows


@pytest.fixture
def mixed_sweep(tmp_path: Path) -> Path:
    """Six jobs: finished, failed, running, pending, preempted, and running but silent for an hour."""
    sweep = tmp_path / "sweep"
    ovr = {n: [f"encoding.base={b}", f"seed={s}", "task=gcd"]
           for n, (b, s) in enumerate([(10, 0), (7, 0), (30, 0), (30, 1), (1000, 0), (1000, 1)])}
    names = {n: "_".join(o.replace("=", "-") for o in ovr[n][:2]) for n in ovr}
    write_sweep(sweep, [(n, ovr[n], names[n]) for n in ovr])
    write_run(sweep / names[0], ovr[0], "finished", evals(6, acc=0.8))
    write_run(sweep / names[1], ovr[1], "failed", evals(1, acc=0.2),
              error="Traceback (most recent call last):\n  File \"x.py\", line 1\nRuntimeError: boom\n")
    write_run(sweep / names[2], ovr[2], "running", evals(2, acc=0.3), progress={
        "epoch": 3, "max_epoch": 6, "steps": 844, "examples": 108032, "epoch_examples": 7936,
        "epoch_size": 50000, "examples_per_s": 2371.5, "updated": iso(20)})
    # job 3: pending, no run directory
    write_run(sweep / names[4], ovr[4], "preempted", evals(2, acc=0.1))
    write_run(sweep / names[5], ovr[5], "running", evals(1, acc=0.1), progress={
        "epoch": 2, "max_epoch": 6, "steps": 400, "examples": 51200, "epoch_examples": 1152,
        "epoch_size": 50000, "examples_per_s": 2000.0, "updated": iso(3600)})
    return sweep


def test_every_state_and_column_of_a_mixed_sweep(mixed_sweep):
    page = render(snapshot(mixed_sweep, now=NOW))
    header, rows = table(page)
    # task=gcd is common to every job: hidden; encoding.base and seed vary
    assert header == ["job", "encoding.base", "seed", "state", "epoch", "valid_acc", "examples/s", "left"]
    assert rows["0"] == ["0", "10", "0", "finished", "6/6", "86.00%", "-", "-"]
    assert rows["1"] == ["1", "7", "0", "failed", "1/6", "21.00%", "-", "-"]
    # (6 - 3) * 50000 + 50000 - 7936 = 192064 examples at 2371.5/s = 81.0 s, measured 20 s ago: 61 s left
    assert rows["2"] == ["2", "30", "0", "running", "3/6", "32.00%", "2,372", "1m01s"]
    assert rows["3"] == ["3", "30", "1", "pending", "0/6", "-", "-", "-"]
    assert rows["4"] == ["4", "1000", "0", "preempted", "2/6", "12.00%", "-", "-"]
    # silent for 3600 s > max(10 log intervals = 10 * 100 * 128 / 2000 = 64 s, 300 s)
    assert rows["5"] == ["5", "1000", "1", "stale?", "2/6", "11.00%", "-", "-"]
    lines = page.splitlines()
    assert lines[0].startswith(f"sweep {mixed_sweep.resolve()} (6 jobs, launcher basic, created ")
    assert "6 jobs: 1 finished, 1 running, 1 stale?, 1 preempted, 1 pending, 1 failed" in lines
    # one slot (one job runs): 61.0 s, then job 3 (6 * 50000 examples) and job 4 ((6 - 2) * 50000) at 2371.5/s
    expected = 192064 / 2371.5 - 20 + 300000 / 2371.5 + 200000 / 2371.5
    assert round(expected) == 4 * 60 + 32
    eta = lines.index(next(ln for ln in lines if ln.startswith("ETA")))
    assert lines[eta].startswith("ETA: 4m32s, about "), lines[eta]
    assert lines[eta + 1] == ("     (the running job at its current rate, then the 2 queued jobs (pending, preempted) "
                              "one at a time at 2,372 examples/s, the running jobs' median rate; "
                              "evaluations not counted)")
    assert "  #1 encoding.base=7 seed=0 task=gcd: RuntimeError: boom" in lines


def test_eta_fills_the_slots_freed_by_running_jobs_in_job_order():
    """Two jobs run (10 s and 100 s left, at 1,000 and 3,000 examples/s: median 2,000/s); three wait."""
    Job = status.Job
    jobs = [Job(0, [], None, "running", rate=1000.0, work_left=10000, seconds_left=10.0),
            Job(1, [], None, "running", rate=3000.0, work_left=300000, seconds_left=100.0),
            Job(2, [], None, "pending", work_left=100000),  # 50 s: starts at 10, ends at 60
            Job(3, [], None, "stale?", work_left=10**9), Job(4, [], None, "failed"),
            Job(5, [], None, "preempted", work_left=40000),  # 20 s: 60 -> 80
            Job(6, [], None, "pending", work_left=60000)]  # 30 s: 80 -> 110 (the other slot ends at 100)
    eta = status.sweep_eta(jobs)
    assert eta.seconds == pytest.approx(110.0)
    assert "then the 3 queued jobs (pending, preempted) 2 at a time at 2,000 examples/s" in eta.how
    assert status.sweep_eta(jobs[2:3]).seconds is None  # nothing runs: no rate
    assert status.sweep_eta([Job(0, [], None, "finished")]).seconds == 0.0


def test_all_keys_shows_the_common_overrides(mixed_sweep):
    header, rows = table(render(snapshot(mixed_sweep, now=NOW), show_all_keys=True))
    assert header[:5] == ["job", "encoding.base", "seed", "task", "state"]
    assert rows["3"][:5] == ["3", "30", "1", "gcd", "pending"]


def test_a_stale_threshold_follows_the_log_interval(tmp_path):
    """A slow run (30 examples/s, 128 x 100 examples between writes = 427 s) is not stale after 1 hour."""
    sweep = tmp_path / "s"
    write_sweep(sweep, [(0, ["seed=0"], "a"), (1, ["seed=1"], "b")])
    for name, age in (("a", 3600), ("b", 10 * 427 + 60)):
        write_run(sweep / name, [], "running", progress={
            "epoch": 1, "max_epoch": 6, "steps": 10, "examples": 1280, "epoch_examples": 1280, "epoch_size": 50000,
            "examples_per_s": 30.0, "updated": iso(age)})
    _, rows = table(render(snapshot(sweep, now=NOW)))
    assert rows["0"][2] == "running" and rows["1"][2] == "stale?"


def test_old_sweep_without_sweep_json_or_progress(tmp_path):
    """Run directories found under the sweep (not .hydra); the rate of a running one from metrics.jsonl."""
    sweep = tmp_path / "old"
    write_run(sweep / "0", ["encoding.base=10"], "finished", evals(6), job_num=0)
    running = write_run(sweep / "1", ["encoding.base=30"], "running", evals(2, per_epoch=50000, seconds=20),
                        job_num=1)
    os.utime(running / "metrics.jsonl", (NOW.timestamp() - 10, NOW.timestamp() - 10))
    (sweep / "1" / ".hydra").mkdir()
    (sweep / "1" / ".hydra" / "run.json").write_text("{}")
    (sweep / ".hydra").mkdir()
    snap = snapshot(sweep, now=NOW)
    assert [j.num for j in snap.jobs] == [0, 1]
    header, rows = table(render(snap))
    assert header == ["job", "encoding.base", "state", "epoch", "valid_acc", "examples/s", "left"]
    assert rows["0"] == ["0", "10", "finished", "6/6", "56.00%", "-", "-"]
    # 100000 examples in 40 s: 2500/s; (6 - 2) * 50000 left = 80 s, last written 10 s ago
    assert rows["1"] == ["1", "30", "running", "2/6", "52.00%", "2,500", "1m10s"]


def test_metrics_are_read_from_the_end_and_a_cut_last_line_is_skipped(tmp_path):
    classes = {"valid": {str(c): [81, 40] for c in range(100)}}
    lines = [json.dumps({"epoch": e, "valid_acc": e / 10000, "classes": classes}) for e in range(1, 2001)]
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(lines) + "\n" + lines[0][:50])
    assert path.stat().st_size > 1 << 20
    last, with_acc = status.last_metrics(path)
    assert last["epoch"] == 2000 and with_acc["valid_acc"] == 0.2
    path.write_text("\n".join(lines[:3]) + "\n" + json.dumps({"epoch": 4}) + "\n")
    last, with_acc = status.last_metrics(path)
    assert last == {"epoch": 4} and with_acc["epoch"] == 3


def test_parse_sacct_expands_arrays_and_skips_steps():
    text = ("1234_0|COMPLETED\n1234_0.batch|COMPLETED\n1234_0.extern|COMPLETED\n1234_1|RUNNING\n"
            "1234_4|CANCELLED by 0\n1234_[2-3,5%2]|PENDING\n1234_1|RUNNING\n")
    assert parse_sacct(text) == {"1234_0": "COMPLETED", "1234_1": "RUNNING", "1234_2": "PENDING",
                                 "1234_3": "PENDING", "1234_5": "PENDING", "1234_4": "CANCELLED"}


def fake_sacct(bin_dir: Path, body: str) -> Path:
    """An executable ``sacct`` in ``bin_dir`` that logs its arguments to ``calls.txt`` then runs ``body``."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "sacct"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> {bin_dir / 'calls.txt'}\n{body}\n")
    script.chmod(0o755)
    return bin_dir / "calls.txt"


@pytest.fixture
def slurm_sweep(tmp_path: Path) -> Path:
    sweep = tmp_path / "slurm"
    jobs = [(n, [f"task.modulus={m}"], f"m{m}") for n, m in enumerate([7, 11, 13, 17])]
    write_sweep(sweep, jobs, launcher="slurm")
    (sweep / "slurm.json").write_text(json.dumps(
        {"array_job_id": "1234", "jobs": {str(n): f"1234_{n}" for n in range(4)}}))
    write_run(sweep / "m7", jobs[0][1], "finished", evals(6))
    write_run(sweep / "m11", jobs[1][1], "running", evals(1), progress={
        "epoch": 2, "max_epoch": 6, "steps": 400, "examples": 51200, "epoch_examples": 1152,
        "epoch_size": 50000, "examples_per_s": 2000.0, "updated": iso(5)})
    # the process of job 3 was cancelled before it could write its status
    write_run(sweep / "m17", jobs[3][1], "running", evals(1), progress={
        "epoch": 2, "max_epoch": 6, "steps": 400, "examples": 51200, "epoch_examples": 1152,
        "epoch_size": 50000, "examples_per_s": 2000.0, "updated": iso(5)})
    return sweep


def test_slurm_column_from_one_sacct_call(slurm_sweep, tmp_path, monkeypatch):
    calls = fake_sacct(tmp_path / "bin", "printf '1234_0|COMPLETED\\n1234_0.batch|COMPLETED\\n1234_1|RUNNING\\n"
                                         "1234_3|CANCELLED by 0\\n1234_[2]|PENDING\\n'")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    header, rows = table(render(snapshot(slurm_sweep, now=NOW)))
    assert calls.read_text().splitlines() == ["-j 1234 -P -n -o JobID,State"]
    assert header == ["job", "task.modulus", "state", "slurm", "epoch", "valid_acc", "examples/s", "left"]
    assert [rows[str(n)][2:4] for n in range(4)] == [
        ["finished", "COMPLETED"], ["running", "RUNNING"], ["pending", "PENDING"], ["stale?", "CANCELLED"]]


def test_missing_or_failing_sacct_is_tolerated(slurm_sweep, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    page = render(snapshot(slurm_sweep, now=NOW))
    _, rows = table(page)
    assert [rows[str(n)][2:4] for n in range(4)] == [
        ["finished", "-"], ["running", "-"], ["pending", "-"], ["running", "-"]]
    assert "note: sacct not found: no Slurm states" in page.splitlines()

    fake_sacct(tmp_path / "bin", "echo 'sacct: error: Problem talking to the database' >&2; exit 1")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    page = render(snapshot(slurm_sweep, now=NOW))
    assert "note: sacct failed (exit 1: sacct: error: Problem talking to the database): no Slurm states" in page


def test_watch_redraws_until_every_job_ended(tmp_path, monkeypatch, capsys):
    sweep = tmp_path / "w"
    write_sweep(sweep, [(0, ["seed=0"], "a"), (1, ["seed=1"], "b")])
    write_run(sweep / "a", ["seed=0"], "finished", evals(6))
    run_b = write_run(sweep / "b", ["seed=1"], "running", evals(1))
    sleeps = []

    def fake_sleep(seconds):  # the job ends during the first wait
        sleeps.append(seconds)
        write_run(run_b, ["seed=1"], "failed", evals(2), error="ValueError: nan")

    monkeypatch.setattr(command.time, "sleep", fake_sleep)
    assert main([str(sweep), "--watch", "3"]) == 0
    out = capsys.readouterr().out
    assert sleeps == [3.0]
    assert out.count(f"sweep {sweep.resolve()} ") == 2
    assert "2 jobs: 1 finished, 1 running" in out and "2 jobs: 1 finished, 1 failed" in out
    assert out.rstrip().splitlines()[-2:] == ["failures (full tracebacks in each run's status.json):",
                                              "  #1 seed=1: ValueError: nan"]


def test_command_line(tmp_path, mixed_sweep):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "int2int.status", str(mixed_sweep)], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"sweep {mixed_sweep.resolve()} (6 jobs")
    assert "1 pending" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "int2int.status", str(tmp_path / "nope")], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 2 and "no such sweep directory" in proc.stderr
    # the reading side starts fast: no torch, no numpy (the command also imports the int2int package)
    proc = subprocess.run([sys.executable, "-c", "import sys, analysis.sweep_status; "
                           "print(sorted(m for m in ('torch', 'numpy', 'pandas') if m in sys.modules))"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.stdout.strip() == "[]", proc.stderr


def _sweep_files_exist(sweep: Path) -> bool:
    return (sweep / "sweep.json").exists() and any(sweep.rglob("progress.json"))


@pytest.mark.slow
def test_a_real_sweep_is_followed_while_it_runs(tmp_path):
    """A real 2-job sweep in the background: a running job with a rate shows up, then both finish.
    The sweeper names run directories from their overrides (``...seed=1...``), not from job numbers."""
    sweep = tmp_path / "real"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "launch.py", "-m", f"hydra.sweep.dir={sweep}", "+debug=tiny", "schedule.epoch_size=20000",
           "schedule.max_epoch=3", "schedule.log_every=5", "seed=0,1"]
    log_path = tmp_path / "sweep.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            seen_running = None
            deadline = time.monotonic() + 600
            while proc.poll() is None and time.monotonic() < deadline:
                snap = snapshot(sweep) if sweep.is_dir() else None
                running = [j for j in snap.jobs if j.state == "running" and j.rate] if snap else []
                if running and seen_running is None:
                    seen_running = render(snap)
                    assert len(snap.jobs) == 2 and (sweep / "sweep.json").exists(), seen_running
                    _, rows = table(seen_running)
                    cells = rows[str(running[0].num)]
                    assert cells[1:3] == [f"{running[0].num}", "running"] and cells[-2] != "-", seen_running
                time.sleep(0.5)
            assert proc.wait(timeout=max(1.0, deadline - time.monotonic())) == 0, log_path.read_text()[-4000:]
        finally:
            if proc.poll() is None:
                proc.kill()
    assert seen_running is not None, "no running job with an examples/s figure was ever seen"
    assert _sweep_files_exist(sweep)
    snap = snapshot(sweep)
    assert [(j.num, j.state, j.epoch, j.max_epoch) for j in snap.jobs] == [(0, "finished", 3, 3), (1, "finished", 3, 3)]
    assert [j.run_dir.parent for j in snap.jobs] == [sweep.resolve()] * 2
    assert [f"seed={j.num}" in j.run_dir.name for j in snap.jobs] == [True, True], [j.run_dir for j in snap.jobs]
    header, rows = table(render(snap))
    assert header[:3] == ["job", "seed", "state"] and rows["1"][:4] == ["1", "1", "finished", "3/3"]
