"""One definition of each measure the course, the truth, the reference detector and the notebooks use.

Plain pandas on a company's public tables (labels are never read here), so the app's charts, the
grader's truth and the worked examples cannot drift apart on what a word means:

- week: the Monday that starts a timestamp's week (pandas' `to_period("W").start_time`);
- mandate date: the calendar's first `mandate` row, else the company's `meta["mandate_date"]`;
- period: "before mandate" runs from the first day of the data to the day before the mandate,
  "after mandate" from the mandate to the last day (without a mandate, the middle of the data
  splits them);
- closed work: work items with a `closed_at` whose status is `closed` or `merged` (abandoned work is
  not output), counted at `closed_at`;
- linked session: an AI session named as `linked_session_id` by closed work (open or abandoned work
  did not deliver anything, so it does not count);
- non-user: an employee with fewer than a tenth of the median employee's AI events (over everyone,
  people with no events counted as 0) — "no events at all" leaves almost nobody to compare with;
- complete week / month: a week (Monday to Sunday) or calendar month the data covers whole; charts
  drop the cut ones at either end, which would otherwise read as a fall in activity.

The notebooks cannot import this module (learners get plain files), so they spell the same
definitions in pandas; tests/datasets/test_measures.py runs their cells and checks they agree.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from datasets.schemas import OUTPUT_STATUSES

DEADLINE_TYPES = ("reporting_deadline", "dashboard_refresh")   # the calendar rows usage is shown at
NON_USER_SHARE = 0.1       # a non-user has fewer than this share of the median person's AI events
BEFORE, AFTER = "before mandate", "after mandate"
PERIODS = (BEFORE, AFTER)


@runtime_checkable
class Company(Protocol):
    """What every measure needs: the five public tables (datasets.api.Company has them, plus the
    hidden `labels` / `event_labels` and a `meta` dict that some callers read with getattr)."""

    employees: pd.DataFrame
    ai_events: pd.DataFrame
    work_items: pd.DataFrame
    calendar: pd.DataFrame
    survey: pd.DataFrame


# ----------------------------------------------------------------------------- time

def week_start(timestamps: pd.Series) -> pd.Series:
    """The Monday (midnight) that starts each timestamp's week."""
    return pd.to_datetime(timestamps).dt.to_period("W").dt.start_time


def week_label(timestamps: pd.Series) -> pd.Series:
    """The week as YYYY-MM-DD text (the form graded answers use)."""
    return week_start(timestamps).dt.strftime("%Y-%m-%d")


def as_day(value: Any) -> pd.Timestamp | None:
    """A date-like value as a midnight Timestamp; None for anything missing or not a date."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str | date | datetime | pd.Timestamp | np.datetime64):
        stamp = pd.Timestamp(value)
        return None if pd.isna(stamp) else stamp.normalize()
    return None


def mandate_date(company: Company) -> pd.Timestamp | None:
    """The day the mandate took effect: the calendar's first `mandate` row, else the metadata."""
    calendar = getattr(company, "calendar", None)
    if calendar is not None and len(calendar):
        rows = calendar.loc[calendar["event_type"] == "mandate", "date"]
        if len(rows):
            return pd.Timestamp(pd.to_datetime(rows).min()).normalize()
    return as_day((getattr(company, "meta", None) or {}).get("mandate_date"))


def data_period(company: Company) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First day of the data and the day after its last day (a half-open range)."""
    meta = getattr(company, "meta", None) or {}
    start = as_day(meta.get("start_date"))
    days = meta.get("days")
    stamps = pd.to_datetime(company.ai_events["timestamp"])
    if start is None:
        start = stamps.min().normalize()
    if days:
        end = start + pd.Timedelta(days=int(days))
    else:
        end = stamps.max().normalize() + pd.Timedelta(days=1)
    return start, end


def split_date(company: Company) -> pd.Timestamp:
    """Where "before" ends: the mandate, or the middle day of the data when there is none."""
    found = mandate_date(company)
    if found is not None:
        return found
    start, end = data_period(company)
    return (start + (end - start) / 2).normalize()


def period(timestamps: pd.Series, company: Company) -> pd.Series:
    """"before mandate" or "after mandate" for each timestamp (the mandate day is after)."""
    after = pd.to_datetime(timestamps) >= split_date(company)
    return pd.Series(np.where(after, AFTER, BEFORE), index=timestamps.index, name="period")


def period_weeks(company: Company) -> dict[str, float]:
    """How many weeks each period lasts (rates per week divide by these)."""
    start, end = data_period(company)
    split = min(max(split_date(company), start), end)
    return {BEFORE: (split - start) / pd.Timedelta(days=7), AFTER: (end - split) / pd.Timedelta(days=7)}


def complete_weeks(company: Company) -> pd.DatetimeIndex:
    """Mondays of the weeks the data covers from Monday to Sunday (a cut week reads as a drop)."""
    start, end = data_period(company)
    first = start + pd.Timedelta(days=(7 - start.weekday()) % 7)
    return pd.date_range(first, end - pd.Timedelta(days=7), freq="7D")


def complete_months(company: Company) -> list[pd.Timestamp]:
    """First days of the calendar months the data covers entirely (a month cut short by the start
    or the end of the data would look like a drop in use)."""
    start, end = data_period(company)
    months = pd.period_range(start, end - pd.Timedelta(days=1), freq="M")
    return [m.start_time for m in months
            if m.start_time >= start and (m.end_time.normalize() + pd.Timedelta(days=1)) <= end]


# ----------------------------------------------------------------------------- work and sessions

def closed_work(work_items: pd.DataFrame) -> pd.DataFrame:
    """Work items that count as output: closed or merged, with a closing time (as datetimes)."""
    done = work_items[work_items["status"].isin(OUTPUT_STATUSES) & work_items["closed_at"].notna()]
    return done.assign(closed_at=pd.to_datetime(done["closed_at"]))


def delivered_sessions(work_items: pd.DataFrame) -> set[int]:
    """Ids of the AI sessions that fed closed work: the only sessions that count as linked."""
    return set(closed_work(work_items)["linked_session_id"].dropna().astype("int64"))


def linked_work_per_session(work_items: pd.DataFrame) -> pd.Series:
    """How many closed work items each session fed (sessions that fed none are absent)."""
    return closed_work(work_items)["linked_session_id"].dropna().astype("int64").value_counts()


def session_is_linked(session_ids: pd.Series, work_items: pd.DataFrame) -> pd.Series:
    """For each session id: whether it fed closed work."""
    return session_ids.isin(delivered_sessions(work_items))


def linked_session_share(events: pd.DataFrame, work_items: pd.DataFrame) -> pd.Series:
    """Per employee with events: the share of their AI sessions that fed closed work."""
    sessions = events[["employee_id", "session_id"]].drop_duplicates("session_id")
    linked = session_is_linked(sessions["session_id"], work_items).astype("float64")
    return linked.groupby(sessions["employee_id"].to_numpy()).mean().rename("linked_session_share")


# ----------------------------------------------------------------------------- people

def events_per_person(company: Company) -> pd.Series:
    """AI events per employee, every employee included (0 for people with none), by employee id."""
    counts = company.ai_events.groupby("employee_id", observed=True).size()
    everyone = company.employees["employee_id"]
    return counts.reindex(everyone, fill_value=0).astype("int64").rename("ai_events")


def non_users(events: pd.Series, share: float = NON_USER_SHARE) -> pd.Series:
    """Which people (index of `events`, one count per person) are non-users: fewer than `share`
    of the median person's events; share 0 means "no events at all"."""
    if share == 0:
        return events == 0
    return events < share * float(events.median())


