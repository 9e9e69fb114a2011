"""Adam, AdamW and SGD as small classes that call torch's functional optimiser API, not ``torch.optim.Optimizer``.

Why: building the first ``torch.optim.Optimizer`` of a process, and every ``Adam.step``, imports ``torch._dynamo``
(0.6-1.2 s on this project's 2-core machine, a third of the launch of a small job; ``docs/performance.md``). The
functions those classes call to do the arithmetic (``torch.optim.adam.adam``, ``torch.optim.sgd.sgd``) do not,
so the update here is torch's own, kernel for kernel (the fused CPU/CUDA kernel where it applies, else the for-each
one), and only the bookkeeping is ours. The state dict has the layout of ``torch.optim.Adam`` / ``AdamW`` / ``SGD``
(one parameter group), so a checkpoint loads into either; ``tests/test_optim.py`` checks both ways, and that the
parameters follow the torch classes step for step.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import adam as torch_adam
from torch.optim import sgd as torch_sgd


class FunctionalOptimizer:
    """One parameter group; ``param_groups[0]["lr"]`` may be set before each step (the schedule does)."""

    #: The group's settings, with torch's names and defaults (the keys of its state dict).
    defaults: dict[str, Any] = {}

    def __init__(self, params: list[nn.Parameter], **settings: Any):
        self.params = list(params)
        unknown = set(settings) - set(self.defaults)
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown settings {sorted(unknown)}")
        self.param_groups = [{**self.defaults, **settings, "params": self.params}]
        self.state: dict[Tensor, dict[str, Any]] = {}

    @property
    def group(self) -> dict[str, Any]:
        return self.param_groups[0]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    def state_dict(self) -> dict[str, Any]:
        index = {p: i for i, p in enumerate(self.params)}
        settings = {k: v for k, v in self.group.items() if k != "params"}
        return {"state": {index[p]: dict(s) for p, s in self.state.items()},
                "param_groups": [{**settings, "params": list(range(len(self.params)))}]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.params):
            raise ValueError(f"the saved optimiser state has {[len(g['params']) for g in groups]} parameters in its "
                             f"groups, this model {len(self.params)} in one")
        self.group.update({k: v for k, v in groups[0].items() if k in self.defaults})
        self.state = {}
        for i, saved in state_dict["state"].items():
            p = self.params[int(i)]
            self.state[p] = {k: self.placed(k, v, p) for k, v in saved.items()}

    def placed(self, key: str, value: Any, p: Tensor) -> Any:
        """A copy of a saved state value on its parameter's device (and dtype, except Adam's step counter): never the
        caller's tensor, which the next step would otherwise update in place."""
        if not isinstance(value, Tensor):
            return value
        dtype = value.dtype if key == "step" else p.dtype
        return value.to(device=p.device, dtype=dtype, copy=True)

    def with_grads(self) -> list[nn.Parameter]:
        return [p for p in self.params if p.grad is not None]

    def step(self, grad_scale: Tensor | None = None) -> None:
        """One update from the parameters' gradients, divided first by ``grad_scale`` (a 0-d tensor) if given: the
        stepper's gradient clipping, which Adam's fused kernel applies in its own pass over the gradients."""
        raise NotImplementedError

    @staticmethod
    def unscale(grads: list[Tensor], grad_scale: Tensor | None) -> None:
        """Divide ``grads`` in place by ``grad_scale``, for the updates that cannot take it in their kernel."""
        if grad_scale is not None:
            torch._foreach_div_(grads, grad_scale)

    def fused(self, params: list[Tensor]) -> bool:
        """torch's fused kernel: floating tensors on CPU or CUDA, and a torch that has it for them."""
        return bool(params) and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)


class Adam(FunctionalOptimizer):
    """``torch.optim.Adam`` (``AdamW`` with ``decoupled_weight_decay=True``) without its class; no amsgrad."""

    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
                "maximize": False, "foreach": None, "capturable": False, "differentiable": False, "fused": None,
                "decoupled_weight_decay": False}

    @torch.no_grad()
    def step(self, grad_scale: Tensor | None = None) -> None:
        g, params = self.group, self.with_grads()
        if not params:
            return
        fused = self.fused(params)
        for p in params:
            if p not in self.state:  # torch's initial state: a zero step counter and zero moments
                self.state[p] = {"step": torch.zeros((), dtype=torch.float32, device=p.device if fused else "cpu"),
                                 "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                                 "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
        states, grads = [self.state[p] for p in params], [p.grad for p in params]
        if not fused:  # the for-each update has no grad_scale: divide first
            self.unscale(grads, grad_scale)
            grad_scale = None
        torch_adam.adam(params, grads, [s["exp_avg"] for s in states],
                        [s["exp_avg_sq"] for s in states], [], [s["step"] for s in states],
                        foreach=not fused, fused=fused, decoupled_weight_decay=g["decoupled_weight_decay"],
                        amsgrad=False, beta1=g["betas"][0], beta2=g["betas"][1], lr=g["lr"],
                        weight_decay=g["weight_decay"], eps=g["eps"], maximize=False, grad_scale=grad_scale)


class SGD(FunctionalOptimizer):
    """``torch.optim.SGD`` without its class: momentum (optionally Nesterov) and L2 weight decay."""

    defaults = {"lr": 1e-2, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False,
                "maximize": False, "foreach": None, "differentiable": False, "fused": None}

    @torch.no_grad()
    def step(self, grad_scale: Tensor | None = None) -> None:
        g, params = self.group, self.with_grads()
        if not params:
            return
        buffers = [self.state.get(p, {}).get("momentum_buffer") for p in params]
        grads = [p.grad for p in params]
        self.unscale(grads, grad_scale)
        torch_sgd.sgd(params, grads, buffers, weight_decay=g["weight_decay"],
                      momentum=g["momentum"], lr=g["lr"], dampening=g["dampening"], nesterov=g["nesterov"],
                      maximize=False, foreach=True)
        if g["momentum"]:  # the functional API fills the list with the new buffers, as torch.optim.SGD reads them
            for p, buf in zip(params, buffers):
                self.state[p] = {"momentum_buffer": buf}
