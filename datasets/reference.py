"""The reference detector: outcome-linked per-employee features and a simple standardised score.

It shows the lesson can be learned from the public tables alone (no labels needed to compute the
features), and the exercises reuse it as the worked solution. The features:

- acceptance_rate: share of AI outputs that were accepted, kept or reused;
- self_doc_share: share of prompts about documents the employee wrote themselves;
- near_duplicate_rate: share of prompts that repeat an earlier prompt fingerprint of the same person;
- deadline_burst_ratio: AI events per business day just before dashboard refreshes, reporting
  deadlines and review cycles, divided by the rate on other business days;
- linked_session_share: share of the person's AI sessions that fed a work item which was merged
  or closed.

Volume features (tokens, sessions, events) are computed too: they are the baseline that fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from datasets.measures import Company, linked_session_share, mandate_date

OUTCOME_FEATURES = ("acceptance_rate", "self_doc_share", "near_duplicate_rate", "deadline_burst_ratio",
                    "linked_session_share")
VOLUME_FEATURES = ("total_tokens", "sessions", "events")
# Direction in which each feature points towards performative use.
THEATER_DIRECTION = {"acceptance_rate": -1.0, "self_doc_share": 1.0, "near_duplicate_rate": 1.0,
                     "deadline_burst_ratio": 1.0, "linked_session_share": -1.0}
BURST_EVENT_TYPES = ("dashboard_refresh", "reporting_deadline", "review_cycle")
BURST_WINDOW_BUSINESS_DAYS = 2


def roc_auc(scores: Any, positive: Any) -> float:
    """Rank-based ROC AUC (Mann-Whitney U), ties counted as half: no scikit-learn needed."""
    scores = np.asarray(scores, dtype=float)
    positive = np.asarray(positive, dtype=bool)
    keep = ~np.isnan(scores)
    scores, positive = scores[keep], positive[keep]
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC needs at least one positive and one negative example")
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def burst_days(calendar: pd.DataFrame, start: Any, end: Any,
               window: int = BURST_WINDOW_BUSINESS_DAYS) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """The burst days (the `window` business days up to each refresh, deadline or review) and all business days."""
    holidays = pd.to_datetime(calendar.loc[calendar["event_type"] == "holiday", "date"])
    business = pd.bdate_range(pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize())
    business = business[~business.isin(holidays)]
    targets = pd.to_datetime(calendar.loc[calendar["event_type"].isin(BURST_EVENT_TYPES), "date"])
    positions = np.searchsorted(business.values, targets.values, side="right")
    chosen = set()
    for pos in positions:
        chosen.update(range(max(0, pos - window), pos))
    return business[sorted(chosen)], business


def employee_features(company: Company, since: Any = "mandate") -> pd.DataFrame:
    """One row per employee with events: volume baseline and the outcome-linked features.

    `since="mandate"` uses the events from the mandate on (where performative use concentrates);
    None uses the whole period, or pass a date.
    """
    events = company.ai_events
    work = company.work_items
    if since is not None:
        cutoff = mandate_date(company) if since == "mandate" else pd.Timestamp(since)
        if cutoff is not None:
            events = events[events["timestamp"] >= cutoff]
    ts = pd.to_datetime(events["timestamp"])
    day = ts.dt.normalize()
    employee = events["employee_id"]
    grouped = events.groupby(employee, sort=True)
    features = pd.DataFrame({
        "events": grouped.size(),
        "sessions": grouped["session_id"].nunique(),
        "total_tokens": grouped["tokens_in"].sum() + grouped["tokens_out"].sum(),
        "acceptance_rate": grouped["accepted"].mean(),
        "self_doc_share": grouped["doc_authored_by_self"].mean(),
    })
    unique_prompts = events.drop_duplicates(["employee_id", "prompt_fingerprint"]).groupby("employee_id").size()
    features["near_duplicate_rate"] = 1.0 - unique_prompts / features["events"]

    bursts, business = burst_days(company.calendar, day.min(), day.max())
    in_burst = day.isin(bursts)
    on_business = day.isin(business)
    per_burst = (in_burst & on_business).groupby(employee).sum() / max(len(bursts), 1)
    per_other = (~in_burst & on_business).groupby(employee).sum() / max(len(business) - len(bursts), 1)
    features["deadline_burst_ratio"] = (per_burst + 0.5 / max(len(bursts), 1)) / \
        (per_other + 0.5 / max(len(business) - len(bursts), 1))

    features["linked_session_share"] = linked_session_share(events, work).reindex(features.index)
    features.index.name = "employee_id"
    return features


@dataclass(frozen=True)
class ReferenceDetector:
    """A standardised, direction-signed sum of features, weighted by how well each separated on training data."""

    means: dict[str, float]
    stds: dict[str, float]
    weights: dict[str, float]

    def score(self, features: pd.DataFrame) -> pd.Series:
        """Higher means more likely performative."""
        total = pd.Series(0.0, index=features.index)
        for name, weight in self.weights.items():
            z = (features[name] - self.means[name]) / self.stds[name]
            total = total + weight * z.fillna(0.0)
        return total.rename("theater_score")


def fit_reference_detector(features: pd.DataFrame, is_theater: pd.Series,
                           columns: tuple[str, ...] = OUTCOME_FEATURES) -> ReferenceDetector:
    """Weights = standardised mean difference between performative and genuine users (a naive LDA)."""
    is_theater = is_theater.reindex(features.index).astype(bool)
    means, stds, weights = {}, {}, {}
    for name in columns:
        values = features[name].astype(float)
        means[name] = float(values.mean())
        stds[name] = float(values.std()) or 1.0
        pooled = float(np.sqrt((values[is_theater].var() + values[~is_theater].var()) / 2)) or 1.0
        weights[name] = float((values[is_theater].mean() - values[~is_theater].mean()) / pooled)
    return ReferenceDetector(means=means, stds=stds, weights=weights)


def default_detector(features: pd.DataFrame) -> ReferenceDetector:
    """An untrained detector: equal weights in the expected directions, standardised on this company."""
    columns = OUTCOME_FEATURES
    return ReferenceDetector(
        means={c: float(features[c].mean()) for c in columns},
        stds={c: float(features[c].std()) or 1.0 for c in columns},
        weights=dict(THEATER_DIRECTION),
    )
