"""The hidden truth each check compares against, computed from a company WITH its labels.

Definitions (the notebooks and docs/instructors.md state the same ones to learners):

- Week: the Monday that starts the ISO week of a timestamp (`to_period("W").start_time`).
- Output (closed work): work items whose `closed_at` is set and whose status is `closed` or
  `merged`; abandoned work is not output. It counts in the week (or period) of `closed_at`.
- Theater share: among AI events at or after the mandate date (the `mandate` row of the calendar,
  else `meta["mandate_date"]`), the share labelled `is_theater`. Without a mandate: all events.
- Productivity effect: a difference-in-differences in percent. For genuine adopters (G) and
  non-users (N), closed work per person per week before the mandate (pre) and from it on (post);
  effect = 100 * ((G_post / G_pre) / (N_post / N_pre) - 1). Periods run from the first day of the
  data to the day before the mandate, and from the mandate to the last day of the data.
- A session is theater when more than half of its events are labelled theater.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from datasets.errors import UserError

OUTPUT_STATUSES = ("closed", "merged")


class TruthError(UserError):
    """The company lacks what the truth needs (most often: it was loaded without labels)."""


def _labels(company: Any) -> pd.DataFrame:
    labels = getattr(company, "labels", None)
    if labels is None or len(labels) == 0:
        raise TruthError("this company has no labels: generate or load it with labels to grade")
    return labels


def _event_labels(company: Any) -> pd.DataFrame:
    labels = getattr(company, "event_labels", None)
    if labels is None or len(labels) == 0:
        raise TruthError("this company has no event labels: generate or load it with labels to grade")
    return labels


def week_start(timestamps: pd.Series) -> pd.Series:
    """The Monday that starts each timestamp's week, as YYYY-MM-DD text."""
    stamps = pd.to_datetime(timestamps)
    return stamps.dt.to_period("W").dt.start_time.dt.strftime("%Y-%m-%d")


def closed_output(work_items: pd.DataFrame) -> pd.DataFrame:
    """Work items that count as output: closed or merged, with a closing time."""
    closed = work_items[work_items["status"].isin(OUTPUT_STATUSES) & work_items["closed_at"].notna()]
    return closed.assign(closed_at=pd.to_datetime(closed["closed_at"]))


def _as_timestamp(value: Any) -> pd.Timestamp | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str | date | datetime | pd.Timestamp | np.datetime64):
        stamp = pd.Timestamp(value)
        return None if pd.isna(stamp) else stamp.normalize()
    return None


def mandate_date(company: Any) -> pd.Timestamp | None:
    """The day the mandate took effect: the calendar's `mandate` row, else the metadata."""
    calendar = getattr(company, "calendar", None)
    if calendar is not None and len(calendar):
        rows = calendar[calendar["event_type"] == "mandate"]
        if len(rows):
            return pd.Timestamp(pd.to_datetime(rows["date"]).min()).normalize()
    return _as_timestamp((getattr(company, "meta", None) or {}).get("mandate_date"))


