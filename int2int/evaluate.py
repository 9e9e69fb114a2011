"""Evaluation: teacher-forced cross-entropy, then greedy decoding or beam search judged by the task's verifier."""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import torch

from .batching import to_tensors
from .config import EvalConfig
from .decoding import beam_search, greedy
from .encodings import PAD
from .models.base import Seq2SeqModel
from .tasks import Examples, Task

log = logging.getLogger(__name__)


def _judge(task: Task, ex: Examples, pred: np.ndarray, pred_len: np.ndarray, ended: np.ndarray):
    """(acc, perfect, correct, classes) of one hypothesis per example."""
    verdict = task.verify(ex, pred, pred_len)
    width = max(pred.shape[1], ex.y.shape[1])
    p = np.pad(pred, ((0, 0), (0, width - pred.shape[1])), constant_values=PAD)
    y = np.pad(ex.y, ((0, 0), (0, width - ex.y.shape[1])), constant_values=PAD)
    perfect = ended & (pred_len == ex.y_len) & (p == y).all(axis=1)
    return ended & (verdict.acc | perfect), perfect, ended & verdict.correct, verdict.classes


@torch.no_grad()
def evaluate(model: Seq2SeqModel, task: Task, data: Examples, cfg: EvalConfig, max_output_len: int,
             device: torch.device, name: str = "valid") -> tuple[dict[str, float | int], dict[str, list[int]]]:
    """Metrics of ``model`` on ``data``: ``{name}_xe_loss, _acc, _perfect, _correct, _size`` and per-class counts.

    With ``cfg.beam_size`` K > 1, ``acc`` credits an example when any of its K hypotheses is right
    (top-K accuracy), ``top1_acc`` is the accuracy of the best hypothesis, and ``perfect`` and
    ``correct`` are those of the best hypothesis. Returns ``(metrics, classes)``, ``classes``
    mapping each class key (a string) to ``[count, n_acc]``.
    """
    was_training = model.training
    model.eval()
    loss_sum, n_tokens = 0.0, 0
    acc, top1, perfect, correct, classes = [], [], [], [], []
    k = cfg.beam_size
    for start in range(0, len(data), cfg.batch_size):
        ex = data.take(slice(start, start + cfg.batch_size))
        b = to_tensors(ex, device)
        loss_sum += float(model.loss(b.x, b.x_len, b.y_in, b.y_out, reduction="sum"))
        n_tokens += b.n_tokens
        if k == 1:
            out, lengths, ended = (t.cpu().numpy() for t in greedy(model, b.x, b.x_len, max_output_len))
            a, p, c, cls = _judge(task, ex, out, lengths, ended)
            acc.append(a)
            top1.append(a)
        else:
            out, lengths, ended, _ = (t.cpu().numpy() for t in beam_search(
                model, b.x, b.x_len, max_output_len, k, cfg.beam_length_penalty, cfg.beam_early_stopping))
            n, kk = lengths.shape
            rep = ex.take(np.repeat(np.arange(n), kk))
            a, p, c, cls = _judge(task, rep, out.reshape(n * kk, -1), lengths.reshape(-1), ended.reshape(-1))
            a, p, c, cls = a.reshape(n, kk), p.reshape(n, kk)[:, 0], c.reshape(n, kk)[:, 0], cls.reshape(n, kk)[:, 0]
            acc.append(a.any(axis=1))
            top1.append(a[:, 0])
        perfect.append(p)
        correct.append(c)
        classes.append(cls)
    model.train(was_training)
    acc_a, cls_a = np.concatenate(acc), np.concatenate(classes)
    counts, hits = Counter(cls_a.tolist()), Counter(cls_a[acc_a].tolist())
    order = sorted(counts, key=lambda c: (0, int(c), "") if isinstance(c, (int, np.integer)) else (1, 0, str(c)))
    per_class = {str(key): [int(counts[key]), int(hits.get(key, 0))] for key in order}
    metrics: dict[str, float | int] = {
        f"{name}_xe_loss": loss_sum / max(n_tokens, 1),
        f"{name}_acc": float(acc_a.mean()),
        f"{name}_perfect": float(np.concatenate(perfect).mean()),
        f"{name}_correct": float(np.concatenate(correct).mean()),
        f"{name}_size": int(len(data)),
    }
    if k > 1:
        metrics[f"{name}_top1_acc"] = float(np.concatenate(top1).mean())
    return metrics, per_class
