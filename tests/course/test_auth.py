"""Staff accounts, access codes, and throttling per account and client address that an attacker
cannot turn against the account's owner."""

import json
import stat

import pytest

from course.auth import (BASE_LOCK_SECONDS, FAILURE_MEMORY_SECONDS, FREE_ACCOUNT_FAILURES,
                         FREE_ADDRESS_FAILURES, FREE_PAIR_FAILURES, MAX_LOCK_SECONDS, SESSION_ROLE_KEY,
                         SESSION_USER_KEY, AuthError, ThrottleBook, add_staff, check_course_code,
                         check_learner_code, issue_access_codes, load_access_codes, load_staff,
                         remove_staff, require_role, sign_in, sign_out, staff_user, verify_staff)

PASSWORD = "correct horse battery"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def staff_file(tmp_path):
    path = tmp_path / ".theater" / "staff.json"
    add_staff(path, "ines", "instructor", PASSWORD)
    add_staff(path, "tom", "trainer", "trainer password")
    return path


@pytest.fixture
def accounts(staff_file):
    return load_staff(staff_file)


def test_passwords_are_stored_only_as_argon2_hashes_in_a_private_file(staff_file):
    text = staff_file.read_text()
    assert PASSWORD not in text and "trainer password" not in text
    assert json.loads(text)["accounts"]["ines"]["hash"].startswith("$argon2id$")
    assert stat.S_IMODE(staff_file.stat().st_mode) == 0o600


def test_right_password_signs_in_with_the_accounts_role_and_name(accounts):
    session: dict = {}
    assert not require_role(session, "trainer")
    outcome = sign_in(session, "tom", "trainer password", accounts, "c1", ThrottleBook())
    assert outcome.ok and session[SESSION_ROLE_KEY] == "trainer" and staff_user(session) == "tom"
    assert require_role(session, "trainer")
    assert not require_role(session, "instructor"), "a trainer must not see instructor analytics"
    sign_out(session)
    assert not require_role(session, "trainer") and SESSION_USER_KEY not in session


def test_instructor_may_also_run_workshops(accounts):
    session: dict = {}
    assert sign_in(session, "ines", PASSWORD, accounts, "c1", ThrottleBook()).ok
    assert require_role(session, "instructor") and require_role(session, "trainer")
    assert session[SESSION_USER_KEY] == "ines"


@pytest.mark.parametrize("name, password", [
    ("ines", ""), ("ines", None), ("ines", "correct horse"), ("ines", PASSWORD + " "),
    ("ines", PASSWORD.upper()), ("tom", PASSWORD), ("nobody", PASSWORD), ("", PASSWORD),
])
def test_wrong_account_or_password_is_refused_without_echoing_it(accounts, name, password):
    session: dict = {}
    outcome = sign_in(session, name, password, accounts, "c1", ThrottleBook())
    assert not outcome.ok and "Wrong account or password" in outcome.message
    assert PASSWORD not in outcome.message and SESSION_ROLE_KEY not in session
    assert verify_staff(accounts, name, password) is None


def test_no_accounts_yet_says_how_to_make_one():
    outcome = sign_in({}, "ines", PASSWORD, {}, "c1", ThrottleBook())
    assert not outcome.ok and "theater users add" in outcome.message


@pytest.mark.parametrize("name, role, password, message", [
    ("bad name", "instructor", "long enough pw", "not a valid account name"),
    ("ann", "admin", "long enough pw", "Unknown staff role"),
    ("ann", "trainer", "short", "at least 10"),
])
def test_bad_accounts_are_refused(tmp_path, name, role, password, message):
    with pytest.raises(AuthError, match=message):
        add_staff(tmp_path / "staff.json", name, role, password)


def test_an_account_is_not_overwritten_unless_asked_and_can_be_removed(staff_file):
    with pytest.raises(AuthError, match="exists already"):
        add_staff(staff_file, "ines", "instructor", "another password")
    add_staff(staff_file, "ines", "instructor", "another password", replace=True)
    assert verify_staff(load_staff(staff_file), "ines", "another password")
    assert not verify_staff(load_staff(staff_file), "ines", PASSWORD)
    remove_staff(staff_file, "tom")
    assert "tom" not in load_staff(staff_file)
    with pytest.raises(AuthError, match="no staff account"):
        remove_staff(staff_file, "tom")


def test_an_address_is_locked_out_after_repeated_failures_even_with_the_right_password(accounts):
    book, clock = ThrottleBook(), FakeClock()
    for _ in range(FREE_PAIR_FAILURES):
        assert not sign_in({}, "ines", "nope", accounts, "10.0.0.66", book, clock).ok
    locked = sign_in({}, "ines", PASSWORD, accounts, "10.0.0.66", book, clock)
    assert not locked.ok and "Too many" in locked.message
    assert sign_in({}, "ines", PASSWORD, accounts, "10.0.0.5", book, clock).ok, \
        "another address is not locked out by one address's guessing"
    clock.now += BASE_LOCK_SECONDS + 0.1
    assert sign_in({}, "ines", PASSWORD, accounts, "10.0.0.66", book, clock).ok


