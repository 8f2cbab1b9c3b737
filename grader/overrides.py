"""Score overrides with nbgrader's own mechanism, so they survive regrading and reach the export.

An override is nbgrader's manual grade: `Grade.manual_score` on the part's autograder cell, which
nbgrader's `Grade.score` prefers over `auto_score`, and a reason in `Comment.manual_comment` on the
answer cell the part grades (nbgrader keeps comments on answer cells only). Grading writes only
`auto_score`, so a regrade updates the autograder's figure beside the override and leaves the
override in force; nbgrader then marks the part `needs_manual_grade`, which the gradebook shows as
"regraded since the override: review". Export and feedback read `Grade.score`, so both use it,
and an override (or its removal) sets the submission's late penalty again on the new score, so
the gradebook page, feedback and `theater export` show one figure.

Two parts can grade one answer cell (measure's two estimates), so each part's reason is one line
of that cell's manual comment, `[grade_id] reason`; lines written by hand in nbgrader's formgrader
without a prefix are kept untouched.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from datasets.errors import UserError
from exercises.assignments import Assignment
from grader.course_dir import Course, gradebook, validate_learner_id

PART_LINE = re.compile(r"^\[(?P<part>[^\]\n]+)\] ?(?P<text>.*)$")
MAX_COMMENT = 2000


class OverrideError(UserError):
    """The override cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class Override:
    assignment: str
    learner: str
    part: str
    score: float
    auto_score: float | None
    max_score: float
    comment: str
    regraded_since: bool  # nbgrader's needs_manual_grade: the autograder ran again after the override


def answer_cells(assignment: Assignment) -> dict[str, str | None]:
    """grade_id of each graded part -> the answer (solution) cell before it in the notebook, if any."""
    from exercises.student_version import notebook_for_cells

    nb = nbformat.read(notebook_for_cells(assignment), as_version=4)
    last: str | None = None
    found: dict[str, str | None] = {}
    wanted = set(assignment.part_points)  # a rubric part's answer cell is its own grade cell
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if meta.get("solution") and meta.get("grade_id"):
            last = str(meta["grade_id"])
        if meta.get("grade_id") in wanted:
            found[str(meta["grade_id"])] = last if not meta.get("solution") else str(meta["grade_id"])
    return found


def split_comment(text: str | None) -> tuple[dict[str, str], list[str]]:
    """A manual comment as {part: reason} and the lines that name no part."""
    parts: dict[str, str] = {}
    other: list[str] = []
    for line in (text or "").splitlines():
        match = PART_LINE.match(line)
        if match:
            parts[match["part"]] = match["text"].strip()
        elif line.strip():
            other.append(line)
    return parts, other


def join_comment(parts: dict[str, str], other: list[str]) -> str | None:
    lines = [f"[{part}] {text}" for part, text in sorted(parts.items())] + other
    return "\n".join(lines) or None


def _part(assignment: Assignment, part: str):
    for graded in assignment.graded:
        if graded.grade_id == part:
            return graded
    known = ", ".join(p.grade_id for p in assignment.graded)
    raise OverrideError(f"{assignment.name} has no graded part {part!r} (parts: {known})")


def comment_row(gb, assignment: Assignment, learner: str, part: str):
    from nbgrader.api import MissingEntry

    cell = answer_cells(assignment).get(part)
    if cell is None:
        return None
    try:
        return gb.find_comment(cell, Path(assignment.notebook).stem, assignment.name, learner)
    except MissingEntry:
        return None


def _grade_row(gb, assignment: Assignment, learner: str, part: str):
    from nbgrader.api import MissingEntry

    try:
        return gb.find_grade(part, Path(assignment.notebook).stem, assignment.name, learner)
    except MissingEntry:
        raise OverrideError(f"{learner} has no graded submission of {assignment.name}: grade it first") from None


def reapply_late_penalty(course: Course, gb, assignment: Assignment, learner: str) -> None:
    """The submission's late penalty again, on its new score: the gradebook, feedback and export
    read the stored penalty, so it must follow every override (as grading and export set it)."""
    from grader.deadlines import late_plugin_for, sync_extension
    from grader.export import set_late_penalty

    gb.db.commit()
    submission = gb.find_submission(assignment.name, learner)
    for notebook in submission.notebooks:
        gb.db.refresh(notebook)  # its score is computed from the grades just changed
    sync_extension(course, submission)
    set_late_penalty(late_plugin_for(course, assignment.name), submission)
    gb.db.commit()


