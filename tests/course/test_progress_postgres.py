"""The progress store on a real PostgreSQL server, as a multi-replica deployment runs it."""

import pytest

from course.progress import ProgressStore

pytestmark = pytest.mark.slow


def test_progress_on_postgresql_survives_a_restart(postgres_url):
    first = ProgressStore(postgres_url)
    first.ensure_learner("ada", "Ada")
    first.record_attempt("ada", "metric-became-mission", "proxy", "quiz", "Nothing about value yet",
                         True, 1.0, None)
    first.record_attempt("ada", "metric-became-mission", "variants", "quiz", "Extremal",
                         False, 0.0, "confuses-causal-and-extremal")
    first.record_page_view("ada", "module:metric-became-mission", 42.5)
    first.record_hint("ada", "metric-became-mission", "exercise", 1)
    first.engine.dispose()

    restarted = ProgressStore(postgres_url)
    attempts = restarted.attempts_frame()
    assert list(attempts["item_id"]) == ["proxy", "variants"]
    assert attempts["correct"].tolist() == [True, False]
    summary = restarted.learner_summary("ada")
    assert summary["attempts_total"] == 2
    assert summary["hints_total"] == 1
    assert summary["last_page"] == "module:metric-became-mission"
    assert summary["seconds_total"] == pytest.approx(42.5)
    restarted.engine.dispose()


def test_two_replicas_share_one_postgresql_store(postgres_url):
    replica_a, replica_b = ProgressStore(postgres_url), ProgressStore(postgres_url)
    replica_a.ensure_learner("grace")
    replica_b.record_attempt("grace", "anatomy-of-tokenmaxxing", "burst", "quiz", "b", True, 1.0, None)
    assert len(replica_a.attempts_frame()) == 1
    replica_a.engine.dispose()
    replica_b.engine.dispose()


def test_fifty_processes_write_one_postgresql_store_without_failures_or_lost_updates(postgres_url):
    from tests.course.progress_writers import fifty_writers_leave_everything

    fifty_writers_leave_everything(postgres_url)


def test_exercise_inputs_survive_a_restart_on_postgresql(postgres_url):
    from tests.course.test_progress import exercise_inputs_are_kept_and_replaced

    exercise_inputs_are_kept_and_replaced(postgres_url)


def test_checked_attempts_follow_the_budget_on_postgresql(postgres_url):
    from tests.course.test_progress import checked_attempts_follow_the_budget

    checked_attempts_follow_the_budget(postgres_url)


def test_two_checks_with_one_number_are_refused_by_postgresql(postgres_url):
    from tests.course.test_progress import two_checks_with_one_number_are_refused_by_the_database

    two_checks_with_one_number_are_refused_by_the_database(postgres_url)


def test_a_postgresql_store_made_by_the_old_schema_is_upgraded_on_open(postgres_url):
    from tests.course.test_progress import a_store_made_by_the_old_schema_is_upgraded_on_open

    a_store_made_by_the_old_schema_is_upgraded_on_open(postgres_url)
