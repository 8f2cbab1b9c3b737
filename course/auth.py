"""Who is who: staff accounts, learners' access codes, sign-in throttling and server-side sessions.

Everything here is pure (no Streamlit): pages pass in the session mapping, the client they serve
and the course's files, and these functions decide. Secrets are stored only as argon2 hashes, in
files only their owner can read; a plaintext password or code is never stored, logged or echoed.

- Staff accounts (`theater users add NAME --role instructor|ta|trainer`) live in the course's
  `.theater/staff.json`. THEATER_STAFF_PASSWORD, the old single staff password, still works as an
  account named `staff` (instructor); an old var/staff_password file is migrated into one.
- Access codes (`theater assign --roster`) live in `.theater/access_codes.json`, stored and issued
  by grader.access_codes (so the grader never imports the app); once a course has any, a learner
  signs in with their id AND their code.
- Wrong guesses are counted per account and client address, never for the whole app, with an
  exponential back-off; an account's owner on their usual address is never locked out by someone
  else's guesses (see "throttling" below). Every lock is logged (logger `course.auth`) and listed
  for instructors.
- A sign-in opens a server-side session (course.sessions): the URL carries a random handle, never
  a signed credential. Sign-out revokes it; a new password or a re-issued code ends every session
  made before (each session keeps the version of the credential it was made with).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher

from grader.access_codes import (AuthError, credentials_lock, hash_version, read_credentials, verify_access_code,
                                 verify_hash, write_credentials)
# Access codes are stored and issued beside the course by grader.access_codes (`theater assign`
# issues them); their names stay importable from here for the app's pages and instructors' scripts.
from grader.access_codes import (CODE_ALPHABET, CODE_HASHER, CODE_LENGTH, code_version,  # noqa: F401
                                 issue_access_codes, load_access_codes, new_access_code, normalise_code)

ROLES = ("instructor", "ta", "trainer")
# An instructor also grades and runs workshops. A teaching assistant ("ta") grades: the gradebook,
# grading runs, overrides, feedback, export and regrade requests, never the course's settings,
# releases, roster, access codes, sign-in sessions or staff. A trainer sees only the workshop pages.
ROLE_GRANTS: dict[str, frozenset[str]] = {
    "instructor": frozenset({"instructor", "ta", "trainer"}),
    "ta": frozenset({"ta"}),
    "trainer": frozenset({"trainer"}),
}
# The role each grading page is meant for: its gate (course/app_pages/instructor_common.open_page)
# and the staff navigation both read this table, so a page is never listed for a role it refuses.
STAFF_PAGE_ROLES: dict[str, str] = {
    "instructor.py": "instructor",
    "instructor_roster.py": "instructor",
    "instructor_assignments.py": "ta",   # a TA grades here; releasing stays with instructors
    "instructor_gradebook.py": "ta",
    "instructor_rubric.py": "ta",        # reading memos against the rubric is grading
    "instructor_sessions.py": "instructor",
}
SESSION_ROLE_KEY = "staff_role"
SESSION_USER_KEY = "staff_user"
SESSION_HANDLE_KEY = "_staff_session"   # the handle of the staff sign-in's server-side session
LEGACY_ACCOUNT = "staff"
STAFF_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD_LENGTH = 10

# Staff passwords are chosen by people: OWASP's argon2id minimum (19 MiB, 2 passes).
STAFF_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


# ----------------------------------------------------------------------------- staff accounts


@dataclass(frozen=True)
class StaffAccount:
    name: str
    role: str
    password_hash: str
    # the LMS identities (issuer, sub) `theater users link` vouched for: an LTI launch by one of
    # them, with a staff role in the LMS course, signs in as this account (course.lti)
    lms_identities: frozenset[tuple[str, str]] = frozenset()
    # the person's name as their LMS last sent it (accounts add_lms_staff made); empty otherwise
    display_name: str = ""

    @property
    def version(self) -> str:
        return hash_version(self.password_hash)

    @property
    def label(self) -> str:
        """The account as staff pages and `theater users list` name it: an account an LMS launch
        made is named by a hash, so the person's name from that launch goes beside it."""
        return f"{self.name} ({self.display_name}, from the LMS)" if self.display_name else self.name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AuthError(f"Unknown staff role {role!r}; choose one of: {', '.join(ROLES)}.")
    return role


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not STAFF_NAME_PATTERN.match(name):
        raise AuthError(f"{name!r} is not a valid account name: 1-64 letters, digits, '.', '_', '-' "
                        "or '@', starting with a letter or digit")
    return name


