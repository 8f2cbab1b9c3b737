"""The Submit section of the capstone page: only the signed-in learner's own submissions and results."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from course.config import load_config
from grader import submissions
from grader.assign import generate_student_version
from grader.course_dir import gradebook, init_course, open_course
from grader.grade import GradeReport, LearnerGrade

APP = str(Path(__file__).resolve().parents[2] / "course" / "app.py")
CAPSTONE = "app_pages/capstone.py"
TIMEOUT = 120
MESSAGE = "Your flagged set overlaps the truth well."
FORM_MESSAGE = "Found, and in the form the check reads."


def _grade_into_gradebook(course_dir, assignment, learners=None, force=False, on_result=None, progress=True,
                          workers=2, **options):
    """A stand-in for grader.grade.grade: 5 of 6 points into the gradebook and a grading record."""
    course = open_course(course_dir)
    learner = learners[0]
    with gradebook(course) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's update_or_create_submission trips SQLAlchemy warnings
        gb.update_or_create_student(learner)
        gb.update_or_create_submission(assignment, learner)
        gb.find_grade("flagged_tokenmaxxers", "detect", assignment, learner).auto_score = 5.0
        gb.db.commit()
    record = course.state_dir / "grading" / assignment / f"{learner}.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"version": 1, "parts": {"flagged_tokenmaxxers": {
        "points": 5.0, "message": MESSAGE + " You earn 83% of the credit.", "form": "well formed",
        "form_message": FORM_MESSAGE}}}))
    entry = LearnerGrade(learner=learner, score=5.0, max_score=6.0)
    if on_result:
        on_result(entry, 1, 1)
    return GradeReport(assignment=assignment, isolation="test", learners={learner: entry})


class ManualQueue(submissions.GradingQueue):
    """The page's worker, run by hand (`run_next`) so each test sees every state in turn."""

    def start(self):
        return self


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """`detect` released once (nbgrader takes seconds): its release folder and gradebook, to copy."""
    course = init_course(tmp_path_factory.mktemp("release") / "course")
    generate_student_version(course, course.assignment("detect"))
    return course


@pytest.fixture
def course(app_home, released):
    """The app's course with `detect` released; grading is the stand-in above, run by hand in the tests."""
    course = load_config().course
    shutil.copytree(released.path("release"), course.path("release"), dirs_exist_ok=True)
    shutil.copy2(released.root / "gradebook.db", course.root / "gradebook.db")
    worker = ManualQueue(course, grade_function=_grade_into_gradebook)
    submissions._WORKERS[course.root] = worker  # the page finds this process's worker already there
    yield course
    submissions._WORKERS.pop(course.root, None)


def _page(learner: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if learner is not None:
        next(t for t in at.text_input if t.label == "Learner id").input(learner)
        next(b for b in at.button if b.label == "Sign in").click().run()
    at.switch_page(CAPSTONE).run()
    assert not at.exception
    return at


def _text(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "text", "info", "success", "warning", "error")
             for e in getattr(at, kind)]
    parts += [s.proto.label for s in at.get("expandable")]
    return "\n".join(str(p) for p in parts)


def _forms(at: AppTest) -> list[str]:
    return [f.proto.form.form_id for f in at.get("form")]


def _notebook(course) -> bytes:
    return course.path("release", "detect", "detect.ipynb").read_bytes()


