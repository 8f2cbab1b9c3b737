"""Staff sign-in: right and wrong passwords, roles, and the per-session throttle."""

from types import SimpleNamespace

import pytest

from course.auth import (LOCKOUT_SECONDS, MAX_FAILURES, SESSION_ROLE_KEY, AuthError,
                         authenticate, require_role, sign_in, sign_out)

CONFIG = SimpleNamespace(staff_password="correct horse battery")


@pytest.fixture(autouse=True)
def fresh_process_throttle(monkeypatch):
    """Each test starts with an app that has seen no failed sign-ins (and its own clock)."""
    import course.auth

    monkeypatch.setattr(course.auth, "_process_throttle",
                        course.auth.SignInThrottle(max_failures=course.auth.PROCESS_MAX_FAILURES))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_right_password_authenticates_both_roles():
    assert authenticate("instructor", "correct horse battery", CONFIG)
    assert authenticate("trainer", "correct horse battery", CONFIG)


@pytest.mark.parametrize("password", ["", None, "correct horse", "correct horse battery ",
                                      "CORRECT HORSE BATTERY"])
def test_wrong_password_is_refused(password):
    assert not authenticate("instructor", password, CONFIG)


def test_unknown_role_is_a_user_error():
    with pytest.raises(AuthError, match="Unknown staff role"):
        authenticate("learner", "correct horse battery", CONFIG)


def test_empty_configured_password_never_authenticates():
    assert not authenticate("trainer", "", SimpleNamespace(staff_password=""))


def test_sign_in_puts_the_role_in_the_session_and_require_role_honours_it():
    session: dict = {}
    assert not require_role(session, "trainer")
    outcome = sign_in(session, "trainer", "correct horse battery", CONFIG)
    assert outcome.ok and session[SESSION_ROLE_KEY] == "trainer"
    assert require_role(session, "trainer")
    assert not require_role(session, "instructor"), "a trainer must not see instructor analytics"
    sign_out(session)
    assert not require_role(session, "trainer")


def test_instructor_may_also_run_workshops():
    session: dict = {}
    assert sign_in(session, "instructor", "correct horse battery", CONFIG).ok
    assert require_role(session, "instructor") and require_role(session, "trainer")


def test_wrong_password_gives_a_message_without_echoing_the_password():
    session: dict = {}
    outcome = sign_in(session, "instructor", "hunter2-guess", CONFIG)
    assert not outcome.ok
    assert "Wrong password" in outcome.message
    assert "hunter2-guess" not in outcome.message and "correct horse" not in outcome.message
    assert SESSION_ROLE_KEY not in session


def test_repeated_failures_lock_the_session_even_for_the_right_password():
    session: dict = {}
    clock = FakeClock()
    for _ in range(MAX_FAILURES):
        assert not sign_in(session, "trainer", "nope", CONFIG, clock=clock).ok
    locked = sign_in(session, "trainer", "correct horse battery", CONFIG, clock=clock)
    assert not locked.ok and "Too many" in locked.message
    assert not require_role(session, "trainer")
    clock.now += LOCKOUT_SECONDS + 1
    assert sign_in(session, "trainer", "correct horse battery", CONFIG, clock=clock).ok


def test_failures_spread_over_a_long_time_do_not_lock():
    session: dict = {}
    clock = FakeClock()
    for _ in range(MAX_FAILURES * 2):
        sign_in(session, "trainer", "nope", CONFIG, clock=clock)
        clock.now += 3600
    assert sign_in(session, "trainer", "correct horse battery", CONFIG, clock=clock).ok


def test_throttle_is_per_session():
    locked_session: dict = {}
    clock = FakeClock()
    for _ in range(MAX_FAILURES):
        sign_in(locked_session, "trainer", "nope", CONFIG, clock=clock)
    assert sign_in({}, "trainer", "correct horse battery", CONFIG, clock=clock).ok


def test_guessing_from_many_sessions_slows_down_every_sign_in():
    from course.auth import PROCESS_MAX_FAILURES, SignInThrottle

    shared = SignInThrottle(max_failures=PROCESS_MAX_FAILURES)
    clock = FakeClock()
    for _ in range(PROCESS_MAX_FAILURES):
        sign_in({}, "trainer", "guess", CONFIG, clock=clock, process_throttle=shared)
    blocked = sign_in({}, "trainer", "correct horse battery", CONFIG, clock=clock,
                      process_throttle=shared)
    assert not blocked.ok and "Too many" in blocked.message
    clock.now += LOCKOUT_SECONDS + 1
    assert sign_in({}, "trainer", "correct horse battery", CONFIG, clock=clock,
                   process_throttle=shared).ok
