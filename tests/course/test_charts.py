import json

import pandas as pd
import pytest

from course.charts import (CHARTS, MAX_MARKS, MIN_GROUP, PALETTE, employee_features,
                           suppress_small_groups)
from course.simulator import SimParams, simulate

GREYS = {"#555555", "#333333", "#777777", "white"}
CONTENT_CHART_IDS = {
    "adoption_vs_output", "tokens_by_archetype_hidden", "acceptance_vs_tokens",
    "self_authored_share", "deadline_bursts", "sessions_linked_to_work",
    "cycle_time_before_after", "detector_tradeoff", "cohort_flows", "perception_vs_measured",
    "goodhart_simulator",
}


def _colours(spec) -> set[str]:
    found: set[str] = set()
    def walk(node, key=None):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and key in ("color", "fill", "stroke", "range") and (
                node.startswith("#") or node == "white"):
            found.add(node)
    walk(spec)
    return found


def _rows(spec) -> int:
    return sum(len(rows) for rows in spec.get("datasets", {}).values())


def test_every_chart_id_the_content_may_use_has_a_builder():
    assert set(CHARTS) == CONTENT_CHART_IDS


@pytest.fixture(scope="module")
def results(small_company):
    return {chart_id: build(small_company) for chart_id, build in CHARTS.items()}


@pytest.mark.parametrize("chart_id", sorted(CONTENT_CHART_IDS))
def test_chart_is_small_coloured_from_the_palette_and_summarised(results, chart_id):
    result = results[chart_id]
    spec = result.chart.to_dict()
    assert 0 < _rows(spec) <= MAX_MARKS
    assert _colours(spec) <= set(PALETTE.values()) | GREYS
    assert len(result.summary) > 40 and "nan" not in result.summary.lower()
    assert isinstance(result.table, pd.DataFrame) and 0 < len(result.table) <= MAX_MARKS


@pytest.mark.parametrize("chart_id", ["adoption_vs_output", "detector_tradeoff", "goodhart_simulator"])
def test_multi_series_charts_do_not_rely_on_colour_alone(results, chart_id):
    text = json.dumps(results[chart_id].chart.to_dict())
    assert "strokeDash" in text


def test_palette_is_the_okabe_ito_colours_that_reach_3_to_1():
    assert set(PALETTE.values()) == {"#0072B2", "#D55E00", "#009E73", "#CC79A7"}


def test_teams_below_the_minimum_group_size_are_hidden(results, small_company):
    small_team = "Tiny Team"
    assert (small_company.employees["team"] == small_team).sum() < MIN_GROUP
    for chart_id in ("tokens_by_archetype_hidden", "perception_vs_measured"):
        table = results[chart_id].table
        assert small_team not in set(table["team"])
        assert (table["employees"] >= MIN_GROUP).all()
        assert "hidden" in results[chart_id].summary


def test_cells_under_five_employees_are_suppressed(results):
    for chart_id in ("cohort_flows", "cycle_time_before_after"):
        assert (results[chart_id].table["employees"] >= MIN_GROUP).all()


def test_suppress_small_groups_reports_how_many_it_hid():
    frame = pd.DataFrame({"team": ["a", "b", "c"], "employees": [4, 5, 12]})
    kept, hidden = suppress_small_groups(frame)
    assert list(kept["team"]) == ["b", "c"] and hidden == 1


def test_adoption_chart_summary_states_both_changes(results):
    summary = results["adoption_vs_output"].summary
    assert "AI events per employee changed by" in summary and "closed work" in summary


def test_employee_features_hold_no_labels(small_company):
    features = employee_features(small_company)
    assert not {"archetype", "is_theater"} & set(features.columns)
    assert len(features) == len(small_company.employees)
    assert features["acceptance_rate"].dropna().between(0, 1).all()


def test_detector_chart_compares_two_detectors(results):
    table = results["detector_tradeoff"].table
    assert set(table["detector"]) == {"Token count", "Outcome-linked features"}
    assert table["precision"].between(0, 1).all() and table["recall"].between(0, 1).all()


def test_simulator_chart_marks_the_reward_and_the_half_line():
    result = CHARTS["goodhart_simulator"](None)
    text = json.dumps(result.chart.to_dict())
    assert "reward starts" in text and "half the starting value" in text
    assert len(result.table) == SimParams().weeks == len(simulate(SimParams()).weekly)


