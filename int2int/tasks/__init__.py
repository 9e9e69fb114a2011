"""Tasks (the ``task`` config group): generators of tokenized examples and their verifiers.

Importing this package registers every task; a new task is one more module here (see docs/extending.md)."""

from . import (digits, eigenvalues, eigenvectors, file, fractions, gcd, matrix_inverse, matrix_product,  # noqa: F401
               matrix_rank, matrix_sum, matrix_transpose, matrix_vector, modular, singular_values, svd)
from .base import TASKS, Task, TaskConfig, Verdict, build_task

__all__ = ["TASKS", "Task", "TaskConfig", "Verdict", "build_task"]
