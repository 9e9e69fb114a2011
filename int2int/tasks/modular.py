"""``task=modular_add`` and ``task=modular_mul``: (a + b) or (a * b) mod ``task.modulus``.

Input ``V2 + a + b``, output the residue in [0, modulus); the per-class key is the residue. With
``task.min_int=0 task.max_int=<modulus-1>`` the domain is every pair of residues: with ``data.budget`` and
``eval.held_out=true`` a fraction of the pairs trains and the rest evaluates (the grokking setup).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Config, opt
from .base import TASKS
from .int_pairs import IntPairConfig, IntPairTask


@dataclass
class ModularConfig(IntPairConfig):
    name: str = opt("modular_add", "modular_add: (a+b) mod modulus; modular_mul: (a*b) mod modulus.")
    modulus: int = opt(67, "The modulus (the original's --modulus).")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        self.require(self.modulus >= 2, "modulus", "must be >= 2")


@TASKS.register("modular_add", "modular_mul", config=ModularConfig)
class ModularTask(IntPairTask):
    class_key = "residue"

    @property
    def max_answer(self) -> int:
        return self.cfg.modulus - 1

    def answer(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        m = self.cfg.modulus
        if self.cfg.name == "modular_add":
            return (a % m + b % m) % m
        if m < 2**31:  # (a mod m)(b mod m) < 2**62: exact in int64
            return (a % m) * (b % m) % m
        return ((a.astype(object) % m) * (b.astype(object) % m) % m).astype(np.int64)  # exact Python integers
