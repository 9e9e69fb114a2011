"""Benchmark: int2int side by side with the original Int2Int, both driven through their command lines.

``python -m int2int.bench --original PATH`` runs both programs on the same GCD configs (model, batch,
base, evaluation size, fp32, threads) and reads each program's own log lines as they arrive:

- training examples/s, from each program's per-step log lines (the first window(s) of a run skipped);
  int2int also with ``hardware.precision=bf16`` (the original has no CPU bf16: it runs fp32);
- greedy and beam-search evaluation examples/s on 1,000 examples, timed from the last training log
  line to the epoch's result line, on a model trained for one step: the original decodes only the
  eval batches its teacher-forced pass gets wrong, and an untrained model gets every batch wrong;
- launch to the first training step, and the wall time of a whole one-epoch tiny job;
- model FLOPs utilisation: training FLOPs (6 x parameters x the tokens they see) over a matmul peak
  measured here, at the models' shapes, with the same threads.

Runs alternate between the programs (original, int2int fp32, int2int bf16, then the reverse order)
so that drift on a shared machine hits both; each figure is a median with its spread, and each ratio
the median of per-round ratios. Without ``--original`` int2int is measured alone: no ratios against
remembered figures. This module imports nothing from int2int (whose internals change): parameter
counts and FLOPs are computed from the config and the task's token counts here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------------------------
# what is measured: three models of the performance note, on GCD
# --------------------------------------------------------------------------------------------
MAX_INT = 1_000_000  #: GCD operands are uniform in [1, MAX_INT] in both programs (their defaults)
FFN_MULT = 4  #: feed-forward width / model width, in both programs
N_SPECIAL = 15  #: <eos> <pad> <sep> ( ) <SPECIAL_0>..<SPECIAL_9>, first in both vocabularies
ORIGINAL_POSITIONS = 4096  #: learned position embeddings of the original (its N_MAX_POSITIONS)
PRECISIONS = ("fp32", "bf16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}  #: int2int's hardware.precision -> torch matmul dtype


@dataclass(frozen=True)
class ModelSpec:
    """One benchmarked model: an encoder-decoder with as many decoder as encoder layers."""

    name: str
    layers: int
    dim: int
    heads: int
    batch: int
    base: int
    window_steps: int  #: training steps per throughput window: about 2 s of the original on 2 cores


MODELS = {m.name: m for m in (
    ModelSpec("tiny", layers=1, dim=64, heads=4, batch=256, base=30, window_steps=40),
    ModelSpec("small", layers=2, dim=256, heads=4, batch=64, base=1000, window_steps=24),
    ModelSpec("default", layers=4, dim=256, heads=8, batch=32, base=1000, window_steps=16),
)}


# --------------------------------------------------------------------------------------------
# the task's token counts, parameter counts and FLOPs, from the config alone
# --------------------------------------------------------------------------------------------
def n_digits(values: np.ndarray, base: int) -> np.ndarray:
    """Base-``base`` digits of each positive integer (1 for values below the base), exactly, in integers."""
    values = np.asarray(values, dtype=np.int64)
    digits = np.ones_like(values)
    rest = values // base
    while rest.any():
        digits += rest > 0
        rest //= base
    return digits


def gcd_tokens(base: int, max_int: int = MAX_INT, n: int = 200_000, seed: int = 0) -> tuple[float, float]:
    """Mean input and output tokens of a GCD example, ``<eos>`` left out, over ``n`` sampled pairs.

    The input is ``V2 + a + b`` (one token for the array, a sign and the digits of each operand),
    the output ``+ gcd``.
    """
    rng = np.random.default_rng(seed)
    a, b = rng.integers(1, max_int, size=(2, n), endpoint=True)
    x = 1 + 2 + n_digits(a, base) + n_digits(b, base)
    y = 1 + n_digits(np.gcd(a, b), base)
    return float(x.mean()), float(y.mean())


def gcd_max_output_len(base: int, max_int: int = MAX_INT) -> int:
    """The longest GCD output, ``+`` and the digits of ``max_int`` (gcd(a, a) = a): both programs' decode cap."""
    return 1 + int(n_digits(np.array([max_int]), base)[0])


def gcd_vocab_size(base: int) -> int:
    """The GCD task's tokens: the special tokens, ``+ -``, the base's digits and ``V2``. The output projection
    over them is counted as model FLOPs; tokens a program adds beyond them (the original's ``V1``, int2int's
    ``V1``..``V100``) are its own cost, not useful work."""
    return N_SPECIAL + 2 + base + 1


@dataclass(frozen=True)
class ParamCount:
    """Non-embedding parameters of an encoder-decoder, split by the tokens they process."""

    encoder: int  #: encoder layers and its embedding layer norm
    decoder: int  #: decoder layers (cross-attention included) and its embedding layer norm
    cross_kv: int  #: of the decoder's: the cross-attention key/value projections, which see input tokens

    @property
    def total(self) -> int:
        return self.encoder + self.decoder


