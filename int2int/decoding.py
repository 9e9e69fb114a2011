"""Decoding for every architecture: batched greedy decoding and beam search, both on a key/value cache.

Both drive a model through :meth:`~int2int.models.base.Seq2SeqModel.start`, ``step`` and
``reorder``, so each architecture implements one decoding step and gets both. ``max_len`` is the
longest output, in tokens, without ``<eos>``; an output that reaches it without ``<eos>`` is cut
and flagged as not ended (never judged right).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .encodings import EOS, PAD
from .models.base import Seq2SeqModel


def _steps(model: Seq2SeqModel, max_len: int) -> int:
    return max(1, min(max_len + 1, model.cfg.max_positions - 1))


@torch.no_grad()
def greedy(model: Seq2SeqModel, x: torch.Tensor, x_len: torch.Tensor, max_len: int):
    """Outputs (B x T, ``<pad>`` after the end, no ``<eos>``), their lengths, and whether each ended.

    Stops as soon as every sequence has produced ``<eos>``.
    """
    if not model.autoregressive:
        return model.predict(x, x_len, max_len)
    b, dev = x.shape[0], x.device
    steps = _steps(model, max_len)
    state = model.start(x, x_len, steps)
    out = torch.full((b, steps), PAD, dtype=torch.long, device=dev)
    lengths = torch.full((b,), steps, dtype=torch.long, device=dev)
    done = torch.zeros(b, dtype=torch.bool, device=dev)
    tok = torch.full((b,), EOS, dtype=torch.long, device=dev)
    for pos in range(steps):
        nxt = model.step(state, tok, pos).argmax(dim=-1)
        ended = ~done & (nxt == EOS)
        lengths = torch.where(ended, pos, lengths)
        done |= ended
        out[:, pos] = torch.where(done, PAD, nxt)
        if bool(done.all()):
            break
        tok = nxt
    return out[:, : max(int(lengths.max()), 1)], lengths, done


@torch.no_grad()
def beam_search(model: Seq2SeqModel, x: torch.Tensor, x_len: torch.Tensor, max_len: int, beam_size: int,
                length_penalty: float = 1.0, early_stopping: bool = True):
    """The ``beam_size`` best hypotheses of each input, best first.

    Hypotheses that have ended stay in the beam with their score and compete with the others on
    ``score / length ** length_penalty`` (length counting ``<eos>``). With ``early_stopping`` an
    input stops as soon as its best hypothesis has ended; otherwise when all its hypotheses have.

    Returns outputs (B x K x T), lengths (B x K), ended (B x K) and normalised scores (B x K).
    """
    if not model.autoregressive:
        out, lengths, ended = model.predict(x, x_len, max_len)
        return out[:, None], lengths[:, None], ended[:, None], torch.zeros_like(lengths[:, None], dtype=torch.float)
    b, k, dev = x.shape[0], beam_size, x.device
    steps = _steps(model, max_len)
    state = model.reorder(model.start(x, x_len, steps), torch.arange(b, device=dev).repeat_interleave(k))
    tokens = torch.full((b * k, steps), PAD, dtype=torch.long, device=dev)
    scores = torch.zeros(b, k, device=dev)
    scores[:, 1:] = float("-inf")  # every beam starts as a copy of the first
    scores = scores.view(-1)
    finished = torch.zeros(b * k, dtype=torch.bool, device=dev)
    lengths = torch.full((b * k,), steps, dtype=torch.long, device=dev)
    tok = torch.full((b * k,), EOS, dtype=torch.long, device=dev)
    rows = torch.arange(b, device=dev)[:, None] * k
    for pos in range(steps):
        logp = F.log_softmax(model.step(state, tok, pos).float(), dim=-1)
        v = logp.shape[-1]
        # an ended hypothesis continues only with <pad>, at no cost
        logp = torch.where(finished[:, None], torch.full_like(logp, float("-inf")).index_fill_(1, torch.tensor([PAD], device=dev), 0.0), logp)
        cand = scores[:, None] + logp
        cand_len = torch.where(finished, lengths + 1, pos + 1).float()
        norm = cand / cand_len[:, None] ** length_penalty
        top, idx = norm.view(b, k * v).topk(k, dim=1)
        src = (rows + idx // v).view(-1)
        new_tok = (idx % v).view(-1)
        scores = cand.view(b, k * v).gather(1, idx).view(-1)
        tokens, finished, lengths = tokens[src], finished[src], lengths[src]
        newly = ~finished & (new_tok == EOS)
        lengths = torch.where(newly, pos, lengths)
        tokens[:, pos] = torch.where(finished | newly, PAD, new_tok)
        finished = finished | newly
        state = model.reorder(state, src)
        tok = torch.where(finished, PAD, new_tok)
        best_done = finished.view(b, k)[:, 0] if early_stopping else finished.view(b, k).all(dim=1)
        if bool(best_done.all()):
            break
    width = max(int(lengths.max()), 1)
    return (tokens[:, :width].view(b, k, -1), lengths.view(b, k), finished.view(b, k), top)
