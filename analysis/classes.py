"""The classes table: per-class counts of every evaluation of every run, one row per class.

The training code writes them to ``classes.csv``, one row per evaluation, eval set and class, under
the header ``epoch,examples,set,class,count,correct`` (``3,150016,valid,4,81,0``), just before the
evaluation's line in ``metrics.jsonl``. Run directories written before that hold a ``classes``
object in each metrics line instead (``{"valid": {"4": [81, 0]}}``); a few written in between (test
fixtures) hold the rows as JSON lines in ``classes.jsonl``. All are read into the same per-run rows
(:func:`read_class_rows`, :func:`nested_class_rows`), and :func:`classes_frame` turns the rows of
all runs into the table documented in ``analysis/README.md``: a row whose epoch has no metrics line
is dropped, and when an evaluation was redone (a resumed run) its last rows win, as for metrics.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from .jsonl import Report, read_jsonl
from .schema import CLASSES_DTYPES, STRING, empty_classes_frame

log = logging.getLogger(__name__)

CLASSES_FILE = "classes.csv"
#: The header line of ``classes.csv``: its columns, in order.
CSV_HEADER = ("epoch", "examples", "set", "class", "count", "correct")
#: The JSON-lines file of the same rows, written for a short while before ``classes.csv``.
JSONL_FILE = "classes.jsonl"
#: The fields of a row that are read (``examples`` is taken from the metrics line; other fields are ignored).
FILE_SCHEMA = pa.schema([("epoch", pa.int64()), ("set", pa.string()), ("class", pa.string()),
                         ("count", pa.int64()), ("correct", pa.int64())])
_CODES = pa.dictionary(pa.int32(), pa.string())
#: Per-run rows, as every format is read: the eval set and class as dictionary codes.
ROWS_SCHEMA = pa.schema([("epoch", pa.int64()), ("set", _CODES), ("class", _CODES),
                         ("count", pa.int64()), ("correct", pa.int64())])
_INTEGER = r"^-?[0-9]{1,18}$"  # the text of an int64 Arrow's cast accepts


def read_class_rows(run_dir: Path, report: Report = log.log) -> pa.Table | None:
    """The rows of ``run_dir/classes.csv`` (after those of a ``classes.jsonl``), None without either
    file; rows lacking epoch, set, class, count or correct are dropped with a warning."""
    run_dir = Path(run_dir)
    parts = [t for t in (read_jsonl(run_dir / JSONL_FILE, FILE_SCHEMA, extra="ignore", report=report),
                         read_class_csv(run_dir / CLASSES_FILE, report)) if t is not None]
    if not parts:
        return None
    table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    complete = functools.reduce(pc.and_, (pc.is_valid(col) for col in table.columns))
    n_bad = table.num_rows - pc.sum(complete).as_py() if table.num_rows else 0
    if n_bad:
        report(logging.WARNING, "%s: %d rows without epoch, set, class, count or correct ignored", run_dir, n_bad)
        table = table.filter(complete)
    return pa.table([table["epoch"], pc.dictionary_encode(table["set"]), pc.dictionary_encode(table["class"]),
                     table["count"], table["correct"]], schema=ROWS_SCHEMA)


def read_class_csv(path: Path, report: Report = log.log) -> pa.Table | None:
    """The rows of a ``classes.csv`` as a :data:`FILE_SCHEMA` table, None if the file does not exist.

    The file is parsed in one ``pyarrow.csv`` call. A partly written last line (a killed process: no
    line end yet) is dropped, a row with the wrong number of fields is skipped, and a value that is
    not an integer where one is expected is read as null; each with a warning naming the file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    end = data.rfind(b"\n") + 1
    if end < len(data):
        report(logging.WARNING, "%s: ignoring a partly written last line", path)
        data = data[:end]
    if not data.strip():
        return FILE_SCHEMA.empty_table()
    bad_rows: list[pcsv.InvalidRow] = []

    def skip(row: pcsv.InvalidRow) -> str:
        bad_rows.append(row)
        return "skip"

    try:
        table = _parse_csv(data, FILE_SCHEMA, skip)
    except pa.ArrowInvalid:  # a value that is not an integer (a hand-edited or damaged file): read as text
        bad_rows.clear()
        try:
            table = _integers(_parse_csv(data, pa.schema([(n, pa.string()) for n in FILE_SCHEMA.names]), skip),
                              path, report)
        except pa.ArrowInvalid as e:
            report(logging.WARNING, "%s: unreadable (%s), its rows are ignored", path, e)
            return FILE_SCHEMA.empty_table()
    for row in bad_rows:
        report(logging.WARNING, "%s: row %s: skipping a row of %d fields (expected %d)", path, row.number,
               row.actual_columns, row.expected_columns)
    return table


