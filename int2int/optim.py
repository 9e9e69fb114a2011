"""Optimisers (the ``optimizer`` group) and learning-rate schedules (the ``schedule`` group).

Each option is one config dataclass registered in its group; it builds what it describes (``build`` for an
optimiser, ``factor`` for a schedule) and checks its own fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from . import functional_optim
from .config import Config, ConfigError, Options, Registry, opt

OPTIMIZERS: Registry[type] = Registry("optimizer")
SCHEDULES: Registry[type] = Registry("schedule")
#: What ``build`` returns: the stepper sets ``param_groups[i]["lr"]`` and calls ``zero_grad``, ``step``, ``state_dict``.
Optimizer = torch.optim.Optimizer | functional_optim.FunctionalOptimizer


# --------------------------------------------------------------------------------------------
# optimizers
# --------------------------------------------------------------------------------------------
@dataclass
class OptimizerConfig(Options):
    section: ClassVar[str] = "optimizer"
    name: str = opt("adam", "torch.optim optimiser.")
    lr: float = opt(3e-4, "Peak learning rate (original default 1e-4; 1e-3 plateaus on GCD: docs/gcd-plateau.md).")
    weight_decay: float = opt(0.0, "Weight decay (decoupled for adamw, L2 for adam and sgd).")
    clip_grad_norm: float = opt(5.0, "Clip the gradient norm to this value; 0 disables clipping.")

    def check(self, cfg: Config) -> None:
        self.require(self.lr > 0, "lr", "must be > 0")
        self.require_positive("weight_decay", strict=False)
        self.require(self.clip_grad_norm >= 0, "clip_grad_norm", "must be >= 0 (0 disables)")

    def build(self, params: list[nn.Parameter]) -> Optimizer:
        raise NotImplementedError


@OPTIMIZERS.register("adam")
@dataclass
class AdamConfig(OptimizerConfig):
    name: str = opt("adam", "Adam (torch's update, see int2int.functional_optim).")
    beta1: float = opt(0.9, "Adam beta1.")
    beta2: float = opt(0.999, "Adam beta2.")
    eps: float = opt(1e-8, "Adam epsilon.")

    def build(self, params: list[nn.Parameter]) -> Optimizer:
        return functional_optim.Adam(params, lr=self.lr, betas=(self.beta1, self.beta2), eps=self.eps,
                                     weight_decay=self.weight_decay, decoupled_weight_decay=self.name == "adamw")


@OPTIMIZERS.register("adamw")
@dataclass
class AdamWConfig(AdamConfig):
    name: str = opt("adamw", "AdamW: Adam with decoupled weight decay (torch's update).")
    weight_decay: float = opt(0.01, "Decoupled weight decay.")


@OPTIMIZERS.register("sgd")
@dataclass
class SgdConfig(OptimizerConfig):
    name: str = opt("sgd", "SGD with momentum (torch's update, see int2int.functional_optim).")
    lr: float = opt(0.01, "Learning rate.")
    momentum: float = opt(0.9, "SGD momentum.")
    nesterov: bool = opt(False, "Nesterov momentum.")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        self.require(0 <= self.momentum < 1, "momentum", "must be in [0, 1)")
        self.require(not self.nesterov or self.momentum > 0, "nesterov", "needs optimizer.momentum > 0")

    def build(self, params: list[nn.Parameter]) -> Optimizer:
        return functional_optim.SGD(params, lr=self.lr, momentum=self.momentum, nesterov=self.nesterov,
                                    weight_decay=self.weight_decay)


@OPTIMIZERS.register("torch", named=False)
@dataclass
class TorchOptimizerConfig(OptimizerConfig):
    name: str = opt("RMSprop", "Any torch.optim optimiser, by class name (RMSprop, Adagrad, NAdam, RAdam, ...).")
    args: dict[str, Any] = opt({}, "Its other arguments, e.g. {alpha: 0.95, momentum: 0.9}.")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        self.require(self.optimizer_class() is not None, "name",
                     f"not a torch.optim optimiser that a training step drives (LBFGS needs a closure, SparseAdam "
                     f"sparse gradients; known: {', '.join(self.known())})")

    #: torch.optim classes a training step cannot drive: LBFGS needs a closure, SparseAdam sparse gradients.
    UNSUPPORTED = ("Optimizer", "LBFGS", "SparseAdam")

    def optimizer_class(self) -> type | None:
        cls = getattr(torch.optim, self.name, None)
        ok = isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) and self.name not in self.UNSUPPORTED
        return cls if ok else None

    @classmethod
    def known(cls) -> list[str]:
        return sorted(n for n, c in vars(torch.optim).items()
                      if isinstance(c, type) and issubclass(c, torch.optim.Optimizer) and n not in cls.UNSUPPORTED)

    def build(self, params: list[nn.Parameter]) -> Optimizer:
        decay = {"weight_decay": self.weight_decay} if self.weight_decay else {}  # Rprop takes none
        try:
            return self.optimizer_class()(params, lr=self.lr, **decay, **self.args)
        except TypeError as err:
            given = f"optimizer.args={self.args!r}" + (f", optimizer.weight_decay={self.weight_decay}" if decay else "")
            raise ConfigError(f"{given}: {self.name} rejects them ({err})") from None


# --------------------------------------------------------------------------------------------
# schedules
# --------------------------------------------------------------------------------------------
@SCHEDULES.register("constant")
@dataclass
class ScheduleConfig(Options):
    section: ClassVar[str] = "schedule"
    name: str = opt("constant", "Learning-rate schedule: constant after an optional linear warm-up.")
    epoch_size: int = opt(50_000, "Training examples per epoch; each epoch ends with an evaluation (original 300000).")
    max_epoch: int = opt(12, "Number of epochs to train (original 100000).")
    batch_size: int = opt(128, "Training examples per optimisation step (original 32).")
    warmup_steps: int = opt(0, "Linear warm-up steps from 0 to the peak learning rate.")
    log_every: int = opt(100, "Log a line (step, examples/s, loss, learning rate) every N steps.")
    accumulate_gradients: int = opt(1, "Micro-batches of batch_size per optimisation step (gradient accumulation).")
    stopping_criterion: str = opt("", "METRIC,N: stop after N evaluations without improvement of METRIC "
                                  "(a `_` prefix means lower is better, e.g. _valid_xe_loss,5); empty: never.")
    validation_metrics: str = opt("", "Comma-separated metrics whose best value keeps a checkpoint best-<metric>.pt "
                                  "(`_` prefix: lower is better), e.g. valid_acc,_valid_xe_loss.")
    save_periodic: int = opt(0, "Also keep checkpoint-<epoch>.pt every N epochs; 0: never.")

    @property
    def decays(self) -> bool:
        """Whether the rate decays towards the run's last step (its horizon is then fixed when the run starts)."""
        return False

    def check(self, cfg: Config) -> None:
        self.require_positive("epoch_size", "max_epoch", "batch_size", "log_every", "accumulate_gradients")
        self.require_positive("warmup_steps", "save_periodic", strict=False)
        if self.stopping_criterion:
            parts = self.stopping_criterion.split(",")
            self.require(len(parts) == 2 and parts[1].strip().isdigit() and int(parts[1]) > 0, "stopping_criterion",
                         "must be METRIC,N with N > 0 (e.g. valid_acc,10)")

    @property
    def step_examples(self) -> int:
        return self.batch_size * self.accumulate_gradients

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.epoch_size / self.step_examples)

    def factor(self, step: int, total_steps: int) -> float:
        """Learning rate at optimisation ``step`` (0-based) as a fraction of the peak ``optimizer.lr``."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        return self.after_warmup(min(1.0, (step - self.warmup_steps) / max(1, self.decay_steps(total_steps))), step)

    def decay_steps(self, total_steps: int) -> int:
        """Steps from the end of the warm-up to the end of the decay: the rest of the run."""
        return total_steps - self.warmup_steps

    def after_warmup(self, progress: float, step: int) -> float:
        return 1.0


@dataclass
class DecayConfig(ScheduleConfig):
    """Schedules that decay the learning rate to ``min_lr_ratio`` x lr at the last step."""

    min_lr_ratio: float = opt(0.0, "Final learning rate as a fraction of the peak.")

    @property
    def decays(self) -> bool:
        return True

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        self.require(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", "must be in [0, 1]")

    def after_warmup(self, progress: float, step: int) -> float:
        return self.min_lr_ratio + (1 - self.min_lr_ratio) * self.shape(progress)

    def shape(self, progress: float) -> float:
        raise NotImplementedError


@SCHEDULES.register("linear_warmup")
@dataclass
class LinearWarmupConfig(DecayConfig):
    name: str = opt("linear_warmup", "Linear warm-up, then linear decay to min_lr_ratio x lr at the last step.")
    warmup_steps: int = opt(500, "Linear warm-up steps.")

    def shape(self, progress: float) -> float:
        return 1 - progress


@SCHEDULES.register("cosine")
@dataclass
class CosineConfig(DecayConfig):
    name: str = opt("cosine", "Cosine decay from lr to min_lr_ratio x lr at the last step (optional warm-up).")
    period_steps: int = opt(0, "Steps of the cosine after the warm-up; 0: the rest of the run. With a period, the "
                            "rate stays at min_lr_ratio x lr after it (LAWT's cosine, 4M steps, would restart).")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        self.require_positive("period_steps", strict=False)

    @property
    def decays(self) -> bool:
        return not self.period_steps  # over a fixed period, the rate does not depend on the run's horizon

    def decay_steps(self, total_steps: int) -> int:
        return self.period_steps or super().decay_steps(total_steps)

    def shape(self, progress: float) -> float:
        return 0.5 * (1 + math.cos(math.pi * progress))


@SCHEDULES.register("warmup_cosine")
@dataclass
class WarmupCosineConfig(CosineConfig):
    name: str = opt("warmup_cosine", "Linear warm-up then cosine decay to min_lr_ratio x lr at the last step.")
    warmup_steps: int = opt(500, "Linear warm-up steps.")
    min_lr_ratio: float = opt(0.1, "Final learning rate as a fraction of the peak.")


@SCHEDULES.register("inverse_sqrt")
@dataclass
class InverseSqrtConfig(ScheduleConfig):
    name: str = opt("inverse_sqrt", "Linear warm-up then lr * sqrt(warmup_steps / step).")
    warmup_steps: int = opt(1000, "Linear warm-up steps (also the decay's reference step).")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        self.require(self.warmup_steps > 0, "warmup_steps", "must be > 0 for inverse_sqrt")

    def after_warmup(self, progress: float, step: int) -> float:
        return math.sqrt(self.warmup_steps / max(step, 1))
