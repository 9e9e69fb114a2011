"""Tiny training runs learn the new tasks: well above the modal predictor (always the most common answer).

Each run is a 1+1-layer, 64-dimensional encoder-decoder trained for a few hundred steps on CPU.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

import pytest
import torch

from conftest import make_config, read_classes
from int2int.data.eval_sets import eval_sets
from int2int.data.sources import Source
from int2int.tasks import build_task
from int2int.train import train

TINY_MODEL = [
    "architecture.n_enc_layers=1", "architecture.n_dec_layers=1",
    "architecture.enc_emb_dim=64", "architecture.dec_emb_dim=64",
    "schedule.batch_size=32", "schedule.max_epoch=1", "eval.size=500",
    # one thread: tiny models gain nothing from more, and threads spin badly on a busy machine
    "hardware.device=cpu", "hardware.num_threads=1",
]


@pytest.fixture(autouse=True)
def restore_torch_threads():
    """``hardware.num_threads`` sets torch's process-wide thread count: give other tests theirs back."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_fraction_compare_learns_above_the_modal_predictor(tmp_path, seed):
    cfg = make_config("task=fraction_compare", "encoding.base=10", "schedule.epoch_size=9600", f"seed={seed}",
                      *TINY_MODEL)
    record = train(cfg, tmp_path)
    classes = read_classes(tmp_path)[1]["valid"]  # the class is the answer, 0 or 1
    assert set(classes) == {"0", "1"}
    modal = max(n for n, _ in classes.values()) / sum(n for n, _ in classes.values())
    assert modal < 0.6  # the two answers are about as frequent
    assert record["valid_acc"] > modal + 0.2, (record["valid_acc"], modal)
    assert record["valid_correct"] >= record["valid_acc"]


def modal_sum_accuracy(n_digits: int, base: int) -> float:
    """Accuracy of always answering the most frequent sum of two n-digit integers (exact enumeration)."""
    operands = range(base ** (n_digits - 1), base**n_digits)
    sums = Counter(a + b for a in operands for b in operands)
    return max(sums.values()) / len(operands) ** 2


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_add_learns_above_the_modal_predictor(tmp_path, seed):
    cfg = make_config("task=add", "task.n_digits=2", "task.reverse_output=true", "encoding.base=10",
                      "schedule.epoch_size=19200", f"seed={seed}", *TINY_MODEL)
    record = train(cfg, tmp_path)
    modal = modal_sum_accuracy(2, 10)  # 90 / 8100: the sum 109
    assert modal < 0.02
    assert record["valid_acc"] > modal + 0.3, (record["valid_acc"], modal)
    classes = read_classes(tmp_path)[1]["valid"]  # the class is the number of carries: 0, 1 or 2
    assert set(classes) == {"0", "1", "2"}
    assert all(right > 0 for _, right in classes.values()), classes


NEW_TASKS = ["fraction_add", "fraction_product", "fraction_simplify", "fraction_round", "fraction_compare",
             "fraction_determinant", "matrix_rank", "add", "sub", "mix"]


def unigram_cross_entropy(cfg) -> float:
    """Cross-entropy (nats per token) of the best model that ignores the input and the position: the frequency of
    each token among the validation targets ``y <eos>``. A model below it has learned the answers' structure."""
    task = build_task(cfg)
    valid = eval_sets(cfg, task, Source())["valid"]
    tokens = [t for row, n in zip(valid.y.tolist(), valid.y_len.tolist()) for t in row[:n]] + [0] * len(valid)
    p = np.array(list(Counter(tokens).values()), dtype=float) / len(tokens)
    return float(-(p * np.log(p)).sum())


@pytest.mark.parametrize("name", NEW_TASKS)
def test_every_task_learns_above_the_unigram_baseline(tmp_path, name):
    """A few hundred steps through the whole loop (generation, batching, decoding, verifier, per-class counts):
    the model predicts the validation targets better than their token frequencies do, and writes well-formed
    answers."""
    cfg = make_config(f"task={name}", "encoding.base=10", "schedule.epoch_size=6400", "schedule.batch_size=32",
                      "eval.size=200", "eval.batch_size=100", "architecture.enc_emb_dim=32",
                      "architecture.dec_emb_dim=32", "optimizer.lr=3e-3", "schedule.max_epoch=1",
                      "hardware.device=cpu", "hardware.num_threads=1")
    record = train(cfg, tmp_path)
    classes = read_classes(tmp_path)[1]["valid"]
    assert sum(n for n, _ in classes.values()) == record["valid_size"] == 200
    baseline = unigram_cross_entropy(cfg)
    assert record["valid_xe_loss"] < 0.8 * baseline, (record["valid_xe_loss"], baseline)
    assert record["valid_correct"] > 0.9, record["valid_correct"]
