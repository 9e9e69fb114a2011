"""Every task: generated examples checked by an independent parser and computation, exact token
sequences of hand-written examples, verifiers (right, wrong, unreduced, malformed), and impossible
configurations failing with clear errors."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_config, task_config
from int2int.config import ConfigError
from int2int.data.examples import Examples
from int2int.encodings import PAD
from int2int.tasks import TASKS, build_task
from int2int.tasks.digits import DigitsTask

FRACTIONS = ["fraction_add", "fraction_product", "fraction_simplify", "fraction_round", "fraction_compare",
             "fraction_determinant"]
ALL_TASKS = ["gcd", "modular_add", "modular_mul", *FRACTIONS, "matrix_rank", "add", "sub", "mix"]


# ---------------------------------------------------------------------------------------------
# an independent parser of token strings
# ---------------------------------------------------------------------------------------------
def parse_ints(tokens: list[str], base: int, canonical: bool = True) -> list[int]:
    """Positional integers: a sign then digits, most significant first. Raises on anything else."""
    values, i = [], 0
    while i < len(tokens):
        sign = tokens[i]
        assert sign in ("+", "-"), tokens
        i += 1
        digits = []
        while i < len(tokens) and tokens[i] not in ("+", "-"):
            d = int(tokens[i])
            assert 0 <= d < base and str(d) == tokens[i], tokens
            digits.append(d)
            i += 1
        assert digits, tokens
        if canonical:  # no leading zeros, no negative zero
            assert digits[0] != 0 or (len(digits) == 1 and sign == "+"), tokens
        v = 0
        for d in digits:
            v = v * base + d
        values.append(-v if sign == "-" else v)
    return values


def parse_array(line: str, base: int) -> tuple[list[int], list[int], list[str]]:
    """``[op] V<n> [V<m>] ints...`` -> (dims, integers, leading symbols before the dims)."""
    tokens = line.split(" ")
    lead = []
    while not tokens[0].startswith("V"):
        lead.append(tokens.pop(0))
    dims = []
    while tokens and tokens[0].startswith("V"):
        dims.append(int(tokens.pop(0)[1:]))
    values = parse_ints(tokens, base)
    assert len(values) == math.prod(dims), line
    return dims, values, lead


def digits_of(v: int, base: int) -> list[int]:
    out = []
    while True:
        out.append(v % base)
        v //= base
        if v == 0:
            return out  # least significant first


def carries(a: int, b: int, base: int, subtract: bool) -> int:
    """Carries of a + b, or borrows of max - min, digit by digit."""
    if subtract:
        a, b = max(a, b), min(a, b)
    da, db = digits_of(a, base), digits_of(b, base)
    n = max(len(da), len(db))
    da, db = da + [0] * (n - len(da)), db + [0] * (n - len(db))
    c = count = 0
    for x, y in zip(da, db):
        c = int(x - y - c < 0) if subtract else int(x + y + c >= base)
        count += c
    return count


def make_task(name: str, base: int = 10, **kw):
    """The task ``name`` in base ``base`` with task options ``kw``, its config checked first."""
    cfg = task_config(name, base, **kw)
    cfg.check()
    return build_task(cfg)


def digits(values, task) -> np.ndarray:
    return DigitsTask.from_ints(list(values), task.cfg.n_digits, task.base)


def lines(task, ex: Examples) -> list[tuple[str, str]]:
    return list(zip(task.vocab.lines(ex.x, ex.x_len), task.vocab.lines(ex.y, ex.y_len)))


def expected(name: str, cfg, base: int, x: str, y: str):
    """Check one example with plain Python; returns the class key the verifier must give."""
    dims, v, lead = parse_array(x, base)
    cap = cfg.max_class
    if name in ("gcd", "modular_add", "modular_mul"):
        assert dims == [2] and not lead
        a, b = v
        assert cfg.min_int <= a <= cfg.max_int and cfg.min_int <= b <= cfg.max_int
        want = {"gcd": math.gcd(a, b), "modular_add": (a + b) % getattr(cfg, "modulus", 1),
                "modular_mul": (a * b) % getattr(cfg, "modulus", 1)}[name]
        assert parse_ints(y.split(), base) == [want]
        return min(want, cap)
    if name in ("fraction_add", "fraction_product", "fraction_compare", "fraction_determinant"):
        assert dims == [4] and not lead
        a, b, c, d = v
        assert all(cfg.min_int <= t <= cfg.max_int for t in v) and b != 0 and d != 0
        if name == "fraction_compare":
            assert y in ("0", "1")
            assert y == ("1" if a * d - b * c > 0 else "0")
            if b * d > 0:
                assert (y == "1") == (Fraction(a, b) > Fraction(c, d))
            return int(y)
        if name == "fraction_determinant":
            assert parse_ints(y.split(), base) == [a * d - b * c]
            return (a * d - b * c > 0) - (a * d - b * c < 0)
        f = Fraction(a, b) + Fraction(c, d) if name == "fraction_add" else Fraction(a, b) * Fraction(c, d)
        assert y.split()[0] == "V2" and parse_ints(y.split()[1:], base) == [f.numerator, f.denominator]
        num, den = (a * d + b * c, b * d) if name == "fraction_add" else (a * c, b * d)
        return min(math.gcd(num, den), cap)
    if name == "fraction_simplify":
        assert dims == [2]
        p, q = v
        k = math.gcd(p, q)
        assert k >= 2 and q != 0  # the input is never in lowest terms
        f = Fraction(p, q)
        assert y.split()[0] == "V2" and parse_ints(y.split()[1:], base) == [f.numerator, f.denominator]
        return min(k, cap)
    if name == "fraction_round":
        assert dims == [2]
        p, q = v
        (k,) = parse_ints(y.split(), base)
        assert k == p // q  # Python's floor division
        if cfg.min_int >= 0:
            assert cfg.min_int <= k <= cfg.max_int and 0 < q <= cfg.max_int and 0 <= p - k * q < q
        return min(len(digits_of(abs(k), base)), cap)
    if name == "matrix_rank":
        assert dims == [cfg.dim1, cfg.dim2] and not lead
        rank = int(y)
        assert y == str(rank) and 1 <= rank <= min(dims)
        assert max(abs(t) for t in v) <= rank * cfg.max_int**2
        assert np.linalg.matrix_rank(np.array(v, dtype=np.float64).reshape(dims)) == rank
        return min(rank, cap)
    if name in ("add", "sub", "mix"):
        assert dims == [2]
        op = lead[0] if name == "mix" else name
        assert lead == ([op] if name == "mix" else []) and op in ("add", "sub")
        a, b = v
        lo, hi = base ** (cfg.n_digits - 1), base**cfg.n_digits - 1
        assert lo <= a <= hi and lo <= b <= hi
        toks = y.split()
        if cfg.reverse_output:
            toks = [toks[0], *reversed(toks[1:])]
        assert parse_ints(toks, base) == [a + b if op == "add" else a - b]
        count = min(carries(a, b, base, op == "sub"), cap)
        return f"{op}{count}" if name == "mix" else count
    raise AssertionError(name)


def judge(task, ex: Examples, outputs: list[str]):
    """The verifier's verdict on hand-written outputs (token strings) for the examples ``ex``."""
    ids = [task.vocab.ids(o.split()) if o else [] for o in outputs]
    width = max(1, max(len(i) for i in ids))
    pred = np.full((len(ids), width), PAD, dtype=np.int64)
    for r, i in enumerate(ids):
        pred[r, : len(i)] = i
    return task.verify(ex, pred, np.array([len(i) for i in ids]))


