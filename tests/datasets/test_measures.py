"""One definition of each measure (datasets.measures), and everyone who speaks of it agrees.

Checked by hand on the tiny company of tests/exercises, then on a generated company: the app's
per-employee features, the reference detector, the truth's session table, module 3's comparison
group and the worked examples of the `explore` and `detect` notebooks (which spell the definitions
in plain pandas, because learners never import this package) all give the same answers.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from course import charts, practice
from datasets import measures, reference
from datasets.api import generate_company, write_company
from exercises import truth
from exercises.assignments import SOURCE_DIR
from tests.exercises.conftest import tiny_company
from benchmarks.reference_method import notebook_estimate


@pytest.fixture(scope="module")
def company():
    return generate_company("startup", employees=60, days=84, seed=20261130)


# ----------------------------------------------------------------------------- each definition

def test_a_week_starts_on_its_monday():
    stamps = pd.Series(pd.to_datetime(["2025-01-05 23:59", "2025-01-06 00:00", "2025-01-12 18:00"]))
    assert measures.week_start(stamps).tolist() == [pd.Timestamp("2024-12-30"), pd.Timestamp("2025-01-06"),
                                                   pd.Timestamp("2025-01-06")]
    assert measures.week_label(stamps).tolist() == ["2024-12-30", "2025-01-06", "2025-01-06"]


def test_closed_work_is_closed_or_merged_and_only_it_links_a_session():
    tiny = tiny_company()
    assert set(measures.closed_work(tiny.work_items)["work_item_id"]) == {f"W{i}" for i in range(1, 7)}
    # session 3 fed only W7, which was abandoned: it delivered nothing, so it is not linked
    assert measures.delivered_sessions(tiny.work_items) == {1, 2}
    shares = measures.linked_session_share(tiny.ai_events, tiny.work_items)
    assert shares.to_dict() == {"E1": 1.0, "E2": 0.0, "E4": 0.0}


def test_mandate_date_comes_from_the_calendar_else_the_metadata():
    tiny = tiny_company()
    assert measures.mandate_date(tiny) == pd.Timestamp("2025-01-20")
    tiny.calendar = tiny.calendar.iloc[0:0]
    tiny.meta["mandate_date"] = "2025-01-22"
    assert measures.mandate_date(tiny) == pd.Timestamp("2025-01-22")
    tiny.meta["mandate_date"] = None
    assert measures.mandate_date(tiny) is None
    assert measures.split_date(tiny) == pd.Timestamp("2025-01-20")   # the middle of 28 days


def test_periods_split_at_the_mandate_which_belongs_to_after():
    tiny = tiny_company()
    stamps = pd.Series(pd.to_datetime(["2025-01-19 23:59", "2025-01-20 00:00"]))
    assert measures.period(stamps, tiny).tolist() == [measures.BEFORE, measures.AFTER]
    assert measures.period_weeks(tiny) == {measures.BEFORE: 2.0, measures.AFTER: 2.0}


def test_cut_weeks_and_months_at_the_ends_are_not_complete():
    tiny = tiny_company()                         # Monday 2025-01-06 for 28 days: four whole weeks
    assert list(measures.complete_weeks(tiny)) == list(pd.date_range("2025-01-06", periods=4, freq="7D"))
    assert measures.complete_months(tiny) == []   # January is cut at both ends
    tiny.meta.update(start_date="2025-01-01", days=59)   # 1 January to 28 February
    assert measures.complete_months(tiny) == [pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01")]
    assert list(measures.complete_weeks(tiny))[0] == pd.Timestamp("2025-01-06")


def test_a_non_user_has_under_a_tenth_of_the_median_persons_events():
    events = pd.Series({"A": 0, "B": 1, "C": 9, "D": 100, "E": 100, "F": 200})   # median 54.5
    assert measures.non_users(events).tolist() == [True, True, False, False, False, False]
    assert measures.non_users(events, 0.0).tolist() == [True, False, False, False, False, False]


# ----------------------------------------------------------------------------- one meaning everywhere

def test_app_features_reference_detector_and_truth_agree_on_linked_sessions(company):
    app = charts.employee_features(company).set_index("employee_id")["linked_session_share"].dropna()
    detector = reference.employee_features(company, since=None)["linked_session_share"]
    pd.testing.assert_series_equal(app.sort_index(), detector.round(2).sort_index(), check_names=False)
    sessions = truth._session_summary(company)
    delivered = measures.delivered_sessions(company.work_items)
    assert set(sessions.index[sessions["linked_work_items"] > 0]) == delivered & set(sessions.index)
    abandoned = company.work_items[company.work_items["status"].isin(["open", "abandoned"])]
    only_undelivered = set(abandoned["linked_session_id"].dropna().astype(int)) - delivered
    assert only_undelivered, "the company should have sessions that fed only unfinished work"
    assert not only_undelivered & set(sessions.index[sessions["linked_work_items"] > 0])


def test_the_truth_counts_closed_work_and_weeks_as_the_measures_do(company):
    table = truth.weekly_usage_output(company)
    assert table["closed_items"].sum() == len(measures.closed_work(company.work_items))
    assert set(table["week"]) == set(measures.week_label(company.ai_events["timestamp"])) | \
        set(measures.week_label(measures.closed_work(company.work_items)["closed_at"]))
    assert truth.mandate_date(company) == measures.mandate_date(company) == reference.mandate_date(company)


def _cells(notebook: str) -> dict[str, str]:
    cells = json.loads((SOURCE_DIR / notebook).read_text())["cells"]
    return {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in cells
            if c["cell_type"] == "code" and "nbgrader" in c.get("metadata", {})}


@pytest.fixture
def released(company, tmp_path, monkeypatch):
    write_company(company, tmp_path / "data", fmt="csv", with_labels=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_explore_worked_example_uses_the_measures_week_and_closed_work(company, released):
    cells, space = _cells("explore/explore.ipynb"), {}
    for grade_id in ("setup", "part1-worked", "part2-usage", "part3-weekly"):
        exec(cells[grade_id], space)   # noqa: S102  (our own source notebook)
    events = space["ai_events"]
    assert (events["week"] == measures.week_start(events["timestamp"])).all()
    answer = space["weekly"].sort_values(["week", "team"], ignore_index=True)
    expected = truth.weekly_usage_output(company)
    assert answer["week"].tolist() == expected["week"].tolist()
    assert answer["closed_items"].tolist() == expected["closed_items"].tolist()


def test_detect_worked_example_links_sessions_as_the_measures_do(company, released):
    cells, space = _cells("detect/detect.ipynb"), {}
    for grade_id in ("setup", "part2-features"):
        exec(cells[grade_id], space)   # noqa: S102  (our own source notebook)
    recent = space["recent"]
    linked = measures.session_is_linked(recent["session_id"], company.work_items)
    assert (recent["linked"].to_numpy() == linked.to_numpy()).all()
    shares = measures.linked_session_share(recent, space["work_items"])
    pd.testing.assert_series_equal(space["features"]["linked"].sort_index(), shares.sort_index(),
                                   check_names=False)


def test_measure_pilot_estimate_is_the_reference_and_its_shortcut_the_naive_one(company, released):
    """The measure notebook's pilot estimate is exercises/causal.py's reference (same periods, same
    count of closed work by the day it was opened, same unit), its shortcut compares the
    measures' non-users, and its `performed` scale is the detect notebook's (same habits, weights)."""
    from exercises import causal

    cells, space = _cells("measure/measure.ipynb"), {}
    for grade_id in ("setup", "toolbox", "part1-worked", "part2-plot", "part2-effect", "part2-naive"):
        exec(cells[grade_id], space)   # noqa: S102  (our own source notebook)
    reference = notebook_estimate(company)
    assert space["access_effect_pct"] == pytest.approx(reference.value)
    assert (space["unit"] or "person") == reference.unit
    width = space["access_effect_high"] - space["access_effect_low"]
    assert abs(width / reference.width - 1) < 0.1, "the notebook's bootstrap is the reference's"
    assert space["non_users"] == measures.non_user_ids(company) - space["users"]
    # the detect notebook's habits, written as the shares they are computed from (a negative
    # weight counts the complement: kept output, prompt variety, sessions that fed closed work)
    assert space["WEIGHTS"] == {"accept": -1.0, "self_doc": 1.0, "variety": -2.0, "linked": -1.5, "near": 0.5}
    detect = _cells("detect/detect.ipynb")["part3-detector"]
    for habit, weight in {"repeated": 2, "unlinked": 1.5, "discarded": 1, "self_doc": 1, "near": 0.5}.items():
        assert f'"{habit}": {weight}' in detect
