"""docs/extending.md cannot rot: its code blocks are the modules of two new tasks, registered and trained here."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, TINY, make_config, read_classes
from int2int.config import ConfigError
from int2int.tasks import TASKS, build_task
from int2int.train import train

GUIDE = ROOT / "docs" / "extending.md"


def code_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def guide_tasks(tmp_path_factory):
    """Write each module of the guide to a file and import it, as a user adding a task does."""
    import importlib.util

    blocks = code_blocks()
    assert len(blocks) == 2, "the guide shows two task modules"
    directory = tmp_path_factory.mktemp("guide")
    for i, code in enumerate(blocks):
        path = Path(directory) / f"guide_task_{i}.py"
        path.write_text(code)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    yield ["digit_sum", "digit_sum_scalar"]
    for name in ("digit_sum", "digit_sum_scalar"):  # leave the registry as the package made it
        TASKS.entries.pop(name, None)
        TASKS.schemas.pop(name, None)


def test_the_guides_task_is_a_group_option_with_checked_options(guide_tasks):
    cfg = make_config("task=digit_sum", "encoding.base=10", "task.max_int=99")
    task = build_task(cfg)
    ex = task.generate(np.random.default_rng(0), 500)
    for x, y in zip(task.vocab.lines(ex.x, ex.x_len), task.vocab.lines(ex.y, ex.y_len)):
        n = int("".join(x.split()[1:]))
        assert 0 <= n <= 99 and y == f"+ {' '.join(str(sum(map(int, str(n)))))}"
    with pytest.raises(ConfigError, match="task.max_int=0: must be >= 1"):
        make_config("task=digit_sum", "task.max_int=0").check()


@pytest.mark.parametrize("name", ["digit_sum", "digit_sum_scalar"])
def test_the_guides_tasks_train_above_the_modal_predictor(guide_tasks, name, tmp_path):
    cfg = make_config(*TINY, f"task={name}", "encoding.base=10", "schedule.epoch_size=12800", "schedule.max_epoch=1",
                      "eval.size=500", "optimizer.lr=3e-3")
    record = train(cfg, tmp_path)
    classes = read_classes(tmp_path)[1]["valid"]
    modal = max(n for n, _ in classes.values()) / sum(n for n, _ in classes.values())  # the most frequent sum
    assert modal < 0.1
    assert record["valid_acc"] > modal + 0.15, (record["valid_acc"], modal)
    if name == "digit_sum":
        assert "valid_off_by_one" in record