# ---------------------------------------------------------------------------------------------
# every task, bases 10 and 1000: generated examples are right
# ---------------------------------------------------------------------------------------------
VARIANTS = {  # extra settings checked beside the defaults
    "fraction_add": [dict(min_int=-50, max_int=50), dict(min_int=0, max_int=3)],
    "fraction_product": [dict(min_int=-50, max_int=50)],
    "fraction_simplify": [dict(min_int=-50, max_int=50), dict(min_int=1, max_int=1)],
    "fraction_round": [dict(min_int=-20, max_int=20), dict(min_int=0, max_int=5), dict(min_int=-1, max_int=0)],
    "fraction_compare": [dict(min_int=-50, max_int=50)],
    "fraction_determinant": [dict(min_int=-50, max_int=50)],
    "matrix_rank": [dict(dim1=3, dim2=6, max_int=2), dict(dim1=4, dim2=4, max_int=1)],
    "add": [dict(n_digits=1), dict(n_digits=3, reverse_output=True)],
    "sub": [dict(n_digits=3, reverse_output=True)],
    "mix": [dict(n_digits=2, reverse_output=True)],
    "gcd": [dict(min_int=1, max_int=100)],
    "modular_add": [dict(modulus=7)],
    "modular_mul": [dict(modulus=1000)],
}


