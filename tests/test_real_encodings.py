"""Real-number encodings P10, P1000, B1999, FP15: the exact spellings of LAWT, rounding checked against Python's
own formatting and :mod:`decimal`, round trips through the decoder, range rules, and what the decoder rejects."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from int2int.encodings.b1999 import B1999
from int2int.encodings.fp15 import FP15
from int2int.encodings.p10 import P10
from int2int.encodings.p1000 import P1000
from int2int.encodings.scientific import to_scientific
from int2int.encodings.vocab import Vocabulary

ENCODINGS = {"P10": P10, "P1000": P1000, "B1999": B1999, "FP15": FP15}
PRINTF_ROUNDING = ["P10", "P1000", "B1999"]  # ties to even, like printf


def fp15_exponents(precision: int) -> int:
    """Exponent count closest to LAWT's 16 that gives FP15 an integer offset at this precision."""
    return 16 if (precision - 1) % 2 == 0 else 15


def make(name: str, precision: int = 3, max_exponent: int = 100):
    if name == "FP15":
        return FP15(precision, fp15_exponents(precision))
    return ENCODINGS[name](precision, max_exponent)


@cache
def bound(name: str, precision: int = 3, max_exponent: int = 100, extra: tuple[str, ...] = ("V1", "V2")):
    """An encoding bound to a vocabulary of its symbols plus a few foreign tokens (cached: FP15's is large)."""
    enc = make(name, precision, max_exponent)
    return enc.bind(Vocabulary(enc.symbols() + list(extra)))


def spell(enc, values) -> list[str]:
    """Each number of ``values`` as its space-separated tokens, read off the (ids, mask) that tokens() returns."""
    ids, mask = enc.tokens(np.asarray(values, dtype=np.float64))
    ids, mask = ids.reshape(-1, enc.max_tokens), mask.reshape(-1, enc.max_tokens)
    # present tokens are left-aligned: the mask of each number is a run of True then a run of False
    assert (np.diff(mask.astype(int), axis=1) <= 0).all()
    return [" ".join(enc.vocab.tokens(row[m])) for row, m in zip(ids, mask)]


