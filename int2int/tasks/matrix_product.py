"""``task=matrix_product``: A (rows x cols) and B (cols x rows) -> A B (rows x rows).

With ``task.lawt_layout``: LAWT's [A|B] (rows x 2 cols, A and B both rows x cols) -> A^T B (cols x cols)."""

from __future__ import annotations

import numpy as np

from .base import TASKS
from .linear_algebra import MatrixConfig, MatrixTask


@TASKS.register("matrix_product", config=MatrixConfig)
class MatrixProductTask(MatrixTask):
    def operand_shapes(self, rows, cols):
        if self.cfg.lawt_layout:
            return [(rows, 2 * cols)]
        return [(rows, cols), (cols, rows)]

    def drawn_size(self, rows, cols):
        return (rows, cols // 2) if self.cfg.lawt_layout else (rows, cols)

    def output_shape(self, rows, cols):
        return (cols, cols) if self.cfg.lawt_layout else (rows, rows)

    def solve(self, operands: list[np.ndarray]) -> np.ndarray:
        if self.cfg.lawt_layout:
            (ab,) = operands
            half = ab.shape[2] // 2
            return np.swapaxes(ab[:, :, :half], 1, 2) @ ab[:, :, half:]
        return operands[0] @ operands[1]