def load_staff(path: Path, legacy_password: str | None = None) -> dict[str, StaffAccount]:
    """The course's staff accounts; the old single staff password (if set) as instructor `staff`."""
    accounts = {}
    for name, record in (read_credentials(path).get("accounts") or {}).items():
        if isinstance(record, dict) and record.get("role") in ROLES and record.get("hash"):
            links = frozenset((str(link.get("issuer", "")), str(link.get("sub", "")))
                              for link in record.get("lms") or [] if isinstance(link, dict))
            accounts[name] = StaffAccount(name, record["role"], record["hash"], links,
                                          clean_display_name(record.get("display_name")))
    if legacy_password and LEGACY_ACCOUNT not in accounts:
        accounts[LEGACY_ACCOUNT] = StaffAccount(LEGACY_ACCOUNT, "instructor",
                                                _legacy_hash(legacy_password))
    return accounts


_legacy_hashes: dict[str, str] = {}


_LEGACY_SALT = hashlib.sha256(b"signal-or-theater legacy staff password").digest()[:16]


def _legacy_hash(password: str) -> str:
    """Hash the environment's password once per process (it is the same on every page load).
    The salt is fixed, so every process and replica gets the same hash, hence the same version:
    a restart or another replica does not end the account's sessions."""
    key = hashlib.sha256(password.encode()).hexdigest()
    if key not in _legacy_hashes:
        _legacy_hashes[key] = STAFF_HASHER.hash(password, salt=_LEGACY_SALT)
    return _legacy_hashes[key]


LMS_ACCOUNT_PREFIX = "lms-"     # accounts add_lms_staff makes for LMS users


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def add_staff(path: Path, name: str, role: str, password: str, replace: bool = False) -> StaffAccount:
    """Create (or with `replace`, reset) a staff account; the password is stored argon2-hashed.
    Names starting with `lms-` are the LMS's own (add_lms_staff): a trusted launch would reset them."""
    _check_name(name)
    _check_role(role)
    if name.startswith(LMS_ACCOUNT_PREFIX):
        raise AuthError(f"account names starting with {LMS_ACCOUNT_PREFIX!r} are kept for staff an LMS "
                        "registration vouches for (theater lti register --trust-staff); choose another name")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    with credentials_lock(path):
        data = read_credentials(path)
        accounts = data.setdefault("accounts", {})
        if name in accounts and not replace:
            raise AuthError(f"a staff account {name!r} exists already; pass --replace to set a new password")
        account = StaffAccount(name, role, STAFF_HASHER.hash(password))
        links = (accounts.get(name) or {}).get("lms") if replace else None
        accounts[name] = {"role": role, "hash": account.password_hash,
                          "changed": datetime.now(UTC).isoformat(timespec="seconds")}
        if links:   # a new password keeps the account's LMS links
            accounts[name]["lms"] = links
        write_credentials(path, data)
    return account


def remove_staff(path: Path, name: str) -> None:
    with credentials_lock(path):
        data = read_credentials(path)
        if name not in (data.get("accounts") or {}):
            raise AuthError(f"no staff account {name!r}")
        del data["accounts"][name]
        write_credentials(path, data)


def link_staff(path: Path, name: str, issuer: str, sub: str) -> None:
    """Vouch that the LMS user `sub` of the platform `issuer` is staff account `name`: their LTI
    launches with an instructor or TA role sign in as it. One LMS identity links one account."""
    issuer, sub = (issuer or "").strip(), (sub or "").strip()
    if not issuer or not sub:
        raise AuthError("--issuer and --sub must not be empty (the refusal page of the launch shows both)")
    with credentials_lock(path):
        data = read_credentials(path)
        accounts = data.get("accounts") or {}
        if name not in accounts:
            raise AuthError(f"no staff account {name!r}: create it first with `theater users add {name} --role ...`")
        for other, record in accounts.items():
            if other != name and {"issuer": issuer, "sub": sub} in (record.get("lms") or []):
                raise AuthError(f"that LMS user is linked to staff account {other!r} already: "
                                f"`theater users unlink {other} --issuer ... --sub ...` first")
        links = [link for link in accounts[name].get("lms") or [] if link != {"issuer": issuer, "sub": sub}]
        accounts[name]["lms"] = links + [{"issuer": issuer, "sub": sub}]
        write_credentials(path, data)


