"""``python -m int2int.tasks.bench_scalar``: the price of writing a task one example at a time.

Generates GCD examples with the vectorised task and with the same task written as a :class:`ScalarTask`, in
batches of ``--batch`` examples, and prints examples/s of each (median of ``--repeats`` timings) and the ratio.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

from ..config import Config, HardwareConfig
from ..encodings.positional import PositionalConfig
from ..models.layers import TransformerConfig
from ..optim import AdamConfig, ScheduleConfig
from .gcd import GcdConfig, GcdTask
from .scalar import ScalarTask


class ScalarGcd(ScalarTask):
    """GCD, one example at a time (the comparison point, not a registered task)."""

    input_size, max_input, max_output = 2, 10**6, 10**6

    def example(self, rng):
        a, b = (int(v) for v in rng.integers(1, 10**6, size=2, endpoint=True))
        return [a, b], math.gcd(a, b)


def rate(task, batch: int, repeats: int) -> float:
    rng = np.random.default_rng(0)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        task.generate(rng, batch)
        times.append(time.perf_counter() - t)
    return batch / statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--base", type=int, default=10)
    args = parser.parse_args(argv)
    cfg = Config(task=GcdConfig(), encoding=PositionalConfig(base=args.base), architecture=TransformerConfig(),
                 optimizer=AdamConfig(), schedule=ScheduleConfig(), hardware=HardwareConfig())
    vectorised, scalar = rate(GcdTask(cfg), args.batch, args.repeats), rate(ScalarGcd(cfg), args.batch, args.repeats)
    print(f"GCD examples/s in batches of {args.batch:,} (median of {args.repeats}): vectorised {vectorised:,.0f}, "
          f"one at a time (ScalarTask) {scalar:,.0f}: {vectorised / scalar:.0f}x fewer")


if __name__ == "__main__":
    main()
