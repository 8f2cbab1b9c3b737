"""The hidden truth each check compares against, computed from a company WITH its labels.

Week, mandate date, period, closed work (output) and linked session are defined once in
datasets.measures (the notebooks and docs/instructors.md state the same ones to learners).

- Theater share: among AI events at or after the mandate date (the `mandate` row of the calendar,
  else `meta["mandate_date"]`), the share labelled `is_theater`. Without a mandate: all events.
- Access effect (what the measure notebook grades): the effect of AI access on closed work during
  the pilot window (pilot day P to the day before the mandate M) for the pilot wave (everyone whose
  `ai_access_from` is the earliest access date), in percent: 100 * (sum of lambda1 / sum of
  lambda0 - 1) over the wave's person-days in the window, where lambda1 and lambda0 are the
  generator's expected rates of new work with and without access (the labels'
  `pilot_expected_with` / `pilot_expected_without`: expected rates, not realised counts). The wave
  is random, so this is the intent-to-treat effect of access. The grade also needs the width of the
  reference method's interval on the same released data (exercises/causal.py).
- A session is theater when more than half of its events are labelled theater.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from datasets.errors import UserError
from exercises import causal
from datasets.measures import Company, closed_work, linked_work_per_session, mandate_date, week_label


class TruthError(UserError):
    """The company lacks what the truth needs (most often: it was loaded without labels)."""


def _labels(company: Company) -> pd.DataFrame:
    labels = getattr(company, "labels", None)
    if labels is None or len(labels) == 0:
        raise TruthError("this company has no labels: generate or load it with labels to grade")
    return labels


def _event_labels(company: Company) -> pd.DataFrame:
    labels = getattr(company, "event_labels", None)
    if labels is None or len(labels) == 0:
        raise TruthError("this company has no event labels: generate or load it with labels to grade")
    return labels


def weekly_usage_output(company: Company) -> pd.DataFrame:
    """Per week and team: AI events, distinct AI users, and closed work (the `explore` answer)."""
    teams = company.employees[["employee_id", "team"]]
    events = company.ai_events[["employee_id", "timestamp"]].merge(teams, on="employee_id", how="inner")
    events = events.assign(week=week_label(events["timestamp"]))
    usage = events.groupby(["week", "team"]).agg(
        ai_events=("employee_id", "size"), ai_users=("employee_id", "nunique")
    )
    closed = closed_work(company.work_items)[["employee_id", "closed_at"]]
    closed = closed.merge(teams, on="employee_id", how="inner")
    closed = closed.assign(week=week_label(closed["closed_at"]))
    output = closed.groupby(["week", "team"]).size().rename("closed_items")
    table = usage.join(output, how="outer").fillna(0).astype("int64").reset_index()
    table["team"] = table["team"].astype("string")
    table["week"] = table["week"].astype("string")
    return table.sort_values(["week", "team"], ignore_index=True)[
        ["week", "team", "ai_events", "ai_users", "closed_items"]
    ]


def session_theater_series(company: Company) -> pd.Series:
    """For every session: True when more than half of its events are theater."""
    events = company.ai_events[["event_id", "session_id"]].merge(
        _event_labels(company)[["event_id", "is_theater"]], on="event_id", how="inner"
    )
    share = events.groupby("session_id")["is_theater"].mean()
    return (share > 0.5).rename("is_theater")


def session_theater_labels(company: Company, session_ids: Any) -> dict[int, bool]:
    """The hidden label of each requested session (unknown ids are left out)."""
    series = session_theater_series(company)
    wanted = [int(s) for s in session_ids]
    present = series.reindex(wanted).dropna()
    return {int(k): bool(v) for k, v in present.items()}


def _most_common(events: pd.DataFrame, column: str) -> pd.Series:
    """Per session, the most frequent value of a column (ties: the alphabetically first)."""
    counts = events.groupby(["session_id", column], observed=True).size().rename("n").reset_index()
    counts = counts.sort_values(["session_id", "n", column], ascending=[True, False, True])
    return counts.drop_duplicates("session_id").set_index("session_id")[column].astype("string")


def _session_summary(company: Company, session_ids: Any = None) -> pd.DataFrame:
    events = company.ai_events
    if session_ids is not None:
        events = events[events["session_id"].isin(set(int(s) for s in session_ids))]
    grouped = events.groupby("session_id")
    summary = grouped.agg(
        employee_id=("employee_id", "first"),
        started_at=("timestamp", "min"),
        events=("event_id", "size"),
        tokens_in=("tokens_in", "sum"),
        tokens_out=("tokens_out", "sum"),
        accepted_share=("accepted", "mean"),
        distinct_prompts=("prompt_fingerprint", "nunique"),
        self_authored_share=("doc_authored_by_self", "mean"),
    )
    summary.insert(3, "tool", _most_common(events, "tool").reindex(summary.index))
    summary.insert(4, "prompt_category", _most_common(events, "prompt_category").reindex(summary.index))
    summary["linked_work_items"] = (linked_work_per_session(company.work_items)
                                    .reindex(summary.index, fill_value=0).astype("int64"))
    summary["accepted_share"] = summary["accepted_share"].astype(float).round(2)
    summary["self_authored_share"] = summary["self_authored_share"].astype(float).round(2)
    return summary


def sample_sessions(company: Company, n: int, seed: int) -> pd.DataFrame:
    """A balanced sample (half theater, half genuine, shuffled) of sessions to label, without labels."""
    labels = session_theater_series(company)
    rng = np.random.default_rng(seed)
    theater = labels.index[labels.to_numpy()].to_numpy()
    genuine = labels.index[~labels.to_numpy()].to_numpy()
    n_theater = min(len(theater), n // 2 + n % 2)
    n_genuine = min(len(genuine), n - n_theater)
    n_theater = min(len(theater), n - n_genuine)
    picked = np.concatenate(
        [rng.choice(theater, n_theater, replace=False), rng.choice(genuine, n_genuine, replace=False)]
    )
    rng.shuffle(picked)
    summary = _session_summary(company, picked).loc[picked]
    return summary.reset_index()


class EmployeeGroup(frozenset):
    """The hidden ids of one group, plus how many employees used AI at all (public, from the logs).

    A plain frozenset everywhere; `ai_users` lets the `detect` checks give no credit to flagging
    every AI user (exercises.checks.chance_f1).
    """

    ai_users: int | None = None

    def __new__(cls, ids: Any = (), ai_users: int | None = None) -> "EmployeeGroup":
        group = super().__new__(cls, ids)
        group.ai_users = ai_users
        return group

    def __reduce__(self):
        return (EmployeeGroup, (set(self), self.ai_users))


def _archetype_ids(company: Company, archetype: str) -> set[str]:
    labels = _labels(company)
    return set(labels.loc[labels["archetype"] == archetype, "employee_id"].astype(str))


def _group(company: Company, archetype: str) -> EmployeeGroup:
    users = int(company.ai_events["employee_id"].nunique())
    return EmployeeGroup(_archetype_ids(company, archetype), ai_users=users)


def tokenmaxxer_ids(company: Company) -> EmployeeGroup:
    """Employees whose AI use is performative throughout."""
    return _group(company, "tokenmaxxer")


def convert_ids(company: Company) -> EmployeeGroup:
    """Employees whose performative use later became genuine."""
    return _group(company, "convert")


def theater_share(company: Company) -> float:
    """Share of AI events at or after the mandate that are theater."""
    events = company.ai_events[["event_id", "timestamp"]].merge(
        _event_labels(company)[["event_id", "is_theater"]], on="event_id", how="inner"
    )
    mandate = mandate_date(company)
    if mandate is not None:
        events = events[pd.to_datetime(events["timestamp"]) >= mandate]
    if events.empty:
        raise TruthError("there are no AI events after the mandate: the theater share is undefined")
    return float(events["is_theater"].astype(bool).mean())


def _effect_of_access(company: Company, first_wave_only: bool) -> dict[str, float]:
    """100 * (expected work with access / without - 1) over the waves' windows, from the labels'
    potential outcomes, and the width of the matching reference interval."""
    try:
        pilot = causal.pilot_design(company)
        unit = causal.design_unit(company)
        reference = (causal.first_wave_estimate(company, unit) if first_wave_only
                     else causal.reference_estimate(company, unit))
    except causal.CausalError as exc:
        raise TruthError(str(exc)) from None
    labels = _labels(company)
    if "pilot_expected_with" not in labels.columns:
        raise TruthError("these labels have no potential outcomes: regenerate the company with this generator")
    people = pilot.people
    compared = people["wave"] if first_wave_only else people["access"] < pilot.mandate
    waves = labels[labels["employee_id"].astype(str).isin(set(people.loc[compared, "employee_id"]))]
    without = float(waves["pilot_expected_without"].sum())
    if without <= 0:
        raise TruthError("the waves expect no work in their windows: the effect is undefined")
    value = 100.0 * (float(waves["pilot_expected_with"].sum()) / without - 1.0)
    return {"value": value, "reference_width": reference.width}


def access_effect(company: Company) -> dict[str, float]:
    """The effect of AI access in percent (`value`) on every wave that has a not-yet-licensed
    comparison, each over its own window (its access date to the next wave's, as the labels'
    pilot_expected_* sums; with two waves: the first wave, pilot day to mandate), and the
    reference interval's width."""
    return _effect_of_access(company, first_wave_only=False)