def param_count(spec: ModelSpec) -> ParamCount:
    """Post-norm transformer layers with biases: attention 4 x (d^2 + d), feed-forward d x 4d x d with
    biases, a layer norm (2d) after each sub-layer, and one layer norm on each side's embeddings."""
    d, h = spec.dim, FFN_MULT * spec.dim
    attention = 4 * (d * d + d)
    ffn = d * h + h + h * d + d
    norm = 2 * d
    encoder = spec.layers * (attention + ffn + 2 * norm) + norm
    decoder = spec.layers * (2 * attention + ffn + 3 * norm) + norm
    return ParamCount(encoder=encoder, decoder=decoder, cross_kv=spec.layers * 2 * (d * d + d))


def original_non_embedding(encoder_total: int, decoder_total: int, spec: ModelSpec) -> int:
    """The original's logged parameter totals less what ``param_count`` leaves out: on each side the token
    embeddings (its vocabulary has ``V1`` too) and 4,096 learned positions; in the decoder the output
    projection's biases (its weights are the shared embeddings)."""
    vocab = gcd_vocab_size(spec.base) + 1
    return encoder_total + decoder_total - 2 * (ORIGINAL_POSITIONS + vocab) * spec.dim - vocab


def train_flops(spec: ModelSpec, x_tokens: float, y_tokens: float, vocab: int) -> float:
    """Training FLOPs of one example: 6 x (parameters x the tokens they see); attention scores left out.

    Encoder layers and the cross-attention key/value projections see the ``x_tokens`` encoder
    positions; the rest of the decoder and the output projection (``vocab`` x dim) the ``y_tokens``
    decoder positions.
    """
    p = param_count(spec)
    per_x = p.encoder + p.cross_kv
    per_y = p.decoder - p.cross_kv + vocab * spec.dim
    return 6.0 * (per_x * x_tokens + per_y * y_tokens)


def matmul_shapes(spec: ModelSpec, x_tokens: float, y_tokens: float, vocab: int) -> list[tuple[int, int, int, int]]:
    """The model's matmuls in one training batch: ``(m, k, n, count)``, weights ``k x n`` applied to ``m`` rows."""
    d, h, n_layers = spec.dim, FFN_MULT * spec.dim, spec.layers
    mx, my = max(1, round(spec.batch * x_tokens)), max(1, round(spec.batch * y_tokens))
    return [
        (mx, d, d, n_layers * (4 + 2)),  # encoder q, k, v, out; decoder cross-attention k, v
        (mx, d, h, n_layers), (mx, h, d, n_layers),
        (my, d, d, n_layers * (4 + 2)),  # decoder self-attention q, k, v, out; cross-attention q, out
        (my, d, h, n_layers), (my, h, d, n_layers),
        (my, d, vocab, 1),
    ]


def matmul_rate(m: int, k: int, n: int, dtype: torch.dtype, seconds: float = 0.03, repeats: int = 3) -> float:
    """Best FLOP/s of ``(m x k) @ (k x n)`` in ``dtype`` with torch's current threads, over ``repeats``
    timings of about ``seconds`` each."""
    a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
    reps, elapsed = 1, 0.0
    while elapsed < seconds / 4:  # calibrate (and warm up): double until a batch takes a quarter of the time
        reps *= 2
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        elapsed = time.perf_counter() - t
    reps = max(1, round(reps * seconds / elapsed))
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = max(best, 2.0 * m * k * n * reps / (time.perf_counter() - t))
    return best


def matmul_peak(shapes: Sequence[tuple[int, int, int, int]], dtype: torch.dtype, seconds: float = 0.03) -> float:
    """The FLOP/s at which the model's own matmuls run back to back: total FLOPs over the summed time of
    each shape at its measured rate (no elementwise work, no Python): the ceiling for its training."""
    flops = [2.0 * m * k * n * c for m, k, n, c in shapes]
    times = [f / matmul_rate(m, k, n, dtype, seconds) for f, (m, k, n, _) in zip(flops, shapes)]
    return sum(flops) / sum(times)


# --------------------------------------------------------------------------------------------
# medians, spreads and ratios
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spread:
    """A median and the range of the values it summarises."""

    median: float
    low: float
    high: float
    n: int


def spread(values: Sequence[float]) -> Spread:
    if not values:
        raise ValueError("spread of no values")
    return Spread(statistics.median(values), min(values), max(values), len(values))


