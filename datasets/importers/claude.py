"""Anthropic's Claude Code reports: the Admin API's Claude Code analytics report
(usage_report/claude_code, per actor, terminal and day) and the Claude Enterprise analytics API's
per-user activity (analytics/users, beta, one day's pages per file). Both carry the contribution
counts — commits and pull requests made with Claude Code — kept as outcome-proximal columns."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from datasets.importers.base import (
    ACCEPTANCE, ACTIVITY, CONSUMPTION, OUTCOME_PROXIMAL, Dates, ExportFormatError, Head, Reader, Sink, count_of,
    flat_pages, json_records, require, shown, text_of,
)

CLAUDE_SHAPE = "Claude Code analytics report"
CLAUDE_DATES = Dates(("%Y-%m-%d",), "the form YYYY-MM-DD or an ISO timestamp", timestamps=True)
# what both reports say a user-day's Claude Code work shipped, beside the tidy counts
CONTRIBUTION_ROLES = {"sessions": ACTIVITY, "commits_by_claude_code": OUTCOME_PROXIMAL,
                      "pull_requests_by_claude_code": OUTCOME_PROXIMAL}
CONTRIBUTION_NOTE = ("Commits and pull requests made with Claude Code are outcome-proximal: they count what was "
                     "shipped with the tool, not what the tool changed, and rise whenever more work goes "
                     "through it.")


def _contribution(path: Path, where: str, sessions: Any, commits: Any, pull_requests: Any) -> dict[str, float]:
    """The contribution columns a record has (a missing one stays NaN for that user-day)."""
    found = {"sessions": sessions, "commits_by_claude_code": commits, "pull_requests_by_claude_code": pull_requests}
    return {name: count_of(path, where, value, name) for name, value in found.items() if value is not None}


class ClaudeCodeReader(Reader):
    """Claude Code daily records per actor, terminal and customer type."""

    kind = "claude-code"
    shape = CLAUDE_SHAPE
    roles = {"interactions": ACTIVITY, "acceptances": ACCEPTANCE, "tokens_in": CONSUMPTION,
             "tokens_out": CONSUMPTION, "lines_added": ACCEPTANCE, **CONTRIBUTION_ROLES}
    extra = dict.fromkeys(CONTRIBUTION_ROLES, "sum")
    notes = (CONTRIBUTION_NOTE,)

    def detect(self, head: Head) -> bool:
        return head.first is not None and "actor" in head.first and "date" in head.first

    def records(self, path: Path, sink: Sink) -> None:
        """Claude Code daily records: tool proposals as interactions, accepted ones as acceptances."""
        def pick(loaded: Any) -> list | None:
            return loaded.get("data") if isinstance(loaded, dict) else loaded

        for where, record in flat_pages(json_records(path, pick, CLAUDE_SHAPE), path, CLAUDE_SHAPE, "date"):
            require(path, where, record, ("date", "actor"), CLAUDE_SHAPE)
            actor = record["actor"] if isinstance(record["actor"], dict) else {}
            user = actor.get("email_address") or actor.get("api_key_name")
            if not user:
                raise ExportFormatError(f"{path}: {where}: actor has neither 'email_address' nor 'api_key_name'")
            user = text_of(path, where, user, "actor")
            day = CLAUDE_DATES.parse(path, where, record["date"], "date")
            tool_actions = record.get("tool_actions") or {}
            if not isinstance(tool_actions, dict):
                raise ExportFormatError(f"{path}: {where}: field 'tool_actions' is not an object")
            actions = [a for a in tool_actions.values() if isinstance(a, dict)]
            accepted = sum(count_of(path, where, a.get("accepted", 0), "accepted") for a in actions)
            rejected = sum(count_of(path, where, a.get("rejected", 0), "rejected") for a in actions)
            breakdown = record.get("model_breakdown") or []
            models = [m for m in breakdown if isinstance(m, dict)] if isinstance(breakdown, list) else []
            tokens = [m.get("tokens") if isinstance(m.get("tokens"), dict) else {} for m in models]
            core = record.get("core_metrics") if isinstance(record.get("core_metrics"), dict) else {}
            lines = core.get("lines_of_code") if isinstance(core.get("lines_of_code"), dict) else {}
            split = (str(record.get("terminal_type")), str(record.get("customer_type")))   # one record each
            sink.add(user, day, self.kind, (
                accepted + rejected if actions else np.nan,
                accepted if actions else np.nan,
                sum(count_of(path, where, t.get("input", 0), "tokens.input") for t in tokens) if models else np.nan,
                sum(count_of(path, where, t.get("output", 0), "tokens.output") for t in tokens) if models else np.nan,
                count_of(path, where, lines.get("added"), "lines_of_code.added", optional=True),
            ), _contribution(path, where, core.get("num_sessions"), core.get("commits_by_claude_code"),
                             core.get("pull_requests_by_claude_code")), split=split)


ENTERPRISE_SHAPE = "Claude Enterprise analytics per-user activity page"
DAY_IN_NAME = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")
TOOLS = ("edit_tool", "multi_edit_tool", "notebook_edit_tool", "write_tool")


def _day_of_file(path: Path) -> date:
    """The day a page was fetched for: its rows do not say, so the file name must (the `date` asked for)."""
    days = set(DAY_IN_NAME.findall(path.name))
    if len(days) != 1:
        said = "does not say which day it covers" if not days else f"names {len(days)} days in its file name"
        raise ExportFormatError(
            f"{path}: a {ENTERPRISE_SHAPE} {said}; save each day's pages in a file named with that one "
            "day, as asked for with date= (e.g. claude-users-2026-11-02.json)")
    return CLAUDE_DATES.parse(path, "the file name", days.pop(), "date", "part")


class ClaudeEnterpriseUsersReader(Reader):
    """GET /v1/organizations/analytics/users?date=DAY (beta): one row per member for that day.

    Only per-member rows of one day are read. A date-range rollup (starting_date=) sums many days
    into one row and a grouped answer (group_by[]=rbac_group_id) has no member: both are refused,
    as a row whose last_activity_date is not the file's day."""

    kind = "claude-enterprise"
    shape = ENTERPRISE_SHAPE
    roles = {"interactions": ACTIVITY, "acceptances": ACCEPTANCE, "lines_added": ACCEPTANCE, **CONTRIBUTION_ROLES}
    extra = dict.fromkeys(CONTRIBUTION_ROLES, "sum")
    notes = (CONTRIBUTION_NOTE,
             "Anthropic says a day's figures may be revised by a few percent over the following days: "
             "fetch a day again before comparing it.",
             "Pull requests here are created with Claude Code, not merged.")

    def detect(self, head: Head) -> bool:
        return head.first is not None and "claude_code_metrics" in head.first

    def records(self, path: Path, sink: Sink) -> None:
        """Tool proposals (accepted + rejected) as interactions, accepted ones as acceptances."""
        day = _day_of_file(path)

        def pick(loaded: Any) -> list | None:
            return loaded.get("data") if isinstance(loaded, dict) else loaded

        for where, record in flat_pages(json_records(path, pick, ENTERPRISE_SHAPE), path, ENTERPRISE_SHAPE,
                                        "claude_code_metrics"):
            require(path, where, record, ("user", "claude_code_metrics"), ENTERPRISE_SHAPE)
            member = record["user"]
            if not isinstance(member, dict) or record.get("distinct_user_count") is not None:
                raise ExportFormatError(f"{path}: {where}: a row for a group of members, not one (fetch without "
                                        "group_by[] to get one row per member)")
            user = text_of(path, where, member.get("email_address") or member.get("id"), "user.email_address")
            active = record.get("last_activity_date")
            if active is not None and CLAUDE_DATES.parse(path, where, active, "last_activity_date") != day:
                raise ExportFormatError(
                    f"{path}: {where}: last active on {shown(active)}, not on {day.isoformat()} (the day in the "
                    "file name): a date-range rollup (starting_date=) has no per-day counts; fetch one day a file")
            code = record["claude_code_metrics"]
            if not isinstance(code, dict) or not isinstance(code.get("core_metrics"), dict):
                raise ExportFormatError(f"{path}: {where}: field 'claude_code_metrics.core_metrics' is not an object")
            core = code["core_metrics"]
            tools = code.get("tool_actions")
            if tools is not None and not isinstance(tools, dict):
                raise ExportFormatError(f"{path}: {where}: field 'claude_code_metrics.tool_actions' is not an object")
            actions = [tools[name] for name in TOOLS if isinstance((tools or {}).get(name), dict)]
            accepted = sum(count_of(path, where, a.get("accepted_count", 0), "accepted_count") for a in actions)
            rejected = sum(count_of(path, where, a.get("rejected_count", 0), "rejected_count") for a in actions)
            lines = core.get("lines_of_code") if isinstance(core.get("lines_of_code"), dict) else {}
            sink.add(user, day, self.kind, (
                accepted + rejected if actions else np.nan,
                accepted if actions else np.nan,
                np.nan, np.nan,
                count_of(path, where, lines.get("added_count"), "lines_of_code.added_count", optional=True),
            ), _contribution(path, where, core.get("distinct_session_count"), core.get("commit_count"),
                             core.get("pull_request_count")))
