"""The instructor area through AppTest: every page, every access rule, the CLI's functions underneath."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from grader.assign import assign, import_roster, roster
from grader.course_dir import gradebook
from tests.grader.gradebook_fixtures import ROSTER, autograde, small_course, submit_memo

PAGES = Path(__file__).resolve().parents[2] / "course" / "app_pages"
APP = str(PAGES.parent / "app.py")
TIMEOUT = 120
INSTRUCTOR_PAGES = ["instructor.py", "instructor_roster.py", "instructor_assignments.py", "instructor_gradebook.py",
                    "instructor_sessions.py", "instructor_rubric.py"]
ROSTER_CSV = b"id,first_name,last_name,email\nada,Ada,Lovelace,ada@x.org\nbob,Bob,Builder,bob@x.org\n"
SIGNED_IN = {"staff_role": "instructor", "staff_user": "staff"}


def page(name: str, **state) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    return at


def shown(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error] + [w.value for w in at.warning] + \
            [i.value for i in at.info] + [c.value for c in at.caption] + [s.value for s in at.success]
    return "\n".join(str(p) for p in parts)


@pytest.fixture(params=["sqlite"])
def served(request, app_home, tmp_path, monkeypatch):
    """The app serves a small course directory (as `theater app --course DIR`); a test parametrised
    indirectly with "postgresql" gets nbgrader's gradebook on PostgreSQL."""
    db_url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    course = small_course(tmp_path / "course", db_url)
    monkeypatch.setenv("THEATER_COURSE", str(course.root))
    return course


@pytest.fixture
def graded(served):
    """`measure` released to ada and bob and autograded: ada 5/8 (share too high), bob 4/8 (interval misses)."""
    import_roster(served, ROSTER)
    assign(served, "measure", ROSTER)
    autograde(served, "measure", "ada", {"measure_finding": 5.0},
              answers={"measure_finding": {"theater_share": 0.9, "access_effect_pct": 12.0,
                                               "access_effect_low": 4.0, "access_effect_high": 20.0}},
              truths={"measure_finding": {"theater_share": 0.3, "access_effect_pct": 10.0,
                                              "access_effect_reference_width": 16.0}})
    autograde(served, "measure", "bob", {"measure_finding": 4.0},
              answers={"measure_finding": {"theater_share": 0.31, "access_effect_pct": 60.0,
                                               "access_effect_low": 52.0, "access_effect_high": 68.0}},
              truths={"measure_finding": {"theater_share": 0.32, "access_effect_pct": 5.0,
                                              "access_effect_reference_width": 16.0}})
    return served


# ----------------------------------------------------------------------------- access


def _only_the_sign_in_form(at: AppTest) -> None:
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Staff account", "Password"]
    assert not at.dataframe and not at.header and not at.metric and not at.selectbox
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.get("file_uploader") and not at.get("download_button")


@pytest.mark.parametrize("name", INSTRUCTOR_PAGES)
@pytest.mark.parametrize("who", [{}, {"learner_id": "ada"}, {"staff_role": "trainer", "staff_user": "tom"}],
                         ids=["nobody", "learner", "trainer"])
def test_instructor_pages_give_anyone_else_only_the_sign_in_form(served, name, who):
    _only_the_sign_in_form(page(name, **who).run())


@pytest.mark.parametrize("name", INSTRUCTOR_PAGES[1:])
def test_a_trainer_account_signing_in_is_refused_grading_pages(served, name):
    from course.auth import add_staff
    from course.config import load_config

    add_staff(load_config().staff_path, "tom", "trainer", "trainer password")
    at = page(name).run()
    [t for t in at.text_input if t.label == "Staff account"][0].input("tom")
    [t for t in at.text_input if t.label == "Password"][0].input("trainer password")
    [b for b in at.button if b.label == "Sign in"][0].click().run()
    assert not at.exception and not at.header and not at.dataframe
    assert any("trainer account" in e.value for e in at.error)


TA = {"staff_role": "ta", "staff_user": "tia"}


@pytest.mark.parametrize("name", ["instructor.py", "instructor_roster.py", "instructor_sessions.py"])
def test_a_teaching_assistant_gets_only_the_sign_in_form_on_pages_that_change_the_course(served, name):
    _only_the_sign_in_form(page(name, **TA).run())


