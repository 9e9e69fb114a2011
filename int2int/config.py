"""Typed configuration: every option of int2int, its default and its help text.

Each Hydra config group (``task``, ``encoding``, ``architecture``, ``optimizer``, ``schedule``,
``hardware``) has one dataclass per option, registered in Hydra's ConfigStore as the schema the
group's YAML files extend (``conf/<group>/<option>.yaml`` starts with ``defaults: [<option>_schema]``).
The root :class:`Config` composes them with the non-group sections ``data`` and ``eval``.

Hydra checks names and types at compose time (struct mode); :func:`validate` checks the rules
that types cannot express (``encoding.base >= 2``...) before any compute is spent, and names the
key at fault in its message.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


class ConfigError(ValueError):
    """A configuration value breaks a rule; the message names the key and the rule."""


def opt(default: Any, help: str, **kwargs: Any) -> Any:  # noqa: A002 - "help" mirrors argparse
    """A dataclass field with a default and a help text (kept in the field's metadata)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help}, **kwargs)
    return field(default=default, metadata={"help": help}, **kwargs)


# --------------------------------------------------------------------------------------------
# task
# --------------------------------------------------------------------------------------------
@dataclass
class TaskConfig:
    """Fields every task has."""

    name: str = opt(MISSING, "Task name (set by the chosen option of the `task` group).")


@dataclass
class IntPairTaskConfig(TaskConfig):
    """Tasks whose input is two integers drawn uniformly in [min_int, max_int]."""

    min_int: int = opt(1, "Smallest operand (the original's --minint).")
    max_int: int = opt(1_000_000, "Largest operand (the original's --maxint).")
    max_class: int = opt(101, "Per-class accuracy lumps every class key >= max_class together.")


@dataclass
class FractionConfig(IntPairTaskConfig):
    name: str = opt("fraction_add", "fraction_add, fraction_product, fraction_simplify, fraction_round, "
                    "fraction_compare or fraction_determinant; integers uniform in [min_int, max_int].")
    max_int: int = opt(1000, "Largest integer of the fractions (the original's --maxint).")
    accept_unreduced: bool = opt(False, "fraction_add/fraction_product: credit an unreduced but equal fraction as right.")


@dataclass
class MatrixRankConfig(TaskConfig):
    name: str = opt("matrix_rank", "Rank of a dim1 x dim2 integer matrix P Q, P dim1 x r, Q r x dim2, r uniform.")
    dim1: int = opt(5, "Rows of the matrix (original default 10).")
    dim2: int = opt(5, "Columns of the matrix (original default 10).")
    max_int: int = opt(10, "Entries of P and Q are uniform in [-max_int, max_int].")
    max_class: int = opt(101, "Per-class accuracy lumps every class key >= max_class together.")


@dataclass
class DigitsConfig(TaskConfig):
    name: str = opt("add", "add, sub or mix (add or sub per example) of n_digits-digit integers.")
    n_digits: int = opt(5, "Digits of each operand, in encoding.base.")
    reverse_output: bool = opt(False, "Write the output least significant digit first.")
    max_class: int = opt(101, "Per-class accuracy lumps every class key >= max_class together.")


@dataclass
class GcdConfig(IntPairTaskConfig):
    name: str = opt("gcd", "Greatest common divisor of two integers.")
    stratified_eval: bool = opt(False, "Also evaluate on a `strat` set with the GCD uniform in 1..100 (the GCD paper's "
                                "stratified test set), reporting strat_gcd_learned.")
    learned_threshold: float = opt(0.9, "A GCD counts as learned when its accuracy on the strat set is >= this.")


@dataclass
class FileTaskConfig(TaskConfig):
    name: str = opt("file", "Learn from data files alone: the vocabulary is built from data.train_path and data.eval_paths.")
    max_class: int = opt(101, "Per-class accuracy: integer outputs above max_class are lumped together.")


@dataclass
class ModularConfig(IntPairTaskConfig):
    name: str = opt("modular_add", "modular_add: (a+b) mod modulus; modular_mul: (a*b) mod modulus.")
    modulus: int = opt(67, "The modulus (the original's --modulus).")


# --------------------------------------------------------------------------------------------
# encoding
# --------------------------------------------------------------------------------------------
@dataclass
class EncodingConfig:
    name: str = opt("positional", "Integer encoding: a sign token then base-B digits, most significant first.")
    base: int = opt(30, "Base B of positional integers (the original's --base; its default is 1000).")


# --------------------------------------------------------------------------------------------
# architecture
# --------------------------------------------------------------------------------------------
@dataclass
class ArchitectureConfig:
    name: str = opt("encoder_decoder", "Model family: encoder_decoder, encoder_only, decoder_only, lstm or gru.")
    n_enc_layers: int = opt(1, "Encoder layers (original default 4); for lstm/gru the encoder's recurrent layers.")
    n_dec_layers: int = opt(1, "Decoder layers (original default 4); for lstm/gru the decoder's recurrent layers.")
    enc_emb_dim: int = opt(128, "Encoder embedding dimension (original default 256).")
    dec_emb_dim: int = opt(128, "Decoder embedding dimension (original default 256).")
    n_enc_heads: int = opt(4, "Encoder attention heads (original default 8).")
    n_dec_heads: int = opt(4, "Decoder attention heads (original default 8).")
    ffn_mult: int = opt(4, "Feed-forward hidden size as a multiple of the embedding dimension.")
    n_enc_hidden_layers: int = opt(1, "Hidden layers of each encoder feed-forward block (the original's n_enc_hidden_layers).")
    n_dec_hidden_layers: int = opt(1, "Hidden layers of each decoder feed-forward block.")
    activation: str = opt("relu", "Feed-forward activation: relu or gelu (the original's gelu_activation).")
    dropout: float = opt(0.0, "Dropout on embeddings, attention outputs and feed-forward outputs.")
    attention_dropout: float = opt(0.0, "Dropout on attention weights (training only).")
    positional_embeddings: str = opt("learned", "learned, sinusoidal or none.")
    norm: str = opt("pre", "Layer normalisation before (pre) or after (post, the original's) each sub-layer.")
    norm_attention: bool = opt(False, "Normalise queries and keys before their dot product (with a learned scale).")
    xavier_init: bool = opt(False, "Xavier-uniform initialisation of linear layers.")
    share_inout_emb: bool = opt(True, "Tie the decoder's output projection to its input embeddings.")
    max_positions: int = opt(512, "Size of the positional embedding tables (longest sequence).")
    enc_loop_idx: int = opt(-1, "Universal transformer: the encoder layer repeated enc_loops times; -1 none, -2 all layers.")
    dec_loop_idx: int = opt(-1, "Universal transformer: the decoder layer repeated dec_loops times; -1 none, -2 all layers.")
    enc_loops: int = opt(1, "Repetitions of the looped encoder layer(s).")
    dec_loops: int = opt(1, "Repetitions of the looped decoder layer(s).")
    gated: bool = opt(False, "Copy gates on looped layers: a learned gate mixes each loop's output with its input.")
    act: bool = opt(False, "Adaptive computation time on looped layers: each position halts when its halting "
                    "probability reaches act_threshold.")
    act_threshold: float = opt(0.99, "Adaptive computation time: cumulative halting probability at which to stop.")
    act_ponder_coupling: float = opt(0.01, "Adaptive computation time: weight of the ponder cost added to the loss.")
    hidden_dim: int = opt(256, "lstm/gru: hidden size of the recurrent layers.")
    rnn_attention: bool = opt(True, "lstm/gru: the decoder attends over the encoder outputs.")
    loss_on_input: bool = opt(False, "decoder_only: also train on predicting the input tokens (default: output only).")


# --------------------------------------------------------------------------------------------
# optimizer
# --------------------------------------------------------------------------------------------
@dataclass
class OptimizerConfig:
    name: str = opt("adam", "torch.optim optimiser.")
    lr: float = opt(1e-3, "Peak learning rate (original default 1e-4).")
    weight_decay: float = opt(0.0, "Weight decay (decoupled for adamw, L2 for adam and sgd).")
    clip_grad_norm: float = opt(5.0, "Clip the gradient norm to this value; 0 disables clipping.")


@dataclass
class AdamConfig(OptimizerConfig):
    name: str = opt("adam", "torch.optim.Adam.")
    beta1: float = opt(0.9, "Adam beta1.")
    beta2: float = opt(0.999, "Adam beta2.")
    eps: float = opt(1e-8, "Adam epsilon.")


@dataclass
class AdamWConfig(AdamConfig):
    name: str = opt("adamw", "torch.optim.AdamW.")
    weight_decay: float = opt(0.01, "Decoupled weight decay.")


@dataclass
class SgdConfig(OptimizerConfig):
    name: str = opt("sgd", "torch.optim.SGD.")
    lr: float = opt(0.01, "Learning rate.")
    momentum: float = opt(0.9, "SGD momentum.")
    nesterov: bool = opt(False, "Nesterov momentum.")


@dataclass
class TorchOptimizerConfig(OptimizerConfig):
    name: str = opt("RMSprop", "Any torch.optim optimiser, by class name (RMSprop, Adagrad, NAdam, RAdam, ...).")
    args: dict[str, Any] = opt({}, "Its other arguments, e.g. {alpha: 0.95, momentum: 0.9}.")


# --------------------------------------------------------------------------------------------
# schedule
# --------------------------------------------------------------------------------------------
@dataclass
class ScheduleConfig:
    name: str = opt("constant", "Learning-rate schedule.")
    epoch_size: int = opt(50_000, "Training examples per epoch; each epoch ends with an evaluation (original 300000).")
    max_epoch: int = opt(6, "Number of epochs to train (original 100000).")
    batch_size: int = opt(128, "Training examples per optimisation step (original 32).")
    warmup_steps: int = opt(0, "Linear warm-up steps from 0 to the peak learning rate.")
    log_every: int = opt(100, "Log a line (step, examples/s, loss, learning rate) every N steps.")
    accumulate_gradients: int = opt(1, "Micro-batches of batch_size per optimisation step (gradient accumulation).")
    stopping_criterion: str = opt("", "METRIC,N: stop after N evaluations without improvement of METRIC "
                                  "(a `_` prefix means lower is better, e.g. _valid_xe_loss,5); empty: never.")
    validation_metrics: str = opt("", "Comma-separated metrics whose best value keeps a checkpoint best-<metric>.pt "
                                  "(`_` prefix: lower is better), e.g. valid_acc,_valid_xe_loss.")
    save_periodic: int = opt(0, "Also keep checkpoint-<epoch>.pt every N epochs; 0: never.")


@dataclass
class DecayConfig(ScheduleConfig):
    """Schedules that decay the learning rate to ``min_lr_ratio`` x lr at the last step."""

    min_lr_ratio: float = opt(0.0, "Final learning rate as a fraction of the peak.")


@dataclass
class LinearWarmupConfig(DecayConfig):
    name: str = opt("linear_warmup", "Linear warm-up, then linear decay to min_lr_ratio x lr at the last step.")
    warmup_steps: int = opt(500, "Linear warm-up steps.")


@dataclass
class CosineConfig(DecayConfig):
    name: str = opt("cosine", "Cosine decay from lr to min_lr_ratio x lr at the last step (optional warm-up).")


@dataclass
class WarmupCosineConfig(DecayConfig):
    name: str = opt("warmup_cosine", "Linear warm-up then cosine decay to min_lr_ratio x lr at the last step.")
    warmup_steps: int = opt(500, "Linear warm-up steps.")
    min_lr_ratio: float = opt(0.1, "Final learning rate as a fraction of the peak.")


@dataclass
class InverseSqrtConfig(ScheduleConfig):
    name: str = opt("inverse_sqrt", "Linear warm-up then lr * sqrt(warmup_steps / step).")
    warmup_steps: int = opt(1000, "Linear warm-up steps (also the decay's reference step).")


# --------------------------------------------------------------------------------------------
# hardware
# --------------------------------------------------------------------------------------------
@dataclass
class HardwareConfig:
    name: str = opt("auto", "Where jobs run: auto, cpu, gpu (one job at a time, here), local (jobs in parallel "
                    "here), slurm, slurm_cpu (job arrays through submitit). Chosen once per sweep, never swept.")
    device: str = opt("auto", "torch device: auto (cuda if available, else cpu), cpu, cuda, cuda:N.")
    num_threads: int = opt(0, "CPU threads for torch (torch.set_num_threads); 0 keeps torch's default.")
    precision: str = opt("fp32", "fp32, bf16 (autocast, CPU or GPU) or fp16 (autocast with a gradient scaler, CUDA only).")
    compile: bool = opt(False, "Compile the model's training forward pass with torch.compile (slow start, faster steps).")


# --------------------------------------------------------------------------------------------
# non-group sections
# --------------------------------------------------------------------------------------------
@dataclass
class DataConfig:
    train_path: str = opt("", "Train from this file (one example per line: input tokens, TAB, output tokens) "
                          "instead of generating; empty: generate (the original's --train_data).")
    eval_paths: list[str] = opt([], "Evaluate on these files: the first is `valid`, then `test`, `test2`, ... "
                                "(the original's --eval_data); empty: a generated validation set.")
    batch_load: bool = opt(False, "Stream the training file in chunks of reload_size lines instead of loading it whole.")
    reload_size: int = opt(100_000, "Lines per chunk when batch_load is true; each chunk is shuffled.")
    max_len: int = opt(512, "Longest input or output sequence in tokens; longer examples are dropped and counted.")
    budget: int = opt(0, "Data budget: train on a fixed pool of this many examples (generated once, or the first "
                      "lines of train_path), sampled uniformly with repetition; 0: fresh data.")
    repeat_size: int = opt(0, "Two-set training: a repeated subset of this many examples (the original's "
                           "first_class_size), drawn with probability repeat_prob; 0: off.")
    repeat_prob: float = opt(0.25, "Probability that a training example comes from the repeated subset "
                             "(the original's first_class_prob).")


@dataclass
class ExportConfig:
    size: int = opt(10_000, "Examples to write with mode=export.")
    path: str = opt("data.txt", "File written by mode=export, in the original's format (input TAB output).")


@dataclass
class EvalConfig:
    size: int = opt(2_000, "Examples in the validation set (original --eval_size 10000).")
    batch_size: int = opt(500, "Examples per evaluation batch (original --batch_size_eval 128).")
    seed: int = opt(12345, "Seed of the validation set, fixed so that every run of a sweep sees the same set.")
    max_output_len: int = opt(0, "Longest decoded output in tokens; 0 derives it from the task.")
    every: int = opt(1, "Evaluate every N epochs (and always after the last one).")
    beam_size: int = opt(1, "1: greedy decoding; K > 1: beam search, an example is right when any of the K "
                         "hypotheses is (acc); top1_acc is the best hypothesis alone.")
    beam_length_penalty: float = opt(1.0, "Beam hypotheses are ranked by score / length ** beam_length_penalty.")
    beam_early_stopping: bool = opt(True, "Stop an input's beam search when its best hypothesis has ended "
                                    "(false: when all of them have).")


@dataclass
class Config:
    """The one typed configuration the training core receives."""

    task: Any = opt(MISSING, "The problem (config group `task`).")
    encoding: EncodingConfig = opt(MISSING, "How integers become tokens (config group `encoding`).")
    architecture: ArchitectureConfig = opt(MISSING, "The model (config group `architecture`).")
    optimizer: OptimizerConfig = opt(MISSING, "The optimiser (config group `optimizer`).")
    schedule: ScheduleConfig = opt(MISSING, "Epochs, batches and learning-rate schedule (config group `schedule`).")
    hardware: HardwareConfig = opt(MISSING, "Where and how jobs run (config group `hardware`).")
    data: DataConfig = field(default_factory=DataConfig, metadata={"help": "Data files, budgets and repetition."})
    eval: EvalConfig = field(default_factory=EvalConfig, metadata={"help": "Evaluation sets and decoding."})
    export: ExportConfig = field(default_factory=ExportConfig, metadata={"help": "What mode=export writes."})
    seed: int = opt(0, "Seed of model initialisation and training data.")
    mode: str = opt("train", "train: train and evaluate; export: write export.size generated examples to export.path.")


#: The schema of each option of each group: group -> option -> dataclass.
GROUP_SCHEMAS: dict[str, dict[str, type]] = {
    "task": {
        "gcd": GcdConfig, "modular_add": ModularConfig, "modular_mul": ModularConfig,
        **{f"fraction_{op}": FractionConfig for op in ("add", "product", "simplify", "round", "compare", "determinant")},
        "matrix_rank": MatrixRankConfig, "file": FileTaskConfig, "add": DigitsConfig, "sub": DigitsConfig, "mix": DigitsConfig,
    },
    "encoding": {"positional": EncodingConfig},
    "architecture": {name: ArchitectureConfig for name in ("encoder_decoder", "encoder_only", "decoder_only", "lstm", "gru")},
    "optimizer": {"adam": AdamConfig, "adamw": AdamWConfig, "sgd": SgdConfig, "torch": TorchOptimizerConfig},
    "schedule": {"constant": ScheduleConfig, "warmup_cosine": WarmupCosineConfig, "inverse_sqrt": InverseSqrtConfig,
                 "linear_warmup": LinearWarmupConfig, "cosine": CosineConfig},
    "hardware": {name: HardwareConfig for name in ("auto", "cpu", "gpu", "local", "slurm", "slurm_cpu")},
}


def register_configs() -> None:
    """Store the root schema and one ``<option>_schema`` node per group option in the ConfigStore.

    (The fault-tolerant sweeper and the Slurm launcher register themselves from ``hydra_plugins``.)"""
    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=Config)
    for group, options in GROUP_SCHEMAS.items():
        for option, schema in options.items():
            cs.store(group=group, name=f"{option}_schema", node=schema)


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
def _require(ok: bool, key: str, value: Any, rule: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r}: {rule}")


