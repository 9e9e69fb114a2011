"""``python -m int2int.tasks.bench_generation``: how fast each task's generator draws training examples.

For each case (a task, its options and an encoding, composed exactly as ``launch.py`` composes them) it times
``task.generate(rng, --batch)`` ``--repeats`` times after one warm-up batch, and prints a markdown table of
examples/s (the median batch, and the slowest and fastest) with the longest input and output of the task in
tokens. Run it with one thread, ``OMP_NUM_THREADS=1`` (numpy's linear algebra is threaded otherwise): that is
what a training process that also runs a model gets. ``--only NAME ...`` keeps the cases whose task is named.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

#: (task options, encoding options) of each case, in the order of the table.
CASES: list[tuple[list[str], list[str]]] = [
    (["task=gcd"], ["encoding.base=10"]),
    (["task=gcd"], ["encoding.base=1000"]),
    (["task=gcd", "task.outcomes=uniform"], ["encoding.base=10"]),
    (["task=modular_add"], ["encoding.base=10"]),
    (["task=fraction_add"], ["encoding.base=10"]),
    (["task=fraction_simplify"], ["encoding.base=10"]),
    (["task=fraction_compare"], ["encoding.base=10"]),
    (["task=add"], ["encoding.base=10"]),
    (["task=mix", "task.n_digits=20"], ["encoding.base=10"]),
    (["task=matrix_rank"], ["encoding.base=10"]),
    (["task=matrix_rank"], ["encoding.base=1000"]),
    (["task=matrix_rank", "task.dim1=10", "task.dim2=10"], ["encoding.base=10"]),
    (["task=matrix_transpose"], ["encoding=p1000"]),
    (["task=matrix_transpose"], ["encoding=fp15"]),
    (["task=matrix_product"], ["encoding=p1000"]),
    (["task=matrix_product"], ["encoding=fp15"]),
    (["task=eigenvalues"], ["encoding=p1000"]),
    (["task=eigenvalues"], ["encoding=fp15"]),
    (["task=eigenvalues", "task.eigen_distribution=laplace"], ["encoding=fp15"]),
    (["task=eigenvectors"], ["encoding=p1000"]),
    (["task=matrix_inverse"], ["encoding=p1000"]),
    (["task=matrix_inverse"], ["encoding=fp15"]),
    (["task=svd"], ["encoding=fp15"]),
]


def build(overrides: list[str]):
    """The task of ``overrides``, composed and checked as ``launch.py`` does."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import int2int
    from int2int.tasks import build_task

    with initialize_config_dir(config_dir=str(int2int.CONF_DIR), version_base="1.3"):
        cfg = OmegaConf.to_object(compose("config", overrides=overrides))
    cfg.check()
    return build_task(cfg)


def timings(task, batch: int, repeats: int, seed: int = 0) -> list[float]:
    """Seconds of each of ``repeats`` batches of ``batch`` examples, after one warm-up batch."""
    rng = np.random.default_rng(seed)
    task.generate(rng, batch)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        task.generate(rng, batch)
        out.append(time.perf_counter() - t0)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=10_000, help="examples per batch (default 10,000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed batches per case (default 5)")
    parser.add_argument("--only", nargs="*", default=None, help="task names to keep (default: every case)")
    args = parser.parse_args(argv)
    threads = os.environ.get("OMP_NUM_THREADS")
    print(f"examples/s of task.generate, batches of {args.batch:,}, median (slowest-fastest) of {args.repeats}; "
          f"OMP_NUM_THREADS={threads or 'unset (run with OMP_NUM_THREADS=1 for one thread)'}\n")
    print("| task | options | encoding | examples/s | (range) | input / output tokens (max) |")
    print("|---|---|---|---|---|---|")
    for task_opts, enc_opts in CASES:
        name = task_opts[0].split("=", 1)[1]
        if args.only and name not in args.only:
            continue
        task = build(task_opts + enc_opts)
        secs = timings(task, args.batch, args.repeats)
        rates = sorted(args.batch / s for s in secs)
        options = " ".join(o.removeprefix("task.") for o in task_opts[1:]) or "defaults"
        encoding = " ".join(o.removeprefix("encoding=") if o.startswith("encoding=") else
                            "positional " + o.removeprefix("encoding.") for o in enc_opts)
        print(f"| `{name}` | {options} | {encoding} | {args.batch / statistics.median(secs):,.0f} | "
              f"{rates[0]:,.0f}-{rates[-1]:,.0f} | {task.max_input_len} / {task.max_output_len} |", flush=True)


if __name__ == "__main__":
    main()
