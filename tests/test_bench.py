"""int2int.bench: its log parsers on real lines of both programs, its arithmetic, and one quick run.

The log samples below were recorded from real runs on this project's machine: the original Int2Int
(``../shared/peers/int2int-original``, ``python train.py --cpu true --operation gcd ...``) and int2int
(``python launch.py ...``), on the tiny (base 30) and small (base 1000) models of the benchmark.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from int2int import bench
from int2int.bench import (MODELS, Int2Int, Job, Original, Row, gcd_max_output_len, gcd_tokens, gcd_vocab_size,
                           launch, markdown_table, matmul_shapes, param_count, parse_int2int_log, parse_original_log,
                           speedups, spread, train_flops)

ROOT = Path(__file__).resolve().parents[1]

I2I = "[2026-11-29 23:05:2{}][int2int.{}][INFO] - "  # int2int's (Hydra's) prefix: time, logger, level

# int2int at commit 60db6be, tiny model (1+1 layers, 64 dims, base 30), 4 steps of 256 logged at every step,
# greedy eval of 1,000 (its per-class line and run path shortened)
INT2INT_TINY = "\n".join([
    I2I.format("7,418", "job") + "run directory: /tmp/tmp.Qnurbt6lMx",
    I2I.format("8,777", "train") + "task: GcdTask(vocabulary 48 tokens, input <= 13, output <= 6)",
    I2I.format("8,777", "train") + "model: 188,672 parameters (116,992 without embeddings) on cpu, fp32",
    I2I.format("8,777", "train") + "eval set valid: 1000 examples (generated, eval.seed=12345)",
    I2I.format("8,777", "train") + "fresh generated data: 1,024 training examples, none repeated",
    I2I.format("8,839", "train") + "epoch 1 step 1 | 4194 examples/s | loss 5.2664 | lr 1.000e-04",
    I2I.format("8,879", "train") + "epoch 1 step 2 | 6419 examples/s | loss 5.0380 | lr 1.000e-04",
    I2I.format("8,913", "train") + "epoch 1 step 3 | 7470 examples/s | loss 4.7812 | lr 1.000e-04",
    I2I.format("8,955", "train") + "epoch 1 step 4 | 6090 examples/s | loss 4.5660 | lr 1.000e-04",
    I2I.format("9,101", "train") + "epoch 1: valid acc 0.00% (perfect 0.00%, correct 0.00%, xe_loss 4.3086)",
    I2I.format("9,102", "train") + "valid per-gcd accuracy (most frequent 12): 1: 0/612, 2: 0/149, 3: 0/65",
    I2I.format("9,102", "train") + "epoch 1: train 0.2s (5772 examples/s), eval 0.1s",
    I2I.format("9,118", "job") + "done: epoch 1, 1024 examples, valid acc 0.00% (results in /tmp/x/metrics.jsonl)",
])

# int2int at commit 60db6be, small model (2+2 layers, 256 dims, base 1000), bf16, one step, beam 10 on 1,000 examples
I2I_SMALL = "[2026-11-29 23:06:{}][int2int.train][INFO] - "
INT2INT_SMALL_BEAM = "\n".join([
    I2I_SMALL.format("07,033") + "task: GcdTask(vocabulary 1018 tokens, input <= 9, output <= 4)",
    I2I_SMALL.format("07,034") + "model: 4,470,784 parameters (3,687,424 without embeddings) on cpu, bf16",
    I2I_SMALL.format("07,148") + "epoch 1 step 1 | 566 examples/s | loss 7.2743 | lr 1.000e-04",
    I2I_SMALL.format("10,749") + "epoch 1: valid acc 0.00% (perfect 0.00%, correct 0.00%, xe_loss 4.2223), "
                                 "valid_top1_acc 0",
    I2I_SMALL.format("10,749") + "epoch 1: train 0.1s (565 examples/s), eval 3.6s",
])

ORIG = "{} - 11/29/26 23:05:{} - 0:00:{} - "  # the original's prefix: level, time, time since start

# int2int at commit b05620f (its vocabulary has V1..V100 now), small model, fp32, beam 10: the parsed lines are
# the same as at 60db6be, above
I2I_B056 = "[2026-11-29 23:35:{}][int2int.{}][INFO] - "
INT2INT_SMALL_BEAM_B056 = "\n".join([
    I2I_B056.format("39,354", "job") + "run directory: /tmp/tmp.Jox6NUTHTX",
    I2I_B056.format("40,935", "train") + "task: gcd (vocabulary 1117 tokens, input <= 9, output <= 4 tokens)",
    I2I_B056.format("40,936", "train") + "model: 4,521,472 parameters (3,687,424 without embeddings) on cpu, fp32",
    I2I_B056.format("40,936", "train") + "eval set valid: 1000 examples",
    I2I_B056.format("40,936", "train") + "fresh generated data: 64 training examples, none repeated",
    I2I_B056.format("41,736", "train") + "epoch 1 step 1 | 80 examples/s | loss 8.1147 | lr 1.000e-04",
    I2I_B056.format("54,702", "train") + "epoch 1: valid acc 0.00% (perfect 0.00%, correct 0.10%, xe_loss 4.8649), "
                                         "valid_top1_acc 0, valid_divisor 0",
    I2I_B056.format("54,702", "train") + "valid per-gcd accuracy (most frequent 12): 1: 0/631, 2: 0/145, 3: 0/65",
    I2I_B056.format("54,702", "train") + "epoch 1: train 0.8s (79 examples/s), eval 13.0s",
    I2I_B056.format("54,767", "job") + "done: epoch 1, 64 examples, valid acc 0.00% (results in /tmp/x/metrics.jsonl)",
])

# the original, tiny model, 4 steps of 256 with --report_loss_every 1, greedy eval of 1,000 in batches of 500
# (its parameter dump and vocabulary lines shortened)
ORIGINAL_TINY = "\n".join([
    "SLURM job: False",
    "0 - Number of nodes: 1",
    ORIG.format("INFO", "17", "00") + "============ Initialized logger ============",
    ORIG.format("INFO", "17", "00") + "GRU: False",
    "                                     accumulate_gradients: 1",
    "                                     report_loss_every: 1",
    ORIG.format("INFO", "17", "00") + "Training tasks: arithmetic",
    ORIG.format("INFO", "17", "00") + "Number of parameters (encoder): 315392",
    ORIG.format("INFO", "17", "00") + "Number of parameters (decoder): 332209",
    ORIG.format("INFO", "17", "00") + "Found 51 parameters in model.",
    ORIG.format("INFO", "19", "01") + "Optimizer: <class 'src.optim.Adam'>",
    ORIG.format("INFO", "19", "01") + "============ Starting epoch 0 ... ============",
    ORIG.format("INFO", "19", "02") + "      1 - 1146.48 examples/s - 16503.08 words/s - ARITHMETIC:  6.1260 - "
                                      "LR: 1.0000e-04",
    ORIG.format("INFO", "19", "02") + "      2 - 4377.88 examples/s - 62829.48 words/s - ARITHMETIC:  6.0507 - "
                                      "LR: 1.0000e-04",
    ORIG.format("INFO", "19", "02") + "      3 - 4801.01 examples/s - 68845.78 words/s - ARITHMETIC:  5.9448 - "
                                      "LR: 1.0000e-04",
    ORIG.format("INFO", "19", "02") + "      4 - 5029.99 examples/s - 72050.67 words/s - ARITHMETIC:  5.8518 - "
                                      "LR: 1.0000e-04",
    ORIG.format("INFO", "19", "02") + "Memory allocated:  0.00MB, reserved: 0.00MB",
    ORIG.format("INFO", "19", "02") + "============ End of epoch 0 ============",
    ORIG.format("INFO", "19", "02") + "Creating valid iterator for arithmetic ...",
    ORIG.format("INFO", "19", "02") + "(500/1000) Found 0/500 valid top-1 predictions. Generating solutions ...",
    ORIG.format("INFO", "19", "02") + "    Found 0/500 solutions in beam hypotheses.",
    ORIG.format("INFO", "19", "02") + "(1000/1000) Found 0/500 valid top-1 predictions. Generating solutions ...",
    ORIG.format("INFO", "19", "02") + "    Found 0/500 solutions in beam hypotheses.",
    ORIG.format("INFO", "19", "02") + "0/1000 (0.0%) examples were evaluated correctly.",
    ORIG.format("INFO", "20", "02") + "Memory allocated:  0.00MB, reserved: 0.00MB",
    ORIG.format("INFO", "20", "02") + '__log__:{"epoch": 0, "valid_arithmetic_xe_loss": 17.473622500419616, '
                                      '"valid_arithmetic_acc": 0.0, "valid_arithmetic_perfect": 0.0}',
    ORIG.format("INFO", "20", "02") + "Saving checkpoint to /tmp/tmp.zXMMmmZtxA/tiny/1/checkpoint.pth ...",
    ORIG.format("WARNING", "20", "02") + "Saving encoder parameters ...",
])

# the original, small model, beam 10 (its parameter lines, and the eval of a barely trained model)
ORIGINAL_SMALL_BEAM = "\n".join([
    ORIG.format("INFO", "47", "00") + "Number of parameters (encoder): 2889472",
    ORIG.format("INFO", "47", "00") + "Number of parameters (decoder): 3417851",
    ORIG.format("INFO", "47", "00") + "Found 93 parameters in model.",
    ORIG.format("INFO", "48", "02") + "      1 -  162.19 examples/s -  1621.92 words/s - ARITHMETIC:  9.9444 - "
                                      "LR: 1.0000e-04",
    ORIG.format("INFO", "48", "02") + "============ End of epoch 0 ============",
    ORIG.format("INFO", "50", "03") + "(500/1000) Found 0/500 valid top-1 predictions. Generating solutions ...",
    ORIG.format("INFO", "54", "07") + "    Found 0/500 solutions in beam hypotheses.",
    ORIG.format("INFO", "54", "07") + "(1000/1000) Found 0/500 valid top-1 predictions. Generating solutions ...",
    ORIG.format("INFO", "57", "10") + "    Found 0/500 solutions in beam hypotheses.",
    ORIG.format("INFO", "57", "10") + "0/1000 (0.0%) equations were evaluated correctly.",
    ORIG.format("INFO", "57", "10") + '__log__:{"epoch": 0, "valid_arithmetic_xe_loss": 25.818853855133057, '
                                      '"valid_arithmetic_acc": 0.0}',
])


def timed(text: str, dt: float = 0.5) -> list[tuple[float, str]]:
    """The sample's lines, line i arriving at i * dt seconds."""
    return [(i * dt, line) for i, line in enumerate(text.splitlines())]


