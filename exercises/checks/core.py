"""The check record and its registry: one exercise is one `Check`, as learntools' `Problem` is.

A check is data plus a small scoring function `func(answer, truth) -> float | (float, message)`
returning partial credit in [0, 1], or raising `Incorrect` with a message for the learner. The
record also says what the learner may see (`visibility`), which band ladder its credit is read
on, its default tolerances, the misconceptions an instructor reads from its `Reading`, and the
app widget that takes its answer. `run_check` wraps every call so that a bad answer never raises
and no message ever contains the expected value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from exercises.checks.bands import LADDER, Band, Tolerance, band_of_credit

CORRECT = "correct"
INCORRECT = "incorrect"
NOT_ATTEMPTED = "not_attempted"

# What the app may show a learner for a checked answer: the check's own message (it teaches
# without a figure or a direction to search along), or the band alone. Notebook feedback shows
# only an answer's form until a submission is final, whatever the check (grader.submissions).
Visibility = Literal["message", "band"]
VISIBILITIES: tuple[str, ...] = ("message", "band")


@dataclass(frozen=True)
class Reading:
    """What an instructor needs to read one answer, returned by the check beside the learner's
    message: the band, and the quantities behind it. Never shown to a learner."""

    kind: str                          # estimate | finding | flags | table | labels | collapse | design | answer
    band: str                          # a band id of the check's ladder (within | close | off)
    problem: str = ""                  # why the answer was not scored as given: unreadable, percentage, ...
    value: float | None = None         # the learner's number
    error: float | None = None         # the learner's number minus the truth (signed)
    full_within: float | None = None   # the tolerance the answer was scored with
    zero_at: float | None = None
    flagged: int | None = None         # flag sets: how many ids, and the fit against the hidden set
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    ai_users: int | None = None
    worst_column: str | None = None    # tables: the column that disagrees most, and what is missing
    missing_columns: tuple[str, ...] = ()
    extra_rows: int | None = None
    agreed: int | None = None          # labelled sessions, design criteria: how many of how many
    total: int | None = None
    parts: Mapping[str, Reading] = field(default_factory=dict)  # the finding: one reading per number

    def to_dict(self) -> dict[str, Any]:
        """The reading as JSON for the grading record (empty fields left out)."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "parts":
                if value:
                    out["parts"] = {k: v.to_dict() for k, v in value.items()}
            elif value not in (None, "", ()):
                out[item.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reading | None:
        """A reading back from a grading record; None when the record holds none or a damaged one."""
        if not isinstance(data, Mapping) or not isinstance(data.get("kind"), str) or "band" not in data:
            return None
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and k != "parts"}
        values["missing_columns"] = tuple(str(c) for c in values.get("missing_columns") or ())
        parts = data.get("parts") if isinstance(data.get("parts"), Mapping) else {}
        read = {k: cls.from_dict(v) for k, v in parts.items()}
        try:
            return cls(**values, parts={k: v for k, v in read.items() if v is not None})
        except TypeError:
            return None


UNREADABLE = "unreadable"


class Incorrect(AssertionError):
    """Shown to the learner: a failed check, not a crash. `reading` tells the instructor why."""

    def __init__(self, message: str = "", reading: Reading | None = None) -> None:
        super().__init__(message)
        self.reading = reading


@dataclass(frozen=True)
class Result:
    status: str
    score: float
    message: str
    reading: Reading | None = None   # for the instructor (grader.review); None when nothing was handed in

    @property
    def correct(self) -> bool:
        return self.status == CORRECT

    @property
    def band(self) -> Band:
        """The band of this result's credit on the one ladder."""
        return band_of_credit(self.score)


@dataclass(frozen=True)
class Example:
    """A known answer for a check, with the truth it is compared against."""

    answer: Any
    truth: Any
    note: str = ""


# Where a check's truth comes from: the company's hidden labels (then `truth` names the
# exercises.truth.TRUTHS function), the learner's own simulator settings, the sample of sessions
# shown to the learner, or the metric catalogue (no hidden truth at all).
TruthSource = Literal["company", "simulator", "session_sample", "catalogue"]
TRUTH_SOURCES: tuple[str, ...] = TruthSource.__args__  # type: ignore[attr-defined]

WidgetKind = Literal["number", "pilot_estimate", "label_sessions", "flag_employees",
                     "flag_converts", "choose_metrics", "upload_table", "notebook"]
WIDGET_KINDS: tuple[str, ...] = WidgetKind.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AppWidget:
    """How the app takes an answer to this check (course.app_pages.widgets dispatches on `kind`).

    `company`: the exercise shows company data and is checked against a company's truth (then
    always the learner's practice company); `tables`: its practice company's tables are offered
    for pandas work beside it."""

    kind: WidgetKind
    label: str = ""
    company: bool = True
    tables: bool = False


@dataclass(frozen=True)
class Check:
    id: str
    func: Callable[..., float | tuple[float, str]]
    hints: tuple[str, ...]
    passing: tuple[Example, ...]
    failing: tuple[Example, ...]
    widget: AppWidget
    visibility: Visibility = "band"
    pass_mark: float = 1.0
    summary: str = ""
    # the exercises.truth.TRUTHS entry it scores against; None when the truth is not the company's
    # (then `truth_source` says where it comes from)
    truth: str | None = None
    truth_source: TruthSource = "company"
    tolerances: Mapping[str, Tolerance] = field(default_factory=dict)  # per number of the answer
    ladder: tuple[Band, ...] = LADDER
    misconceptions: Mapping[str, str] = field(default_factory=dict)    # reading key -> likely cause

    def with_tolerances(self, overrides: Mapping[str, Tolerance] | None) -> dict[str, Tolerance]:
        """The check's tolerances, with an assignment's overrides (GradedPart.tolerance) applied."""
        return {**self.tolerances, **dict(overrides or {})}


