"""The detector exercises' methods (score + threshold, change points, module 3's groups) as pure code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course import exercise_tools as tools
from course import practice
from course.charts import employee_features
from exercises import truth
from exercises.checks import flag_thresholds, run_check

OUTCOME_WEIGHTS = {"acceptance_rate": -1.0, "linked_session_share": -1.0,
                   "self_authored_share": 1.0, "repeated_prompt_share": 1.0}


def test_a_weight_sign_says_which_direction_looks_performed():
    features = pd.DataFrame({"employee_id": ["a", "b", "c", "d"], "ai_events": [10, 10, 10, 10],
                             "acceptance_rate": [0.1, 0.5, 0.6, 0.9]})
    low_kept = tools.weighted_score(features, {"acceptance_rate": -1.0})
    assert low_kept.idxmax() == "a" and low_kept.idxmin() == "d"
    assert tools.weighted_score(features, {"acceptance_rate": 2.0}).idxmax() == "d"
    assert tools.flag_above(low_kept, 0.5) == ["a"]


def test_no_weight_flags_nobody_and_light_users_are_not_scored():
    features = pd.DataFrame({"employee_id": ["a", "b", "c", "x"], "ai_events": [10, 12, 8, 1],
                             "acceptance_rate": [0.1, 0.5, 0.6, 0.0]})
    assert tools.flag_above(tools.weighted_score(features, {}), -1.0) == []
    assert "x" not in tools.weighted_score(features, {"acceptance_rate": -1.0}).index
    assert "x" in tools.weighted_score(features, {"acceptance_rate": -1.0}, active_only=False).index


def test_the_threshold_curve_trades_precision_for_recall(small_company):
    score = tools.weighted_score(employee_features(small_company), OUTCOME_WEIGHTS)
    curve = tools.threshold_curve(score, truth.tokenmaxxer_ids(small_company))
    assert curve["flagged"].is_monotonic_decreasing
    assert curve["recall"].is_monotonic_decreasing
    assert curve["recall"].iloc[0] == 1.0 and curve["flagged"].iloc[-1] <= curve["flagged"].iloc[0]


def _step_signals(before: list[float], after: list[float]) -> tools.WeeklySignals:
    """One person per row: 10 events a week, kept share `before` then `after` at week 5."""
    weeks = [pd.Timestamp("2026-01-05") + pd.Timedelta(weeks=i) for i in range(10)]
    rows = range(len(before))
    events = pd.DataFrame(10.0, index=[f"E{i}" for i in rows], columns=weeks)
    kept = np.array([[b * 10] * 5 + [a * 10] * 5 for b, a in zip(before, after)])
    accepted = pd.DataFrame(kept, index=events.index, columns=weeks)
    return tools.WeeklySignals(weeks, events, accepted, accepted * 0, accepted * 0, accepted * 0)


def test_a_detected_change_point_finds_each_persons_week_and_rise():
    signals = _step_signals([0.1, 0.8, 0.1], [0.7, 0.8, 0.1])
    points = tools.change_points(signals, "accepted", "detected").set_index("employee_id")
    assert str(points.loc["E0", "change_week"]) == "2026-02-09"
    assert points.loc["E0", "rise"] == pytest.approx(0.6)
    assert tools.flag_converts(points.reset_index(), min_rise=0.3, max_before=0.4) == ["E0"]


def test_a_fixed_week_split_averages_both_sides_of_that_week():
    signals = _step_signals([0.1], [0.7])
    points = tools.change_points(signals, "accepted", "fixed_week", split_week=2)
    assert points["before"].iloc[0] == pytest.approx(0.1)
    assert points["after"].iloc[0] == pytest.approx((3 * 0.1 + 5 * 0.7) / 8)
    for split in (-5, 0, 9, 99):                       # out-of-range weeks are clipped, never fail
        assert len(tools.change_points(signals, "accepted", "fixed_week", split_week=split)) == 1


def test_weekly_signals_leave_non_users_out_and_draw_the_flagged_timeline(small_company):
    signals = tools.weekly_signals(small_company)
    non_users = set(truth._archetype_ids(small_company, "non_user"))
    assert non_users and not non_users & set(signals.events.index)
    flags = sorted(signals.events.index[:3])
    timeline = tools.group_timeline(signals, "habits", flags)
    assert set(timeline["group"]) == {"flagged", "other AI users"}
    assert timeline["level"].dropna().between(0, 1).all()


@pytest.mark.parametrize("seed", [7, 5], ids=["one pilot wave", "staggered rollout"])
def test_the_pilots_rates_give_the_reference_estimate_and_count_everyone_once(seed):
    from datasets.api import generate_company
    from exercises import causal

    company = generate_company("mandate-bigco", 150, 180, seed=seed)
    rates = tools.pilot_rates(company).set_index("group")
    assert list(rates.index) == list(tools.PILOT_GROUPS)
    assert rates["people"].sum() == len(company.employees)
    change = rates["pilot window"] / rates["before the pilot"]
    estimate = 100 * (change["first wave"] / change["not yet licensed"] - 1)
    # the first wave's comparison, which module 3's practice exercise asks for
    assert estimate == pytest.approx(causal.first_wave_estimate(company, causal.design_unit(company)).value, abs=0.1)
    first, second, last = tools.pilot_dates(company)
    assert first < second <= last


def test_a_company_without_a_pilot_is_said_so(small_company):
    from exercises import causal

    from types import SimpleNamespace

    without = small_company.employees.drop(columns="ai_access_from", errors="ignore")
    company = SimpleNamespace(employees=without, work_items=small_company.work_items,
                              ai_events=small_company.ai_events, meta={})
    with pytest.raises(causal.CausalError, match="no pilot"):
        tools.pilot_rates(company)


@pytest.mark.slow
def test_the_solutions_settings_pass_on_drawn_companies_and_the_naive_ones_do_not():
    """The settings each exercise's solution names earn credit on real generated companies
    (drawn across datasets/variation.py's ranges); token volume and a fixed split do not."""
    from datasets import api

    scores: dict[str, list[float]] = {k: [] for k in
                                      ("score", "tokens", "change", "fixed", "effect")}
    for seed in (1, 7920, 23758):
        company = api.generate_company(profile="mandate-bigco", employees=150, days=180, seed=seed)
        features = employee_features(company)
        hidden = truth.tokenmaxxer_ids(company)
        for name, weights in (("score", OUTCOME_WEIGHTS), ("tokens", {"tokens_per_week": 1.0})):
            flags = tools.flag_above(tools.weighted_score(features, weights), 0.5)
            scores[name].append(run_check("detect.flag_tokenmaxxers", flags, hidden).score)
        signals = tools.weekly_signals(company)
        converts = truth.convert_ids(company)
        for name, method in (("change", "detected"), ("fixed", "fixed_week")):
            points = tools.change_points(signals, "habits", method, len(signals.weeks) // 2)
            flags = tools.flag_converts(points, min_rise=0.06, max_before=0.55)
            scores[name].append(run_check("detect.flag_converts", flags, converts).score)
        point = truth.access_effect_point(company)
        rates = tools.pilot_rates(company).set_index("group")
        change = rates["pilot window"] / rates["before the pilot"]
        scores["effect"].append(run_check("measure.access_effect",
                                          100 * (change["first wave"] / change["not yet licensed"] - 1), point).score)
    mean = {name: sum(values) / len(values) for name, values in scores.items()}
    assert mean["score"] >= 0.8 and mean["tokens"] <= 0.2, mean
    assert mean["change"] >= 0.7 and mean["change"] > mean["fixed"], mean
    assert mean["effect"] >= 0.65, mean


def test_blind_flags_are_refused_before_scoring(small_company):
    users = int(small_company.ai_events["employee_id"].nunique())
    assert practice.blind_flags_problem(users, users) is not None
    assert practice.blind_flags_problem(users - 1, users) is None
    everyone = sorted(small_company.ai_events["employee_id"].astype(str).unique())
    zero, _ = flag_thresholds(truth.tokenmaxxer_ids(small_company))
    assert run_check("detect.flag_tokenmaxxers", everyone,
                     truth.tokenmaxxer_ids(small_company)).score == 0.0 and zero > 0.3
