"""Submissions from the app: stored in nbgrader's layout, graded in the background, shown to the learner.

A learner's upload is checked (size, notebook JSON, this assignment's cells), then stored twice:
- as every attempt, in `.theater/submissions/<assignment>/<learner>/attempt-NNNN/` (history: a new
  attempt never loses an earlier one);
- as the current submission, `submitted/<learner>/<assignment>/<notebook>` with nbgrader's
  `timestamp.txt` written from the server's clock (grader.collect's atomic swap), which is what
  `theater grade` grades.
The course's policy per assignment comes from theater.toml (`[assignments.NAME]`: `due`, `attempts`)
and nbgrader_config.py (the late penalty, grader.export.late_plugin).

Grading is queued: one job file per waiting submission in `.theater/grading-queue/`, named by
enqueue time so the oldest goes first. A worker claims a job by holding an flock on its file while
it grades, then deletes it. The queue lives on disk, so an app restart loses nothing: a job whose
worker died is unlocked and the next worker takes it. Each app process runs one worker thread
(`start_worker`), which calls the same `grader.grade.grade` as `theater grade`.

What a learner sees of a graded attempt depends on whether their submission is final (`release`):
- before (it can still be replaced): a validity report per graded part — the notebook ran, the answer
  file was found and is in the form its check reads (grader.scoring.answer_form, found without the
  learner's truth) — and no band: bands on every attempt would let a few submissions narrow an
  estimate down to its hidden value (benchmarks/guessing.py measures that prober);
- once final (the last allowed attempt, a submission the learner marked final with `finalise`, one
  collected by the instructor, or any submission after the assignment closes): a band per part
  and for the total (grader.feedback's bands and messages). Exact points stay in the gradebook.
An assignment closes at theater.toml's `closes`, else DEFAULT_LATE_DAYS after its `due` date; with
neither it never closes by date, and bands appear per learner (after their last attempt, or when
they mark a submission final).

Public API (also for the instructor pages): `policy`, `submit`, `finalise`, `release`, `attempts`,
`list_submissions`, `queue_status`, `learner_result`, `learner_view`, `retry`, `is_released`,
`GradingQueue`, `start_worker`, `stop_worker`.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from datasets.errors import UserError
from exercises.assignments import Assignment, json_depth
from grader.collect import TIMESTAMP_FORMAT, CollectError, _write_submission
from grader.course_dir import Course, CourseError, is_learner_id, open_course
from grader.deadlines import DEFAULT_LATE_DAYS, deadlines, late_plugin_for  # noqa: F401 (DEFAULT_LATE_DAYS: API)
from grader.grade import MAX_CELLS, MAX_NOTEBOOK_BYTES, MAX_NOTEBOOK_DEPTH

SUBMISSIONS_DIR = "submissions"
QUEUE_DIR = "grading-queue"
STATUS_FILE = "status.json"
ATTEMPT_PREFIX = "attempt-"
DEFAULT_ATTEMPTS = 3  # as the app's in-app checks (attempt_budget)
UNLIMITED = "unlimited"
FINAL_FILE = "final.json"  # in a learner's history: the attempt they made final
CHECKED = "checked"  # the total's label before the submission is final: no band yet
RECEIVED = "received"  # a rubric part's label before the submission is final
RUBRIC_LATER = ("Read by your grader against the rubric; its band and your grader's comment appear once "
                "your submission is final.")
LOG = logging.getLogger(__name__)


class SubmissionError(UserError):
    """An upload that cannot be accepted; the message names the problem for the learner."""


# ----------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class Policy:
    """What the course says about submitting one assignment."""

    assignment: str
    due: datetime | None
    attempts: int | None  # None: no limit
    late_penalty: str  # in words, e.g. "10% of the score per started day late"
    closes: datetime | None = None  # no submission after it; every submission is final then

    def attempts_left(self, used: int) -> int | None:
        return None if self.attempts is None else max(0, self.attempts - used)

    def is_late(self, when: datetime) -> bool:
        return self.due is not None and when > self.due

    def is_closed(self, when: datetime) -> bool:
        return self.closes is not None and when >= self.closes

    def describe(self) -> str:
        due = f"due {self.due:%Y-%m-%d %H:%M} UTC" if self.due else "no deadline"
        tries = f"{self.attempts} attempt(s)" if self.attempts is not None else "unlimited attempts"
        closes = f"{self.closes:%Y-%m-%d %H:%M} UTC" if self.closes else ""
        if self.due and self.closes and self.closes > self.due:
            late = f"; late work is accepted until {closes}: {self.late_penalty}"
        elif self.due:
            late = "; no late work"
        else:
            late = f"; closes {closes}" if closes else ""
        return f"{due}; {tries}{late}."


def _late_penalty_text(course: Course, assignment: str) -> str:
    from grader.export import PercentPerDayLate

    plugin = late_plugin_for(course, assignment)
    if isinstance(plugin, PercentPerDayLate):
        return f"{plugin.percent_per_day:g}% of the score per started day late"
    method = getattr(plugin, "penalty_method", "none")
    if method == "zero":
        return "a late submission earns no credit"
    if method == "none":
        return "no penalty"
    return f"the course's late penalty ({type(plugin).__name__})"


def policy(course: Course, assignment: str, learner: str | None = None) -> Policy:
    """The submission policy of an assignment for a learner: theater.toml `due`, `closes` (moved by
    the learner's extension, grader.deadlines) and `attempts`, and the late plugin.

    Attempts are limited by default (DEFAULT_ATTEMPTS), so every learner's bands appear after their
    last attempt even in a course without dates; `attempts = "unlimited"` lifts the limit (bands then
    appear when the learner marks a submission final, or when the assignment closes). The assignment
    closes at `closes`, else DEFAULT_LATE_DAYS after `due`, else never."""
    limit = course.settings_for(assignment).attempts  # checked when the course opened
    limit = DEFAULT_ATTEMPTS if limit is None else None if limit == UNLIMITED else limit
    dates = deadlines(course, assignment, learner)
    return Policy(assignment=assignment, due=dates.due, attempts=limit,
                  late_penalty=_late_penalty_text(course, assignment), closes=dates.closes)


# ----------------------------------------------------------------------------- storage


@dataclass(frozen=True)
class Attempt:
    number: int
    timestamp: datetime
    late: bool
    folder: Path  # the attempt's copy in the history


def _history(course: Course, assignment: str, learner: str) -> Path:
    return course.state_dir / SUBMISSIONS_DIR / assignment / learner


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One submit at a time per learner and assignment, across threads and processes."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_stamp(path: Path) -> datetime | None:
    try:
        return datetime.strptime(path.read_text(encoding="utf-8").strip(), TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except (OSError, ValueError):
        return None


def attempts(course: Course, assignment: str, learner: str) -> list[Attempt]:
    """Every attempt stored for a learner, oldest first (`late` against their due date today)."""
    rules = policy(course, assignment, learner)
    found = []
    folder = _history(course, assignment, learner)
    for path in sorted(folder.glob(f"{ATTEMPT_PREFIX}*")) if folder.is_dir() else ():
        stamp = _read_stamp(path / "timestamp.txt")
        suffix = path.name[len(ATTEMPT_PREFIX):]
        if stamp is None or not suffix.isdigit():
            continue
        found.append(Attempt(int(suffix), stamp, rules.is_late(stamp), path))
    return found


def _final_attempt(course: Course, assignment: str, learner: str) -> int | None:
    """The attempt the learner made final (`finalise`), if any."""
    try:
        data = json.loads((_history(course, assignment, learner) / FINAL_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    number = data.get("attempt") if isinstance(data, dict) else None
    return number if isinstance(number, int) and not isinstance(number, bool) else None


def _collected(course: Course, assignment: str, learner: str) -> bool:
    """A submission that did not come through the app (collected by the instructor), once there is
    no attempt in the app's history: submitted or graded all the same."""
    return any(course.path(stage, learner, assignment).is_dir() for stage in ("submitted", "autograded"))


@dataclass(frozen=True)
class Release:
    """Whether a learner's submission is final, so its bands may be shown, and why or when."""

    final: bool
    why: str  # for the learner: why the result is shown, or when it will be and why not yet


WHY_NOT_YET = ("Until then each attempt shows only whether your notebook ran and whether its answers are in "
               "the expected form: bands on every attempt would let a few submissions narrow an estimate down "
               "to its hidden value.")


def release(course: Course, assignment: str, learner: str, now: datetime | None = None) -> Release:
    """Whether the learner's current submission is final: it can no longer be replaced.

    Final once the assignment has closed, once the learner has used their last attempt or marked a
    submission final, and for a submission the instructor collected (never through the app). Before
    that the learner sees a validity report, never a band (see the module's docstring)."""
    rules = policy(course, assignment, learner)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    title = course.assignment(assignment).title
    done = attempts(course, assignment, learner)
    if rules.is_closed(now):
        after = ("your last submission is final" if done or _collected(course, assignment, learner)
                 else "it takes no more submissions")
        return Release(True, f"'{title}' closed on {rules.closes:%Y-%m-%d %H:%M} UTC: {after}.")
    final = _final_attempt(course, assignment, learner)
    if final is not None:
        return Release(True, f"You made attempt {final} final.")
    if rules.attempts is not None and len(done) >= rules.attempts:
        return Release(True, f"Attempt {done[-1].number} was your last: it is final.")
    if not done and _collected(course, assignment, learner):  # never replaced in the app
        return Release(True, "Your instructor collected this submission: it is final.")
    ways = []
    if rules.attempts is not None:
        left = rules.attempts_left(len(done))
        ways.append(f"after your last attempt ({left} left)")
    ways.append("when you make a submission final")
    if rules.closes is not None:
        ways.append(f"when the assignment closes on {rules.closes:%Y-%m-%d %H:%M} UTC")
    when = ", ".join(ways[:-1]) + " or " + ways[-1] if len(ways) > 1 else ways[0]
    return Release(False, f"Bands appear once your submission is final: {when}. {WHY_NOT_YET}")


def finalise(course: Course, assignment: str, learner: str, now: datetime | None = None) -> int:
    """Make the learner's last attempt final (no further submission is accepted); returns its number."""
    if not is_learner_id(learner):
        raise SubmissionError("You are not signed in with a valid learner id.")
    spec = course.assignment(assignment)
    history = _history(course, assignment, learner)
    with _locked(history):
        done = attempts(course, assignment, learner)
        if not done:
            raise SubmissionError(f"You have not submitted '{spec.title}' yet: there is nothing to make final.")
        existing = _final_attempt(course, assignment, learner)
        if existing is not None:
            return existing
        now = (now or datetime.now(UTC)).astimezone(UTC)
        data = json.dumps({"attempt": done[-1].number, "at": now.isoformat()})
        tmp = history / f".{FINAL_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(data, encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(history / FINAL_FILE)
    return done[-1].number


def notebook_cell_ids(data: Any) -> set[str]:
    """nbgrader's cell ids (grade_id) in a notebook's JSON."""
    ids = set()
    for cell in data.get("cells", []) if isinstance(data, dict) else []:
        meta = cell.get("metadata") if isinstance(cell, dict) else None
        nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
        grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
        if isinstance(grade_id, str):
            ids.add(grade_id)
    return ids


def _assignment_cell_ids(course: Course, spec: Assignment) -> set[str]:
    from exercises.student_version import notebook_for_cells

    released = course.path("release", spec.name, spec.notebook)
    try:
        source = released if released.is_file() else notebook_for_cells(spec)
        return notebook_cell_ids(json.loads(source.read_text(encoding="utf-8")))
    except (OSError, ValueError, UserError):
        return set(spec.part_points)


def _belongs_to(ids: set[str], candidates: dict[str, tuple[Assignment, set[str]]]) -> Assignment | None:
    """The assignment a notebook's cell ids point to: the one most of whose own cells (those no other
    assignment has, such as its answer and graded cells) it holds; cells several notebooks share
    (`setup`, `part2-progress`) say nothing."""
    best, best_count = None, 0
    for name, (assignment, cell_ids) in candidates.items():
        others = set().union(*(other for key, (_, other) in candidates.items() if key != name))
        count = len(ids & (cell_ids - others))
        if count > best_count:
            best, best_count = assignment, count
    return best


def check_notebook(course: Course, spec: Assignment, data: bytes, filename: str | None = None) -> None:
    """Refuse, with one message, an upload that is not this assignment's notebook."""
    what = f"'{Path(filename).name[:80]}'" if filename else "The upload"
    if not data:
        raise SubmissionError(f"{what} is empty: choose your saved {spec.notebook}.")
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(f"{what} is {len(data) / 2**20:.1f} MB; at most {MAX_NOTEBOOK_BYTES // 2**20} MB. "
                              "Clear the outputs (Kernel > Restart & Clear Output), save and upload again.")
    if filename and not filename.lower().endswith(".ipynb"):
        raise SubmissionError(f"{what} is not a notebook: upload {spec.notebook} (a .ipynb file).")
    notebook = None
    if json_depth(data) <= MAX_NOTEBOOK_DEPTH:
        try:
            notebook = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            notebook = None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise SubmissionError(f"{what} is not a Jupyter notebook: upload {spec.notebook} as saved by Jupyter.")
    if len(notebook["cells"]) > MAX_CELLS:
        raise SubmissionError(f"{what} has {len(notebook['cells']):,} cells; at most {MAX_CELLS:,}.")
    ids = notebook_cell_ids(notebook)
    candidates: dict[str, tuple[Assignment, set[str]]] = {spec.name: (spec, _assignment_cell_ids(course, spec))}
    for folder in sorted((course.root / "source").glob("*/assignment.yaml")):
        if folder.parent.name == spec.name:
            continue
        try:
            other = course.assignment(folder.parent.name)
        except UserError:
            continue
        candidates[other.name] = (other, _assignment_cell_ids(course, other))
    shared = set().union(*(cell_ids for name, (_, cell_ids) in candidates.items() if name != spec.name))
    if ids & (candidates[spec.name][1] - shared):  # cells only this assignment has (not "setup")
        return
    owner = _belongs_to(ids, candidates)
    if owner is not None and owner.name != spec.name:
        raise SubmissionError(f"{what} is the notebook of '{owner.title}' ({owner.notebook}), "
                              f"not of '{spec.title}', the assignment you uploaded it to: upload "
                              f"{spec.notebook} here, or this notebook to '{owner.title}'.")
    raise SubmissionError(f"{what} has none of the cells of '{spec.title}': upload {spec.notebook} from "
                          "this assignment's download (its answer cells carry the ids the grader needs).")


def is_released(course: Course, assignment: str) -> bool:
    """Whether `theater assign` (or a self-study release) made the student version the grader needs."""
    spec = course.assignment(assignment)
    return course.path("release", assignment, spec.notebook).is_file()


def release_for_self_study(course: Course, assignment: str) -> None:
    """Make the student version of an assignment (nbgrader generate_assignment) without a roster.

    A self-study course has no instructor to run `theater assign`; its first submission releases
    the assignment so it can be graded. A course with a roster never does this (see `submit`)."""
    from grader.assign import _record_release, generate_student_version

    spec = course.assignment(assignment)
    _record_release(course, spec, generate_student_version(course, spec))


def submit(course: Course, assignment: str, learner: str, data: bytes, now: datetime | None = None,
           filename: str | None = None, self_study: bool = False) -> Attempt:
    """Store a learner's notebook as a new attempt and queue it for grading.

    `learner` must be the signed-in id (never a form field). Raises SubmissionError with a message for
    the learner (not a notebook, another assignment's notebook, over the attempt limit, closed, made
    final, not released yet unless `self_study`); nothing is stored then. `now` is the server's clock (tests pass their own).
    """
    if not is_learner_id(learner):
        raise SubmissionError("You are not signed in with a valid learner id.")
    spec = course.assignment(assignment)
    if not self_study and not is_released(course, assignment):
        raise SubmissionError(f"'{spec.title}' is not open for submissions yet: your instructor has not released it.")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    rules = policy(course, assignment, learner)
    check_notebook(course, spec, data, filename)
    history = _history(course, assignment, learner)
    with _locked(history):
        done = attempts(course, assignment, learner)
        if rules.attempts is not None and len(done) >= rules.attempts:
            raise SubmissionError(f"You have used all {rules.attempts} attempt(s) for '{spec.title}': "
                                  "your last submission stands. Ask your instructor if you need another.")
        if rules.is_closed(now):
            raise SubmissionError(f"'{spec.title}' closed on {rules.closes:%Y-%m-%d %H:%M} UTC: "
                                  "your last submission stands. Ask your instructor if you need another.")
        final = _final_attempt(course, assignment, learner)
        if final is not None:
            raise SubmissionError(f"You made attempt {final} of '{spec.title}' final: it stands. "
                                  "Ask your instructor if you need another.")
        if not done and _collected(course, assignment, learner):
            raise SubmissionError(f"Your instructor collected your submission of '{spec.title}': it is final. "
                                  "Ask your instructor if you need another.")
        number = (done[-1].number if done else 0) + 1
        building = Path(tempfile.mkdtemp(prefix=".attempt-", dir=history))
        try:
            (building / spec.notebook).write_bytes(data)
            (building / "timestamp.txt").write_text(now.strftime(TIMESTAMP_FORMAT), encoding="utf-8")
            _write_submission(course, learner, assignment, spec.notebook, data, now)
            target = history / f"{ATTEMPT_PREFIX}{number:04d}"
            building.rename(target)
        except (CollectError, OSError) as exc:
            LOG.error("storing %s of %s failed: %s", assignment, learner, exc)
            raise SubmissionError("Your notebook could not be stored on the server; nothing was counted. "
                                  "Try again in a moment, or tell your instructor.") from None
        finally:
            shutil.rmtree(building, ignore_errors=True)
        enqueue(course, assignment, learner, now)
    return Attempt(number, now, rules.is_late(now), target)


# ----------------------------------------------------------------------------- queue


def _queue_dir(course: Course) -> Path:
    folder = course.state_dir / QUEUE_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _job_name(assignment: str, learner: str) -> str:
    # '+' is in neither an assignment name nor a learner id; the time makes names sort oldest first
    return f"{time.time_ns():020d}+{assignment}+{learner}.json"


def _job_key(path: Path) -> tuple[str, str] | None:
    parts = path.name[: -len(".json")].split("+")
    return (parts[1], parts[2]) if len(parts) == 3 else None


def _pending(course: Course) -> list[Path]:
    folder = course.state_dir / QUEUE_DIR  # read only: never created by a look
    return sorted(p for p in folder.glob("*.json") if _job_key(p) is not None) if folder.is_dir() else []


def _is_claimed(path: Path) -> bool:
    """True while a worker holds the job (grading); False for a job still waiting (or one whose worker died)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def enqueue(course: Course, assignment: str, learner: str, now: datetime | None = None) -> Path:
    """Queue (assignment, learner) for grading, unless a job for it is already waiting."""
    for path in _pending(course):
        if _job_key(path) == (assignment, learner) and not _is_claimed(path):
            return path
    folder = _queue_dir(course)
    path = folder / _job_name(assignment, learner)
    tmp = folder / f".{path.name}.tmp"
    tmp.write_text(json.dumps({"assignment": assignment, "learner": learner,
                               "queued": (now or datetime.now(UTC)).isoformat()}), encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    _wake_workers(course)
    return path


def retry(course: Course, assignment: str, learner: str) -> Path:
    """Grade the learner's current submission again (after a grading error); uses no attempt."""
    if not course.path("submitted", learner, assignment).is_dir():
        raise SubmissionError("There is no submission to grade again.")
    return enqueue(course, assignment, learner)


@dataclass(frozen=True)
class QueueStatus:
    state: str  # none | queued | grading | graded | error
    ahead: int = 0  # jobs before this one (while queued)
    attempt: int | None = None  # the attempt last graded (graded / error)
    error: str = ""  # for staff: why grading failed


def _status_path(course: Course, assignment: str, learner: str) -> Path:
    return _history(course, assignment, learner) / STATUS_FILE


def _read_status(course: Course, assignment: str, learner: str) -> dict[str, Any]:
    try:
        data = json.loads(_status_path(course, assignment, learner).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_status(course: Course, assignment: str, learner: str, **status: Any) -> None:
    path = _status_path(course, assignment, learner)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(status), encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def queue_status(course: Course, assignment: str, learner: str) -> QueueStatus:
    """Where a learner's submission is: queued (with how many jobs ahead), grading, graded or error."""
    pending = _pending(course)
    for index, path in enumerate(pending):
        if _job_key(path) == (assignment, learner):
            if _is_claimed(path):
                return QueueStatus("grading")
            return QueueStatus("queued", ahead=index)
    status = _read_status(course, assignment, learner)
    if status.get("state") in ("graded", "error"):
        return QueueStatus(status["state"], attempt=status.get("attempt"), error=str(status.get("error", "")))
    if _graded_outside_the_app(course, assignment, learner, status):
        return QueueStatus("graded")
    return QueueStatus("none")


def _graded_outside_the_app(course: Course, assignment: str, learner: str, status: dict[str, Any]) -> bool:
    """A submission the app never queued (collected from an LMS, graded with `theater grade`) that
    has a grading record: the learner sees its result too (a memo's record has written answers, no parts)."""
    from grader import feedback

    record = feedback._record(course, assignment, learner)
    return not status and bool(record.get("parts") or record.get("written"))


GradeFunction = Callable[..., Any]


class GradingQueue:
    """Takes jobs off the course's queue and grades them with grader.grade.grade, one at a time.

    `grade_options` returns extra keyword arguments for grade() for each job; by default the course's
    Dask scheduler (theater.toml `[grading] scheduler`, read afresh for each job), so the app grades
    where `theater grade` does. `grade_function` is grade() unless a test passes a stand-in.
    """

    def _course_grading(self) -> dict[str, Any]:
        """The course's own grading engine: its scheduler, or None (this process for one submission)."""
        from grader.grade import grading_scheduler

        return {"scheduler": grading_scheduler(self.course)}

    def __init__(self, course: Course, grade_function: GradeFunction | None = None,
                 grade_options: Callable[[], dict[str, Any]] | None = None, poll_seconds: float = 1.0,
                 self_study: bool = False):
        self.course = course
        self.self_study = self_study  # release an unreleased assignment before grading it
        self.grade_function = grade_function
        self.grade_options = grade_options or self._course_grading
        self.poll_seconds = poll_seconds
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def _claim(self) -> tuple[Path, int] | None:
        for path in _pending(self.course):
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            if os.fstat(fd).st_nlink == 0:  # finished by another worker between listing and locking
                os.close(fd)
                continue
            return path, fd
        return None

    def run_next(self) -> bool:
        """Grade the oldest waiting job; False when there was none to take."""
        claimed = self._claim()
        if claimed is None:
            return False
        path, fd = claimed
        try:
            assignment, learner = _job_key(path)  # type: ignore[misc]
            self._grade(assignment, learner)
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)  # releases the claim; a worker killed before this leaves the job to the next
        return True

    def _grade(self, assignment: str, learner: str) -> None:
        if self.course.settings_changed():  # theater.toml edited since: its scheduler and dates apply now
            try:
                self.course = open_course(self.course.root)
            except UserError:
                pass  # grade() opens the course itself and reports the bad file on this job
        done = attempts(self.course, assignment, learner)
        number = done[-1].number if done else None
        results: list[Any] = []
        grade = self.grade_function
        if grade is None:
            from grader.grade import grade
        started = time.monotonic()
        try:
            if self.self_study and not is_released(self.course, assignment):
                release_for_self_study(self.course, assignment)
            report = grade(self.course.root, assignment, learners=[learner], force=True,
                           on_result=lambda g, _done, _total: results.append(g), progress=False, workers=1,
                           **self.grade_options())
            entry = report.learners.get(learner) if report is not None else None
            entry = entry or (results[-1] if results else None)
            if entry is None or entry.status == "error":
                raise RuntimeError(entry.comments[0] if entry is not None and entry.comments else "no result")
        except Exception as exc:  # noqa: BLE001 - the learner sees "could not be graded"; staff see why
            LOG.error("grading %s for %s failed: %s: %s", assignment, learner, type(exc).__name__, exc)
            _write_status(self.course, assignment, learner, state="error", attempt=number,
                          error=f"{type(exc).__name__}: {str(exc)[:500]}", at=datetime.now(UTC).isoformat())
            return
        _write_status(self.course, assignment, learner, state="graded", attempt=number,
                      seconds=round(time.monotonic() - started, 2), at=datetime.now(UTC).isoformat())

    def run(self) -> None:
        while not self.stopping.is_set() and self.course.state_dir.is_dir():  # a removed course ends it
            try:
                busy = self.run_next()
            except Exception:  # noqa: BLE001 - the worker outlives a bad job (e.g. a full disk)
                LOG.exception("the grading worker hit an error; it goes on with the next job")
                busy = False
            if not busy:
                self.wake.wait(self.poll_seconds)
                self.wake.clear()

    def start(self) -> GradingQueue:
        if self.thread is None or not self.thread.is_alive():
            self.stopping.clear()
            self.thread = threading.Thread(target=self.run, name=f"grading:{self.course.course_id}", daemon=True)
            self.thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout)


