"""What every vendor reader shares: the tidy table, safe file reading, strict counts and dates,
the sink that dedupes records by their natural key, and the `Reader` interface itself.

A reader streams a file's records into a `Sink` (NDJSON and CSV line by line, JSON documents item
by item), so memory follows the number of user-days, not the size of the file.
"""


from __future__ import annotations

from abc import ABC, abstractmethod

import csv
import gzip
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
    if head.lstrip()[:1] == "{" and looks_like_ndjson(head):
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


def identity(text: str) -> str:
    """One spelling per person: Unicode NFC, zero-width characters removed, outer space stripped,
    so an id typed or exported two ways (NFD "é", a stray zero-width space) is one user."""
    known = _IDENTITIES.get(text)
    if known is None:
        known = unicodedata.normalize("NFC", text).translate(ZERO_WIDTH).strip()
        if len(_IDENTITIES) < 200_000:
            _IDENTITIES[text] = known
    return known


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


class Sink:
    """Records keyed by the vendor's natural key — user, day, source and what the vendor splits a
    day by — where a key seen again keeps the later record and counts as a duplicate (the same
    export given twice, overlapping exports).

    Kept compact, since a big export has millions of records: each record is a few numbers in
    typed arrays (users, sources, files and splits as codes into small dictionaries), and the
    duplicates are found once, by sorting, when the table is built."""

    def __init__(self) -> None:
        self.users: dict[str, int] = {}
        self.sources: dict[str, int] = {}
        self.splits: dict[tuple, int] = {(): 0}
        self.files: list[str] = []
        self.user_of, self.source_of, self.day_of = array("i"), array("i"), array("i")  # day: date ordinal
        self.file_of, self.split_of = array("i"), array("i")
        # None: no record so far has this count (NaN throughout), so a CSV that has no tokens keeps
        # no array of NaN per record
        self.counts: list[array | None] = [None for _ in COUNT_COLUMNS]
        self.extra_values: dict[str, array] = {}          # a vendor column -> value per record (NaN if none)
        self.extra_aggregates: dict[str, str] = {}        # column -> "sum" or "max", from the readers
        self.duplicates = 0
        self.conflicts: list[str] = []   # duplicates whose counts differ: which record won, and why
        self.records = 0
        self.current = ""                # the file being read, for the conflict messages
        self.coverage: dict[str, list[tuple[str, tuple, int, int]]] = {}  # see the OpenAI reader
        self.plain: dict[tuple, Any] = {}             # rows of a report with its own table (add_row)

    @staticmethod
    def _code(codes: dict, value: Any) -> int:
        code = codes.get(value)
        if code is None:
            code = codes[value] = len(codes)
        return code

    def add(self, user: str, day: date, source: str, counts: tuple[float, ...],
            extra: dict[str, float] | None = None, split: tuple = ()) -> None:
        """One record. `split` is what else the vendor's key holds (an OpenAI bucket and grouping, a
        Claude terminal, a Kiro client); `extra` a vendor's own columns (see Reader.extra)."""
        self.records += 1
        if not self.files or self.files[-1] != self.current:
            self.files.append(self.current)
        self.user_of.append(self._code(self.users, user))
        self.source_of.append(self._code(self.sources, source))
        self.day_of.append(day.toordinal())
        self.file_of.append(len(self.files) - 1)
        self.split_of.append(self._code(self.splits, split))
        for index, value in enumerate(counts):
            column = self.counts[index]
            if column is None:           # a count no record has held so far
                if value != value:
                    continue
                column = self.counts[index] = array("d", [math.nan]) * (len(self.user_of) - 1)
            column.append(value)
        for values in self.extra_values.values():
            values.append(math.nan)
        for name, value in (extra or {}).items():
            values = self.extra_values.get(name)
            if values is None:
                values = self.extra_values[name] = array("d", [math.nan]) * len(self.user_of)
            values[-1] = value

    def code_of(self, kind: str, value: Any) -> int:
        """The sink's code for a user, a source or a split (a reader adding a block codes its
        distinct values once, then the records by those codes)."""
        return self._code({"user": self.users, "source": self.sources, "split": self.splits}[kind], value)

    def add_block(self, users: np.ndarray, days: np.ndarray, source: str, counts: list[np.ndarray | None],
                  extra: dict[str, np.ndarray] | None = None, splits: np.ndarray | None = None) -> None:
        """Many records at once, as `add` would take them one by one: user and split codes (from
        `code_of`), day ordinals, and per count a column of values (None: NaN throughout)."""
        size = len(users)
        if not size:
            return
        self.records += size
        if not self.files or self.files[-1] != self.current:
            self.files.append(self.current)
        before = len(self.user_of)
        self.user_of.frombytes(np.asarray(users, dtype=np.int32).tobytes())
        self.source_of.frombytes(np.full(size, self._code(self.sources, source), dtype=np.int32).tobytes())
        self.day_of.frombytes(np.asarray(days, dtype=np.int32).tobytes())
        self.file_of.frombytes(np.full(size, len(self.files) - 1, dtype=np.int32).tobytes())
        split_codes = np.zeros(size, dtype=np.int32) if splits is None else np.asarray(splits, dtype=np.int32)
        self.split_of.frombytes(split_codes.tobytes())
        for index, values in enumerate(counts):
            column = self.counts[index]
            if values is None:
                if column is not None:
                    column.extend(array("d", [math.nan]) * size)
                continue
            if column is None:
                column = self.counts[index] = array("d", [math.nan]) * before
            column.frombytes(np.asarray(values, dtype=np.float64).tobytes())
        for name, values in self.extra_values.items():
            if name not in (extra or {}):
                values.extend(array("d", [math.nan]) * size)
        for name, given in (extra or {}).items():
            values = self.extra_values.get(name)
            if values is None:
                values = self.extra_values[name] = array("d", [math.nan]) * before
            values.frombytes(np.asarray(given, dtype=np.float64).tobytes())

    def mark(self) -> tuple:
        """Where the sink stands, to go back to it (`rollback`) when a fast reading of a file gives up."""
        return (len(self.user_of), self.records, len(self.files), [column is not None for column in self.counts],
                set(self.extra_values))

    def rollback(self, mark: tuple) -> None:
        """Forget every record added since `mark`."""
        size, records, files, had_counts, had_extra = mark
        for values in (self.user_of, self.source_of, self.day_of, self.file_of, self.split_of):
            del values[size:]
        self.records = records
        del self.files[files:]
        for index, had in enumerate(had_counts):
            if not had:
                self.counts[index] = None
            elif self.counts[index] is not None:
                del self.counts[index][size:]
        for name in list(self.extra_values):
            if name in had_extra:
                del self.extra_values[name][size:]
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

    def _ranks(self, codes: dict) -> tuple[np.ndarray, np.ndarray]:
        """(names in code order, each code's rank in name order), to sort by name while holding codes."""
        names = np.array(list(codes), dtype=object)
        order = np.argsort(names, kind="stable")
        rank = np.empty(len(names), dtype=np.int32)     # 4 bytes a record below, not 8
        rank[order] = np.arange(len(names), dtype=np.int32)
        return names, rank

    def _conflicts(self, earlier: np.ndarray, later: np.ndarray, users, sources, days) -> list[str]:
        """The duplicates whose counts differ from the record they replace, in reading order."""
        differ = np.zeros(len(earlier), dtype=bool)
        for column in self.counts:
            if column is None:
                continue
            values = np.frombuffer(column, dtype=np.float64)
            a, b = values[earlier], values[later]
            differ |= ~((a == b) | (np.isnan(a) & np.isnan(b)))
        notes = []
        pairs = sorted(zip(earlier[differ].tolist(), later[differ].tolist(), strict=True), key=lambda pair: pair[1])
        for old, new in pairs:
            notes.append(f"{users[self.user_of[new]]} on {date.fromordinal(int(days[new]))} "
                         f"({sources[self.source_of[new]]}): {self.files[self.file_of[old]]} and "
                         f"{self.files[self.file_of[new]]} disagree; kept {self.files[self.file_of[new]]}, read "
                         "later (files are read in the order given, a folder's in name order)")
        return notes

    def _release(self, name: str) -> None:
        """Free the records' values of one column (the table being built holds them now)."""
        if name in COUNT_COLUMNS:
            self.counts[COUNT_COLUMNS.index(name)] = None
        else:
            self.extra_values.pop(name, None)

    def table(self) -> pd.DataFrame:
        """The tidy table: the later record of each natural key, the records of one user-day and
        source added up (sorted by user, day and source), extra columns after the tidy ones."""
        users, user_rank = self._ranks(self.users)
        sources, source_rank = self._ranks(self.sources)
        user = user_rank[np.frombuffer(self.user_of, dtype=np.int32)]
        source = source_rank[np.frombuffer(self.source_of, dtype=np.int32)]
        days = np.frombuffer(self.day_of, dtype=np.int32)
        split = np.frombuffer(self.split_of, dtype=np.int32)
        # by user, day, source, split, then reading order: a key's records side by side, the latest last
        order = np.lexsort((np.arange(len(days), dtype=np.int32), split, source, days, user))
        if len(order) > 1:
            a, b = order[:-1], order[1:]
            replaced = ((user[a] == user[b]) & (days[a] == days[b]) & (source[a] == source[b])
                        & (split[a] == split[b]))
            self.duplicates = int(replaced.sum())
            if self.duplicates:
                self.conflicts = self._conflicts(a[replaced], b[replaced], users, sources, days)
            winners = order[np.r_[~replaced, True]]
            del a, b, replaced
        else:
            winners = order
        del order
        # where one user-day ends and the next begins among the kept records
        w_user, w_days, w_source = user[winners], days[winners], source[winners]
        if len(winners) > 1:
            new_group = np.r_[True, (w_user[1:] != w_user[:-1]) | (w_days[1:] != w_days[:-1])
                              | (w_source[1:] != w_source[:-1])]
        else:
            new_group = np.ones(len(winners), dtype=bool)
        starts = np.flatnonzero(new_group)
        del w_user, w_days, w_source, new_group
        extra_columns = [c for c in self.extra_aggregates if c in self.extra_values]
        columns = {name: np.frombuffer(column, dtype=np.float64)
                   for name, column in zip(COUNT_COLUMNS, self.counts, strict=True) if column is not None}
        columns.update({c: np.frombuffer(self.extra_values[c], dtype=np.float64) for c in extra_columns})
        combined = {name: np.full(len(starts), np.nan) for name in COUNT_COLUMNS if name not in columns}
        for name in list(columns):
            kept = columns.pop(name)[winners]
            self._release(name)    # the records' column is in `kept` now: free it before the next one
            if len(starts) == len(winners):          # one record per user-day (Amazon Q, Copilot)
                combined[name] = kept
            elif self.extra_aggregates.get(name) == "max":
                combined[name] = np.fmax.reduceat(kept, starts)
            else:                                    # add up; NaN only when no record knows the count
                known = ~np.isnan(kept)
                sums = np.add.reduceat(np.where(known, kept, 0.0), starts)
                combined[name] = np.where(np.add.reduceat(known, starts) > 0, sums, np.nan)
        epoch = date(1970, 1, 1).toordinal()
        first_of_day = winners[starts]
        del winners, starts, user, source, split
        frame = {
            "user": _strings(users, np.frombuffer(self.user_of, dtype=np.int32)[first_of_day]),
            "day": (days[first_of_day].astype(np.int64) - epoch).astype("datetime64[D]").astype("datetime64[ns]"),
            "source": _strings(sources, np.frombuffer(self.source_of, dtype=np.int32)[first_of_day]),
        }
        del first_of_day, days, columns
        frame.update((name, combined.pop(name)) for name in COUNT_COLUMNS + extra_columns)
        tidy = pd.DataFrame(frame, copy=False)    # the arrays become the columns: no second copy
        del frame
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


def _strings(names: np.ndarray, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """The column of `names[codes]` as pandas' string dtype, built from the few distinct names
    (not one Python string per row: for millions of user-days this is the slow part)."""
    try:
        return pd.array(pa.array(names, type=pa.large_string()).take(pa.array(codes)), dtype="string")
    except (pa.ArrowException, UnicodeEncodeError):   # a name pyarrow cannot hold: pandas' own way
        return pd.array(names[codes], dtype="string")


def _same_counts(first: tuple, second: tuple) -> bool:
    return all((a == b) or (a != a and b != b) for a, b in zip(first, second, strict=True))  # NaN == NaN


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
