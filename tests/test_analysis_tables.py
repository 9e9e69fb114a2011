"""Tests of analysis.table, analysis.stats and the seed bands of analysis.plot on hand-built runs tables."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis import plot, stats, table

# --------------------------------------------------------------------------------------------------
# A runs table as analysis.collect writes it, built by hand


def runs_table(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per evaluation of each run: ``{"id", "job", "base", "seed", "status", "acc", "gcd", "loss"}``
    with lists for the metrics (one item per epoch; epoch k has 1000 * k examples)."""
    rows = []
    for r in runs:
        accs = r.get("acc", [])
        for i in range(max(len(accs), 1)):
            evaluated = i < len(accs)
            rows.append({
                "run_id": r["id"], "run_dir": f"/sweep/{r['id']}", "sweep_dir": "/sweep", "job_num": r.get("job"),
                "status": r.get("status", "finished"), "encoding.base": r["base"], "seed": r["seed"],
                "overrides": f"encoding.base={r['base']} seed={r['seed']}", "started": None, "error": None,
                "epoch": i + 1 if evaluated else None, "examples": 1000 * (i + 1) if evaluated else None,
                "steps": None, "wall_time": math.nan, "train_loss": math.nan, "lr": math.nan,
                "valid_acc": accs[i] if evaluated else math.nan,
                "valid_xe_loss": r["loss"][i] if evaluated and "loss" in r else math.nan,
                "strat_gcd_learned": r["gcd"][i] if evaluated and "gcd" in r else None,
            })
    df = pd.DataFrame(rows)
    ints = ["job_num", "encoding.base", "seed", "epoch", "examples", "steps", "strat_gcd_learned"]
    texts = ["run_id", "run_dir", "sweep_dir", "status", "overrides", "started", "error"]
    return df.astype({**{c: "Int64" for c in ints}, **{c: "string" for c in texts}})


# --------------------------------------------------------------------------------------------------
# summary_table: the best row is one real evaluation


def test_best_row_describes_one_evaluation_of_one_run() -> None:
    runs = runs_table([
        # run a peaks at epoch 2 then degrades; run b learns more GCD but never reaches a's accuracy
        {"id": "a", "job": 0, "base": 10, "seed": 0, "acc": [0.5, 0.9, 0.7], "gcd": [3, 5, 4], "loss": [1.0, 0.2, 0.5]},
        {"id": "b", "job": 1, "base": 10, "seed": 1, "acc": [0.6, 0.8, 0.85], "gcd": [4, 12, 13],
         "loss": [0.9, 0.3, 0.1]},
        {"id": "c", "job": 2, "base": 30, "seed": 0, "acc": [0.7, 0.7], "gcd": [6, 7]},  # a tie: the first wins
        {"id": "d", "job": None, "base": 30, "seed": 1, "status": "failed"},  # no evaluation at all
    ])
    t = table.summary_table(runs, by=["encoding.base"])
    assert list(t.columns) == ["encoding.base", "runs", "best valid_acc (%)", "last valid_acc (%)", "GCD learned",
                               "epoch", "examples", "run", "status"]
    ten, thirty = t.iloc[0], t.iloc[1]
    # not max(acc) = 90 with max(GCD) = 13 and max(epoch) = 3: run a at epoch 2
    assert (ten["runs"], ten["best valid_acc (%)"], ten["last valid_acc (%)"], ten["GCD learned"], ten["epoch"],
            ten["examples"], ten["run"]) == (2, 90.0, 70.0, 5, 2, 2000, "a (job 0)")
    assert (thirty["runs"], thirty["best valid_acc (%)"], thirty["GCD learned"], thirty["epoch"], thirty["run"],
            thirty["status"]) == (2, 70.0, 6, 1, "c (job 2)", "1 finished, 1 failed")

    loss = table.summary_table(runs[runs["encoding.base"] == 10], by=["encoding.base"], metric="valid_xe_loss")
    assert loss.iloc[0][["best valid_xe_loss", "last valid_xe_loss", "GCD learned", "epoch", "run"]].tolist() == [
        0.1, 0.1, 13, 3, "b (job 1)"]

    empty = table.summary_table(runs[runs["run_id"] == "d"], by=["encoding.base"])
    assert list(empty.columns) == ["encoding.base", "runs", "best valid_acc", "last valid_acc", "GCD learned",
                                   "epoch", "examples", "run", "status"]  # no value: no scale
    assert math.isnan(empty.iloc[0]["best valid_acc"]) and empty.iloc[0]["run"] is None
    text = table.to_markdown(t)
    assert "| a (job 0) " in text and "|            10 |    2 |" in text