def rows_of(vocab: Vocabulary, lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Space-separated token lines to a padded id matrix and lengths (what a model's output looks like)."""
    toks = [line.split() for line in lines]
    width = max(1, max(len(t) for t in toks))
    ids = np.full((len(lines), width), vocab.id("<pad>"), dtype=np.int64)
    for i, t in enumerate(toks):
        ids[i, : len(t)] = vocab.ids(t)
    return ids, np.array([len(t) for t in toks], dtype=np.int64)


def encode_rows(enc, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of numbers (n x k) to padded id rows, via the token strings (so the test does not trust the mask)."""
    n = values.shape[0]
    words = spell(enc, values)
    per_row = len(words) // n if n else 0
    return rows_of(enc.vocab, [" ".join(words[i * per_row : (i + 1) * per_row]) for i in range(n)])


# ----- the contract's spellings -----

TABLE = [  # (value, spellings); a list, since 0.0 and -0.0 would be one dict key
    (3.14159, {"P10": "+ 3 1 4 E-2", "P1000": "+ 314 E-2", "B1999": "N314 E-2", "FP15": "N314e7"}),
    (-0.0271, {"P10": "- 2 7 1 E-4", "P1000": "- 271 E-4", "B1999": "N-271 E-4", "FP15": "N-271e5"}),
    (0.0, {"P10": "+ 0 E0", "P1000": "+ 0 E0", "B1999": "N0 E0", "FP15": "N0e0"}),
    (-0.0, {"P10": "+ 0 E0", "P1000": "+ 0 E0", "B1999": "N0 E0", "FP15": "N0e0"}),
    (9.996, {"P10": "+ 1 0 0 E-1", "P1000": "+ 100 E-1", "B1999": "N100 E-1", "FP15": "N100e8"}),
    (6.02e23, {"P10": "+ 6 0 2 E21", "P1000": "+ 602 E21", "B1999": "N602 E21"}),
    (1e-300, {"P10": "+ 0 E0", "P1000": "+ 0 E0", "B1999": "N0 E0", "FP15": "N0e0"}),  # underflow
    (-1e-300, {"P10": "+ 0 E0", "P1000": "+ 0 E0", "B1999": "N0 E0", "FP15": "N0e0"}),
]

MATRIX = [[1.5, -2], [0.25, 10]]
MATRIX_SPELLING = {
    "P10": "+ 1 5 0 E-2 - 2 0 0 E-2 + 2 5 0 E-3 + 1 0 0 E-1",
    "P1000": "+ 150 E-2 - 200 E-2 + 250 E-3 + 100 E-1",
    "B1999": "N150 E-2 N-200 E-2 N250 E-3 N100 E-1",
    "FP15": "N150e7 N-200e7 N250e6 N100e8",
}


@pytest.mark.parametrize("name", ENCODINGS)
def test_spellings_of_the_contract_table(name):
    enc = bound(name)
    cases = [(value, row[name]) for value, row in TABLE if name in row]
    assert spell(enc, [value for value, _ in cases]) == [spelling for _, spelling in cases]


@pytest.mark.parametrize("name", ENCODINGS)
def test_matrix_entries_row_by_row(name):
    enc = bound(name)
    assert " ".join(spell(enc, MATRIX)) == MATRIX_SPELLING[name]
    ids, mask = enc.tokens(np.array(MATRIX))
    assert ids.shape == mask.shape == (2, 2, enc.max_tokens)
    values, valid = enc.decode(*rows_of(enc.vocab, [MATRIX_SPELLING[name]]), count=4)
    assert valid.tolist() == [True] and values.tolist() == [[1.5, -2.0, 0.25, 10.0]]


def test_zero_uses_fewer_tokens_and_pads():
    enc = bound("P10")
    ids, mask = enc.tokens(np.array([0.0, 1.0]))
    assert mask.tolist() == [[True] * 3 + [False] * 2, [True] * 5]
    assert ids[0, 3:].tolist() == [enc.vocab.id("<pad>")] * 2


def test_positional_mantissa_of_several_base_1000_digits():
    enc = bound("P1000", 5)
    assert enc.max_tokens == 4
    assert spell(enc, [3.14159, -31415.9, 0.0]) == ["+ 31 416 E-4", "- 31 416 E0", "+ 0 E0"]


@pytest.mark.parametrize("name, size", [("P10", 213), ("P1000", 1203), ("B1999", 2200), ("FP15", 28_999)])
def test_vocabulary_sizes_at_the_defaults(name, size):
    """LAWT's counts are 213 / 1203 / 2202 / 29,001: B1999 lacks N-1000 and N1000 (no 3-digit mantissa uses
    them), FP15 lacks NaN and -NaN (we raise on overflow)."""
    symbols = make(name).symbols()
    assert len(symbols) == size and len(set(symbols)) == size


def test_symbol_orders_are_the_documented_ones():
    assert P10().symbols()[:13] == ["+", "-"] + [str(d) for d in range(10)] + ["E-100"]
    assert P10().symbols()[-1] == "E100"
    b = B1999().symbols()
    assert b[:2] == ["N-999", "N-998"] and b[999] == "N0" and b[1998] == "N999" and b[1999] == "E-100"
    f = FP15().symbols()
    assert f[:3] == ["N0e0", "N1e0", "N2e0"] and f[999:1001] == ["N999e0", "N100e1"] and f[14_499] == "N999e15"
    assert f[14_500:14_502] == ["N-1e0", "N-2e0"] and f[-1] == "N-999e15"


# ----- rounding: ties, carries, range ends -----

def test_tie_rules_printf_even_and_fp15_half_up():
    # 0.125, 0.375, 2.5 are exact binary values, exactly halfway at 2 significant digits (or 1 for 2.5)
    assert spell(bound("P10", 2), [0.125, 0.375, -0.125]) == ["+ 1 2 E-2", "+ 3 8 E-2", "- 1 2 E-2"]
    assert spell(bound("FP15", 2), [0.125, 0.375, -0.125]) == ["N13e6", "N38e6", "N-13e6"]
    assert f"{0.125:.1e}" == "1.2e-01"  # what printf's rule gives
    # 0.145 is not halfway in binary (it is 0.1449999...): both round down
    assert spell(bound("P10", 2), [0.145]) == ["+ 1 4 E-2"]
    assert spell(bound("FP15", 2), [0.145]) == ["N14e6"]


def test_carry_moves_the_exponent_up():
    assert spell(bound("P10"), [9.996, 99.96, 0.09996, -999.7]) == [
        "+ 1 0 0 E-1", "+ 1 0 0 E0", "+ 1 0 0 E-3", "- 1 0 0 E1"]


@pytest.mark.parametrize("precision", [3, 12, 15])
def test_next_to_powers_of_ten_like_printf(precision):
    """Floats a few ulps either side of 10^n, where log10 rounds to n and the exponent must be corrected."""
    powers = 10.0 ** np.array([-250, -100, -7, 0, 22, 23, 100, 250])
    below = [np.nextafter(p, 0) - k * np.spacing(p) for p in powers for k in range(0, 40, 3)]
    above = [p + k * np.spacing(p) for p in powers for k in range(0, 40, 3)]
    values = np.array(below + above)
    enc = bound("P10", precision, 308 - precision)
    assert spell(enc, values) == [spelled_by_hand("P10", *printf_triple(v, precision)) for v in values]


@pytest.mark.parametrize("precision", [1, 3, 15])
def test_subnormal_and_extreme_floats_round_like_printf(precision):
    """The shared rounding over the whole float64 range (the encodings' exponent ranges cut it short)."""
    values = np.array([5e-324, 1.5e-323, 4.9e-322, 1e-310, 2.2250738585072014e-308, 1.7976931348623157e308])
    negative, mantissa, exponent = to_scientific(-values, precision, "even")
    assert negative.all()
    assert list(zip(mantissa.tolist(), exponent.tolist())) == [printf_triple(v, precision)[1:] for v in values]


@pytest.mark.parametrize("precision", [2, 3, 5])
def test_decimal_near_ties_at_large_exponents_round_like_printf(precision):
    """Decimal halves (d.dd5 x 10^q) are a hair off halfway in binary, and past 10^+-22 the powers of ten are
    themselves rounded: the float scaling may land on the wrong side of the half, so these must be settled on the
    exact value, as printf does."""
    rng = np.random.default_rng(precision)
    mantissas = rng.integers(10 ** (precision - 1), 10**precision, 2000)
    values = np.array([float(f"{m}5e{q}") for m, q in zip(mantissas, rng.integers(-290, 290, 2000))])
    negative, mantissa, exponent = to_scientific(values, precision, "even")
    assert list(zip(mantissa.tolist(), exponent.tolist())) == [printf_triple(v, precision)[1:] for v in values]


def test_exponent_range_ends_of_the_e_token_encodings():
    enc = bound("P10", 3, 5)
    assert spell(enc, [9.99e7, 1e-3, 9.9e-4, -1.2e-9]) == ["+ 9 9 9 E5", "+ 1 0 0 E-5", "+ 0 E0", "+ 0 E0"]
    assert enc.round(np.array([9.9e-4, 1e-3])).tolist() == [0.0, 0.001]
    with pytest.raises(ValueError, match=r"99950000\.0"):
        enc.tokens(np.array([1.0, 9.995e7]))


def test_fp15_denormals_zero_and_largest():
    enc = bound("FP15")
    values = [1e-7, 9.96e-8, 5.5e-8, 1.2345e-8, 1.04e-9, 6e-10, 4e-10, -5.5e-8, 9.994e8]
    assert spell(enc, values) == ["N100e0", "N100e0", "N55e0", "N12e0", "N1e0", "N1e0", "N0e0", "N-55e0",
                                  "N999e15"]
    assert enc.round(np.array([5.5e-8, 4e-10])).tolist() == [5.5e-8, 0.0]
    with pytest.raises(ValueError, match=r"999500000\.0"):
        enc.tokens(np.array([9.995e8]))  # rounds half up to 1.00e9: past N999e15
    with pytest.raises(ValueError, match=r"6\.02e\+23"):
        enc.round(np.array([1.0, 6.02e23]))


@pytest.mark.parametrize("name", ENCODINGS)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_errors_naming_the_value(name, bad):
    enc = bound(name)
    with pytest.raises(ValueError, match=rf"{name}.*{bad!r}.*index \(1, 0\)"):
        enc.tokens(np.array([[1.0], [bad]]))
    with pytest.raises(ValueError, match=repr(bad)):
        enc.round(np.array([bad]))


@pytest.mark.parametrize("name", PRINTF_ROUNDING)
def test_overflow_is_an_error_naming_the_value(name):
    with pytest.raises(ValueError, match=r"1\.5e\+104.*exceeds E100"):
        bound(name).tokens(np.array([2.0, -1.5e104]))
    largest_value = bound(name).round(np.array([9.99e102]))[0]  # exponents past +-22: within one ulp
    assert abs(largest_value - 9.99e102) <= np.spacing(9.99e102)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="even"):
        FP15(3, 15)
    with pytest.raises(ValueError, match="precision"):
        P10(0)
    with pytest.raises(ValueError, match="max_exponent"):
        P1000(3, 400)


def test_unbound_or_incomplete_vocabulary():
    with pytest.raises(RuntimeError, match="bind"):
        P10().tokens(np.array([1.0]))
    with pytest.raises(KeyError, match="lacks 201 of its symbols.*'E-100'"):
        P10().bind(Vocabulary(["+", "-"] + [str(d) for d in range(10)]))


# ----- properties over many magnitudes, signs and precisions -----

magnitudes = st.one_of(
    st.floats(min_value=1e-12, max_value=1e12),
    # short dyadic fractions: exact binary values, often exactly halfway between two mantissas
    st.builds(lambda k, j: k / 2**j, st.integers(1, 10**7), st.integers(0, 12)),
    st.builds(lambda k, j: k * 10.0**j, st.integers(1, 10**6), st.integers(-12, 6)),
)
signed = st.builds(lambda m, s: m * s, magnitudes, st.sampled_from([1.0, -1.0]))
number_lists = st.lists(signed, min_size=1, max_size=24)


def largest(enc) -> float:
    """Magnitudes at or above this round past the largest encodable value."""
    return (10**enc.precision - 0.5) * 10.0**enc.max_exponent


def check_round_trip_and_error_bound(enc, values: list[float]) -> None:
    x = np.array([v for v in values if abs(v) < 0.999 * largest(enc)] or [0.0])
    r = enc.round(x)
    # decoding the tokens gives exactly the rounded value: one number per row, and all numbers in one row
    for rows in (x[:, None], x[None, :]):
        got, valid = enc.decode(*encode_rows(enc, rows), count=rows.shape[1])
        assert valid.all()
        np.testing.assert_array_equal(got.ravel(), r)
    # |round(x) - x| within half a unit of the last significant digit, relative 0.5 x 10^(1-p)
    p = enc.precision
    tolerance = 0.5 * 10.0 ** (1 - p) * np.abs(x) * (1 + 1e-12)
    if isinstance(enc, FP15):  # below the smallest normal: half of the denormal step 10^-offset
        tolerance = np.maximum(tolerance, 0.5 * 10.0 ** -enc.offset * (1 + 1e-9))
        assert np.all(r[np.abs(x) < 0.5e-9 * 10.0 ** (9 - enc.offset)] == 0)
    else:  # an exponent below -max_exponent underflows to zero
        underflow = (r == 0) & (x != 0)
        assert np.all(np.abs(x[underflow]) < 10.0 ** (p - 1 - enc.max_exponent))
        tolerance = np.where(underflow, np.inf, tolerance)
    assert np.all(np.abs(r - x) <= tolerance)
    assert not np.signbit(r[r == 0]).any()  # zero is written with +


@pytest.mark.parametrize("name", ["P10", "P1000", "B1999"])
@settings(max_examples=60, deadline=None)
@given(precision=st.integers(2, 5), values=number_lists)
def test_round_trip_and_error_bound(name, precision, values):
    check_round_trip_and_error_bound(bound(name, precision), values)


@settings(max_examples=60, deadline=None)
@given(precision=st.integers(2, 4), values=number_lists)
def test_round_trip_and_error_bound_fp15(precision, values):
    check_round_trip_and_error_bound(bound("FP15", precision), values)


@settings(max_examples=40, deadline=None)
@given(values=number_lists, max_exponent=st.integers(5, 12))
def test_round_trip_near_the_exponent_ends(values, max_exponent):
    """Small exponent ranges: values from 1e-12 to 1e12 underflow and (filtered) overflow."""
    check_round_trip_and_error_bound(bound("P1000", 3, max_exponent), values)


def printf_triple(x: float, precision: int) -> tuple[str, int, int]:
    """(sign, mantissa, exponent) of x by Python's printf-style formatting, an independent rounding."""
    mantissa, exponent = f"{abs(x):.{precision - 1}e}".split("e")
    m = int(mantissa.replace(".", ""))
    return ("-" if x < 0 and m else "+"), m, (int(exponent) - (precision - 1) if m else 0)


def spelled_by_hand(name: str, sign: str, m: int, e: int) -> str:
    """The tokens of (sign, m, e), written out plainly, one number at a time."""
    if name == "P10":
        return " ".join([sign, *str(m), f"E{e}"])
    if name == "P1000":
        digits = []
        while True:
            digits.insert(0, str(m % 1000))
            m //= 1000
            if not m:
                break
        return " ".join([sign, *digits, f"E{e}"])
    return f"N{'-' if sign == '-' else ''}{m} E{e}"


@pytest.mark.parametrize("name", PRINTF_ROUNDING)
@settings(max_examples=60, deadline=None)
@given(precision=st.integers(2, 5), values=number_lists)
def test_rounding_matches_printf(name, precision, values):
    enc = bound(name, precision)
    triples = [printf_triple(v, precision) for v in values]
    assert spell(enc, values) == [spelled_by_hand(name, *t) for t in triples]
    expected = [float(f"{s}{m}e{e}") for s, m, e in triples]
    np.testing.assert_array_equal(enc.round(np.array(values)), expected)  # exponents here are within +-22


@settings(max_examples=60, deadline=None)
@given(precision=st.integers(2, 4), values=number_lists)
def test_fp15_rounds_half_up_like_decimal(precision, values):
    enc = bound("FP15", precision)
    values = [v for v in values if abs(v) < 0.999 * largest(enc)] or [0.0]
    expected = []
    for v in values:
        d = Decimal(v)  # the float's exact value
        if abs(d) >= Decimal(10) ** (precision - 1 - enc.offset):  # normal: p significant digits
            q = Context(prec=precision, rounding=ROUND_HALF_UP).plus(d)
        else:  # denormal: a multiple of 10^-offset
            q = d.quantize(Decimal(1).scaleb(-enc.offset), rounding=ROUND_HALF_UP)
        sign, digits, exponent = q.as_tuple()
        m = int("".join(map(str, digits)))
        while m and m < 10 ** (precision - 1) and exponent > -enc.offset:
            m, exponent = m * 10, exponent - 1
        expected.append("N0e0" if m == 0 else f"N{'-' if sign else ''}{m}e{exponent + enc.offset}")
    assert spell(enc, values) == expected


@settings(max_examples=30, deadline=None)
@given(values=number_lists)
def test_fp15_precision_5_rounds_within_bound(values):
    """FP15 at precision 5 has ~2.9M symbols: check its rounding without building a vocabulary."""
    enc = FP15(5, 16)  # normal from 1e-6 to 9.9999e9
    x = np.array([v for v in values if 1.0001e-6 <= abs(v) <= 9e9] or [1.0])
    r = enc.round(x)
    assert np.all(np.abs(r - x) <= 0.5e-4 * np.abs(x) * (1 + 1e-12))
    assert r.tolist() == [float(Context(prec=5, rounding=ROUND_HALF_UP).plus(Decimal(v))) for v in x]


# ----- the decoder -----

DECODE_CASES = {
    # name: [(line, count, valid, values)]
    "P10": [
        ("+ 3 1 4 E-2", 1, True, [3.14]),
        ("+ 3 1 4 E-2 - 2 7 1 E-4 + 0 E0", 3, True, [3.14, -0.0271, 0.0]),
        ("+ 0 3 E0", 1, True, [3.0]),  # leading zero digits are read
        ("+ 3 1 4", 1, False, None),  # missing exponent
        ("+ 3 1 4 + 2 7 1 E-4", 2, False, None),  # missing exponent between numbers
        ("+ - 3 1 4 E-2", 1, False, None),  # two signs
        ("3 1 4 E-2", 1, False, None),  # no sign
        ("+ E-2", 1, False, None),  # no digit
        ("+ 3 1 4 E-2 E-2", 1, False, None),  # two exponents
        ("+ 3 1 4 E-2 +", 1, False, None),  # trailing token
        ("+ 3 1 4 E-2 + 2 E0", 1, False, None),  # one number too many
        ("+ 3 1 4 E-2", 2, False, None),  # one number too few
        ("+ 3 <sep> 4 E-2", 1, False, None),  # unknown token
        ("+ 3 1 4 E-2 V2", 1, False, None),  # a foreign token after the numbers
        ("", 1, False, None),
        ("", 0, True, []),
    ],
    "P1000": [
        ("- 271 E-4", 1, True, [-0.0271]),
        ("+ 31 416 E-4", 1, True, [3.1416]),
        ("+ 271", 1, False, None),
        ("- + 271 E-4", 1, False, None),
        ("+ 271 E-4 V1", 1, False, None),
    ],
    "B1999": [
        ("N314 E-2 N-271 E-4", 2, True, [3.14, -0.0271]),
        ("N5 E-1", 1, True, [0.5]),  # unnormalised mantissa
        ("N314", 1, False, None),  # missing exponent
        ("N314 N-2 E-2", 1, False, None),  # two mantissas
        ("E-2 N314", 1, False, None),
        ("N314 E-2 N1", 1, False, None),  # trailing token
        ("N314 E-2", 2, False, None),
        ("N314 ( E-2", 1, False, None),  # unknown token
    ],
    "FP15": [
        ("N314e7 N-271e5 N0e0 N55e0", 4, True, [3.14, -0.0271, 0.0, 5.5e-8]),
        ("N314e7 N1e0", 1, False, None),
        ("N314e7", 2, False, None),
        ("N314e7 <sep>", 1, False, None),
        ("V2 N314e7", 1, False, None),
    ],
}


@pytest.mark.parametrize("name, line, count, ok, expected",
                         [(name, *case) for name, cases in DECODE_CASES.items() for case in cases])
def test_decode_accepts_and_rejects(name, line, count, ok, expected):
    enc = bound(name, 5 if "31 416" in line else 3)
    values, valid = enc.decode(*rows_of(enc.vocab, [line]), count=count)
    assert valid.tolist() == [ok]
    assert values.shape == (1, count)
    if ok:
        assert values[0].tolist() == expected


@pytest.mark.parametrize("name", ENCODINGS)
def test_decode_per_row_start_and_count(name):
    enc = bound(name)
    x = {"a": 1.5, "b": -2.0, "c": 0.25}
    w = {k: s for k, s in zip(x, spell(enc, list(x.values())))}
    lines = [f"V2 V2 {w['a']} {w['b']} {w['c']}", f"V1 {w['c']}", f"{w['b']} {w['a']}", f"V2 {w['a']} V1"]
    start, count = np.array([2, 1, 0, 1]), np.array([3, 1, 2, 1])
    values, valid = enc.decode(*rows_of(enc.vocab, lines), count=count, start=start)
    assert valid.tolist() == [True, True, True, False]
    assert values[:3].tolist() == [[1.5, -2.0, 0.25], [0.25, 0.0, 0.0], [-2.0, 1.5, 0.0]]
    # the same rows with a scalar start read the prefix tokens, which are not numbers
    assert enc.decode(*rows_of(enc.vocab, lines), count=count)[1].tolist() == [False, False, True, False]


def test_decode_rejects_ids_outside_the_vocabulary_and_infinite_values():
    enc = bound("P10")
    ids, lengths = rows_of(enc.vocab, ["+ 3 1 4 E-2"] * 2)
    ids[1, 2] = len(enc.vocab) + 7
    assert enc.decode(ids, lengths, 1)[1].tolist() == [True, False]
    huge = "+ " + " ".join(["9"] * 400) + " E100"  # a mantissa too long for a float64
    assert enc.decode(*rows_of(enc.vocab, [huge]), 1)[1].tolist() == [False]


def test_decode_refuses_lengths_past_the_ids_and_negative_start_or_count():
    enc = bound("P10")
    ids, lengths = rows_of(enc.vocab, ["+ 3 1 4 E-2", "+ 0 E0"])
    with pytest.raises(ValueError, match=r"row 1 has length 6.*0\.\.5"):
        enc.decode(ids, np.array([5, 6]), 1)
    with pytest.raises(ValueError, match=r"row 0 .* start -1"):
        enc.decode(ids, lengths, 1, start=np.array([-1, 0]))
    with pytest.raises(ValueError, match=r"row 1 .* count -2"):
        enc.decode(ids, lengths, np.array([1, -2]))


def test_encoders_share_a_vocabulary_with_other_tokens():
    """FP15 inputs with P1000 outputs (LAWT's eigenvector runs): one vocabulary, each encoding its own ids."""
    fp15, p1000 = FP15(), P1000()
    vocab = Vocabulary(["V2"] + fp15.symbols() + p1000.symbols())
    fp15.bind(vocab), p1000.bind(vocab)
    assert spell(fp15, [3.14159]) == ["N314e7"] and spell(p1000, [3.14159]) == ["+ 314 E-2"]
    ids, lengths = rows_of(vocab, ["V2 N314e7 N-271e5"])
    assert fp15.decode(ids, lengths, 2, start=1)[0].tolist() == [[3.14, -0.0271]]
    assert not p1000.decode(ids, lengths, 2, start=1)[1][0]
