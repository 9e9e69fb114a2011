"""Sweeps through a real Slurm cluster: submission, preemption with resume, cancellation.

Needs the local single-node cluster (``scripts/slurm-local.sh start && eval "$(scripts/slurm-local.sh env)"``);
every sweep runs ``launch.py -m hardware=slurm_cpu ...`` as a subprocess with a time limit, and every
Slurm job a test submitted is cancelled when the test ends, whatever happened.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, TINY, cluster_problem, launch_cmd
from int2int.run_files import read_metrics

pytestmark = pytest.mark.slurm

START_HINT = "start the local Slurm cluster: scripts/slurm-local.sh start && eval \"$(scripts/slurm-local.sh env)\""


_PROBLEM = cluster_problem()
_IN_CI = os.environ.get("CI", "").strip().lower() == "true"
if _PROBLEM is not None and not _IN_CI:
    pytest.skip(f"{START_HINT} ({_PROBLEM})", allow_module_level=True)


@pytest.fixture(scope="module", autouse=True)
def _cluster_required() -> None:
    """In CI (CI=true) a missing cluster is a failure of every test here, never a skip.
    (Module-scoped so that it runs before the module-scoped scenarios below.)"""
    if _PROBLEM is not None:
        pytest.fail(f"CI=true but the Slurm cluster is not usable ({_PROBLEM}); {START_HINT}", pytrace=False)


#: Launcher settings that fit the 2-CPU test node. timeout_min stays large: with
#: timeout_min*60 <= signal_delay_s submitit would take its own USR2 for a time-out.
SLURM = ["hardware=slurm_cpu", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1",
         "hardware.num_threads=1", "hydra.launcher.timeout_min=60", "hydra.launcher.name=int2int-test"]

#: Seconds a whole sweep may take (jobs may queue behind other users' jobs on 2 CPUs).
SWEEP_TIMEOUT = 420
SLURM_JOB = re.compile(r"#(\d+) \(Slurm job (\d+(?:_\d+)?)\)")  # a one-job sweep is not an array


def subprocess_env() -> dict[str, str]:
    """Like conftest's ``env`` fixture (the project importable, one thread), for module-scoped fixtures."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.setdefault("OMP_NUM_THREADS", "1")
    return e


def slurm(*args: str, check: bool = True) -> str:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


