"""Staff accounts, access codes, throttling per client and per account, signed expiring tokens."""

import json
import stat

import pytest

from course.auth import (LOCKOUT_SECONDS, MAX_ACCOUNT_FAILURES, MAX_CLIENT_FAILURES, SESSION_ROLE_KEY,
                         SESSION_USER_KEY, AuthError, ThrottleBook, add_staff, check_learner_code,
                         issue_access_codes, load_access_codes, load_staff, make_token, read_token,
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


def test_a_client_is_locked_out_after_repeated_failures_even_with_the_right_password(accounts):
    book, clock = ThrottleBook(), FakeClock()
    for _ in range(MAX_CLIENT_FAILURES):
        assert not sign_in({}, "ines", "nope", accounts, "guesser", book, clock).ok
    locked = sign_in({}, "ines", PASSWORD, accounts, "guesser", book, clock)
    assert not locked.ok and "Too many" in locked.message
    assert sign_in({}, "ines", PASSWORD, accounts, "colleague", book, clock).ok, \
        "another client is not locked out by one client's guessing"
    clock.now += LOCKOUT_SECONDS + 1
    assert sign_in({}, "ines", PASSWORD, accounts, "guesser", book, clock).ok


def test_guessing_one_account_from_many_clients_locks_only_that_account(accounts):
    book, clock = ThrottleBook(), FakeClock()
    for i in range(MAX_ACCOUNT_FAILURES):
        sign_in({}, "ines", "guess", accounts, f"client-{i}", book, clock)
    assert not sign_in({}, "ines", PASSWORD, accounts, "fresh", book, clock).ok
    assert sign_in({}, "tom", "trainer password", accounts, "fresh", book, clock).ok
    clock.now += LOCKOUT_SECONDS + 1
    assert sign_in({}, "ines", PASSWORD, accounts, "fresh", book, clock).ok


def test_thirty_wrong_passwords_never_lock_out_every_staff_member(accounts):
    """No global throttle: a flood of failures on made-up accounts leaves real ones usable."""
    book, clock = ThrottleBook(), FakeClock()
    for i in range(30):
        sign_in({}, f"made-up-{i % 3}", "guess", accounts, f"bot-{i}", book, clock)
    assert sign_in({}, "ines", PASSWORD, accounts, "office", book, clock).ok
    assert sign_in({}, "tom", "trainer password", accounts, "office", book, clock).ok


def test_failures_spread_over_a_long_time_do_not_lock(accounts):
    book, clock = ThrottleBook(), FakeClock()
    for _ in range(MAX_ACCOUNT_FAILURES * 2):
        sign_in({}, "ines", "nope", accounts, "c1", book, clock)
        clock.now += 3600
    assert sign_in({}, "ines", PASSWORD, accounts, "c1", book, clock).ok


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


def test_guessing_a_learners_code_is_throttled_per_learner(tmp_path):
    path = tmp_path / "codes.json"
    codes_issued = issue_access_codes(path, ["ada", "bob"])
    codes = load_access_codes(path)
    book, clock = ThrottleBook(), FakeClock()
    for i in range(MAX_ACCOUNT_FAILURES):
        check_learner_code("ada", f"GUESS-{i}", codes, f"client-{i}", book, clock)
    assert not check_learner_code("ada", codes_issued["ada"], codes, "new", book, clock).ok
    assert check_learner_code("bob", codes_issued["bob"], codes, "new", book, clock).ok


def test_tokens_carry_their_subject_expire_and_need_the_key():
    token = make_token("key-1", "learner", "ada", "v1")
    assert read_token("key-1", token, 60) == ("learner", "ada", "v1")
    assert read_token("key-2", token, 60) is None
    assert read_token("key-1", token, -1) is None, "older than max_age is refused"
    for junk in (None, "", "x" * 2000, "a.b.c", 42):
        assert read_token("key-1", junk, 60) is None


def test_staff_tokens_end_with_a_new_password_or_a_removed_account(staff_file):
    from course.auth import staff_from_token, staff_token

    accounts = load_staff(staff_file)
    token = staff_token("key", accounts["ines"])
    assert staff_from_token("key", token, accounts, 60).name == "ines"
    assert staff_from_token("other-key", token, accounts, 60) is None
    assert staff_from_token("key", make_token("key", "learner", "ines", ""), accounts, 60) is None
    add_staff(staff_file, "ines", "instructor", "a brand new password", replace=True)
    assert staff_from_token("key", token, load_staff(staff_file), 60) is None
    tom = staff_token("key", accounts["tom"])
    remove_staff(staff_file, "tom")
    assert staff_from_token("key", tom, load_staff(staff_file), 60) is None
