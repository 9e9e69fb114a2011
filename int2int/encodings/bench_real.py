"""Throughput of the real-number encodings: ``python -m int2int.encodings.bench_real [--n 1000000]``.

For each encoding (P10, P1000, B1999, FP15 at their defaults) it times ``tokens`` on a batch of floats and
``decode`` of the same numbers laid out as rows of ``--per-row`` numbers (a 10 x 10 matrix per row by default),
and prints the median over ``--repeats`` runs in numbers/s and tokens/s, with the vocabulary size. It checks
that every row decodes to exactly ``round(values)`` (outside the timings).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from .b1999 import B1999
from .fp15 import FP15
from .p10 import P10
from .p1000 import P1000
from .scientific import RealEncoding
from .vocab import Vocabulary

ENCODINGS = (P10, P1000, B1999, FP15)


def sample(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Benchmark inputs: ``loguniform`` magnitudes 1e-4..1e4, ``uniform`` in [-10, 10] (LAWT's matrix entries),
    or ``dyadic`` k/8 fractions, which are often exactly halfway at 3 digits and take the exact (slow) path."""
    signs = rng.choice([-1.0, 1.0], n)
    if kind == "loguniform":
        return signs * 10.0 ** rng.uniform(-4, 4, n)
    if kind == "uniform":
        return rng.uniform(-10, 10, n)
    if kind == "dyadic":
        return signs * rng.integers(1, 80_000, n) / 8
    raise ValueError(f"unknown --data {kind!r} (loguniform, uniform, dyadic)")


def left_align(ids: np.ndarray, mask: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of per-number tokens (rows x k x max_tokens) as padded, left-aligned id rows and lengths."""
    ids, mask = ids.reshape(len(ids), -1), mask.reshape(len(mask), -1)
    order = np.argsort(~mask, axis=1, kind="stable")
    ids = np.where(np.take_along_axis(mask, order, axis=1), np.take_along_axis(ids, order, axis=1), pad)
    return ids, mask.sum(axis=1)


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(enc: RealEncoding, values: np.ndarray, per_row: int, repeats: int) -> dict:
    vocab = Vocabulary(enc.symbols())
    enc.bind(vocab)
    rows = values.reshape(-1, per_row)
    encode_s = median_seconds(lambda: enc.tokens(rows), repeats)
    ids, mask = enc.tokens(rows)
    ids, lengths = left_align(ids, mask, vocab.id("<pad>"))
    decode_s = median_seconds(lambda: enc.decode(ids, lengths, per_row), repeats)
    decoded, valid = enc.decode(ids, lengths, per_row)
    if not valid.all() or not np.array_equal(decoded, enc.round(rows)):
        raise AssertionError(f"{type(enc).__name__}: decoding the tokens does not give round(values)")
    n, n_tokens = values.size, int(lengths.sum())
    return {"encoding": type(enc).__name__, "vocab": len(enc.symbols()), "tokens/number": n_tokens / n,
            "encode numbers/s": n / encode_s, "encode tokens/s": n_tokens / encode_s,
            "decode numbers/s": n / decode_s, "decode tokens/s": n_tokens / decode_s}


def millions(x: float) -> str:
    return f"{x / 1e6:,.1f}M"


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="numbers in the batch")
    parser.add_argument("--per-row", type=int, default=100, help="numbers per decoded row (100: a 10 x 10 matrix)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the median is reported")
    parser.add_argument("--data", default="loguniform", help="loguniform (default), uniform or dyadic")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    n = args.n // args.per_row * args.per_row
    values = sample(args.data, n, np.random.default_rng(args.seed))
    table = pd.DataFrame([bench(cls(), values, args.per_row, args.repeats) for cls in ENCODINGS])
    print(f"{n:,} {args.data} floats, rows of {args.per_row} numbers, median of {args.repeats} runs")
    formats = {c: millions for c in table.columns if "/s" in c}
    print(table.to_string(index=False, formatters={**formats, "tokens/number": "{:.2f}".format}))
    return table


if __name__ == "__main__":
    main()