@pytest.mark.parametrize("base", [10, 1000])
@pytest.mark.parametrize("name", ALL_TASKS)
def test_generated_examples_are_right(name, base):
    rng = np.random.default_rng(0)
    for kw in [{}, *VARIANTS[name]]:
        task = make_task(name, base, **kw)
        cfg = task.cfg
        ex = task.generate(rng, 300)
        assert ex.x_len.max() <= task.max_input_len and ex.y_len.max() <= task.max_output_len
        assert (ex.x[np.arange(ex.x.shape[1]) >= ex.x_len[:, None]] == PAD).all()
        want = [expected(name, cfg, base, x, y) for x, y in lines(task, ex)]
        verdict = task.verify(ex, ex.y, ex.y_len)
        assert verdict.acc.all() and verdict.correct.all()
        assert verdict.classes.tolist() == want
        # a wrong answer (another example's) is right only if it is the same answer
        other = ex.take(np.roll(np.arange(len(ex)), 1))
        rolled = task.verify(ex, other.y, other.y_len)
        pairs = zip(task.vocab.lines(ex.y, ex.y_len), task.vocab.lines(other.y, other.y_len))
        same = np.array([a == b for a, b in pairs])
        assert (rolled.acc == same).all() and rolled.correct.all()
        if not kw and name not in ("gcd", "fraction_compare", "matrix_rank"):
            assert (~same).sum() > 200  # answers vary, so the check above has teeth


@pytest.mark.parametrize("name", ALL_TASKS)
def test_generation_is_reproducible_and_uses_the_whole_range(name):
    task = make_task(name)
    a, b = task.generate(np.random.default_rng(3), 2000), task.generate(np.random.default_rng(3), 2000)
    assert (a.x == b.x).all() and (a.y == b.y).all()
    classes = Counter(task.verify(a, a.y, a.y_len).classes.tolist())
    assert len(classes) >= 2, classes


def test_every_task_is_a_group_option():
    for name in ALL_TASKS:
        cfg = make_config(f"task={name}", "encoding.base=10")
        assert cfg.task.name == name
        assert isinstance(build_task(cfg), TASKS.get(name))
    lawt = {"matrix_transpose", "matrix_sum", "matrix_vector", "matrix_product", "eigenvalues", "eigenvectors",
            "matrix_inverse", "singular_values", "svd"}  # tests/test_linear_algebra.py builds each of them
    assert set(ALL_TASKS) | {"file"} | lawt == set(TASKS)


# ---------------------------------------------------------------------------------------------
# exact token sequences of hand-written examples
# ---------------------------------------------------------------------------------------------
def test_gcd_exact_tokens(monkeypatch):
    for base, x, y in [(10, "V2 + 1 0 + 1 2", "+ 2"), (1000, "V2 + 10 + 12", "+ 2")]:
        task = make_task("gcd", base)
        monkeypatch.setattr(task, "sample", lambda rng, n: (np.array([10]), np.array([12])))
        assert lines(task, task.generate(np.random.default_rng(0), 1)) == [(x, y)]


