"""Packed runs (``hardware=packed``): the small runs of a sweep that share their shapes train as one stacked model.

The field trains many small models (seeds x learning rates x weight decays x budgets of a 1-layer, 64-dimension
model); one of them uses a small part of a CPU and almost none of a GPU. Runs whose architecture, task, encoding,
batch and epochs are the same (:func:`pack_key`) are stacked: their parameters become tensors with a first axis of
G runs (``torch.func.stack_module_state``), one ``torch.func.vmap`` of the model computes every run's loss on its own
batch, and :class:`StackedOptimizer` applies each run's own optimiser settings and schedule. Each run keeps its own
seed (initialisation), data stream, evaluation sets and run directory: at the end of each epoch its slice is written
back into its own model and optimiser, which evaluate, checkpoint and resume exactly as an unpacked run does (a
packed run can resume unpacked, and the reverse).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.optim import adam as torch_adam
from torch.optim import sgd as torch_sgd

from .config import Config, Precision, to_dict
from .data.tensors import to_tensors
from .encodings.vocab import PAD
from .models.layers import math_attention
from .train import EpochLog, Run, end_epoch, finished, log_setup, next_batch

log = logging.getLogger(__name__)

PACKABLE_ARCHITECTURES = ("encoder_decoder", "encoder_only", "decoder_only")
PACKABLE_OPTIMIZERS = ("adam", "adamw", "sgd")


def why_not(cfg: Config) -> str | None:
    """Why a run cannot be packed (it then trains on its own), or None."""
    a = cfg.architecture
    checks = [
        (a.name in PACKABLE_ARCHITECTURES, f"architecture={a.name} (packed: {', '.join(PACKABLE_ARCHITECTURES)})"),
        (not getattr(a, "act", False), "adaptive computation time (its halting is data dependent)"),
        (cfg.optimizer.name in PACKABLE_OPTIMIZERS, f"optimizer={cfg.optimizer.name}"),
        (cfg.schedule.accumulate_gradients == 1, "gradient accumulation"),
        (not cfg.hardware.compile, "hardware.compile"),
        (cfg.hardware.precision != Precision.fp16, "fp16"),
        (not cfg.freeze, "freeze"),
        (not getattr(a, "loss_on_input", False), "decoder_only loss_on_input (an auxiliary loss)"),
    ]
    reasons = [why for ok, why in checks if not ok]
    return "; ".join(reasons) if reasons else None


def pack_key(cfg: Config) -> str | None:
    """Runs with the same key can train as one stacked model; None when this run cannot be packed."""
    if why_not(cfg) is not None:
        return None
    d = to_dict(cfg)
    same = {k: d[k] for k in ("architecture", "task", "encoding")}
    same["schedule"] = {k: d["schedule"][k] for k in ("batch_size", "epoch_size", "max_epoch")}
    same["hardware"] = {k: d["hardware"][k] for k in ("device", "precision", "num_threads")}
    same["max_len"] = d["data"]["max_len"]
    same["optimizer"] = "sgd" if cfg.optimizer.name == "sgd" else "adam"  # one update rule per stack (adam ~ adamw)
    return json.dumps(same, sort_keys=True)


class FlatParams:
    """G runs' parameters as one (G, P) leaf tensor: every name a view of its columns, so that the optimiser updates
    all of a run's parameters with a few whole-tensor operations (not a dozen small ones per parameter)."""

    def __init__(self, params: dict[str, torch.Tensor]):
        self.shapes = {n: tuple(p.shape[1:]) for n, p in params.items()}
        self.sizes = [p[0].numel() for p in params.values()]
        g = next(iter(params.values())).shape[0]
        self.flat = torch.cat([p.detach().reshape(g, -1) for p in params.values()], dim=1).requires_grad_(True)

    def views(self, flat: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``flat`` (the parameters by default, or a state tensor of the same shape) as named (G, ...) views."""
        flat = self.flat if flat is None else flat
        return {n: c.view(-1, *shape) for (n, shape), c in zip(self.shapes.items(), flat.split(self.sizes, dim=1))}


class StackedOptimizer:
    """Adam, AdamW or SGD over the (G, P) parameters of G runs: each run's row is updated by torch's functional
    optimiser (the kernel :mod:`int2int.functional_optim` calls for a run alone) with that run's own settings, after
    gradient clipping of every row at once."""

    def __init__(self, runs: list[Run], params: FlatParams):
        self.params, self.names = params, list(params.shapes)
        self.cfgs = [r.cfg.optimizer for r in runs]
        kinds = {c.name for c in self.cfgs}
        if len(kinds) > 1 and kinds != {"adam", "adamw"} and "sgd" in kinds:
            raise ValueError(f"packed runs mix optimizers {sorted(kinds)}: group them apart")
        self.kind = "sgd" if "sgd" in kinds else "adam"
        flat = params.flat.detach()
        self.clip = torch.tensor([c.clip_grad_norm for c in self.cfgs], dtype=torch.float32, device=flat.device)
        if self.kind == "adam":
            self.step_count = torch.zeros(len(runs), dtype=torch.float32, device=flat.device)
            self.exp_avg, self.exp_avg_sq = torch.zeros_like(flat), torch.zeros_like(flat)
        else:
            self.buffer: list[torch.Tensor | None] = [None] * len(runs)

    # -- the torch.optim state of each run, in and out ------------------------------------------------
    def load(self, runs: list[Run]) -> None:
        """Take each run's optimiser state (a resumed run's) into the stack."""
        for g, run in enumerate(runs):
            state = run.optimizer.state_dict()["state"]
            for i, name in enumerate(self.names):
                s = state.get(i)
                if not s:
                    continue
                if self.kind == "adam":
                    self.step_count[g] = float(s["step"])
                    self.params.views(self.exp_avg)[name][g] = s["exp_avg"]
                    self.params.views(self.exp_avg_sq)[name][g] = s["exp_avg_sq"]
                elif s.get("momentum_buffer") is not None:
                    if self.buffer[g] is None:
                        self.buffer[g] = torch.zeros_like(self.params.flat[g].detach())
                    self.params.views(self.buffer[g][None])[name][0] = s["momentum_buffer"]

    def store(self, runs: list[Run]) -> None:
        """Write each run's row of the state into its own optimiser (for its checkpoint)."""
        for g, run in enumerate(runs):
            if self.kind == "adam":
                rows = {"exp_avg": self.exp_avg[g:g + 1], "exp_avg_sq": self.exp_avg_sq[g:g + 1]}
                fresh = not self.step_count[g] > 0
            else:
                rows = {"momentum_buffer": None if self.buffer[g] is None else self.buffer[g][None]}
                fresh = self.buffer[g] is None
            state: dict[int, dict[str, Any]] = {}
            if not fresh:
                views = {key: self.params.views(row) for key, row in rows.items()}
                for i, name in enumerate(self.names):
                    state[i] = {key: v[name][0].clone() for key, v in views.items()}
                    if self.kind == "adam":
                        state[i]["step"] = self.step_count[g].clone()
            run.optimizer.load_state_dict({"state": state, "param_groups": run.optimizer.state_dict()["param_groups"]})

    # -- one step ---------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, lrs: list[float]) -> None:
        p = self.params.flat
        grad = p.grad
        norms = torch.linalg.vector_norm(grad, dim=1)
        coef = torch.where(self.clip > 0, (self.clip / (norms + 1e-6)).clamp(max=1.0), torch.ones_like(norms))
        grad.mul_(coef[:, None])  # clip_grad_norm_ of each run
        for g, (c, lr) in enumerate(zip(self.cfgs, lrs)):
            if self.kind == "adam":
                torch_adam.adam([p[g]], [grad[g]], [self.exp_avg[g]], [self.exp_avg_sq[g]], [], [self.step_count[g]],
                                fused=p.device.type in ("cpu", "cuda"), decoupled_weight_decay=c.name == "adamw",
                                amsgrad=False, beta1=c.beta1, beta2=c.beta2, lr=lr, weight_decay=c.weight_decay,
                                eps=c.eps, maximize=False)
            else:
                buffers = [self.buffer[g]]
                torch_sgd.sgd([p[g]], [grad[g]], buffers, weight_decay=c.weight_decay, momentum=c.momentum, lr=lr,
                              dampening=0.0, nesterov=c.nesterov, maximize=False, foreach=True)
                self.buffer[g] = buffers[0] if c.momentum else None
        p.grad = None


