"""The methods the detector exercises teach, as pure functions the app's widgets call.

Module 4 builds a weighted score from per-employee features and flags everyone above a
threshold; module 5 follows each person's weekly outcome-linked signals and flags those whose
level rose at a change point. Both show their trade-off (precision, recall, F1, flag count) on
the course's labelled tuning company; the learner's flags are made on their practice company and
checked against its hidden truth. The graded company's truth is never used in the app.
Module 3's pilot estimate gets its two groups' rates here (closed work per person-week before
the pilot and in the pilot window), so it can be done in the app.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from course import charts
from datasets import measures
from exercises import causal
from exercises.checks import f1_score

# Per-employee features a score may use (columns of charts.employee_features). The learner picks
# the weights, including their sign: which direction means "performed" is part of the lesson.
SCORE_FEATURES: dict[str, str] = {
    "acceptance_rate": "Share of AI output kept",
    "linked_session_share": "Share of sessions that fed closed or merged work",
    "self_authored_share": "Share of prompts on own documents",
    "repeated_prompt_share": "Share of repeated prompts",
    "tokens_per_week": "Tokens per week",
    "sessions": "Sessions",
    "share_after_mandate": "Share of AI events after the mandate",
}
SHARE_FEATURES = frozenset({"acceptance_rate", "linked_session_share", "self_authored_share",
                            "repeated_prompt_share", "share_after_mandate"})
WEIGHT_RANGE = (-2.0, 2.0)
THRESHOLD_RANGE = (0.0, 1.0)       # a score is a weighted mean of values on a 0-1 scale
ACTIVE_SHARE = 0.5                 # "real usage": at least half the median AI user's events


def scored_people(features: pd.DataFrame, active_only: bool = True) -> pd.DataFrame:
    """The people a detector scores: AI users, and with `active_only` those with at least half the
    median AI user's events (light users are not tokenmaxxers, whatever their habits)."""
    users = features[features["ai_events"] > 0]
    if active_only and len(users):
        users = users[users["ai_events"] >= ACTIVE_SHARE * users["ai_events"].median()]
    return users


def feature_scale(values: pd.Series, column: str) -> pd.Series:
    """A feature on a 0-1 scale: shares as they are (so a threshold means the same in every
    company, whatever its share of tokenmaxxers), counts as their rank among the scored people."""
    if column in SHARE_FEATURES:
        return values.astype("float64").clip(0.0, 1.0)
    return values.astype("float64").rank(pct=True)


def weighted_score(features: pd.DataFrame, weights: Mapping[str, float],
                   active_only: bool = True) -> pd.Series:
    """Per scored employee (index employee_id): the weighted mean of the features on a 0-1 scale.

    A positive weight counts a feature as it is, a negative one counts 1 minus it (a low value
    looks performed), so the score stays between 0 and 1 and 1 means every chosen feature at its
    performed end. A missing value counts as the middle of the scale.
    """
    people = scored_people(features, active_only).set_index("employee_id")
    used = {column: float(w) for column, w in weights.items() if w and column in SCORE_FEATURES}
    if not used or people.empty:         # no score: nobody is scored, so nobody is flagged
        return pd.Series(dtype="float64", name="score")
    scaled = pd.DataFrame({column: feature_scale(people[column], column) for column in used}, index=people.index)
    return weighted_share_mean(scaled, used).rename("score")