def first_wave_effect(company: Company) -> dict[str, float]:
    """The first wave's effect of access alone, over its own window (first to second access
    date), with the width of the first wave's reference interval: what module 3's practice
    exercise asks (the app shows that comparison's rates). With two waves it is access_effect."""
    return _effect_of_access(company, first_wave_only=True)


def access_effect_point(company: Company) -> dict[str, float]:
    """The practice exercise's truth: the first wave's access effect with a tolerance the size of
    its reference interval on this company (full credit within its half-width, none beyond its
    whole width), so the reference method's own estimate earns full credit about as often as its
    interval covers."""
    effect = first_wave_effect(company)
    width = effect["reference_width"]
    return {"value": effect["value"], "full_within": width / 2, "zero_at": width}


def measure_finding(company: Any) -> dict[str, float]:
    """The measure report's truth: the theater share and the access effect with the reference width."""
    effect = access_effect(company)
    return {"theater_share": theater_share(company), "access_effect_pct": effect["value"],
            "access_effect_reference_width": effect["reference_width"]}


TRUTHS = {
    "weekly_usage_output": weekly_usage_output,
    "tokenmaxxer_ids": tokenmaxxer_ids,
    "convert_ids": convert_ids,
    "theater_share": theater_share,
    "access_effect_point": access_effect_point,
    "measure_finding": measure_finding,
}