def index_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines()) if fragment in line)


# ---------------------------------------------------------------------------------- log parsers
def test_int2int_log_steps_eval_window_and_parameters():
    parsed = parse_int2int_log(timed(INT2INT_TINY))
    assert [(s.step, s.rate) for s in parsed.steps] == [(1, 4194), (2, 6419), (3, 7470), (4, 6090)]
    assert parsed.steps[0].t == 0.5 * index_of(INT2INT_TINY, "step 1 |")
    # the evaluation runs from the last step line to the "train ... eval ..." line, two lines of results between
    assert parsed.train_end == 0.5 * index_of(INT2INT_TINY, "step 4 |")
    assert parsed.eval_end == 0.5 * index_of(INT2INT_TINY, "eval 0.1s")
    assert parsed.eval_seconds == pytest.approx(1.5)
    assert parsed.acc == 0.0
    assert parsed.non_embedding == 116_992


def test_int2int_log_of_a_beam_run():
    parsed = parse_int2int_log(timed(INT2INT_SMALL_BEAM, dt=1.0))
    assert [(s.step, s.rate) for s in parsed.steps] == [(1, 566)]
    assert parsed.eval_seconds == 2.0
    assert parsed.non_embedding == 3_687_424


def test_int2int_log_of_the_current_version():
    parsed = parse_int2int_log(timed(INT2INT_SMALL_BEAM_B056, dt=1.0))
    assert [(s.step, s.rate) for s in parsed.steps] == [(1, 80)]
    assert parsed.eval_seconds == 3.0  # from "step 1" to "eval 13.0s", over the valid acc and per-gcd lines
    assert parsed.acc == 0.0 and parsed.non_embedding == 3_687_424


