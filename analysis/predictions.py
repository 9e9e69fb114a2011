"""What a model predicts, class by class, from the per-example predictions of one evaluation; and,
for the GCD task, a check of the GCD paper's three rules on that data.

    python -m analysis.predictions RUN_DIR [--set valid] [--epoch N] [--top 3]
    python -m analysis.predictions SWEEP_DIR      # GCD runs: one line per run, next to the closed-form theory

With ``eval.save_predictions=true`` the training code writes ``RUN_DIR/predictions/<set>-epoch<E>.parquet``,
one row per example of the eval set: ``input``, ``target``, ``class`` and ``prediction`` (tokens, the
best hypothesis), ``value``/``target_value`` (the prediction and target decoded as one integer, when
they are), ``acc``, ``top1_acc``, ``ended`` and ``hypotheses`` (every hypothesis, best first).

The rules (Charton, "Learning the greatest common divisor", ICLR 2024), for a model in base B:

1. its predictions are deterministic: all examples of a GCD get the same prediction;
2. the GCD it learns (accuracy at least ``task.learned_threshold``) are products of primes dividing B;
3. a GCD k is predicted as the largest learned GCD that divides k (base 10: 15 -> 5, 30 -> 10).

and its theory (appendix C): with ``P(gcd = k) = 6 / (pi^2 k^2)`` on the natural test set, a model that
predicts right exactly the GCD that are products of primes dividing B has natural accuracy
``6/pi^2 * prod_{p | B} p^2 / (p^2 - 1)`` (:func:`gcd_theory`); the GCD a run did learn account for
``sum_k 6 / (pi^2 k^2)`` over them (:func:`gcd_explained`).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .frames import sort_key

log = logging.getLogger(__name__)

PREDICTIONS_DIR = "predictions"
#: The columns the summaries need (the training code writes more: see the module docstring).
REQUIRED = ("class", "prediction", "acc")
_FILE = re.compile(r"^(?P<set>.+)-epoch(?P<epoch>\d+)\.parquet$")
MIN_COUNT = 5  #: classes with fewer examples are not judged by the rules
MIN_SHARE = 0.9  #: rule 1 holds when every judged class has a prediction this frequent
DEFAULT_THRESHOLD = 0.9  #: ``task.learned_threshold`` when run.json does not say


# --------------------------------------------------------------------------------------------------
# Files


def prediction_files(run_dir: str | Path) -> pd.DataFrame:
    """The prediction files of a run: columns ``set``, ``epoch``, ``path``, by set then epoch."""
    folder = Path(run_dir) / PREDICTIONS_DIR
    rows = [(m["set"], int(m["epoch"]), str(p)) for p in folder.glob("*.parquet") if (m := _FILE.match(p.name))]
    files = pd.DataFrame(rows, columns=["set", "epoch", "path"])
    return files.sort_values(["set", "epoch"], kind="stable").reset_index(drop=True)


def find_predictions(run_dir: str | Path, eval_set: str = "valid", epoch: int | None = None) -> tuple[Path, int]:
    """``(path, epoch)`` of the predictions of ``eval_set`` at ``epoch`` (default: the last one saved)."""
    files = prediction_files(run_dir)
    if files.empty:
        raise FileNotFoundError(f"no predictions in {Path(run_dir) / PREDICTIONS_DIR} "
                                f"(train with eval.save_predictions=true to write them)")
    of_set = files[files["set"] == eval_set]
    if of_set.empty:
        raise FileNotFoundError(f"no predictions of the set {eval_set!r} in {Path(run_dir) / PREDICTIONS_DIR} "
                                f"(sets: {', '.join(files['set'].unique())})")
    if epoch is None:
        epoch = int(of_set["epoch"].max())
    match = of_set[of_set["epoch"] == epoch]
    if match.empty:
        raise FileNotFoundError(f"no predictions of {eval_set!r} at epoch {epoch} "
                                f"(epochs: {', '.join(map(str, of_set['epoch']))})")
    return Path(match["path"].iloc[-1]), epoch


def read_predictions(path: str | Path) -> pd.DataFrame:
    """A predictions file; raises ValueError naming the file and the missing columns if it lacks
    :data:`REQUIRED`."""
    preds = pd.read_parquet(path)
    missing = [c for c in REQUIRED if c not in preds.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(preds.columns)})")
    return preds


def run_config(run_dir: str | Path) -> dict[str, Any]:
    """The resolved config of a run (``config`` of ``run.json``; empty if there is none)."""
    path = Path(run_dir) / "run.json"
    if not path.exists():
        return {}
    config = json.loads(path.read_text()).get("config")
    return config if isinstance(config, dict) else {}


# --------------------------------------------------------------------------------------------------
# Per class


def class_summary(preds: pd.DataFrame, top: int = 1) -> pd.DataFrame:
    """One row per class: ``class``, ``examples``, ``acc`` (fraction credited), then for i = 1..``top``
    the i-th most frequent prediction of the class: ``prediction_i`` (tokens), ``value_i`` (its
    integer value, if the file has values) and ``share_i`` (its fraction of the class's examples).
    Ties go to the prediction first in alphabetical order. Classes are in numeric order when they
    are numbers, else in natural order."""
    per_class = preds.groupby("class", sort=False).agg(examples=("acc", "size"), acc=("acc", "mean"))
    ranked = _ranked(preds, "class", "prediction")
    out = per_class.reset_index()
    for i in range(1, top + 1):
        nth = ranked[ranked["rank"] == i].set_index("class")
        out[f"prediction_{i}"] = out["class"].map(nth["prediction"]).astype("string")
        if "value" in preds.columns:
            out[f"value_{i}"] = out["class"].map(nth["value"]).astype("Int64")
        out[f"share_{i}"] = out["class"].map(nth["n"]).astype("float64") / out["examples"]
    order = sorted(range(len(out)), key=lambda i: sort_key(out["class"].iloc[i]))
    return out.iloc[order].reset_index(drop=True)


def _ranked(preds: pd.DataFrame, group: str, what: str) -> pd.DataFrame:
    """Count of each ``what`` in each ``group``, ranked from 1 (most frequent) within the group."""
    cols = [what] + (["value"] if "value" in preds.columns and what != "value" else [])
    counts = (preds.groupby([group, what], sort=False, dropna=False)
              .agg(n=("acc", "size"), **{c: (c, "first") for c in cols if c != what}).reset_index())
    counts = counts.sort_values([group, "n", what], ascending=[True, False, True], kind="stable", na_position="last")
    return counts.assign(rank=counts.groupby(group, sort=False).cumcount() + 1)


# --------------------------------------------------------------------------------------------------
# GCD rules


def gcd_classes(preds: pd.DataFrame, base: int, threshold: float = DEFAULT_THRESHOLD,
                min_count: int = MIN_COUNT) -> pd.DataFrame:
    """One row per GCD k (the target value; the class where there is none), in increasing order.

    Columns: ``gcd``, ``examples``, ``acc``, ``prediction`` (the most frequent predicted value, null
    if that is an answer that is not an integer), ``share`` (its fraction of the examples),
    ``judged`` (at least ``min_count`` examples), ``learned`` (judged and ``acc >= threshold``),
    ``base_primes`` (k is a product of primes dividing ``base``), ``expected`` (the largest learned
    GCD dividing k; null if none does) and ``as_expected`` (``prediction == expected``).
    """
    if "value" not in preds.columns:
        raise ValueError("the GCD rules need the 'value' column (the prediction as an integer)")
    target = pd.to_numeric(preds["class"], errors="coerce").astype("Int64")
    if "target_value" in preds.columns:
        target = preds["target_value"].astype("Int64").fillna(target)
    if target.isna().all():
        raise ValueError("the GCD rules need integer targets ('target_value' or integer classes)")
    df = pd.DataFrame({"gcd": target, "value": preds["value"].astype("Int64"), "acc": preds["acc"].astype(bool)})
    df = df[df["gcd"].notna()]
    per_gcd = df.groupby("gcd").agg(examples=("acc", "size"), acc=("acc", "mean"))
    top = _ranked(df, "gcd", "value")
    top = top[top["rank"] == 1].set_index("gcd")
    out = per_gcd.reset_index()
    out["prediction"] = out["gcd"].map(top["value"]).astype("Int64")
    out["share"] = out["gcd"].map(top["n"]).astype("float64") / out["examples"]
    out["judged"] = out["examples"] >= min_count
    out["learned"] = out["judged"] & (out["acc"] >= threshold)
    k = out["gcd"].to_numpy(dtype=np.int64)
    out["base_primes"] = _products_of_primes_of(k, base)
    learned = k[out["learned"].to_numpy()]
    divides = (k[:, None] % np.maximum(learned[None, :], 1) == 0) & (learned[None, :] > 0)
    expected = pd.Series(np.where(divides, learned[None, :], 0).max(axis=1, initial=0), index=out.index)
    out["expected"] = expected.where(expected > 0).astype("Int64")
    out["as_expected"] = (out["prediction"] == out["expected"]).fillna(False).astype(bool)
    return out.sort_values("gcd", kind="stable").reset_index(drop=True)


def _products_of_primes_of(k: np.ndarray, base: int) -> np.ndarray:
    """True where every prime factor of ``k`` divides ``base`` (1 included)."""
    rest = np.abs(k).copy()
    for _ in range(64):  # each round divides by at least 2 while something of base is left
        g = np.gcd(rest, base)
        if (g == 1).all():
            break
        rest //= g
    return rest == 1


def _prime_factors(n: int) -> list[int]:
    primes, d = [], 2
    while d * d <= n:
        if n % d == 0:
            primes.append(d)
            while n % d == 0:
                n //= d
        d += 1
    return primes + ([n] if n > 1 else [])


def gcd_theory(base: int) -> float:
    """Natural accuracy of a model that predicts right every GCD that is a product of primes dividing
    ``base``, and no other: ``6/pi^2 * prod_{p | base} p^2/(p^2 - 1)`` (base 2: 81.1%, 30: 95.0%)."""
    return 6 / math.pi**2 * math.prod(p * p / (p * p - 1) for p in _prime_factors(base))


def gcd_explained(learned: Sequence[int]) -> float:
    """The share of the natural test set whose GCD is one of ``learned``: ``sum 6 / (pi^2 k^2)``."""
    return 6 / math.pi**2 * sum(1 / (k * k) for k in set(int(k) for k in learned) if k > 0)


def gcd_rules(classes: pd.DataFrame, base: int, threshold: float = DEFAULT_THRESHOLD,
              min_count: int = MIN_COUNT, min_share: float = MIN_SHARE) -> pd.DataFrame:
    """The verdict on each rule from :func:`gcd_classes`' table: columns ``rule`` (1, 2, 3),
    ``statement``, ``holds`` (boolean; null when no class has ``min_count`` examples) and ``evidence``.

    Rule 1 holds when the most frequent prediction of every judged class has a share of at least
    ``min_share``; rule 2 when every learned GCD is a product of primes of ``base``; rule 3 when
    every judged GCD not learned is predicted as its largest learned divisor (GCD that no learned
    GCD divides are not judged; null if no GCD is left).
    """
    judged = classes[classes["judged"]]
    learned = judged[judged["learned"]]
    statements = [
        "predictions are deterministic per class",
        f"the learned GCD are products of primes dividing {base}",
        "a GCD k is predicted as the largest learned GCD dividing k",
    ]
    if judged.empty:
        why = f"no GCD has at least {min_count} examples"
        return pd.DataFrame({"rule": [1, 2, 3], "statement": statements, "holds": pd.array([None] * 3, "boolean"),
                             "evidence": [why] * 3})
    shares = judged["share"]
    spread = judged[shares < min_share]
    rule1 = (f"the most frequent prediction's share over the {len(judged)} GCD with at least {min_count} examples: "
             f"min {shares.min():.1%}, mean {shares.mean():.1%}"
             + _exceptions(spread, lambda r: f"{r.gcd} ({r.share:.0%} predicted {_value(r.prediction)})",
                           f"below {min_share:.0%}"))
    strangers = learned[~learned["base_primes"]]
    rule2 = (f"learned (accuracy >= {threshold:.0%}): {_list(learned['gcd']) or 'none'}"
             + _exceptions(strangers, lambda r: f"{r.gcd} ({r.acc:.0%})", f"with a prime that does not divide {base}"))
    others = judged[~judged["learned"]]
    orphans = others["expected"].isna()  # no learned GCD divides them: the rule says nothing of them
    others, wrong = others[~orphans], others[~orphans & ~others["as_expected"]]
    rule3 = (f"{len(others) - len(wrong)} of the {len(others)} GCD not learned with a learned divisor are "
             f"predicted as their largest learned divisor"
             + (f" ({int(orphans.sum())} without a learned divisor not judged)" if orphans.any() else "")
             + _exceptions(wrong, lambda r: f"{r.gcd} -> {_value(r.prediction)} (expected {r.expected})",
                           "exceptions"))
    holds = [spread.empty, strangers.empty, wrong.empty if len(others) else None]
    return pd.DataFrame({"rule": [1, 2, 3], "statement": statements, "holds": pd.array(holds, dtype="boolean"),
                         "evidence": [rule1, rule2, rule3]})


def _exceptions(rows: pd.DataFrame, describe: Any, what: str, limit: int = 12) -> str:
    if rows.empty:
        return ""
    items = [describe(r) for r in rows.head(limit).itertuples()]
    more = f", and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"; {what}: {', '.join(items)}{more}"


def _list(values: pd.Series) -> str:
    return ", ".join(str(v) for v in values)


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _value(v: Any) -> str:
    return "no integer" if _missing(v) else str(v)


# --------------------------------------------------------------------------------------------------
# Command line


def _display(summary: pd.DataFrame, top: int) -> pd.DataFrame:
    """:func:`class_summary` as text columns for a Markdown table (a prediction shown as its integer
    value when it has one, else as its tokens)."""
    out = pd.DataFrame({"class": summary["class"], "examples": summary["examples"],
                        "acc (%)": [f"{100 * v:.1f}" for v in summary["acc"]]})
    for i in range(1, top + 1):
        name = "prediction" if i == 1 else f"{_ordinal(i)} prediction"
        values = summary[f"value_{i}"] if f"value_{i}" in summary.columns else summary[f"prediction_{i}"]
        out[name] = [_value(v) if not _missing(v) else "-" if _missing(t) else t
                     for v, t in zip(values, summary[f"prediction_{i}"])]
        out[name.replace("prediction", "share") + " (%)"] = [
            "-" if math.isnan(v) else f"{100 * v:.1f}" for v in summary[f"share_{i}"]]
    return out


def _ordinal(i: int) -> str:
    return {2: "2nd", 3: "3rd"}.get(i, f"{i}th")


def _verdict(holds: Any) -> str:
    return "cannot tell" if holds is pd.NA else "holds" if holds else "does not hold"


def _gcd_setup(config: dict[str, Any]) -> tuple[int, float] | None:
    """``(base, learned threshold)`` of a GCD run's config; None for another task."""
    task = config.get("task") or {}
    if task.get("name") != "gcd":
        return None
    return int((config.get("encoding") or {}).get("base")), float(task.get("learned_threshold", DEFAULT_THRESHOLD))


def print_run(run_dir: Path, eval_set: str, epoch: int | None, top: int, min_count: int, min_share: float) -> None:
    """One run: its per-class table, and for a GCD run the three rules and the theory."""
    from .table import to_markdown

    path, epoch = find_predictions(run_dir, eval_set, epoch)
    preds = read_predictions(path)
    summary = class_summary(preds, top=max(top, 1))
    print(f"{run_dir}: set {eval_set}, epoch {epoch}: {len(preds):,} examples, accuracy {preds['acc'].mean():.1%}\n")
    print(to_markdown(_display(summary, max(top, 1))))
    setup = _gcd_setup(run_config(run_dir))
    if setup is None:
        return
    base, threshold = setup
    classes = gcd_classes(preds, base, threshold, min_count)
    print(f"\nGCD rules (base {base}; learned: accuracy >= {threshold:.0%} on a GCD with at least "
          f"{min_count} examples):")
    for r in gcd_rules(classes, base, threshold, min_count, min_share).itertuples():
        print(f"{r.rule}. {r.statement}: {_verdict(r.holds)}. {r.evidence[0].upper()}{r.evidence[1:]}.")
    learned = classes.loc[classes["learned"], "gcd"].astype(int).tolist()
    print(f"\nTheory: every product of primes dividing {base} learned gives {gcd_theory(base):.1%} natural accuracy; "
          f"the {len(learned)} GCD learned here account for {gcd_explained(learned):.1%} of the natural test set.")


def sweep_table(sweep_dir: Path, eval_set: str, min_count: int, min_share: float) -> pd.DataFrame:
    """One row per GCD run under ``sweep_dir`` with predictions: its base, the last evaluation's accuracy on
    ``eval_set`` next to :func:`gcd_theory` and :func:`gcd_explained`, the GCD learned on every saved set
    (``strat`` counts the paper's "correct GCD"), and the verdict on each rule."""
    rows = []
    for run_dir in sorted({p.parent.parent for p in sweep_dir.glob(f"**/{PREDICTIONS_DIR}/*.parquet")}):
        setup = _gcd_setup(run_config(run_dir))
        if setup is None:
            continue
        base, threshold = setup
        path, epoch = find_predictions(run_dir, eval_set)
        preds = read_predictions(path)
        classes = gcd_classes(preds, base, threshold, min_count)
        learned = classes.loc[classes["learned"], "gcd"].astype(int).tolist()
        verdicts = gcd_rules(classes, base, threshold, min_count, min_share)["holds"]
        row = {"run": str(run_dir.relative_to(sweep_dir)), "base": base, "epoch": epoch,
               f"{eval_set} acc (%)": f"{100 * float(preds['acc'].mean()):.2f}",
               "theory (%)": f"{100 * gcd_theory(base):.1f}",
               "learned GCD explain (%)": f"{100 * gcd_explained(learned):.1f}"}
        for other in prediction_files(run_dir)["set"].unique():
            other_classes = classes if other == eval_set else gcd_classes(
                read_predictions(find_predictions(run_dir, other)[0]), base, threshold, min_count)
            row[f"GCD learned ({other})"] = int(other_classes["learned"].sum())
        row[f"learned ({eval_set})"] = " ".join(map(str, learned))
        row["rules 1 2 3"] = " ".join({True: "yes", False: "no"}.get(v, "?") for v in verdicts.tolist())
        rows.append(row)
    if not rows:
        raise FileNotFoundError(f"no GCD run with {PREDICTIONS_DIR}/ under {sweep_dir} (eval.save_predictions=true)")
    return pd.DataFrame(rows).sort_values(["base", "run"], kind="stable").reset_index(drop=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.predictions",
        description="Per-class predictions of one evaluation of a run (and the GCD paper's rules for a GCD run); "
                    "for a sweep directory of GCD runs, one line per run with the rules and the theory.")
    parser.add_argument("run_dir", type=Path, help="a run directory with predictions/ (eval.save_predictions=true), "
                                                   "or a sweep directory holding such runs")
    parser.add_argument("--set", default="valid", dest="eval_set", help="the eval set (default valid)")
    parser.add_argument("--epoch", type=int, default=None, help="the evaluation (default: the last one saved)")
    parser.add_argument("--top", type=int, default=1, help="show the N most frequent predictions of each class")
    parser.add_argument("--min-count", type=int, default=MIN_COUNT,
                        help=f"GCD rules: judge only classes with this many examples (default {MIN_COUNT})")
    parser.add_argument("--min-share", type=float, default=MIN_SHARE,
                        help=f"GCD rule 1: the share a class's top prediction needs (default {MIN_SHARE})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from .table import to_markdown

    try:
        if (args.run_dir / PREDICTIONS_DIR).is_dir() or not args.run_dir.is_dir():
            print_run(args.run_dir, args.eval_set, args.epoch, args.top, args.min_count, args.min_share)
        else:
            print(to_markdown(sweep_table(args.run_dir, args.eval_set, args.min_count, args.min_share)))
    except (FileNotFoundError, ValueError, KeyError, TypeError) as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
