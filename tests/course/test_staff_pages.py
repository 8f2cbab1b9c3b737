"""Instructor and workshop pages render through AppTest, gate on the staff password, never leak."""

from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from course.progress import ProgressStore
from course.workshop import WorkshopStore

PAGES = Path(__file__).resolve().parents[2] / "course" / "app_pages"
APP = str(PAGES.parent / "app.py")
TIMEOUT = 60


def page(name: str, **state) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error] + \
            [w.value for w in at.warning] + [i.value for i in at.info] + \
            [c.value for c in at.caption] + [s.value for s in at.success]
    return "\n".join(str(p) for p in parts)


def assert_tables_convert_to_arrow(at: AppTest) -> None:
    """The browser gets each table as Arrow: a column mixing numbers and text would break it."""
    for frame in at.dataframe:
        pa.Table.from_pandas(frame.value)


def seed_class(home: Path, learners: int = 8) -> None:
    home.mkdir(parents=True, exist_ok=True)
    store = ProgressStore(f"sqlite:///{home / 'progress.sqlite'}")
    for i in range(learners):
        learner = f"secret-learner-{i}"
        store.ensure_learner(learner)
        wrong = i < learners // 2
        store.record_attempt(learner, "m-proxy", "proxy", "quiz",
                             "Value doubled" if wrong else "Nothing about value yet", not wrong,
                             0.0 if wrong else 1.0, "usage-is-value" if wrong else None)
        store.record_attempt(learner, "pretest", "t1", "pretest", "a", False, 0.0, None)
        store.record_attempt(learner, "posttest", "t1", "posttest", "b", True, 1.0, None)
    store.engine.dispose()


def sign_in_form(at: AppTest, name: str, password: str) -> AppTest:
    [t for t in at.text_input if t.label == "Staff account"][0].input(name)
    [t for t in at.text_input if t.label == "Password"][0].input(password)
    [b for b in at.button if b.label == "Sign in"][0].click().run()
    return at


@pytest.mark.parametrize("name", ["instructor.py", "workshop_host.py"])
def test_staff_page_without_sign_in_shows_only_the_sign_in_form(app_home, name):
    at = page(name).run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Staff account", "Password"]
    assert not at.dataframe


@pytest.mark.parametrize("name", ["instructor.py", "workshop_host.py"])
def test_staff_pages_refuse_a_signed_in_learner(app_home, name):
    seed_class(app_home)
    at = page(name, learner_id="secret-learner-1").run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Staff account", "Password"]
    assert not at.dataframe and not at.header


@pytest.mark.parametrize("name", ["instructor.py", "workshop_host.py"])
def test_wrong_staff_password_shows_an_error(app_home, name):
    at = sign_in_form(page(name).run(), "staff", "not-the-password")
    assert not at.exception
    assert any("Wrong account or password" in e.value for e in at.error)
    assert "staff_role" not in at.session_state


def test_right_password_opens_the_instructor_page(app_home):
    seed_class(app_home)
    at = sign_in_form(page("instructor.py").run(), "staff", "staff-secret")
    assert not at.exception
    assert at.session_state["staff_role"] == "instructor"
    assert at.session_state["staff_user"] == "staff"
    assert [h.value for h in at.header][:2] == ["Re-teach", "Class progress by module"]


def test_a_trainer_account_cannot_open_instructor_analytics(app_home):
    from course.auth import add_staff
    from course.config import load_config

    add_staff(load_config().staff_path, "tom", "trainer", "trainer password")
    at = sign_in_form(page("instructor.py").run(), "tom", "trainer password")
    assert not at.exception and not at.header
    assert any("trainer account" in e.value for e in at.error)
    host = page("workshop_host.py", staff_role="trainer", staff_user="tom").run()
    assert not host.exception and "Staff account" not in [t.label for t in host.text_input]


def test_trainer_cannot_open_instructor_analytics(app_home):
    at = page("instructor.py", staff_role="trainer").run()
    assert not at.exception
    assert at.text_input[0].label == "Staff account" and not at.header


def test_instructor_page_shows_reteach_flag_and_no_learner_ids(app_home):
    seed_class(app_home, learners=10)
    at = page("instructor.py", staff_role="instructor").run()
    assert not at.exception
    assert any("re-teach: usage-is-value" in w.value for w in at.warning)
    shown = texts(at) + "".join(df.value.to_csv() for df in at.dataframe)
    assert "secret-learner" not in shown
    assert any(m.label == "Learners with both tests" for m in at.metric)
    assert_tables_convert_to_arrow(at)


def test_instructor_page_hides_a_small_class(app_home):
    seed_class(app_home, learners=3)
    at = page("instructor.py", staff_role="instructor").run()
    assert not at.exception
    assert not at.warning, "a re-teach flag from 3 learners would single them out"
    progress = at.dataframe[0].value
    assert set(progress["learners"]) == {"hidden"}
    assert_tables_convert_to_arrow(at)


def test_joining_an_unknown_code_shows_a_clear_message(app_home):
    at = page("workshop_join.py").run()
    at.text_input[0].input("QQQQQQ")
    at.text_input[1].input("Ada")
    at.button[0].click().run()
    assert not at.exception
    assert any("No workshop has the code QQQQQQ" in e.value for e in at.error)


def test_router_opens_the_instructor_page_for_a_signed_in_instructor(app_home):
    seed_class(app_home)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["staff_role"] = "instructor"
    at.run()
    assert not at.exception
    assert at.title[0].value == "Instructor: how the class is doing"


def test_a_reloaded_join_page_keeps_the_seat_from_its_address(app_home):
    app_home.mkdir(parents=True, exist_ok=True)
    progress = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}")
    rooms = WorkshopStore(progress.engine)
    room = rooms.create_workshop("consultancy", "Reload room")
    seat = rooms.join(room.code, "Grace")
    at = page("workshop_join.py")
    at.query_params["code"] = room.code
    at.query_params["rejoin"] = seat.rejoin
    at.run()
    assert not at.exception
    assert "you are **Grace**" in texts(at)
    assert any("Waiting for the trainer's first question" in i.value for i in at.info)
    progress.engine.dispose()


def test_router_offers_join_a_workshop_without_any_sign_in(app_home):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    from course.app_pages.common import PAGES_KEY

    assert "workshop" in at.session_state[PAGES_KEY]
