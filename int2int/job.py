"""One job of a sweep: Hydra's composed config in, a trained (exported, evaluated) run directory out.

Converts the composed DictConfig into the typed :class:`~int2int.config.Config` and checks it before any compute;
refuses to resume a run directory whose checkpoint another config wrote; records ``run.json`` (with the history
of what relaunches changed) and ``status.json``; then trains. Errors of the config or of a data file end a single
run with one line (``config error: ...``, ``data error: ...``) and exit status 2; in a sweep the job fails and the
sweeper reports it with the job's overrides, the other jobs go on.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from .config import Config, ConfigError, Mode, describe_change, to_dict
from .data.files import DataFileError
from .run_files import RUN_FILE, now, read_json, read_status, write_json, write_status

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
    multirun = hc.mode == RunMode.MULTIRUN
    return {
        "run_dir": hc.runtime.output_dir,
        "choices": {g: c for g, c in hc.runtime.choices.items() if not g.startswith("hydra")},
        "overrides": list(hc.overrides.task),
        "sweep_dir": str(Path(hc.sweep.dir).resolve()) if multirun else None,
        "job_num": hc.job.num if multirun else None,
        "multirun": multirun,
    }


def absolute_paths(config: Config) -> None:
    """Data, export and checkpoint paths relative to where the user launched (valid in any job directory)."""
    d = config.data
    d.train_path = to_absolute_path(d.train_path) if d.train_path else ""
    d.eval_paths = [to_absolute_path(p) for p in d.eval_paths]
    config.export.path = to_absolute_path(config.export.path)
    for section, key in ((config.eval, "checkpoint"), (config, "init_from")):
        if getattr(section, key):
            setattr(section, key, to_absolute_path(getattr(section, key)))


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
    info = job_info()
    try:
        return dispatch(cfg, info)
    except (ConfigError, DataFileError) as err:  # a rule broken by the config or a file: say which, no traceback
        kind = "config" if isinstance(err, ConfigError) else "data"
        log.error("%s error: %s", kind, err)
        if info["multirun"]:
            raise  # the sweeper reports it with the job's overrides; the other jobs go on
        sys.exit(2)


def dispatch(cfg: DictConfig, info: dict[str, Any]) -> float | None:
    config = to_config(cfg)
    config.check()
    absolute_paths(config)
    run_dir = Path(info["run_dir"])
    if config.mode == Mode.export:
        from .data.export import export
        from .tasks import build_task

        export(config, build_task(config))
        return None
    if config.mode == Mode.eval:
        from .eval_checkpoint import evaluate_checkpoint

        return evaluate_checkpoint(config, run_dir, info)
    pick_local_gpu(config, info["job_num"])
    from .train import train  # torch is imported only once the config is known to be valid

    if not is_main_process():  # a data-parallel rank > 0: rank 0 keeps the run's files
        record = train(config, run_dir)
        return float(record["valid_acc"]) if "valid_acc" in record else None
    start_run(config, run_dir, info)
    with run_status(run_dir):
        record = train(config, run_dir)
    return finish_run(run_dir, record)


def start_run(config: Config, run_dir: Path, info: dict[str, Any]) -> None:
    """Before training: refuse a checkpoint written under another config (before anything is written), record
    ``run.json``, and mark the run ``running``."""
    from .checkpoint import check_relaunch

    changed = check_relaunch(run_dir, to_dict(config))
    record_run(config, run_dir, info, changed)
    global _CURRENT_RUN_DIR
    _CURRENT_RUN_DIR = run_dir
    previous = read_status(run_dir)
    if previous is not None and previous["status"] != "finished":
        log.info("previous status %s at epoch %s: resuming", previous["status"], previous["epoch"])
    write_status(run_dir, "running", previous["epoch"] if previous else 0)


@contextmanager
def run_status(run_dir: Path):
    """A failure or an interruption inside is written to ``status.json`` (interrupted and requeued runs resume
    later), then raised again."""
    try:
        yield
    except BaseException as err:
        record_failure(run_dir, err)
        raise


def record_failure(run_dir: Path, err: BaseException) -> None:
    """``status.json`` of a run stopped by ``err``: preempted (an interruption: it resumes later) or failed."""
    status = "preempted" if isinstance(err, (KeyboardInterrupt, SystemExit)) else "failed"
    from .checkpoint import checkpoint_epoch

    write_status(run_dir, status, checkpoint_epoch(run_dir), "".join(traceback.format_exception(err)))


def finish_run(run_dir: Path, record: dict[str, Any]) -> float | None:
    """Mark the run finished; returns its last validation accuracy (for sweepers that optimise)."""
    write_status(run_dir, "finished", int(record.get("epoch", 0)))
    if "valid_acc" in record:
        log.info("done: epoch %d, %d examples, valid acc %.2f%% (results in %s)", record["epoch"], record["examples"],
                 100 * record["valid_acc"], run_dir / "metrics.jsonl")
        return float(record["valid_acc"])
    return None


def record_run(config: Config, run_dir: Path, info: dict[str, Any], changed: dict[str, tuple[Any, Any]]) -> None:
    """Write ``run.json``: the config of the latest launch, choices and overrides, and the history of launches. Only
    resumable keys (``schedule.max_epoch``, ``eval.*``...) may differ between launches; each launch that changed
    them is in ``history`` with the epoch it applies from, so every metrics line's settings can be told."""
    path = run_dir / RUN_FILE
    history = []
    if path.exists():
        try:
            history = read_json(path).get("history", [])
        except (OSError, ValueError):
            history = []
    from .checkpoint import checkpoint_epoch

    launch = {"started": now(), "from_epoch": checkpoint_epoch(run_dir) + 1,
              "changed": {k: [old, new] for k, (old, new) in changed.items()}}
    if changed:
        log.info("relaunch with changed resumable keys: %s",
                 "; ".join(describe_change(k, *v) for k, v in changed.items()))
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(path, {
        "run_id": f"{Path(info['sweep_dir']).name}/{run_dir.name}" if info["sweep_dir"] else run_dir.name,
        "run_dir": str(run_dir.resolve()),
        "config": to_dict(config),
        "choices": info["choices"],
        "overrides": info["overrides"],
        "sweep_dir": info["sweep_dir"],
        "job_num": info["job_num"],
        "started": launch["started"],
        "history": history + [launch],
    })
    log.info("run directory: %s", run_dir.resolve())
