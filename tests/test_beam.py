"""Beam search against exhaustive enumeration on toy models whose next-token distributions are fixed by hand, and
the original's crediting rules in evaluation (any finished hypothesis; greedy-perfect examples stay right)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from int2int.decoding import beam_search
from int2int.encodings.vocab import EOS, PAD

A, B = 3, 4  # the two output tokens of the toy models (ids 0-2 are <eos>, <pad>, <sep>)
V = 5


class TableModel:
    """A decoder whose next-token log-probabilities depend on the prefix only, through ``table(prefix)``, which
    gives probabilities of (<eos>, A, B); every other token has probability 0."""

    autoregressive = True

    def __init__(self, table, max_positions: int = 64):
        self.table = table

    def max_steps(self, max_len: int) -> int:
        return max_len + 1

    def start(self, x, x_len, max_len):
        return [() for _ in range(x.shape[0])]

    def step(self, state, tokens, pos):
        if pos > 0:
            for i, t in enumerate(tokens.tolist()):
                state[i] = state[i] + (t,)
        logits = torch.full((len(state), V), -math.inf)
        for i, prefix in enumerate(state):
            if PAD in prefix:  # a dead beam: anything, it is never used
                logits[i, EOS] = 0.0
                continue
            p = self.table(prefix)
            logits[i, EOS], logits[i, A], logits[i, B] = (math.log(v) if v > 0 else -math.inf for v in p)
        return logits

    def reorder_beams(self, state, index):
        return [state[i] for i in index.tolist()]


def exhaustive_top_k(table, max_len: int, k: int, penalty: float) -> list[tuple[tuple[int, ...], bool, float]]:
    """Every hypothesis a beam can end with, scored as beam search scores finished ones: sequences of up to
    ``max_len`` tokens then <eos> (ended), and sequences of ``max_len + 1`` tokens (cut at the length bound)."""
    hyps = []
    for n in range(max_len + 2):
        for seq in itertools.product((A, B), repeat=n):
            logp, prefix = 0.0, ()
            for t in seq:
                logp += math.log(max(table(prefix)[1 if t == A else 2], 1e-300))
                prefix += (t,)
            if n <= max_len:
                p_eos = table(prefix)[0]
                if p_eos > 0:
                    hyps.append((seq, True, (logp + math.log(p_eos)) / (n + 1) ** penalty))
            else:
                hyps.append((seq, False, logp / n**penalty))
    hyps.sort(key=lambda h: -h[2])
    return hyps[:k]


def run_beam(table, max_len, k, penalty, early_stopping=False):
    x = torch.zeros((1, 2), dtype=torch.long)
    out, lengths, ended, scores = beam_search(TableModel(table), x, torch.tensor([2]), max_len, k, penalty,
                                              early_stopping)
    got = []
    for j in range(k):
        if scores[0, j] == -math.inf:
            continue
        n = int(lengths[0, j])
        got.append((tuple(out[0, j, :n].tolist()), bool(ended[0, j]), float(scores[0, j])))
    return got


def random_table(seed: int):
    cache: dict = {}

    def table(prefix):
        if prefix not in cache:
            rng = np.random.default_rng([seed, *prefix])
            p = rng.dirichlet([0.7, 1.0, 1.0])
            cache[prefix] = tuple(float(v) for v in p)
        return cache[prefix]

    return table


def same_hypotheses(got, want):
    assert [(s, e) for s, e, _ in got] == [(s, e) for s, e, _ in want], (got, want)
    np.testing.assert_allclose([sc for *_, sc in got], [sc for *_, sc in want], rtol=1e-5)


# a hand-made model: after A it ends at once (p 0.5), after B A it ends for sure; greedy ends right away
HAND = {(): (0.40, 0.35, 0.25), (A,): (0.50, 0.30, 0.20), (B,): (0.00, 0.90, 0.10), (B, A): (1.0, 0.0, 0.0),
        (A, A): (0.6, 0.2, 0.2), (A, B): (0.6, 0.2, 0.2), (B, B): (0.9, 0.05, 0.05)}


def hand_table(prefix):
    return HAND.get(prefix, (1.0, 0.0, 0.0))


@pytest.mark.parametrize("penalty", [0.0, 1.0, 2.0])
def test_beam_returns_the_exhaustive_top_k_of_a_hand_made_model(penalty):
    # answers of different lengths: <eos> (1 token), A <eos> (2), B A <eos> (3), A A <eos> (3)...
    want = exhaustive_top_k(hand_table, max_len=3, k=3, penalty=penalty)
    assert len({len(s) for s, _, _ in want}) >= 2  # the true top 3 mixes lengths
    same_hypotheses(run_beam(hand_table, 3, 3, penalty), want)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("penalty", [0.0, 1.0, 1.5])
def test_beam_returns_the_exhaustive_top_k_of_random_models(seed, penalty):
    # a beam of 16 holds every prefix of up to 3 tokens over {A, B}: the search is exact, so its 16 finished
    # hypotheses must be exactly the 16 best of all (ended and cut ones, of every length)
    table = random_table(seed)
    same_hypotheses(run_beam(table, 3, 16, penalty), exhaustive_top_k(table, 3, 16, penalty))


def test_early_stopping_stops_at_k_finished_hypotheses():
    # <eos> first (0.40) and A <eos> (0.175) finish at steps 1 and 2: with early stopping, K=2 ends there, before
    # B A <eos> (0.225, found at step 3) could enter; without, the search goes on and finds it
    early = run_beam(hand_table, 3, 2, penalty=0.0, early_stopping=True)
    assert [s for s, _, _ in early] == [(), (A,)]
    full = run_beam(hand_table, 3, 2, penalty=0.0, early_stopping=False)
    assert [s for s, _, _ in full] == [(), (B, A)]
    same_hypotheses(full, exhaustive_top_k(hand_table, 3, 2, 0.0))


def test_beam_keeps_searching_past_a_finished_best_hypothesis():
    # the best hypothesis ends at the first step (<eos>); the old beam stopped there, leaving the others unfinished
    got = run_beam(hand_table, 3, 3, penalty=1.0, early_stopping=True)
    assert len(got) == 3 and all(ended for _, ended, _ in got)


class TableSeq2Seq(TableModel):
    """The table model with teacher forcing and the model interface evaluation uses."""

    training = False

    def eval(self):
        return self

    def train(self, mode: bool = True):
        return self

    def logits(self, x, x_len, y_in):
        out = torch.full((y_in.shape[0], y_in.shape[1], V), -math.inf)
        for i, row in enumerate(y_in.tolist()):
            for j in range(len(row)):
                prefix = tuple(t for t in row[1 : j + 1] if t != PAD)
                p = self.table(prefix)
                out[i, j, EOS], out[i, j, A], out[i, j, B] = (math.log(v) if v > 0 else -1e9 for v in p)
        return out.clamp(min=-1e9)

    def logits_and_start(self, x, x_len, y_in, max_len):
        return self.logits(x, x_len, y_in), None

    def generate(self, x, x_len, max_len, beam_size=1, length_penalty=1.0, early_stopping=True, state=None,
                 prefix=None):
        from int2int.decoding import greedy

        if beam_size == 1:
            return greedy(self, x, x_len, max_len)
        return beam_search(self, x, x_len, max_len, beam_size, length_penalty, early_stopping)


class ExactTask:
    """Right means the exact target tokens; every output is well formed; one class."""

    extra_metrics = ()

    def verify(self, ex, pred, pred_len):
        from int2int.evaluate import same_tokens
        from int2int.tasks import Verdict

        right = same_tokens(pred, pred_len, ex.y, ex.y_len)
        return Verdict(acc=right, correct=np.ones(len(pred), dtype=bool), classes=np.zeros(len(pred), dtype=int))


# greedy answers A A (0.34 x 0.34); a beam of 2 finishes <eos> (0.33) and B A <eos> (0.33 x 0.9) first
GREEDY_PRUNED = {(): (0.33, 0.34, 0.33), (A,): (0.33, 0.34, 0.33), (B,): (0.05, 0.9, 0.05), (A, A): (1.0, 0.0, 0.0)}


def test_an_example_greedy_gets_perfect_stays_right_with_beam_search():
    from int2int.config import EvalConfig
    from int2int.data.examples import Examples
    from int2int.evaluate import evaluate

    table = lambda prefix: GREEDY_PRUNED.get(prefix, (1.0, 0.0, 0.0))  # noqa: E731
    model = TableSeq2Seq(table)
    hyps = run_beam(table, 3, 2, penalty=0.0, early_stopping=True)
    assert [s for s, _, _ in hyps] == [(), (B, A)]  # the beam's finished hypotheses miss the greedy answer A A
    data = Examples(np.array([[A]]), np.array([1]), np.array([[A, A]]), np.array([2]))  # target: A A
    dev = torch.device("cpu")
    greedy_metrics = evaluate(model, ExactTask(), data, EvalConfig(beam_size=1), 3, dev).metrics
    beam_metrics = evaluate(model, ExactTask(), data, EvalConfig(beam_size=2, beam_length_penalty=0.0), 3, dev).metrics
    assert greedy_metrics["valid_acc"] == 1.0
    assert beam_metrics["valid_acc"] == 1.0  # teacher-forced perfect: right, as in the original
    assert beam_metrics["valid_top1_acc"] == 0.0  # the best hypothesis alone is wrong
    # a target the beam finds but greedy decoding does not: credited through any finished hypothesis
    other = Examples(np.array([[A]]), np.array([1]), np.array([[B, A]]), np.array([2]))  # target: B A
    assert evaluate(model, ExactTask(), other, EvalConfig(beam_size=1), 3, dev).metrics["valid_acc"] == 0.0
    beam_other = evaluate(model, ExactTask(), other, EvalConfig(beam_size=2, beam_length_penalty=0.0), 3, dev).metrics
    assert beam_other["valid_acc"] == 1.0 and beam_other["valid_top1_acc"] == 0.0
