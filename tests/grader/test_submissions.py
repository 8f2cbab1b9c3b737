"""Submissions from the app: storage in nbgrader's layout, course policy, the persistent grading queue."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from grader.assign import generate_student_version
from grader.collect import TIMESTAMP_FORMAT
from grader.course_dir import CourseError, init_course, open_course
from grader.grade import GradeReport, LearnerGrade
from grader.submissions import (
    CHECKED,
    DEFAULT_LATE_DAYS,
    GradingQueue,
    Release,
    SubmissionError,
    attempts,
    finalise,
    learner_result,
    learner_view,
    list_submissions,
    policy,
    queue_status,
    release,
    retry,
    submit,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def released_template(tmp_path_factory):
    course = init_course(tmp_path_factory.mktemp("template") / "course", data={"employees": 40, "days": 60},
                         secret="submissions-test-secret")  # a fixed company: the real grading test is stable
    generate_student_version(course, course.assignment("detect"))
    return course.root


@pytest.fixture
def course(released_template, tmp_path):
    root = tmp_path / "course"
    shutil.copytree(released_template, root, symlinks=True)
    return open_course(root)


def _settings(course, text: str):
    with (course.root / "theater.toml").open("a", encoding="utf-8") as handle:
        handle.write("\n" + text + "\n")
    return open_course(course.root)


def _notebook(course) -> bytes:
    return course.path("release", "detect", "detect.ipynb").read_bytes()


class FakeGrade:
    """grade() with the same signature, recording its calls; scores each learner 1/6."""

    def __init__(self, fail: bool = False, wait: threading.Event | None = None):
        self.calls: list[tuple[str, str, dict]] = []
        self.fail = fail
        self.wait = wait

    def __call__(self, course_dir, assignment, learners=None, force=False, on_result=None, progress=True,
                 workers=2, **options):
        if self.wait is not None:
            self.wait.wait(10)
        self.calls.append((assignment, learners[0], {"force": force, "workers": workers, **options}))
        status = "error" if self.fail else "graded"
        entry = LearnerGrade(learner=learners[0], score=1.0, max_score=6.0, status=status,
                             comments=["not graded, will be retried on the next run: boom"] if self.fail else [])
        if on_result:
            on_result(entry, 1, 1)
        return GradeReport(assignment=assignment, isolation="test", learners={learners[0]: entry})


# ----------------------------------------------------------------------------- storage


def test_a_submission_is_stored_in_nbgraders_layout_with_the_servers_timestamp(course):
    attempt = submit(course, "detect", "ada", _notebook(course), now=NOW, filename="detect.ipynb")
    folder = course.path("submitted", "ada", "detect")
    assert sorted(p.name for p in folder.iterdir()) == ["detect.ipynb", "timestamp.txt"]
    assert (folder / "detect.ipynb").read_bytes() == _notebook(course)
    stamp = (folder / "timestamp.txt").read_text()
    assert stamp == "2026-11-20 10:00:00.000000 UTC"
    assert datetime.strptime(stamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC) == NOW
    assert attempt.number == 1 and not attempt.late
    assert queue_status(course, "detect", "ada").state == "queued"


def test_a_new_attempt_keeps_the_earlier_one_in_the_history(course):
    first = _notebook(course)
    second = first.replace(b"YOUR CODE HERE", b"second try")
    assert second != first
    submit(course, "detect", "ada", first, now=NOW)
    submit(course, "detect", "ada", second, now=NOW + timedelta(hours=1))
    assert course.path("submitted", "ada", "detect", "detect.ipynb").read_bytes() == second
    history = attempts(course, "detect", "ada")
    assert [a.number for a in history] == [1, 2]
    assert [(a.folder / "detect.ipynb").read_bytes() for a in history] == [first, second]
    assert [a.timestamp for a in history] == [NOW, NOW + timedelta(hours=1)]


def _nothing_stored(course, learner="ada"):
    assert not course.path("submitted", learner).exists()
    assert attempts(course, "detect", learner) == []
    assert queue_status(course, "detect", learner).state == "none"


@pytest.mark.parametrize("data, filename, expected", [
    (b"", "detect.ipynb", "is empty"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "photo.png", "not a notebook"),
    (b"just some text", "detect.ipynb", "not a Jupyter notebook"),
    (json.dumps({"hello": "world"}).encode(), "detect.ipynb", "not a Jupyter notebook"),
    (b"[" * 200_000 + b"]" * 200_000, "detect.ipynb", "not a Jupyter notebook"),
    (json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}}]}).encode(),
     "detect.ipynb", "none of the cells of 'Detect the theater'"),
    (b" " * (21 * 1024 * 1024), "detect.ipynb", "at most 20 MB"),
])
def test_bad_uploads_are_refused_with_one_message_and_nothing_is_stored(course, data, filename, expected):
    with pytest.raises(SubmissionError, match=re.escape(expected)) as error:
        submit(course, "detect", "ada", data, now=NOW, filename=filename)
    assert "\n" not in str(error.value)
    _nothing_stored(course)


def test_another_assignments_notebook_is_refused_by_name(course):
    explore = (ROOT / "exercises" / "source" / "explore" / "explore.ipynb").read_bytes()
    with pytest.raises(SubmissionError, match=r"is the notebook of 'Explore your company' \(explore.ipynb\)"):
        submit(course, "detect", "ada", explore, now=NOW, filename="explore.ipynb")
    _nothing_stored(course)


TITLES = {"detect": "Detect the theater", "explore": "Explore your company", "measure": "Measure it"}


@pytest.mark.parametrize(("notebook", "target"), [(a, b) for a in TITLES for b in TITLES if a != b])
def test_another_assignments_notebook_is_refused_naming_where_it_belongs_and_where_it_went(
        course, notebook, target):
    """explore and detect share cells (setup, part2-progress): the message still names the notebook's own
    assignment, from the cells only it has, and the assignment it was uploaded to."""
    data = (ROOT / "exercises" / "release" / notebook / f"{notebook}.ipynb").read_bytes()
    with pytest.raises(SubmissionError) as error:
        submit(course, target, "ada", data, now=NOW, filename=f"{notebook}.ipynb", self_study=True)
    message = str(error.value)
    assert f"is the notebook of '{TITLES[notebook]}' ({notebook}.ipynb), not of '{TITLES[target]}'" in message
    assert f"upload {target}.ipynb here" in message
    others = set(TITLES) - {notebook, target}
    assert not any(TITLES[other] in message for other in others), message
    _nothing_stored(course)


@pytest.mark.parametrize("learner", ["", "../bob", ".hidden", "a/b", "x" * 65, None])
def test_only_a_valid_signed_in_id_can_submit(course, learner):
    with pytest.raises(SubmissionError, match="valid learner id"):
        submit(course, "detect", learner, _notebook(course), now=NOW)
    assert not any(course.path("submitted").iterdir())


def test_an_unreleased_assignment_is_closed_unless_self_study(course):
    measure = (ROOT / "exercises" / "source" / "measure" / "measure.ipynb").read_bytes()
    with pytest.raises(SubmissionError, match="not open for submissions yet"):
        submit(course, "measure", "ada", measure, now=NOW)
    assert submit(course, "measure", "ada", measure, now=NOW, self_study=True).number == 1


# ----------------------------------------------------------------------------- policy


def test_the_attempt_limit_refuses_the_next_submission_and_keeps_the_last(course):
    course = _settings(course, "[assignments.detect]\nattempts = 2")
    assert policy(course, "detect").attempts == 2
    submit(course, "detect", "ada", _notebook(course), now=NOW)
    kept = _notebook(course).replace(b"YOUR CODE HERE", b"the one that stands")
    submit(course, "detect", "ada", kept, now=NOW + timedelta(minutes=1))
    assert policy(course, "detect").attempts_left(len(attempts(course, "detect", "ada"))) == 0
    with pytest.raises(SubmissionError, match="used all 2 attempt"):
        submit(course, "detect", "ada", _notebook(course), now=NOW + timedelta(minutes=2))
    assert len(attempts(course, "detect", "ada")) == 2
    assert course.path("submitted", "ada", "detect", "detect.ipynb").read_bytes() == kept
    submit(course, "detect", "bob", _notebook(course), now=NOW)  # the limit is per learner


def test_concurrent_submits_of_one_learner_never_exceed_the_limit(course):
    course = _settings(course, "[assignments.detect]\nattempts = 1")
    outcomes: list[str] = []

    def one():
        try:
            submit(course, "detect", "ada", _notebook(course), now=NOW)
            outcomes.append("stored")
        except SubmissionError:
            outcomes.append("refused")

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["stored"]
    assert len(attempts(course, "detect", "ada")) == 1


def test_concurrent_submits_by_two_learners_are_both_stored_and_queued(course):
    learners = [f"learner{i}" for i in range(8)]
    threads = [threading.Thread(target=submit, args=(course, "detect", learner, _notebook(course), NOW))
               for learner in learners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for learner in learners:
        assert course.path("submitted", learner, "detect", "detect.ipynb").read_bytes() == _notebook(course)
        assert len(attempts(course, "detect", learner)) == 1
    states = [queue_status(course, "detect", learner) for learner in learners]
    assert sorted(s.ahead for s in states) == list(range(8))
    fake = FakeGrade()
    queue = GradingQueue(course, grade_function=fake)
    while queue.run_next():
        pass
    assert sorted(call[1] for call in fake.calls) == learners


def test_late_work_is_accepted_marked_and_the_penalty_stated(course):
    course = _settings(course, '[assignments.detect]\ndue = "2026-11-20 09:00:00 UTC"')
    (course.root / "nbgrader_config.py").write_text(
        (course.root / "nbgrader_config.py").read_text()
        + '\nc.AssignLatePenalties.plugin_class = "grader.export.PercentPerDayLate"\n'
        + "c.PercentPerDayLate.percent_per_day = 25\n")
    rules = policy(course, "detect")
    assert rules.due == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert "25% of the score per started day late" in rules.describe()
    on_time = submit(course, "detect", "bob", _notebook(course), now=NOW - timedelta(hours=2))
    late = submit(course, "detect", "ada", _notebook(course), now=NOW)
    assert not on_time.late and late.late
    assert [s.late for s in list_submissions(course, "detect")] == [True, False]


def test_attempts_are_limited_by_default_and_can_be_lifted(course):
    assert policy(course, "detect").attempts == 3  # so bands appear after the third, even without dates
    for minute in range(3):
        submit(course, "detect", "ada", _notebook(course), now=NOW + timedelta(minutes=minute))
    with pytest.raises(SubmissionError, match="used all 3 attempt"):
        submit(course, "detect", "ada", _notebook(course), now=NOW + timedelta(minutes=5))
    course = _settings(course, '[assignments.detect]\nattempts = "unlimited"')
    assert policy(course, "detect").attempts is None
    assert "unlimited attempts" in policy(course, "detect").describe()
    assert submit(course, "detect", "ada", _notebook(course), now=NOW + timedelta(minutes=6)).number == 4


@pytest.mark.parametrize("setting, message", [
    ("attempts = 0", "at least 1"), ('attempts = "three"', "whole number"), ("attempts = 2.5", "whole number"), ('due = "someday"', "is not a date"),
])
def test_a_bad_policy_in_theater_toml_is_a_clear_course_error(course, setting, message):
    with pytest.raises(CourseError, match=r"theater.toml \[assignments.detect\].*" + message):
        _settings(course, f"[assignments.detect]\n{setting}")  # checked once, when the course opens


# ----------------------------------------------------------------------------- queue


def test_queued_work_survives_a_restart_and_is_graded_by_the_next_worker(course):
    submit(course, "detect", "ada", _notebook(course), now=NOW)
    submit(course, "detect", "bob", _notebook(course), now=NOW)
    assert queue_status(course, "detect", "bob").ahead == 1
    # the app restarts: a new process (here a new queue object) finds the jobs on disk
    fake = FakeGrade()
    restarted = GradingQueue(open_course(course.root), grade_function=fake, grade_options=lambda: {"scheduler": "s"})
    assert restarted.run_next() and restarted.run_next() and not restarted.run_next()
    assert [(a, learner) for a, learner, _ in fake.calls] == [("detect", "ada"), ("detect", "bob")]
    assert fake.calls[0][2] == {"force": True, "workers": 1, "scheduler": "s"}
    assert queue_status(course, "detect", "ada").state == "graded"
    assert queue_status(course, "detect", "ada").attempt == 1


def test_the_queue_grades_where_the_course_says(course):
    """Without grade_options the app grades on the course's own engine: theater.toml [grading]."""
    settings = course.root / "theater.toml"
    original = settings.read_text()
    try:
        submit(course, "detect", "ada", _notebook(course), now=NOW)
        fake = FakeGrade()
        assert GradingQueue(open_course(course.root), grade_function=fake).run_next()
        assert fake.calls[-1][2]["scheduler"] is None  # no cluster named: this machine
        settings.write_text(original + '\n[grading]\nscheduler = "tcp://127.0.0.1:8786"\n')
        submit(course, "detect", "ada", _notebook(course), now=NOW)
        assert GradingQueue(open_course(course.root), grade_function=fake).run_next()
        assert fake.calls[-1][2]["scheduler"] == "tcp://127.0.0.1:8786"
    finally:
        settings.write_text(original)


