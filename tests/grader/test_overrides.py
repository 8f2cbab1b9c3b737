"""Overrides are nbgrader's manual grade + manual comment: they survive regrading and reach export and
feedback, on SQLite and on PostgreSQL gradebooks."""

from __future__ import annotations

import csv
import time

import pytest

from grader.assign import assign
from theater.cli import main
from grader.course_dir import gradebook
from grader.export import export_grades
from grader.overrides import (OverrideError, answer_cells, clear_override, join_comment, override, overrides,
                              split_comment)
from tests.grader.gradebook_fixtures import ROSTER, autograde as _autograde, small_course as _course


@pytest.fixture(params=["sqlite", "postgresql"])
def measured(request, tmp_path):
    """A released `measure` (its finding, 8 points) with ada and bob autograded."""
    db_url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    course = _course(tmp_path / "course", db_url)
    assign(course, "measure", ROSTER)
    _autograde(course, "measure", "ada", {"measure_finding": 5.0})
    _autograde(course, "measure", "bob", {"measure_finding": 0.0})
    return course


@pytest.fixture(scope="module")
def one_graded(tmp_path_factory):
    """ada autograded on `measure` (SQLite), shared by tests that must leave it unchanged."""
    course = _course(tmp_path_factory.mktemp("overrides") / "course")
    assign(course, "measure", ROSTER)
    _autograde(course, "measure", "ada", {"measure_finding": 5.0})
    return course


def _score(course, learner, part):
    with gradebook(course) as gb:
        return gb.find_grade(part, "measure", "measure", learner).score


def _export(course, tmp_path, fmt="nbgrader"):
    with open(export_grades(course, fmt=fmt, to=tmp_path / f"{fmt}.csv"), newline="") as handle:
        return list(csv.reader(handle))


def test_override_wins_survives_a_regrade_and_reaches_the_export(measured, tmp_path):
    done = override(measured, "measure", "ada", "measure_finding", 7.5, "The grader misread your JSON key.")
    assert (done.score, done.auto_score, done.max_score) == (7.5, 5.0, 8.0)
    assert _score(measured, "ada", "measure_finding") == 7.5
    _autograde(measured, "measure", "ada", {"measure_finding": 2.0})  # what a forced regrade writes
    assert _score(measured, "ada", "measure_finding") == 7.5
    [kept] = overrides(measured, "measure")
    assert (kept.learner, kept.part, kept.score, kept.auto_score) == ("ada", "measure_finding", 7.5, 2.0)
    assert kept.comment == "The grader misread your JSON key."
    assert kept.regraded_since  # nbgrader's needs_manual_grade: the autograder ran after the override
    rows = {r[3]: r for r in _export(measured, tmp_path)[1:]}
    assert float(rows["ada"][9]) == 7.5 and float(rows["bob"][9]) == 0.0  # the score column
    canvas = _export(measured, tmp_path, "canvas")
    assert [r[-1] for r in canvas if r[0] == "Lovelace, Ada"] == ["7.5"]


def test_clearing_keeps_lines_written_by_hand_in_nbgraders_formgrader(measured):
    with gradebook(measured) as gb:
        gb.find_comment("part3-share", "measure", "measure", "bob").manual_comment = "Good plots."
        gb.db.commit()
    override(measured, "measure", "bob", "measure_finding", 4.0, "Half credit: the effect was in the text.")
    [done] = overrides(measured, "measure")
    assert done.comment == "Half credit: the effect was in the text. Good plots."
    clear_override(measured, "measure", "bob", "measure_finding")
    assert _score(measured, "bob", "measure_finding") == 0.0  # the autograder's score again
    assert overrides(measured, "measure") == []
    with gradebook(measured) as gb:
        assert gb.find_comment("part3-share", "measure", "measure", "bob").manual_comment == "Good plots."


@pytest.mark.parametrize("args, message", [
    (("ada", "measure_finding", 9, "too much"), "between 0 and 8"),
    (("ada", "measure_finding", -1, "negative"), "between 0 and 8"),
    (("ada", "measure_finding", float("nan"), "nan"), "between 0 and 8"),
    (("ada", "measure_finding", "lots", "words"), "must be a number"),
    (("ada", "nonsense", 1, "unknown part"), "no graded part 'nonsense'"),
    (("ada", "measure_finding", 1, "   "), "give a comment"),
    (("cyd", "measure_finding", 1, "not on the roster"), "cyd has no graded submission of measure"),
    (("../x", "measure_finding", 1, "bad id"), "not a valid learner id"),
])
def test_bad_overrides_are_one_clear_error_and_change_nothing(one_graded, args, message):
    course = one_graded
    with pytest.raises(OverrideError if "learner id" not in message else Exception, match=message):
        override(course, "measure", *args)
    assert overrides(course, "measure") == []


def test_answer_cells_map_each_part_to_the_answer_cell_it_grades(one_graded):
    course = one_graded
    assert answer_cells(course.assignment("measure")) == {"measure_finding": "part3-share"}
    assert answer_cells(course.assignment("detect")) == {"flagged_tokenmaxxers": "part3-detector"}


def test_hand_written_formgrader_lines_are_kept():
    parts, other = split_comment("Nice work overall.\n[theater_share] Misread key.")
    assert parts == {"theater_share": "Misread key."} and other == ["Nice work overall."]
    assert join_comment({}, other) == "Nice work overall."


