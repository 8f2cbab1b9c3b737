"""Who is who: staff accounts, learners' access codes, sign-in throttling and signed sign-in tokens.

Everything here is pure (no Streamlit): pages pass in the session mapping, the client they serve
and the course's files, and these functions decide. Secrets are stored only as argon2 hashes, in
files only their owner can read; a plaintext password or code is never stored, logged or echoed.

- Staff accounts (`theater users add NAME --role instructor|trainer`) live in the course's
  `.theater/staff.json`. THEATER_STAFF_PASSWORD, the old single staff password, still works as an
  account named `staff` (instructor); an old var/staff_password file is migrated into one.
- Access codes (`theater assign --roster`) live in `.theater/access_codes.json`; once a course has
  any, a learner signs in with their id AND their code.
- Wrong guesses are counted per client and per account, never for the whole app, so a flood of
  wrong passwords from somewhere cannot lock every staff member out.
- Sign-in tokens (for a reload) are signed with the course's session key, never the data secret,
  and expire; changing a password or re-issuing a code invalidates the tokens made before.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from datasets.errors import UserError

ROLES = ("instructor", "trainer")
# An instructor also runs workshops; a trainer sees only the workshop pages.
ROLE_GRANTS: dict[str, frozenset[str]] = {
    "instructor": frozenset({"instructor", "trainer"}),
    "trainer": frozenset({"trainer"}),
}
SESSION_ROLE_KEY = "staff_role"
SESSION_USER_KEY = "staff_user"
LEGACY_ACCOUNT = "staff"
STAFF_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD_LENGTH = 10

# Staff passwords are chosen by people: OWASP's argon2id minimum (19 MiB, 2 passes).
STAFF_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Access codes are 60 random bits, so a lighter hash is as safe and keeps a 500-learner roster fast.
CODE_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: read aloud and typed safely
CODE_LENGTH = 12

MAX_CLIENT_FAILURES = 5
MAX_ACCOUNT_FAILURES = 10
FAILURE_WINDOW_SECONDS = 300.0
LOCKOUT_SECONDS = 60.0
TOKEN_SALT = "signal-or-theater sign-in"
DEFAULT_TOKEN_HOURS = 12.0


class AuthError(UserError):
    """A staff account or access code that cannot be created or used; the message says why."""


# ----------------------------------------------------------------------------- files


def _write_private(path: Path, data: Mapping) -> None:
    from grader.course_dir import write_private

    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def _read_json(path: Path) -> dict:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise AuthError(f"{path}: cannot be read ({exc.__class__.__name__}); restore it from a backup") from None
    if not isinstance(loaded, dict):
        raise AuthError(f"{path}: expected a JSON object; restore it from a backup")
    return loaded


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time (the CLI and the app may both change a credentials file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _verify(hasher: PasswordHasher, stored: str, given: str) -> bool:
    try:
        return hasher.verify(stored, given)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _version(stored_hash: str) -> str:
    """A short fingerprint of a stored hash: tokens carry it, so a new password voids old tokens."""
    return hashlib.sha256(stored_hash.encode()).hexdigest()[:12]


# ----------------------------------------------------------------------------- staff accounts


@dataclass(frozen=True)
class StaffAccount:
    name: str
    role: str
    password_hash: str

    @property
    def version(self) -> str:
        return _version(self.password_hash)


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
    for name, record in (_read_json(path).get("accounts") or {}).items():
        if isinstance(record, dict) and record.get("role") in ROLES and record.get("hash"):
            accounts[name] = StaffAccount(name, record["role"], record["hash"])
    if legacy_password and LEGACY_ACCOUNT not in accounts:
        accounts[LEGACY_ACCOUNT] = StaffAccount(LEGACY_ACCOUNT, "instructor",
                                                _legacy_hash(legacy_password))
    return accounts


_legacy_hashes: dict[str, str] = {}


def _legacy_hash(password: str) -> str:
    """Hash the environment's password once per process (it is the same on every page load)."""
    key = hashlib.sha256(password.encode()).hexdigest()
    if key not in _legacy_hashes:
        _legacy_hashes[key] = STAFF_HASHER.hash(password)
    return _legacy_hashes[key]


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def add_staff(path: Path, name: str, role: str, password: str, replace: bool = False) -> StaffAccount:
    """Create (or with `replace`, reset) a staff account; the password is stored argon2-hashed."""
    _check_name(name)
    _check_role(role)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    with _locked(path):
        data = _read_json(path)
        accounts = data.setdefault("accounts", {})
        if name in accounts and not replace:
            raise AuthError(f"a staff account {name!r} exists already; pass --replace to set a new password")
        account = StaffAccount(name, role, STAFF_HASHER.hash(password))
        accounts[name] = {"role": role, "hash": account.password_hash,
                          "changed": datetime.now(UTC).isoformat(timespec="seconds")}
        _write_private(path, data)
    return account


