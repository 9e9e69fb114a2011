"""Tests of the analysis package: collecting run directories, parquet files, plots and tables."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis import load_results
from analysis.classes import CLASSES_FILE, CSV_HEADER, JSONL_FILE, read_class_csv
from analysis.collect import classes_path, collect, concat_tables, main as collect_main, read_tables, write_results
from analysis.frames import varying_keys

# --------------------------------------------------------------------------------------------------
# Synthetic run directories


def make_record(epoch: int, acc: float, sets: tuple[str, ...] = ("valid",), n_classes: int = 3,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """One metrics.jsonl line like the training code writes (GCD-like classes 1..n_classes)."""
    rec: dict[str, Any] = {"epoch": epoch, "examples": 1000 * epoch, "steps": 10 * epoch,
                           "train_loss": 1.0 - acc, "lr": 1e-4, "eval_sets": list(sets)}
    classes = {}
    for s in sets:
        rec.update({f"{s}_xe_loss": 1.0 - acc, f"{s}_acc": acc, f"{s}_perfect": acc, f"{s}_correct": 0.99,
                    f"{s}_size": 100, f"{s}_gcd_learned": int(10 * acc)})
        classes[s] = {str(k): [100 // k, int(100 // k * acc)] for k in range(1, n_classes + 1)}
    rec["classes"] = classes
    rec["wall_time"] = 1.5 * epoch
    rec.update(extra or {})
    return rec


def class_rows(record: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The per-class rows ``(epoch, examples, set, class, count, correct)`` of a metrics record's
    nested ``classes`` (the oldest format): the rows of classes.csv."""
    return [(record["epoch"], record["examples"], s, k, c, r)
            for s, per_class in record.get("classes", {}).items() for k, (c, r) in per_class.items()]


def csv_text(rows: list[tuple[Any, ...]], header: bool = True) -> str:
    """classes.csv as the training code writes it: Python's csv module, the header line first."""
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(CSV_HEADER)
    writer.writerows(rows)
    return out.getvalue()


def write_class_csv(path: Path, rows: list[tuple[Any, ...]], tail: str = "") -> None:
    path.write_text(csv_text(rows) + tail, newline="")


def write_jsonl(path: Path, records: list[dict[str, Any]], tail: str = "") -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)


def make_run(root: Path, name: str, *, base: int = 10, layers: int = 1, seed: int = 0,
             status: str | None = "finished", accs: list[float] | None = (0.5, 0.7, 0.8),
             sets: tuple[str, ...] = ("valid",), error: str | None = None, job_num: int | None = None,
             sweep_dir: Path | None = None, extra_config: dict[str, Any] | None = None,
             records: list[dict[str, Any]] | None = None, tail: str = "",
             class_file: str | None = CLASSES_FILE) -> Path:
    """A run directory with run.json, status.json (unless ``status`` is None), metrics.jsonl and the
    per-class rows in ``class_file``: classes.csv, classes.jsonl (the format in between), or None for
    the oldest format (the per-class counts nested in metrics.jsonl)."""
    run_dir = root / name
    run_dir.mkdir(parents=True)
    config = {"task": {"name": "gcd", "min_int": 1, "max_int": 1000000, "modulus": 67, "max_class": 101},
              "encoding": {"base": base},
              "architecture": {"n_enc_layers": layers, "dim": 64, "dropout": 0.0, "tied": True},
              "optimizer": {"lr": 1e-4, "betas": [0.9, 0.999]}, "seed": seed, **(extra_config or {})}
    (run_dir / "run.json").write_text(json.dumps({
        "run_id": f"id-{name}", "config": config,
        "choices": {"task": "gcd", "encoding": "positional", "architecture": "encoder_decoder"},
        "overrides": [f"encoding.base={base}", f"architecture.n_enc_layers={layers}", f"seed={seed}"],
        "sweep_dir": str(sweep_dir) if sweep_dir else None, "job_num": job_num,
        "started": "2024-05-01T10:00:00+00:00"}))
    if status is not None:
        (run_dir / "status.json").write_text(json.dumps(
            {"status": status, "updated": "2024-05-01T11:00:00+00:00", "error": error, "epoch": 3}))
    if records is None:
        records = [make_record(i + 1, a, sets) for i, a in enumerate(accs or [])]
    if records or tail:
        if class_file is not None:
            rows = [row for r in records for row in class_rows(r)]
            if class_file == CLASSES_FILE:
                write_class_csv(run_dir / CLASSES_FILE, rows)
            else:
                write_jsonl(run_dir / class_file, [dict(zip(CSV_HEADER, row)) for row in rows])
            records = [{k: v for k, v in r.items() if k != "classes"} for r in records]
        write_jsonl(run_dir / "metrics.jsonl", records, tail)
    return run_dir


