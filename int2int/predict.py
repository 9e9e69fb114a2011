"""``python -m int2int.predict RUN_DIR [PROBLEM ...]``: ask a trained model, and hear the verifier's verdict.

Problems are token lines in the run's format (``"V2 + 1 0 + 1 2"``), given as arguments, one per line on stdin, or,
with ``--values 10 12``, numbers written by the task's own input tokenizer. Each is decoded (greedy, or beam search
with ``--beam``); the output prints the prediction's tokens, its value when the answer is one integer, and, for a
generator task, the true answer and whether the prediction is right. An ``<eos>``-less output that hits the length
bound is shown as cut.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_checkpoint
from .config import ConfigError
from .data.examples import Examples
from .data.tensors import to_tensors
from .encodings.vocab import PAD
from .eval_checkpoint import config_from_dict
from .tasks import build_task
from .train import build_model_for

log = logging.getLogger(__name__)


def load_run(path: Path, device: torch.device):
    """The task and trained model of a run directory (or checkpoint file)."""
    import json

    ckpt = load_checkpoint(path, device)
    if ckpt is None:
        raise ConfigError(f"{path}: no checkpoint.pt there (a run directory, or a checkpoint file)")
    cfg = config_from_dict(json.loads(ckpt["config"]))
    cfg.hardware.device = str(device)
    task = build_task(cfg)
    model = build_model_for(cfg, task, device)
    model.load_state_dict(ckpt["model"])
    return cfg, task, model.eval()


def encode_lines(task, lines: list[str]) -> np.ndarray:
    """Token lines as a padded id matrix; an unknown token is an error naming it."""
    rows = []
    for i, line in enumerate(lines, start=1):
        tokens = line.split()
        unknown = [t for t in tokens if t not in task.vocab]
        if not tokens or unknown:
            raise ConfigError(f"problem {i} ({line!r}): " + (f"token {unknown[0]!r} is not in the task's vocabulary"
                                                            if unknown else "empty"))
        rows.append(task.vocab.ids(tokens))
    ids = np.full((len(rows), max(len(r) for r in rows)), PAD, dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
    return ids


def predict(run_dir: Path, lines: list[str], beam: int = 1, device: str = "cpu") -> list[dict]:
    """Decode each problem; returns one dict per problem (input, hypotheses, value, target, right)."""
    cfg, task, model = load_run(run_dir, torch.device(device))
    x = encode_lines(task, lines)
    x_len = (x != PAD).sum(axis=1)
    y = np.zeros((len(lines), 1), dtype=np.int64)
    ex = Examples(x, x_len, y, np.ones(len(lines), dtype=np.int64))
    b = to_tensors(ex, torch.device(device))
    max_len = cfg.eval.max_output_len or task.max_output_len
    with torch.no_grad():
        out = model.generate(b.x, b.x_len, max_len, beam, cfg.eval.beam_length_penalty, cfg.eval.beam_early_stopping)
    tokens, lengths, ended = (t.cpu().numpy() for t in out[:3])
    if lengths.ndim == 1:
        tokens, lengths, ended = tokens[:, None], lengths[:, None], ended[:, None]
    solved = task.solved(ex)
    results = []
    for i, line in enumerate(lines):
        hyps = task.vocab.lines(tokens[i], lengths[i])
        item = {"input": line, "hypotheses": hyps, "ended": ended[i].tolist()}
        if solved is not None:
            one = solved.take(np.array([i]))
            verdict = task.verify(one.take(np.zeros(len(hyps), dtype=np.int64)), tokens[i], lengths[i])
            item["target"] = task.vocab.lines(one.y, one.y_len)[0]
            item["right"] = (verdict.acc & ended[i]).tolist()
            if verdict.values is not None:
                item["values"] = [v if ok else None for v, ok in zip(verdict.values.tolist(), verdict.correct)]
        results.append(item)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m int2int.predict", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run directory (or a checkpoint file)")
    parser.add_argument("problems", nargs="*", help="token lines; none: read one problem per line from stdin")
    parser.add_argument("--values", nargs="+", type=int, help="the problem as numbers (the task's input tokenizer "
                        "writes them), e.g. --values 10 12 for gcd")
    parser.add_argument("--beam", type=int, default=1, help="beam size (1: greedy)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        lines = args.problems
        if args.values:
            _, task, _ = load_run(args.run_dir, torch.device(args.device))
            ids, lengths = task.input.encode(np.array([args.values]))
            lines = task.vocab.lines(ids, lengths)
        elif not lines:
            lines = [line.strip() for line in sys.stdin if line.strip()]
        results = predict(args.run_dir, lines, args.beam, args.device)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for r in results:
        print(r["input"])
        for j, hyp in enumerate(r["hypotheses"]):
            verdict = ("" if "right" not in r else "  right" if r["right"][j] else f"  wrong (answer {r['target']})")
            value = f"  = {r['values'][j]}" if r.get("values") and r["values"][j] is not None else ""
            cut = "" if r["ended"][j] else "  (cut: no <eos> within the length bound)"
            print(f"  -> {hyp}{value}{verdict}{cut}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
