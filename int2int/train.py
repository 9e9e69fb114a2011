"""The training core: a flat loop of epochs; each trains on ``schedule.epoch_size`` examples, evaluates every set,
appends the metrics line, and writes the checkpoint.

:func:`train` reads top to bottom; its steps are the named helpers beside it: :func:`build_run` (task, model,
optimiser, data, evaluation sets, every check before any compute), :func:`resume`, :func:`train_epoch`,
:func:`evaluate_all`, :func:`save_epoch` (the metrics line, the checkpoint, then the best and periodic
checkpoints, which a resume repairs after a crash between them) and :func:`early_stop`.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .checkpoint import check_relaunch, encode_json, load_checkpoint, save_checkpoint
from .config import Config, ConfigError, to_dict
from .data.eval_sets import eval_sets
from .data.examples import Examples
from .data.sources import Source, describe_repetition, repetition, training_source
from .data.streams import Stream, rng
from .data.tensors import to_tensors
from .distributed import Dist, setup_distributed
from .evaluate import evaluate
from .models import build_model
from .optim import Optimizer
from .run_files import (PROGRESS_FILE, append_classes, append_metrics, atomic_write, now, reconcile_metrics,
                        write_json)
from .stepper import Stepper, check_precision
from .tasks import Task, build_task

if TYPE_CHECKING:  # pandas is imported by evaluations that save predictions only (start-up time)
    import pandas as pd

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """Where training stands; saved in the checkpoint."""

    epoch: int = 0  # completed epochs
    steps: int = 0
    examples: int = 0
    wall_time: float = 0.0  # seconds spent in this run, over all launches
    total_steps: int = 0  # the schedule's horizon, fixed when the run starts (decaying schedules)
    best: dict[str, float] = field(default_factory=dict)  # best value of each tracked metric
    best_epoch: dict[str, int] = field(default_factory=dict)  # and the epoch that reached it
    bad_evals: int = 0  # evaluations without improvement of the stopping criterion
    stopped: bool = False  # ended early by the stopping criterion


@dataclass
class Run:
    """Everything a training run holds between epochs."""

    cfg: Config
    run_dir: Path
    dist: Dist
    device: torch.device
    task: Task
    model: torch.nn.Module
    optimizer: Optimizer
    stepper: Stepper
    gen: np.random.Generator  # the training stream (batches, pool draws)
    source: Source
    evals: dict[str, Examples]
    progress: Progress = field(default_factory=Progress)
    last_record: dict[str, Any] | None = None


def train(cfg: Config, run_dir: Path) -> dict[str, Any]:
    """Train (or resume) the run in ``run_dir``; returns the last metrics record."""
    run = build_run(cfg, Path(run_dir))
    resume(run)
    s, p = cfg.schedule, run.progress
    if finished(run):
        return run.last_record or {}
    log_setup(run)
    for epoch in range(p.epoch + 1, s.max_epoch + 1):
        t_epoch = time.perf_counter()
        if end_epoch(run, train_epoch(run, epoch), t_epoch):
            break
    return run.last_record or {}


def finished(run: Run) -> bool:
    """Whether a (resumed) run has nothing left to train; says so in the log."""
    s, p = run.cfg.schedule, run.progress
    if p.epoch >= s.max_epoch or p.stopped:
        log.info("run already %s at epoch %d (schedule.max_epoch=%d): nothing to do",
                 "stopped early" if p.stopped else "trained", p.epoch, s.max_epoch)
        return True
    return False


# --------------------------------------------------------------------------------------------
# set-up
# --------------------------------------------------------------------------------------------
def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"hardware.device={name!r}: CUDA is not available on this machine (use cpu or auto)")
    return torch.device(f"cuda:{local_rank}" if name == "cuda" else name)


def build_model_for(cfg: Config, task: Task, device: torch.device) -> torch.nn.Module:
    """The model of ``cfg`` for ``task``, initialised from ``seed`` (and ``init_from``), checked against the task."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.architecture, len(task.vocab)).to(device)
    model.check_task(task, cfg.data.max_len)
    return model


def check_eval_precision(cfg: Config, device: torch.device) -> None:
    """Evaluation's precision on ``device``, checked before any compute (fp16 needs CUDA), naming its key."""
    check_precision(cfg.eval.precision_of(cfg), device, "eval.precision" if cfg.eval.precision else
                    "hardware.precision")


