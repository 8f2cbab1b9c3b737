"""Every learner page renders with AppTest; sign-in, quizzes, exercises and bad input behave."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from course.modules import CONTENT_DIR, load_modules
from course.progress import ProgressStore

APP = str(Path(__file__).resolve().parents[2] / "course" / "app.py")

TIMEOUT = 120
PAGES = ["app_pages/home.py", "app_pages/module.py", "app_pages/capstone.py",
         "app_pages/my_learning.py", "app_pages/signin.py"]


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    return at


def _sign_in(at: AppTest, learner: str = "ada", code: str | None = None) -> AppTest:
    inputs = [t for t in at.text_input if t.label == "Learner id"]
    inputs[0].input(learner)
    if code is not None:
        [t for t in at.text_input if t.label == "Course code"][0].input(code)
    [b for b in at.button if b.label == "Sign in"][0].click().run()
    return at


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _submit(at: AppTest, form_key: str) -> AppTest:
    [b for b in at.button if b.proto.form_id == form_key][0].click().run()
    return at


def _first_module():
    modules, _ = load_modules(CONTENT_DIR)
    return modules[0]


def test_signed_out_visitors_see_only_the_sign_in_page(app_home):
    at = _app()
    assert not at.exception
    assert [t.value for t in at.title] == ["Signal or Theater"]
    assert any(t.label == "Learner id" for t in at.text_input)


def test_sign_in_generates_the_company_and_lands_on_home(app_home):
    at = _sign_in(_app())
    assert not at.exception and not _errors(at)
    assert at.session_state["learner_id"] == "ada"
    assert [t.value for t in at.title] == ["Your course"]
    assert (app_home / "data" / "learners" / "ada" / "manifest.json").exists()
    assert not list((app_home / "data" / "learners" / "ada").glob("*labels*"))
    plan = [c.value for c in at.caption if "in all" in c.value]
    assert plan and "graded notebooks" in plan[0], "home states the time with the notebooks"


@pytest.mark.parametrize("bad, message", [("", "Enter your learner id"),
                                          ("ada lovelace!", "not a valid learner id")])
def test_invalid_learner_id_gets_a_clear_message(app_home, bad, message):
    at = _sign_in(_app(), bad)
    assert not at.exception
    assert any(message in e for e in _errors(at))
    assert "learner_id" not in at.session_state


def test_learner_not_on_the_roster_is_told_so(app_home):
    from course.auth import issue_access_codes
    from course.config import load_config

    issue_access_codes(load_config().access_codes_path, ["ada"])
    at = _sign_in(_app(), "mallory")
    assert any("Wrong learner id or access code" in e for e in _errors(at))
    assert "learner_id" not in at.session_state


def test_course_code_is_required_when_configured(app_home):
    app_home.mkdir(parents=True, exist_ok=True)
    (app_home / "config.yaml").write_text("course_code: SPRING26\n")
    at = _sign_in(_app(), "ada", "WRONG")
    assert any("course code is not right" in e for e in _errors(at))
    at = _sign_in(at, "ada", "SPRING26")
    assert at.session_state["learner_id"] == "ada"


@pytest.mark.slow
def test_every_learner_page_renders_without_exception(app_home):
    at = _sign_in(_app())
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert not _errors(at), (page, _errors(at))
        assert at.title, page


@pytest.mark.slow
def test_every_module_renders(app_home):
    at = _sign_in(_app())
    modules, _ = load_modules(CONTENT_DIR)
    for module in modules:
        at.switch_page("app_pages/module.py")
        at._page_hash = calc_hash(f"module-{module.id}")   # one file serves every module's url
        at.run()
        assert not at.exception, (module.id, at.exception)
        assert [t.value for t in at.title] == [f"{module.number}. {module.title}"]


def test_quiz_answered_wrong_then_right_shows_the_matching_feedback(app_home):
    module = _first_module()
    question = module.quiz[0]
    wrong = next(o for o in question.options if o.text != question.answer)
    at = _sign_in(_app())
    at.switch_page("app_pages/module.py").run()
    key = f"quiz:{module.id}:{question.id}"
    at.radio(key=f"choice:{key}").set_value(wrong.text)
    _submit(at, f"form:{key}")
    assert any(wrong.feedback in e for e in _errors(at))
    at.radio(key=f"choice:{key}").set_value(question.answer)
    _submit(at, f"form:{key}")
    assert any(question.explain in s.value for s in at.success)
    frame = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}").attempts_frame(module.id)
    mine = frame[frame["item_id"] == question.id]
    assert list(mine["correct"]) == [False, True]
    assert list(mine["misconception"])[0] == wrong.misconception


def test_chart_appears_only_after_the_prediction_is_committed(app_home):
    module = _first_module()
    ref = next(c for c in module.charts if c.predict is not None)
    at = _sign_in(_app())
    at.switch_page("app_pages/module.py").run()
    charts_before = len(at.get("vega_lite_chart"))
    key = f"prediction:{module.id}:{ref.predict.id}"
    at.radio(key=f"choice:{key}").set_value(ref.predict.answer)
    _submit(at, f"form:{key}")
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == charts_before + 1
    assert any("What the chart shows" in m.value for m in at.markdown)


def test_progress_is_kept_for_the_next_session(app_home):
    module = _first_module()
    question = module.quiz[0]
    at = _sign_in(_app())
    at.switch_page("app_pages/module.py").run()
    key = f"quiz:{module.id}:{question.id}"
    at.radio(key=f"choice:{key}").set_value(question.answer)
    _submit(at, f"form:{key}")
    later = _sign_in(_app())
    assert not later.exception
    later.switch_page("app_pages/module.py").run()
    assert any("Earlier you answered" in c.value for c in later.caption)


def test_exercise_check_gives_feedback_and_is_recorded(app_home):
    module = _first_module()
    assert module.exercise is not None
    at = _sign_in(_app())
    at.switch_page("app_pages/module.py").run()
    number = [n for n in at.number_input if n.key == f"exercise:{module.exercise.id}:number"]
    if not number:
        pytest.skip(f"module 1's exercise kind {module.exercise.kind} has no number input")
    number[0].set_value(0.95)
    at.button(key=f"exercise:{module.exercise.id}:check").click().run()
    assert not at.exception
    assert any("Not yet" in e for e in _errors(at))
    at.button(key=f"exercise:{module.exercise.id}:hint").click().run()
    assert any(module.exercise.hints[0] in i.value for i in at.info)


def test_a_broken_module_file_is_named_and_the_others_still_work(app_home, tmp_path, monkeypatch):
    content = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, content)
    broken = content / "09-broken-module"
    broken.mkdir()
    (broken / "module.md").write_text("---\nid: broken-module\ntitle: [unclosed\n---\nBody\n")
    monkeypatch.setenv("THEATER_CONTENT_DIR", str(content))
    at = _sign_in(_app())
    assert not at.exception
    assert any(str(broken / "module.md") in e for e in _errors(at))
    at.switch_page("app_pages/module.py").run()
    assert not at.exception and not _errors(at)


def test_a_corrupted_progress_database_is_moved_aside_and_the_app_still_works(app_home):
    app_home.mkdir(parents=True, exist_ok=True)
    (app_home / "progress.sqlite").write_bytes(b"garbage, not sqlite" * 100)
    at = _app()
    assert not at.exception
    assert any("moved aside" in w.value for w in at.warning)
    assert list(app_home.glob("progress.sqlite.corrupt-*"))
    at = _sign_in(at)
    assert at.session_state["learner_id"] == "ada" and not _errors(at)


def test_staff_password_is_checked(app_home):
    at = _app()
    [t for t in at.text_input if t.label == "Staff account"][0].input("staff")
    [t for t in at.text_input if t.label == "Password"][0].input("wrong")
    [b for b in at.button if b.label == "Sign in as staff"][0].click().run()
    assert any("Wrong account or password" in e for e in _errors(at))
    [t for t in at.text_input if t.label == "Password"][0].input("staff-secret")
    [b for b in at.button if b.label == "Sign in as staff"][0].click().run()
    assert at.session_state["staff_role"] == "instructor"
    assert at.session_state["staff_user"] == "staff"
    assert not at.exception


def _open_module(at: AppTest, module) -> AppTest:
    at.switch_page("app_pages/module.py")
    at._page_hash = calc_hash(f"module-{module.id}")   # one file serves every module's url
    return at.run()


def test_detector_exercise_flags_by_a_score_and_is_checked(app_home):
    modules, _ = load_modules(CONTENT_DIR)
    module = next((m for m in modules if m.exercise and m.exercise.check.startswith("detect.")), None)
    if module is None:
        pytest.skip("no module has a detector exercise")
    key = f"exercise:{module.exercise.id}"
    at = _open_module(_sign_in(_app()), module)
    at.multiselect(key=f"{key}:features").select("acceptance_rate").run()
    at.slider(key=f"{key}:weight:acceptance_rate").set_value(-1.0)
    at.slider(key=f"{key}:threshold").set_value(0.5).run()
    flagged_line = next(m.value for m in at.markdown if "AI users flagged" in m.value)
    assert "**In your practice company: 0**" not in flagged_line
    at.button(key=f"{key}:check").click().run()
    assert not at.exception
    assert at.error or at.success
    frame = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}").attempts_frame(module.id)
    assert list(frame.loc[frame["kind"] == "exercise", "item_id"]) == [module.exercise.id]


def test_session_labelling_exercise_is_checked_against_hidden_labels(app_home):
    modules, _ = load_modules(CONTENT_DIR)
    module = next((m for m in modules if m.exercise and m.exercise.check == "spot.label_sessions"),
                  None)
    if module is None:
        pytest.skip("no module has the session labelling exercise")
    key = f"exercise:{module.exercise.id}"
    at = _open_module(_sign_in(_app()), module)
    radios = [r for r in at.radio if r.key and r.key.startswith(f"{key}:session:")]
    assert len(radios) == 8
    for radio in radios:
        radio.set_value("theater")
    at.button(key=f"{key}:check").click().run()
    assert not at.exception
    messages = [e.value for e in at.error] + [s.value for s in at.success]
    from course.practice import FEEDBACK_BANDS

    assert any(band[2] in m for m in messages for band in FEEDBACK_BANDS)
    assert not any("%" in m for m in messages)   # banded: no exact score to solve for


def test_a_retrieval_question_counts_as_a_review_of_its_module(app_home):
    modules, _ = load_modules(CONTENT_DIR)
    module = next((m for m in modules if m.retrieval), None)
    if module is None:
        pytest.skip("no module has retrieval questions")
    question = module.retrieval[0]
    reviewed = question.objective.partition(":")[0]
    at = _open_module(_sign_in(_app()), module)
    key = f"retrieval:{module.id}:{question.id}"
    at.radio(key=f"choice:{key}").set_value(question.answer)
    _submit(at, f"form:{key}")
    frame = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}").attempts_frame()
    review = frame[frame["kind"] == "review"]
    assert list(review["module_id"]) == [reviewed] and list(review["correct"]) == [True]


def test_home_offers_to_resume_the_last_module_visited(app_home):
    modules, _ = load_modules(CONTENT_DIR)
    module = modules[1] if len(modules) > 1 else modules[0]
    at = _open_module(_sign_in(_app()), module)
    at.switch_page("app_pages/home.py").run()
    links = [p for p in at.get("page_link") if "Resume where you left off" in p.proto.label]
    assert links and module.title in links[0].proto.label


def _answer_exercise(at: AppTest, exercise) -> None:
    """Give the exercise a well-formed answer through its own widgets."""
    key = f"exercise:{exercise.id}"
    numbers = [n for n in at.number_input if n.key == f"{key}:number"]
    if numbers:
        numbers[0].set_value(0.5)
    elif any(r.key and r.key.startswith(f"{key}:session:") for r in at.radio):
        for radio in [r for r in at.radio if r.key and r.key.startswith(f"{key}:session:")]:
            radio.set_value("genuine")
    elif any(m.key == f"{key}:features" for m in at.multiselect):
        at.multiselect(key=f"{key}:features").select("acceptance_rate").run()
        at.slider(key=f"{key}:weight:acceptance_rate").set_value(-1.0)
        # halfway up the score: some but never all people flagged, whatever company the secret drew
        at.slider(key=f"{key}:threshold").set_value(0.5)
    elif any(r.key == f"{key}:signal" for r in at.radio):
        at.slider(key=f"{key}:rise").set_value(0.2)
    else:
        from exercises.metrics import METRIC_CATALOGUE

        first, second = list(METRIC_CATALOGUE)[:2]
        at.multiselect(key=f"{key}:metrics").select(first).select(second)


@pytest.mark.slow
def test_every_module_exercise_checks_a_well_formed_answer(app_home):
    modules, _ = load_modules(CONTENT_DIR)
    at = _sign_in(_app())
    checked = []
    for module in [m for m in modules if m.exercise is not None]:
        _open_module(at, module)
        _answer_exercise(at, module.exercise)
        at.button(key=f"exercise:{module.exercise.id}:check").click().run()
        assert not at.exception, (module.id, at.exception)
        shown = [m.value for m in (*at.error, *at.info, *at.warning, *at.success)]
        assert any(text.startswith(("**Correct.**", "**Not yet.**")) for text in shown), (module.id, shown)
        checked.append(module.exercise.id)
    frame = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}").attempts_frame()
    assert sorted(frame.loc[frame["kind"] == "exercise", "item_id"]) == sorted(checked)


def test_an_unusable_database_location_falls_back_to_memory_with_a_warning(app_home, monkeypatch,
                                                                            tmp_path):
    folder = tmp_path / "a-folder-not-a-database"
    folder.mkdir()
    monkeypatch.setenv("THEATER_DATABASE_URL", f"sqlite:///{folder}")
    at = _app()
    assert not at.exception
    assert any("kept in memory only" in w.value for w in at.warning)
    assert folder.is_dir()
    at = _sign_in(at)
    assert at.session_state["learner_id"] == "ada" and not _errors(at)


def test_a_busy_database_stops_the_page_with_who_holds_it_and_no_empty_stand_in(app_home, monkeypatch):
    """Another program holding the database's lock is no reason to work on an empty store in
    memory (every learner would see no history): the page says who holds it, and once the lock is
    gone the next page run opens the real database."""
    import subprocess
    import sys

    from course.app_pages import common

    _sign_in(_app())   # the database exists, with ada's first page view
    monkeypatch.setattr(common, "STORE_OPEN_ATTEMPTS", 1)
    common._store_for.clear()
    path = app_home / "progress.sqlite"
    code = ("import sqlite3, sys, time; db = sqlite3.connect(sys.argv[1], timeout=0); "
            "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        at = _app()
        assert not at.exception
        shown = " ".join(_errors(at))
        assert "is busy" in shown and f"(pid {holder.pid})" in shown and "try again" in shown, shown
        assert not any("in memory" in w.value for w in at.warning)
        assert not [t for t in at.text_input if t.label == "Learner id"]   # no page on a stand-in
    finally:
        holder.kill()
        holder.wait(10)
    at.run()
    assert not _errors(at) and [t for t in at.text_input if t.label == "Learner id"]
    assert len(ProgressStore(f"sqlite:///{path}").page_views_frame("ada")) >= 1


def test_pre_test_answers_are_saved_and_shown_against_the_post_test(app_home):
    from course.modules import load_pre_post_forms
    from course.practice import pre_post_forms

    forms = load_pre_post_forms().forms
    pre_form, post_form = pre_post_forms("ada")
    assert pre_form != post_form
    at = _sign_in(_app())
    assert not any(r.key == f"choice:pretest:{q.id}" for q in forms[post_form] for r in at.radio)
    for q in forms[pre_form]:
        at.radio(key=f"choice:pretest:{q.id}").set_value(q.options[0].text)
    _submit(at, "form:pretest")
    assert any("answers are saved" in s.value for s in at.success)
    saved = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}").attempts_frame("pretest")
    right = {q.id: q.options[0].text == q.answer for q in forms[pre_form]}
    assert dict(zip(saved["item_id"], saved["correct"].astype(bool))) == right   # for the class gain
    assert not any(r.key == f"choice:pretest:{forms[pre_form][0].id}" for r in at.radio)
    at.switch_page("app_pages/capstone.py").run()
    for q in forms[post_form]:
        at.radio(key=f"choice:posttest:{q.id}").set_value(q.answer)
    _submit(at, "form:posttest")
    at.switch_page("app_pages/my_learning.py").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Post-test"] == metrics["Pre-test"] == "taken"   # taken, never a learner's score
    page_text = " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.metric])
    assert "%" not in page_text


def test_a_reload_with_the_signed_url_token_keeps_the_learner_signed_in(app_home):
    at = _sign_in(_app())
    token = at.query_params["u"]
    assert token and "ada" not in (token[0] if isinstance(token, list) else token)  # signed, opaque
    reloaded = AppTest.from_file(APP, default_timeout=TIMEOUT)
    reloaded.query_params["u"] = token[0] if isinstance(token, list) else token
    reloaded.run()
    assert reloaded.session_state["learner_id"] == "ada"
    assert [t.value for t in reloaded.title] == ["Your course"]
    forged = AppTest.from_file(APP, default_timeout=TIMEOUT)
    forged.query_params["u"] = "ada.0000000000"
    forged.run()
    assert "learner_id" not in forged.session_state
    assert [t.value for t in forged.title] == ["Signal or Theater"]


def _module_with_check(check_id: str):
    modules, _ = load_modules(CONTENT_DIR)
    module = next((m for m in modules if m.exercise and m.exercise.check == check_id), None)
    if module is None:
        pytest.skip(f"no module has the {check_id} exercise")
    return module


def test_after_the_attempt_budget_the_check_closes_and_the_solution_shows(app_home):
    module = _module_with_check("goodhart.collapse_point")
    key = f"exercise:{module.exercise.id}"
    at = _open_module(_sign_in(_app()), module)
    assert not any(module.exercise.solution in m.value for m in at.markdown)
    for _ in range(3):
        at.number_input(key=f"{key}:number").set_value(0.99)
        at.button(key=f"{key}:check").click().run()
        assert not at.exception
    assert at.button(key=f"{key}:check").disabled
    assert any(module.exercise.solution in m.value for m in at.markdown)
    assert any("used your 3 checked attempts" in c.value for c in at.caption)
    frame = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}").attempts_frame(module.id)
    assert (frame["kind"] == "exercise").sum() == 3


def test_the_checker_game_can_be_gamed_then_the_hidden_check_shows_the_cost(app_home):
    modules, _ = load_modules(CONTENT_DIR)
    module = next((m for m in modules if m.checker_game is not None), None)
    if module is None:
        pytest.skip("no module has the checker game")
    key = f"game:{module.id}"
    at = _open_module(_sign_in(_app()), module)
    at.button(key=f"{key}:visible").click().run()
    assert any("Not green yet" in w.value for w in at.warning)
    at.slider(key=f"{key}:padded").set_value(30).run()
    at.button(key=f"{key}:visible").click().run()
    assert any(module.checker_game.visible_pass in s.value for s in at.success)
    at.button(key=f"{key}:hidden").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Your plan: dashboard"] == "100%"
    assert metrics["Your plan: the hidden team's output"].startswith("-")
    assert any("delivers less" in e for e in _errors(at))
    assert any(module.checker_game.lesson in i.value for i in at.info)
