"""``task=matrix_inverse``: a square matrix A (dim x dim) -> A^-1.

Matrices that are (nearly) singular are redrawn: kept when max|A A^-1 - I| <= 1e-10 in float64, as LAWT keeps
them. Error: sum|A H - I| / dim (LAWT's)."""

from __future__ import annotations

import numpy as np

from ..config import ConfigError
from .base import TASKS
from .linear_algebra import MatrixConfig, MatrixTask

#: Rounds of redrawing singular matrices before giving up.
MAX_ROUNDS = 100


@TASKS.register("matrix_inverse", config=MatrixConfig)
class MatrixInverseTask(MatrixTask):
    square = True

    def draw_operands(self, rng, shapes):
        (rows, cols), = shapes
        (a,) = super().draw_operands(rng, shapes)
        todo = np.nonzero(~self.invertible(self.input_enc.round(a), rows))[0]
        for _ in range(MAX_ROUNDS):
            if todo.size == 0:
                return [a]
            (redraw,) = super().draw_operands(rng, [(rows[todo], cols[todo])])
            a[todo, : redraw.shape[1], : redraw.shape[2]] = redraw
            todo = todo[~self.invertible(self.input_enc.round(a[todo]), rows[todo])]
        raise ConfigError(f"task.dim={self.cfg.dim}: {todo.size} matrices stayed singular after {MAX_ROUNDS} rounds")

    @staticmethod
    def invertible(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
        ok = np.zeros(len(a), dtype=bool)
        for d in np.unique(rows):
            pick = rows == d
            m = a[pick][:, :d, :d]
            with np.errstate(all="ignore"):
                good = np.abs(np.linalg.det(m)) > 1e-12
                inv = np.linalg.inv(np.where(good[:, None, None], m, np.eye(d)))
                good &= np.abs(m @ inv - np.eye(d)).max(axis=(1, 2)) <= 1e-10
            ok[pick] = good
        return ok

    def output_shape(self, rows, cols):
        return rows, rows

    def solve(self, operands: list[np.ndarray]) -> np.ndarray:
        return np.linalg.inv(operands[0])

    def errors(self, operands, target, answer):
        (a,) = operands
        d = a.shape[1]
        return np.abs(a @ answer - np.eye(d)).sum(axis=(1, 2)) / d
