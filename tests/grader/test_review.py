"""The instructor's review: submissions (when, late, graded), the gradebook frame, and the answer bands."""

from __future__ import annotations

import json
import os
import time

import pandas as pd
import pytest

from exercises.checks import ESTIMATE_RULES, run_check
from grader import review
from grader.course_dir import init_course, open_course

DETECT_TRUTH = {"ids": [f"E{n:05d}" for n in range(1, 11)], "ai_users": 60}

FINDING_TRUTH = {"theater_share": 0.3, "access_effect_pct": 10.0, "access_effect_reference_width": 16.0}
COVERING = {"access_effect_pct": 9.0, "access_effect_low": 1.0, "access_effect_high": 17.0}
MISSING_THE_TRUTH = {"access_effect_pct": 30.0, "access_effect_low": 22.0, "access_effect_high": 38.0}
NARROW = {"access_effect_pct": 10.0, "access_effect_low": 9.0, "access_effect_high": 11.0}
EVERYTHING = {"access_effect_pct": 10.0, "access_effect_low": -90.0, "access_effect_high": 110.0}


def _submit(course, learner, assignment, stamp):
    folder = course.path("submitted", learner, assignment)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{assignment}.ipynb").write_text("{}")
    (folder / "timestamp.txt").write_text(stamp)
    return folder


def _record(course, assignment, learner, parts, answers=None, truths=None, flags=()):
    path = course.state_dir / "grading" / assignment / f"{learner}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "parts": parts, "answers": answers or {}, "truths": truths or {},
                                "grade": {"integrity_flags": list(flags)},
                                "checks": {"flagged_tokenmaxxers": "detect.flag_tokenmaxxers"}}))
    return path


@pytest.fixture
def course(tmp_path):
    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30})
    with open(course.root / "theater.toml", "a") as handle:
        handle.write('\n[assignments.detect]\ndue = "2026-03-01 12:00:00 UTC"\n')
    return open_course(course.root)


def test_submissions_say_when_how_late_and_whether_graded(course):
    _submit(course, "ada", "detect", "2026-03-01 11:00:00.000000 UTC")
    bob = _submit(course, "bob", "detect", "2026-03-02 14:30:00.000000 UTC")
    _record(course, "detect", "ada", {})
    old = _record(course, "detect", "bob", {})
    past = time.time() - 60
    os.utime(old, (past, past))  # bob handed in again after being graded
    os.utime(bob / "detect.ipynb", None)
    rows = {r.learner: r for r in review.submissions(course, "detect", ["ada", "bob", "cyd"])}
    assert rows["ada"].status == review.GRADED and rows["ada"].late_by_hours is None
    assert rows["bob"].status == review.CHANGED and rows["bob"].late_by_hours == 26.5
    assert rows["cyd"].status == review.NO_SUBMISSION and rows["cyd"].submitted_at is None
    frame = review.submissions_frame(list(rows.values()))
    assert frame.loc[frame["learner"] == "bob", "late"].item() == "26.5 h late"


def test_a_submission_without_a_record_is_not_graded(course):
    _submit(course, "dee", "detect", "garbage timestamp")
    [row] = review.submissions(course, "detect")
    assert row.status == review.NOT_GRADED and row.submitted_at is None and row.late_by_hours is None


SHARE = ESTIMATE_RULES["measure.theater_share"]


@pytest.mark.parametrize("answer, band", [
    (0.30 + SHARE.full_within / 2, "within the tolerance"),
    (0.30 + (SHARE.full_within + SHARE.zero_at) / 2, "too high (close)"),
    (0.30 - (SHARE.full_within + SHARE.zero_at) / 2, "too low (close)"),
    (0.9, "too high (far)"),
    (0.30 - SHARE.zero_at - 0.01, "too low (far)"),
    (30, "a percentage, not a share"),
    ("about a third", "answer could not be read"),
])
def test_estimates_are_read_by_direction_and_tolerance(answer, band):
    assert review.read_estimate("measure.theater_share", answer, 0.30).band == band


def test_an_estimate_band_carries_the_misconception_it_suggests():
    high = review.read_estimate("measure.access_effect", 40.0, 10.0)
    assert high.band == "too high (far)" and "before/after" in high.misconception
    assert review.read_estimate("measure.access_effect", 12.0, 10.0).correct


def test_flags_are_read_against_the_flag_everyone_floor():
    truth = DETECT_TRUTH
    everyone = [f"E{n:05d}" for n in range(1, 55)]
    assert review.read_flags(everyone, truth, "tokenmaxxers").band == "flagged about every AI user"
    assert review.read_flags(truth["ids"], truth, "tokenmaxxers").correct
    many = truth["ids"][:5] + [f"E{n:05d}" for n in range(100, 125)]
    assert review.read_flags(many, truth, "tokenmaxxers").band == "too many flags"
    assert review.read_flags(truth["ids"][:2], truth, "tokenmaxxers").band == "too few flags"
    assert review.read_flags(42, truth, "tokenmaxxers").band == "answer could not be read"