def _parse_csv(data: bytes, schema: pa.Schema, on_bad_row: Callable[[pcsv.InvalidRow], str]) -> pa.Table:
    """``schema``'s columns of CSV text with a header line (a column the header lacks is null)."""
    return pcsv.read_csv(
        pa.BufferReader(data), read_options=pcsv.ReadOptions(use_threads=False),  # one thread per file
        parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_bad_row),
        convert_options=pcsv.ConvertOptions(column_types=dict(zip(schema.names, schema.types)),
                                            include_columns=schema.names, include_missing_columns=True))


def _integers(table: pa.Table, path: Path, report: Report) -> pa.Table:
    """:data:`FILE_SCHEMA` from text columns: text that is not an integer becomes null, with a warning."""
    columns = []
    for field in FILE_SCHEMA:
        col = table[field.name]
        if pa.types.is_integer(field.type):
            good = pc.match_substring_regex(col, _INTEGER)
            n_bad = pc.sum(pc.and_(pc.invert(good), pc.not_equal(col, ""))).as_py() or 0
            if n_bad:
                report(logging.WARNING, "%s: %d values of %r are not integers, read as null", path, n_bad, field.name)
            col = pc.if_else(good, col, pa.scalar(None, pa.string())).cast(field.type)
        columns.append(col)
    return pa.table(columns, schema=FILE_SCHEMA)


def clean_nested(record: dict[str, Any], path: Path, report: Report) -> dict[str, Any]:
    """A metrics record whose ``classes`` object Arrow can read: entries that are not
    ``[count, correct]`` numbers become ``[]`` (counted as malformed by :func:`nested_class_rows`)."""
    classes = record.get("classes")
    if classes is None:
        return record
    record = dict(record)
    if not isinstance(classes, dict):
        report(logging.WARNING, "%s: 'classes' is not an object, ignored", path)
        del record["classes"]
        return record
    tidy = {}
    for set_name, per_class in classes.items():
        if isinstance(per_class, dict):
            tidy[set_name] = {k: v if _is_pair(v) else [] for k, v in per_class.items()}
        else:
            report(logging.WARNING, "%s: 'classes' of set %r is not an object, ignored", path, set_name)
    record["classes"] = tidy
    return record


def _is_pair(v: Any) -> bool:
    return (isinstance(v, list) and len(v) == 2
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) and x == x for x in v))