def test_a_job_whose_worker_was_killed_is_graded_again(course):
    submit(course, "detect", "ada", _notebook(course), now=NOW)
    job = next((course.state_dir / "grading-queue").glob("*.json"))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(job)!r}, os.O_RDWR)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('claimed', flush=True)\ntime.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "claimed"
        assert queue_status(course, "detect", "ada").state == "grading"
        fake = FakeGrade()
        assert not GradingQueue(course, grade_function=fake).run_next()  # another worker holds it
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert queue_status(course, "detect", "ada").state == "queued"
    assert GradingQueue(course, grade_function=fake).run_next()
    assert [call[1] for call in fake.calls] == ["ada"]
    assert queue_status(course, "detect", "ada").state == "graded"


def test_resubmitting_while_queued_keeps_one_job_and_while_grading_queues_another(course):
    submit(course, "detect", "ada", _notebook(course), now=NOW)
    submit(course, "detect", "ada", _notebook(course), now=NOW + timedelta(minutes=1))
    assert len(list((course.state_dir / "grading-queue").glob("*.json"))) == 1
    release = threading.Event()
    fake = FakeGrade(wait=release)
    queue = GradingQueue(course, grade_function=fake, poll_seconds=0.05).start()
    try:
        deadline = time.monotonic() + 10
        while queue_status(course, "detect", "ada").state != "grading" and time.monotonic() < deadline:
            time.sleep(0.02)
        submit(course, "detect", "ada", _notebook(course), now=NOW + timedelta(minutes=2))
        assert len(list((course.state_dir / "grading-queue").glob("*.json"))) == 2
        release.set()
        while list((course.state_dir / "grading-queue").glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        queue.stop(timeout=10)
    assert [call[1] for call in fake.calls] == ["ada", "ada"]
    assert queue_status(course, "detect", "ada") .attempt == 3


def test_a_grading_error_is_recorded_for_staff_and_can_be_retried(course):
    submit(course, "detect", "ada", _notebook(course), now=NOW)
    GradingQueue(course, grade_function=FakeGrade(fail=True)).run_next()
    status = queue_status(course, "detect", "ada")
    assert status.state == "error" and "boom" in status.error
    assert [(s.learner, s.state) for s in list_submissions(course, "detect")] == [("ada", "error")]
    retry(course, "detect", "ada")
    assert queue_status(course, "detect", "ada").state == "queued"
    assert len(attempts(course, "detect", "ada")) == 1  # a retry uses no attempt

    def raises(*args, **kwargs):
        raise RuntimeError("the sandbox is missing")

    GradingQueue(course, grade_function=raises).run_next()
    assert "the sandbox is missing" in queue_status(course, "detect", "ada").error


@pytest.mark.slow
def test_real_grading_of_a_late_submission_shows_its_form_then_bands_and_the_penalty(course):
    """The queue runs the real grade(): sandbox, scoring outside the kernel, the course's late plugin.
    Before the assignment closes the learner sees the answer's form; after it, the bands."""
    course = _settings(course, '[assignments.detect]\ndue = "2026-11-20 09:00:00 UTC"')
    (course.root / "nbgrader_config.py").write_text(
        (course.root / "nbgrader_config.py").read_text()
        + '\nc.AssignLatePenalties.plugin_class = "grader.export.PercentPerDayLate"\n'
        + "c.PercentPerDayLate.percent_per_day = 100\n")
    solved = (ROOT / "exercises" / "source" / "detect" / "detect.ipynb").read_bytes()
    assert submit(course, "detect", "ada", solved, now=NOW).late
    assert GradingQueue(course).run_next()
    assert queue_status(course, "detect", "ada").state == "graded"
    checked = learner_result(course, "detect", "ada", now=NOW)
    assert not checked.final and checked.band == CHECKED and checked.late, checked
    assert [(p.grade_id, p.band) for p in checked.parts] == [("flagged_tokenmaxxers", "well formed")]
    assert "separate" not in repr(checked) and "better than chance" not in repr(checked)  # no check message
    result = learner_result(course, "detect", "ada", now=NOW + timedelta(days=DEFAULT_LATE_DAYS, hours=1))
    assert result.final and "closed on 2026-11-27 09:00 UTC" in result.why
    assert [p.grade_id for p in result.parts] == ["flagged_tokenmaxxers"]
    assert result.parts[0].band in ("full marks", "close", "partly"), result  # the reference earns credit
    assert result.late and result.band == "not yet", result  # 100% a day late: the whole score is taken off
    assert result.attempt == 1
    for shown in (checked, result):
        assert not re.search(r"\d\s*(/|of)\s*\d|points", repr(shown))
    assert learner_result(course, "detect", "bob") is None


def test_a_submission_graded_from_the_cli_shows_its_result_on_the_learners_page(course):
    """Collected from an LMS and graded with `theater grade`, never queued by the app: the learner
    still sees the banded result, and nobody else's."""
    from grader.grade import grade
    from grader.submissions import learner_result

    target = course.root / "submitted" / "ada" / "detect"
    target.mkdir(parents=True)
    shutil.copy(ROOT / "exercises" / "source" / "detect" / "detect.ipynb", target / "detect.ipynb")
    assert queue_status(course, "detect", "ada").state == "none"
    assert learner_result(course, "detect", "ada") is None
    grade(course.root, "detect", learners=["ada"], progress=False)
    assert queue_status(course, "detect", "ada").state == "graded"
    result = learner_result(course, "detect", "ada")
    assert result is not None and result.attempt is None
    assert [p.grade_id for p in result.parts] == ["flagged_tokenmaxxers"]
    assert result.parts[0].band in ("full marks", "close", "partly"), result
    assert not re.search(r"\d\s*(/|of)\s*\d|points", repr(result))
    assert queue_status(course, "detect", "bob").state == "none"
    assert learner_result(course, "detect", "bob") is None


# ----------------------------------------------------------------------------- what is shown, and when


def _graded(course, learner: str, points: float, message: str, form: str = "well formed",
            form_message: str = "Found, and in the form the check reads."):
    """The queue's status and a grading record as grade() leaves them (the gradebook stays empty)."""
    GradingQueue(course, grade_function=FakeGrade()).run_next()
    record = course.state_dir / "grading" / "detect" / f"{learner}.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"version": 1, "comments": [], "parts": {"flagged_tokenmaxxers": {
        "points": points, "max_points": 6.0, "status": "incorrect", "message": message,
        "form": form, "form_message": form_message}}}))


