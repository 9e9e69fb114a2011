"""``task=eigenvalues``: a symmetric matrix S (dim x dim) -> its eigenvalues, descending, as a column (dim x 1).

The training matrices' spectrum is ``task.eigen_distribution`` (LAWT's out-of-distribution experiments: train on
one, test on others with ``eval.generated``). With ``task.symmetric=false`` the matrices are general (uniform
entries) and the eigenvalues complex, written as (real, imaginary) pairs, sorted by real part then imaginary part,
descending. Error: relative L1 over the eigenvalues (the order matters, as in LAWT)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Config, opt
from .base import TASKS
from .linear_algebra import MatrixTask, SymmetricConfig, SymmetricTask


@dataclass
class EigenvaluesConfig(SymmetricConfig):
    name: str = opt("eigenvalues", "Eigenvalues of a symmetric matrix, descending.")
    symmetric: bool = opt(True, "Symmetric matrices (real eigenvalues); false: general matrices, complex eigenvalues "
                          "written as (real, imaginary) pairs.")


@TASKS.register("eigenvalues", config=EigenvaluesConfig)
class EigenvaluesTask(SymmetricTask):
    def __init__(self, cfg: Config):
        if not cfg.task.symmetric:
            self.complex_output, self.answer_dtype = True, np.complex128
        super().__init__(cfg)

    def draw_operands(self, rng, shapes):
        if self.cfg.symmetric:
            return super().draw_operands(rng, shapes)
        return MatrixTask.draw_operands(self, rng, shapes)

    def output_shape(self, rows, cols):
        return rows, np.ones_like(rows)

    def solve(self, operands: list[np.ndarray]) -> np.ndarray:
        if self.cfg.symmetric:
            return np.linalg.eigvalsh(operands[0])[:, ::-1, None]
        values = np.linalg.eigvals(operands[0])
        order = np.lexsort((-values.imag, -values.real), axis=-1)
        return np.take_along_axis(values, order, axis=1)[:, :, None]
