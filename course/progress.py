"""The progress store: every attempt, hint and page visit, so learners resume and see themselves."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TypeVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from course.modules import mastery
from course.practice import mastery_item_scores, reviews_passed
from course.schema import lock_schema
from datasets.errors import UserError
from datasets.filelocks import lock_holders

ATTEMPT_KINDS = ("quiz", "retrieval", "prediction", "exercise", "pretest", "posttest", "review")
SCORED_KINDS = ("quiz", "exercise")
ATTEMPT_COLUMNS = ["learner_id", "module_id", "item_id", "kind", "answer", "correct", "score",
                   "misconception", "workshop_code", "created_at"]

metadata = sa.MetaData()
learners = sa.Table(
    "learners", metadata,
    sa.Column("learner_id", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(200)),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
attempts = sa.Table(
    "attempts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("learner_id", sa.String(64), nullable=False, index=True),
    sa.Column("module_id", sa.String(100), nullable=False, index=True),
    sa.Column("item_id", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("answer", sa.Text),
    sa.Column("correct", sa.Boolean),
    sa.Column("score", sa.Float),
    sa.Column("misconception", sa.String(200)),
    sa.Column("workshop_code", sa.String(50), index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    # The number of a budgeted exercise check (1 .. budget) among the learner's checks of that item;
    # NULL for every other attempt, for practice checks after a success and for rows written before
    # the column existed. The unique index below makes two checks with one number impossible.
    sa.Column("check_no", sa.Integer),
)
CHECK_NUMBER_INDEX = sa.Index("ux_attempts_check_no", attempts.c.learner_id, attempts.c.module_id,
                              attempts.c.item_id, attempts.c.kind, attempts.c.check_no, unique=True)
page_views = sa.Table(
    "page_views", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("learner_id", sa.String(64), nullable=False, index=True),
    sa.Column("page", sa.String(200), nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
hints = sa.Table(
    "hints", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("learner_id", sa.String(64), nullable=False, index=True),
    sa.Column("module_id", sa.String(100), nullable=False),
    sa.Column("item_id", sa.String(200), nullable=False),
    sa.Column("tier", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
exercise_inputs = sa.Table(
    "exercise_inputs", metadata,
    sa.Column("learner_id", sa.String(64), primary_key=True),
    sa.Column("item_id", sa.String(200), primary_key=True),
    sa.Column("inputs", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)


class ProgressError(UserError):
    """The progress database cannot be opened or written."""


class DatabaseBusy(ProgressError):
    """Another program holds the database's lock: nothing is wrong with the data, so nothing is
    moved or replaced; the caller waits, retries later or names the other program."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def default_url() -> str:
    """SQLite under the app's home (var/ unless THEATER_HOME says otherwise)."""
    from course.config import default_home

    home = default_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'progress.sqlite'}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# Messages of lock contention that a later attempt gets past: SQLite's lock, PostgreSQL's deadlock
# and serialization failures, and a server briefly out of connections.
RETRYABLE = ("database is locked", "database table is locked", "busy", "deadlock detected",
             "could not serialize", "too many clients", "already exists")
RETRY_ATTEMPTS = 12
T = TypeVar("T")


def _retryable(exc: sa.exc.DBAPIError) -> bool:
    text = str(exc.orig or exc).lower()
    return any(words in text for words in RETRYABLE)