def build_run(cfg: Config, run_dir: Path) -> Run:
    """Build everything and check everything (config, data files, lengths) before any compute."""
    cfg.check()
    s = cfg.schedule
    dist = setup_distributed("cuda" if resolve_device(cfg.hardware.device).type == "cuda" else "cpu")
    if s.batch_size % dist.world:
        raise ConfigError(f"schedule.batch_size={s.batch_size}: must be divisible by the {dist.world} data-parallel "
                          "ranks")
    device = resolve_device(cfg.hardware.device, dist.local_rank)
    check_eval_precision(cfg, device)
    if cfg.hardware.num_threads:
        torch.set_num_threads(cfg.hardware.num_threads)
    task = build_task(cfg)
    model = build_model_for(cfg, task, device)
    if cfg.init_from:
        init_from(model, cfg.init_from, cfg.freeze, device)
    optimizer = cfg.optimizer.build([p for p in model.parameters() if p.requires_grad])
    stepper = Stepper(cfg, model, optimizer, device, dist)
    gen = rng(cfg.seed, Stream.TRAIN)
    source = training_source(cfg, task, gen)  # reads and checks the data files before any training
    evals = eval_sets(cfg, task, source) if dist.main else {}
    progress = Progress(total_steps=s.steps_per_epoch * s.max_epoch)
    if dist.main:
        run_dir.mkdir(parents=True, exist_ok=True)
    return Run(cfg, run_dir, dist, device, task, model, optimizer, stepper, gen, source, evals, progress)


def init_from(model: torch.nn.Module, path: str, freeze: list[str], device: torch.device) -> None:
    """Load every parameter of the checkpoint at ``path`` whose name and shape match (a smaller model's layers go
    into the first layers of a larger one), then freeze the parameters matching the ``freeze`` patterns."""
    ckpt = load_checkpoint(Path(path), device)
    if ckpt is None:
        raise ConfigError(f"init_from={path!r}: no checkpoint there (a run directory with checkpoint.pt, or a .pt "
                          "file)")
    source = ckpt["model"]
    own = model.state_dict()
    loaded = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
    skipped = sorted(k for k, v in source.items() if k in own and own[k].shape != v.shape)
    model.load_state_dict(loaded, strict=False)
    log.info("init_from %s: loaded %d of the model's %d tensors%s; %d kept their initialisation", path, len(loaded),
             len(own), f" (shape mismatch, skipped: {', '.join(skipped)})" if skipped else "", len(own) - len(loaded))
    if freeze:
        frozen = [n for n, p in model.named_parameters() if any(fnmatch.fnmatchcase(n, pat) for pat in freeze)]
        if not frozen:
            raise ConfigError(f"freeze={freeze!r}: no parameter matches (names: "
                              f"{', '.join(n for n, _ in list(model.named_parameters())[:8])}, ...)")
        for n, p in model.named_parameters():
            if n in frozen:
                p.requires_grad_(False)
        log.info("freeze: %d parameter tensors fixed (%s)", len(frozen), ", ".join(frozen))


def log_setup(run: Run) -> None:
    cfg, task, model = run.cfg, run.task, run.model
    log.info("task: %s", task.describe())
    log.info("vocabulary: %s", " ".join(task.vocab.itos) if len(task.vocab) <= 400 else
             f"{len(task.vocab)} tokens: {' '.join(task.vocab.itos[:60])} ...")
    log.info("model: %s parameters (%s without embeddings) on %s, %s", f"{model.n_params():,}",
             f"{model.n_params(non_embedding=True):,}", run.device, cfg.hardware.precision.value)
    for name, data in run.evals.items():
        log.info("eval set %s: %d examples", name, len(data))
    log.info(describe_repetition(cfg, run.source, run.progress.total_steps * cfg.schedule.step_examples))