def test_the_back_off_doubles_with_each_further_wrong_guess_up_to_a_cap(accounts):
    book, clock = ThrottleBook(), FakeClock()
    locks = []
    for _ in range(FREE_PAIR_FAILURES + 12):
        sign_in({}, "ines", "nope", accounts, "10.0.0.66", book, clock)
        wait = book.wait("staff", "ines", "10.0.0.66", clock.now)
        locks.append(wait)
        clock.now += wait + 0.01          # the guesser waits out each lock, then guesses again
    assert locks[:FREE_PAIR_FAILURES - 1] == [0.0] * (FREE_PAIR_FAILURES - 1)
    assert locks[FREE_PAIR_FAILURES - 1:FREE_PAIR_FAILURES + 3] == [BASE_LOCK_SECONDS * 2 ** i for i in range(4)]
    assert max(locks) == pytest.approx(MAX_LOCK_SECONDS)
    # 17 guesses cost the guesser over an hour; without back-off they would take seconds
    assert sum(locks) > 3600


def test_guesses_from_many_addresses_do_not_lock_the_owner_out(accounts):
    """The attack of a fresh session (here: a fresh address) per guess: past the account's
    allowance, unknown addresses back off, but the owner's usual address signs in at once."""
    book, clock = ThrottleBook(), FakeClock()
    assert sign_in({}, "ines", PASSWORD, accounts, "10.0.0.5", book, clock).ok   # the owner, yesterday
    clock.now += 86400
    for i in range(FREE_ACCOUNT_FAILURES * 3):
        sign_in({}, "ines", "guess", accounts, f"203.0.113.{i}", book, clock)
        clock.now += 1
    assert not sign_in({}, "ines", PASSWORD, accounts, "198.51.100.1", book, clock).ok, \
        "an address that never signed ines in backs off while ines is under attack"
    assert sign_in({}, "ines", PASSWORD, accounts, "10.0.0.5", book, clock).ok, \
        "the owner's address is not locked out by guesses from elsewhere"
    assert sign_in({}, "tom", "trainer password", accounts, "198.51.100.1", book, clock).ok


def test_the_owner_known_to_the_session_store_is_not_locked_out_after_a_restart(accounts, tmp_path):
    import sqlalchemy as sa

    from course.sessions import SessionStore

    store = SessionStore(sa.create_engine(f"sqlite:///{tmp_path / 's.sqlite'}"))
    assert sign_in({}, "ines", PASSWORD, accounts, "10.0.0.5", ThrottleBook(), sessions=store).ok
    book, clock = ThrottleBook(), FakeClock()          # a restarted app: nothing in memory
    for i in range(FREE_ACCOUNT_FAILURES * 2):
        sign_in({}, "ines", "guess", accounts, f"203.0.113.{i}", book, clock, sessions=store)
    assert not sign_in({}, "ines", PASSWORD, accounts, "198.51.100.1", book, clock, sessions=store).ok
    assert sign_in({}, "ines", PASSWORD, accounts, "10.0.0.5", book, clock, sessions=store).ok


def test_one_address_spraying_many_accounts_backs_off(accounts):
    book, clock = ThrottleBook(), FakeClock()
    for i in range(FREE_ADDRESS_FAILURES):
        sign_in({}, f"made-up-{i}", "guess", accounts, "203.0.113.9", book, clock)
    refused = sign_in({}, "ines", PASSWORD, accounts, "203.0.113.9", book, clock)
    assert not refused.ok and "Too many" in refused.message


def test_thirty_wrong_passwords_never_lock_out_every_staff_member(accounts):
    """No global throttle: a flood of failures on made-up accounts leaves real ones usable."""
    book, clock = ThrottleBook(), FakeClock()
    for i in range(30):
        sign_in({}, f"made-up-{i % 3}", "guess", accounts, f"bot-{i}", book, clock)
    assert sign_in({}, "ines", PASSWORD, accounts, "office", book, clock).ok
    assert sign_in({}, "tom", "trainer password", accounts, "office", book, clock).ok


def test_failures_spread_over_a_long_time_do_not_lock(accounts):
    book, clock = ThrottleBook(), FakeClock()
    for _ in range(FREE_ACCOUNT_FAILURES * 2):
        sign_in({}, "ines", "nope", accounts, "c1", book, clock)
        clock.now += FAILURE_MEMORY_SECONDS + 1
    assert sign_in({}, "ines", PASSWORD, accounts, "c1", book, clock).ok


