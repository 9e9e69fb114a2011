"""``task=eigenvectors``: a symmetric matrix S (dim x dim) -> its eigen decomposition as one (dim+1) x dim array:
row 0 the eigenvalues (descending), then Q, whose columns are the eigenvectors in the same order.

Checked by reconstruction (any order or sign of the eigenvectors): sum|Q^T S Q - diag(lambda)| / sum|lambda| and,
unlike LAWT (where a scaled Q with scaled eigenvalues, or an all-zero answer, passes), orthonormality:
sum|Q^T Q - I| / dim; the error is the larger of the two."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import opt
from .base import TASKS
from .linear_algebra import SymmetricConfig, SymmetricTask, orthonormality


@dataclass
class EigenvectorsConfig(SymmetricConfig):
    name: str = opt("eigenvectors", "Eigenvalues and eigenvectors of a symmetric matrix.")


@TASKS.register("eigenvectors", config=EigenvectorsConfig)
class EigenvectorsTask(SymmetricTask):
    def output_shape(self, rows, cols):
        return rows + 1, rows

    def solve(self, operands: list[np.ndarray]) -> np.ndarray:
        values, vectors = np.linalg.eigh(operands[0])
        return np.concatenate([values[:, None, ::-1], vectors[:, :, ::-1]], axis=1)

    def errors(self, operands, target, answer):
        (s,) = operands
        values, q = answer[:, 0, :], answer[:, 1:, :]
        recon = np.einsum("nji,njk,nkl->nil", q, s, q)
        diag = np.einsum("ni,ij->nij", values, np.eye(values.shape[1]))
        scale = np.abs(values).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            err = np.abs(recon - diag).sum(axis=(1, 2)) / np.where(scale > 0, scale, np.nan)
        return np.maximum(np.nan_to_num(err, nan=np.inf), orthonormality(q))