def speedups(original: Sequence[float], int2int: Sequence[float], higher_is_better: bool) -> Spread:
    """How many times faster int2int is, round by round (each round's two runs are neighbours in time):
    the throughput ratio int2int / original, or the time ratio original / int2int."""
    if len(original) != len(int2int):
        raise ValueError(f"{len(original)} original rounds but {len(int2int)} int2int rounds")
    pairs = zip(original, int2int)
    return spread([i / o if higher_is_better else o / i for o, i in pairs])


# --------------------------------------------------------------------------------------------
# the two programs' logs
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepLine:
    """A per-step log line: when it arrived (s after launch), the step, and the examples/s the program
    reports for the steps since its previous such line."""

    t: float
    step: int
    rate: float


@dataclass
class RunLog:
    """What a benchmark reads from one run's log lines."""

    steps: list[StepLine] = field(default_factory=list)
    eval_end: float | None = None  #: arrival of the epoch's result line
    acc: float | None = None  #: valid accuracy, %
    non_embedding: int | None = None  #: non-embedding parameters as logged (the original's: derived)
    decode_lines: list[tuple[int, int]] = field(default_factory=list)  #: original: (batch size, right) per
    # batch that it decoded because its teacher-forced pass got something wrong

    @property
    def train_end(self) -> float | None:
        """Arrival of the last per-step line: the evaluation starts right after it."""
        return self.steps[-1].t if self.steps else None

    @property
    def eval_seconds(self) -> float | None:
        if self.eval_end is None or self.train_end is None:
            return None
        return self.eval_end - self.train_end


Lines = Sequence[tuple[float, str]]  #: (arrival time in s after launch, line)

INT2INT_STEP = re.compile(r"epoch \d+ step (\d+) \| (\d+(?:\.\d+)?) examples/s \|")
INT2INT_RESULT = re.compile(r"epoch \d+: train [\d.]+s \([\d.]+ examples/s\), eval [\d.]+s")
INT2INT_ACC = re.compile(r"epoch \d+: valid acc ([\d.]+)%")
INT2INT_PARAMS = re.compile(r"model: [\d,]+ parameters \(([\d,]+) without embeddings\)")
ORIGINAL_STEP = re.compile(r" - +(\d+) - +([\d.]+) examples/s - ")
ORIGINAL_RESULT = re.compile(r"__log__:(\{.*\})\s*$")
ORIGINAL_PARAMS = re.compile(r"Number of parameters \((encoder|decoder)\): (\d+)")
ORIGINAL_DECODE = re.compile(r"\(\d+/\d+\) Found (\d+)/(\d+) valid top-1 predictions")


def parse_int2int_log(lines: Lines) -> RunLog:
    """Per-step lines ``epoch E step S | N examples/s | ...``, the result line ``epoch E: train Ts (N
    examples/s), eval Us`` (the last line of an evaluation), ``valid acc``, and the parameter count."""
    out = RunLog()
    for t, line in lines:
        if m := INT2INT_STEP.search(line):
            out.steps.append(StepLine(t, int(m[1]), float(m[2])))
        elif INT2INT_RESULT.search(line) and out.eval_end is None:
            out.eval_end = t
        elif (m := INT2INT_ACC.search(line)) and out.acc is None:
            out.acc = float(m[1])
        elif m := INT2INT_PARAMS.search(line):
            out.non_embedding = int(m[1].replace(",", ""))
    return out


def parse_original_log(lines: Lines, spec: ModelSpec | None = None) -> RunLog:
    """Per-step lines ``<step> - <N> examples/s - ...``, the ``__log__:{...}`` JSON line that ends an
    epoch's evaluation, the ``Found k/b valid top-1 predictions`` line of each batch it decodes, and its
    parameter totals (turned into a non-embedding count when ``spec`` is given)."""
    out, totals = RunLog(), {}
    for t, line in lines:
        if m := ORIGINAL_STEP.search(line):
            out.steps.append(StepLine(t, int(m[1]), float(m[2])))
        elif (m := ORIGINAL_RESULT.search(line)) and out.eval_end is None:
            out.eval_end = t
            out.acc = json.loads(m[1]).get("valid_arithmetic_acc")
        elif m := ORIGINAL_DECODE.search(line):
            out.decode_lines.append((int(m[2]), int(m[1])))
        elif m := ORIGINAL_PARAMS.search(line):
            totals[m[1]] = int(m[2])
    if spec is not None and len(totals) == 2:
        out.non_embedding = original_non_embedding(totals["encoder"], totals["decoder"], spec)
    return out


