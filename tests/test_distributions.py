"""The papers' distributions for training, evaluation sets that keep their own, held-out evaluation, the train set,
and independent random streams."""

from __future__ import annotations

import math
import subprocess
from collections import Counter

import numpy as np
import pytest

from conftest import TINY, launch_cmd, make_config, task_config
from int2int.config import ConfigError
from int2int.data.eval_sets import eval_sets
from int2int.data.sources import Pool, Source, training_source
from int2int.data.streams import Stream, rng
from int2int.tasks import build_task
from test_tasks import parse_array, parse_ints


def operands_and_gcds(task, ex) -> tuple[np.ndarray, np.ndarray]:
    """Operands (n x 2) and GCD of examples, read back from their tokens with plain Python."""
    ops, gcds = [], []
    for x, y in zip(task.vocab.lines(ex.x, ex.x_len), task.vocab.lines(ex.y, ex.y_len)):
        _, values, _ = parse_array(x, task.base if hasattr(task, "base") else task.input_enc.base)
        ops.append(values)
        gcds.append(parse_ints(y.split(), task.input_enc.base)[0])
    return np.array(ops), np.array(gcds)


def test_loguniform_operands_export_a_median_orders_of_magnitude_lower(tmp_path, env):
    def exported(*overrides):
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.txt"
        subprocess.run(launch_cmd("mode=export", "encoding.base=10", "export.size=4000", f"export.path={path}",
                                  *overrides, f"hydra.run.dir={tmp_path / 'h'}"), env=env, check=True,
                       capture_output=True, cwd=tmp_path)
        return [parse_array(line.split("\t")[0], 10)[1] for line in path.read_text().splitlines()]

    uniform = np.array(exported())
    log = np.array(exported("task.operands=loguniform"))
    assert np.median(uniform) > 3e5  # uniform in 1..10^6: median near 5e5
    assert np.median(log) < 3e3  # log-uniform in 1..10^6: median near 10^3
    assert log.min() >= 1 and log.max() <= 10**6
    # log10 of log-uniform operands is uniform on [0, 6]: each decade holds about a sixth of them
    decades = Counter(np.floor(np.log10(log.ravel())).astype(int).tolist())
    assert all(abs(decades[d] / log.size - 1 / 6) < 0.03 for d in range(6)), decades


@pytest.mark.parametrize("outcomes", ["uniform", "loguniform"])
def test_outcomes_draw_the_gcd_first_then_a_coprime_pair(outcomes):
    task = build_task(task_config("gcd", 10, outcomes=outcomes))
    ex = task.generate(np.random.default_rng(0), 6000)
    ops, gcds = operands_and_gcds(task, ex)
    assert (np.gcd(ops[:, 0], ops[:, 1]) == gcds).all()  # the answers are right
    assert gcds.min() >= 1 and gcds.max() <= 100 and ops.max() <= 10**6
    counts = np.bincount(gcds, minlength=101)[1:]
    if outcomes == "uniform":  # each GCD about 1% of the examples
        assert counts.min() > 30 and counts.max() < 90
    else:  # log-uniform: P(g) ~ log((g+1)/g) / log(101): 1 gets ~15%, 100 ~0.2%
        assert abs(counts[0] / 6000 - math.log(2) / math.log(101)) < 0.02
        assert counts[:10].sum() > counts[10:].sum()