class Stack:
    """G runs' models as one stacked set of parameters, their loss computed with one vmap."""

    def __init__(self, runs: list[Run]):
        self.runs = runs
        shapes = [{n: tuple(p.shape) for n, p in r.model.named_parameters()} for r in runs]
        if any(shape != shapes[0] for shape in shapes):  # the key guarantees it, but for vocabularies of data files
            raise ValueError("packed runs have models of different shapes (vocabularies from different files?)")
        params, buffers = stack_module_state([r.model for r in runs])
        self.params = FlatParams(params)
        self.buffers = buffers
        self.base = copy.deepcopy(runs[0].model)
        self.optimizer = StackedOptimizer(runs, self.params)
        self.optimizer.load(runs)
        self.device = runs[0].device

        def loss(p, b, x, x_len, y_in, y_out):
            return functional_call(self.base, (p, b), (x, x_len, y_in, y_out))

        self.losses = vmap(loss, randomness="different")

    def batch(self, examples: list) -> tuple[torch.Tensor, ...]:
        """Every run's batch as one stacked batch, padded to the longest sequences."""
        tensors = [to_tensors(ex, self.device) for ex in examples]
        lx = max(t.x.shape[1] for t in tensors)
        ly = max(t.y_in.shape[1] for t in tensors)

        def stack(parts: list[torch.Tensor], width: int) -> torch.Tensor:
            return torch.stack([nn.functional.pad(t, (0, width - t.shape[1]), value=PAD) for t in parts])

        tokens = torch.tensor([t.n_tokens for t in tensors], dtype=torch.float32, device=self.device)
        return (stack([t.x for t in tensors], lx), torch.stack([t.x_len for t in tensors]),
                stack([t.y_in for t in tensors], ly), stack([t.y_out for t in tensors], ly), tokens)

    def step(self, examples: list, lrs: list[float], autocast) -> torch.Tensor:
        """One training step of every run on its own batch and learning rate; returns each run's summed token loss
        (G,)."""
        x, x_len, y_in, y_out, tokens = self.batch(examples)
        with math_attention(), autocast():
            sums = self.losses(self.params.views(), self.buffers, x, x_len, y_in, y_out)
        (sums.float() / tokens).sum().backward()
        self.optimizer.step(lrs)
        return sums.detach().float()

    @torch.no_grad()
    def write_back(self) -> None:
        """Each run's slice into its own model and optimiser (to evaluate and checkpoint it as usual)."""
        for g, run in enumerate(self.runs):
            named = dict(run.model.named_parameters())
            for name, p in self.params.views().items():
                named[name].copy_(p[g])
        self.optimizer.store(self.runs)


