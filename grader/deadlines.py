"""Each learner's own deadlines: theater.toml's due and closes dates, moved by a per-learner extension.

    [assignments.detect]
    due = "2026-12-01 17:00:00 UTC"
    [assignments.detect.extensions]
    ada = "2026-12-10 17:00 UTC"   # her own due date
    bob = "+3d"                    # three days after the assignment's (also "+36h")

An extension moves the learner's due date and, by the same amount, the date the assignment closes
for them (the end of the late window, when every submission is final and bands are released),
never earlier than it closes for the class. Lateness, the late penalty (nbgrader's
`SubmittedAssignment.extension`, which its `total_seconds_late` counts), the app's policy line and
the release of feedback all read their dates here. `theater extend` writes the extension
(`extend`) and updates the learner's stored penalty at once.

The late penalty itself is nbgrader_config.py's plugin, unless [assignments.NAME] late_penalty
says "none", "zero" or "N% per day" for one assignment (`late_plugin_for`).
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from grader.course_dir import SETTINGS_FILE, Course, CourseError, open_course, validate_learner_id
from grader.settings import Extension, validate_settings

DEFAULT_LATE_DAYS = 7  # an assignment with a due date and no `closes` takes late work this long


@dataclass(frozen=True)
class Deadlines:
    """When an assignment is due and closes, for the class or for one learner."""

    due: datetime | None
    closes: datetime | None
    extended: bool = False  # the learner's own dates (an extension), not the class's


def class_deadlines(course: Course, assignment: str) -> Deadlines:
    """The assignment's dates: `due`, `closes` (default DEFAULT_LATE_DAYS after due, else never)."""
    settings = course.settings_for(assignment)
    closes = settings.closes
    if closes is None and settings.due is not None:
        closes = settings.due + timedelta(days=DEFAULT_LATE_DAYS)
    return Deadlines(settings.due, closes)


def extension_of(course: Course, assignment: str, learner: str | None) -> Extension | None:
    if learner is None:
        return None
    return course.settings_for(assignment).extensions.get(learner)


def deadlines(course: Course, assignment: str, learner: str | None = None) -> Deadlines:
    """The learner's own dates (the class's when they have no extension, or `learner` is None)."""
    base = class_deadlines(course, assignment)
    extension = extension_of(course, assignment, learner)
    if extension is None:
        return base
    due = extension.due(base.due)
    if base.due is not None and base.closes is not None:
        closes = max(base.closes, base.closes + (due - base.due))
    else:  # no due date: the extension is the learner's own closing date
        closes = due if base.closes is None else max(base.closes, due)
    return Deadlines(due, closes, extended=True)


def gradebook_extension(course: Course, assignment: str, learner: str,
                        gradebook_due: datetime | None = None) -> timedelta | None:
    """What nbgrader stores as the learner's extension: their due date minus the gradebook's."""
    own = extension_of(course, assignment, learner)
    class_due = course.settings_for(assignment).due or gradebook_due
    if own is None or class_due is None:
        return None
    due = own.due(class_due)
    if due is None:
        return None
    naive = class_due.replace(tzinfo=None)  # nbgrader's due dates are naive UTC
    return due.replace(tzinfo=None) - naive


def sync_extension(course: Course, submission: Any) -> None:
    """Set an nbgrader SubmittedAssignment's extension from theater.toml (None when it has none)."""
    due = submission.assignment.duedate
    submission.extension = gradebook_extension(course, submission.assignment.name, submission.student.id, due)


def late_plugin_for(course: Course, assignment: str) -> Any:
    """The late-penalty plugin of one assignment: its `late_penalty`, else nbgrader_config.py's."""
    from nbgrader.plugins import LateSubmissionPlugin

    from grader.export import PercentPerDayLate, late_plugin

    chosen = course.settings_for(assignment).late_penalty
    if chosen is None:
        return late_plugin(course)
    if chosen in ("none", "zero"):
        return LateSubmissionPlugin(penalty_method=chosen)
    return PercentPerDayLate(percent_per_day=float(chosen.split("%", 1)[0]))


