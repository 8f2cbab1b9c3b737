"""Read a team's delivery data from the files teams already have, for an audit beside AI usage.

Three shapes, each one row per delivered item in the tidy table of `OUTCOME_COLUMNS`:

- a GitHub pull-request export: `gh pr list --json number,author,createdAt,mergedAt` (or
  `gh pr list --state merged ...`), the REST `GET /repos/{o}/{r}/pulls?state=closed` list, or a
  GraphQL answer holding `pullRequests { nodes { ... } }`; a pull request counts once merged;
- a Jira issues CSV export (`Issue key`, `Created`, `Resolved`, `Assignee`): an issue counts
  once resolved;
- an incident list CSV (`team` and `started_at` or `date`, optional `severity`): each row an
  incident of that team, a guardrail beside delivered work.

`person` is what the file names (a GitHub login, a Jira assignee): a roster maps it to a team,
and the audit never reports a person. Dates that could mean two days (02/10/2026) are refused.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from datasets.importers import ExportFormatError, export_suffix, identity

OUTCOME_COLUMNS = ["person", "team", "day", "kind", "cycle_hours", "source"]
OUTCOME_KINDS = ("pull_request_merged", "issue_resolved", "incident")
JIRA_FORMATS = ("%d/%b/%y %I:%M %p", "%d/%b/%Y %I:%M %p", "%d/%b/%y %H:%M", "%d/%b/%Y %H:%M", "%d/%b/%y",
                "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def _when(path: Path, where: str, value: Any, field: str, formats: tuple[str, ...] = ()) -> datetime:
    """An ISO timestamp, or one of `formats` (Jira's 01/Oct/25 10:15 AM); naive times are UTC."""
    if not isinstance(value, str) or not value.strip():
        raise ExportFormatError(f"{path}: {where}: {field} is not a date ({value!r})")
    text = value.strip()
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        stamp = None
        for fmt in formats:
            try:
                stamp = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if stamp is None:
        hint = (" (a date written with numbers and slashes could be day or month first: export "
                "ISO dates or Jira's own 01/Oct/25 form)" if text[:2].isdigit() and "/" in text else "")
        raise ExportFormatError(f"{path}: {where}: {field} is not a date this importer reads ({text!r}){hint}")
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(timezone.utc).replace(tzinfo=None)
    return stamp


def _hours(start: datetime | None, end: datetime) -> float:
    return float("nan") if start is None else max(0.0, (end - start).total_seconds() / 3600.0)


def _pull_request_list(loaded: Any) -> list | None:
    """The list of pull requests in a gh/REST list or anywhere in a GraphQL answer (`nodes`)."""
    if isinstance(loaded, list):
        return loaded
    if isinstance(loaded, dict):
        if isinstance(loaded.get("nodes"), list):
            return loaded["nodes"]
        for value in loaded.values():
            found = _pull_request_list(value) if isinstance(value, dict) else None
            if found is not None:
                return found
    return None


def _looks_like_pull_request(item: Any) -> bool:
    return isinstance(item, dict) and (("mergedAt" in item or "merged_at" in item)
                                      and ("author" in item or "user" in item))


def read_pull_requests(path: Path) -> list[dict]:
    """Merged pull requests of a GitHub export, one row each."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise ExportFormatError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportFormatError(f"{path}: cannot read ({exc})") from None
    items = _pull_request_list(loaded)
    if items is None:
        raise ExportFormatError(f"{path}: no list of pull requests in this file")
    rows = []
    for number, item in enumerate(items, start=1):
        where = f"pull request {number}"
        if not _looks_like_pull_request(item):
            raise ExportFormatError(f"{path}: {where}: expected author/user and mergedAt/merged_at "
                                    "(export with `gh pr list --json number,author,createdAt,mergedAt`)")
        merged = item.get("mergedAt", item.get("merged_at"))
        if merged in (None, ""):
            continue                     # open or closed without merging: not delivered
        who = item.get("author", item.get("user")) or {}
        login = identity(str(who.get("login", ""))) if isinstance(who, dict) else ""
        if not login:
            raise ExportFormatError(f"{path}: {where}: the author has no login")
        merged_at = _when(path, where, merged, "mergedAt")
        created = item.get("createdAt", item.get("created_at"))
        created_at = _when(path, where, created, "createdAt") if created else None
        rows.append({"person": login, "team": None, "day": merged_at.date(), "kind": "pull_request_merged",
                     "cycle_hours": _hours(created_at, merged_at), "source": "github-pull-requests"})
    return rows


def _csv_table(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [cell.strip() for cell in next(reader, [])]
            rows = [(reader.line_num, cells) for cells in reader if any(c.strip() for c in cells)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ExportFormatError(f"{path}: cannot read as CSV ({exc})") from None
    if not header:
        raise ExportFormatError(f"{path}: the file is empty")
    for line, cells in rows:
        if len(cells) != len(header):
            raise ExportFormatError(f"{path}: line {line}: {len(cells)} cells, the header has {len(header)}")
    return header, rows


def _column(header: list[str], *names: str) -> int | None:
    lowered = [h.lower() for h in header]
    for name in names:
        if name.lower() in lowered:
            return lowered.index(name.lower())
    return None


def read_jira_issues(path: Path) -> list[dict]:
    """Resolved issues of a Jira CSV export, one row each (assignee as the person)."""
    header, rows = _csv_table(path)
    created_at, resolved_at = _column(header, "Created"), _column(header, "Resolved")
    assignee = _column(header, "Assignee", "Assignee Id")
    missing = [name for name, at in (("Created", created_at), ("Resolved", resolved_at),
                                     ("Assignee", assignee)) if at is None]
    if missing:
        raise ExportFormatError(f"{path}: missing column(s) {', '.join(map(repr, missing))} (not a Jira "
                                "issues export)")
    out = []
    for line, cells in rows:
        if not cells[resolved_at].strip():
            continue
        resolved = _when(path, f"line {line}", cells[resolved_at], "Resolved", JIRA_FORMATS)
        created = (_when(path, f"line {line}", cells[created_at], "Created", JIRA_FORMATS)
                   if cells[created_at].strip() else None)
        person = identity(cells[assignee]) or None
        out.append({"person": person, "team": None, "day": resolved.date(), "kind": "issue_resolved",
                    "cycle_hours": _hours(created, resolved), "source": "jira-issues"})
    return out


def read_incidents(path: Path) -> list[dict]:
    """Incidents of a CSV list, one row each, attributed to the team the file names."""
    header, rows = _csv_table(path)
    team_at = _column(header, "team", "owning team", "service team")
    day_at = _column(header, "started_at", "started", "date", "opened_at", "created")
    if team_at is None or day_at is None:
        raise ExportFormatError(f"{path}: an incident list needs a 'team' and a 'started_at' (or 'date') "
                                "column")
    out = []
    for line, cells in rows:
        team = identity(cells[team_at])
        if not team:
            raise ExportFormatError(f"{path}: line {line}: the team is blank")
        started = _when(path, f"line {line}", cells[day_at], header[day_at], JIRA_FORMATS)
        out.append({"person": None, "team": team, "day": started.date(), "kind": "incident",
                    "cycle_hours": np.nan, "source": "incidents"})
    return out


def outcome_kind(path: Path) -> str | None:
    """Which outcome file this is, from its first bytes; None when it is none of them."""
    suffix = export_suffix(path)
    try:
        head = path.open("r", encoding="utf-8-sig", errors="ignore").read(64 * 1024)
    except OSError:
        return None
    if suffix == ".json":
        try:
            items = _pull_request_list(json.loads(path.read_text(encoding="utf-8-sig")))
        except (ValueError, OSError):
            return None
        return "github-pull-requests" if items and _looks_like_pull_request(items[0]) else None
    if suffix == ".csv":
        first = next(csv.reader([head.splitlines()[0] if head.splitlines() else ""]), [])
        names = {cell.strip().lower() for cell in first}
        if {"issue key", "resolved"} <= names:
            return "jira-issues"
        if "team" in names and names & {"started_at", "started", "date", "opened_at", "created"} \
                and ("severity" in names or "incident" in path.name.lower()):
            return "incidents"
    return None


OUTCOME_READERS = {"github-pull-requests": read_pull_requests, "jira-issues": read_jira_issues,
                   "incidents": read_incidents}


def read_outcomes(paths: Iterable[Path]) -> pd.DataFrame:
    """Every outcome file in one tidy table; a file that is none of them is an error naming it."""
    rows: list[dict] = []
    for path in paths:
        kind = outcome_kind(Path(path))
        if kind is None:
            raise ExportFormatError(f"{path}: not a pull-request export, a Jira issues CSV or an incident list")
        rows += OUTCOME_READERS[kind](Path(path))
    frame = pd.DataFrame(rows, columns=OUTCOME_COLUMNS)
    frame["day"] = pd.to_datetime(frame["day"])
    frame["cycle_hours"] = pd.to_numeric(frame["cycle_hours"]).astype(float)
    return frame


@dataclass(frozen=True)
class Roster:
    """Who is in which team: each identity (login, email) to its team, and each team's head count
    (people, not identities: one row of the roster is one person)."""

    teams: dict[str, str]
    sizes: dict[str, int]


def read_roster(path: Path) -> Roster:
    """A CSV with a `team` column and one or more identity columns (`user`, `login`, `email`,
    `jira`): one row per person, every identity on the row mapped to the team."""
    header, rows = _csv_table(path)
    team_at = _column(header, "team")
    ids = [i for i in (_column(header, "user"), _column(header, "login"), _column(header, "email"),
                       _column(header, "jira")) if i is not None]
    if team_at is None or not ids:
        raise ExportFormatError(f"{path}: a roster needs a 'team' column and a 'user', 'login' or 'email' column")
    teams: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for line, cells in rows:
        team = identity(cells[team_at])
        if not team:
            raise ExportFormatError(f"{path}: line {line}: the team is blank")
        people = [identity(cells[at]) for at in ids if identity(cells[at])]
        if not people:
            raise ExportFormatError(f"{path}: line {line}: no identity on this row")
        for person in people:
            if person in teams:
                raise ExportFormatError(f"{path}: line {line}: {person!r} is on the roster twice; an audit "
                                        "counts each person once, in one team")
            teams[person] = team
        sizes[team] = sizes.get(team, 0) + 1
    if not teams:
        raise ExportFormatError(f"{path}: the roster names nobody")
    return Roster(teams=teams, sizes=sizes)


def monday(days: pd.Series) -> pd.Series:
    """The Monday that starts each day's week."""
    days = pd.to_datetime(days).dt.normalize()
    return days - pd.to_timedelta(days.dt.weekday, unit="D")


__all__ = ["OUTCOME_COLUMNS", "OUTCOME_KINDS", "Roster", "monday", "outcome_kind", "read_outcomes", "read_roster"]
