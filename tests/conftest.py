"""Shared test helpers: compose configs the way launch.py does, and run tiny jobs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import int2int  # noqa: E402,F401  (registers the config groups' options)
from int2int.config import Config  # noqa: E402

#: Overrides that make a run take seconds on a CPU: the `+debug=tiny` preset users type (conf/debug/tiny.yaml).
TINY = ["+debug=tiny"]


#: Metrics that measure time, not learning: they differ between identical runs.
TIMING_KEYS = ("wall_time", "train_time", "eval_time", "examples_per_s")


def strip_timing(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in records]


def read_classes(run_dir) -> dict:
    """``classes.csv`` as ``{epoch: {set: {class: [count, right]}}}`` (read with the csv module, not the code under
    test)."""
    import csv

    out: dict = {}
    with open(Path(run_dir) / "classes.csv", newline="") as f:
        for r in csv.DictReader(f):
            out.setdefault(int(r["epoch"]), {}).setdefault(r["set"], {})[r["class"]] = [int(r["count"]),
                                                                                       int(r["correct"])]
    return out


def compose_dict(*overrides: str):
    """The composed DictConfig of ``overrides``, as Hydra builds it for launch.py."""
    with initialize_config_dir(config_dir=str(int2int.CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def make_config(*overrides: str) -> Config:
    """The typed Config the training core receives."""
    obj = OmegaConf.to_object(compose_dict(*overrides))
    assert isinstance(obj, Config)
    return obj


def launch_cmd(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "launch.py"), *args]


@pytest.fixture
def env():
    """Environment for subprocess launches: the project importable, one thread."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.setdefault("OMP_NUM_THREADS", "1")
    return e


@pytest.fixture
def fresh_hydra_version_base():
    """Hydra's launcher conformance apps assume a process where no ``version_base`` was ever set (Hydra 1.1
    defaults: a job runs in its output directory); the compose-API tests before them set 1.3 process-wide."""
    from hydra.version import _UNSPECIFIED_, VersionBase

    saved = VersionBase.instance().getbase()
    VersionBase.instance().version_base = _UNSPECIFIED_
    yield
    VersionBase.instance().version_base = saved


def task_config(name: str, base: int = 10, encoding: str = "positional", **task_kw) -> Config:
    """A whole config for task ``name`` with task options ``task_kw`` (built directly: faster than composing)."""
    from int2int.config import HardwareConfig
    from int2int.encodings import ENCODINGS
    from int2int.models.layers import TransformerConfig
    from int2int.optim import AdamConfig, ScheduleConfig
    from int2int.tasks import TASKS

    enc = ENCODINGS.schemas[encoding](name=encoding, **({"base": base} if encoding == "positional" else {}))
    return Config(task=TASKS.schemas[name](name=name, **task_kw), encoding=enc,
                  architecture=TransformerConfig(), optimizer=AdamConfig(), schedule=ScheduleConfig(),
                  hardware=HardwareConfig(device="cpu"))


def cluster_problem() -> str | None:
    """Why the local Slurm cluster cannot be used, or None when ``sinfo`` answers."""
    conf = os.environ.get("SLURM_CONF")
    if not conf:
        return "SLURM_CONF is not set"
    if not Path(conf).is_file():
        return f"SLURM_CONF={conf} does not exist"
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%P %a %T"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as err:
        return f"sinfo failed: {err}"
    if proc.returncode != 0:
        return f"sinfo failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()}"
    return None
