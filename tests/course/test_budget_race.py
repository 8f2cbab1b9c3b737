"""Ten sessions of one learner checking one exercise at once never get past the attempt budget.

A learner can open the exercise in many tabs (or reach several app replicas) and click *Check*
in all of them together. Each session here starts at the same instant (a barrier) and asks the
store for a checked attempt; exactly the budget's worth may count, on SQLite and PostgreSQL,
from threads of one app process and from separate processes.
"""

from __future__ import annotations

import multiprocessing
import threading
import traceback

import pytest

from course.practice import attempt_state
from course.progress import ProgressStore

SESSIONS = 10
BUDGET = 3


def _check(store: ProgressStore, number: int, correct: bool = False) -> int | None:
    return store.record_checked_attempt("ada", "module", "exercise", f"answer {number}", correct,
                                        1.0 if correct else 0.2, budget=BUDGET)


def _race_threads(url: str, correct=lambda number: False) -> list[int | None]:
    """Ten threads sharing one store, as the sessions of one app process share its engine."""
    store = ProgressStore(url)
    start = threading.Barrier(SESSIONS)
    results: list = [None] * SESSIONS
    errors: list[str] = []

    def session(number: int) -> None:
        try:
            start.wait(timeout=60)
            results[number] = _check(store, number, correct(number))
        except BaseException:  # noqa: BLE001 - every failure is reported by the test
            errors.append(traceback.format_exc(limit=3))

    threads = [threading.Thread(target=session, args=(n,)) for n in range(SESSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    store.engine.dispose()
    assert errors == []
    return results


def _process_session(url: str, number: int, start, results) -> None:
    try:
        store = ProgressStore(url)
        start.wait(timeout=60)
        results.put((number, _check(store, number)))
        store.engine.dispose()
    except BaseException:  # noqa: BLE001 - every failure is reported by the test
        results.put((number, f"failed: {traceback.format_exc(limit=3)}"))


def _race_processes(url: str) -> list[int | None]:
    """Ten processes, each with its own engine, as app replicas or worker processes have."""
    ProgressStore(url).engine.dispose()   # the tables exist before the race
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(SESSIONS), context.Queue()
    workers = [context.Process(target=_process_session, args=(url, n, start, results))
               for n in range(SESSIONS)]
    for worker in workers:
        worker.start()
    got = dict(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    assert all(worker.exitcode == 0 for worker in workers)
    failures = [value for value in got.values() if isinstance(value, str)]
    assert failures == []
    return [got[n] for n in range(SESSIONS)]


def _exactly_the_budget_counted(url: str, results: list[int | None]) -> None:
    assert sorted(n for n in results if n is not None) == list(range(1, BUDGET + 1))
    assert results.count(None) == SESSIONS - BUDGET
    store = ProgressStore(url)
    rows = store.attempts_frame(learner_id="ada")
    store.engine.dispose()
    assert len(rows) == BUDGET and set(rows["kind"]) == {"exercise"}
    assert attempt_state(rows["score"].tolist(), budget=BUDGET).remaining == 0


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'progress.sqlite'}"


def test_ten_threads_checking_at_once_on_sqlite_count_exactly_the_budget(sqlite_url):
    _exactly_the_budget_counted(sqlite_url, _race_threads(sqlite_url))


def test_ten_processes_checking_at_once_on_sqlite_count_exactly_the_budget(sqlite_url):
    _exactly_the_budget_counted(sqlite_url, _race_processes(sqlite_url))


def test_a_success_in_the_race_makes_the_later_checks_free_practice(sqlite_url):
    results = _race_threads(sqlite_url, correct=lambda number: number != 0)
    store = ProgressStore(sqlite_url)
    rows = store.attempts_frame(learner_id="ada")
    store.engine.dispose()
    state = attempt_state(rows["score"].tolist(), budget=BUDGET)
    numbered = sorted(n for n in results if n)
    assert state.succeeded and state.checked == len(numbered) <= 2
    assert numbered == list(range(1, len(numbered) + 1))
    assert None not in results and len(rows) == SESSIONS     # practice checks are all kept


@pytest.mark.slow
def test_ten_threads_checking_at_once_on_postgresql_count_exactly_the_budget(postgres_url):
    _exactly_the_budget_counted(postgres_url, _race_threads(postgres_url))


@pytest.mark.slow
def test_ten_processes_checking_at_once_on_postgresql_count_exactly_the_budget(postgres_url):
    _exactly_the_budget_counted(postgres_url, _race_processes(postgres_url))


@pytest.mark.slow
def test_a_check_that_lost_its_number_to_another_counts_again_on_postgresql(postgres_url,
                                                                            monkeypatch):
    """The interleaving a race produces, made certain: another session's check commits after this
    one counted the attempts and before it writes. The unique number refuses the second insert,
    and counting again finds the budget spent."""
    from course import progress

    store, other = ProgressStore(postgres_url), ProgressStore(postgres_url)
    assert _check(store, 1) == 1 and _check(store, 2) == 2
    real_now, interleaved = progress._now, []

    def now_with_a_rival():
        if not interleaved:
            interleaved.append(True)
            assert _check(other, 3) == 3       # commits check 3 in between
        return real_now()

    monkeypatch.setattr(progress, "_now", now_with_a_rival)
    assert _check(store, 4) is None
    assert interleaved and len(store.attempts_frame()) == BUDGET
    store.engine.dispose()
    other.engine.dispose()


def test_a_check_whose_budget_another_tab_spent_shows_no_result(app_home, monkeypatch):
    """This tab read the budget as open; before its check was recorded, other tabs used the last
    checks. The page records nothing, shows no result and says the budget is spent."""
    from course.modules import CONTENT_DIR, load_modules
    from tests.course.test_app_pages import _app, _errors, _open_module, _sign_in

    modules, _ = load_modules(CONTENT_DIR)
    module = next(m for m in modules if m.exercise and m.exercise.check == "goodhart.collapse_point")
    key = f"exercise:{module.exercise.id}"
    at = _open_module(_sign_in(_app()), module)
    real = ProgressStore.record_checked_attempt
    tabs = []

    def other_tabs_first(self, learner, module_id, item_id, *args, **kwargs):
        if not tabs:
            tabs.extend(real(self, learner, module_id, item_id, "other tab", False, 0.2,
                             budget=kwargs["budget"]) for _ in range(BUDGET))
        return real(self, learner, module_id, item_id, *args, **kwargs)

    monkeypatch.setattr(ProgressStore, "record_checked_attempt", other_tabs_first)
    at.number_input(key=f"{key}:number").set_value(0.99)
    at.button(key=f"{key}:check").click().run()
    assert not at.exception and tabs == [1, 2, 3]
    assert not any("Not yet" in e or "Correct" in e for e in _errors(at))
    assert not any("Correct" in s.value for s in at.success)
    assert any(f"used your {BUDGET} checked attempts" in c.value for c in at.caption)
    assert at.button(key=f"{key}:check").disabled
    frame = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}").attempts_frame(module.id)
    assert list(frame.loc[frame["kind"] == "exercise", "answer"]) == ["other tab"] * BUDGET
