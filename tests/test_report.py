"""``python -m analysis.report``: one self-contained HTML page per sweep, checked as a person would see it.

The sweep is written by hand (fast): 4 run directories (finished with classes.csv, finished with the
older per-class counts inside metrics.jsonl, failed, running) and a job not started yet. The page is
then rendered by headless Chromium and the screenshot checked for content.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from analysis.report import build_report, main

ROOT = Path(__file__).resolve().parents[1]
TRACEBACK = ('Traceback (most recent call last):\n  File "/work/int2int/train.py", line 271, in train\n'
             '    raise FloatingPointError(msg)\nFloatingPointError: training loss is nan at step 57 '
             '(lower optimizer.lr?)\n')
#: (job number, encoding.base, n_enc_layers, status or None for a job not started yet)
JOBS = [(0, 10, 1, "finished"), (1, 30, 1, "finished"), (2, 10, 2, "failed"), (3, 30, 2, "running"),
        (4, 1000, 1, None)]
GCD_CLASSES = {"1": 608, "2": 152, "3": 67, "4": 38, "5": 24, "6": 17, "7": 12, "10": 6}


def overrides(base: int, layers: int) -> list[str]:
    return [f"encoding.base={base}", f"architecture.n_enc_layers={layers}", "schedule.max_epoch=3"]


def class_counts(epoch: int, base: int) -> dict[str, list[int]]:
    """GCD-like classes: those dividing the base are learned over the epochs, the others not."""
    return {c: [n, n if base % int(c) == 0 else (n * epoch) // 10] for c, n in GCD_CLASSES.items()}


def write_run(sweep: Path, num: int, base: int, layers: int, state: str) -> Path:
    run_dir = sweep / f"encoding.base={base},architecture.n_enc_layers={layers}"
    run_dir.mkdir(parents=True)
    config = {"task": {"name": "gcd", "max_class": 101}, "encoding": {"base": base},
              "architecture": {"n_enc_layers": layers, "enc_emb_dim": 64},
              "schedule": {"max_epoch": 3, "epoch_size": 1000, "batch_size": 32, "log_every": 10}, "seed": 0}
    (run_dir / "run.json").write_text(json.dumps({
        "run_id": f"sweep/{num}", "run_dir": str(run_dir), "config": config,
        "choices": {"task": "gcd", "encoding": "positional", "architecture": "encoder_decoder"},
        "overrides": overrides(base, layers), "sweep_dir": str(sweep), "job_num": num,
        "started": f"2026-11-29T10:0{num}:00+00:00"}))
    n_evals = {"finished": 3, "failed": 1, "running": 2}[state]
    metrics, class_lines = [], []
    for e in range(1, n_evals + 1):
        acc = 0.3 + 0.2 * e + 0.05 * layers - (0.1 if base == 30 else 0.0)
        rec = {"epoch": e, "examples": 1024 * e, "steps": 32 * e, "wall_time": 11.0 * e, "train_loss": 1 / e,
               "lr": 1e-3, "eval_sets": ["valid"], "valid_acc": acc, "valid_xe_loss": 1 - acc, "valid_size": 924}
        counts = class_counts(e, base)
        if num == 1:  # an older run: the per-class counts inside its metrics lines
            rec["classes"] = {"valid": counts}
        else:
            class_lines += [(e, 1024 * e, "valid", c, n, k) for c, (n, k) in counts.items()]
        metrics.append(rec)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    if class_lines:
        with open(run_dir / "classes.csv", "w", newline="") as f:
            csv.writer(f).writerows([("epoch", "examples", "set", "class", "count", "correct"), *class_lines])
    (run_dir / "status.json").write_text(json.dumps({
        "status": state, "updated": "2026-11-29T10:30:00+00:00", "epoch": n_evals,
        "error": TRACEBACK if state == "failed" else None}))
    return run_dir


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    sweep = tmp_path / "gcd-sweep"
    sweep.mkdir()
    dirs = {num: write_run(sweep, num, base, layers, state) for num, base, layers, state in JOBS if state}
    (sweep / "sweep.json").write_text(json.dumps({
        "created": "2026-11-29T10:00:00+00:00", "launcher": "basic",
        "jobs": [{"num": num, "overrides": overrides(base, layers),
                  "run_dir": str(dirs.get(num, sweep / f"encoding.base={base},architecture.n_enc_layers={layers}"))}
                 for num, base, layers, _ in JOBS]}))
    return sweep


def text_of(page: str) -> str:
    """The visible text of a page (tags dropped, entities decoded, white space collapsed)."""
    import html

    body = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    body = re.sub(r'src="data:[^"]*"', "", body)
    body = re.sub(r"</?(code|span|b|i|a)\b[^>]*>", "", body)  # inline elements: no space around them
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def table_after(page: str, heading: str) -> tuple[list[str], list[list[str]]]:
    """(header cells, body rows of cell texts) of the first table after ``heading``."""
    table = page.split(heading, 1)[1].split("</table>", 1)[0]
    header = [text_of(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table)]
    rows = [[text_of(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)] for r in re.findall(r"<tr>(.*?)</tr>", table)]
    return header, [r for r in rows if r]


def test_page_holds_jobs_swept_keys_results_and_failures(sweep):
    page = build_report(sweep)
    text = text_of(page)
    assert f"Sweep {sweep.name}" in text and str(sweep.resolve()) in text
    assert "5 jobs: 2 finished 1 running 1 pending 1 failed" in text
    # what varied, with the values of each swept key; the common override said once
    assert "encoding.base 10, 30, 1000" in text and "architecture.n_enc_layers 1, 2" in text
    assert "Overrides of every job: schedule.max_epoch=3" in text
    assert "Config groups: task=gcd, encoding=positional, architecture=encoder_decoder" in text
    assert "Other config keys that differ" not in text  # only the swept ones differ
    # every job, with its state, epochs and accuracies (from the hand-written metrics)
    header, cells = table_after(page, "<h3>Every job</h3>")
    assert header == ["job", "encoding.base", "architecture.n_enc_layers", "state", "epoch", "examples",
                      "best valid_acc", "last valid_acc", "training time", "run directory"]
    dirs = [f"encoding.base={b},architecture.n_enc_layers={n}" for _, b, n, _ in JOBS]
    assert cells == [
        ["0", "10", "1", "finished", "3/3", "3,072", "95.00%", "95.00%", "33s", dirs[0]],
        ["1", "30", "1", "finished", "3/3", "3,072", "85.00%", "85.00%", "33s", dirs[1]],
        ["2", "10", "2", "failed", "1/3", "1,024", "60.00%", "60.00%", "11s", dirs[2]],
        ["3", "30", "2", "running", "2/3", "2,048", "70.00%", "70.00%", "22s", dirs[3]],
        ["4", "1000", "1", "pending", "0/3", "-", "-", "-", "-", dirs[4]]]
    # the failure: job, overrides, last line, and the full traceback folded away
    failure = page.split('<h2 id="failures">Failures (1)</h2>')[1]
    assert "job 2: encoding.base=10 architecture.n_enc_layers=2 schedule.max_epoch=3" in text_of(failure)
    assert "FloatingPointError: training loss is nan at step 57 (lower optimizer.lr?)" in text_of(failure)
    details = re.search(r"<details><summary>full traceback</summary><pre>(.*?)</pre></details>", failure, re.S)
    assert details and "File &quot;/work/int2int/train.py&quot;, line 271, in train" in details.group(1)


def test_page_is_self_contained_with_real_figures(sweep):
    page = build_report(sweep)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", page)
    assert "<link" not in page and "<script" not in page and "@import" not in page
    images = re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,([^"]+)"', page)
    assert [alt for alt, _ in images] == ["valid_acc against examples seen, one line per run",
                                          "accuracy per class at the last evaluation of each run",
                                          "last valid_acc of each setting"]
    for _, data in images:
        png = base64.b64decode(data)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_report_without_results_parquet_and_from_parquet_alone(sweep, tmp_path):
    from analysis.collect import write_results

    assert not (sweep / "results.parquet").exists()
    assert "collected from the 4 run directories" in text_of(build_report(sweep))
    elsewhere = tmp_path / "copied"
    elsewhere.mkdir()
    write_results([sweep], elsewhere / "results.parquet")
    text = text_of(build_report(elsewhere))
    assert "read from results.parquet (no run directory here)" in text
    assert "4 jobs: 2 finished 1 running 1 failed" in text
    _, cells = table_after(build_report(elsewhere), "<h3>Every job</h3>")
    assert [c[:5] for c in cells] == [["0", "10", "1", "finished", "3/3"], ["1", "30", "1", "finished", "3/3"],
                                      ["2", "10", "2", "failed", "1/3"], ["3", "30", "2", "running", "2/3"]]
    assert "FloatingPointError: training loss is nan at step 57" in text


def test_command_line_writes_the_page(sweep, tmp_path, capsys):
    out = tmp_path / "out" / "report.html"
    assert main([str(sweep), "-o", str(out)]) == 0
    assert re.fullmatch(rf"wrote {re.escape(str(out))} \(\d+ KiB\): 5 jobs, 1 failed, in \d+\.\d s\n",
                        capsys.readouterr().out)
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert main([str(tmp_path / "nope")]) == 2
    assert "no such sweep directory" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# Seen in a browser


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.slow
def test_page_renders_in_headless_chromium(sweep, tmp_path):
    browser = chromium()
    if browser is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is missing (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    page = tmp_path / "report.html"
    assert main([str(sweep), "-o", str(page)]) == 0
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2000", f"--screenshot={shot}",
         page.as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.exists(), proc.stderr[-3000:]
    from matplotlib.image import imread

    pixels = (imread(shot)[..., :3] * 255).round().astype(np.uint8)
    assert pixels.shape == (2000, 1200, 3)
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 500  # text, badges and figures, not a blank or error page
    dark = (pixels.max(axis=2) < 80).mean()
    assert 0.005 < dark < 0.3  # text is there, and the page is not black
    # the header's state badges: the green of 'finished' and the red of 'failed' in the top rows
    top = pixels[:200].reshape(-1, 3).astype(int)
    assert (np.abs(top - [0x1A, 0x7F, 0x37]).sum(axis=1) < 30).sum() > 50
    assert (np.abs(top - [0xCF, 0x22, 0x2E]).sum(axis=1) < 30).sum() > 50
