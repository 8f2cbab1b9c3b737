"""NDJSON exports read a chunk at a time, whole columns at once (pyarrow's JSON parser on 4 MB
chunks, on every core, told the few fields a reader needs), so a 200 MB GitHub Copilot report is
read at the speed of the parser, not of `json.loads` and a Python loop per record.

As with the CSV readers (datasets/importers/fastcsv.py), the fast path only takes what it can
check exactly as the record-by-record reader does, and raises `NotFast` for anything else; the
reader then reads the file again record by record, which names the file and line of a problem.
Arrow's parser accepts a few things `json.loads` on each line refuses, so a chunk goes the slow
way when it holds any of them:

- two objects on one line, or one object over several lines (the parser does not care where
  lines end): every line must be "{...}" and the chunk's row count must equal its line count, so
  a blank line, or a line with space before or after its record, goes too;
- a line break that is a carriage return alone (Python reads it as a line end);
- NaN or Infinity anywhere (Arrow skips them in fields it ignores; the line reader refuses them);
- bytes that are not ASCII (invalid UTF-8 in an ignored field, a byte-order mark inside the file);
- a line with so many brackets that it could nest deeper than Python's parser goes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from datasets.importers.base import MAX_COUNT
from datasets.importers.fastcsv import BLOCK_BYTES, POOL, NotFast, line_chunks

DEEP_LINE_BRACKETS = 600   # fewer brackets on a line than this and it nests less deep than Python's parser can go (about 1,000 levels, less the caller's stack)


def batches(path: Path, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The file's records, `schema`'s fields only (others are parsed and dropped), a chunk at a time."""
    options = {
        "read_options": pajson.ReadOptions(block_size=BLOCK_BYTES, use_threads=True),
        "parse_options": pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        "memory_pool": POOL,
    }
    try:
        for chunk in line_chunks(path, header_lines=0):
            lines = _checked_lines(chunk)
            table = pajson.read_json(pa.BufferReader(chunk), **options)
            if table.num_rows != lines:
                raise NotFast
            yield from table.to_batches()
    except (pa.ArrowException, OSError, EOFError, ValueError) as exc:
        raise NotFast from exc
    finally:
        POOL.release_unused()


def _checked_lines(chunk: memoryview) -> int:
    """The chunk's number of lines, once it is known to hold nothing only the line reader judges."""
    text = chunk.tobytes()
    if not text.isascii():
        raise NotFast
    # a byte search (memchr) first: most exports hold no capital N or I at all
    if (b"N" in text and b"NaN" in text) or (b"I" in text and b"Infinity" in text):
        raise NotFast
    if b"\r" in text and text.count(b"\r") != text.count(b"\r\n"):
        raise NotFast
    codes = np.frombuffer(text, dtype=np.uint8)
    breaks = np.flatnonzero(codes == ord("\n"))
    brackets = np.flatnonzero((codes == ord("[")) | (codes == ord("{")))
    ends = np.concatenate(([0], breaks + 1, [len(codes)]))
    if len(brackets) and np.diff(np.searchsorted(brackets, ends)).max() >= DEEP_LINE_BRACKETS:
        raise NotFast
    # Every line is "{...}" (a CR before its break allowed). Then no object can run on into the next
    # line (after a closing brace an open object needs "," or "}", never "{"), so each line holds
    # at least one whole object, and the row count equal to the line count means exactly one: a
    # blank line, or a record over two lines, can no longer make up for two records on one line.
    starts, stops = ends[:-1], np.concatenate((breaks, [len(codes)]))
    if text.endswith(b"\n"):             # no line after the final break
        starts, stops = starts[:-1], stops[:-1]
    last = stops - 1
    last = np.where((last > starts) & (codes[np.maximum(last, 0)] == ord("\r")), last - 1, last)
    if np.any(last <= starts) or np.any(codes[starts] != ord("{")) or np.any(codes[last] != ord("}")):
        raise NotFast
    return len(starts)


def field(batch: pa.RecordBatch | pa.StructArray, name: str) -> pa.Array:
    """A field of a batch, or of a struct column with the struct's own nulls carried into it."""
    if isinstance(batch, pa.RecordBatch):
        return batch.column(name)
    return batch.flatten()[batch.type.get_field_index(name)]


def counts(values: pa.Array, *, optional: bool = False) -> np.ndarray:
    """Counts as `count_of` takes them: whole, non-negative, at most MAX_COUNT; a null is NaN when
    the count is optional (and sends a required one to the line reader, which names it)."""
    if values.null_count and not optional:
        raise NotFast
    numbers = values.to_numpy(zero_copy_only=False).astype(np.float64)   # nulls become NaN
    present = numbers[~np.isnan(numbers)]
    if len(present) and (present.min() < 0 or present.max() > MAX_COUNT):
        raise NotFast
    return numbers


def amounts(values: pa.Array) -> np.ndarray:
    """Consumption amounts as `amount_of` takes them: finite, non-negative, at most MAX_COUNT; null is NaN."""
    numbers = values.to_numpy(zero_copy_only=False).astype(np.float64)
    present = numbers[~np.isnan(numbers)]
    if len(present) and not (np.isfinite(present).all() and present.min() >= 0 and present.max() <= MAX_COUNT):
        raise NotFast
    return numbers


def summed_where(items: pa.ListArray, value: str, key: str, wanted: str, rows: int) -> np.ndarray:
    """Per row, the sum of `value` over the row's list items whose `key` is `wanted` (0 when none),
    added in the items' order as Python's sum() would. An item that is wanted but has no value
    goes to the line reader (absent is 0 there, null an error, and Arrow sees both as null)."""
    flat = items.flatten()
    parents = pc.list_parent_indices(items).to_numpy(zero_copy_only=False)
    chosen = pc.fill_null(pc.equal(field(flat, key), wanted), False).to_numpy(zero_copy_only=False)
    numbers = counts(field(flat, value), optional=True)[chosen]
    if np.isnan(numbers).any():
        raise NotFast
    return np.bincount(parents[chosen], weights=numbers, minlength=rows).astype(np.float64)