# --------------------------------------------------------------------------------------------
# running a program and reading its lines as they arrive
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One run's settings, translated to each program's command line."""

    model: ModelSpec
    threads: int
    epoch_size: int
    log_every: int
    precision: str = "fp32"
    eval_size: int = 1000
    eval_batch: int = 500
    beam: int = 1


@dataclass
class Launch:
    """A finished (or stopped) run: its lines with their arrival times, and how it ended."""

    command: list[str]
    lines: list[tuple[float, str]]
    wall: float  #: launch to exit, s
    returncode: int
    stopped: bool  #: killed by us once it had logged what we needed

    def tail(self, n: int = 25) -> str:
        return "\n".join(line for _, line in self.lines[-n:])


def launch(command: list[str], cwd: Path, env: dict[str, str], stop_after: tuple[re.Pattern, int] | None = None,
           timeout: float = 900.0) -> Launch:
    """Run ``command``, time-stamping each output line (stdout and stderr) as it arrives.

    With ``stop_after=(pattern, n)`` the run's process group is killed as soon as ``n`` lines matched
    ``pattern`` (a training run with an endless epoch). A run that fails, or outlives ``timeout`` s, raises.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1, start_new_session=True)
    timed_out = threading.Event()

    def kill() -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the group this run started: its data-loader workers too
        except ProcessLookupError:
            pass

    def on_timeout() -> None:
        timed_out.set()
        kill()

    timer = threading.Timer(timeout, on_timeout)
    timer.start()
    lines: list[tuple[float, str]] = []
    matched, stopped = 0, False
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.perf_counter() - t0, line.rstrip("\n")))
            if stop_after is not None and stop_after[0].search(line):
                matched += 1
                if matched >= stop_after[1]:
                    kill()
                    stopped = True
                    break
        returncode = proc.wait()
        wall = time.perf_counter() - t0
        if stopped:  # reap the rest of the group's output so that no pipe is left behind
            proc.stdout.read()
    finally:
        timer.cancel()
        if proc.poll() is None:
            kill()
        if proc.stdout is not None:
            proc.stdout.close()
    run = Launch(command, lines, wall, returncode, stopped)
    if timed_out.is_set():
        raise RuntimeError(f"timed out after {timeout:.0f} s: {shlex.join(command)}\n{run.tail()}")
    if returncode != 0 and not stopped:
        raise RuntimeError(f"exit status {returncode}: {shlex.join(command)}\n{run.tail()}")
    return run


class Int2Int:
    """int2int, launched as ``python launch.py key=value ...`` from its repository root."""

    name = "int2int"
    step_line = INT2INT_STEP

    def __init__(self, root: Path = REPO_ROOT):
        self.root = root
        if not (root / "launch.py").is_file():
            raise FileNotFoundError(f"{root / 'launch.py'}: not an int2int checkout")

    def command(self, job: Job, run_dir: Path) -> list[str]:
        m = job.model
        return [
            sys.executable, "launch.py", "task=gcd", f"encoding.base={m.base}",
            f"architecture.n_enc_layers={m.layers}", f"architecture.n_dec_layers={m.layers}",
            f"architecture.enc_emb_dim={m.dim}", f"architecture.dec_emb_dim={m.dim}",
            f"architecture.n_enc_heads={m.heads}", f"architecture.n_dec_heads={m.heads}",
            "optimizer.lr=0.0001", f"schedule.batch_size={m.batch}",
            f"schedule.epoch_size={job.epoch_size}", "schedule.max_epoch=1", f"schedule.log_every={job.log_every}",
            f"eval.size={job.eval_size}", f"eval.batch_size={job.eval_batch}", f"eval.beam_size={job.beam}",
            f"eval.max_output_len={gcd_max_output_len(m.base)}", "hardware.device=cpu",
            f"hardware.num_threads={job.threads}", f"hardware.precision={job.precision}", f"hydra.run.dir={run_dir}",
        ]

    def parse(self, lines: Lines, spec: ModelSpec) -> RunLog:
        return parse_int2int_log(lines)


class Original:
    """The original Int2Int, launched as ``python train.py --cpu true ...`` from its folder."""

    name = "original"
    step_line = ORIGINAL_STEP

    def __init__(self, root: Path):
        self.root = root
        if not (root / "train.py").is_file():
            raise FileNotFoundError(f"--original {root}: no train.py there (the original Int2Int's folder)")

    def command(self, job: Job, run_dir: Path) -> list[str]:
        if job.precision != "fp32":
            raise ValueError(f"the original runs fp32 on CPU, not {job.precision}")
        m = job.model
        cmd = [
            sys.executable, "train.py", "--cpu", "true", "--operation", "gcd", "--base", str(m.base),
            "--n_enc_layers", str(m.layers), "--n_dec_layers", str(m.layers),
            "--enc_emb_dim", str(m.dim), "--dec_emb_dim", str(m.dim),
            "--n_enc_heads", str(m.heads), "--n_dec_heads", str(m.heads),
            "--optimizer", "adam,lr=0.0001", "--batch_size", str(m.batch),
            "--epoch_size", str(job.epoch_size), "--max_epoch", "1", "--report_loss_every", str(job.log_every),
            "--eval_size", str(job.eval_size), "--batch_size_eval", str(job.eval_batch),
            "--max_output_len", str(gcd_max_output_len(m.base)), "--env_base_seed", "0",
            "--dump_path", str(run_dir), "--exp_name", "bench", "--exp_id", "1",
        ]
        if job.beam > 1:
            cmd += ["--beam_eval", "true", "--beam_size", str(job.beam)]
        return cmd

    def parse(self, lines: Lines, spec: ModelSpec) -> RunLog:
        return parse_original_log(lines, spec)