_WORKERS: dict[Path, GradingQueue] = {}
_WORKERS_LOCK = threading.Lock()


def start_worker(course: Course, **options: Any) -> GradingQueue:
    """This process's one grading thread for a course (started on first call; later calls return it)."""
    with _WORKERS_LOCK:
        worker = _WORKERS.get(course.root)
        if worker is None:
            worker = _WORKERS[course.root] = GradingQueue(course, **options)
        return worker.start()


def stop_worker(course: Course, timeout: float | None = 10) -> None:
    """Stop this process's grading thread for a course (a job it was grading stays queued if cut off)."""
    with _WORKERS_LOCK:
        worker = _WORKERS.pop(course.root, None)
    if worker is not None:
        worker.stop(timeout)


def _wake_workers(course: Course) -> None:
    worker = _WORKERS.get(course.root)
    if worker is not None:
        worker.wake.set()


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PartResult:
    grade_id: str
    band: str  # final: grader.feedback.band (the one ladder of exercises.checks.bands); before: the answer's form
    message: str


@dataclass(frozen=True)
class LearnerResult:
    """What a learner may see of their graded submission: never points; bands only once it is final."""

    attempt: int | None
    band: str  # of the total, after any late penalty; CHECKED before the submission is final
    late: bool
    parts: list[PartResult] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    final: bool = True
    why: str = ""  # Release.why: why bands are shown, or when they will be


