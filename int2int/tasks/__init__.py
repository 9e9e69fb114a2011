"""Tasks: generators of tokenized examples and verifiers, looked up by ``task.name``."""

from __future__ import annotations

from ..config import Config
from .arithmetic import GcdTask, ModularTask
from .base import Examples, Task, Verdict
from .digits import DigitsTask
from .file import FileTask
from .fractions import FRACTION_TASKS
from .matrix import MatrixRankTask

TASKS: dict[str, type[Task]] = {
    "gcd": GcdTask, "modular_add": ModularTask, "modular_mul": ModularTask,
    **FRACTION_TASKS,
    "matrix_rank": MatrixRankTask,
    "add": DigitsTask, "sub": DigitsTask, "mix": DigitsTask,
}


def build_task(cfg: Config) -> Task:
    """The task named by ``cfg.task.name``, tokenized with ``cfg.encoding``."""
    if cfg.task.name == "file":
        return FileTask(cfg)  # its vocabulary comes from the data files
    try:
        cls = TASKS[cfg.task.name]
    except KeyError:
        raise ValueError(f"task.name={cfg.task.name!r}: unknown task (known: file, {', '.join(sorted(TASKS))})") from None
    return cls(cfg.task, cfg.encoding.base)


__all__ = ["TASKS", "Examples", "Task", "Verdict", "build_task"]
