"""Realistic shape of the generated logs: working hours, weekdays, holidays, heavy tails, sessions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from datasets.api import generate_company


def test_events_happen_on_working_days_and_hours(small_company):
    stamps = small_company.ai_events["timestamp"]
    holidays = pd.to_datetime(small_company.calendar.loc[small_company.calendar["event_type"] == "holiday", "date"])
    on_weekdays = (stamps.dt.day_of_week < 5) & ~stamps.dt.normalize().isin(holidays)
    assert on_weekdays.mean() > 0.95
    assert stamps.dt.hour.between(7, 19).mean() > 0.95


def test_holidays_are_quiet():
    company = generate_company("mandate-bigco", 150, 60, 4, start_date="2026-05-11")  # includes 05-25
    per_day = company.ai_events["timestamp"].dt.normalize().value_counts()
    holiday = pd.Timestamp("2026-05-25")
    assert "holiday" in set(company.calendar["event_type"])
    weekdays = per_day[per_day.index.day_of_week < 5]
    assert per_day.get(holiday, 0) < 0.1 * weekdays.median()


def test_tokens_are_heavy_tailed(small_company):
    tokens = small_company.ai_events["tokens_in"]
    assert tokens.quantile(0.999) > 20 * tokens.median()
    assert (tokens >= 1).all()


def test_event_ids_increase_with_time_inside_each_employee_and_sessions_do_not_overlap(small_company):
    events = small_company.ai_events
    ordered = events.sort_values(["employee_id", "event_id"])
    time_steps = ordered.groupby("employee_id")["timestamp"].diff().dropna()
    assert (time_steps >= pd.Timedelta(0)).all()
    spans = events.groupby("session_id").agg(employee=("employee_id", "first"), start=("timestamp", "min"),
                                              end=("timestamp", "max"), people=("employee_id", "nunique"))
    assert (spans["people"] == 1).all()
    spans = spans.sort_values(["employee", "start"])
    next_start = spans.groupby("employee")["start"].shift(-1)
    assert (next_start.dropna() > spans.loc[next_start.notna(), "end"]).all()
    assert 2.5 < events.groupby("session_id").size().mean() < 5


def test_near_duplicate_prompts_share_fingerprints(small_company):
    events = small_company.ai_events.merge(small_company.event_labels, on="event_id")
    repeated = events.duplicated(["employee_id", "prompt_fingerprint"], keep="first")
    assert repeated[events["is_theater"]].mean() > 2 * repeated[~events["is_theater"]].mean()


def test_work_items_link_to_earlier_sessions_of_their_owner(small_company):
    work = small_company.work_items.dropna(subset=["linked_session_id"])
    sessions = small_company.ai_events.groupby("session_id").agg(owner=("employee_id", "first"),
                                                                 start=("timestamp", "min"))
    joined = work.join(sessions, on="linked_session_id")
    assert len(joined) > 50
    assert (joined["owner"] == joined["employee_id"]).all()
    assert (joined["start"] <= joined["created_at"]).all()


def test_work_item_states_are_consistent(small_company):
    work = small_company.work_items
    closed = work["closed_at"].notna()
    hours = (work.loc[closed, "closed_at"] - work.loc[closed, "created_at"]).dt.total_seconds() / 3600
    assert np.allclose(hours, work.loc[closed, "cycle_time_hours"], atol=0.01)
    assert set(work.loc[work["kind"] == "pull_request", "status"]) <= {"open", "merged", "abandoned"}
    assert set(work.loc[work["kind"] != "pull_request", "status"]) <= {"open", "closed", "abandoned"}
    assert not work.loc[work["status"].isin(["open", "abandoned"]), "rework"].any()


def test_calendar_has_the_mandate_and_rhythms_after_it(small_company):
    calendar = small_company.calendar
    mandate = calendar.loc[calendar["event_type"] == "mandate", "date"]
    assert len(mandate) == 1
    assert str(mandate.iloc[0].date()) == small_company.meta["mandate_date"]
    refreshes = calendar.loc[calendar["event_type"] == "dashboard_refresh", "date"]
    assert len(refreshes) and (refreshes > mandate.iloc[0]).all()


def test_org_chart_has_one_top_and_no_self_management(small_company):
    employees = small_company.employees
    assert employees["manager_id"].isna().sum() == 1
    assert (employees["manager_id"] != employees["employee_id"]).all()
    assert employees["email"].is_unique


def test_a_company_without_a_mandate_works():
    from datasets.scenario import Scenario, load_scenario

    calm = Scenario.model_validate({**load_scenario("startup").model_dump(), "mandate": {"at": None}})
    company = generate_company(calm, 30, 30, 1)
    assert company.meta["mandate_date"] is None
    assert "mandate" not in set(company.calendar["event_type"])
    assert len(company.ai_events) > 0
