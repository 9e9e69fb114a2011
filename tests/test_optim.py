"""Optimisation options: optimisers by name, schedules, accumulation, precision, stopping, saved checkpoints, beam."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import TINY, make_config
from int2int.config import ConfigError
from int2int.data.tensors import to_tensors
from int2int.distributed import Dist
from int2int.models import build_model
from int2int.run_files import read_metrics
from int2int.stepper import Stepper
from int2int.tasks import build_task
from int2int.train import build_run, evaluate_all, train


def validate(cfg) -> None:
    cfg.check()


def build_optimizer(cfg, module: torch.nn.Module) -> torch.optim.Optimizer:
    cfg.check()
    return cfg.optimizer.build(list(module.parameters()))


def test_any_torch_optimizer_by_name_with_its_arguments():
    cfg = make_config("optimizer=torch", "optimizer.name=RMSprop", "+optimizer.args.alpha=0.5", "optimizer.lr=0.01")
    opt = build_optimizer(cfg, torch.nn.Linear(2, 2))
    assert isinstance(opt, torch.optim.RMSprop) and opt.defaults["alpha"] == 0.5 and opt.defaults["lr"] == 0.01
    with pytest.raises(ConfigError, match="optimizer.name='Adamm': not a torch.optim optimiser"):
        build_optimizer(make_config("optimizer=torch", "optimizer.name=Adamm"), torch.nn.Linear(2, 2))
    with pytest.raises(ConfigError, match="optimizer.args"):
        build_optimizer(make_config("optimizer=torch", "optimizer.name=SGD", "+optimizer.args.bogus=1"),
                        torch.nn.Linear(2, 2))


@pytest.mark.parametrize("schedule, checks", [
    ("constant", [(0, 1.0), (999, 1.0)]),
    ("linear_warmup", [(0, 1 / 500), (499, 1.0), (1000, 0.5 * 1.0 + 0.0)]),
    ("cosine", [(0, 1.0), (750, 0.5), (1500, 0.0)]),
    ("warmup_cosine", [(249, 0.5), (500, 1.0), (1500, 0.1)]),
    ("inverse_sqrt", [(499, 0.5), (1000, 1.0), (4000, 0.5)]),
])
def test_schedules(schedule, checks):
    s = make_config(f"schedule={schedule}").schedule
    for step, expected in checks:
        got = s.factor(step, 1500)
        if schedule == "linear_warmup" and step == 1000:
            expected = 1 - (1000 - 500) / 1000
        assert math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9), (schedule, step, got, expected)


def _grads(cfg, batches):
    task = build_task(cfg)
    torch.manual_seed(0)
    model = build_model(cfg.architecture, len(task.vocab))
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    Stepper(cfg, model, opt, torch.device("cpu"), Dist())([to_tensors(b, torch.device("cpu")) for b in batches], 0.0)
    return [p.grad.clone() for p in model.parameters()]


def test_gradient_accumulation_equals_one_big_batch():
    cfg = make_config(*TINY, "optimizer.clip_grad_norm=0")
    task = build_task(cfg)
    data = task.generate(np.random.default_rng(0), 96)
    whole = _grads(cfg, [data])
    parts = _grads(cfg, [data.take(slice(0, 32)), data.take(slice(32, 96))])
    for a, b in zip(whole, parts):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_accumulation_counts_examples(tmp_path):
    record = train(make_config(*TINY, "schedule.accumulate_gradients=2"), tmp_path)
    assert record["steps"] == 2 * 4 and record["examples"] == 2 * 512


def test_bf16_autocast_trains(tmp_path):
    record = train(make_config(*TINY, "hardware.precision=bf16"), tmp_path)
    assert math.isfinite(record["train_loss"]) and record["valid_size"] == 200


def test_fp16_needs_cuda(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="hardware.precision='fp16': fp16 needs CUDA"):
        train(make_config(*TINY, "hardware.precision=fp16"), tmp_path)


def eval_dtypes(tmp_path, *overrides: str) -> tuple[set[torch.dtype], dict]:
    """The dtypes the model's linear layers output while the run of ``overrides`` evaluates, and the metrics."""
    run = build_run(make_config(*TINY, "eval.size=64", *overrides), tmp_path)
    seen: set[torch.dtype] = set()
    for m in run.model.modules():
        if isinstance(m, torch.nn.Linear):
            m.register_forward_hook(lambda mod, args, out: seen.add(out.dtype))
    record = {"epoch": 1, "examples": 0, "train_time": 0.0, "examples_per_s": 0.0}
    evaluate_all(run, record)
    return seen, record