def lms_account_name(issuer: str, sub: str) -> str:
    """The account name made for an LMS user whose staff role a trusted registration vouched for."""
    return LMS_ACCOUNT_PREFIX + hashlib.sha256(f"{issuer}\n{sub}".encode()).hexdigest()[:12]


DISPLAY_NAME_LENGTH = 80


def clean_display_name(value: object) -> str:
    """A person's name from an LMS launch as a page may show it: printable characters, single
    spaces, at most DISPLAY_NAME_LENGTH characters (the launch is signed, the text is still theirs)."""
    if not isinstance(value, str):
        return ""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())
    return text[:DISPLAY_NAME_LENGTH].strip()


def add_lms_staff(path: Path, issuer: str, sub: str, role: str, display_name: str = "") -> StaffAccount:
    """The staff account of an LMS user from a registration that trusts its staff roles
    (grader.lti trust_staff): made on the first launch, linked to (issuer, sub), its role raised
    or lowered to `role` on later launches, and the person's name the launch carried kept beside
    its hash name (a later launch's name replaces it; a launch without one keeps it). Its password
    is random and never shown, so it signs in only through the LMS; `theater users remove` ends it
    like any account."""
    _check_role(role)
    display_name = clean_display_name(display_name)
    issuer, sub = (issuer or "").strip(), (sub or "").strip()
    if not issuer or not sub:
        raise AuthError("an LMS launch without issuer or user id cannot open a staff account")
    name = lms_account_name(issuer, sub)
    link = {"issuer": issuer, "sub": sub}
    with credentials_lock(path):
        data = read_credentials(path)
        accounts = data.setdefault("accounts", {})
        record = accounts.get(name)
        if record is None:
            record = accounts[name] = {"hash": STAFF_HASHER.hash(secrets.token_urlsafe(32)),
                                       "changed": datetime.now(UTC).isoformat(timespec="seconds"),
                                       "lms": [link], "from_lms": True}
        record["role"] = role
        if display_name:
            record["display_name"] = display_name
        if link not in (record.get("lms") or []):
            record["lms"] = (record.get("lms") or []) + [link]
        write_credentials(path, data)
    return StaffAccount(name, role, record["hash"], frozenset({(issuer, sub)}),
                        clean_display_name(record.get("display_name")))


def unlink_staff(path: Path, name: str, issuer: str, sub: str) -> None:
    """Forget one LMS identity of a staff account; the sessions its launches opened end at their
    next request (staff_from_session)."""
    with credentials_lock(path):
        data = read_credentials(path)
        record = (data.get("accounts") or {}).get(name)
        if record is None:
            raise AuthError(f"no staff account {name!r}")
        link = {"issuer": (issuer or "").strip(), "sub": (sub or "").strip()}
        if link not in (record.get("lms") or []):
            raise AuthError(f"staff account {name!r} has no link to that LMS user")
        record["lms"] = [other for other in record["lms"] if other != link]
        write_credentials(path, data)


def staff_for_lms(accounts: Mapping[str, StaffAccount], issuer: str, sub: str) -> StaffAccount | None:
    """The staff account linked to an LMS identity, or None."""
    return next((a for a in accounts.values() if (issuer, sub) in a.lms_identities), None)


def lms_link_scope(issuer: str, sub: str) -> str:
    """What an LTI staff session keeps of the LMS identity that opened it (course.sessions' scope)."""
    return "lti:" + hashlib.sha256(f"{issuer}\n{sub}".encode()).hexdigest()[:40]


def session_role_label(record) -> str:
    """A session's role as the Sign-in sessions page lists it: a presenter link names its room, a
    staff session an LTI launch opened says so."""
    scope = getattr(record, "scope", None) or ""
    if scope.startswith("lti:"):
        return f"{record.role} (from an LMS launch)"
    return record.role + (f" of room {scope}" if scope else "")