def test_original_log_steps_decoded_batches_and_result_line():
    parsed = parse_original_log(timed(ORIGINAL_TINY), MODELS["tiny"])
    assert [(s.step, s.rate) for s in parsed.steps] == [(1, 1146.48), (2, 4377.88), (3, 4801.01), (4, 5029.99)]
    # "0 - Number of nodes: 1" and the parameter dump are no step lines; both eval batches were decoded
    assert parsed.decode_lines == [(500, 0), (500, 0)]
    assert parsed.train_end == 0.5 * index_of(ORIGINAL_TINY, "      4 - 5029.99")
    assert parsed.eval_end == 0.5 * index_of(ORIGINAL_TINY, "__log__")
    assert parsed.eval_seconds == pytest.approx(0.5 * 10)
    assert parsed.acc == 0.0


def test_original_parameter_totals_match_int2int_non_embedding_counts():
    """Both programs build the same layers: the original's logged totals, less its embeddings (4,096
    positions, one more token) and output biases, equal int2int's logged non-embedding counts."""
    tiny = parse_original_log(timed(ORIGINAL_TINY), MODELS["tiny"])
    small = parse_original_log(timed(ORIGINAL_SMALL_BEAM), MODELS["small"])
    assert tiny.non_embedding == 116_992  # int2int: "(116,992 without embeddings)"
    assert small.non_embedding == 3_687_424  # int2int: "(3,687,424 without embeddings)"
    assert small.eval_seconds == 7 * 0.5
    assert parse_original_log(timed(ORIGINAL_TINY)).non_embedding is None  # no model spec: no derivation


