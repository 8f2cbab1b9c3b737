"""Server-side sign-in sessions (course.sessions) on SQLite and PostgreSQL, and the learner and
staff handles built on them (course.data, course.auth)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from course import auth
from course import data as course_data
from course.sessions import SessionStore, session_id

HOUR = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 6, 9, 0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'progress.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(engine, clock):
    return SessionStore(engine, idle_seconds=2 * HOUR, absolute_seconds=12 * HOUR, clock=clock)


def test_a_session_is_found_by_its_handle_and_the_table_holds_only_its_hash(store, engine):
    handle = store.create("staff", "ines", "instructor", credential="v1", client="10.0.0.5")
    found = store.lookup(handle)
    assert (found.kind, found.who, found.role, found.credential, found.client) == \
        ("staff", "ines", "instructor", "v1", "10.0.0.5")
    with engine.connect() as conn:
        ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM sessions"))]
    assert ids == [session_id(handle)] and handle not in ids and len(handle) >= 40
    assert store.lookup(handle, kind="learner") is None, "a staff handle is no learner's"
    for junk in (None, "", "x" * 500, handle[:-1], 42):
        assert store.lookup(junk) is None


def test_using_a_session_keeps_it_alive_and_idling_ends_it(store, clock):
    handle = store.create("learner", "ada", "learner")
    for _ in range(5):                 # 5 × 1 h 50 min of use: far past the 2 h idle lifetime
        clock.advance(hours=1, minutes=50)
        assert store.lookup(handle) is not None
    clock.advance(hours=2, minutes=1)
    assert store.lookup(handle) is None, "unused for more than the idle lifetime"
    assert store.active() == []


def test_the_absolute_lifetime_ends_a_session_in_use(store, clock):
    handle = store.create("learner", "ada", "learner")
    for _ in range(11):
        clock.advance(hours=1)
        assert store.lookup(handle) is not None
    clock.advance(hours=1)
    assert store.lookup(handle) is None


def test_revoking_ends_one_session_and_only_once(store):
    first, second = (store.create("staff", "ines", "instructor") for _ in range(2))
    assert store.revoke(first)
    assert not store.revoke(first), "already revoked"
    assert store.lookup(first) is None and store.lookup(second) is not None
    assert [s.id for s in store.active()] == [session_id(second)]
    assert store.revoke_id(session_id(second), "revoked by an instructor")
    assert store.lookup(second) is None


def test_revoking_a_user_ends_their_sessions_not_others(store):
    ada = [store.create("learner", "ada", "learner", credential="old") for _ in range(3)]
    newer = store.create("learner", "ada", "learner", credential="new")
    bob = store.create("learner", "bob", "learner", credential="old")
    staff_ada = store.create("staff", "ada", "instructor", credential="old")
    assert store.revoke_user("learner", "ada", "access code changed", current_credential="new") == 3
    assert all(store.lookup(h) is None for h in ada)
    assert store.lookup(newer) is not None, "a session made with the new code stays"
    assert store.lookup(bob) is not None and store.lookup(staff_ada) is not None
    assert store.revoke_user("learner", "ada", "signed out everywhere") == 1
    assert store.lookup(newer) is None


def test_presenter_links_end_with_their_room(store, clock):
    room_end = clock.now + dt.timedelta(hours=3)
    link = auth.presenter_session(store, "ROOM42", "grace", room_end)
    other = auth.presenter_session(store, "ROOM77", "grace", room_end)
    assert auth.presenter_room(store, link) == "ROOM42"
    assert store.revoke_scope("ROOM42") == 1
    assert auth.presenter_room(store, link) is None and auth.presenter_room(store, other) == "ROOM77"
    clock.advance(hours=1, minutes=59)
    assert auth.presenter_room(store, other) == "ROOM77"
    clock.advance(hours=1, minutes=2)
    assert auth.presenter_room(store, other) is None, "the room's own end ends its link"


def test_an_address_that_signed_in_lately_is_known(store, clock):
    store.create("staff", "ines", "instructor", client="10.0.0.5")
    assert store.known_client("staff", "ines", "10.0.0.5")
    assert not store.known_client("staff", "ines", "10.9.9.9")
    assert not store.known_client("learner", "ines", "10.0.0.5")
    assert not store.known_client("staff", "ines", "")
    clock.advance(days=31)
    assert not store.known_client("staff", "ines", "10.0.0.5")


def test_sessions_survive_a_restart_and_old_ones_are_purged(store, engine, clock):
    handle = store.create("learner", "ada", "learner")
    restarted = SessionStore(engine, idle_seconds=2 * HOUR, absolute_seconds=12 * HOUR, clock=clock)
    assert restarted.lookup(handle).who == "ada"
    clock.advance(days=40)
    assert restarted.purge() == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM sessions")).scalar() == 0


# ----------------------------------------------------------------------------- staff handles


@pytest.fixture
def staff_file(tmp_path):
    path = tmp_path / ".theater" / "staff.json"
    auth.add_staff(path, "ines", "instructor", "a long instructor password")
    auth.add_staff(path, "tom", "trainer", "a long trainer password")
    return path


def test_a_staff_sign_in_opens_a_session_and_sign_out_revokes_it(store, staff_file):
    session: dict = {}
    accounts = auth.load_staff(staff_file)
    outcome = auth.sign_in(session, "ines", "a long instructor password", accounts, "10.0.0.5",
                           auth.ThrottleBook(), sessions=store)
    assert outcome.ok and session[auth.SESSION_HANDLE_KEY] == outcome.handle
    assert auth.staff_from_session(store, outcome.handle, accounts).name == "ines"
    auth.sign_out(session, store)
    assert auth.staff_from_session(store, outcome.handle, accounts) is None
    assert auth.SESSION_ROLE_KEY not in session


def test_a_password_reset_ends_every_staff_session_made_before(store, staff_file):
    accounts = auth.load_staff(staff_file)
    old = [auth.staff_session(store, accounts["ines"]) for _ in range(2)]
    tom = auth.staff_session(store, accounts["tom"])
    auth.add_staff(staff_file, "ines", "instructor", "a brand new password", replace=True)
    accounts = auth.load_staff(staff_file)
    assert auth.staff_from_session(store, old[0], accounts) is None
    assert store.lookup(old[1]) is None, "one use of an old session revokes all of them"
    fresh = auth.staff_session(store, accounts["ines"])
    assert auth.staff_from_session(store, fresh, accounts).name == "ines"
    auth.remove_staff(staff_file, "tom")
    assert auth.staff_from_session(store, tom, auth.load_staff(staff_file)) is None


# ----------------------------------------------------------------------------- learner handles


@pytest.fixture
def config(app_home):
    from course.config import load_config

    return load_config()


def test_a_learner_handle_round_trips_and_is_no_signed_credential(config, store):
    handle = course_data.sign_in_token(config, "ada", store)
    assert course_data.learner_from_token(config, handle, store) == "ada"
    assert "ada" not in handle and "." not in handle, "a random handle, not a signed payload"
    assert course_data.learner_from_token(config, handle[:-2] + "xx", store) is None
    assert course_data.learner_from_token(config, None, store) is None
    staff = store.create("staff", "ada", "instructor")
    assert course_data.learner_from_token(config, staff, store) is None


def test_a_reissued_code_ends_the_learners_sessions(config, store):
    auth.issue_access_codes(config.access_codes_path, ["ada", "bob"])
    ada, bob = (course_data.sign_in_token(config, x, store) for x in ("ada", "bob"))
    auth.issue_access_codes(config.access_codes_path, ["ada", "bob"], reissue=["ada"])
    assert course_data.learner_from_token(config, ada, store) is None
    assert store.lookup(ada) is None and store.lookup(bob) is not None
    assert course_data.learner_from_token(config, bob, store) == "bob"
    again = course_data.sign_in_token(config, "ada", store)
    assert course_data.learner_from_token(config, again, store) == "ada"


def test_once_a_roster_exists_self_study_sessions_of_others_stop_working(config, store):
    stranger = course_data.sign_in_token(config, "eve", store)
    auth.issue_access_codes(config.access_codes_path, ["ada"])
    assert course_data.learner_from_token(config, stranger, store) is None


def test_the_environments_staff_password_keeps_its_sessions_across_restarts_and_replicas(store, tmp_path):
    """THEATER_STAFF_PASSWORD's account is hashed in memory by each process: the same password
    must give the same version everywhere, or every restart would sign its sessions out."""
    from course.auth import LEGACY_ACCOUNT, _legacy_hashes

    path = tmp_path / "none" / "staff.json"
    handle = auth.staff_session(store, auth.load_staff(path, "the environment's password")[LEGACY_ACCOUNT])
    _legacy_hashes.clear()                    # another process
    again = auth.load_staff(path, "the environment's password")
    assert auth.staff_from_session(store, handle, again).name == LEGACY_ACCOUNT
    _legacy_hashes.clear()
    changed = auth.load_staff(path, "a new environment password")
    assert auth.staff_from_session(store, handle, changed) is None
