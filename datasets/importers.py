"""Read real AI-usage exports into one tidy per-user-per-day table, so the course's analyses run
on an organisation's own data.

Supported shapes (see docs/exports.md): GitHub Copilot usage metrics (NDJSON users report),
OpenAI organization usage completions (JSON pages of buckets), Microsoft 365 Copilot usage user
detail (CSV), Amazon Q Developer user activity (CSV), Anthropic Claude Code analytics (JSON) and
Cursor's Admin API daily usage data (JSON).

The tidy table has the columns of `TIDY_COLUMNS`: `user` is the vendor's own identity (login,
email or user id), `day` a date, `source` the export kind, and the counts are NaN wherever the
source does not report such a count — an export that only knows dates stays honest about that.

Files are read as streams (NDJSON and CSV line by line), so memory grows with the number of
user-days, not with the size of the file. Each vendor's records have a natural key (user, day and
what the vendor splits a day by); a record seen again — the same export given twice, or two
exports that overlap — is counted once, and the number of such duplicates is kept in
`table.attrs["duplicates"]`. Dates follow each vendor's documented format; counts must be
finite and non-negative; every required field must be present.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from datasets.errors import UserError

TIDY_COLUMNS = ["user", "day", "source", "interactions", "acceptances", "tokens_in", "tokens_out", "lines_added"]
COUNT_COLUMNS = TIDY_COLUMNS[3:]
EXPORT_SUFFIXES = (".ndjson", ".jsonl", ".json", ".csv")   # each also read gzipped (".ndjson.gz")
UNATTRIBUTED = "(unattributed)"
MAX_COUNT = 1e15       # no day of one person's use comes near this; larger is a corrupt file
CSV_COUNT = re.compile(r"[0-9]+(?:\.0*)?")   # ASCII digits only: no "1_000", no other scripts

# Amazon Q Developer user activity CSV: which metric columns make up each tidy count.
AMAZON_Q_COUNTS: dict[str, tuple[str, ...]] = {
    "interactions": ("Chat_MessagesSent", "Inline_SuggestionsCount", "InlineChat_TotalEventCount"),
    "acceptances": ("Chat_MessagesInteracted", "Inline_AcceptanceCount", "InlineChat_AcceptanceEventCount"),
    "lines_added": (
        "Chat_AICodeLines",
        "Inline_AICodeLines",
        "InlineChat_AcceptedLineAdditions",
        "CodeFix_AcceptedLines",
        "Dev_AcceptedLines",
    ),
}


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


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ExportFormatError(f"{path}: no such file")
    if path.is_dir():
        raise ExportFormatError(f"{path}: is a folder, expected an export file")
    if not path.is_file():   # a FIFO or a device would block or never end
        raise ExportFormatError(f"{path}: is not a regular file (a pipe or a device?); save the export "
                                "to a file first")


def _gzipped(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


def export_suffix(path: Path) -> str:
    """The export's own suffix, looking through a final ".gz" (usage.ndjson.gz -> .ndjson)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _open_binary(path: Path):
    return gzip.open(path, "rb") if _gzipped(path) else path.open("rb")