def lms_staff_role(account_role: str, lms_roles: Iterable[str]) -> str | None:
    """The role an LMS launch of a linked account gets: the lesser of the account's role and the
    highest staff role the LMS gives in that course ("instructor" or "ta"); None when they share
    nothing (a trainer's account, or no staff role in the LMS course)."""
    best = None
    for lms_role in lms_roles:
        if account_role in ROLE_GRANTS.get(lms_role, frozenset()):
            granted = account_role
        elif lms_role in ROLE_GRANTS.get(account_role, frozenset()):
            granted = lms_role
        else:
            continue
        if best is None or best in ROLE_GRANTS.get(granted, frozenset()):
            best = granted
    return best


_DUMMY_HASH = STAFF_HASHER.hash("not-an-account-" + secrets.token_hex(8))


def verify_staff(accounts: Mapping[str, StaffAccount], name: str | None,
                 password: str | None) -> StaffAccount | None:
    """The account when the password matches; an unknown name costs the same time as a known one."""
    account = accounts.get((name or "").strip())
    if account is None:
        verify_hash(STAFF_HASHER, _DUMMY_HASH, password or "")
        return None
    matches = verify_hash(STAFF_HASHER, account.password_hash, password or "")
    return account if password and matches else None


# ----------------------------------------------------------------------------- throttling
#
# Wrong guesses are counted under three keys, each with its own free allowance and then an
# exponential back-off (BASE_LOCK_SECONDS doubling per further failure, up to MAX_LOCK_SECONDS):
#   pair     one account from one client address: slows whoever guesses from there;
#   address  one client address over every account: slows spraying many accounts (and course codes);
#   account  one account from everywhere: past its allowance, addresses that are not the owner's
#            (no recent successful sign-in for that account) back off; the owner's address does not,
#            so nobody can keep the owner out by guessing from elsewhere.
# A client is its address (course.app_pages.common.client_address), never the websocket session:
# a new session per guess would otherwise start every count at zero.

FREE_PAIR_FAILURES = 5
FREE_ADDRESS_FAILURES = 20
FREE_ACCOUNT_FAILURES = 10
BASE_LOCK_SECONDS = 2.0
MAX_LOCK_SECONDS = 900.0
FAILURE_MEMORY_SECONDS = 6 * 3600.0  # a key with no failure for this long starts again from zero (> the longest lock)
KNOWN_CLIENT_SECONDS = 30 * 86400.0  # a successful sign-in makes its address the owner's for this long
MAX_LOCK_EVENTS = 500
SHARED_SECRETS = frozenset({"course-code"})

log = logging.getLogger("course.auth")


@dataclass
class Throttle:
    """Failures under one key; past `free` failures each further one locks for twice as long."""

    free: int
    count: int = 0
    last_failure: float = float("-inf")
    locked_until: float = 0.0

    def seconds_locked(self, now: float) -> float:
        return max(0.0, self.locked_until - now)

    def record_failure(self, now: float) -> float:
        """Count one failure; returns the length of a lock it starts (0: none)."""
        if now - self.last_failure > FAILURE_MEMORY_SECONDS:
            self.count = 0
        self.count += 1
        self.last_failure = now
        if self.count < self.free:
            return 0.0
        doublings = min(self.count - self.free, 30)   # 2 s × 2^30 is far past the cap already
        seconds = min(MAX_LOCK_SECONDS, BASE_LOCK_SECONDS * 2.0 ** doublings)
        self.locked_until = max(self.locked_until, now + seconds)
        return seconds

    def idle(self, now: float) -> bool:
        return self.seconds_locked(now) == 0 and now - self.last_failure > FAILURE_MEMORY_SECONDS


@dataclass(frozen=True)
class LockEvent:
    """One lock, for the staff's list and the app log: what was locked, from where, for how long."""

    at: float                # wall-clock time (time.time())
    scope: str               # pair | address | account
    kind: str                # staff | learner | course-code
    account: str
    client: str
    seconds: float
    failures: int


