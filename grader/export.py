"""Grades out of nbgrader's gradebook: nbgrader's CSV columns, or a Canvas gradebook import CSV.

Late penalties follow nbgrader's late-submission plugin as configured in the course's
nbgrader_config.py (`c.AssignLatePenalties.plugin_class`, `c.LateSubmissionPlugin.penalty_method`).
They are (re)applied here from each submission's timestamp and its assignment's due date, so the
export is right even for submissions graded before a due date was set.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float

from datasets.errors import UserError
from grader.course_dir import Course, find_course, gradebook, nbgrader_config

FORMATS = ("nbgrader", "canvas")
# The columns and their order of nbgrader's CsvExportPlugin (nbgrader 0.9).
NBGRADER_COLUMNS = (
    "assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
    "raw_score", "late_submission_penalty", "score", "max_score",
)
CANVAS_FIXED = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


class ExportError(UserError):
    """Grades cannot be exported as asked."""


class PercentPerDayLate(LateSubmissionPlugin):
    """A late penalty of a percentage of the score per started day late, never more than the score."""

    percent_per_day = Float(10.0, help="Percent of the score taken off per started day late.").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float | None:
        if total_seconds_late <= 0:
            return None
        days = math.ceil(total_seconds_late / 86400)
        return min(score, score * self.percent_per_day * days / 100.0)


@dataclass(frozen=True)
class Row:
    assignment: str
    duedate: Any
    timestamp: Any
    student_id: str
    last_name: str
    first_name: str
    email: str
    lms_user_id: str
    raw_score: float
    late_submission_penalty: float
    score: float
    max_score: float
    submitted: bool = True  # False: no submission (nbgrader's export counts it 0, Canvas's is blank)
    section: str = ""
    sis_user_id: str = ""


def late_plugin(course: Course) -> LateSubmissionPlugin:
    """The late-submission plugin configured for the course (nbgrader's default: no penalty)."""
    from nbgrader.preprocessors import AssignLatePenalties

    preprocessor = AssignLatePenalties(config=nbgrader_config(course))
    preprocessor.init_plugin()
    return preprocessor.plugin_inst


def set_late_penalty(plugin: LateSubmissionPlugin, submission: Any) -> bool:
    """Set a submission's notebooks' late penalty from its timestamp and due date; True when it is late.

    Used by grading (so feedback shows the penalty at once) and again by export (due dates may change).
    """
    seconds = float(submission.total_seconds_late or 0.0)
    for notebook in submission.notebooks:
        penalty = None
        if seconds > 0:
            penalty = plugin.late_submission_penalty(submission.student.id, notebook.score, seconds)
            penalty = None if penalty is None else max(0.0, min(float(penalty), notebook.score))
        notebook.late_submission_penalty = penalty
    return seconds > 0


def apply_late_penalties(course: Course) -> int:
    """Set each late submitted notebook's penalty with the assignment's plugin, against each learner's
    own due date (grader.deadlines: extensions); returns how many are late."""
    from grader.deadlines import late_plugin_for, sync_extension

    late = 0
    with gradebook(course) as gb:
        for assignment in gb.assignments:
            plugin = late_plugin_for(course, assignment.name)
            for submission in assignment.submissions:
                sync_extension(course, submission)
                late += set_late_penalty(plugin, submission)
        gb.db.commit()
    return late


def _roster_details(course: Course) -> dict[str, tuple[str, str]]:
    """learner -> (section, SIS user id), where the roster gives them (otherwise blank)."""
    from grader.assign import roster_details

    return {learner: (details.get("section", ""), details.get("sis_user_id", ""))
            for learner, details in roster_details(course).items()}


def grade_rows(course: Course, assignments: list[str] | None = None) -> list[Row]:
    """One row per learner and assignment; no submission counts as 0, as in nbgrader's export
    (`submitted` says which rows had none)."""
    from nbgrader.api import MissingEntry

    details = _roster_details(course)
    rows: list[Row] = []
    with gradebook(course) as gb:
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            if assignments and assignment.name not in assignments:
                continue
            for student in sorted(gb.students, key=lambda s: s.id):
                try:
                    submission = gb.find_submission(assignment.name, student.id)
                except MissingEntry:
                    raw, penalty, timestamp, submitted = 0.0, 0.0, None, False
                else:
                    raw = float(submission.score)
                    penalty = float(submission.late_submission_penalty or 0.0)
                    timestamp, submitted = submission.timestamp, True
                section, sis_user_id = details.get(student.id, ("", ""))
                rows.append(Row(
                    assignment=assignment.name, duedate=assignment.duedate, timestamp=timestamp,
                    student_id=student.id, last_name=student.last_name or "", first_name=student.first_name or "",
                    email=student.email or "", lms_user_id=student.lms_user_id or "",
                    raw_score=raw, late_submission_penalty=penalty, score=max(0.0, raw - penalty),
                    max_score=float(assignment.max_score), submitted=submitted, section=section,
                    sis_user_id=sis_user_id,
                ))
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}" if value == int(value) else f"{round(value, 4)}"
    return str(value)


