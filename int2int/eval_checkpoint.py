"""``mode=eval``: evaluate a trained run's model, with any ``eval.*`` settings, into a new run directory.

``python launch.py mode=eval eval.checkpoint=RUN_DIR eval.beam_size=10 eval.size=10000`` rebuilds the task and
the model from the config stored in the checkpoint (so they are exactly the trained ones), evaluates on the trained
run's evaluation sets and settings except for the ``eval.*`` keys, ``data.eval_paths`` and ``hardware.*`` given on
the command line, and writes
``run.json``, one ``metrics.jsonl`` line, ``classes.csv`` and, with ``eval.save_predictions``, the predictions
into this job's run directory. The evaluated run directory is only read.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from .checkpoint import load_checkpoint
from .config import Config, ConfigError, DataConfig, EvalConfig, ExportConfig, HardwareConfig, Mode, to_dict
from .data.eval_sets import eval_sets
from .data.sources import Source, training_source
from .data.streams import Stream, rng
from .run_files import append_metrics, now, write_json

log = logging.getLogger(__name__)


def config_from_dict(tree: dict[str, Any]) -> Config:
    """The typed config of a nested dict written by :func:`int2int.config.to_dict` (run.json, checkpoints)."""
    from .encodings import ENCODINGS
    from .models import ARCHITECTURES
    from .optim import OPTIMIZERS, SCHEDULES
    from .tasks import TASKS

    def typed(schema: type, values: dict[str, Any]) -> Any:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values))

    groups = {"task": TASKS, "encoding": ENCODINGS, "architecture": ARCHITECTURES, "optimizer": OPTIMIZERS,
              "schedule": SCHEDULES}
    def schema(group: str) -> type:
        name = tree[group]["name"]
        if group == "optimizer" and name not in OPTIMIZERS:
            name = "torch"  # optimizer=torch stores the torch.optim class name as its name
        return groups[group].schemas[name]

    parts = {g: typed(schema(g), tree[g]) for g in groups}
    sections = {"hardware": HardwareConfig, "data": DataConfig, "eval": EvalConfig, "export": ExportConfig}
    parts.update({k: typed(schema, tree.get(k, {})) for k, schema in sections.items()})
    extra = {f.name: Mode(tree[f.name]) if f.name == "mode" else tree[f.name]
             for f in dataclasses.fields(Config) if f.name in tree and f.name not in parts}
    return Config(**parts, **extra)


def load_trained(path: Path, device: torch.device) -> tuple[Config, dict[str, Any]]:
    ckpt = load_checkpoint(path, device)
    if ckpt is None:
        raise ConfigError(f"eval.checkpoint={str(path)!r}: no checkpoint there (a run directory with checkpoint.pt, "
                          "or a .pt file)")
    return config_from_dict(json.loads(ckpt["config"])), ckpt


def evaluate_checkpoint(cfg: Config, out_dir: Path, info: dict[str, Any]) -> float | None:
    from .train import Progress, Run, build_model_for, check_eval_precision, evaluate_all, resolve_device
    from .tasks import build_task

    device = resolve_device(cfg.hardware.device)
    trained, ckpt = load_trained(Path(cfg.eval.checkpoint), device)
    # the trained run's evaluation settings, but for the eval.* keys given on the command line
    given = {o.lstrip("+~").split("=", 1)[0].split(".")[1] for o in info["overrides"]
             if o.lstrip("+~").startswith("eval.")}  # eval.generated.<name>.<key>=... gives eval.generated
    evaluation = dataclasses.replace(trained.eval, **{k: getattr(cfg.eval, k) for k in given | {"checkpoint"}})
    data = dataclasses.replace(trained.data, eval_paths=cfg.data.eval_paths or trained.data.eval_paths)
    config = dataclasses.replace(trained, eval=evaluation, hardware=cfg.hardware, data=data, mode=cfg.mode)
    check_eval_precision(config, device)
    if config.eval.held_out and not trained.data.budget:
        raise ConfigError("eval.held_out=True: the evaluated run had no data budget (no training pool)")
    task = build_task(config)
    if ckpt.get("vocab") not in (None, task.vocab.itos):
        raise ConfigError(f"eval.checkpoint={cfg.eval.checkpoint!r}: its vocabulary differs from the task's "
                          "(the data files changed?)")
    model = build_model_for(config, task, device)
    model.load_state_dict(ckpt["model"])
    # the training pool (a data budget's, a repeated set's) is rebuilt from the seed: held-out and train sets need it
    pooled = trained.data.budget or trained.data.repeat_size
    source = training_source(config, task, rng(config.seed, Stream.TRAIN)) if pooled else Source()
    evals = eval_sets(config, task, source)
    progress = json.loads(ckpt["progress"])
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "run.json", {
        "run_id": out_dir.name, "run_dir": str(out_dir.resolve()), "config": to_dict(config),
        "choices": info["choices"], "overrides": info["overrides"], "sweep_dir": info["sweep_dir"],
        "job_num": info["job_num"], "started": now(), "evaluated": str(Path(cfg.eval.checkpoint).resolve())})
    run = Run(config, out_dir, None, device, task, model, None, None, None, source, evals,
              Progress(**progress))
    record: dict[str, Any] = {"epoch": progress["epoch"], "examples": progress["examples"],
                              "steps": progress["steps"], "train_time": 0.0, "examples_per_s": 0.0}
    evaluate_all(run, record)
    append_metrics(out_dir, record)
    log.info("evaluated %s (epoch %d): metrics in %s", cfg.eval.checkpoint, progress["epoch"],
             out_dir / "metrics.jsonl")
    return float(record["valid_acc"]) if "valid_acc" in record else None
