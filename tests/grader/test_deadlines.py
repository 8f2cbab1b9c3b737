"""Per-learner extensions: an extended learner is not late, others are, everywhere a deadline is read."""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from grader.assign import generate_student_version
from theater.cli import main
from grader.course_dir import CourseError, gradebook, init_course, open_course
from grader.deadlines import deadlines, extend
from grader.export import export_grades
from grader.submissions import policy, release

DUE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATE_BY_A_DAY = datetime(2026, 3, 2, 13, 0)  # naive UTC, as nbgrader stores timestamps


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """`explore` due DUE with 25% per started day late; ada and bob both submitted a day and an hour late."""
    course = init_course(tmp_path_factory.mktemp("deadlines") / "course", data={"employees": 20, "days": 30})
    with open(course.root / "theater.toml", "a", encoding="utf-8") as handle:
        handle.write('\n[assignments.explore]\ndue = "2026-03-01 12:00:00 UTC"\nlate_penalty = "25% per day"\n')
    course = open_course(course.root)
    generate_student_version(course, course.assignment("explore"))
    with gradebook(course) as gb:
        gb.update_or_create_assignment("explore", duedate=DUE.replace(tzinfo=None))
        for learner in ("ada", "bob"):
            gb.update_or_create_student(learner, first_name=learner.title(), last_name="Tester")
            gb.add_submission("explore", learner, timestamp=LATE_BY_A_DAY)
            gb.find_grade("weekly_table", "explore", "explore", learner).auto_score = 6.0
        gb.db.commit()
    return course


@pytest.fixture
def course(template, tmp_path):
    root = tmp_path / "course"
    shutil.copytree(template.root, root, symlinks=True)
    return open_course(root)