def non_user_ids(company: Company, share: float = NON_USER_SHARE) -> set[str]:
    """The comparison group of the productivity effect, from the public logs."""
    events = events_per_person(company)
    return set(events.index[non_users(events, share).to_numpy()].astype(str))


def weekly_output_rate(company: Company, employee_ids: set[str], start: pd.Timestamp,
                       end: pd.Timestamp) -> float:
    """Closed work per person per week for a group of employees over [start, end)."""
    weeks = (end - start) / pd.Timedelta(days=7)
    if not employee_ids or weeks <= 0:
        return float("nan")
    closed = closed_work(company.work_items)
    in_group = closed["employee_id"].astype(str).isin(employee_ids)
    in_period = (closed["closed_at"] >= start) & (closed["closed_at"] < end)
    return float((in_group & in_period).sum()) / (len(employee_ids) * weeks)


def employee_features(company: Company) -> pd.DataFrame:
    """Observable signals per employee, everyone included (no labels): the table the app's
    detector and charts read. Counts are 0 and shares missing for people without AI events."""
    events = company.ai_events
    employees = company.employees[["employee_id", "team"]].copy()
    split = split_date(company)
    stamps = pd.to_datetime(events["timestamp"])
    weeks = max(1.0, (stamps.max() - stamps.min()).days / 7.0) if len(events) else 1.0
    tokens = events["tokens_in"].astype("float64") + events["tokens_out"].astype("float64")
    fingerprint_counts = events.groupby(["employee_id", "prompt_fingerprint"],
                                        observed=True)["event_id"].transform("size")
    frame = pd.DataFrame({
        "employee_id": events["employee_id"],
        "tokens": tokens,
        "accepted": events["accepted"].astype("float64"),
        "self_authored": events["doc_authored_by_self"].astype("float64"),
        "repeated_prompt": (fingerprint_counts > 1).astype("float64"),
        "after": (stamps >= split).astype("float64"),
        "session_id": events["session_id"],
    })
    grouped = frame.groupby("employee_id", observed=True)
    features = pd.DataFrame({
        "ai_events": grouped.size(),
        "sessions": grouped["session_id"].nunique(),
        "tokens_per_week": (grouped["tokens"].sum() / weeks).round(0),
        "acceptance_rate": grouped["accepted"].mean().round(2),
        "self_authored_share": grouped["self_authored"].mean().round(2),
        "repeated_prompt_share": grouped["repeated_prompt"].mean().round(2),
        "share_after_mandate": grouped["after"].mean().round(2),
    })
    if len(events):   # converts change over time: acceptance in the last third minus the first
        first_cut = stamps.min() + (stamps.max() - stamps.min()) / 3
        last_cut = stamps.min() + 2 * (stamps.max() - stamps.min()) / 3
        early = frame[(stamps < first_cut).to_numpy()].groupby("employee_id", observed=True)["accepted"].mean()
        late = frame[(stamps >= last_cut).to_numpy()].groupby("employee_id", observed=True)["accepted"].mean()
        features["acceptance_change"] = (late - early).reindex(features.index).round(2)
    else:
        features["acceptance_change"] = np.nan
    features["linked_session_share"] = linked_session_share(events, company.work_items).round(2)
    closed = closed_work(company.work_items).groupby("employee_id", observed=True).size()
    out = employees.merge(features, left_on="employee_id", right_index=True, how="left")
    out["closed_items"] = out["employee_id"].map(closed).fillna(0).astype("int64")
    counts = ["ai_events", "sessions", "tokens_per_week"]
    out[counts] = out[counts].fillna(0)
    return out.reset_index(drop=True)
