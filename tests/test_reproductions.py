"""The reproductions of the papers (README "Reproductions"): each is two presets, ``<name>`` at the paper's size and
``<name>_cpu`` (minutes on a laptop CPU), and a README row with its command. Here each CPU preset runs every one of
its jobs for a few steps (the measured runs themselves are documented, not part of the test suite)."""

from __future__ import annotations

import json
import subprocess

import pandas as pd
import pytest

from conftest import ROOT, launch_cmd

#: The names are a contract (issue 12): ``python launch.py -m +sweep=<name>_cpu``.
REPRODUCTIONS = ("gcd_base30", "gcd_bases", "gcd_loguniform", "grokking", "repetition", "addition", "lawt")
#: A few steps of every job: small epochs and eval sets, whatever the preset chose.
FEW_STEPS = ("schedule.epoch_size=128", "schedule.batch_size=32", "schedule.max_epoch=1", "eval.size=64",
             "eval.train_size=32", "hardware.num_threads=1")


@pytest.mark.parametrize("name", REPRODUCTIONS)
def test_each_reproduction_has_both_sizes_and_a_readme_row(name):
    for preset in (name, f"{name}_cpu"):
        assert (ROOT / "sweeps" / f"{preset}.yaml").is_file(), f"sweeps/{preset}.yaml is missing"
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Reproductions"):]
    section = section[:section.index("\n## ", 1)]
    rows = [line for line in section.splitlines() if f"`python launch.py -m +sweep={name}_cpu`" in line]
    assert len(rows) == 1, f"the README's Reproductions table needs one row with +sweep={name}_cpu"
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert all(cells) and not any("⟨" in c for c in cells), rows[0]


@pytest.mark.parametrize("name", REPRODUCTIONS)
def test_each_cpu_preset_runs_every_job(name, tmp_path, env):
    sweep_dir = tmp_path / "sweep"
    proc = subprocess.run(launch_cmd("-m", f"+sweep={name}_cpu", *FEW_STEPS, f"hydra.sweep.dir={sweep_dir}"),
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    runs = pd.read_parquet(sweep_dir / "results.parquet")
    runs = runs.drop_duplicates("run_dir")
    jobs = len(json.loads((sweep_dir / "sweep.json").read_text())["jobs"])
    assert jobs >= 1 and len(runs) == jobs and set(runs["status"]) == {"finished"}, runs[["run_dir", "status"]]
