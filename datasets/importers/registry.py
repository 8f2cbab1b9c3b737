"""The vendor readers in one list, file-kind detection, and the public entry points.

A new vendor is one module with a `Reader` subclass and one line in `READERS`; detection asks the
readers in this order, so a more specific report comes before one it resembles (Kiro's per-client
CSV before Amazon Q's, GitHub's team report before its users report).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from datasets.importers.amazon_q import AmazonQReader
from datasets.importers.base import (
    CSV_DELIMITERS, EXPORT_SUFFIXES, KIND_OPTION, ExportFormatError, Head, JsonStream, Reader, Sink,
    UnknownExportError, export_suffix, first_line_is_object, looks_like_ndjson, ndjson_records, parse_json,
    read_head,
)
from datasets.importers.claude import ClaudeCodeReader, ClaudeEnterpriseUsersReader
from datasets.importers.copilot import CopilotRepositoriesReader, CopilotTeamsReader, CopilotUsersReader
from datasets.importers.cursor import CursorReader
from datasets.importers.kiro import KiroReader
from datasets.importers.m365 import M365CopilotReader
from datasets.importers.openai import OpenAIUsageReader

READERS: tuple[Reader, ...] = (
    CopilotTeamsReader(),
    CopilotRepositoriesReader(),
    CopilotUsersReader(),
    OpenAIUsageReader(),
    ClaudeCodeReader(),
    ClaudeEnterpriseUsersReader(),
    CursorReader(),
    M365CopilotReader(),
    KiroReader(),
    AmazonQReader(),
)
BY_KIND: dict[str, Reader] = {reader.kind: reader for reader in READERS}
USAGE_KINDS = tuple(reader.kind for reader in READERS if reader.table == "usage")


def reader_for(kind: str) -> Reader:
    return BY_KIND[kind]


def _read_into(path: Path, reader: Reader, sink: Sink) -> None:
    """Stream one file into the sink; a file without a single record is an error."""
    before = sink.records
    sink.current = str(path)
    sink.extra_aggregates.update(reader.extra)
    reader.records(path, sink)
    if sink.records == before:
        raise ExportFormatError(f"{path}: no records (an empty {reader.shape})")


def _reader_function(reader: Reader) -> Callable[[Path], pd.DataFrame]:
    def read(path: Path) -> pd.DataFrame:
        sink = Sink()
        _read_into(Path(path), reader, sink)
        return _with_metadata(reader.build(sink), [reader])
    read.__name__ = f"read_{reader.kind.replace('-', '_')}"
    read.__doc__ = reader.records.__doc__ or reader.__doc__
    return read


IMPORTERS: dict[str, Callable[[Path], pd.DataFrame]] = {reader.kind: _reader_function(reader) for reader in READERS}


# ---------------------------------------------------------------------------------------------
# Detection


def _first_json_record(path: Path, head: str) -> Any:
    """The first record of a JSON or NDJSON file, reading no more of a big document than needed."""
    start = head.lstrip()[:1]
    if start == "{" and first_line_is_object(head):
        first: Any = parse_json(head.lstrip().split("\n", 1)[0])
    elif start == "{" and looks_like_ndjson(head):
        return next(ndjson_records(path))[1]  # reports the broken first line
    else:
        return _first_of_document(path)
    if isinstance(first, dict) and isinstance(first.get("data"), list) and first.get("object") != "page":
        first = first["data"][0] if first["data"] else {"object": "page"}
    return _first_of_value(first)


def _first_of_value(first: Any) -> Any:
    """A Microsoft Graph answer's first record: the first item of its `value` list."""
    if isinstance(first, dict) and isinstance(first.get("value"), list) and first["value"]:
        return first["value"][0]
    return first


def _first_of_document(path: Path) -> Any:
    """A JSON document's first record: its first item, or the first item of its `data` list (a page
    keeps its own members when it says it is one)."""
    stream = JsonStream(path)
    try:
        if stream.peek() == "[":
            first = next(stream.items(), None)
            if isinstance(first, dict) and isinstance(first.get("data"), list) and first.get("object") != "page":
                first = first["data"][0] if first["data"] else {"object": "page"}
            return _first_of_value(first)
        if stream.peek() != "{":
            stream.value()                # a syntax error, reported with its line
            return None
        members: dict[str, Any] = {}
        for name, value in stream.members("data"):
            if isinstance(value, Iterator):
                if members.get("object") == "page":
                    return {**members, "data": []}
                return next(value, {"object": "page"})
            members[name] = value
        if isinstance(members.get("data"), list) and members.get("object") != "page":
            return members["data"][0] if members["data"] else {"object": "page"}
        return _first_of_value(members)
    finally:
        stream.close()


def _head_of(path: Path) -> Head:
    text = read_head(path)
    start = text.lstrip()[:1]
    if start not in ("{", "["):
        lines = text.splitlines()
        first_line = lines[0] if lines else ""
        delimiter = max(CSV_DELIMITERS, key=first_line.count)
        names = frozenset(cell.strip() for cell in next(csv.reader([first_line], delimiter=delimiter), []))
        return Head(text, csv_names=names)
    first = _first_json_record(path, text)
    if isinstance(first, list):
        first = first[0] if first else None
    return Head(text, first=first if isinstance(first, dict) else None)


