"""A dry run of a sweep (``python launch.py -m ... +plan=true``): every job, what it would do, what it would cost.

For each job: its overrides, its run directory, and its action: ``start``, ``resume from epoch E``, ``skip``
(finished) or ``refused`` (the run directory's checkpoint was written under another config). Its cost is the
training examples left times a rate measured on this machine by a short probe of the job's model (a few training
steps and one evaluation batch, once per distinct model and batch shape), plus its evaluations. Nothing is
written and nothing is submitted.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from omegaconf import DictConfig, OmegaConf, open_dict

from .config import Config, to_dict
from .job import absolute_paths

log = logging.getLogger(__name__)

#: Probe lengths: warm-up steps (not timed), then timed steps until both counts are reached.
PROBE_WARMUP, PROBE_STEPS, PROBE_SECONDS = 2, 5, 1.0


@dataclass
class PlannedJob:
    num: int
    overrides: list[str]
    run_dir: Path
    action: str
    examples_left: int = 0
    evaluations_left: int = 0
    seconds: float | None = None


def typed_config(config_loader: Any, master: DictConfig, overrides: Sequence[str]) -> tuple[Config, DictConfig]:
    """The job's typed config (and its composed DictConfig), as the job will see it."""
    composed = config_loader.load_sweep_config(master_config=master, sweep_overrides=list(overrides))
    task_cfg = copy.deepcopy(composed)
    with open_dict(task_cfg):
        del task_cfg["hydra"]
    return OmegaConf.to_object(task_cfg), composed


def job_action(cfg: Config, run_dir: Path) -> tuple[str, int]:
    """What relaunching ``run_dir`` under ``cfg`` would do, and the epochs already done (the checkpoint's: what a
    resumed run starts from)."""
    import json

    from .checkpoint import ConfigChangeError, check_relaunch, load_checkpoint

    ckpt = load_checkpoint(run_dir, mmap=True)
    if ckpt is None:
        return "start", 0
    try:
        check_relaunch(run_dir, to_dict(cfg), json.loads(ckpt["config"]))
    except ConfigChangeError as err:
        return f"refused: {'; '.join(err.changes)}", 0
    progress = json.loads(ckpt["progress"])
    epoch = progress["epoch"]
    if progress.get("stopped"):
        return f"skip (stopped early, epoch {epoch})", epoch
    if epoch >= cfg.schedule.max_epoch:
        return f"skip (finished, epoch {epoch})", epoch
    return f"resume from epoch {epoch + 1}", epoch


def probe_signature(cfg: Config) -> str:
    """Jobs with the same signature train at the same speed (seeds, learning rates, budgets do not matter)."""
    d = to_dict(cfg)
    keep = {k: d[k] for k in ("task", "encoding", "architecture", "hardware")}
    keep["batch"] = (cfg.schedule.batch_size, cfg.schedule.accumulate_gradients, cfg.eval.batch_size,
                     cfg.eval.beam_size)
    return repr(keep)


def probe(cfg: Config) -> tuple[float, float]:
    """Measured (training examples/s, evaluation examples/s) of ``cfg``'s model on this machine, in memory."""
    import numpy as np
    import torch

    from .data.tensors import to_tensors
    from .distributed import Dist
    from .evaluate import evaluate
    from .stepper import Stepper
    from .tasks import build_task
    from .train import build_model_for, resolve_device

    if cfg.hardware.num_threads:
        torch.set_num_threads(cfg.hardware.num_threads)
    device = resolve_device(cfg.hardware.device)
    task = build_task(cfg)
    model = build_model_for(cfg, task, device)
    stepper = Stepper(cfg, model, cfg.optimizer.build(list(model.parameters())), device, Dist())
    gen = np.random.default_rng(0)
    s = cfg.schedule
    steps, t0 = 0, None
    while True:
        micro = [to_tensors(task.generate(gen, s.batch_size).drop_long(cfg.data.max_len)[0], device)
                 for _ in range(s.accumulate_gradients)]
        loss, _ = stepper(micro, cfg.optimizer.lr)
        float(loss)
        steps += 1
        if steps == PROBE_WARMUP:
            t0 = time.perf_counter()
        elif steps >= PROBE_WARMUP + PROBE_STEPS and time.perf_counter() - t0 >= PROBE_SECONDS:
            break
    train_rate = (steps - PROBE_WARMUP) * s.step_examples / (time.perf_counter() - t0)
    data = task.natural().generate(gen, min(cfg.eval.batch_size, 500)).drop_long(cfg.data.max_len)[0]
    t1 = time.perf_counter()
    evaluate(model, task, data, cfg.eval, cfg.eval.max_output_len or task.max_output_len, device,
             precision=cfg.eval.precision_of(cfg))
    eval_rate = len(data) / (time.perf_counter() - t1)
    return train_rate, eval_rate


