"""Cursor Admin API daily usage data (POST /teams/daily-usage-data): one record per user-day."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from datasets.importers.base import (
    ACCEPTANCE, ACTIVITY, Dates, ExportFormatError, Head, Reader, Sink, count_of, flat_pages, json_records,
    text_of, unix_day,
)

CURSOR_SHAPE = "Cursor Admin API daily usage data"
CURSOR_DATES = Dates(("%Y-%m-%d",), "the form YYYY-MM-DD")
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
        milliseconds = count_of(path, where, record["date"], "date")
        return unix_day(path, where, milliseconds, "date")[1]
    if record.get("day") is not None:
        return CURSOR_DATES.parse(path, where, record["day"], "day")
    raise ExportFormatError(f"{path}: {where}: missing field 'date' (not a {CURSOR_SHAPE})")


class CursorReader(Reader):
    """Cursor daily usage per user; accepted lines are what was accepted, not what was kept."""

    kind = "cursor"
    shape = CURSOR_SHAPE
    roles = {"interactions": ACTIVITY, "acceptances": ACCEPTANCE, "lines_added": ACCEPTANCE}

    def detect(self, head: Head) -> bool:
        first = head.first
        return (first is not None and ("email" in first or "userId" in first)
                and any(name in first for names in CURSOR_COUNTS.values() for name in names))

    def records(self, path: Path, sink: Sink) -> None:
        """Cursor daily usage per user: requests and tab completions shown as interactions, accepts and
        tab acceptances as acceptances, accepted AI lines as lines added; no tokens per day."""
        def pick(loaded: Any) -> list | None:
            return loaded.get("data") if isinstance(loaded, dict) else loaded

        for where, record in flat_pages(json_records(path, pick, CURSOR_SHAPE), path, CURSOR_SHAPE, "email"):
            if "email" not in record and "userId" not in record:
                raise ExportFormatError(f"{path}: {where}: missing field 'email' (not a {CURSOR_SHAPE})")
            user = text_of(path, where, record.get("email") or record.get("userId"), "email")
            day = _cursor_day(path, where, record)
            counts = {target: (sum(count_of(path, where, record.get(name) or 0, name) for name in names)
                               if any(name in record for name in names) else np.nan)
                      for target, names in CURSOR_COUNTS.items()}
            sink.add(user, day, self.kind,
                     (counts["interactions"], counts["acceptances"], np.nan, np.nan, counts["lines_added"]))