def make_sweep(root: Path, class_file: str | None = CLASSES_FILE) -> Path:
    """A sweep over encoding.base x architecture.n_enc_layers with one failed and one running run."""
    job = 0
    for base, accs in ((10, [0.5, 0.8, 0.85]), (30, [0.6, 0.9, 0.94])):
        for layers in (1, 2):
            make_run(root, str(job), base=base, layers=layers, accs=[a - 0.01 * layers for a in accs],
                     job_num=job, sweep_dir=root, class_file=class_file)
            job += 1
    make_run(root, str(job), base=30, layers=1, seed=1, status="failed", accs=[0.3], job_num=job, sweep_dir=root,
             error="Traceback (most recent call last):\n  File x\nRuntimeError: CUDA out of memory\n",
             class_file=class_file)
    make_run(root, str(job + 1), base=10, layers=2, seed=1, status="running", accs=[0.4, 0.6], job_num=job + 1,
             sweep_dir=root, class_file=class_file)
    return root


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    return make_sweep(tmp_path / "sweep")


# --------------------------------------------------------------------------------------------------
# collect


def test_runs_table_schema_and_dtypes(sweep: Path) -> None:
    runs, classes = collect([sweep])
    cols = list(runs.columns)
    assert cols[:5] == ["run_id", "run_dir", "sweep_dir", "job_num", "status"]
    assert cols[5:8] == ["choice.task", "choice.encoding", "choice.architecture"]
    assert cols.index("task.name") < cols.index("encoding.base") < cols.index("seed") < cols.index("overrides")
    assert cols[cols.index("overrides"):cols.index("lr") + 1] == [
        "overrides", "started", "error", "epoch", "examples", "steps", "wall_time", "train_loss", "lr"]
    assert cols[cols.index("lr") + 1:] == ["valid_xe_loss", "valid_acc", "valid_perfect", "valid_correct",
                                           "valid_size", "valid_gcd_learned"]
    dtypes = runs.dtypes.astype(str).to_dict()
    for c in ("run_id", "run_dir", "sweep_dir", "status", "choice.task", "task.name", "overrides", "started",
              "error", "optimizer.betas"):
        assert dtypes[c] == "string", c
    for c in ("job_num", "epoch", "examples", "steps", "encoding.base", "seed", "valid_size", "valid_gcd_learned"):
        assert dtypes[c] == "Int64", c
    for c in ("wall_time", "train_loss", "lr", "valid_acc", "valid_xe_loss", "architecture.dropout", "optimizer.lr"):
        assert dtypes[c] == "float64", c
    assert dtypes["architecture.tied"] == "boolean"
    assert len(runs) == 4 * 3 + 1 + 2 and runs["run_dir"].nunique() == 6
    first = runs.iloc[0]
    assert first["run_dir"] == str((sweep / "0").resolve()) and Path(first["run_dir"]).is_absolute()
    assert first["sweep_dir"] == str(sweep) and first["job_num"] == 0 and first["run_id"] == "id-0"
    assert first["overrides"] == "encoding.base=10 architecture.n_enc_layers=1 seed=0"
    assert first["optimizer.betas"] == "[0.9, 0.999]"
    assert list(runs["epoch"].iloc[:3]) == [1, 2, 3]

    assert list(classes.columns) == ["run_id", "run_dir", "epoch", "examples", "eval_set", "class", "count",
                                     "correct", "acc"]
    assert classes.dtypes.astype(str).tolist() == ["string", "string", "Int64", "Int64", "string", "string",
                                                   "Int64", "Int64", "float64"]
    assert len(classes) == len(runs) * 3
    row = classes[(classes["run_id"] == "id-0") & (classes["epoch"] == 2) & (classes["class"] == "2")].iloc[0]
    assert (row["count"], row["correct"], row["examples"], row["eval_set"]) == (50, 39, 2000, "valid")
    assert row["acc"] == pytest.approx(39 / 50)


