"""Microsoft 365 Copilot usage user-detail report (Graph CSV): only last-activity dates, no counts."""

from __future__ import annotations

from pathlib import Path

from datasets.importers.base import (
    ACTIVITY, NO_COUNTS, Dates, ExportFormatError, Head, Reader, Sink, csv_rows, identity,
)

M365_SHAPE = "Microsoft 365 Copilot usage user-detail report"
# The Graph report writes ISO dates. Slashed dates (a spreadsheet re-save) are ambiguous —
# 02/10/2026 is 2 October in most of the world and February 10 in the US — so they are refused.
M365_DATES = Dates(("%Y-%m-%d",), "the report's form YYYY-MM-DD (02/10/2026 could be either day or month "
                                  "first: download the report again, or convert it)")


class M365CopilotReader(Reader):
    """One row per user and day that appears as any last-activity date: a day of use, never a count."""

    kind = "m365-copilot"
    shape = M365_SHAPE
    roles = {"day": ACTIVITY}

    def detect(self, head: Head) -> bool:
        return head.csv_names is not None and "User Principal Name" in head.csv_names

    def records(self, path: Path, sink: Sink) -> None:
        """One row per user and day that appears as any last-activity date; no counts exist."""
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
            user = identity(cells[user_at])
            if not user:
                raise ExportFormatError(f"{path}: line {line}: column 'User Principal Name' is blank")
            # the overall Last Activity Date repeats one of the per-app dates: a day is one record
            days = {M365_DATES.parse(path, f"line {line}", text, column, "column") for column, text in dates}
            for day in sorted(days):
                sink.add(user, day, self.kind, NO_COUNTS)