FRACTION_CASES = [
    # task, base, operands, input, output, class
    ("fraction_add", 10, (1, 2, 1, 3), "V4 + 1 + 2 + 1 + 3", "V2 + 5 + 6", 1),
    ("fraction_add", 10, (1, 4, 1, 4), "V4 + 1 + 4 + 1 + 4", "V2 + 1 + 2", 8),
    ("fraction_add", 1000, (1, 1000, 999, 1000), "V4 + 1 + 1 0 + 999 + 1 0", "V2 + 1 + 1", 101),  # capped
    ("fraction_add", 10, (-1, 2, 1, 2), "V4 - 1 + 2 + 1 + 2", "V2 + 0 + 1", 4),
    ("fraction_add", 10, (-1, 2, 1, -2), "V4 - 1 + 2 + 1 - 2", "V2 - 1 + 1", 4),
    ("fraction_product", 10, (2, 3, 3, 4), "V4 + 2 + 3 + 3 + 4", "V2 + 1 + 2", 6),
    ("fraction_product", 1000, (25, 12, 4, 1000), "V4 + 25 + 12 + 4 + 1 0", "V2 + 1 + 120", 100),
    ("fraction_product", 10, (1, -3, 2, 5), "V4 + 1 - 3 + 2 + 5", "V2 - 2 + 1 5", 1),
    ("fraction_simplify", 10, (3, 4, 6), "V2 + 6 + 9", "V2 + 2 + 3", 3),
    ("fraction_simplify", 1000, (2, 1500, 2000), "V2 + 6 + 8", "V2 + 3 + 4", 2),
    ("fraction_simplify", 10, (5, 3, -7), "V2 + 1 5 - 3 5", "V2 - 3 + 7", 5),
    ("fraction_round", 10, (7, 3, 5), "V2 + 3 8 + 5", "+ 7", 1),
    ("fraction_round", 10, (2, 4, 4), "V2 + 1 1 + 4", "+ 2", 1),  # equal: m1 = m2 - 1
    ("fraction_round", 1000, (1234, 10, 3), "V2 + 12 343 + 10", "+ 1 234", 2),
    ("fraction_round", 10, (3, -5, 2), "V2 + 1 + 2", "+ 0", 1),  # true floor, not k, when m1 < 0
    ("fraction_compare", 10, (1, 2, 1, 3), "V4 + 1 + 2 + 1 + 3", "1", 1),
    ("fraction_compare", 10, (1, 3, 1, 2), "V4 + 1 + 3 + 1 + 2", "0", 0),
    ("fraction_compare", 1000, (2, 4, 1, 2), "V4 + 2 + 4 + 1 + 2", "0", 0),  # equal: not greater
    ("fraction_determinant", 10, (1, 2, 3, 4), "V4 + 1 + 2 + 3 + 4", "- 2", -1),
    ("fraction_determinant", 1000, (1000, 1, 1, 1000), "V4 + 1 0 + 1 + 1 + 1 0", "+ 999 999", 1),
    ("fraction_determinant", 10, (2, 4, 1, 2), "V4 + 2 + 4 + 1 + 2", "+ 0", 0),
]


@pytest.mark.parametrize("name,base,ops,x,y,cls", FRACTION_CASES)
def test_fraction_exact_tokens(name, base, ops, x, y, cls):
    task = make_task(name, base, min_int=-1000, max_int=1000)
    ex = task.build(*(np.array([o]) for o in ops))
    assert lines(task, ex) == [(x, y)]
    verdict = task.verify(ex, ex.y, ex.y_len)
    assert verdict.acc.all() and verdict.classes.tolist() == [cls]


MATRIX_CASES = [
    (10, [[1, -2], [3, 4]], 2, "V2 V2 + 1 - 2 + 3 + 4", "2"),
    (10, [[1, 2, 3], [2, 4, 6]], 1, "V2 V3 + 1 + 2 + 3 + 2 + 4 + 6", "1"),
    (1000, [[-1000, 0], [0, 12]], 2, "V2 V2 - 1 0 + 0 + 0 + 12", "2"),
]


@pytest.mark.parametrize("base,mat,rank,x,y", MATRIX_CASES)
def test_matrix_exact_tokens(base, mat, rank, x, y):
    m = np.array([mat])
    task = make_task("matrix_rank", base, dim1=m.shape[1], dim2=m.shape[2], max_int=100)
    ex = task.build(m, np.array([rank]))
    assert lines(task, ex) == [(x, y)]
    assert task.verify(ex, ex.y, ex.y_len).classes.tolist() == [rank]


def test_matrix_rank_vocabulary_is_the_originals_whatever_the_base():
    task = make_task("matrix_rank", 2, dim1=3, dim2=4, max_int=3)
    assert {f"V{i}" for i in range(1, 101)} <= set(task.vocab.itos)  # any size of the original's files
    assert {str(r) for r in range(1, 101)} <= set(task.vocab.itos)  # the original's ranks 1..100
    ex = task.generate(np.random.default_rng(0), 300)
    want = [expected("matrix_rank", task.cfg, 2, x, y) for x, y in lines(task, ex)]
    assert sorted(set(want)) == [1, 2, 3]
    assert task.verify(ex, ex.y, ex.y_len).acc.all()


