"""Kiro per-client user report (daily CSV, formerly Amazon Q Developer): one row per user, day and
client (KIRO_IDE, KIRO_CLI, PLUGIN), with conversations, messages and credits.

Kiro's raw header spelling is not published (the research notes give the fields as a connector
normalises them), so the columns are matched by name whatever their case, spaces or underscores,
and the synonyms below are the ones accepted. A file with a client column but none of the count
columns is refused rather than read as days with empty counts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from datasets.importers import fastcsv
from datasets.importers.base import (
    ACTIVITY, CONSUMPTION, Dates, ExportFormatError, Head, Reader, Sink, csv_amount, csv_count, csv_header,
    csv_identity, csv_rows, no_user,
)

KIRO_SHAPE = "Kiro per-client user report"
# Kiro's date spelling is not published either: only the unambiguous ISO form is read, since
# 02-11-2026 could be 11 February or 2 November and a guess would move every count silently.
KIRO_DATES = Dates(("%Y-%m-%d",), "the form YYYY-MM-DD (02-11-2026 could be day or month first: convert "
                                 "the dates to YYYY-MM-DD)")
# role of each column -> the spellings accepted, compared after _squash
KIRO_COLUMNS: dict[str, tuple[str, ...]] = {
    "user": ("userid", "user", "username", "email"),
    "day": ("date", "day", "reportdate"),
    "client": ("clienttype", "client"),
    "messages": ("messages", "messagessent", "chatmessagessent", "totalmessages"),
    "conversations": ("conversations", "chatconversations", "totalconversations"),
    "credits_used": ("creditsused", "credits", "totalcreditsused"),
    "overage_credits": ("overagecreditsused", "overagecredits", "overage"),
}
KIRO_CLIENTS = ("KIRO_IDE", "KIRO_CLI", "PLUGIN")
COUNTED = ("messages", "conversations", "credits_used", "overage_credits")
EXTRA_ROLES = ("conversations", "credits_used", "overage_credits")


def _squash(name: str) -> str:
    """A header name without case, spaces, dashes or underscores (User_Id, user id, userId -> userid)."""
    return re.sub(r"[\s_\-]", "", name).lower()


def _role_of(name: str) -> str | None:
    squashed = _squash(name)
    return next((role for role, names in KIRO_COLUMNS.items() if squashed in names), None)


class KiroReader(Reader):
    """Kiro per-client rows summed per user-day: messages as interactions, credits as consumption."""

    kind = "kiro"
    shape = KIRO_SHAPE
    roles = {"interactions": ACTIVITY, "conversations": ACTIVITY, "credits_used": CONSUMPTION,
             "overage_credits": CONSUMPTION}
    extra = {"conversations": "sum", "credits_used": "sum", "overage_credits": "sum"}
    notes = ("Kiro credits are a consumption signal, not a cost.",)

    def detect(self, head: Head) -> bool:
        if head.csv_names is None:
            return False
        roles = {_role_of(name) for name in head.csv_names}
        return {"user", "day", "client"} <= roles

    def records(self, path: Path, sink: Sink) -> None:
        at: dict[str, int] = {}
        header, delimiter, header_lines = csv_header(path, self._header_check(path, at))
        mark = sink.mark()
        try:
            self._columns(path, sink, header, at, delimiter, header_lines)
        except fastcsv.NotFast:     # something only the row reader judges exactly: read it again row by row
            sink.rollback(mark)
            self._rows(path, sink)

    @staticmethod
    def _header_check(path: Path, at: dict[str, int]) -> Callable[[list[str]], list[str]]:
        """The header check, filling `at` with the position of each role's column."""
        def check(header: list[str]) -> list[str]:
            at.clear()
            for index, name in enumerate(header):
                role = _role_of(name)
                if role is not None and role not in at:
                    at[role] = index
            missing = [role for role in ("user", "day", "client") if role not in at]
            if missing:
                raise ExportFormatError(f"{path}: missing column(s) for {', '.join(missing)} (not a {KIRO_SHAPE}; "
                                        f"accepted names: {', '.join(n for r in missing for n in KIRO_COLUMNS[r])})")
            if not {"messages", "conversations", "credits_used"} & at.keys():
                raise ExportFormatError(f"{path}: none of the count columns (messages, conversations, credits "
                                        f"used) are in the header (not a {KIRO_SHAPE})")
            return header
        return check

    def _columns(self, path: Path, sink: Sink, header: list[str], at: dict[str, int], delimiter: str,
                 header_lines: int) -> None:
        """The fast path: a block of rows at a time, whole columns converted at once."""
        # a date it refuses sends the file to the row reader, which names the line: no place needed here
        parse = partial(KIRO_DATES.parse, path, "", field=header[at["day"]], noun="column")
        counted = [role for role in COUNTED if role in at]
        seen_users = fastcsv.Known()
        seen_clients = fastcsv.Known()
        for cells in fastcsv.blocks(path, len(header), delimiter, header_lines):
            users = fastcsv.codes(sink, "user", cells[at["user"]], fastcsv.checked(csv_identity), seen_users)
            days = fastcsv.day_ordinals(cells[at["day"]], parse)
            splits = fastcsv.codes(sink, "split", cells[at["client"]],
                                   lambda text: (fastcsv.checked(_client)(text),), seen_clients)
            values = {role: (fastcsv.amounts if "credits" in role else fastcsv.counts)(cells[at[role]])
                      for role in counted}
            sink.add_block(users, days, self.kind, [values.get("messages"), None, None, None, None],
                           {role: values[role] for role in EXTRA_ROLES if role in values}, splits=splits)

    def _rows(self, path: Path, sink: Sink) -> None:
        """Row by row: slower, and the reader that names the file and line of a bad cell."""
        at: dict[str, int] = {}
        header, rows = csv_rows(path, KIRO_SHAPE, self._header_check(path, at))
        clients: dict[str, str] = {}
        counted = [role for role in COUNTED if role in at]
        for line, cells in rows:
            user = csv_identity(cells[at["user"]])
            if not user:
                raise no_user(path, line, header[at["user"]])
            text = cells[at["day"]]
            if not text.strip():
                raise ExportFormatError(f"{path}: line {line}: column {header[at['day']]!r} is blank")
            day = KIRO_DATES.parse(path, f"line {line}", text, header[at["day"]], "column")
            client = _client(cells[at["client"]])
            client = clients.setdefault(client, client)     # one copy per client name, kept in every key
            if not client:
                raise ExportFormatError(f"{path}: line {line}: column {header[at['client']]!r} is blank "
                                        f"(expected one of {', '.join(KIRO_CLIENTS)})")
            values = {role: (csv_amount if "credits" in role else csv_count)(path, line, cells[at[role]],
                                                                             header[at[role]])
                      for role in counted}
            sink.add(user, day, self.kind,
                     (values.get("messages", np.nan), np.nan, np.nan, np.nan, np.nan),
                     {role: values[role] for role in EXTRA_ROLES if role in values}, split=(client,))


def _client(text: str) -> str:
    """The client as the key holds it: KIRO_IDE whatever its spacing or case."""
    return text.strip().upper()