def nested_class_rows(metrics: pa.Table, path: Path, report: Report = log.log) -> pa.Table | None:
    """The per-class rows of the ``classes`` objects of a metrics table (run directories written
    before per-class rows files), in file order: evaluation, then eval set and class as written.

    Entries that are not ``[count, correct]`` pairs of numbers are dropped with one warning.
    """
    if "classes" not in metrics.column_names:
        return None
    col = metrics.column("classes")
    if pa.types.is_null(col.type):
        return None
    if not pa.types.is_struct(col.type):
        report(logging.WARNING, "%s: 'classes' is not an object, ignored", path)
        return None
    col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    set_names: dict[str, int] = {}
    class_names: dict[str, int] = {}
    keys: list[tuple[int, int]] = []  # (set, class) code of each entry
    lists: list[pa.Array] = []  # its [count, correct] per evaluation
    malformed = 0
    for set_field, per_set in zip(col.type, col.flatten()):  # flatten(): children, nulls of the parent kept
        if not pa.types.is_struct(per_set.type):
            malformed += len(per_set) - per_set.null_count
            continue
        for class_field, pairs in zip(per_set.type, per_set.flatten()):
            if not (pa.types.is_list(pairs.type) and _is_numeric(pairs.type.value_type)):
                malformed += len(pairs) - pairs.null_count
                continue
            keys.append((set_names.setdefault(set_field.name, len(set_names)),
                         class_names.setdefault(class_field.name, len(class_names))))
            lists.append(pairs)
    if lists:
        common = lists[0].type if all(a.type == lists[0].type for a in lists) else pa.list_(pa.float64())
        same_type = [a if a.type == common else a.cast(common) for a in lists]
        counts, correct, present, bad = _pairs(pa.concat_arrays(same_type))
        malformed += bad
    if malformed:
        report(logging.WARNING, "%s: %d malformed class entries ignored (expected [count, n_correct])", path, malformed)
    if not lists:
        return None
    n_evals = len(col)
    # entries are in (entry, evaluation) order: transpose to (evaluation, entry), the order of the file
    has_epoch = np.tile(metrics.column("epoch").is_valid().to_numpy(zero_copy_only=False), len(lists))
    order = np.arange(len(lists) * n_evals).reshape(len(lists), n_evals).T.ravel()
    order = order[(present & has_epoch)[order]]
    entry, evaluation = order // n_evals, order % n_evals
    codes = np.asarray(keys, dtype=np.int32).reshape(-1, 2)
    epoch = metrics.column("epoch").combine_chunks().take(pa.array(evaluation))
    return pa.table([epoch, _coded(codes[entry, 0], list(set_names)), _coded(codes[entry, 1], list(class_names)),
                     pa.array(counts[order]), pa.array(correct[order])], schema=ROWS_SCHEMA)


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)