# --------------------------------------------------------------------------------------------------
# Aggregation over seeds


FIVE = [0.80, 0.82, 0.85, 0.90, 0.93]  # mean 0.86, sum of squared deviations 0.0118


@pytest.fixture
def seeds() -> pd.DataFrame:
    """Base 10: five seeds whose final accuracies are FIVE (and whose best ones are 0.05 higher, at
    epoch 2); base 30: one seed."""
    runs = [{"id": f"s{i}", "job": i, "base": 10, "seed": i, "acc": [0.1, v + 0.05, v]} for i, v in enumerate(FIVE)]
    runs.append({"id": "t0", "job": 5, "base": 30, "seed": 0, "acc": [0.5, 0.95]})
    return runs_table(runs)


def test_aggregate_over_seeds_known_answers(seeds: pd.DataFrame) -> None:
    agg = table.aggregate_table(seeds, over=["seed"], by=["encoding.base"], threshold=0.85)
    assert list(agg.columns) == ["encoding.base", "n", "mean", "ci_low", "ci_high", "min", "max", "reached"]
    ten = agg.iloc[0]
    half = 2.7764451051977987 * math.sqrt(0.0118 / 4 / 5)  # t(0.975, 4 dof) * s / sqrt(n), by hand
    assert ten["n"] == 5 and ten["mean"] == pytest.approx(0.86)
    assert (ten["ci_low"], ten["ci_high"]) == (pytest.approx(0.86 - half), pytest.approx(0.86 + half))
    assert (ten["ci_low"], ten["ci_high"]) == (pytest.approx(0.7925603827184324), pytest.approx(0.9274396172815675))
    assert (ten["min"], ten["max"], ten["reached"]) == (0.80, 0.93, 3)  # 0.85, 0.90, 0.93 reach 0.85
    thirty = agg.iloc[1]
    assert (thirty["n"], thirty["mean"], thirty["min"], thirty["max"], thirty["reached"]) == (1, 0.95, 0.95, 0.95, 1)
    assert math.isnan(thirty["ci_low"]) and math.isnan(thirty["ci_high"])  # no interval from one run

    best = table.aggregate_table(seeds, over=["seed"], by=["encoding.base"], at="best", threshold=0.9)
    assert best.iloc[0]["mean"] == pytest.approx(0.91) and best.iloc[0]["reached"] == 3  # 0.90, 0.95, 0.98
    assert best.iloc[0]["min"] == pytest.approx(0.85)

    scipy_stats = pytest.importorskip("scipy.stats")
    low, high = scipy_stats.t.interval(0.95, 4, loc=np.mean(FIVE), scale=scipy_stats.sem(FIVE))
    assert (ten["ci_low"], ten["ci_high"]) == (pytest.approx(low), pytest.approx(high))


def test_aggregate_warns_about_other_differences(seeds: pd.DataFrame, caplog: pytest.LogCaptureFixture) -> None:
    mixed = seeds.assign(seed=0)  # every run of base 10 has seed 0: the seeds repeat
    table.aggregate_table(mixed, over=["seed"], by=["encoding.base"])
    assert "encoding.base=10: 4 runs repeat the seed of another run" in caplog.text
    caplog.clear()
    table.aggregate_table(seeds, over=["seed"], by=[])
    assert "all runs: the runs also differ in encoding.base" in caplog.text


