"""Server-side sign-in sessions: what a URL's handle stands for, until sign-out or expiry.

A sign-in creates a row here and hands the browser a random handle (`?u=` for a learner, `?staff=`
for staff, `?view=` for a projector). The handle is the only thing the URL carries; the store keeps
its SHA-256 only, so a copy of the database lets nobody in. A session ends when:

- its owner signs out (the row is revoked: the old URL, opened anywhere, lands on sign-in);
- it has not been used for the idle lifetime, or the absolute lifetime has passed;
- its credential changed: each row keeps the version of the password or access code it was made
  with (course.auth), so a password reset (`theater users add --replace`) or a re-issued code ends
  every session made before, whichever process made the change;
- an instructor revokes it (Instructor → Sign-in sessions), or, for a presenter link, its room closes.

Pure SQLAlchemy (no Streamlit): the app passes in the progress store's engine (SQLite or PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa

from course.schema import create_tables

KINDS = ("learner", "staff", "presenter")
HANDLE_BYTES = 32                    # 256 random bits per handle
TOUCH_SECONDS = 60.0                 # last_seen is written at most once a minute per session
KNOWN_CLIENT_DAYS = 30.0             # an address that signed an account in lately is its owner's
PURGE_DAYS = 30.0                    # ended sessions are kept this long for the instructor's list
MAX_HANDLE_LENGTH = 200

metadata = sa.MetaData()
sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id", sa.String(64), primary_key=True),            # sha256 hex of the handle
    sa.Column("kind", sa.String(16), nullable=False),            # learner | staff | presenter
    sa.Column("who", sa.String(200), nullable=False),            # learner id or staff account
    sa.Column("role", sa.String(20), nullable=False),            # learner | instructor | trainer | presenter
    sa.Column("scope", sa.String(64)),                           # a presenter link's room code
    sa.Column("credential", sa.String(64), nullable=False, default=""),
    sa.Column("client", sa.String(100), nullable=False, default=""),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_seen", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),        # the absolute end
    sa.Column("revoked_at", sa.DateTime),
    sa.Column("revoked_reason", sa.String(100)),
    sa.Index("ix_sessions_who", "kind", "who"),
    sa.Index("ix_sessions_scope", "scope"),
)

T = TypeVar("T")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def session_id(handle: str) -> str:
    """The stored id of a handle: its SHA-256, so the table never holds a usable handle."""
    return hashlib.sha256(handle.encode("utf-8")).hexdigest()


def _retry(action: Callable[[], T], attempts: int = 12) -> T:
    """Retry a write while SQLite is locked or PostgreSQL reports a serialisation conflict."""
    words = ("locked", "busy", "deadlock", "could not serialize", "already exists")
    for attempt in range(attempts):
        try:
            return action()
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError) as exc:
            if attempt == attempts - 1 or not any(w in str(exc.orig or exc).lower() for w in words):
                raise
            time.sleep(min(1.0, 0.01 * 2 ** attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Session:
    id: str
    kind: str
    who: str
    role: str
    scope: str | None
    credential: str
    client: str
    created_at: dt.datetime
    last_seen: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None
    revoked_reason: str | None = None

    @property
    def short_id(self) -> str:
        """What the instructor's list shows: enough to tell sessions apart, useless to sign in."""
        return self.id[:10]


