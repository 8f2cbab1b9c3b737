"""CSV exports read a block at a time, whole columns at once (pyarrow's CSV parser on 4 MB
chunks, on every core), so a 200 MB Amazon Q or Kiro report is read at the speed of the parser,
not of a Python loop per row.

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

CHUNK_BYTES = 4 << 20   # the file is parsed 4 MB at a time (in 1 MB blocks, on every core)
BLOCK_BYTES = 1 << 20


def _pool() -> pa.MemoryPool:
    """jemalloc where pyarrow has it (its Linux and macOS wheels), told to hand freed memory back
    at once: of Arrow's allocators it keeps the least of the parser's freed blocks, memory the
    table being built needs (Arrow's default pool is left as it is for everything else)."""
    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(0)
    except (NotImplementedError, pa.ArrowException):
        return pa.default_memory_pool()
    return pool


POOL = _pool()
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
    options = {
        "read_options": pacsv.ReadOptions(column_names=column_names, block_size=BLOCK_BYTES, use_threads=True),
        "parse_options": pacsv.ParseOptions(delimiter=delimiter, quote_char=False, ignore_empty_lines=True),
        "convert_options": pacsv.ConvertOptions(column_types=dict.fromkeys(column_names, pa.string()),
                                                strings_can_be_null=False, check_utf8=True),
        "memory_pool": POOL,
    }
    try:
        for chunk in line_chunks(path):
            for batch in pacsv.read_csv(pa.py_buffer(chunk), **options).to_batches():
                yield [_unquoted(batch.column(i)) for i in range(names)]
    except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise NotFast from exc
    finally:
        POOL.release_unused()     # what the parser kept goes back before the table is built


def line_chunks(path: Path, header_lines: int = 1) -> Iterator[memoryview]:
    """The file's lines after the header (one line, or none), up to CHUNK_BYTES at a time, each cut
    after a line break, read into one buffer used over and over (each chunk is parsed before the
    next is read).

    Arrow's own streaming reader keeps much of the memory of the blocks it has read (150 MB and
    more for a 200 MB file), and a new 4 MB bytes object per chunk makes the C allocator keep
    freed memory from then on; one reused buffer does neither. A line break inside a quoted cell
    may cut the cell in two: both halves then hold a quote that does not wrap a whole cell, which
    goes to the row reader anyway."""
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    with open_binary(path) as handle:
        if header_lines and not handle.readline().endswith(b"\n"):   # the header, or lines ended by CR alone
            raise NotFast
        held = 0
        while True:
            end = held + handle.readinto(view[held:])
            if end == held:                     # the end of the file: the last line, if any
                if bytes(view[:held]).strip():
                    yield view[:held]
                return
            cut = buffer.rfind(b"\n", 0, end) + 1
            if not cut:          # no line break in a whole chunk (lines ended by CR alone): the row reader
                raise NotFast
            if cut > 64 or bytes(view[:cut]).strip():
                yield view[:cut]
            held = end - cut
            view[:held] = view[cut:end]


def _text(cells: pa.Array) -> bytes:
    """All the cells' text, end to end (the string array's data buffer over its cells)."""
    if not len(cells):
        return b""
    offsets = np.frombuffer(cells.buffers()[1], dtype=np.int32)[cells.offset:cells.offset + len(cells) + 1]
    data = cells.buffers()[2]
    return b"" if data is None else data.to_pybytes()[offsets[0]:offsets[-1]]


def _unquoted(cells: pa.Array) -> pa.Array:
    if b'"' not in _text(cells):
        return cells
    quoted = pc.match_substring(cells, '"', memory_pool=POOL)
    wrapped = pc.match_substring_regex(cells, r'^"[^"]*"$', memory_pool=POOL)
    if pc.any(pc.and_(quoted, pc.invert(wrapped))).as_py():
        raise NotFast
    return pc.if_else(wrapped, pc.utf8_slice_codeunits(cells, 1, -1, memory_pool=POOL), cells, memory_pool=POOL)


def distinct(cells: pa.Array, convert: Callable[[str], Any]) -> tuple[np.ndarray, list]:
    """(index of each cell's value, converted distinct values): `convert` runs once per distinct
    text, and raises NotFast for a value the row reader must judge (a blank, a bad date)."""
    encoded = pc.dictionary_encode(cells, memory_pool=POOL)
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    return indices, [convert(text) for text in encoded.dictionary.to_pylist()]


class Known:
    """The texts a file's blocks have coded so far, with their sink codes, also as an Arrow array,
    so that a block holding only known texts is coded by one lookup in C (`pc.index_in`)."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self._texts: pa.Array | None = None
        self._table = np.zeros(0, dtype=np.int32)

    def lookup(self, cells: pa.Array) -> np.ndarray | None:
        """The codes of every cell, or None when a cell holds a text not seen yet."""
        if self._texts is None or len(self._texts) != len(self.codes):
            if not self.codes:
                return None
            self._texts = pa.array(list(self.codes), type=pa.string())
            self._table = np.fromiter(self.codes.values(), dtype=np.int32, count=len(self.codes))
        at = pc.index_in(cells, value_set=self._texts, memory_pool=POOL)
        if at.null_count:
            return None
        return self._table[at.to_numpy(zero_copy_only=False)]


def codes(sink: Sink, kind: str, cells: pa.Array, convert: Callable[[str], Any],
          known: Known | None = None) -> np.ndarray:
    """The sink's code (user or split) of each cell, converting each distinct text once (once a
    file when the caller keeps `known`, the codes of the texts already seen)."""
    known = Known() if known is None else known
    coded = known.lookup(cells)
    if coded is not None:
        return coded
    encoded = pc.dictionary_encode(cells, memory_pool=POOL)
    table = np.empty(len(encoded.dictionary), dtype=np.int32)
    for index, text in enumerate(encoded.dictionary.to_pylist()):
        code = known.codes.get(text)
        if code is None:
            code = known.codes[text] = sink.code_of(kind, convert(text))
        table[index] = code
    indices = encoded.indices.to_numpy(zero_copy_only=False)
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
    if len(cells) and pc.min(pc.binary_length(cells)).as_py() == 0:
        cells = pc.if_else(pc.equal(cells, ""), "0", cells, memory_pool=POOL)
    try:
        values = pc.cast(cells, pa.uint64(), memory_pool=POOL).to_numpy(zero_copy_only=False)
    except pa.ArrowException:
        raise NotFast from None
    if len(values) and values.max() > MAX_COUNT:
        raise NotFast
    return values.astype(np.float64)


def _by_distinct(cells: pa.Array, convert: Callable[[Path, int, str, str], float]) -> np.ndarray | None:
    """Each cell converted by the row reader's own helper, run once per distinct text; None when
    the texts hardly repeat (then whole-column arithmetic is faster)."""
    encoded = pc.dictionary_encode(cells, memory_pool=POOL)
    if len(encoded.dictionary) > len(cells) // 4 + 64:
        return None
    run = checked(lambda text: convert(Path(), 0, text, ""))   # no place: a refusal goes to the row reader
    values = np.array([run(text) for text in encoded.dictionary.to_pylist()], dtype=np.float64)
    return values[encoded.indices.to_numpy(zero_copy_only=False)]


def _digits_only(cells: pa.Array) -> bool:
    """Every cell is ASCII digits 0-9 or blank (one pass over the text: no per-cell work)."""
    text = _text(cells)
    return not text or text.isdigit()


def counts(cells: pa.Array) -> np.ndarray:
    """A column of counts as `csv_count` reads each cell (blank is 0)."""
    if _digits_only(cells):
        return _wholes(cells)
    values = _by_distinct(cells, csv_count)
    if values is not None:
        return values
    parts = pc.extract_regex(cells, _COUNT_CELL, memory_pool=POOL)
    if parts.null_count:
        raise NotFast
    return _wholes(pc.struct_field(parts, "whole"))


def amounts(cells: pa.Array) -> np.ndarray:
    """A column of consumption amounts as `csv_amount` reads each cell: the whole part as a
    count plus the fraction, each distinct fraction converted by Python as the row reader does."""
    if _digits_only(cells):
        return _wholes(cells)
    values = _by_distinct(cells, csv_amount)
    if values is not None:
        return values
    parts = pc.extract_regex(cells, _AMOUNT_CELL, memory_pool=POOL)
    if parts.null_count:
        raise NotFast
    indices, fractions = distinct(pc.struct_field(parts, "fraction"), lambda text: float("0." + (text or "0")))
    return _wholes(pc.struct_field(parts, "whole")) + np.array(fractions, dtype=np.float64)[indices]
