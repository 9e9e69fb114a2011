"""``task=singular_values``: a matrix A (rows x cols) -> its min(rows, cols) singular values, descending, as a column.

Error: relative L1 over the singular values (LAWT's check of this task raised an error: all its answers counted
as wrong)."""

from __future__ import annotations

import numpy as np

from .base import TASKS
from .linear_algebra import MatrixConfig, MatrixTask


@TASKS.register("singular_values", config=MatrixConfig)
class SingularValuesTask(MatrixTask):
    def output_shape(self, rows, cols):
        return np.minimum(rows, cols), np.ones_like(rows)

    def solve(self, operands: list[np.ndarray]) -> np.ndarray:
        return np.linalg.svd(operands[0], compute_uv=False)[:, :, None]
