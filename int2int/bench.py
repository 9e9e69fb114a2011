"""Benchmark: training, evaluation and data-generation throughput on GCD for three model sizes.

``python -m int2int.bench`` prints examples/s for each and the model FLOPs utilisation (training
FLOPs, about 6 x non-embedding parameters per token, over a matmul peak measured on the spot).
The models are those of ``../shared/notes/performance.md``, where the original's figures on a
2-core CPU are: tiny ~5,500, small ~615, default ~265 training examples/s.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from .batching import to_tensors
from .config import (AdamConfig, ArchitectureConfig, Config, EncodingConfig, EvalConfig, GcdConfig, HardwareConfig,
                     ScheduleConfig)
from .evaluate import evaluate
from .models import build_model
from .tasks import build_task
from .distributed import Dist
from .train import Stepper, build_optimizer

MODELS = {
    "tiny": dict(layers=1, dim=64, heads=4, batch=256, base=30, original=5500),
    "small": dict(layers=2, dim=256, heads=4, batch=64, base=1000, original=615),
    "default": dict(layers=4, dim=256, heads=8, batch=32, base=1000, original=265),
}


def bench_config(name: str, device: str, precision: str = "fp32") -> Config:
    m = MODELS[name]
    return Config(
        task=GcdConfig(), encoding=EncodingConfig(base=m["base"]),
        architecture=ArchitectureConfig(n_enc_layers=m["layers"], n_dec_layers=m["layers"], enc_emb_dim=m["dim"],
                                        dec_emb_dim=m["dim"], n_enc_heads=m["heads"], n_dec_heads=m["heads"]),
        optimizer=AdamConfig(lr=1e-4), schedule=ScheduleConfig(batch_size=m["batch"]), hardware=HardwareConfig(device=device, precision=precision),
    )


def matmul_peak(device: torch.device, n: int = 1024, reps: int = 20) -> float:
    """Measured fp32 matmul FLOP/s at a square size (the ceiling the models are compared with)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t)


def timed(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def train_flops(model, x_tokens: float, y_tokens: float) -> float:
    """Training FLOPs of one example: 6 x (parameters x the tokens they see), attention scores left out.

    Encoder layers see the input tokens; decoder layers and the output projection the output tokens,
    except the cross-attention key/value projections, which see the input tokens.
    """
    def count(module) -> int:
        return sum(p.numel() for p in module.parameters())

    enc = sum(count(layer) for layer in model.enc_layers)
    kv = sum(count(layer.cross_attn.kv) for layer in model.dec_layers)
    dec = sum(count(layer) for layer in model.dec_layers) - kv
    proj = model.vocab_size * model.cfg.dec_emb_dim
    return 6.0 * ((enc + kv) * x_tokens + (dec + proj) * y_tokens)


def run(name: str, device: torch.device, seconds: float, peak: float, precision: str = "fp32") -> dict[str, float]:
    cfg = bench_config(name, device.type, precision)
    task = build_task(cfg)
    torch.manual_seed(0)
    model = build_model(cfg.architecture, len(task.vocab)).to(device)
    opt = build_optimizer(cfg, model)
    rng = np.random.default_rng(0)
    bs = cfg.schedule.batch_size

    gen = timed(lambda: to_tensors(task.generate(rng, bs), device), 200)
    gen_rate = bs / statistics.median(gen)

    stepper = Stepper(cfg, model, opt, device, Dist())

    def step():
        stepper([to_tensors(task.generate(rng, bs), device)], 1e-4)

    for _ in range(5):
        step()
    rates = []  # the median of three windows: shared machines drift by 10% from one second to the next
    for _ in range(3):
        n_steps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 3:
            step()
            n_steps += 1
        rates.append(n_steps * bs / (time.perf_counter() - t0))
    train_rate = statistics.median(rates)

    data = task.generate(np.random.default_rng(1), 1000)
    t = time.perf_counter()
    with stepper.autocast():
        evaluate(model, task, data, EvalConfig(batch_size=500), task.max_output_len, device)
    eval_rate = len(data) / (time.perf_counter() - t)

    ex = task.generate(np.random.default_rng(2), 1000)
    flops = train_flops(model, float((ex.x_len + 1).mean()), float((ex.y_len + 1).mean()))
    return dict(train=train_rate, eval=eval_rate, gen=gen_rate, mfu=train_rate * flops / peak,
                params=model.n_params(), original=MODELS[name]["original"])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="tiny,small,default", help="comma-separated subset of tiny,small,default")
    p.add_argument("--seconds", type=float, default=15.0, help="training time measured per model and precision "
                   "(the median of three windows is reported)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--precision", default="fp32,bf16", help="comma-separated subset of fp32,bf16 (bf16: autocast)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    peak = matmul_peak(device)
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, "
          f"fp32 matmul peak {peak / 1e9:.0f} GFLOP/s")
    print("| model | precision | params | train ex/s | original ex/s | x original | eval ex/s | data gen ex/s | MFU (fp32 peak) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        for precision in args.precision.split(","):
            r = run(name.strip(), device, args.seconds, peak, precision.strip())
            print(f"| {name} | {precision} | {r['params'] / 1e6:.2f}M | {r['train']:,.0f} | {r['original']:,} | "
                  f"{r['train'] / r['original']:.2f} | {r['eval']:,.0f} | {r['gen']:,.0f} | {100 * r['mfu']:.0f}% |",
                  flush=True)


if __name__ == "__main__":
    main()
