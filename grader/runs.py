"""Grading runs in the background of a long-lived process (the app): one per assignment at a time.

A page starts `grader.grade.grade()` — the function `theater grade` runs — in a thread and redraws
a progress bar from the run's counters while it works, so the page never freezes and a second
click (or a second instructor) on the same assignment joins the run already going instead of
starting another that would write the same gradebook rows.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from datasets.errors import UserError


@dataclass
class GradingRun:
    course_root: str
    assignment: str
    learners: list[str] | None
    force: bool
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    total: int | None = None  # known once the first submission is committed
    last: str = ""
    finished: bool = False
    error: str | None = None
    report: Any = None
    thread: threading.Thread | None = field(default=None, repr=False)

    def on_result(self, grade: Any, done: int, total: int) -> None:
        self.done, self.total, self.last = done, total, f"{grade.learner}: {grade.status}"

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


_RUNS: dict[tuple[str, str], GradingRun] = {}
_LOCK = threading.Lock()


def _key(course_root: Path | str, assignment: str) -> tuple[str, str]:
    return str(Path(course_root).resolve()), assignment


def current(course_root: Path | str, assignment: str) -> GradingRun | None:
    """The latest run of this assignment in this process (running or finished), if any."""
    with _LOCK:
        return _RUNS.get(_key(course_root, assignment))


def _course_scheduler(course_root: Path | str) -> str | None:
    """Where `theater grade` would grade this course: its [grading] scheduler, else this machine.

    A folder that is not a course gives None; grade() then says what is wrong with it."""
    from grader.course_dir import open_course
    from grader.grade import grading_scheduler

    try:
        course = open_course(course_root)
    except UserError:
        return None
    return grading_scheduler(course)


def start(course_root: Path | str, assignment: str, learners: list[str] | None = None, force: bool = False,
          grade: Callable[..., Any] | None = None, workers: int = 2) -> tuple[GradingRun, bool]:
    """Start grading in a thread; (run, started). A run of the same assignment still going is
    returned instead, with started=False."""
    key = _key(course_root, assignment)
    with _LOCK:
        running = _RUNS.get(key)
        if running is not None and not running.finished:
            return running, False
        run = GradingRun(key[0], assignment, list(learners) if learners else None, force)
        _RUNS[key] = run
    if grade is None:
        from grader.grade import grade

    def work() -> None:
        try:
            scheduler = _course_scheduler(run.course_root)
            run.report = grade(run.course_root, assignment, workers=workers, learners=run.learners,
                               progress=False, force=force, on_result=run.on_result, scheduler=scheduler)
        except UserError as error:
            run.error = str(error)
        except Exception as error:  # noqa: BLE001 - reported on the page; the app keeps running
            run.error = f"internal error: {type(error).__name__}: {error}"
        finally:
            run.finished = True

    run.thread = threading.Thread(target=work, name=f"grade-{assignment}", daemon=True)
    run.thread.start()
    return run, True