def plan_jobs(config_loader: Any, master: DictConfig, jobs: list[list[str]], sweep_dir: Path) -> list[PlannedJob]:
    from hydra_plugins.int2int_sweeping import run_dir_of

    rates: dict[str, tuple[float, float] | None] = {}
    planned = []
    for num, job in enumerate(jobs):
        run_dir = run_dir_of(sweep_dir, job, num)
        try:
            cfg, _ = typed_config(config_loader, master, job)
            cfg.check()
            absolute_paths(cfg)  # as the job will see them (the checkpoint stores absolute paths)
        except Exception as err:  # noqa: BLE001 - a job that cannot start is part of the plan
            planned.append(PlannedJob(num, job, run_dir, f"error: {str(err).splitlines()[0]}"))
            continue
        action, done = job_action(cfg, run_dir)
        item = PlannedJob(num, job, run_dir, action)
        if action.startswith(("start", "resume")):
            s = cfg.schedule
            item.examples_left = (s.max_epoch - done) * s.steps_per_epoch * s.step_examples
            item.evaluations_left = math.ceil((s.max_epoch - done) / cfg.eval.every)
            key = probe_signature(cfg)
            if key not in rates:
                log.info("probing the speed of job #%d's model...", num)
                try:
                    rates[key] = probe(cfg)
                except Exception as err:  # noqa: BLE001 - e.g. a file task: its cost is then unknown
                    log.warning("job #%d: no speed probe (%s)", num, str(err).splitlines()[0])
                    rates[key] = None
            if rates[key] is not None:
                train_rate, eval_rate = rates[key]
                eval_examples = item.evaluations_left * eval_examples_per_evaluation(cfg)
                item.seconds = item.examples_left / train_rate + eval_examples / eval_rate
        planned.append(item)
    return planned


def eval_examples_per_evaluation(cfg: Config) -> int:
    """Examples of one evaluation: the validation set (or the files), the stratified and generated sets, the
    training-pool sample (files taken at eval.size each)."""
    e = cfg.eval
    n = e.size * max(1, len(cfg.data.eval_paths))
    n += e.size * (int(bool(getattr(cfg.task, "stratified_eval", False))) + len(e.generated))
    if e.train_size and (cfg.data.budget or cfg.data.repeat_size):
        n += e.train_size
    return n


def format_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def print_plan(config_loader: Any, master: DictConfig, jobs: list[list[str]], sweep_dir: Path) -> list[PlannedJob]:
    """Print the plan of a sweep (one line per job, then the totals) and return it."""
    from hydra.core.utils import filter_overrides

    planned = plan_jobs(config_loader, master, jobs, sweep_dir)
    shown = [[o for o in filter_overrides(p.overrides)] for p in planned]
    varying = {o.split("=", 1)[0] for job in shown for o in job if sum(o in j for j in shown) < len(shown)}
    rows = [("job", "overrides", "run directory", "action", "examples", "est. time")]
    for p, job in zip(planned, shown):
        rows.append((f"#{p.num}", " ".join(o for o in job if o.split("=", 1)[0] in varying) or "(none)",
                     p.run_dir.name, p.action, f"{p.examples_left:,}" if p.examples_left else "-",
                     format_seconds(p.seconds)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [f"plan of {len(planned)} jobs in {sweep_dir} (nothing launched, nothing written):"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    total = sum(p.seconds or 0 for p in planned)
    counts = {a: sum(p.action.startswith(a) for p in planned) for a in ("start", "resume", "skip", "refused", "error")}
    lines.append("total: " + ", ".join(f"{n} {a}" for a, n in counts.items() if n)
                 + f"; estimated compute {format_seconds(total)} one after the other on this machine "
                   "(training at the probed rate plus evaluations)")
    print("\n".join(lines), flush=True)
    return planned
