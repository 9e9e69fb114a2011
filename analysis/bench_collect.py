"""Time :func:`analysis.collect.collect` on synthetic run directories.

    python -m analysis.bench_collect                       # 1,000 runs x 100 evaluations
    python -m analysis.bench_collect --classes 100 -j 1           # GCD-like: 100 classes, one process
    python -m analysis.bench_collect --runs 200 --keep /tmp/bench_sweep

Each run has two eval sets (valid, test) with the usual metrics and ``--classes`` classes per set
(GCD-like counts). Prints the time to write the files, to collect them, and to write the parquet.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from analysis.collect import collect, summary, write_tables


def make_sweep(root: Path, n_runs: int, n_evals: int, n_classes: int, seed: int = 0) -> None:
    """``root/0 .. root/<n_runs-1>``: run directories like a GCD sweep over bases and depths."""
    rng = random.Random(seed)
    bases = [2, 3, 10, 30, 210, 1000]
    per_class = {str(k): 1000 * 6 // (k * k) + 1 for k in range(1, n_classes + 1)}
    for job in range(n_runs):
        run_dir = root / str(job)
        run_dir.mkdir(parents=True)
        base, layers = bases[job % len(bases)], 1 + job // len(bases) % 4
        config = {
            "task": {"name": "gcd", "min_int": 1, "max_int": 1000000, "modulus": 67, "max_class": 101},
            "encoding": {"base": base},
            "architecture": {"n_enc_layers": layers, "n_dec_layers": layers, "dim": 256, "n_heads": 8,
                             "dropout": 0.0, "share_inout_emb": True},
            "optimizer": {"name": "adam", "lr": 1e-4, "betas": [0.9, 0.999]},
            "schedule": {"name": "constant"}, "hardware": {"device": "auto"},
            "data": {"epoch_size": 300000, "batch_size": 256}, "eval": {"size": 1000, "sets": ["valid", "test"]},
            "seed": job % 3,
        }
        (run_dir / "run.json").write_text(json.dumps({
            "run_id": f"run{job:05d}", "config": config,
            "choices": {"task": "gcd", "encoding": "positional", "architecture": "encoder_decoder",
                        "optimizer": "adam", "schedule": "constant", "hardware": "auto"},
            "overrides": [f"encoding.base={base}", f"architecture.n_enc_layers={layers}"],
            "sweep_dir": str(root), "job_num": job, "started": "2024-01-01T00:00:00+00:00"}))
        (run_dir / "status.json").write_text(json.dumps(
            {"status": "finished", "updated": "2024-01-01T01:00:00+00:00", "error": None, "epoch": n_evals}))
        lines = []
        for epoch in range(n_evals):
            acc = 1 - math.exp(-(epoch + 1) / 10) * rng.uniform(0.5, 1)
            rec = {"epoch": epoch, "examples": 300000 * (epoch + 1), "steps": 1172 * (epoch + 1),
                   "wall_time": 30.0 * (epoch + 1), "train_loss": 1 - acc, "lr": 1e-4, "eval_sets": ["valid", "test"]}
            for s in ("valid", "test"):
                rec.update({f"{s}_xe_loss": 1 - acc, f"{s}_acc": acc, f"{s}_perfect": acc, f"{s}_correct": 0.99,
                            f"{s}_size": 1000, f"{s}_gcd_learned": int(acc * 30)})
            if n_classes:
                rec["classes"] = {s: {k: [c, int(c * acc)] for k, c in per_class.items()} for s in ("valid", "test")}
            lines.append(json.dumps(rec))
        (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.bench_collect", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--evals", type=int, default=100, help="evaluations (metrics lines) per run")
    parser.add_argument("--classes", type=int, default=10, help="classes per eval set per evaluation (0: none)")
    parser.add_argument("-j", "--workers", type=int, default=None, help="reading processes (default: automatic)")
    parser.add_argument("--keep", type=Path, help="create the sweep here and keep it (default: a temp dir, removed)")
    args = parser.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench_collect_"))
    try:
        t0 = time.perf_counter()
        make_sweep(root / "sweep", args.runs, args.evals, args.classes)
        t1 = time.perf_counter()
        print(f"created {args.runs} runs x {args.evals} evaluations x {args.classes} classes in {t1 - t0:.1f} s")
        runs, classes = collect([root / "sweep"], workers=args.workers)
        t2 = time.perf_counter()
        print(f"collect: {summary(runs, classes)} in {t2 - t1:.2f} s")
        write_tables(runs, classes, root / "results.parquet")
        t3 = time.perf_counter()
        size = sum(os.path.getsize(p) for p in root.glob("*.parquet")) / 2**20
        print(f"write parquet: {t3 - t2:.2f} s ({size:.1f} MiB)")
        runs, classes = collect([root / "sweep"], classes=False, workers=args.workers)
        print(f"collect without classes: {time.perf_counter() - t3:.2f} s")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
