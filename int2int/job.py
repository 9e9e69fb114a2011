"""One job of a sweep: Hydra's composed config in, a trained run directory out.

Converts the composed DictConfig into the typed :class:`~int2int.config.Config`, validates it before
any compute, records ``run.json`` and ``status.json`` in Hydra's output directory, then trains.
"""

from __future__ import annotations

import logging
import os
import traceback
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from .config import Config, to_dict, validate
from .run_files import RUN_FILE, now, read_metrics, read_status, write_json, write_status

log = logging.getLogger(__name__)

_CURRENT_RUN_DIR: Path | None = None


def current_run_dir() -> Path | None:
    """The run directory of the job running in this process (for the Slurm launcher's checkpoint)."""
    return _CURRENT_RUN_DIR


def to_config(cfg: DictConfig) -> Config:
    """The typed config (dataclass instances all the way down) of a composed DictConfig."""
    obj = OmegaConf.to_object(cfg)
    if not isinstance(obj, Config):
        raise TypeError(f"expected an int2int Config, got {type(obj).__name__}")
    return obj


def job_info() -> dict[str, Any]:
    """Run directory, group choices, overrides and sweep position, from Hydra's runtime config."""
    hc = HydraConfig.get()
    choices = {g: c for g, c in hc.runtime.choices.items() if not g.startswith("hydra")}
    multirun = hc.mode is not None and hc.mode.name == "MULTIRUN"
    return {
        "run_dir": hc.runtime.output_dir,
        "choices": choices,
        "overrides": list(hc.overrides.task),
        "sweep_dir": str(Path(hc.sweep.dir).resolve()) if multirun else None,
        "job_num": hc.job.num if multirun else None,
    }


def absolute_paths(config: Config) -> None:
    """Data and export paths relative to where the user launched (they stay valid in any job directory)."""
    d = config.data
    d.train_path = to_absolute_path(d.train_path) if d.train_path else ""
    d.eval_paths = [to_absolute_path(p) for p in d.eval_paths]
    config.export.path = to_absolute_path(config.export.path)


def is_main_process() -> bool:
    """False in data-parallel ranks other than 0 (torchrun's RANK, or Slurm's SLURM_PROCID under submitit)."""
    return int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0"))) == 0


def pick_local_gpu(config: Config, job_num: int | None) -> None:
    """With ``hardware=local`` and several GPUs, job N takes GPU N modulo the count."""
    if config.hardware.name != "local" or config.hardware.device != "auto" or job_num is None:
        return
    import torch

    if torch.cuda.device_count() > 1:
        config.hardware.device = f"cuda:{job_num % torch.cuda.device_count()}"


def run_job(cfg: DictConfig) -> float | None:
    """Hydra task function body: returns the last validation accuracy (for sweepers that optimise)."""
    config = to_config(cfg)
    validate(config)
    absolute_paths(config)
    if config.mode == "export":
        from .export import export

        export(config)
        return None
    info = job_info()
    run_dir = Path(info["run_dir"])
    pick_local_gpu(config, info["job_num"])
    from .train import train  # torch is imported only once the config is known to be valid

    if not is_main_process():  # a data-parallel rank > 0: rank 0 keeps the run's files
        record = train(config, run_dir)
        return float(record["valid_acc"]) if "valid_acc" in record else None
    write_json(run_dir / RUN_FILE, {
        "run_id": f"{Path(info['sweep_dir']).name}/{info['job_num']}" if info["sweep_dir"] else run_dir.name,
        "run_dir": str(run_dir.resolve()),
        "config": to_dict(config),
        "choices": info["choices"],
        "overrides": info["overrides"],
        "sweep_dir": info["sweep_dir"],
        "job_num": info["job_num"],
        "started": now(),
    })
    log.info("run directory: %s", run_dir.resolve())
    global _CURRENT_RUN_DIR
    _CURRENT_RUN_DIR = run_dir
    previous = read_status(run_dir)
    if previous is not None and previous["status"] != "finished":
        log.info("previous status %s at epoch %s: resuming", previous["status"], previous["epoch"])
    write_status(run_dir, "running", previous["epoch"] if previous else 0)
    try:
        record = train(config, run_dir)
    except BaseException as err:  # interrupted (Ctrl-C) or requeued (submitit exits) runs resume later
        status = "preempted" if isinstance(err, (KeyboardInterrupt, SystemExit)) else "failed"
        done = read_metrics(run_dir)
        write_status(run_dir, status, done[-1]["epoch"] if done else 0, "".join(traceback.format_exception(err)))
        raise
    write_status(run_dir, "finished", int(record.get("epoch", 0)))
    if "valid_acc" in record:
        log.info("done: epoch %d, %d examples, valid acc %.2f%% (results in %s)", record["epoch"], record["examples"],
                 100 * record["valid_acc"], run_dir / "metrics.jsonl")
        return float(record["valid_acc"])
    return None
