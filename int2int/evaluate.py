"""Evaluation: teacher-forced cross-entropy and batched greedy decoding judged by the task's verifier."""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .batching import to_tensors
from .encodings import PAD
from .tasks import Examples, Task

log = logging.getLogger(__name__)


@torch.no_grad()
def evaluate(model: nn.Module, task: Task, data: Examples, batch_size: int, max_output_len: int,
             device: torch.device, name: str = "valid") -> tuple[dict[str, float | int], dict[str, list[int]]]:
    """Metrics of ``model`` on ``data``: ``{name}_xe_loss, _acc, _perfect, _correct, _size`` and per-class counts.

    Returns ``(metrics, classes)`` where ``classes`` maps each class key (as a string) to
    ``[count, n_acc]``.
    """
    was_training = model.training
    model.eval()
    loss_sum, n_tokens = 0.0, 0
    acc, perfect, correct, classes = [], [], [], []
    for start in range(0, len(data), batch_size):
        ex = data.take(slice(start, start + batch_size))
        b = to_tensors(ex, device)
        logits = model(b.x, b.x_len, b.y_in)
        loss_sum += float(F.cross_entropy(logits.flatten(0, 1), b.y_out.flatten(), ignore_index=PAD, reduction="sum"))
        n_tokens += b.n_tokens
        pred, pred_len, ended = model.greedy(b.x, b.x_len, max_output_len)
        pred, pred_len, ended = pred.cpu().numpy(), pred_len.cpu().numpy(), ended.cpu().numpy()
        verdict = task.verify(ex, pred, pred_len)
        width = max(pred.shape[1], ex.y.shape[1])
        p = np.pad(pred, ((0, 0), (0, width - pred.shape[1])), constant_values=PAD)
        y = np.pad(ex.y, ((0, 0), (0, width - ex.y.shape[1])), constant_values=PAD)
        perfect.append(ended & (pred_len == ex.y_len) & (p == y).all(axis=1))
        acc.append(ended & (verdict.acc | perfect[-1]))
        correct.append(ended & verdict.correct)
        classes.append(verdict.classes)
    model.train(was_training)
    acc_a, cls = np.concatenate(acc), np.concatenate(classes)
    counts, hits = Counter(cls.tolist()), Counter(cls[acc_a].tolist())
    per_class = {str(k): [int(counts[k]), int(hits.get(k, 0))] for k in sorted(counts)}
    metrics = {
        f"{name}_xe_loss": loss_sum / max(n_tokens, 1),
        f"{name}_acc": float(acc_a.mean()),
        f"{name}_perfect": float(np.concatenate(perfect).mean()),
        f"{name}_correct": float(np.concatenate(correct).mean()),
        f"{name}_size": int(len(data)),
    }
    return metrics, per_class