def test_statuses_and_run_without_metrics(sweep: Path, tmp_path: Path) -> None:
    make_run(sweep, "no_metrics", status="failed", accs=None, error="Traceback\nValueError: bad config")
    make_run(sweep, "no_status", status=None)
    runs, _ = collect([sweep])
    per_run = runs.drop_duplicates("run_dir").set_index("run_id")
    assert per_run["status"].to_dict() == {
        "id-0": "finished", "id-1": "finished", "id-2": "finished", "id-3": "finished", "id-4": "failed",
        "id-5": "running", "id-no_metrics": "failed", "id-no_status": "unknown"}
    assert per_run.loc["id-4", "error"] == "RuntimeError: CUDA out of memory"
    empty = runs[runs["run_id"] == "id-no_metrics"]
    assert len(empty) == 1
    assert empty["epoch"].isna().all() and empty["valid_acc"].isna().all()
    assert empty.iloc[0]["error"] == "ValueError: bad config" and empty.iloc[0]["encoding.base"] == 10


def test_truncated_last_line_is_ignored_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    run = make_run(tmp_path, "killed", accs=[0.5, 0.6], tail='{"epoch": 3, "examples": 30')
    with caplog.at_level(logging.WARNING, logger="analysis"):
        runs, classes = collect([tmp_path])
    assert list(runs["epoch"]) == [1, 2] and set(classes["epoch"]) == {1, 2}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(run / "metrics.jsonl") in m and "partly written last line" in m for m in warnings), warnings


def test_malformed_middle_line_is_skipped_with_its_line_number(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    run = make_run(tmp_path, "r", accs=[0.5])
    text = (run / "metrics.jsonl").read_text()
    lines = [text.strip(), "{not json", json.dumps(make_record(2, 0.7)), "[1, 2]", json.dumps(make_record(3, 0.8))]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="analysis"):
        runs, _ = collect(tmp_path)
    assert list(runs["epoch"]) == [1, 2, 3]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert f"{run / 'metrics.jsonl'}:2: skipping a malformed line" in messages
    assert f"{run / 'metrics.jsonl'}:4:" in messages


def test_sparse_records_nan_and_resumed_duplicates(tmp_path: Path) -> None:
    """Lines without evaluation (eval.every > 1), NaN values and an evaluation logged twice by a resumed run."""
    records = [
        {"epoch": 1, "examples": 1000, "steps": 10, "train_loss": float("nan"), "lr": 1e-4, "wall_time": 1.0},
        make_record(2, 0.5),
        make_record(3, 0.6),
        make_record(3, 0.65),  # the run was killed after logging epoch 3 and trained it again
        make_record(4, 0.7, extra={"valid_top1_acc": 0.9, "note": "x"}),
    ]
    make_run(tmp_path, "r", records=records)
    runs, classes = collect(tmp_path)
    assert list(runs["epoch"]) == [1, 2, 3, 4]
    assert math.isnan(runs["train_loss"].iloc[0]) and pd.isna(runs["valid_acc"].iloc[0])
    assert runs["valid_acc"].tolist()[1:] == [0.5, 0.65, 0.7]
    assert runs["valid_top1_acc"].dtype == "float64" and runs["note"].dtype == "string"
    assert sorted(set(classes["epoch"])) == [2, 3, 4] and len(classes) == 9