def test_aggregate_markdown(seeds: pd.DataFrame, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = table.aggregate_markdown(table.aggregate_table(seeds, over=["seed"], threshold=0.85), "valid_acc",
                                   scale=100, threshold=0.85)
    assert out.values.tolist() == [[10, 5, "86.0", "[79.3, 92.7]", "80.0", "93.0", "3 of 5"],
                                   [30, 1, "95.0", "-", "95.0", "95.0", "1 of 1"]]
    assert list(out.columns)[-1] == "runs >= 85%"
    seeds.to_parquet(tmp_path / "results.parquet")
    assert table.main([str(tmp_path / "results.parquet"), "--over", "seed", "--at", "best"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split("|")[1:7] == ["            10 ", "    5 ", "               91.0 ", " [84.3, 97.7] ",
                                        "    85.0 ", "    98.0 "]


# --------------------------------------------------------------------------------------------------
# The t quantile


@pytest.mark.parametrize("dof, t", [(1, 12.7062047), (2, 4.3026527), (4, 2.7764451), (9, 2.2621572),
                                    (29, 2.0452296), (120, 1.9799304)])
def test_t_quantile_matches_the_tables(dof: int, t: float) -> None:
    assert stats.t_quantile(dof) == pytest.approx(t, abs=5e-7)


def test_t_quantile_matches_scipy() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    for confidence in (0.5, 0.9, 0.95, 0.99):
        for dof in list(range(1, 41)) + [75, 500, 5000]:
            expected = scipy_stats.t.ppf((1 + confidence) / 2, dof)
            assert stats.t_quantile(dof, confidence) == pytest.approx(expected, rel=1e-10), (dof, confidence)
    with pytest.raises(ValueError):
        stats.t_quantile(0)


# --------------------------------------------------------------------------------------------------
# Curves averaged over seeds


@pytest.fixture
def curves() -> pd.DataFrame:
    """Base 10, three seeds: accuracies 0.2/0.4/0.6 at 1,000 examples, 0.5/0.6/0.7 at 2,000, and only
    seed 0 reaches 3,000 (0.9). Base 30: two seeds, 0.5 and 0.7 at 1,000."""
    return runs_table([
        {"id": "a", "base": 10, "seed": 0, "acc": [0.2, 0.5, 0.9]},
        {"id": "b", "base": 10, "seed": 1, "acc": [0.4, 0.6]},
        {"id": "c", "base": 10, "seed": 2, "acc": [0.6, 0.7]},
        {"id": "d", "base": 30, "seed": 0, "acc": [0.5]},
        {"id": "e", "base": 30, "seed": 1, "acc": [0.7]},
    ])


def _band_at(ax: Any, x: float) -> list[float]:
    """The distinct y values of the first band's polygon at ``x``."""
    verts = np.concatenate([p.vertices for p in ax.collections[0].get_paths()])
    return sorted({round(float(y), 9) for vx, y in verts if vx == x})


def test_curves_over_seeds_minmax_band(curves: pd.DataFrame) -> None:
    fig = plot.plot_curves(curves, over="seed", band="minmax", row=None)
    ax = fig.axes[0]
    assert len(ax.lines) == 2  # one line per base, not per run
    assert ax.lines[0].get_xdata().tolist() == [1000, 2000, 3000]
    assert np.allclose(ax.lines[0].get_ydata(), [0.4, 0.6, 0.9])
    assert np.allclose(ax.lines[1].get_ydata(), [0.6])
    assert _band_at(ax, 1000) == [0.2, 0.6] and _band_at(ax, 2000) == [0.5, 0.7] and _band_at(ax, 3000) == [0.9]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["10  (3 runs)", "30  (2 runs)"]
    assert "mean over seed (min-max)" in fig._suptitle.get_text()


def test_curves_over_seeds_ci_band(curves: pd.DataFrame, tmp_path: Path) -> None:
    fig = plot.plot_curves(curves, over=["seed"], row=None)
    half = 4.302652729749464 * 0.2 / math.sqrt(3)  # t(0.975, 2 dof) * s / sqrt(3) at 1,000 examples
    assert _band_at(fig.axes[0], 1000) == [round(0.4 - half, 9), round(0.4 + half, 9)]
    assert _band_at(fig.axes[0], 3000) == []  # one run: no interval
    band = stats.mean_band(curves, ["encoding.base"], "examples", "valid_acc")
    assert band[["encoding.base", "examples", "n"]].values.tolist() == [[10, 1000, 3], [10, 2000, 3], [10, 3000, 1],
                                                                       [30, 1000, 2]]
    half30 = 12.706204736174694 * (0.2 / math.sqrt(2)) / math.sqrt(2)
    assert band["high"].iloc[3] == pytest.approx(0.6 + half30)

    curves.to_parquet(tmp_path / "results.parquet")
    out = tmp_path / "seeds.png"
    assert plot.main([str(tmp_path / "results.parquet"), "--kind", "curves", "--over", "seed", "--band", "minmax",
                      "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