def _scores(path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    return {row[3]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}


def test_an_extended_learner_is_not_late_and_the_others_are(course):
    course = open_course(course.root)
    extend(course, "explore", "ada", days=3)
    course = open_course(course.root)
    when = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    assert not policy(course, "explore", "ada").is_late(when)
    assert policy(course, "explore", "bob").is_late(when) and policy(course, "explore").is_late(when)
    ada, bob = deadlines(course, "explore", "ada"), deadlines(course, "explore", "bob")
    assert ada.due == DUE + timedelta(days=3) and ada.extended and not bob.extended
    assert ada.closes == bob.closes + timedelta(days=3)  # the late window moves with the due date
    assert "due 2026-03-04 12:00 UTC" in policy(course, "explore", "ada").describe()  # the app's policy line
    assert "due 2026-03-01 12:00 UTC" in policy(course, "explore", "bob").describe()


def test_feedback_is_released_for_the_class_before_the_extended_learner(course):
    extend(course, "explore", "ada", until="2026-03-20 12:00 UTC")
    course = open_course(course.root)
    after_class_close = DUE + timedelta(days=8)  # closes 7 days after the due date
    assert release(course, "explore", "bob", now=after_class_close).final
    assert not release(course, "explore", "ada", now=after_class_close).final
    assert release(course, "explore", "ada", now=datetime(2026, 3, 28, 13, tzinfo=UTC)).final


def test_the_late_penalty_follows_each_learners_own_due_date(course, tmp_path):
    before = _scores(export_grades(course, "nbgrader", tmp_path / "before.csv"))
    assert before["ada"]["late_submission_penalty"] == "3" == before["bob"]["late_submission_penalty"]
    extend(course, "explore", "ada", days=2)
    with gradebook(course) as gb:  # `extend` updates the stored penalty at once (feedback reads it)
        assert gb.find_submission("explore", "ada").late_submission_penalty == 0
        assert gb.find_submission("explore", "bob").late_submission_penalty == 3.0
    after = _scores(export_grades(open_course(course.root), "nbgrader", tmp_path / "after.csv"))
    assert after["ada"]["score"] == "6" and after["ada"]["late_submission_penalty"] == "0"
    assert after["bob"]["score"] == "3"  # two started days x 25% of 6
    extend(open_course(course.root), "explore", "ada", clear=True)
    cleared = _scores(export_grades(open_course(course.root), "nbgrader", tmp_path / "cleared.csv"))
    assert cleared["ada"]["score"] == "3"


def test_an_extension_too_short_to_cover_the_submission_still_counts_the_rest(course, tmp_path):
    extend(course, "explore", "ada", until="2026-03-02 12:00 UTC")  # one hour late by her own date
    scores = _scores(export_grades(open_course(course.root), "nbgrader", tmp_path / "g.csv"))
    assert scores["ada"]["late_submission_penalty"] == "1.5"  # one started day x 25% of 6
    assert scores["bob"]["late_submission_penalty"] == "3"


def test_theater_extend_writes_theater_toml_and_keeps_its_comments(course, capsys):
    path = course.root / "theater.toml"
    before = path.read_text(encoding="utf-8")
    assert main(["extend", "explore", "ada", "--days", "3", "--course", str(course.root)]) == 0
    assert "explore/ada: due 2026-03-04 12:00 UTC" in capsys.readouterr().out
    assert main(["extend", "explore", "bob.b", "--until", "2026-03-09 17:00 UTC", "--course", str(course.root)]) == 0
    assert main(["extend", "explore", "ada", "--days", "4", "--course", str(course.root)]) == 0  # replaced, not added
    text = path.read_text(encoding="utf-8")
    assert text.startswith(before) and text.count("[assignments.explore.extensions]") == 1
    assert text.count('"ada"') == 1
    extensions = open_course(course.root).settings_for("explore").extensions
    assert sorted(extensions) == ["ada", "bob.b"]
    assert deadlines(open_course(course.root), "explore", "bob.b").due == datetime(2026, 3, 9, 17, tzinfo=UTC)
    assert main(["extend", "explore", "ada", "--clear", "--course", str(course.root)]) == 0
    assert sorted(open_course(course.root).settings_for("explore").extensions) == ["bob.b"]


@pytest.mark.parametrize("argv, message", [
    (["extend", "nosuch", "ada", "--days", "2"], "no assignment 'nosuch'"),
    (["extend", "explore", "../ada", "--days", "2"], "is not a valid learner id"),
    (["extend", "explore", "ada", "--days", "-2"], "--days -2"),
    (["extend", "explore", "ada", "--until", "next week"], "is neither a date"),
    (["extend", "explore", "ada", "--until", "2026-02-01 12:00 UTC"], "ends before the due date"),
])
def test_theater_extend_refuses_bad_input_in_one_line_and_writes_nothing(course, capsys, argv, message):
    path = course.root / "theater.toml"
    before = path.read_text(encoding="utf-8")
    code = main([*argv, "--course", str(course.root)])
    err = capsys.readouterr().err
    assert code != 0 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert path.read_text(encoding="utf-8") == before


def test_a_relative_extension_without_a_due_date_is_refused(tmp_path):
    course = init_course(tmp_path / "c", create_gradebook=False)
    with pytest.raises(CourseError, match="there is none: give a due date"):
        extend(course, "explore", "ada", days=2)


def test_grading_commits_each_learners_extension_and_penalty(course):
    """The grading run's commit (what `theater grade` and the app's queue call) stores the extension."""
    from grader.commit import commit_outcome, open_gradebook
    from grader.worker import Outcome

    with open(course.root / "theater.toml", "a", encoding="utf-8") as handle:
        handle.write('\n[assignments.explore.extensions]\nada = "+2d"\n')
    course = open_course(course.root)
    explore = course.assignment("explore")
    for learner in ("ada", "bob"):
        submitted = course.path("submitted", learner, "explore")
        submitted.mkdir(parents=True)
        (submitted / "timestamp.txt").write_text("2026-03-02 13:00:00 UTC")
        book, late = open_gradebook(course, explore)
        try:
            outcome = Outcome(learner=learner, ok=True, notebook_json="{}",
                              parts={"weekly_table": {"points": 4.0}})
            commit_outcome(book, course, explore, outcome, submitted, "digest", late)
        finally:
            book.close()
    with gradebook(course) as gb:
        ada, bob = gb.find_submission("explore", "ada"), gb.find_submission("explore", "bob")
        assert ada.extension == timedelta(days=2) and ada.late_submission_penalty == 0
        assert bob.extension is None and bob.late_submission_penalty == 2.0  # 2 started days x 25% of 4


def test_the_instructors_submissions_table_measures_lateness_against_each_learners_own_due_date(course):
    from grader.review import submissions

    for learner in ("ada", "bob"):
        folder = course.path("submitted", learner, "explore")
        folder.mkdir(parents=True)
        (folder / "timestamp.txt").write_text("2026-03-02 13:00:00 UTC")
    extend(course, "explore", "ada", days=3)
    rows = {row.learner: row for row in submissions(open_course(course.root), "explore")}
    assert rows["ada"].late_by_hours is None          # within the extension
    assert rows["bob"].late_by_hours == 25.0          # a day and an hour after the class's due date
