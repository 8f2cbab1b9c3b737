"""The truth functions compute exactly the documented definitions, checked on a hand-made company."""

from __future__ import annotations

import pandas as pd
import pytest

from exercises import truth
from exercises.checks import run_check


def test_weekly_table_counts_events_users_and_closed_work_per_team(company):
    table = truth.weekly_usage_output(company).set_index(["week", "team"])
    assert list(table.columns) == ["ai_events", "ai_users", "closed_items"]
    assert table.loc[("2025-01-06", "Payments")].tolist() == [2, 1, 1]
    assert table.loc[("2025-01-06", "Search")].tolist() == [1, 1, 1]
    assert table.loc[("2025-01-20", "Payments")].tolist() == [4, 2, 1]  # abandoned W7 is not output
    assert table.loc[("2025-01-20", "Search")].tolist() == [0, 0, 1]
    assert table.loc[("2025-01-27", "Search")].tolist() == [1, 1, 1]


def test_weekly_truth_passes_its_own_check(company):
    table = truth.weekly_usage_output(company)
    assert run_check("explore.weekly_usage_output", table, table).score == 1.0


def test_theater_share_counts_only_events_from_the_mandate_on(company):
    # post-mandate events: 3 (E1 genuine), 4..7 (E2 theater), 9 (E4 genuine) -> 4 of 6
    assert truth.theater_share(company) == pytest.approx(4 / 6)


def test_the_measure_finding_needs_a_pilot_and_says_so(company):
    """The graded effect is the pilot's effect of access: a company without access dates has none."""
    with pytest.raises(truth.TruthError, match="ai_access_from"):
        truth.measure_finding(company)


@pytest.fixture(scope="module")
def piloted():
    from datasets.api import generate_company
    return generate_company("mandate-bigco", 150, 180, seed=7)


def test_the_measure_finding_holds_the_share_and_the_access_effect_with_its_reference_width(piloted):
    from exercises.causal import design_unit, reference_estimate

    finding = truth.measure_finding(piloted)
    assert set(finding) == {"theater_share", "access_effect_pct", "access_effect_reference_width"}
    assert finding["theater_share"] == pytest.approx(truth.theater_share(piloted))
    assert finding["access_effect_reference_width"] == pytest.approx(reference_estimate(piloted, design_unit(piloted)).width)
    half = finding["access_effect_reference_width"] / 2
    exact = {"theater_share": finding["theater_share"], "access_effect_pct": finding["access_effect_pct"],
             "access_effect_low": finding["access_effect_pct"] - half,
             "access_effect_high": finding["access_effect_pct"] + half}
    assert run_check("measure.finding", exact, finding).score == 1.0


def test_the_practice_effect_is_the_access_effect_with_the_reference_interval_as_tolerance(piloted):
    effect = truth.access_effect(piloted)
    point = truth.access_effect_point(piloted)
    assert point == pytest.approx({"value": effect["value"], "full_within": effect["reference_width"] / 2,
                                   "zero_at": effect["reference_width"]})
    assert run_check("measure.access_effect", effect["value"] + 0.9 * point["full_within"], point).score == 1.0
    assert run_check("measure.access_effect", effect["value"] - point["zero_at"], point).score == 0.0


def test_archetype_truths_read_the_labels(company):
    assert truth.tokenmaxxer_ids(company) == {"E2"}
    assert truth.convert_ids(company) == {"E4"}


def test_sessions_are_theater_when_most_events_are(company):
    assert truth.session_theater_labels(company, [1, 3, 5, 6, 999]) == {1: False, 3: True, 5: True, 6: False}


def test_session_sample_is_balanced_and_carries_no_labels(company):
    sample = truth.sample_sessions(company, n=4, seed=7)
    assert len(sample) == 4 and sample["session_id"].is_unique
    assert "is_theater" not in sample.columns and "archetype" not in sample.columns
    labels = truth.session_theater_labels(company, sample["session_id"])
    assert sum(labels.values()) == 2
    everything = truth.sample_sessions(company, n=6, seed=1).set_index("session_id")
    # session 3 fed only W7, which was abandoned: not delivered work, so not linked
    assert everything["linked_work_items"].to_dict() == {1: 1, 2: 1, 3: 0, 4: 0, 5: 0, 6: 0}
    again = truth.sample_sessions(company, n=4, seed=7)
    assert again["session_id"].tolist() == sample["session_id"].tolist()


def test_truth_without_labels_is_a_clear_user_error(company):
    company.labels = None
    with pytest.raises(truth.TruthError, match="no labels"):
        truth.tokenmaxxer_ids(company)


def test_mandate_falls_back_to_metadata(company):
    company.calendar = company.calendar.iloc[0:0]
    assert truth.mandate_date(company) == pd.Timestamp("2025-01-20")
    assert truth.theater_share(company) == pytest.approx(4 / 6)
