"""Config composition and every validation rule: bad input fails before any compute, naming the key."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

from conftest import launch_cmd, make_config
from int2int.config import Config, ConfigError, DataConfig, EvalConfig, ExportConfig, HardwareConfig, field_help
from int2int.encodings import ENCODINGS, EncodingConfig
from int2int.models import ARCHITECTURES, ArchitectureConfig
from int2int.optim import OPTIMIZERS, SCHEDULES, AdamWConfig, SgdConfig, WarmupCosineConfig
from int2int.tasks import TASKS
from int2int.tasks.gcd import GcdConfig
from int2int.tasks.modular import ModularConfig


def validate(cfg: Config) -> None:
    cfg.check()


def test_default_composition_is_one_typed_config():
    cfg = make_config()
    assert isinstance(cfg, Config)
    assert isinstance(cfg.task, GcdConfig) and cfg.task.name == "gcd"
    assert isinstance(cfg.encoding, EncodingConfig) and cfg.encoding.base == 30
    assert isinstance(cfg.architecture, ArchitectureConfig)
    assert isinstance(cfg.hardware, HardwareConfig) and cfg.hardware.device == "auto"
    validate(cfg)


def test_group_options_select_their_schemas():
    cfg = make_config("task=modular_mul", "task.modulus=97", "optimizer=adamw", "schedule=warmup_cosine",
                      "hardware=cpu", "encoding.base=1000", "architecture.n_enc_layers=2", "seed=3")
    assert isinstance(cfg.task, ModularConfig) and cfg.task.name == "modular_mul" and cfg.task.modulus == 97
    assert isinstance(cfg.optimizer, AdamWConfig) and cfg.optimizer.weight_decay == 0.01
    assert isinstance(cfg.schedule, WarmupCosineConfig)
    assert cfg.hardware.device == "cpu" and cfg.encoding.base == 1000 and cfg.seed == 3
    assert isinstance(make_config("optimizer=sgd").optimizer, SgdConfig)
    assert make_config("hardware=gpu").hardware.device == "cuda"


def test_every_field_has_help():
    schemas = [Config, HardwareConfig, DataConfig, EvalConfig, ExportConfig]
    for registry in (TASKS, ENCODINGS, ARCHITECTURES, OPTIMIZERS, SCHEDULES):
        schemas += list(registry.schemas.values())
    assert len(set(schemas)) > 15
    for schema in schemas:
        helps = field_help(schema)
        missing = [k for k, h in helps.items() if not h]
        assert not missing, f"{schema.__name__}: fields without help: {missing}"


def test_unknown_key_fails_at_compose_naming_it():
    with pytest.raises(ConfigCompositionException) as err:
        make_config("encoding.bsae=10")
    assert "bsae" in str(err.value.__cause__ or err.value)


def test_wrong_type_fails_at_compose_naming_it():
    with pytest.raises(ConfigCompositionException) as err:
        make_config("encoding.base=ten")
    cause = err.value.__cause__
    assert isinstance(cause, ValidationError) and "encoding.base" in str(cause)


@pytest.mark.parametrize("overrides, key, rule", [
    (["encoding.base=1"], "encoding.base=1", ">= 2"),
    (["task=modular_add", "task.modulus=1"], "task.modulus=1", ">= 2"),
    (["task.min_int=10", "task.max_int=5"], "task.min_int=10", "<= task.max_int"),
    (["architecture.enc_emb_dim=30", "architecture.n_enc_heads=4"], "architecture.enc_emb_dim=30",
     "divisible by architecture.n_enc_heads"),
    (["architecture.dec_emb_dim=30", "architecture.n_dec_heads=4"], "architecture.dec_emb_dim=30",
     "divisible by architecture.n_dec_heads"),
    (["optimizer.lr=0"], "optimizer.lr=0.0", "> 0"),
    (["optimizer.lr=-1e-3"], "optimizer.lr=-0.001", "> 0"),
    (["schedule.epoch_size=0"], "schedule.epoch_size=0", "> 0"),
    (["schedule.batch_size=-1"], "schedule.batch_size=-1", "> 0"),
    (["schedule.max_epoch=0"], "schedule.max_epoch=0", "> 0"),
    (["eval.size=0"], "eval.size=0", "> 0"),
    (["eval.batch_size=0"], "eval.batch_size=0", "> 0"),
    (["architecture.dropout=1.5"], "architecture.dropout=1.5", "[0, 1)"),
])
def test_validation_errors_name_key_and_rule(overrides, key, rule):
    cfg = make_config(*overrides)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert key in str(err.value) and rule in str(err.value)


@pytest.mark.parametrize("override, expected", [
    ("encoding.bsae=10", "bsae"),
    ("encoding.base=1", "encoding.base=1: must be >= 2"),
])
def test_bad_input_fails_before_compute(tmp_path, env, override, expected):
    proc = subprocess.run(launch_cmd(override, f"hydra.run.dir={tmp_path}"), env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0
    assert expected in proc.stderr + proc.stdout
    assert not (tmp_path / "checkpoint.pt").exists() and not (tmp_path / "metrics.jsonl").exists()


def test_string_choices_are_checked_at_compose_naming_the_key():
    for override in ("architecture.activation=swish", "architecture.norm=middle", "hardware.precision=fp8",
                     "architecture.positional_embeddings=rope", "mode=predict"):
        with pytest.raises(ConfigCompositionException) as err:
            make_config(override)
        cause = err.value.__cause__
        key, value = override.split("=")
        assert isinstance(cause, ValidationError) and key in str(cause) and f"Invalid value '{value}'" in str(cause)


def test_every_registered_option_composes_and_passes_its_checks():
    needs = {"file": ["data.train_path=x.txt", "data.eval_paths=[y.txt]"]}
    for registry, group in ((TASKS, "task"), (ARCHITECTURES, "architecture"), (OPTIMIZERS, "optimizer"),
                            (SCHEDULES, "schedule"), (ENCODINGS, "encoding")):
        for name in registry:
            cfg = make_config(f"{group}={name}", *needs.get(name, []))
            assert isinstance(getattr(cfg, group), registry.schemas[name])
            if group != "encoding" or name in ("positional", "symbolic"):
                validate(cfg)


def test_compose_api_works_after_import_int2int_alone(tmp_path):
    script = (
        "import int2int\n"
        "from hydra import compose, initialize_config_dir\n"
        "from omegaconf import OmegaConf\n"
        "with initialize_config_dir(config_dir=str(int2int.CONF_DIR), version_base='1.3'):\n"
        "    cfg = compose('config', overrides=['task=modular_add', 'task.modulus=97'])\n"
        "c = OmegaConf.to_object(cfg); c.check(); print(type(c.task).__name__, c.task.modulus)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.stdout.strip() == "ModularConfig 97", out.stderr
