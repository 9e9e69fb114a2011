"""Evaluation of one set: teacher-forced cross-entropy, then greedy decoding or beam search judged by the task.

Semantics are the original's: an example whose teacher-forced prediction is perfect (the argmax at every position
is the target's token, which is also what greedy decoding produces) is right; otherwise the decoded output is judged
by the task's verifier, and with beam search (``eval.beam_size`` K > 1) the example is right when any of its K
finished hypotheses is. ``acc``, ``perfect``, ``correct`` and the task's extra metrics credit any hypothesis;
``top1_acc`` is the best hypothesis alone. So an example that greedy decoding gets perfect stays right with beam
search, whatever the beam finds.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .config import EvalConfig, Precision
from .data.examples import Examples
from .data.tensors import to_tensors
from .encodings.vocab import PAD
from .stepper import autocast

log = logging.getLogger(__name__)


@dataclass
class SetResult:
    """Metrics of one evaluation set, its per-class counts, and (optionally) its predictions table."""

    metrics: dict[str, float | int]
    classes: dict[str, list[int]]
    predictions: Any = None  # a pandas DataFrame with eval.save_predictions


def same_tokens(a: np.ndarray, a_len: np.ndarray, b: np.ndarray, b_len: np.ndarray) -> np.ndarray:
    """Rows of two padded id matrices that hold the same tokens."""
    width = max(a.shape[1], b.shape[1])
    pa = np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=PAD)
    pb = np.pad(b, ((0, 0), (0, width - b.shape[1])), constant_values=PAD)
    return (a_len == b_len) & (pa == pb).all(axis=1)


class Judged:
    """Verdicts on K hypotheses per example (K = 1 for greedy decoding): n x K arrays."""

    def __init__(self, task, ex: Examples, out: np.ndarray, lengths: np.ndarray, ended: np.ndarray):
        n, k = lengths.shape
        rep = ex.take(np.repeat(np.arange(n), k))
        flat_out, flat_len = out.reshape(n * k, -1), lengths.reshape(-1)
        verdict = task.verify(rep, flat_out, flat_len)
        ended = ended.reshape(n * k)
        perfect = ended & same_tokens(flat_out, flat_len, rep.y, rep.y_len)
        self.acc = (ended & (verdict.acc | perfect)).reshape(n, k)
        self.perfect = perfect.reshape(n, k)
        self.correct = (ended & verdict.correct).reshape(n, k)
        self.extra = {name: (ended & m).reshape(n, k) for name, m in verdict.extra.items()}
        self.classes = verdict.classes.reshape(n, k)[:, 0]
        self.values = None if verdict.values is None else verdict.values.reshape(n, k)[:, 0]
        self.ok_values = None if verdict.values is None else self.correct[:, 0]


@torch.no_grad()
def teacher_forced(model, b, max_output_len: int) -> tuple[float, np.ndarray, Any, torch.Tensor]:
    """Summed cross-entropy of a batch, whether each example's argmax prediction is its target exactly, the
    model's decoding state of the batch when it comes with the same pass (else None), and the argmax tokens."""
    logits, state = model.logits_and_start(b.x, b.x_len, b.y_in, max_output_len)
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), b.y_out.flatten(), ignore_index=PAD,
                                             reduction="sum")
    pred = logits.argmax(dim=-1)
    hit = (pred == b.y_out) | (b.y_out == PAD)
    return float(loss), hit.all(dim=1).cpu().numpy(), state, pred


@torch.no_grad()
def evaluate(model, task, data: Examples, cfg: EvalConfig, max_output_len: int, device: torch.device,
             name: str = "valid", predictions: bool = False, precision: Precision = Precision.fp32) -> SetResult:
    """Metrics of ``model`` on ``data``: ``{name}_xe_loss, _acc, _perfect, _correct, _size``, ``_top1_acc`` with
    beam search, one ``{name}_<metric>`` per extra metric of the task, and per-class counts
    ``{class: [count, right]}``. The model runs under ``precision``'s autocast; losses and beam scores are
    computed in fp32."""
    was_training = model.training
    model.eval()
    loss_sum, n_tokens, k = 0.0, 0, cfg.beam_size
    parts: dict[str, list[np.ndarray]] = {key: [] for key in ("acc", "top1", "perfect", "correct", "classes")}
    extra: dict[str, list[np.ndarray]] = {m: [] for m in task.extra_metrics}
    rows: list[dict[str, Any]] = []
    for start in range(0, len(data), cfg.batch_size):
        ex = data.take(slice(start, start + cfg.batch_size))
        b = to_tensors(ex, device)
        with autocast(device, precision):
            loss, tf_perfect, state, pred = teacher_forced(model, b, max_output_len)
            out, lengths, ended = decode(model, b, ex, tf_perfect, cfg, max_output_len, state, pred)
        loss_sum, n_tokens = loss_sum + loss, n_tokens + b.n_tokens
        j = Judged(task, ex, out, lengths, ended)
        parts["acc"].append(tf_perfect | j.acc.any(axis=1))
        parts["top1"].append(j.acc[:, 0])
        parts["perfect"].append(tf_perfect | j.perfect.any(axis=1))
        parts["correct"].append(tf_perfect | j.correct.any(axis=1))
        parts["classes"].append(j.classes)
        if extra:
            target = Judged(task, ex, ex.y[:, None, :], ex.y_len[:, None], np.ones((len(ex), 1), dtype=bool))
            for m in extra:
                extra[m].append(np.where(tf_perfect, target.extra[m][:, 0], j.extra[m].any(axis=1)))
        if predictions:
            rows.append(prediction_rows(task, ex, out, lengths, ended, j, parts["acc"][-1]))
    model.train(was_training)
    acc, classes = np.concatenate(parts["acc"]), np.concatenate(parts["classes"])
    metrics: dict[str, float | int] = {
        f"{name}_xe_loss": loss_sum / max(n_tokens, 1),
        f"{name}_acc": float(acc.mean()),
        f"{name}_perfect": float(np.concatenate(parts["perfect"]).mean()),
        f"{name}_correct": float(np.concatenate(parts["correct"]).mean()),
        f"{name}_size": int(len(data)),
    }
    if k > 1:
        metrics[f"{name}_top1_acc"] = float(np.concatenate(parts["top1"]).mean())
    for m, values in extra.items():
        metrics[f"{name}_{m}"] = float(np.concatenate(values).mean())
    table = None
    if predictions:
        import pandas as pd

        table = pd.concat(rows, ignore_index=True)
    return SetResult(metrics, per_class(classes, acc), table)


