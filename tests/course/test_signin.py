"""Sign-in through the app (AppTest): self-study, a rostered course's access codes, staff, reloads."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from course.auth import FREE_ACCOUNT_FAILURES, FREE_PAIR_FAILURES, issue_access_codes
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


def test_guessing_codes_locks_the_client_out(roster, held_clock):
    at = run_app()
    for i in range(FREE_PAIR_FAILURES):
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


def test_a_reload_token_expires(app_home, monkeypatch):
    from course import sessions

    app_home.mkdir(parents=True, exist_ok=True)
    (app_home / "config.yaml").write_text("session_hours: 1\n")
    token = token_of(learner_sign_in(run_app(), "ada"))
    assert run_app(token).session_state["learner_id"] == "ada"
    later = sessions.utcnow() + dt.timedelta(hours=1, minutes=1)     # past the absolute lifetime
    monkeypatch.setattr(sessions, "utcnow", lambda: later)
    assert "learner_id" not in run_app(token).session_state


def test_staff_sign_in_is_locked_per_client_not_for_everyone(app_home, monkeypatch, held_clock):
    guesser = run_app()
    for _ in range(FREE_PAIR_FAILURES):
        field(guesser, "Staff account").input("staff")
        field(guesser, "Password").input("wrong")
        next(b for b in guesser.button if b.label == "Sign in as staff").click().run()
    field(guesser, "Password").input("staff-secret")
    next(b for b in guesser.button if b.label == "Sign in as staff").click().run()
    assert "staff_role" not in guesser.session_state
    assert any("Too many" in e for e in errors(guesser))
    from course.app_pages import common

    monkeypatch.setattr(common, "client_address", lambda: "10.0.0.7")
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


# ----------------------------------------------------------------------------- sessions end


def sign_out(at: AppTest) -> AppTest:
    at.button(key="sidebar_sign_out").click().run()
    assert not at.exception
    return at


def staff_sign_in(at: AppTest, name: str = "staff", password: str = "staff-secret") -> AppTest:
    field(at, "Staff account").input(name)
    field(at, "Password").input(password)
    next(b for b in at.button if b.label == "Sign in as staff").click().run()
    return at


def param(at: AppTest, name: str) -> str | None:
    value = at.query_params.get(name)
    return value[0] if isinstance(value, list) else value


def on_sign_in_page(at: AppTest) -> bool:
    return "Learner id" in [t.label for t in at.text_input] and \
        "Staff account" in [t.label for t in at.text_input]


def test_a_learners_old_url_after_sign_out_lands_on_the_sign_in_page(roster):
    at = learner_sign_in(run_app(), "ada", roster["ada"])
    token = token_of(at)
    assert run_app(token).session_state["learner_id"] == "ada", "the url works before sign-out"
    sign_out(at)
    assert "u" not in at.query_params
    reopened = run_app(token)                 # the next person at this machine, from the history
    assert not reopened.exception
    assert "learner_id" not in reopened.session_state and on_sign_in_page(reopened)
    assert "u" not in reopened.query_params
    assert "capstone" not in reopened.session_state["_pages_by_url"]


def test_a_staff_url_after_sign_out_opens_no_staff_page(app_home):
    at = staff_sign_in(run_app())
    assert at.session_state["staff_role"] == "instructor"
    token = param(at, "staff")
    assert token and len(token) >= 40
    sign_out(at)
    reopened = AppTest.from_file(APP, default_timeout=TIMEOUT)
    reopened.query_params["staff"] = token
    reopened.run()
    assert not reopened.exception and "staff_role" not in reopened.session_state
    assert on_sign_in_page(reopened) and "staff" not in reopened.query_params
    pages = reopened.session_state["_pages_by_url"]
    assert not any(url.startswith("instructor") or url.startswith("workshop-") for url in pages)


def test_signing_out_in_one_tab_ends_the_sign_in_in_another(app_home):
    first = staff_sign_in(run_app())
    token = param(first, "staff")
    second = AppTest.from_file(APP, default_timeout=TIMEOUT)
    second.query_params["staff"] = token
    second.run()
    assert second.session_state["staff_role"] == "instructor"
    sign_out(first)
    second.run()                              # the other tab's next interaction
    assert "staff_role" not in second.session_state and on_sign_in_page(second)


def test_an_instructor_revokes_a_staff_session_from_the_sessions_page(app_home):
    from course.auth import add_staff

    add_staff(load_config().staff_path, "tom", "trainer", "a-long-trainer-password")
    trainer = staff_sign_in(run_app(), "tom", "a-long-trainer-password")
    assert trainer.session_state["staff_role"] == "trainer"
    instructor = staff_sign_in(run_app())
    instructor.switch_page("app_pages/instructor_sessions.py").run()
    assert not instructor.exception
    table = instructor.dataframe[0].value
    assert set(table["account"]) == {"tom", "staff"}
    assert not any(param(trainer, "staff") in str(v) for v in table.to_numpy().ravel()), \
        "the list never shows a usable handle"
    form = instructor.selectbox[0]
    form.select_index(next(i for i, option in enumerate(form.options) if "· tom ·" in option))
    next(b for b in instructor.button if b.label == "Revoke this session").click().run()
    assert not instructor.exception
    assert set(instructor.dataframe[0].value["account"]) == {"staff"}
    trainer.run()
    assert "staff_role" not in trainer.session_state


@pytest.fixture
def held_clock(monkeypatch):
    """The throttles' clock held still, so a lock cannot run out while a slow machine renders."""
    from course import auth

    frozen = time.monotonic()
    monkeypatch.setattr(auth, "throttle_clock", lambda: frozen)