def data_period(company: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First day of the data and the day after its last day (a half-open range)."""
    meta = getattr(company, "meta", None) or {}
    start = _as_timestamp(meta.get("start_date"))
    days = meta.get("days")
    if start is None:
        start = pd.to_datetime(company.ai_events["timestamp"]).min().normalize()
    if days:
        end = start + pd.Timedelta(days=int(days))
    else:
        end = pd.to_datetime(company.ai_events["timestamp"]).max().normalize() + pd.Timedelta(days=1)
    return start, end


def weekly_usage_output(company: Any) -> pd.DataFrame:
    """Per week and team: AI events, distinct AI users, and closed work (the `explore` answer)."""
    teams = company.employees[["employee_id", "team"]]
    events = company.ai_events[["employee_id", "timestamp"]].merge(teams, on="employee_id", how="inner")
    events = events.assign(week=week_start(events["timestamp"]))
    usage = events.groupby(["week", "team"]).agg(
        ai_events=("employee_id", "size"), ai_users=("employee_id", "nunique")
    )
    closed = closed_output(company.work_items)[["employee_id", "closed_at"]]
    closed = closed.merge(teams, on="employee_id", how="inner")
    closed = closed.assign(week=week_start(closed["closed_at"]))
    output = closed.groupby(["week", "team"]).size().rename("closed_items")
    table = usage.join(output, how="outer").fillna(0).astype("int64").reset_index()
    table["team"] = table["team"].astype("string")
    table["week"] = table["week"].astype("string")
    return table.sort_values(["week", "team"], ignore_index=True)[
        ["week", "team", "ai_events", "ai_users", "closed_items"]
    ]


def session_theater_series(company: Any) -> pd.Series:
    """For every session: True when more than half of its events are theater."""
    events = company.ai_events[["event_id", "session_id"]].merge(
        _event_labels(company)[["event_id", "is_theater"]], on="event_id", how="inner"
    )
    share = events.groupby("session_id")["is_theater"].mean()
    return (share > 0.5).rename("is_theater")


def session_theater_labels(company: Any, session_ids: Any) -> dict[int, bool]:
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


def _session_summary(company: Any, session_ids: Any = None) -> pd.DataFrame:
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
    linked = company.work_items["linked_session_id"].dropna().astype("int64")
    summary["linked_work_items"] = linked.value_counts().reindex(summary.index, fill_value=0).astype("int64")
    summary["accepted_share"] = summary["accepted_share"].astype(float).round(2)
    summary["self_authored_share"] = summary["self_authored_share"].astype(float).round(2)
    return summary


def sample_sessions(company: Any, n: int, seed: int) -> pd.DataFrame:
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


def _archetype_ids(company: Any, archetype: str) -> set[str]:
    labels = _labels(company)
    return set(labels.loc[labels["archetype"] == archetype, "employee_id"].astype(str))


def _group(company: Any, archetype: str) -> EmployeeGroup:
    users = int(company.ai_events["employee_id"].nunique())
    return EmployeeGroup(_archetype_ids(company, archetype), ai_users=users)


def tokenmaxxer_ids(company: Any) -> EmployeeGroup:
    """Employees whose AI use is performative throughout."""
    return _group(company, "tokenmaxxer")


def convert_ids(company: Any) -> EmployeeGroup:
    """Employees whose performative use later became genuine."""
    return _group(company, "convert")


def theater_share(company: Any) -> float:
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


def weekly_output_rate(company: Any, employee_ids: set[str], start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Closed work per person per week for a group of employees over [start, end)."""
    weeks = (end - start) / pd.Timedelta(days=7)
    if not employee_ids or weeks <= 0:
        return float("nan")
    closed = closed_output(company.work_items)
    in_group = closed["employee_id"].astype(str).isin(employee_ids)
    in_period = (closed["closed_at"] >= start) & (closed["closed_at"] < end)
    return float((in_group & in_period).sum()) / (len(employee_ids) * weeks)


def productivity_effect(company: Any) -> float:
    """Difference-in-differences change in weekly closed work, genuine adopters vs non-users, in %."""
    mandate = mandate_date(company)
    if mandate is None:
        raise TruthError("this company has no mandate date: the before/after effect is undefined")
    start, end = data_period(company)
    genuine = _archetype_ids(company, "genuine")
    non_users = _archetype_ids(company, "non_user")
    g_pre = weekly_output_rate(company, genuine, start, mandate)
    g_post = weekly_output_rate(company, genuine, mandate, end)
    n_pre = weekly_output_rate(company, non_users, start, mandate)
    n_post = weekly_output_rate(company, non_users, mandate, end)
    rates = (g_pre, g_post, n_pre, n_post)
    if any(not np.isfinite(r) or r <= 0 for r in rates):
        raise TruthError("too few genuine adopters or non-users with closed work to measure the effect")
    return float(100.0 * ((g_post / g_pre) / (n_post / n_pre) - 1.0))


def measure_finding(company: Any) -> dict[str, float]:
    """The measure report's two numbers, keyed as the learner writes them in answers/estimates.json."""
    return {"theater_share": theater_share(company), "productivity_effect_pct": productivity_effect(company)}


TRUTHS = {
    "weekly_usage_output": weekly_usage_output,
    "tokenmaxxer_ids": tokenmaxxer_ids,
    "convert_ids": convert_ids,
    "theater_share": theater_share,
    "productivity_effect": productivity_effect,
    "measure_finding": measure_finding,
}