# the original, tiny model after 25,600 examples (--report_loss_every 50): its teacher-forced pass gets 303 and
# 300 of the two batches of 500 right, and it decodes both batches (a batch all right would not be decoded)
ORIGINAL_TINY_TRAINED = "\n".join([
    ORIG.format("INFO", "52", "04") + "     50 - 5040.44 examples/s - 72328.79 words/s - ARITHMETIC:  3.6507 - "
                                      "LR: 1.0000e-04",
    ORIG.format("INFO", "58", "09") + "    100 - 2451.62 examples/s - 35176.54 words/s - ARITHMETIC:  1.2623 - "
                                      "LR: 1.0000e-04",
    ORIG.format("INFO", "58", "09") + "(500/1000) Found 303/500 valid top-1 predictions. Generating solutions ...",
    ORIG.format("INFO", "58", "09") + "    Found 303/500 solutions in beam hypotheses.",
    ORIG.format("INFO", "58", "09") + "(1000/1000) Found 300/500 valid top-1 predictions. Generating solutions ...",
    ORIG.format("INFO", "58", "09") + "    Found 300/500 solutions in beam hypotheses.",
    ORIG.format("INFO", "58", "09") + "603/1000 (60.3%) examples were evaluated correctly.",
    ORIG.format("INFO", "58", "09") + '__log__:{"epoch": 0, "valid_arithmetic_xe_loss": 2.4266468036174773, '
                                      '"valid_arithmetic_acc": 60.3, "valid_arithmetic_perfect": 60.3}',
])


