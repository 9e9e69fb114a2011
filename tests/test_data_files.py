"""Data files: the original's format, clear errors, export round trips, budgets and repeated subsets."""

from __future__ import annotations

import logging
import subprocess

import numpy as np
import pytest

from conftest import TINY, launch_cmd, make_config, read_classes, strip_timing
from int2int.data.files import DataFileError, load_file
from int2int.data.sources import FileStream, Pool, TwoSets, training_source
from int2int.run_files import read_metrics
from int2int.tasks import build_task
from int2int.train import train


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_original_gcd_lines_load_unchanged(tmp_path):
    for base, line in [(10, "V2 + 9 1 1 2 0 + 6 8 0 7 1 2\t+ 8"), (1000, "V2 + 91 120 + 680 712\t+ 8")]:
        task = build_task(make_config(f"encoding.base={base}"))
        ex = load_file(write(tmp_path / f"gcd{base}.txt", [line]), task.vocab, 512)
        values, _, valid = task.input.decode(ex.x, ex.x_len)
        assert valid.all() and values.tolist() == [[91120, 680712]]
        assert task.verify(ex, ex.y, ex.y_len).acc.all()


@pytest.mark.parametrize("lines, message", [
    (None, "no such data file"),
    ([], "the file is empty"),
    (["V2 + 1 0 + 1 2 + 2"], "line 1: expected exactly one TAB"),
    (["V2 + 1 0 + 1 2\t+ 2", "V2 + 1 0\t+ 1 2\t+ 2"],
     "line 2: expected exactly one TAB between input and output, found 2"),
    (["V2 + 1 0 + 1 2\t+ 2", "V2 + 1 0 + 1 x\t+ 2"], "line 2: token 'x' is not in the task's vocabulary"),
    (["V2 + 1 0 + 1 2\t"], "line 1: the output is empty"),
])
def test_bad_training_file_fails_before_training(tmp_path, lines, message):
    path = tmp_path / "train.txt"
    if lines is not None:
        write(path, lines)
    with pytest.raises(DataFileError) as err:
        train(make_config(*TINY, "encoding.base=10", f"data.train_path={path}"), tmp_path / "run")
    assert str(path) in str(err.value) and message in str(err.value)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_bad_eval_file_in_batch_load_mode_fails_before_training(tmp_path):
    good = write(tmp_path / "train.txt", ["V2 + 1 0 + 1 2\t+ 2"] * 10)
    bad = write(tmp_path / "valid.txt", ["V2 + 1 0 + 1 2\t+ 2"] * 5 + ["V2 + 1 0 + 1 2\t+ 2 ?"])
    with pytest.raises(DataFileError, match=r"valid.txt, line 6: token '\?'"):
        train(make_config(*TINY, "encoding.base=10", f"data.train_path={good}", "data.batch_load=true",
                          f"data.eval_paths=[{bad}]"), tmp_path / "run")
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_long_lines_are_dropped_and_counted(tmp_path, caplog):
    path = write(tmp_path / "t.txt", ["V2 + 1 0 + 1 2\t+ 2"] * 3 + ["V2 + 1 0 0 0 0 0 0 + 1 2\t+ 2"])
    task = build_task(make_config("encoding.base=10"))
    with caplog.at_level(logging.WARNING):
        ex = load_file(path, task.vocab, max_len=8)
    assert len(ex) == 3
    assert "dropped 1 examples longer than data.max_len=8" in caplog.text


def test_export_is_reproducible_and_trains_back(tmp_path, env):
    def export(name, seed):
        subprocess.run(launch_cmd("mode=export", "task=gcd", "encoding.base=10", "export.size=3000",
                                  f"export.path={name}", f"seed={seed}", f"hydra.run.dir={tmp_path / 'h'}"),
                       cwd=tmp_path, env=env, check=True, capture_output=True)
        return (tmp_path / name).read_text()

    a, b, c = export("a.txt", 1), export("b.txt", 1), export("c.txt", 2)
    assert a == b and a != c
    lines = a.splitlines()
    assert len(lines) == 3000 and all(line.count("\t") == 1 for line in lines)
    assert lines[0].startswith("V2 + ")
    cfg = make_config(*TINY, "encoding.base=10", f"data.train_path={tmp_path / 'a.txt'}",
                      f"data.eval_paths=[{tmp_path / 'c.txt'},{tmp_path / 'b.txt'}]")
    record = train(cfg, tmp_path / "run")
    assert record["eval_sets"] == ["valid", "test"]
    assert record["valid_size"] == 3000 and record["test_size"] == 3000
    assert record["repetition"] == pytest.approx(1024 / 3000)