WEEKLY_TRUTH = pd.DataFrame({"week": ["2025-01-06", "2025-01-06"], "team": ["Payments", "Search"],
                             "ai_events": [10, 3], "ai_users": [4, 1], "closed_items": [5, 0]})


def _graded_part(check_id, answer, truth):
    """A part of a grading record as grader.scoring writes it: status, message and the check's reading."""
    result = run_check(check_id, answer, truth)
    return {"status": result.status, "points": result.score, "message": result.message,
            "reading": result.reading.to_dict()}


def test_weekly_table_is_read_from_the_checks_reading():
    events_counted = WEEKLY_TRUTH.assign(ai_users=WEEKLY_TRUTH["ai_events"])
    part = _graded_part("explore.weekly_usage_output", events_counted, WEEKLY_TRUTH)
    found = review.reading("explore.weekly_usage_output", part, None, None)
    assert found.band == "`ai_users` wrong most" and "distinct people" in found.misconception
    missing = _graded_part("explore.weekly_usage_output", WEEKLY_TRUTH.drop(columns="ai_users"), WEEKLY_TRUTH)
    assert review.reading("explore.weekly_usage_output", missing, None, None).band == "columns missing"
    assert review.reading("explore.weekly_usage_output", {"status": "not_attempted"}, None, None).band == "no answer"


def test_a_reworded_message_cannot_change_the_instructor_table(course):
    """The spread is read from each part's structured reading: messages that say something else
    entirely (another column, another band, nothing) leave the instructor's table as it was."""
    finding_truth = FINDING_TRUTH
    finding = {"ada": {"theater_share": 0.3, **COVERING},
               "bob": {"theater_share": 0.38, **MISSING_THE_TRUTH},
               "cyd": {"theater_share": 30, **COVERING}}
    weekly = {"ada": WEEKLY_TRUTH, "bob": WEEKLY_TRUTH.assign(ai_users=WEEKLY_TRUTH["ai_events"]),
              "cyd": WEEKLY_TRUTH.drop(columns="closed_items")}

    def write(reword):
        for learner in finding:
            parts = {"measure_finding": _graded_part("measure.finding", finding[learner], finding_truth)}
            table = {"weekly_table": _graded_part("explore.weekly_usage_output", weekly[learner], WEEKLY_TRUTH)}
            for part in (*parts.values(), *table.values()):
                part["message"] = reword(part["message"])
            # the measure record keeps no answers (as if made by a grader that keeps readings only)
            _record(course, "measure", learner, parts)
            _record(course, "explore", learner, table)
        return review.answer_spread(course, "measure"), review.answer_spread(course, "explore")

    measure, explore = write(lambda message: message)
    assert set(explore["band"]) == {"correct", "`ai_users` wrong most", "columns missing"}
    assert {"too high (close)", "a percentage, not a share", "interval misses"} <= set(measure["band"])
    for reword in (lambda m: "", lambda m: "Some cells disagree; `closed_items` is the column that disagrees most.",
                   lambda m: m.replace("within", "off by more than").replace("close", "far")):
        again = write(reword)
        pd.testing.assert_frame_equal(again[0], measure)
        pd.testing.assert_frame_equal(again[1], explore)


def test_answer_spread_counts_learners_per_band_with_shares(course):
    right = {"flagged_tokenmaxxers": {"status": "correct", "points": 6, "message": ""}}
    wrong = {"flagged_tokenmaxxers": {"status": "incorrect", "points": 0, "message": ""}}
    everyone = [f"E{n:05d}" for n in range(1, 60)]
    _record(course, "detect", "ada", right, {"flagged_tokenmaxxers": DETECT_TRUTH["ids"]},
            {"flagged_tokenmaxxers": DETECT_TRUTH})
    for learner in ("bob", "cyd", "dee"):
        _record(course, "detect", learner, wrong, {"flagged_tokenmaxxers": everyone},
                {"flagged_tokenmaxxers": DETECT_TRUTH})
    spread = review.answer_spread(course, "detect")
    assert spread[["band", "learners"]].values.tolist() == [["separates them well", 1],
                                                            ["flagged about every AI user", 3]]
    assert spread["share"].tolist() == [0.25, 0.75]


