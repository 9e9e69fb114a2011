"""The files of a run directory, written so that nothing already written is lost or half-written.

- ``run.json``: the resolved config, group choices and overrides (rewritten at each launch).
- ``status.json``: running / finished / failed / preempted, with the error's traceback.
- ``metrics.jsonl``: one JSON object per evaluation, appended and fsynced: the commit point of an evaluation.
- ``classes.csv``: one row per evaluation, eval set and class (``epoch,examples,set,class,count,correct``),
  written just before the evaluation's metrics line. CSV with ``\r\n`` line ends (the csv module's default, so
  that a class key holding a line end is quoted and read back whole by Arrow).
- ``progress.json``: where training stands (epoch, steps, examples, recent examples/s), every log line.
- ``checkpoint.pt``: see :mod:`int2int.checkpoint`.
JSON files are replaced atomically (temporary file in the same directory, then ``os.replace``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RUN_FILE, STATUS_FILE, METRICS_FILE, CHECKPOINT_FILE = "run.json", "status.json", "metrics.jsonl", "checkpoint.pt"
CLASSES_FILE, PROGRESS_FILE = "classes.csv", "progress.json"
CLASSES_HEADER = ("epoch", "examples", "set", "class", "count", "correct")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def atomic_write(path: Path, write: Any, mode: str = "w") -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda f: json.dump(obj, f, indent=1, default=str))


def read_json(path: Path) -> Any:
    with open(path) as f:
        return json.load(f)


def write_status(run_dir: Path, status: str, epoch: int, error: str | None = None) -> None:
    write_json(Path(run_dir) / STATUS_FILE, {"status": status, "updated": now(), "error": error, "epoch": epoch})


def read_status(run_dir: Path) -> dict[str, Any] | None:
    try:
        return read_json(Path(run_dir) / STATUS_FILE)
    except (OSError, ValueError):
        return None


def append_text(path: Path, text: str) -> None:
    """Append ``text`` in one write and make it durable before returning."""
    with open(path, "a", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def append_lines(path: Path, records: list[dict[str, Any]]) -> None:
    """Append JSON lines and make them durable before returning."""
    append_text(path, "".join(json.dumps(r, allow_nan=True) + "\n" for r in records))


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    """Append one evaluation record to ``metrics.jsonl``."""
    append_lines(Path(run_dir) / METRICS_FILE, [record])


def append_classes(run_dir: Path, epoch: int, examples: int, classes: dict[str, dict[str, list[int]]]) -> None:
    """Append the per-class counts of one evaluation to ``classes.csv`` (a new file starts with its header)."""
    path = Path(run_dir) / CLASSES_FILE
    rows = [(epoch, examples, name, key, count, right)
            for name, per_class in classes.items() for key, (count, right) in per_class.items()]
    append_text(path, csv_text(rows if path.exists() and path.stat().st_size else [CLASSES_HEADER, *rows]))


def csv_text(rows: list[tuple]) -> str:
    """Rows as CSV text; the csv module quotes a field holding a comma, a quote or a line end."""
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Complete records of ``metrics.jsonl`` (a partly written last line is skipped)."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def reconcile_metrics(run_dir: Path, epoch: int, last_record: dict[str, Any] | None) -> None:
    """Make ``metrics.jsonl`` hold exactly one record per evaluated epoch up to the checkpoint's ``epoch``.

    A run killed between writing a metrics line and its checkpoint leaves a line the checkpoint
    does not know about (it is dropped: that epoch is trained again); a partly written line is
    dropped; a record the checkpoint has but the file lost is appended again.
    """
    path = Path(run_dir) / METRICS_FILE
    text = path.read_text() if path.exists() else ""
    kept, seen = [], set()
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            log.warning("%s: dropping a partly written line", path)
            continue
        if rec.get("epoch", epoch + 1) <= epoch and rec["epoch"] not in seen:
            kept.append(rec)
            seen.add(rec["epoch"])
    if last_record is not None and last_record["epoch"] not in seen and last_record["epoch"] <= epoch:
        kept.append(last_record)
    new_text = "".join(json.dumps(r) + "\n" for r in kept)
    if new_text != text:
        dropped = len(text.splitlines()) - len(kept)
        log.info("%s: kept %d records up to epoch %d (%+d lines)", path, len(kept), epoch, -dropped)
        atomic_write(path, lambda f: f.write(new_text))
    reconcile_classes(run_dir, epoch)


def reconcile_classes(run_dir: Path, epoch: int) -> None:
    """Drop the ``classes.csv`` rows of evaluations after ``epoch`` (and a partly written last line)."""
    path = Path(run_dir) / CLASSES_FILE
    if not path.exists():
        return
    with open(path, newline="") as f:
        text = f.read()
    complete = text[: text.rfind("\n") + 1]  # a killed writer leaves a last line without its line end
    rows = list(csv.reader(io.StringIO(complete, newline="")))[1:]
    kept = [r for r in rows if len(r) == len(CLASSES_HEADER) and r[0].isdigit() and int(r[0]) <= epoch]
    new = csv_text([CLASSES_HEADER, *kept])
    if new != text:
        atomic_write(path, lambda f: f.write(new.encode()), mode="wb")