@pytest.mark.parametrize("overrides, dtype", [
    ((), torch.float32),
    (("hardware.precision=bf16",), torch.bfloat16),  # eval.precision null: the run's precision
    (("hardware.precision=bf16", "eval.precision=fp32"), torch.float32),
    (("eval.precision=bf16",), torch.bfloat16),
])
def test_evaluation_runs_in_eval_precision(tmp_path, overrides, dtype):
    seen, record = eval_dtypes(tmp_path, "eval.beam_size=2", *overrides)
    assert seen == {dtype}
    fp32 = eval_dtypes(tmp_path / "fp32", "eval.beam_size=2")[1]
    # the same untrained model: bf16 moves the loss in its third digit, not more
    assert record["valid_xe_loss"] == pytest.approx(fp32["valid_xe_loss"], rel=1e-2)
    assert (record["valid_xe_loss"] == fp32["valid_xe_loss"]) == (dtype == torch.float32)


def test_fp16_evaluation_needs_cuda(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="eval.precision='fp16': fp16 needs CUDA"):
        build_run(make_config(*TINY, "eval.precision=fp16"), tmp_path)


def test_bad_optimisation_values_fail_validation():
    for override, key in [("schedule.accumulate_gradients=0", "schedule.accumulate_gradients=0"),
                          ("schedule.stopping_criterion=valid_acc", "schedule.stopping_criterion='valid_acc'"),
                          ("eval.beam_size=0", "eval.beam_size=0")]:
        with pytest.raises(ConfigError, match=key.replace("(", r"\(")):
            validate(make_config(override))


def test_stopping_criterion_stops_and_stays_stopped(tmp_path):
    # the learning rate is 0: the loss never improves, so training stops after 1 + 2 evaluations
    cfg = make_config(*TINY, "schedule.max_epoch=10", "optimizer=sgd", "optimizer.lr=1e-12", "optimizer.momentum=0",
                      "schedule.stopping_criterion='_valid_xe_loss,2'")
    train(cfg, tmp_path)
    epochs = [r["epoch"] for r in read_metrics(tmp_path)]
    assert 3 <= len(epochs) < 10
    train(cfg, tmp_path)  # relaunching a stopped run does nothing more
    assert [r["epoch"] for r in read_metrics(tmp_path)] == epochs


def test_best_and_periodic_checkpoints(tmp_path):
    train(make_config(*TINY, "schedule.max_epoch=4", "schedule.validation_metrics='valid_acc,_valid_xe_loss'",
                      "schedule.save_periodic=2"), tmp_path)
    records = read_metrics(tmp_path)
    best = torch.load(tmp_path / "best-valid_xe_loss.pt", weights_only=True)
    assert best["value"] == pytest.approx(min(r["valid_xe_loss"] for r in records))
    assert records[best["epoch"] - 1]["valid_xe_loss"] == pytest.approx(best["value"])
    assert (tmp_path / "best-valid_acc.pt").exists()
    assert (tmp_path / "checkpoint-2.pt").exists() and (tmp_path / "checkpoint-4.pt").exists()
    assert not (tmp_path / "checkpoint-1.pt").exists()


@pytest.mark.slow
def test_beam_top_k_accuracy_is_at_least_greedy(tmp_path):
    base = ["encoding.base=30", "architecture.enc_emb_dim=64", "architecture.dec_emb_dim=64",
            "schedule.epoch_size=6400", "schedule.max_epoch=1", "eval.size=400", "hardware.device=cpu"]
    greedy = train(make_config(*base), tmp_path / "g")
    beam = train(make_config(*base, "eval.beam_size=4"), tmp_path / "b")
    assert beam["valid_top1_acc"] == pytest.approx(greedy["valid_acc"], abs=0.02)
    assert beam["valid_acc"] >= greedy["valid_acc"]  # not by construction: greedy's right answers are not kept