def remove_staff(path: Path, name: str) -> None:
    with _locked(path):
        data = _read_json(path)
        if name not in (data.get("accounts") or {}):
            raise AuthError(f"no staff account {name!r}")
        del data["accounts"][name]
        _write_private(path, data)


_DUMMY_HASH = STAFF_HASHER.hash("not-an-account-" + secrets.token_hex(8))


def verify_staff(accounts: Mapping[str, StaffAccount], name: str | None,
                 password: str | None) -> StaffAccount | None:
    """The account when the password matches; an unknown name costs the same time as a known one."""
    account = accounts.get((name or "").strip())
    if account is None:
        _verify(STAFF_HASHER, _DUMMY_HASH, password or "")
        return None
    matches = _verify(STAFF_HASHER, account.password_hash, password or "")
    return account if password and matches else None


# ----------------------------------------------------------------------------- access codes


def normalise_code(code: str | None) -> str:
    """Codes are shown as XXXX-XXXX-XXXX; case, spaces and dashes do not matter when typed."""
    return re.sub(r"[\s-]+", "", code or "").upper()


def new_access_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def load_access_codes(path: Path) -> dict[str, str]:
    """learner id -> argon2 hash of their code; empty for a course without a roster."""
    return {str(k): str(v) for k, v in (_read_json(path).get("learners") or {}).items()}


def issue_access_codes(path: Path, learner_ids: Iterable[str],
                       reissue: Iterable[str] = ()) -> dict[str, str]:
    """New codes for the learners who have none (and those in `reissue`): learner id -> code.

    Only hashes are kept; the returned plaintext codes are the instructor's to hand out. A learner
    who already has a code keeps it, so running `assign` again for the next assignment changes
    nothing; a re-issued code replaces the old one (and signs that learner out everywhere).
    """
    learner_ids = list(learner_ids)
    again = set(reissue)
    unknown = sorted(again - set(learner_ids))
    if unknown:
        raise AuthError(f"cannot re-issue a code for {', '.join(unknown)}: not on the roster")
    with _locked(path):
        data = _read_json(path)
        stored = data.setdefault("learners", {})
        issued = {}
        for learner in learner_ids:
            if learner in stored and learner not in again:
                continue
            code = new_access_code()
            stored[learner] = CODE_HASHER.hash(normalise_code(code))
            issued[learner] = code
        if issued:
            _write_private(path, data)
    return issued


_DUMMY_CODE_HASH = CODE_HASHER.hash(normalise_code(new_access_code()))


def verify_access_code(codes: Mapping[str, str], learner_id: str, code: str | None) -> bool:
    stored = codes.get(learner_id)
    if stored is None:
        _verify(CODE_HASHER, _DUMMY_CODE_HASH, normalise_code(code))
        return False
    return bool(code) and _verify(CODE_HASHER, stored, normalise_code(code))


def code_version(codes: Mapping[str, str], learner_id: str) -> str:
    stored = codes.get(learner_id)
    return _version(stored) if stored else ""


# ----------------------------------------------------------------------------- throttling


@dataclass
class Throttle:
    """Recent failures of one client or one account; after `max_failures` in the window it locks."""

    max_failures: int
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0

    def seconds_locked(self, now: float) -> float:
        return max(0.0, self.locked_until - now)

    def record_failure(self, now: float) -> None:
        self.failures = [t for t in self.failures if now - t < FAILURE_WINDOW_SECONDS] + [now]
        if len(self.failures) >= self.max_failures:
            self.locked_until = now + LOCKOUT_SECONDS
            self.failures = []

    def idle(self, now: float) -> bool:
        return self.seconds_locked(now) == 0 and all(now - t >= FAILURE_WINDOW_SECONDS for t in self.failures)