def test_signed_out_visitors_get_no_submit_section(course):
    at = AppTest.from_file(str(Path(APP).parent / CAPSTONE), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert not at.get("file_uploader") and not at.get("form")
    assert any("Sign in" in i.value for i in at.info)


def test_policy_queue_validity_then_bands_for_the_learner_and_nothing_for_another(course):
    (course.root / "theater.toml").write_text((course.root / "theater.toml").read_text()
                                             + '\n[assignments.detect]\nattempts = 3\ndue = "2030-01-01 12:00:00 UTC"\n')
    at = _page("ada")
    text = _text(at)
    assert "Policy: due 2030-01-01 12:00 UTC; 3 attempt(s); late work is accepted until 2030-01-08 12:00 UTC" in text
    assert "3 attempt(s) left." in text
    assert "Bands appear once your submission is final" in text  # said before the first upload, with why
    assert "submit:detect" in _forms(at) and "finalise:detect" not in _forms(at)
    assert len(at.get("file_uploader")) == 4  # one per assignment of the self-study course (the memo too)

    submissions.submit(course, "detect", "ada", _notebook(course), filename="detect.ipynb")
    at.run()
    assert any("Queued for grading (you are next)" in s.label for s in at.status)
    assert "2 attempt(s) left" in _text(at)
    assert submissions._WORKERS[course.root].run_next()
    at.run()
    text = _text(at)  # before the submission is final: what the grader found, no band
    assert "Your submission (attempt 1) was checked" in text
    assert "Flagged tokenmaxxers: **well formed**" in text and FORM_MESSAGE in text
    assert "ran in the grader's sandbox" in text
    assert "after your last attempt (2 left), when you make a submission final or when the assignment " \
           "closes on 2030-01-08 12:00 UTC" in text
    assert "narrow an estimate down to its hidden value" in text
    assert MESSAGE not in text and "close" not in text.replace("closes", "")
    assert "finalise:detect" in _forms(at)

    next(c for c in at.checkbox if "final submission" in c.label).check()
    next(b for b in at.button if b.label.startswith("Make attempt 1 final")).click().run()
    assert not at.exception
    text = _text(at)
    assert "Your result (attempt 1): close" in text
    assert "Flagged tokenmaxxers: **close**" in text
    assert MESSAGE in text and "You made attempt 1 final." in text
    assert "83%" not in text and "5.0" not in text and "/ 6" not in text and "5 of 6" not in text
    assert "submit:detect" not in _forms(at) and "finalise:detect" not in _forms(at)

    other = _page("bob")
    text = _text(other)
    assert "Your result" not in text and MESSAGE not in text and "You have submitted" not in text
    assert "was checked" not in text and not other.status


def test_an_upload_over_the_limit_is_refused_on_receipt_and_nothing_is_stored(course):
    """The browser's 20 MB check is not the only one: what reaches the page is measured again."""
    at = _page("ada")
    big = b" " * (submissions.MAX_NOTEBOOK_BYTES + 1)
    next(u for u in at.get("file_uploader") if u.proto.form_id == "submit:detect").set_value(
        ("detect.ipynb", big, "application/x-ipynb+json"))
    next(b for b in at.button if b.proto.form_id == "submit:detect").click().run()
    assert not at.exception
    assert any("at most 20 MB" in e.value for e in at.error), _text(at)
    assert not any("received" in s.value for s in at.success)
    assert submissions.attempts(course, "detect", "ada") == []
    assert not course.path("submitted", "ada").exists()
    assert submissions.queue_status(course, "detect", "ada").state == "none"


def test_making_a_submission_final_needs_the_box_ticked(course):
    submissions.submit(course, "detect", "ada", _notebook(course), filename="detect.ipynb")
    at = _page("ada")
    next(b for b in at.button if b.label.startswith("Make attempt 1 final")).click().run()
    assert any("Tick the box first" in e.value for e in at.error)
    assert not submissions.release(course, "detect", "ada").final
    assert "submit:detect" in _forms(at)


def test_an_exhausted_attempt_limit_hides_the_upload_and_says_why(course):
    (course.root / "theater.toml").write_text((course.root / "theater.toml").read_text()
                                             + "\n[assignments.detect]\nattempts = 1\n")
    submissions.submit(course, "detect", "ada", _notebook(course), filename="detect.ipynb")
    at = _page("ada")
    assert any("used all 1 attempt(s)" in w.value for w in at.warning), _text(at)[:1500]
    assert "submit:detect" not in _forms(at)


def test_a_grading_error_says_could_not_be_graded_and_retry_requeues(course):
    submissions.submit(course, "detect", "ada", _notebook(course), filename="detect.ipynb")

    def broken(*args, **kwargs):
        raise RuntimeError("Traceback (most recent call last): secret detail")

    submissions.GradingQueue(course, grade_function=broken).run_next()
    at = _page("ada")
    assert any("could not be graded" in e.value for e in at.error)
    assert "Traceback" not in _text(at) and "secret detail" not in _text(at)
    next(b for b in at.button if b.label == "Grade it again").click().run()
    assert submissions.queue_status(course, "detect", "ada").state == "queued"
    assert len(submissions.attempts(course, "detect", "ada")) == 1


def test_a_course_with_a_roster_keeps_unreleased_assignments_closed(course):
    from course.auth import issue_access_codes

    codes = issue_access_codes(course.access_codes_path, ["ada"])
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    next(t for t in at.text_input if t.label == "Learner id").input("ada")
    next(t for t in at.text_input if t.label == "Access code").input(codes["ada"])
    next(b for b in at.button if b.label == "Sign in").click().run()
    at.switch_page(CAPSTONE).run()
    assert not at.exception
    assert sum("Submissions open when your instructor releases" in i.value for i in at.info) == 3  # explore, measure, memo
    assert [f for f in _forms(at) if f.startswith("submit:")] == ["submit:detect"]


# ----------------------------------------------------------------------------- extensions and regrades


def test_the_policy_line_shows_the_learners_own_extended_due_date(course):
    (course.root / "theater.toml").write_text((course.root / "theater.toml").read_text()
                                             + '\n[assignments.detect]\ndue = "2030-01-01 12:00:00 UTC"\n'
                                               '[assignments.detect.extensions]\nada = "+3d"\n')
    ada, bob = _text(_page("ada")), _text(_page("bob"))
    assert "Policy: due 2030-01-04 12:00 UTC; 3 attempt(s); late work is accepted until 2030-01-11 12:00 UTC" in ada
    assert "Policy: due 2030-01-01 12:00 UTC; 3 attempt(s); late work is accepted until 2030-01-08 12:00 UTC" in bob
    assert "gave you an extension" in ada and "extension" not in bob


def _final_result(course, learner: str) -> None:
    submissions.submit(course, "detect", learner, _notebook(course), filename="detect.ipynb")
    assert submissions._WORKERS[course.root].run_next()
    submissions.finalise(course, "detect", learner)


def _staff_gradebook(**state) -> AppTest:
    at = AppTest.from_file(str(Path(APP).parent / "app_pages" / "instructor_gradebook.py"), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_a_regrade_request_reaches_the_staff_queue_and_the_answer_reaches_the_learner(course):
    from grader import regrades

    submissions.submit(course, "detect", "ada", _notebook(course), filename="detect.ipynb")
    assert submissions._WORKERS[course.root].run_next()
    at = _page("ada")
    assert "regrade:detect" not in _forms(at)  # not before the result is final
    submissions.finalise(course, "detect", "ada")
    at.run()
    assert "regrade:detect" in _forms(at)
    next(t for t in at.text_area if t.label.startswith("What should your instructor")).input(
        "My flagged set follows the brief's rule <b>exactly</b>; please look at part 3 again.")
    next(b for b in at.button if b.label == "Send regrade request").click().run()
    assert not at.exception
    text = _text(at)
    assert "<b>exactly</b>" in text and "With your instructor" in text  # shown as typed, as plain text
    assert "regrade:detect" not in _forms(at)  # one open request at a time
    assert [r.learner for r in regrades.open_requests(course)] == ["ada"]
    assert "Your regrade request" not in _text(_page("bob"))  # nobody else sees it

    staff = _staff_gradebook(staff_role="ta", staff_user="tia")
    assert not staff.exception
    assert any("<b>exactly</b>" in t.value for t in staff.text) and "1 open for detect" in _text(staff)
    next(t for t in staff.text_area if t.label.startswith("Your answer")).input(
        "Part 3 is scored against the hidden truth; your set misses two of the heaviest users.")
    next(b for b in staff.button if b.label == "Resolve with this answer").click().run()
    assert not staff.exception and "0 open for detect" in _text(staff)
    [done] = regrades.requests_of(course, "detect", "ada")
    assert done.status == regrades.RESOLVED and done.resolved_by == "tia"

    at.run()
    text = _text(at)
    assert "Your instructor's answer" in text and "misses two of the heaviest users" in text
    assert "regrade:detect" in _forms(at)  # answered: another request may follow


def test_a_regrade_request_is_refused_when_empty_too_long_or_too_many(course):
    from grader import regrades

    with pytest.raises(regrades.RegradeError, match="final graded result"):
        regrades.request_regrade(course, "detect", "ada", "Please look again.")
    _final_result(course, "ada")
    for text, message in (("   ", "cannot be empty"), ("x" * 1001, "1001 characters long: keep it to 1000"),
                          ("bad\x1b[31m", "control characters")):
        with pytest.raises(regrades.RegradeError, match=message):
            regrades.request_regrade(course, "detect", "ada", text)
    for number in range(1, regrades.MAX_REQUESTS + 1):
        regrades.request_regrade(course, "detect", "ada", f"Request {number}")
        with pytest.raises(regrades.RegradeError, match="is with your instructor"):
            regrades.request_regrade(course, "detect", "ada", "Another one")
        regrades.resolve(course, "detect", "ada", f"Answer {number}", by="ines")
    with pytest.raises(regrades.RegradeError, match=f"sent {regrades.MAX_REQUESTS} regrade requests"):
        regrades.request_regrade(course, "detect", "ada", "One more")
    with pytest.raises(regrades.RegradeError, match="no open regrade request"):
        regrades.resolve(course, "detect", "ada", "Nothing to answer", by="ines")
    with pytest.raises(regrades.RegradeError, match="valid learner id"):
        regrades.request_regrade(course, "detect", "../ada", "Please")
    path = course.state_dir / "regrades" / "detect" / "ada.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_an_edited_theater_toml_applies_on_the_next_page_run_without_a_restart(course):
    at = _page("ada")
    assert "Policy: no deadline; 3 attempt(s)" in _text(at)
    (course.root / "theater.toml").write_text((course.root / "theater.toml").read_text()
                                             + "\n[assignments.detect]\nattempts = 5\n")
    at.run()
    assert "Policy: no deadline; 5 attempt(s)" in _text(at)
    (course.root / "theater.toml").write_text((course.root / "theater.toml").read_text()
                                             + "\n[assignments.detect.bogus]\n")
    at.run()
    assert not at.exception
    assert any("bogus" in e.value for e in at.error), [e.value for e in at.error]
