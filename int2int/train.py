"""The training core: a flat loop of batches, an evaluation per epoch, a checkpoint per epoch.

Reads top to bottom: set up (task, model, optimiser, data sources, eval sets), resume from
``checkpoint.pt`` if the run directory has one, then for each epoch train on
``schedule.epoch_size`` examples, evaluate, append the metrics line, write the checkpoint, and keep
the best and periodic checkpoints; stop early if ``schedule.stopping_criterion`` says so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .batching import TensorBatch, to_tensors
from .checkpoint import encode_json, load_checkpoint, save_checkpoint
from .config import (Config, ConfigError, CosineConfig, InverseSqrtConfig, LinearWarmupConfig, ScheduleConfig,
                     TorchOptimizerConfig, WarmupCosineConfig, to_dict, validate)
from .distributed import Dist, setup_distributed
from .evaluate import evaluate
from .examples import Examples
from .models import build_model
from .models.base import Seq2SeqModel
from .run_files import append_metrics, reconcile_metrics
from .sources import describe_repetition, eval_sets, repetition, training_source
from .tasks import Task, build_task

log = logging.getLogger(__name__)


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"hardware.device={name!r}: CUDA is not available on this machine (use cpu or auto)")
    if name == "cuda":
        name = f"cuda:{local_rank}"
    return torch.device(name)


def build_optimizer(cfg: Config, model: nn.Module) -> torch.optim.Optimizer:
    o = cfg.optimizer
    params = [p for p in model.parameters() if p.requires_grad]
    # the fused kernels (CPU and CUDA) update every tensor in one call: 5-15% faster steps on small models
    fused = all(p.device.type in ("cpu", "cuda") for p in params)
    if o.name == "adam":
        return torch.optim.Adam(params, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=o.weight_decay,
                                fused=fused)
    if o.name == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=o.weight_decay,
                                 fused=fused)
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=o.weight_decay)
    if isinstance(o, TorchOptimizerConfig):
        cls = getattr(torch.optim, o.name, None)
        if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
            known = sorted(n for n, c in vars(torch.optim).items() if isinstance(c, type) and issubclass(c, torch.optim.Optimizer) and n != "Optimizer")
            raise ConfigError(f"optimizer.name={o.name!r}: not a torch.optim optimiser (known: {', '.join(known)})")
        try:
            return cls(params, lr=o.lr, weight_decay=o.weight_decay, **o.args)
        except TypeError as err:
            raise ConfigError(f"optimizer.args={o.args!r}: {o.name} rejects them ({err})") from None
    raise ConfigError(f"optimizer.name={o.name!r}: unknown optimizer (known: adam, adamw, sgd; others with optimizer=torch)")


def lr_factor(s: ScheduleConfig, step: int, total_steps: int) -> float:
    """Learning rate at optimisation ``step`` (0-based) as a fraction of the peak ``optimizer.lr``."""
    warm = s.warmup_steps
    if step < warm:
        return (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total_steps - warm))
    if isinstance(s, (WarmupCosineConfig, CosineConfig)):
        return s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    if isinstance(s, LinearWarmupConfig):
        return s.min_lr_ratio + (1 - s.min_lr_ratio) * (1 - progress)
    if isinstance(s, InverseSqrtConfig):
        return math.sqrt(warm / max(step, 1))
    return 1.0


@dataclass
class Progress:
    """Where training stands; saved in the checkpoint."""

    epoch: int = 0  # completed epochs
    steps: int = 0
    examples: int = 0
    wall_time: float = 0.0  # seconds spent in this run, over all launches
    best: dict[str, float] = field(default_factory=dict)  # best value of each tracked metric
    bad_evals: int = 0  # evaluations without improvement of the stopping criterion
    stopped: bool = False  # ended early by the stopping criterion


class Stepper:
    """One optimisation step over ``accumulate_gradients`` micro-batches, on one rank or several.

    The loss is the token cross-entropy summed over the global batch (all micro-batches, all ranks)
    divided by its token count, so accumulation and data parallelism give the gradients of one big
    batch. Mixed precision (``hardware.precision``) runs the forward pass under autocast.
    """

    def __init__(self, cfg: Config, model: Seq2SeqModel, optimizer: torch.optim.Optimizer, device: torch.device, d: Dist):
        self.cfg, self.model, self.optimizer, self.device, self.dist = cfg, model, optimizer, device, d
        net: nn.Module = model
        if d.active:
            from torch.nn.parallel import DistributedDataParallel

            net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        if cfg.hardware.compile:
            net = torch.compile(net)
        self.net = net
        prec = cfg.hardware.precision
        if prec == "fp16" and device.type != "cuda":
            raise ConfigError("hardware.precision='fp16': fp16 training needs CUDA; use bf16 on CPU")
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(prec)
        self.scaler = torch.amp.GradScaler("cuda", enabled=prec == "fp16")

    def autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def __call__(self, micro: list[TensorBatch], lr: float) -> tuple[float, int]:
        """Train on the micro-batches of one step; returns (summed token loss, tokens) on this rank."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        tokens = sum(b.n_tokens for b in micro)
        total = self.dist.all_sum(tokens)
        scale = self.dist.world / total  # DDP averages gradients over ranks
        loss_sum = 0.0
        self.optimizer.zero_grad(set_to_none=True)
        for i, b in enumerate(micro):
            sync = i == len(micro) - 1 or not self.dist.active
            ctx = contextlib.nullcontext() if sync else self.net.no_sync()
            with ctx, self.autocast():
                loss = self.net(b.x, b.x_len, b.y_in, b.y_out)
                extra = self.model.aux_loss()
            self.scaler.scale(loss * scale + extra / len(micro)).backward()
            loss_sum += loss.item()
        clip = self.cfg.optimizer.clip_grad_norm
        if clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), clip, foreach=True)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss_sum, tokens