def test_a_teaching_assistant_sees_the_gradebook_and_overrides_but_is_refused_the_roster(graded):
    from course.auth import add_staff
    from course.config import load_config

    add_staff(load_config().staff_path, "tia", "ta", "assistant password")
    at = page("instructor_gradebook.py").run()
    [t for t in at.text_input if t.label == "Staff account"][0].input("tia")
    [t for t in at.text_input if t.label == "Password"][0].input("assistant password")
    [b for b in at.button if b.label == "Sign in"][0].click().run()
    assert not at.exception and at.session_state["staff_role"] == "ta"
    table = at.dataframe[0].value.set_index("learner")
    assert table.loc["ada", "measure_finding"] == 5.0
    next(s for s in at.selectbox if s.label == "Learner").set_value("bob")
    next(n for n in at.number_input if n.label == "Points").set_value(6.0)
    next(t for t in at.text_input if t.label.startswith("Why")).input("The effect is right on the learner's own data.")
    next(b for b in at.button if b.label == "Save override").click().run()
    assert not at.exception
    with gradebook(graded) as gb:
        assert gb.find_grade("measure_finding", "measure", "measure", "bob").manual_score == 6.0

    roster_page = page("instructor_roster.py").run()
    [t for t in roster_page.text_input if t.label == "Staff account"][0].input("tia")
    [t for t in roster_page.text_input if t.label == "Password"][0].input("assistant password")
    [b for b in roster_page.button if b.label == "Sign in"][0].click().run()
    assert not roster_page.exception and not roster_page.dataframe and not roster_page.get("file_uploader")
    assert any("a teaching assistant's account" in e.value and "for instructors" in e.value for e in roster_page.error)


def test_a_teaching_assistant_grades_on_the_assignments_page_but_cannot_release(served):
    import_roster(served, ROSTER)
    at = page("instructor_assignments.py", **TA).run()
    assert not at.exception
    assert not any(b.label.startswith("Release ") for b in at.button)
    assert "Releasing (and the access codes it issues) is for instructors" in shown(at)
    instructor = page("instructor_assignments.py", **SIGNED_IN).run()
    assert any(b.label.startswith("Release ") for b in instructor.button)


def test_the_instructor_signs_in_on_a_grading_page(graded):
    at = page("instructor_gradebook.py").run()
    [t for t in at.text_input if t.label == "Staff account"][0].input("staff")
    [t for t in at.text_input if t.label == "Password"][0].input("staff-secret")
    [b for b in at.button if b.label == "Sign in"][0].click().run()
    assert not at.exception and at.session_state["staff_role"] == "instructor"
    assert at.dataframe


def test_navigation_offers_grading_pages_to_instructors_only(served):
    from course.app_pages.common import PAGES_KEY

    instructor = AppTest.from_file(APP, default_timeout=TIMEOUT)
    instructor.session_state["staff_role"] = "instructor"
    instructor.run()
    assert {"instructor", "instructor-roster", "instructor-assignments", "instructor-gradebook",
            "instructor-rubric"} <= set(instructor.session_state[PAGES_KEY])
    trainer = AppTest.from_file(APP, default_timeout=TIMEOUT)
    trainer.session_state["staff_role"] = "trainer"
    trainer.run()
    assert not any(url.startswith("instructor") for url in trainer.session_state[PAGES_KEY])
    ta = AppTest.from_file(APP, default_timeout=TIMEOUT)
    ta.session_state["staff_role"] = "ta"
    ta.run()
    assert not ta.exception
    offered = set(ta.session_state[PAGES_KEY])
    assert {"instructor-gradebook", "instructor-assignments", "instructor-rubric"} <= offered  # a TA grades
    assert not {"instructor", "instructor-roster", "instructor-sessions"} & offered
    assert not {"workshop-host", "workshop-kit", "workshop-present", "audit-logs"} & offered  # runs no room
    assert ta.session_state[PAGES_KEY]["instructor-gradebook"]._default or \
        ta.session_state[PAGES_KEY]["instructor-assignments"]._default


def test_a_learner_has_no_instructor_page_to_switch_to(graded):
    """A learner's navigation holds no instructor page, so its url leads nowhere (the browser test
    types the url itself)."""
    from course.app_pages.common import PAGES_KEY

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["learner_id"] = "ada"
    at.run()
    assert not any(url.startswith("instructor") for url in at.session_state[PAGES_KEY])
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/instructor_gradebook.py")


# ----------------------------------------------------------------------------- roster


