"""Shared test helpers: compose configs the way launch.py does, and run tiny jobs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from int2int.config import Config, register_configs  # noqa: E402

register_configs()

#: Overrides that make a run take seconds on a CPU.
TINY = [
    "architecture.n_enc_layers=1", "architecture.n_dec_layers=1",
    "architecture.enc_emb_dim=32", "architecture.dec_emb_dim=32",
    "architecture.n_enc_heads=2", "architecture.n_dec_heads=2",
    "schedule.epoch_size=512", "schedule.max_epoch=2", "schedule.batch_size=64",
    "eval.size=200", "eval.batch_size=100", "hardware.device=cpu", "hardware.num_threads=1",
]


def compose_dict(*overrides: str):
    """The composed DictConfig of ``overrides``, as Hydra builds it for launch.py."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
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
