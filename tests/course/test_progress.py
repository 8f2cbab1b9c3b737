import sqlite3
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from course.progress import (ProgressError, ProgressStore, learner_upsert, learners, learning_mirror,
                             open_progress_store, pre_post_scores)


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'progress.sqlite'}"


def test_attempts_are_recorded_with_every_column(url):
    store = ProgressStore(url)
    store.ensure_learner("ada", "Ada")
    store.record_attempt("ada", "m1", "proxy", "quiz", "Value doubled", False, 0.0,
                         "usage-equals-value", workshop_code="ROOM1")
    frame = store.attempts_frame()
    assert list(frame.columns) == ["learner_id", "module_id", "item_id", "kind", "answer", "correct",
                                   "score", "misconception", "workshop_code", "created_at"]
    row = frame.iloc[0]
    assert (row.learner_id, row.item_id, row.misconception, row.workshop_code) == (
        "ada", "proxy", "usage-equals-value", "ROOM1")
    assert not row.correct


def test_progress_survives_a_restart(url):
    first = ProgressStore(url)
    first.record_attempt("ada", "m1", "q1", "quiz", "a", True, 1.0, None)
    first.record_page_view("ada", "module-m1", 12.5)
    first.engine.dispose()
    reopened = ProgressStore(url)
    summary = reopened.learner_summary("ada", {"m1": 2})
    assert summary["modules"]["m1"]["item_scores"] == {"q1": 1.0}
    assert summary["last_page"] == "module-m1"
    assert summary["seconds_total"] == pytest.approx(12.5)


def test_sqlite_store_uses_wal(url):
    store = ProgressStore(url)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_unknown_attempt_kind_is_refused(url):
    with pytest.raises(ValueError, match="unknown attempt kind"):
        ProgressStore(url).record_attempt("ada", "m1", "q1", "guess", "a", True, 1.0, None)


def test_summary_counts_a_questions_first_answer_and_unanswered_items(url):
    store = ProgressStore(url)
    store.record_attempt("ada", "m1", "q1", "quiz", "x", False, 0.0, "m")
    store.record_attempt("ada", "m1", "q1", "quiz", "y", True, 1.0, None)   # practice: not counted
    store.record_attempt("ada", "m1", "q2", "quiz", "y", True, 1.0, None)
    store.record_attempt("ada", "m1", "q2", "quiz", "x", False, 0.0, "m")   # practice: not counted
    summary = store.learner_summary("ada", {"m1": 3, "m2": 1})
    assert summary["modules"]["m1"]["item_scores"] == {"q1": 0.0, "q2": 1.0}
    assert summary["modules"]["m1"]["mastery"] == "attempted"      # 1 of 3 items right
    assert summary["modules"]["m2"]["mastery"] == "not started"
    store.record_attempt("grace", "m1", "q1", "quiz", "y", True, 1.0, None)
    store.record_attempt("grace", "m1", "q2", "quiz", "y", True, 1.0, None)
    store.record_attempt("grace", "m1", "q3", "exercise", "0.3", False, 0.4, None)
    store.record_attempt("grace", "m1", "q3", "exercise", "0.5", True, 1.0, None)  # budgeted checks
    assert store.learner_summary("grace", {"m1": 3})["mastery"]["m1"] == "proficient"
    store.record_attempt("grace", "m1", "r1", "review", "x", False, 0.0, "m")
    store.record_attempt("grace", "m1", "r1", "review", "y", True, 1.0, None)  # a re-answer
    assert store.learner_summary("grace", {"m1": 3})["mastery"]["m1"] == "proficient"
    store.record_attempt("grace", "m1", "r2", "review", "y", True, 1.0, None)
    assert store.learner_summary("grace", {"m1": 3})["mastery"]["m1"] == "mastered"