def test_roster_import_lists_learners_and_hands_out_codes_once(served):
    from course.auth import ThrottleBook, check_learner_code, load_access_codes

    at = page("instructor_roster.py", **SIGNED_IN).run()
    at.get("file_uploader")[0].set_value(("roster.csv", ROSTER_CSV, "text/csv"))
    next(b for b in at.button if b.label == "Import roster").click().run()
    assert not at.exception
    assert any("2 learner(s) imported from roster.csv; 2 new access code(s)" in s.value for s in at.success)
    table = at.dataframe[0].value
    assert table["id"].tolist() == ["ada", "bob"] and set(table["access code"]) == {"issued"}
    handout = at.session_state["_new_codes_csv"].splitlines()
    codes = {row.split(",")[0]: row.split(",")[-1] for row in handout[1:]}
    stored = load_access_codes(served.access_codes_path)
    assert check_learner_code("ada", codes["ada"], stored, "c", ThrottleBook()).ok
    assert codes["ada"] not in served.access_codes_path.read_text()
    assert [x.id for x in roster(served)] == ["ada", "bob"]  # in nbgrader's gradebook, as `assign` puts them

    next(s for s in at.selectbox if s.label == "Learner").set_value("ada")
    next(b for b in at.button if b.label.startswith("Issue a new code")).click().run()
    new = next(s.value for s in at.success if "New access code for ada" in s.value).split("**")[1]
    now = load_access_codes(served.access_codes_path)
    assert check_learner_code("ada", new, now, "c2", ThrottleBook()).ok
    assert not check_learner_code("ada", codes["ada"], now, "c3", ThrottleBook()).ok
    assert check_learner_code("bob", codes["bob"], now, "c4", ThrottleBook()).ok


@pytest.mark.parametrize("content, message", [
    (b"id,first_name\nada,Ada\nada,Again\n", "roster.csv: row 3: id 'ada' repeats row 2"),
    (b"id,first_name\nbad id,Bad\n", "roster.csv: row 2: id 'bad id' must be"),
    (b"name,email\nada,ada@x.org\n", "row 1 must be a header with an `id` column"),
    (b"\xff\xfe\x00binary", "roster.csv: not a UTF-8 text file"),
])
def test_a_bad_roster_is_one_clear_line_and_imports_nothing(served, content, message):
    at = page("instructor_roster.py", **SIGNED_IN).run()
    at.get("file_uploader")[0].set_value(("roster.csv", content, "text/csv"))
    next(b for b in at.button if b.label == "Import roster").click().run()
    assert not at.exception
    [error] = at.error
    assert message in error.value and "\n" not in error.value
    assert roster(served) == [] and not served.access_codes_path.exists()


# ----------------------------------------------------------------------------- assignments


def test_release_shows_what_was_released_and_submissions_their_state(served):
    import_roster(served, ROSTER)
    at = page("instructor_assignments.py", **SIGNED_IN).run()
    next(s for s in at.selectbox if s.label == "Assignment").set_value("detect").run()
    next(b for b in at.button if b.label.startswith("Release detect to the 2")).click().run()
    assert not at.exception
    assert any("detect released to 2 learner(s)" in s.value and "ada, bob" in s.value for s in at.success)
    assert served.path("outbound", "bob", "detect", "data").is_dir()
    assert "Released: Detect the theater" in shown(at.run())
    folder = served.path("submitted", "ada", "detect")
    folder.mkdir(parents=True)
    (folder / "detect.ipynb").write_text("{}")
    (folder / "timestamp.txt").write_text("2026-03-01 09:00:00.000000 UTC")
    at.run()
    table = at.dataframe[0].value.set_index("learner")
    assert table.loc["ada", "status"] == "not graded" and table.loc["bob", "status"] == "no submission"
    assert next(m for m in at.metric if m.label == "Submitted").value == "1 of 2"


def test_grading_runs_in_a_batch_with_the_learner_and_force_chosen(served):
    """The page starts a grading batch (grader.runs: `theater grade` in a process of its own) with the
    learner and --force chosen, then shows how it ended (here: detect was never released)."""
    from grader import runs

    import_roster(served, ROSTER)
    for who in ("ada", "bob"):
        folder = served.path("submitted", who, "detect")
        folder.mkdir(parents=True)
        (folder / "detect.ipynb").write_text("{}")
    at = page("instructor_assignments.py", **SIGNED_IN).run()
    next(s for s in at.selectbox if s.label == "Assignment").set_value("detect").run()
    next(r for r in at.radio if r.label == "Grade").set_value("one learner")
    next(s for s in at.selectbox if s.label.startswith("Learner")).set_value("bob")
    next(c for c in at.checkbox if c.label.startswith("Regrade")).check()
    next(b for b in at.button if b.label == "Grade").click().run()
    assert not at.exception
    run = runs.current(served.root, "detect")
    assert run is not None and (run.learners, run.force) == (["bob"], True)
    deadline = time.monotonic() + TIMEOUT
    while not run.finished and time.monotonic() < deadline:
        time.sleep(0.3)
        run = runs.current(served.root, "detect")
    at.run()
    assert any("Grading stopped: detect has not been released" in e.value for e in at.error)
    assert any(b.label == "Grade" for b in at.button)  # the form is back


