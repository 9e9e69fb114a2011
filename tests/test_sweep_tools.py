"""The int2int sweeper: paired (zip) axes and the dry run (+plan=true) on a half-done sweep."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from conftest import TINY, launch_cmd


def sweep(tmp_path: Path, env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(launch_cmd("-m", *TINY, *args), env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)


def configs(sweep_dir: Path) -> list[dict]:
    return [json.loads((p / "run.json").read_text())["config"] for p in sorted(sweep_dir.iterdir())
            if (p / "run.json").exists()]


def test_paired_axes_launch_exactly_the_pairs_and_compose_with_ordinary_axes(tmp_path, env):
    d = tmp_path / "sweep"
    proc = sweep(tmp_path, env, "+zip=[encoding.base,schedule.epoch_size]", "encoding.base=10,30",
                 "schedule.epoch_size=256,512", "seed=0,1", "schedule.max_epoch=1", f"hydra.sweep.dir={d}")
    assert proc.returncode == 0, proc.stderr[-4000:]
    runs = {(c["encoding"]["base"], c["schedule"]["epoch_size"], c["seed"]) for c in configs(d)}
    assert runs == {(10, 256, 0), (10, 256, 1), (30, 512, 0), (30, 512, 1)}  # 2 pairs x 2 seeds, not 8
    jobs = json.loads((d / "sweep.json").read_text())["jobs"]
    assert len(jobs) == 4 and all("zip" not in " ".join(j["overrides"]) for j in jobs)


def test_zip_of_keys_with_different_lengths_is_refused(tmp_path, env):
    proc = sweep(tmp_path, env, "+zip=[encoding.base,seed]", "encoding.base=10,30,1000", "seed=0,1",
                 f"hydra.sweep.dir={tmp_path / 's'}")
    assert proc.returncode != 0
    assert "paired keys need as many values each" in proc.stderr and "encoding.base: 3, seed: 2" in proc.stderr
    assert not (tmp_path / "s").exists()


def test_plan_of_a_half_done_sweep_lists_each_action_and_writes_nothing(tmp_path, env):
    d = tmp_path / "sweep"
    done = sweep(tmp_path, env, "seed=0,1", "schedule.max_epoch=2", f"hydra.sweep.dir={d}")
    assert done.returncode == 0, done.stderr[-4000:]
    # seed=1 made partial: its last epoch forgotten (as if it had been preempted after epoch 1)
    partial = next(p for p in d.iterdir() if (p / "run.json").exists()
                   and json.loads((p / "run.json").read_text())["config"]["seed"] == 1)
    subprocess.run(launch_cmd(*TINY, "seed=1", "schedule.max_epoch=1", f"hydra.run.dir={tmp_path / 'one'}"), env=env,
                   cwd=tmp_path, check=True, capture_output=True, timeout=300)
    for name in ("checkpoint.pt", "metrics.jsonl"):
        (partial / name).write_bytes((tmp_path / "one" / name).read_bytes())
    (partial / "status.json").write_text(json.dumps({"status": "preempted", "epoch": 1}))
    before = {p: p.stat().st_mtime_ns for p in d.rglob("*")}

    plan = sweep(tmp_path, env, "seed=0,1,2", "schedule.max_epoch=2", "+plan=true", f"hydra.sweep.dir={d}")
    out = plan.stdout
    assert plan.returncode == 0, plan.stderr[-4000:]
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("#")}
    assert "skip (finished, epoch 2)" in lines["seed=0"]
    assert "resume from epoch 2" in lines["seed=1"]
    assert "start" in lines["seed=2"]
    assert "1 start, 1 resume, 1 skip" in out and "estimated compute" in out
    assert re.search(r"start\s+1,024\s+\d+m\d\ds$", lines["seed=2"]), lines["seed=2"]  # examples and a time
    assert {p: p.stat().st_mtime_ns for p in d.rglob("*")} == before  # nothing written
    assert not any("seed=2" in p.name for p in d.iterdir())


def test_a_long_run_name_depends_on_the_jobs_overrides_alone():
    from hydra_plugins.int2int_sweeping import MAX_NAME, run_key

    job = ["optimizer.lr=0.0003", "schedule=warmup_cosine", "schedule.warmup_steps=1000", "seed=0",
           "architecture.enc_emb_dim=256", "architecture.dec_emb_dim=256", "task.operands=loguniform",
           "task.outcomes=loguniform"]
    name = run_key(job)
    assert len(name) <= MAX_NAME and re.search(r"-[0-9a-f]{10}$", name)
    assert run_key(list(reversed(job))) == name  # order of the command line does not matter
    assert run_key(job[:-1] + ["task.outcomes=uniform"]) != name  # the hash covers what the cut hides


def test_job_numbers_name_the_runs_when_the_command_line_asks(tmp_path, env):
    d = tmp_path / "sweep"
    proc = sweep(tmp_path, env, "seed=0,1", "schedule.max_epoch=1", f"hydra.sweep.dir={d}",
                 "hydra.sweep.subdir=${hydra.job.num}")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert sorted(p.name for p in d.iterdir() if p.is_dir()) == ["0", "1"]


def test_plan_actions_read_the_checkpoint_and_name_every_changed_key(tmp_path):
    from conftest import make_config
    from int2int.sweep_plan import job_action
    from int2int.train import train

    run = tmp_path / "run"
    train(make_config(*TINY, "schedule.max_epoch=1"), run)
    assert job_action(make_config(*TINY, "schedule.max_epoch=1"), run) == ("skip (finished, epoch 1)", 1)
    assert job_action(make_config(*TINY, "schedule.max_epoch=3"), run) == ("resume from epoch 2", 1)
    action, _ = job_action(make_config(*TINY, "task.max_int=1000", "task.operands=loguniform"), run)
    assert action == "refused: task.max_int: 1000000 -> 1000; task.operands: 'uniform' -> 'loguniform'", action
    assert job_action(make_config(*TINY), tmp_path / "new") == ("start", 0)