class ThrottleBook:
    """Throttles per (account, address), per address and per account, shared by all sessions of
    one app process; it also remembers which addresses signed which accounts in lately."""

    def __init__(self) -> None:
        self._throttles: dict[tuple[str, ...], Throttle] = {}
        self._known: dict[tuple[str, str, str], float] = {}
        self._lock = threading.Lock()
        self.events: deque[LockEvent] = deque(maxlen=MAX_LOCK_EVENTS)

    @staticmethod
    def _free(key: tuple[str, ...]) -> int:
        return {"pair": FREE_PAIR_FAILURES, "address": FREE_ADDRESS_FAILURES,
                "account": FREE_ACCOUNT_FAILURES}[key[0]]

    def _get(self, key: tuple[str, ...]) -> Throttle:
        if key not in self._throttles:
            self._throttles[key] = Throttle(free=self._free(key))
        return self._throttles[key]

    @staticmethod
    def _keys(kind: str, account: str, client: str, known: bool) -> list[tuple[str, ...]]:
        keys = [("pair", kind, account, client), ("address", client)]
        return keys if known else keys + [("account", kind, account)]

    def is_known(self, kind: str, account: str, client: str, now: float) -> bool:
        with self._lock:
            seen = self._known.get((kind, account, client))
        return seen is not None and now - seen < KNOWN_CLIENT_SECONDS

    def wait(self, kind: str, account: str, client: str, now: float, known: bool = False) -> float:
        """Seconds this client must wait before it may try `account` again."""
        with self._lock:
            return max(self._get(k).seconds_locked(now) for k in self._keys(kind, account, client, known))

    def failure(self, kind: str, account: str, client: str, now: float, known: bool = False) -> float:
        """Count a wrong guess under every key; returns how long this client is now locked out."""
        new_locks = []
        with self._lock:
            # a secret the whole class shares (the course code) has no owner: no account-wide key
            for key in self._keys(kind, account, client, kind in SHARED_SECRETS):
                throttle = self._get(key)
                seconds = throttle.record_failure(now)
                if seconds:
                    new_locks.append(LockEvent(time.time(), key[0], kind, account, client, seconds,
                                               throttle.count))
            if len(self._throttles) > 10_000:  # forget keys that stopped failing long ago
                self._throttles = {k: t for k, t in self._throttles.items() if not t.idle(now)}
            wait = max(self._get(k).seconds_locked(now) for k in self._keys(kind, account, client, known))
            self.events.extend(new_locks)
        for event in new_locks:
            log.warning("sign-in lock: %s %s=%r from %s for %.0f s after %d wrong guesses",
                        event.scope, event.kind, event.account, event.client or "unknown address",
                        event.seconds, event.failures)
        return wait

    def success(self, kind: str, account: str, client: str, now: float) -> None:
        """The right secret from this client: its own count restarts and its address becomes known
        for `account`. Others' counts stay (the owner signing in does not end someone's guessing)."""
        with self._lock:
            self._throttles.pop(("pair", kind, account, client), None)
            if client:
                if len(self._known) > 50_000:
                    self._known = {k: t for k, t in self._known.items() if now - t < KNOWN_CLIENT_SECONDS}
                self._known[(kind, account, client)] = now

    def recent_locks(self) -> list[LockEvent]:
        with self._lock:
            return list(reversed(self.events))


def throttle_clock() -> float:
    """The clock the sign-in throttles read (monotonic seconds); one name, so a test can hold it."""
    return time.monotonic()


THROTTLES = ThrottleBook()


def client_address(headers: Mapping[str, str] | None, proxy_header: str | None,
                   peer: str | None) -> str:
    """The client's address: with a reverse proxy (`proxy_header`, e.g. X-Forwarded-For), the last
    entry of that header, which the proxy itself appended; else the websocket peer's address."""
    if proxy_header and headers is not None:
        try:
            value = headers.get(proxy_header)
        except Exception:   # a header mapping that cannot be read is no address
            value = None
        last = value.split(",")[-1].strip() if isinstance(value, str) else ""
        if last:
            return last[:100]
    return peer[:100] if isinstance(peer, str) and peer else ""


@dataclass(frozen=True)
class SignInOutcome:
    ok: bool
    message: str
    handle: str | None = None


