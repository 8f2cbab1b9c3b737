"""Amazon Q Developer user activity report (daily CSV in S3, also Kiro's legacy by_user_analytic CSV)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from datasets.importers import fastcsv
from datasets.importers.base import (
    ACCEPTANCE, ACTIVITY, Dates, ExportFormatError, Head, Reader, Sink, csv_count, csv_header, csv_identity,
    csv_rows, no_user,
)

# Which metric columns make up each tidy count.
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
AMAZON_Q_SHAPE = "Amazon Q Developer user activity report"
AMAZON_Q_DATES = Dates(("%m-%d-%Y", "%Y-%m-%d"), "the form MM-DD-YYYY (or YYYY-MM-DD)")


class AmazonQReader(Reader):
    """One row per user and day; chat, inline and inline-chat metrics summed into the tidy counts."""

    kind = "amazon-q"
    shape = AMAZON_Q_SHAPE
    roles = {"interactions": ACTIVITY, "acceptances": ACCEPTANCE, "lines_added": ACCEPTANCE}

    def detect(self, head: Head) -> bool:
        return head.csv_names is not None and {"userid", "date"} <= {name.lower() for name in head.csv_names}

    def records(self, path: Path, sink: Sink) -> None:
        """Amazon Q per-user daily CSV: chat, inline and inline-chat counts summed into tidy counts."""
        header, delimiter, header_lines = csv_header(path, self._header_check(path))
        mark = sink.mark()
        try:
            self._columns(path, sink, header, delimiter, header_lines)
        except fastcsv.NotFast:     # something only the row reader judges exactly: read it again row by row
            sink.rollback(mark)
            self._rows(path, sink)

    @staticmethod
    def _header_check(path: Path) -> Callable[[list[str]], list[str]]:
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
        return check

    @staticmethod
    def _plan(header: list[str]) -> tuple[list[tuple[int, str]], ...]:
        """For interactions, acceptances and lines added: the (position, name) of the columns summed."""
        targets = {target: [(header.index(c), c) for c in columns if c in header]
                   for target, columns in AMAZON_Q_COUNTS.items()}
        return targets["interactions"], targets["acceptances"], targets["lines_added"]

    def _columns(self, path: Path, sink: Sink, header: list[str], delimiter: str, header_lines: int) -> None:
        """The fast path: a block of rows at a time, whole columns converted at once."""
        user_at, date_at = header.index("UserId"), header.index("Date")
        plan = self._plan(header)
        # a date it refuses sends the file to the row reader, which names the line: no place needed here
        parse = partial(AMAZON_Q_DATES.parse, path, "", field="Date", noun="column")
        seen = fastcsv.Known()
        for cells in fastcsv.blocks(path, len(header), delimiter, header_lines):
            users = fastcsv.codes(sink, "user", cells[user_at], fastcsv.checked(csv_identity), seen)
            days = fastcsv.day_ordinals(cells[date_at], parse)
            totals = []
            for present in plan:
                total = None
                for index, _ in present:
                    values = fastcsv.counts(cells[index])
                    total = values if total is None else total + values
                totals.append(total)
            interactions, acceptances, lines_added = totals
            sink.add_block(users, days, self.kind, [interactions, acceptances, None, None, lines_added])

    def _rows(self, path: Path, sink: Sink) -> None:
        """Row by row: slower, and the reader that names the file and line of a bad cell."""
        header, rows = csv_rows(path, AMAZON_Q_SHAPE, self._header_check(path))
        user_at, date_at = header.index("UserId"), header.index("Date")
        plan = self._plan(header)
        for line, cells in rows:
            user = csv_identity(cells[user_at])
            if not user:
                raise no_user(path, line, "UserId")
            if not cells[date_at].strip():
                raise ExportFormatError(f"{path}: line {line}: column 'Date' is blank")
            day = AMAZON_Q_DATES.parse(path, f"line {line}", cells[date_at], "Date", "column")
            interactions, acceptances, lines_added = (
                sum([csv_count(path, line, cells[i], column) for i, column in present]) if present else np.nan
                for present in plan)
            sink.add(user, day, self.kind, (interactions, acceptances, np.nan, np.nan, lines_added))
