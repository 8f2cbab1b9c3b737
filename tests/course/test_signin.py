"""Sign-in through the app (AppTest): self-study, a rostered course's access codes, staff, reloads."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from course.auth import MAX_CLIENT_FAILURES, issue_access_codes
from course.config import load_config

APP = str(Path(__file__).resolve().parents[2] / "course" / "app.py")
TIMEOUT = 60


def run_app(token: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if token:
        at.query_params["u"] = token
    return at.run()


def field(at: AppTest, label: str):
    return next(t for t in at.text_input if t.label == label)


def learner_sign_in(at: AppTest, learner: str, code: str | None = None) -> AppTest:
    field(at, "Learner id").input(learner)
    if code is not None:
        field(at, "Access code").input(code)
    next(b for b in at.button if b.label == "Sign in").click().run()
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def token_of(at: AppTest) -> str:
    value = at.query_params["u"]
    return value[0] if isinstance(value, list) else value


@pytest.fixture
def roster(app_home):
    return issue_access_codes(load_config().access_codes_path, ["ada", "bob"])


def test_self_study_is_one_click_without_a_code(app_home):
    at = run_app()
    assert "Access code" not in [t.label for t in at.text_input]
    learner_sign_in(at, "ada")
    assert not at.exception and at.session_state["learner_id"] == "ada"


def test_an_email_as_id_is_refused_with_a_hint(app_home):
    at = learner_sign_in(run_app(), "ada@uni.edu")
    assert any("no '@'" in e for e in errors(at)) and "learner_id" not in at.session_state


def test_a_rostered_learner_signs_in_with_their_own_code(roster):
    at = run_app()
    assert "Access code" in [t.label for t in at.text_input]
    learner_sign_in(at, "ada", roster["ada"])
    assert not at.exception and at.session_state["learner_id"] == "ada"


@pytest.mark.parametrize("code", [None, "", "bob", "WXYZ-WXYZ-WXYZ"])
def test_a_classmates_id_without_their_code_gets_nothing_of_theirs(roster, code):
    at = run_app()
    learner_sign_in(at, "ada", roster["bob"] if code == "bob" else code)
    assert not at.exception
    assert "learner_id" not in at.session_state
    assert any("Wrong learner id or access code" in e for e in errors(at))
    assert "u" not in at.query_params, "no token for ada was handed out"
    assert "capstone" not in at.session_state["_pages_by_url"], "no course pages in the navigation"
    capstone = AppTest.from_file(str(Path(APP).parent / "app_pages" / "capstone.py"), default_timeout=TIMEOUT)
    capstone.run()  # opening the download page directly, with nobody signed in
    assert not capstone.exception and not capstone.get("download_button")
    assert any("Sign in" in i.value for i in capstone.info)


def test_guessing_codes_locks_the_client_out(roster):
    at = run_app()
    for i in range(MAX_CLIENT_FAILURES):
        learner_sign_in(at, "ada", f"GUES-SGUE-SS{i:02d}")
    learner_sign_in(at, "ada", roster["ada"])
    assert "learner_id" not in at.session_state
    assert any("Too many wrong codes" in e for e in errors(at))


def test_a_reload_with_the_token_keeps_a_rostered_learner_in_until_their_code_is_reissued(roster):
    at = learner_sign_in(run_app(), "ada", roster["ada"])
    token = token_of(at)
    assert run_app(token).session_state["learner_id"] == "ada"
    issue_access_codes(load_config().access_codes_path, ["ada", "bob"], reissue=["ada"])
    reloaded = run_app(token)
    assert "learner_id" not in reloaded.session_state
    assert "u" not in reloaded.query_params


def test_a_reload_token_expires(app_home):
    app_home.mkdir(parents=True, exist_ok=True)
    (app_home / "config.yaml").write_text("session_hours: 0.0001\n")  # 0.36 s
    token = token_of(learner_sign_in(run_app(), "ada"))
    time.sleep(2.1)
    assert "learner_id" not in run_app(token).session_state


def test_staff_sign_in_is_locked_per_client_not_for_everyone(app_home, monkeypatch):
    guesser = run_app()
    for _ in range(MAX_CLIENT_FAILURES):
        field(guesser, "Staff account").input("staff")
        field(guesser, "Password").input("wrong")
        next(b for b in guesser.button if b.label == "Sign in as staff").click().run()
    field(guesser, "Password").input("staff-secret")
    next(b for b in guesser.button if b.label == "Sign in as staff").click().run()
    assert "staff_role" not in guesser.session_state
    assert any("Too many" in e for e in errors(guesser))
    from course.app_pages import common

    monkeypatch.setattr(common, "client_id", lambda: "session:another-browser")
    colleague = run_app()
    field(colleague, "Staff account").input("staff")
    field(colleague, "Password").input("staff-secret")
    next(b for b in colleague.button if b.label == "Sign in as staff").click().run()
    assert colleague.session_state["staff_role"] == "instructor"
    assert colleague.session_state["staff_user"] == "staff"


def test_the_apps_files_are_private(app_home):
    import stat

    learner_sign_in(run_app(), "ada")
    assert stat.S_IMODE((app_home / "progress.sqlite").stat().st_mode) == 0o600
    assert stat.S_IMODE(app_home.stat().st_mode) == 0o700
    course = app_home / "course"
    assert stat.S_IMODE(course.stat().st_mode) == 0o700
    for secret in ("secret", "session_key"):
        assert stat.S_IMODE((course / ".theater" / secret).stat().st_mode) == 0o600


def test_capstone_page_offers_each_course_assignment_as_a_zip(app_home):
    at = learner_sign_in(run_app(), "ada")
    at.switch_page("app_pages/capstone.py").run()
    assert not at.exception
    labels = [b.proto.label for b in at.get("download_button")]
    for name in ("explore", "detect", "measure"):
        assert any(f"({name}.zip)" in label for label in labels), labels
    assert any("CSV files" in label for label in labels)
