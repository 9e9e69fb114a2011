"""Tasks (the ``task`` config group): generators of tokenized examples and their verifiers.

Importing this package registers every task; a new task is one more module here (see docs/extending.md)."""

from . import digits, file, fractions, gcd, matrix_rank, modular  # noqa: F401  (registration)
from .base import TASKS, Task, TaskConfig, Verdict, build_task

__all__ = ["TASKS", "Task", "TaskConfig", "Verdict", "build_task"]
