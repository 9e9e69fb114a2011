"""Tokenized examples to model tensors: ``x <eos>``, decoder input ``<eos> y``, target ``y <eos>``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..encodings.vocab import EOS, PAD
from .examples import Examples


@dataclass
class TensorBatch:
    x: torch.Tensor  # B x (Lx+1), ends with <eos>
    x_len: torch.Tensor  # lengths including <eos>
    y_in: torch.Tensor  # B x (Ly+1): <eos> y
    y_out: torch.Tensor  # B x (Ly+1): y <eos>, <pad> after
    n_tokens: int  # target tokens (loss denominator)


def to_tensors(ex: Examples, device: torch.device) -> TensorBatch:
    n = len(ex)
    rows = np.arange(n)
    x = np.full((n, ex.x.shape[1] + 1), PAD, dtype=np.int64)
    x[:, :-1] = ex.x
    x[rows, ex.x_len] = EOS
    y_in = np.full((n, ex.y.shape[1] + 1), PAD, dtype=np.int64)
    y_in[:, 0] = EOS
    y_in[:, 1:] = ex.y
    y_out = np.full_like(y_in, PAD)
    y_out[:, :-1] = ex.y
    y_out[rows, ex.y_len] = EOS

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).to(device, non_blocking=True)

    return TensorBatch(t(x), t(ex.x_len + 1), t(y_in), t(y_out), int(ex.y_len.sum() + n))