def test_before_the_submission_is_final_the_learner_sees_only_its_form(course):
    submit(course, "detect", "ada", _notebook(course), now=NOW)
    _graded(course, "ada", 2.0, "Your flags are better than chance, not yet reliable (9 flagged).")
    result = learner_result(course, "detect", "ada", now=NOW)
    assert not result.final and result.band == CHECKED
    assert [(p.band, p.message) for p in result.parts] == [("well formed", "Found, and in the form the check reads.")]
    assert "better than chance" not in repr(result)
    assert "after your last attempt (2 left)" in result.why and "when you make a submission final" in result.why
    assert "narrow an estimate down" in result.why  # the page says why


@pytest.mark.parametrize("how", ["last attempt", "finalised", "closed"])
def test_bands_appear_once_the_submission_is_final_and_nothing_replaces_it(course, how):
    course = _settings(course, '[assignments.detect]\nattempts = 2\ndue = "2026-11-21 10:00:00 UTC"\n'
                               'closes = "2026-11-22 10:00:00 UTC"')
    submit(course, "detect", "ada", _notebook(course), now=NOW)
    later = NOW
    if how == "last attempt":
        submit(course, "detect", "ada", _notebook(course), now=NOW + timedelta(minutes=1))
    elif how == "finalised":
        assert not release(course, "detect", "ada", now=NOW).final
        assert finalise(course, "detect", "ada", now=NOW) == 1
    else:
        later = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    _graded(course, "ada", 2.0, "Your flags are better than chance, not yet reliable (9 flagged).")
    result = learner_result(course, "detect", "ada", now=later)
    assert result.final, result
    assert result.parts[0].message == "Your flags are better than chance, not yet reliable (9 flagged)."
    assert {"last attempt": "was your last", "finalised": "made attempt 1 final",
            "closed": "closed on 2026-11-22 10:00 UTC"}[how] in result.why
    with pytest.raises(SubmissionError, match="used all 2|final: it stands|closed on"):
        submit(course, "detect", "ada", _notebook(course), now=later)
    assert release(course, "detect", "bob", now=later).final is (how == "closed")  # closed: for everyone
    if how == "closed":
        assert "it takes no more submissions" in release(course, "detect", "bob", now=later).why


