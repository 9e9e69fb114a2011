"""Data files in the original's format: one example per line, input tokens, a TAB, output tokens.

Tokens are separated by single spaces: ``V2 + 9 1 1 2 0 + 6 8 0 7 1 2<TAB>+ 8``. Every problem
with a file (missing, empty, a line without exactly one TAB, an empty side, a token outside the
vocabulary) raises :class:`DataFileError` naming the file, the line number and the token, before
training starts. Only examples longer than ``data.max_len`` are skipped, and they are counted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..encodings.vocab import PAD, Vocabulary
from ..run_files import atomic_write
from .examples import Examples, fits

log = logging.getLogger(__name__)


class DataFileError(ValueError):
    """A data file cannot be used; the message names the file and line."""


def _open_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such data file")
    empty = True
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                raise DataFileError(f"{path}, line {lineno}: empty line")
            empty = False
            yield lineno, line
    if empty:
        raise DataFileError(f"{path}: the file is empty")


def split_line(path: str | Path, lineno: int, line: str) -> tuple[list[str], list[str]]:
    parts = line.split("\t")
    if len(parts) != 2:
        raise DataFileError(f"{path}, line {lineno}: expected exactly one TAB between input and output, "
                            f"found {len(parts) - 1}")
    x, y = parts[0].split(), parts[1].split()
    if not x or not y:
        raise DataFileError(f"{path}, line {lineno}: the {'input' if not x else 'output'} is empty")
    return x, y


@dataclass
class FileScan:
    """What a pass over a file found: its size, its longest sides, and the tokens on each side."""

    lines: int = 0
    max_x: int = 0
    max_y: int = 0
    x_tokens: set[str] = field(default_factory=set)
    y_tokens: set[str] = field(default_factory=set)


def scan_file(path: str | Path, vocab: Vocabulary | None = None) -> FileScan:
    """Check every line of ``path`` (format and, with ``vocab``, tokens) without keeping the examples."""
    scan = FileScan()
    for lineno, line in _open_lines(path):
        x, y = split_line(path, lineno, line)
        if vocab is not None:
            _check_tokens(path, lineno, x, y, vocab)
        else:
            scan.x_tokens.update(x)
            scan.y_tokens.update(y)
        scan.lines += 1
        scan.max_x, scan.max_y = max(scan.max_x, len(x)), max(scan.max_y, len(y))
    return scan


def _check_tokens(path, lineno: int, x: list[str], y: list[str], vocab: Vocabulary) -> None:
    for t in x + y:
        if t not in vocab.stoi:
            raise DataFileError(f"{path}, line {lineno}: token {t!r} is not in the task's vocabulary")


def _to_examples(xs: list[list[int]], ys: list[list[int]]) -> Examples:
    def pad(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        out = np.full((len(rows), max(int(lengths.max(initial=1)), 1)), PAD, dtype=np.int64)
        if len(rows):
            flat = np.fromiter((t for r in rows for t in r), dtype=np.int64, count=int(lengths.sum()))
            row_idx = np.repeat(np.arange(len(rows)), lengths)
            col_idx = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            out[row_idx, col_idx] = flat
        return out, lengths

    x, x_len = pad(xs)
    y, y_len = pad(ys)
    return Examples(x, x_len, y, y_len)


def iter_chunks(path: str | Path, vocab: Vocabulary, max_len: int, chunk_lines: int,
                start: int = 0, limit: int | None = None) -> Iterator[tuple[Examples, int]]:
    """Examples of lines ``start .. start+limit`` of ``path`` in chunks of ``chunk_lines`` lines.

    Yields ``(examples, n_dropped)`` where ``n_dropped`` counts the chunk's lines longer than
    ``max_len`` (input + ``<eos>``, or ``<eos>`` + output + ``<eos>``).
    """
    stoi = vocab.stoi
    xs: list[list[int]] = []
    ys: list[list[int]] = []
    dropped = seen = 0
    for lineno, line in _open_lines(path):
        if lineno <= start:
            continue
        if limit is not None and seen >= limit:
            break
        seen += 1
        x, y = split_line(path, lineno, line)
        try:
            xi, yi = [stoi[t] for t in x], [stoi[t] for t in y]
        except KeyError:
            _check_tokens(path, lineno, x, y, vocab)
            raise
        if not fits(len(xi), len(yi), max_len):
            dropped += 1
        else:
            xs.append(xi)
            ys.append(yi)
        if seen % chunk_lines == 0:
            yield _to_examples(xs, ys), dropped
            xs, ys, dropped = [], [], 0
    if xs or dropped:
        yield _to_examples(xs, ys), dropped


def load_file(path: str | Path, vocab: Vocabulary, max_len: int, limit: int | None = None,
              start: int = 0) -> Examples:
    """The examples of a whole file (or of ``limit`` lines after ``start``) in memory; logs dropped lines."""
    parts, dropped = [], 0
    for ex, d in iter_chunks(path, vocab, max_len, 200_000, start=start, limit=limit):
        parts.append(ex)
        dropped += d
    data = Examples.concat(parts) if len(parts) > 1 else parts[0] if parts else _to_examples([], [])
    if dropped:
        log.warning("%s: dropped %d examples longer than data.max_len=%d", path, dropped, max_len)
    if len(data) == 0:
        raise DataFileError(f"{path}: no example fits data.max_len={max_len}")
    return data


def write_examples(path: str | Path, vocab: Vocabulary, parts: Iterator[Examples]) -> int:
    """Write examples as ``input<TAB>output`` lines, atomically; returns the number of lines."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0

    def write(f) -> None:
        nonlocal count
        for ex in parts:
            xs, ys = vocab.lines(ex.x, ex.x_len), vocab.lines(ex.y, ex.y_len)
            f.write("".join(f"{x}\t{y}\n" for x, y in zip(xs, ys)))
            count += len(xs)

    atomic_write(path, write)
    return count
