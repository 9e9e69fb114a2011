"""Checkpoints: plain tensors and Python primitives only, so ``torch.load(weights_only=True)`` reads them.

Written atomically (temporary file, then rename) at the end of every epoch, after its metrics line.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from .run_files import CHECKPOINT_FILE, atomic_write

log = logging.getLogger(__name__)


def save_checkpoint(run_dir: Path, state: dict[str, Any], name: str = CHECKPOINT_FILE) -> None:
    atomic_write(Path(run_dir) / name, lambda f: torch.save(state, f), mode="wb")


def load_checkpoint(run_dir: Path, device: torch.device | str = "cpu") -> dict[str, Any] | None:
    path = Path(run_dir) / CHECKPOINT_FILE
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # a checkpoint we cannot read must stop the run, not be overwritten
        raise RuntimeError(f"{path}: cannot load checkpoint ({err}); move it away to start afresh") from err


def encode_json(obj: Any) -> str:
    """Nested config or metrics as a JSON string (kept as one primitive inside the checkpoint)."""
    return json.dumps(obj, default=str)