def with_retry(action: Callable[[], T], attempts: int = RETRY_ATTEMPTS, base: float = 0.01) -> T:
    """Run a database write, retrying with exponential backoff and jitter while the database is
    locked by other writers; other errors, and the last failed attempt, are raised."""
    for attempt in range(attempts):
        try:
            return action()
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError) as exc:
            if attempt == attempts - 1 or not _retryable(exc):
                raise
            time.sleep(min(1.0, base * 2 ** attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def _dialect_insert(dialect: str, table: sa.Table):
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        raise ProgressError(f"The progress store supports SQLite and PostgreSQL, not {dialect}.")
    return insert(table)


def learner_upsert(dialect: str, learner_id: str, display_name: str | None) -> sa.Executable:
    """INSERT … ON CONFLICT for SQLite and PostgreSQL: no check-then-insert race between sign-ins."""
    statement = _dialect_insert(dialect, learners).values(learner_id=learner_id, display_name=display_name, created_at=_now())
    if display_name:
        return statement.on_conflict_do_update(index_elements=[learners.c.learner_id],
                                               set_={"display_name": statement.excluded.display_name})
    return statement.on_conflict_do_nothing(index_elements=[learners.c.learner_id])


def _upgrade_attempts(conn: sa.Connection) -> None:
    """Bring an `attempts` table made before budgeted checks were numbered up to date: a nullable
    column (old rows keep NULL) and its unique index. Safe to run on every open."""
    columns = {column["name"] for column in sa.inspect(conn).get_columns("attempts")}
    if "check_no" not in columns:
        conn.exec_driver_sql("ALTER TABLE attempts ADD COLUMN check_no INTEGER")
    CHECK_NUMBER_INDEX.create(conn, checkfirst=True)


def _duplicate_number(exc: sa.exc.IntegrityError) -> bool:
    text = str(exc.orig or exc).lower()
    return "unique" in text or "duplicate key" in text


class ProgressStore:
    """Attempts, hints and page time in one database (SQLite by default, any SQLAlchemy URL)."""

    def __init__(self, url: str | None = None, open_attempts: int = RETRY_ATTEMPTS):
        self.url = url or default_url()
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.sqlite_path = (Path(parsed.database) if self.is_sqlite and parsed.database
                            and parsed.database != ":memory:" else None)
        if self.sqlite_path is not None:
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict = {}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 5}
            if self.sqlite_path is None:   # in memory: one shared connection, or each thread
                kwargs["poolclass"] = sa.pool.StaticPool   # would see its own empty database
        self.engine: sa.Engine = sa.create_engine(self.url, **kwargs)
        if self.is_sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            with_retry(self._create_tables, attempts=open_attempts)
        except sa.exc.DatabaseError as exc:
            self.engine.dispose()
            where = self.sqlite_path or parsed.render_as_string(hide_password=True)
            if _retryable(exc):
                holders = lock_holders(self.sqlite_path) if self.sqlite_path is not None else []
                held = (f"held by {', '.join(holders)}" if holders else
                        "another app, a backup, or a shell with sqlite3 open")
                raise DatabaseBusy(f"The progress database {where} is busy: it is locked by another "
                                   f"program ({held}). Nothing was changed; stop that program, or "
                                   "try again in a minute.") from exc
            raise ProgressError(f"The progress database {where} cannot be read "
                                f"({exc.orig or exc.__class__.__name__}).") from exc

    @contextmanager
    def _write_transaction(self) -> Iterator[sa.Connection]:
        """A transaction that takes SQLite's write lock up front (BEGIN IMMEDIATE), so it waits for
        other writers (busy_timeout) instead of failing when it turns from reading to writing."""
        with self.engine.begin() as conn:
            if self.is_sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    def _create_tables(self) -> None:
        with self._write_transaction() as conn:
            if self.is_sqlite:
                status = conn.exec_driver_sql("PRAGMA quick_check").scalar()
                if status != "ok":
                    raise sa.exc.DatabaseError("PRAGMA quick_check", None, Exception(status))
            lock_schema(conn)        # replicas opening one empty database at once (course.schema)
            metadata.create_all(conn)
            _upgrade_attempts(conn)

    def _write(self, *statements: sa.Executable) -> None:
        """Run statements in one write transaction, retried while other writers hold the lock."""
        def run() -> None:
            with self._write_transaction() as conn:
                for statement in statements:
                    conn.execute(statement)
        with_retry(run)

    def _insert(self, table: sa.Table, **values) -> None:
        values.setdefault("created_at", _now())
        try:
            self._write(table.insert().values(**values))
        except sa.exc.DatabaseError as exc:
            raise ProgressError(f"Could not save progress ({exc.orig or exc}).") from exc

    def ensure_learner(self, learner_id: str, display_name: str | None = None) -> None:
        """Create the learner if new (or rename them): one upsert, so two first sign-ins at once
        never fail on the primary key."""
        try:
            self._write(learner_upsert(self.engine.dialect.name, learner_id, display_name))
        except sa.exc.DatabaseError as exc:
            raise ProgressError(f"Could not save the learner ({exc.orig or exc}).") from exc

    def save_inputs(self, learner_id: str, item_id: str, inputs: dict) -> None:
        """Keep the learner's current exercise inputs (one row per learner and exercise, replaced
        on each change), so a reload or a later visit puts their work back."""
        text = json.dumps(inputs, sort_keys=True, default=str)
        statement = _dialect_insert(self.engine.dialect.name, exercise_inputs).values(
            learner_id=learner_id, item_id=item_id, inputs=text, updated_at=_now())
        statement = statement.on_conflict_do_update(
            index_elements=[exercise_inputs.c.learner_id, exercise_inputs.c.item_id],
            set_={"inputs": statement.excluded.inputs, "updated_at": statement.excluded.updated_at})
        try:
            self._write(statement)
        except sa.exc.DatabaseError as exc:
            raise ProgressError(f"Could not save your inputs ({exc.orig or exc}).") from exc

    def load_inputs(self, learner_id: str, item_id: str) -> dict | None:
        """The inputs last saved for this learner and exercise, or None."""
        query = sa.select(exercise_inputs.c.inputs).where(
            exercise_inputs.c.learner_id == learner_id, exercise_inputs.c.item_id == item_id)
        try:
            with self.engine.connect() as conn:
                text = conn.execute(query).scalar()
        except sa.exc.DatabaseError as exc:
            raise ProgressError(f"Could not read progress ({exc.orig or exc}).") from exc
        if text is None:
            return None
        try:
            saved = json.loads(text)
        except ValueError:
            return None
        return saved if isinstance(saved, dict) else None

    def record_attempt(self, learner_id: str, module_id: str, item_id: str, kind: str,
                       answer: str | None, correct: bool | None, score: float | None,
                       misconception: str | None, workshop_code: str | None = None) -> None:
        if kind not in ATTEMPT_KINDS:
            raise ValueError(f"unknown attempt kind {kind!r}; expected one of {ATTEMPT_KINDS}")
        self._insert(attempts, learner_id=learner_id, module_id=module_id, item_id=item_id,
                     kind=kind, answer=None if answer is None else str(answer), correct=correct,
                     score=None if score is None else float(score), misconception=misconception,
                     workshop_code=workshop_code)

    def record_checked_attempt(self, learner_id: str, module_id: str, item_id: str,
                               answer: str | None, correct: bool, score: float | None, *,
                               budget: int, workshop_code: str | None = None) -> int | None:
        """Record one checked attempt at an exercise if the budget allows it; None when it is spent.

        Returns the check's number (1 .. budget), or 0 for a practice check after a success
        (unlimited, never counted). Counting and writing are one transaction, and the number is
        held by a unique index, so checks sent at once from many tabs or replicas never exceed the
        budget: of two checks that counted the same attempts, the second's insert fails and it
        counts again. Attempts recorded before numbering existed are counted too.
        """
        if budget < 1:
            raise ValueError(f"the attempt budget must be at least 1, got {budget}")
        mine = sa.and_(attempts.c.learner_id == learner_id, attempts.c.module_id == module_id,
                       attempts.c.item_id == item_id, attempts.c.kind == "exercise")
        values = dict(learner_id=learner_id, module_id=module_id, item_id=item_id, kind="exercise",
                      answer=None if answer is None else str(answer), correct=bool(correct),
                      score=None if score is None else float(score), misconception=None,
                      workshop_code=workshop_code)

        def claim() -> int | None:
            with self._write_transaction() as conn:
                passed = [row.correct for row in
                          conn.execute(sa.select(attempts.c.correct).where(mine))]
                if any(passed):
                    number, check_no = 0, None        # solved already: a free practice check
                else:
                    number = check_no = len(passed) + 1
                    if number > budget:
                        return None
                conn.execute(attempts.insert().values(**values, check_no=check_no,
                                                      created_at=_now()))
                return number

        try:
            for _ in range(budget + RETRY_ATTEMPTS):
                try:
                    return with_retry(claim)
                except sa.exc.IntegrityError as exc:
                    if not _duplicate_number(exc):
                        raise
                    # another check took this number first: count again
            raise ProgressError("Could not save the check: too many checks of this exercise "
                                "arrived at once.")
        except sa.exc.DatabaseError as exc:
            raise ProgressError(f"Could not save progress ({exc.orig or exc}).") from exc

    def record_page_view(self, learner_id: str, page: str, seconds: float) -> None:
        self._insert(page_views, learner_id=learner_id, page=page, seconds=max(0.0, float(seconds)))

    def record_hint(self, learner_id: str, module_id: str, item_id: str, tier: int) -> None:
        self._insert(hints, learner_id=learner_id, module_id=module_id, item_id=item_id,
                     tier=int(tier))

    def _frame(self, query: sa.Select) -> pd.DataFrame:
        try:
            with self.engine.connect() as conn:
                result = conn.execute(query)
                return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        except sa.exc.DatabaseError as exc:
            raise ProgressError(f"Could not read progress ({exc.orig or exc}).") from exc

    def attempts_frame(self, module_id: str | None = None,
                       learner_id: str | None = None) -> pd.DataFrame:
        query = sa.select(*[attempts.c[name] for name in ATTEMPT_COLUMNS]).order_by(attempts.c.id)
        if module_id is not None:
            query = query.where(attempts.c.module_id == module_id)
        if learner_id is not None:
            query = query.where(attempts.c.learner_id == learner_id)
        return self._frame(query)

    def page_views_frame(self, learner_id: str) -> pd.DataFrame:
        return self._frame(sa.select(page_views.c.page, page_views.c.seconds,
                                     page_views.c.created_at)
                           .where(page_views.c.learner_id == learner_id)
                           .order_by(page_views.c.id))

    def hints_frame(self, learner_id: str) -> pd.DataFrame:
        return self._frame(sa.select(hints.c.module_id, hints.c.item_id, hints.c.tier,
                                     hints.c.created_at)
                           .where(hints.c.learner_id == learner_id).order_by(hints.c.id))

    def resume_page(self, learner_id: str, skip: tuple[str, ...] = ("home", "signin")) -> str | None:
        """The last page the learner visited other than the ones in skip (home, sign-in)."""
        query = (sa.select(page_views.c.page)
                 .where(page_views.c.learner_id == learner_id, page_views.c.page.not_in(skip))
                 .order_by(page_views.c.id.desc()).limit(1))
        try:
            with self.engine.connect() as conn:
                return conn.execute(query).scalar()
        except sa.exc.DatabaseError as exc:
            raise ProgressError(f"Could not read progress ({exc.orig or exc}).") from exc

    def learner_summary(self, learner_id: str,
                        items_per_module: dict[str, int] | None = None) -> dict:
        """Per module: attempts, the score mastery counts per scored item (a question's first
        answer, an exercise's best once passed), mastery; plus the page to resume."""
        frame = self.attempts_frame(learner_id=learner_id)
        views = self.page_views_frame(learner_id)
        modules: dict[str, dict] = {}
        for module_id, group in frame.groupby("module_id", sort=False):
            scored = group[group["kind"].isin(SCORED_KINDS)]
            item_scores = mastery_item_scores(scored)
            expected = (items_per_module or {}).get(str(module_id), len(item_scores))
            scores = list(item_scores.values()) + [0.0] * max(0, expected - len(item_scores))
            reviews = group[group["kind"] == "review"]
            modules[str(module_id)] = {
                "attempts": int(len(group)),
                "correct": int(group["correct"].fillna(False).astype(bool).sum()),
                "item_scores": item_scores,
                "mastery": mastery([min(1.0, max(0.0, x)) for x in scores],
                                   reviews_passed(reviews)),
                "last_at": group["created_at"].max(),
            }
        for module_id in items_per_module or {}:
            modules.setdefault(module_id, {"attempts": 0, "correct": 0, "item_scores": {},
                                           "mastery": "not started", "last_at": None})
        last_page = str(views["page"].iloc[-1]) if len(views) else None
        return {
            "learner_id": learner_id,
            "modules": modules,
            "mastery": {mid: info["mastery"] for mid, info in modules.items()},
            "last_page": last_page,
            "seconds_total": float(views["seconds"].sum()) if len(views) else 0.0,
            "attempts_total": int(len(frame)),
            "hints_total": int(len(self.hints_frame(learner_id))),
        }


def sqlite_damage(path: Path) -> str | None:
    """What SQLite's own check says is wrong with the file, or None when it is sound (or merely
    locked by another program, which is not damage)."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as connection:
            status = connection.execute("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError as exc:
        text = str(exc).lower()
        return None if ("locked" in text or "busy" in text) else str(exc)
    return None if status and status[0] == "ok" else (status[0] if status else "no answer")


def open_progress_store(url: str, open_attempts: int = RETRY_ATTEMPTS) -> tuple[ProgressStore, str | None]:
    """Open the store. A file that SQLite's own check finds damaged is moved aside (never deleted)
    and a fresh one made; a database another program has locked is left alone (DatabaseBusy)."""
    try:
        return ProgressStore(url, open_attempts), None
    except DatabaseBusy:
        raise
    except ProgressError as error:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite" or not parsed.database or \
                parsed.database == ":memory:":
            raise
        path = Path(parsed.database)
        if not path.is_file():   # not a damaged file (a folder, no permission): nothing to move
            raise
        if sqlite_damage(path) is None:   # sound after all: never swap in an empty database
            raise
        stamp = _now().strftime("%Y%m%dT%H%M%S")
        aside = path.with_name(f"{path.name}.corrupt-{stamp}")
        shutil.move(str(path), str(aside))
        for suffix in ("-wal", "-shm"):
            extra = path.with_name(path.name + suffix)
            if extra.exists():
                shutil.move(str(extra), str(aside.with_name(aside.name + suffix)))
        store = ProgressStore(url)
        return store, (f"{error} It was moved aside to {aside} (nothing was deleted) and a fresh "
                       "progress database was started.")


def learning_mirror(store: ProgressStore, learner_id: str, modules: list) -> pd.DataFrame:
    """One row per module: the learner's activity (minutes, attempts, hints) beside outcomes."""
    items = {m.id: len(m.quiz) + (1 if m.exercise else 0) for m in modules}
    summary = store.learner_summary(learner_id, items)
    views = store.page_views_frame(learner_id)
    hints_frame = store.hints_frame(learner_id)
    attempts_frame = store.attempts_frame(learner_id=learner_id)
    minutes = (views.groupby("page")["seconds"].sum() / 60.0) if len(views) else pd.Series(dtype=float)
    rows = []
    for module in modules:
        info = summary["modules"].get(module.id, {})
        mine = attempts_frame[attempts_frame["module_id"] == module.id]
        exercise = mine[mine["kind"] == "exercise"]
        scored = mine[mine["kind"].isin(SCORED_KINDS)]
        rows.append({
            "module": f"{module.number}. {module.title}",
            "module_id": module.id,
            "minutes_on_page": round(float(minutes.get(f"module-{module.id}", 0.0)), 1),
            "attempts": int(len(mine)),
            "hints_opened": int((hints_frame["module_id"] == module.id).sum()) if len(hints_frame) else 0,
            "first_try_right": (round(float(scored.groupby("item_id")["correct"].first()
                                            .fillna(False).astype(bool).mean()), 2)
                                if len(scored) else None),
            "best_exercise_score": (round(float(exercise["score"].max()), 2)
                                    if len(exercise) and exercise["score"].notna().any() else None),
            "mastery": info.get("mastery", "not started"),
        })
    return pd.DataFrame(rows)


def pre_post_scores(store: ProgressStore, learner_id: str, answers: dict[str, str]) -> dict:
    """Share right on the pre-test and post-test (latest answer per question); None if not taken."""
    frame = store.attempts_frame(learner_id=learner_id)
    result: dict[str, float | None] = {}
    for kind in ("pretest", "posttest"):
        part = frame[frame["kind"] == kind]
        if part.empty:
            result[kind] = None
            continue
        latest = part.groupby("item_id")["answer"].last()
        result[kind] = round(float(sum(answers.get(q) == a for q, a in latest.items())
                                   / max(1, len(answers))), 2)
    return result