def _wait_text(seconds: float) -> str:
    seconds = int(seconds) + 1
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60 + 1} min"


def _known(book: ThrottleBook, sessions, kind: str, account: str, client: str, now: float) -> bool:
    """The owner's address: a recent successful sign-in from it (this process, or the session store)."""
    if not client or not account:
        return False
    if book.is_known(kind, account, client, now):
        return True
    return sessions is not None and sessions.known_client(kind, account, client)


def sign_in(session: MutableMapping, name: str | None, password: str | None,
            accounts: Mapping[str, StaffAccount], client: str,
            throttles: ThrottleBook | None = None,
            clock: Callable[[], float] | None = None, sessions=None) -> SignInOutcome:
    """Check a staff sign-in, throttled per account and client address; on success the session
    holds the account's role (SESSION_ROLE_KEY) and name (SESSION_USER_KEY) and, with a session
    store (course.sessions), the handle of a new server-side session (SESSION_HANDLE_KEY)."""
    book = THROTTLES if throttles is None else throttles
    name = (name or "").strip()[:64]
    now = (clock or throttle_clock)()
    known = _known(book, sessions, "staff", name, client, now)
    wait = book.wait("staff", name, client, now, known)
    if wait > 0:
        return SignInOutcome(False, f"Too many wrong passwords. Try again in {_wait_text(wait)}.")
    if not accounts:
        return SignInOutcome(False, "No staff account exists yet. Whoever runs the app creates one "
                                    "with `theater users add NAME --role instructor`.")
    account = verify_staff(accounts, name, password)
    if account is not None:
        book.success("staff", name, client, now)
        handle = None
        if sessions is not None:
            handle = sessions.create("staff", account.name, account.role, credential=account.version,
                                     client=client)
            session[SESSION_HANDLE_KEY] = handle
        session[SESSION_ROLE_KEY] = account.role
        session[SESSION_USER_KEY] = account.name
        return SignInOutcome(True, f"Signed in as {account.name} ({account.role}).", handle)
    wait = book.failure("staff", name, client, now, known)
    if wait > 0:
        return SignInOutcome(False, f"Wrong account or password. Too many attempts: wait {_wait_text(wait)}.")
    return SignInOutcome(False, "Wrong account or password. Ask whoever runs the app to create "
                                "or reset your account (`theater users add`).")


def check_learner_code(learner_id: str, code: str | None, codes: Mapping[str, str], client: str,
                       throttles: ThrottleBook | None = None,
                       clock: Callable[[], float] | None = None, sessions=None) -> SignInOutcome:
    """A rostered learner's access code, throttled per learner id and client address like staff."""
    book = THROTTLES if throttles is None else throttles
    now = (clock or throttle_clock)()
    known = _known(book, sessions, "learner", learner_id, client, now)
    wait = book.wait("learner", learner_id, client, now, known)
    if wait > 0:
        return SignInOutcome(False, f"Too many wrong codes. Try again in {_wait_text(wait)}.")
    if verify_access_code(codes, learner_id, code):
        book.success("learner", learner_id, client, now)
        return SignInOutcome(True, "")
    wait = book.failure("learner", learner_id, client, now, known)
    if wait > 0:
        return SignInOutcome(False, f"Wrong learner id or access code. Too many attempts: wait {_wait_text(wait)}.")
    return SignInOutcome(False, "Wrong learner id or access code. Use the code your instructor gave "
                                "you; ask them for a new one if you lost it.")


COURSE_CODE_ACCOUNT = "course"


def check_course_code(given: str | None, expected: str, client: str,
                      throttles: ThrottleBook | None = None,
                      clock: Callable[[], float] | None = None) -> SignInOutcome:
    """The course code, throttled per client address like a password (it is shared by the whole
    class, so no address is its owner's: each address backs off on its own wrong guesses)."""
    book = THROTTLES if throttles is None else throttles
    now = (clock or throttle_clock)()
    # every address counts as known: one address's guesses never slow another's sign-in
    wait = book.wait("course-code", COURSE_CODE_ACCOUNT, client, now, known=True)
    if wait > 0:
        return SignInOutcome(False, f"Too many wrong course codes. Try again in {_wait_text(wait)}.")
    if hmac.compare_digest((given or "").strip().encode(), expected.encode()):
        return SignInOutcome(True, "")
    wait = book.failure("course-code", COURSE_CODE_ACCOUNT, client, now, known=True)
    if wait > 0:
        return SignInOutcome(False, f"That course code is not right for this course. Too many "
                                    f"attempts: wait {_wait_text(wait)}.")
    return SignInOutcome(False, "That course code is not right for this course. Check the code your "
                                "instructor or trainer gave you.")


