"""Candidate dashboard metrics, and whether each one survives being made a target (Goodhart).

Used by the `metrics.dashboard_design` check and by the course's "metrics that survive" module.
`kind` is one of: activity (counts what people do), outcome (what the work delivers), quality (a
guardrail that catches gaming an outcome), perception (what people say).
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("activity", "outcome", "quality", "perception")


@dataclass(frozen=True)
class Metric:
    id: str
    name: str
    kind: str
    survives_target: bool
    why: str


_METRICS = (
    Metric(
        "ai_sessions_per_user", "AI sessions per user per week", "activity", False,
        "Opening a session costs nothing; once rewarded it climbs with no change in the work.",
    ),
    Metric(
        "tokens_per_user", "Tokens per user", "activity", False,
        "Longer prompts and regenerated answers inflate it; it measures spend, not value.",
    ),
    Metric(
        "active_ai_users", "Share of staff active with AI tools", "activity", False,
        "One prompt a week makes a person 'active': the mandate alone moves it.",
    ),
    Metric(
        "suggestion_acceptance_rate", "Suggestion acceptance rate", "activity", False,
        "It tracks how productive people feel more than how productive they are, and accepting "
        "then deleting games it.",
    ),
    Metric(
        "merged_prs_per_engineer", "Merged pull requests per engineer per week", "outcome", True,
        "Harder to fake than activity, especially when paired with rework so that splitting or "
        "rushing work shows up.",
    ),
    Metric(
        "cycle_time", "Median cycle time from start to merge or close", "outcome", True,
        "Faster delivery of the same work is the benefit we want; pair it with quality.",
    ),
    Metric(
        "closed_tickets_per_team", "Closed tickets per team per week", "outcome", True,
        "Team-level output: less exposed to individual gaming and to ticket splitting if rework "
        "is watched too.",
    ),
    Metric(
        "rework_rate", "Share of work reopened, reverted or rewritten", "quality", True,
        "A guardrail: rushing or padding output makes it rise.",
    ),
    Metric(
        "change_failure_rate", "Share of changes that cause a failure in production", "quality", True,
        "A DORA guardrail that catches speed bought with breakage.",
    ),
    Metric(
        "self_reported_speedup", "Self-reported speed-up from AI", "perception", False,
        "People believe they are faster even when measured slower (METR 2025): useful context, "
        "a poor target.",
    ),
    Metric(
        "ai_linked_merged_share", "Share of merged work fed by an AI session", "outcome", True,
        "It asks whether AI use reached delivered work, so padding sessions does not move it.",
    ),
)

METRIC_CATALOGUE: dict[str, Metric] = {m.id: m for m in _METRICS}
