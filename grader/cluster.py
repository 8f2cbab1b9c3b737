"""Where the grading runs: in this process, an embedded Dask LocalCluster, or an existing cluster.

`run_jobs` hands each submission's `Job` to `grader.worker.grade_one` and yields outcomes as they
finish, so the caller can commit each one at once; a task that fails, or kills its worker, fails
only itself.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any, Iterable, Iterator

from grader.report import GradeError
from grader.settings import check_scheduler
from grader.worker import Job, Outcome, grade_one

CONNECT_TIMEOUT = 10  # seconds to reach a scheduler before saying it is unreachable
WORKER_WAIT = 60  # seconds to wait for a cluster's first worker
ALLOWED_FAILURES = 2  # a submission whose worker dies 3 times is reported, not tried forever


def scheduler_address(value: Any, where: str = "--scheduler") -> str | None:
    """A Dask scheduler address as given by a user; None for "local" (this machine) or nothing."""
    try:
        return check_scheduler(value)
    except ValueError as exc:
        raise GradeError(f"{where}: {exc}") from None


def grading_scheduler(course: Any) -> str | None:
    """Where the course's grading runs: theater.toml's `[grading] scheduler`, or None for this machine.

    The app and `theater grade` pass it to `grade(..., scheduler=...)`.
    """
    return scheduler_address(course.config.grading.scheduler)  # checked when the course opened


@contextlib.contextmanager
def dask_client(workers: int, jobs: int, scheduler: str | None) -> Iterator[Any]:
    """A Dask client: on an embedded LocalCluster (one single-threaded process per worker) or `scheduler`."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler is None:
        # The scheduler runs in this process, so its settings are ours; workers are its child processes
        # and exit as soon as this process is gone, even after a kill -9 (distributed's parent pipe).
        with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
            cluster = LocalCluster(n_workers=min(workers, jobs), threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR,
                                   # its health/metrics server on a free local port, never a fixed one
                                   scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise GradeError(f"cannot reach the Dask scheduler at {scheduler}: {reason}") from None
    try:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT)
        except TimeoutError:
            raise GradeError(f"the Dask scheduler at {scheduler} has had no worker for {WORKER_WAIT} s: "
                             f"start `dask worker {scheduler}` on a machine with bubblewrap") from None
        yield client
    finally:
        client.close()


def run_jobs(jobs: Iterable[tuple[Job, Any]], count: int, workers: int,
              scheduler: str | None = None) -> Iterator[tuple[Any, Outcome]]:
    """Yield (tag, outcome) as submissions finish; a task that fails or kills its worker fails only itself.

    One submission with no cluster named is graded in this process (no cluster to start). Otherwise
    each job is a Dask task; at most two per worker thread are handed out at a time, so a big class
    never holds every notebook in memory at once.
    """
    if scheduler is None and (workers == 1 or count <= 1):
        for job, tag in jobs:
            yield tag, grade_one(job)
        return
    from distributed import as_completed

    with dask_client(workers, count, scheduler) as client:
        queue = iter(jobs)
        tags: dict[str, tuple[str, Any]] = {}
        running = as_completed()

        def submit_next() -> bool:
            item = next(queue, None)
            if item is None:
                return False
            job, tag = item
            key = f"grade-{job.assignment.name}-{job.learner}-{uuid.uuid4().hex[:12]}"
            tags[key] = (job.learner, tag)
            running.add(client.submit(grade_one, job, key=key, pure=False))
            return True

        window = max(2, 2 * sum(client.nthreads().values()))
        while len(tags) < window and submit_next():
            pass
        for future in running:
            learner, tag = tags.pop(future.key)
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - a task that raised, or whose workers kept dying
                outcome = Outcome(learner=learner, ok=False,
                                  error=f"the cluster could not grade it: {type(exc).__name__}: {str(exc)[:300]}")
            future.release()
            window = max(window, 2 * sum(client.nthreads().values()))  # a cluster may grow while grading
            while len(tags) < window and submit_next():
                pass
            yield tag, outcome