def test_a_run_going_shows_its_progress_and_cancel_asks_it_to_stop(served):
    """A batch found running (here: its status file and lock, as a live batch leaves them, e.g.
    after the app restarted) is followed with a progress bar; Cancel names that run for it to stop."""
    import fcntl
    import os

    from grader import runs

    import_roster(served, ROSTER)
    folder = served.path("submitted", "ada", "detect")
    folder.mkdir(parents=True)
    (folder / "detect.ipynb").write_text("{}")
    runs._write_status(runs.GradingRun(str(served.root.resolve()), "detect", run_id="r1", state=runs.RUNNING,
                                       pid=os.getpid(), done=1, total=3, last="ada: graded"))
    lock = runs._open_lock(served.root, "detect")
    fcntl.flock(lock, fcntl.LOCK_EX)  # what the live batch holds
    try:
        at = page("instructor_assignments.py", **SIGNED_IN).run()
        next(s for s in at.selectbox if s.label == "Assignment").set_value("detect").run()
        assert not at.exception
        [bar] = at.get("progress")
        assert "Grading detect: 1 of 3 submission(s) graded" in bar.proto.text and "ada: graded" in bar.proto.text
        assert not any(b.label == "Grade" for b in at.button)  # no second run while one is going
        next(b for b in at.button if b.label == "Cancel grading").click().run()
        assert runs._cancelled_at(served.root, "detect", "r1") is not None
    finally:
        os.close(lock)


# ----------------------------------------------------------------------------- gradebook


def test_gradebook_shows_exact_scores_charts_spread_and_flags(graded):
    at = page("instructor_gradebook.py", **SIGNED_IN).run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("learner")
    assert table.loc["ada", "measure_finding"] == 5.0 and table.loc["ada", "total"] == 5.0
    assert table.loc["bob", "score"] == 4.0
    assert len(at.get("vega_lite_chart")) == 3  # distribution, difficulty, spread
    spread = at.table[0].value.reset_index()
    bands = dict(zip(zip(spread["part"], spread["band"]), spread["learners"], strict=True))
    share, effect = "measure_finding: theater_share", "measure_finding: access_effect_pct"
    assert bands[(share, "too high (far)")] == 1 and bands[(share, "within the tolerance")] == 1
    assert bands[(effect, "interval misses")] == 1 and bands[(effect, "interval covers the truth")] == 1
    import pyarrow as pa

    for frame in at.dataframe:
        pa.Table.from_pandas(frame.value)


@pytest.mark.parametrize("served", ["sqlite", "postgresql"], indirect=True)
def test_override_in_the_app_is_what_the_gradebook_and_export_use(graded):
    at = page("instructor_gradebook.py", **SIGNED_IN).run()
    next(s for s in at.selectbox if s.label == "Learner").set_value("bob")
    next(s for s in at.selectbox if s.label == "Part").set_value("measure_finding")
    next(n for n in at.number_input if n.label == "Points").set_value(3.0)
    next(t for t in at.text_input if t.label.startswith("Why")).input("Right method; a stale data file.")
    next(b for b in at.button if b.label == "Save override").click().run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("learner")
    assert table.loc["bob", "measure_finding"] == 3.0 and table.loc["bob", "total"] == 3.0
    assert "measure_finding" in table.loc["bob", "overridden"]
    assert "Right method; a stale data file." in shown(at)
    with gradebook(graded) as gb:
        assert gb.find_grade("measure_finding", "measure", "measure", "bob").manual_score == 3.0
    next(b for b in at.button if b.label == "Prepare the CSV files").click().run()
    assert [d.label for d in at.get("download_button")] == ["nbgrader CSV", "Canvas gradebook CSV"]
    next(b for b in at.button if b.label == "Remove").click().run()
    assert at.dataframe[0].value.set_index("learner").loc["bob", "measure_finding"] == 4.0


