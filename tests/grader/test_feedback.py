"""Feedback pages show scores and our comments, never hidden test source, hidden lines, or the secret."""

from __future__ import annotations

import json
import shutil

import nbformat
import pandas as pd
import pytest

from exercises.truth import weekly_usage_output
from grader.assign import generate_student_version
from grader.course_dir import gradebook, init_course, learner_company, load_secret
from grader.feedback import FeedbackError, feedback, redact_leaks, split_hidden, strip_hidden_tests

HIDDEN_LINE = 'assert answer["ai_events"].sum() == len(load("ai_events"))'


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """A course where ada's and bob's explore submissions look as they do after autograding."""
    course = init_course(tmp_path_factory.mktemp("fb") / "course", data={"employees": 20, "days": 30})
    explore = course.assignment("explore")
    with gradebook(course) as gb:
        for learner in ("ada", "bob", "cyd"):
            gb.update_or_create_student(learner)
    generate_student_version(course, explore)
    secret = load_secret(course)
    for learner in ("ada", "bob", "cyd"):
        folder = course.path("autograded", learner, "explore")
        folder.mkdir(parents=True)
        nb = nbformat.read(explore.notebook_path, as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id == "weekly_table" and learner == "cyd":  # as grader/grade.py leaves it
                cell.outputs = [
                    nbformat.v4.new_output("stream", name="stdout", text=(
                        "Your notebook's own checks in this cell reported: AssertionError: "
                        "every AI event belongs to one week and team\n")),
                    nbformat.v4.new_output("stream", name="stdout", text=(
                        "Scored by the grader outside your notebook: 3 / 6 points. Half the cells agree.\n")),
                    nbformat.v4.new_output("execute_result", data={"text/plain": "3"}, execution_count=None),
                ]
            elif grade_id == "weekly_table":
                cell.outputs = [nbformat.v4.new_output(
                    "error", ename="AssertionError", evalue="every AI event belongs to one week and team",
                    traceback=["Traceback", f"----> 3 {HIDDEN_LINE}", "AssertionError"])]
            if grade_id == "part3-weekly":
                cell.outputs = [nbformat.v4.new_output(
                    "stream", name="stdout", text=f"peeking at history: {HIDDEN_LINE}\n")]
            if grade_id == "part2-usage" and learner == "bob":
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"leaked {secret}\n")]
        nbformat.write(nb, folder / "explore.ipynb")
        if learner == "ada":  # ada's answer: the truth with one column wrong
            truth = weekly_usage_output(learner_company(course, explore, "ada"))
            (folder / "answers").mkdir()
            truth.assign(closed_items=truth["closed_items"] + 1).to_csv(folder / "answers" / "weekly.csv", index=False)
        with gradebook(course) as gb:
            gb.add_submission("explore", learner)
            grade = gb.find_grade("weekly_table", "explore", "explore", learner)
            grade.auto_score = {"ada": 4.0, "bob": 0.0, "cyd": 3.0}[learner]
            gb.db.commit()
    record = course.state_dir / "grading" / "explore" / "bob.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"parts": {"weekly_table": {"score": 0.0, "message": "No answer yet: nothing to check."}},
                                  "comments": ["Graded in a bubblewrap sandbox."]}))
    report = feedback(course, "explore")
    return course, report


def _html(course, learner):
    return course.path("feedback", learner, "explore", "explore.html").read_text()


def test_feedback_is_written_per_learner(graded_course):
    course, report = graded_course
    assert sorted(report.written) == ["ada", "bob", "cyd"] and not report.failed
    assert _html(course, "ada").lstrip().lower().startswith("<!doctype html")


def test_feedback_has_no_hidden_test_source_or_hidden_lines(graded_course):
    course, _ = graded_course
    for learner in ("ada", "bob", "cyd"):
        html = _html(course, learner)
        assert "HIDDEN TESTS" not in html
        assert "belongs to one week and team" not in html
        assert "ai_users</span><span class=\"p\">]</span> <span class=\"o\">&lt;=" not in html
        assert 'load(&quot;ai_events&quot;)' not in html and 'load("ai_events")' not in html
        assert "----&gt;" not in html and "---->" not in html
        assert "output removed: it quoted hidden test code" in html
        if learner != "cyd":
            assert "A check in this cell failed (AssertionError)" in html


def test_feedback_shows_partial_credit_and_the_checks_message(graded_course):
    course, _ = graded_course
    ada = _html(course, "ada")
    assert "Scored by the grader, outside your notebook: 4.00 / 6" in ada
    assert "of the cells agree" in ada and "closed_items" in ada
    bob = _html(course, "bob")
    assert "0.00 / 6" in bob and "No answer yet" in bob and "Graded in a bubblewrap sandbox." in bob


def test_graders_own_note_is_kept_and_not_repeated(graded_course):
    course, _ = graded_course
    cyd = _html(course, "cyd")
    assert cyd.count("Scored by the grader") == 1
    assert "Half the cells agree." in cyd


def test_feedback_never_contains_the_course_secret(graded_course):
    course, _ = graded_course
    secret = load_secret(course)
    assert secret not in _html(course, "bob")
    assert "[redacted]" in _html(course, "bob")


def test_feedback_before_grading_says_what_to_do(tmp_path):
    course = init_course(tmp_path / "c", data={"employees": 20, "days": 30})
    with pytest.raises(FeedbackError, match="theater grade explore"):
        feedback(course, "explore")


def test_unreadable_autograded_notebook_fails_alone(graded_course):
    course, _ = graded_course
    broken = course.path("autograded", "zed", "explore")
    broken.mkdir(parents=True)
    (broken / "explore.ipynb").write_text("not json")
    try:
        report = feedback(course, "explore")
        assert "zed" in report.failed and sorted(report.written) == ["ada", "bob", "cyd"]
    finally:
        shutil.rmtree(course.path("autograded", "zed"))


def test_split_hidden_keeps_public_lines_only():
    public, hidden = split_hidden("a = 1\n### BEGIN HIDDEN TESTS\nassert secret_check()\n### END HIDDEN TESTS\nb = 2")
    assert public == "a = 1\nb = 2" and hidden == ["assert secret_check()"]


def test_redact_leaks_ignores_short_common_lines():
    nb = nbformat.v4.new_notebook()
    grade = nbformat.v4.new_code_cell("x\n### BEGIN HIDDEN TESTS\n)\nassert frame.shape[0] > 3\n### END HIDDEN TESTS")
    grade.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "g", "points": 1}
    learner = nbformat.v4.new_code_cell("print(')')")
    learner.outputs = [nbformat.v4.new_output("stream", name="stdout", text=")\n")]
    nb.cells = [grade, learner]
    hidden = strip_hidden_tests(nb)
    assert hidden == {"assert frame.shape[0] > 3"}
    assert redact_leaks(nb, hidden) == 0
    assert pd.notna(learner.outputs[0]["text"])