def sign_out(session: MutableMapping, sessions=None) -> None:
    """Forget the staff sign-in here and end its server-side session (the old URL stops working)."""
    handle = session.pop(SESSION_HANDLE_KEY, None)
    if sessions is not None and handle:
        sessions.revoke(handle, "signed out")
    session.pop(SESSION_ROLE_KEY, None)
    session.pop(SESSION_USER_KEY, None)


def require_role(session: Mapping, role: str) -> bool:
    """Whether the signed-in staff role (if any) may open a page meant for `role`."""
    _check_role(role)
    current = session.get(SESSION_ROLE_KEY)
    return isinstance(current, str) and role in ROLE_GRANTS.get(current, frozenset())


def has_grant(role: str | None, grant: str) -> bool:
    """Whether a staff role carries a grant (ROLE_GRANTS): an instructor can do what a TA or a
    trainer does; a TA grades; a trainer runs workshops."""
    return isinstance(role, str) and grant in ROLE_GRANTS.get(role, frozenset())


def role_may_open(role: str | None, page_file: str) -> bool:
    """Whether a staff role may open a grading page (by its file name, STAFF_PAGE_ROLES)."""
    return isinstance(role, str) and STAFF_PAGE_ROLES.get(page_file, "instructor") in ROLE_GRANTS.get(role, frozenset())


def staff_user(session: Mapping) -> str | None:
    """The signed-in staff account's name, for pages that record who did what."""
    user = session.get(SESSION_USER_KEY)
    return user if isinstance(user, str) else None


# ----------------------------------------------------------------------------- sessions


def staff_session(sessions, account: StaffAccount, client: str = "", role: str | None = None,
                  lms_identity: tuple[str, str] | None = None) -> str:
    """A new server-side session for a signed-in staff account; returns its handle. An LTI launch
    passes the `role` it earned (never more than the account's) and the LMS identity it came from."""
    role = role or account.role
    if role != account.role and role not in ROLE_GRANTS.get(account.role, frozenset()):
        raise AuthError(f"the {account.role} account {account.name!r} cannot hold a session with the {role} role")
    scope = lms_link_scope(*lms_identity) if lms_identity else None
    return sessions.create("staff", account.name, role, credential=account.version, client=client, scope=scope)


def staff_from_session(sessions, handle: str | None,
                       accounts: Mapping[str, StaffAccount]) -> StaffAccount | None:
    """The account an active staff session belongs to, with the session's role, unless the account
    is gone, its password changed since the sign-in (a new password signs every old link out), or
    (for a session an LTI launch opened) the LMS link was removed: then the session is revoked."""
    import dataclasses

    record = sessions.lookup(handle, kind="staff")
    if record is None:
        return None
    account = accounts.get(record.who)
    if account is None:
        sessions.revoke(handle, "account removed")
        return None
    if account.version != record.credential:
        sessions.revoke_user("staff", account.name, "password changed", account.version)
        return None
    scope = getattr(record, "scope", None)
    if scope and scope.startswith("lti:") and scope not in {lms_link_scope(*i) for i in account.lms_identities}:
        sessions.revoke(handle, "LMS link removed")
        return None
    if record.role != account.role:   # a narrower session (an LMS TA launch of an instructor's account)
        if record.role not in ROLE_GRANTS.get(account.role, frozenset()):
            sessions.revoke(handle, "role changed")
            return None
        return dataclasses.replace(account, role=record.role)
    return account


PRESENTER_ROLE = "presenter"


def presenter_session(sessions, room_code: str, owner: str, expires_at) -> str:
    """A read-only link for the projector: it shows room `room_code` and nothing else, and ends
    when the room closes or expires (`expires_at`)."""
    return sessions.create("presenter", owner, PRESENTER_ROLE, scope=room_code, expires_at=expires_at)