def test_file_task_learns_any_output_kind(tmp_path):
    """Outputs 0..4 like elliptic-curve ranks (the original's file mode accepted only 0/1)."""
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(600):
        r = int(rng.integers(0, 5))
        a = int(rng.integers(0, 1000))
        lines.append(f"+ {a} + {r}\t{r}")
    train_path = write(tmp_path / "train.txt", lines[:500])
    valid_path = write(tmp_path / "valid.txt", lines[500:])
    cfg = make_config(*TINY, "task=file", "encoding.base=1000", f"data.train_path={train_path}",
                      f"data.eval_paths=[{valid_path}]", "schedule.max_epoch=4", "schedule.epoch_size=2048")
    record = train(cfg, tmp_path / "run")
    classes = read_classes(tmp_path / "run")[1]["valid"]
    assert set(classes) == {"0", "1", "2", "3", "4"}
    assert record["valid_size"] == 100
    modal = max(n for n, _ in classes.values()) / 100  # always answering the most frequent rank
    assert record["valid_acc"] > modal + 0.3, (record["valid_acc"], modal)


def test_file_task_needs_files():
    from int2int.config import ConfigError

    with pytest.raises(ConfigError, match="data.train_path.*task=file needs a training file"):
        make_config("task=file").check()


def test_batch_load_streams_every_line_in_chunks(tmp_path):
    lines = [f"V2 + {i} + 1\t+ 1" for i in range(1, 251)]
    path = write(tmp_path / "t.txt", lines)
    cfg = make_config("encoding.base=1000", f"data.train_path={path}", "data.batch_load=true", "data.reload_size=100")
    task = build_task(cfg)
    src = training_source(cfg, task, np.random.default_rng(0))
    assert isinstance(src, FileStream)
    seen = []
    for _ in range(5):
        ex = src.batch(50)
        values, _, _ = task.input.decode(ex.x, ex.x_len)
        seen += values[:, 0].tolist()
    assert sorted(seen) == list(range(1, 251))  # one pass, every line once
    state = dict(src.state)
    nxt = src.batch(30)
    src2 = training_source(cfg, task, np.random.default_rng(0))
    src2.load_state(state)
    np.testing.assert_array_equal(src2.batch(30).x, nxt.x)  # resumes at the same place


def test_budget_pool_and_repetition_logged(tmp_path, caplog):
    cfg = make_config(*TINY, "data.budget=100")
    with caplog.at_level(logging.INFO):
        record = train(cfg, tmp_path)
    assert "data budget of 100 examples: each seen ~10.2 times" in caplog.text
    assert record["repetition"] == pytest.approx(1024 / 100)
    task = build_task(cfg)
    src = training_source(cfg, task, np.random.default_rng(0))
    assert isinstance(src, Pool)
    ex = src.batch(5000)
    assert len({tuple(row) for row in ex.x.tolist()}) <= 100


@pytest.mark.parametrize("from_file", [False, True])
def test_two_sets_draw_the_repeated_subset_with_probability_p(tmp_path, from_file):
    overrides = ["encoding.base=1000", "data.repeat_size=10", "data.repeat_prob=0.3"]
    if from_file:
        # the first 10 lines are the repeated subset: operand a < 100 there, >= 100 elsewhere
        lines = [f"V2 + {i} + 1\t+ 1" for i in range(10)] + [f"V2 + {100 + i} + 1\t+ 1" for i in range(500)]
        overrides.append(f"data.train_path={write(tmp_path / 't.txt', lines)}")
    cfg = make_config(*overrides)
    task = build_task(cfg)
    src = training_source(cfg, task, np.random.default_rng(0))
    assert isinstance(src, TwoSets)
    ex = src.batch(20000)
    rows = [tuple(r[:l]) for r, l in zip(ex.x.tolist(), ex.x_len.tolist())]
    repeated = {tuple(r[:l]) for r, l in zip(src.pool.x.tolist(), src.pool.x_len.tolist())}
    share = np.mean([r in repeated for r in rows])
    assert abs(share - 0.3) < 0.02


def test_generated_examples_resume_identically_with_files(tmp_path):
    lines = [f"V2 + {i} + {2 * i}\t+ {i}" for i in range(1, 400)]
    path = write(tmp_path / "t.txt", lines)
    args = [*TINY, "encoding.base=1000", f"data.train_path={path}"]
    train(make_config(*args, "schedule.max_epoch=3"), tmp_path / "full")
    train(make_config(*args, "schedule.max_epoch=1"), tmp_path / "part")
    train(make_config(*args, "schedule.max_epoch=3"), tmp_path / "part")
    assert strip_timing(read_metrics(tmp_path / "part")) == strip_timing(read_metrics(tmp_path / "full"))