def test_guesses_from_many_sessions_on_another_address_do_not_lock_the_owner_out(app_home, monkeypatch,
                                                                                   held_clock):
    from course.app_pages import common

    monkeypatch.setattr(common, "client_address", lambda: "10.0.0.5")     # the owner's office
    sign_out(staff_sign_in(run_app()))
    monkeypatch.setattr(common, "client_address", lambda: "203.0.113.66")   # the attacker
    for _ in range(FREE_ACCOUNT_FAILURES + 2):
        staff_sign_in(run_app(), password="a wrong guess")     # a fresh websocket session each time
    attacker = staff_sign_in(run_app())
    assert "staff_role" not in attacker.session_state and any("Too many" in e for e in errors(attacker))
    for i in range(FREE_ACCOUNT_FAILURES + 2):                 # ... and from a fresh address each time
        monkeypatch.setattr(common, "client_address", lambda i=i: f"198.51.100.{i}")
        staff_sign_in(run_app(), password="a wrong guess")
    monkeypatch.setattr(common, "client_address", lambda: "192.0.2.1")     # a stranger's address
    assert "staff_role" not in staff_sign_in(run_app()).session_state, "the account is under guard"
    monkeypatch.setattr(common, "client_address", lambda: "10.0.0.5")
    owner = staff_sign_in(run_app())
    assert not errors(owner) and owner.session_state["staff_role"] == "instructor"


def test_a_learners_code_guessed_from_elsewhere_does_not_lock_them_out(roster, monkeypatch, held_clock):
    from course.app_pages import common

    monkeypatch.setattr(common, "client_address", lambda: "10.0.0.5")
    sign_out(learner_sign_in(run_app(), "ada", roster["ada"]))
    monkeypatch.setattr(common, "client_address", lambda: "203.0.113.66")
    for i in range(FREE_ACCOUNT_FAILURES + 2):
        learner_sign_in(run_app(), "ada", f"GUES-SGUE-SS{i:02d}")
    assert "learner_id" not in learner_sign_in(run_app(), "ada", roster["ada"]).session_state
    monkeypatch.setattr(common, "client_address", lambda: "10.0.0.5")
    owner = learner_sign_in(run_app(), "ada", roster["ada"])
    assert not errors(owner) and owner.session_state["learner_id"] == "ada"


