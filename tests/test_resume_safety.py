"""No result under the wrong config: relaunches are checked against the checkpoint's config, sweeps find their runs
again by overrides, decaying schedules keep their horizon, crashes leave best checkpoints coherent, and bad data
files end in one clear line."""

from __future__ import annotations

import json
import logging
import math
import subprocess
from pathlib import Path

import pytest
import torch

from conftest import TINY, launch_cmd, make_config
from int2int.config import ConfigError
from int2int.data.files import DataFileError
from int2int.data.sources import training_source
from int2int.data.streams import Stream, rng
from int2int.run_files import read_metrics
from int2int.tasks import build_task
from int2int.train import train

RUN_FILES = ("run.json", "status.json", "metrics.jsonl", "classes.csv", "checkpoint.pt", "progress.json")


def launch(tmp_path: Path, env, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    flags = [a for a in args if a.startswith("-")]
    overrides = [a for a in args if not a.startswith("-")]
    return subprocess.run(launch_cmd(*flags, *TINY, *overrides), env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=timeout)


def snapshot(run_dir: Path) -> dict[str, bytes]:
    return {name: (run_dir / name).read_bytes() for name in RUN_FILES}


def test_relaunch_with_a_changed_key_fails_before_compute_naming_it(tmp_path, env):
    run = tmp_path / "run"
    first = launch(tmp_path, env, "task=modular_add", "task.modulus=31", "schedule.max_epoch=1", f"hydra.run.dir={run}")
    assert first.returncode == 0, first.stderr[-4000:]
    before = snapshot(run)
    again = launch(tmp_path, env, "task=modular_add", "task.modulus=37", "schedule.max_epoch=2",
                   "architecture.enc_emb_dim=64", f"hydra.run.dir={run}")
    out = again.stdout + again.stderr
    assert again.returncode == 2, out[-4000:]
    assert "config error:" in out and "task.modulus: 31 -> 37" in out and "architecture.enc_emb_dim: 32 -> 64" in out
    assert "schedule.max_epoch" not in out.split("config error:")[1].split("(")[1].split(")")[0]  # resumable
    assert "Traceback" not in out
    assert snapshot(run) == before  # the first run's files untouched, run.json included


def test_relaunch_changing_resumable_keys_continues_and_run_json_records_it(tmp_path, env):
    run = tmp_path / "run"
    assert launch(tmp_path, env, "schedule.max_epoch=1", f"hydra.run.dir={run}").returncode == 0
    again = launch(tmp_path, env, "schedule.max_epoch=2", "eval.size=100", "hardware.num_threads=2",
                   f"hydra.run.dir={run}")
    assert again.returncode == 0, again.stderr[-4000:]
    assert [r["epoch"] for r in read_metrics(run)] == [1, 2]
    assert [r["valid_size"] for r in read_metrics(run)] == [200, 100]
    history = json.loads((run / "run.json").read_text())["history"]
    assert [h["from_epoch"] for h in history] == [1, 2]
    assert history[0]["changed"] == {}
    assert history[1]["changed"] == {"eval.size": [200, 100], "hardware.num_threads": [1, 2],
                                     "schedule.max_epoch": [1, 2]}


def test_extending_a_sweeps_value_lists_finds_every_earlier_run(tmp_path, env):
    sweep_dir = tmp_path / "sweep"
    first = launch(tmp_path, env, "-m", "seed=0,1", "schedule.max_epoch=1", f"hydra.sweep.dir={sweep_dir}")
    assert first.returncode == 0, first.stderr[-4000:]
    runs = {json.loads((p / "run.json").read_text())["config"]["seed"]: p for p in sweep_dir.iterdir()
            if (p / "run.json").exists()}
    before = {seed: snapshot(p) for seed, p in runs.items()}
    # a value inserted in the middle shifts the job numbers; the runs are found by their overrides
    second = launch(tmp_path, env, "-m", "seed=0,2,1", "schedule.max_epoch=1", f"hydra.sweep.dir={sweep_dir}")
    out = second.stdout + second.stderr
    assert second.returncode == 0, out[-4000:]
    assert out.count("nothing to do") == 2, out[-4000:]
    for seed, p in runs.items():
        after = snapshot(p)
        assert {k: v for k, v in after.items() if k not in ("run.json", "status.json")} == \
               {k: v for k, v in before[seed].items() if k not in ("run.json", "status.json")}
    jobs = json.loads((sweep_dir / "sweep.json").read_text())["jobs"]
    assert [[o for o in j["overrides"] if o.startswith("seed=")] for j in jobs] == [["seed=0"], ["seed=2"], ["seed=1"]]
    assert Path(jobs[2]["run_dir"]) == runs[1]  # job #2 now, job #1 before: the same run directory
    assert len([p for p in sweep_dir.iterdir() if (p / "run.json").exists()]) == 3


def test_raising_max_epoch_keeps_a_decaying_schedules_horizon(tmp_path, caplog):
    args = [*TINY, "optimizer.lr=1e-3", "schedule=warmup_cosine", "schedule.warmup_steps=2",
            "schedule.min_lr_ratio=0.1"]
    train(make_config(*args, "schedule.max_epoch=2"), tmp_path / "a")
    first = read_metrics(tmp_path / "a")
    assert 0.1 * 1e-3 < first[-1]["lr"] < 0.12 * 1e-3  # the last step before the horizon (16 steps), nearly decayed
    with caplog.at_level(logging.INFO):
        train(make_config(*args, "schedule.max_epoch=3"), tmp_path / "a")
    assert "keeps its horizon of 16 steps" in caplog.text
    assert read_metrics(tmp_path / "a")[-1]["lr"] == pytest.approx(0.1 * 1e-3)  # the extra epoch: the final lr
    # a schedule that decayed to 0 would train no more: refused
    zero = [*TINY, "optimizer.lr=1e-3", "schedule=cosine", "schedule.min_lr_ratio=0"]
    train(make_config(*zero, "schedule.max_epoch=2"), tmp_path / "b")
    with pytest.raises(ConfigError, match="schedule.max_epoch=3: the run's cosine schedule decayed to lr 0"):
        train(make_config(*zero, "schedule.max_epoch=3"), tmp_path / "b")
    # a cosine over a fixed period ignores the horizon: more epochs continue it
    period = [*zero, "schedule.period_steps=40"]
    train(make_config(*period, "schedule.max_epoch=2"), tmp_path / "c")
    train(make_config(*period, "schedule.max_epoch=3"), tmp_path / "c")
    lrs = [r["lr"] for r in read_metrics(tmp_path / "c")]
    assert lrs == pytest.approx([1e-3 * 0.5 * (1 + math.cos(math.pi * s / 40)) for s in (7, 15, 23)])


def test_a_crash_before_the_best_checkpoint_is_repaired_on_resume(tmp_path):
    cfg = make_config(*TINY, "schedule.validation_metrics=_valid_xe_loss", "schedule.max_epoch=2")
    train(cfg, tmp_path)
    best = torch.load(tmp_path / "best-valid_xe_loss.pt", weights_only=True)
    assert best["epoch"] == 2  # the loss went down at epoch 2
    # a crash just after checkpoint.pt of epoch 2: best-*.pt still holds epoch 1's model
    stale = {**best, "epoch": 1, "model": {k: torch.zeros_like(v) for k, v in best["model"].items()}}
    torch.save(stale, tmp_path / "best-valid_xe_loss.pt")
    train(cfg, tmp_path)  # nothing to train: the repair alone
    repaired = torch.load(tmp_path / "best-valid_xe_loss.pt", weights_only=True)
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert repaired["epoch"] == 2
    assert all(torch.equal(repaired["model"][k], ckpt["model"][k]) for k in ckpt["model"])


def test_a_streamed_file_whose_lines_are_all_too_long_fails_with_the_file(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("".join(f"V2 + {i} 0 0 0 0 0 0 0 + 1\t+ 1\n" for i in range(1, 10)) * 3)
    cfg = make_config(*TINY, "encoding.base=10", f"data.train_path={path}", "data.batch_load=true",
                      "data.reload_size=4", "data.max_len=8")
    source = training_source(cfg, build_task(cfg), rng(0, Stream.TRAIN))
    with pytest.raises(DataFileError, match=f"{path}: no line fits data.max_len=8"):
        source.batch(4)


@pytest.mark.parametrize("override, message", [
    ("data.train_path=/nonexistent.txt", "data error: /nonexistent.txt: no such data file"),
    ("data.eval_paths=[/nonexistent.txt]", "data error: /nonexistent.txt: no such data file"),
    ("init_from=/nonexistent", "config error: init_from='/nonexistent': no checkpoint there"),
])
def test_bad_files_end_in_one_line_before_compute(tmp_path, env, override, message):
    proc = launch(tmp_path, env, override, f"hydra.run.dir={tmp_path / 'run'}")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-4000:]
    assert message in out and "Traceback" not in out
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_train_called_directly_refuses_a_checkpoint_of_another_config(tmp_path):
    from int2int.train import train

    train(make_config(*TINY, "task=modular_add", "task.modulus=31", "schedule.max_epoch=1"), tmp_path / "run")
    with pytest.raises(ConfigError, match="task.modulus: 31 -> 37"):
        train(make_config(*TINY, "task=modular_add", "task.modulus=37", "schedule.max_epoch=2"), tmp_path / "run")