def check_lengths(cfg: Config, task: Task) -> None:
    """Fail before training when the task's sequences cannot fit the model's positions."""
    longest = min(max(task.max_input_len + 1, task.max_output_len + 2), cfg.data.max_len)
    if longest > cfg.architecture.max_positions:
        raise ConfigError(
            f"architecture.max_positions={cfg.architecture.max_positions}: the task needs sequences of "
            f"{longest} tokens (input {task.max_input_len}, output {task.max_output_len}, plus <eos>; "
            f"data.max_len={cfg.data.max_len})")


def parse_metric(spec: str) -> tuple[str, bool]:
    """``_valid_xe_loss`` -> (``valid_xe_loss``, lower is better)."""
    spec = spec.strip()
    return (spec[1:], True) if spec.startswith("_") else (spec, False)


def improved(value: float, best: float | None, lower: bool) -> bool:
    return best is None or (value < best if lower else value > best)


def train(cfg: Config, run_dir: Path) -> dict[str, Any]:
    """Train (or resume) the run in ``run_dir``; returns the last metrics record."""
    validate(cfg)
    run_dir = Path(run_dir)
    s = cfg.schedule
    d = setup_distributed("cuda" if resolve_device(cfg.hardware.device).type == "cuda" else "cpu")
    if s.batch_size % d.world:
        raise ConfigError(f"schedule.batch_size={s.batch_size}: must be divisible by the {d.world} data-parallel ranks")
    device = resolve_device(cfg.hardware.device, d.local_rank)
    if cfg.hardware.num_threads:
        torch.set_num_threads(cfg.hardware.num_threads)
    task = build_task(cfg)
    check_lengths(cfg, task)
    max_out = cfg.eval.max_output_len or task.max_output_len

    torch.manual_seed(cfg.seed)
    model = build_model(cfg.architecture, len(task.vocab)).to(device)
    try:
        model.check_task(task)  # e.g. encoder_only needs outputs no longer than inputs
    except ValueError as err:
        raise ConfigError(str(err)) from None
    optimizer = build_optimizer(cfg, model)
    stepper = Stepper(cfg, model, optimizer, device, d)
    rng = np.random.default_rng(cfg.seed)
    source = training_source(cfg, task, rng)  # reads and checks the data files before any training
    evals = eval_sets(cfg, task) if d.main else {}
    step_examples = s.batch_size * s.accumulate_gradients
    steps_per_epoch = math.ceil(s.epoch_size / step_examples)
    total_steps = steps_per_epoch * s.max_epoch
    progress, last_record = Progress(), None
    if d.main:
        run_dir.mkdir(parents=True, exist_ok=True)

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
        if "scaler" in ckpt:
            stepper.scaler.load_state_dict(ckpt["scaler"])
        rng.bit_generator.state = json.loads(ckpt["rng"]["numpy"])
        torch.set_rng_state(ckpt["rng"]["torch"].cpu())
        progress = Progress(**json.loads(ckpt["progress"]))
        source.load_state(ckpt.get("source", {}))
        last_record = json.loads(ckpt["last_record"]) if ckpt["last_record"] else None
        if d.main:
            reconcile_metrics(run_dir, progress.epoch, last_record)
        log.info("resumed from %s at epoch %d (%d examples)", run_dir / "checkpoint.pt", progress.epoch, progress.examples)
    elif d.main:
        reconcile_metrics(run_dir, 0, None)
    if progress.epoch >= s.max_epoch or progress.stopped:
        log.info("run already %s at epoch %d (schedule.max_epoch=%d): nothing to do",
                 "stopped early" if progress.stopped else "trained", progress.epoch, s.max_epoch)
        return last_record or {}

    log.info("task: %s", task.describe())
    log.info("vocabulary: %s", " ".join(task.vocab.itos))
    log.info("model: %s parameters (%s without embeddings) on %s, %s",
             f"{model.n_params():,}", f"{model.n_params(non_embedding=True):,}", device, cfg.hardware.precision)
    for name, data in evals.items():
        log.info("eval set %s: %d examples%s", name, len(data), "" if cfg.data.eval_paths and name != "strat"
                 else f" (generated, eval.seed={cfg.eval.seed})")
    log.info(describe_repetition(cfg, source, total_steps * step_examples))

    stop_metric = parse_metric(s.stopping_criterion.split(",")[0]) if s.stopping_criterion else None
    patience = int(s.stopping_criterion.split(",")[1]) if s.stopping_criterion else 0
    tracked = [parse_metric(m) for m in s.validation_metrics.split(",") if m.strip()]
    share = slice(d.rank * s.batch_size // d.world, (d.rank + 1) * s.batch_size // d.world)
    model.train()
    show_bar = sys.stderr.isatty() and d.main
    for epoch in range(progress.epoch, s.max_epoch):
        t_epoch = time.perf_counter()
        loss_sum, loss_tokens, dropped_before = 0.0, 0, source.dropped
        window_t, window_ex, window_loss, window_tok = time.perf_counter(), 0, 0.0, 0
        bar = None
        if show_bar:
            from tqdm import tqdm

            bar = tqdm(total=steps_per_epoch, desc=f"epoch {epoch + 1}/{s.max_epoch}", leave=False, dynamic_ncols=True)
        for _ in range(steps_per_epoch):
            micro = [next_batch(source, s.batch_size, cfg, task) for _ in range(s.accumulate_gradients)]
            n_examples = sum(len(m) for m in micro)
            lr = cfg.optimizer.lr * lr_factor(s, progress.steps, total_steps)
            step_loss, step_tokens = stepper([to_tensors(m.take(share) if d.active else m, device) for m in micro], lr)
            mean = step_loss / step_tokens
            if not math.isfinite(mean):
                raise FloatingPointError(f"training loss is {mean} at step {progress.steps} (lower optimizer.lr?)")
            progress.steps += 1
            progress.examples += n_examples
            loss_sum, loss_tokens = loss_sum + step_loss, loss_tokens + step_tokens
            window_ex, window_loss, window_tok = window_ex + n_examples, window_loss + step_loss, window_tok + step_tokens
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{mean:.4f}", refresh=False)
            if progress.steps % s.log_every == 0:
                now = time.perf_counter()
                log.info("epoch %d step %d | %.0f examples/s | loss %.4f | lr %.3e", epoch + 1, progress.steps,
                         window_ex / (now - window_t), window_loss / window_tok, lr)
                window_t, window_ex, window_loss, window_tok = now, 0, 0.0, 0
        if bar is not None:
            bar.close()
        if source.dropped > dropped_before:
            log.warning("epoch %d: dropped %d training examples longer than data.max_len=%d", epoch + 1,
                        source.dropped - dropped_before, cfg.data.max_len)
        train_time = time.perf_counter() - t_epoch

        record: dict[str, Any] = {
            "epoch": epoch + 1, "examples": progress.examples, "steps": progress.steps,
            "train_loss": loss_sum / max(loss_tokens, 1), "lr": lr,
        }
        rep = repetition(cfg, source, progress.examples)
        if rep is not None:
            record["repetition"] = rep
        if d.main and ((epoch + 1) % cfg.eval.every == 0 or epoch + 1 == s.max_epoch):
            t_eval = time.perf_counter()
            record["eval_sets"] = list(evals)
            record["classes"] = {}
            for name, data in evals.items():
                metrics, classes = evaluate(model, task, data, cfg.eval, max_out, device, name)
                metrics.update(task.set_metrics(name, classes))
                record.update(metrics)
                record["classes"][name] = classes
                log_metrics(epoch + 1, name, metrics)
                log_classes(task, name, classes)
            log.info("epoch %d: train %.1fs (%.0f examples/s), eval %.1fs", epoch + 1, train_time,
                     steps_per_epoch * step_examples / train_time, time.perf_counter() - t_eval)
        progress.epoch = epoch + 1
        progress.wall_time += time.perf_counter() - t_epoch
        record["wall_time"] = round(progress.wall_time, 3)
        if d.main:
            best_files = update_best(progress, tracked, record)
            if stop_metric is not None and stop_metric[0] in record:
                value = record[stop_metric[0]]
                if improved(value, progress.best.get("stop:" + stop_metric[0]), stop_metric[1]):
                    progress.best["stop:" + stop_metric[0]], progress.bad_evals = value, 0
                else:
                    progress.bad_evals += 1
                if progress.bad_evals >= patience:
                    progress.stopped = True
                    log.info("stopping: %s did not improve for %d evaluations (schedule.stopping_criterion=%s)",
                             stop_metric[0], patience, s.stopping_criterion)
            append_metrics(run_dir, record)
            state = checkpoint_state(cfg, model, optimizer, stepper, rng, source, task, progress, record)
            save_checkpoint(run_dir, state)
            for metric in best_files:
                save_checkpoint(run_dir, {"model": state["model"], "epoch": progress.epoch, "metric": metric,
                                          "value": float(record[metric])}, f"best-{metric}.pt")
            if s.save_periodic and progress.epoch % s.save_periodic == 0:
                save_checkpoint(run_dir, state, f"checkpoint-{progress.epoch}.pt")
        if d.active:  # every rank follows rank 0's early stop
            progress.stopped = bool(d.all_sum(int(progress.stopped)))
        d.barrier()
        last_record = record
        if progress.stopped:
            break
    return last_record or {}


def next_batch(source: Any, n: int, cfg: Config, task: Task) -> Examples:
    """A batch of ``n`` examples; a source that keeps yielding nothing (all too long) is an error."""
    for _ in range(20):
        ex = source.batch(n)
        if len(ex):
            return ex
    raise ConfigError(f"data.max_len={cfg.data.max_len}: no training example fits (the task needs up to "
                      f"{task.max_input_len + 1} input tokens)")


def update_best(progress: Progress, tracked: list[tuple[str, bool]], record: dict[str, Any]) -> list[str]:
    """Metrics of ``schedule.validation_metrics`` that reached a new best in ``record``."""
    better = []
    for metric, lower in tracked:
        if metric in record and improved(record[metric], progress.best.get(metric), lower):
            progress.best[metric] = record[metric]
            better.append(metric)
            log.info("new best %s: %.6g (best-%s.pt)", metric, record[metric], metric)
    return better


def checkpoint_state(cfg: Config, model: Seq2SeqModel, optimizer: torch.optim.Optimizer, stepper: Stepper,
                     rng: np.random.Generator, source: Any, task: Task, progress: Progress,
                     record: dict[str, Any]) -> dict[str, Any]:
    """Everything a resumed run needs, as tensors and primitives (``weights_only`` loads it)."""
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": stepper.scaler.state_dict(),
        "scheduler": {"name": cfg.schedule.name, "step": progress.steps},
        "progress": encode_json(vars(progress)),
        "rng": {"numpy": json.dumps(rng.bit_generator.state), "torch": torch.get_rng_state()},
        "source": dict(source.state),
        "vocab": list(task.vocab.itos),
        "config": encode_json(to_dict(cfg)),
        "last_record": encode_json(record),
    }


def log_metrics(epoch: int, name: str, m: dict[str, Any]) -> None:
    extra = {k: v for k, v in m.items() if not k.endswith(("_acc", "_perfect", "_correct", "_xe_loss", "_size"))
             or k.endswith("_top1_acc")}
    log.info("epoch %d: %s acc %.2f%% (perfect %.2f%%, correct %.2f%%, xe_loss %.4f)%s", epoch, name,
             100 * m[f"{name}_acc"], 100 * m[f"{name}_perfect"], 100 * m[f"{name}_correct"], m[f"{name}_xe_loss"],
             "".join(f", {k} {v:.4g}" if isinstance(v, float) else f", {k} {v}" for k, v in extra.items()))


def log_classes(task: Task, name: str, classes: dict[str, list[int]], limit: int = 12) -> None:
    """The most frequent classes with their accuracy, like the original's end-of-evaluation report."""
    top = sorted(classes.items(), key=lambda kv: -kv[1][0])[:limit]
    log.info("%s per-%s accuracy (most frequent %d): %s", name, task.class_key, len(top),
             ", ".join(f"{k}: {c}/{n}" for k, (n, c) in top))
