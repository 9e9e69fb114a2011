"""``task=svd``: a matrix A (rows x cols) -> its singular value decomposition as one (1 + rows + cols) x k array,
k = min(rows, cols): row 0 the singular values (descending), then U (rows x k), then V (cols x k), A = U S V^T.

Checked by reconstruction (any order or sign of the singular vectors): sum|U^T A V - diag(sigma)| / sum sigma and,
unlike LAWT, orthonormality of U and V: (sum|U^T U - I| + sum|V^T V - I|) / 2k; the error is the larger."""

from __future__ import annotations

import numpy as np

from .base import TASKS
from .linear_algebra import MatrixConfig, MatrixTask, orthonormality


@TASKS.register("svd", config=MatrixConfig)
class SvdTask(MatrixTask):
    def output_shape(self, rows, cols):
        return 1 + rows + cols, np.minimum(rows, cols)

    def solve(self, operands: list[np.ndarray]) -> np.ndarray:
        u, s, vt = np.linalg.svd(operands[0], full_matrices=False)
        return np.concatenate([s[:, None, :], u, np.swapaxes(vt, 1, 2)], axis=1)

    def errors(self, operands, target, answer):
        (a,) = operands
        rows, k = a.shape[1], answer.shape[2]
        sigma, u, v = answer[:, 0, :], answer[:, 1 : 1 + rows, :], answer[:, 1 + rows :, :]
        recon = np.einsum("nji,njk,nkl->nil", u, a, v)
        diag = np.einsum("ni,ij->nij", sigma, np.eye(k))
        scale = np.abs(sigma).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            err = np.abs(recon - diag).sum(axis=(1, 2)) / np.where(scale > 0, scale, np.nan)
        return np.maximum(np.nan_to_num(err, nan=np.inf), (orthonormality(u) + orthonormality(v)) / 2)
