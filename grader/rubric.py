"""Rubric grading of written answers (the memo): one question at a time, across the class.

A rubric part (exercises.assignments.RubricPart) has no check: `theater grade` records the
submission and nbgrader marks the part `needs_manual_grade`; a person then picks one of the
rubric's levels and may add a comment. Both go where nbgrader keeps manual grading —
`Grade.manual_score` on the answer cell's grade, the comment in `Comment.manual_comment` as the
line `[grade_id] text` (grader.overrides' format) — so the gradebook, feedback and `theater export`
read them as they read an override, and the late penalty is set again on the new score.
nbgrader does not record who graded or when; each grade is appended to
.theater/rubric/<assignment>.jsonl (the audit trail; the latest line per learner and part wins).

The answer shown to the grader is the one in autograded/<learner>/<assignment>/: the submission as
grading rebuilt it on the release, so it is exactly what was graded.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from datasets.errors import UserError
from exercises.assignments import Assignment, RubricPart
from exercises.student_version import TEXT_STUB
from grader.course_dir import Course, gradebook, validate_learner_id
from grader.overrides import MAX_COMMENT, comment_row, join_comment, reapply_late_penalty, split_comment

MAX_GRADER_NAME = 64


class RubricError(UserError):
    """The rubric grade cannot be recorded as asked; the message says why."""


@dataclass(frozen=True)
class RubricAnswer:
    """One learner's answer to one rubric question, and its grade so far."""

    learner: str
    part: str
    text: str  # as written (never rendered as HTML or markdown: show it as text)
    points: float | None  # None: not graded yet
    comment: str
    needs_grade: bool  # not graded, or the answer changed since it was graded
    graded_by: str = ""
    graded_at: str = ""

    @property
    def blank(self) -> bool:
        return not self.text.strip() or self.text.strip() == TEXT_STUB


def rubric_part(spec: Assignment, part: str) -> RubricPart:
    found = spec.rubric_part(part)
    if found is None:
        known = ", ".join(p.grade_id for p in spec.rubric) or "none"
        raise RubricError(f"{spec.name} has no rubric part {part!r} (rubric parts: {known})")
    return found


def _audit_path(course: Course, assignment: str) -> Path:
    return course.state_dir / "rubric" / f"{assignment}.jsonl"


def audit_trail(course: Course, assignment: str) -> list[dict]:
    """Every rubric grade given for an assignment, oldest first (lines that do not parse are skipped)."""
    try:
        lines = _audit_path(course, assignment).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    entries = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def _latest(course: Course, assignment: str) -> dict[tuple[str, str], dict]:
    return {(str(e.get("learner")), str(e.get("part"))): e for e in audit_trail(course, assignment)}


def answer_texts(course: Course, spec: Assignment, learner: str) -> dict[str, str]:
    """grade_id -> the learner's written answer for each rubric part, from the graded notebook."""
    path = course.path("autograded", learner, spec.name, spec.notebook)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - not graded yet, or unreadable: no answer to show
        return {}
    wanted = {part.grade_id for part in spec.rubric}
    found: dict[str, str] = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader") or {}
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if grade_id in wanted and grade_id not in found:
            source = cell.get("source", "")
            found[grade_id] = "".join(source) if isinstance(source, list) else str(source)
    return found


def answers(course: Course, assignment: str, part: str) -> list[RubricAnswer]:
    """Every graded submission's answer to one rubric question, by learner id."""
    from nbgrader.api import MissingEntry

    spec = course.assignment(assignment)
    rubric_part(spec, part)
    notebook = Path(spec.notebook).stem
    latest = _latest(course, spec.name)
    found: list[RubricAnswer] = []
    with gradebook(course) as gb:
        try:
            submissions = gb.assignment_submissions(spec.name)
        except MissingEntry:
            return []
        for submission in sorted(submissions, key=lambda s: s.student.id):
            learner = submission.student.id
            try:
                grade = gb.find_grade(part, notebook, spec.name, learner)
            except MissingEntry:
                continue
            row = comment_row(gb, spec, learner, part)
            comment = split_comment(row.manual_comment)[0].get(part, "") if row is not None else ""
            audit = latest.get((learner, part), {})
            points = None if grade.manual_score is None else float(grade.manual_score)
            found.append(RubricAnswer(
                learner=learner, part=part, text=answer_texts(course, spec, learner).get(part, ""),
                points=points, comment=comment, needs_grade=points is None or bool(grade.needs_manual_grade),
                graded_by=str(audit.get("grader", "")) if points is not None else "",
                graded_at=str(audit.get("at", "")) if points is not None else ""))
    return found


def progress(course: Course, assignment: str) -> dict[str, tuple[int, int]]:
    """grade_id -> (graded, submissions) for each rubric part: what is left to read."""
    spec = course.assignment(assignment)
    done = {}
    for part in spec.rubric:
        found = answers(course, assignment, part.grade_id)
        done[part.grade_id] = (sum(not a.needs_grade for a in found), len(found))
    return done


def grade_answer(course: Course, assignment: str, learner: str, part: str, points: float, comment: str = "",
                 grader: str = "") -> RubricAnswer:
    """Record one rubric grade: `points` must be one of the part's levels; `comment` reaches the learner."""
    from nbgrader.api import MissingEntry

    spec = course.assignment(assignment)
    rubric = rubric_part(spec, part)
    validate_learner_id(learner)
    try:
        points = float(points)
    except (TypeError, ValueError):
        raise RubricError(f"the points must be a number, not {points!r}") from None
    if not math.isfinite(points) or rubric.level(points) is None:
        levels = ", ".join(f"{level.points:g}" for level in rubric.rubric)
        raise RubricError(f"{part} is graded on its rubric's levels ({levels}), not {points:g}")
    comment = " ".join(str(comment or "").split())
    if len(comment) > MAX_COMMENT:
        raise RubricError(f"the comment is {len(comment)} characters long; at most {MAX_COMMENT}")
    grader = " ".join(str(grader or "").split())[:MAX_GRADER_NAME] or "unknown"
    notebook = Path(spec.notebook).stem
    with gradebook(course) as gb:
        try:
            grade = gb.find_grade(part, notebook, spec.name, learner)
        except MissingEntry:
            raise RubricError(f"{learner} has no graded submission of {spec.name}: "
                              f"run `theater grade {spec.name}` first") from None
        grade.manual_score = points
        grade.needs_manual_grade = False
        row = comment_row(gb, spec, learner, part)
        if row is not None:
            parts, other = split_comment(row.manual_comment)
            if comment:
                parts[part] = comment
            else:
                parts.pop(part, None)
            row.manual_comment = join_comment(parts, other)
        reapply_late_penalty(course, gb, spec, learner)
    at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    _append_audit(course, spec.name, {"learner": learner, "part": part, "points": points, "comment": comment,
                                      "grader": grader, "at": at})
    text = answer_texts(course, spec, learner).get(part, "")
    return RubricAnswer(learner, part, text, points, comment, False, grader, at)


def _append_audit(course: Course, assignment: str, entry: dict) -> None:
    path = _audit_path(course, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # one write per line: never interleaved
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


WAITING = "Your answer is waiting to be read by your grader."


def level_message(part: RubricPart, points: float | None) -> str:
    """What the learner reads for a rubric part: the descriptor of the level their answer reached."""
    if points is None:
        return WAITING
    level = part.level(float(points))
    return f"Rubric: {level.descriptor}" if level is not None else ""