def test_an_assignment_closes_a_week_after_its_due_date_unless_the_course_says_when(course):
    assert policy(course, "detect").closes is None  # no date: final per learner (last attempt, or made final)
    assert "after your last attempt (3 left)" in release(course, "detect", "ada", now=NOW).why
    dated = _settings(course, '[assignments.detect]\ndue = "2026-11-20 09:00:00 UTC"')
    rules = policy(dated, "detect")
    assert rules.closes == rules.due + timedelta(days=DEFAULT_LATE_DAYS)
    assert "late work is accepted until 2026-11-27 09:00 UTC" in rules.describe()
    submit(dated, "detect", "ada", _notebook(dated), now=rules.closes - timedelta(seconds=1))  # late, accepted
    with pytest.raises(SubmissionError, match="closed on 2026-11-27 09:00 UTC"):
        submit(dated, "detect", "bob", _notebook(dated), now=rules.closes)
    assert list_submissions(dated, "detect")[0].late


def test_with_unlimited_attempts_and_no_dates_bands_wait_for_the_learner_to_make_one_final(course):
    course = _settings(course, '[assignments.detect]\nattempts = "unlimited"')
    for minute in range(5):
        submit(course, "detect", "ada", _notebook(course), now=NOW + timedelta(minutes=minute))
    shown = release(course, "detect", "ada", now=NOW + timedelta(days=365))
    assert not shown.final and "last attempt" not in shown.why and "make a submission final" in shown.why
    assert finalise(course, "detect", "ada") == 5
    assert release(course, "detect", "ada").final
    with pytest.raises(SubmissionError, match="made attempt 5 of 'Detect the theater' final"):
        submit(course, "detect", "ada", _notebook(course))