def test_original_log_of_a_trained_model():
    parsed = parse_original_log(timed(ORIGINAL_TINY_TRAINED))
    assert [(s.step, s.rate) for s in parsed.steps] == [(50, 5040.44), (100, 2451.62)]
    assert parsed.decode_lines == [(500, 303), (500, 300)]
    assert parsed.acc == 60.3
    assert parsed.eval_seconds == 6 * 0.5


# ---------------------------------------------------------------------------------- task, parameters, FLOPs
def test_parameter_counts_equal_those_int2int_logs():
    assert param_count(MODELS["tiny"]).total == 116_992
    assert param_count(MODELS["small"]).total == 3_687_424
    # default model, 4+4 layers of 256 dims: encoder 4 x 789,760 + 512, decoder 4 x 1,053,440 + 512
    assert param_count(MODELS["default"]).total == 4 * 789_760 + 512 + 4 * 1_053_440 + 512


def test_train_flops_against_a_hand_count_for_the_tiny_model():
    # d = 64: attention 4 x (64*64 + 64) = 16,640; feed-forward 64*256 + 256 + 256*64 + 64 = 33,088; norm 128
    encoder = 16_640 + 33_088 + 2 * 128 + 128  # one layer, then the embedding norm: 50,112
    decoder = 2 * 16_640 + 33_088 + 3 * 128 + 128  # self and cross attention: 66,880
    cross_kv = 2 * (64 * 64 + 64)  # 8,320, applied to the encoder positions
    projection = 48 * 64  # output vocabulary x dim, applied to the decoder positions
    x_tokens, y_tokens = 12.0, 3.0
    hand = 6 * ((encoder + cross_kv) * x_tokens + (decoder - cross_kv + projection) * y_tokens)
    assert hand == 6 * (58_432 * 12 + 61_632 * 3)
    assert train_flops(MODELS["tiny"], x_tokens, y_tokens, vocab=48) == hand


def test_matmul_shapes_cover_the_flop_count_less_its_norms_and_biases():
    """The peak is measured on the matmuls the FLOP count is made of (2 FLOPs per multiply-add, x3 for training)."""
    spec = MODELS["small"]
    x_tokens, y_tokens, vocab = 8.0, 3.0, 1018
    matmul = sum(2 * m * k * n * c for m, k, n, c in matmul_shapes(spec, x_tokens, y_tokens, vocab))
    per_batch = train_flops(spec, x_tokens, y_tokens, vocab) * spec.batch / 3
    assert matmul == pytest.approx(per_batch, rel=0.01)
    assert matmul < per_batch


def test_gcd_token_counts_and_lengths_match_the_task():
    # the task's tokens: the original's vocabulary in base 30 ("words: {...}", 49 tokens) less its V1
    assert gcd_vocab_size(30) == 49 - 1 and gcd_vocab_size(1000) == 1018
    # int2int logs "input <= 13, output <= 6" in base 30, and "output <= 4" in base 1000
    assert gcd_max_output_len(30) == 6 and gcd_max_output_len(1000) == 4
    assert bench.n_digits(np.array([1, 29, 30, 899, 900, 999_999]), 30).tolist() == [1, 1, 2, 2, 3, 5]
    x, y = gcd_tokens(1000)
    # operands below 1,000 (probability 999 / 10^6 each) have one digit, the others two: V2 + a + b
    assert x == pytest.approx(1 + 2 * (1 + 2 - 999 / 1e6), abs=2e-4)
    rng = np.random.default_rng(7)  # the outputs, from Python's own gcd on other pairs
    pairs = rng.integers(1, 10**6, size=(20_000, 2), endpoint=True).tolist()
    expected = np.mean([1 + (1 if math.gcd(a, b) < 1000 else 2) for a, b in pairs])
    assert y == pytest.approx(expected, abs=2e-3)


# ---------------------------------------------------------------------------------- medians and ratios
def test_spread_is_the_median_and_range():
    assert spread([3.0, 1.0, 2.0]) == bench.Spread(2.0, 1.0, 3.0, 3)
    assert spread([4.0, 1.0, 2.0, 10.0]).median == 3.0
    with pytest.raises(ValueError):
        spread([])