class Sweep:
    """``launch.py -m`` in the background, its output in a file, its Slurm jobs known by job number."""

    def __init__(self, sweep_dir: Path, args: list[str], env: dict[str, str]):
        self.dir = sweep_dir
        self.log = sweep_dir.parent / f"{sweep_dir.name}.out"
        self.started = time.monotonic()
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(launch_cmd("-m", *args, f"hydra.sweep.dir={sweep_dir}"), env=env,
                                         cwd=sweep_dir.parent, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def jobs(self) -> dict[int, str]:
        """Slurm job id (``<array>_<task>``, or ``<id>`` for a one-job sweep) of each job number, from the
        launcher's log lines."""
        return {int(n): j for n, j in SLURM_JOB.findall(self.output())}

    def job_id(self, num: int, timeout: float = 120) -> str:
        return self.until(lambda: self.jobs().get(num), timeout, f"job #{num} to be submitted")

    def until(self, cond, timeout: float, what: str):
        """Poll ``cond()`` until it returns something truthy; fail (with the sweep's output) after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = cond()
            if value:
                return value
            if self.proc.poll() is not None and not cond():
                pytest.fail(f"the sweep exited ({self.proc.returncode}) before {what}:\n{self.output()[-6000:]}")
            time.sleep(0.2)
        pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}:\n{self.output()[-6000:]}")

    def wait(self, timeout: float = SWEEP_TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout=max(1.0, timeout - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"the sweep did not end within {timeout:.0f}s:\n{self.output()[-6000:]}")

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def stop(self) -> None:
        """Kill the sweep process if still running and cancel every Slurm job it submitted."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        arrays = {j.split("_")[0] for j in self.jobs().values()}
        sub = self.dir / ".submitit"
        if sub.is_dir():
            arrays |= {p.name for p in sub.iterdir() if p.name.isdigit()}
        if arrays:
            slurm("scancel", *sorted(arrays), check=False)


@pytest.fixture
def sweeps(env):
    """Start sweeps in the background; kill them and cancel their Slurm jobs when the test ends."""
    started: list[Sweep] = []

    def start(sweep_dir: Path, *args: str) -> Sweep:
        s = Sweep(sweep_dir, [*SLURM, *args], env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


metrics_lines = read_metrics  # complete lines of a run's metrics.jsonl (a line being written is skipped)


def job_dir(sweep_dir: Path, num: int, timeout: float = 120) -> Path:
    """The run directory of job ``num`` (named from its overrides), from ``sweep.json`` once the sweeper wrote it."""
    deadline = time.monotonic() + timeout
    while not (sweep_dir / "sweep.json").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sweep_dir / 'sweep.json'} was not written within {timeout:.0f}s")
        time.sleep(0.5)
    jobs = json.loads((sweep_dir / "sweep.json").read_text())["jobs"]
    return Path(next(j["run_dir"] for j in jobs if j["num"] == num))


def runs(sweep_dir: Path) -> pd.DataFrame:
    """One row per run of the results table: its last evaluation."""
    df = pd.read_parquet(sweep_dir / "results.parquet")
    return df.sort_values(["job_num", "epoch"]).groupby("job_num", as_index=False).last()


def sacct_states(array_id: str) -> dict[str, str]:
    out = slurm("sacct", "-n", "-X", "-P", "-j", array_id, "-o", "JobID,State")
    return dict(line.split("|", 1) for line in out.splitlines() if "|" in line)


def test_sweep_through_sbatch_lands_in_results_table(tmp_path, sweeps):
    sweep = sweeps(tmp_path / "sweep", *TINY, "encoding.base=10,30,1000")
    rc = sweep.wait()
    out = sweep.output()
    assert rc == 0, out[-6000:]
    jobs = sweep.jobs()
    assert sorted(jobs) == [0, 1, 2], out[-6000:]
    assert len({j.split("_")[0] for j in jobs.values()}) == 1, "the sweep is one job array"

    df = runs(tmp_path / "sweep")
    assert len(df) == 3
    assert list(df["status"]) == ["finished"] * 3
    assert sorted(df["encoding.base"]) == [10, 30, 1000]
    assert list(df["epoch"]) == [2, 2, 2]
    assert df["valid_acc"].notna().all() and df["valid_acc"].between(0, 1).all()

    array = next(iter(jobs.values())).split("_")[0]
    deadline = time.monotonic() + 60  # slurmdbd may record the end a moment later
    while (states := sacct_states(array)) != {j: "COMPLETED" for j in jobs.values()} and time.monotonic() < deadline:
        time.sleep(1)
    assert states == {j: "COMPLETED" for j in jobs.values()}


@pytest.fixture(scope="module")
def preemption(tmp_path_factory) -> dict:
    """One run preempted after two epochs, requeued by submitit, released at once, run to its end:
    what was seen on the way (shared by the tests that check it)."""
    max_epoch = 12  # epochs of ~1-2 s: enough left after the signal at epoch 2 on a quiet machine
    tmp = tmp_path_factory.mktemp("preemption")
    sweep = Sweep(tmp / "sweep", [*SLURM, *TINY, "encoding.base=30", f"schedule.max_epoch={max_epoch}",
                                  "schedule.epoch_size=4096"], subprocess_env())  # epochs of ~2 s
    seen: dict = {"sweep_dir": tmp / "sweep", "max_epoch": max_epoch}
    try:
        run_dir = seen["run_dir"] = job_dir(tmp / "sweep", 0)
        job = seen["job"] = sweep.job_id(0)
        sweep.until(lambda: len(metrics_lines(run_dir)) >= 2, 300, "two epochs in metrics.jsonl")
        # what submitit's own Job._interrupt() does for a preemption: SIGTERM (ignored), then USR2
        slurm("scancel", job, "--signal", "SIGTERM")
        slurm("scancel", job, "--signal", "USR2")
        seen["preempted_at"] = len(metrics_lines(run_dir))

        def requeued_and_released() -> bool:
            info = slurm("scontrol", "-o", "show", "job", job, check=False)
            state = re.search(r"JobState=(\S+)", info)
            restarts = re.search(r"Restarts=(\d+)", info)
            if not (state and restarts and int(restarts.group(1)) >= 1):
                return False
            if state.group(1) == "PENDING":  # a requeued job waits ~2 min on BeginTime otherwise
                seen.setdefault("status_while_requeued", json.loads((run_dir / "status.json").read_text()))
                try:
                    slurm("scontrol", "update", f"JobId={job}", "StartTime=now")
                except AssertionError as e:  # it may have started since its state was read: the next poll sees it
                    if "no longer pending" not in str(e):
                        raise
            # right after the requeue the old run may still show as COMPLETING or REQUEUED
            return state.group(1) in ("RUNNING", "COMPLETED")

        sweep.until(requeued_and_released, 180, f"Slurm job {job} to be requeued and start again")
        seen["released_after"] = sweep.elapsed()
        seen["rc"] = sweep.wait()
        seen["elapsed"] = sweep.elapsed()
        seen["output"] = sweep.output()
        seen["launch_log"] = (run_dir / "launch.log").read_text()
        seen["submitit_logs"] = "".join(p.read_text(errors="replace")
                                        for p in sorted((tmp / "sweep" / ".submitit").rglob("*_log.*")))
        yield seen
    finally:
        sweep.stop()


def test_preempted_job_resumes_from_its_checkpoint(preemption):
    p = preemption
    run_dir, max_epoch = p["run_dir"], p["max_epoch"]
    assert p["rc"] == 0, p["output"][-6000:]
    assert p["preempted_at"] < max_epoch, "the job ended before it was preempted: make its epochs longer"
    assert [r["epoch"] for r in metrics_lines(run_dir)] == list(range(1, max_epoch + 1))
    assert json.loads((run_dir / "status.json").read_text())["status"] == "finished"
    # submitit took USR2 for a preemption (not a time-out), checkpointed and requeued the job
    assert "this job is preempted" in p["submitit_logs"], p["submitit_logs"][-6000:]
    assert f"Requeued job {p['job']}" in p["submitit_logs"]
    # the run's own log (appended by each launch) shows one resume from the run's checkpoint
    resumed = re.findall(r"resumed from (\S+) at epoch (\d+)", p["launch_log"])
    assert len(resumed) == 1, p["launch_log"][-6000:]
    assert Path(resumed[0][0]) == run_dir / "checkpoint.pt"
    assert p["preempted_at"] <= int(resumed[0][1]) < max_epoch
    df = runs(p["sweep_dir"])
    assert list(df["status"]) == ["finished"] and list(df["epoch"]) == [max_epoch]


def test_preempted_run_is_marked_preempted_while_requeued(preemption):
    status = preemption["status_while_requeued"]
    assert status["status"] == "preempted", status
    assert status["epoch"] >= 2


@pytest.fixture(scope="module")
def cancellation(tmp_path_factory) -> dict:
    """A two-job sweep whose job #1 is cancelled (scancel) after its first epoch: what it left."""
    tmp = tmp_path_factory.mktemp("cancellation")
    # 30 epochs of ~1 s: a cancelled job lingers KillWait (5 s) before it is killed (submitit ignores
    # SIGTERM), so a short job could still finish in that time and never look cancelled
    sweep = Sweep(tmp / "sweep", [*SLURM, *TINY, "encoding.base=10,30", "schedule.max_epoch=30",
                                  "schedule.epoch_size=4096"], subprocess_env())
    seen: dict = {"sweep_dir": tmp / "sweep"}
    try:
        victim = seen["job"] = sweep.job_id(1)
        victim_dir = seen["run_dir"] = job_dir(tmp / "sweep", 1)
        sweep.until(lambda: metrics_lines(victim_dir), 300, "job #1 to run an epoch")
        slurm("scancel", victim)
        cancelled = time.monotonic()
        seen["rc"] = sweep.wait()
        seen["waited"] = time.monotonic() - cancelled
        seen["output"] = sweep.output()
        seen["epochs_done"] = len(metrics_lines(victim_dir))
        yield seen
    finally:
        sweep.stop()


def test_cancelled_job_is_reported_without_hanging(cancellation):
    c = cancellation
    out = c["output"]
    assert c["rc"] == 1, out[-6000:]
    assert c["waited"] < 180, f"the sweep took {c['waited']:.0f}s to end after the scancel"
    # the failure names the job number, its overrides and the Slurm state
    assert re.search(r"job #1 failed: .*encoding\.base=30", out), out[-6000:]
    assert "CANCELLED" in out, out[-6000:]
    assert not re.search(r"job #0 failed", out)

    df = runs(c["sweep_dir"])
    assert list(df["job_num"]) == [0, 1]
    assert list(df["status"]) == ["finished", "failed"]
    assert list(df["encoding.base"]) == [10, 30]
    assert list(df.groupby("job_num")["epoch"].max()) == [30, c["epochs_done"]]
    assert c["epochs_done"] < 30
    status = json.loads((c["run_dir"] / "status.json").read_text())
    assert status["status"] == "failed"
    assert f"Slurm job {c['job']} ended without a result (state CANCELLED" in status["error"]


def _summary_line(output: str, num: int) -> str:
    """The end-of-sweep summary line of a failed job (CollectResults: 'job #N failed (overrides): reason')."""
    lines = [line for line in output.splitlines() if re.search(rf"job #{num} failed \(", line)]
    assert lines, output[-6000:]
    return lines[-1]


def test_cancelled_job_summary_line_gives_the_cause(cancellation):
    assert "CANCELLED" in _summary_line(cancellation["output"], 1)


def test_cancelled_run_status_keeps_its_last_epoch(cancellation):
    """The status names the epoch a relaunch resumes from: its checkpoint's. An epoch ends with its metrics line,
    then its checkpoint (``save_epoch``), so a kill between the two leaves one metrics line more, which the resume
    drops; any other gap is a defect."""
    import torch

    run_dir = cancellation["run_dir"]
    status = json.loads((run_dir / "status.json").read_text())
    saved = json.loads(torch.load(run_dir / "checkpoint.pt", weights_only=True, mmap=True)["progress"])["epoch"]
    assert status["epoch"] == saved >= 1
    assert cancellation["epochs_done"] in (saved, saved + 1)


def sacct_ends(array_id: str) -> dict[str, tuple[str, str]]:
    """Each job's State and End (seconds since the epoch, ``Unknown`` until it ends) as ``{job: (state, end)}``."""
    proc = subprocess.run(["sacct", "-n", "-X", "-P", "-j", array_id, "-o", "JobID,State,End"], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "SLURM_TIME_FORMAT": "%s"})
    assert proc.returncode == 0, proc.stderr
    return {job: (state, end) for job, state, end in (line.split("|") for line in proc.stdout.splitlines())}


