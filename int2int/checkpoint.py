"""Checkpoints: plain tensors and Python primitives only, so ``torch.load(weights_only=True)`` reads them.

Written atomically (temporary file, then rename) at the end of every epoch, after its metrics line and before
its best and periodic checkpoints (a resume rewrites those of its epoch if a crash left them stale). The config
that wrote a checkpoint is inside it: a relaunch under another config is refused
(:func:`check_relaunch`) before any compute.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from .config import ConfigError, config_changes, describe_change, is_resumable, RESUMABLE_KEYS
from .run_files import CHECKPOINT_FILE, atomic_write

log = logging.getLogger(__name__)


def save_checkpoint(run_dir: Path, state: dict[str, Any], name: str = CHECKPOINT_FILE) -> None:
    atomic_write(Path(run_dir) / name, lambda f: torch.save(state, f), mode="wb")


def load_checkpoint(path: Path, device: torch.device | str = "cpu", mmap: bool = False) -> dict[str, Any] | None:
    """A checkpoint file (or a run directory's ``checkpoint.pt``), None when there is none."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_FILE
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location=device, weights_only=True, mmap=mmap)
    except Exception as err:  # a checkpoint we cannot read must stop the run, not be overwritten
        raise ConfigError(f"{path}: cannot load checkpoint ({err}); move it away to start afresh") from err


def encode_json(obj: Any) -> str:
    """Nested config or metrics as a JSON string (kept as one primitive inside the checkpoint)."""
    return json.dumps(obj, default=str)


def checkpoint_epoch(run_dir: Path) -> int:
    """The epochs a run directory's checkpoint holds (what a relaunch resumes from), 0 without one."""
    try:
        ckpt = load_checkpoint(run_dir, mmap=True)
    except ConfigError:  # unreadable: the relaunch will say so
        return 0
    return 0 if ckpt is None else int(json.loads(ckpt["progress"])["epoch"])


def checkpoint_config(run_dir: Path) -> dict[str, Any] | None:
    """The config (nested dict) of a run directory's checkpoint, read without loading its tensors."""
    ckpt = load_checkpoint(run_dir, mmap=True)
    return None if ckpt is None else json.loads(ckpt["config"])


class ConfigChangeError(ConfigError):
    """A run directory's checkpoint was written under another config; ``changes`` lists the keys."""

    def __init__(self, run_dir: Path, changes: list[str]):
        self.changes = changes
        super().__init__(f"{Path(run_dir) / CHECKPOINT_FILE} was written under another config ({'; '.join(changes)}): "
                         f"a relaunch into a run directory may change only {', '.join(RESUMABLE_KEYS)}; use another "
                         "run directory (hydra.run.dir=...) to start a new run")


def check_relaunch(run_dir: Path, config: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, tuple]:
    """Refuse to resume ``run_dir`` under a config that changes what the run trains (``old``: the checkpoint's
    config if already read).

    Returns the resumable keys that changed (``{key: (old, new)}``, e.g. ``schedule.max_epoch``); raises
    :class:`ConfigChangeError` naming every other key that changed (``task.modulus: 31 -> 37``)."""
    old = checkpoint_config(run_dir) if old is None else old
    if old is None:
        return {}
    changes = config_changes(old, config)
    bad = {k: v for k, v in changes.items() if not is_resumable(k)}
    if bad:
        raise ConfigChangeError(run_dir, [describe_change(k, *v) for k, v in bad.items()])
    return {k: v for k, v in changes.items() if is_resumable(k)}
