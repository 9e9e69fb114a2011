"""JSON-lines files as Arrow tables: fast for clean files, tolerant of damaged ones.

A run's ``metrics.jsonl`` is appended line by line by a process that may be killed at any time, so
a file may end with a partly written line; a hand-edited file may hold a malformed line.
:func:`read_jsonl` parses a clean file in one ``pyarrow.json.read_json`` call and, when Arrow
refuses it, parses it line by line, reports the bad lines (file and line number) and hands the good
ones back to Arrow. :func:`concat_arrow` concatenates the tables of many files,
giving each column one type.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.json as pj

try:  # optional: about 2x faster than json on lines
    import orjson

    def _loads(data: bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:  # NaN / Infinity (json.dumps(allow_nan=True)) are not in orjson
            return json.loads(data)

except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads

log = logging.getLogger(__name__)

Report = Callable[..., None]  # report(level, msg, *args), like Logger.log
Clean = Callable[[dict[str, Any], Path, Report], dict[str, Any]]

_READ = pj.ReadOptions(use_threads=False)  # files are read by several threads at once: one thread each
_NUMBER = (int, float)

#: Arrow types as pandas dtypes (the explicit dtype map of the tables); other types are numpy's.
PANDAS_DTYPES = {pa.int64(): pd.Int64Dtype(), pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype(),
                 pa.bool_(): pd.BooleanDtype()}


def read_jsonl(path: Path, schema: pa.Schema | None = None, extra: str = "infer", report: Report = log.log,
               clean: Clean | None = None) -> pa.Table | None:
    """The JSON objects of a JSON-lines file as a table, None if the file does not exist.

    ``schema`` fixes the types of its fields (always present, null where a line lacks them);
    other keys are inferred (``extra="infer"``) or dropped (``"ignore"``). A partly written last
    line is ignored with a warning; any other line that is not a JSON object is skipped with a
    warning naming the file and line number. ``NaN``/``Infinity`` are accepted. Values whose type
    differs from line to line become strings; values that do not fit ``schema`` become null (both
    with a warning). ``clean(record, path, report)``, if given, tidies every record of a file that
    needed the line-by-line pass.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior=extra)
    if data and not data.isspace():
        try:
            return pj.read_json(pa.BufferReader(data), read_options=_READ, parse_options=options)
        except pa.ArrowInvalid:
            pass  # a damaged line or types that change between lines: sort it out line by line
    records = _parse_lines(data, path, report)
    if clean is not None:
        records = [clean(r, path, report) for r in records]
    records = _uniform(records, schema, path, report)
    if not records:
        return (schema or pa.schema([])).empty_table()
    text = b"".join(json.dumps(r, default=str).encode() + b"\n" for r in records)
    return pj.read_json(pa.BufferReader(text), read_options=_READ, parse_options=options)


def _parse_lines(data: bytes, path: Path, report: Report) -> list[dict[str, Any]]:
    lines = data.split(b"\n")
    last = len(lines) - 1
    while last >= 0 and not lines[last].strip():
        last -= 1
    records = []
    for i, line in enumerate(lines[: last + 1]):
        if not line.strip():
            continue
        try:
            rec = _loads(line)
        except ValueError:
            if i == last:
                report(logging.WARNING, "%s: ignoring a partly written last line (line %d)", path, i + 1)
            else:
                report(logging.WARNING, "%s:%d: skipping a malformed line", path, i + 1)
            continue
        if isinstance(rec, dict):
            records.append(rec)
        else:
            report(logging.WARNING, "%s:%d: skipping a line that is not a JSON object", path, i + 1)
    return records


def _kind(value: Any) -> type:
    return float if isinstance(value, _NUMBER) and not isinstance(value, bool) else type(value)


def _uniform(records: list[dict[str, Any]], schema: pa.Schema | None, path: Path,
             report: Report) -> list[dict[str, Any]]:
    """Records whose values Arrow can read: one kind of value per key, ``schema``'s types respected."""
    kinds: dict[str, set[type]] = {}
    for rec in records:
        for key, value in rec.items():
            if value is not None:
                kinds.setdefault(key, set()).add(_kind(value))
    fixed = {f.name: f.type for f in schema} if schema is not None else {}
    fix: dict[str, Callable[[Any], Any]] = {}
    for key, seen in kinds.items():
        if key in fixed:
            fix[key] = _converter(fixed[key])
        elif len(seen) > 1:
            report(logging.WARNING, "%s: values of %r have mixed types, stored as strings", path, key)
            fix[key] = _text
    if not fix:
        return records
    dropped: dict[str, int] = {}
    out = []
    for rec in records:
        rec = dict(rec)
        for key, convert in fix.items():
            value = rec.get(key)
            if value is not None:
                rec[key] = convert(value)
                if rec[key] is None:
                    dropped[key] = dropped.get(key, 0) + 1
        out.append(rec)
    for key, n in dropped.items():
        report(logging.WARNING, "%s: %d values of %r are not %s, read as null", path, n, key, fixed[key])
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _converter(arrow_type: pa.DataType) -> Callable[[Any], Any]:
    if pa.types.is_integer(arrow_type):
        return lambda v: (int(v) if isinstance(v, _NUMBER) and not isinstance(v, bool) and float(v).is_integer()
                          else None)
    if pa.types.is_floating(arrow_type):
        return lambda v: float(v) if isinstance(v, _NUMBER) and not isinstance(v, bool) else None
    if pa.types.is_string(arrow_type):
        return _text
    return lambda v: v


# --------------------------------------------------------------------------------------------------
# Many tables as one


def concat_arrow(tables: Sequence[pa.Table]) -> pa.Table:
    """Concatenate tables whose columns may differ: the union of the columns, in order of first
    appearance, null where a table lacks one. A column gets one type: integers and floats meet as
    float64, any other disagreement (or a nested value) becomes a string."""
    targets: dict[str, pa.DataType] = {}
    for table in tables:
        for field in table.schema:
            targets[field.name] = _common_type(targets.get(field.name), field.type)
    schema = pa.schema([(name, _flat(t)) for name, t in targets.items()])
    return pa.concat_tables([_conform(t, schema) for t in tables] or [schema.empty_table()])


def _common_type(a: pa.DataType | None, b: pa.DataType) -> pa.DataType:
    if a is None or pa.types.is_null(a) or a == b:
        return b
    if pa.types.is_null(b):
        return a
    if _is_number(a) and _is_number(b):
        return pa.float64()
    return pa.string()


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t)


def _flat(t: pa.DataType) -> pa.DataType:
    return pa.string() if pa.types.is_nested(t) else t


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    if table.schema == schema:
        return table
    n = table.num_rows
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            columns.append(pa.nulls(n, field.type))
            continue
        col = table.column(field.name)
        if col.type == field.type:
            columns.append(col)
        elif pa.types.is_nested(col.type) or pa.types.is_null(col.type):
            columns.append(pa.array(_json_texts(col.to_pylist()), field.type))
        else:
            columns.append(col.cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _json_texts(values: Iterable[Any]) -> list[str | None]:
    return [None if v is None else _text(v) for v in values]


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """``table`` as a DataFrame with pandas' nullable dtypes: ``Int64``, ``string``, ``boolean``, float64."""
    df = table.to_pandas(types_mapper=PANDAS_DTYPES.get)
    for field in table.schema:
        if pa.types.is_null(field.type):  # a column without any value
            df[field.name] = df[field.name].astype("float64")
    return df
