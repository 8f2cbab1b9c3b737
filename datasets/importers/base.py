"""What every vendor reader shares: the tidy table, safe file reading, strict counts and dates,
the sink that dedupes records by their natural key, and the `Reader` interface itself.

A reader streams a file's records into a `Sink` (NDJSON and CSV line by line, JSON documents item
by item), so memory follows the number of user-days, not the size of the file.
"""


from __future__ import annotations

from abc import ABC, abstractmethod

import csv
import gzip
import itertools
import json
import math
import re
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from datasets.errors import UserError

TIDY_COLUMNS = ["user", "day", "source", "interactions", "acceptances", "tokens_in", "tokens_out", "lines_added"]
COUNT_COLUMNS = TIDY_COLUMNS[3:]
EXPORT_SUFFIXES = (".ndjson", ".jsonl", ".json", ".csv")   # each also read gzipped (".ndjson.gz")
UNATTRIBUTED = "(unattributed)"
MAX_COUNT = 1e15       # no day of one person's use comes near this; larger is a corrupt file
CSV_COUNT = re.compile(r"[0-9]+(?:\.0*)?")   # ASCII digits only: no "1_000", no other scripts

class ExportFormatError(UserError):
    """A file is not a readable export of the expected shape; the message names file and place."""


class UnknownExportError(ExportFormatError):
    """A well-formed file that is none of the known exports (e.g. a company folder's manifest)."""


# ---------------------------------------------------------------------------------------------
# Reading helpers

KIND_OPTION = "--kind"  # the CLI option (keyword `kind=` in Python)
CSV_DELIMITERS = ",;\t|"
FIRST_DAY = date(1990, 1, 1)  # no AI-usage export predates this; a Unix time outside is a wrong unit
LAST_DAY = date(2200, 12, 31)


def check_file(path: Path) -> None:
    if not path.exists():
        raise ExportFormatError(f"{path}: no such file")
    if path.is_dir():
        raise ExportFormatError(f"{path}: is a folder, expected an export file")
    if not path.is_file():   # a FIFO or a device would block or never end
        raise ExportFormatError(f"{path}: is not a regular file (a pipe or a device?); save the export "
                                "to a file first")