def decode(model, b, ex: Examples, tf_perfect: np.ndarray, cfg: EvalConfig, max_output_len: int,
           state: Any = None, pred: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hypotheses (n x K x T), lengths and ended flags (n x K) of a batch. Greedy decoding of an example whose
    teacher-forced prediction is perfect gives its target, token for token: only the others are decoded (as the
    original does), which makes evaluation cheaper the better the model. ``state``: the batch's decoding state
    from the teacher-forced pass (its encoder output, and the keys and values of its positions when the model
    keeps them), or None; ``pred``: that pass's argmax tokens.

    Greedy decoding of the others repeats the teacher-forced argmax up to each one's first wrong token (its inputs
    are the target's until then): where the state holds the pass's positions, decoding takes up after the earliest
    first wrong token of the batch, and always skips its first step."""
    k = cfg.beam_size
    if k > 1:  # every example: the best hypothesis of each is top1_acc
        gen = model.generate(b.x, b.x_len, max_output_len, k, cfg.beam_length_penalty, cfg.beam_early_stopping,
                             state=state)
        return tuple(t.cpu().numpy() for t in gen[:3])
    n = len(ex)
    out = np.full((n, 1, max(ex.y.shape[1], 1)), PAD, dtype=np.int64)
    out[:, 0, : ex.y.shape[1]] = np.where(tf_perfect[:, None], ex.y, PAD)
    lengths = np.where(tf_perfect, ex.y_len, 0)[:, None]
    ended = tf_perfect.copy()[:, None]
    todo = np.nonzero(~tf_perfect)[0]
    if todo.size:
        rows = torch.from_numpy(todo).to(b.x.device)
        sub = None if state is None else model.reorder(state, rows)
        prefix = None
        cached = 0 if state is None or pred is None else model.teacher_forced_positions(state)
        if cached:
            target = b.y_out[rows]
            wrong = (pred[rows] != target) & (target != PAD)
            prefix = pred[rows, : min(cached, int(wrong.int().argmax(dim=1).min()) + 1)]
        gen_out, gen_len, gen_ended = (t.cpu().numpy() for t in model.generate(b.x[rows], b.x_len[rows],
                                                                                max_output_len, state=sub,
                                                                                prefix=prefix))
        if gen_out.shape[1] > out.shape[2]:
            out = np.pad(out, ((0, 0), (0, 0), (0, gen_out.shape[1] - out.shape[2])), constant_values=PAD)
        out[todo, 0, :] = PAD
        out[todo, 0, : gen_out.shape[1]] = gen_out
        lengths[todo, 0], ended[todo, 0] = gen_len, gen_ended
    return out, lengths, ended


def per_class(classes: np.ndarray, acc: np.ndarray) -> dict[str, list[int]]:
    """``{class: [count, right]}`` in a stable order (numeric classes by value, then the others)."""
    counts, hits = Counter(classes.tolist()), Counter(classes[acc].tolist())
    order = sorted(counts, key=lambda c: (0, int(c), "") if isinstance(c, (int, np.integer)) else (1, 0, str(c)))
    return {str(key): [int(counts[key]), int(hits.get(key, 0))] for key in order}


def prediction_rows(task, ex: Examples, out: np.ndarray, lengths: np.ndarray, ended: np.ndarray, j: Judged,
                    acc: np.ndarray):
    """The rows of ``predictions/<set>-epoch<E>.parquet`` for one batch (see analysis/README.md)."""
    import pandas as pd

    n, k = lengths.shape
    vocab = task.vocab
    hyps = vocab.lines(out.reshape(n * k, -1), lengths.reshape(-1))
    hyps = [hyps[i * k:(i + 1) * k] for i in range(n)]
    target = Judged(task, ex, ex.y[:, None, :], ex.y_len[:, None], np.ones((n, 1), dtype=bool))
    value = pd.array(np.where(j.ok_values, j.values, 0), dtype="Int64") if j.values is not None else None
    if value is not None:
        value[~j.ok_values] = pd.NA
    return pd.DataFrame({
        "input": vocab.lines(ex.x, ex.x_len),
        "target": vocab.lines(ex.y, ex.y_len),
        "class": [str(c) for c in j.classes],
        "prediction": [h[0] for h in hyps],
        "value": value if value is not None else pd.array([pd.NA] * n, dtype="Int64"),
        "target_value": (pd.array(target.values, dtype="Int64") if target.values is not None
                         else pd.array([pd.NA] * n, dtype="Int64")),
        "acc": acc,
        "top1_acc": j.acc[:, 0],
        "ended": ended[:, 0].astype(bool),
        "hypotheses": hyps,
    })