def test_the_gradebook_shows_one_section_and_exports_only_its_learners(graded):
    from grader.assign import parse_roster

    import_roster(graded, parse_roster("id,first_name,last_name,email,section\n"
                                       "ada,Ada,Lovelace,ada@x.org,Tuesday lab\nbob,Bob,Builder,bob@x.org,Thursday lab\n"))
    at = page("instructor_gradebook.py", **SIGNED_IN).run()
    table = at.dataframe[0].value
    assert dict(zip(table["learner"], table["section"], strict=True)) == {"ada": "Tuesday lab", "bob": "Thursday lab"}
    next(s for s in at.selectbox if s.label == "Section").set_value("Thursday lab").run()
    assert not at.exception and at.dataframe[0].value["learner"].tolist() == ["bob"]
    next(b for b in at.button if b.label == "Prepare the CSV files").click().run()
    canvas = next(d for d in at.get("download_button") if d.label == "Canvas gradebook CSV")
    assert canvas is not None
    exported = at.session_state["_exports"][1]["canvas"].decode("utf-8").splitlines()
    assert len(exported) == 3 and exported[2].startswith('"Builder, Bob"') and "Thursday lab" in exported[2]


def test_an_override_without_a_reason_is_refused_in_one_line(graded):
    at = page("instructor_gradebook.py", **SIGNED_IN).run()
    next(b for b in at.button if b.label == "Save override").click().run()
    [error] = at.error
    assert "give a comment saying why" in error.value
    with gradebook(graded) as gb:
        assert gb.find_grade("measure_finding", "measure", "measure", "ada").manual_score is None


def test_release_feedback_writes_pages_and_offers_them(graded):
    at = page("instructor_gradebook.py", **SIGNED_IN).run()
    next(b for b in at.button if b.label.startswith("Release feedback")).click().run()
    assert not at.exception
    assert any("measure: feedback for 2 learner(s)" in s.value for s in at.success)
    assert graded.path("feedback", "ada", "measure", "measure.html").is_file()
    assert any(d.label.startswith("Download the feedback pages") for d in at.get("download_button"))


def test_gradebook_before_any_release_says_what_to_do(served):
    at = page("instructor_gradebook.py", **SIGNED_IN).run()
    assert not at.exception
    assert any("No assignment has been released yet" in i.value for i in at.info)


# ----------------------------------------------------------------------------- pre/post result


def test_the_class_page_shows_the_pre_post_gain_with_its_interval_and_the_misconceptions_that_moved(app_home):
    from course.config import load_config
    from course.modules import load_pre_post_forms
    from course.practice import pre_post_forms
    from course.progress import ProgressStore

    forms = load_pre_post_forms().forms
    store = ProgressStore(load_config(app_home).database_url)
    for i in range(6):
        learner = f"learner{i}"
        store.ensure_learner(learner)
        pre, post = pre_post_forms(learner)
        for q in forms[pre]:   # everyone picks the first wrong option before, the key after
            wrong = next(o for o in q.options if o.text != q.answer)
            store.record_attempt(learner, "pretest", q.id, "pretest", wrong.text, False, 0.0, wrong.misconception)
        for q in forms[post]:
            store.record_attempt(learner, "posttest", q.id, "posttest", q.answer, True, 1.0, None)
    store.engine.dispose()
    at = page("instructor.py", **SIGNED_IN).run()
    assert not at.exception
    text = shown(at)
    assert "95% interval from +100 to +100" in text and "whole interval is above zero" in text
    assert "Which misconceptions moved" in [s.value for s in at.subheader]
    moved = next(d.value for d in at.dataframe if "misconception" in d.value.columns)
    assert (moved["post-test"] == 0).all() and (moved["pre-test"] > 0).any()


# ----------------------------------------------------------------------------- rubric grading


@pytest.fixture
def memos(served):
    """The memo released to ada and bob, submitted (ada's answer holds HTML) and graded: nothing read yet."""
    from grader.grade import grade

    import_roster(served, ROSTER)
    assign(served, "memo", ROSTER)
    submit_memo(served, "ada", {"memo_shows": "Theater 30% (24-36%), access +8% (2-14%).",
                                "memo_limits": "<script>alert(1)</script> **activity** is not value"})
    submit_memo(served, "bob", {"memo_shows": "Adoption is 90%.", "memo_limits": "Nothing."})
    grade(served.root, "memo", workers=1, progress=False)
    return served