DIGIT_CASES = [
    # task, base, n_digits, reverse, a, b, op, input, output, class
    ("add", 10, 3, False, 123, 456, 0, "V2 + 1 2 3 + 4 5 6", "+ 5 7 9", 0),
    ("add", 10, 3, True, 123, 456, 0, "V2 + 1 2 3 + 4 5 6", "+ 9 7 5", 0),
    ("add", 10, 3, False, 999, 999, 0, "V2 + 9 9 9 + 9 9 9", "+ 1 9 9 8", 3),
    ("add", 10, 3, True, 999, 999, 0, "V2 + 9 9 9 + 9 9 9", "+ 8 9 9 1", 3),
    ("add", 1000, 2, False, 1999, 1001, 0, "V2 + 1 999 + 1 1", "+ 3 0", 1),
    ("sub", 10, 3, False, 123, 456, 1, "V2 + 1 2 3 + 4 5 6", "- 3 3 3", 0),
    ("sub", 10, 3, False, 456, 129, 1, "V2 + 4 5 6 + 1 2 9", "+ 3 2 7", 1),
    ("sub", 10, 3, True, 456, 129, 1, "V2 + 4 5 6 + 1 2 9", "+ 7 2 3", 1),
    ("sub", 10, 3, True, 100, 100, 1, "V2 + 1 0 0 + 1 0 0", "+ 0", 0),
    ("sub", 10, 3, True, 100, 190, 1, "V2 + 1 0 0 + 1 9 0", "- 0 9", 0),
    ("mix", 10, 3, False, 123, 456, 1, "sub V2 + 1 2 3 + 4 5 6", "- 3 3 3", "sub0"),
    ("mix", 10, 3, False, 123, 456, 0, "add V2 + 1 2 3 + 4 5 6", "+ 5 7 9", "add0"),
    ("mix", 1000, 1, True, 999, 2, 0, "add V2 + 999 + 2", "+ 1 1", "add1"),
]


@pytest.mark.parametrize("name,base,n,rev,a,b,op,x,y,cls", DIGIT_CASES)
def test_digits_exact_tokens(name, base, n, rev, a, b, op, x, y, cls):
    task = make_task(name, base, n_digits=n, reverse_output=rev)
    ex = task.build(digits([a], task), digits([b], task), np.array([op]))
    assert lines(task, ex) == [(x, y)]
    verdict = task.verify(ex, ex.y, ex.y_len)
    assert verdict.acc.all() and verdict.classes.tolist() == [cls]


# ---------------------------------------------------------------------------------------------
# verifiers: right, wrong, unreduced, malformed
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("accept", [False, True])
def test_fraction_add_unreduced_answers_follow_the_flag(accept):
    task = make_task("fraction_add", accept_unreduced=accept)
    ex = task.build(*(np.array([v] * 10) for v in (1, 2, 1, 3)))  # 1/2 + 1/3 = 5/6
    outs = ["V2 + 5 + 6", "V2 + 1 0 + 1 2", "V2 + 0 5 + 6", "V2 - 5 - 6", "V2 + 5 + 0", "V2 + 5 + 7", "V2 + 5",
            "V2 + 5 + 6 + 1", "", "+ 5 + 6"]
    v = judge(task, ex, outs)
    assert v.acc.tolist() == [True, accept, True, False, False, False, False, False, False, False]
    assert v.correct.tolist() == [True, True, True, True, False, True, False, False, False, False]
    assert v.extra["unreduced"].tolist() == [False, True, False, False, False, False, False, False, False, False]


@pytest.mark.parametrize("accept", [False, True])
def test_fraction_product_unreduced_and_zero(accept):
    task = make_task("fraction_product", 1000, min_int=0, accept_unreduced=accept)
    ex = task.build(*(np.array([v] * 5) for v in (0, 2, 7, 3)))  # 0/2 * 7/3 = 0/1
    v = judge(task, ex, ["V2 + 0 + 1", "V2 + 0 + 6", "V2 - 0 + 1", "V2 + 0 - 1", "V2 + 0 + 0"])
    assert v.acc.tolist() == [True, accept, True, False, False]
    assert v.correct.tolist() == [True, True, True, True, False]


def test_fraction_simplify_never_accepts_unreduced():
    task = make_task("fraction_simplify", accept_unreduced=True)
    ex = task.build(*(np.array([v] * 3) for v in (3, 4, 6)))  # 6/9 -> 2/3
    v = judge(task, ex, ["V2 + 2 + 3", "V2 + 6 + 9", "V2 + 4 + 6"])
    assert v.acc.tolist() == [True, False, False] and v.correct.all()