class SessionStore:
    """Sessions in the progress database; idle and absolute lifetimes in seconds."""

    def __init__(self, engine: sa.Engine, idle_seconds: float = 2 * 3600.0,
                 absolute_seconds: float = 12 * 3600.0, clock: Callable[[], dt.datetime] | None = None):
        if idle_seconds <= 0 or absolute_seconds <= 0:
            raise ValueError("session lifetimes must be positive")
        self.engine = engine
        self.idle = dt.timedelta(seconds=idle_seconds)
        self.absolute = dt.timedelta(seconds=absolute_seconds)
        self.clock = clock or (lambda: utcnow())   # looked up at each call, so a test can move it
        self.is_sqlite = engine.dialect.name == "sqlite"
        _retry(lambda: create_tables(engine, metadata))

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            if self.is_sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    def _execute(self, statement: sa.Executable) -> int:
        def run() -> int:
            with self._write() as conn:
                return conn.execute(statement).rowcount
        return _retry(run)

    # ------------------------------------------------------------------ create, look up, touch

    def create(self, kind: str, who: str, role: str, *, credential: str = "", client: str = "",
               scope: str | None = None, expires_at: dt.datetime | None = None) -> str:
        """A new session; returns its handle (shown once, to the browser, never stored). It ends
        `absolute_seconds` from now, or at `expires_at` when given (a presenter link: its room's end)."""
        if kind not in KINDS:
            raise ValueError(f"unknown session kind {kind!r}")
        now = self.clock()
        end = now + self.absolute if expires_at is None else expires_at
        handle = secrets.token_urlsafe(HANDLE_BYTES)
        self._execute(sessions.insert().values(
            id=session_id(handle), kind=kind, who=who[:200], role=role, scope=scope,
            credential=credential or "", client=(client or "")[:100], created_at=now, last_seen=now,
            expires_at=end))
        if secrets.randbelow(200) == 0:      # now and then, forget sessions that ended long ago
            self.purge()
        return handle

    def _row(self, sid: str) -> Session | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sessions).where(sessions.c.id == sid)).mappings().first()
        return Session(**row) if row is not None else None

    def ended(self, record: Session, now: dt.datetime | None = None) -> str | None:
        """Why a session is over (revoked, idle, expired), or None while it is active."""
        now = self.clock() if now is None else now
        if record.revoked_at is not None:
            return record.revoked_reason or "revoked"
        if now >= record.expires_at:
            return "expired"
        if now - record.last_seen > self.idle:
            return "idle"
        return None

    def lookup(self, handle: str | None, kind: str | None = None, touch: bool = True) -> Session | None:
        """The active session a handle stands for (of `kind`, when given), or None; using it
        counts as activity for the idle lifetime."""
        if not handle or not isinstance(handle, str) or len(handle) > MAX_HANDLE_LENGTH:
            return None
        record = self._row(session_id(handle))
        if record is None or (kind is not None and record.kind != kind):
            return None
        now = self.clock()
        if self.ended(record, now) is not None:
            return None
        if touch and (now - record.last_seen).total_seconds() >= TOUCH_SECONDS:
            self._execute(sessions.update().where(sessions.c.id == record.id)
                          .where(sessions.c.revoked_at.is_(None)).values(last_seen=now))
        return record

    # ------------------------------------------------------------------ revoke

    def revoke(self, handle: str | None, reason: str = "signed out") -> bool:
        if not handle or not isinstance(handle, str) or len(handle) > MAX_HANDLE_LENGTH:
            return False
        return self.revoke_id(session_id(handle), reason)

    def revoke_id(self, sid: str, reason: str = "revoked by an instructor") -> bool:
        """End one session by its stored id (the instructor's list knows ids, never handles)."""
        return self._execute(sessions.update().where(sessions.c.id == sid)
                             .where(sessions.c.revoked_at.is_(None))
                             .values(revoked_at=self.clock(), revoked_reason=reason[:100])) > 0

    def revoke_user(self, kind: str, who: str, reason: str, current_credential: str | None = None) -> int:
        """End every session of one learner or staff account; with `current_credential`, only those
        made with another (older) password or access code."""
        statement = (sessions.update().where(sessions.c.kind == kind).where(sessions.c.who == who)
                     .where(sessions.c.revoked_at.is_(None)))
        if current_credential is not None:
            statement = statement.where(sessions.c.credential != current_credential)
        return self._execute(statement.values(revoked_at=self.clock(), revoked_reason=reason[:100]))

    def revoke_scope(self, scope: str, reason: str = "room closed") -> int:
        """End every presenter link of a room."""
        return self._execute(sessions.update().where(sessions.c.kind == "presenter")
                             .where(sessions.c.scope == scope).where(sessions.c.revoked_at.is_(None))
                             .values(revoked_at=self.clock(), revoked_reason=reason[:100]))

    # ------------------------------------------------------------------ lists

    def active(self, kinds: tuple[str, ...] = KINDS) -> list[Session]:
        """Sessions still in force, newest first."""
        now = self.clock()
        query = (sa.select(sessions).where(sessions.c.kind.in_(kinds))
                 .where(sessions.c.revoked_at.is_(None)).where(sessions.c.expires_at > now)
                 .where(sessions.c.last_seen >= now - self.idle)
                 .order_by(sessions.c.created_at.desc()))
        with self.engine.connect() as conn:
            return [Session(**row) for row in conn.execute(query).mappings()]

    def known_client(self, kind: str, who: str, client: str,
                     days: float = KNOWN_CLIENT_DAYS) -> bool:
        """Whether `client` (an address) signed `who` in lately: then it is the owner's, and
        others' wrong guesses at `who` do not lock it out (course.auth)."""
        if not client:
            return False
        since = self.clock() - dt.timedelta(days=days)
        query = (sa.select(sa.func.count()).select_from(sessions).where(sessions.c.kind == kind)
                 .where(sessions.c.who == who).where(sessions.c.client == client[:100])
                 .where(sessions.c.created_at >= since))
        with self.engine.connect() as conn:
            return bool(conn.execute(query).scalar())

    def purge(self, days: float = PURGE_DAYS) -> int:
        """Forget sessions that ended more than `days` ago (their absolute end passed)."""
        cutoff = self.clock() - dt.timedelta(days=days)
        return self._execute(sessions.delete().where(sessions.c.expires_at < cutoff))