def validate(cfg: Config) -> None:
    """Check the rules that types cannot express; raise :class:`ConfigError` naming the key."""
    t = cfg.task
    if isinstance(t, IntPairTaskConfig):
        _require(t.min_int <= t.max_int, "task.min_int", t.min_int, f"must be <= task.max_int ({t.max_int})")
        _require(t.max_class >= 1, "task.max_class", t.max_class, "must be >= 1")
        _require(max(abs(t.min_int), abs(t.max_int)) < 2**62, "task.max_int", t.max_int, "must be < 2**62")
    if isinstance(t, MatrixRankConfig):
        for key in ("dim1", "dim2", "max_int"):
            _require(getattr(t, key) >= 1, f"task.{key}", getattr(t, key), "must be >= 1")
    if isinstance(t, DigitsConfig):
        _require(t.n_digits >= 1, "task.n_digits", t.n_digits, "must be >= 1")
    if isinstance(t, ModularConfig):
        _require(t.modulus >= 2, "task.modulus", t.modulus, "must be >= 2")
    _require(cfg.encoding.base >= 2, "encoding.base", cfg.encoding.base, "must be >= 2")

    a = cfg.architecture
    for side in ("enc", "dec"):
        dim, heads, layers = (getattr(a, f"{side}_emb_dim"), getattr(a, f"n_{side}_heads"), getattr(a, f"n_{side}_layers"))
        _require(dim > 0, f"architecture.{side}_emb_dim", dim, "must be > 0")
        _require(heads > 0, f"architecture.n_{side}_heads", heads, "must be > 0")
        _require(layers >= 0 if side == "enc" else layers > 0, f"architecture.n_{side}_layers", layers,
                 "must be >= 0" if side == "enc" else "must be > 0")
        _require(dim % heads == 0, f"architecture.{side}_emb_dim", dim,
                 f"must be divisible by architecture.n_{side}_heads ({heads})")
    _require(a.ffn_mult > 0, "architecture.ffn_mult", a.ffn_mult, "must be > 0")
    for key in ("dropout", "attention_dropout"):
        v = getattr(a, key)
        _require(0.0 <= v < 1.0, f"architecture.{key}", v, "must be in [0, 1)")
    _require(a.max_positions > 0, "architecture.max_positions", a.max_positions, "must be > 0")
    _require(a.name in GROUP_SCHEMAS["architecture"], "architecture.name", a.name,
             f"must be one of {', '.join(GROUP_SCHEMAS['architecture'])}")
    _require(a.activation in ("relu", "gelu"), "architecture.activation", a.activation, "must be relu or gelu")
    _require(a.positional_embeddings in ("learned", "sinusoidal", "none"), "architecture.positional_embeddings",
             a.positional_embeddings, "must be learned, sinusoidal or none")
    _require(a.norm in ("pre", "post"), "architecture.norm", a.norm, "must be pre or post")
    for side, n in (("enc", a.n_enc_layers), ("dec", a.n_dec_layers)):
        idx, loops = getattr(a, f"{side}_loop_idx"), getattr(a, f"{side}_loops")
        _require(idx in (-1, -2) or 0 <= idx < n, f"architecture.{side}_loop_idx", idx,
                 f"must be -1 (none), -2 (all layers) or a layer index below architecture.n_{side}_layers ({n})")
        _require(loops >= 1, f"architecture.{side}_loops", loops, "must be >= 1")
        _require(getattr(a, f"n_{side}_hidden_layers") >= 1, f"architecture.n_{side}_hidden_layers",
                 getattr(a, f"n_{side}_hidden_layers"), "must be >= 1")
    _require(0 < a.act_threshold <= 1, "architecture.act_threshold", a.act_threshold, "must be in (0, 1]")
    _require(a.act_ponder_coupling >= 0, "architecture.act_ponder_coupling", a.act_ponder_coupling, "must be >= 0")
    _require(a.hidden_dim > 0, "architecture.hidden_dim", a.hidden_dim, "must be > 0")

    o = cfg.optimizer
    _require(o.lr > 0, "optimizer.lr", o.lr, "must be > 0")
    _require(o.weight_decay >= 0, "optimizer.weight_decay", o.weight_decay, "must be >= 0")
    _require(o.clip_grad_norm >= 0, "optimizer.clip_grad_norm", o.clip_grad_norm, "must be >= 0 (0 disables)")

    s = cfg.schedule
    for key in ("epoch_size", "max_epoch", "batch_size", "log_every", "accumulate_gradients"):
        _require(getattr(s, key) > 0, f"schedule.{key}", getattr(s, key), "must be > 0")
    if s.stopping_criterion:
        parts = s.stopping_criterion.split(",")
        _require(len(parts) == 2 and parts[1].strip().isdigit() and int(parts[1]) > 0, "schedule.stopping_criterion",
                 s.stopping_criterion, "must be METRIC,N with N > 0 (e.g. valid_acc,10)")
    _require(s.save_periodic >= 0, "schedule.save_periodic", s.save_periodic, "must be >= 0 (0: never)")
    if isinstance(s, DecayConfig):
        _require(0 <= s.min_lr_ratio <= 1, "schedule.min_lr_ratio", s.min_lr_ratio, "must be in [0, 1]")
    _require(s.warmup_steps >= 0, "schedule.warmup_steps", s.warmup_steps, "must be >= 0")
    if isinstance(s, InverseSqrtConfig):
        _require(s.warmup_steps > 0, "schedule.warmup_steps", s.warmup_steps, "must be > 0 for inverse_sqrt")

    h = cfg.hardware
    _require(h.num_threads >= 0, "hardware.num_threads", h.num_threads, "must be >= 0")
    _require(h.device == "auto" or h.device == "cpu" or h.device.startswith("cuda"), "hardware.device", h.device,
             "must be auto, cpu, cuda or cuda:N")
    _require(h.precision in ("fp32", "bf16", "fp16"), "hardware.precision", h.precision, "must be fp32, bf16 or fp16")

    d = cfg.data
    _require(d.max_len > 0, "data.max_len", d.max_len, "must be > 0")
    _require(d.reload_size > 0, "data.reload_size", d.reload_size, "must be > 0")
    _require(d.budget >= 0, "data.budget", d.budget, "must be >= 0 (0: fresh data)")
    _require(d.repeat_size >= 0, "data.repeat_size", d.repeat_size, "must be >= 0 (0: off)")
    _require(0.0 <= d.repeat_prob <= 1.0, "data.repeat_prob", d.repeat_prob, "must be in [0, 1]")
    _require(not (d.budget and d.repeat_size), "data.repeat_size", d.repeat_size, "cannot be combined with data.budget")
    _require(not (d.batch_load and (d.budget or d.repeat_size)), "data.batch_load", d.batch_load,
             "cannot be combined with data.budget or data.repeat_size (they need the first lines in memory)")
    if isinstance(t, FileTaskConfig):
        _require(bool(d.train_path), "data.train_path", d.train_path, "task=file needs a training file")
        _require(bool(d.eval_paths), "data.eval_paths", d.eval_paths, "task=file needs at least one evaluation file")
    if isinstance(t, GcdConfig):
        _require(0 < t.learned_threshold <= 1, "task.learned_threshold", t.learned_threshold, "must be in (0, 1]")
        _require(not t.stratified_eval or t.max_int >= 100 and t.min_int <= 1, "task.stratified_eval", True,
                 "needs task.min_int <= 1 and task.max_int >= 100")
    e = cfg.eval
    for key in ("size", "batch_size", "every"):
        _require(getattr(e, key) > 0, f"eval.{key}", getattr(e, key), "must be > 0")
    _require(e.max_output_len >= 0, "eval.max_output_len", e.max_output_len, "must be >= 0 (0 derives it from the task)")
    _require(e.beam_size >= 1, "eval.beam_size", e.beam_size, "must be >= 1 (1: greedy)")
    _require(cfg.mode in ("train", "export"), "mode", cfg.mode, "must be train or export")
    if cfg.mode == "export":
        _require(cfg.export.size > 0, "export.size", cfg.export.size, "must be > 0")
        _require(bool(cfg.export.path), "export.path", cfg.export.path, "must name a file")
        _require(not isinstance(t, FileTaskConfig), "task", t.name, "export needs a generator task, not file")


def to_dict(obj: Any) -> Any:
    """A plain nested dict of a config dataclass (for run.json and checkpoints)."""
    return dataclasses.asdict(obj)


def field_help(schema: type) -> dict[str, str]:
    """Help text of each field of a config dataclass (used by docs and ``--help``)."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(schema)}
