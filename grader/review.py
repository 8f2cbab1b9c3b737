"""What an instructor reviews after grading: submissions, the gradebook, the spread of wrong answers.

Read-only views over the files and tables the CLI writes: submitted/<learner>/<assignment>/ with
nbgrader's timestamp.txt, nbgrader's gradebook (scores, overrides, late penalties) and the
grading records in .theater/grading/<assignment>/<learner>.json (per part: status and the check's
message; for number and id-set answers also the answer and the hidden truth). Exact scores are
for staff only: learners see bands (grader.feedback.band).

"Misconception" is only what a check can tell, read from the structured `Reading` the check returns
and the grading record keeps (never from its message to the learner). For a number (each of the
two numbers of measure's finding, read on its own) that is the direction and size of the error
against the tolerance it was scored with; for a set of flagged ids (detect) it is precision
against recall and whether the learner flagged about as many people as used AI at all; for the
weekly table it is the column that disagrees most. Each band carries the misconception the check
record names for it, worded as a likely cause, not a verdict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from exercises import causal
from exercises.assignments import Assignment
from exercises.checks import CHECKS, CLOSE, FINDING_PARTS, WITHIN, run_check
from exercises.checks import Reading as CheckReading
from exercises.checks.estimates import MISSING_NUMBER as MISSING
from exercises.checks.estimates import OUT_OF_RANGE, PERCENTAGE
from exercises.checks.tables import MISSING_COLUMNS
from grader.course_dir import Course, gradebook
from grader.deadlines import deadlines

NO_SUBMISSION = "no submission"
NOT_GRADED = "not graded"
GRADED = "graded"
CHANGED = "resubmitted since grading"
EVERY_USER_SHARE = 0.8  # flagging at least this share of all AI users is flagging by usage alone


# ----------------------------------------------------------------------------- files


def _parse_time(text: str | None) -> datetime | None:
    from nbgrader.utils import parse_utc

    if not text:
        return None
    try:
        value = parse_utc(str(text).strip())
    except (ValueError, OverflowError, TypeError):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def due_date(course: Course, assignment: str) -> datetime | None:
    """theater.toml's due date, else the gradebook's (what grading and export use)."""
    due = _parse_time(course.assignment_setting(assignment, "due"))
    if due is not None:
        return due
    from nbgrader.api import MissingEntry

    with gradebook(course) as gb:
        try:
            stored = gb.find_assignment(assignment).duedate
        except MissingEntry:
            return None
    return None if stored is None else stored.replace(tzinfo=UTC)


def submission_time(folder: Path) -> datetime | None:
    """nbgrader's timestamp.txt (written by the server or by `collect`), else None."""
    stamp = folder / "timestamp.txt"
    if not stamp.is_file() or stamp.is_symlink():
        return None
    with open(stamp, "rb") as handle:
        return _parse_time(handle.read(200).decode("utf-8", "replace"))


