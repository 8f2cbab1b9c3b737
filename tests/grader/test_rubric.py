"""The memo, graded by a person against its rubric: `theater grade` runs nothing and leaves each
part to a grader; a rubric grade is nbgrader's manual grade, reaches feedback and the export."""

from __future__ import annotations

import csv
import shutil

import pytest

from grader.assign import assign, import_roster
from theater.cli import main
from grader.course_dir import gradebook
from grader.export import export_grades
from grader.feedback import feedback_for
from grader.grade import NOT_RUN, grade
from grader.rubric import RubricError, answers, audit_trail, grade_answer, progress
from tests.grader.gradebook_fixtures import ROSTER, small_course, submit_memo as submit

MEMO = {
    "ada": {"memo_shows": "Theater is 30% (24% to 36%); access raised closed work 8% (2% to 14%).",
            "memo_limits": "Activity can be performed. <script>alert('x')</script><b>bold claim</b>",
            "memo_next": "Track delivered work in a staggered, randomised rollout."},
    "bob": {"memo_shows": "Adoption is at 90%.", "memo_limits": "", "memo_next": "More dashboards."},
}


@pytest.fixture(scope="module")
def graded_memos(tmp_path_factory):
    """The memo released to ada and bob, submitted and graded once: no part read yet."""
    course = small_course(tmp_path_factory.mktemp("rubric") / "course")
    import_roster(course, ROSTER)
    assign(course, "memo", ROSTER)
    for learner, texts in MEMO.items():
        submit(course, learner, texts)
    report = grade(course.root, "memo", workers=1, progress=False)
    return course, report


@pytest.fixture
def memo_course(graded_memos, tmp_path):
    """A copy of the graded course for one test (its paths are relative to the folder), so tests
    share no rubric grade, whatever order or worker runs them."""
    from grader.course_dir import open_course

    course, report = graded_memos
    shutil.copytree(course.root, tmp_path / "course")
    return open_course(tmp_path / "course"), report


def test_grading_the_memo_runs_nothing_and_leaves_every_part_to_a_grader(memo_course):
    course, report = memo_course
    assert sorted(report.learners) == ["ada", "bob"] and not report.errors
    for learner in ("ada", "bob"):
        entry = report.learners[learner]
        assert entry.isolation == NOT_RUN and entry.score == 0 and entry.max_score == 10
        assert entry.to_grade == ["memo_shows", "memo_limits", "memo_next"]
        assert not entry.comments  # no "no response" note: nothing was meant to run
    assert "needs a manual grade: memo_shows, memo_limits, memo_next" in report.summary()
    with gradebook(course) as gb:
        row = gb.find_grade("memo_limits", "memo", "memo", "ada")
        assert row.needs_manual_grade and row.manual_score is None and row.max_score == 3


def test_a_rubric_grade_is_nbgraders_manual_grade_with_the_comment_and_who_graded(memo_course, tmp_path):
    course, _ = memo_course
    [ada, bob] = answers(course, "memo", "memo_shows")
    assert ada.learner == "ada" and "8% (2% to 14%)" in ada.text and ada.needs_grade and ada.points is None
    assert bob.text == "Adoption is at 90%."
    done = grade_answer(course, "memo", "ada", "memo_shows", 4, "Both numbers, with intervals.", grader="tia")
    assert done.points == 4 and done.graded_by == "tia" and done.graded_at.endswith("Z")
    grade_answer(course, "memo", "bob", "memo_shows", 0, "Adoption is not an effect.", grader="tia")
    with gradebook(course) as gb:
        row = gb.find_grade("memo_shows", "memo", "memo", "ada")
        assert row.manual_score == 4 and not row.needs_manual_grade
        comment = gb.find_comment("memo_shows", "memo", "memo", "ada").manual_comment
        assert comment == "[memo_shows] Both numbers, with intervals."
    assert progress(course, "memo")["memo_shows"] == (2, 2) and progress(course, "memo")["memo_next"] == (0, 2)
    assert [(e["learner"], e["points"], e["grader"]) for e in audit_trail(course, "memo")][:2] == \
        [("ada", 4.0, "tia"), ("bob", 0.0, "tia")]

    path = export_grades(course, fmt="nbgrader", to=tmp_path / "grades.csv", assignments=["memo"])
    rows = {r["student_id"]: r for r in csv.DictReader(path.open())}
    assert float(rows["ada"]["score"]) == 4 and float(rows["ada"]["max_score"]) == 10
    canvas = export_grades(course, fmt="canvas", to=tmp_path / "canvas.csv", assignments=["memo"])
    table = list(csv.reader(canvas.open()))
    memo_column = next(i for i, name in enumerate(table[0]) if name.startswith("memo"))
    by_name = {row[0]: row[memo_column] for row in table[2:]}
    assert float(by_name["Lovelace, Ada"]) == 4 and float(by_name["Builder, Bob"]) == 0
    assert float(table[1][memo_column]) == 10  # Points Possible


