"""Decoding for every architecture: batched greedy decoding and beam search, both on the model's decoding state.

Both drive a model through :meth:`~int2int.models.base.Seq2SeqModel.start`, ``step`` and ``reorder_beams``, so each
architecture implements one decoding step and gets both. ``max_len`` is the longest output, in tokens, without
``<eos>``; an output that reaches it without ``<eos>`` is cut and flagged as not ended (never judged right).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .encodings.vocab import EOS, PAD

NEG_INF = float("-inf")


@torch.no_grad()
def greedy(model, x: torch.Tensor, x_len: torch.Tensor, max_len: int, state=None, prefix: torch.Tensor | None = None):
    """Outputs (B x T, ``<pad>`` after the end, no ``<eos>``), their lengths, and whether each ended.

    Stops as soon as every sequence has produced ``<eos>``. ``state``: ``model.start``'s, when already built.
    ``prefix`` (B x P): the first P tokens greedy decoding gives, known beforehand (evaluation reads them off the
    teacher-forced pass), whose keys and values ``state`` already holds: decoding takes up at position P."""
    if not model.autoregressive:
        return model.predict(x, x_len, max_len)
    b, dev = x.shape[0], x.device
    steps = model.max_steps(max_len)
    state = model.start(x, x_len, steps) if state is None else state
    out = torch.full((b, steps), PAD, dtype=torch.long, device=dev)
    lengths = torch.full((b,), steps, dtype=torch.long, device=dev)
    done = torch.zeros(b, dtype=torch.bool, device=dev)
    tok = torch.full((b,), EOS, dtype=torch.long, device=dev)
    known = 0 if prefix is None else min(prefix.shape[1], steps)
    for pos in range(steps):
        nxt = prefix[:, pos] if pos < known else model.step(state, tok, pos).argmax(dim=-1)
        ended = ~done & (nxt == EOS)
        lengths = torch.where(ended, pos, lengths)
        done |= ended
        out[:, pos] = torch.where(done, PAD, nxt)
        if bool(done.all()):
            break
        tok = nxt
    return out[:, : max(int(lengths.max()), 1)], lengths, done


@torch.no_grad()
def beam_search(model, x: torch.Tensor, x_len: torch.Tensor, max_len: int, beam_size: int,
                length_penalty: float = 1.0, early_stopping: bool = True, state=None):
    """The ``beam_size`` best *finished* hypotheses of each input, best first (the original's beam search).

    K live beams per input. At each step the 2K best one-token continuations are taken in order of their
    log-probability: those that produce ``<eos>`` become finished hypotheses, the others fill the next K live
    beams (continuations after the K-th non-ending one are dropped). Finished hypotheses are ranked by
    ``log-probability / length ** length_penalty`` (length counting ``<eos>``) and the K best are kept. An input
    is done when it has K finished hypotheses and, with ``early_stopping``, at once; without, when no live beam
    can beat the worst of them any more (its best possible score is its log-probability over the longest length).
    At the last step every continuation is finished as cut (not ended, never judged right).

    Returns outputs (B x K x T, ``<pad>`` after the end, no ``<eos>``), lengths (B x K), ended (B x K) and
    normalised scores (B x K, ``-inf`` for an empty slot).
    """
    if not model.autoregressive:
        out, lengths, ended = model.predict(x, x_len, max_len)
        return out[:, None], lengths[:, None], ended[:, None], torch.zeros_like(lengths[:, None], dtype=torch.float)
    b, k, dev = x.shape[0], beam_size, x.device
    steps = model.max_steps(max_len)
    state = model.start(x, x_len, steps) if state is None else state
    # the first step is the same for an input's K hypotheses (all start from <eos>, only the first is live): it is
    # taken once per input, then the state is repeated K times
    first = model.step(state, torch.full((b,), EOS, dtype=torch.long, device=dev), 0)
    state = model.reorder_beams(state, torch.arange(b, device=dev).repeat_interleave(k))
    logits = first.repeat_interleave(k, dim=0)
    live_tokens = torch.full((b * k, steps), PAD, dtype=torch.long, device=dev)
    live_scores = torch.full((b, k), NEG_INF, device=dev)
    live_scores[:, 0] = 0.0  # every beam starts as a copy of the first: only one is live
    fin_tokens = torch.full((b, k, steps), PAD, dtype=torch.long, device=dev)
    fin_len = torch.zeros((b, k), dtype=torch.long, device=dev)
    fin_norm = torch.full((b, k), NEG_INF, device=dev)
    fin_ended = torch.zeros((b, k), dtype=torch.bool, device=dev)
    done = torch.zeros(b, dtype=torch.bool, device=dev)
    rows = torch.arange(b, device=dev)[:, None]
    for pos in range(steps):
        logp = F.log_softmax(logits.float(), dim=-1)
        v = logp.shape[-1]
        cand = (live_scores.view(-1, 1) + logp).view(b, k * v)
        n_cand = min(2 * k, k * v)
        scores, idx = cand.topk(n_cand, dim=1)  # best first
        beam, word = idx // v, idx % v
        last = pos == steps - 1
        ends = (word == EOS) | last
        valid = scores > NEG_INF
        before = torch.cumsum(~ends, dim=1) - (~ends).long()  # non-ending candidates ranked before each one
        considered = valid & (before < k)
        # finished hypotheses: the ending candidates considered, for inputs not done yet
        add = ends & considered & ~done[:, None]
        src_rows = (rows * k + beam).view(-1)
        new_tokens = live_tokens[src_rows].view(b, n_cand, steps)
        cut = ~(word == EOS)  # at the last step a non-<eos> token is kept and the hypothesis is cut
        new_tokens[:, :, pos] = torch.where(cut, word, PAD)
        new_len = torch.where(cut, pos + 1, pos).expand(b, n_cand)
        new_norm = torch.where(add, scores / float(pos + 1) ** length_penalty, NEG_INF)
        all_norm = torch.cat([fin_norm, new_norm], dim=1)
        fin_norm, pick = all_norm.topk(k, dim=1)
        fin_tokens = torch.cat([fin_tokens, new_tokens], dim=1).gather(1, pick[..., None].expand(-1, -1, steps))
        fin_len = torch.cat([fin_len, new_len], dim=1).gather(1, pick)
        fin_ended = torch.cat([fin_ended, ~cut.expand(b, n_cand)], dim=1).gather(1, pick)
        if last:
            break
        # the next live beams: the first k considered candidates that do not end
        keep = considered & ~ends
        order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :k]
        live_scores = torch.where(keep.gather(1, order), scores.gather(1, order), NEG_INF)
        src = (rows * k + beam.gather(1, order)).view(-1)
        live_tokens = live_tokens[src]
        live_tokens[:, pos] = word.gather(1, order).view(-1)
        state = model.reorder_beams(state, src)
        tok = torch.where(live_scores.view(-1) > NEG_INF, live_tokens[:, pos], PAD)
        full = (fin_norm > NEG_INF).all(dim=1)
        if early_stopping:
            done |= full
        else:
            bound = live_scores.max(dim=1).values / float(steps) ** length_penalty
            done |= full & (fin_norm[:, -1] >= bound)
        if bool(done.all()):
            break
        logits = model.step(state, tok, pos + 1)
    width = max(int(fin_len.max()), 1)
    return fin_tokens[:, :, :width], fin_len, fin_ended, fin_norm
