"""Anthropic Claude Code analytics report (Admin API usage_report/claude_code, JSON or NDJSON pages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from datasets.importers.base import (
    ACCEPTANCE, ACTIVITY, CONSUMPTION, Dates, ExportFormatError, Head, Reader, Sink, count_of, flat_pages,
    json_records, require, text_of,
)

CLAUDE_SHAPE = "Claude Code analytics report"
CLAUDE_DATES = Dates(("%Y-%m-%d",), "the form YYYY-MM-DD or an ISO timestamp", timestamps=True)


class ClaudeCodeReader(Reader):
    """Claude Code daily records per actor, terminal and customer type."""

    kind = "claude-code"
    shape = CLAUDE_SHAPE
    roles = {"interactions": ACTIVITY, "acceptances": ACCEPTANCE, "tokens_in": CONSUMPTION,
             "tokens_out": CONSUMPTION, "lines_added": ACCEPTANCE}

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
            ), split=split)