def _nbgrader_table(rows: list[Row]) -> list[list[str]]:
    table = [list(NBGRADER_COLUMNS)]
    for row in rows:
        table.append([_cell(getattr(row, column)) for column in NBGRADER_COLUMNS])
    return table


def canvas_ids(course: Course, assignments: list[str]) -> dict[str, str]:
    """theater.toml's `[assignments.NAME] canvas_id` of each assignment that has one."""
    ids = {name: course.settings_for(name).canvas_id for name in assignments}  # checked at open
    return {name: value for name, value in ids.items() if value is not None}


def _canvas_table(rows: list[Row], ids: dict[str, str] | None = None) -> list[list[str]]:
    """Canvas's gradebook import shape: fixed columns, a Points Possible row, one column per assignment.

    A column is `Name (assignment_id)` when the course knows the Canvas id, as Canvas's own export
    writes it (Canvas matches that to the existing assignment; a bare name creates a new one). No
    submission is blank (Canvas keeps it "missing"), never a 0."""
    ids = ids or {}
    assignments = sorted({r.assignment for r in rows})
    maxima = {r.assignment: r.max_score for r in rows}
    headers = [f"{a} ({ids[a]})" if a in ids else a for a in assignments]
    table = [list(CANVAS_FIXED) + headers,
             ["Points Possible", "", "", "", ""] + [_cell(maxima[a]) for a in assignments]]
    learners: dict[str, dict[str, Row]] = {}
    for row in rows:
        learners.setdefault(row.student_id, {})[row.assignment] = row
    for student_id in sorted(learners):
        per = learners[student_id]
        any_row = next(iter(per.values()))
        name = ", ".join(part for part in (any_row.last_name, any_row.first_name) if part) or student_id
        table.append([name, any_row.lms_user_id, any_row.sis_user_id, any_row.email, any_row.section] +
                     [_cell(per[a].score) if a in per and per[a].submitted else "" for a in assignments])
    return table


def in_sections(course: Course, rows: list[Row], sections: list[str] | None) -> list[Row]:
    """The rows of learners in the given sections of the roster (all rows without `sections`)."""
    if not sections:
        return rows
    from grader.assign import sections as known_sections

    known = known_sections(course)
    unknown = sorted(set(sections) - set(known))
    if unknown:
        raise ExportError(f"no section {', '.join(map(repr, unknown))} on the roster "
                          f"(known: {', '.join(known) or 'none: import a roster with a section column'})")
    return [row for row in rows if row.section in sections]


def export_grades(course: Course | Path | str | None, fmt: str = "nbgrader", to: Path | str = "grades.csv",
                  assignments: list[str] | None = None, sections: list[str] | None = None) -> Path:
    """Write the course's grades as CSV (atomically), only for learners in `sections` if given;
    returns the file written."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    course = course if isinstance(course, Course) else find_course(course=course)
    apply_late_penalties(course)
    rows = in_sections(course, grade_rows(course, assignments), sections)
    if not rows:
        raise ExportError("nothing to export: the gradebook has no learners or no assignments yet"
                          + (" in these sections" if sections else ""))
    table = _nbgrader_table(rows) if fmt == "nbgrader" else \
        _canvas_table(rows, canvas_ids(course, sorted({r.assignment for r in rows})))
    target = Path(to).expanduser()
    if target.is_dir():
        raise ExportError(f"{target} is a folder: give a file name, e.g. {target / 'grades.csv'}")
    if not target.parent.exists():
        raise ExportError(f"{target.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".grades-", suffix=".csv")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(table)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
