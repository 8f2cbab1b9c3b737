"""Grading runs for the app: one batch process per assignment, outside the app's process tree.

A page never grades in its own process. `start()` launches `python -m grader.runs COURSE ASSIGNMENT`
— the function `theater grade` runs, in a process of its own session — and the page redraws a
progress bar from the run's status file (.theater/runs/<assignment>.json), which the batch rewrites
as each submission is committed. Why a separate process rather than a thread of the app:
- Dask's LocalCluster starts its workers with multiprocessing's *spawn*, which imports the parent's
  `__main__` in every worker. In the app that is the Streamlit page script, which cannot run
  outside Streamlit (the workers crashed and the cluster reported "Nanny failed to start"). The
  batch's `__main__` is this module, which only runs `main()` under `if __name__ == "__main__"`, so
  its workers import nothing of the app, whatever start method a Dask version prefers.
- The batch survives the app: it is in its own session (no terminal signal, no parent pipe reaches
  it), so an app restarted while grading finds the run going and draws its progress again.
- Cancel is a marker file the batch watches for: it stops committing, unwinds (its cluster is
  closed, a kernel it runs itself is killed); what was committed stays, the next run resumes the rest.

One run per assignment at a time, across app processes on one machine: the run holds an exclusive
lock on .theater/runs/<assignment>.lock for its whole life. A status that says "running" while
nobody holds the lock is a batch that died (a kill -9, a reboot), and is shown as such.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import _thread
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STARTING, RUNNING, FINISHED, CANCELLED, FAILED = "starting", "running", "finished", "cancelled", "failed"
ENDED = (FINISHED, CANCELLED, FAILED)
KILL_AFTER = 20.0  # seconds a cancelled batch gets to close its cluster before its process group is killed
RUNS_DIR = "runs"  # under the course's state directory (.theater)


@dataclass
class GradingRun:
    """What the page shows of a run: read from its status file."""

    course_root: str
    assignment: str
    run_id: str = ""
    learners: list[str] | None = None
    force: bool = False
    state: str = STARTING
    pid: int | None = None
    started: float = field(default_factory=time.time)  # wall-clock seconds (the app may restart)
    ended: float | None = None
    done: int = 0
    total: int | None = None  # known once the batch knows what it has to grade
    last: str = ""
    error: str | None = None
    summary: str = ""  # the first line of `theater grade`'s summary
    not_graded: dict[str, str] = field(default_factory=dict)  # learner -> why, retried on the next run

    @property
    def finished(self) -> bool:
        return self.state in ENDED

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def seconds(self) -> float:
        return (self.ended or time.time()) - self.started

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _state_dir(course_root: Path | str) -> Path:
    from grader.course_dir import STATE_DIR

    return Path(course_root).resolve() / STATE_DIR / RUNS_DIR


def _paths(course_root: Path | str, assignment: str) -> tuple[Path, Path, Path]:
    """(status, lock, log) of an assignment's runs."""
    if not assignment or "/" in assignment or assignment.startswith("."):
        raise ValueError(f"not an assignment name: {assignment!r}")
    folder = _state_dir(course_root)
    return folder / f"{assignment}.json", folder / f"{assignment}.lock", folder / f"{assignment}.log"


def status_path(course_root: Path | str, assignment: str) -> Path:
    return _paths(course_root, assignment)[0]


def log_path(course_root: Path | str, assignment: str) -> Path:
    """The batch's own output (a traceback of an internal error lands here)."""
    return _paths(course_root, assignment)[2]