@pytest.mark.parametrize(("part", "points", "problem"), [
    ("memo_shows", 3, "graded on its rubric's levels (4, 2, 1, 0), not 3"),
    ("memo_shows", float("nan"), "rubric's levels"),
    ("nope", 1, "no rubric part 'nope' (rubric parts: memo_shows, memo_limits, memo_next)"),
    ("memo_shows", "many", "must be a number"),
])
def test_a_grade_off_the_rubric_is_refused_in_one_line(memo_course, part, points, problem):
    course, _ = memo_course
    with pytest.raises(RubricError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        grade_answer(course, "memo", "ada", part, points, "", grader="tia")


def test_feedback_shows_the_level_and_the_comment_once_read_and_the_memo_as_escaped_text(memo_course):
    course, _ = memo_course
    grade_answer(course, "memo", "ada", "memo_limits", 2, "Name a second limit <i>of this data</i>.", grader="tia")
    html = feedback_for(course, course.assignment("memo"), "ada").read_text()
    assert "Your instructor: Name a second limit &lt;i&gt;of this data&lt;/i&gt;." in html
    assert "Names one limit tied to this data" in html  # the chosen level's descriptor
    assert "waiting to be read by your grader" in html  # memo_next is not graded yet
    assert "<script>" not in html and "<b>bold claim</b>" not in html
    assert "&lt;script&gt;alert('x')&lt;/script&gt;&lt;b&gt;bold claim&lt;/b&gt;" in html  # shown as written
    assert "2 / 3" not in html and "2.0" not in html  # a band and a descriptor, never the points


def test_a_changed_memo_goes_back_to_the_grader_and_an_unchanged_one_keeps_its_grade(memo_course):
    course, _ = memo_course
    grade_answer(course, "memo", "bob", "memo_shows", 0, "Adoption is not an effect.", grader="tia")
    grade_answer(course, "memo", "bob", "memo_next", 1, "", grader="tia")
    texts = {**MEMO["bob"], "memo_shows": "Adoption is at 90%, and output rose 2% (-1% to 5%)."}
    submit(course, "bob", texts, stamp="2026-03-02 09:00:00.000000 UTC")
    report = grade(course.root, "memo", workers=1, progress=False, learners=["bob"])
    assert report.learners["bob"].to_grade == ["memo_shows", "memo_limits"]  # memo_next unchanged: kept
    [bob] = [a for a in answers(course, "memo", "memo_shows") if a.learner == "bob"]
    assert bob.needs_grade and bob.points == 0  # the earlier grade stays in view for the grader
    with gradebook(course) as gb:
        assert not gb.find_grade("memo_next", "memo", "memo", "bob").needs_manual_grade


def test_theater_rubric_grades_from_the_command_line_and_shows_progress(memo_course, capsys):
    course, _ = memo_course
    assert main(["rubric", "memo", "--course", str(course.root), "--learner", "ada", "--part", "memo_next",
                 "--points", "3", "--comment", "A design and a measure.", "--grader", "ivy"]) == 0
    assert "memo/ada/memo_next: 3/3 by ivy" in capsys.readouterr().out
    assert main(["rubric", "memo", "--course", str(course.root)]) == 0
    out = capsys.readouterr().out
    assert "memo_next (What to measure instead, 3 points):" in out and "  0: More usage" in out
    assert main(["rubric", "memo", "--course", str(course.root), "--learner", "ada", "--part", "memo_next",
                 "--points", "2.5"]) != 0
    assert "not 2.5" in capsys.readouterr().err
    assert main(["rubric", "measure", "--course", str(course.root)]) != 0
    assert "no rubric part" in capsys.readouterr().err


def test_the_learners_result_shows_each_read_part_and_no_total_until_every_part_is_read(memo_course):
    from grader.feedback import NOT_GRADED
    from grader.submissions import RECEIVED, RUBRIC_LATER, Release, learner_result, learner_view

    course, _ = memo_course
    spec = course.assignment("memo")
    grade_answer(course, "memo", "bob", "memo_shows", 0, "Adoption is not an effect.", grader="tia")
    grade_answer(course, "memo", "bob", "memo_next", 1, "", grader="tia")
    submit(course, "bob", {**MEMO["bob"], "memo_shows": "Adoption is 90%; output rose 2%."},
           stamp="2026-03-02 09:00:00.000000 UTC")
    grade(course.root, "memo", workers=1, progress=False, learners=["bob"])
    result = learner_result(course, "memo", "bob")  # collected by the instructor: final
    assert result.final and result.band == NOT_GRADED  # memo_shows (resubmitted) and memo_limits wait
    parts = {p.grade_id: p for p in result.parts}
    assert parts["memo_next"].message == "Rubric: A vague wish to \"measure outcomes\" with nothing to track."
    assert parts["memo_shows"].message == "Your answer is waiting to be read by your grader."  # not the old comment
    assert parts["memo_shows"].band == parts["memo_limits"].band == NOT_GRADED
    scores = {"memo_shows": (4.0, 4.0), "memo_limits": (None, 3.0), "memo_next": (3.0, 3.0)}
    early = learner_view(spec, scores, 0.0, {}, {}, Release(False, "not yet"))
    assert [(p.band, p.message) for p in early.parts] == [(RECEIVED, RUBRIC_LATER)] * 3  # nothing before final
    done = learner_view(spec, {**scores, "memo_limits": (3.0, 3.0)}, 0.0, {}, {}, Release(True, ""))
    assert done.band == "full marks" and all(p.band == "full marks" for p in done.parts)