MALFORMED = {  # outputs that are not well formed for the task
    "int": ["", "+", "5", "+ 5 +", "+ 5 - 3", "V2 + 5", "- -"],
    "fraction": ["", "+", "V2 + 5", "V2 + 5 +", "+ 1 + 2", "V2 + 1 + 2 + 3", "V3 + 1 + 2 + 3", "V2 V2 + 1 + 2",
                 "1 + 2"],
    "symbol": ["", "+", "+ 1", "1 1", "V4"],
}
KIND = {**{n: "int" for n in ("gcd", "modular_add", "modular_mul", "fraction_round", "fraction_determinant",
                              "add", "sub", "mix")},
        "fraction_add": "fraction", "fraction_product": "fraction", "fraction_simplify": "fraction",
        "fraction_compare": "symbol", "matrix_rank": "symbol"}


@pytest.mark.parametrize("name", ALL_TASKS)
def test_malformed_outputs_are_neither_correct_nor_right(name):
    task = make_task(name)
    bad = [o for o in MALFORMED[KIND[name]] if all(t in task.vocab for t in o.split())]
    ex = task.generate(np.random.default_rng(1), 1)
    ex = ex.take(np.zeros(len(bad), dtype=np.int64))
    v = judge(task, ex, bad)
    assert not v.correct.any() and not v.acc.any(), bad


def test_symbolic_answers_right_and_wrong():
    cmp = make_task("fraction_compare")
    ex = cmp.build(*(np.array([v] * 3) for v in (1, 2, 1, 3)))
    v = judge(cmp, ex, ["1", "0", "2"])
    assert v.acc.tolist() == [True, False, False] and v.correct.tolist() == [True, True, False]
    rank = make_task("matrix_rank", dim1=3, dim2=3)
    ex = rank.build(np.array([np.eye(3, dtype=int)] * 3), np.array([3] * 3))
    v = judge(rank, ex, ["3", "2", "+ 3"])
    assert v.acc.tolist() == [True, False, False] and v.correct.tolist() == [True, True, False]


def test_positional_answers_with_leading_zeros_are_right_but_not_wrong_ones():
    task = make_task("sub", n_digits=3, reverse_output=True)
    ex = task.build(digits([456] * 4, task), digits([129] * 4, task))  # 327, reversed "+ 7 2 3"
    v = judge(task, ex, ["+ 7 2 3", "+ 7 2 3 0", "+ 3 2 7", "- 7 2 3"])
    assert v.acc.tolist() == [True, True, False, False] and v.correct.all()


# ---------------------------------------------------------------------------------------------
# properties (hypothesis)
# ---------------------------------------------------------------------------------------------
nonzero = st.integers(-10**6, 10**6).filter(lambda v: v != 0)


@settings(max_examples=80, deadline=None)
@given(base=st.sampled_from([2, 3, 10, 1000, 7919]), a=st.integers(-10**6, 10**6), b=nonzero,
       c=st.integers(-10**6, 10**6), d=nonzero, product=st.booleans())
def test_fraction_answers_match_python_fractions(base, a, b, c, d, product):
    name = "fraction_product" if product else "fraction_add"
    task = make_task(name, base, min_int=-10**6, max_int=10**6)
    ex = task.build(*(np.array([v]) for v in (a, b, c, d)))
    ((x, y),) = lines(task, ex)
    assert parse_array(x, base)[1] == [a, b, c, d]
    f = Fraction(a, b) * Fraction(c, d) if product else Fraction(a, b) + Fraction(c, d)
    assert parse_array(y, base)[:2] == ([2], [f.numerator, f.denominator])
    assert len(y.split()) <= task.max_output_len


@settings(max_examples=80, deadline=None)
@given(base=st.sampled_from([2, 3, 10, 1000]), n=st.integers(1, 25), data=st.data(), reverse=st.booleans())
def test_digits_answers_match_python_ints(base, n, data, reverse):
    lo, hi = base ** (n - 1), base**n - 1  # up to 25 digits: beyond int64, as the addition seed's 20 digits
    a, b = data.draw(st.integers(lo, hi)), data.draw(st.integers(lo, hi))
    op = data.draw(st.integers(0, 1))
    task = make_task("mix", base, n_digits=n, reverse_output=reverse)
    ex = task.build(digits([a], task), digits([b], task), np.array([op]))
    ((x, y),) = lines(task, ex)
    assert expected("mix", task.cfg, base, x, y) == f"{('add', 'sub')[op]}{carries(a, b, base, op == 1)}"
    assert len(x.split()) <= task.max_input_len and len(y.split()) <= task.max_output_len


