"""``python -m int2int.profile_step [--model tiny|small|default] [--steps 50]``: where a training step's time goes.

Times, over ``--steps`` steps of the GCD task (the models of ``python -m int2int.bench``), each part of a step as the
training loop runs it: drawing the batch (the task's generator), building the tensors, forward, backward, clipping
and the optimiser update; then prints torch's profiler table of the operators of a few steps (``--ops``), so that
Python overhead, data generation and kernels can be told apart. Figures are medians per step. ``--device cuda``
times each part up to the device's last kernel; ``--compile`` trains the ``torch.compile``'d model
(``hardware.compile``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import contextmanager

import numpy as np
import torch

#: The benchmark models: layers, dimension, heads, batch size, base.
MODELS = {"tiny": (1, 64, 4, 256, 30), "small": (2, 256, 4, 64, 1000), "default": (4, 256, 8, 32, 1000)}


def model_config(name: str, precision: str = "fp32"):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import int2int

    layers, dim, heads, batch, base = MODELS[name]
    overrides = [f"architecture.n_enc_layers={layers}", f"architecture.n_dec_layers={layers}",
                 f"architecture.enc_emb_dim={dim}", f"architecture.dec_emb_dim={dim}",
                 f"architecture.n_enc_heads={heads}", f"architecture.n_dec_heads={heads}",
                 f"schedule.batch_size={batch}", f"encoding.base={base}", "hardware.device=cpu",
                 f"hardware.precision={precision}", "optimizer.lr=1e-4"]
    with initialize_config_dir(config_dir=str(int2int.CONF_DIR), version_base="1.3"):
        return OmegaConf.to_object(compose("config", overrides=overrides))


@contextmanager
def timed(store: list[float], device: torch.device):
    """Wall time of the block, waiting for the device's queued kernels on a GPU (its calls return before they run)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t = time.perf_counter()
    yield
    sync()
    store.append(time.perf_counter() - t)


def profile(name: str, steps: int, ops: int, precision: str, device: str = "cpu", compiled: bool = False) -> None:
    from .data.tensors import to_tensors
    from .distributed import Dist
    from .stepper import Stepper
    from .tasks import build_task
    from .train import build_model_for

    cfg = model_config(name, precision)
    cfg.hardware.device, cfg.hardware.compile = device, compiled
    task = build_task(cfg)
    dev = torch.device(device)
    model = build_model_for(cfg, task, dev)
    stepper = Stepper(cfg, model, cfg.optimizer.build(list(model.parameters())), dev, Dist())
    rng = np.random.default_rng(0)
    parts: dict[str, list[float]] = {k: [] for k in ("generate", "tensors", "forward", "backward", "update", "step")}
    batch = cfg.schedule.batch_size
    for i in range(steps + 5):
        with timed(parts["step"], dev):
            with timed(parts["generate"], dev):
                ex = task.generate(rng, batch)
            with timed(parts["tensors"], dev):
                b = to_tensors(ex, dev)
            stepper.optimizer.zero_grad(set_to_none=True)
            with timed(parts["forward"], dev), stepper.autocast():
                loss = stepper.net(b.x, b.x_len, b.y_in, b.y_out) / b.n_tokens  # the compiled model with --compile
            with timed(parts["backward"], dev):
                loss.backward()
            with timed(parts["update"], dev):
                stepper.update()
        if i == 4:  # warm-up steps are not counted
            for v in parts.values():
                v.clear()
    step = statistics.median(parts["step"])
    what = f"{precision}{', compiled' if compiled else ''}, {device}"
    print(f"{name} ({what}): {model.n_params():,} parameters, batch {batch}: {step * 1e3:.2f} ms/step, "
          f"{batch / step:,.0f} examples/s (median of {steps} steps)")
    for key in ("generate", "tensors", "forward", "backward", "update"):
        med = statistics.median(parts[key])
        print(f"  {key:9s} {med * 1e3:7.2f} ms  {100 * med / step:5.1f}%")
    if ops:
        activities = [torch.profiler.ProfilerActivity.CPU]
        if dev.type == "cuda":
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        with torch.profiler.profile(activities=activities) as prof:
            for _ in range(5):
                ex = task.generate(rng, batch)
                stepper([to_tensors(ex, dev)], cfg.optimizer.lr)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=ops))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=list(MODELS), nargs="+", default=["tiny"])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--ops", type=int, default=0, help="also print the profiler's top N operators")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:N")
    parser.add_argument("--compile", action="store_true", help="train with hardware.compile=true (torch.compile)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    for name in args.model:
        profile(name, args.steps, args.ops, args.precision, args.device, args.compile)


if __name__ == "__main__":
    main()