def test_speedups_pair_rounds_for_throughputs_and_times():
    # throughput: int2int / original, per round
    assert speedups([100.0, 200.0, 50.0], [150.0, 300.0, 100.0], higher_is_better=True) == bench.Spread(
        1.5, 1.5, 2.0, 3)
    # time: original / int2int
    assert speedups([3.0, 2.0], [1.5, 2.0], higher_is_better=False) == bench.Spread(1.5, 1.0, 2.0, 2)
    with pytest.raises(ValueError, match="2 original rounds but 1 int2int"):
        speedups([1.0, 2.0], [1.0], True)


def test_table_has_a_ratio_column_only_with_the_original():
    row = Row("train examples/s", "tiny", "fp32", "10,000", "5,000", "2.00x")
    alone = markdown_table([row], with_original=False).splitlines()
    assert alone == ["| measure | model | int2int precision | int2int |", "|---|---|---|---|",
                     "| train examples/s | tiny | fp32 | 10,000 |"]
    both = markdown_table([row], with_original=True).splitlines()
    assert both[0] == "| measure | model | int2int precision | int2int | original (fp32) | int2int speed-up |"
    assert both[2] == "| train examples/s | tiny | fp32 | 10,000 | 5,000 | 2.00x |"


def test_fmt_spread_leaves_out_a_range_with_nothing_in_it():
    assert bench.fmt_spread(bench.Spread(2.5, 2.5, 2.5, 1), ".2f", "x") == "2.50x"
    assert bench.fmt_spread(bench.Spread(100.0, 100.0, 100.0, 3), ".0f", "%") == "100%"
    assert bench.fmt_spread(bench.Spread(1234.0, 1000.0, 1500.0, 4), ",.0f") == "1,234 (1,000-1,500)"


def test_mfu_above_the_peak_is_reported_as_meaningless():
    assert bench.fmt_mfu(50e9, 200e9) == "25.0%"
    assert bench.fmt_mfu(80e9, 40e9).startswith("n/a (200%")


# ---------------------------------------------------------------------------------- commands and launching
def test_both_commands_carry_the_same_settings():
    job = Job(MODELS["small"], threads=2, epoch_size=64, log_every=1, eval_size=1000, eval_batch=500, beam=10)
    i2i = Int2Int(ROOT).command(job, Path("/tmp/run"))
    assert i2i[1] == "launch.py"
    for kv in ("encoding.base=1000", "architecture.n_enc_layers=2", "architecture.dec_emb_dim=256",
               "architecture.n_dec_heads=4", "schedule.batch_size=64", "eval.beam_size=10", "eval.max_output_len=4",
               "hardware.num_threads=2", "hardware.precision=fp32", "hydra.run.dir=/tmp/run", "optimizer.lr=0.0001"):
        assert kv in i2i
    orig = Original(Path("/work/shared/peers/int2int-original")).command(job, Path("/tmp/run"))
    flags = dict(zip(orig[2::2], orig[3::2]))
    assert flags["--base"] == "1000" and flags["--n_enc_layers"] == "2" and flags["--dec_emb_dim"] == "256"
    assert flags["--batch_size"] == "64" and flags["--beam_size"] == "10" and flags["--max_output_len"] == "4"
    assert flags["--dump_path"] == "/tmp/run" and flags["--cpu"] == "true" and flags["--optimizer"] == "adam,lr=0.0001"
    with pytest.raises(ValueError, match="fp32"):
        Original(Path("/work/shared/peers/int2int-original")).command(
            Job(MODELS["tiny"], 2, 256, 1, precision="bf16"), Path("/tmp/run"))


def test_original_must_be_a_folder_with_train_py(tmp_path):
    with pytest.raises(FileNotFoundError, match="no train.py"):
        Original(tmp_path)