@settings(max_examples=40, deadline=None)
@given(base=st.sampled_from([2, 10, 1000]), k=st.integers(-300, 300), a=st.integers(-300, 300),
       b=st.integers(-300, 300))
def test_fraction_round_is_the_floor(base, k, a, b):
    task = make_task("fraction_round", base, min_int=-300, max_int=300)
    if max(a, b) == 0:
        with pytest.raises(ValueError):
            task.build(np.array([k]), np.array([a]), np.array([b]))
        return
    ex = task.build(np.array([k]), np.array([a]), np.array([b]))
    ((x, y),) = lines(task, ex)
    expected("fraction_round", task.cfg, base, x, y)
    assert len(y.split()) <= task.max_output_len and len(x.split()) <= task.max_input_len


def test_matrix_ranks_are_uniform():
    task = make_task("matrix_rank", dim1=4, dim2=6, max_int=1)
    ex = task.generate(np.random.default_rng(0), 4000)
    counts = Counter(task.verify(ex, ex.y, ex.y_len).classes.tolist())
    assert sorted(counts) == [1, 2, 3, 4] and min(counts.values()) > 900, counts


# ---------------------------------------------------------------------------------------------
# impossible configurations fail clearly
# ---------------------------------------------------------------------------------------------
def test_matrix_too_long_for_the_model_is_refused_before_training(tmp_path):
    from int2int.train import train

    cfg = make_config("task=matrix_rank", "task.dim1=10", "task.dim2=10", "task.max_int=1000", "encoding.base=10",
                      "hardware.device=cpu")
    assert build_task(cfg).max_input_len > 512
    with pytest.raises(ConfigError, match="max_positions|max_len"):
        train(cfg, tmp_path)


def test_matrix_rejection_exhausted_names_the_task_keys(monkeypatch):
    task = make_task("matrix_rank", dim1=3, dim2=3, max_int=2)
    monkeypatch.setattr(np.linalg, "matrix_rank", lambda m: np.zeros(len(m), dtype=np.int64))
    with pytest.raises(ConfigError, match=r"task\.dim1=3, task\.dim2=3, task\.max_int=2"):
        task.generate(np.random.default_rng(0), 10)


@pytest.mark.parametrize("name,kw,base,match", [
    ("matrix_rank", dict(dim1=60, dim2=60, max_int=1000), 2, r"task\.dim1=60.*tokens"),
    ("matrix_rank", dict(dim1=5, dim2=5, max_int=10**8), 10, r"task\.max_int=100000000"),
    ("matrix_rank", dict(dim1=0, dim2=5), 10, r"task\.dim1=0"),
    ("matrix_rank", dict(dim1=101, dim2=5), 10, r"task\.dim1=101: must be in 1..100"),
    ("fraction_add", dict(max_int=2**31), 10, r"task\.max_int=2147483648: .*2\*\*30"),
    ("fraction_round", dict(min_int=0, max_int=0), 10, r"task\.max_int=0: .*nonzero denominator"),
    ("fraction_compare", dict(min_int=5, max_int=4), 10, r"task\.min_int=5"),
    ("add", dict(n_digits=1001), 1000, r"task\.n_digits=1001"),
    ("sub", dict(n_digits=0), 10, r"task\.n_digits=0"),
])
def test_impossible_task_configs_raise_clear_errors(name, kw, base, match):
    with pytest.raises(ConfigError, match=match):
        make_task(name, base, **kw)


def test_gcd_extra_metric_divisor_credits_divisors_of_the_true_gcd():
    task = make_task("gcd")
    ex = task.build(np.array([12] * 6), np.array([24] * 6))  # gcd 12
    v = judge(task, ex, ["+ 1 2", "+ 4", "+ 1", "+ 5", "+ 0", "+ 2 4"])
    assert v.acc.tolist() == [True, False, False, False, False, False]
    assert v.extra["divisor"].tolist() == [True, True, True, False, False, False]
