"""The training core: learning above chance, reproducibility, checkpoints, resume, decoding."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from conftest import TINY, make_config, read_classes, strip_timing
from int2int.data.tensors import to_tensors
from int2int.decoding import greedy
from int2int.encodings import EOS
from int2int.models import build_model
from int2int.run_files import read_metrics
from int2int.tasks import build_task
from int2int.train import train


def epochs(run_dir) -> list[int]:
    return [r["epoch"] for r in read_metrics(run_dir)]


def strip_time(records):
    return strip_timing(records)


@pytest.mark.slow
def test_tiny_gcd_run_learns_above_the_modal_predictor(tmp_path):
    cfg = make_config("encoding.base=30", "architecture.enc_emb_dim=64", "architecture.dec_emb_dim=64",
                      "architecture.n_enc_heads=4", "architecture.n_dec_heads=4", "schedule.epoch_size=12800",
                      "schedule.max_epoch=1", "schedule.batch_size=128", "eval.size=1000", "hardware.device=cpu",
                      "optimizer.lr=1e-3")  # faster than the default 3e-4 over 100 steps (which plateaus later on)
    record = train(cfg, tmp_path)
    classes = read_classes(tmp_path)[1]["valid"]
    modal = max(n for n, _ in classes.values()) / sum(n for n, _ in classes.values())  # always answering gcd=1
    assert 0.55 < modal < 0.7
    assert record["valid_acc"] > modal + 0.1, (record["valid_acc"], modal)
    assert record["valid_correct"] >= record["valid_acc"]


def test_same_seed_same_metrics(tmp_path):
    a = train(make_config(*TINY, "seed=7"), tmp_path / "a")
    b = train(make_config(*TINY, "seed=7"), tmp_path / "b")
    assert strip_time(read_metrics(tmp_path / "a")) == strip_time(read_metrics(tmp_path / "b"))
    c = train(make_config(*TINY, "seed=8"), tmp_path / "c")
    assert a["train_loss"] != c["train_loss"]
    assert a["valid_size"] == b["valid_size"] == 200


def test_metrics_record_schema(tmp_path):
    record = train(make_config(*TINY), tmp_path)
    for key in ("epoch", "examples", "steps", "wall_time", "train_loss", "lr", "valid_xe_loss", "valid_acc",
                "valid_perfect", "valid_correct", "valid_size"):
        assert key in record, key
    assert record["eval_sets"] == ["valid"]
    assert record["examples"] == 2 * 512 and record["steps"] == 2 * 8
    counts = read_classes(tmp_path)[2]["valid"]
    assert sum(n for n, _ in counts.values()) == 200
    assert all(0 <= c <= n for n, c in counts.values())
    assert math.isclose(sum(c for _, c in counts.values()) / 200, record["valid_acc"])


def test_checkpoint_loads_with_weights_only(tmp_path):
    train(make_config(*TINY), tmp_path)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert json.loads(state["progress"])["epoch"] == 2
    assert set(state) >= {"model", "optimizer", "rng", "progress", "config"}
    assert json.loads(state["config"])["task"]["name"] == "gcd"


def test_resume_continues_without_lost_or_duplicated_epochs(tmp_path):
    full = tmp_path / "full"
    train(make_config(*TINY, "schedule.max_epoch=4"), full)
    part = tmp_path / "part"
    train(make_config(*TINY, "schedule.max_epoch=2"), part)
    assert epochs(part) == [1, 2]
    train(make_config(*TINY, "schedule.max_epoch=4"), part)
    assert epochs(part) == [1, 2, 3, 4]
    # resuming gives exactly the run that was never interrupted
    assert strip_time(read_metrics(part)) == strip_time(read_metrics(full))


def test_resume_repairs_a_run_killed_between_metrics_and_checkpoint(tmp_path):
    train(make_config(*TINY, "schedule.max_epoch=2"), tmp_path)
    good = read_metrics(tmp_path)
    with open(tmp_path / "metrics.jsonl", "a") as f:  # epoch 3 logged but its checkpoint never written...
        f.write(json.dumps({**good[-1], "epoch": 3}) + "\n")
        f.write('{"epoch": 4, "exa')  # ...and a line cut mid-write
    train(make_config(*TINY, "schedule.max_epoch=3"), tmp_path)
    assert epochs(tmp_path) == [1, 2, 3]
    assert strip_time(read_metrics(tmp_path)[:2]) == strip_time(good)


def test_finished_run_does_nothing_more(tmp_path):
    train(make_config(*TINY), tmp_path)
    before = (tmp_path / "metrics.jsonl").read_text(), (tmp_path / "checkpoint.pt").stat().st_mtime_ns
    train(make_config(*TINY), tmp_path)
    assert ((tmp_path / "metrics.jsonl").read_text(), (tmp_path / "checkpoint.pt").stat().st_mtime_ns) == before


def test_kv_cached_greedy_equals_uncached_decoding():
    cfg = make_config(*TINY, "architecture.n_dec_layers=2", "encoding.base=10")
    task = build_task(cfg)
    torch.manual_seed(0)
    model = build_model(cfg.architecture, len(task.vocab)).eval()
    b = to_tensors(task.generate(np.random.default_rng(0), 64), torch.device("cpu"))
    max_len = 11
    out, lengths, ended = greedy(model, b.x, b.x_len, max_len)
    # uncached: rerun the whole decoder on the growing prefix at every step
    seq = torch.full((64, 1), EOS)
    with torch.no_grad():
        for _ in range(max_len + 1):
            nxt = model.logits(b.x, b.x_len, seq)[:, -1].argmax(-1)
            seq = torch.cat([seq, nxt[:, None]], dim=1)
    for i in range(64):
        ref = seq[i, 1:].tolist()
        n = ref.index(EOS) if EOS in ref else max_len + 1
        assert bool(ended[i]) == (EOS in ref)
        assert int(lengths[i]) == n
        assert out[i, :n].tolist() == ref[:n]


def test_sequences_longer_than_max_positions_fail_before_training(tmp_path):
    from int2int.config import ConfigError

    with pytest.raises(ConfigError, match="architecture.max_positions"):
        train(make_config(*TINY, "encoding.base=2", "architecture.max_positions=16"), tmp_path)
    assert not (tmp_path / "checkpoint.pt").exists()