def _unknown(path: Path) -> UnknownExportError:
    known = ", ".join(sorted(IMPORTERS))
    return UnknownExportError(f"{path}: cannot tell which export this is; use {KIND_OPTION} with one of: {known}")


def detect_kind(path: str | os.PathLike[str]) -> str:
    """Tell which vendor report a file is from its header or first record."""
    path = Path(path)
    head = _head_of(path)
    for reader in READERS:
        if reader.detect(head):
            return reader.kind
    if head.first is not None and "download_links" in head.first:
        raise UnknownExportError(f"{path}: this is GitHub's answer listing the report's download links, not "
                                 "the report: download the NDJSON file(s) it links to and import those")
    raise _unknown(path)


# ---------------------------------------------------------------------------------------------
# Folders and the public entry points


def _export_files(folder: Path) -> list[Path]:
    """The export files of a folder, in name order (hidden and temporary files skipped)."""
    files = sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and export_suffix(p) in EXPORT_SUFFIXES
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


def _day_spans(table: pd.DataFrame) -> dict[str, tuple[date, date]]:
    """The first and last day of each source in the table, without copying the days (a 200 MB
    export's table has millions of them)."""
    if "source" not in table.columns or not len(table):
        return {}
    source = table["source"]
    if not isinstance(source.dtype, pd.CategoricalDtype):       # the small team and repository tables
        spans = table.groupby("source")["day"].agg(["min", "max"])
        return {name: (row["min"].date(), row["max"].date()) for name, row in spans.iterrows()}
    days = table["day"].to_numpy().view(np.int64)
    codes = source.cat.codes.to_numpy()
    result = {}
    for code, name in enumerate(source.cat.categories):
        where = None if len(source.cat.categories) == 1 else codes == code
        if where is not None and not where.any():
            continue
        first = days.min(where=where, initial=np.iinfo(np.int64).max) if where is not None else days.min()
        last = days.max(where=where, initial=np.iinfo(np.int64).min) if where is not None else days.max()
        result[name] = (pd.Timestamp(first).date(), pd.Timestamp(last).date())
    return result


def _with_metadata(table: pd.DataFrame, readers: list[Reader]) -> pd.DataFrame:
    """What an audit must know beside the numbers: each column's role, what each report leaves out,
    and the vendors' definition changes dated inside the period read (a break in the series)."""
    roles: dict[str, dict[str, str]] = {}
    notes: list[str] = []
    changes: list[dict[str, str]] = []
    spans = _day_spans(table)
    for reader in dict.fromkeys(readers):
        roles[reader.kind] = reader.column_roles(table)
        notes.extend(f"{reader.kind}: {note}" for note in reader.notes)
        if reader.kind not in spans:
            continue
        first, last = spans[reader.kind]
        for change in reader.definition_changes:
            if first < change.since <= last:
                changes.append({"source": reader.kind, "since": change.since.isoformat(), "what": change.what,
                                "columns": ", ".join(change.columns)})
    table.attrs["roles"] = roles
    table.attrs["notes"] = notes
    table.attrs["definition_changes"] = changes
    return table


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
    Reports with a table of their own (GitHub's team and repository reports) are read on their own
    or with their kind; beside usage reports they are skipped with the reason. `attrs` also holds
    the columns' roles, the reports' notes and the definition changes inside the period.
    """
    _check_kind(kind)
    skipped: list[str] = []
    files = [item for path in paths for item in _files_of(Path(path), kind, skipped)]
    if not files:
        raise ExportFormatError("no export files given")
    tables = {BY_KIND[file_kind].table for _, file_kind in files}
    if len(tables) > 1:
        kept = [(file, file_kind) for file, file_kind in files if BY_KIND[file_kind].table == "usage"]
        if not kept:
            raise ExportFormatError("these files hold different reports (" + ", ".join(sorted(tables))
                                    + "): import each kind on its own, with " + KIND_OPTION)
        skipped.extend(f"{file}: a {file_kind} report (a table of its own: import it on its own)"
                       for file, file_kind in files if BY_KIND[file_kind].table != "usage")
        files = kept
    readers = [BY_KIND[file_kind] for _, file_kind in files]
    sink = Sink()
    for (file, _), reader in zip(files, readers, strict=True):
        _read_into(file, reader, sink)
    table = readers[0].build(sink)
    if table.empty:
        raise ExportFormatError("the exports hold no activity: no user has a day of use in them")
    table.attrs["duplicates"] = table.attrs.get("duplicates", sink.duplicates)
    table.attrs.setdefault("conflicts", list(sink.conflicts))
    table.attrs["skipped"] = skipped
    table.attrs["files"] = [str(file) for file, _ in files]
    return _with_metadata(table, readers)