CHECKS: dict[str, Check] = {}


def check(
    check_id: str,
    *,
    hints: Iterable[str],
    passing: Iterable[Example | tuple[Any, Any]],
    failing: Iterable[Example | tuple[Any, Any]],
    widget: AppWidget,
    visibility: Visibility = "band",
    pass_mark: float = 1.0,
    truth: str | None = None,
    truth_source: TruthSource = "company",
    tolerances: Mapping[str, Tolerance] | None = None,
    misconceptions: Mapping[str, str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a scoring function under a fixed id with everything else an exercise knows, so that
    the app, assignment.yaml, the grader, the instructor's review and the tests read one entry
    instead of retyping the pairing. A check with `tolerances` takes them as a keyword argument."""
    if visibility not in VISIBILITIES:
        raise ValueError(f"check {check_id!r}: visibility must be one of {VISIBILITIES}")
    if truth_source not in TRUTH_SOURCES or (truth is None) == (truth_source == "company"):
        raise ValueError(f"check {check_id!r}: a company truth names its TRUTHS function; any other "
                         f"truth_source is one of {TRUTH_SOURCES[1:]}")

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        if check_id in CHECKS:
            raise ValueError(f"check {check_id!r} is registered twice")
        CHECKS[check_id] = Check(
            id=check_id,
            func=func,
            hints=tuple(hints),
            passing=tuple(e if isinstance(e, Example) else Example(*e) for e in passing),
            failing=tuple(e if isinstance(e, Example) else Example(*e) for e in failing),
            widget=widget,
            visibility=visibility,
            pass_mark=pass_mark,
            summary=(func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else "",
            truth=truth,
            truth_source=truth_source,
            tolerances=dict(tolerances or {}),
            misconceptions=dict(misconceptions or {}),
        )
        return func

    return register


def is_empty(answer: Any) -> bool:
    """An answer that says nothing (None, blank, an empty container or table, NaN)."""
    if answer is None:
        return True
    if isinstance(answer, str):
        return not answer.strip()
    if isinstance(answer, pd.DataFrame | pd.Series):
        return answer.empty
    if isinstance(answer, np.ndarray):
        return answer.size == 0
    if isinstance(answer, float) and math.isnan(answer):
        return True
    if isinstance(answer, Mapping | list | tuple | set | frozenset):
        return len(answer) == 0
    return False


def score_with(chk: Check, answer: Any, truth: Any,
               tolerance: Mapping[str, Tolerance] | None = None) -> Any:
    """Call a check's function, handing it its tolerances when it has any."""
    if chk.tolerances:
        return chk.func(answer, truth, tolerance=chk.with_tolerances(tolerance))
    return chk.func(answer, truth)


def run_check(check_id: str, answer: Any, truth: Any,
              tolerance: Mapping[str, Tolerance] | None = None) -> Result:
    """Score an answer; never raises for a bad answer and never reveals the truth.

    `tolerance` overrides the check's default tolerances per number (GradedPart.tolerance)."""
    try:
        chk = CHECKS[check_id]
    except KeyError:
        raise KeyError(f"unknown check {check_id!r}; known: {', '.join(sorted(CHECKS))}") from None
    if is_empty(answer):
        return Result(NOT_ATTEMPTED, 0.0, "No answer yet: nothing to check.")
    try:
        outcome = score_with(chk, answer, truth, tolerance)
    except Incorrect as exc:
        reading = exc.reading or Reading("answer", chk.ladder[-1].id, problem=UNREADABLE)
        return Result(INCORRECT, 0.0, str(exc) or "Not right yet.", reading)
    except Exception as exc:  # a malformed answer must not crash the app or the grader
        return Result(
            INCORRECT,
            0.0,
            f"Your answer could not be checked ({type(exc).__name__}): check its type and shape.",
            Reading("answer", chk.ladder[-1].id, problem=UNREADABLE),
        )
    if isinstance(outcome, tuple) and len(outcome) == 3:
        score, message, reading = outcome
    else:
        score, message = outcome if isinstance(outcome, tuple) else (outcome, "")
        reading = None
    score = clip_score(score)
    status = CORRECT if score >= chk.pass_mark - 1e-9 else INCORRECT
    if not message:
        message = "Correct." if status == CORRECT else f"Partly right: {score:.0%} of the credit."
    band = band_of_credit(score, chk.ladder).id
    reading = replace(reading, band=band) if reading is not None else Reading("answer", band)
    return Result(status, score, message, reading)


def clip_score(score: Any) -> float:
    """A credit as a float in [0, 1] (NaN counts as none)."""
    value = float(score)
    if math.isnan(value):
        return 0.0
    return min(1.0, max(0.0, value))


_clip_score = clip_score  # the name the tests and older code use


__all__ = ["CHECKS", "CORRECT", "INCORRECT", "NOT_ATTEMPTED", "TRUTH_SOURCES", "VISIBILITIES", "WIDGET_KINDS",
           "AppWidget",
           "Check", "Example", "Incorrect", "Reading", "Result", "UNREADABLE", "check",
           "clip_score", "is_empty", "run_check", "score_with"]