Program = Int2Int | Original


def child_env(threads: int) -> dict[str, str]:
    """The environment of both programs: this one's, with the same thread counts and unbuffered output."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    return env


def run_job(program: Program, job: Job, stop_after_steps: int | None = None, timeout: float = 900.0
            ) -> tuple[Launch, RunLog]:
    """Launch ``program`` on ``job`` in a fresh temporary run directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{program.name}-") as tmp:
        stop = (program.step_line, stop_after_steps) if stop_after_steps else None
        run = launch(program.command(job, Path(tmp)), program.root, child_env(job.threads), stop, timeout)
    parsed = program.parse(run.lines, job.model)
    log.debug("%s: %d lines in %.1f s", shlex.join(run.command), len(run.lines), run.wall)
    return run, parsed


# --------------------------------------------------------------------------------------------
# the measurements
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    threads: int
    rounds: int = 3
    windows: int = 5
    skip: int = 1
    window_scale: float = 1.0  #: times each model's window_steps
    eval_size: int = 1000
    beam: int = 10
    job_examples: int = 51_200
    job_log_every: int = 50
    peak_seconds: float = 0.03


Label = tuple[str, str]  #: (program, precision)


def round_order(labels: list[Label], r: int) -> list[Label]:
    """Labels in launch order for round ``r``: forward on even rounds, reversed on odd ones, so that no
    program always runs first."""
    return labels if r % 2 == 0 else labels[::-1]


def labels_for(programs: dict[str, Program], precisions: Sequence[str]) -> list[Label]:
    labels = [("original", "fp32")] if "original" in programs else []
    return labels + [("int2int", p) for p in precisions]


@dataclass
class TrainResult:
    windows: dict[Label, list[list[float]]]  #: per label, per round: the measured windows' examples/s

    def pooled(self, label: Label) -> Spread:
        return spread([w for run in self.windows[label] for w in run])

    def per_round(self, label: Label) -> list[float]:
        return [statistics.median(run) for run in self.windows[label]]


def measure_training(programs: dict[str, Program], spec: ModelSpec, precisions: Sequence[str], s: Settings,
                     after_each_run: Callable[[], None] = lambda: None) -> TrainResult:
    """Training examples/s from runs with an endless epoch, each killed once it has logged ``skip``
    warm-up windows and ``windows`` measured ones of ``window_steps`` steps."""
    steps = max(1, round(spec.window_steps * s.window_scale))
    labels = labels_for(programs, precisions)
    out: dict[Label, list[list[float]]] = {label: [] for label in labels}
    for r in range(s.rounds):
        for label in round_order(labels, r):
            job = Job(spec, s.threads, epoch_size=10**9, log_every=steps, precision=label[1],
                      eval_size=s.eval_size)
            _, parsed = run_job(programs[label[0]], job, stop_after_steps=s.skip + s.windows)
            rates = [line.rate for line in parsed.steps[s.skip:s.skip + s.windows]]
            if len(rates) < s.windows:
                raise RuntimeError(f"{label[0]} logged {len(parsed.steps)} per-step lines, expected "
                                   f"{s.skip + s.windows}")
            out[label].append(rates)
            log.info("train %s %s %s round %d: %s examples/s", spec.name, *label, r + 1,
                     ", ".join(f"{x:,.0f}" for x in rates))
            after_each_run()
    return TrainResult(out)


@dataclass
class EvalResult:
    rate: dict[tuple[Label, int], list[float]]  #: per (label, beam), per round: evaluation examples/s
    first_step: dict[Label, list[float]]  #: per label, over all its eval runs: launch to the first step, s
    decoded: list[float]  #: original: fraction of the examples it decoded, per run
    non_embedding: dict[str, int]  #: program -> non-embedding parameters its log reports


