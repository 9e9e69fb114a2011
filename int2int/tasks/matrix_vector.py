"""``task=matrix_vector``: M (rows x cols) and v (cols x 1) -> M v (rows x 1).

With ``task.lawt_layout``: LAWT's [M|v] (rows x (cols+1), v a column of rows entries) -> M^T v (cols x 1)."""

from __future__ import annotations

import numpy as np

from .base import TASKS
from .linear_algebra import MatrixConfig, MatrixTask


@TASKS.register("matrix_vector", config=MatrixConfig)
class MatrixVectorTask(MatrixTask):
    def operand_shapes(self, rows, cols):
        if self.cfg.lawt_layout:
            return [(rows, cols + 1)]
        return [(rows, cols), (cols, np.ones_like(cols))]

    def drawn_size(self, rows, cols):
        return (rows, cols - 1) if self.cfg.lawt_layout else (rows, cols)

    def output_shape(self, rows, cols):
        return (cols if self.cfg.lawt_layout else rows), np.ones_like(rows)

    def solve(self, operands: list[np.ndarray]) -> np.ndarray:
        if self.cfg.lawt_layout:
            (mv,) = operands
            return np.einsum("nij,nik->njk", mv[:, :, :-1], mv[:, :, -1:])
        return operands[0] @ operands[1]
