"""Candidate dashboard metrics, and whether each one survives being made a target (Goodhart).

Used by the `metrics.dashboard_design` check and by the course's "metrics that survive" module.
`kind` is one of: activity (counts what people do with the tools), output (counts of delivered
items, which the SPACE framework also files under activity), outcome (what the work does for its
users: speed and problems solved), quality (a guardrail that catches gaming an outcome),
perception (what people say). Counts of output are watched by team beside a guardrail, never made
a target: splitting work raises them.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("activity", "output", "outcome", "quality", "perception")


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
        "A signal close to the outcome while nobody is rewarded for it; it matched how productive "
        "developers felt (Ziegler et al., 2022), and accepting then deleting games it.",
    ),
    Metric(
        "merged_prs_per_team", "Merged pull requests per team per week", "output", False,
        "A count of output: splitting work raises it. Worth watching by team beside rework, but as "
        "a target it rewards smaller pull requests, not more value.",
    ),
    Metric(
        "cycle_time", "Median cycle time from start to merge or close", "outcome", True,
        "Faster delivery of the same work is the benefit we want; pair it with quality.",
    ),
    Metric(
        "closed_tickets_per_team", "Closed tickets per team per week", "output", False,
        "Team-level output, less exposed to one person's gaming; made a target, tickets get split "
        "and closed early.",
    ),
    Metric(
        "customer_fix_time", "Time from a customer's reported problem to the fix in use", "outcome", True,
        "Customers open the reports, so the clock starts without the team; rushing a fix shows up "
        "as the problem coming back.",
    ),
    Metric(
        "customer_reported_defects", "Defects reported by customers per release", "quality", True,
        "Customers find what reached them; neither padding work nor splitting it lowers the count.",
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
        "ai_linked_merged_share", "Share of merged work fed by an AI session", "activity", False,
        "Useful for diagnosis while nobody is rewarded for it; made a target, it rises when people "
        "open a session for every pull request, which is AI use attached to work, not value.",
    ),
    Metric(
        "ai_cost_per_merged_item", "AI spend per merged pull request or closed ticket", "activity", False,
        "Tells leaders what the tools cost per item delivered, which they will ask; as a target, "
        "splitting items lowers it.",
    ),
)

METRIC_CATALOGUE: dict[str, Metric] = {m.id: m for m in _METRICS}