def test_part_difficulty_is_the_mean_share_of_points(course):
    frame = pd.DataFrame({"learner": ["a", "b", "c"], "measure_finding": [8.0, 4.0, None]})
    difficulty = review.part_difficulty(frame, course.assignment("measure")).set_index("part")
    assert difficulty.loc["measure_finding", "mean share of points"] == pytest.approx(0.75)
    assert difficulty.loc["measure_finding", "full marks"] == 0.5
    assert difficulty.loc["measure_finding", "learners"] == 2


def test_the_finding_is_read_one_part_at_a_time():
    found = dict(review.finding_readings({"theater_share": 30, **COVERING}, FINDING_TRUTH))
    assert found["theater_share"].band == "a percentage, not a share"
    assert found["access_effect_pct"].correct and found["access_effect_pct"].band == "interval covers the truth"
    missing = dict(review.finding_readings({"theater_share": 0.3}, FINDING_TRUTH))
    assert missing["access_effect_pct"].band == "number missing"
    verdicts = {name: dict(review.finding_readings({"theater_share": 0.3, **answer}, FINDING_TRUTH))["access_effect_pct"]
                for name, answer in (("misses", MISSING_THE_TRUTH), ("narrow", NARROW), ("wide", EVERYTHING))}
    assert verdicts["misses"].band == "interval misses" and "biased comparison" in verdicts["misses"].misconception
    assert verdicts["narrow"].band == "interval too narrow" and "squads" in verdicts["narrow"].misconception
    assert verdicts["wide"].band == "interval too wide" and not any(v.correct for v in verdicts.values())
    assert review.finding_readings([0.3, 10.0], {})[0][1].band == "answer could not be read"


def test_flags_frame_lists_integrity_flags_for_the_instructor(course):
    _record(course, "detect", "ada", {}, flags=["monkeypatch at part3-detector: replaces np.isclose"])
    flags = review.flags_frame(course, "detect")
    assert flags.values.tolist() == [["ada", "integrity", "monkeypatch at part3-detector: replaces np.isclose"]]


def test_the_spread_of_a_finding_counts_every_graded_learner_in_each_number(course):
    """Three learners handed in no finding, one a list, two a finding: each number's shares are of
    the six graded learners (no "no answer: 3 learners = 100%")."""
    checks = {"measure_finding": "measure.finding"}
    right = {"measure_finding": {"status": "correct", "points": 8, "message": ""}}
    none = {"measure_finding": {"status": "not_attempted", "points": 0, "message": ""}}
    truth = FINDING_TRUTH
    for learner in ("ada", "bob"):
        path = _record(course, "measure", learner, right, {"measure_finding": {"theater_share": 0.3, **COVERING}},
                       {"measure_finding": truth})
        path.write_text(json.dumps({**json.loads(path.read_text()), "checks": checks}))
    for learner, answer in (("cyd", None), ("dee", None), ("eve", None), ("fay", [0.3, 10.0])):
        parts = none if answer is None else {"measure_finding": {"status": "incorrect", "points": 0, "message": ""}}
        path = _record(course, "measure", learner, parts, {"measure_finding": answer}, {"measure_finding": truth})
        path.write_text(json.dumps({**json.loads(path.read_text()), "checks": checks}))
    spread = review.answer_spread(course, "measure")
    for number, right_band in (("theater_share", "within the tolerance"), ("access_effect_pct", "interval covers the truth")):
        rows = spread[spread["part"] == f"measure_finding: {number}"]
        assert rows["learners"].sum() == 6 and rows["share"].sum() == pytest.approx(1.0)
        shares = dict(zip(rows["band"], rows["share"], strict=True))
        assert shares == {right_band: pytest.approx(2 / 6), "no answer": pytest.approx(3 / 6),
                          "answer could not be read": pytest.approx(1 / 6)}
    assert set(spread["part"]) == {"measure_finding: theater_share", "measure_finding: access_effect_pct"}


def test_the_gradebook_shows_the_grader_notes_the_feedback_shows(tmp_path):
    from grader.assign import assign
    from tests.grader.gradebook_fixtures import ROSTER, autograde, small_course

    course = small_course(tmp_path / "course")
    assign(course, "measure", ROSTER)
    autograde(course, "measure", "ada", {"measure_finding": 0.0})
    autograde(course, "measure", "bob", {"measure_finding": 8.0})
    record = course.state_dir / "grading" / "measure" / "ada.json"
    data = json.loads(record.read_text())
    data["grade"]["comments"] = ["a cell ran out of memory (MemoryError): the grader runs a notebook in 3 GB …"]
    record.write_text(json.dumps(data))
    frame = review.gradebook_frame(course, "measure").set_index("learner")
    assert frame.loc["ada", "grader notes"].startswith("a cell ran out of memory (MemoryError)")
    assert frame.loc["bob", "grader notes"] == ""