def test_wrong_course_codes_back_off(app_home, held_clock):
    app_home.mkdir(parents=True, exist_ok=True)
    (app_home / "config.yaml").write_text("course_code: SPRING\n")
    at = run_app()
    for i in range(FREE_PAIR_FAILURES):
        field(at, "Learner id").input("ada")
        field(at, "Course code").input(f"GUESS{i}")
        next(b for b in at.button if b.label == "Sign in").click().run()
    field(at, "Course code").input("SPRING")
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert "learner_id" not in at.session_state
    assert any("Too many wrong course codes" in e for e in errors(at))


# ----------------------------------------------------------------------------- presenter links


def test_a_presenter_link_shows_its_room_only_opens_no_staff_page_and_ends_with_the_room(app_home):
    import re

    from course.auth import add_staff
    from course.progress import ProgressStore
    from course.workshop import WorkshopStore
    from tests.course.test_staff_pages import page, texts

    add_staff(load_config().staff_path, "Grace", "trainer", "a-long-trainer-password")
    host = page("workshop_host.py", staff_role="trainer", staff_user="Grace").run()
    host.text_input[0].input("Offsite")
    host.button[0].click().run()
    code = host.session_state["workshop_host_code"]
    link = re.search(r"workshop-present\?room=(\w+)&view=([\w-]+)", texts(host))
    assert link and link.group(1) == code
    assert "staff=" not in texts(host), "no staff credential in the presenter link"
    handle = link.group(2)
    progress = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}")
    other = WorkshopStore(progress.engine).create_workshop("startup", "Someone else's", owner="Ines")

    projector = AppTest.from_file(APP, default_timeout=TIMEOUT)
    projector.query_params["view"] = handle
    projector.query_params["room"] = other.code       # an edited url: still its own room only
    projector.run()
    projector.switch_page("app_pages/workshop_present.py").run()   # the link's workshop-present
    assert not projector.exception
    assert code in texts(projector) and other.code not in texts(projector)
    assert "staff_role" not in projector.session_state and "staff_user" not in projector.session_state
    pages = projector.session_state["_pages_by_url"]
    assert "workshop-present" in pages
    assert not any(url.startswith("instructor") or url == "workshop-host" for url in pages)
    assert not projector.button, "read-only: no control on the projector"
    assert set(pages) == {"signin", "workshop", "workshop-present"}, "no staff page to switch to"
    held = {key: projector.session_state[key] for key in ("_presenter_session", "_presenter_room")}
    for staff_page in ("instructor_roster.py", "instructor_sessions.py", "workshop_host.py"):
        opened = page(staff_page, **held).run()     # the page itself, with what the link holds
        assert not opened.exception
        assert "Staff account" in [t.label for t in opened.text_input], staff_page
        assert not opened.dataframe and "Start a workshop" not in [s.value for s in opened.subheader]

    next(b for b in host.button if b.label == "Close the workshop").click().run()
    assert not host.exception
    reopened = AppTest.from_file(APP, default_timeout=TIMEOUT)
    reopened.query_params["view"] = handle
    reopened.run()
    assert not reopened.exception and code not in texts(reopened)
    assert "workshop-present" not in reopened.session_state["_pages_by_url"]
    progress.engine.dispose()


def test_the_sidebar_names_a_staff_member_an_lms_launch_made_by_their_name(app_home):
    """An account a trusted LMS launch made is named by a hash; the sidebar shows the person's name
    from the launch (as plain text: Markdown in it stays literal), a plain account its own name."""
    from course import auth

    at = staff_sign_in(run_app())
    assert any("Signed in as instructor **staff**" in c.value for c in at.sidebar.caption)
    from course.progress import ProgressStore
    from course.sessions import SessionStore

    config = load_config()
    made = auth.add_lms_staff(config.staff_path, "https://lms.example", "u-7", "ta", "Grace *Hopper*")
    progress = ProgressStore(config.database_url)
    handle = auth.staff_session(SessionStore(progress.engine), made, lms_identity=("https://lms.example", "u-7"))
    progress.engine.dispose()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["staff"] = handle           # as the LMS launch's redirect opens the app
    at.run()
    captions = [c.value for c in at.sidebar.caption]
    assert any(r"Signed in as ta **Grace \*Hopper\***" in c for c in captions), captions
    assert not any(made.name in c for c in captions)