def test_a_corrupted_database_is_moved_aside_not_deleted(tmp_path):
    path = tmp_path / "progress.sqlite"
    path.write_bytes(b"this is not a database" * 200)
    with pytest.raises(ProgressError, match="cannot be read"):
        ProgressStore(f"sqlite:///{path}")
    store, message = open_progress_store(f"sqlite:///{path}")
    aside = list(tmp_path.glob("progress.sqlite.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not a database")
    assert "moved aside" in message and str(aside[0]) in message
    store.record_attempt("ada", "m1", "q1", "quiz", "a", True, 1.0, None)
    assert len(store.attempts_frame()) == 1


def test_a_healthy_database_opens_without_a_message(url):
    ProgressStore(url).record_attempt("ada", "m1", "q1", "quiz", "a", True, 1.0, None)
    store, message = open_progress_store(url)
    assert message is None and len(store.attempts_frame()) == 1


def test_other_modules_can_add_tables_to_the_engine(url):
    store = ProgressStore(url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE workshop_rooms (code TEXT)")
    assert sqlite3.connect(url.removeprefix("sqlite:///")).execute(
        "SELECT count(*) FROM workshop_rooms").fetchone() == (0,)


def test_learning_mirror_puts_activity_beside_outcomes(url):
    store = ProgressStore(url)
    module = SimpleNamespace(id="m1", number=1, title="One", quiz=[1, 2], exercise=object())
    store.record_page_view("ada", "module-m1", 120)
    store.record_attempt("ada", "m1", "q1", "quiz", "a", False, 0.0, "x")
    store.record_attempt("ada", "m1", "q1", "quiz", "b", True, 1.0, None)
    store.record_attempt("ada", "m1", "ex", "exercise", "0.4", False, 0.5, None)
    store.record_hint("ada", "m1", "ex", 1)
    store.record_attempt("bob", "m1", "q1", "quiz", "b", True, 1.0, None)   # someone else
    row = learning_mirror(store, "ada", [module]).iloc[0]
    assert row["minutes_on_page"] == 2.0
    assert row["attempts"] == 3 and row["hints_opened"] == 1
    assert row["best_exercise_score"] == 0.5
    assert row["first_try_right"] == 0.0
    assert row["mastery"] == "attempted"


def test_pre_post_scores_compare_latest_answers(url):
    store = ProgressStore(url)
    answers = {"a": "yes", "b": "no"}
    store.record_attempt("ada", "pretest", "a", "pretest", "no", None, None, None)
    store.record_attempt("ada", "pretest", "b", "pretest", "no", None, None, None)
    assert pre_post_scores(store, "ada", answers) == {"pretest": 0.5, "posttest": None}
    store.record_attempt("ada", "posttest", "a", "posttest", "yes", None, None, None)
    store.record_attempt("ada", "posttest", "b", "posttest", "no", None, None, None)
    assert pre_post_scores(store, "ada", answers)["posttest"] == 1.0


def test_resume_page_skips_home_and_sign_in(url):
    store = ProgressStore(url)
    assert store.resume_page("ada") is None
    for page in ("signin", "home", "module-m2", "home", "capstone", "home"):
        store.record_page_view("ada", page, 1.0)
    store.record_page_view("bob", "module-m9", 1.0)
    assert store.resume_page("ada") == "capstone"


def test_a_database_that_breaks_while_running_gives_a_progress_error(tmp_path):
    path = tmp_path / "progress.sqlite"
    store = ProgressStore(f"sqlite:///{path}")
    store.record_attempt("ada", "m1", "q1", "quiz", "a", True, 1.0, None)
    store.engine.dispose()
    for extra in tmp_path.glob("progress.sqlite*"):
        extra.unlink()
    path.write_bytes(b"overwritten with junk" * 500)
    with pytest.raises(ProgressError):
        store.learner_summary("ada")
    with pytest.raises(ProgressError):
        store.record_attempt("ada", "m1", "q1", "quiz", "a", True, 1.0, None)
    with pytest.raises(ProgressError):
        store.resume_page("ada")


def test_an_in_memory_store_is_shared_between_threads():
    import threading

    store = ProgressStore("sqlite://")
    worker = threading.Thread(target=store.record_attempt,
                              args=("ada", "m1", "q1", "quiz", "a", True, 1.0, None))
    worker.start()
    worker.join()
    assert len(store.attempts_frame()) == 1


@pytest.mark.slow
def test_fifty_processes_write_at_once_without_failures_or_lost_updates(tmp_path):
    from tests.course.progress_writers import fifty_writers_leave_everything

    names = fifty_writers_leave_everything(f"sqlite:///{tmp_path / 'progress.sqlite'}")
    assert names["shared"] is None


def test_sign_in_is_one_dialect_upsert_and_keeps_the_latest_name(tmp_path):
    from sqlalchemy.dialects import postgresql, sqlite

    url = f"sqlite:///{tmp_path / 'p.sqlite'}"
    first, second = ProgressStore(url), ProgressStore(url)
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        plain = str(learner_upsert(dialect.name, "ada", None).compile(dialect=dialect))
        named = str(learner_upsert(dialect.name, "ada", "Ada").compile(dialect=dialect))
        assert "ON CONFLICT (learner_id) DO NOTHING" in plain
        assert "ON CONFLICT (learner_id) DO UPDATE SET display_name" in named
    first.ensure_learner("ada")
    second.ensure_learner("ada")
    second.ensure_learner("ada", "Ada L.")
    first.ensure_learner("ada")           # no name: keeps the one given
    with first.engine.connect() as conn:
        assert conn.execute(sa.select(learners.c.display_name)).all() == [("Ada L.",)]


def test_a_locked_database_is_retried_with_growing_backoff_and_other_errors_are_not(monkeypatch):
    from course import progress

    sleeps: list[float] = []
    monkeypatch.setattr(progress.time, "sleep", sleeps.append)
    monkeypatch.setattr(progress.random, "random", lambda: 0.5)
    locked = sa.exc.OperationalError("INSERT", None, Exception("database is locked"))
    outcomes = [locked, locked, locked, "saved"]

    def write():
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert progress.with_retry(write) == "saved"
    assert sleeps == [0.01, 0.02, 0.04]
    with pytest.raises(sa.exc.OperationalError, match="locked"):
        progress.with_retry(lambda: (_ for _ in ()).throw(locked), attempts=4)
    assert len(sleeps) == 3 + 3
    broken = sa.exc.OperationalError("INSERT", None, Exception("no such table: attempts"))
    with pytest.raises(sa.exc.OperationalError, match="no such table"):
        progress.with_retry(lambda: (_ for _ in ()).throw(broken))
    assert len(sleeps) == 6


def test_a_write_blocked_past_every_retry_is_one_clear_progress_error(tmp_path, monkeypatch):
    from course import progress

    store = ProgressStore(f"sqlite:///{tmp_path / 'p.sqlite'}")
    monkeypatch.setattr(progress.time, "sleep", lambda seconds: None)
    blocker = sqlite3.connect(tmp_path / "p.sqlite", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")   # another writer holds the lock and never lets go
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA busy_timeout=1")   # the pooled connection gives up quickly
    monkeypatch.setattr(progress, "RETRY_ATTEMPTS", 3)
    monkeypatch.setattr(progress.with_retry, "__defaults__", (3, 0.0))
    try:
        with pytest.raises(ProgressError, match="locked"):
            store.record_attempt("ada", "m", "q", "quiz", "a", True, 1.0, None)
    finally:
        blocker.execute("ROLLBACK")
    store.record_attempt("ada", "m", "q", "quiz", "a", True, 1.0, None)
    assert len(store.attempts_frame()) == 1


def exercise_inputs_are_kept_and_replaced(url: str) -> None:
    """Saved inputs come back after a restart; saving again replaces them; learners are apart."""
    first = ProgressStore(url)
    assert first.load_inputs("ada", "building-a-detector:flag-tokenmaxxers") is None
    first.save_inputs("ada", "building-a-detector:flag-tokenmaxxers",
                      {"features": ["acceptance_rate"], "weight:acceptance_rate": -1.5})
    first.save_inputs("ada", "building-a-detector:flag-tokenmaxxers",
                      {"features": ["acceptance_rate", "linked_session_share"], "threshold": 0.7})
    first.save_inputs("grace", "building-a-detector:flag-tokenmaxxers", {"threshold": 2.0})
    first.engine.dispose()
    restarted = ProgressStore(url)
    assert restarted.load_inputs("ada", "building-a-detector:flag-tokenmaxxers") == {
        "features": ["acceptance_rate", "linked_session_share"], "threshold": 0.7}
    assert restarted.load_inputs("grace", "building-a-detector:flag-tokenmaxxers") == {"threshold": 2.0}
    assert restarted.load_inputs("ada", "other:exercise") is None
    restarted.engine.dispose()


def test_exercise_inputs_survive_a_restart_on_sqlite(tmp_path):
    exercise_inputs_are_kept_and_replaced(f"sqlite:///{tmp_path / 'progress.sqlite'}")


def checked_attempts_follow_the_budget(url: str) -> None:
    """Checks are numbered up to the budget, then refused with nothing written; after a success
    further checks are free practice; learners and exercises have budgets of their own."""
    store = ProgressStore(url)
    got = [store.record_checked_attempt("ada", "m1", "ex", str(i), False, 0.2, budget=3)
           for i in range(5)]
    assert got == [1, 2, 3, None, None]
    assert store.record_checked_attempt("ada", "m1", "other", "1", False, 0.2, budget=3) == 1
    assert store.record_checked_attempt("bob", "m1", "ex", "1", False, 0.2, budget=3) == 1
    assert store.record_checked_attempt("bob", "m1", "ex", "2", True, 1.0, budget=3) == 2
    assert [store.record_checked_attempt("bob", "m1", "ex", "3", False, 0.0, budget=3)
            for _ in range(4)] == [0, 0, 0, 0]
    frame = store.attempts_frame(learner_id="ada")
    assert (frame["item_id"] == "ex").sum() == 3 and set(frame["kind"]) == {"exercise"}
    assert len(store.attempts_frame(learner_id="bob")) == 6
    with pytest.raises(ValueError, match="at least 1"):
        store.record_checked_attempt("ada", "m1", "ex", "1", False, 0.2, budget=0)
    store.engine.dispose()


def test_checked_attempts_follow_the_budget_on_sqlite(url):
    checked_attempts_follow_the_budget(url)


def two_checks_with_one_number_are_refused_by_the_database(url: str) -> None:
    from course.progress import attempts

    store = ProgressStore(url)
    assert store.record_checked_attempt("ada", "m1", "ex", "1", False, 0.2, budget=3) == 1
    row = dict(learner_id="ada", module_id="m1", item_id="ex", kind="exercise", answer="2",
               correct=False, score=0.2, check_no=1, created_at=sa.func.now())
    with pytest.raises(sa.exc.IntegrityError):
        with store.engine.begin() as conn:
            conn.execute(attempts.insert().values(**row))
    with store.engine.begin() as conn:   # unnumbered attempts (quizzes, practice) are not limited
        for _ in range(2):
            conn.execute(attempts.insert().values(**{**row, "check_no": None}))
    store.engine.dispose()


def test_two_checks_with_one_number_are_refused_by_sqlite(url):
    two_checks_with_one_number_are_refused_by_the_database(url)


# The attempts table as the store created it before budgeted checks were numbered.
LEGACY = sa.MetaData()
sa.Table(
    "attempts", LEGACY,
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
)


def a_store_made_by_the_old_schema_is_upgraded_on_open(url: str) -> None:
    """A database written before checks were numbered opens, keeps its rows, gains the numbered
    column and its unique index, and counts its old checks against the budget."""
    import datetime as dt

    old = sa.create_engine(url)
    LEGACY.create_all(old)
    now = dt.datetime(2026, 11, 1, 9, 0)
    with old.begin() as conn:
        conn.execute(LEGACY.tables["attempts"].insert(), [
            dict(learner_id="ada", module_id="m1", item_id="q1", kind="quiz", answer="a",
                 correct=True, score=1.0, created_at=now),
            dict(learner_id="ada", module_id="m1", item_id="ex", kind="exercise", answer="0.1",
                 correct=False, score=0.2, created_at=now),
            dict(learner_id="ada", module_id="m1", item_id="ex", kind="exercise", answer="0.2",
                 correct=False, score=0.5, created_at=now),
        ])
    old.dispose()
    store = ProgressStore(url)
    inspector = sa.inspect(store.engine)
    assert "check_no" in {c["name"] for c in inspector.get_columns("attempts")}
    assert any(ix["name"] == "ux_attempts_check_no" and ix["unique"]
               for ix in inspector.get_indexes("attempts"))
    assert list(store.attempts_frame()["answer"]) == ["a", "0.1", "0.2"]
    assert store.record_checked_attempt("ada", "m1", "ex", "0.3", False, 0.5, budget=3) == 3
    assert store.record_checked_attempt("ada", "m1", "ex", "0.4", True, 1.0, budget=3) is None
    store.engine.dispose()
    again = ProgressStore(url)   # opening an upgraded store again changes nothing
    assert len(again.attempts_frame()) == 4
    assert again.learner_summary("ada", {"m1": 2})["modules"]["m1"]["item_scores"] == {
        "q1": 1.0, "ex": 0.5}
    again.engine.dispose()


def test_a_sqlite_store_made_by_the_old_schema_is_upgraded_on_open(url):
    a_store_made_by_the_old_schema_is_upgraded_on_open(url)


def test_a_database_locked_by_another_program_is_left_alone_not_moved_aside(tmp_path):
    """Contention is not corruption: a healthy database under another program's write lock is
    neither moved nor replaced; the error says what holds it."""
    import sqlite3

    from course.progress import DatabaseBusy

    path = tmp_path / "progress.sqlite"
    url = f"sqlite:///{path}"
    store = ProgressStore(url)
    store.record_attempt("ada", "m1", "q1", "quiz", "a", True, 1.0, None)
    store.engine.dispose()
    holder = sqlite3.connect(path, timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseBusy, match="locked by another program"):
            open_progress_store(url, open_attempts=1)
    finally:
        holder.rollback()
        holder.close()
    assert not list(tmp_path.glob("progress.sqlite.corrupt-*"))
    reopened, message = open_progress_store(url)
    assert message is None
    assert len(reopened.attempts_frame(learner_id="ada")) == 1


def test_a_busy_database_names_the_program_holding_its_lock(tmp_path):
    """"locked by another program" is not enough to act on: the message says which one."""
    import subprocess
    import sys

    from course.progress import DatabaseBusy

    path = tmp_path / "progress.sqlite"
    url = f"sqlite:///{path}"
    ProgressStore(url).engine.dispose()
    code = ("import sqlite3, sys, time; db = sqlite3.connect(sys.argv[1], timeout=0); "
            "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DatabaseBusy) as busy:
            open_progress_store(url, open_attempts=1)
    finally:
        holder.kill()
        holder.wait(10)
    assert f"(pid {holder.pid})" in str(busy.value) and "is busy" in str(busy.value), busy.value
    assert not list(tmp_path.glob("progress.sqlite.corrupt-*"))
