"""Every registered check meets its own known passing and failing answers, and never leaks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from exercises import checks
from exercises.checks import CHECKS, CORRECT, INCORRECT, NOT_ATTEMPTED, run_check
from exercises.metrics import KINDS, METRIC_CATALOGUE

FIXED_IDS = {
    "explore.weekly_usage_output",
    "spot.label_sessions",
    "detect.flag_tokenmaxxers",
    "detect.flag_converts",
    "measure.theater_share",
    "measure.access_effect",
    "measure.finding",
    "goodhart.collapse_point",
    "metrics.dashboard_design",
}

PASSING = [(c.id, i, ex) for c in CHECKS.values() for i, ex in enumerate(c.passing)]
FAILING = [(c.id, i, ex) for c in CHECKS.values() for i, ex in enumerate(c.failing)]


def test_registry_holds_exactly_the_fixed_check_ids():
    assert set(CHECKS) == FIXED_IDS


def _stable_id(value) -> str:
    """Ids that every xdist worker computes alike (no set order, no memory addresses)."""
    return value if isinstance(value, (str, int)) and not isinstance(value, bool) else "example"


@pytest.mark.parametrize("check_id", sorted(FIXED_IDS))
def test_every_check_has_tiered_hints_and_examples_both_ways(check_id):
    chk = CHECKS[check_id]
    assert len(chk.hints) >= 2
    assert chk.passing and chk.failing
    assert chk.summary


@pytest.mark.parametrize(("check_id", "index", "example"), PASSING, ids=_stable_id)
def test_passing_example_is_marked_correct(check_id, index, example):
    result = run_check(check_id, example.answer, example.truth)
    assert result.status == CORRECT, result.message
    assert 0.0 < result.score <= 1.0
    assert result.message


@pytest.mark.parametrize(("check_id", "index", "example"), FAILING, ids=_stable_id)
def test_failing_example_is_marked_incorrect_with_a_message(check_id, index, example):
    result = run_check(check_id, example.answer, example.truth)
    assert result.status == INCORRECT
    assert 0.0 <= result.score < 1.0
    assert result.message and "Traceback" not in result.message


@pytest.mark.parametrize("check_id", sorted(FIXED_IDS))
@pytest.mark.parametrize("empty", [None, "", "   ", [], set(), {}, pd.DataFrame(), float("nan")], ids=repr)
def test_empty_answers_are_not_attempted(check_id, empty):
    truth = CHECKS[check_id].passing[0].truth
    result = run_check(check_id, empty, truth)
    assert result.status == NOT_ATTEMPTED
    assert result.score == 0.0


class Weird:
    """An answer whose comparisons always say yes and whose conversions explode."""

    def __eq__(self, other):
        return True

    def __hash__(self):
        return 0

    def __iter__(self):
        raise RuntimeError("boom")

    def __float__(self):
        raise RuntimeError("boom")


@pytest.mark.parametrize("check_id", sorted(FIXED_IDS))
@pytest.mark.parametrize("bad", [Weird(), object(), 3.5, b"bytes", [[1, 2]], {"a": {"b": 1}}],
                         ids=lambda v: type(v).__name__)
def test_bad_answers_never_raise_and_never_pass(check_id, bad):
    truth = CHECKS[check_id].passing[0].truth
    result = run_check(check_id, bad, truth)
    assert result.status in (INCORRECT, NOT_ATTEMPTED)
    assert result.score < 1.0 or check_id.startswith("measure")


def test_unknown_check_id_is_a_programming_error():
    with pytest.raises(KeyError, match="unknown check"):
        run_check("no.such", 1, 1)


def test_estimate_messages_never_print_the_expected_value():
    truth = 0.3172
    for answer in (0.01, 0.2, 0.5, 0.99):
        message = run_check("measure.theater_share", answer, truth).message
        assert "0.317" not in message and "31.7" not in message and "32%" not in message


def test_flag_messages_do_not_list_the_hidden_ids():
    truth = {"E00011", "E00012", "E00013"}
    message = run_check("detect.flag_tokenmaxxers", ["E00011", "E00099"], truth).message
    assert "E00012" not in message and "E00013" not in message


def test_f1_credit_is_linear_between_the_zero_and_full_marks():
    truth = {f"E{i:05d}" for i in range(10)}
    flagged = sorted(truth)[:4]  # precision 1, recall 0.4, F1 4/7
    result = run_check("detect.flag_tokenmaxxers", flagged, truth)
    expected = (4 / 7 - checks.FLAG_ZERO_F1) / (checks.FLAG_FULL_F1 - checks.FLAG_ZERO_F1)
    assert result.score == pytest.approx(expected)
    assert result.status == INCORRECT


def test_flagging_everyone_earns_nothing():
    truth = {f"E{i:05d}" for i in range(20)}
    everyone = [f"E{i:05d}" for i in range(100)]  # precision 0.2, recall 1, F1 1/3
    assert run_check("detect.flag_tokenmaxxers", everyone, truth).score < 0.1


def test_estimate_credit_falls_linearly_between_tolerance_and_zero_point():
    rule = checks.ESTIMATE_RULES["measure.access_effect"]
    midway = 10.0 + (rule.full_within + rule.zero_at) / 2
    assert run_check("measure.access_effect", midway, 10.0).score == pytest.approx(0.5)
    assert run_check("measure.access_effect", 10.0 + rule.zero_at, 10.0).score == 0.0
    assert run_check("measure.access_effect", 10.0 - rule.full_within, 10.0).score == 1.0


def test_the_practice_access_effect_takes_its_tolerance_from_the_truth():
    truth = {"value": 10.0, "full_within": 4.0, "zero_at": 8.0}   # a small reference interval
    assert run_check("measure.access_effect", 13.9, truth).status == CORRECT
    assert run_check("measure.access_effect", 16.0, truth).score == pytest.approx(0.5)
    assert run_check("measure.access_effect", 18.0, truth).score == 0.0


FINDING_TRUTH = {"theater_share": 0.30, "access_effect_pct": 10.0, "access_effect_reference_width": 16.0}
COVERING = {"access_effect_pct": 9.0, "access_effect_low": 1.0, "access_effect_high": 17.0}   # width 1.0x the reference


def test_the_finding_earns_the_product_of_its_two_parts_credits():
    share_rule = checks.ESTIMATE_RULES["measure.theater_share"]
    half_share = 0.30 + (share_rule.full_within + share_rule.zero_at) / 2
    # an interval that covers but is 1.375x the reference width: half the interval's credit
    wide = {"access_effect_pct": 10.0, "access_effect_low": -1.0, "access_effect_high": 21.0}
    assert run_check("measure.finding", {"theater_share": 0.30, **wide}, FINDING_TRUTH).score == pytest.approx(0.5)
    answer = {"theater_share": half_share, **wide}
    assert run_check("measure.finding", answer, FINDING_TRUTH).score == pytest.approx(0.25)
    both_right = {"theater_share": 0.30 + share_rule.full_within, **COVERING}
    assert run_check("measure.finding", both_right, FINDING_TRUTH).status == CORRECT
    missing_the_truth = {"theater_share": 0.30, "access_effect_pct": 30.0, "access_effect_low": 22.0,
                         "access_effect_high": 38.0}
    result = run_check("measure.finding", missing_the_truth, FINDING_TRUTH)
    assert result.score == 0.0 and "within the tolerance" in result.message and "misses" in result.message


def test_the_finding_names_a_missing_or_malformed_part():
    result = run_check("measure.finding", COVERING, FINDING_TRUTH)
    assert result.status == INCORRECT and "missing: theater_share" in result.message
    result = run_check("measure.finding", {"theater_share": 0.3, "access_effect_pct": 9.0}, FINDING_TRUTH)
    assert result.status == INCORRECT and "access_effect_low, access_effect_high" in result.message
    result = run_check("measure.finding", {"theater_share": 30, **COVERING}, FINDING_TRUTH)
    assert result.status == INCORRECT and "percentage" in result.message
    result = run_check("measure.finding", {"theater_share": 0.3, **COVERING, "access_effect_pct": "ten"}, FINDING_TRUTH)
    assert result.status == INCORRECT and "effect estimate" in result.message
    result = run_check("measure.finding", {"theater_share": 0.3, **COVERING, "access_effect_pct": 20.0}, FINDING_TRUTH)
    assert result.status == INCORRECT and "inside its own interval" in result.message
    # extra keys are ignored; JSON text is read
    answer = {"theater_share": 0.3, **COVERING, "note": "see reflection"}
    assert run_check("measure.finding", answer, FINDING_TRUTH).status == CORRECT
    assert run_check("measure.finding", '{"theater_share": 0.3, "access_effect_pct": 9, "access_effect_low": 1, '
                                        '"access_effect_high": 17}', FINDING_TRUTH).status == CORRECT


def test_the_finding_message_never_prints_an_expected_value_or_the_reference_width():
    truth = {"theater_share": 0.3172, "access_effect_pct": 13.46, "access_effect_reference_width": 17.3}
    for share, effect, half in ((0.01, -30.0, 2.0), (0.2, 5.0, 9.0), (0.5, 13.0, 8.6), (0.99, 60.0, 40.0)):
        answer = {"theater_share": share, "access_effect_pct": effect, "access_effect_low": effect - half,
                  "access_effect_high": effect + half}
        message = run_check("measure.finding", answer, truth).message
        for leaked in ("0.317", "31.7", "13.4", "13.5", "17.3", "8.65"):
            assert leaked not in message


def test_weekly_table_scores_the_share_of_agreeing_cells():
    truth = pd.DataFrame(
        {"week": ["2025-01-06", "2025-01-13"], "team": ["A", "A"],
         "ai_events": [4, 6], "ai_users": [2, 3], "closed_items": [1, 2]}
    )
    answer = truth.copy()
    answer.loc[1, "closed_items"] = 9
    result = run_check("explore.weekly_usage_output", answer, truth)
    assert result.score == pytest.approx(5 / 6)
    assert "closed_items" in result.message


def test_weekly_table_with_duplicate_rows_is_incorrect_with_a_reason():
    truth = pd.DataFrame({"week": ["2025-01-06"], "team": ["A"], "ai_events": [4], "ai_users": [2],
                          "closed_items": [1]})
    answer = pd.concat([truth, truth])
    result = run_check("explore.weekly_usage_output", answer, truth)
    assert result.status == INCORRECT and "more than one row" in result.message


def test_numpy_scalars_and_arrays_are_accepted():
    assert run_check("measure.theater_share", np.float64(0.3), 0.3).status == CORRECT
    ids = np.array(["E00001", "E00002"])
    assert run_check("detect.flag_converts", ids, {"E00001", "E00002"}).status == CORRECT


def test_theater_share_given_as_percentage_is_explained():
    result = run_check("measure.theater_share", 30, 0.3)
    assert result.status == INCORRECT and "percentage" in result.message


def test_dashboard_names_the_criteria_it_misses():
    result = run_check("metrics.dashboard_design", ["cycle_time", "tokens_per_user"], None)
    assert result.status == INCORRECT
    assert "guardrail" in result.message and "game" in result.message
    assert 0 < result.score < 1


def test_metric_catalogue_is_consistent():
    assert {m.kind for m in METRIC_CATALOGUE.values()} <= set(KINDS)
    assert all(m.why and m.name for m in METRIC_CATALOGUE.values())
    assert any(m.survives_target for m in METRIC_CATALOGUE.values())
    assert not all(m.survives_target for m in METRIC_CATALOGUE.values())
    assert not any(m.survives_target for m in METRIC_CATALOGUE.values() if m.kind in ("activity", "output"))
    assert not any("engineer" in m.name for m in METRIC_CATALOGUE.values()), "no per-person metric"


def test_scores_are_finite_and_clipped():
    assert checks._clip_score(float("nan")) == 0.0
    assert checks._clip_score(3) == 1.0
    assert math.isfinite(run_check("goodhart.collapse_point", 1e300, 0.4).score)


def test_every_registered_truth_is_a_truth_function_and_every_company_truth_is_registered():
    """The check -> truth pairing lives once, in the registry: the app and assignment.yaml read it."""
    from exercises.truth import TRUTHS

    paired = {c.id: c.truth for c in checks.CHECKS.values() if c.truth is not None}
    assert set(paired.values()) <= set(TRUTHS)
    assert set(TRUTHS) == set(paired.values())  # no truth function that no check scores against
    assert paired["measure.finding"] == "measure_finding" and paired["detect.flag_converts"] == "convert_ids"


@pytest.mark.parametrize("check_id", sorted(FIXED_IDS))
def test_every_check_is_one_complete_record(check_id):
    """Everything an exercise knows is on its record: where its truth comes from, the ladder its
    credit is read on, what a learner may see, the app widget, and the misconceptions or
    tolerances the instructor's reading relies on."""
    chk = CHECKS[check_id]
    assert chk.truth_source in checks.TRUTH_SOURCES
    assert (chk.truth is not None) == (chk.truth_source == "company"), "a company truth is named"
    assert [b.id for b in chk.ladder] == ["within", "close", "off"]
    assert chk.ladder is checks.LADDER                          # one ladder, not a copy
    assert chk.visibility in checks.VISIBILITIES
    assert chk.widget.kind in checks.WIDGET_KINDS
    result = run_check(check_id, chk.failing[0].answer, chk.failing[0].truth)
    assert isinstance(result.reading, checks.Reading) and result.reading.band in {b.id for b in chk.ladder}
    assert checks.Reading.from_dict(result.reading.to_dict()) == result.reading   # survives the record
    if check_id.startswith("measure."):
        assert chk.tolerances, "an estimate's tolerance lives on its record"
    if chk.tolerances and check_id != "measure.finding":
        assert {"high", "low"} <= set(chk.misconceptions)
    if check_id.startswith("detect."):
        assert {"every user", "too many", "too few", "partly"} <= set(chk.misconceptions)


def test_the_reading_band_is_the_band_of_the_credit_on_the_one_ladder():
    for answer in (0.30, 0.33, 0.37, 0.42, 0.9):
        result = run_check("measure.theater_share", answer, 0.30)
        assert result.reading.band == checks.band_of_credit(result.score).id == result.band.id
        assert result.reading.error == pytest.approx(answer - 0.30)
