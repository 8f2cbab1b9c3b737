"""CSV exports read a block at a time, whole columns at once (pyarrow's streaming CSV reader), so
a 200 MB Amazon Q or Kiro report is read at the speed of the parser, not of a Python loop per row.

The fast path only takes what it can check exactly as the row-by-row readers do (the same count,
date and identity rules, applied to each block's distinct values or to whole columns). Anything
else — a quoted cell it cannot undo, a blank cell, a count with odd spacing, a bad date, a row of
the wrong length, bytes that are not UTF-8 — raises `NotFast`, and the reader goes back to the
start of the file row by row, which then names the file and line of the problem (or reads the odd
but valid cell the way it always did). So the two paths can never disagree on a number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from datasets.importers.base import MAX_COUNT, ExportFormatError, Sink, csv_amount, csv_count, open_binary

BLOCK_BYTES = 1 << 20   # small blocks: the parser's and the column work's memory stays a few MB
# a count as the row reader takes it, padded with spaces or tabs only (other white space, which
# Python's strip() also removes, goes the slow way): digits with an optional ".000"; blank is 0
_COUNT_CELL = r"^[ \t]*(?:(?P<whole>[0-9]+)(?:\.0*)?)?[ \t]*$"
_AMOUNT_CELL = r"^[ \t]*(?:(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]+))?)?[ \t]*$"


class NotFast(Exception):
    """The block holds something only the row-by-row reader decides exactly."""


def blocks(path: Path, names: int, delimiter: str, header_lines: int) -> Iterator[list[pa.Array]]:
    """Each block of the file's rows as string columns (cells as written; quotes undone below).

    Quoting is turned off in the parser, so a cell holding a quote is seen as it is written: a
    cell wholly wrapped in quotes is unwrapped (what Python's csv does), any other quote is
    left to the row reader."""
    if header_lines != 1:
        raise NotFast
    column_names = [f"c{i}" for i in range(names)]
    try:
        with open_binary(path) as handle:
            reader = pacsv.open_csv(
                handle,
                read_options=pacsv.ReadOptions(column_names=column_names, skip_rows=1, block_size=BLOCK_BYTES,
                                               use_threads=False),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=False, ignore_empty_lines=True),
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(column_names, pa.string()),
                                                     strings_can_be_null=False, check_utf8=True),
            )
            for batch in reader:
                yield [_unquoted(batch.column(i)) for i in range(names)]
    except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise NotFast from exc
    finally:
        pa.default_memory_pool().release_unused()   # give the parser's blocks back before the table is built


def _unquoted(cells: pa.Array) -> pa.Array:
    quoted = pc.match_substring(cells, '"')
    if not pc.any(quoted).as_py():
        return cells
    wrapped = pc.match_substring_regex(cells, r'^"[^"]*"$')
    if pc.any(pc.and_(quoted, pc.invert(wrapped))).as_py():
        raise NotFast
    return pc.if_else(wrapped, pc.utf8_slice_codeunits(cells, 1, -1), cells)


def distinct(cells: pa.Array, convert: Callable[[str], Any]) -> tuple[np.ndarray, list]:
    """(index of each cell's value, converted distinct values): `convert` runs once per distinct
    text, and raises NotFast for a value the row reader must judge (a blank, a bad date)."""
    encoded = pc.dictionary_encode(cells)
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    return indices, [convert(text) for text in encoded.dictionary.to_pylist()]


def codes(sink: Sink, kind: str, cells: pa.Array, convert: Callable[[str], Any]) -> np.ndarray:
    """The sink's code (user or split) of each cell, converting each distinct text once."""
    indices, values = distinct(cells, convert)
    table = np.array([sink.code_of(kind, value) for value in values], dtype=np.int32)
    return table[indices] if len(table) else np.zeros(0, dtype=np.int32)


def day_ordinals(cells: pa.Array, parse: Callable[[str], Any]) -> np.ndarray:
    """The date ordinal of each cell, `parse` (a `Dates.parse`) run once per distinct text."""
    parse = checked(parse)

    def ordinal(text: str) -> int:
        if not text.strip():
            raise NotFast
        return parse(text).toordinal()

    indices, days = distinct(cells, ordinal)
    return np.array(days, dtype=np.int32)[indices] if days else np.zeros(0, dtype=np.int32)


def checked(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """`convert`, with its refusals turned into NotFast (the row reader then gives the message)."""
    def run(text: str) -> Any:
        try:
            value = convert(text)
        except ExportFormatError:
            raise NotFast from None
        if value is None or value == "":
            raise NotFast
        return value
    return run


def _wholes(cells: pa.Array) -> np.ndarray:
    """Digit strings ('' is 0) as float counts, refusing what is over MAX_COUNT."""
    cells = pc.if_else(pc.equal(cells, ""), "0", cells)
    try:
        values = pc.cast(cells, pa.uint64()).to_numpy(zero_copy_only=False)
    except pa.ArrowException:
        raise NotFast from None
    if len(values) and values.max() > MAX_COUNT:
        raise NotFast
    return values.astype(np.float64)


def _by_distinct(cells: pa.Array, convert: Callable[[Path, int, str, str], float]) -> np.ndarray | None:
    """Each cell converted by the row reader's own helper, run once per distinct text; None when
    the texts hardly repeat (then whole-column arithmetic is faster)."""
    encoded = pc.dictionary_encode(cells)
    if len(encoded.dictionary) > len(cells) // 4 + 64:
        return None
    run = checked(lambda text: convert(Path(), 0, text, ""))   # no place: a refusal goes to the row reader
    values = np.array([run(text) for text in encoded.dictionary.to_pylist()], dtype=np.float64)
    return values[encoded.indices.to_numpy(zero_copy_only=False)]


def counts(cells: pa.Array) -> np.ndarray:
    """A column of counts as `csv_count` reads each cell (blank is 0)."""
    if pc.all(pc.ascii_is_decimal(cells)).as_py() is not False:
        return _wholes(cells)
    values = _by_distinct(cells, csv_count)
    if values is not None:
        return values
    parts = pc.extract_regex(cells, _COUNT_CELL)
    if parts.null_count:
        raise NotFast
    return _wholes(pc.struct_field(parts, "whole"))


def amounts(cells: pa.Array) -> np.ndarray:
    """A column of consumption amounts as `csv_amount` reads each cell: the whole part as a
    count plus the fraction, each distinct fraction converted by Python as the row reader does."""
    if pc.all(pc.ascii_is_decimal(cells)).as_py() is not False:
        return _wholes(cells)
    values = _by_distinct(cells, csv_amount)
    if values is not None:
        return values
    parts = pc.extract_regex(cells, _AMOUNT_CELL)
    if parts.null_count:
        raise NotFast
    indices, fractions = distinct(pc.struct_field(parts, "fraction"), lambda text: float("0." + (text or "0")))
    return _wholes(pc.struct_field(parts, "whole")) + np.array(fractions, dtype=np.float64)[indices]