def _write_status(run: GradingRun) -> None:
    path = status_path(run.course_root, run.assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(run.as_dict(), handle)
        os.chmod(tmp, 0o600)  # learners' names and scores
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_status(course_root: Path | str, assignment: str) -> GradingRun | None:
    try:
        data = json.loads(status_path(course_root, assignment).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    known = {k: v for k, v in data.items() if k in GradingRun.__dataclass_fields__}
    try:
        return GradingRun(**known)
    except TypeError:
        return None


def _open_lock(course_root: Path | str, assignment: str) -> int:
    lock = _paths(course_root, assignment)[1]
    lock.parent.mkdir(parents=True, exist_ok=True)
    return os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _held(course_root: Path | str, assignment: str) -> bool:
    """Whether a batch holds the assignment's lock (is alive)."""
    fd = _open_lock(course_root, assignment)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock taken here
    return False


def _lock_soon(fd: int, seconds: float = 1.0) -> bool:
    """Take the lock, waiting out a reader's momentary probe; False if a batch holds it."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def current(course_root: Path | str, assignment: str) -> GradingRun | None:
    """The latest run of this assignment (running or ended), from any app process, if any.

    A run that says it is going while no process holds its lock died without a word: it is
    reported as failed (what it committed is kept). A cancelled run still going after KILL_AFTER
    seconds has its process group killed."""
    run = _read_status(course_root, assignment)
    if run is None or run.finished:
        return run
    if not _held(course_root, assignment):
        again = _read_status(course_root, assignment)  # it may have ended between the two reads
        if again is not None and again.finished:
            return again
        run.state, run.ended = FAILED, time.time()
        run.error = ("the grading process stopped before it finished (killed, or the machine restarted); "
                     f"what it graded is kept, and grading again resumes the rest (log: "
                     f"{log_path(course_root, assignment)})")
        return run
    asked = _cancelled_at(course_root, assignment, run.run_id)
    if asked and run.pid and time.time() - asked > KILL_AFTER:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(run.pid, signal.SIGKILL)
    return run


def start(course_root: Path | str, assignment: str, learners: list[str] | None = None, force: bool = False,
          workers: int = 2) -> tuple[GradingRun, bool]:
    """Start grading in a batch process; (run, started). A run of the same assignment still going is
    returned instead, with started=False."""
    root = str(Path(course_root).resolve())
    fd = _open_lock(root, assignment)
    try:
        if not _lock_soon(fd):
            # a batch holds it (or another app process is starting one): show that run
            going = current(root, assignment)
            if going is None or going.finished:
                going = GradingRun(root, assignment, learners=list(learners) if learners else None, force=force)
            return going, False
        run = GradingRun(root, assignment, run_id=uuid.uuid4().hex, learners=list(learners) if learners else None,
                         force=force)
        _write_status(run)
        command = [sys.executable, "-P", "-m", "grader.runs", root, assignment, "--run-id", run.run_id,
                   "--workers", str(workers), "--lock-fd", str(fd)]
        command += [f"--learner={learner}" for learner in run.learners or []]
        command += ["--force"] if force else []
        # the batch imports the grader this process imported, whatever the folder it starts in
        code = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (code, os.environ.get("PYTHONPATH")) if p)}
        try:
            with open(log_path(root, assignment), "wb") as log:  # the latest run's output
                # its own session: the app's terminal, its Ctrl-C and its exit do not stop a batch
                subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 pass_fds=(fd,), start_new_session=True, cwd=root, env=env)
        except OSError as error:
            run.state, run.ended = FAILED, time.time()
            run.error = f"the grading process could not be started: {error.strerror or error}"
            _write_status(run)
    finally:
        os.close(fd)  # the batch holds the lock now (its inherited descriptor shares it)
    return run, True


def _cancel_path(course_root: Path | str, assignment: str) -> Path:
    return _paths(course_root, assignment)[0].with_suffix(".cancel")


def _cancelled_at(course_root: Path | str, assignment: str, run_id: str) -> float | None:
    """When the app asked this run to stop (the marker names the run), or None."""
    marker = _cancel_path(course_root, assignment)
    try:
        if marker.read_text(encoding="utf-8").strip() == run_id:
            return marker.stat().st_mtime
    except OSError:
        pass
    return None


def cancel(course_root: Path | str, assignment: str) -> bool:
    """Ask the assignment's running batch to stop; False if none is going.

    A marker file names the run (the batch watches for it, even while it is still starting; the
    status file stays the batch's alone). Submissions already committed stay graded; the others
    are graded by the next run."""
    run = current(course_root, assignment)
    if run is None or run.finished or not run.run_id:
        return False
    _cancel_path(course_root, assignment).write_text(run.run_id + "\n", encoding="utf-8")
    return True


# --------------------------------------------------------------------------------------------- the batch


class Cancelled(Exception):
    """The run was cancelled before it finished."""


def _stop_kernels() -> None:
    """Kill the sandboxed kernels this batch runs itself (a cluster's workers are closed with it)."""
    import psutil

    for child in psutil.Process().children(recursive=False):
        try:
            if "multiprocessing" not in " ".join(child.cmdline()):  # not a LocalCluster worker
                for process in [*child.children(recursive=True), child]:
                    with contextlib.suppress(psutil.Error):
                        process.kill()
        except psutil.Error:
            continue


def _watch_for_cancel(run: GradingRun, stop: threading.Event, ended: threading.Event) -> None:
    """A thread of the batch: once the app asks, stop committing and unwind the batch.

    Not a signal handler: the kernel client installs its own SIGTERM/SIGINT handlers while a
    notebook runs. The main thread is interrupted (KeyboardInterrupt) out of its wait for the
    cluster; a notebook running in this process has its kernel killed, so it ends at once. grade()
    asks `stop` before each commit, so a submission cut short is never committed."""
    while not ended.wait(0.5):
        if _cancelled_at(run.course_root, run.assignment, run.run_id) is None:
            continue
        stop.set()
        _stop_kernels()
        _thread.interrupt_main()
        return


def run_batch(course_root: str, assignment: str, run_id: str, learners: list[str] | None, force: bool,
              workers: int) -> GradingRun:
    """Grade in this process, as the batch, keeping the status file up to date."""
    from datasets.errors import UserError
    from grader.course_dir import open_course
    from grader.grade import grade, grading_scheduler

    run = GradingRun(course_root, assignment, run_id=run_id, learners=learners, force=force, state=RUNNING,
                     pid=os.getpid())
    previous = _read_status(course_root, assignment)
    if previous is not None and previous.run_id == run_id:
        run.started = previous.started
    stop, ended = threading.Event(), threading.Event()

    def on_result(grade_entry: Any, done: int, total: int) -> None:
        run.done, run.total, run.last = done, total, f"{grade_entry.learner}: {grade_entry.status}"
        _write_status(run)

    watcher = threading.Thread(target=_watch_for_cancel, args=(run, stop, ended), name="cancel", daemon=True)
    try:
        try:
            _write_status(run)
            watcher.start()
            try:
                course = open_course(course_root)
            except UserError:
                course = None  # grade() says what is wrong with the course
            scheduler = grading_scheduler(course) if course is not None else None  # a bad address: one line
            report = grade(course_root, assignment, workers=workers, learners=learners, progress=False,
                           force=force, on_result=on_result, scheduler=scheduler, should_stop=stop.is_set)
            if stop.is_set():
                raise Cancelled()
        finally:
            ended.set()
            if watcher.is_alive():
                watcher.join()
        run.state = FINISHED
        run.summary = report.summary().splitlines()[0]
        run.not_graded = {k: v.comments[0] if v.comments else "error" for k, v in sorted(report.errors.items())}
    except (Cancelled, KeyboardInterrupt):
        run.state = CANCELLED
    except UserError as error:
        run.state, run.error = (CANCELLED, None) if stop.is_set() else (FAILED, str(error))
    except Exception as error:  # noqa: BLE001 - reported on the page; the traceback goes to the log
        if stop.is_set():
            run.state = CANCELLED
        else:
            traceback.print_exc()
            run.state, run.error = FAILED, f"internal error: {type(error).__name__}: {error}"
    run.ended = time.time()
    _write_status(run)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.runs",
                                     description="grade one assignment as the app's batch")
    parser.add_argument("course")
    parser.add_argument("assignment")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--learner", action="append")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lock-fd", type=int, default=None)
    args = parser.parse_args(argv)
    if args.lock_fd is not None:
        os.set_inheritable(args.lock_fd, False)  # the lock lives as long as this process, not its workers
    else:  # started by hand: take the lock as the app would
        fd = _open_lock(args.course, args.assignment)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"{args.assignment} is being graded already", file=sys.stderr)
            return 1
    run = run_batch(args.course, args.assignment, args.run_id, args.learner, args.force, args.workers)
    return 0 if run.state == FINISHED else 1


if __name__ == "__main__":
    sys.exit(main())
