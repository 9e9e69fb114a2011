"""``matrix_rank``: the rank of a ``task.dim1`` x ``task.dim2`` integer matrix.

A rank r is uniform in 1..min(dim1, dim2); the matrix is P Q with P (dim1 x r) and Q (r x dim2) of
entries uniform in [-max_int, max_int]; it is kept only when numpy's rank of it is r, and rejected
ones are redrawn with the same r (so ranks stay exactly uniform; the original redraws r too, which
favours the ranks rejected least). Redrawing works on the whole batch, round after round, and gives up
with a ValueError after ``MAX_ROUNDS`` rounds.

Input: ``V<dim1> V<dim2>`` then the entries row-major as positional integers; a 2 x 2 matrix
[[1, -2], [3, 4]] is ``V2 V2 + 1 - 2 + 3 + 4``. Output: the rank as one symbolic token, ``3``; the
tokens of ranks below the base are the digit tokens, larger ranks add their own (``12`` in base 10).
The class is the rank.
"""

from __future__ import annotations

import numpy as np

from ..config import ConfigError, MatrixRankConfig
from ..encodings import PositionalInts, Vocabulary, digit_symbols, n_digits
from ..encodings.symbolic import SymbolicInts, symbolic_symbols
from .base import Examples, Task, Verdict

#: Rounds of redrawing rejected matrices before giving up.
MAX_ROUNDS = 100
#: Longest input accepted at all (attention is quadratic in it); data.max_len is checked by training.
MAX_INPUT_TOKENS = 8192
#: Largest |entry| of P Q: int64 products and float64 ranks stay exact below it.
MAX_ENTRY = 2**52


class MatrixRankTask(Task):
    class_key = "rank"

    def __init__(self, cfg: MatrixRankConfig, base: int):
        self.cfg, self.base = cfg, base
        d1, d2, m = cfg.dim1, cfg.dim2, cfg.max_int
        for key in ("dim1", "dim2", "max_int"):
            if getattr(cfg, key) < 1:
                raise ConfigError(f"task.{key}={getattr(cfg, key)}: must be >= 1")
        self.max_rank = min(d1, d2)
        self.max_entry = self.max_rank * m * m
        if self.max_entry > MAX_ENTRY:
            raise ConfigError(f"task.max_int={m}, task.dim1={d1}, task.dim2={d2}: entries of P Q reach "
                              f"min(dim1, dim2) * max_int**2 = {self.max_entry} > 2**52 (not exact in float64)")
        dims = [f"V{d1}"] if d1 == d2 else [f"V{d1}", f"V{d2}"]
        symbols = digit_symbols(base) + dims
        ranks = range(0, self.max_rank + 1)
        self.vocab = Vocabulary(symbols + symbolic_symbols(ranks, known=symbols))
        self.ints = PositionalInts(base, self.vocab)
        self.sym = SymbolicInts(self.vocab, ranks)
        self.prefix = [self.vocab.id(f"V{d1}"), self.vocab.id(f"V{d2}")]
        self.width = n_digits(self.max_entry, base)
        if self.max_input_len > MAX_INPUT_TOKENS:
            raise ConfigError(f"task.dim1={d1}, task.dim2={d2}, task.max_int={m}: inputs reach {self.max_input_len} "
                              f"tokens in base {base} (limit {MAX_INPUT_TOKENS}); lower the dimensions or "
                              "task.max_int, or raise encoding.base")

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(matrices n x dim1 x dim2, ranks n)``, every matrix of numpy rank equal to its r."""
        d1, d2, m, rmax = self.cfg.dim1, self.cfg.dim2, self.cfg.max_int, self.max_rank
        ranks = rng.integers(1, rmax, size=n, endpoint=True, dtype=np.int64)
        mats = np.zeros((n, d1, d2), dtype=np.int64)
        todo = np.arange(n)
        for _ in range(MAX_ROUNDS):
            if todo.size == 0:
                break
            r = ranks[todo]
            # P is drawn dim1 x rmax with its columns r.. zeroed: P Q is then the product of a
            # dim1 x r and an r x dim2 matrix of uniform entries.
            p = rng.integers(-m, m, size=(todo.size, d1, rmax), endpoint=True, dtype=np.int64)
            p *= np.arange(rmax)[None, None, :] < r[:, None, None]
            q = rng.integers(-m, m, size=(todo.size, rmax, d2), endpoint=True, dtype=np.int64)
            prod = np.matmul(p, q)
            ok = np.linalg.matrix_rank(prod.astype(np.float64)) == r
            mats[todo[ok]] = prod[ok]
            todo = todo[~ok]
        if todo.size:
            raise ConfigError(f"task.dim1={d1}, task.dim2={d2}, task.max_int={m}: {todo.size} of {n} matrices "
                              f"still had the wrong rank after {MAX_ROUNDS} rounds of redrawing")
        return mats, ranks

    def generate(self, rng: np.random.Generator, n: int) -> Examples:
        return self.build(*self.sample(rng, n))

    def build(self, matrices, ranks) -> Examples:
        """Examples of given matrices (n x dim1 x dim2) and their ranks (not checked)."""
        matrices = np.asarray(matrices, dtype=np.int64)
        x, x_len = self.ints.encode(matrices.reshape(len(matrices), -1), self.width, self.prefix)
        y, y_len = self.sym.encode(ranks)
        return Examples(x, x_len, y, y_len)

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        target, _ = self.sym.decode(ex.y, ex.y_len)
        value, valid = self.sym.decode(pred, pred_len)
        return Verdict(acc=valid & (value == target), correct=valid, classes=np.minimum(target, self.cfg.max_class))

    @property
    def max_input_len(self) -> int:
        return 2 + self.cfg.dim1 * self.cfg.dim2 * (1 + self.width)

    @property
    def max_output_len(self) -> int:
        return 1
