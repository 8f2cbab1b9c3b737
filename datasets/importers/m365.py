"""Microsoft 365 Copilot usage user-detail report: only last-activity dates, no counts.

Graph answers in JSON by default (`{"value": [...]}`, camelCase: `userPrincipalName`,
`lastActivityDate`, `microsoftTeamsCopilotLastActivityDate`, ...) and in CSV on request ($format=
text/csv: `User Principal Name`, `Last Activity Date`, ...); both read into the same rows.
"""

from __future__ import annotations

from pathlib import Path

from collections.abc import Iterator
from typing import Any

from datasets.importers.base import (
    ACTIVITY, NO_COUNTS, Dates, ExportFormatError, Head, Reader, Sink, csv_identity, csv_rows, identity, json_records,
    no_user, read_head, require, shown,
)

M365_SHAPE = "Microsoft 365 Copilot usage user-detail report"
# The Graph report writes ISO dates. Slashed dates (a spreadsheet re-save) are ambiguous —
# 02/10/2026 is 2 October in most of the world and February 10 in the US — so they are refused.
GRAPH_SHAPE = "Microsoft 365 Copilot usage user-detail report (Graph JSON)"
GRAPH_USER = "userPrincipalName"
M365_DATES = Dates(("%Y-%m-%d",), "the report's form YYYY-MM-DD (02/10/2026 could be either day or month "
                                  "first: download the report again, or convert it)")


class M365CopilotReader(Reader):
    """One row per user and day that appears as any last-activity date: a day of use, never a count."""

    kind = "m365-copilot"
    shape = M365_SHAPE
    roles = {"day": ACTIVITY}

    def detect(self, head: Head) -> bool:
        if head.csv_names is not None:
            return "User Principal Name" in head.csv_names
        first = head.first
        return first is not None and GRAPH_USER in first and any(_is_date_field(name) for name in first)

    def records(self, path: Path, sink: Sink) -> None:
        """One row per user and day that appears as any last-activity date; no counts exist."""
        if read_head(path).lstrip()[:1] in ("{", "["):    # Graph's JSON, as the registry tells them apart
            self._graph_records(path, sink)
            return
        def check(header: list[str]) -> list[str]:
            missing = [column for column in ("User Principal Name", "Last Activity Date") if column not in header]
            if missing:
                names = ", ".join(repr(column) for column in missing)
                raise ExportFormatError(f"{path}: missing column(s) {names} (not a {M365_SHAPE})")
            return header

        header, rows = csv_rows(path, M365_SHAPE, check)
        user_at = header.index("User Principal Name")
        date_columns = [(i, column) for i, column in enumerate(header) if column.endswith("Last Activity Date")]
        for line, cells in rows:
            dates = [(column, cells[i].strip()) for i, column in date_columns if cells[i].strip()]
            sink.records += not dates  # a user who never used Copilot is a record too
            if not dates:
                continue
            user = csv_identity(cells[user_at])
            if not user:
                raise no_user(path, line, "User Principal Name")
            # the overall Last Activity Date repeats one of the per-app dates: a day is one record
            days = {M365_DATES.parse(path, f"line {line}", text, column, "column") for column, text in dates}
            for day in sorted(days):
                sink.add(user, day, self.kind, NO_COUNTS)

    def _graph_records(self, path: Path, sink: Sink) -> None:
        """Graph's JSON: the records of `value` (one page, a list of records, or pages one per line)."""
        for where, record in _graph_items(path):
            require(path, where, record, (GRAPH_USER,), GRAPH_SHAPE)
            dates = [(name, _date_text(path, where, name, value)) for name, value in record.items()
                     if _is_date_field(name)]
            dates = [(name, text) for name, text in dates if text]
            sink.records += not dates  # a user who never used Copilot is a record too
            if not dates:
                continue
            value = record[GRAPH_USER]
            user = identity(value) if isinstance(value, str) else ""
            if not user:
                raise ExportFormatError(f"{path}: {where}: field {GRAPH_USER!r} must be a non-empty text, got "
                                        f"{shown(value)}")
            # lastActivityDate repeats one of the per-app dates: a day is one record
            days = {M365_DATES.parse(path, where, text, name) for name, text in dates}
            for day in sorted(days):
                sink.add(user, day, self.kind, NO_COUNTS)


def _is_date_field(name: str) -> bool:
    """A Graph last-activity field: lastActivityDate, wordCopilotLastActivityDate, ... (v2 adds more)."""
    return name == "lastActivityDate" or name.endswith("LastActivityDate")


def _date_text(path: Path, where: str, name: str, value: Any) -> str:
    """A date field's text; Graph writes "" or null for an app never used."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ExportFormatError(f"{path}: {where}: field {name!r} is not a date in the report's form YYYY-MM-DD "
                                f"({shown(value)})")
    return value.strip()


def _graph_items(path: Path) -> Iterator[tuple[str, dict]]:
    """The user records of a Graph answer saved as it came (`{"value": [...]}`), of several pages
    saved one per line or in a list, or of a bare list of records."""
    def pick(document: Any) -> Any:
        return document.get("value") if isinstance(document, dict) else document

    for where, item in json_records(path, pick, GRAPH_SHAPE):
        if GRAPH_USER not in item and "value" in item and not isinstance(item["value"], list):
            raise ExportFormatError(f"{path}: {where}: field 'value' is {shown(item['value'])}, expected a list of "
                                    f"records (not a {GRAPH_SHAPE})")
        if GRAPH_USER not in item and isinstance(item.get("value"), list):
            for number, inner in enumerate(item["value"], start=1):
                if not isinstance(inner, dict):
                    raise ExportFormatError(f"{path}: {where} record {number}: expected a JSON object "
                                            f"(not a {GRAPH_SHAPE})")
                yield f"{where} record {number}", inner
        else:
            yield where, item
