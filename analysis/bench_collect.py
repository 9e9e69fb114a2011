"""Time :func:`analysis.collect.collect` on synthetic run directories.

    python -m analysis.bench_collect                        # 1,000 runs x 100 evaluations, 10 classes
    python -m analysis.bench_collect --classes 100          # GCD-like: 100 classes per eval set
    python -m analysis.bench_collect --old-format           # per-class counts nested in metrics.jsonl
    python -m analysis.bench_collect --runs 200 --keep /tmp/bench_sweep

Each run has two eval sets (valid, test) with the usual metrics and ``--classes`` classes per set
(GCD-like counts), written as the training code writes them: one ``classes.csv`` row per
evaluation, eval set and class, or (``--old-format``, run directories written before per-class rows)
a nested ``classes`` object in each ``metrics.jsonl`` line. Prints the time to write the files, to
collect them, to write the parquet files, and to collect without the classes table.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from analysis.classes import CLASSES_FILE, CSV_HEADER
from analysis.collect import collect, summary, write_tables

SETS = ("valid", "test")


def make_sweep(root: Path, n_runs: int, n_evals: int, n_classes: int, seed: int = 0, old_format: bool = False) -> None:
    """``root/0 .. root/<n_runs-1>``: run directories like a GCD sweep over bases and depths."""
    rng = random.Random(seed)
    bases = [2, 3, 10, 30, 210, 1000]
    per_class = {str(k): 1000 * 6 // (k * k) + 1 for k in range(1, n_classes + 1)}
    for job in range(n_runs):
        run_dir = root / str(job)
        run_dir.mkdir(parents=True)
        base, layers = bases[job % len(bases)], 1 + job // len(bases) % 4
        _write_run_files(run_dir, root, job, base, layers, n_evals)
        metrics, class_rows = [], io.StringIO()
        writer = csv.writer(class_rows)  # as the training code writes them
        writer.writerow(CSV_HEADER)
        for epoch in range(1, n_evals + 1):
            acc = 1 - math.exp(-epoch / 10) * rng.uniform(0.5, 1)
            examples = 300000 * epoch
            rec = {"epoch": epoch, "examples": examples, "steps": 1172 * epoch,
                   "wall_time": 30.0 * epoch, "train_loss": 1 - acc, "lr": 1e-4, "eval_sets": list(SETS)}
            for s in SETS:
                rec.update({f"{s}_xe_loss": 1 - acc, f"{s}_acc": acc, f"{s}_perfect": acc, f"{s}_correct": 0.99,
                            f"{s}_size": 1000, f"{s}_gcd_learned": int(acc * 30)})
            if n_classes and old_format:
                rec["classes"] = {s: {k: [c, int(c * acc)] for k, c in per_class.items()} for s in SETS}
            elif n_classes:
                writer.writerows((epoch, examples, s, k, c, int(c * acc)) for s in SETS for k, c in per_class.items())
            metrics.append(json.dumps(rec) + "\n")
        (run_dir / "metrics.jsonl").write_text("".join(metrics))
        if n_classes and not old_format:
            (run_dir / CLASSES_FILE).write_text(class_rows.getvalue(), newline="")


def _write_run_files(run_dir: Path, root: Path, job: int, base: int, layers: int, n_evals: int) -> None:
    config = {
        "task": {"name": "gcd", "min_int": 1, "max_int": 1000000, "modulus": 67, "max_class": 101},
        "encoding": {"base": base},
        "architecture": {"n_enc_layers": layers, "n_dec_layers": layers, "dim": 256, "n_heads": 8,
                         "dropout": 0.0, "share_inout_emb": True},
        "optimizer": {"name": "adam", "lr": 1e-4, "betas": [0.9, 0.999]},
        "schedule": {"name": "constant"}, "hardware": {"device": "auto"},
        "data": {"epoch_size": 300000, "batch_size": 256}, "eval": {"size": 1000, "sets": list(SETS)},
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.bench_collect", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--evals", type=int, default=100, help="evaluations (metrics lines) per run")
    parser.add_argument("--classes", type=int, default=10, help="classes per eval set per evaluation (0: none)")
    parser.add_argument("--old-format", action="store_true",
                        help="nest the per-class counts in metrics.jsonl (run directories of older int2int)")
    parser.add_argument("-j", "--workers", type=int, default=None, help="reading threads (default: automatic)")
    parser.add_argument("--keep", type=Path,
                        help="create the sweep here and keep it, or reuse the one there (default: a temp dir, removed)")
    args = parser.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench_collect_"))
    try:
        t0 = time.perf_counter()
        fmt = "nested in metrics.jsonl" if args.old_format else CLASSES_FILE
        if (root / "sweep").exists():
            print(f"reusing {root / 'sweep'} (--runs, --evals, --classes, --old-format ignored)")
        else:
            make_sweep(root / "sweep", args.runs, args.evals, args.classes, old_format=args.old_format)
            print(f"created {args.runs} runs x {args.evals} evaluations x {args.classes} classes ({fmt}) "
                  f"in {time.perf_counter() - t0:.1f} s")
        t1 = time.perf_counter()
        runs, classes = collect([root / "sweep"], workers=args.workers)
        t2 = time.perf_counter()
        print(f"collect: {summary(runs, classes)} in {t2 - t1:.2f} s")
        write_tables(runs, classes, root / "results.parquet")
        t3 = time.perf_counter()
        size = sum(os.path.getsize(p) for p in root.glob("*.parquet")) / 2**20
        print(f"write parquet: {t3 - t2:.2f} s ({size:.1f} MiB)")
        del runs, classes
        t3 = time.perf_counter()
        collect([root / "sweep"], classes=False, workers=args.workers)
        print(f"collect without classes: {time.perf_counter() - t3:.2f} s")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
