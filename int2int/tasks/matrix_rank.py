"""``task=matrix_rank``: the rank of a ``task.dim1`` x ``task.dim2`` integer matrix.

A rank r is uniform in 1..min(dim1, dim2); the matrix is P Q with P (dim1 x r) and Q (r x dim2) of entries
uniform in [-max_int, max_int]; it is kept only when numpy's rank of it is r, and rejected ones are redrawn
with the same r (so ranks stay exactly uniform; the original redraws r too, which favours the ranks rejected
least). Redrawing works on the whole batch, round after round, and gives up with a clear error.

Input: ``V<dim1> V<dim2>`` then the entries row-major: [[1, -2], [3, 4]] is ``V2 V2 + 1 - 2 + 3 + 4``.
Output: the rank as one symbolic token (``3``), from the original's set ``1`` .. ``100``. The class is the rank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Config, ConfigError, opt
from ..data.examples import Examples
from ..encodings import Number, NumberArray, SymbolicInts
from ..encodings.arrays import MAX_DIM
from .base import TASKS, Task, TaskConfig, Verdict, cap

#: Rounds of redrawing rejected matrices before giving up.
MAX_ROUNDS = 100
#: Longest input accepted at all (attention is quadratic in it); data.max_len is checked by training.
MAX_INPUT_TOKENS = 8192
#: Largest |entry| of P Q: int64 products and float64 ranks stay exact below it.
MAX_ENTRY = 2**52


@dataclass
class MatrixRankConfig(TaskConfig):
    name: str = opt("matrix_rank", "Rank of a dim1 x dim2 integer matrix P Q, P dim1 x r, Q r x dim2, r uniform.")
    dim1: int = opt(5, "Rows of the matrix (the original's --dim1, default 10).")
    dim2: int = opt(5, "Columns of the matrix (the original's --dim2, default 10).")
    max_int: int = opt(10, "Entries of P and Q are uniform in [-max_int, max_int] (the original's --maxint).")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        for key in ("dim1", "dim2"):
            self.require(1 <= getattr(self, key) <= MAX_DIM, key, f"must be in 1..{MAX_DIM} (tokens V1..V{MAX_DIM})")
        self.require_positive("max_int")
        self.require(min(self.dim1, self.dim2) * self.max_int**2 <= MAX_ENTRY, "max_int",
                     "entries of P Q reach min(dim1, dim2) * max_int**2, which must stay <= 2**52 (exact in float64)")


@TASKS.register("matrix_rank", config=MatrixRankConfig)
class MatrixRankTask(Task):
    class_key = "rank"

    def __init__(self, cfg: Config):
        super().__init__(cfg)
        c = self.cfg
        self.max_rank = min(c.dim1, c.dim2)
        self.max_entry = self.max_rank * c.max_int**2
        self.input = NumberArray(self.input_enc, 2)
        self.output = Number(SymbolicInts(values=range(1, MAX_DIM + 1)))
        self.build_vocab(self.input, self.output)
        if self.max_input_len > MAX_INPUT_TOKENS:
            raise ConfigError(f"task.dim1={c.dim1}, task.dim2={c.dim2}, task.max_int={c.max_int}: inputs reach "
                              f"{self.max_input_len} tokens (limit {MAX_INPUT_TOKENS}); lower the dimensions or "
                              "task.max_int, or raise encoding.base")

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(matrices n x dim1 x dim2, ranks n)``, every matrix of numpy rank equal to its r."""
        d1, d2, m, rmax = self.cfg.dim1, self.cfg.dim2, self.cfg.max_int, self.max_rank
        ranks = rng.integers(1, rmax, size=n, endpoint=True, dtype=np.int64)
        mats = np.zeros((n, d1, d2), dtype=np.int64)
        todo = np.arange(n)
        for _ in range(MAX_ROUNDS):
            if todo.size == 0:
                return mats, ranks
            r = ranks[todo]
            # P is drawn dim1 x rmax with its columns r.. zeroed: P Q is then the product of a dim1 x r and an
            # r x dim2 matrix of uniform entries.
            p = rng.integers(-m, m, size=(todo.size, d1, rmax), endpoint=True, dtype=np.int64)
            p *= np.arange(rmax)[None, None, :] < r[:, None, None]
            q = rng.integers(-m, m, size=(todo.size, rmax, d2), endpoint=True, dtype=np.int64)
            prod = np.matmul(p, q)
            ok = np.linalg.matrix_rank(prod.astype(np.float64)) == r
            mats[todo[ok]] = prod[ok]
            todo = todo[~ok]
        raise ConfigError(f"task.dim1={d1}, task.dim2={d2}, task.max_int={m}: {todo.size} of {n} matrices still had "
                          f"the wrong rank after {MAX_ROUNDS} rounds of redrawing")

    def generate(self, rng: np.random.Generator, n: int) -> Examples:
        return self.build(*self.sample(rng, n))

    def build(self, matrices: np.ndarray, ranks: np.ndarray) -> Examples:
        """Examples of given matrices (n x dim1 x dim2) and their ranks (not checked)."""
        return Examples.of(self.input.encode(np.asarray(matrices, dtype=np.int64)), self.output.encode(ranks))

    def solved(self, ex: Examples) -> Examples:
        values, shapes, _ = self.input.decode(ex.x, ex.x_len)
        mats = values.reshape(len(values), self.cfg.dim1, self.cfg.dim2)
        return self.build(mats, np.linalg.matrix_rank(mats.astype(np.float64)))

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        target, _ = self.output.decode(ex.y, ex.y_len)
        value, valid = self.output.decode(pred, pred_len)
        return Verdict(acc=valid & (value == target), correct=valid, classes=cap(target, self.cfg.max_class),
                       values=np.where(valid, value, 0))

    @property
    def max_input_len(self) -> int:
        return self.input.max_len((self.cfg.dim1, self.cfg.dim2), self.max_entry)

    @property
    def max_output_len(self) -> int:
        return 1