def _pairs(lists: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``(count, correct, present, n_malformed)`` of a list array: lists of two numbers are present."""
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy()
    values = pc.list_flatten(lists).to_numpy(zero_copy_only=False).astype(np.float64)
    starts = (np.cumsum(lengths) - lengths)[lengths == 2]
    first, second = np.full(len(lengths), np.nan), np.full(len(lengths), np.nan)
    first[lengths == 2], second[lengths == 2] = values[starts], values[starts + 1]
    present = np.isfinite(first) & np.isfinite(second)
    n_malformed = len(lists) - lists.null_count - int(present.sum())
    return np.nan_to_num(first).astype(np.int64), np.nan_to_num(second).astype(np.int64), present, n_malformed


def _coded(codes: np.ndarray, names: list[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(names, pa.string()))


# --------------------------------------------------------------------------------------------------
# The table of all runs


def classes_frame(runs: pd.DataFrame, run_of_row: np.ndarray, rows: Sequence[tuple[int, pa.Table]]) -> pd.DataFrame:
    """The classes table from the per-class rows of each run.

    ``runs`` is the runs table, ``run_of_row`` the run number of each of its rows, ``rows`` pairs
    ``(run number, rows of that run)``. A row is attached to the evaluation of its run with the same
    epoch (the last one, if a metrics file repeats an epoch) and dropped if there is none; of the
    rows of one evaluation, eval set and class, the last one wins. Rows are ordered by run and
    evaluation, then as written.
    """
    rows = [(i, t) for i, t in rows if t is not None and t.num_rows]
    if not rows:
        return empty_classes_frame()
    table = pa.concat_tables([t for _, t in rows]).unify_dictionaries()
    run = np.repeat(np.array([i for i, _ in rows], np.int32), [t.num_rows for _, t in rows])
    epoch = table.column("epoch").to_numpy()
    set_code, set_names = _codes(table.column("set"))
    class_code, class_names = _codes(table.column("class"))
    evaluation = _evaluation_of(run, epoch, run_of_row, runs["epoch"])
    del run, epoch
    keep = evaluation >= 0
    # one key per (evaluation, set, class): int64 holds 10^8 evaluations x 10^3 sets x 10^7 classes
    key = evaluation * len(set_names)
    key += set_code
    key *= max(len(class_names), 1)
    key += class_code
    if keep.all():
        keep = _last_of_each(key)
    else:
        log.info("%d class rows of epochs without a metrics line ignored", int((~keep).sum()))
        keep[keep] = _last_of_each(key[keep])
    del key
    order = None if keep.all() else np.flatnonzero(keep)
    if order is not None:
        evaluation = evaluation[order]
    if np.any(evaluation[1:] < evaluation[:-1]):  # a resumed run redid earlier evaluations
        by_evaluation = np.argsort(evaluation, kind="stable")
        order = by_evaluation if order is None else order[by_evaluation]
        evaluation = evaluation[by_evaluation]

    def kept(values: np.ndarray) -> np.ndarray:
        return values if order is None else values[order]

    count, correct = kept(table.column("count").to_numpy()), kept(table.column("correct").to_numpy())
    acc = correct.astype(np.float64)
    np.divide(acc, count, out=acc, where=count > 0)
    acc[count <= 0] = np.nan
    frame = pd.DataFrame({
        "run_id": runs["run_id"].array.take(evaluation),
        "run_dir": runs["run_dir"].array.take(evaluation),
        "epoch": runs["epoch"].array.take(evaluation),
        "examples": runs["examples"].array.take(evaluation),
        "eval_set": pd.array(set_names, dtype=STRING).take(kept(set_code)),
        "class": pd.array(class_names, dtype=STRING).take(kept(class_code)),
        "count": pd.arrays.IntegerArray(count, np.zeros(len(count), dtype=bool)),
        "correct": pd.arrays.IntegerArray(correct, np.zeros(len(correct), dtype=bool)),
        "acc": acc,
    }, copy=False)
    assert list(frame.columns) == list(CLASSES_DTYPES)
    return frame


def _codes(col: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Codes and names of a dictionary column whose chunks share one dictionary."""
    if col.num_chunks == 0:
        return np.zeros(0, np.int32), []
    codes = np.concatenate([c.indices.to_numpy() for c in col.chunks])
    return codes, col.chunk(0).dictionary.to_pylist()


def _evaluation_of(run: np.ndarray, epoch: np.ndarray, run_of_row: np.ndarray, epochs: pd.Series) -> np.ndarray:
    """The runs-table row of each (run, epoch) pair, -1 where the run has no evaluation of that epoch.

    Looked up once per stretch of equal pairs (a few hundred class rows share one), not per row.
    """
    has_epoch = epochs.notna().to_numpy()
    rows = np.flatnonzero(has_epoch)
    index = pd.MultiIndex.from_arrays([run_of_row[rows], epochs.to_numpy(dtype=np.int64, na_value=0)[rows]])
    last = ~index.duplicated(keep="last")
    index, rows = index[last], rows[last]
    starts = np.flatnonzero(np.r_[True, (run[1:] != run[:-1]) | (epoch[1:] != epoch[:-1])])
    found = index.get_indexer(pd.MultiIndex.from_arrays([run[starts], epoch[starts]]))
    per_stretch = np.where(found >= 0, rows[np.maximum(found, 0)] if len(rows) else -1, -1)
    return np.repeat(per_stretch, np.diff(np.r_[starts, len(run)]))


def _last_of_each(key: np.ndarray) -> np.ndarray:
    """True for the last occurrence of each key (usually every key occurs once: checked cheaply)."""
    index = pd.Index(key)
    if index.is_unique:
        return np.ones(len(key), dtype=bool)
    return ~index.duplicated(keep="last")