# ----------------------------------------------------------------------------- theater extend


def _key_pattern(learner: str) -> re.Pattern[str]:
    names = [re.escape(f'"{learner}"'), re.escape(f"'{learner}'")]
    if "." not in learner:
        names.append(re.escape(learner))
    return re.compile(rf"^\s*(?:{'|'.join(names)})\s*=")


def _with_extension(text: str, assignment: str, learner: str, value: str | None) -> str:
    """theater.toml's text with the learner's line in [assignments.NAME.extensions] set (or removed)."""
    lines = text.splitlines(keepends=True)
    header = re.compile(rf"^\s*\[\s*assignments\s*\.\s*{re.escape(assignment)}\s*\.\s*extensions\s*\]\s*(#.*)?$")
    line = f'"{learner}" = "{value}"\n' if value is not None else ""
    start = next((i for i, text_line in enumerate(lines) if header.match(text_line.rstrip("\n"))), None)
    if start is None:
        if value is None:
            return text
        ending = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{ending}\n[assignments.{assignment}.extensions]\n{line}"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    key = _key_pattern(learner)
    for i in range(start + 1, end):
        if key.match(lines[i]):
            lines[i] = line
            return "".join(lines)
    if value is None:
        return text
    last = max((i for i in range(start, end) if lines[i].strip() and not lines[i].lstrip().startswith("#")),
               default=start)
    if not lines[last].endswith("\n"):
        lines[last] += "\n"
    lines.insert(last + 1, line)
    return "".join(lines)


def extend(course: Course, assignment: str, learner: str, until: str | None = None,
           days: float | None = None, clear: bool = False) -> Deadlines:
    """Give (or with `clear` remove) a learner's extension in theater.toml; returns their new dates.

    `until` is their own due date, `days` a number of days after the assignment's. The file is
    rewritten only if it still checks (grader.settings), and the learner's submission in the
    gradebook, if any, gets its late penalty recomputed at once."""
    course.assignment(assignment)  # an unknown assignment is an error, not a new table
    validate_learner_id(learner)
    if clear != (until is None and days is None) or (until is not None and days is not None):
        raise CourseError("give one of --until DATE or --days N (or --clear to remove the extension)")
    if days is not None and not 0 < days <= 365:
        raise CourseError(f"--days {days:g}: a number of days between 0 and 365")
    value = None
    if not clear:
        try:
            value = Extension.parse(until if until is not None else f"+{days:g}d").as_toml()
        except ValueError as exc:
            raise CourseError(f"--until: {exc}") from None
    path = course.root / SETTINGS_FILE
    text = _with_extension(path.read_text(encoding="utf-8"), assignment, learner, value)
    try:
        settings = validate_settings(tomllib.loads(text), path, CourseError)
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(f"{path}: cannot add the extension here ({exc}); add it by hand under "
                          f"[assignments.{assignment}.extensions]") from None
    written = settings.assignment(assignment).extensions.get(learner)
    if (written is None) != clear:
        raise CourseError(f"{path}: the extension of {learner} is written another way in this file; "
                          f"edit [assignments.{assignment}.extensions] by hand")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)
    course = open_course(course.root)
    _refresh_penalty(course, assignment, learner)
    return deadlines(course, assignment, learner)


def _refresh_penalty(course: Course, assignment: str, learner: str) -> None:
    """The learner's stored late penalty under their new dates (feedback and the gradebook read it)."""
    from nbgrader.api import MissingEntry

    from grader.course_dir import gradebook
    from grader.export import set_late_penalty

    with gradebook(course) as gb:
        try:
            submission = gb.find_submission(assignment, learner)
        except MissingEntry:
            return
        sync_extension(course, submission)
        set_late_penalty(late_plugin_for(course, assignment), submission)
        gb.db.commit()