def test_cli_override_and_clear(measured, capsys):
    root = str(measured.root)
    code = main(["override", "measure", "ada", "measure_finding", "2", "--comment", "Checked by hand.",
                 "--course", root])
    out, err = capsys.readouterr()
    assert code == 0 and "2/8 (autograder: 5); kept when regraded" in out, err
    assert _score(measured, "ada", "measure_finding") == 2.0
    code = main(["override", "measure", "ada", "measure_finding", "9", "--comment", "x", "--course", root])
    _out, err = capsys.readouterr()
    assert code == 2 and len(err.strip().splitlines()) == 1 and "between 0 and 8" in err
    code = main(["override", "measure", "ada", "measure_finding", "--clear", "--course", root])
    assert code == 0 and _score(measured, "ada", "measure_finding") == 5.0


def test_feedback_shows_the_overridden_band_and_the_reason_never_points(measured):
    from grader.feedback import feedback

    before = feedback(measured, "measure", learners=["bob"]).written["bob"].read_text()
    assert "outside your notebook: not yet" in before  # bob's finding earned nothing
    override(measured, "measure", "bob", "measure_finding", 8.0, "Your method is right; the data file was stale.")
    html = feedback(measured, "measure", learners=["bob"]).written["bob"].read_text()
    assert "outside your notebook: not yet" not in html
    assert "Your instructor: Your method is right; the data file was stale." in html
    assert "8 / 8" not in html and "8.0" not in html


@pytest.mark.slow
def test_an_override_survives_a_real_forced_regrade(tmp_path):
    """The whole path: grade in the sandbox, override, `grade(force=True)`, export."""
    import shutil

    from exercises.assignments import SOURCE_DIR
    from grader.grade import grade
    from grader.sandbox import Limits

    course = _course(tmp_path / "course")
    assign(course, "explore", ROSTER[:1])
    folder = course.path("submitted", "ada", "explore")
    folder.mkdir(parents=True)
    shutil.copy(SOURCE_DIR / "explore" / "explore.ipynb", folder / "explore.ipynb")
    limits = Limits(cell_timeout=60, notebook_timeout=120)
    first = grade(course.root, "explore", workers=1, progress=False, limits=limits)
    assert first.learners["ada"].score == 6
    override(course, "explore", "ada", "weekly_table", 2.5, "Handed in after the solutions were shown.")
    from grader import runs

    run, started = runs.start(course.root, "explore", force=True)  # the app's path: a grading batch
    deadline = time.monotonic() + 600
    while not run.finished and time.monotonic() < deadline:
        time.sleep(0.5)
        run = runs.current(course.root, "explore")
    assert started and run.state == runs.FINISHED and run.error is None and (run.done, run.total) == (1, 1)
    assert run.summary.startswith("explore: 1 graded")  # really graded again
    with gradebook(course) as gb:
        grade_row = gb.find_grade("weekly_table", "explore", "explore", "ada")
        assert (grade_row.auto_score, grade_row.manual_score, grade_row.score) == (6.0, 2.5, 2.5)
    rows = _export(course, tmp_path)
    assert [float(r[9]) for r in rows[1:] if r[3] == "ada"] == [2.5]


def test_an_override_of_a_late_submission_sets_its_penalty_so_gradebook_feedback_and_export_agree(tmp_path):
    """pdubois's case: 40 h late, autograded 0 (penalty 0), overridden to 8: 10 %/day x 2 days = 1.6 off."""
    from grader import review
    from grader.feedback import _gradebook_scores

    course = _course(tmp_path / "course")
    with open(course.root / "theater.toml", "a") as handle:
        handle.write('\n[assignments.measure]\ndue = "2026-12-05 17:00:00 UTC"\n')
    with open(course.root / "nbgrader_config.py", "a") as handle:
        handle.write('\nc.AssignLatePenalties.plugin_class = "grader.export.PercentPerDayLate"\n')
    from grader.course_dir import open_course

    course = open_course(course.root)
    assign(course, "measure", ROSTER)
    _autograde(course, "measure", "ada", {"measure_finding": 0.0}, stamp="2026-12-07 09:15:00.000000 UTC")
    spec = course.assignment("measure")

    def figures():
        page = review.gradebook_frame(course, "measure").set_index("learner")
        _, penalty, _ = _gradebook_scores(course, spec, "ada")
        exported = {r[3]: r for r in _export(course, tmp_path)[1:]}["ada"]
        return (float(page.loc["ada", "late penalty"]), float(page.loc["ada", "score"]), penalty,
                float(exported[8]), float(exported[9]))

    assert figures() == (0.0, 0.0, 0.0, 0.0, 0.0)
    override(course, "measure", "ada", "measure_finding", 8.0, "The method is right.")
    assert figures() == (1.6, 6.4, 1.6, 1.6, 6.4)
    # `theater grade`'s summary shows the same figure, and why it is not the autograder's
    from grader.grade import grade

    report = grade(course.root, "measure", workers=1, progress=False, force=True)
    line = next(x for x in report.summary().splitlines() if x.strip().startswith("ada:"))
    assert line.strip().startswith("ada: 6.4/8 [graded")
    assert "autograder 0, override measure_finding 8, late penalty 1.6" in line
    assert figures() == (1.6, 6.4, 1.6, 1.6, 6.4)
    clear_override(course, "measure", "ada", "measure_finding")
    assert figures() == (0.0, 0.0, 0.0, 0.0, 0.0)