def measure_eval(programs: dict[str, Program], spec: ModelSpec, precisions: Sequence[str], beams: Sequence[int],
                 s: Settings) -> EvalResult:
    """Evaluation examples/s of a model trained for one step (logged at step 1: the launch-to-first-step
    time comes with it), from the last step line to the result line."""
    labels = labels_for(programs, precisions)
    res = EvalResult({}, {label: [] for label in labels}, [], {})
    for r in range(s.rounds):
        for beam in beams:
            for label in round_order(labels, r):
                job = Job(spec, s.threads, epoch_size=spec.batch, log_every=1, precision=label[1],
                          eval_size=s.eval_size, eval_batch=min(500, s.eval_size), beam=beam)
                _, parsed = run_job(programs[label[0]], job)
                if parsed.eval_seconds is None or not parsed.steps:
                    raise RuntimeError(f"{label[0]}: no per-step line or no result line in the evaluation run of "
                                       f"{spec.name} (beam {beam})")
                res.rate.setdefault((label, beam), []).append(s.eval_size / parsed.eval_seconds)
                res.first_step[label].append(parsed.steps[0].t)
                if parsed.non_embedding is not None:
                    res.non_embedding[label[0]] = parsed.non_embedding
                if label[0] == "original":
                    res.decoded.append(sum(b for b, _ in parsed.decode_lines) / s.eval_size)
                log.info("eval %s beam %d %s %s round %d: %.2f s, first step at %.2f s", spec.name, beam, *label,
                         r + 1, parsed.eval_seconds, parsed.steps[0].t)
    return res


@dataclass
class JobResult:
    wall: dict[Label, list[float]]  #: per label, per round: launch to exit, s
    acc: dict[Label, list[float]]  #: per label, per round: valid accuracy after the epoch, %


def measure_job(programs: dict[str, Program], s: Settings) -> JobResult:
    """Wall time of a whole one-epoch tiny job: start-up, ``job_examples`` trained, ``eval_size`` evaluated."""
    spec = MODELS["tiny"]
    labels = labels_for(programs, ["fp32"])
    res = JobResult({label: [] for label in labels}, {label: [] for label in labels})
    for r in range(s.rounds):
        for label in round_order(labels, r):
            job = Job(spec, s.threads, epoch_size=s.job_examples, log_every=s.job_log_every,
                      eval_size=s.eval_size, eval_batch=min(500, s.eval_size))
            run, parsed = run_job(programs[label[0]], job)
            res.wall[label].append(run.wall)
            if parsed.acc is not None:
                res.acc[label].append(parsed.acc)
            log.info("one-epoch job %s round %d: %.2f s, valid acc %s%%", label[0], r + 1, run.wall, parsed.acc)
    return res


def warm_up(programs: dict[str, Program], s: Settings) -> None:
    """One short run of each program, not measured: file caches, first imports."""
    for program in programs.values():
        run_job(program, Job(MODELS["tiny"], s.threads, epoch_size=MODELS["tiny"].batch, log_every=1, eval_size=10,
                             eval_batch=10))


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    measure: str
    model: str
    precision: str
    int2int: str
    original: str = ""
    speedup: str = ""


def fmt_spread(x: Spread, fmt: str, unit: str = "") -> str:
    """``median unit (low-high)``; the range is left out when there is none to show."""
    text, low, high = f"{x.median:{fmt}}{unit}", f"{x.low:{fmt}}", f"{x.high:{fmt}}"
    return text if low == high else f"{text} ({low}-{high})"


def fmt_mfu(flops_per_s: float, peak: float) -> str:
    """A percentage of the peak; above 100% the peak was measured at a busy moment and means nothing."""
    mfu = 100 * flops_per_s / peak
    return f"{mfu:.1f}%" if mfu <= 100 else f"n/a ({mfu:.0f}%: peak measured while the CPUs were busy)"


def markdown_table(rows: Sequence[Row], with_original: bool) -> str:
    head = ["measure", "model", "int2int precision", "int2int"]
    if with_original:
        head += ["original (fp32)", "int2int speed-up"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r.measure, r.model, r.precision, r.int2int] + ([r.original, r.speedup] if with_original else [])
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


@dataclass
class ModelFacts:
    """What the FLOP count and the peak are built from, per model."""

    spec: ModelSpec
    x_tokens: float
    y_tokens: float
    vocab: int
    flops: float  #: training FLOPs per example
    peak: dict[str, float]  #: precision -> matmul FLOP/s at the model's shapes

    def remeasure(self, seconds: float) -> None:
        """Measure the peaks again and keep the best: a ceiling is the fastest the matmuls ever ran, and on a
        shared machine any one measurement can land on a busy moment."""
        shapes = matmul_shapes(self.spec, self.x_tokens, self.y_tokens, self.vocab)
        for p in self.peak:
            self.peak[p] = max(self.peak[p], matmul_peak(shapes, DTYPES[p], seconds))


def model_facts(spec: ModelSpec, precisions: Sequence[str], peak_seconds: float) -> ModelFacts:
    x, y = gcd_tokens(spec.base)
    x_tokens, y_tokens, vocab = x + 1, y + 1, gcd_vocab_size(spec.base)  # + <eos> on each side
    facts = ModelFacts(spec, x_tokens, y_tokens, vocab, train_flops(spec, x_tokens, y_tokens, vocab),
                       {p: 0.0 for p in sorted(set(precisions) | {"fp32"})})
    facts.remeasure(peak_seconds)
    return facts


