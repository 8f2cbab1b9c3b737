"""The access effect: its truth is the documented estimand, the reference design recovers it with
an honest interval, and the grade rewards the design while the users-vs-non-users shortcut fails."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from datasets.api import generate_company
from datasets.families import FAMILIES
from datasets.variation import family_of_seed
from benchmarks.reference_method import notebook_estimate, randomisation_unit
from exercises import causal, truth
from exercises.assignments import DataSpec
from exercises.checks import run_check


def pilot_company() -> SimpleNamespace:
    """Four people over four weeks from Mon 2025-01-06; pilot day 01-20, mandate 01-27.

    Wave: E1, E2 (teams A, B); not yet licensed: E3, E4 (teams A, B); E1 manages everyone, so
    neither teams nor squads share one access date: people were randomised.
    Closed work by the day it was opened, (pre-pilot, pilot window):
    E1 (2, 2), E2 (2, 1), E3 (2, 1), E4 (2, 1) -> wave 3/4, rest 2/4 -> +50%.
    """
    employees = pd.DataFrame({
        "employee_id": ["E1", "E2", "E3", "E4"], "team": ["A", "B", "A", "B"],
        "manager_id": [None, "E1", "E1", "E1"],
        "ai_access_from": pd.to_datetime(["2025-01-20", "2025-01-20", "2025-01-27", "2025-01-27"]),
    })
    rows = [  # (employee, created, closed, status)
        ("E1", "2025-01-07", "2025-01-08", "merged"), ("E1", "2025-01-14", "2025-01-15", "closed"),
        ("E1", "2025-01-21", "2025-01-22", "merged"), ("E1", "2025-01-23", "2025-01-24", "merged"),
        ("E2", "2025-01-08", "2025-01-09", "closed"), ("E2", "2025-01-15", "2025-01-16", "closed"),
        ("E2", "2025-01-22", "2025-01-23", "closed"),
        ("E3", "2025-01-09", "2025-01-10", "closed"), ("E3", "2025-01-13", "2025-01-14", "closed"),
        ("E3", "2025-01-21", "2025-01-22", "closed"), ("E3", "2025-01-22", "2025-01-23", "abandoned"),
        ("E4", "2025-01-10", "2025-01-13", "merged"),
        ("E4", "2025-01-17", "2025-01-21", "merged"),   # opened before the pilot: pre-pilot work
        ("E4", "2025-01-24", "2025-01-27", "merged"),
        ("E4", "2025-01-28", None, "open"),
    ]
    work_items = pd.DataFrame(rows, columns=["employee_id", "created_at", "closed_at", "status"])
    work_items["created_at"] = pd.to_datetime(work_items["created_at"])
    work_items["closed_at"] = pd.to_datetime(work_items["closed_at"])
    labels = pd.DataFrame({"employee_id": ["E1", "E2", "E3", "E4"],
                           "pilot_expected_without": [2.0, 2.0, 1.0, 1.0],
                           "pilot_expected_with": [2.5, 2.2, 5.0, 5.0]})
    return SimpleNamespace(employees=employees, work_items=work_items, labels=labels,
                           ai_events=pd.DataFrame({"timestamp": pd.to_datetime([])}),
                           calendar=pd.DataFrame(), survey=pd.DataFrame(),
                           meta={"start_date": "2025-01-06", "days": 28, "family": "theater"})


def test_the_reference_estimate_is_the_ratio_of_ratios_by_the_day_work_was_opened():
    company = pilot_company()
    assert randomisation_unit(company) == "person"
    estimate = notebook_estimate(company)
    assert estimate.value == pytest.approx(50.0)
    assert estimate.low <= estimate.value <= estimate.high and estimate.width > 0


def test_the_grader_takes_the_unit_from_the_generator_not_from_the_data():
    """The package holds no rule that reads the unit from the access dates (the learner's step):
    a company without its generator's record of the design gets no reference interval."""
    company = pilot_company()
    assert causal.design_unit(company) == "person"
    assert not hasattr(causal, "randomisation_unit")
    company.meta.pop("family")
    with pytest.raises(causal.CausalError, match="randomised"):
        causal.design_unit(company)


def test_the_truth_is_the_wave_s_expected_work_with_access_over_without():
    effect = truth.access_effect(pilot_company())
    assert effect["value"] == pytest.approx(100 * (4.7 / 4.0 - 1))      # E1, E2 only
    assert effect["reference_width"] == pytest.approx(notebook_estimate(pilot_company()).width)


def test_in_a_staggered_rollout_the_window_ends_at_the_second_access_date():
    """E3 is licensed on Thu 01-23, E4 at the mandate: the later waves are the control only until
    the first of them starts. Window [01-20, 01-23): wave E1 1 (01-21), E2 1 -> 2 of pre 4; rest
    E3 1 (01-21; 01-22 was abandoned), E4 0 -> 1 of pre 4 -> +100% (with the mandate as the end,
    +50%)."""
    company = pilot_company()
    company.employees["ai_access_from"] = pd.to_datetime(["2025-01-20", "2025-01-20", "2025-01-23", "2025-01-27"])
    pilot = causal.pilot_design(company)
    dates = ("2025-01-20", "2025-01-23", "2025-01-27")
    assert (pilot.pilot, pilot.second, pilot.mandate) == tuple(pd.Timestamp(d) for d in dates)
    assert list(pilot.people["wave"]) == [True, True, False, False]
    assert notebook_estimate(company).value == pytest.approx(100.0)
    assert truth.access_effect(company)["value"] == pytest.approx(100 * (4.7 / 4.0 - 1))  # the wave's labels


def test_the_event_study_compares_each_week_with_the_mean_week_before_access():
    """Closed work by the week it was opened, wave E1+E2 against E3+E4: weeks -2 and -1 are 2 and 2
    in both groups, week 0 is 3 against 2 (E3's abandoned item does not count) -> 0, 0, +50%."""
    study = causal.event_study(pilot_company())
    assert list(study["week"]) == [-2, -1, 0]
    assert list(study["effect_pct"]) == pytest.approx([0.0, 0.0, 50.0])
    assert list(study["waves"]) == [1, 1, 1]
    with pytest.raises(causal.CausalError, match="at least one week"):
        causal.event_study(pilot_company(), pre_weeks=0)


def test_whole_squads_or_teams_sharing_a_date_are_the_unit():
    company = pilot_company()
    company.employees["team"] = ["A", "A", "B", "B"]
    assert randomisation_unit(company) == "team"
    company.employees["team"] = ["A", "B", "A", "B"]
    company.employees["manager_id"] = [None, "E1", "E4", None]   # squads {E2} / {E3}: size one
    assert randomisation_unit(company) == "person"


def test_a_company_without_a_pilot_is_a_clear_error():
    company = pilot_company()
    company.employees["ai_access_from"] = pd.Timestamp("2025-01-27")
    with pytest.raises(causal.CausalError, match="same day"):
        notebook_estimate(company)
    with pytest.raises(truth.TruthError, match="same day"):
        truth.access_effect(company)


# ----------------------------------------------------------------------------- interval credit

def test_interval_credit_rewards_covering_the_truth_at_the_reference_width():
    assert causal.interval_credit(10, 0, 20, truth=15, reference_width=20) == (1.0, pytest.approx(
        "Your interval covers the true effect and is no wider than the design needs."))
    slack = causal.INTERVAL_SLACK * 10      # of the half-width, on each side
    assert causal.interval_credit(10, 0, 20, truth=20 + slack - 0.01, reference_width=20)[0] == 1.0
    assert causal.interval_credit(10, 0, 20, truth=20 + slack + 0.01, reference_width=20)[0] == 0.0
    assert causal.interval_credit(10, 0, 20, truth=-slack - 0.01, reference_width=20)[0] == 0.0


def test_a_wide_interval_loses_credit_linearly_and_a_huge_one_earns_nothing():
    full = causal.WIDTH_FULL * 20
    assert causal.interval_credit(0, -full / 2, full / 2, truth=0, reference_width=20)[0] == 1.0
    assert causal.interval_credit(0, -10, 10, truth=0, reference_width=20)[0] == 1.0
    middle = (causal.WIDTH_FULL + causal.WIDTH_ZERO) / 2 * 20
    credit, message = causal.interval_credit(0, -middle / 2, middle / 2, truth=0, reference_width=20)
    assert credit == pytest.approx(0.5) and "wider than the design needs" in message
    assert causal.interval_credit(0, -500, 500, truth=0, reference_width=20)[0] == 0.0


def test_an_interval_narrower_than_the_design_allows_fails_even_when_it_covers():
    narrow = causal.NARROW_ZERO * 20 - 1
    credit, message = causal.interval_credit(0, -narrow / 2, narrow / 2, truth=0, reference_width=20)
    assert credit == 0.0 and "narrower than this design allows" in message
    just = causal.NARROW_FULL * 20 + 0.01
    assert causal.interval_credit(0, -just / 2, just / 2, truth=0, reference_width=20)[0] == 1.0


def test_the_messages_never_name_the_truth_or_its_direction():
    for low, high in ((0, 20), (-100, 100), (30, 40), (-40, -30)):
        _, message = causal.interval_credit((low + high) / 2, low, high, truth=13.7, reference_width=20)
        assert "13.7" not in message and "higher" not in message and "lower" not in message


@pytest.mark.parametrize("answer, problem", [
    ((5, 10, 0), "lower end is above"),
    ((float("nan"), 0, 10), "finite"),
    ((5, "ten", 10), "number"),
    ((50, 0, 10), "inside its own interval"),
    ((None, 0, 10), "number"),
])
def test_malformed_intervals_get_a_clear_message(answer, problem):
    with pytest.raises(causal.AnswerError, match=problem):
        causal.interval_credit(*answer, truth=5, reference_width=10)


def test_the_finding_multiplies_share_credit_by_interval_credit():
    truth_ = {"theater_share": 0.30, "access_effect_pct": 12.0, "access_effect_reference_width": 16.0}
    good = {"theater_share": 0.31, "access_effect_pct": 10.0, "access_effect_low": 3.0, "access_effect_high": 18.0}
    assert run_check("measure.finding", good, truth_).score == 1.0
    assert run_check("measure.finding", {**good, "theater_share": 0.6}, truth_).score == 0.0
    assert run_check("measure.finding", {**good, "access_effect_low": 1.0, "access_effect_high": 2.0,
                                         "access_effect_pct": 1.5}, truth_).score == 0.0
    result = run_check("measure.finding", {"theater_share": 0.3}, truth_)
    assert result.score == 0.0 and "access_effect_low" in result.message
    result = run_check("measure.finding", {**good, "access_effect_low": 30.0}, truth_)
    assert result.score == 0.0 and "cannot be scored" in result.message
    assert run_check("measure.finding", "not json", truth_).score == 0.0
    assert run_check("measure.finding", [1, 2], truth_).score == 0.0


# ----------------------------------------------------------------------------- on generated companies

COURSE_SIZE = (DataSpec().employees, DataSpec().days)


def _seeds(family: str, count: int, first: int = 5_000_000) -> list[int]:
    seeds, seed = [], first
    while len(seeds) < count:
        if family_of_seed(seed) == family:
            seeds.append(seed)
        seed += 1
    return seeds


def _credit(estimate: causal.Estimate, effect: dict[str, float]) -> float:
    return causal.interval_credit(estimate.value, estimate.low, estimate.high,
                                  effect["value"], effect["reference_width"])[0]


@pytest.fixture(scope="module")
def scored() -> dict[str, list[dict[str, float]]]:
    """Reference and naive credit on course-sized companies of the families the test needs."""
    out: dict[str, list[dict[str, float]]] = {}
    for family, count in (("selection", 10), ("theater", 5), ("spillover", 5), ("staggered", 6)):
        rows = []
        for seed in _seeds(family, count):
            company = generate_company("mandate-bigco", *COURSE_SIZE, seed)
            effect = truth.access_effect(company)
            rows.append({"reference": _credit(notebook_estimate(company), effect),
                         "naive": _credit(causal.naive_estimate(company), effect),
                         "unit": randomisation_unit(company),
                         "waves": company.employees["ai_access_from"].nunique(),
                         "event_study": causal.event_study(company)})
        out[family] = rows
    return out


def test_the_reference_design_earns_full_interval_credit_almost_everywhere(scored):
    rows = [row for family in scored.values() for row in family]
    assert sum(row["reference"] == 1.0 for row in rows) >= len(rows) - 1


def test_users_vs_non_users_fails_where_newer_staff_adopt(scored):
    selection = scored["selection"]
    assert np.mean([row["naive"] for row in selection]) < 0.6
    assert np.mean([row["reference"] for row in selection]) > 0.9


def test_the_unit_of_randomisation_follows_the_family(scored):
    assert {row["unit"] for row in scored["spillover"] + scored["staggered"]} == {"squad"}
    assert {row["unit"] for row in scored["theater"] + scored["selection"]} == {"person"}
    assert FAMILIES["spillover"].randomised_by == "squad"


def test_a_staggered_rollout_has_three_or_four_waves_and_an_event_study_over_them(scored):
    rows = scored["staggered"]
    assert {row["waves"] for row in rows} <= {3, 4} and len({row["waves"] for row in rows}) == 2
    for row in rows:
        study = row["event_study"]
        assert study["week"].min() == -causal.EVENT_PRE_WEEKS and study["week"].max() >= 2
        # every wave but the last has a later, not-yet-licensed group in its first weeks
        assert study.loc[study["week"].between(-causal.EVENT_PRE_WEEKS, 0), "waves"].eq(row["waves"] - 1).all()
        assert study.loc[study["week"] < 0, "effect_pct"].abs().mean() < 15   # flat before access


@pytest.mark.parametrize("family", ["theater", "staggered"])
def test_the_labels_expected_work_matches_what_the_generator_draws(family):
    """A Monte-Carlo check of the potential outcomes: work opened in the window (first to second
    access date) is drawn from lambda1 for the first wave and lambda0 for everyone not yet
    licensed, so realised counts match the labels' sums over that same window."""
    company = generate_company("mandate-bigco", 600, 180, _seeds(family, 1)[0])
    pilot = causal.pilot_design(company)
    assert (pilot.second < pilot.mandate) == (family == "staggered")
    opened = pd.to_datetime(company.work_items["created_at"])
    in_window = company.work_items[(opened >= pilot.pilot) & (opened < pilot.second)]
    counts = in_window.groupby("employee_id").size().reindex(pilot.people["employee_id"], fill_value=0)
    labels = company.labels.set_index("employee_id").loc[pilot.people["employee_id"]]
    wave = pilot.people["wave"].to_numpy()
    for group, column in ((wave, "pilot_expected_with"), (~wave, "pilot_expected_without")):
        expected = float(labels[column].to_numpy()[group].sum())
        realised = float(counts.to_numpy()[group].sum())
        assert abs(realised - expected) < 4 * math.sqrt(expected), (column, realised, expected)
    # and the two potential outcomes differ for the wave: access changed the expected work
    assert not np.allclose(labels["pilot_expected_with"], labels["pilot_expected_without"])