def _form(part: dict[str, Any]) -> tuple[str, str]:
    """A part's form from its grading record (a record from before forms were recorded: its status only)."""
    from grader import scoring

    if isinstance(part.get("form"), str):
        return part["form"], str(part.get("form_message") or "")
    if part.get("status") == "not_attempted":
        return scoring.MISSING, "No answer was found."
    return "received", "Its form is reported with the result."


def learner_view(spec: Assignment, scores: dict[str, tuple[float | None, float]], penalty: float,
                 record: dict[str, Any], instructor_notes: dict[str, str], shown: Release,
                 attempt: int | None = None, late: bool = False) -> LearnerResult:
    """The learner's view of one graded submission (pure: learner_result reads its inputs).

    Before the submission is final only what the grader found without the learner's truth: each
    part's form, the grader's notes on running the notebook, and `late` (from its timestamp: a
    penalty is a share of the score, so "a penalty was applied" would say the score is not 0).
    Once final: the bands and the checks' messages (without a stated credit), whether a late
    penalty was applied, and an instructor's override notes."""
    from grader import feedback
    from grader.rubric import level_message

    comments = feedback._record_comments(record)
    parts_record = record.get("parts") if isinstance(record.get("parts"), dict) else {}
    if not shown.final:
        parts = []
        for part in spec.graded:
            label, message = _form(parts_record.get(part.grade_id) or {})
            parts.append(PartResult(part.grade_id, label, message))
        for part in spec.rubric:  # read by a person: nothing to check before then
            parts.append(PartResult(part.grade_id, RECEIVED, RUBRIC_LATER))
        return LearnerResult(attempt=attempt, band=CHECKED, late=late, parts=parts, comments=comments,
                             final=False, why=shown.why)
    messages = feedback._record_messages(record)
    parts = []
    total = 0.0
    for part in (*spec.graded, *spec.rubric):
        score, max_score = scores.get(part.grade_id, (None, part.points))
        total += score or 0.0
        message = (level_message(part, score) if part in spec.rubric
                   else feedback._learner_message(messages.get(part.grade_id, "")))
        # an override's reason, as the feedback page shows it (a rubric comment only once its part is read)
        note = None if part in spec.rubric and score is None else instructor_notes.get(part.grade_id)
        message = " ".join(x for x in (message, note and f"Your instructor: {note}") if x)
        parts.append(PartResult(part.grade_id, feedback.band(score, max_score), message))
    # a total is shown once every rubric part has been read: part of a memo is not a band of the whole
    graded = any(score is not None for score, _ in scores.values()) and \
        all(scores.get(part.grade_id, (None, 0))[0] is not None for part in spec.rubric)
    return LearnerResult(
        attempt=attempt,
        band=feedback.band(max(0.0, total - penalty) if graded else None, spec.max_score),
        late=penalty > 0,
        parts=parts,
        comments=comments,
        final=True,
        why=shown.why,
    )


