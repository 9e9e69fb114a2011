"""hardware=packed: runs that share their shapes train as one stacked model, each exactly as it would alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import TINY, launch_cmd
from int2int.run_files import read_metrics

GRID = ["seed=0,1", "optimizer.lr=1e-3,3e-3"]


def sweep(tmp_path: Path, env, sweep_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(launch_cmd("-m", *TINY, *args, f"hydra.sweep.dir={sweep_dir}"), env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)


def runs(sweep_dir: Path) -> dict[tuple, Path]:
    out = {}
    for p in sweep_dir.iterdir():
        if (p / "run.json").exists():
            c = json.loads((p / "run.json").read_text())["config"]
            out[(c["seed"], c["optimizer"]["lr"], c["optimizer"]["name"])] = p
    return out


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_packed_runs_match_the_same_runs_trained_alone(tmp_path, env, optimizer):
    extra = [f"optimizer={optimizer}", "schedule=warmup_cosine", "schedule.warmup_steps=4"]
    if optimizer == "adamw":
        extra.append("optimizer.weight_decay=0.5")
    packed = sweep(tmp_path, env, tmp_path / "packed", "hardware=packed", *GRID, *extra)
    assert packed.returncode == 0, packed.stderr[-4000:]
    assert "packed: 4 runs trained as one stacked model" in packed.stdout + packed.stderr
    alone = sweep(tmp_path, env, tmp_path / "alone", *GRID, *extra)
    assert alone.returncode == 0, alone.stderr[-4000:]
    a, b = runs(tmp_path / "packed"), runs(tmp_path / "alone")
    assert sorted(a) == sorted(b) and len(a) == 4
    for key in a:
        pa, pb = read_metrics(a[key]), read_metrics(b[key])
        assert [r["epoch"] for r in pa] == [r["epoch"] for r in pb] == [1, 2]
        for ra, rb in zip(pa, pb):
            assert ra["train_loss"] == pytest.approx(rb["train_loss"], rel=1e-4), key
            assert ra["valid_xe_loss"] == pytest.approx(rb["valid_xe_loss"], rel=1e-4), key
            assert abs(ra["valid_acc"] - rb["valid_acc"]) <= 0.01, key
            assert ra["lr"] == pytest.approx(rb["lr"]) and ra["examples"] == rb["examples"]
    # the runs differ from each other (their own seeds and learning rates)
    assert len({read_metrics(p)[-1]["train_loss"] for p in a.values()}) == 4


def test_a_packed_sweep_killed_mid_way_resumes_every_run(tmp_path, env):
    d = tmp_path / "sweep"
    cmd = launch_cmd("-m", *TINY, "hardware=packed", *GRID, "schedule.max_epoch=6", "schedule.epoch_size=2048",
                     f"hydra.sweep.dir={d}")
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        done = [len(read_metrics(p)) for p in runs(d).values()] if d.exists() else []
        if len(done) == 4 and min(done) >= 2:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # mid-way, as an out-of-memory kill or a pulled plug
    proc.wait()
    cut = {k: len(read_metrics(p)) for k, p in runs(d).items()}
    assert all(2 <= n < 6 for n in cut.values()), cut
    again = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-4000:]
    for key, p in runs(d).items():
        assert [r["epoch"] for r in read_metrics(p)] == [1, 2, 3, 4, 5, 6], key
        assert json.loads((p / "status.json").read_text())["status"] == "finished"


def test_jobs_that_cannot_be_packed_run_alone_in_the_same_sweep(tmp_path, env):
    d = tmp_path / "sweep"
    proc = sweep(tmp_path, env, d, "hardware=packed", "architecture=encoder_decoder,lstm", "seed=0,1",
                 "schedule.max_epoch=1")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "packed: 2 runs" in out and out.count("(alone)") == 2
    assert out.count("packed on the CPU: 8 tiny runs packed trained at 0.86-0.90x") == 1  # the group's warning
    assert all(json.loads((p / "status.json").read_text())["status"] == "finished" for p in d.iterdir()
               if (p / "status.json").exists())


def test_adam_and_sgd_runs_of_one_sweep_are_packed_apart(tmp_path, env):
    d = tmp_path / "sweep"
    proc = sweep(tmp_path, env, d, "hardware=packed", "optimizer=adam,sgd", "seed=0,1", "schedule.max_epoch=1")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert out.count("packed: 2 runs") == 2
    assert sorted(runs(d)) == [(0, 3e-4, "adam"), (0, 0.01, "sgd"), (1, 3e-4, "adam"), (1, 0.01, "sgd")]


def test_a_packed_run_whose_loss_diverges_fails_alone(tmp_path, env):
    d = tmp_path / "sweep"
    proc = sweep(tmp_path, env, d, "hardware=packed", "optimizer.lr=1e-3,1e9", "optimizer.clip_grad_norm=0",
                 "schedule.max_epoch=2", "schedule.log_every=1")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-4000:]  # the sweep reports its failed job
    by_lr = {lr: p for (_, lr, _), p in runs(d).items()}
    bad, good = (json.loads((by_lr[lr] / "status.json").read_text()) for lr in (1e9, 1e-3))
    assert bad["status"] == "failed" and "training loss is" in bad["error"]
    assert good["status"] == "finished" and [r["epoch"] for r in read_metrics(by_lr[1e-3])] == [1, 2]