def override(course: Course, assignment: str, learner: str, part: str, score: float, comment: str) -> Override:
    """Set a part's score by hand, with the reason the learner will read in their feedback."""
    spec = course.assignment(assignment)
    graded = _part(spec, part)
    validate_learner_id(learner)
    try:
        score = float(score)
    except (TypeError, ValueError):
        raise OverrideError(f"the score must be a number, not {score!r}") from None
    if not math.isfinite(score) or not 0.0 <= score <= graded.points:
        raise OverrideError(f"the score of {part} must be between 0 and {graded.points:g}, not {score:g}")
    comment = " ".join(str(comment or "").split())
    if not comment:
        raise OverrideError("give a comment saying why: the learner reads it in their feedback")
    if len(comment) > MAX_COMMENT:
        raise OverrideError(f"the comment is {len(comment)} characters long; at most {MAX_COMMENT}")
    with gradebook(course) as gb:
        grade = _grade_row(gb, spec, learner, part)
        grade.manual_score = score
        grade.needs_manual_grade = False
        row = comment_row(gb, spec, learner, part)
        if row is not None:
            parts, other = split_comment(row.manual_comment)
            parts[part] = comment
            row.manual_comment = join_comment(parts, other)
        reapply_late_penalty(course, gb, spec, learner)
        return Override(assignment, learner, part, score, grade.auto_score, float(grade.max_score), comment, False)


def clear_override(course: Course, assignment: str, learner: str, part: str) -> None:
    """Back to the autograder's score (and its reason removed from the comment)."""
    spec = course.assignment(assignment)
    _part(spec, part)
    validate_learner_id(learner)
    with gradebook(course) as gb:
        grade = _grade_row(gb, spec, learner, part)
        grade.manual_score = None
        grade.needs_manual_grade = False
        row = comment_row(gb, spec, learner, part)
        if row is not None:
            parts, other = split_comment(row.manual_comment)
            parts.pop(part, None)
            row.manual_comment = join_comment(parts, other)
        reapply_late_penalty(course, gb, spec, learner)


def part_comments(gb, assignment: Assignment, learner: str) -> dict[str, str]:
    """The reason of each overridden part of one learner, and the grader's comment on each rubric
    part (for feedback); unprefixed lines of a cell's manual comment go to every part that cell answers."""
    found: dict[str, str] = {}
    for part in (*assignment.graded, *assignment.rubric):
        row = comment_row(gb, assignment, learner, part.grade_id)
        if row is None or not row.manual_comment:
            continue
        parts, other = split_comment(row.manual_comment)
        text = " ".join([parts.get(part.grade_id, ""), *other]).strip()
        if text:
            found[part.grade_id] = text
    return found


def overrides(course: Course, assignment: str) -> list[Override]:
    """Every overridden part of an assignment, by learner."""
    spec = course.assignment(assignment)
    notebook = Path(spec.notebook).stem
    found: list[Override] = []
    with gradebook(course) as gb:
        try:
            submissions = gb.assignment_submissions(spec.name)
        except Exception:  # noqa: BLE001 - nbgrader raises MissingEntry for an unknown assignment
            return []
        for submission in sorted(submissions, key=lambda s: s.student.id):
            learner = submission.student.id
            comments: dict[str, str] | None = None
            for part in spec.graded:
                try:
                    grade = gb.find_grade(part.grade_id, notebook, spec.name, learner)
                except Exception:  # noqa: BLE001 - a part the notebook lacks
                    continue
                if grade.manual_score is None:
                    continue
                if comments is None:
                    comments = part_comments(gb, spec, learner)
                found.append(Override(spec.name, learner, part.grade_id, float(grade.manual_score),
                                      grade.auto_score, float(grade.max_score),
                                      comments.get(part.grade_id, ""), bool(grade.needs_manual_grade)))
    return found