def _open_text(path: Path):
    _check_file(path)
    try:
        if _gzipped(path):
            return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
        return path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ExportFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line, counting only real line breaks, streamed."""
    number = 0
    try:
        with _open_text(path) as handle:
            for number, line in enumerate(handle, start=1):
                yield number, line
    except UnicodeDecodeError as exc:
        raise ExportFormatError(f"{path}: line {number + 1}: not UTF-8 text (byte {exc.start} of the line)") from None
    except (OSError, EOFError) as exc:      # gzip: a truncated or corrupt archive
        raise ExportFormatError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None


def _head(path: Path, size: int = 64 * 1024) -> str:
    """The start of the file, to tell its kind and shape; an empty file is an error."""
    _check_file(path)
    try:
        with _open_binary(path) as handle:
            raw = handle.read(size)
    except (OSError, EOFError) as exc:
        raise ExportFormatError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    text = raw.decode("utf-8-sig", errors="ignore")
    if not text.strip() and len(raw) < size:
        raise ExportFormatError(f"{path}: the file is empty")
    return text


def _read_text(path: Path) -> str:
    """The whole file (for JSON documents, which cannot be streamed line by line)."""
    _head(path)
    try:
        with _open_binary(path) as handle:
            return handle.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExportFormatError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except (OSError, EOFError) as exc:
        raise ExportFormatError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _parse_json(text: str) -> Any:
    """JSON without NaN/Infinity literals; numbers too large for a float (1e400) stay infinite,
    and are refused as counts later."""
    return json.loads(text, parse_constant=_reject_constant)


def _load_json(path: Path, text: str | None = None) -> Any:
    """Parse a whole JSON document, pointing at the line of a syntax error."""
    text = _read_text(path) if text is None else text
    try:
        return _parse_json(text)
    except json.JSONDecodeError as exc:
        raise ExportFormatError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except (ValueError, RecursionError) as exc:
        raise ExportFormatError(f"{path}: not valid JSON ({exc})") from None


def _ndjson_records(path: Path) -> Iterator[tuple[str, dict]]:
    """("line N", object) for every non-blank line of an NDJSON file, streamed."""
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            record = _parse_json(line)
        except json.JSONDecodeError as exc:
            raise ExportFormatError(f"{path}: line {number}: not valid JSON ({exc.msg})") from None
        except (ValueError, RecursionError) as exc:
            raise ExportFormatError(f"{path}: line {number}: not valid JSON ({exc})") from None
        if not isinstance(record, dict):
            raise ExportFormatError(f"{path}: line {number}: expected a JSON object, got {type(record).__name__}")
        yield f"line {number}", record


def _first_line_is_object(text: str) -> bool:
    """NDJSON: the first non-blank line is a whole JSON object (a pretty-printed document's is "{")."""
    line = text.lstrip().split("\n", 1)[0]
    try:
        return isinstance(_parse_json(line), dict)
    except (ValueError, RecursionError):
        return False


def _looks_like_ndjson(text: str) -> bool:
    """The first line is an object, or is broken while the next line is a whole object on its own
    (so the first bad line is reported, not a confusing error further down the file)."""
    if _first_line_is_object(text):
        return True
    lines = [line for line in text.splitlines() if line.strip()][:2]
    if len(lines) == 2 and lines[0].lstrip().startswith("{") and lines[0].rstrip() != "{":
        if not _first_line_is_object(lines[1]):
            return False
        try:  # a small document laid out with one object per line is still one document
            _parse_json(text)
        except (ValueError, RecursionError):
            return True
    return False


def _json_records(path: Path, pick: Callable[[Any], list | None], shape: str) -> Iterator[tuple[str, dict]]:
    """Records of a JSON document (`pick` finds the list in it) or of an NDJSON file, streamed."""
    head = _head(path)
    if head.lstrip()[:1] == "{" and _looks_like_ndjson(head):
        yield from _ndjson_records(path)
        return
    loaded = _load_json(path)
    items = pick(loaded)
    if items is None and isinstance(loaded, dict):
        items = [loaded]
    if not isinstance(items, list):
        raise ExportFormatError(f"{path}: expected a list of records (not a {shape})")
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ExportFormatError(f"{path}: record {number}: expected a JSON object (not a {shape})")
        yield f"record {number}", item


def _require(path: Path, where: str, record: dict, fields: Iterable[str], shape: str) -> None:
    """Fail with the first missing field, naming where it is missing and what shape was expected."""
    for field in fields:
        if field not in record:
            raise ExportFormatError(f"{path}: {where}: missing field {field!r} (not a {shape})")


def _count(path: Path, where: str, value: Any, field: str, *, optional: bool = False) -> float:
    """A count from the file: a finite, non-negative number. None is missing: NaN when optional."""
    if value is None:
        if optional:
            return np.nan
        raise ExportFormatError(f"{path}: {where}: field {field!r} is null, expected a number")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExportFormatError(f"{path}: {where}: field {field!r} is not a number ({_shown(value)})")
    try:
        number = float(value)
    except OverflowError:       # an integer with hundreds of digits
        number = math.inf
    if not math.isfinite(number) or number > MAX_COUNT:
        raise ExportFormatError(f"{path}: {where}: field {field!r} is not a finite number small enough to "
                                f"be a count ({_shown(value)})")
    if number < 0:
        raise ExportFormatError(f"{path}: {where}: field {field!r} is negative ({_shown(value)})")
    if number != int(number):
        raise ExportFormatError(f"{path}: {where}: field {field!r} is not a whole count ({_shown(value)})")
    return number


def _shown(value: Any) -> str:
    """A value for a message, cut short (a 400-digit number must not fill the screen)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def identity(text: str) -> str:
    """One spelling per person: Unicode NFC, zero-width characters removed, outer space stripped,
    so an id typed or exported two ways (NFD "é", a stray zero-width space) is one user."""
    return unicodedata.normalize("NFC", text).translate(ZERO_WIDTH).strip()


def _text(path: Path, where: str, value: Any, field: str) -> str:
    """A required identity (login, email): a non-empty string, never null turned into "None"."""
    text = identity(str(value)) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text:
        raise ExportFormatError(f"{path}: {where}: field {field!r} must be a non-empty text, got {_shown(value)}")
    return text


class _Dates:
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


class _Sink:
    """Records keyed by the vendor's natural key: a key seen again keeps the later record and is
    counted as a duplicate (the same export given twice, overlapping exports)."""

    def __init__(self) -> None:
        self.rows: dict[tuple, tuple] = {}
        self.origin: dict[tuple, str] = {}
        self.duplicates = 0
        self.conflicts: list[str] = []   # duplicates whose counts differ: which record won, and why
        self.records = 0
        self.current = ""                # the file being read, for the conflict messages
        self.coverage: dict[str, list[tuple[str, tuple, int, int]]] = {}  # see _check_overlap

    def add(self, key: tuple, user: str, day: date, source: str, counts: tuple[float, ...]) -> None:
        self.records += 1
        natural = (source, *key)
        row = (user, day, source, *counts)
        if natural in self.rows:
            self.duplicates += 1
            if not _same_counts(self.rows[natural][3:], counts):
                self.conflicts.append(
                    f"{user} on {day} ({source}): {self.origin[natural]} and {self.current} disagree; "
                    f"kept {self.current}, read later (files are read in the order given, a folder's "
                    "in name order)")
        self.rows[natural] = row
        self.origin[natural] = self.current

    def table(self) -> pd.DataFrame:
        frame = pd.DataFrame(list(self.rows.values()), columns=TIDY_COLUMNS)
        self.rows.clear()
        self.origin.clear()
        frame["user"] = frame["user"].astype("string")
        frame["day"] = pd.to_datetime(frame["day"]).astype("datetime64[ns]")
        for column in COUNT_COLUMNS:
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
        frame["source"] = frame["source"].astype("string")
        tidy = frame.groupby(["user", "day", "source"], sort=True)[COUNT_COLUMNS].sum(min_count=1).reset_index()
        tidy["user"] = tidy["user"].astype("string")
        tidy["source"] = tidy["source"].astype("string")
        tidy = tidy[TIDY_COLUMNS]
        counts = tidy[COUNT_COLUMNS].to_numpy(dtype=float)
        overflow = np.isinf(counts) | (counts > MAX_COUNT)
        if overflow.any():
            row, column = map(int, np.argwhere(overflow)[0])
            raise ExportFormatError(f"{tidy['user'].iloc[row]} on {tidy['day'].iloc[row]:%Y-%m-%d}: the "
                                    f"{COUNT_COLUMNS[column]} of the day's records add up to more than "
                                    "this importer can hold; the exports are corrupt or counted twice")
        tidy.attrs["duplicates"] = self.duplicates
        tidy.attrs["conflicts"] = list(self.conflicts)
        return tidy


def _same_counts(first: tuple, second: tuple) -> bool:
    return all((a == b) or (a != a and b != b) for a, b in zip(first, second, strict=True))  # NaN == NaN


def _csv_rows(path: Path, shape: str, header_of: Callable[[list[str]], list[str]]
              ) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Header and (line, cells) of a CSV file, streamed; the delimiter is sniffed from the header.

    `header_of` checks the header (raising for missing columns) and may rename its columns."""
    head = _head(path)
    first_line = head.splitlines()[0] if head.splitlines() else ""
    delimiter = max(CSV_DELIMITERS, key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ","
    handle = _open_text(path)
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


def _csv_count(path: Path, line: int, text: str, column: str) -> float:
    """A CSV count (blank means 0): finite and non-negative."""
    text = text.strip()
    if not text:
        return 0.0
    if not CSV_COUNT.fullmatch(text):
        raise ExportFormatError(f"{path}: line {line}: column {column!r} is not a number written as a whole "
                                f"count in digits 0-9 ({_shown(text)})")
    number = float(text)
    if not math.isfinite(number) or number > MAX_COUNT:
        raise ExportFormatError(f"{path}: line {line}: column {column!r} is not a count this importer can "
                                f"hold ({_shown(text)})")
    return number


# ---------------------------------------------------------------------------------------------
# One reader per export kind: each streams records into a sink


NO_COUNTS = (np.nan,) * len(COUNT_COLUMNS)
COPILOT_SHAPE = "GitHub Copilot usage-metrics user record"
COPILOT_DATES = _Dates(("%Y-%m-%d",), "the form YYYY-MM-DD")
COPILOT_REQUIRED = ("day", "user_login", "user_initiated_interaction_count", "code_acceptance_activity_count")


def _copilot_records(path: Path, sink: _Sink) -> None:
    """Copilot users report: prompts, completions shown and CLI prompts count as interactions."""
    def pick(loaded: Any) -> list | None:
        return loaded if isinstance(loaded, list) else None

    for where, record in _json_records(path, pick, COPILOT_SHAPE):
        _require(path, where, record, COPILOT_REQUIRED, COPILOT_SHAPE)
        user = _text(path, where, record["user_login"], "user_login")
        day = COPILOT_DATES.parse(path, where, record["day"], "day")
        features = record.get("totals_by_feature")
        if features is not None and not isinstance(features, list):
            raise ExportFormatError(f"{path}: {where}: field 'totals_by_feature' is not a list")
        if features:
            completions = sum(
                _count(path, where, feature.get("code_generation_activity_count", 0),
                       "totals_by_feature.code_generation_activity_count")
                for feature in features if isinstance(feature, dict) and feature.get("feature") == "code_completion")
        else:  # no per-feature breakdown: the day-level count is all there is
            completions = _count(path, where, record.get("code_generation_activity_count", 0),
                                 "code_generation_activity_count")
        cli = record.get("totals_by_cli") or {}
        if not isinstance(cli, dict):
            raise ExportFormatError(f"{path}: {where}: field 'totals_by_cli' is not an object")
        tokens = cli.get("token_usage") or {}
        if not isinstance(tokens, dict):
            raise ExportFormatError(f"{path}: {where}: field 'totals_by_cli.token_usage' is not an object")
        cli_prompts = _count(path, where, cli.get("prompt_count", 0), "totals_by_cli.prompt_count", optional=True)
        interactions = (_count(path, where, record["user_initiated_interaction_count"],
                               "user_initiated_interaction_count")
                        + completions + (0.0 if np.isnan(cli_prompts) else cli_prompts))
        sink.add((user, day), user, day, "github-copilot", (
            interactions,
            _count(path, where, record["code_acceptance_activity_count"], "code_acceptance_activity_count"),
            # only the CLI reports tokens; IDE usage has none, so no CLI means unknown
            _count(path, where, tokens.get("prompt_tokens_sum"), "prompt_tokens_sum", optional=True),
            _count(path, where, tokens.get("output_tokens_sum"), "output_tokens_sum", optional=True),
            _count(path, where, record.get("loc_added_sum"), "loc_added_sum", optional=True),
        ))


OPENAI_SHAPE = "OpenAI organization usage completions page"
OPENAI_COUNT_FIELDS = frozenset({"input_tokens", "output_tokens", "input_cached_tokens", "input_audio_tokens",
                                 "output_audio_tokens", "num_model_requests", "object"})


def _unix_day(path: Path, where: str, value: Any, field: str) -> tuple[int, date]:
    """A Unix time in seconds; one in milliseconds (13 digits) is recognised and converted."""
    seconds = _count(path, where, value, field)
    if seconds != int(seconds):
        raise ExportFormatError(f"{path}: {where}: field {field!r} is not a whole Unix time ({value!r})")
    if seconds >= 1e11:  # later than the year 5000 in seconds: the API's seconds were saved as milliseconds
        seconds = seconds / 1000
    day = datetime.fromtimestamp(int(seconds), tz=timezone.utc).date() if seconds < 1e11 else None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        raise ExportFormatError(f"{path}: {where}: field {field!r} is not a Unix time in seconds or "
                                f"milliseconds between {FIRST_DAY} and {LAST_DAY} ({value!r})")
    return int(seconds), day


def _bucket_width(path: Path, where: str, bucket: dict, start: int) -> int:
    if bucket.get("end_time") is None:
        return 0
    end, _ = _unix_day(path, where, bucket["end_time"], "end_time")
    return end - start


def _check_overlap(path: Path, sink: _Sink, layout: tuple, start: int, end: int) -> None:
    """Two exports of the same period with another bucket width or grouping would each count every
    request once, so their sum counts it twice: refuse, naming both files."""
    seen = sink.coverage.setdefault("openai-usage", [])
    for other, other_layout, first, last in seen:
        if other != str(path) and other_layout != layout and start < last and end > first:
            raise ExportFormatError(
                f"{path}: covers the same hours as {other} with another bucket width or grouping "
                f"({_layout(layout)} against {_layout(other_layout)}); adding both would count each "
                "request twice: import one of them")
    for index, (other, other_layout, first, last) in enumerate(seen):
        if other == str(path) and other_layout == layout:
            seen[index] = (other, layout, min(first, start), max(last, end))
            return
    seen.append((str(path), layout, start, end))


def _layout(layout: tuple) -> str:
    width, fields = layout
    names = {60: "1m", 3600: "1h", 86400: "1d"}
    return f"buckets of {names.get(width, f'{width} s')}, grouped by {', '.join(fields) or 'nothing'}"


def _openai_records(path: Path, sink: _Sink) -> None:
    """Completions usage buckets (any width) summed per user and UTC day across models."""
    loaded = _load_json(path)
    if isinstance(loaded, dict) and "data" in loaded:
        buckets = loaded["data"]
    elif isinstance(loaded, list) and loaded and all(isinstance(item, dict) and "data" in item for item in loaded):
        # several response pages saved together
        buckets = [bucket for page in loaded for bucket in (page["data"] or [])]
    elif isinstance(loaded, list):
        buckets = loaded
    else:
        raise ExportFormatError(f"{path}: expected a page with a 'data' list of buckets (not an {OPENAI_SHAPE})")
    if not isinstance(buckets, list):
        raise ExportFormatError(f"{path}: 'data' is not a list (not an {OPENAI_SHAPE})")
    for number, bucket in enumerate(buckets, start=1):
        where = f"bucket {number}"
        if not isinstance(bucket, dict):
            raise ExportFormatError(f"{path}: {where}: expected a JSON object (not an {OPENAI_SHAPE})")
        _require(path, where, bucket, ("start_time", "results"), OPENAI_SHAPE)
        start, day = _unix_day(path, where, bucket["start_time"], "start_time")
        results = bucket["results"] or []
        if not isinstance(results, list):
            raise ExportFormatError(f"{path}: {where}: field 'results' is not a list")
        for index, result in enumerate(results, start=1):
            spot = f"{where} result {index}"
            if not isinstance(result, dict):
                raise ExportFormatError(f"{path}: {spot}: expected a JSON object (not an {OPENAI_SHAPE})")
            _require(path, spot, result, ("input_tokens", "output_tokens", "num_model_requests"), OPENAI_SHAPE)
            user = result.get("user_id")
            user = UNATTRIBUTED if user is None else _text(path, spot, user, "user_id")
            # whatever the export was grouped by (project, key, model, api_source, ...) splits a bucket
            grouping = tuple(sorted((name, str(value)) for name, value in result.items()
                                    if name not in OPENAI_COUNT_FIELDS and name != "user_id"))
            width = _bucket_width(path, where, bucket, start)
            _check_overlap(path, sink, (width, tuple(n for n, _ in grouping)), start, start + max(width, 1))
            key = (start, user, grouping)
            sink.add(key, user, day, "openai-usage", (
                _count(path, spot, result["num_model_requests"], "num_model_requests"),
                np.nan,
                _count(path, spot, result["input_tokens"], "input_tokens"),
                _count(path, spot, result["output_tokens"], "output_tokens"),
                np.nan,
            ))


M365_SHAPE = "Microsoft 365 Copilot usage user-detail report"
# The Graph report writes ISO dates. Slashed dates (a spreadsheet re-save) are ambiguous —
# 02/10/2026 is 2 October in most of the world and February 10 in the US — so they are refused.
M365_DATES = _Dates(("%Y-%m-%d",), "the report's form YYYY-MM-DD (02/10/2026 could be either day or month "
                                   "first: download the report again, or convert it)")


def _m365_records(path: Path, sink: _Sink) -> None:
    """One row per user and day that appears as any last-activity date; no counts exist."""
    def check(header: list[str]) -> list[str]:
        missing = [column for column in ("User Principal Name", "Last Activity Date") if column not in header]
        if missing:
            names = ", ".join(repr(column) for column in missing)
            raise ExportFormatError(f"{path}: missing column(s) {names} (not a {M365_SHAPE})")
        return header

    header, rows = _csv_rows(path, M365_SHAPE, check)
    user_at = header.index("User Principal Name")
    date_columns = [(i, column) for i, column in enumerate(header) if column.endswith("Last Activity Date")]
    for line, cells in rows:
        dates = [(column, cells[i].strip()) for i, column in date_columns if cells[i].strip()]
        sink.records += not dates  # a user who never used Copilot is a record too
        if not dates:
            continue
        user = identity(cells[user_at])
        if not user:
            raise ExportFormatError(f"{path}: line {line}: column 'User Principal Name' is blank")
        # the overall Last Activity Date repeats one of the per-app dates: a day is one record
        days = {M365_DATES.parse(path, f"line {line}", text, column, "column") for column, text in dates}
        for day in sorted(days):
            sink.add((user, day.isoformat()), user, day, "m365-copilot", NO_COUNTS)


AMAZON_Q_SHAPE = "Amazon Q Developer user activity report"
AMAZON_Q_DATES = _Dates(("%m-%d-%Y", "%Y-%m-%d"), "the form MM-DD-YYYY (or YYYY-MM-DD)")


def _amazon_q_records(path: Path, sink: _Sink) -> None:
    """Amazon Q per-user daily CSV: chat, inline and inline-chat counts summed into tidy counts."""
    # the columns are matched whatever their case (Athena tables over these files lower-case them)
    canonical = {name.lower(): name for names in AMAZON_Q_COUNTS.values() for name in names}
    canonical.update({"userid": "UserId", "date": "Date"})

    def check(header: list[str]) -> list[str]:
        header = [canonical.get(column.lower(), column) for column in header]
        missing = [column for column in ("UserId", "Date") if column not in header]
        if missing:
            names = ", ".join(repr(column) for column in missing)
            raise ExportFormatError(f"{path}: missing column(s) {names} (not an {AMAZON_Q_SHAPE})")
        return header

    header, rows = _csv_rows(path, AMAZON_Q_SHAPE, check)
    user_at, date_at = header.index("UserId"), header.index("Date")
    targets = {target: [(header.index(c), c) for c in columns if c in header]
               for target, columns in AMAZON_Q_COUNTS.items()}
    for line, cells in rows:
        user = identity(cells[user_at])
        if not user:
            raise ExportFormatError(f"{path}: line {line}: column 'UserId' is blank")
        if not cells[date_at].strip():
            raise ExportFormatError(f"{path}: line {line}: column 'Date' is blank")
        day = AMAZON_Q_DATES.parse(path, f"line {line}", cells[date_at], "Date", "column")
        counts = {target: (sum(_csv_count(path, line, cells[i], column) for i, column in present)
                           if present else np.nan) for target, present in targets.items()}
        sink.add((user, day), user, day, "amazon-q",
                 (counts["interactions"], counts["acceptances"], np.nan, np.nan, counts["lines_added"]))


CLAUDE_SHAPE = "Claude Code analytics report"
CLAUDE_DATES = _Dates(("%Y-%m-%d",), "the form YYYY-MM-DD or an ISO timestamp", timestamps=True)


def _flat_pages(records: Iterator[tuple[str, dict]], path: Path, shape: str,
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


def _claude_records(path: Path, sink: _Sink) -> None:
    """Claude Code daily records: tool proposals as interactions, accepted ones as acceptances."""
    def pick(loaded: Any) -> list | None:
        return loaded.get("data") if isinstance(loaded, dict) else loaded

    for where, record in _flat_pages(_json_records(path, pick, CLAUDE_SHAPE), path, CLAUDE_SHAPE, "date"):
        _require(path, where, record, ("date", "actor"), CLAUDE_SHAPE)
        actor = record["actor"] if isinstance(record["actor"], dict) else {}
        user = actor.get("email_address") or actor.get("api_key_name")
        if not user:
            raise ExportFormatError(f"{path}: {where}: actor has neither 'email_address' nor 'api_key_name'")
        user = _text(path, where, user, "actor")
        day = CLAUDE_DATES.parse(path, where, record["date"], "date")
        tool_actions = record.get("tool_actions") or {}
        if not isinstance(tool_actions, dict):
            raise ExportFormatError(f"{path}: {where}: field 'tool_actions' is not an object")
        actions = [a for a in tool_actions.values() if isinstance(a, dict)]
        accepted = sum(_count(path, where, a.get("accepted", 0), "accepted") for a in actions)
        rejected = sum(_count(path, where, a.get("rejected", 0), "rejected") for a in actions)
        breakdown = record.get("model_breakdown") or []
        models = [m for m in breakdown if isinstance(m, dict)] if isinstance(breakdown, list) else []
        tokens = [m.get("tokens") if isinstance(m.get("tokens"), dict) else {} for m in models]
        core = record.get("core_metrics") if isinstance(record.get("core_metrics"), dict) else {}
        lines = core.get("lines_of_code") if isinstance(core.get("lines_of_code"), dict) else {}
        key = (user, day, str(record.get("terminal_type")), str(record.get("customer_type")))
        sink.add(key, user, day, "claude-code", (
            accepted + rejected if actions else np.nan,
            accepted if actions else np.nan,
            sum(_count(path, where, t.get("input", 0), "tokens.input") for t in tokens) if models else np.nan,
            sum(_count(path, where, t.get("output", 0), "tokens.output") for t in tokens) if models else np.nan,
            _count(path, where, lines.get("added"), "lines_of_code.added", optional=True),
        ))


CURSOR_SHAPE = "Cursor Admin API daily usage data"
CURSOR_DATES = _Dates(("%Y-%m-%d",), "the form YYYY-MM-DD")
# What Cursor counts per user-day (Admin API, POST /teams/daily-usage-data), by tidy count.
CURSOR_COUNTS: dict[str, tuple[str, ...]] = {
    "interactions": ("composerRequests", "chatRequests", "agentRequests", "cmdkUsages", "bugbotUsages",
                     "totalTabsShown"),
    "acceptances": ("totalAccepts", "totalTabsAccepted"),
    "lines_added": ("acceptedLinesAdded",),
}


def _cursor_day(path: Path, where: str, record: dict) -> date:
    """`date` is epoch milliseconds in the Admin API; some exports add a `day` string instead."""
    if record.get("date") is not None:
        milliseconds = _count(path, where, record["date"], "date")
        return _unix_day(path, where, milliseconds, "date")[1]
    if record.get("day") is not None:
        return CURSOR_DATES.parse(path, where, record["day"], "day")
    raise ExportFormatError(f"{path}: {where}: missing field 'date' (not a {CURSOR_SHAPE})")


def _cursor_records(path: Path, sink: _Sink) -> None:
    """Cursor daily usage per user: requests and tab completions shown as interactions, accepts and
    tab acceptances as acceptances, accepted AI lines as lines added; no tokens per day."""
    def pick(loaded: Any) -> list | None:
        return loaded.get("data") if isinstance(loaded, dict) else loaded

    for where, record in _flat_pages(_json_records(path, pick, CURSOR_SHAPE), path, CURSOR_SHAPE, "email"):
        if "email" not in record and "userId" not in record:
            raise ExportFormatError(f"{path}: {where}: missing field 'email' (not a {CURSOR_SHAPE})")
        user = _text(path, where, record.get("email") or record.get("userId"), "email")
        day = _cursor_day(path, where, record)
        counts = {target: (sum(_count(path, where, record.get(name) or 0, name) for name in names)
                           if any(name in record for name in names) else np.nan)
                  for target, names in CURSOR_COUNTS.items()}
        sink.add((user, day), user, day, "cursor",
                 (counts["interactions"], counts["acceptances"], np.nan, np.nan, counts["lines_added"]))


READERS: dict[str, Callable[[Path, _Sink], None]] = {
    "github-copilot": _copilot_records,
    "openai-usage": _openai_records,
    "m365-copilot": _m365_records,
    "amazon-q": _amazon_q_records,
    "claude-code": _claude_records,
    "cursor": _cursor_records,
}
SHAPES = {"github-copilot": COPILOT_SHAPE, "openai-usage": OPENAI_SHAPE, "m365-copilot": M365_SHAPE,
          "amazon-q": AMAZON_Q_SHAPE, "claude-code": CLAUDE_SHAPE, "cursor": CURSOR_SHAPE}


def _read_into(path: Path, kind: str, sink: _Sink) -> None:
    """Stream one file into the sink; a file without a single record is an error."""
    before = sink.records
    sink.current = str(path)
    READERS[kind](path, sink)
    if sink.records == before:
        raise ExportFormatError(f"{path}: no records (an empty {SHAPES[kind]})")


def _reader(kind: str) -> Callable[[Path], pd.DataFrame]:
    def read(path: Path) -> pd.DataFrame:
        sink = _Sink()
        _read_into(Path(path), kind, sink)
        return sink.table()
    read.__name__ = f"read_{kind.replace('-', '_')}"
    read.__doc__ = READERS[kind].__doc__
    return read


read_github_copilot = _reader("github-copilot")
read_openai_usage = _reader("openai-usage")
read_m365_copilot = _reader("m365-copilot")
read_amazon_q = _reader("amazon-q")
read_claude_code = _reader("claude-code")
read_cursor = _reader("cursor")

IMPORTERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "github-copilot": read_github_copilot,
    "openai-usage": read_openai_usage,
    "m365-copilot": read_m365_copilot,
    "amazon-q": read_amazon_q,
    "claude-code": read_claude_code,
    "cursor": read_cursor,
}


# ---------------------------------------------------------------------------------------------
# Detection and the public entry points


def _json_kind(item: Any) -> str | None:
    """Which export a parsed JSON record belongs to, judged by its distinctive fields."""
    if not isinstance(item, dict):
        return None
    if "user_login" in item or "user_initiated_interaction_count" in item:
        return "github-copilot"
    if item.get("object") in {"page", "bucket"} or "start_time" in item:
        return "openai-usage"
    if "actor" in item and "date" in item:
        return "claude-code"
    if ("email" in item or "userId" in item) and any(name in item for names in CURSOR_COUNTS.values()
                                                     for name in names):
        return "cursor"
    return None


def _unknown(path: Path) -> UnknownExportError:
    known = ", ".join(sorted(IMPORTERS))
    return UnknownExportError(f"{path}: cannot tell which export this is; use {KIND_OPTION} with one of: {known}")


def detect_kind(path: str | os.PathLike[str]) -> str:
    """Tell which vendor export a file is from its header or first record."""
    path = Path(path)
    head = _head(path)
    start = head.lstrip()[:1]
    if start not in ("{", "["):
        lines = head.splitlines()
        first_line = lines[0] if lines else ""
        delimiter = max(CSV_DELIMITERS, key=first_line.count)
        names = {cell.strip() for cell in next(csv.reader([first_line], delimiter=delimiter), [])}
        if "User Principal Name" in names:
            return "m365-copilot"
        if {"userid", "date"} <= {name.lower() for name in names}:
            return "amazon-q"
        raise _unknown(path)
    if start == "{" and _first_line_is_object(head):
        first: Any = _parse_json(head.lstrip().split("\n", 1)[0])
    elif start == "{" and _looks_like_ndjson(head):
        first = next(_ndjson_records(path))[1]  # reports the broken first line
    else:
        first = _load_json(path)
    if isinstance(first, list):
        first = first[0] if first else None
    if isinstance(first, dict) and isinstance(first.get("data"), list) and first.get("object") != "page":
        first = first["data"][0] if first["data"] else {"object": "page"}
    kind = _json_kind(first)
    if kind:
        return kind
    raise _unknown(path)


def _export_files(folder: Path) -> list[Path]:
    """The export files of a folder, in name order (hidden and temporary files skipped)."""
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and export_suffix(p) in EXPORT_SUFFIXES
    )
    if not files:
        raise ExportFormatError(f"{folder}: no export files ({', '.join(EXPORT_SUFFIXES)}) in this folder")
    return files


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in IMPORTERS:
        known = ", ".join(sorted(IMPORTERS))
        raise ExportFormatError(f"unknown export kind {kind!r}; {KIND_OPTION} takes one of: {known}")


def _files_of(path: Path, kind: str | None, skipped: list[str] | None = None) -> list[tuple[Path, str]]:
    """(file, kind) to read for one path: the file itself, or a folder's files of a known kind.
    What a folder holds and is not read goes into `skipped`, each with its reason."""
    if not path.is_dir():
        return [(path, kind or detect_kind(path))]
    skipped = [] if skipped is None else skipped
    for other in sorted(path.iterdir()):
        if other.name.startswith("."):
            continue
        if other.is_dir():
            skipped.append(f"{other}: a folder (folders are not read recursively)")
        elif export_suffix(other) not in EXPORT_SUFFIXES:
            skipped.append(f"{other}: not an export file ({', '.join(EXPORT_SUFFIXES)}, optionally .gz)")
    detected = []
    for file in _export_files(path):
        try:
            file_kind = detect_kind(file)
        except UnknownExportError:
            skipped.append(f"{file}: not one of the known exports ({', '.join(sorted(IMPORTERS))})")
            continue
        if kind is None or file_kind == kind:
            detected.append((file, file_kind))
        else:
            skipped.append(f"{file}: a {file_kind} export, not {kind}")
    if not detected:
        wanted = f"{kind} export" if kind else "known export"
        raise ExportFormatError(f"{path}: no file in this folder is a {wanted}")
    return detected


def read_export(path: str | os.PathLike[str], kind: str | None = None) -> pd.DataFrame:
    """Read one export file, or every export file of a folder, into the tidy per-user-per-day table.

    `kind` is one of `IMPORTERS`; without it each file's kind is detected from its content, and in
    a folder only the files detected as exports (of `kind`, if given) are read, so a generated
    company's folder with its tables and manifest can be passed as it is.
    """
    return read_exports([path], kind)


def read_exports(paths: Iterable[str | os.PathLike[str]], kind: str | None = None) -> pd.DataFrame:
    """Several exports (pages, days, vendors) in one tidy table.

    Records of one user-day add up (one OpenAI bucket per hour, several Claude terminals); a record
    seen twice by its natural key counts once, and `attrs["duplicates"]` says how many were dropped.
    """
    _check_kind(kind)
    skipped: list[str] = []
    files = [item for path in paths for item in _files_of(Path(path), kind, skipped)]
    if not files:
        raise ExportFormatError("no export files given")
    sink = _Sink()
    for file, file_kind in files:
        _read_into(file, file_kind, sink)
    table = sink.table()
    if table.empty:
        raise ExportFormatError("the exports hold no activity: no user has a day of use in them")
    table.attrs["skipped"] = skipped
    table.attrs["files"] = [str(file) for file, _ in files]
    return table


__all__ = [
    "COUNT_COLUMNS",
    "IMPORTERS",
    "TIDY_COLUMNS",
    "ExportFormatError",
    "detect_kind",
    "identity",
    "read_export",
    "read_exports",
]
