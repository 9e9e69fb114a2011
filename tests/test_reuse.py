"""Reusing a trained model: mode=eval on a run's checkpoint, python -m int2int.predict, init_from with frozen parts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, TINY, launch_cmd, make_config, read_classes
from int2int.predict import predict
from int2int.run_files import read_metrics
from int2int.train import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny GCD run in base 10, trained for two epochs (enough to answer some GCDs right)."""
    run = tmp_path_factory.mktemp("trained") / "run"
    train(make_config(*TINY, "encoding.base=10", "schedule.epoch_size=6400", "architecture.enc_emb_dim=64",
                      "architecture.dec_emb_dim=64", "optimizer.lr=3e-3"), run)
    return run


def test_mode_eval_gives_the_training_runs_accuracy_on_the_same_set(trained, tmp_path, env):
    last = read_metrics(trained)[-1]
    proc = subprocess.run(launch_cmd("mode=eval", f"eval.checkpoint={trained}", f"hydra.run.dir={tmp_path / 'ev'}"),
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (record,) = read_metrics(tmp_path / "ev")
    assert record["epoch"] == last["epoch"] and record["valid_size"] == last["valid_size"]
    assert record["valid_acc"] == last["valid_acc"] and record["valid_xe_loss"] == pytest.approx(last["valid_xe_loss"])
    assert read_classes(tmp_path / "ev")[2] == read_classes(trained)[2]
    assert json.loads((tmp_path / "ev" / "run.json").read_text())["evaluated"] == str(trained.resolve())
    # any eval.* settings: a beam and a larger set
    proc = subprocess.run(launch_cmd("mode=eval", f"eval.checkpoint={trained}", "eval.beam_size=4", "eval.size=400",
                                     "eval.save_predictions=true", f"hydra.run.dir={tmp_path / 'beam'}"),
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (beam,) = read_metrics(tmp_path / "beam")
    assert beam["valid_size"] == 400 and "valid_top1_acc" in beam
    assert (tmp_path / "beam" / "predictions" / f"valid-epoch{last['epoch']}.parquet").exists()


def test_predict_decodes_and_judges(trained):
    results = predict(trained, ["V2 + 1 0 + 1 2", "V2 + 7 + 1 4"])
    assert [r["target"] for r in results] == ["+ 2", "+ 7"]
    for r in results:
        assert len(r["hypotheses"]) == 1 and r["right"] == [r["hypotheses"][0] == r["target"]]
    beam = predict(trained, ["V2 + 1 0 + 1 2"], beam=3)[0]
    assert len(beam["hypotheses"]) == 3


def test_predict_command_line(trained):
    run = lambda *args, **kw: subprocess.run([sys.executable, "-m", "int2int.predict", str(trained), *args],  # noqa
                                             capture_output=True, text=True, timeout=120, cwd=ROOT, **kw)
    values = run("--values", "10", "12")
    assert values.returncode == 0 and values.stdout.splitlines()[0] == "V2 + 1 0 + 1 2", values.stderr
    piped = run(input="V2 + 1 0 + 1 2\nV2 + 3 + 9\n")
    verdicts = [line for line in piped.stdout.splitlines() if line.strip().startswith("->")]
    assert len(verdicts) == 2, piped.stdout
    for line, gcd in zip(verdicts, (2, 3)):  # the verdict is the truth about the printed value
        value = int(line.split("=")[1].split()[0])
        assert line.endswith("right" if value == gcd else f"wrong (answer + {gcd})"), line
    bad = run("V2 + x")
    assert bad.returncode == 2 and "token 'x' is not in the task's vocabulary" in bad.stderr


def test_init_from_loads_matching_weights_and_freezes_parts_bit_for_bit(trained, tmp_path, caplog):
    small = torch.load(trained / "checkpoint.pt", weights_only=True)["model"]
    # a larger model: 2 encoder layers; layer 0 and the embeddings come from the small model, layer 0 frozen
    cfg = make_config(*TINY, "encoding.base=10", "architecture.enc_emb_dim=64", "architecture.dec_emb_dim=64",
                      "architecture.n_enc_layers=2", f"init_from={trained}", "freeze=[encoder.layers.0.*]",
                      "schedule.max_epoch=1")
    import logging

    with caplog.at_level(logging.INFO):
        train(cfg, tmp_path / "big")
    assert "init_from" in caplog.text and "freeze: " in caplog.text
    big = torch.load(tmp_path / "big" / "checkpoint.pt", weights_only=True)["model"]
    frozen = [k for k in big if k.startswith("encoder.layers.0.")]
    assert frozen and all(torch.equal(big[k], small[k]) for k in frozen)  # bit-identical after training
    assert "encoder.layers.1.attn.qkv.weight" not in small  # the larger model's second layer: its own init
    trained_part = "decoder.layers.0.ffn.0.weight"
    assert not torch.equal(big[trained_part], small[trained_part])  # the rest trained on


def test_freeze_needs_init_from_and_a_matching_name(trained, tmp_path):
    from int2int.config import ConfigError

    with pytest.raises(ConfigError, match="freeze=.*needs init_from"):
        make_config(*TINY, "freeze=[encoder.*]").check()
    with pytest.raises(ConfigError, match="no parameter matches"):
        train(make_config(*TINY, "encoding.base=10", "architecture.enc_emb_dim=64", "architecture.dec_emb_dim=64",
                          f"init_from={trained}", "freeze=[nothing.*]"), tmp_path / "x")


def test_mode_eval_of_a_data_budget_run_rebuilds_its_pool_held_out_and_train_sets(tmp_path, env):
    run = tmp_path / "budget"
    train(make_config(*TINY, "encoding.base=10", "data.budget=2000", "eval.held_out=true", "eval.train_size=300",
                      "schedule.max_epoch=1"), run)
    last = read_metrics(run)[-1]
    proc = subprocess.run(launch_cmd("mode=eval", f"eval.checkpoint={run}",
                                     "+eval.generated.loguni.operands=loguniform", f"hydra.run.dir={tmp_path / 'ev'}"),
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (record,) = read_metrics(tmp_path / "ev")
    for name in ("valid", "train"):  # the same held-out and training-pool sets as the run's own evaluation
        assert (record[f"{name}_size"], record[f"{name}_acc"]) == (last[f"{name}_size"], last[f"{name}_acc"]), name
    assert record["loguni_size"] == 200 and "loguni_acc" not in last  # a set given on the command line
