"""Multiruns on this machine (no Slurm): presets, failed jobs, relaunching a sweep, parallel jobs.

Every sweep runs ``launch.py -m ...`` as a subprocess with a time limit and tiny jobs.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

import int2int
from conftest import ROOT, TINY, launch_cmd

#: Seconds one sweep may take (tiny jobs; the 2-core test machine is often shared).
TIMEOUT = 600
PRESETS = sorted(p.stem for p in (ROOT / "sweeps").glob("*.yaml"))


def sweep(tmp_path: Path, env: dict[str, str], sweep_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(launch_cmd("-m", *args, f"hydra.sweep.dir={sweep_dir}"), env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=TIMEOUT)


def output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def runs(sweep_dir: Path) -> pd.DataFrame:
    """One row per run of ``results.parquet``: its last evaluation."""
    df = pd.read_parquet(sweep_dir / "results.parquet")
    return df.sort_values(["job_num", "epoch"]).groupby("job_num", as_index=False).last()


def job_dir(sweep_dir: Path, num: int | str) -> Path:
    """The run directory of job ``num`` (named from its overrides), from ``sweep.json``."""
    jobs = json.loads((sweep_dir / "sweep.json").read_text())["jobs"]
    return Path(next(j["run_dir"] for j in jobs if j["num"] == int(num)))


def epochs(run_dir: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_moduli_preset_runs_end_to_end(tmp_path, env):
    d = tmp_path / "sweep"
    proc = sweep(tmp_path, env, d, "+sweep=moduli", "task.modulus=7,11", *TINY)
    assert proc.returncode == 0, output(proc)[-6000:]
    df = runs(d)
    assert list(df["job_num"]) == [0, 1, 2, 3]
    assert list(df["status"]) == ["finished"] * 4
    assert sorted(zip(df["choice.task"], df["task.modulus"])) == [
        ("modular_add", 7), ("modular_add", 11), ("modular_mul", 7), ("modular_mul", 11)]
    assert list(df["epoch"]) == [2] * 4 and df["valid_acc"].notna().all()
    assert list(df["encoding.base"]) == [1000] * 4  # from the preset
    assert list(df["architecture.enc_emb_dim"]) == [32] * 4  # the command line wins over the preset


def test_failed_job_is_named_and_the_others_are_collected(tmp_path, env):
    d = tmp_path / "sweep"
    proc = sweep(tmp_path, env, d, "encoding.base=1,10", *TINY)
    out = output(proc)
    assert proc.returncode == 1, out[-6000:]
    assert "encoding.base=1: must be >= 2" in out
    summary = [line for line in out.splitlines() if "job #0 failed" in line]
    assert summary and all("encoding.base=1 " in line for line in summary), out[-6000:]
    assert any("encoding.base=1: must be >= 2" in line for line in summary), out[-6000:]
    assert "job #1 failed" not in out
    df = runs(d)
    good = df[df["job_num"] == 1]
    assert list(good["status"]) == ["finished"] and list(good["encoding.base"]) == [10]
    assert good["valid_acc"].notna().all()
    # the invalid job stops before it writes anything, so it has no row (it is never 'finished')
    assert "finished" not in set(df.loc[df["job_num"] == 0, "status"])


def test_relaunched_sweep_skips_finished_runs_and_continues_unfinished_ones(tmp_path, env):
    d = tmp_path / "sweep"
    args = ["encoding.base=10,30", *TINY]
    first = sweep(tmp_path, env, d, *args, "schedule.max_epoch=1")
    assert first.returncode == 0, output(first)[-6000:]
    dirs = {n: job_dir(d, n) for n in ("0", "1")}
    names = sorted(p.name for p in dirs.values())  # named from the overrides (max_epoch is resumable: left out)
    assert names == ["+debug=tiny,encoding.base=10", "+debug=tiny,encoding.base=30"], names
    before = {n: ((dirs[n] / "metrics.jsonl").read_bytes(), (dirs[n] / "checkpoint.pt").stat().st_mtime_ns)
              for n in ("0", "1")}

    again = sweep(tmp_path, env, d, *args, "schedule.max_epoch=1")
    assert again.returncode == 0, output(again)[-6000:]
    assert output(again).count("nothing to do") == 2, output(again)[-6000:]
    for n in ("0", "1"):
        assert (dirs[n] / "metrics.jsonl").read_bytes() == before[n][0]
        assert (dirs[n] / "checkpoint.pt").stat().st_mtime_ns == before[n][1]
        assert json.loads((dirs[n] / "status.json").read_text())["status"] == "finished"

    longer = sweep(tmp_path, env, d, *args, "schedule.max_epoch=2")
    out = output(longer)
    assert longer.returncode == 0, out[-6000:]
    assert "nothing to do" not in out
    for n in ("0", "1"):
        assert f"resumed from {dirs[n] / 'checkpoint.pt'} at epoch 1" in out, out[-6000:]
        assert epochs(dirs[n]) == [1, 2]
        assert (dirs[n] / "metrics.jsonl").read_bytes().startswith(before[n][0])  # epoch 1 untouched
    assert len(re.findall(r"epoch 1: valid", out)) == 0 and len(re.findall(r"epoch 2: valid", out)) == 2
    df = pd.read_parquet(d / "results.parquet")
    assert sorted(zip(df["job_num"], df["epoch"])) == [(0, 1), (0, 2), (1, 1), (1, 2)]
    assert set(df["status"]) == {"finished"}


def _log_time(line: str) -> datetime:
    return datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f")


def test_local_hardware_runs_jobs_in_parallel(tmp_path, env):
    d = tmp_path / "sweep"
    proc = sweep(tmp_path, env, d, "hardware=local", "encoding.base=10,30", *TINY, "schedule.max_epoch=3")
    out = output(proc)
    assert proc.returncode == 0, out[-6000:]
    assert "Joblib.Parallel(n_jobs=2," in out
    spans = []
    for n in ("0", "1"):
        lines = (job_dir(d, n) / "launch.log").read_text().splitlines()
        start = next(line for line in lines if "run directory:" in line)
        end = next(line for line in lines if "done:" in line)
        spans.append((_log_time(start), _log_time(end)))
    assert max(s for s, _ in spans) < min(e for _, e in spans), f"the two jobs did not overlap: {spans}"
    df = runs(d)
    assert list(df["status"]) == ["finished"] * 2 and sorted(df["encoding.base"]) == [10, 30]
    assert list(df["hardware.name"]) == ["local"] * 2


@pytest.mark.parametrize("name", PRESETS)
def test_preset_composes_and_documents_itself(name, env, tmp_path):
    text = (ROOT / "sweeps" / f"{name}.yaml").read_text()
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("#").strip())
    assert header, f"sweeps/{name}.yaml does not start with a comment"
    about = [line for line in header if line and not line.startswith("@package")]
    length = " ".join(about[next((i for i, line in enumerate(about) if line.startswith("Length:")), len(about)):])
    assert length, f"sweeps/{name}.yaml: the header comment has no 'Length:' (how long the sweep runs)"
    assert re.search(r"\b\d+ jobs?\b", length) and re.search(r"\b(second|minute|hour|day)s?\b", length), length
    assert about[0] and not about[0].startswith("Length:"), "the header starts by saying what the preset reproduces"

    proc = subprocess.run(launch_cmd(f"+sweep={name}", "--cfg", "job"), env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, output(proc)[-4000:]

    # every value the preset sweeps composes (with the first value of the other swept keys: a key like
    # task.modulus exists only once another swept key, task=modular_add, has chosen its group)
    with initialize_config_dir(config_dir=str(int2int.CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"+sweep={name}"], return_hydra_config=True)
        parser = OverridesParser.create()
        parsed = {key: parser.parse_overrides([f"{key}={values}"])[0]
                  for key, values in cfg.hydra.sweeper.params.items()}
        swept = {key: list(o.sweep_string_iterator()) if o.is_sweep_override() else [o.value()]
                 for key, o in parsed.items()}  # a single value (seed: 0) is a sweep of one job
        assert swept and all(swept.values()), f"sweeps/{name}.yaml sweeps nothing"
        first = {key: values[0] for key, values in swept.items()}
        for key, values in swept.items():
            for value in values:
                job = {**first, key: value}
                compose(config_name="config", overrides=[f"+sweep={name}", *(f"{k}={v}" for k, v in job.items())])
