"""``task=gcd``: the greatest common divisor of two integers (Charton, "Learning the greatest common divisor").

Input ``V2 + a + b``, output gcd(a, b) as one integer; the per-class key is the GCD, capped at
``task.max_class``. Training distributions of the GCD paper: ``task.operands=uniform|loguniform`` and
``task.outcomes=natural|uniform|loguniform`` (natural: whatever the operands give; otherwise the GCD g is
drawn first in 1..100, uniformly or log-uniformly, then multiplied into a coprime pair a', b' drawn in
[ceil(min_int / g), max_int // g] with the operand distribution). Evaluation keeps the paper's test sets:
``valid`` is natural with uniform operands; with ``task.stratified_eval`` the ``strat`` set has its GCD
uniform in 1..100 and ``strat_gcd_learned`` counts the GCD in 1..100 predicted right with accuracy
>= ``task.learned_threshold``. Extra metric ``divisor``: the prediction divides the true GCD.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from ..config import Config, ConfigError, opt
from ..data.examples import Examples
from .base import TASKS, Verdict
from .int_pairs import Distribution, IntPairConfig, IntPairTask, draw

#: GCD drawn first (task.outcomes, the strat set) are in 1..MAX_OUTCOME.
MAX_OUTCOME = 100
#: Rounds of redrawing pairs that are not coprime (each round keeps about 6/pi^2 of them).
MAX_ROUNDS = 1000


class Outcomes(str, Enum):
    natural = "natural"
    uniform = "uniform"
    loguniform = "loguniform"


@dataclass
class GcdConfig(IntPairConfig):
    name: str = opt("gcd", "Greatest common divisor of two integers.")
    outcomes: Outcomes = opt(Outcomes.natural, "Training GCD: natural (as the operands give it), or drawn first in "
                             "1..100, uniform or loguniform, then multiplied into a coprime pair.", train_only=True)
    stratified_eval: bool = opt(False, "Also evaluate on a `strat` set with the GCD uniform in 1..100 (the GCD paper's "
                                "stratified test set), reporting strat_gcd_learned.")
    learned_threshold: float = opt(0.9, "A GCD counts as learned when its accuracy on the strat set is >= this.")

    def check(self, cfg: Config) -> None:
        super().check(cfg)
        self.require(0 < self.learned_threshold <= 1, "learned_threshold", "must be in (0, 1]")
        drawn_first = self.outcomes != Outcomes.natural or self.stratified_eval
        key = "stratified_eval" if self.stratified_eval else "outcomes"
        g = np.arange(1, MAX_OUTCOME + 1)
        every_gcd = self.min_int >= 1 and bool((np.maximum(1, -(-self.min_int // g)) <= self.max_int // g).all())
        self.require(not drawn_first or every_gcd, key, f"needs a multiple of every GCD in 1..{MAX_OUTCOME} between "
                     f"task.min_int >= 1 and task.max_int (the GCD is drawn first), not [{self.min_int}, "
                     f"{self.max_int}]")
        self.require(not self.stratified_eval or self.max_class > MAX_OUTCOME, "max_class",
                     f"must be > {MAX_OUTCOME} with task.stratified_eval (strat_gcd_learned counts GCD "
                     f"1..{MAX_OUTCOME})")


@TASKS.register("gcd", config=GcdConfig)
class GcdTask(IntPairTask):
    class_key = "gcd"
    extra_metrics = ("divisor",)

    def answer(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.gcd(a, b)

    def with_gcd(self, rng: np.random.Generator, g: np.ndarray, dist: Distribution) -> Examples:
        """Pairs g*a', g*b' with a', b' coprime, drawn with ``dist`` in [ceil(min_int/g), max_int // g]."""
        n = len(g)
        a, b = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        todo = np.arange(n)
        lo, hi = np.maximum(1, -(-self.cfg.min_int // g)), self.cfg.max_int // g
        for _ in range(MAX_ROUNDS):
            a[todo] = draw(rng, lo[todo], hi[todo], len(todo), dist)
            b[todo] = draw(rng, lo[todo], hi[todo], len(todo), dist)
            todo = todo[np.gcd(a[todo], b[todo]) != 1]
            if len(todo) == 0:
                return self.build(g * a, g * b, g)
        raise ConfigError(f"task.max_int={self.cfg.max_int}: cannot draw coprime operands for every GCD")

    def generate(self, rng: np.random.Generator, n: int) -> Examples:
        if self.cfg.outcomes == Outcomes.natural:
            return super().generate(rng, n)
        g = draw(rng, 1, MAX_OUTCOME, n, Distribution(self.cfg.outcomes))
        return self.with_gcd(rng, g, self.cfg.operands)

    def verify(self, ex: Examples, pred: np.ndarray, pred_len: np.ndarray) -> Verdict:
        verdict = super().verify(ex, pred, pred_len)
        target, _ = self.output.decode(ex.y, ex.y_len)
        value = verdict.values
        verdict.extra["divisor"] = verdict.correct & (value > 0) & (target % np.where(value > 0, value, 1) == 0)
        return verdict

    def extra_eval_sets(self, rng: np.random.Generator, size: int) -> dict[str, Examples]:
        if not self.cfg.stratified_eval:
            return {}
        g = rng.integers(1, MAX_OUTCOME, size=size, endpoint=True)
        return {"strat": self.with_gcd(rng, g, Distribution.uniform)}

    def set_metrics(self, name: str, classes: dict[str, list[int]]) -> dict[str, float | int]:
        if name != "strat":
            return {}
        learned = sum(1 for k in range(1, MAX_OUTCOME + 1) if str(k) in classes
                      and classes[str(k)][1] >= self.cfg.learned_threshold * classes[str(k)][0])
        return {f"{name}_gcd_learned": learned}
