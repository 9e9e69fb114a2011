"""Files interchangeable with the original Int2Int, both ways, for every task, in bases 10 and 1000.

- Lines written by hand in the original's format (one table per task) load, are judged right by int2int's verifier
  and decode to the values they were written from.
- Files exported by the original itself (``tests/data/original/``, made by ``scripts/original-fixtures.sh``, which
  runs ``../shared/peers/int2int-original`` with ``--export_data true``) load, every line is right, an independent
  plain-Python check agrees, and a tiny run trains on them.
- int2int's own exports load back and write back byte for byte (export -> load -> export).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import TINY, make_config, task_config
from int2int.data.export import export
from int2int.data.files import load_file, write_examples
from int2int.tasks import build_task
from int2int.train import train
from test_tasks import ALL_TASKS, expected, lines

DATA = Path(__file__).parent / "data" / "original"
ORIGINAL_TASKS = ["gcd", "modular_add", "modular_mul", "fraction_add", "fraction_product", "fraction_simplify",
                  "fraction_round", "fraction_compare", "fraction_determinant", "matrix_rank"]
#: the task options the fixtures were exported with (scripts/original-fixtures.sh)
FIXTURE_OPTIONS = {"matrix_rank": dict(dim1=5, dim2=5, max_int=10), "matrix_rank_3x4": dict(dim1=3, dim2=4, max_int=10),
                   **{f"fraction_{op}": dict(max_int=1000) for op in ("add", "product", "simplify", "round", "compare",
                                                                      "determinant")}}

#: the original's format, written by hand: task -> base -> [(line, values of the input, values of the output)]
HAND = {
    "gcd": {10: [("V2 + 1 0 + 1 2\t+ 2", [10, 12], [2]), ("V2 + 9 1 1 2 0 + 6 8 0 7 1 2\t+ 8", [91120, 680712], [8])],
            1000: [("V2 + 10 + 12\t+ 2", [10, 12], [2]), ("V2 + 91 120 + 680 712\t+ 8", [91120, 680712], [8])]},
    "modular_add": {10: [("V2 + 5 0 + 2 0\t+ 3", [50, 20], [3])], 1000: [("V2 + 50 + 20\t+ 3", [50, 20], [3])]},
    "modular_mul": {10: [("V2 + 1 0 + 1 2\t+ 5 3", [10, 12], [53])], 1000: [("V2 + 10 + 12\t+ 53", [10, 12], [53])]},
    "fraction_add": {10: [("V4 + 1 + 2 + 1 + 3\tV2 + 5 + 6", [1, 2, 1, 3], [5, 6])],
                     1000: [("V4 + 999 + 1 0 + 1 + 1 0\tV2 + 1 + 1", [999, 1000, 1, 1000], [1, 1])]},
    "fraction_product": {10: [("V4 + 2 + 3 + 3 + 4\tV2 + 1 + 2", [2, 3, 3, 4], [1, 2])],
                         1000: [("V4 + 25 + 12 + 4 + 1 0\tV2 + 1 + 120", [25, 12, 4, 1000], [1, 120])]},
    "fraction_simplify": {10: [("V2 + 6 + 9\tV2 + 2 + 3", [6, 9], [2, 3])],
                          1000: [("V2 + 6 + 8\tV2 + 3 + 4", [6, 8], [3, 4])]},
    "fraction_round": {10: [("V2 + 3 8 + 5\t+ 7", [38, 5], [7])],
                       1000: [("V2 + 12 343 + 10\t+ 1 234", [12343, 10], [1234])]},
    "fraction_compare": {10: [("V4 + 1 + 2 + 1 + 3\t1", [1, 2, 1, 3], [1]),
                              ("V4 + 1 + 3 + 1 + 2\t0", [1, 3, 1, 2], [0])],
                         1000: [("V4 + 2 + 4 + 1 + 2\t0", [2, 4, 1, 2], [0])]},
    "fraction_determinant": {10: [("V4 + 1 + 2 + 3 + 4\t- 2", [1, 2, 3, 4], [-2])],
                             1000: [("V4 + 1 0 + 1 + 1 + 1 0\t+ 999 999", [1000, 1, 1, 1000], [999999])]},
    "matrix_rank": {10: [("V2 V2 + 1 - 2 + 3 + 4\t2", [1, -2, 3, 4], [2]),
                         ("V3 V3 + 1 + 0 + 0 + 0 + 1 + 0 + 0 + 0 + 0\t2", [1, 0, 0, 0, 1, 0, 0, 0, 0], [2])],
                    1000: [("V2 V2 - 1 0 + 0 + 0 + 12\t2", [-1000, 0, 0, 12], [2])]},
}


def decode_values(task, ex) -> tuple[list[int], list[int]]:
    """The integers of the first example's input and output, read with the task's own tokenizers."""
    x, _, _ = task.input.decode(ex.x, ex.x_len)
    y = task.output.decode(ex.y, ex.y_len)[0][0]  # a number, or an array's row of numbers
    return [int(v) for v in x[0]], [int(v) for v in np.atleast_1d(y)]


@pytest.mark.parametrize("base", [10, 1000])
@pytest.mark.parametrize("name", ORIGINAL_TASKS)
def test_hand_written_lines_in_the_originals_format_load_and_are_right(tmp_path, name, base):
    rows = HAND[name][base]
    path = tmp_path / "hand.txt"
    path.write_text("".join(line + "\n" for line, _, _ in rows))
    task = build_task(task_config(name, base))
    ex = load_file(path, task.vocab, 512)
    verdict = task.verify(ex, ex.y, ex.y_len)
    assert verdict.acc.all() and verdict.correct.all()
    for i, (_, x_values, y_values) in enumerate(rows):
        one = ex.take(np.array([i]))
        x, y = decode_values(task, one)
        assert x == x_values and y == y_values


def fixture(name: str, base: int) -> Path:
    path = DATA / f"{name}-base{base}.txt"
    assert path.exists(), f"{path} is missing: run scripts/original-fixtures.sh"
    return path


@pytest.mark.parametrize("base", [10, 1000])
@pytest.mark.parametrize("name", [*ORIGINAL_TASKS, "matrix_rank_3x4"])
def test_the_originals_exported_files_load_unchanged_and_are_right(name, base):
    task_name = "matrix_rank" if name.startswith("matrix_rank") else name
    cfg = task_config(task_name, base, **FIXTURE_OPTIONS.get(name, {}))
    task = build_task(cfg)
    path = fixture(name, base)
    ex = load_file(path, task.vocab, 512)
    assert len(ex) == 200
    verdict = task.verify(ex, ex.y, ex.y_len)
    assert verdict.acc.all() and verdict.correct.all()
    for x, y in lines(task, ex):  # an independent plain-Python reading of every line
        expected(task_name, cfg.task, base, x, y)


@pytest.mark.parametrize("name", ORIGINAL_TASKS)
def test_the_originals_files_write_back_byte_for_byte(tmp_path, name):
    for base in (10, 1000):
        task = build_task(task_config(name, base, **FIXTURE_OPTIONS.get(name, {})))
        path = fixture(name, base)
        ex = load_file(path, task.vocab, 512)
        write_examples(tmp_path / "back.txt", task.vocab, iter([ex]))
        assert (tmp_path / "back.txt").read_bytes() == path.read_bytes()


@pytest.mark.parametrize("name", ORIGINAL_TASKS)
def test_a_run_trains_on_the_originals_files(tmp_path, name):
    base = 1000
    options = [f"task.{k}={v}" for k, v in FIXTURE_OPTIONS.get(name, {}).items()]
    path = fixture(name, base)
    record = train(make_config(*TINY, f"task={name}", f"encoding.base={base}", *options, f"data.train_path={path}",
                               f"data.eval_paths=[{path}]", "schedule.max_epoch=1", "schedule.epoch_size=128"),
                   tmp_path)
    assert record["valid_size"] == 200 and record["epoch"] == 1


@pytest.mark.parametrize("base", [10, 1000])
@pytest.mark.parametrize("name", ALL_TASKS)
def test_export_load_export_gives_identical_lines(tmp_path, name, base):
    options = {"matrix_rank": dict(dim1=3, dim2=4, max_int=3)}.get(name, {})
    cfg = task_config(name, base, **options)
    cfg.export.size, cfg.export.path = 300, str(tmp_path / "a.txt")
    task = build_task(cfg)
    export(cfg, task)
    ex = load_file(tmp_path / "a.txt", task.vocab, 512)
    write_examples(tmp_path / "b.txt", task.vocab, iter([ex]))
    first = (tmp_path / "a.txt").read_text()
    assert (tmp_path / "b.txt").read_text() == first
    assert len(first.splitlines()) == 300
    for x, y in (line.split("\t") for line in first.splitlines()[:50]):  # and it is the original's format
        expected(name, cfg.task, base, x, y)
