"""An audit as a workshop room's scenario: the audit's team-week aggregates in a small, versioned
JSON file a trainer carries from `theater audit` (or the audit page) to the room.

The file holds what the audit report shows and nothing more: teams of at least MIN_GROUP people
with their size, one row per team and week (active users, AI interactions, delivered work,
incidents; a count of people under MIN_GROUP is blank), the period, and the report's findings and
cautions. No user id, no person-level row. A file is validated on every load (the upload, the
shell, the room's stored copy): a wrong, hand-edited or hostile file is refused with one line that
names the problem.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import Field, StringConstraints, ValidationError, model_validator

from datasets.errors import UserError
from datasets.validation import FileModel, describe

FORMAT = "signal-or-theater/audit-room"
VERSION = 1
MIN_GROUP = 5                    # as course.audit.MIN_GROUP: a file may not claim a smaller one
MAX_FILE_BYTES = 5_000_000       # a hundred teams over two years is about 1.2 MB
MAX_ROWS = 50_000
MAX_TEAMS = 2_000
MAX_LINES = 40                   # findings or cautions
MAX_COUNT = 1e12                 # any real count is far below; sums of such stay finite
WEEKLY_COLUMNS = ("team", "week", "active_users", "interactions", "delivered", "incidents")
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")

TeamName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
Line = Annotated[str, StringConstraints(min_length=1, max_length=2_000)]
Count = Annotated[float, Field(ge=0, le=MAX_COUNT)]


class AuditRoomError(UserError):
    """A room file that cannot be used: not JSON, another format or version, or data a room file
    never holds (a person's row, a group under five, a negative count)."""


class Team(FileModel):
    team: TeamName
    people: Annotated[int, Field(ge=MIN_GROUP, le=10_000_000)]

    @model_validator(mode="after")
    def _not_a_person(self) -> Team:
        if _EMAIL.search(self.team):
            raise ValueError(f"team {self.team[:40]!r} looks like an e-mail address: a room file "
                             "names teams, never people")
        return self


class TeamWeek(FileModel):
    team: TeamName
    week: dt.date
    active_users: Annotated[int, Field(ge=0, le=10_000_000)] | None
    interactions: Count | None
    delivered: Count | None
    incidents: Count | None


class AuditRoomFile(FileModel):
    """The room file: what `theater audit --room-file` writes and a room is created on."""

    format: Literal["signal-or-theater/audit-room"]
    version: Literal[1]
    min_group: Annotated[int, Field(ge=MIN_GROUP, le=1_000)] = MIN_GROUP
    window_weeks: Annotated[int, Field(ge=1, le=52)] = 4
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    # the board question compares the weeks before this date's week with the weeks from it (a
    # rollout's date, say); without it, the first and the last `window_weeks` weeks
    compare_from: dt.date | None = None
    teams: Annotated[list[Team], Field(max_length=MAX_TEAMS)] = []
    weekly: Annotated[list[TeamWeek], Field(max_length=MAX_ROWS)] = []
    findings: Annotated[list[Line], Field(max_length=MAX_LINES)] = []
    cautions: Annotated[list[Line], Field(max_length=MAX_LINES)] = []

    @model_validator(mode="after")
    def _only_team_week_aggregates(self) -> AuditRoomFile:
        sizes = {}
        for team in self.teams:
            if team.people < self.min_group:
                raise ValueError(f"team {team.team!r} has {team.people} people, under the file's "
                                 f"smallest group of {self.min_group}")
            if team.team in sizes:
                raise ValueError(f"team {team.team!r} is listed twice")
            sizes[team.team] = team.people
        seen = set()
        for number, row in enumerate(self.weekly, start=1):
            where = f"weekly row {number} ({row.team}, {row.week})"
            if row.team not in sizes:
                raise ValueError(f"{where}: the team is not among the file's teams")
            if row.week.weekday() != 0:
                raise ValueError(f"{where}: a week starts on a Monday")
            if (row.team, row.week) in seen:
                raise ValueError(f"{where}: the same team and week twice")
            seen.add((row.team, row.week))
            if row.active_users is not None and not self.min_group <= row.active_users <= sizes[row.team]:
                raise ValueError(f"{where}: {row.active_users} active users; a count under "
                                 f"{self.min_group} is left blank and none exceeds the team's "
                                 f"{sizes[row.team]} people")
            if self.period_start and self.period_end and not \
                    self.period_start <= row.week <= self.period_end:
                raise ValueError(f"{where}: the week lies outside the file's period")
        if self.period_start and self.period_end and self.period_start > self.period_end:
            raise ValueError("the period ends before it starts")
        return self

    @property
    def people(self) -> int:
        """People in the teams shown (the denominator of 'share of people using AI')."""
        return sum(team.people for team in self.teams)

    def weekly_frame(self) -> pd.DataFrame:
        """The audit's weekly table again (as course.audit.Audit.weekly), for its chart and the
        board question: blanks as NaN, weeks as timestamps."""
        frame = pd.DataFrame([row.model_dump() for row in self.weekly],
                             columns=list(WEEKLY_COLUMNS))
        frame["week"] = pd.to_datetime(frame["week"])
        for column in WEEKLY_COLUMNS[2:]:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        return frame.sort_values(["week", "team"], ignore_index=True)


def with_comparison(file: AuditRoomFile, compare_from: dt.date | None) -> AuditRoomFile:
    """The file with the date its board question compares before and after (None: first and
    last weeks), validated again."""
    data = file.model_dump()
    data["compare_from"] = compare_from
    return AuditRoomFile.model_validate(data)


def _number(value: Any) -> float | int | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or pd.isna(value):
        return None
    value = float(value)
    return int(value) if value.is_integer() else value


def room_file(audit: Any) -> AuditRoomFile:
    """The room file of a course.audit.Audit: its team-week aggregates, period and sentences."""
    from course import audit as audit_lib

    weekly = audit.weekly
    rows = [] if not len(weekly) else [
        {"team": str(row.team), "week": pd.Timestamp(row.week).date(),
         "active_users": _number(row.active_users), "interactions": _number(row.interactions),
         "delivered": _number(row.delivered), "incidents": _number(row.incidents)}
        for row in weekly.itertuples(index=False)]
    shown = set(weekly["team"]) if len(weekly) else set()
    period = audit.period or (None, None)
    try:
        return _validated_file(audit_lib, audit, rows, shown, period)
    except ValidationError as exc:
        raise AuditRoomError(f"this audit cannot become a room file: {describe(exc)}") from None


def _validated_file(audit_lib: Any, audit: Any, rows: list[dict], shown: set,
                    period: tuple) -> AuditRoomFile:
    return AuditRoomFile.model_validate({
        "format": FORMAT, "version": VERSION, "min_group": audit_lib.MIN_GROUP,
        "window_weeks": audit_lib.WINDOW_WEEKS,
        "period_start": period[0].date() if period[0] is not None else None,
        "period_end": period[1].date() if period[1] is not None else None,
        "teams": [{"team": team, "people": people} for team, people in audit.people.items()
                  if team in shown],
        "weekly": rows,
        "findings": [line[:2_000] for line in audit.findings[:MAX_LINES]],
        "cautions": [line[:2_000] for line in audit.cautions[:MAX_LINES]]})


def room_file_json(audit: Any) -> str:
    """The room file as the text `theater audit --room-file` writes and the audit page offers;
    refused, like on reading, past MAX_FILE_BYTES (never a file the room would not take)."""
    file = room_file(audit)
    text = to_json(file)
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise AuditRoomError(f"this audit is too large for a room file ({len(file.teams)} teams "
                             f"over {len({row.week for row in file.weekly})} weeks make "
                             f"{len(text.encode('utf-8')) / 1e6:.1f} MB, at most "
                             f"{MAX_FILE_BYTES / 1e6:.0f} MB): audit fewer teams or a shorter period")
    return text


def to_json(file: AuditRoomFile) -> str:
    return json.dumps(file.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise AuditRoomError(f"the field {twice[0]!r} appears twice in one object")
    return dict(pairs)


def _refuse_constant(name: str) -> None:
    raise AuditRoomError(f"{name} is not a count")


def read_room_file(data: bytes | str, name: str = "the audit file") -> AuditRoomFile:
    """A room file, validated; anything else is an AuditRoomError naming `name` and the problem."""
    size = len(data.encode("utf-8") if isinstance(data, str) else data)
    if size > MAX_FILE_BYTES:
        raise AuditRoomError(f"{name} is {size / 1e6:.1f} MB; a room file is at most "
                             f"{MAX_FILE_BYTES / 1e6:.0f} MB (team-week aggregates only)")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        raw = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_refuse_constant)
    except AuditRoomError as error:
        raise AuditRoomError(f"{name}: {error}") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise AuditRoomError(f"{name} is not a room file: not JSON text. Write one with "
                             "`theater audit ... --room-file FILE.json` or the audit page's "
                             "download") from None
    if not isinstance(raw, Mapping):
        raise AuditRoomError(f"{name} is not a room file: its JSON is not an object")
    if raw.get("format") != FORMAT:
        raise AuditRoomError(f"{name} is not a room file (its 'format' is not {FORMAT!r}); write "
                             "one with `theater audit ... --room-file FILE.json`")
    if raw.get("version") != VERSION:
        raise AuditRoomError(f"{name} is a room file of version {str(raw.get('version'))[:20]!r}; "
                             f"this app reads version {VERSION}: write it again with this "
                             "version's `theater audit`")
    try:
        return AuditRoomFile.model_validate(raw)
    except ValidationError as exc:
        problem = describe(exc, raw)
        if any(e["type"] == "extra_forbidden" or "unknown field" in str(e["msg"])
               for e in exc.errors()):
            problem += " (a room file holds team-week aggregates only: no person-level column)"
        raise AuditRoomError(f"{name}: {problem}") from None
    except RecursionError:
        raise AuditRoomError(f"{name}: nested too deeply to be a room file") from None
