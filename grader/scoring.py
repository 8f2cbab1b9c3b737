"""Scores computed by the grader process, never by learner code, and written where nbgrader reads them.

nbgrader reads a numeric `execute_result` in an autograder-test cell as partial credit; we put
ours there (with a one-line note), replacing whatever the kernel printed in that cell, so the
autograded notebook, the gradebook and nbgrader's own `determine_grade` all agree.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from exercises.assignments import Assignment, ArtifactRejected, GradedPart, load_artifact
from exercises.checks import CHECKS, INCORRECT, UNREADABLE, Incorrect, Reading, is_empty, run_check
from exercises.truth import TRUTHS

SCORE_DIGITS = 4
# What an answer's form can be, found without the learner's truth (grader.submissions shows only
# this before a submission is final).
WELL_FORMED = "well formed"
MISSING = "missing"
MALFORMED = "not in the expected form"
NOT_READ = "not read"


@dataclass(frozen=True)
class PartScore:
    grade_id: str
    points: float
    max_points: float
    status: str
    message: str
    form: str = WELL_FORMED  # WELL_FORMED, MISSING, MALFORMED or NOT_READ: never depends on the truth
    form_message: str = ""
    # the check's Reading as JSON, for the instructor's review only (grader.review): the learner's
    # number, its error, the band ... never shown to a learner
    reading: dict[str, Any] | None = None


def answer_form(check_id: str, answer: Any) -> tuple[str, str]:
    """(form, message) of an answer, found without the learner's truth.

    The check runs against the truth of its own first known passing example, so only its reading
    and range rules can object (a list where ids are expected, a share above 1, a missing number):
    whatever it says depends on the answer alone, never on how close the answer is."""
    if is_empty(answer):
        return MISSING, "No answer was found, or its file could not be read: the notebook's last cells write it."
    check = CHECKS[check_id]
    try:
        check.func(answer, check.passing[0].truth)
    except Incorrect as exc:
        return MALFORMED, str(exc) or "The answer is not in the form the check reads."
    except Exception as exc:  # noqa: BLE001 - a malformed answer is a message, never a crash
        return MALFORMED, f"Your answer could not be read ({type(exc).__name__}): check its type and shape."
    return WELL_FORMED, "Found, and in the form the check reads."


def score_part(part: GradedPart, answer: Any, truth: Any) -> PartScore:
    """One graded part: the check's credit against the truth (with the part's own tolerance), the
    answer's form without it, and the check's reading for the instructor."""
    result = run_check(part.check, answer, truth, tolerance=part.tolerances)
    fraction = min(1.0, max(0.0, float(result.score))) if math.isfinite(result.score) else 0.0
    form, form_message = answer_form(part.check, answer)
    return PartScore(grade_id=part.grade_id, points=round(fraction * part.points, SCORE_DIGITS),
                     max_points=part.points, status=result.status, message=result.message,
                     form=form, form_message=form_message,
                     reading=None if result.reading is None else result.reading.to_dict())


def score_submission(assignment: Assignment, folder: Path, company: Any,
                     truth_cache: dict[str, Any] | None = None) -> tuple[dict[str, PartScore], dict[str, Any]]:
    """Each graded part's credit from the learner's artifact against the truth; also the answers read."""
    truths = truth_cache if truth_cache is not None else {}
    scores: dict[str, PartScore] = {}
    answers: dict[str, Any] = {}
    for part in assignment.graded:
        if part.truth not in truths:
            truths[part.truth] = TRUTHS[part.truth](company)
        try:
            answer = load_artifact(folder, part)
        except ArtifactRejected as exc:  # past a size, shape or nesting limit: refused unread, said why
            answers[part.grade_id] = None
            scores[part.grade_id] = PartScore(part.grade_id, 0.0, part.points, INCORRECT, f"Not scored: {exc}",
                                              NOT_READ, f"Not read: {exc}",
                                              Reading("answer", "off", problem=UNREADABLE).to_dict())
        else:
            answers[part.grade_id] = answer
            scores[part.grade_id] = score_part(part, answer, truths[part.truth])
    return scores, answers


def jsonable(value: Any) -> Any:
    """Answers and truths as JSON (for the instructor-only grading record), or None when not simple."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, set | frozenset):
        ids = sorted(str(v) for v in value)
        users = getattr(value, "ai_users", None)  # a detect truth: keep the floor its checks use
        return ids if users is None else {"ids": ids, "ai_users": int(users)}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value] if all(isinstance(v, str | int | float) for v in value) else None
    if isinstance(value, dict):
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            return None
        return value
    return None


def grade_cell_outputs(score: PartScore) -> list[NotebookNode]:
    """What a graded cell shows after grading: the note, then the partial credit nbgrader reads."""
    note = (f"Scored by the grader outside your notebook: {score.points:g} / {score.max_points:g} points. "
            f"{score.message}".strip())
    return [
        nbformat.v4.new_output("stream", name="stdout", text=note + "\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": f"{score.points:g}"}, execution_count=None),
    ]


def fill_grade_cells(nb: NotebookNode, scores: dict[str, PartScore]) -> None:
    """Replace each graded cell's outputs with our score; the kernel's own checks become a plain note."""
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if cell.get("cell_type") != "code" or not meta.get("grade") or grade_id not in scores:
            continue
        formative = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                formative.append(f"{out.get('ename')}: {str(out.get('evalue'))[:300]}")
        outputs = grade_cell_outputs(scores[grade_id])
        if formative:
            text = "Your notebook's own checks in this cell reported: " + "; ".join(formative) + "\n"
            outputs.insert(0, nbformat.v4.new_output("stream", name="stdout", text=text))
        cell["outputs"] = outputs