def _level(at: AppTest, points: float) -> None:
    next(r for r in at.radio if r.label == "Rubric level").set_value(points)


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_rubric_grading_goes_learner_by_learner_and_question_by_question_into_the_gradebook(memos):
    from grader.rubric import audit_trail

    at = page("instructor_rubric.py", staff_role="ta", staff_user="tia").run()
    assert not at.exception
    assert "0 of 2 graded for this question" in at.get("progress")[0].proto.text
    assert at.subheader[0].value == "ada · 1 of 2" and "access +8%" in at.text[0].value
    _level(at, 4.0)
    next(t for t in at.text_area if t.label.startswith("Comment")).input("Both numbers, with intervals.")
    _button(at, "Save and next learner").click().run()
    assert not at.exception and at.subheader[0].value == "bob · 2 of 2"
    assert "1 of 2 graded for this question" in at.get("progress")[0].proto.text
    _level(at, 0.0)
    _button(at, "Save and next learner").click().run()
    _button(at, "Next question").click().run()
    assert next(r for r in at.radio if r.label == "Question").value == "memo_limits"
    assert "0 of 2 graded for this question" in at.get("progress")[0].proto.text
    _level(at, 2.0)
    next(t for t in at.text_area if t.label.startswith("Comment")).input("Name a second limit.")
    _button(at, "Save and next learner").click().run()
    _level(at, 1.0)
    _button(at, "Save and next learner").click().run()
    assert not at.exception and "2 of 2 graded for this question" in at.get("progress")[0].proto.text

    with gradebook(memos) as gb:
        scores = {(learner, part): gb.find_grade(part, "memo", "memo", learner).manual_score
                  for learner in ("ada", "bob") for part in ("memo_shows", "memo_limits")}
        assert scores == {("ada", "memo_shows"): 4, ("bob", "memo_shows"): 0,
                          ("ada", "memo_limits"): 2, ("bob", "memo_limits"): 1}
        assert gb.find_comment("memo_limits", "memo", "memo", "ada").manual_comment == \
            "[memo_limits] Name a second limit."
        assert gb.find_submission("memo", "ada").score == 6
    assert {e["grader"] for e in audit_trail(memos, "memo")} == {"tia"}
    frame = review_frame(memos)
    assert frame.loc["ada", "total"] == 6 and frame.loc["ada", "to grade"] == "memo_next"


def review_frame(course):
    from grader import review

    return review.gradebook_frame(course, "memo").set_index("learner")


def test_a_memo_holding_html_is_shown_as_written_never_rendered(memos):
    at = page("instructor_rubric.py", **SIGNED_IN).run()
    next(r for r in at.radio if r.label == "Question").set_value("memo_limits").run()
    assert at.text[0].value == "<script>alert(1)</script> **activity** is not value"
    assert not any("alert(1)" in m.value for m in at.markdown)  # never handed to the markdown renderer


def test_anonymous_grading_hides_the_learner_ids(memos):
    at = page("instructor_rubric.py", **SIGNED_IN).run()
    next(t for t in at.toggle if "Anonymous" in t.label).set_value(True).run()
    heading = at.subheader[0].value
    assert heading.startswith("Learner 1 · 1 of 2")
    everything = "\n".join([shown(at), heading] + [t.value for t in at.text])
    assert "ada" not in everything and "bob" not in everything


def test_saving_without_a_level_is_one_clear_line(memos):
    at = page("instructor_rubric.py", **SIGNED_IN).run()
    _button(at, "Save and next learner").click().run()
    assert not at.exception and [e.value for e in at.error] == ["Pick a rubric level first."]
    with gradebook(memos) as gb:
        assert gb.find_grade("memo_shows", "memo", "memo", "ada").manual_score is None


def test_the_gradebook_and_assignments_pages_take_the_memo(memos):
    from grader.rubric import grade_answer

    grade_answer(memos, "memo", "ada", "memo_shows", 4, "", grader="tia")
    at = page("instructor_gradebook.py", **SIGNED_IN)
    at.session_state["_instructor_assignment"] = "memo"
    at.run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("learner")
    assert table.loc["ada", "memo_shows"] == 4 and table.loc["ada", "to grade"] == "memo_limits, memo_next"
    assert table.loc["bob", "to grade"] == "memo_shows, memo_limits, memo_next"
    assert not [b for b in at.button if b.label == "Save override"]  # rubric parts are graded on their page
    assert "Rubric grading page" in shown(at)
    at = page("instructor_assignments.py", **SIGNED_IN)
    at.session_state["_instructor_assignment"] = "memo"
    assert not at.run().exception