def test_valid_stays_natural_whatever_the_training_distribution_and_generated_sets_add_others():
    cfg = make_config(*TINY, "encoding.base=10", "task.operands=loguniform", "task.outcomes=uniform",
                      "task.stratified_eval=true", "eval.size=1000",
                      "+eval.generated={loguni: {operands: loguniform}, stratlog: {outcomes: loguniform}}")
    task = build_task(cfg)
    sets = eval_sets(cfg, task, Source())
    assert list(sets) == ["valid", "strat", "loguni", "stratlog"]
    valid_ops, valid_gcd = operands_and_gcds(task, sets["valid"])
    assert np.median(valid_ops) > 3e5  # uniform operands, as the GCD paper's test set
    assert 0.55 < np.mean(valid_gcd == 1) < 0.67  # natural: P(gcd = 1) = 6 / pi^2
    _, strat_gcd = operands_and_gcds(task, sets["strat"])
    assert len(set(strat_gcd.tolist())) > 90  # stratified: GCD uniform in 1..100
    log_ops, _ = operands_and_gcds(task, sets["loguni"])
    assert np.median(log_ops) < 3e3
    # and training draws from the training distribution
    train_ops, train_gcd = operands_and_gcds(task, training_source(cfg, task, rng(0, Stream.TRAIN)).batch(1000))
    assert np.mean(train_gcd == 1) < 0.05 and np.median(train_ops) < 1e5


def test_generated_eval_sets_check_their_keys():
    cfg = make_config(*TINY, "+eval.generated={bad: {operandz: loguniform}}")
    with pytest.raises(ConfigError, match="eval.generated.*no key operandz"):
        eval_sets(cfg, build_task(cfg), Source())
    cfg = make_config(*TINY, "+eval.generated={bad: {operands: logunifrom}}")
    with pytest.raises(ConfigError, match="eval.generated.*logunifrom"):
        eval_sets(cfg, build_task(cfg), Source())


def test_held_out_partitions_a_finite_domain():
    """modular_add with operands in [0, 113): a budget of 3,830 pairs trains, the other 8,939 evaluate."""
    cfg = make_config(*TINY, "task=modular_add", "task.modulus=113", "task.min_int=0", "task.max_int=112",
                      "encoding.base=113", "data.budget=3830", "eval.held_out=true", "eval.size=20000",
                      "eval.train_size=500")
    task = build_task(cfg)
    source = training_source(cfg, task, rng(0, Stream.TRAIN))
    sets = eval_sets(cfg, task, source)
    assert isinstance(source, Pool) and len(source.pool) == 3830
    pool = set(source.pool.input_hashes().tolist())
    valid = set(sets["valid"].input_hashes().tolist())
    assert len(valid) == len(sets["valid"]) == 113 * 113 - 3830  # every other pair, once
    assert not pool & valid
    assert set(sets["train"].input_hashes().tolist()) <= pool and len(sets["train"]) == 500


def test_held_out_on_a_large_domain_leaves_out_the_pool():
    cfg = make_config(*TINY, "task.max_int=300", "data.budget=2000", "eval.held_out=true", "eval.size=500")
    task = build_task(cfg)
    source = training_source(cfg, task, rng(0, Stream.TRAIN))
    valid = eval_sets(cfg, task, source)["valid"]
    assert len(valid) == 500
    assert not set(valid.input_hashes().tolist()) & set(source.pool.input_hashes().tolist())
    # without eval.held_out the same valid set shares inputs with the pool (300^2 pairs, 2000 of them pooled)
    plain = make_config(*TINY, "task.max_int=300", "data.budget=2000", "eval.size=20000")
    shared = set(eval_sets(plain, task, source)["valid"].input_hashes().tolist()) & set(
        source.pool.input_hashes().tolist())
    assert shared


def test_held_out_needs_a_budget():
    with pytest.raises(ConfigError, match="eval.held_out=True: needs data.budget > 0"):
        make_config(*TINY, "eval.held_out=true").check()


def test_streams_are_independent_even_with_equal_seeds():
    cfg = make_config(*TINY, "seed=12345", "eval.seed=12345", "eval.size=128", "schedule.batch_size=128")
    task = build_task(cfg)
    valid = eval_sets(cfg, task, Source())["valid"]
    first = training_source(cfg, task, rng(cfg.seed, Stream.TRAIN)).batch(128)
    assert not set(valid.input_hashes().tolist()) & set(first.input_hashes().tolist())
    # plain default_rng(seed) would give the same examples to both: the streams are what keeps them apart
    a = task.generate(np.random.default_rng(12345), 128)
    b = task.generate(np.random.default_rng(12345), 128)
    assert set(a.input_hashes().tolist()) == set(b.input_hashes().tolist())