def weighted_share_mean(shares: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """The weighted mean of 0-1 columns: a negative weight counts 1 minus the column (a low value
    looks performed), a missing value counts as the middle of the scale."""
    total = sum(abs(w) * (shares[c].fillna(0.5) if w > 0 else 1.0 - shares[c].fillna(0.5))
                for c, w in weights.items())
    return total / sum(abs(w) for w in weights.values())


def flag_above(score: pd.Series, threshold: float) -> list[str]:
    """Everyone whose score is above the threshold, in id order."""
    return sorted(str(e) for e in score.index[score.to_numpy() > threshold])


@dataclass(frozen=True)
class TradeOff:
    """What a detector's settings do on a company with known answers."""

    flagged: int
    precision: float
    recall: float
    f1: float


def trade_off(flagged: Iterable[str], truth: Iterable[str]) -> TradeOff:
    flags = {str(e) for e in flagged}
    precision, recall, f1 = f1_score(flags, {str(e) for e in truth})
    return TradeOff(len(flags), precision, recall, f1)


def threshold_curve(score: pd.Series, truth: Iterable[str],
                    thresholds: Iterable[float] | None = None) -> pd.DataFrame:
    """Precision, recall, F1 and flag count of `score` at each threshold (on labelled data)."""
    truth_set = {str(e) for e in truth}
    steps = np.round(np.arange(THRESHOLD_RANGE[0], THRESHOLD_RANGE[1] + 1e-9, 0.02), 2) \
        if thresholds is None else list(thresholds)
    rows = []
    for threshold in steps:
        result = trade_off(flag_above(score, float(threshold)), truth_set)
        rows.append({"threshold": float(threshold), "flagged": result.flagged,
                     "precision": round(result.precision, 3), "recall": round(result.recall, 3),
                     "f1": round(result.f1, 3)})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- change points

SIGNALS: dict[str, str] = {
    "habits": "Outcome-linked habits (mean of output kept, sessions linked to work, prompts not on "
              "own documents, prompts not repeated)",
    "outcome_linked": "Outcome-linked share (mean of output kept and sessions linked to work)",
    "accepted": "Share of AI output kept",
    "linked": "Share of sessions that fed closed or merged work",
}
METHODS: dict[str, str] = {
    "detected": "A change point found per person (the week that best splits their series)",
    "fixed_week": "A before/after split at one week you choose, the same for everyone",
}
MIN_SIDE_WEEKS = 3                 # a change point needs at least this many weeks on each side
NON_USER_SHARE = measures.NON_USER_SHARE  # the one definition of a non-user (datasets/measures.py)


@dataclass(frozen=True)
class WeeklySignals:
    """Per-employee weekly sums (rows: employee ids, columns: week starts) of one company's AI
    users (non-users, under a tenth of the median person's events, are left out)."""

    weeks: list[pd.Timestamp]
    events: pd.DataFrame
    accepted: pd.DataFrame
    linked: pd.DataFrame
    own_document: pd.DataFrame
    repeated: pd.DataFrame

    def sums(self, signal: str) -> pd.DataFrame:
        if signal == "accepted":
            return self.accepted
        if signal == "linked":
            return self.linked
        if signal == "outcome_linked":
            return (self.accepted + self.linked) / 2
        if signal == "habits":
            return (self.accepted + self.linked + (self.events - self.own_document)
                    + (self.events - self.repeated)) / 4
        raise ValueError(f"unknown signal {signal!r}; known: {', '.join(SIGNALS)}")

    def rates(self, signal: str) -> pd.DataFrame:
        """The signal per person and week (NaN in weeks without AI events)."""
        return self.sums(signal) / self.events.where(self.events > 0)


def weekly_signals(company: Any) -> WeeklySignals:
    """Each AI user's weekly events, kept outputs, events in sessions that fed closed work,
    prompts on their own documents and repeated prompts."""
    events = company.ai_events
    linked_sessions = measures.delivered_sessions(company.work_items)  # fed closed work: the one definition
    repeats = events.groupby(["employee_id", "prompt_fingerprint"])["event_id"].transform("size")
    frame = pd.DataFrame({
        "employee_id": events["employee_id"].astype(str),
        "week": measures.week_start(events["timestamp"]),
        "events": 1.0,
        "accepted": events["accepted"].astype("float64"),
        "linked": events["session_id"].isin(linked_sessions).astype("float64"),
        "own_document": events["doc_authored_by_self"].astype("float64"),
        "repeated": (repeats > 1).astype("float64"),
    })
    per_person = measures.events_per_person(company)
    users = per_person[~measures.non_users(per_person) & (per_person > 0)].index.astype(str)
    frame = frame[frame["employee_id"].isin(users)]
    columns = ["events", "accepted", "linked", "own_document", "repeated"]
    sums = frame.groupby(["employee_id", "week"])[columns].sum()
    weeks = sorted(frame["week"].unique())
    wide = {name: sums[name].unstack("week").reindex(columns=weeks).fillna(0.0) for name in columns}
    return WeeklySignals([pd.Timestamp(w) for w in weeks], **wide)


def change_points(signals: WeeklySignals, signal: str, method: str,
                  split_week: int | None = None) -> pd.DataFrame:
    """Per person: the change week, the signal's level before and after it, and the rise.

    `detected` picks, per person, the split (at least MIN_SIDE_WEEKS weeks on each side) that
    maximises the rise weighted by sqrt(n_before·n_after/n) of weeks with events (a one-change
    mean-shift model); `fixed_week` splits everyone at week index `split_week`.
    Levels are event-weighted: kept outputs before the change over events before it.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    sums = signals.sums(signal).to_numpy()
    events = signals.events.to_numpy()
    n_weeks = events.shape[1]
    cum_sum = np.cumsum(sums, axis=1)
    cum_events = np.cumsum(events, axis=1)
    cum_active = np.cumsum(events > 0, axis=1)
    if method == "fixed_week":
        candidates = [min(max(1, int(split_week if split_week is not None else n_weeks // 2)),
                          n_weeks - 1)] if n_weeks > 1 else []
    else:
        candidates = list(range(MIN_SIDE_WEEKS, n_weeks - MIN_SIDE_WEEKS + 1))
    best_stat = np.full(len(events), -np.inf)
    best = np.full(len(events), -1)
    before_level = np.full(len(events), np.nan)
    after_level = np.full(len(events), np.nan)
    total_sum, total_events, total_active = cum_sum[:, -1], cum_events[:, -1], cum_active[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        for split in candidates:          # the change happens at the start of week `split`
            before = cum_sum[:, split - 1] / cum_events[:, split - 1]
            after = (total_sum - cum_sum[:, split - 1]) / (total_events - cum_events[:, split - 1])
            n_before = cum_active[:, split - 1]
            n_after = total_active - n_before
            weight = np.sqrt(n_before * n_after / np.maximum(1, n_before + n_after))
            stat = (after - before) * weight
            if method == "detected":
                stat = np.where((n_before >= MIN_SIDE_WEEKS) & (n_after >= MIN_SIDE_WEEKS), stat,
                                -np.inf)
            stat = np.where(np.isfinite(stat), stat, -np.inf)
            better = stat > best_stat
            best_stat = np.where(better, stat, best_stat)
            best = np.where(better, split, best)
            before_level = np.where(better, before, before_level)
            after_level = np.where(better, after, after_level)
    found = best >= 0
    return pd.DataFrame({
        "employee_id": signals.events.index.astype(str),
        "change_week": [signals.weeks[i].date() if ok else None for i, ok in zip(best, found)],
        "before": np.round(before_level, 3),
        "after": np.round(after_level, 3),
        "rise": np.round(after_level - before_level, 3),
    })


def flag_converts(points: pd.DataFrame, min_rise: float, max_before: float) -> list[str]:
    """People whose signal rose by at least `min_rise` from a level at most `max_before`: they
    started performative and changed (genuine adopters start high; calcified people never rise)."""
    chosen = (points["rise"] >= min_rise) & (points["before"] <= max_before)
    return sorted(points.loc[chosen.fillna(False).astype(bool), "employee_id"].astype(str))


def group_timeline(signals: WeeklySignals, signal: str, flagged: Iterable[str]) -> pd.DataFrame:
    """The signal week by week for the flagged people against every other AI user (event-weighted)."""
    flags = {str(e) for e in flagged}
    in_group = signals.events.index.astype(str).isin(flags)
    sums = signals.sums(signal)
    rows = []
    for name, mask in (("flagged", in_group), ("other AI users", ~in_group)):
        if not mask.any():
            continue
        events = signals.events[mask].sum()
        level = sums[mask].sum() / events.where(events > 0)
        rows.append(pd.DataFrame({"week": signals.weeks, "group": name,
                                  "level": level.to_numpy().round(3),
                                  "people": int(mask.sum())}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["week", "group", "level", "people"])


# ----------------------------------------------------------------------------- module 3: the pilot

PILOT_GROUPS = ("first wave", "not yet licensed")


def pilot_rates(company: Any) -> pd.DataFrame:
    """The pilot's two groups in the released tables: how many people, and closed work per
    person-week before the first access date and in the window from it to the day before the
    second (a later wave is a fair comparison only until its own access begins), work counted by
    the day it was opened, as exercises.causal's reference does.

    The ratio of the two groups' window-to-before ratios, minus one, is the reference estimate;
    the app shows the rates and leaves that step, and the choice of groups and periods it rests
    on, to the learner."""
    pilot = causal.pilot_design(company)
    people = pilot.people
    done = measures.closed_work(company.work_items)
    opened = pd.to_datetime(done["created_at"])
    owner = done["employee_id"].astype(str)
    rows = []
    for name, in_wave in zip(PILOT_GROUPS, (True, False), strict=True):
        ids = set(people.loc[people["wave"] == in_wave, "employee_id"])
        row: dict[str, Any] = {"group": name, "people": len(ids)}
        for column, (lo, hi) in (("before the pilot", (pilot.start, pilot.pilot)),
                                 ("pilot window", (pilot.pilot, pilot.second))):
            weeks = (hi - lo) / pd.Timedelta(days=7)
            closed = int((owner.isin(ids) & (opened >= lo) & (opened < hi)).sum())
            row[column] = round(closed / (len(ids) * weeks), 3) if ids and weeks > 0 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def pilot_dates(company: Any) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """The first access date, the second (the window's end) and the last (everyone licensed)."""
    pilot = causal.pilot_design(company)
    return pilot.pilot, pilot.second, pilot.mandate