class ThrottleBook:
    """Throttles per client and per account (never one for everybody), shared by all sessions."""

    def __init__(self) -> None:
        self._throttles: dict[tuple[str, str], Throttle] = {}
        self._lock = threading.Lock()

    def _get(self, key: tuple[str, str]) -> Throttle:
        if key not in self._throttles:
            limit = MAX_CLIENT_FAILURES if key[0] == "client" else MAX_ACCOUNT_FAILURES
            self._throttles[key] = Throttle(max_failures=limit)
        return self._throttles[key]

    def wait(self, keys: Iterable[tuple[str, str]], now: float) -> float:
        with self._lock:
            return max((self._get(k).seconds_locked(now) for k in keys), default=0.0)

    def failure(self, keys: Iterable[tuple[str, str]], now: float) -> float:
        """Count a failure for each key; returns how long the caller is now locked out."""
        with self._lock:
            for key in keys:
                self._get(key).record_failure(now)
            if len(self._throttles) > 10_000:  # forget clients that stopped guessing long ago
                self._throttles = {k: t for k, t in self._throttles.items() if not t.idle(now)}
            return max(self._get(k).seconds_locked(now) for k in keys)

    def success(self, keys: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            for key in keys:
                self._throttles.pop(key, None)


THROTTLES = ThrottleBook()


@dataclass(frozen=True)
class SignInOutcome:
    ok: bool
    message: str


def _throttle_keys(client: str, account_kind: str, account: str) -> list[tuple[str, str]]:
    return [("client", client or "unknown"), (f"{account_kind}-account", account)]


def sign_in(session: MutableMapping, name: str | None, password: str | None,
            accounts: Mapping[str, StaffAccount], client: str,
            throttles: ThrottleBook | None = None,
            clock: Callable[[], float] = time.monotonic) -> SignInOutcome:
    """Check a staff sign-in, throttled per client and per account; on success the session holds
    the account's role (SESSION_ROLE_KEY) and name (SESSION_USER_KEY)."""
    book = THROTTLES if throttles is None else throttles
    name = (name or "").strip()
    keys = _throttle_keys(client, "staff", name)
    now = clock()
    wait = book.wait(keys, now)
    if wait > 0:
        return SignInOutcome(False, f"Too many wrong passwords. Try again in {int(wait) + 1} s.")
    if not accounts:
        return SignInOutcome(False, "No staff account exists yet. Whoever runs the app creates one "
                                    "with `theater users add NAME --role instructor`.")
    account = verify_staff(accounts, name, password)
    if account is not None:
        book.success(keys)
        session[SESSION_ROLE_KEY] = account.role
        session[SESSION_USER_KEY] = account.name
        return SignInOutcome(True, f"Signed in as {account.name} ({account.role}).")
    wait = book.failure(keys, now)
    if wait > 0:
        return SignInOutcome(False, f"Wrong account or password. Too many attempts: wait {int(wait)} s.")
    return SignInOutcome(False, "Wrong account or password. Ask whoever runs the app to create "
                                "or reset your account (`theater users add`).")


def check_learner_code(learner_id: str, code: str | None, codes: Mapping[str, str], client: str,
                       throttles: ThrottleBook | None = None,
                       clock: Callable[[], float] = time.monotonic) -> SignInOutcome:
    """A rostered learner's access code, throttled per client and per learner id like staff."""
    book = THROTTLES if throttles is None else throttles
    keys = _throttle_keys(client, "learner", learner_id)
    now = clock()
    wait = book.wait(keys, now)
    if wait > 0:
        return SignInOutcome(False, f"Too many wrong codes. Try again in {int(wait) + 1} s.")
    if verify_access_code(codes, learner_id, code):
        book.success(keys)
        return SignInOutcome(True, "")
    wait = book.failure(keys, now)
    if wait > 0:
        return SignInOutcome(False, f"Wrong learner id or access code. Too many attempts: wait {int(wait)} s.")
    return SignInOutcome(False, "Wrong learner id or access code. Use the code your instructor gave "
                                "you; ask them for a new one if you lost it.")


def sign_out(session: MutableMapping) -> None:
    session.pop(SESSION_ROLE_KEY, None)
    session.pop(SESSION_USER_KEY, None)


def require_role(session: Mapping, role: str) -> bool:
    """Whether the signed-in staff role (if any) may open a page meant for `role`."""
    _check_role(role)
    current = session.get(SESSION_ROLE_KEY)
    return isinstance(current, str) and role in ROLE_GRANTS.get(current, frozenset())


def staff_user(session: Mapping) -> str | None:
    """The signed-in staff account's name, for pages that record who did what."""
    user = session.get(SESSION_USER_KEY)
    return user if isinstance(user, str) else None


# ----------------------------------------------------------------------------- tokens


def _serializer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=TOKEN_SALT)


def make_token(key: str, kind: str, subject: str, version: str = "") -> str:
    """A signed, timestamped token for `subject` (a learner id or staff account) of `kind`."""
    return _serializer(key).dumps([kind, subject, version])


def read_token(key: str, token: str | None, max_age_seconds: float) -> tuple[str, str, str] | None:
    """(kind, subject, version) of a token this key signed less than max_age ago, else None."""
    if not token or not isinstance(token, str) or len(token) > 1000:
        return None
    try:
        value = _serializer(key).loads(token, max_age=max_age_seconds)
    except BadSignature:  # SignatureExpired is a BadSignature too
        return None
    if not (isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) for v in value)):
        return None
    return value[0], value[1], value[2]


STAFF_TOKEN = "staff"


def staff_token(key: str, account: StaffAccount) -> str:
    """A reload token for a signed-in staff member (same key and expiry rules as learners')."""
    return make_token(key, STAFF_TOKEN, account.name, account.version)


def staff_from_token(key: str, token: str | None, accounts: Mapping[str, StaffAccount],
                     max_age_seconds: float) -> StaffAccount | None:
    """The account a staff token was made for, unless it expired, the account is gone or its
    password changed since (a new password signs every old reload link out)."""
    content = read_token(key, token, max_age_seconds)
    if content is None or content[0] != STAFF_TOKEN:
        return None
    account = accounts.get(content[1])
    return account if account is not None and account.version == content[2] else None


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