def gzipped(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


def export_suffix(path: Path) -> str:
    """The export's own suffix, looking through a final ".gz" (usage.ndjson.gz -> .ndjson)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def open_binary(path: Path):
    return gzip.open(path, "rb") if gzipped(path) else path.open("rb")


def open_text(path: Path):
    check_file(path)
    try:
        if gzipped(path):
            return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
        return path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ExportFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line, counting only real line breaks, streamed."""
    number = 0
    try:
        with open_text(path) as handle:
            for number, line in enumerate(handle, start=1):
                yield number, line
    except UnicodeDecodeError as exc:
        raise ExportFormatError(f"{path}: line {number + 1}: not UTF-8 text (byte {exc.start} of the line)") from None
    except (OSError, EOFError) as exc:      # gzip: a truncated or corrupt archive
        raise ExportFormatError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None


def read_head(path: Path, size: int = 64 * 1024) -> str:
    """The start of the file, to tell its kind and shape; an empty file is an error."""
    check_file(path)
    try:
        with open_binary(path) as handle:
            raw = handle.read(size)
    except (OSError, EOFError) as exc:
        raise ExportFormatError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    text = raw.decode("utf-8-sig", errors="ignore")
    if not text.strip() and len(raw) < size:
        raise ExportFormatError(f"{path}: the file is empty")
    return text


def read_text(path: Path) -> str:
    """The whole file (for JSON documents, which cannot be streamed line by line)."""
    read_head(path)
    try:
        with open_binary(path) as handle:
            return handle.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExportFormatError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except (OSError, EOFError) as exc:
        raise ExportFormatError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(text: str) -> Any:
    """JSON without NaN/Infinity literals; numbers too large for a float (1e400) stay infinite,
    and are refused as counts later."""
    return json.loads(text, parse_constant=_reject_constant)


def load_json(path: Path, text: str | None = None) -> Any:
    """Parse a whole JSON document, pointing at the line of a syntax error."""
    text = read_text(path) if text is None else text
    try:
        return parse_json(text)
    except json.JSONDecodeError as exc:
        raise ExportFormatError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except (ValueError, RecursionError) as exc:
        raise ExportFormatError(f"{path}: not valid JSON ({exc})") from None


def ndjson_records(path: Path) -> Iterator[tuple[str, dict]]:
    """("line N", object) for every non-blank line of an NDJSON file, streamed."""
    for number, line in text_lines(path):
        if not line.strip():
            continue
        try:
            record = parse_json(line)
        except json.JSONDecodeError as exc:
            raise ExportFormatError(f"{path}: line {number}: not valid JSON ({exc.msg})") from None
        except (ValueError, RecursionError) as exc:
            raise ExportFormatError(f"{path}: line {number}: not valid JSON ({exc})") from None
        if not isinstance(record, dict):
            raise ExportFormatError(f"{path}: line {number}: expected a JSON object, got {type(record).__name__}")
        yield f"line {number}", record


def first_line_is_object(text: str) -> bool:
    """NDJSON: the first non-blank line is a whole JSON object (a pretty-printed document's is "{")."""
    line = text.lstrip().split("\n", 1)[0]
    try:
        return isinstance(parse_json(line), dict)
    except (ValueError, RecursionError):
        return False


def ndjson_head(head: str) -> bool:
    """Whether a file starting with `head` is read as NDJSON (one object a line), not as one document."""
    return head.lstrip()[:1] == "{" and looks_like_ndjson(head)


def looks_like_ndjson(text: str) -> bool:
    """The first line is an object, or is broken while the next line is a whole object on its own
    (so the first bad line is reported, not a confusing error further down the file)."""
    if first_line_is_object(text):
        return True
    lines = [line for line in text.splitlines() if line.strip()][:2]
    if len(lines) == 2 and lines[0].lstrip().startswith("{") and lines[0].rstrip() != "{":
        if not first_line_is_object(lines[1]):
            return False
        try:  # a small document laid out with one object per line is still one document
            parse_json(text)
        except (ValueError, RecursionError):
            return True
    return False


def json_records(path: Path, pick: Callable[[Any], list | None], shape: str) -> Iterator[tuple[str, dict]]:
    """Records of a JSON document (`pick` finds the list in it) or of an NDJSON file, streamed."""
    head = read_head(path)
    if ndjson_head(head):
        yield from ndjson_records(path)
        return
    loaded = load_json(path)
    items = pick(loaded)
    if items is None and isinstance(loaded, dict):
        items = [loaded]
    if not isinstance(items, list):
        raise ExportFormatError(f"{path}: expected a list of records (not a {shape})")
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ExportFormatError(f"{path}: record {number}: expected a JSON object (not a {shape})")
        yield f"record {number}", item


def require(path: Path, where: str, record: dict, fields: Iterable[str], shape: str) -> None:
    """Fail with the first missing field, naming where it is missing and what shape was expected."""
    for field in fields:
        if field not in record:
            raise ExportFormatError(f"{path}: {where}: missing field {field!r} (not a {shape})")


def count_of(path: Path, where: str, value: Any, field: str, *, optional: bool = False) -> float:
    """A count from the file: a finite, non-negative number. None is missing: NaN when optional."""
    if value is None:
        if optional:
            return np.nan
        raise ExportFormatError(f"{path}: {where}: field {field!r} is null, expected a number")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExportFormatError(f"{path}: {where}: field {field!r} is not a number ({shown(value)})")
    try:
        number = float(value)
    except OverflowError:       # an integer with hundreds of digits
        number = math.inf
    if not math.isfinite(number) or number > MAX_COUNT:
        raise ExportFormatError(f"{path}: {where}: field {field!r} is not a finite number small enough to "
                                f"be a count ({shown(value)})")
    if number < 0:
        raise ExportFormatError(f"{path}: {where}: field {field!r} is negative ({shown(value)})")
    if number != int(number):
        raise ExportFormatError(f"{path}: {where}: field {field!r} is not a whole count ({shown(value)})")
    return number


def shown(value: Any) -> str:
    """A value for a message, cut short (a 400-digit number must not fill the screen)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


_IDENTITIES: dict[str, str] = {}
# how pandas, Python and SQL tools write a missing value into a CSV cell: never a person there
MISSING_TEXTS = frozenset({"nan", "NaN", "None", "null", "NULL", "<NA>"})


def identity(text: str) -> str:
    """One spelling per person: Unicode NFC, zero-width characters removed, outer space stripped,
    so an id typed or exported two ways (NFD "é", a stray zero-width space) is one user."""
    known = _IDENTITIES.get(text)
    if known is None:
        known = unicodedata.normalize("NFC", text).translate(ZERO_WIDTH).strip()
        if len(_IDENTITIES) < 200_000:
            _IDENTITIES[text] = known
    return known


def csv_identity(text: str) -> str:
    """`identity` of a CSV cell, where a missing value is written as text ('nan', 'None', 'null',
    '<NA>': what a file that went through pandas or a database dump holds): "" for those. JSON has
    its own null, so there such a text is a login like any other (a person may be called Nan)."""
    known = identity(text)
    return "" if known in MISSING_TEXTS else known


def no_user(path: Path, line: int, column: str) -> ExportFormatError:
    """The error for a CSV row whose user cell is blank or a missing value (`csv_identity`)."""
    return ExportFormatError(f"{path}: line {line}: column {column!r} has no user (blank, or a missing "
                             "value such as 'nan')")


def text_of(path: Path, where: str, value: Any, field: str) -> str:
    """A required identity (login, email): a non-empty string, never null turned into "None"."""
    text = identity(str(value)) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text:
        raise ExportFormatError(f"{path}: {where}: field {field!r} must be a non-empty text, got {shown(value)}")
    return text


class Dates:
    """Dates in one vendor's documented formats, parsed once per distinct text."""

    def __init__(self, formats: tuple[str, ...], described: str, timestamps: bool = False):
        self.formats = formats
        self.described = described
        self.timestamps = timestamps
        self.cache: dict[str, date] = {}

    def parse(self, path: Path, where: str, value: Any, field: str, noun: str = "field") -> date:
        if isinstance(value, str):
            known = self.cache.get(value)
            if known is not None:
                return known
            text = value.strip()
            for fmt in self.formats:
                try:
                    day = datetime.strptime(text, fmt).date()
                    break
                except ValueError:
                    continue
            else:
                day = self._timestamp(text) if self.timestamps else None
            if day is not None and FIRST_DAY <= day <= LAST_DAY:
                self.cache[value] = day
                return day
        raise ExportFormatError(f"{path}: {where}: {noun} {field!r} is not a date in {self.described} ({value!r})")

    @staticmethod
    def _timestamp(text: str) -> date | None:
        try:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(timezone.utc)
        return stamp.date()


# The narrowest integer type that holds a dictionary's codes, widened as the dictionary grows.
_CODE_TYPES = {"b": np.int8, "h": np.int16, "i": np.int32}
_CODE_LIMITS = {"b": 2**7 - 1, "h": 2**15 - 1, "i": 2**31 - 1}
_VALUE_TYPES = {**_CODE_TYPES, "f": np.float32, "d": np.float64}
_CHUNK = 1 << 20      # records a page holds, and handled at a time where a temporary would be large
_PACKED_BITS = 63     # a sort key of user, day, source, split and record index this wide fits one int64
_TAIL = 4096          # records `add` collects before they go into a page
_FLOAT32 = array("f", [0.0])


class _Column:
    """One value per record, in pages of _CHUNK records that never move once allocated.

    A growing contiguous array is copied to ever larger blocks as it grows, and the blocks it
    leaves behind stay with the process (tens of MB for a big export); pages are written once.
    Single records go into `tail` (a plain array, cheap to append to), which every read and
    `extend` first moves into the pages; `Sink.add` keeps it short."""

    def __init__(self, typecode: str, size: int = 0, fill: float = 0) -> None:
        self.typecode = typecode
        self.dtype = _VALUE_TYPES[typecode]
        self.pages: list[np.ndarray] = []
        self.stored = 0
        self.tail = array(typecode)
        if size:
            self.extend(np.full(size, fill, dtype=self.dtype))

    def __len__(self) -> int:
        return self.stored + len(self.tail)

    def extend(self, values: np.ndarray) -> None:
        self._flush()
        self._store(np.asarray(values, dtype=self.dtype))

    def _flush(self) -> None:
        if self.tail:
            values, self.tail = np.frombuffer(self.tail, dtype=self.dtype).copy(), array(self.typecode)
            self._store(values)

    def _store(self, values: np.ndarray) -> None:
        done = 0
        while done < len(values):
            at = self.stored % _CHUNK
            if at == 0:
                self.pages.append(np.empty(_CHUNK, dtype=self.dtype))   # not in memory until written
            step = min(_CHUNK - at, len(values) - done)
            self.pages[-1][at:at + step] = values[done:done + step]
            self.stored += step
            done += step

    def truncate(self, size: int) -> None:
        self._flush()
        self.stored = min(size, self.stored)
        del self.pages[-(-self.stored // _CHUNK):]

    def chunk(self, start: int, stop: int) -> np.ndarray:
        """Records start .. stop, `start` a multiple of _CHUNK and at most _CHUNK of them (no copy)."""
        self._flush()
        return self.pages[start // _CHUNK][:stop - start]

    def chunks(self) -> Iterator[np.ndarray]:
        for start in range(0, len(self), _CHUNK):
            yield self.chunk(start, min(start + _CHUNK, len(self)))

    def values(self) -> np.ndarray:
        """All the values as one array (a copy)."""
        self._flush()
        if not self.pages:
            return np.zeros(0, dtype=self.dtype)
        return np.concatenate([*self.pages[:-1], self.pages[-1][:self.stored - _CHUNK * (len(self.pages) - 1)]])

    def drain(self) -> Iterator[np.ndarray]:
        """The values a page at a time, each page freed once the next is asked for (the column is
        left empty): what is copied elsewhere never sits in memory twice."""
        self._flush()
        pages, stored = self.pages, self.stored
        self.pages, self.stored = [], 0
        for start in range(0, stored, _CHUNK):
            page, pages[start // _CHUNK] = pages[start // _CHUNK], None
            yield page[:min(_CHUNK, stored - start)]
            del page

    def drained(self) -> np.ndarray:
        """All the values as one array, the pages freed as they are copied."""
        values = np.empty(len(self), dtype=self.dtype)
        done = 0
        for page in self.drain():
            values[done:done + len(page)] = page
            done += len(page)
        return values

    def retyped(self, typecode: str) -> "_Column":
        wider = _Column(typecode)
        for values in self.chunks():
            wider.extend(values)
        return wider


def _widened(codes: _Column, largest: int) -> _Column:
    """`codes`, copied into a wider integer type when `largest` does not fit its own."""
    if largest <= _CODE_LIMITS[codes.typecode]:
        return codes
    return codes.retyped(next(kind for kind, limit in _CODE_LIMITS.items() if largest <= limit))


def _narrow_int(count: int) -> type:
    """The smallest signed integer type for codes 0 .. count - 1 (pandas' own choice for categories)."""
    return next(_CODE_TYPES[kind] for kind, limit in _CODE_LIMITS.items() if count - 1 <= limit)


def _exact_in_float32(values: np.ndarray) -> bool:
    """Whether every value survives float32 unchanged (NaN counts as surviving)."""
    narrow = values.astype(np.float32)
    return bool(np.all((narrow == values) | np.isnan(values)))


def _bits(count: int) -> int:
    """Bits needed for the codes 0 .. count - 1."""
    return max(count - 1, 0).bit_length()


def _values_array(before: int) -> _Column:
    """A new column of per-record values, NaN for the `before` records that did not have it."""
    return _Column("f", before, math.nan)


def _append_values(column: _Column, values: np.ndarray) -> _Column:
    """`column` with float64 `values` appended: kept float32 while every value is exact in float32,
    widened to float64 (once, for good) at the first value that is not."""
    if column.typecode == "f" and not _exact_in_float32(values):
        column = column.retyped("d")
    column.extend(values)
    return column


_CODE_TABLES = {"user": "users", "source": "sources", "split": "splits"}   # Sink.code_of's kinds


class Sink:
    """Records keyed by the vendor's natural key — user, day, source and what the vendor splits a
    day by — where a key seen again keeps the later record and counts as a duplicate (the same
    export given twice, overlapping exports).

    Kept compact, since a big export has millions of records: a record is a user code (as narrow
    an integer as the number of users allows), a day ordinal and its values (float32 while every
    value so far is exact in float32, float64 from the first that is not: nothing is rounded);
    sources and files are runs of records, splits are stored only once a record has one. The
    duplicates are found once, by sorting, when the table is built."""

    def __init__(self) -> None:
        self.users: dict[str, int] = {}
        self.sources: dict[str, int] = {}
        self.splits: dict[tuple, int] = {(): 0}
        self.files: list[str] = []
        self.user_of = _Column("b")
        self.day_of = _Column("i")                     # date ordinal
        self.split_of: _Column | None = None           # None while no record has a split
        self.runs: list[tuple[int, int, int]] = []     # (first record, source code, file index)
        # None: no record so far has this count (NaN throughout), so a CSV that has no tokens keeps
        # no array of NaN per record
        self.counts: list[_Column | None] = [None for _ in COUNT_COLUMNS]
        self.extra_values: dict[str, _Column] = {}          # a vendor column -> value per record (NaN if none)
        self.extra_aggregates: dict[str, str] = {}        # column -> "sum" or "max", from the readers
        self.duplicates = 0
        self.conflicts: list[str] = []   # duplicates whose counts differ: which record won, and why
        self.records = 0
        self.current = ""                # the file being read, for the conflict messages
        self.coverage: dict[str, list[tuple[str, tuple, int, int]]] = {}  # see the OpenAI reader
        self.plain: dict[tuple, Any] = {}             # rows of a report with its own table (add_row)
        self._run_source: str | None = None          # the source and file of the last record added
        self._run_file: str | None = None

    @staticmethod
    def _code(codes: dict, value: Any) -> int:
        code = codes.get(value)
        if code is None:
            code = codes[value] = len(codes)
        return code

    def _start(self, source: str) -> int:
        """The index the next records get; a new run when the source or the file changes."""
        if not self.files or self.files[-1] != self.current:
            self.files.append(self.current)
        run = (self._code(self.sources, source), len(self.files) - 1)
        start = len(self.day_of)
        if not self.runs or self.runs[-1][1:] != run:
            self.runs.append((start, *run))
        self._run_source, self._run_file = source, self.current
        return start

    def add(self, user: str, day: date, source: str, counts: tuple[float, ...],
            extra: dict[str, float] | None = None, split: tuple = ()) -> None:
        """One record. `split` is what else the vendor's key holds (an OpenAI bucket and grouping, a
        Claude terminal, a Kiro client); `extra` a vendor's own columns (see Reader.extra).

        Called once per record of a JSON export, so written for speed: values go straight into
        the columns' tails, which `_Column` moves into pages."""
        self.records += 1
        if source != self._run_source or self.current != self._run_file:
            self._start(source)
        code = self.users.get(user)
        if code is None:
            code = self.users[user] = len(self.users)
            if code > _CODE_LIMITS[self.user_of.typecode]:
                self.user_of = _widened(self.user_of, code)
        self.user_of.tail.append(code)
        day_of = self.day_of
        day_of.tail.append(day.toordinal())
        split_code = self.splits.get(split)
        if split_code is None:
            split_code = self.splits[split] = len(self.splits)
        if split_code and self.split_of is None:
            self.split_of = _Column("b", len(day_of) - 1)
        if self.split_of is not None:
            if split_code > _CODE_LIMITS[self.split_of.typecode]:
                self.split_of = _widened(self.split_of, split_code)
            self.split_of.tail.append(split_code)
        columns = self.counts
        for position, value in enumerate(counts):
            column = columns[position]
            if column is None:           # a count no record has held so far
                if value != value:
                    continue
                column = columns[position] = _values_array(len(day_of) - 1)
            if column.typecode == "f" and value == value:
                _FLOAT32[0] = value
                if _FLOAT32[0] != value:                  # float32 would round it: float64 from now on
                    column = columns[position] = column.retyped("d")
            column.tail.append(value)
        extras = self.extra_values
        if extras or extra:
            extra = extra or {}
            for name, column in extras.items():
                if name not in extra:
                    column.tail.append(math.nan)
            for name, value in extra.items():
                column = extras.get(name)
                if column is None:
                    column = extras[name] = _values_array(len(day_of) - 1)
                if column.typecode == "f" and value == value:
                    _FLOAT32[0] = value
                    if _FLOAT32[0] != value:
                        column = extras[name] = column.retyped("d")
                column.tail.append(value)
        if len(day_of.tail) >= _TAIL:
            self._flush()

    def _flush(self) -> None:
        """Move every column's tail into its pages (keeps the tails small)."""
        for column in (self.user_of, self.day_of, self.split_of, *self.counts, *self.extra_values.values()):
            if column is not None:
                column._flush()

    def code_of(self, kind: str, value: Any) -> int:
        """The sink's code for a user, a source or a split (a reader adding a block codes its
        distinct values once, then the records by those codes)."""
        return self._code(getattr(self, _CODE_TABLES[kind]), value)

    def add_block(self, users: np.ndarray, days: np.ndarray, source: str, counts: list[np.ndarray | None],
                  extra: dict[str, np.ndarray] | None = None, splits: np.ndarray | None = None) -> None:
        """Many records at once, as `add` would take them one by one: user and split codes (from
        `code_of`), day ordinals, and per count a column of values (None: NaN throughout)."""
        size = len(users)
        if not size:
            return
        self.records += size
        before = self._start(source)
        self.user_of = _widened(self.user_of, len(self.users) - 1)
        self.user_of.extend(users)
        self.day_of.extend(days)
        if splits is not None and self.split_of is None and np.any(splits):
            self.split_of = _Column("b", before)
        if self.split_of is not None:
            self.split_of = _widened(self.split_of, len(self.splits) - 1)
            self.split_of.extend(np.zeros(size) if splits is None else splits)
        for position, values in enumerate(counts):
            column = self.counts[position]
            if values is None:
                if column is not None:
                    self.counts[position] = _append_values(column, np.full(size, np.nan))
                continue
            self.counts[position] = _append_values(_values_array(before) if column is None else column, values)
        extra = extra or {}
        for name in list(self.extra_values):
            if name not in extra:
                self.extra_values[name] = _append_values(self.extra_values[name], np.full(size, np.nan))
        for name, given in extra.items():
            column = self.extra_values.get(name)
            self.extra_values[name] = _append_values(_values_array(before) if column is None else column, given)

    def mark(self) -> tuple:
        """Where the sink stands, to go back to it (`rollback`) when a fast reading of a file gives up."""
        return (len(self.day_of), self.records, len(self.files), len(self.runs), self.split_of is None,
                [column is not None for column in self.counts], set(self.extra_values))

    def rollback(self, mark: tuple) -> None:
        """Forget every record added since `mark`."""
        size, records, files, runs, no_splits, had_counts, had_extra = mark
        self._run_source = self._run_file = None
        self.user_of.truncate(size)
        self.day_of.truncate(size)
        if no_splits:
            self.split_of = None
        elif self.split_of is not None:
            self.split_of.truncate(size)
        del self.runs[runs:]
        self.records = records
        del self.files[files:]
        for index, had in enumerate(had_counts):
            if not had:
                self.counts[index] = None
            elif self.counts[index] is not None:
                self.counts[index].truncate(size)
        for name in list(self.extra_values):
            if name in had_extra:
                self.extra_values[name].truncate(size)
            else:
                del self.extra_values[name]

    def add_row(self, natural: tuple, row: Any) -> None:
        """A record of a report with a table of its own (teams, repositories): the later one of a key wins."""
        self.records += 1
        if natural in self.plain:
            self.duplicates += 1
        self.plain[natural] = row

    def plain_rows(self) -> list:
        rows = list(self.plain.values())
        self.plain.clear()
        return rows

    @staticmethod
    def _ranks(codes: dict) -> tuple[np.ndarray, np.ndarray]:
        """(names in name order, each code's rank in that order), to sort by name while holding codes."""
        names = np.array(list(codes), dtype=object)
        order = np.argsort(names, kind="stable")
        rank = np.empty(len(names), dtype=np.int32)
        rank[order] = np.arange(len(names), dtype=np.int32)
        return names[order], rank

    def _run_of(self, records: np.ndarray) -> np.ndarray:
        """The run (source and file) each record index belongs to."""
        starts = np.array([run[0] for run in self.runs], dtype=np.int64)
        return np.searchsorted(starts, records, side="right") - 1

    def _sources(self, source_rank: np.ndarray, size: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The source rank of records start .. stop (of `size` in all), from the runs."""
        stop = size if stop is None else stop
        runs = np.array([(run[0], source_rank[run[1]]) for run in self.runs], dtype=np.int64)
        ends = np.r_[runs[1:, 0], size]
        lengths = np.clip(ends, start, stop) - np.clip(runs[:, 0], start, stop)
        return np.repeat(runs[:, 1], lengths)

    def _sorted(self, user_rank: np.ndarray, source_rank: np.ndarray) -> tuple:
        """The records in the table's order — by user name, day, source, split, then reading order,
        so a key's records are side by side with the latest last — as (a function giving the record
        index at sorted positions, where a natural key starts, where a user-day-source starts, a
        function giving the user code, day and source code at sorted positions). Asked for every
        position at once, `indices` may reuse the sort's memory: `fields` is then no more usable.

        The key and the record index are packed into one int64 sorted in place when they fit in
        63 bits (8 bytes a record; the sink's per-record codes are freed once packed); otherwise a
        lexsort over separate arrays."""
        size = len(self.day_of)
        first_day = min(int(days.min()) for days in self.day_of.chunks())
        last_day = max(int(days.max()) for days in self.day_of.chunks())
        widths = (_bits(len(user_rank)), _bits(last_day - first_day + 1), _bits(len(source_rank)),
                  0 if self.split_of is None else _bits(len(self.splits)), _bits(size))
        if sum(widths) > _PACKED_BITS:
            splits = None if self.split_of is None else self.split_of.values()
            return self._lexsorted(user_rank, source_rank, self.user_of.values(), self.day_of.values(), splits)
        w_user, w_day, w_source, w_split, w_index = widths
        packed = np.empty(size, dtype=np.int64)
        # each page of the sink's codes is freed once packed: the codes never sit in memory twice
        splits = itertools.repeat(None) if self.split_of is None else self.split_of.drain()
        pages = zip(range(0, size, _CHUNK), self.user_of.drain(), self.day_of.drain(), splits)
        for start, users, days, split in pages:
            stop = start + len(days)
            key = user_rank[users].astype(np.int64)
            key <<= w_day
            key |= days - first_day
            key <<= w_source
            if w_source:
                key |= self._sources(source_rank, size, start, stop)
            key <<= w_split
            if w_split:
                key |= split
            key <<= w_index
            key |= np.arange(start, stop, dtype=np.int64)
            packed[start:stop] = key
            del users, days, split, key
        del pages, splits
        self.split_of = None
        packed.sort()

        def starts(shift: int) -> np.ndarray:
            changes = np.empty(size, dtype=bool)
            changes[0] = True
            for start in range(1, size, _CHUNK):
                stop = min(start + _CHUNK, size)
                changes[start:stop] = (packed[start:stop] >> shift) != (packed[start - 1:stop - 1] >> shift)
            return changes

        new_key, new_group = starts(w_index), starts(w_index + w_split)
        shift = w_index + w_split

        def fields(positions: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            count = size if positions is None else len(positions)
            user = np.empty(count, dtype=_narrow_int(len(user_rank)))
            day = np.empty(count, dtype=np.int64)
            source = np.empty(count, dtype=_narrow_int(len(source_rank)))
            for start in range(0, count, _CHUNK):     # a chunk at a time: no int64 temporaries per row
                stop = min(start + _CHUNK, count)
                keys = packed[start:stop] if positions is None else packed[positions[start:stop]]
                keys = keys >> shift
                source[start:stop] = keys & ((1 << w_source) - 1)
                keys >>= w_source
                day[start:stop] = _nanoseconds((keys & ((1 << w_day) - 1)) + first_day)
                user[start:stop] = keys >> w_day
            return user, day, source

        def indices(positions: np.ndarray | None) -> np.ndarray:
            if positions is not None:
                return packed[positions] & ((1 << w_index) - 1)
            packed[:] &= (1 << w_index) - 1     # in place: the keys become the record indices (fields no more)
            return packed

        return indices, new_key, new_group, fields

    def _lexsorted(self, user_rank, source_rank, users, days, splits) -> tuple:
        """As `_sorted`, for keys too wide to pack: a lexsort over one array per key part."""
        size = len(days)
        user = user_rank[users]
        source = self._sources(source_rank, size)
        split = np.zeros(size, dtype=np.int8) if splits is None else splits
        order = np.lexsort((np.arange(size), split, source, days, user))
        user, day, source, split = user[order], days[order], source[order], split[order]
        new_group = np.r_[True, (user[1:] != user[:-1]) | (day[1:] != day[:-1]) | (source[1:] != source[:-1])]
        new_key = new_group | np.r_[True, split[1:] != split[:-1]]

        def fields(positions: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            if positions is None:
                return user, _nanoseconds(day), source
            return user[positions], _nanoseconds(day[positions]), source[positions]

        def indices(positions: np.ndarray | None) -> np.ndarray:
            return order if positions is None else order[positions]

        return indices, new_key, new_group, fields

    def _conflicts(self, indices, replaced: np.ndarray, fields, users, sources) -> list[str]:
        """The duplicates whose counts differ from the record they replace, in reading order
        (`replaced`: the sorted positions whose record the next position's replaces)."""
        earlier, later = indices(replaced), indices(replaced + 1)
        differ = np.zeros(len(earlier), dtype=bool)
        for column in self.counts:
            if column is None:
                continue
            values = column.values()
            a, b = values[earlier], values[later]
            differ |= ~((a == b) | (np.isnan(a) & np.isnan(b)))
        user, day, source = fields(replaced[differ] + 1)
        files = [run[2] for run in self.runs]
        old_file = [files[run] for run in self._run_of(earlier[differ])]
        new_file = [files[run] for run in self._run_of(later[differ])]
        notes = []
        rows = zip(later[differ].tolist(), user.tolist(), day.tolist(), source.tolist(), old_file, new_file, strict=True)
        for _, u, d, s, old, new in sorted(rows):
            notes.append(f"{users[u]} on {_day_of(d)} ({sources[s]}): {self.files[old]} and "
                         f"{self.files[new]} disagree; kept {self.files[new]}, read later (files are read in "
                         "the order given, a folder's in name order)")
        return notes

    def _release(self, name: str) -> None:
        """Free the records' values of one column (the table being built holds them now)."""
        if name in COUNT_COLUMNS:
            self.counts[COUNT_COLUMNS.index(name)] = None
        else:
            self.extra_values.pop(name, None)

    def table(self) -> pd.DataFrame:
        """The tidy table: the later record of each natural key, the records of one user-day and
        source added up (sorted by user, day and source), extra columns after the tidy ones.

        Its dtypes (see TIDY_DTYPES): `user` and `source` categorical, their categories the names in
        sorted order; `day` datetime64[ns]; each count float32 when every value of the column is
        exact in float32, float64 otherwise (a count is never rounded)."""
        size = len(self.day_of)
        users, user_rank = self._ranks(self.users)
        sources, source_rank = self._ranks(self.sources)
        if not size:
            return _tidy_frame(users, sources, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
                               {name: np.zeros(0) for name in COUNT_COLUMNS})
        indices, new_key, new_group, fields = self._sorted(user_rank, source_rank)
        # the kept records (a key's last: the one read last) and where each user-day-source starts
        # among them; index arrays only where there are duplicates or several records a day
        key_starts = None if new_key.all() else np.flatnonzero(new_key)
        del new_key
        self.duplicates = 0 if key_starts is None else size - len(key_starts)
        winners = None
        if key_starts is not None:
            winners = np.r_[key_starts[1:] - 1, size - 1]
            replaced = np.setdiff1d(np.arange(size - 1), winners, assume_unique=True)
            self.conflicts = self._conflicts(indices, replaced, fields, users, sources)
            del replaced
        groups = new_group if key_starts is None else new_group[key_starts]
        group_starts = None if groups.all() else np.flatnonzero(groups).astype(np.int32 if size < 2**31 else np.int64)
        del groups, new_group
        if group_starts is None:
            user, day, source = fields(key_starts)
        else:
            user, day, source = fields(group_starts if key_starts is None else key_starts[group_starts])
        del key_starts, fields
        kept = indices(winners)      # after `fields`: may be the sort's own memory
        del winners, indices
        if kept.dtype == np.int64 and size < 2**31:
            kept = kept.astype(np.int32)     # and the sort's 8 bytes a record are freed
        extra_columns = [c for c in self.extra_aggregates if c in self.extra_values]
        combined = {}
        for name in COUNT_COLUMNS + extra_columns:
            column = (self.counts[COUNT_COLUMNS.index(name)] if name in COUNT_COLUMNS
                      else self.extra_values[name])
            if column is None:
                combined[name] = np.full(len(user), np.nan, dtype=np.float32)
                continue
            values = column.drained()[kept]       # the records' pages are freed as they are copied
            self._release(name)
            if group_starts is None:          # one record per user-day (Amazon Q, Copilot)
                combined[name] = values
                continue
            combined[name] = _combined(values, group_starts, self.extra_aggregates.get(name, "sum"))
            del values
        del kept
        tidy = _tidy_frame(users, sources, user, day, source, combined)
        tidy.attrs["duplicates"] = self.duplicates
        tidy.attrs["conflicts"] = list(self.conflicts)
        self.__init__()   # the records are in the table now: free them
        first_bad = {}   # column by column, not as one block: no copy of the table
        for index, name in enumerate(COUNT_COLUMNS):
            values = tidy[name].to_numpy()
            bad = np.flatnonzero(np.isinf(values) | (values > MAX_COUNT))
            if len(bad):
                first_bad[index] = int(bad[0])
        if first_bad:
            row, column = min((row, column) for column, row in first_bad.items())
            raise ExportFormatError(f"{tidy['user'].iloc[row]} on {tidy['day'].iloc[row]:%Y-%m-%d}: the "
                                    f"{COUNT_COLUMNS[column]} of the day's records add up to more than "
                                    "this importer can hold; the exports are corrupt or counted twice")
        return tidy


TIDY_DTYPES = {"user": "category", "day": "datetime64[ns]", "source": "category"}
"""The usage table's dtypes; each count column is float32, or float64 where a value needs it."""


def _combined(values: np.ndarray, starts: np.ndarray, how: str) -> np.ndarray:
    """Each group's values (groups start at `starts`) combined in float64: their maximum, or their
    sum with NaN only where no record of the group knows the value. Float32 when every result is
    exact in float32. A chunk of groups at a time: no float64 copy of all the records is made."""
    narrow: np.ndarray | None = np.empty(len(starts), dtype=np.float32)
    wide: np.ndarray | None = None
    step = max(1, len(starts) * _CHUNK // max(len(values), 1))
    for first in range(0, len(starts), step):
        last = min(first + step, len(starts))
        begin, end = int(starts[first]), int(starts[last]) if last < len(starts) else len(values)
        part = values[begin:end].astype(np.float64)
        at = starts[first:last] - begin
        if how == "max":
            sums = np.fmax.reduceat(part, at)
        else:
            known = ~np.isnan(part)
            part[~known] = 0.0
            sums = np.add.reduceat(part, at)
            sums[~np.logical_or.reduceat(known, at)] = np.nan
        if wide is None and _exact_in_float32(sums):
            narrow[first:last] = sums
            continue
        if wide is None:                 # the first result float32 would round: float64 from here on
            wide, narrow = narrow.astype(np.float64), None
        wide[first:last] = sums
    return narrow if wide is None else wide


_EPOCH = date(1970, 1, 1).toordinal()
_DAY_NS = 86_400 * 10**9


def _nanoseconds(ordinals: np.ndarray) -> np.ndarray:
    """Date ordinals as int64 nanoseconds since 1970 (datetime64[ns] once viewed so)."""
    result = ordinals.astype(np.int64)
    result -= _EPOCH
    result *= _DAY_NS
    return result


def _day_of(nanoseconds: int) -> date:
    return date.fromordinal(int(nanoseconds) // _DAY_NS + _EPOCH)


def _tidy_frame(users: np.ndarray, sources: np.ndarray, user: np.ndarray, day: np.ndarray, source: np.ndarray,
                counts: dict[str, np.ndarray]) -> pd.DataFrame:
    """The usage table from its parts: rank codes into the sorted names, days (int64 nanoseconds
    since 1970), count columns."""
    frame = {
        "user": _categorical(users, user),
        "day": day.view("datetime64[ns]"),
        "source": _categorical(sources, source),
    }
    frame.update((name, counts.pop(name)) for name in list(counts))
    return pd.DataFrame(frame, copy=False)    # the arrays become the columns: no second copy


def _categorical(names: np.ndarray, codes: np.ndarray) -> pd.Categorical:
    """A categorical column: one copy of each name (sorted), a small integer code per row, the
    names in pandas' string dtype. A name that is not valid Unicode (a lone surrogate, which a
    JSON escape such as \\ud800 can write) could not be written to any file: it is refused."""
    for name in names:
        if isinstance(name, str) and not name.isascii():
            try:
                name.encode("utf-8")
            except UnicodeEncodeError as error:
                raise ExportFormatError(f"the id {shown(name)} holds {name[error.start]!r}, half of a character "
                                        "(a lone surrogate): it is not text any file can hold; fix it in the "
                                        "export") from None
    return pd.Categorical.from_codes(codes.astype(_narrow_int(max(len(names), 1)), copy=False),
                                     categories=pd.Index(names, dtype="string"))


def _csv_open(path: Path, header_of: Callable[[list[str]], list[str]]):
    """(open handle, csv reader past the header, checked header); the handle is closed on errors."""
    delimiter = csv_delimiter(path)
    handle = open_text(path)
    reader = csv.reader(handle, delimiter=delimiter)
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        handle.close()
        raise ExportFormatError(f"{path}: line 1: not a readable CSV header ({exc})") from None
    if header is None or not any(cell.strip() for cell in header):
        handle.close()
        raise ExportFormatError(f"{path}: the file is empty")
    names = [cell.strip() for cell in header]
    twice = sorted({name for name in names if name and names.count(name) > 1})
    if twice:
        handle.close()
        raise ExportFormatError(f"{path}: line 1: the column(s) {', '.join(map(repr, twice))} appear more "
                                "than once; which one holds the data is ambiguous")
    try:
        header = header_of([cell.strip() for cell in header])
    except BaseException:
        handle.close()
        raise
    return handle, reader, header


def csv_delimiter(path: Path) -> str:
    """The delimiter of a CSV export, sniffed from its header line (comma when none is used)."""
    head = read_head(path)
    first_line = head.splitlines()[0] if head.splitlines() else ""
    delimiter = max(CSV_DELIMITERS, key=first_line.count)
    return delimiter if first_line.count(delimiter) else ","


def csv_header(path: Path, header_of: Callable[[list[str]], list[str]]) -> tuple[list[str], str, int]:
    """The checked header of a CSV file (as `csv_rows` reads it), its delimiter, and the line the
    data starts after (1 unless a quoted header name holds a line break)."""
    handle, reader, header = _csv_open(path, header_of)
    handle.close()
    return header, reader.dialect.delimiter, reader.line_num


def csv_rows(path: Path, shape: str, header_of: Callable[[list[str]], list[str]]
              ) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Header and (line, cells) of a CSV file, streamed; the delimiter is sniffed from the header.

    `header_of` checks the header (raising for missing columns) and may rename its columns."""
    handle, reader, header = _csv_open(path, header_of)

    def rows() -> Iterator[tuple[int, list[str]]]:
        line = 1
        try:
            with handle:
                for cells in reader:
                    line = reader.line_num
                    if not any(cell.strip() for cell in cells):
                        continue
                    if len(cells) != len(header):
                        raise ExportFormatError(f"{path}: line {line}: {len(cells)} cells, the header has "
                                                f"{len(header)} (not a {shape})")
                    yield line, cells
        except csv.Error as exc:
            raise ExportFormatError(f"{path}: line {line + 1}: not a readable CSV ({exc})") from None
        except UnicodeDecodeError as exc:
            raise ExportFormatError(f"{path}: line {line + 1}: not UTF-8 text (byte {exc.start})") from None

    return header, rows()


_CSV_COUNTS: dict[str, float] = {}    # cell text -> count, for the texts already checked (counts repeat)


def csv_count(path: Path, line: int, text: str, column: str) -> float:
    """A CSV count (blank means 0): finite and non-negative."""
    known = _CSV_COUNTS.get(text)
    if known is not None:
        return known
    stripped = text.strip()
    if not stripped:
        return 0.0
    if not CSV_COUNT.fullmatch(stripped):
        raise ExportFormatError(f"{path}: line {line}: column {column!r} is not a number written as a whole "
                                f"count in digits 0-9 ({shown(stripped)})")
    number = float(stripped)
    if not math.isfinite(number) or number > MAX_COUNT:
        raise ExportFormatError(f"{path}: line {line}: column {column!r} is not a count this importer can "
                                f"hold ({shown(stripped)})")
    if len(_CSV_COUNTS) < 100_000:
        _CSV_COUNTS[text] = number
    return number




def unix_day(path: Path, where: str, value: Any, field: str) -> tuple[int, date]:
    """A Unix time in seconds; one in milliseconds (13 digits) is recognised and converted."""
    seconds = count_of(path, where, value, field)
    if seconds != int(seconds):
        raise ExportFormatError(f"{path}: {where}: field {field!r} is not a whole Unix time ({value!r})")
    if seconds >= 1e11:  # later than the year 5000 in seconds: the API's seconds were saved as milliseconds
        seconds = seconds / 1000
    day = datetime.fromtimestamp(int(seconds), tz=timezone.utc).date() if seconds < 1e11 else None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        raise ExportFormatError(f"{path}: {where}: field {field!r} is not a Unix time in seconds or "
                                f"milliseconds between {FIRST_DAY} and {LAST_DAY} ({value!r})")
    return int(seconds), day



def flat_pages(records: Iterator[tuple[str, dict]], path: Path, shape: str,
                own_field: str) -> Iterator[tuple[str, dict]]:
    """Daily pulls appended one response page per line (or one page saved on one line): each
    page's records in turn. A line holding `own_field` is a record, not a page."""
    for where, record in records:
        if own_field not in record and isinstance(record.get("data"), list):
            for number, item in enumerate(record["data"], start=1):
                if not isinstance(item, dict):
                    raise ExportFormatError(f"{path}: {where} record {number}: expected a JSON object "
                                            f"(not a {shape})")
                yield f"{where} record {number}", item
        else:
            yield where, record


NO_COUNTS = (np.nan,) * len(COUNT_COLUMNS)

# What a column measures, so an audit can tell use from benefit (COURSE-QUALITY: never treat
# activity or acceptance as an outcome).
ACTIVITY, ACCEPTANCE, CONSUMPTION, OUTCOME_PROXIMAL = "activity", "acceptance", "consumption", "outcome-proximal"
ROLES = (ACTIVITY, ACCEPTANCE, CONSUMPTION, OUTCOME_PROXIMAL)


@dataclass(frozen=True)
class DefinitionChange:
    """A day from which a vendor counts a column differently: a series crossing it has a break."""

    since: date
    what: str
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Head:
    """The start of a file as the readers' `detect` sees it: the CSV header's names, or the first
    JSON record (a page's first item), whichever the file is."""

    text: str
    csv_names: frozenset[str] | None = None
    first: dict | None = None


class Reader(ABC):
    """One vendor report. A new vendor is a subclass in its own module plus one line in registry.py.

    `kind` names it (the tidy table's `source` and the --kind option), `shape` describes it in
    messages, `roles` says what each count column measures, `extra` lists the vendor's own columns
    kept beside the tidy counts (with how a user-day's records combine: "sum" or "max"),
    `definition_changes` the days from which the vendor counts differently, `notes` what the report
    leaves out by design (an audit must say so), and `table` which tidy table it feeds ("usage" for
    the per-user-per-day table; a report of teams or repositories has a table of its own).
    """

    kind: str = ""
    shape: str = ""
    table: str = "usage"
    roles: dict[str, str] = {}
    extra: dict[str, str] = {}
    definition_changes: tuple[DefinitionChange, ...] = ()
    notes: tuple[str, ...] = ()

    @abstractmethod
    def detect(self, head: Head) -> bool:
        """Whether a file starting with `head` is this report."""

    @abstractmethod
    def records(self, path: Path, sink: Sink) -> None:
        """Stream the file's records into `sink`, raising ExportFormatError naming file and place."""

    def column_roles(self, table: pd.DataFrame) -> dict[str, str]:
        """What each of the table's columns measures (one of ROLES)."""
        return {column: role for column, role in self.roles.items() if column in table.columns}

    def build(self, sink: Sink) -> pd.DataFrame:
        """The table of everything read into `sink` (the usage table unless a reader has its own)."""
        return sink.table()


CSV_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def amount_of(path: Path, where: str, value: Any, field: str) -> float:
    """A consumption amount (credits): like a count, but fractions allowed; None is NaN."""
    if isinstance(value, float) and math.isfinite(value) and 0 <= value <= MAX_COUNT:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == int(value):
        return count_of(path, where, value, field)
    if value is None:
        return np.nan
    return count_of(path, where, value, field)  # the count's own message for text, negatives, infinities


def csv_amount(path: Path, line: int, text: str, column: str) -> float:
    """A CSV consumption amount (blank means 0): digits 0-9 with an optional decimal part."""
    text = text.strip()
    if not text:
        return 0.0
    if not CSV_AMOUNT.fullmatch(text):
        raise ExportFormatError(f"{path}: line {line}: column {column!r} is not an amount written in digits "
                                f"0-9 with an optional decimal point ({shown(text)})")
    return csv_count(path, line, text.split(".")[0], column) + float("0." + (text.split(".") + ["0"])[1])


class JsonStream:
    """A JSON document read piece by piece: the items of its big list are decoded one at a time,
    so a 200 MB export never sits in memory whole. Errors name the line, as for a whole document."""

    CHUNK = 1 << 20

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = open_text(path)
        self.buf = ""
        self.pos = 0
        self.lines_before = 0     # line breaks in the text already dropped from the buffer
        self.eof = False
        self.decoder = json.JSONDecoder(parse_constant=_reject_constant)

    def close(self) -> None:
        self.handle.close()

    def _fill(self, at_least: int = 0) -> bool:
        """Read more text (at least `at_least` characters, or to the end); False at the end of the file."""
        if self.eof:
            return False
        self.lines_before += self.buf.count("\n", 0, self.pos)
        kept = self.buf[self.pos:]
        parts = [kept]
        size = len(kept)
        try:
            while True:
                chunk = self.handle.read(self.CHUNK)
                if not chunk:
                    self.eof = True
                    break
                parts.append(chunk)
                size += len(chunk)
                if size - len(kept) >= at_least:
                    break
        except UnicodeDecodeError as exc:
            raise ExportFormatError(f"{self.path}: not UTF-8 text (byte {exc.start} of a block)") from None
        except (OSError, EOFError) as exc:
            raise ExportFormatError(f"{self.path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
        self.buf = "".join(parts)
        self.pos = 0
        return size > len(kept)

    def _line(self, index: int) -> int:
        return self.lines_before + self.buf.count("\n", 0, index) + 1

    def fail(self, message: str, index: int | None = None) -> ExportFormatError:
        return ExportFormatError(f"{self.path}: line {self._line(self.pos if index is None else index)}: "
                                 f"not valid JSON ({message})")

    def peek(self) -> str:
        """The next character that is not white space ("" at the end of the file)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def take(self, expected: str, what: str) -> None:
        if self.peek() != expected:
            raise self.fail(f"Expecting {what}")
        self.pos += 1

    def value(self) -> Any:
        """The next whole JSON value; the buffer grows (doubling) until the value fits."""
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if not self.eof:   # perhaps only cut short by the buffer: read on (the positions move)
                    self._fill(max(len(self.buf), self.CHUNK))
                    continue
                raise self.fail(exc.msg, exc.pos) from None
            except (ValueError, RecursionError) as exc:
                raise ExportFormatError(f"{self.path}: line {self._line(self.pos)}: not valid JSON ({exc})") from None
            if end == len(self.buf) and not self.eof:
                self._fill(self.CHUNK)
                continue    # a number or literal cut at the end of the buffer: read on, then decode again
            self.pos = end
            return value

    def items(self) -> Iterator[Any]:
        """The items of the list that starts here, one at a time."""
        self.take("[", "'['")
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            yield self.value()
            following = self.peek()
            self.pos += 1
            if following == "]":
                return
            if following != ",":
                self.pos -= 1
                raise self.fail("the file ends inside the document: cut short?" if following == ""
                                else "Expecting ',' delimiter")

    def members(self, streamed: str) -> Iterator[tuple[str, Any]]:
        """(name, value) of the object that starts here; the member named `streamed`, when a list,
        comes as (name, iterator over its items), which must be used up before the next member."""
        self.take("{", "'{'")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            if self.peek() != '"':
                raise self.fail("Expecting property name enclosed in double quotes")
            name = self.value()
            self.take(":", "':' delimiter")
            if name == streamed and self.peek() == "[":
                yield name, self.items()
            else:
                yield name, self.value()
            following = self.peek()
            self.pos += 1
            if following == "}":
                return
            if following != ",":
                self.pos -= 1
                raise self.fail("the file ends inside the document: cut short?" if following == ""
                                else "Expecting ',' delimiter")

    def end(self) -> None:
        """Nothing but white space may follow the document."""
        if self.peek() != "":
            raise self.fail("Extra data")
