"""One optimisation step: forward, backward, clipping and the optimiser update, on one rank or several.

The loss is the token cross-entropy summed over the global batch (all micro-batches, all ranks) divided by its
token count, so accumulation and data parallelism give the gradients of one big batch. Mixed precision
(``hardware.precision``) runs the forward pass under autocast. The step returns the summed loss as a tensor and
never synchronises with the device: the caller reads losses once per log line.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from .config import Config, ConfigError, Precision
from .data.tensors import TensorBatch
from .distributed import Dist
from .functional_optim import FunctionalOptimizer
from .optim import Optimizer


AUTOCAST_DTYPES = {Precision.bf16: torch.bfloat16, Precision.fp16: torch.float16}


def autocast(device: torch.device, precision: Precision) -> contextlib.AbstractContextManager:
    """The autocast context of ``precision`` on ``device`` (none for fp32)."""
    dtype = AUTOCAST_DTYPES.get(precision)
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def check_precision(precision: Precision, device: torch.device, key: str) -> None:
    """fp16 autocast needs CUDA: a clear error naming ``key`` before any compute, not a slow or failing run."""
    if precision == Precision.fp16 and device.type != "cuda":
        raise ConfigError(f"{key}='fp16': fp16 needs CUDA; use bf16 on CPU")


class Stepper:
    def __init__(self, cfg: Config, model: nn.Module, optimizer: Optimizer, device: torch.device,
                 dist: Dist):
        self.cfg, self.model, self.optimizer, self.device, self.dist = cfg, model, optimizer, device, dist
        net: nn.Module = model
        if dist.active:
            from torch.nn.parallel import DistributedDataParallel

            net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        if cfg.hardware.compile:
            net = torch.compile(net)
        self.net = net
        prec = cfg.hardware.precision
        check_precision(prec, device, "hardware.precision")
        self.scaler = torch.amp.GradScaler("cuda", enabled=prec == Precision.fp16)
        self.params = [p for p in model.parameters() if p.requires_grad]

    def autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.device, self.cfg.hardware.precision)

    def __call__(self, micro: list[TensorBatch], lr: float) -> tuple[torch.Tensor, int]:
        """Train on the micro-batches of one step; returns (summed token loss, as a 0-d tensor; tokens) on this rank."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        tokens = sum(b.n_tokens for b in micro)
        scale = self.dist.world / self.dist.all_sum(tokens)  # DDP averages gradients over ranks
        loss_sum = torch.zeros((), device=self.device)
        self.optimizer.zero_grad(set_to_none=True)
        for i, b in enumerate(micro):
            sync = i == len(micro) - 1 or not self.dist.active
            with (contextlib.nullcontext() if sync else self.net.no_sync()), self.autocast():
                loss = self.net(b.x, b.x_len, b.y_in, b.y_out)
                extra = self.model.aux_loss()
            self.scaler.scale(loss * scale + extra / len(micro)).backward()
            loss_sum += loss.detach().float()
        self.update()
        return loss_sum, tokens

    def update(self) -> None:
        """Clip the gradients' global norm to ``optimizer.clip_grad_norm`` (0: no clipping) and step the optimiser.

        With int2int's own optimisers (and no fp16 loss scaler) the clipping is their ``grad_scale``: the gradients
        are divided by max(1, norm / clip) in the update's pass over them (Adam's fused kernel), where
        ``clip_grad_norm_`` would take a pass of its own: steps of the 256-dim models 1-2% faster on 2 threads.
        Otherwise torch's way: unscale (fp16), ``clip_grad_norm_``, a step that the scaler skips on inf/nan."""
        clip = self.cfg.optimizer.clip_grad_norm
        if isinstance(self.optimizer, FunctionalOptimizer) and not self.scaler.is_enabled():
            grad_scale = None
            if clip > 0:
                norm = nn.utils.get_total_norm([p.grad for p in self.params if p.grad is not None], foreach=True)
                grad_scale = ((norm + 1e-6) / clip).clamp_(min=1.0)  # 1 / clip_grad_norm_'s coefficient
            self.optimizer.step(grad_scale=grad_scale)
            return
        if clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.params, clip, foreach=True)
        self.scaler.step(self.optimizer)
        self.scaler.update()