def presenter_room(sessions, handle: str | None) -> str | None:
    """The room an active presenter link shows, or None."""
    record = sessions.lookup(handle, kind="presenter")
    return record.scope if record is not None else None


# ----------------------------------------------------------------------------- OIDC sign-in
#
# With Streamlit's st.login configured ([auth] in .streamlit/secrets.toml), a learner signs in with
# their identity provider and is the roster learner whose e-mail (or LMS user id) the provider
# vouches for. Nobody off the roster gets a learner session; staff keep their accounts.

OIDC_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


class OidcRefused(AuthError):
    """A signed-in identity that maps to no learner, or to more than one."""


@dataclass(frozen=True)
class RosterEntry:
    learner_id: str
    email: str = ""
    lms_user_id: str = ""


@dataclass(frozen=True)
class OidcProvider:
    """A provider st.login can use: `login_name` is st.login's argument (None: the default [auth])."""

    login_name: str | None
    label: str


def oidc_provider(auth_section: Mapping | None, settings) -> OidcProvider | None:
    """The provider when secrets.toml's [auth] is complete for it and Authlib is installed; else None
    (OIDC off: self-study stays one click, rostered courses use access codes)."""
    import importlib.util

    if not isinstance(auth_section, Mapping) or importlib.util.find_spec("authlib") is None:
        return None
    if not auth_section.get("redirect_uri") or not auth_section.get("cookie_secret"):
        return None
    name = settings.provider
    keys = auth_section.get(name) if name else auth_section
    if not isinstance(keys, Mapping) or not all(keys.get(key) for key in OIDC_PROVIDER_KEYS):
        return None
    return OidcProvider(login_name=name, label=settings.label)


def roster_entries(course) -> list[RosterEntry]:
    """The learners `theater assign --roster` imported into the course's gradebook."""
    from grader.course_dir import gradebook

    with gradebook(course) as gb:
        return [RosterEntry(str(s.id), (s.email or "").strip(), str(s.lms_user_id or "").strip())
                for s in gb.students]


def learner_for_identity(identity: Mapping, roster: Iterable[RosterEntry], settings,
                         max_age_seconds: float | None = None, now: float | None = None) -> str:
    """The roster learner an OIDC identity (st.user) is, matched by e-mail (case-insensitive, and only
    when the provider has not said it is unverified) or by LMS user id; OidcRefused otherwise.

    Streamlit keeps the identity in a cookie without checking its age, so an identity issued
    (`iat`) more than `max_age_seconds` ago is refused like an expired sign-in token."""
    if identity.get("is_logged_in") is not True:
        raise OidcRefused("You are not signed in with your identity provider.")
    issued = identity.get("iat")
    if max_age_seconds is not None and isinstance(issued, int | float) and not isinstance(issued, bool):
        if (time.time() if now is None else now) - float(issued) > max_age_seconds:
            raise OidcRefused(f"Your sign-in with your identity provider is older than "
                              f"{max_age_seconds / 3600:g} hours: sign out of it, then sign in again.")
    claim = settings.claim_name
    value = identity.get(claim)
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise OidcRefused(f"Your identity provider did not send your {claim}, so the app cannot find "
                          "you on the class list. Ask whoever runs the app to check its OIDC settings.")
    value = str(value).strip()
    if settings.match == "email":
        if identity.get("email_verified") is False:
            raise OidcRefused("Your identity provider has not verified your e-mail address. Verify it "
                              "there, or sign in with the access code your instructor gave you.")
        wanted = value.casefold()
        matches = sorted({entry.learner_id for entry in roster if entry.email.casefold() == wanted})
        what = "e-mail address"
    else:
        matches = sorted({entry.learner_id for entry in roster if entry.lms_user_id == value})
        what = "LMS user id"
    if not matches:
        raise OidcRefused(f"{value} is not on this course's class list. Ask your instructor to add your "
                          f"{what} to the roster (`theater assign --roster`), or sign in with your access code.")
    if len(matches) > 1:
        raise OidcRefused(f"{len(matches)} learners on this course's class list share the {what} {value}, "
                          "so the app cannot tell which one you are. Ask your instructor to fix the roster.")
    return matches[0]
