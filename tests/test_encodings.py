"""Positional integers: exact token sequences, round trips, and the vectorised encoder against a plain one."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import task_config
from int2int.encodings import Number, NumberArray, PositionalInts, Vocabulary
from int2int.encodings.positional import PositionalConfig
from int2int.tasks import build_task


def plain_tokens(value: int, base: int) -> list[str]:
    """Reference encoder: sign, then digits most significant first (written by hand, one integer at a time)."""
    sign, value = ("-" if value < 0 else "+"), abs(value)
    digits = []
    while True:
        digits.append(str(value % base))
        value //= base
        if value == 0:
            break
    return [sign, *reversed(digits)]


def encoder(base: int) -> tuple[PositionalInts, Vocabulary]:
    ints = PositionalInts(PositionalConfig(base=base))
    vocab = Vocabulary(ints.symbols() + ["V2"])
    return ints.bind(vocab), vocab


def encode_rows(ints: PositionalInts, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of k integers side by side (no dimension token), as the tokenizers lay them out."""
    from int2int.encodings import compact

    toks, mask = ints.tokens(rows)
    return compact(toks.reshape(len(rows), -1), mask.reshape(len(rows), -1))


def test_exact_tokens_of_the_original_format():
    ints, vocab = encoder(10)
    ids, lens = Number(ints).encode(np.array([-3124, 0, 10]))
    assert vocab.lines(ids, lens) == ["- 3 1 2 4", "+ 0", "+ 1 0"]
    ints, vocab = encoder(1000)
    arrays = NumberArray(ints, 1)
    arrays.dim_ids = np.array([0, vocab.id("V2")])  # only V2 in this small vocabulary
    ids, lens = arrays.encode(np.array([[-3124, 0]]))
    assert vocab.lines(ids, lens) == ["V2 - 3 124 + 0"]


def test_gcd_file_format_examples():
    """The original's GCD lines: `V2 + 9 1 1 2 0 + 6 8 0 7 1 2<TAB>+ 8` (base 10) and
    `V2 + 91 120 + 680 712<TAB>+ 8`."""
    for base, x, y in [(10, "V2 + 9 1 1 2 0 + 6 8 0 7 1 2", "+ 8"), (1000, "V2 + 91 120 + 680 712", "+ 8")]:
        task = build_task(task_config("gcd", base))
        ex = task.build(np.array([91120]), np.array([680712]))
        assert task.vocab.lines(ex.x, ex.x_len) == [x] and task.vocab.lines(ex.y, ex.y_len) == [y]


@settings(max_examples=60, deadline=None)
@given(base=st.integers(2, 2000), values=st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=20),
       k=st.integers(1, 3))
def test_round_trip_and_plain_reference(base, values, k):
    ints, vocab = encoder(base)
    arr = np.array(values * k, dtype=np.int64)[: (len(values) * k) // k * k].reshape(-1, k)
    ids, lens = encode_rows(ints, arr)
    # the vectorised encoder writes exactly what the plain reference writes
    expected = [" ".join(t for v in row for t in plain_tokens(int(v), base)) for row in arr]
    assert vocab.lines(ids, lens) == expected
    decoded, valid = ints.decode(ids, lens, k)
    assert valid.all()
    np.testing.assert_array_equal(decoded, arr)


def test_decode_rejects_malformed_and_accepts_leading_zeros():
    ints, vocab = encoder(10)
    rows = ["+ 0 8", "8", "+", "+ 1 + 2", "- 4 2", "+ 1 V2", ""]
    width = max(len(r.split()) for r in rows)
    ids = np.full((len(rows), width), 1)
    for i, r in enumerate(rows):
        toks = vocab.ids(r.split())
        ids[i, : len(toks)] = toks
    lens = np.array([len(r.split()) for r in rows])
    values, valid = ints.decode(ids, lens, 1)
    assert valid.tolist() == [True, False, False, False, True, False, False]
    assert values[0, 0] == 8 and values[4, 0] == -42


def test_decode_refuses_integers_beyond_62_bits():
    ints, vocab = encoder(10)
    toks = vocab.ids(["+"] + ["9"] * 25)
    ids = np.array([toks, toks[:18] + [1] * 8])  # 25 nines, and 17 nines then padding
    _, valid = ints.decode(ids, np.array([len(toks), 18]), 1)
    assert valid.tolist() == [False, True]


def test_vectorised_generation_matches_plain_reference():
    """Every generated GCD/modular example is what a per-example reference would write for its operands."""
    rng = np.random.default_rng(0)
    for base in (10, 1000):
        for task in (build_task(task_config("gcd", base)), build_task(task_config("modular_mul", base, modulus=67))):
            ex = task.generate(rng, 300)
            for x, y in zip(task.vocab.lines(ex.x, ex.x_len), task.vocab.lines(ex.y, ex.y_len)):
                toks = x.split()
                assert toks[0] == "V2"
                signs = [i for i, t in enumerate(toks) if t in "+-"]
                width = len(str(base - 1))
                a = int("".join(f"{int(d):0{width}d}" for d in toks[2:signs[1]])) if base in (10, 1000) else None
                b = int("".join(f"{int(d):0{len(str(base - 1))}d}" for d in toks[signs[1] + 1:]))
                assert x == " ".join(["V2", *plain_tokens(a, base), *plain_tokens(b, base)])
                assert 1 <= a <= 10**6 and 1 <= b <= 10**6
                expected = np.gcd(a, b) if task.cfg.name == "gcd" else (a * b) % 67
                assert y == " ".join(plain_tokens(int(expected), base))
