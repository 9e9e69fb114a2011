"""``task=matrix_sum``: A and B (rows x cols, written one after the other) -> A + B.

With ``task.lawt_layout`` both operands are one array [A|B] (rows x 2 cols), as LAWT writes them."""

from __future__ import annotations

import numpy as np

from .base import TASKS
from .linear_algebra import MatrixConfig, MatrixTask


@TASKS.register("matrix_sum", config=MatrixConfig)
class MatrixSumTask(MatrixTask):
    def operand_shapes(self, rows, cols):
        return [(rows, 2 * cols)] if self.cfg.lawt_layout else [(rows, cols), (rows, cols)]

    def drawn_size(self, rows, cols):
        return (rows, cols // 2) if self.cfg.lawt_layout else (rows, cols)

    def output_shape(self, rows, cols):
        return rows, cols

    def solve(self, operands: list[np.ndarray]) -> np.ndarray:
        if self.cfg.lawt_layout:
            (ab,) = operands
            half = ab.shape[2] // 2
            return ab[:, :, :half] + ab[:, :, half:]
        return operands[0] + operands[1]