def test_launch_stops_an_endless_run_once_it_logged_enough(tmp_path):
    script = "import itertools, time\nfor i in itertools.count():\n    print(f'step {i}', flush=True)\n" \
             "    time.sleep(0.01)\n"
    run = launch([sys.executable, "-c", script], tmp_path, {}, stop_after=(re.compile(r"step \d+"), 5), timeout=60)
    assert run.stopped
    assert [line for _, line in run.lines] == [f"step {i}" for i in range(5)]
    times = [t for t, _ in run.lines]
    assert times == sorted(times) and times[0] > 0


def test_launch_reports_a_failing_run_with_its_last_lines(tmp_path):
    with pytest.raises(RuntimeError, match=r"exit status 3(.|\n)*the last words"):
        launch([sys.executable, "-c", "print('the last words'); raise SystemExit(3)"], tmp_path, {}, timeout=60)


def test_arguments_are_checked():
    with pytest.raises(SystemExit):
        bench.parse_args(["--models", "tiny,huge"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--precision", "fp16"])
    args = bench.parse_args(["--models", "tiny", "--quick"])
    s = bench.settings_from(args)
    assert args.models == ["tiny"] and s.rounds == 1 and s.windows == 2


# ---------------------------------------------------------------------------------- the whole command, briefly
@pytest.mark.slow
def test_quick_bench_of_int2int_alone_prints_its_rows_and_no_ratio():
    cmd = [sys.executable, "-m", "int2int.bench", "--quick", "--models", "tiny", "--precision", "fp32",
           "--threads", "1", "--window-scale", "0.1", "--eval-size", "40", "--beam", "2", "--job-examples", "512"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert lines[0] == "`python -m int2int.bench " + " ".join(cmd[3:]) + "`"
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| measure | model | int2int precision | int2int |"
    measures = [line.split(" | ")[0].lstrip("| ") for line in table[2:]]
    expected = ["train examples/s", "train MFU (% of fp32 peak ", "greedy eval examples/s (40 examples)",
                "beam 2 eval examples/s (40 examples)", "launch to first training step (s)",
                "one-epoch job, 512 trained + 40 evaluated (s)"]
    assert len(measures) == len(expected)
    assert all(m.startswith(e) for m, e in zip(measures, expected)), measures
    assert all(len(line.split("|")) == 6 for line in table)  # 4 columns: no original, no speed-up
    assert "original" not in out.stdout and "speed-up" not in out.stdout


def test_profile_step_times_the_five_parts_of_a_step(capsys):
    """``python -m int2int.profile_step``: one line per model (its precision, device, batch and step time), then
    the parts of the step the training loop takes, in its order."""
    from int2int import profile_step

    profile_step.main(["--model", "tiny", "--steps", "3", "--threads", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"tiny \(fp32, cpu\): [\d,]+ parameters, batch 256: [\d.]+ ms/step, [\d,]+ examples/s "
                        r"\(median of 3 steps\)", lines[0]), lines[0]
    parts = [re.fullmatch(r"  (\w+) +[\d.]+ ms +[\d.]+%", line) for line in lines[1:6]]
    assert all(parts), lines[1:6]
    assert [p[1] for p in parts] == ["generate", "tensors", "forward", "backward", "update"]


def test_bench_packed_prints_one_row_per_run_count(capsys):
    from int2int import bench_packed

    bench_packed.main(["--runs", "2", "3", "--steps", "1", "--repeats", "1", "--threads", "1"])
    out = capsys.readouterr().out
    rows = re.findall(r"^\| (\d+) \| ([\d,]+) \| ([\d,]+) \| ([\d.]+)x \|$", out, re.M)
    assert [r[0] for r in rows] == ["2", "3"], out
    for _, alone, packed, ratio in rows:
        alone, packed = float(alone.replace(",", "")), float(packed.replace(",", ""))
        assert math.isclose(float(ratio), packed / alone, abs_tol=0.006)
