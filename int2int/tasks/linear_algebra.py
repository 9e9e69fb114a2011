"""Linear algebra on real matrices ("Linear algebra with transformers", LAWT): what the nine tasks share.

Every operand and answer is a matrix written as the original writes arrays, ``V<rows> V<cols>`` then the entries
row by row, in a real-number encoding (``encoding=p10|p1000|b1999|fp15``, outputs in ``encoding.output`` when given);
vectors are columns (``V5 V1``); a task with two operands writes them one after the other, each with its own
dimension tokens. Inputs are rounded to the encoding's precision first and the answer is computed from the rounded
input, so every example is exactly consistent.

Options (``task.*``): square matrices of side ``dim`` (5), or ``rows`` x ``cols``; with ``min_dim`` sizes vary per
example, uniform in [min_dim, dim] (or [min_dim, rows] x [min_dim, cols]); entries uniform in [-coeff_max,
coeff_max] (10) or Gaussian of the same variance (``entries=gaussian``); ``tolerance`` (0.05).

Verification follows the paper: an answer is right when its error is below ``task.tolerance``; the generic error
is the relative L1 distance sum|H - T| / sum|T| (eigen and singular decompositions are checked by reconstruction,
and, unlike LAWT, for orthonormality too, so an all-zero answer never passes). Extra metrics ``tol5``, ``tol2``,
``tol1``, ``tol05``: accuracy within 5%, 2%, 1% and 0.5%. Per-class key: the matrix size when sizes vary, else
the order of magnitude of the first operand's condition number (``cond1e2`` for 100 <= cond < 1000).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

import numpy as np

from ..config import Config, ConfigError, opt
from ..data.examples import Examples
from ..encodings import NumberArray, compact
from ..encodings.arrays import MAX_DIM
from .base import Task, TaskConfig, Verdict

#: The extra metrics: accuracy within these tolerances (LAWT's --more_tolerance).
TOLERANCES = {"tol5": 0.05, "tol2": 0.02, "tol1": 0.01, "tol05": 0.005}
#: Errors of answers that cannot be judged (malformed, wrong shape).
UNJUDGED = np.inf


class Entries(str, Enum):
    uniform = "uniform"
    gaussian = "gaussian"


@dataclass
class MatrixConfig(TaskConfig):
    name: str = opt("matrix_transpose", "A linear-algebra task on real matrices.")
    dim: int = opt(5, "Side of the square matrices (LAWT's max_dimension).")
    rows: int = opt(0, "Rows of rectangular matrices instead of dim x dim (0: dim); tasks on square matrices only "
                    "(eigen, inverse) refuse it.")
    cols: int = opt(0, "Columns of rectangular matrices (0: dim).")
    min_dim: int = opt(0, "Sizes vary per example, uniform in [min_dim, dim] (or [min_dim, rows] x [min_dim, cols]); "
                       "0: fixed size.")
    coeff_max: float = opt(10.0, "Entries uniform in [-coeff_max, coeff_max] (LAWT's c).")
    entries: Entries = opt(Entries.uniform, "uniform, or gaussian (same variance: std coeff_max / sqrt 3; LAWT's "
                           "--generator normal).", train_only=True)
    tolerance: float = opt(0.05, "An answer is right when its error is below this (LAWT's float_tolerance).")
    lawt_layout: bool = opt(False, "matrix_sum, matrix_vector, matrix_product: LAWT's layout, both operands in one "
                            "array [A|B] and the transposed products (M^T v, A^T B).")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        for key in ("dim", "rows", "cols", "min_dim"):
            self.require(0 <= getattr(self, key) <= MAX_DIM, key, f"must be in 0..{MAX_DIM} (tokens V1..V{MAX_DIM})")
        self.require(self.dim >= 1, "dim", "must be >= 1")
        self.require(self.min_dim <= min(self.shape), "min_dim", f"must be <= the matrix size {self.shape}")
        self.require(self.coeff_max > 0, "coeff_max", "must be > 0")
        self.require(0 < self.tolerance < 1, "tolerance", "must be in (0, 1)")

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows or self.dim, self.cols or self.dim)


class MatrixTask(Task):
    """One or two matrix operands in, one matrix out; subclasses say what the answer is and how it is judged."""

    number_kind = "real"
    extra_metrics = tuple(TOLERANCES)
    #: The task needs square matrices (eigen decompositions, inverses).
    square: ClassVar[bool] = False

    def __init__(self, cfg: Config):
        super().__init__(cfg)
        c = self.cfg
        if self.square and (c.rows or c.cols) and c.rows != c.cols:
            raise ConfigError(f"task.rows={c.rows}, task.cols={c.cols}: task={c.name} needs square matrices (task.dim)")
        self.input = NumberArray(self.input_enc, 2)
        self.output = NumberArray(self.output_enc, 2, complex_pairs=self.complex_output)
        self.build_vocab(self.input, self.output)
        self.varying = c.min_dim > 0
        self.class_key = "size" if self.varying else "condition"  # rows x cols, or the decade of cond(A)
        if self.max_input_len + 1 > cfg.data.max_len or self.max_output_len + 2 > cfg.data.max_len:
            raise ConfigError(f"task.dim={c.dim}, task.rows={c.rows}, task.cols={c.cols}: {c.name} writes inputs of "
                              f"up to {self.max_input_len} tokens and outputs of {self.max_output_len} in "
                              f"encoding={cfg.encoding.name}: no example fits data.max_len={cfg.data.max_len} (raise "
                              "it and architecture.max_positions, or use a shorter encoding: b1999 or fp15)")

    complex_output: ClassVar[bool] = False

    # -- what a task defines ------------------------------------------------------------------------
    def operand_shapes(self, rows: np.ndarray, cols: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Shapes of each operand (arrays of rows and of cols) of examples whose drawn size is rows x cols."""
        return [(rows, cols)]

    def output_shape(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Shapes of the answers of examples whose drawn size is rows x cols."""
        raise NotImplementedError

    def solve(self, operands: list[np.ndarray]) -> np.ndarray:
        """The answers (n x R x C) of rounded operands of one size (the batch is split by size when sizes vary)."""
        raise NotImplementedError

    def errors(self, operands: list[np.ndarray], target: np.ndarray, answer: np.ndarray) -> np.ndarray:
        """The error of each answer (one example of a batch of equal shapes): relative L1 by default."""
        return relative_l1(answer, target)

    # -- generation ---------------------------------------------------------------------------------
    def sizes(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = self.cfg.shape
        if not self.varying:
            return np.full(n, rows), np.full(n, cols)
        lo = self.cfg.min_dim
        r = rng.integers(lo, rows, size=n, endpoint=True)
        c = r.copy() if self.square or rows == cols else rng.integers(lo, cols, size=n, endpoint=True)
        return r, c

    def entries(self, rng: np.random.Generator, n: int, rows: int, cols: int) -> np.ndarray:
        c = self.cfg.coeff_max
        if self.cfg.entries == Entries.gaussian:
            return rng.normal(0.0, c / np.sqrt(3), size=(n, rows, cols))
        return rng.uniform(-c, c, size=(n, rows, cols))

    def draw_operands(self, rng: np.random.Generator, shapes: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """Random operands, zero outside each example's shape."""
        ops = []
        for r, c in shapes:
            m = self.entries(rng, len(r), int(r.max()), int(c.max()))
            ops.append(m * inside(r, c, m.shape[1], m.shape[2]))
        return ops

    def generate(self, rng: np.random.Generator, n: int) -> Examples:
        rows, cols = self.sizes(rng, n)
        shapes = self.operand_shapes(rows, cols)
        operands = [self.input_enc.round(op) for op in self.draw_operands(rng, shapes)]
        return self.build(operands, rows, cols)

    def build(self, operands: list[np.ndarray], rows: np.ndarray, cols: np.ndarray) -> Examples:
        """Examples of given (already rounded) operands of drawn sizes rows x cols: the answers are computed."""
        shapes = self.operand_shapes(rows, cols)
        out_rows, out_cols = self.output_shape(rows, cols)
        answer = np.zeros((len(rows), int(out_rows.max()), int(out_cols.max())), dtype=self.answer_dtype)
        for r, c in np.unique(np.stack([rows, cols], axis=1), axis=0).tolist():  # one size at a time: batched linalg
            pick = (rows == r) & (cols == c)
            ops = [op[pick][:, : int(sr[pick][0]), : int(sc[pick][0])] for op, (sr, sc) in zip(operands, shapes)]
            part = self.solve(ops)
            answer[np.ix_(pick, np.arange(part.shape[1]), np.arange(part.shape[2]))] = part
        parts = [self.input.encode(op, np.stack([r, c], axis=1)) for op, (r, c) in zip(operands, shapes)]
        return Examples.of(concat_rows(parts), self.output.encode(answer, np.stack([out_rows, out_cols], axis=1)))

    answer_dtype: ClassVar[type] = np.float64

    def drawn_size(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The drawn size (rows x cols) of examples whose first operand has this shape (the inverse of
        :meth:`operand_shapes`)."""
        return rows, cols

    def solved(self, ex: Examples) -> Examples:
        operands, shapes = self.read_operands(ex)
        rows, cols = self.drawn_size(shapes[:, 0, 0], shapes[:, 0, 1])
        return self.build(operands, rows, cols)

    # -- verification -------------------------------------------------------------------------------
    def read_operands(self, ex: Examples) -> tuple[list[np.ndarray], np.ndarray]:
        """The input matrices (n x R x C each) and their shapes (n x operands x 2), read back from the tokens."""
        n_ops = len(self.operand_shapes(np.ones(1, dtype=np.int64), np.ones(1, dtype=np.int64)))
        starts = array_starts(self.input, ex.x, ex.x_len, n_ops)
        ops, shapes = [], []
        for k in range(n_ops):
            end = starts[:, k + 1] if k + 1 < n_ops else ex.x_len
            values, shape, _ = self.input.decode(ex.x, end, starts[:, k])
            ops.append(unflatten(values, shape))
            shapes.append(shape)
        return ops, np.stack(shapes, axis=1)

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        operands, in_shapes = self.read_operands(ex)
        t_values, t_shape, _ = self.output.decode(ex.y, ex.y_len)
        p_values, p_shape, valid = self.output.decode(pred, pred_len)
        correct = valid & (p_shape == t_shape).all(axis=1)
        err = np.full(len(ex), UNJUDGED)
        # judge examples of equal shapes together (one group when the size is fixed)
        keys = np.concatenate([in_shapes.reshape(len(ex), -1), t_shape], axis=1)
        groups = np.unique(keys[correct], axis=0) if correct.any() else []
        for key in groups:
            rows = np.nonzero(correct & (keys == key).all(axis=1))[0]
            ops = [op[rows][:, : s[0], : s[1]] for op, s in zip(operands, in_shapes[rows[0]])]
            target = unflatten(t_values[rows], t_shape[rows])
            answer = unflatten(p_values[rows], p_shape[rows])
            err[rows] = self.errors(ops, target, answer)
        ok = np.isfinite(err)
        return Verdict(acc=ok & (err < self.cfg.tolerance), correct=correct, classes=self.classes(operands,
                       in_shapes), extra={name: ok & (err < tol) for name, tol in TOLERANCES.items()})

    def classes(self, operands: list[np.ndarray], shapes: np.ndarray) -> np.ndarray:
        if self.varying:  # "RxC"
            rows, cols = shapes[:, 0, 0].astype(str), shapes[:, 0, 1].astype(str)
            return np.char.add(np.char.add(rows, "x"), cols).astype(object)
        with np.errstate(divide="ignore", invalid="ignore"):
            cond = np.linalg.cond(operands[0])
        order = np.floor(np.log10(np.where(np.isfinite(cond), cond, 1e16))).astype(int)
        return np.char.add("cond1e", np.minimum(order, 16).astype(str)).astype(object)  # the decade of cond(A)

    # -- lengths ------------------------------------------------------------------------------------
    def max_shapes(self) -> tuple[list[tuple[int, int]], tuple[int, int]]:
        rows, cols = np.array([self.cfg.shape[0]]), np.array([self.cfg.shape[1]])
        shapes = [(int(r[0]), int(c[0])) for r, c in self.operand_shapes(rows, cols)]
        out_r, out_c = self.output_shape(rows, cols)
        return shapes, (int(out_r[0]), int(out_c[0]))

    @property
    def max_input_len(self) -> int:
        shapes, _ = self.max_shapes()
        return sum(self.input.max_len(s, 0) for s in shapes)

    @property
    def max_output_len(self) -> int:
        _, out = self.max_shapes()
        return self.output.max_len(out, 0)


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def inside(rows: np.ndarray, cols: np.ndarray, r_max: int, c_max: int) -> np.ndarray:
    """n x r_max x c_max: True inside each example's rows x cols."""
    in_rows = np.arange(r_max)[None, :, None] < rows[:, None, None]
    return in_rows & (np.arange(c_max)[None, None, :] < cols[:, None, None])


def unflatten(values: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """Row-major flat values (n x k) of arrays of shapes (n x 2) as n x R x C, zero outside each shape."""
    n = len(values)
    r_max, c_max = (int(shapes[:, 0].max(initial=1)), int(shapes[:, 1].max(initial=1))) if n else (1, 1)
    out = np.zeros((n, r_max, c_max), dtype=values.dtype)
    mask = inside(shapes[:, 0], shapes[:, 1], r_max, c_max)
    count = shapes[:, 0] * shapes[:, 1]
    flat_mask = np.arange(values.shape[1])[None, :] < count[:, None] if values.shape[1] else np.zeros((n, 0), bool)
    out[mask] = values[flat_mask]
    return out


def concat_rows(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Token rows of several arrays of each example, one after the other."""
    if len(parts) == 1:
        return parts[0]
    toks = np.concatenate([ids for ids, _ in parts], axis=1)
    mask = np.concatenate([np.arange(ids.shape[1])[None, :] < lens[:, None] for ids, lens in parts], axis=1)
    return compact(toks, mask)


def array_starts(arrays: NumberArray, ids: np.ndarray, lengths: np.ndarray, count: int) -> np.ndarray:
    """Where each of ``count`` arrays starts in each row (n x count): at its first dimension token (numbers never
    hold ``V`` tokens), or at the row's length when the row has fewer arrays."""
    n, width = ids.shape
    is_dim = (arrays.dim_of[ids] > 0) & (np.arange(width)[None, :] < lengths[:, None])
    seen = np.cumsum(is_dim, axis=1)
    starts = np.empty((n, count), dtype=np.int64)
    for k in range(count):
        hit = is_dim & (seen == k * arrays.ndim + 1)
        starts[:, k] = np.where(hit.any(axis=1), hit.argmax(axis=1), lengths)
    return starts


def relative_l1(answer: np.ndarray, target: np.ndarray) -> np.ndarray:
    """sum|H - T| / sum|T| per example (LAWT's error); 0 / 0 counts as exact."""
    diff = np.abs(answer - target).sum(axis=(1, 2))
    scale = np.abs(target).sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale > 0, diff / np.where(scale > 0, scale, 1), np.where(diff > 0, np.inf, 0.0))


def orthonormality(q: np.ndarray) -> np.ndarray:
    """sum|Q^T Q - I| / k per example, for n x m x k matrices whose k columns should be orthonormal."""
    k = q.shape[2]
    gram = np.einsum("nij,nik->njk", q, q)
    return np.abs(gram - np.eye(k)).sum(axis=(1, 2)) / k


# --------------------------------------------------------------------------------------------------
# symmetric matrices and their spectra (eigen tasks)
# --------------------------------------------------------------------------------------------------
class Spectrum(str, Enum):
    semicircle = "semicircle"
    positive = "positive"
    uniform = "uniform"
    gaussian = "gaussian"
    laplace = "laplace"
    positive2 = "positive2"
    marcenko = "marcenko"


@dataclass
class SymmetricConfig(MatrixConfig):
    eigen_distribution: Spectrum = opt(Spectrum.semicircle, "Eigenvalues of the training matrices (LAWT): "
                                       "semicircle (Wigner matrices), positive (their absolute values), uniform, "
                                       "gaussian, laplace, positive2 (absolute Laplace), marcenko (M^T M). Extra test "
                                       "sets with others: eval.generated={laplace: {eigen_distribution: laplace}}.",
                                       train_only=True)


class SymmetricTask(MatrixTask):
    """Tasks on symmetric matrices: Wigner matrices (a uniform matrix's lower triangle, mirrored), their eigenvalues
    replaced by another distribution's (``task.eigen_distribution``), eigenvectors kept."""

    square = True

    def draw_operands(self, rng: np.random.Generator, shapes: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        (rows, _), = shapes
        n, size = len(rows), int(rows.max())
        out = np.zeros((n, size, size))
        for d in np.unique(rows):
            pick = rows == d
            out[pick, :d, :d] = symmetric_matrices(rng, int(pick.sum()), int(d), self.cfg.coeff_max,
                                                   Spectrum(self.cfg.eigen_distribution), self.cfg.entries)
        return [out]


def symmetric_matrices(rng: np.random.Generator, n: int, d: int, c: float, spectrum: Spectrum,
                       entries: Entries = Entries.uniform) -> np.ndarray:
    """n symmetric d x d matrices with the eigenvalue distribution ``spectrum`` (scale s = sqrt(d) c / sqrt 3)."""
    if spectrum == Spectrum.marcenko:
        root = np.sqrt(c)
        m = rng.uniform(-root, root, size=(n, d, d))
        return np.einsum("nki,nkj->nij", m, m)
    gaussian = entries == Entries.gaussian
    raw = rng.normal(0, c / np.sqrt(3), size=(n, d, d)) if gaussian else rng.uniform(-c, c, (n, d, d))
    wigner = np.tril(raw) + np.swapaxes(np.tril(raw, -1), 1, 2)
    if spectrum == Spectrum.semicircle:
        return wigner
    values, vectors = np.linalg.eigh(wigner)
    s = np.sqrt(d) * c / np.sqrt(3)
    if spectrum == Spectrum.positive:
        values = np.abs(values)
    elif spectrum == Spectrum.uniform:
        values = rng.uniform(-np.sqrt(3) * s, np.sqrt(3) * s, size=(n, d))
    elif spectrum == Spectrum.gaussian:
        values = rng.normal(0, s, size=(n, d))
    elif spectrum in (Spectrum.laplace, Spectrum.positive2):
        values = rng.laplace(0, s / np.sqrt(2), size=(n, d))
        values = np.abs(values) if spectrum == Spectrum.positive2 else values
    return np.einsum("nik,nk,njk->nij", vectors, values, vectors)
