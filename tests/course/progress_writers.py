"""Many processes writing one progress store at once, as app replicas and workers do."""

from __future__ import annotations

import multiprocessing
import traceback

WRITES_PER_PROCESS = 20


def _writer(url: str, number: int, start, failures) -> None:
    from course.progress import ProgressStore

    try:
        store = ProgressStore(url)
        start.wait(timeout=60)
        store.ensure_learner("shared")            # every process signs the same learner in first
        store.ensure_learner(f"p{number}", f"Process {number}")
        for item in range(WRITES_PER_PROCESS):
            store.ensure_learner(f"newcomer-{item}")  # all processes sign each newcomer in at once
            store.record_attempt(f"p{number}", "module", f"item-{item}", "quiz", "a", True, 1.0, None)
            if item % 5 == 0:
                store.record_page_view("shared", f"page-{number}", 1.0)
        store.engine.dispose()
    except BaseException:  # noqa: BLE001 - every failure is counted by the parent
        failures.put(f"process {number}: {traceback.format_exc(limit=3)}")


def run_writers(url: str, processes: int) -> list[str]:
    """Start `processes` writers together; return the failures they reported (none expected)."""
    context = multiprocessing.get_context("fork")
    start = context.Barrier(processes)
    failures = context.Queue()
    workers = [context.Process(target=_writer, args=(url, number, start, failures))
               for number in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    found = []
    while not failures.empty():
        found.append(failures.get())
    found += [f"process exited with {w.exitcode}" for w in workers if w.exitcode != 0]
    return found


def fifty_writers_leave_everything(url: str) -> dict:
    """Run 50 writers on an empty store at `url`, check that nothing failed or was lost, and
    return the learners' names (learner id -> display name) for further checks."""
    import sqlalchemy as sa

    from course.progress import ProgressStore, learners

    ProgressStore(url).engine.dispose()
    assert run_writers(url, 50) == []
    store = ProgressStore(url)
    try:
        attempts = store.attempts_frame()
        assert len(attempts) == 50 * WRITES_PER_PROCESS
        assert attempts.groupby("learner_id").size().eq(WRITES_PER_PROCESS).all()
        assert len(store.page_views_frame("shared")) == 50 * len(range(0, WRITES_PER_PROCESS, 5))
        with store.engine.connect() as conn:
            names = dict(conn.execute(sa.select(learners.c.learner_id, learners.c.display_name)).all())
    finally:
        store.engine.dispose()
    assert len(names) == 51 + WRITES_PER_PROCESS and names["p7"] == "Process 7"
    return names