@pytest.mark.slow
def test_compiled_training_matches_eager(tmp_path):
    """hardware.compile=true (torch.compile of the training step) trains the same model, only faster on GPUs."""
    eager = train(make_config(*TINY, "schedule.max_epoch=1"), tmp_path / "eager")
    compiled = train(make_config(*TINY, "schedule.max_epoch=1", "hardware.compile=true"), tmp_path / "compiled")
    assert compiled["train_loss"] == pytest.approx(eager["train_loss"], rel=1e-3)
    assert compiled["valid_xe_loss"] == pytest.approx(eager["valid_xe_loss"], rel=1e-3)


# torch.optim classes the functional optimisers must follow, step for step (an independent computation)
TORCH_TWINS = [
    ("optimizer=adam", lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.98), eps=1e-7, weight_decay=0.1)),
    ("optimizer=adamw", lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.9, 0.98), eps=1e-7, weight_decay=0.1)),
    ("optimizer=sgd", lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.1)),
]
TWIN_SETTINGS = {"optimizer=adam": ["optimizer.beta2=0.98", "optimizer.eps=1e-7"],
                 "optimizer=adamw": ["optimizer.beta2=0.98", "optimizer.eps=1e-7"],
                 "optimizer=sgd": ["optimizer.nesterov=true"]}


def _twin_models():
    torch.manual_seed(0)
    ours = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def _train_steps(model, opt, steps: int, seed: int, lrs=None) -> None:
    gen = torch.Generator().manual_seed(seed)
    for i in range(steps):
        x, y = torch.randn(16, 5, generator=gen), torch.randn(16, 3, generator=gen)
        if lrs:
            opt.param_groups[0]["lr"] = lrs[i]
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize("choice,twin", TORCH_TWINS, ids=[c for c, _ in TORCH_TWINS])
def test_adam_adamw_sgd_follow_the_torch_classes_and_share_their_state_dicts(choice, twin):
    cfg = make_config(choice, "optimizer.lr=0.01", "optimizer.weight_decay=0.1", *TWIN_SETTINGS[choice])
    ours, theirs = _twin_models()
    opt, ref = build_optimizer(cfg, ours), twin(list(theirs.parameters()))
    assert not isinstance(opt, torch.optim.Optimizer)  # built without torch.optim's class (start-up time)
    lrs = [0.01 * (1 - i / 40) for i in range(20)]  # the schedule sets the lr before each step
    _train_steps(ours, opt, 20, seed=1, lrs=lrs)
    _train_steps(theirs, ref, 20, seed=1, lrs=lrs)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert a.abs().sum() > 0 and not torch.equal(a, _twin_models()[0][2].bias)  # they moved
    # ours resumes from torch's state dict, torch's from ours: still the same parameters after more steps
    ours_2, theirs_2 = _twin_models()
    ours_2.load_state_dict(theirs.state_dict())
    theirs_2.load_state_dict(ours.state_dict())
    opt_2, ref_2 = build_optimizer(cfg, ours_2), twin(list(theirs_2.parameters()))
    opt_2.load_state_dict(ref.state_dict())
    ref_2.load_state_dict(opt.state_dict())
    _train_steps(ours_2, opt_2, 5, seed=2)
    _train_steps(theirs_2, ref_2, 5, seed=2)
    _train_steps(theirs, ref, 5, seed=2)
    for a, b, c in zip(ours_2.parameters(), theirs_2.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, c, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(b, c, rtol=1e-5, atol=1e-6)


#: The torch classes with the update kernel int2int's optimisers take on the CPU (Adam's fused one): Adam amplifies
#: the last-bit differences of two kernels in its near-zero gradients, which is not what the test below is about.
CLIP_TWINS = [
    ("optimizer=adam", lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.98), eps=1e-7, weight_decay=0.1,
                                                   fused=True)),
    ("optimizer=adamw", lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.9, 0.98), eps=1e-7, weight_decay=0.1,
                                                     fused=True)),
    TORCH_TWINS[2],
]