def train_rows(name: str, tr: TrainResult, facts: ModelFacts, precisions: Sequence[str], with_original: bool
               ) -> list[Row]:
    rows, orig = [], ("original", "fp32")
    for p in precisions:
        label = ("int2int", p)
        row = Row("train examples/s", name, p, fmt_spread(tr.pooled(label), ",.0f"))
        if with_original:
            row = replace(row, original=fmt_spread(tr.pooled(orig), ",.0f"),
                          speedup=fmt_spread(speedups(tr.per_round(orig), tr.per_round(label), True), ".2f", "x"))
        rows.append(row)
    for p in precisions:
        row = Row(f"train MFU (% of {p} peak {facts.peak[p] / 1e9:,.0f} GFLOP/s)", name, p,
                  fmt_mfu(tr.pooled(("int2int", p)).median * facts.flops, facts.peak[p]))
        if with_original:
            row = replace(row, original=fmt_mfu(tr.pooled(orig).median * facts.flops, facts.peak["fp32"])
                          + " (of fp32 peak)", speedup="-")
        rows.append(row)
    return rows


def eval_rows(name: str, ev: EvalResult, precisions: Sequence[str], beams: Sequence[int], s: Settings,
              with_original: bool) -> list[Row]:
    rows, orig = [], ("original", "fp32")
    for beam in beams:
        what = "greedy" if beam == 1 else f"beam {beam}"
        for p in precisions:
            label = ("int2int", p)
            row = Row(f"{what} eval examples/s ({s.eval_size:,} examples)", name, p,
                      fmt_spread(spread(ev.rate[(label, beam)]), ",.0f"))
            if with_original:
                row = replace(row, original=fmt_spread(spread(ev.rate[(orig, beam)]), ",.0f"),
                              speedup=fmt_spread(speedups(ev.rate[(orig, beam)], ev.rate[(label, beam)], True),
                                                 ".2f", "x"))
            rows.append(row)
    label = ("int2int", "fp32") if "fp32" in precisions else ("int2int", precisions[0])
    row = Row("launch to first training step (s)", name, label[1], fmt_spread(spread(ev.first_step[label]), ".2f"))
    if with_original:
        row = replace(row, original=fmt_spread(spread(ev.first_step[orig]), ".2f"),
                      speedup=fmt_spread(speedups(ev.first_step[orig], ev.first_step[label], False), ".2f", "x"))
    rows.append(row)
    return rows


def job_rows(jr: JobResult, s: Settings, with_original: bool) -> list[Row]:
    label, orig = ("int2int", "fp32"), ("original", "fp32")
    row = Row(f"one-epoch job, {s.job_examples:,} trained + {s.eval_size:,} evaluated (s)", "tiny", "fp32",
              fmt_spread(spread(jr.wall[label]), ".1f"))
    if with_original:
        row = replace(row, original=fmt_spread(spread(jr.wall[orig]), ".1f"),
                      speedup=fmt_spread(speedups(jr.wall[orig], jr.wall[label], False), ".2f", "x"))
    return [row]


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------
PARTS = ("train", "eval", "job")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m int2int.bench", description=__doc__.split("\n")[0])
    p.add_argument("--original", type=Path, help="the original Int2Int's folder (with train.py): measure it "
                   "side by side; without it, int2int alone")
    p.add_argument("--int2int", type=Path, default=REPO_ROOT, help="the int2int checkout to measure (with "
                   "launch.py; default: the one this module belongs to)")
    p.add_argument("--models", default="tiny,small,default", help=f"comma-separated subset of {','.join(MODELS)}")
    p.add_argument("--precision", default="fp32,bf16", help="int2int's precisions, comma-separated (fp32,bf16)")
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)} "
                   "(MFU comes with train)")
    p.add_argument("--windows", type=int, default=5, help="measured throughput windows per training run")
    p.add_argument("--skip", type=int, default=1, help="warm-up windows skipped at the start of each training run")
    p.add_argument("--rounds", type=int, default=3, help="alternations of the programs for each measure")
    p.add_argument("--window-scale", type=float, default=1.0, help="steps per window, times the model's default "
                   f"({', '.join(f'{m.name} {m.window_steps}' for m in MODELS.values())})")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                   help="threads of both programs (OMP_NUM_THREADS, hardware.num_threads) and of the matmul peak")
    p.add_argument("--eval-size", type=int, default=1000, help="examples evaluated")
    p.add_argument("--beam", type=int, default=10, help="beam size of the beam-search evaluation")
    p.add_argument("--job-examples", type=int, default=51_200, help="training examples of the one-epoch tiny job")
    p.add_argument("--quick", action="store_true", help="one round, two windows of half the steps, short peaks, no "
                   "warm-up run: shows that everything runs, figures are rough")
    args = p.parse_args(argv)
    for key, allowed in (("models", MODELS), ("precision", PRECISIONS), ("parts", PARTS)):
        values = [v.strip() for v in getattr(args, key).split(",") if v.strip()]
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            p.error(f"--{key} {getattr(args, key)!r}: expected a comma-separated subset of {','.join(allowed)}")
        setattr(args, key, values)
    for key in ("windows", "rounds", "threads", "eval_size", "beam", "job_examples"):
        if getattr(args, key) < 1:
            p.error(f"--{key.replace('_', '-')} {getattr(args, key)}: must be >= 1")
    if args.skip < 0 or args.window_scale <= 0:
        p.error("--skip must be >= 0 and --window-scale > 0")
    return args