def learner_result(course: Course, assignment: str, learner: str, now: datetime | None = None) -> LearnerResult | None:
    """The learner's result for their last graded submission (None before the first): a validity
    report until the submission is final, bands after (`release`)."""
    from grader import feedback

    status = _read_status(course, assignment, learner)
    if status.get("state") != "graded" and not _graded_outside_the_app(course, assignment, learner, status):
        return None
    spec = course.assignment(assignment)
    scores, penalty, instructor_notes = feedback._gradebook_scores(course, spec, learner)
    record = feedback._record(course, assignment, learner)
    return learner_view(spec, scores, penalty, record, instructor_notes, release(course, assignment, learner, now),
                        attempt=status.get("attempt"), late=submitted_late(course, assignment, learner))


def submitted_late(course: Course, assignment: str, learner: str) -> bool:
    """Whether the learner's current submission came after the due date (its timestamp, not its penalty)."""
    stamp = _read_stamp(course.path("submitted", learner, assignment, "timestamp.txt"))
    if stamp is None:
        stamp = _read_stamp(course.path("autograded", learner, assignment, "timestamp.txt"))
    return stamp is not None and policy(course, assignment, learner).is_late(stamp)


# ----------------------------------------------------------------------------- for staff


@dataclass(frozen=True)
class SubmissionSummary:
    learner: str
    attempts: int
    last: datetime | None
    late: bool
    state: str  # queued | grading | graded | error | none
    error: str = ""


def list_submissions(course: Course, assignment: str) -> list[SubmissionSummary]:
    """Every learner with an attempt from the app or a collected submission, by learner id."""
    course.assignment(assignment)
    learners = {p.name for p in (course.state_dir / SUBMISSIONS_DIR / assignment).glob("*") if p.is_dir()}
    learners |= {p.parent.name for p in course.path("submitted").glob(f"*/{assignment}") if p.is_dir()}
    summaries = []
    for learner in sorted(learner for learner in learners if is_learner_id(learner)):
        rules = policy(course, assignment, learner)
        stamp = _read_stamp(course.path("submitted", learner, assignment, "timestamp.txt"))
        status = queue_status(course, assignment, learner)
        summaries.append(SubmissionSummary(learner, len(attempts(course, assignment, learner)), stamp,
                                           stamp is not None and rules.is_late(stamp), status.state, status.error))
    return summaries