def records(course: Course, assignment: str) -> dict[str, dict]:
    """The grading records of an assignment, by learner (unreadable ones are skipped)."""
    found: dict[str, dict] = {}
    for path in sorted((course.state_dir / "grading" / assignment).glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            found[path.stem] = record
    return found


def released(course: Course) -> list[str]:
    """Assignments released so far (nbgrader's release/ holds their student version)."""
    return sorted(p.name for p in course.path("release").iterdir() if p.is_dir()) \
        if course.path("release").is_dir() else []


def assignments(course: Course) -> list[str]:
    return sorted(p.parent.name for p in course.path("source").glob("*/assignment.yaml"))


# ----------------------------------------------------------------------------- submissions


@dataclass(frozen=True)
class Submission:
    learner: str
    submitted_at: datetime | None
    late_by_hours: float | None  # None: on time or no due date / no submission
    status: str  # no submission | not graded | graded | resubmitted since grading
    feedback: bool


def submissions(course: Course, assignment: str, learners: list[str] | None = None) -> list[Submission]:
    """Everyone on the roster (and anyone who submitted): when, how late, graded or not."""
    spec = course.assignment(assignment)
    due = due_date(course, assignment)
    root = course.path("submitted")
    submitted = {p.parent.name for p in root.glob(f"*/{assignment}") if p.is_dir()} if root.is_dir() else set()
    everyone = sorted(set(learners or ()) | submitted)
    rows = []
    for learner in everyone:
        folder = course.path("submitted", learner, assignment)
        feedback = course.path("feedback", learner, assignment, Path(spec.notebook).stem + ".html").is_file()
        if learner not in submitted:
            rows.append(Submission(learner, None, None, NO_SUBMISSION, feedback))
            continue
        when = submission_time(folder)
        late = None
        own = deadlines(course, assignment, learner)
        if own.extended:   # an extension moves this learner's due date, as grading and export do
            due_for_learner = own.due
        else:
            due_for_learner = due
        if when is not None and due_for_learner is not None and when > due_for_learner:
            late = round((when - due_for_learner).total_seconds() / 3600.0, 1)
        record = course.state_dir / "grading" / assignment / f"{learner}.json"
        if not record.is_file():
            status = NOT_GRADED
        else:
            newest = max((p.stat().st_mtime for p in (folder / spec.notebook, folder / "timestamp.txt") if p.is_file()),
                         default=0.0)
            status = CHANGED if newest > record.stat().st_mtime else GRADED
        rows.append(Submission(learner, when, late, status, feedback))
    return rows


def submissions_frame(rows: list[Submission]) -> pd.DataFrame:
    return pd.DataFrame({
        "learner": [r.learner for r in rows],
        "submitted (UTC)": [r.submitted_at.strftime("%Y-%m-%d %H:%M") if r.submitted_at else "" for r in rows],
        "late": [f"{r.late_by_hours:g} h late" if r.late_by_hours else "" for r in rows],
        "status": [r.status for r in rows],
        "feedback": ["written" if r.feedback else "" for r in rows],
    })


# ----------------------------------------------------------------------------- the gradebook


def copy_flags(found: Mapping[str, dict], spec: Assignment | None = None) -> dict[str, list[str]]:
    """Copy detection over the records, as grading reports it (grader.copydetect), with each graded
    part's own tolerance when the assignment is given."""
    from grader.copydetect import class_copy_flags

    tolerances = {p.grade_id: p.tolerances for p in spec.graded} if spec is not None else None
    return class_copy_flags(found, tolerances)


def _grade_rows(course: Course, assignment: str) -> list[tuple]:
    """(learner, part, auto, manual, needs review, late penalty) of every graded part, in one query
    (one lookup per learner and part takes seconds for a class of 30)."""
    from nbgrader.api import Assignment as Released
    from nbgrader.api import BaseCell, Grade, Student, SubmittedAssignment, SubmittedNotebook

    with gradebook(course) as gb:
        return (gb.db.query(Student.id, BaseCell.name, Grade.auto_score, Grade.manual_score,
                            Grade.needs_manual_grade, SubmittedNotebook.late_submission_penalty)
                .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
                .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
                .join(Released, SubmittedAssignment.assignment_id == Released.id)
                .join(Student, SubmittedAssignment.student_id == Student.id)
                .join(BaseCell, Grade.cell_id == BaseCell.id)
                .filter(Released.name == assignment)
                .all())


def gradebook_frame(course: Course, assignment: str) -> pd.DataFrame:
    """One row per learner with a graded submission: each part's score (an override wins, as in
    nbgrader's Grade.score), the total, the late penalty, the final score, overrides, flags and the
    grader's notes (the comments the learner's feedback shows). An assignment with rubric parts
    also gets "to grade": its parts no person has graded yet, or whose answer changed since."""
    spec = course.assignment(assignment)
    parts = [p.grade_id for p in (*spec.graded, *spec.rubric)]
    rubric = {p.grade_id for p in spec.rubric}
    found = records(course, assignment)
    copies = copy_flags(found, spec)
    learners: dict[str, dict[str, Any]] = {}
    for learner, part, auto, manual, review_needed, penalty in _grade_rows(course, assignment):
        if part not in parts:
            continue
        entry = learners.setdefault(learner, {"scores": {}, "overridden": [], "review": False, "to grade": [],
                                              "penalty": float(penalty or 0.0)})
        score = manual if manual is not None else auto
        entry["scores"][part] = None if score is None else float(score)
        if part in rubric:  # a rubric grade is the part's score, not an override of one
            if manual is None or review_needed:
                entry["to grade"].append(part)
        elif manual is not None:
            entry["overridden"].append(part)
            entry["review"] |= bool(review_needed)
    rows = []
    for learner, entry in sorted(learners.items()):
        scores = entry["scores"]
        if all(v is None for v in scores.values()) and not entry["to grade"]:
            continue
        raw = sum(v for v in scores.values() if v is not None)
        record = found.get(learner, {})
        grade_info = record.get("grade") if isinstance(record.get("grade"), dict) else {}
        rows.append({
            "learner": learner, **{part: scores.get(part) for part in parts},
            "total": raw, "late penalty": entry["penalty"], "score": max(0.0, raw - entry["penalty"]),
            "max": spec.max_score,
            "overridden": ", ".join(sorted(entry["overridden"])) + (" (regraded since: review)" if entry["review"] else ""),
            "integrity flags": len(grade_info.get("integrity_flags") or []),
            "copy flags": len(copies.get(learner, [])),
            # what the learner's feedback says the grader did: a time-out, the memory limit, a repair
            "grader notes": "; ".join(str(c) for c in grade_info.get("comments") or []),
            **({"to grade": ", ".join(p for p in parts if p in entry["to grade"])} if rubric else {}),
        })
    columns = ["learner", *parts, "total", "late penalty", "score", "max", "overridden", "integrity flags",
               "copy flags", "grader notes", *(["to grade"] if rubric else [])]
    return pd.DataFrame(rows, columns=columns)


def flags_frame(course: Course, assignment: str) -> pd.DataFrame:
    """Every integrity and copy flag, one row each, for the instructor to review (never shown to learners)."""
    found = records(course, assignment)
    rows = []
    for learner, record in sorted(found.items()):
        grade_info = record.get("grade") if isinstance(record.get("grade"), dict) else {}
        for flag in grade_info.get("integrity_flags") or []:
            rows.append({"learner": learner, "kind": "integrity", "detail": str(flag)})
    for learner, flags in sorted(copy_flags(found, course.assignment(assignment)).items()):
        for flag in flags:
            rows.append({"learner": learner, "kind": "copy", "detail": flag})
    return pd.DataFrame(rows, columns=["learner", "kind", "detail"])


def part_difficulty(frame: pd.DataFrame, assignment: Assignment) -> pd.DataFrame:
    """Per part: mean share of the points and share of learners with full marks."""
    rows = []
    for part in (*assignment.graded, *assignment.rubric):
        scores = pd.to_numeric(frame.get(part.grade_id, pd.Series(dtype=float)), errors="coerce").dropna()
        if scores.empty:
            continue
        share = scores / part.points
        rows.append({"part": part.grade_id, "learners": int(len(scores)), "mean share of points": float(share.mean()),
                     "full marks": float((share >= 1.0 - 1e-9).mean())})
    return pd.DataFrame(rows, columns=["part", "learners", "mean share of points", "full marks"])


# ----------------------------------------------------------------------------- the spread of answers


@dataclass(frozen=True)
class Reading:
    band: str
    misconception: str
    correct: bool = False


NOT_ATTEMPTED = Reading("no answer", "nothing handed in for this part (or the answer file was missing)")
UNREADABLE = Reading("answer could not be read", "the answer file has the wrong type or shape: the notebook's "
                     "`save_answer` cell was changed or skipped")
MISSING_NUMBER = Reading("number missing", "the finding lacks this number: one number alone earns nothing")
FINDING_CHECK = "measure.finding"


def describe(check_id: str, found: CheckReading | None, status: str = "") -> Reading:
    """An instructor's band for a check's structured reading (exercises.checks.Reading), with the
    misconception the check record names for it. Never reads the learner's message."""
    if status == "not_attempted":
        return NOT_ATTEMPTED
    if found is None:
        return Reading("correct", "", correct=True) if status == "correct" else \
            Reading(status or "not graded", "no reading recorded: regrade to see it")
    causes = CHECKS[check_id].misconceptions if check_id in CHECKS else {}
    if found.problem == MISSING:
        return MISSING_NUMBER
    if found.problem in (PERCENTAGE, MISSING_COLUMNS) and found.problem in causes:
        label = {PERCENTAGE: "a percentage, not a share", MISSING_COLUMNS: "columns missing"}[found.problem]
        return Reading(label, causes[found.problem])
    if found.problem == OUT_OF_RANGE:
        return Reading("outside the possible range", "gave a value the quantity cannot take")
    if found.kind == "interval" and found.problem in INTERVAL_VERDICTS:
        # the effect's interval is scored inside the finding, whose record names what each verdict suggests
        return Reading(f"interval {found.problem}", CHECKS[FINDING_CHECK].misconceptions.get(found.problem, ""))
    if found.problem:
        return UNREADABLE
    if found.band == WITHIN.id:
        return Reading(_CORRECT_BAND.get(found.kind, "correct"), "", correct=True)
    if found.kind == "estimate" and found.error is not None:
        side = "high" if found.error > 0 else "low"
        return Reading(f"too {side} ({'close' if found.band == CLOSE.id else 'far'})",
                       causes.get(side, f"estimates too {side}"))
    if found.kind == "flags":
        return _describe_flags(found, causes)
    if found.kind == "table" and found.worst_column:
        return Reading(f"`{found.worst_column}` wrong most", causes.get(found.worst_column, "see the check's message"))
    return Reading(found.band, "see the check's message")


_CORRECT_BAND = {"estimate": "within the tolerance", "interval": "interval covers the truth",
                 "flags": "separates them well"}
INTERVAL_VERDICTS = (causal.MISSES, causal.TOO_NARROW, causal.TOO_WIDE)


def _describe_flags(found: CheckReading, causes: Mapping[str, str]) -> Reading:
    """Precision against recall, and whether the flags are simply every AI user."""
    precision, recall = found.precision or 0.0, found.recall or 0.0
    if found.ai_users and (found.flagged or 0) >= EVERY_USER_SHARE * found.ai_users:
        return Reading("flagged about every AI user", causes.get("every user", ""))
    if precision < 0.5 * recall:
        return Reading("too many flags", causes.get("too many", ""))
    if recall < 0.5 * precision:
        return Reading("too few flags", causes.get("too few", ""))
    return Reading("partly right", causes.get("partly", ""))


def read_estimate(check: str, answer: Any, truth: Any) -> Reading:
    """Direction and size of a number's error against the check's tolerance (the check's reading)."""
    return describe(check, run_check(check, answer, truth).reading)


GROUPS = {"detect.flag_tokenmaxxers": "tokenmaxxers", "detect.flag_converts": "converts"}


def read_flags(answer: Any, truth: Any, group: str) -> Reading:
    """A flag set read by its check (precision, recall, how many flagged against how many use AI)."""
    check_id = next(c for c, g in GROUPS.items() if g == group)
    return describe(check_id, run_check(check_id, answer, truth).reading)


def finding_readings(answer: Any, truth: Any) -> list[tuple[str, Reading]]:
    """measure's finding holds two parts scored together (the theater share, the access effect with
    its interval): each is read on its own, so the spread shows which part a class gets wrong."""
    if not isinstance(answer, Mapping):
        return [("", UNREADABLE)]
    result = run_check(FINDING_CHECK, answer, truth if isinstance(truth, Mapping) else {})
    return _finding_parts(result.reading)


def _finding_parts(found: CheckReading | None) -> list[tuple[str, Reading]]:
    parts = found.parts if found is not None else {}
    if not parts:
        return [(key, UNREADABLE) for key in FINDING_PARTS]
    return [(key, describe(check_id, parts.get(key)) if key in parts else UNREADABLE)
            for key, check_id in FINDING_PARTS.items()]


def reading(part_check: str, part_record: Mapping[str, Any], answer: Any, truth: Any) -> Reading:
    """One learner's answer to one part, as a band with what it suggests: from the check's reading
    kept in the grading record, else (a record from before readings were kept) from the answer
    and truth the record holds, checked again."""
    status = str(part_record.get("status", ""))
    if status == "not_attempted":
        return NOT_ATTEMPTED
    found = CheckReading.from_dict(part_record.get("reading"))
    if found is None and answer is not None and truth is not None:
        found = run_check(part_check, answer, truth).reading
    if found is None and answer is None and truth is not None:
        return UNREADABLE if status else NOT_ATTEMPTED
    return describe(part_check, found, status)


def answer_spread(course: Course, assignment: str) -> pd.DataFrame:
    """Per part and band: how many learners, their share of the learners graded on that part (or
    number of a finding), and the misconception it suggests."""
    spec = course.assignment(assignment)
    counts: dict[tuple[str, str], dict[str, Any]] = {}
    totals: dict[str, int] = {}
    for _learner, record in sorted(records(course, assignment).items()):
        parts = record.get("parts") or {}
        answers = record.get("answers") or {}
        truths = record.get("truths") or {}
        for part in spec.graded:
            part_record = parts.get(part.grade_id)
            if not isinstance(part_record, Mapping):
                continue
            answer, truth = answers.get(part.grade_id), truths.get(part.grade_id)
            if part.check == FINDING_CHECK:
                # each number is a row group of its own, over every learner graded on the part: a
                # learner with no readable finding counts once in each (so shares add up to 1)
                found = CheckReading.from_dict(part_record.get("reading"))
                if found is not None and found.parts:
                    readings = _finding_parts(found)
                elif isinstance(answer, Mapping) and found is None:
                    readings = finding_readings(answer, truth)
                else:
                    whole = reading(part.check, part_record, answer, truth)
                    readings = [(key, whole) for key in FINDING_PARTS]
                pieces = [(f"{part.grade_id}: {key}", found) for key, found in readings]
            else:
                pieces = [(part.grade_id, reading(part.check, part_record, answer, truth))]
            for label, found in pieces:
                entry = counts.setdefault((label, found.band), {
                    "part": label, "band": found.band, "misconception": found.misconception,
                    "correct": found.correct, "learners": 0})
                entry["learners"] += 1
                totals[label] = totals.get(label, 0) + 1
    rows = sorted(counts.values(), key=lambda e: (e["part"], not e["correct"], -e["learners"], e["band"]))
    for entry in rows:
        entry["share"] = entry["learners"] / totals[entry["part"]]
    return pd.DataFrame(rows, columns=["part", "band", "misconception", "correct", "learners", "share"])
