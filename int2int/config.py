"""Typed configuration: the root :class:`Config`, its non-group sections, and the machinery every option shares.

Each Hydra config group (``task``, ``encoding``, ``architecture``, ``optimizer``, ``schedule``) is a
:class:`Registry`: an option is a class registered with one decorator naming its config dataclass, which
stores the dataclass in Hydra's ConfigStore as the group's option (no YAML file needed). The ``hardware``
group has YAML options (they carry launcher values) extending :class:`HardwareConfig`.

Every config dataclass derives from :class:`Options`: its ``check()`` holds the rules of its own fields
that types cannot express, beside the fields, and names the key at fault (``config error:
encoding.base=1: must be >= 2``). Hydra checks names and types at compose time (struct mode; string
choices are enums). :meth:`Config.check` runs every section's checks before any compute.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Generic, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


class ConfigError(ValueError):
    """A configuration value breaks a rule; the message names the key and the rule."""


def opt(default: Any, help: str, train_only: bool = False, **kwargs: Any) -> Any:  # noqa: A002 - as argparse
    """A dataclass field with a default and a help text (kept in the field's metadata).

    ``train_only`` marks a task field that shapes the training distribution only: generated evaluation
    sets (``valid``) use its default, so accuracies stay comparable whatever the training distribution."""
    meta = {"help": help, "train_only": train_only}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta, **kwargs)
    return field(default=default, metadata=meta, **kwargs)


class Options:
    """Base of every config dataclass: where it sits in the config, and the checks of its own fields."""

    #: The dotted key of this section in the root config (``task``, ``data``...), used in error messages.
    section: ClassVar[str] = ""

    def check(self, cfg: Config) -> None:
        """Raise :class:`ConfigError` when a field breaks a rule; ``cfg`` is the whole config, for the few
        rules that involve another section."""

    def require(self, ok: bool, key: str, rule: str) -> None:
        if not ok:
            value = getattr(self, key)
            value = value.value if isinstance(value, Enum) else value  # as typed on the command line
            raise ConfigError(f"{self.section}.{key}={value!r}: {rule}")

    def require_positive(self, *keys: str, strict: bool = True) -> None:
        for key in keys:
            value = getattr(self, key)
            self.require(value > 0 if strict else value >= 0, key, "must be > 0" if strict else "must be >= 0")


T = TypeVar("T")


class Registry(Generic[T]):
    """The options of one config group: option name -> the class that implements it.

    ``@TASKS.register("gcd", config=GcdConfig)`` on a class fills the lookup table and stores
    ``GcdConfig(name="gcd")`` in Hydra's ConfigStore as the option ``task=gcd``. A config dataclass that is
    its own implementation (an optimiser's or a schedule's) is registered without ``config=``.
    """

    def __init__(self, group: str):
        self.group = group
        self.entries: dict[str, T] = {}
        self.schemas: dict[str, type] = {}  # option name -> its config dataclass

    def register(self, *names: str, config: type | None = None, named: bool = True):
        """``named=False``: the option keeps its schema's own ``name`` default (``optimizer=torch`` names a class)."""
        def decorate(obj: T) -> T:
            schema = config if config is not None else obj
            for name in names:
                if name in self.entries:
                    raise ValueError(f"{self.group} option {name!r} is registered twice")
                self.entries[name] = obj
                self.schemas[name] = schema
                ConfigStore.instance().store(group=self.group, name=name, node=schema(name=name) if named else schema())
            return obj

        return decorate

    def get(self, name: str) -> T:
        try:
            return self.entries[name]
        except KeyError:
            raise ConfigError(f"{self.group}.name={name!r}: unknown {self.group} (known: {', '.join(self)})") from None

    def __iter__(self):
        return iter(self.entries)  # in registration order

    def __contains__(self, name: str) -> bool:
        return name in self.entries


# --------------------------------------------------------------------------------------------
# string choices: enums, checked by Hydra at compose time
# --------------------------------------------------------------------------------------------
class Mode(str, Enum):
    train = "train"
    export = "export"
    eval = "eval"


class Precision(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


# --------------------------------------------------------------------------------------------
# hardware (YAML options in conf/hardware/ carry the launcher settings)
# --------------------------------------------------------------------------------------------
@dataclass
class HardwareConfig(Options):
    section: ClassVar[str] = "hardware"
    name: str = opt("auto", "Where jobs run: auto, cpu, gpu (one job at a time, here), local (jobs in parallel "
                    "here), slurm, slurm_cpu (job arrays through submitit), packed (small runs stacked in one "
                    "process). Chosen once per sweep, never swept.")
    device: str = opt("auto", "torch device: auto (cuda if available, else cpu), cpu, cuda, cuda:N.")
    num_threads: int = opt(0, "CPU threads for torch (torch.set_num_threads); 0 keeps torch's default.")
    precision: Precision = opt(Precision.fp32, "fp32, bf16 (autocast, CPU or GPU) or fp16 (autocast with a gradient "
                               "scaler, CUDA only).")
    compile: bool = opt(False, "Compile the model's training forward pass with torch.compile: seconds to minutes "
                        "of compiling first; on a 2-core CPU its steps were slower than eager (docs/performance.md).")

    def check(self, cfg: Config) -> None:
        self.require_positive("num_threads", strict=False)
        self.require(self.device in ("auto", "cpu") or self.device.startswith("cuda"), "device",
                     "must be auto, cpu, cuda or cuda:N")


# --------------------------------------------------------------------------------------------
# non-group sections
# --------------------------------------------------------------------------------------------
@dataclass
class DataConfig(Options):
    section: ClassVar[str] = "data"
    train_path: str = opt("", "Train from this file (one example per line: input tokens, TAB, output tokens) "
                          "instead of generating; empty: generate (the original's --train_data).")
    eval_paths: list[str] = opt([], "Evaluate on these files: the first is `valid`, then `test`, `test2`, ... "
                                "(the original's --eval_data); empty: a generated validation set.")
    batch_load: bool = opt(False, "Stream the training file in chunks of reload_size lines instead of loading it whole "
                           "(the original's --batch_load).")
    reload_size: int = opt(100_000, "Lines per chunk when batch_load is true; each chunk is shuffled (the original's "
                           "--reload_size in --batch_load mode).")
    max_len: int = opt(512, "Longest input or output sequence in tokens; longer examples are dropped and counted.")
    budget: int = opt(0, "Data budget: train on a fixed pool of this many examples (generated once, or the first "
                      "lines of train_path), sampled uniformly with repetition; 0: fresh data.")
    repeat_size: int = opt(0, "Two-set training: a repeated subset of this many examples (the original's "
                           "first_class_size), drawn with probability repeat_prob; 0: off.")
    repeat_prob: float = opt(0.25, "Probability that a training example comes from the repeated subset "
                             "(the original's first_class_prob).")

    def check(self, cfg: Config) -> None:
        self.require_positive("max_len", "reload_size")
        self.require_positive("budget", "repeat_size", strict=False)
        self.require(0.0 <= self.repeat_prob <= 1.0, "repeat_prob", "must be in [0, 1]")
        self.require(not (self.budget and self.repeat_size), "repeat_size", "cannot be combined with data.budget")
        self.require(not (self.batch_load and (self.budget or self.repeat_size)), "batch_load",
                     "cannot be combined with data.budget or data.repeat_size (they need the first lines in memory)")


@dataclass
class ExportConfig(Options):
    section: ClassVar[str] = "export"
    size: int = opt(10_000, "Examples to write with mode=export.")
    path: str = opt("data.txt", "File written by mode=export, in the original's format (input TAB output).")

    def check(self, cfg: Config) -> None:
        if cfg.mode == Mode.export:
            self.require_positive("size")
            self.require(bool(self.path), "path", "must name a file")


@dataclass
class EvalConfig(Options):
    section: ClassVar[str] = "eval"
    size: int = opt(2_000, "Examples in each generated evaluation set (original --eval_size 10000).")
    batch_size: int = opt(500, "Examples per evaluation batch (original --batch_size_eval 128).")
    seed: int = opt(12345, "Seed of the generated evaluation sets, fixed so that every run of a sweep sees the "
                    "same sets.")
    max_output_len: int = opt(0, "Longest decoded output in tokens; 0 derives it from the task.")
    every: int = opt(1, "Evaluate every N epochs (and always after the last one).")
    beam_size: int = opt(1, "1: greedy decoding; K > 1: beam search keeping K finished hypotheses; an example is "
                         "right (acc) when its teacher-forced output is perfect or any hypothesis is right; "
                         "top1_acc is the best hypothesis alone.")
    beam_length_penalty: float = opt(1.0, "Finished hypotheses are ranked by log-probability / length ** penalty.")
    beam_early_stopping: bool = opt(True, "Stop an input's beam search as soon as K hypotheses have finished "
                                    "(false: when no running hypothesis can beat the worst finished one).")
    held_out: bool = opt(False, "With data.budget: evaluate on examples outside the training pool (on a small finite "
                         "domain, the pool and the valid set partition it: the grokking setup).")
    train_size: int = opt(1000, "With data.budget or data.repeat_size: examples of the training pool (the budget, or "
                          "the repeated subset) evaluated as the `train` set (train_acc); 0: none.")
    generated: dict[str, dict[str, Any]] = opt({}, "Extra generated eval sets, each with its own distribution: "
                                               "{name: {task key: value}}, e.g. {loguni: {operands: loguniform}}.")
    precision: Precision | None = opt(None, "Precision of evaluation (teacher-forced pass and decoding): fp32, bf16 "
                                      "or fp16 (autocast, CUDA only); null: hardware.precision. On a CPU with bf16 "
                                      "matmuls, bf16 evaluates 256-dim models 1.4-1.7x faster (tiny ones slower); "
                                      "an accuracy can differ from fp32's by a few examples.")
    save_predictions: bool = opt(False, "Write each evaluation's predictions to predictions/<set>-epoch<E>.parquet.")
    checkpoint: str = opt("", "mode=eval: the run directory (or checkpoint file) whose model is evaluated.")

    def check(self, cfg: Config) -> None:
        self.require_positive("size", "batch_size", "every", "beam_size")
        self.require_positive("max_output_len", "train_size", strict=False)
        self.require(self.beam_length_penalty >= 0, "beam_length_penalty", "must be >= 0")
        self.require(not self.held_out or cfg.data.budget > 0, "held_out", "needs data.budget > 0 (the training pool)")
        self.require(not self.held_out or not cfg.data.train_path, "held_out",
                     "needs generated data (with a training file, give the held-out examples as data.eval_paths)")
        for name in self.generated:
            self.require(name not in ("valid", "train", "strat") and name.isidentifier(), "generated",
                         f"set name {name!r} must be an identifier other than valid, train and strat")
        if cfg.mode == Mode.eval:
            self.require(bool(self.checkpoint), "checkpoint", "mode=eval needs the run directory to evaluate")

    def precision_of(self, cfg: Config) -> Precision:
        """The precision evaluation runs in: ``eval.precision``, else the run's ``hardware.precision``."""
        return self.precision or cfg.hardware.precision


#: Keys a relaunch may change without changing what the run trains (patterns of dotted keys). Everything
#: else must equal the config the run's checkpoint was written with, or the relaunch fails before any compute.
RESUMABLE_KEYS: tuple[str, ...] = (
    "schedule.max_epoch", "schedule.log_every", "schedule.stopping_criterion", "schedule.validation_metrics",
    "schedule.save_periodic", "eval.*", "data.eval_paths", "hardware.*", "export.*", "mode",
)


@dataclass
class Config:
    """The one typed configuration the training core receives."""

    task: Any = opt(MISSING, "The problem (config group `task`).")
    encoding: Any = opt(MISSING, "How numbers become tokens (config group `encoding`).")
    architecture: Any = opt(MISSING, "The model (config group `architecture`).")
    optimizer: Any = opt(MISSING, "The optimiser (config group `optimizer`).")
    schedule: Any = opt(MISSING, "Epochs, batches and learning-rate schedule (config group `schedule`).")
    hardware: HardwareConfig = opt(MISSING, "Where and how jobs run (config group `hardware`).")
    data: DataConfig = field(default_factory=DataConfig, metadata={"help": "Data files, budgets and repetition."})
    eval: EvalConfig = field(default_factory=EvalConfig, metadata={"help": "Evaluation sets and decoding."})
    export: ExportConfig = field(default_factory=ExportConfig, metadata={"help": "What mode=export writes."})
    seed: int = opt(0, "Seed of model initialisation and training data.")
    mode: Mode = opt(Mode.train, "train: train and evaluate; export: write export.size generated examples to "
                     "export.path; eval: evaluate the model of eval.checkpoint.")
    init_from: str = opt("", "Start training from this checkpoint (a run directory or a .pt file): parameters with "
                         "the same name and shape are loaded, a smaller model's layers go into the first layers.")
    freeze: list[str] = opt([], "Parameter name patterns (fnmatch, e.g. 'encoder.layers.0.*') kept fixed in training.")

    def sections(self) -> list[Options]:
        return [self.task, self.encoding, self.architecture, self.optimizer, self.schedule, self.hardware, self.data,
                self.eval, self.export]

    def check(self) -> None:
        """Every rule of every section; raises :class:`ConfigError` naming the first key at fault."""
        for section in self.sections():
            section.check(self)
        if self.freeze and not self.init_from:
            raise ConfigError(f"freeze={self.freeze!r}: needs init_from (freezing random weights trains nothing)")


# --------------------------------------------------------------------------------------------
# plain views of a config
# --------------------------------------------------------------------------------------------
def to_dict(obj: Any) -> Any:
    """A plain nested dict of a config dataclass (enums as their values), for run.json and checkpoints."""
    def plain(value: Any) -> Any:
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return plain(dataclasses.asdict(obj))


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"task": {"modulus": 31}}`` -> ``{"task.modulus": 31}`` (dicts that are values, such as
    ``eval.generated``, are flattened too)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def is_resumable(key: str) -> bool:
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in RESUMABLE_KEYS)


def config_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ between two nested config dicts: ``{"task.modulus": (31, 37)}``."""
    a, b = flatten(old), flatten(new)
    missing = object()
    return {k: (a.get(k, missing), b.get(k, missing)) for k in sorted(set(a) | set(b))
            if a.get(k, missing) != b.get(k, missing)}


def describe_change(key: str, old: Any, new: Any) -> str:
    def show(v: Any) -> str:
        return "(absent)" if not isinstance(v, (str, int, float, bool, list, dict, type(None))) else repr(v)

    return f"{key}: {show(old)} -> {show(new)}"


def field_help(schema: type) -> dict[str, str]:
    """Help text of each field of a config dataclass (used by docs and tests)."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(schema)}


def register_root() -> None:
    """Store the root schema and the hardware schema in the ConfigStore (the groups register their options)."""
    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=Config)
    cs.store(group="hardware", name="schema", node=HardwareConfig)
