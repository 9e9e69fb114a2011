"""The training core: a flat loop of generated batches, an evaluation per epoch, a checkpoint per epoch.

Reads top to bottom: set up (task, model, optimiser, validation set), resume from ``checkpoint.pt``
if the run directory has one, then for each epoch train on ``schedule.epoch_size`` fresh examples,
evaluate, append the metrics line and write the checkpoint.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .batching import TensorBatch, to_tensors
from .checkpoint import encode_json, load_checkpoint, save_checkpoint
from .config import Config, ConfigError, InverseSqrtConfig, ScheduleConfig, WarmupCosineConfig, to_dict, validate
from .encodings import PAD
from .evaluate import evaluate
from .models import build_model
from .run_files import append_metrics, reconcile_metrics
from .sources import describe_repetition, eval_sets, repetition, training_source
from .tasks import Task, build_task

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"hardware.device={name!r}: CUDA is not available on this machine (use cpu or auto)")
    return torch.device(name)


def build_optimizer(cfg: Config, model: nn.Module) -> torch.optim.Optimizer:
    o = cfg.optimizer
    params = [p for p in model.parameters() if p.requires_grad]
    if o.name == "adam":
        return torch.optim.Adam(params, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=o.weight_decay)
    if o.name == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=o.weight_decay)
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=o.weight_decay)
    raise ConfigError(f"optimizer.name={o.name!r}: unknown optimizer (known: adam, adamw, sgd)")


def lr_factor(s: ScheduleConfig, step: int, total_steps: int) -> float:
    """Learning rate at optimisation ``step`` (0-based) as a fraction of the peak ``optimizer.lr``."""
    warm = s.warmup_steps
    if step < warm:
        return (step + 1) / warm
    if isinstance(s, WarmupCosineConfig):
        progress = min(1.0, (step - warm) / max(1, total_steps - warm))
        return s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    if isinstance(s, InverseSqrtConfig):
        return math.sqrt(warm / max(step, 1))
    return 1.0


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, b: TensorBatch, lr: float, clip: float) -> float:
    """One optimisation step on batch ``b`` at learning rate ``lr``; returns the batch's mean token loss."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    logits = model(b.x, b.x_len, b.y_in)
    loss = F.cross_entropy(logits.flatten(0, 1), b.y_out.flatten(), ignore_index=PAD)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item()


@dataclass
class Progress:
    """Where training stands; saved in the checkpoint."""

    epoch: int = 0  # completed epochs
    steps: int = 0
    examples: int = 0
    wall_time: float = 0.0  # seconds spent in this run, over all launches


def check_lengths(cfg: Config, task: Task) -> None:
    """Fail before training when the task's sequences cannot fit the model's positions."""
    longest = min(max(task.max_input_len + 1, task.max_output_len + 2), cfg.data.max_len)
    if longest > cfg.architecture.max_positions:
        raise ConfigError(
            f"architecture.max_positions={cfg.architecture.max_positions}: the task needs sequences of "
            f"{longest} tokens (input {task.max_input_len}, output {task.max_output_len}, plus <eos>; "
            f"data.max_len={cfg.data.max_len})")


