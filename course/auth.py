"""Staff sign-in for the instructor and trainer pages: one shared password, checked in constant time.

Everything here is pure: pages keep a `SignInThrottle` and the signed-in role in their session
state and call these functions to decide; the password itself is never stored, logged or echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Protocol

from datasets.errors import UserError

ROLES = ("instructor", "trainer")
# An instructor also runs workshops; a trainer sees only the workshop pages.
ROLE_GRANTS: dict[str, frozenset[str]] = {
    "instructor": frozenset({"instructor", "trainer"}),
    "trainer": frozenset({"trainer"}),
}
SESSION_ROLE_KEY = "staff_role"
SESSION_ACCOUNT_KEY = "staff_account"   # who opened a workshop room: rooms belong to this name
SESSION_KEY_FILE = "session_key"       # signs staff sign-in tokens; never the data secret
STAFF_TOKEN_MAX_AGE = 12 * 3600        # a reload the next morning asks for the password again
SESSION_THROTTLE_KEY = "staff_sign_in_throttle"
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 300.0
LOCKOUT_SECONDS = 60.0
# A new browser tab is a new session, so the whole app also counts failures: heavy guessing from
# many sessions at once slows every staff sign-in down for a minute, whatever the session.
PROCESS_MAX_FAILURES = 30


class AuthError(UserError):
    """A staff sign-in that cannot be accepted (unknown role, too many attempts)."""


class HasStaffPassword(Protocol):
    staff_password: str


def authenticate(role: str, password: str | None, config: HasStaffPassword) -> bool:
    """True when the role exists and the password matches; the comparison leaks no timing."""
    if role not in ROLES:
        raise AuthError(f"Unknown staff role {role!r}; choose one of: {', '.join(ROLES)}.")
    expected = (getattr(config, "staff_password", "") or "").encode("utf-8")
    given = (password or "").encode("utf-8")
    if not expected:
        return False
    return hmac.compare_digest(given, expected)


@dataclass
class SignInThrottle:
    """Failed attempts of one browser session; after MAX_FAILURES in the window it locks briefly."""

    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0

    def seconds_locked(self, now: float) -> float:
        """How long this session must still wait before another attempt is checked."""
        return max(0.0, self.locked_until - now)

    max_failures: int = MAX_FAILURES

    def record_failure(self, now: float) -> None:
        self.failures = [t for t in self.failures if now - t < FAILURE_WINDOW_SECONDS] + [now]
        if len(self.failures) >= self.max_failures:
            self.locked_until = now + LOCKOUT_SECONDS
            self.failures = []

    def record_success(self) -> None:
        self.failures = []
        self.locked_until = 0.0


_process_throttle = SignInThrottle(max_failures=PROCESS_MAX_FAILURES)
_process_lock = threading.Lock()


@dataclass(frozen=True)
class SignInOutcome:
    ok: bool
    message: str


def sign_in(session: MutableMapping, role: str, password: str | None, config: HasStaffPassword,
            clock: Callable[[], float] = time.monotonic,
            process_throttle: SignInThrottle | None = None) -> SignInOutcome:
    """Check a sign-in for this session, throttled; on success the session holds the role."""
    shared = _process_throttle if process_throttle is None else process_throttle
    throttle = session.get(SESSION_THROTTLE_KEY)
    if not isinstance(throttle, SignInThrottle):
        throttle = SignInThrottle()
        session[SESSION_THROTTLE_KEY] = throttle
    now = clock()
    with _process_lock:
        wait = max(throttle.seconds_locked(now), shared.seconds_locked(now))
    if wait > 0:
        return SignInOutcome(False, f"Too many wrong passwords. Try again in {int(wait) + 1} s.")
    if authenticate(role, password, config):
        throttle.record_success()
        session[SESSION_ROLE_KEY] = role
        return SignInOutcome(True, f"Signed in as {role}.")
    with _process_lock:
        shared.record_failure(now)
    throttle.record_failure(now)
    wait = throttle.seconds_locked(now)
    if wait > 0:
        return SignInOutcome(False, f"Wrong password. Too many attempts: wait {int(wait)} s.")
    return SignInOutcome(False, "Wrong password. Ask the course owner for the staff password "
                                "(it is printed to the app's console on first start).")


def sign_out(session: MutableMapping) -> None:
    session.pop(SESSION_ROLE_KEY, None)
    session.pop(SESSION_ACCOUNT_KEY, None)


def _token_serializer(config):
    """Signs staff tokens with a key of their own (var/session_key, made once), bound to the
    current staff password: changing the password ends every staff session."""
    from itsdangerous import URLSafeTimedSerializer

    from course.config import _read_or_create_secret

    key, _ = _read_or_create_secret(config.home / SESSION_KEY_FILE, lambda: secrets.token_hex(32))
    return URLSafeTimedSerializer(key, salt="staff-sign-in"), hmac.new(
        key.encode(), (config.staff_password or "").encode(), hashlib.sha256).hexdigest()[:16]


def staff_token(config, role: str, account: str | None) -> str:
    """A signed, expiring token for the url, so a trainer's reload keeps them signed in."""
    serializer, password_tag = _token_serializer(config)
    return serializer.dumps({"role": role, "account": account or "", "pw": password_tag})


def staff_from_token(config, token: str | None,
                     max_age: float = STAFF_TOKEN_MAX_AGE) -> tuple[str, str | None] | None:
    """(role, account) of a valid token; None when forged, expired or from an old password."""
    from itsdangerous import BadSignature

    if not token or not isinstance(token, str) or len(token) > 1000:
        return None
    serializer, password_tag = _token_serializer(config)
    try:
        data = serializer.loads(token, max_age=max_age)
    except BadSignature:   # includes SignatureExpired
        return None
    if not isinstance(data, dict) or data.get("role") not in ROLES or \
            not hmac.compare_digest(str(data.get("pw", "")), password_tag):
        return None
    return data["role"], (str(data.get("account") or "") or None)


def require_role(session: Mapping, role: str) -> bool:
    """Whether the signed-in staff role (if any) may open a page meant for `role`."""
    if role not in ROLES:
        raise AuthError(f"Unknown staff role {role!r}; choose one of: {', '.join(ROLES)}.")
    current = session.get(SESSION_ROLE_KEY)
    return isinstance(current, str) and role in ROLE_GRANTS.get(current, frozenset())