# --------------------------------------------------------------------------------------------
# resume
# --------------------------------------------------------------------------------------------
def resume(run: Run) -> None:
    """Continue from ``checkpoint.pt`` when the run directory has one, written under this config (but for the
    resumable keys); make the run files agree with it."""
    ckpt = load_checkpoint(run.run_dir, run.device)
    if ckpt is None:
        if run.dist.main:
            reconcile_metrics(run.run_dir, 0, None)
        return
    check_relaunch(run.run_dir, to_dict(run.cfg), json.loads(ckpt["config"]))
    if ckpt.get("vocab") not in (None, run.task.vocab.itos):
        raise ConfigError(f"{run.run_dir / 'checkpoint.pt'} was written with another vocabulary (task, encoding or "
                          "data files changed)")
    try:
        run.model.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        raise ConfigError(f"{run.run_dir / 'checkpoint.pt'} was written by a different model: {err}") from None
    run.optimizer.load_state_dict(ckpt["optimizer"])
    run.stepper.scaler.load_state_dict(ckpt["scaler"])
    run.gen.bit_generator.state = json.loads(ckpt["rng"]["numpy"])
    torch.set_rng_state(ckpt["rng"]["torch"].cpu())
    if "cuda" in ckpt["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([t.cpu() for t in ckpt["rng"]["cuda"]])
    horizon = run.progress.total_steps
    run.progress = Progress(**json.loads(ckpt["progress"]))
    run.source.load_state(ckpt.get("source", {}))
    run.last_record = json.loads(ckpt["last_record"]) if ckpt["last_record"] else None
    keep_horizon(run, horizon)
    if run.dist.main:
        reconcile_metrics(run.run_dir, run.progress.epoch, run.last_record)
        repair_checkpoints(run, ckpt)
    log.info("resumed from %s at epoch %d (%d examples)", run.run_dir / "checkpoint.pt", run.progress.epoch,
             run.progress.examples)


def keep_horizon(run: Run, horizon: int) -> None:
    """A decaying schedule keeps the horizon the run started with: epochs added by raising ``schedule.max_epoch``
    train at the final learning rate; refused when that rate is 0."""
    p, s = run.progress, run.cfg.schedule
    if not p.total_steps:  # a checkpoint written before horizons were stored
        p.total_steps = horizon
    if s.decays and horizon > p.total_steps:
        if s.min_lr_ratio == 0:
            raise ConfigError(f"schedule.max_epoch={s.max_epoch}: the run's {s.name} schedule decayed to lr 0 at its "
                              f"horizon of {p.total_steps} steps; training further would not change the model (start "
                              "a new run, or give schedule.min_lr_ratio > 0 when starting one)")
        log.info("schedule.max_epoch raised: the %s schedule keeps its horizon of %d steps; the extra epochs train at "
                 "the final learning rate (%.3g x optimizer.lr)", s.name, p.total_steps, s.min_lr_ratio)
    elif not s.decays:
        p.total_steps = horizon


def repair_checkpoints(run: Run, ckpt: dict[str, Any]) -> None:
    """Rewrite the best and periodic checkpoints of the checkpoint's own epoch that a crash left stale or missing
    (they are written just after ``checkpoint.pt``, from the same model)."""
    p = run.progress
    for metric, epoch in p.best_epoch.items():
        path = run.run_dir / f"best-{metric}.pt"
        held = load_checkpoint(path, mmap=True) if path.exists() else None
        if epoch == p.epoch and (held is None or held.get("epoch") != epoch):
            save_checkpoint(run.run_dir, best_state(ckpt["model"], p, metric), path.name)
            log.info("rewrote %s for epoch %d (a crash had left it behind)", path.name, epoch)
    sp = run.cfg.schedule.save_periodic
    if sp and p.epoch % sp == 0 and not (run.run_dir / f"checkpoint-{p.epoch}.pt").exists():
        save_checkpoint(run.run_dir, ckpt, f"checkpoint-{p.epoch}.pt")


# --------------------------------------------------------------------------------------------
# an epoch of training
# --------------------------------------------------------------------------------------------
def next_batch(run: Run, n: int) -> Examples:
    """A batch of ``n`` examples; a source that keeps yielding nothing (all too long) is an error."""
    for _ in range(20):
        ex = run.source.batch(n)
        if len(ex):
            return ex
    raise ConfigError(f"data.max_len={run.cfg.data.max_len}: no training example fits (the task needs up to "
                      f"{run.task.max_input_len + 1} input tokens)")


def rank_share(ex: Examples, dist: Dist) -> Examples:
    """This rank's part of a global batch (the batch may be short after examples too long were dropped)."""
    if not dist.active:
        return ex
    bounds = np.linspace(0, len(ex), dist.world + 1).astype(int)
    return ex.take(slice(bounds[dist.rank], bounds[dist.rank + 1]))


def write_progress(run: Run, epoch: int, epoch_examples: int, rate: float) -> None:
    """``progress.json``: where training stands, for ``python -m int2int.status`` (rank 0 only)."""
    if run.dist.main:
        s, p = run.cfg.schedule, run.progress
        write_json(run.run_dir / PROGRESS_FILE, {
            "epoch": epoch, "max_epoch": s.max_epoch, "steps": p.steps, "examples": p.examples,
            "epoch_examples": epoch_examples, "epoch_size": s.epoch_size, "examples_per_s": round(rate, 1),
            "log_every": s.log_every, "updated": now()})


class EpochLog:
    """The bookkeeping of one run's epoch, step after step: progress counts, the loss and rate of each log window
    (one host-device sync per window), the log line, ``progress.json``, and the epoch's metrics record."""

    def __init__(self, run: Run, epoch: int, prefix: str = ""):
        self.run, self.epoch, self.prefix = run, epoch, prefix
        self.t0 = self.window_t = time.perf_counter()
        self.dropped_before, self.examples_before = run.source.dropped, run.progress.examples
        self.epoch_loss, self.epoch_tokens, self.lr = 0.0, 0, run.cfg.optimizer.lr
        self.window: list[Any] = [torch.zeros((), device=run.device), 0, 0]  # loss, tokens, examples

    def lr_now(self) -> float:
        """The learning rate of the next step (the schedule of the run, at its progress)."""
        s, p = self.run.cfg.schedule, self.run.progress
        self.lr = self.run.cfg.optimizer.lr * s.factor(p.steps, p.total_steps)
        return self.lr

    def step_done(self, step: int, loss: torch.Tensor, tokens: int, n_examples: int) -> None:
        s, p = self.run.cfg.schedule, self.run.progress
        p.steps, p.examples = p.steps + 1, p.examples + n_examples
        self.window[0] += loss
        self.window[1] += tokens
        self.window[2] += n_examples
        if step % s.log_every == 0 or step == s.steps_per_epoch:
            window_loss = float(self.window[0])  # the one host-device sync of a log window
            if not math.isfinite(window_loss):
                raise FloatingPointError(f"training loss is {window_loss} before step {p.steps} (lower optimizer.lr?)")
            t = time.perf_counter()
            rate = self.window[2] / max(t - self.window_t, 1e-9)
            if step % s.log_every == 0:
                log.info("%sepoch %d step %d | %.0f examples/s | loss %.4f | lr %.3e", self.prefix, self.epoch, p.steps,
                         rate, window_loss / max(self.window[1], 1), self.lr)
            write_progress(self.run, self.epoch, step * s.step_examples, rate)
            self.epoch_loss, self.epoch_tokens = self.epoch_loss + window_loss, self.epoch_tokens + self.window[1]
            self.window, self.window_t = [torch.zeros((), device=self.run.device), 0, 0], t

    def record(self) -> dict[str, Any]:
        """The start of the epoch's metrics record (the evaluation adds to it)."""
        cfg, p = self.run.cfg, self.run.progress
        if self.run.source.dropped > self.dropped_before:
            log.warning("%sepoch %d: dropped %d training examples longer than data.max_len=%d", self.prefix, self.epoch,
                        self.run.source.dropped - self.dropped_before, cfg.data.max_len)
        train_time = time.perf_counter() - self.t0
        record: dict[str, Any] = {"epoch": self.epoch, "examples": p.examples, "steps": p.steps,
                                  "train_loss": self.epoch_loss / max(self.epoch_tokens, 1), "lr": self.lr,
                                  "train_time": round(train_time, 3),
                                  "examples_per_s": round((p.examples - self.examples_before) / train_time, 1)}
        rep = repetition(cfg, self.run.source, p.examples)
        if rep is not None:
            record["repetition"] = rep
        return record


def train_epoch(run: Run, epoch: int) -> dict[str, Any]:
    """Train on one epoch of examples; returns the start of its metrics record."""
    s = run.cfg.schedule
    bar = None
    if sys.stderr.isatty() and run.dist.main:
        from tqdm import tqdm

        bar = tqdm(total=s.steps_per_epoch, desc=f"epoch {epoch}/{s.max_epoch}", leave=False, dynamic_ncols=True)
    run.model.train()
    epoch_log = EpochLog(run, epoch)
    for step in range(1, s.steps_per_epoch + 1):
        micro = [next_batch(run, s.batch_size) for _ in range(s.accumulate_gradients)]
        loss, tokens = run.stepper([to_tensors(rank_share(m, run.dist), run.device) for m in micro], epoch_log.lr_now())
        epoch_log.step_done(step, loss, tokens, sum(len(m) for m in micro))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return epoch_log.record()


def end_epoch(run: Run, record: dict[str, Any], t_epoch: float) -> bool:
    """Evaluate (when due), count the epoch, decide early stopping and save (rank 0); whether to stop."""
    cfg, p = run.cfg, run.progress
    epoch = record["epoch"]
    if run.dist.main and (epoch % cfg.eval.every == 0 or epoch == cfg.schedule.max_epoch):
        evaluate_all(run, record)
        check_metric_names(cfg, record)
    p.epoch = epoch
    p.wall_time += time.perf_counter() - t_epoch
    record["wall_time"] = round(p.wall_time, 3)
    stop = early_stop(run, record) if run.dist.main else False
    if run.dist.main:
        save_epoch(run, record)
    if run.dist.active:  # every rank follows rank 0's early stop
        stop = bool(run.dist.all_sum(int(stop)))
    run.dist.barrier()
    run.last_record = record
    return stop


# --------------------------------------------------------------------------------------------
# evaluation, saving, early stopping
# --------------------------------------------------------------------------------------------
def evaluate_all(run: Run, record: dict[str, Any]) -> None:
    """Evaluate every set into ``record``; write the per-class rows (and predictions) of the evaluation."""
    cfg, task = run.cfg, run.task
    t0 = time.perf_counter()
    max_out = cfg.eval.max_output_len or task.max_output_len
    record["eval_sets"] = list(run.evals)
    classes = {}
    for name, data in run.evals.items():
        result = evaluate(run.model, task, data, cfg.eval, max_out, run.device, name, cfg.eval.save_predictions,
                          cfg.eval.precision_of(cfg))
        result.metrics.update(task.set_metrics(name, result.classes))
        record.update(result.metrics)
        classes[name] = result.classes
        log_metrics(record["epoch"], name, result.metrics)
        log_classes(task, name, result.classes)
        if result.predictions is not None:
            save_predictions(run.run_dir, name, record["epoch"], result.predictions)
    record["eval_time"] = round(time.perf_counter() - t0, 3)
    log.info("epoch %d: train %.1fs (%.0f examples/s), eval %.1fs", record["epoch"], record["train_time"],
             record["examples_per_s"], record["eval_time"])
    append_classes(run.run_dir, record["epoch"], record["examples"], classes)


def save_predictions(run_dir: Path, name: str, epoch: int, table: pd.DataFrame) -> None:
    path = run_dir / "predictions" / f"{name}-epoch{epoch}.parquet"
    path.parent.mkdir(exist_ok=True)
    atomic_write(path, lambda f: table.to_parquet(f, index=False), mode="wb")


def parse_metric(spec: str) -> tuple[str, bool]:
    """``_valid_xe_loss`` -> (``valid_xe_loss``, lower is better)."""
    spec = spec.strip()
    return (spec[1:], True) if spec.startswith("_") else (spec, False)


def improved(value: float, best: float | None, lower: bool) -> bool:
    return best is None or (value < best if lower else value > best)


def check_metric_names(cfg: Config, record: dict[str, Any]) -> None:
    """The metrics that ``schedule.stopping_criterion`` and ``schedule.validation_metrics`` name exist (checked on
    the first evaluation, before anything of it is saved: a misspelt name would silently never stop or keep)."""
    s = cfg.schedule
    for key, specs in (("stopping_criterion", s.stopping_criterion.split(",")[:1]),
                       ("validation_metrics", s.validation_metrics.split(","))):
        for metric in (parse_metric(spec)[0] for spec in specs if spec.strip()):
            if metric not in record:
                known = ", ".join(k for k in record if k.startswith(tuple(f"{n}_" for n in record["eval_sets"])))
                raise ConfigError(f"schedule.{key}={getattr(s, key)!r}: the evaluation has no metric {metric!r} "
                                  f"(it has {known})")


def early_stop(run: Run, record: dict[str, Any]) -> bool:
    """Whether ``schedule.stopping_criterion`` ends the run after this evaluation (counted in the progress)."""
    s, p = run.cfg.schedule, run.progress
    if not s.stopping_criterion:
        return False
    spec, patience = s.stopping_criterion.split(",")
    metric, lower = parse_metric(spec)
    if metric not in record:
        return False
    key = "stop:" + metric
    if improved(record[metric], p.best.get(key), lower):
        p.best[key], p.bad_evals = record[metric], 0
    else:
        p.bad_evals += 1
    if p.bad_evals >= int(patience):
        p.stopped = True
        log.info("stopping: %s did not improve for %s evaluations (schedule.stopping_criterion=%s)", metric,
                 patience, s.stopping_criterion)
    return p.stopped


def best_state(model_state: dict[str, Any], p: Progress, metric: str) -> dict[str, Any]:
    return {"model": model_state, "epoch": p.best_epoch[metric], "metric": metric, "value": float(p.best[metric])}


def save_epoch(run: Run, record: dict[str, Any]) -> None:
    """The metrics line (the commit point of the evaluation), then ``checkpoint.pt``, then the best and periodic
    checkpoints: a crash between them is repaired on resume (:func:`repair_checkpoints`)."""
    p, s = run.progress, run.cfg.schedule
    new_best = []
    for metric, lower in (parse_metric(m) for m in s.validation_metrics.split(",") if m.strip()):
        if metric in record and improved(record[metric], p.best.get(metric), lower):
            p.best[metric], p.best_epoch[metric] = record[metric], p.epoch
            new_best.append(metric)
            log.info("new best %s: %.6g (best-%s.pt)", metric, record[metric], metric)
    append_metrics(run.run_dir, record)
    state = checkpoint_state(run, record)
    save_checkpoint(run.run_dir, state)
    for metric in new_best:
        save_checkpoint(run.run_dir, best_state(state["model"], p, metric), f"best-{metric}.pt")
    if s.save_periodic and p.epoch % s.save_periodic == 0:
        save_checkpoint(run.run_dir, state, f"checkpoint-{p.epoch}.pt")


def checkpoint_state(run: Run, record: dict[str, Any]) -> dict[str, Any]:
    """Everything a resumed run needs, as tensors and primitives (``weights_only`` loads it)."""
    rng_state = {"numpy": json.dumps(run.gen.bit_generator.state), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and run.device.type == "cuda":
        rng_state["cuda"] = torch.cuda.get_rng_state_all()
    return {
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scaler": run.stepper.scaler.state_dict(),
        "progress": encode_json(vars(run.progress)),
        "rng": rng_state,
        "source": dict(run.source.state),
        "vocab": list(run.task.vocab.itos),
        "config": encode_json(to_dict(run.cfg)),
        "last_record": encode_json(record),
    }


def log_metrics(epoch: int, name: str, m: dict[str, Any]) -> None:
    main = ("_acc", "_perfect", "_correct", "_xe_loss", "_size")
    extra = {k: v for k, v in m.items() if not k.endswith(main) or k.endswith("_top1_acc")}
    log.info("epoch %d: %s acc %.2f%% (perfect %.2f%%, correct %.2f%%, xe_loss %.4f)%s", epoch, name,
             100 * m[f"{name}_acc"], 100 * m[f"{name}_perfect"], 100 * m[f"{name}_correct"], m[f"{name}_xe_loss"],
             "".join(f", {k} {v:.4g}" if isinstance(v, float) else f", {k} {v}" for k, v in extra.items()))


def log_classes(task: Task, name: str, classes: dict[str, list[int]], limit: int = 12) -> None:
    """The most frequent classes with their accuracy, like the original's end-of-evaluation report."""
    top = sorted(classes.items(), key=lambda kv: -kv[1][0])[:limit]
    log.info("%s per-%s accuracy (most frequent %d): %s", name, task.class_key, len(top),
             ", ".join(f"{k}: {c}/{n}" for k, (n, c) in top))