def test_detached_sweep_returns_at_submission_and_is_collected_later(tmp_path, sweeps, env):
    """``hydra.launcher.detach=true``: launch.py submits the array, says how to watch and collect it, and exits
    while the jobs still run; the jobs run to their end on their own, and the printed commands then work."""
    sweep_dir = tmp_path / "sweep"
    sweep = sweeps(sweep_dir, *TINY, "seed=0,1", "hydra.launcher.detach=true")
    rc = sweep.wait()
    returned_at = time.time()
    out = sweep.output()
    assert rc == 0, out[-6000:]

    # what it submitted, said and wrote
    recorded = json.loads((sweep_dir / "slurm.json").read_text())
    array = recorded["array_job_id"]
    assert recorded["jobs"] == {"0": f"{array}_0", "1": f"{array}_1"}
    assert sweep.jobs() == {0: f"{array}_0", 1: f"{array}_1"}, out[-6000:]
    where = sweep_dir.resolve()
    status_cmd = f"python -m int2int.status {where}"
    collect_cmd = f"python -m analysis.collect {where} -o {where / 'results.parquet'}"
    assert f"submitted Slurm job array {array} (2 jobs)" in out, out[-6000:]
    assert status_cmd in out and collect_cmd in out, out[-6000:]
    planned = json.loads((sweep_dir / "sweep.json").read_text())["jobs"]
    assert [[o for o in j["overrides"] if o.startswith("seed=")] for j in planned] == [["seed=0"], ["seed=1"]]
    assert not (sweep_dir / "results.parquet").exists(), "a detached sweep has no results to collect yet"

    # the jobs run to their end without launch.py
    jobs = {f"{array}_0", f"{array}_1"}
    deadline = time.monotonic() + SWEEP_TIMEOUT
    while True:
        ends = sacct_ends(array)
        if set(ends) == jobs and all(end.isdigit() for _, end in ends.values()):
            break
        assert time.monotonic() < deadline, f"the jobs did not end within {SWEEP_TIMEOUT}s: {ends}"
        time.sleep(1)
    assert {job: state for job, (state, _) in ends.items()} == {job: "COMPLETED" for job in jobs}
    # launch.py had returned before either job ended (End is whole seconds, rounded down: strictly before it)
    assert all(returned_at < int(end) for _, end in ends.values()), (returned_at, ends)

    # the commands it printed now collect the table and show both jobs finished
    collect = subprocess.run([sys.executable, "-m", "analysis.collect", str(where), "-o",
                              str(where / "results.parquet")], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300)
    assert collect.returncode == 0, collect.stderr[-6000:]
    df = runs(sweep_dir)
    assert list(df["status"]) == ["finished", "finished"]
    assert sorted(df["seed"]) == [0, 1]
    status = subprocess.run([sys.executable, "-m", "int2int.status", str(where)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr[-6000:]
    for num in (0, 1):
        assert re.search(rf"^\s*{num}\s.*\bfinished\b", status.stdout, re.M), status.stdout
