"""Dashboard design (`metrics.*`): the share of design criteria a proposed dashboard meets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exercises.checks.core import AppWidget, Example, Incorrect, Reading, check
from exercises.checks.readers import as_id_set

DASHBOARD_MIN, DASHBOARD_MAX = 2, 5


@check(
    "metrics.dashboard_design",
    truth_source="catalogue",
    widget=AppWidget("choose_metrics", company=False),
    visibility="message",
    hints=[
        "A metric that is cheap to move without doing the work will be moved without the work.",
        "Put at least one outcome on the dashboard, and a guardrail that catches gaming it.",
        "Keep it short: between 2 and 5 metrics that leaders can actually discuss.",
    ],
    passing=[
        (["customer_fix_time", "rework_rate", "cycle_time"], None),
        (["cycle_time", "change_failure_rate"], None),
    ],
    failing=[
        Example(["ai_sessions_per_user", "tokens_per_user", "active_ai_users"], None, "activity only"),
        Example(["cycle_time"], None, "a single metric, no guardrail"),
        Example(["merged_prs_per_team", "rework_rate", "cycle_time"], None, "an output count as a target"),
        Example(["ai_linked_merged_share", "change_failure_rate"], None, "an attribution share as the outcome"),
        Example(["no_such_metric"], None, "unknown metric id"),
    ],
)
def dashboard_design(answer: Any, truth: Any) -> tuple[float, str, Reading]:
    """The share of design criteria a proposed dashboard meets (outcome, guardrail, no gameable target, size)."""
    from exercises.metrics import METRIC_CATALOGUE

    catalogue = truth if isinstance(truth, Mapping) and truth else METRIC_CATALOGUE
    chosen = as_id_set(answer, "metric ids")
    unknown = sorted(chosen - set(catalogue))
    if unknown:
        raise Incorrect(f"Unknown metric id(s): {', '.join(unknown)}. Pick ids from the catalogue.")
    metrics = [catalogue[m] for m in chosen]
    criteria = {
        "it includes at least one outcome metric": any(m.kind == "outcome" for m in metrics),
        "it includes a quality guardrail": any(m.kind == "quality" for m in metrics),
        "no metric on it is easy to game once it becomes a target": all(m.survives_target for m in metrics),
        f"it has between {DASHBOARD_MIN} and {DASHBOARD_MAX} metrics": DASHBOARD_MIN <= len(metrics) <= DASHBOARD_MAX,
    }
    met = [c for c, ok in criteria.items() if ok]
    score = len(met) / len(criteria)
    reading = Reading("design", "", agreed=len(met), total=len(criteria))
    if score >= 1.0:
        return 1.0, ("A dashboard that survives being a target: outcomes with a guardrail, nothing cheap "
                     "to game."), reading
    missing = [c for c, ok in criteria.items() if not ok]
    return score, "Not yet. Check that " + "; and that ".join(missing) + ".", reading