def test_every_format_gives_the_same_tables(tmp_path: Path) -> None:
    """classes.csv, classes.jsonl (the format in between) and the per-class counts nested in
    metrics.jsonl (the oldest format) are read into the same tables."""
    tables = {name: collect(make_sweep(tmp_path / name, class_file))
              for name, class_file in (("csv", CLASSES_FILE), ("jsonl", JSONL_FILE), ("old", None))}
    assert (tmp_path / "csv" / "0" / CLASSES_FILE).read_bytes().startswith(
        b"epoch,examples,set,class,count,correct\r\n1,1000,valid,1,100,49\r\n")
    assert not (tmp_path / "old" / "0" / CLASSES_FILE).exists() and (tmp_path / "jsonl" / "0" / JSONL_FILE).exists()
    assert "classes" in json.loads((tmp_path / "old" / "0" / "metrics.jsonl").read_text().splitlines()[0])
    for name, frames in tables.items():
        for frame in frames:
            frame["run_dir"] = frame["run_dir"].str.replace(str(tmp_path / name), "", regex=False)
            if "sweep_dir" in frame:
                frame["sweep_dir"] = frame["sweep_dir"].str.replace(str(tmp_path / name), "", regex=False)
    for name in ("jsonl", "old"):
        pd.testing.assert_frame_equal(tables[name][0], tables["csv"][0])
        pd.testing.assert_frame_equal(tables[name][1], tables["csv"][1])
    # ordered by run, evaluation, then as written: the first rows are run 0, epoch 1, classes 1, 2, 3
    assert tables["csv"][1][["run_id", "epoch", "class", "count", "correct"]].head(4).values.tolist() == [
        ["id-0", 1, "1", 100, 49], ["id-0", 1, "2", 50, 24], ["id-0", 1, "3", 33, 16], ["id-0", 2, "1", 100, 79]]


def test_class_rows_of_a_resumed_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The last rows of an (epoch, set, class) win; rows of an epoch without metrics line are ignored;
    a row of classes.csv with the wrong number of fields is skipped and a partly written last line
    dropped, each with a warning."""
    records = [make_record(1, 0.5, ("valid", "test")), make_record(2, 0.6, ("valid", "test"))]
    run = make_run(tmp_path, "r", records=records)
    rows = [row for r in records for row in class_rows(r)]
    assert len(rows) == 2 * 2 * 3
    stale = [row[:5] + (0,) for row in rows if row[0] == 2][:4]  # killed mid-evaluation, then redone
    killed = [(3, 3000) + row[2:] for row in rows if row[0] == 2]  # no metrics line for epoch 3
    text = csv_text(rows[:6]) + "2,2000\r\n" + csv_text(stale + rows[6:] + killed, header=False) + "3,3000,valid,1"
    (run / CLASSES_FILE).write_text(text, newline="")
    with caplog.at_level(logging.WARNING, logger="analysis"):
        runs, classes = collect(tmp_path)
    assert list(runs["epoch"]) == [1, 2]
    got = classes[["epoch", "eval_set", "class", "count", "correct"]].astype(object).values.tolist()
    assert got == [[e, s, k, c, r] for e, _, s, k, c, r in rows]
    messages = [r.getMessage() for r in caplog.records]
    assert f"{run / CLASSES_FILE}: row 8: skipping a row of 2 fields (expected 6)" in messages  # line 1: header
    assert f"{run / CLASSES_FILE}: ignoring a partly written last line" in messages


def test_class_keys_with_commas_quotes_and_new_lines(tmp_path: Path) -> None:
    """Class keys are any text: csv quotes those with a comma, a quote or a line end; none is a number or null."""
    keys = ["7", "a,b", 'say "hi"', "two\nlines", "cr\rlf\r\n", "", " padded ", "NA", "null", "3.0", "é"]
    record = make_record(1, 0.5, n_classes=0)
    record["classes"] = {"valid": {k: [i + 1, i] for i, k in enumerate(keys)}}
    run = make_run(tmp_path, "r", records=[record])
    assert '"a,b"' in (run / CLASSES_FILE).read_text() and '"say ""hi"""' in (run / CLASSES_FILE).read_text()
    _, classes = collect(tmp_path)
    assert classes["class"].tolist() == keys
    assert classes["count"].tolist() == list(range(1, len(keys) + 1))
    # a file larger than Arrow's reading block (1 MiB): a block may end inside a quoted key
    rows = [(1, 1000, "valid", f"line\nbreak {i}", i, 0) for i in range(60000)]
    write_class_csv(tmp_path / CLASSES_FILE, rows)
    assert (tmp_path / CLASSES_FILE).stat().st_size > 1 << 20
    got = read_class_csv(tmp_path / CLASSES_FILE)
    assert got["class"].to_pylist() == [r[3] for r in rows] and got["count"].to_pylist() == list(range(60000))


