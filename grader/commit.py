"""Commit: what the submitting process writes for one graded submission, in a crash-safe order.

autograded/<learner>/<assignment>/ first, then nbgrader's gradebook, then the grading record
(.theater/grading/<assignment>/<learner>.json): files by atomic rename, the gradebook in one
transaction. The record says which submission content it is valid for (`submission_digest`), so
a batch killed between steps, or a worker lost, only repeats work when run again: nothing is
lost or counted twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

from grader.report import LearnerGrade
from grader.worker import Outcome

RECORD_VERSION = 1


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def submission_digest(submitted_dir: Path, notebook: str, fingerprint: str) -> str:
    """What a grading record is valid for: the submission's bytes, its timestamp and the release."""
    digest = hashlib.sha256(fingerprint.encode())
    for name in (notebook, "timestamp.txt"):
        path = submitted_dir / name
        digest.update(name.encode())
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def record_path(course: Any, assignment: str, learner: str) -> Path:
    return course.state_dir / "grading" / assignment / f"{learner}.json"


def read_record(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("version") == RECORD_VERSION else None


def _timestamp(submitted_dir: Path) -> Any:
    from nbgrader.utils import parse_utc

    path = submitted_dir / "timestamp.txt"
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:  # a timestamp is one short line; never parse more
            return parse_utc(handle.read(200).decode("utf-8").strip())
    except Exception:  # noqa: BLE001 - an unreadable timestamp means "on time", as in nbgrader
        return None


def save_to_gradebook(gb: Any, assignment: Any, learner: str, parts: dict[str, dict], submitted_dir: Path,
                       late: Any = None, extension: Any = None, changed: set[str] | None = None) -> None:
    """Partial credit, then the late penalty, into nbgrader's gradebook (set, never add: safe to repeat)."""
    from grader.export import set_late_penalty

    notebook_id = Path(assignment.notebook).stem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's update_or_create_submission trips SQLAlchemy warnings
        try:
            _set_scores(gb, assignment, notebook_id, learner, parts, submitted_dir, extension, changed)
            if late is not None:  # the penalty depends on the score just committed
                set_late_penalty(late, gb.find_submission(assignment.name, learner))
                gb.db.commit()
        except BaseException:
            gb.db.rollback()
            raise


def _set_scores(gb: Any, assignment: Any, notebook_id: str, learner: str, parts: dict[str, dict],
                submitted_dir: Path, extension: Any = None, changed: set[str] | None = None) -> None:
    """The student, the submission (with its timestamp and the learner's extension) and each part's auto score.

    A rubric part needs a manual grade (nbgrader's needs_manual_grade) until a person grades it, and
    again when its answer changed since (`changed`: the rubric parts whose text differs; None: all)."""
    gb.update_or_create_student(learner)
    stamp = _timestamp(submitted_dir)
    if stamp is not None:
        gb.update_or_create_submission(assignment.name, learner, timestamp=stamp, extension=extension)
    else:
        gb.update_or_create_submission(assignment.name, learner, extension=extension)
    for grade_id, part in parts.items():
        grade = gb.find_grade(grade_id, notebook_id, assignment.name, learner)
        grade.auto_score = float(part["points"])
        grade.needs_manual_grade = grade.manual_score is not None
    for part in assignment.rubric:
        grade = gb.find_grade(part.grade_id, notebook_id, assignment.name, learner)
        grade.needs_manual_grade = grade.manual_score is None or changed is None or part.grade_id in changed
    gb.db.commit()


def commit_outcome(gb: Any, course: Any, assignment: Any, outcome: Outcome, submitted_dir: Path, digest: str,
            late: Any = None) -> LearnerGrade:
    """autograded/ notebook, then gradebook, then the record: a kill between steps only repeats work."""
    learner = outcome.learner
    target = course.path("autograded", learner, assignment.name)
    target.mkdir(parents=True, exist_ok=True)
    _atomic_write(target / assignment.notebook, outcome.notebook_json.encode("utf-8"))
    stamp = submitted_dir / "timestamp.txt"
    if stamp.is_file() and not stamp.is_symlink():
        _atomic_write(target / "timestamp.txt", stamp.read_bytes()[:200])
    from grader.deadlines import gradebook_extension

    extension = gradebook_extension(course, assignment.name, learner, gb.find_assignment(assignment.name).duedate)
    before = (read_record(record_path(course, assignment.name, learner)) or {}).get("written") or {}
    changed = {part for part, digest in outcome.written.items() if before.get(part) != digest}
    save_to_gradebook(gb, assignment, learner, outcome.parts, submitted_dir, late, extension, changed)
    grade = LearnerGrade(
        learner=learner,
        score=round(sum(p["points"] for p in outcome.parts.values()), 4),
        max_score=assignment.max_score,
        parts={k: p["points"] for k, p in outcome.parts.items()},
        isolation=outcome.isolation,
        isolation_detail=outcome.isolation_detail,
        integrity_flags=list(outcome.flags),
        comments=list(outcome.comments),
        seconds=round(outcome.seconds, 2),
    )
    record = {"version": RECORD_VERSION, "digest": digest, "grade": asdict(grade), "parts": outcome.parts,
              "answers": outcome.answers, "truths": outcome.truths, "written": outcome.written,
              "phrases": outcome.phrases,
              "checks": {p.grade_id: p.check for p in assignment.graded}}
    _atomic_write(record_path(course, assignment.name, learner), json.dumps(record, indent=1).encode("utf-8"))
    return grade


def open_gradebook(course: Any, assignment: Any) -> tuple[Any, Any]:
    """The batch's gradebook connection, with theater.toml's due date, and the course's late-penalty plugin."""
    from grader.course_dir import gradebook
    from grader.deadlines import late_plugin_for

    book = gradebook(course)
    due = course.settings_for(assignment.name).due
    if due:
        book.update_or_create_assignment(assignment.name, duedate=f"{due:%Y-%m-%d %H:%M:%S} UTC")
    return book, late_plugin_for(course, assignment.name)
