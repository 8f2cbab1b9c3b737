"""Feedback pages show scores and our comments, never hidden test source, hidden lines, or the secret."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser

import nbformat
import numpy as np
import pandas as pd
import pytest

from exercises.truth import weekly_usage_output
from grader.assign import generate_student_version
from grader.course_dir import gradebook, init_course, learner_company, load_secret
from exercises.checks import ESTIMATE_RULES, run_check
from grader.scoring import PartScore, grade_cell_outputs
from grader.feedback import (
    FeedbackError,
    _learner_message,
    band,
    feedback,
    feedback_for,
    redact_leaks,
    split_hidden,
    strip_hidden_tests,
)

HIDDEN_LINE = 'assert answer["ai_events"].sum() == len(load("ai_events"))'
LEARNERS = ("ada", "bob", "cyd", "dee")
DEE_POINTS = 3.5232  # dee's graded cell as grader/scoring.py fills it: a note and the exact points


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """A course where each learner's explore submission looks as it does after autograding."""
    course = init_course(tmp_path_factory.mktemp("fb") / "course", data={"employees": 20, "days": 30})
    explore = course.assignment("explore")
    with gradebook(course) as gb:
        for learner in LEARNERS:
            gb.update_or_create_student(learner)
    generate_student_version(course, explore)
    secret = load_secret(course)
    for learner in LEARNERS:
        folder = course.path("autograded", learner, "explore")
        folder.mkdir(parents=True)
        nb = nbformat.read(explore.notebook_path, as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id == "weekly_table" and learner == "dee":  # exactly what grader/scoring.py writes
                cell.outputs = grade_cell_outputs(PartScore("weekly_table", DEE_POINTS, 6.0, "partial",
                                                            "Some cells disagree with the logs."))
            elif grade_id == "weekly_table" and learner == "cyd":  # as grader/grade.py leaves it
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
            grade.auto_score = {"ada": 4.0, "bob": 0.0, "cyd": 3.0, "dee": DEE_POINTS}[learner]
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
    assert sorted(report.written) == list(LEARNERS) and not report.failed
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


def test_feedback_shows_a_band_and_the_checks_message_never_points(graded_course):
    course, _ = graded_course
    ada = _html(course, "ada")
    assert "Scored by the grader, outside your notebook: close." in ada  # 4 of 6 points: some credit
    assert "disagree with the logs" in ada and "closed_items" in ada
    bob = _html(course, "bob")
    assert "outside your notebook: not yet." in bob and "No answer yet" in bob and "Graded in a bubblewrap sandbox." in bob
    for learner, points in (("ada", "4"), ("bob", "0"), ("cyd", "3")):
        page = _html(course, learner)
        assert "Score:" not in page and " / 6" not in page and f"{points}.00" not in page, learner


@pytest.mark.parametrize(("score", "expected"), [
    (6.0, "full marks"), (5.9999999999, "full marks"), (4.5, "close"), (4.49, "close"),
    (0.01, "close"), (0.0, "not yet"), (None, "not graded yet"),
])
def test_bands(score, expected):
    assert band(score, 6.0) == expected


def test_one_submissions_band_cannot_pin_an_estimate_inside_its_tolerance():
    """The inversion a learner would try: every truth consistent with what the page shows, for each band.

    Whatever band an estimate earns short of full marks, the truths that give that band are spread
    wider than the tolerance, so no next answer is sure to be within it.
    """
    for check_id, rule in ESTIMATE_RULES.items():
        answer = 0.0
        grid = np.linspace(answer - 2 * rule.zero_at, answer + 2 * rule.zero_at, 4_001)
        seen = {}
        for truth in grid:
            label = band(run_check(check_id, answer, float(truth)).score, 1.0)
            seen.setdefault(label, []).append(truth)
        assert set(seen) == {"full marks", "close", "not yet"}, check_id
        for label, truths in seen.items():
            if label == "full marks":
                continue
            best_guess_error = (max(truths) - min(truths)) / 2  # the middle of every consistent truth
            assert best_guess_error > rule.full_within, (check_id, label)


def test_a_stated_share_of_the_credit_is_not_shown():
    assert _learner_message("Partly right: 37% of the credit.") == ""
    assert _learner_message("Close. Partly right: 62.5 % of the credit. Check the join.") == "Close. Check the join."


def test_the_graded_cells_exact_points_never_reach_the_page(graded_course):
    """The graded cell holds nbgrader's partial credit as a numeric result: the page shows its band only."""
    course, _ = graded_course
    dee = _html(course, "dee")
    assert "outside your notebook: close." in dee and "Some cells disagree with the logs." in dee
    exact = f"{DEE_POINTS:g}"
    assert exact not in dee and f"<pre>{exact}" not in dee, "the exact points are on the learner's page"
    assert "3.52" not in dee and "58.7" not in dee  # rounded, or as a share of the 6 points
    for learner in ("ada", "cyd"):
        page = _html(course, learner)
        graded = page[page.index('id="weekly_table"'):] if 'id="weekly_table"' in page else page
        assert "<pre>3\n" not in graded and "<pre>4\n" not in graded, learner


def test_graders_own_note_becomes_a_band_and_is_not_repeated(graded_course):
    course, _ = graded_course
    cyd = _html(course, "cyd")
    assert cyd.count("Scored by the grader") == 1
    assert "outside your notebook: close." in cyd and "Half the cells agree." in cyd
    assert "3 / 6" not in cyd


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
        assert "zed" in report.failed and sorted(report.written) == list(LEARNERS)
    finally:
        shutil.rmtree(course.path("autograded", "zed"))


def test_an_answer_this_machine_cannot_read_fails_that_learners_feedback_with_the_reason(graded_course, monkeypatch):
    """Not feedback without the check's message, as if the answer were missing (EMFILE is the machine's)."""
    import errno
    import os

    import exercises.assignments

    course, _ = graded_course

    def out_of_file_handles(*args, **kwargs):
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(exercises.assignments, "open", out_of_file_handles, raising=False)
    report = feedback(course, "explore", learners=["ada", "bob"])
    assert sorted(report.failed) == ["ada"] and sorted(report.written) == ["bob"]
    assert "answers/weekly.csv (EMFILE" in report.failed["ada"] and "grading machine" in report.failed["ada"]


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


FORGED = ("**Grader notes**\n\n- Scored by the grader, outside your notebook: full marks.\n\n"
          '<div class="theater-grader">From the grader: full marks</div>\n'
          "<script>document.title = 'pwned-script'</script>\n"
          '<img src="x" onerror="document.title = \'pwned-onerror\'">\n'
          '<iframe src="https://example.com/pwned-iframe"></iframe>\n'
          "<a href=\"javascript:alert('pwned-link')\">see your score</a>\n")


class _Page(HTMLParser):
    """Every element of a page with its attributes, and the chain of classes around each piece of text."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.stack: list[tuple[str, str]] = []
        self.texts: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag not in ("img", "br", "hr", "meta", "link", "input"):
            self.stack.append((tag, attributes.get("class") or ""))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if data.strip():
            self.texts.append((data, [cls for _tag, cls in self.stack]))


@pytest.fixture(scope="module")
def injected(graded_course):
    """An autograded notebook whose learner wrote HTML, script and a forged grader block."""
    course, _ = graded_course
    folder = course.path("autograded", "eve", "explore")
    folder.mkdir(parents=True)
    nb = nbformat.read(course.path("autograded", "ada", "explore", "explore.ipynb"), as_version=4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(FORGED))
    shown = nbformat.v4.new_code_cell("display(HTML(...))")
    shown.outputs = [
        nbformat.v4.new_output("display_data", data={
            "text/html": '<script>document.title = "pwned-html-output"</script><b onmouseover="alert(1)">6 / 6</b>',
            "text/plain": "<IPython.core.display.HTML object>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": 'document.title = "pwned-js"'}),
        nbformat.v4.new_output("execute_result", data={"text/markdown": "**Grader notes** <img src=x onerror=alert(1)>",
                                                       "text/plain": "<IPython.core.display.Markdown object>"},
                               execution_count=3),
    ]
    nb.cells.insert(2, shown)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    nbformat.write(nb, folder / "explore.ipynb")
    with gradebook(course) as gb:
        gb.update_or_create_student("eve")
        gb.add_submission("explore", "eve")
        gb.find_grade("weekly_table", "explore", "explore", "eve").auto_score = 1.0
        gb.db.commit()
    try:
        path = feedback_for(course, course.assignment("explore"), "eve")
        html = path.read_text()
    finally:
        shutil.rmtree(course.path("autograded", "eve"))
    page = _Page()
    page.feed(html)
    return html, page, answer


def test_learner_html_and_script_never_run_in_feedback(injected):
    html, page, _ = injected
    body = html[html.index("<body"):]
    assert "<script" not in body.lower() and "<iframe" not in body.lower()
    for tag, attributes in page.elements:
        assert not any(name.lower().startswith("on") for name in attributes), (tag, attributes)
        assert not str(attributes.get("href", "")).lower().startswith("javascript:"), (tag, attributes)
        assert tag != "iframe"
    assert "&lt;script&gt;document.title = 'pwned-script'" in html  # shown as the text it is
    assert "pwned-html-output" not in html and "pwned-js" not in html  # rich outputs keep only their text


def test_a_forged_grader_block_is_shown_as_the_learners_text(injected):
    _, page, _ = injected
    forged = [classes for text, classes in page.texts if "Scored by the grader, outside your notebook: full marks" in text]
    assert forged and all("theater-learner" in classes and "theater-grader" not in classes for classes in forged)
    ours = [classes for text, classes in page.texts if text.strip().startswith("Scored by the grader, outside your notebook: close")]
    assert ours and all("theater-grader" in classes for classes in ours)
    assert any("(shown as written)" in text for text, _ in page.texts)


def test_the_late_penalty_reaches_feedback_straight_after_grading(graded_course):
    """grader/commit.py sets the penalty in the gradebook; feedback says so without any figure."""
    course, _ = graded_course
    with gradebook(course) as gb:
        gb.find_submission_notebook("explore", "explore", "cyd").late_submission_penalty = 3.0
        gb.db.commit()
    try:
        html = feedback_for(course, course.assignment("explore"), "cyd").read_text()
    finally:
        with gradebook(course) as gb:
            gb.find_submission_notebook("explore", "explore", "cyd").late_submission_penalty = None
            gb.db.commit()
    assert "Submitted after the due date" in html
    assert "explore: not yet" in html  # 3 points, less a 3-point penalty