def test_the_metric_stage_shows_no_reward_because_there_is_none():
    from course.charts import simulator_chart

    params = SimParams(stage="metric")                 # reward keeps its default 0.5, unused here
    result = simulator_chart(simulate(params), params)
    text = json.dumps(result.chart.to_dict())
    assert "reward starts" not in text and "weeks before the reward" not in text
    assert "never rewarded" in result.summary and "rewarded at" not in result.summary
    assert not result.table["rewarded"].any()
    rewarded = SimParams(stage="incentive")
    assert "rewarded at 0.50" in simulator_chart(simulate(rewarded), rewarded).summary


def test_the_detector_chart_scores_with_the_reference_detector(small_company):
    """The outcome-linked line ranks by datasets.reference's score: its AUC, not a weaker stand-in."""
    from course.charts import _detector_scores
    from datasets import reference

    users = _detector_scores(small_company).set_index("employee_id")
    features = reference.employee_features(small_company)
    expected = reference.default_detector(features).score(features)
    common = expected.index.intersection(users.index)
    assert len(common) > 10
    assert (users.loc[common, "outcome_score"] == expected[common]).all()


def test_a_small_cell_is_drawn_with_the_next_smallest_and_nothing_larger_disappears():
    from course.charts import merge_small_cells

    order = ["a", "b", "c"]
    frame = pd.DataFrame({"month": ["m1"] * 3 + ["m2"] * 3 + ["m3"] * 3,
                          "category": order * 3,
                          "employees": [72, 74, 4, 30, 40, 12, 2, 1, 147]})
    drawn, merged = merge_small_cells(frame, "month", "category", order)
    m1 = drawn[drawn["month"] == "m1"].set_index("category")["employees"].to_dict()
    assert m1 == {"a + c": 76, "b": 74}           # the 4 rides with the 72; the 74 stays in view
    assert len(drawn[drawn["month"] == "m2"]) == 3
    m3 = drawn[drawn["month"] == "m3"].set_index("category")["employees"].to_dict()
    assert m3 == {"a + b + c": 150}                # 2 + 1 is still under five: merged again
    assert merged == ["m1", "m3"]
    assert (drawn["employees"] >= 5).all()
    assert drawn.groupby("month")["employees"].sum().tolist() == [150, 82, 150]


def test_flag_by_ranges_flags_users_inside_every_range():
    from course.charts import flag_by_ranges

    features = pd.DataFrame({"employee_id": ["E1", "E2", "E3", "E4"], "ai_events": [5, 5, 5, 0],
                             "acceptance_rate": [0.1, 0.5, None, 0.1],
                             "tokens_per_week": [900.0, 900.0, 900.0, 0.0]})
    assert flag_by_ranges(features, {}) == []
    assert flag_by_ranges(features, {"acceptance_rate": (0.0, 0.2)}) == ["E1"]
    assert flag_by_ranges(features, {"acceptance_rate": (0.0, 1.0),
                                     "tokens_per_week": (1000.0, 2000.0)}) == []


def test_self_authored_histogram_top_codes_sparse_high_bins(results, small_company):
    table = results["self_authored_share"].table
    features = employee_features(small_company)
    users = int(features.loc[features["ai_events"] > 0, "self_authored_share"].notna().sum())
    assert table["employees"].iloc[-1] >= MIN_GROUP
    assert table["label"].iloc[-1].endswith("100%")
    shown = int(table["employees"].sum())
    assert shown <= users and (users - shown) < MIN_GROUP * 10
    assert ((table["employees"] == 0) | (table["employees"] >= MIN_GROUP)).all()


def _marks(node):
    """Every mark definition in a Vega-Lite spec, layered or not."""
    if isinstance(node, dict):
        if isinstance(node.get("mark"), (dict, str)):
            yield node["mark"] if isinstance(node["mark"], dict) else {"type": node["mark"]}, node
        for value in node.values():
            yield from _marks(value)
    elif isinstance(node, list):
        for value in node:
            yield from _marks(value)


@pytest.mark.parametrize("chart_id", sorted(CONTENT_CHART_IDS))
def test_faded_marks_keep_a_full_strength_outline(results, chart_id):
    """A translucent fill falls under 3:1 on white; its outline must still reach it (COURSE-QUALITY §12)."""
    for mark, view in _marks(results[chart_id].chart.to_dict()):
        assert "opacity" not in view.get("encoding", {}), f"{chart_id}: opacity used as an encoding"
        faded = min(mark.get("opacity", 1), mark.get("fillOpacity", 1)) < 1
        if faded and mark.get("type") not in ("rule", "text"):
            assert mark.get("stroke") in PALETTE.values(), f"{chart_id}: faded {mark.get('type')} without outline"
            assert mark.get("strokeOpacity", 1) == 1