@pytest.mark.parametrize("clip", [0.05, 1e6, 0.0], ids=["clipped", "under-the-norm", "off"])
@pytest.mark.parametrize("choice,twin", CLIP_TWINS, ids=[c for c, _ in CLIP_TWINS])
def test_the_stepper_clips_as_clip_grad_norm_then_the_torch_class_steps(choice, twin, clip):
    """The stepper hands the clipping to int2int's optimisers as their ``grad_scale`` (Adam's fused kernel divides
    by it): the parameters must follow torch's ``clip_grad_norm_`` followed by the torch class, step for step."""
    cfg = make_config(*TINY, choice, "optimizer.lr=0.01", "optimizer.weight_decay=0.1", *TWIN_SETTINGS[choice],
                      f"optimizer.clip_grad_norm={clip}")
    task = build_task(cfg)
    models = []
    for _ in range(2):
        torch.manual_seed(0)
        models.append(build_model(cfg.architecture, len(task.vocab)))
    ours, theirs = models
    stepper = Stepper(cfg, ours, build_optimizer(cfg, ours), torch.device("cpu"), Dist())
    assert not isinstance(stepper.optimizer, torch.optim.Optimizer)
    ref = twin(list(theirs.parameters()))
    rng, norms = np.random.default_rng(0), []
    for _ in range(4):
        batch = to_tensors(task.generate(rng, 32), torch.device("cpu"))
        stepper([batch], 0.01)
        ref.zero_grad(set_to_none=True)
        (theirs(batch.x, batch.x_len, batch.y_in, batch.y_out) / batch.n_tokens).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(theirs.parameters(), clip if clip > 0 else math.inf)))
        ref.step()
    if clip == 0.05:
        assert min(norms) > 10 * clip  # the clipping is at work at every step
    # dividing by the norm's ratio, or multiplying by its inverse, rounds a gradient's last bit apart, which Adam can
    # amplify where a gradient is near zero; without the clipping the parameters are 0.01-0.06 apart
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_a_saved_optimizer_state_of_another_model_is_refused():
    opt = build_optimizer(make_config("optimizer=adam"), torch.nn.Linear(2, 2))
    other = torch.optim.Adam(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)).parameters())
    with pytest.raises(ValueError, match=r"\[4\] parameters in its groups, this model 2"):
        opt.load_state_dict(other.state_dict())


def test_building_the_optimizers_does_not_import_torch_dynamo():
    """The start-up path (a launch's first step) stays clear of torch._dynamo's import (docs/performance.md)."""
    import subprocess
    import sys

    code = ("import sys, torch; from conftest import make_config\n"
            "for o in ('adam', 'adamw', 'sgd'):\n"
            "    m = torch.nn.Linear(2, 2); opt = make_config(f'optimizer={o}').optimizer.build(list(m.parameters()))\n"
            "    m(torch.ones(1, 2)).sum().backward(); opt.step()\n"
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(__import__("pathlib").Path(__file__).parent))
    assert out.stdout.strip() == "False", out.stderr[-2000:]


def test_a_cosine_period_fixes_the_decay_whatever_the_run_length():
    s = make_config("schedule=warmup_cosine", "schedule.warmup_steps=500", "schedule.period_steps=1000").schedule
    for total in (1_500, 10_000):
        assert math.isclose(s.factor(1_000, total), 0.1 + 0.9 * 0.5)  # half-way through the period
        assert math.isclose(s.factor(2_000, total), 0.1) and math.isclose(s.factor(5_000, total), 0.1)
    without = make_config("schedule=warmup_cosine", "schedule.warmup_steps=500").schedule
    assert math.isclose(without.factor(1_000, 1_500), 0.1 + 0.9 * 0.5)
    assert without.factor(1_000, 10_000) > 0.9  # over the run: barely started


@pytest.mark.parametrize("key,value", [("stopping_criterion", "valid_accc,3"), ("validation_metrics", "_valid_loss")])
def test_a_misspelt_metric_name_fails_at_the_first_evaluation(tmp_path, key, value):
    with pytest.raises(ConfigError, match=f"schedule.{key}='{value}': the evaluation has no metric .*it has valid_"):
        train(make_config(*TINY, f"schedule.{key}='{value}'", "schedule.max_epoch=1"), tmp_path)
    assert not (tmp_path / "checkpoint.pt").exists() and not (tmp_path / "metrics.jsonl").exists()