def train(cfg: Config, run_dir: Path) -> dict[str, Any]:
    """Train (or resume) the run in ``run_dir``; returns the last metrics record."""
    validate(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.hardware.device)
    if cfg.hardware.num_threads:
        torch.set_num_threads(cfg.hardware.num_threads)
    task = build_task(cfg)
    check_lengths(cfg, task)
    max_out = cfg.eval.max_output_len or task.max_output_len + 1

    torch.manual_seed(cfg.seed)
    model = build_model(cfg.architecture, len(task.vocab)).to(device)
    optimizer = build_optimizer(cfg, model)
    rng = np.random.default_rng(cfg.seed)
    source = training_source(cfg, task, rng)  # reads and checks the data files before any training
    evals = eval_sets(cfg, task)
    s = cfg.schedule
    steps_per_epoch = math.ceil(s.epoch_size / s.batch_size)
    total_steps = steps_per_epoch * s.max_epoch
    progress, last_record = Progress(), None

    ckpt = load_checkpoint(run_dir, device)
    if ckpt is not None:
        if ckpt.get("vocab") not in (None, task.vocab.itos):
            raise ConfigError(f"{run_dir / 'checkpoint.pt'} was written with another vocabulary "
                              "(task, encoding or data files changed)")
        try:
            model.load_state_dict(ckpt["model"])
        except RuntimeError as err:
            raise ConfigError(f"{run_dir / 'checkpoint.pt'} was written by a different model "
                              f"(architecture/task/encoding changed?): {err}") from None
        optimizer.load_state_dict(ckpt["optimizer"])
        rng.bit_generator.state = json.loads(ckpt["rng"]["numpy"])
        torch.set_rng_state(ckpt["rng"]["torch"].cpu())
        progress = Progress(**ckpt["progress"])
        source.load_state(ckpt.get("source", {}))
        last_record = json.loads(ckpt["last_record"]) if ckpt["last_record"] else None
        reconcile_metrics(run_dir, progress.epoch, last_record)
        log.info("resumed from %s at epoch %d (%d examples)", run_dir / "checkpoint.pt", progress.epoch, progress.examples)
    else:
        reconcile_metrics(run_dir, 0, None)
    if progress.epoch >= s.max_epoch:
        log.info("run already trained for %d epochs (schedule.max_epoch=%d): nothing to do", progress.epoch, s.max_epoch)
        return last_record or {}

    log.info("task: %s", task.describe())
    log.info("vocabulary: %s", " ".join(task.vocab.itos))
    log.info("model: %s parameters (%s without embeddings) on %s",
             f"{model.n_params():,}", f"{model.n_params(non_embedding=True):,}", device)
    for name, data in evals.items():
        log.info("eval set %s: %d examples%s", name, len(data), "" if cfg.data.eval_paths and name != "strat"
                 else f" (generated, eval.seed={cfg.eval.seed})")
    log.info(describe_repetition(cfg, source, total_steps * s.batch_size))
    empty_batches = 0

    model.train()
    show_bar = sys.stderr.isatty()
    for epoch in range(progress.epoch, s.max_epoch):
        t_epoch = time.perf_counter()
        loss_sum, loss_n, n_dropped = 0.0, 0, source.dropped
        lr = cfg.optimizer.lr * lr_factor(s, progress.steps, total_steps)
        window_t, window_ex, window_loss, window_n = time.perf_counter(), 0, 0.0, 0
        bar = None
        if show_bar:
            from tqdm import tqdm

            bar = tqdm(total=steps_per_epoch, desc=f"epoch {epoch + 1}/{s.max_epoch}", leave=False, dynamic_ncols=True)
        for _ in range(steps_per_epoch):
            ex = source.batch(s.batch_size)
            if len(ex) == 0:
                empty_batches += 1
                if empty_batches >= 20:
                    raise ConfigError(f"data.max_len={cfg.data.max_len}: no training example fits (the task needs "
                                      f"{task.max_input_len + 1} input tokens)")
                continue
            empty_batches = 0
            lr = cfg.optimizer.lr * lr_factor(s, progress.steps, total_steps)
            loss_v = train_step(model, optimizer, to_tensors(ex, device), lr, cfg.optimizer.clip_grad_norm)
            if not math.isfinite(loss_v):
                raise FloatingPointError(f"training loss is {loss_v} at step {progress.steps} (lower optimizer.lr?)")
            progress.steps += 1
            progress.examples += len(ex)
            loss_sum, loss_n = loss_sum + loss_v, loss_n + 1
            window_ex, window_loss, window_n = window_ex + len(ex), window_loss + loss_v, window_n + 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss_v:.4f}", refresh=False)
            if progress.steps % s.log_every == 0:
                now = time.perf_counter()
                log.info("epoch %d step %d | %.0f examples/s | loss %.4f | lr %.3e", epoch + 1, progress.steps,
                         window_ex / (now - window_t), window_loss / window_n, lr)
                window_t, window_ex, window_loss, window_n = now, 0, 0.0, 0
        if bar is not None:
            bar.close()
        if source.dropped > n_dropped:
            log.warning("epoch %d: dropped %d training examples longer than data.max_len=%d", epoch + 1,
                        source.dropped - n_dropped, cfg.data.max_len)
        train_time = time.perf_counter() - t_epoch

        record: dict[str, Any] = {
            "epoch": epoch + 1, "examples": progress.examples, "steps": progress.steps,
            "train_loss": loss_sum / max(loss_n, 1), "lr": lr,
        }
        rep = repetition(cfg, source, progress.examples)
        if rep is not None:
            record["repetition"] = rep
        if (epoch + 1) % cfg.eval.every == 0 or epoch + 1 == s.max_epoch:
            t_eval = time.perf_counter()
            record["eval_sets"] = list(evals)
            record["classes"] = {}
            for name, data in evals.items():
                metrics, classes = evaluate(model, task, data, cfg.eval.batch_size, max_out, device, name)
                metrics.update(task.set_metrics(name, classes))
                record.update(metrics)
                record["classes"][name] = classes
                log.info("epoch %d: %s acc %.2f%% (perfect %.2f%%, correct %.2f%%, xe_loss %.4f)%s", epoch + 1, name,
                         100 * metrics[f"{name}_acc"], 100 * metrics[f"{name}_perfect"], 100 * metrics[f"{name}_correct"],
                         metrics[f"{name}_xe_loss"], "".join(f", {k} {v}" for k, v in metrics.items()
                                                             if not k.endswith(("_acc", "_perfect", "_correct", "_xe_loss", "_size"))))
                log_classes(task, name, classes)
            log.info("epoch %d: train %.1fs (%.0f examples/s), eval %.1fs", epoch + 1, train_time,
                     s.epoch_size / train_time, time.perf_counter() - t_eval)
        progress.epoch = epoch + 1
        progress.wall_time += time.perf_counter() - t_epoch
        record["wall_time"] = round(progress.wall_time, 3)
        append_metrics(run_dir, record)
        save_checkpoint(run_dir, {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": {"name": s.name, "step": progress.steps, "total_steps": total_steps},
            "progress": vars(progress).copy(),
            "rng": {"numpy": json.dumps(rng.bit_generator.state), "torch": torch.get_rng_state()},
            "source": dict(source.state),
            "vocab": list(task.vocab.itos),
            "config": encode_json(to_dict(cfg)),
            "last_record": encode_json(record),
        })
        last_record = record
    return last_record or {}


def log_classes(task: Task, name: str, classes: dict[str, list[int]], limit: int = 12) -> None:
    """The most frequent classes with their accuracy, like the original's end-of-evaluation report."""
    top = sorted(classes.items(), key=lambda kv: -kv[1][0])[:limit]
    log.info("%s per-%s accuracy (most frequent %d): %s", name, task.class_key, len(top),
             ", ".join(f"{k}: {c}/{n}" for k, (n, c) in top))