def test_a_submission_cannot_be_made_final_before_there_is_one(course):
    with pytest.raises(SubmissionError, match="nothing to make final"):
        finalise(course, "detect", "ada")
    with pytest.raises(SubmissionError, match="valid learner id"):
        finalise(course, "detect", "../bob")


@pytest.mark.parametrize("setting, message", [
    ('closes = "soon"', "closes: 'soon' is not a date"),
    ('due = "2026-11-20 09:00:00 UTC"\ncloses = "2026-11-19 09:00:00 UTC"', "is before its due date"),
])
def test_a_bad_closing_date_is_a_clear_course_error(course, setting, message):
    with pytest.raises(CourseError, match=r"theater.toml \[assignments.detect\].*" + message):
        _settings(course, f"[assignments.detect]\n{setting}")


def test_a_collected_submission_is_final_and_the_app_takes_no_other(course):
    target = course.path("submitted", "ada", "detect")
    target.mkdir(parents=True)
    (target / "detect.ipynb").write_bytes(_notebook(course))
    assert release(course, "detect", "ada", now=NOW).final
    with pytest.raises(SubmissionError, match="collected your submission"):
        submit(course, "detect", "ada", _notebook(course), now=NOW)


def test_before_it_is_final_the_view_is_the_same_whatever_the_truth():
    """The validity report is made from the answer alone: every truth shows the same page."""
    from exercises.assignments import load_assignment
    from grader.scoring import score_part

    measure = load_assignment(ROOT / "exercises" / "source" / "measure" / "assignment.yaml")
    part = measure.graded[0]
    interval = {"access_effect_pct": 12.0, "access_effect_low": 4.0, "access_effect_high": 20.0}
    answers = [{"theater_share": 0.3, **interval}, {"theater_share": 30, **interval}, {"theater_share": 0.3}, None]
    for answer in answers:
        views, banded = set(), set()
        for share in (0.05, 0.28, 0.31, 0.5, 0.9):
            for effect in (-20.0, 10.0, 13.0, 40.0):
                score = score_part(part, answer, {"theater_share": share, "access_effect_pct": effect,
                                                  "access_effect_reference_width": 16.0})
                record = {"parts": {part.grade_id: score.__dict__}, "comments": []}
                scores = {part.grade_id: (score.points, part.points)}
                penalty = 0.1 * score.points  # late: the plugin takes a share of the score
                views.add(repr(learner_view(measure, scores, penalty, record, {}, Release(False, "later"), late=True)))
                banded.add(repr(learner_view(measure, scores, 0.0, record, {}, Release(True, ""))))
        assert len(views) == 1, views
        assert "late=True" in views.pop()  # from the timestamp, whatever the penalty
        assert answer != answers[0] or len(banded) > 3  # the bands do depend on the truth: they wait


def test_theater_feedback_holds_the_bands_of_a_submission_that_is_not_final(course):
    """The CLI's feedback page follows the app: the answer's form until final, the band after."""
    from grader.feedback import feedback

    submit(course, "detect", "ada", _notebook(course), now=NOW)
    message = "Your flags are better than chance, not yet reliable (9 flagged)."
    _graded(course, "ada", 2.0, message)
    folder = course.path("autograded", "ada", "detect")
    folder.mkdir(parents=True)
    shutil.copy(course.path("release", "detect", "detect.ipynb"), folder / "detect.ipynb")
    page = course.path("feedback", "ada", "detect", "detect.html")

    feedback(course, "detect")
    held = page.read_text()
    assert "outside your notebook: well formed." in held and "Found, and in the form the check reads." in held
    assert "Bands appear once your submission is final" in held and "bands appear once your submission is final" in held
    assert "better than chance" not in held and "detect: checked" in held

    finalise(course, "detect", "ada")
    feedback(course, "detect")
    released = page.read_text()
    assert "better than chance" in released and "You made attempt 1 final." not in released
    assert "outside your notebook: not graded yet." in released  # this test's gradebook holds no score
