"""Tiny training runs learn the new tasks: well above the modal predictor (always the most common answer).

Each run is a 1+1-layer, 64-dimensional encoder-decoder trained for a few hundred steps on CPU.
"""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from conftest import make_config
from int2int.train import train

TINY_MODEL = [
    "architecture.n_enc_layers=1", "architecture.n_dec_layers=1",
    "architecture.enc_emb_dim=64", "architecture.dec_emb_dim=64",
    "architecture.n_enc_heads=4", "architecture.n_dec_heads=4",
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
    classes = record["classes"]["valid"]  # the class is the answer, 0 or 1
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
    classes = record["classes"]["valid"]  # the class is the number of carries: 0, 1 or 2
    assert set(classes) == {"0", "1", "2"}
    assert all(right > 0 for _, right in classes.values()), classes


NEW_TASKS = ["fraction_add", "fraction_product", "fraction_simplify", "fraction_round", "fraction_compare",
             "fraction_determinant", "matrix_rank", "add", "sub", "mix"]


@pytest.mark.parametrize("name", NEW_TASKS)
def test_every_task_trains_and_evaluates(tmp_path, name):
    """One tiny epoch through the whole loop: generation, batching, decoding, verifier, per-class counts."""
    record = train(make_config(f"task={name}", "encoding.base=10", "schedule.epoch_size=64", "schedule.batch_size=32",
                               "eval.size=50", "eval.batch_size=25", "architecture.enc_emb_dim=32",
                               "architecture.dec_emb_dim=32", "architecture.n_enc_heads=2", "architecture.n_dec_heads=2",
                               "schedule.max_epoch=1", "hardware.device=cpu", "hardware.num_threads=1"), tmp_path)
    classes = record["classes"]["valid"]
    assert sum(n for n, _ in classes.values()) == record["valid_size"] == 50
    assert 0 <= record["valid_acc"] <= 1