def settings_from(args: argparse.Namespace) -> Settings:
    s = Settings(threads=args.threads, rounds=args.rounds, windows=args.windows, skip=args.skip,
                 window_scale=args.window_scale, eval_size=args.eval_size, beam=args.beam,
                 job_examples=args.job_examples)
    if args.quick:
        s = replace(s, rounds=1, windows=min(s.windows, 2), window_scale=s.window_scale / 2, peak_seconds=0.02)
    return s


def environment_line(threads: int) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{time.strftime('%Y-%m-%d %H:%M')}, {cpu}, {os.cpu_count()} CPUs, {threads} threads, "
            f"torch {torch.__version__}, Python {platform.python_version()}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds through launch(): its run is killed too
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    s = settings_from(args)
    programs: dict[str, Program] = {}
    if args.original is not None:
        programs["original"] = Original(args.original.resolve())
    programs["int2int"] = Int2Int(args.int2int.resolve())
    with_original = "original" in programs
    torch.set_num_threads(s.threads)
    beams = [1, s.beam] if s.beam > 1 else [1]
    t0, load_start = time.perf_counter(), os.getloadavg()[0]
    if load_start > 0.5:
        log.warning("the 1-minute load average is %.1f before the bench starts: other work shares the CPUs and "
                    "the figures will be noisy", load_start)

    if not args.quick:
        warm_up(programs, s)
    rows: list[Row] = []
    notes: list[str] = []
    for name in args.models:
        spec = MODELS[name]
        if "train" in args.parts:
            facts = model_facts(spec, args.precision, s.peak_seconds)
            # the peak again after every run, the best kept: on a busy machine one measurement can land badly
            trained = measure_training(programs, spec, args.precision, s, lambda: facts.remeasure(s.peak_seconds))
            rows += train_rows(name, trained, facts, args.precision, with_original)
            notes.append(f"{name}: {param_count(spec).total:,} non-embedding parameters (computed), "
                         f"{facts.x_tokens:.2f} input and {facts.y_tokens:.2f} output tokens per example, "
                         f"{facts.flops / 1e6:,.1f} MFLOP per training example; matmul peak at its shapes "
                         + ", ".join(f"{p} {v / 1e9:,.0f} GFLOP/s" for p, v in facts.peak.items()))
        if "eval" in args.parts:
            ev = measure_eval(programs, spec, args.precision, beams, s)
            rows += eval_rows(name, ev, args.precision, beams, s, with_original)
            logged = ", ".join(f"{k} logs {v:,}" for k, v in ev.non_embedding.items())
            notes.append(f"{name}: non-embedding parameters as logged: {logged}")
            if ev.decoded:
                share = fmt_spread(spread([100 * d for d in ev.decoded]), ".0f", "%")
                notes.append(f"{name}: the original decoded {share} of the evaluated examples (it decodes a batch "
                             "when its teacher-forced pass gets any example of it wrong); int2int decodes all")
    if "job" in args.parts:
        jr = measure_job(programs, s)
        rows += job_rows(jr, s, with_original)
        notes.append("one-epoch tiny job, valid acc %: " + "; ".join(
            f"{label[0]} {', '.join(f'{a:.1f}' for a in accs)}" for label, accs in jr.acc.items()))

    command = "python -m int2int.bench " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    print(f"`{command}`\n")
    print(environment_line(s.threads) + f", 1-minute load average {load_start:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end (the bench adds about its thread count)\n")
    print(markdown_table(rows, with_original))
    print()
    for note in notes:
        print(f"- {note}")
    rounds = f"{s.rounds} round(s)" + (" alternating the programs" if with_original else "")
    ratios = ", speed-ups the median (min-max) of per-round ratios" if with_original else ""
    print(f"- {rounds}; training: {s.windows} window(s) of examples/s per run after {s.skip} skipped; figures are "
          f"medians (min-max){ratios}; total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