def train_packed(runs: list[Run]) -> list[dict[str, Any] | FloatingPointError]:
    """Train the runs (built and resumed, of one :func:`pack_key`) together; returns each one's last record, or the
    error that stopped it alone (a run whose loss is no longer finite leaves the stack; the others go on)."""
    live = [r for r in runs if not finished(r)]
    for r in live:
        log_setup(r)
    if live:
        log.info("packed: %d runs trained as one stacked model (%s)", len(live),
                 ", ".join(r.run_dir.name for r in live))
        if live[0].device.type == "cpu":
            log.warning("packed on the CPU: 8 tiny runs packed trained at 0.86-0.90x the speed of the same runs one "
                        "after the other on a 2-core CPU (docs/performance.md); packing pays where one run leaves "
                        "the device idle (a GPU). hardware=local runs jobs in parallel on CPU cores.")
    s = runs[0].cfg.schedule
    failed: dict[int, FloatingPointError] = {}
    stack = Stack(live) if live else None
    while live:
        t_epoch = time.perf_counter()
        logs = [EpochLog(r, r.progress.epoch + 1, prefix=f"[{r.run_dir.name}] ") for r in live]
        for r in live:
            r.model.train()
        for step in range(1, s.steps_per_epoch + 1):
            examples = [next_batch(r, s.batch_size) for r in live]
            losses = stack.step(examples, [el.lr_now() for el in logs], live[0].stepper.autocast)
            tokens = [int(ex.y_len.sum() + len(ex)) for ex in examples]
            for g, el in enumerate(logs):
                try:
                    el.step_done(step, losses[g], tokens[g], len(examples[g]))
                except FloatingPointError as err:
                    log.error("[%s] %s: this run stops, the others go on", live[g].run_dir.name, err)
                    failed[id(live[g])] = err
            if any(id(r) in failed for r in live):
                stack.write_back()  # the survivors' state, restacked without the failed runs
                logs = [el for r, el in zip(live, logs) if id(r) not in failed]
                live = [r for r in live if id(r) not in failed]
                stack = Stack(live) if live else None
                if not live:
                    break
        if not live:
            break
        stack.write_back()
        records = [el.record() for el in logs]  # the shared training time, before any run evaluates
        trained = time.perf_counter() - t_epoch
        stopped = []
        for r, record in zip(live, records):
            log.info("[%s] end of epoch %d", r.run_dir.name, record["epoch"])
            # each run's wall time: the shared training, then its own evaluation and saving
            if end_epoch(r, record, time.perf_counter() - trained) or r.progress.epoch >= s.max_epoch:
                stopped.append(r)
        if stopped:
            live = [r for r in live if r not in stopped]
            stack = Stack(live) if live else None
    return [failed.get(id(r)) or r.last_record or {} for r in runs]


def prepare_job(cfg) -> Run:
    """The task function of a packed job (run by Hydra's ``run_job`` in the job's directory): everything an unpacked
    job does before its training loop (checks, ``run.json``, status, data, model, resume), returning the run."""
    from pathlib import Path

    from .job import absolute_paths, job_info, run_status, start_run, to_config
    from .train import build_run, resume

    info = job_info()
    config = to_config(cfg)
    config.check()
    absolute_paths(config)
    run_dir = Path(info["run_dir"])
    start_run(config, run_dir, info)
    with run_status(run_dir):
        run = build_run(config, run_dir)
        resume(run)
    return run