def test_class_values_that_are_not_integers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A hand-edited classes.csv: text where a number should be is read as null, and its row dropped;
    a file that is not text at all loses its rows, not the run's metrics."""
    run = make_run(tmp_path, "r", accs=[0.5])
    text = (run / CLASSES_FILE).read_bytes().replace(b"1,1000,valid,2,50,25", b"1,1000,valid,2,many,25")
    (run / CLASSES_FILE).write_bytes(text + b"1,1000,valid,9,5,\r\n")  # no 'correct'
    with caplog.at_level(logging.WARNING, logger="analysis"):
        _, classes = collect(tmp_path)
    assert classes[["class", "count", "correct"]].values.tolist() == [["1", 100, 50], ["3", 33, 16]]
    assert f"{run / CLASSES_FILE}: 1 values of 'count' are not integers, read as null" in caplog.text
    assert f"{run}: 2 rows without epoch, set, class, count or correct ignored" in caplog.text
    (run / CLASSES_FILE).write_bytes(text.replace(b"valid,3,", b"valid,\xff\xfe,"))  # not UTF-8
    with caplog.at_level(logging.WARNING, logger="analysis"):
        runs, classes = collect(tmp_path)
    assert runs["valid_acc"].tolist() == [0.5] and classes.empty
    assert f"{run / CLASSES_FILE}: unreadable (" in caplog.text


def test_class_csv_cut_anywhere_gives_the_complete_rows(tmp_path: Path) -> None:
    """A classes.csv cut at any byte (a killed writer) yields exactly its complete rows, even when a
    class key holds line ends or quotes."""
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    keys = ["1", 'a,"b"\nc', "22", "x\r\ny", ""]
    rows = [(1, 1000, "valid", k, 10 + i, i) for i, k in enumerate(keys)] + [(2, 2000, "test", "1", 123456, 65432)]
    text = csv_text(rows).encode()
    ends = [len(csv_text(rows[:i]).encode()) for i in range(1, len(rows) + 1)]
    path = tmp_path / CLASSES_FILE

    @hypothesis.settings(max_examples=80, deadline=None)
    @hypothesis.given(st.integers(0, len(text)))
    def check(cut: int) -> None:
        path.write_bytes(text[:cut])
        got = read_class_csv(path, report=lambda *a: None)
        complete = rows[: sum(e <= cut for e in ends)]
        assert got.to_pylist() == [{"epoch": e, "set": s, "class": k, "count": c, "correct": r}
                                   for e, _, s, k, c, r in complete]

    check()


def test_malformed_nested_classes_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    record = make_record(1, 0.5, n_classes=2)
    record["classes"]["valid"].update({"7": [5], "8": "x", "9": [4, None], "10": [6, 3]})
    run = make_run(tmp_path, "r", records=[record, make_record(2, 0.7, n_classes=2)], class_file=None)
    with caplog.at_level(logging.WARNING, logger="analysis"):
        _, classes = collect(tmp_path)
    assert classes[["epoch", "class", "count", "correct"]].values.tolist() == [
        [1, "1", 100, 50], [1, "2", 50, 25], [1, "10", 6, 3], [2, "1", 100, 70], [2, "2", 50, 35]]
    assert f"{run / 'metrics.jsonl'}: 3 malformed class entries ignored" in caplog.text


def test_run_resumed_across_the_format_change(tmp_path: Path) -> None:
    """Old lines with nested classes, then new lines whose classes are in classes.csv."""
    run = make_run(tmp_path, "r", records=[make_record(1, 0.5), make_record(2, 0.6)], class_file=None)
    new = make_record(3, 0.7)
    write_class_csv(run / CLASSES_FILE, class_rows(new))
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps({k: v for k, v in new.items() if k != "classes"}) + "\n")
    runs, classes = collect(tmp_path)
    assert list(runs["epoch"]) == [1, 2, 3]
    assert classes.groupby("epoch")["correct"].apply(list).to_dict() == {1: [50, 25, 16], 2: [60, 30, 19],
                                                                           3: [70, 35, 23]}


def test_class_rows_out_of_order_are_ordered_by_evaluation(tmp_path: Path) -> None:
    records = [make_record(i + 1, a) for i, a in enumerate([0.5, 0.6, 0.7])]
    run = make_run(tmp_path, "r", records=records)
    rows = [row for r in records for row in class_rows(r)]
    write_class_csv(run / CLASSES_FILE, sorted(rows, key=lambda r: -r[0]))  # stable: classes as written
    _, classes = collect(tmp_path)
    assert classes[["epoch", "class"]].values.tolist() == [[e, k] for e in (1, 2, 3) for k in ("1", "2", "3")]


