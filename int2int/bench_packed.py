"""``python -m int2int.bench_packed [--runs 8 32 128] [--steps 30] [--device cpu] [--precision bf16]``: packed runs
against the same runs trained one after the other.

For each count G of tiny GCD runs (1+1 layers, 64 dimensions, 4 heads, batch 256, base 30, each with its own seed
and learning rate), times training steps of the G runs as one stacked model (what ``hardware=packed`` does) and of
each run alone (what a sweep does one job after the other), and prints the aggregate training examples/s of both and
their ratio (median of ``--repeats`` timings). The runs are built in memory: nothing is written.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from .profile_step import model_config


def build_runs(g: int, device: str, precision: str = "fp32"):
    from .train import build_run

    runs = []
    for i in range(g):
        cfg = model_config("tiny", precision)
        cfg.seed, cfg.optimizer.lr, cfg.hardware.device = i, 1e-4 * (1 + i % 4), device
        cfg.eval.size, cfg.eval.train_size = 8, 0
        runs.append(build_run(cfg, Path(f"/nonexistent/packed-bench/{i}")))
    return runs


def time_alone(runs, steps: int) -> float:
    """Seconds per step of all runs, one after the other."""
    from .data.tensors import to_tensors
    from .train import next_batch

    t = time.perf_counter()
    for _ in range(steps):
        for run in runs:
            loss, _ = run.stepper([to_tensors(next_batch(run, run.cfg.schedule.batch_size), run.device)], 1e-4)
    float(loss)
    return (time.perf_counter() - t) / steps


def time_packed(runs, steps: int) -> float:
    from .packed import Stack
    from .train import next_batch

    stack = Stack(runs)
    lrs = [1e-4] * len(runs)
    t = time.perf_counter()
    for _ in range(steps):
        losses = stack.step([next_batch(r, r.cfg.schedule.batch_size) for r in runs], lrs, runs[0].stepper.autocast)
    float(losses.sum())
    return (time.perf_counter() - t) / steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[8])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {args.device}, {args.precision}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"tiny GCD runs, batch 256; median of {args.repeats} timings of {args.steps} steps")
    print("| runs | one after the other (ex/s) | packed (ex/s) | speed-up |")
    print("|---:|---:|---:|---:|")
    for g in args.runs:
        runs = build_runs(g, args.device, args.precision)
        time_alone(runs, 2), time_packed(runs, 2)  # warm-up
        alone = statistics.median(time_alone(runs, args.steps) for _ in range(args.repeats))
        packed = statistics.median(time_packed(runs, args.steps) for _ in range(args.repeats))
        examples = g * runs[0].cfg.schedule.batch_size
        print(f"| {g} | {examples / alone:,.0f} | {examples / packed:,.0f} | {alone / packed:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