def test_every_lock_is_logged_and_listed_for_staff(accounts, caplog):
    book, clock = ThrottleBook(), FakeClock()
    with caplog.at_level("WARNING", logger="course.auth"):
        for _ in range(FREE_PAIR_FAILURES):
            sign_in({}, "ines", "nope", accounts, "10.0.0.66", book, clock)
    [event] = book.recent_locks()
    assert (event.scope, event.kind, event.account, event.client, event.seconds) == \
        ("pair", "staff", "ines", "10.0.0.66", BASE_LOCK_SECONDS)
    assert any("sign-in lock" in r.message and "10.0.0.66" in r.message and "ines" in r.message
               for r in caplog.records)
    assert "nope" not in caplog.text, "a guessed password is never logged"


def test_access_codes_are_hashed_private_kept_and_reissued_on_request(tmp_path):
    path = tmp_path / ".theater" / "access_codes.json"
    first = issue_access_codes(path, ["ada", "bob"])
    assert set(first) == {"ada", "bob"} and first["ada"] != first["bob"]
    assert all(len(code) == 14 and code.count("-") == 2 for code in first.values())
    text = path.read_text()
    assert first["ada"] not in text and first["ada"].replace("-", "") not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert issue_access_codes(path, ["ada", "bob"]) == {}, "running assign again changes no code"
    assert set(issue_access_codes(path, ["ada", "bob", "cy"])) == {"cy"}
    again = issue_access_codes(path, ["ada", "bob", "cy"], reissue=["ada"])
    codes = load_access_codes(path)
    book = ThrottleBook()
    assert check_learner_code("ada", again["ada"], codes, "c", book).ok
    assert not check_learner_code("ada", first["ada"], codes, "c", book).ok
    assert check_learner_code("bob", first["bob"], codes, "c", book).ok
    with pytest.raises(AuthError, match="not on the roster"):
        issue_access_codes(path, ["ada"], reissue=["zed"])


def test_guessing_a_learners_code_is_throttled_per_learner_but_not_on_their_own_address(tmp_path):
    path = tmp_path / "codes.json"
    codes_issued = issue_access_codes(path, ["ada", "bob"])
    codes = load_access_codes(path)
    book, clock = ThrottleBook(), FakeClock()
    assert check_learner_code("ada", codes_issued["ada"], codes, "10.0.0.5", book, clock).ok
    for i in range(FREE_ACCOUNT_FAILURES):
        check_learner_code("ada", f"GUESS-{i}", codes, f"client-{i}", book, clock)
    assert not check_learner_code("ada", codes_issued["ada"], codes, "new", book, clock).ok
    assert check_learner_code("ada", codes_issued["ada"], codes, "10.0.0.5", book, clock).ok
    assert check_learner_code("bob", codes_issued["bob"], codes, "new", book, clock).ok


def test_course_codes_are_throttled_per_address():
    book, clock = ThrottleBook(), FakeClock()
    for i in range(FREE_PAIR_FAILURES):
        assert not check_course_code(f"GUESS{i}", "SPRING", "203.0.113.9", book, clock).ok
    refused = check_course_code("SPRING", "SPRING", "203.0.113.9", book, clock)
    assert not refused.ok and "Too many wrong course codes" in refused.message
    assert check_course_code(" SPRING ", "SPRING", "10.0.0.5", book, clock).ok, \
        "a classmate on another address is not slowed down"
    clock.now += BASE_LOCK_SECONDS + 0.1
    assert check_course_code("SPRING", "SPRING", "203.0.113.9", book, clock).ok


def test_two_thousand_course_code_guesses_take_days_not_milliseconds():
    book, clock = ThrottleBook(), FakeClock()
    start = clock.now
    for tried in range(2000):     # a patient guesser: waits out every lock, never gives up
        clock.now += book.wait("course-code", "course", "203.0.113.9", clock.now, known=True)
        outcome = check_course_code(f"G{tried}", "SPRING", "203.0.113.9", book, clock)
        assert not outcome.ok and "course code" in outcome.message
    assert clock.now - start > 86400 * 18, "at most one guess per 15 minutes at the cap"
    assert {e.scope for e in book.recent_locks()} == {"pair", "address"}, "no owner: no account key"


@pytest.mark.parametrize("headers, header, peer, expected", [
    ({}, None, "10.0.0.5", "10.0.0.5"),
    ({"X-Forwarded-For": "203.0.113.9"}, None, "10.0.0.1", "10.0.0.1"),     # no proxy configured
    ({"X-Forwarded-For": "1.2.3.4, 203.0.113.9"}, "X-Forwarded-For", "10.0.0.1", "203.0.113.9"),
    ({"X-Forwarded-For": " "}, "X-Forwarded-For", "10.0.0.1", "10.0.0.1"),
    ({}, "X-Forwarded-For", "10.0.0.1", "10.0.0.1"),
    ({}, None, None, ""),
])
def test_the_client_address_honours_a_configured_proxy_header_only(headers, header, peer, expected):
    """The proxy appends the address it saw: the last entry; earlier ones are the client's to choose."""
    from course.auth import client_address

    assert client_address(headers, header, peer) == expected