def test_metric_values_of_changing_types(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Infinity, a metric that is a number then text (strings, with a warning), an int then a float."""
    records = [make_record(1, 0.5, extra={"valid_xe_loss": float("inf"), "note": 3, "score": 1,
                                          "repetition": {"first": 0.25}}),
               make_record(2, 0.6, extra={"note": "ok", "score": 2.5})]
    run = make_run(tmp_path, "r", records=records)
    with caplog.at_level(logging.WARNING, logger="analysis"):
        runs, _ = collect(tmp_path)
    assert runs["valid_xe_loss"].tolist()[0] == float("inf")
    assert runs["note"].dtype == "string" and runs["note"].tolist() == ["3", "ok"]
    assert runs["score"].dtype == "float64" and runs["score"].tolist() == [1.0, 2.5]
    assert runs["repetition"].dtype == "string" and runs["repetition"].tolist() == ['{"first": 0.25}', pd.NA]
    assert f"{run / 'metrics.jsonl'}: values of 'note' have mixed types, stored as strings" in caplog.text


def test_bad_run_directories_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_run(tmp_path, "good")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "run.json").write_text("{oops")
    (tmp_path / "good" / "nested").mkdir()
    (tmp_path / "good" / "nested" / "run.json").write_text("{}")  # inside a run directory: not searched
    with caplog.at_level(logging.WARNING, logger="analysis"):
        runs, _ = collect([tmp_path, tmp_path / "good", tmp_path / "missing"])
    assert runs["run_id"].unique().tolist() == ["id-good"]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "bad: skipped" in messages and "missing: not a directory" in messages

    # write_results never raises: not even when the output cannot be written
    out_dir = tmp_path / "out_is_a_dir.parquet"
    out_dir.mkdir()
    with caplog.at_level(logging.ERROR, logger="analysis"):
        runs2, _ = write_results([tmp_path], out_dir)
    assert len(runs2) == 3 and "could not write" in caplog.text


def test_run_directories_are_found_in_natural_order(tmp_path: Path) -> None:
    for name in ("seed=10", "10", "seed=2", "2", "b/1", "a/3"):
        make_run(tmp_path, name, accs=[0.5])
    runs, _ = collect([tmp_path / "b", tmp_path])  # b/1 first, then the others, each once
    assert runs["run_id"].tolist() == ["id-b/1", "id-2", "id-10", "id-a/3", "id-seed=2", "id-seed=10"]


def test_merging_two_sweeps(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for i, base in enumerate((10, 30)):
        make_run(a, str(i), base=base)
    make_run(b, "0", base=1000, sets=("valid", "test"), extra_config={"data": {"train_path": "/x"}})
    make_run(b, "1", base=11, status="failed", accs=None)
    ra, ca = write_results([a], tmp_path / "a.parquet")
    rb, cb = write_results([b], tmp_path / "b.parquet")
    fixed = ["run_id", "run_dir", "job_num", "status", "encoding.base", "epoch", "examples", "valid_acc", "valid_size"]
    assert ra[fixed].dtypes.equals(rb[fixed].dtypes)
    assert ca.dtypes.equals(cb.dtypes)
    plain = pd.concat([ra, rb], ignore_index=True)
    assert plain["valid_acc"].dtype == "float64" and plain["epoch"].dtype == "Int64"
    assert plain["encoding.base"].dtype == "Int64"

    runs, classes = load_results([tmp_path / "a.parquet", tmp_path / "b.parquet"])
    assert runs["run_dir"].nunique() == 4 and len(runs) == 3 + 3 + 3 + 1
    assert len(classes) == len(ca) + len(cb) and classes.dtypes.equals(ca.dtypes)
    assert runs["test_acc"].dtype == "float64" and runs["test_acc"].notna().sum() == 3
    assert runs["data.train_path"].dtype == "string" and runs["data.train_path"].notna().sum() == 3
    cols = list(runs.columns)
    assert cols.index("data.train_path") < cols.index("overrides")  # config columns stay together
    assert runs.groupby("run_dir")["status"].first().value_counts().to_dict() == {"finished": 3, "failed": 1}

    # a column that changed type between sweeps gets one dtype
    ra2 = ra.assign(**{"encoding.base": ra["encoding.base"].astype("float64") + 0.5})
    assert concat_tables([ra2, rb])["encoding.base"].dtype == "float64"
    assert concat_tables([ra.assign(seed=pd.array(["x"] * len(ra), dtype="string")), rb])["seed"].dtype == "string"


def test_parquet_round_trip_and_load_results(sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "res" / "results.parquet"
    runs, classes = write_results([sweep], out)
    assert out.exists() and classes_path(out) == tmp_path / "res" / "results.classes.parquet"
    assert not list(out.parent.glob("*.tmp"))
    runs2, classes2 = load_results(out)
    pd.testing.assert_frame_equal(runs2, runs)
    pd.testing.assert_frame_equal(classes2, classes)
    runs3, classes3 = load_results(str(sweep))  # directories are collected
    pd.testing.assert_frame_equal(runs3, runs)
    classes_path(out).unlink()
    runs4, classes4 = read_tables(out)
    assert classes4.empty and list(classes4.columns) == list(classes.columns)
    with pytest.raises(FileNotFoundError):
        load_results(tmp_path / "nope.parquet")


def test_collect_cli(sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert collect_main([str(sweep), "-q"]) == 0
    out = capsys.readouterr().out
    assert "6 runs (15 rows, 45 class rows): finished 4, failed 1, running 1" in out
    assert (tmp_path / "results.parquet").exists() and (tmp_path / "results.classes.parquet").exists()
    assert collect_main([str(tmp_path / "empty_dir_that_does_not_exist"), "-q"]) == 1


def test_parallel_collection_matches_serial(sweep: Path, caplog: pytest.LogCaptureFixture) -> None:
    (sweep / "5" / "metrics.jsonl").open("a").write('{"epoch": 3, "exa')
    with caplog.at_level(logging.WARNING, logger="analysis"):
        runs_p, classes_p = collect([sweep], workers=2)
    assert "partly written last line" in caplog.text  # what the reading threads report is logged
    runs_s, classes_s = collect([sweep], workers=1)
    pd.testing.assert_frame_equal(runs_p, runs_s)
    pd.testing.assert_frame_equal(classes_p, classes_s)


def test_varying_keys(sweep: Path) -> None:
    runs, _ = collect(sweep)
    assert varying_keys(runs) == ["encoding.base", "architecture.n_enc_layers"]
    only_seeds = runs[runs["encoding.base"] == 30]
    only_seeds = only_seeds[only_seeds["architecture.n_enc_layers"] == 1]
    assert varying_keys(only_seeds) == ["seed"]  # run-specific keys only when nothing else varies


# --------------------------------------------------------------------------------------------------
# plots and tables


@pytest.fixture
def results(sweep: Path, tmp_path: Path) -> Path:
    out = tmp_path / "results.parquet"
    write_results([sweep], out)
    return out


def test_plot_kinds(results: Path, tmp_path: Path) -> None:
    from analysis import plot

    runs, classes = load_results(results)
    fig = plot.plot_curves(runs)
    ax = fig.axes[0]
    assert (fig.axes[1].get_xlabel(), ax.get_ylabel()) == ("examples", "valid_acc")  # rows: n_enc_layers
    assert "valid_acc vs examples by encoding.base" in fig._suptitle.get_text()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["10  (3 runs)", "30  (3 runs)"]

    fig = plot.plot_curves(runs, y=["valid_acc", "valid_perfect"], row=None)  # two metrics: a line style each
    ax = fig.axes[0]
    assert ax.get_ylabel() == "valid_acc / valid_perfect" and "valid_acc and valid_perfect vs examples" in \
        fig._suptitle.get_text()
    assert [t.get_text() for t in ax.get_legend().get_texts()][-2:] == ["valid_acc", "valid_perfect"]
    n_runs = runs["run_dir"].nunique()
    assert sorted(line.get_linestyle() for line in ax.get_lines()) == ["-"] * n_runs + ["--"] * n_runs
    assert plot.main([str(results), "--kind", "heatmap", "--metric", "valid_acc", "valid_perfect", "-o",
                      str(tmp_path / "two.png")]) == 2  # a heatmap shows one metric

    fig = plot.plot_heatmap(runs, x="encoding.base", y="architecture.n_enc_layers", agg="best")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("encoding.base", "architecture.n_enc_layers")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "30"]
    assert {t.get_text() for t in ax.texts} == {"84.0", "83.0", "93.0", "92.0"}

    fig = plot.plot_classes(runs, classes, hue="encoding.base", row=None)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("class", "accuracy")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]

    for kind in plot.KINDS:
        out = tmp_path / f"{kind}.png"
        assert plot.main([str(results), "--kind", kind, "-o", str(out)]) == 0
        assert out.stat().st_size > 1000 and out.read_bytes()[:4] == b"\x89PNG"
    pdf = tmp_path / "heat.pdf"
    assert plot.main([str(results), "--kind", "heatmap", "--x", "encoding.base", "--y", "none", "-o", str(pdf)]) == 0
    assert pdf.read_bytes()[:4] == b"%PDF"
    assert plot.main([str(results), "--kind", "curves", "--hue", "nope", "-o", str(tmp_path / "x.png")]) == 2


def test_table_command(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from analysis import table

    assert table.main([str(results), "--by", "encoding.base"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["encoding.base", "runs", "best valid_acc (%)", "last valid_acc (%)", "GCD learned",
                      "epoch", "examples", "run", "status"]
    assert lines[1].startswith("|--")
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert rows == [["10", "3", "84.0", "84.0", "8", "3", "3,000", "id-0 (job 0)", "2 finished, 1 running"],
                    ["30", "3", "93.0", "93.0", "9", "3", "3,000", "id-2 (job 2)", "2 finished, 1 failed"]]

    runs, _ = load_results(results)
    t = table.summary_table(runs[runs["status"] == "finished"], by=["encoding.base", "architecture.n_enc_layers"])
    assert "status" not in t.columns and len(t) == 4
    assert t["last valid_acc (%)"].round(6).tolist() == [84.0, 83.0, 93.0, 92.0]
    assert table.main([str(results), "--transpose", "--where", "status=finished"]) == 0
    out = capsys.readouterr().out
    assert "| encoding.base / architecture.n_enc_layers |" in out and "| runs " in out

    assert table.main([str(results), "--by", "encoding.base", "--over", "seed", "architecture.n_enc_layers",
                       "--threshold", "0.8"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [c.strip() for c in lines[0].strip("|").split("|")] == [
        "encoding.base", "runs", "mean valid_acc (%)", "95% CI (%)", "min (%)", "max (%)", "runs >= 80%"]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    # base 10: final values 0.84, 0.83, 0.6; base 30: 0.93, 0.92, 0.3
    assert [r[:3] + r[4:] for r in rows] == [["10", "3", "75.7", "60.0", "84.0", "2 of 3"],
                                             ["30", "3", "71.7", "30.0", "93.0", "2 of 3"]]


def test_analysis_imports_neither_torch_nor_int2int() -> None:
    """The package stays light: it reads files and never imports the training code."""
    import ast

    for path in Path(__file__).resolve().parents[1].joinpath("analysis").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in ("torch", "int2int"), f"{path.name} imports {name}"


def test_jsonl_file_cut_anywhere_gives_the_complete_records(tmp_path: Path) -> None:
    """A metrics.jsonl cut at any byte (a killed writer) yields exactly its complete records."""
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    from analysis.collect import METRICS_SCHEMA
    from analysis.jsonl import read_jsonl

    records = [make_record(i + 1, 0.1 * i, sets=("valid", "test")) for i in range(4)]
    records[1]["train_loss"] = float("nan")
    text = "".join(json.dumps(r) + "\n" for r in records).encode()
    ends = [i + 1 for i, b in enumerate(text) if b == ord("}") and (i + 1 == len(text) or text[i + 1] == ord("\n"))]
    path = tmp_path / "metrics.jsonl"

    @hypothesis.settings(max_examples=60, deadline=None)
    @hypothesis.given(st.integers(0, len(text)))
    def check(cut: int) -> None:
        path.write_bytes(text[:cut])
        got = read_jsonl(path, METRICS_SCHEMA, report=lambda *a: None)
        complete = records[: sum(e <= cut for e in ends)]
        assert got["epoch"].to_pylist() == [r["epoch"] for r in complete]
        if complete:
            assert got["valid_acc"].to_pylist() == [r["valid_acc"] for r in complete]
            assert got["classes"].to_pylist() == [r["classes"] for r in complete]

    check()
