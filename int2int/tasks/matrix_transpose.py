"""``task=matrix_transpose``: A (rows x cols) -> A^T (LAWT's transpose)."""

from __future__ import annotations

import numpy as np

from .base import TASKS
from .linear_algebra import MatrixConfig, MatrixTask


@TASKS.register("matrix_transpose", config=MatrixConfig)
class MatrixTransposeTask(MatrixTask):
    def output_shape(self, rows, cols):
        return cols, rows

    def solve(self, operands: list[np.ndarray]) -> np.ndarray:
        return np.swapaxes(operands[0], 1, 2)
