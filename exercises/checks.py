"""One registry of exercise checks, shared by the app's exercises, the grader and the tests.

A check is data (id, tiered hints, known passing and failing answers) plus a small scoring
function `func(answer, truth) -> float | (float, message)` that returns partial credit in [0, 1]
or raises `Incorrect` with a message for the learner. `run_check` wraps every call so that a bad
answer never raises and no message ever contains the expected value.

Scoring rules (also in docs/instructors.md):
- flag sets (`detect.*`): F1 of the flagged ids against the hidden ids; full credit from
  F1 >= FLAG_FULL_F1 (0.7), none at or below FLAG_ZERO_F1 (0.3, about what flagging every AI
  user scores), linear in between.
- estimates (`measure.theater_share`, `measure.productivity_effect`): full credit within a
  tolerance of the truth, falling linearly to 0 at a documented error (see `ESTIMATE_RULES`).
- the measure finding (`measure.finding`, what the grader scores): both estimates as one answer,
  credit = the share's credit x the effect's, so one number right and the other wrong earns nothing.
- the simulator's collapse point (`goodhart.collapse_point`): all or nothing, right only from the
  true point up to COLLAPSE_FULL_WITHIN above it (below it the correlation has not collapsed).
- the weekly table (`explore.weekly_usage_output`): the share of (week, team, column) cells that
  agree with the truth, rows missing on either side counted as zeros.
- labelled sessions (`spot.label_sessions`): the share of sessions labelled as the logs show.
- dashboard design (`metrics.dashboard_design`): the share of design criteria met.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

CORRECT = "correct"
INCORRECT = "incorrect"
NOT_ATTEMPTED = "not_attempted"

FLAG_FULL_F1 = 0.7
FLAG_ZERO_F1 = 0.3
FLAG_MARGIN = 0.15  # full credit needs at least this much F1 above flagging every AI user
WEEKLY_KEYS = ("week", "team")
WEEKLY_VALUES = ("ai_events", "ai_users", "closed_items")


class Incorrect(AssertionError):
    """Shown to the learner: a failed check, not a crash."""


@dataclass(frozen=True)
class Result:
    status: str
    score: float
    message: str

    @property
    def correct(self) -> bool:
        return self.status == CORRECT


@dataclass(frozen=True)
class Example:
    """A known answer for a check, with the truth it is compared against."""

    answer: Any
    truth: Any
    note: str = ""


@dataclass(frozen=True)
class Check:
    id: str
    func: Callable[[Any, Any], float | tuple[float, str]]
    hints: tuple[str, ...]
    passing: tuple[Example, ...]
    failing: tuple[Example, ...]
    pass_mark: float = 1.0
    summary: str = ""
    truth: str | None = None  # the exercises.truth.TRUTHS entry it scores against; None: not the company alone


CHECKS: dict[str, Check] = {}


def check(
    check_id: str,
    *,
    hints: Iterable[str],
    passing: Iterable[Example | tuple[Any, Any]],
    failing: Iterable[Example | tuple[Any, Any]],
    pass_mark: float = 1.0,
    truth: str | None = None,
) -> Callable[[Callable[[Any, Any], Any]], Callable[[Any, Any], Any]]:
    """Register a scoring function under a fixed id, with its hints, known examples and the truth
    it scores against (a name in exercises.truth.TRUTHS), so that the app, assignment.yaml and the
    tests read one entry instead of retyping the pairing. `truth=None` marks a check whose truth is
    not a function of the company alone (the learner's own sessions or simulator, or no truth)."""

    def register(func: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        if check_id in CHECKS:
            raise ValueError(f"check {check_id!r} is registered twice")
        CHECKS[check_id] = Check(
            id=check_id,
            func=func,
            hints=tuple(hints),
            passing=tuple(e if isinstance(e, Example) else Example(*e) for e in passing),
            failing=tuple(e if isinstance(e, Example) else Example(*e) for e in failing),
            pass_mark=pass_mark,
            summary=(func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else "",
            truth=truth,
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


def run_check(check_id: str, answer: Any, truth: Any) -> Result:
    """Score an answer; never raises for a bad answer and never reveals the truth."""
    try:
        chk = CHECKS[check_id]
    except KeyError:
        raise KeyError(f"unknown check {check_id!r}; known: {', '.join(sorted(CHECKS))}") from None
    if is_empty(answer):
        return Result(NOT_ATTEMPTED, 0.0, "No answer yet: nothing to check.")
    try:
        outcome = chk.func(answer, truth)
    except Incorrect as exc:
        return Result(INCORRECT, 0.0, str(exc) or "Not right yet.")
    except Exception as exc:  # a malformed answer must not crash the app or the grader
        return Result(
            INCORRECT,
            0.0,
            f"Your answer could not be checked ({type(exc).__name__}): check its type and shape.",
        )
    score, message = outcome if isinstance(outcome, tuple) else (outcome, "")
    score = _clip_score(score)
    status = CORRECT if score >= chk.pass_mark - 1e-9 else INCORRECT
    if not message:
        message = "Correct." if status == CORRECT else f"Partly right: {score:.0%} of the credit."
    return Result(status, score, message)


def _clip_score(score: Any) -> float:
    value = float(score)
    if math.isnan(value):
        return 0.0
    return min(1.0, max(0.0, value))


# ---------------------------------------------------------------------------------------------
# answer normalisers: turn what a learner may reasonably hand in into one shape, or say what's wrong


def as_id_set(answer: Any, what: str = "employee ids") -> set[str]:
    """A collection of ids (list, set, Series, array, JSON text, or a table with an id column)."""
    if isinstance(answer, str):
        text = answer.strip()
        if text.startswith("["):
            try:
                answer = json.loads(text)
            except json.JSONDecodeError:
                raise Incorrect(f"Expected a list of {what}; the text is not a valid JSON list.") from None
        else:
            answer = [part for part in text.replace(",", " ").split() if part]
    if isinstance(answer, pd.DataFrame):
        id_cols = [c for c in answer.columns if str(c).endswith("_id")]
        if len(id_cols) != 1:
            raise Incorrect(f"Expected a list of {what}; a table needs exactly one *_id column.")
        answer = answer[id_cols[0]]
    if isinstance(answer, Mapping):
        raise Incorrect(f"Expected a list of {what}, not a dictionary.")
    if isinstance(answer, numbers.Number | bool):
        raise Incorrect(f"Expected a list of {what}, not a single number.")
    if isinstance(answer, pd.Series | np.ndarray):
        answer = list(answer)
    if not isinstance(answer, Iterable):
        raise Incorrect(f"Expected a list of {what}, not {type(answer).__name__}.")
    ids: set[str] = set()
    for item in answer:
        if isinstance(item, np.generic):
            item = item.item()
        if not isinstance(item, str):
            raise Incorrect(f"Expected {what} as text (like 'E00042'); found a {type(item).__name__}.")
        if item.strip():
            ids.add(item.strip())
    return ids


def as_number(answer: Any, what: str) -> float:
    """One finite number; text that parses as a number is accepted."""
    if isinstance(answer, np.generic):
        answer = answer.item()
    if isinstance(answer, bool):
        raise Incorrect(f"Expected {what} as a number, not True/False.")
    if isinstance(answer, str):
        try:
            answer = float(answer.strip().rstrip("%"))
        except ValueError:
            raise Incorrect(f"Expected {what} as a number; the text is not one.") from None
    if isinstance(answer, Mapping | list | tuple | set | pd.Series | pd.DataFrame | np.ndarray):
        raise Incorrect(f"Expected {what} as a single number, not a {type(answer).__name__}.")
    if not isinstance(answer, numbers.Real):
        raise Incorrect(f"Expected {what} as a number, not {type(answer).__name__}.")
    value = float(answer)
    if not math.isfinite(value):
        raise Incorrect(f"Expected {what} as a finite number.")
    return value


def _truth_number(truth: Any) -> tuple[float, Mapping[str, float]]:
    """A truth given as a number, or as {'value': v, 'full_within': a, 'zero_at': b}."""
    if isinstance(truth, Mapping):
        return float(truth["value"]), truth
    return float(truth), {}


def f1_score(flagged: set[str], truth: set[str]) -> tuple[float, float, float]:
    """(precision, recall, F1) of a set of flags against the true set."""
    hits = len(flagged & truth)
    precision = hits / len(flagged) if flagged else 0.0
    recall = hits / len(truth) if truth else (1.0 if not flagged else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def linear_credit(error: float, full_within: float, zero_at: float) -> float:
    """Full credit up to `full_within`, falling linearly to 0 at `zero_at`."""
    if error <= full_within:
        return 1.0
    if error >= zero_at:
        return 0.0
    return 1.0 - (error - full_within) / (zero_at - full_within)


def chance_f1(truth: Any) -> float:
    """F1 of flagging every AI user: the best any strategy blind to the signals can do.

    Flagging more people at random only raises recall, so flagging everyone who used AI is the
    best blind F1. The truth carries how many AI users there were (exercises.truth.EmployeeGroup,
    or a mapping with `ai_users`); without it (an old record), 0.
    """
    size = len(_truth_ids(truth))
    users = truth.get("ai_users") if isinstance(truth, Mapping) else getattr(truth, "ai_users", None)
    if not users or not size:
        return 0.0
    return 2 * size / (int(users) + size)


def _truth_ids(truth: Any) -> set[str]:
    if isinstance(truth, Mapping):
        truth = truth.get("ids", ())
    return {str(t) for t in truth}


def flag_thresholds(truth: Any) -> tuple[float, float]:
    """(zero, full): no credit at or below the F1 of flagging every AI user, full from FLAG_FULL_F1 or
    FLAG_MARGIN above that floor, linear in between."""
    zero = max(FLAG_ZERO_F1, chance_f1(truth))
    return zero, max(FLAG_FULL_F1, zero + FLAG_MARGIN)


def _flag_message(flagged: set[str], truth: Any, group: str) -> tuple[float, str]:
    precision, recall, f1 = f1_score(flagged, _truth_ids(truth))
    zero, full = flag_thresholds(truth)
    score = linear_credit(full - min(f1, full), 0.0, full - zero)
    if score >= 1.0:
        return score, f"Your flags separate the {group} well."
    band = "no better than flagging every AI user" if score == 0.0 else "better than chance, not yet reliable"
    if precision < recall:
        lean = f"more of your flags land on people who are not {group} than you miss"
    elif recall < precision:
        lean = f"you miss more {group} than you wrongly flag"
    else:
        lean = "misses and wrong flags are about even"
    return score, f"Your flags are {band} ({len(flagged)} flagged): {lean}."


# ---------------------------------------------------------------------------------------------
# the checks


def _frame_from_answer(answer: Any) -> pd.DataFrame:
    if isinstance(answer, pd.DataFrame):
        return answer.copy()
    if isinstance(answer, list) and answer and all(isinstance(r, Mapping) for r in answer):
        return pd.DataFrame(answer)
    raise Incorrect(f"Expected a table (a pandas DataFrame), not a {type(answer).__name__}.")


def _normalise_weekly(frame: pd.DataFrame, who: str) -> pd.DataFrame:
    frame = frame.copy()
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if set(WEEKLY_KEYS) - set(frame.columns) and "week" in (frame.index.names or []):
        frame = frame.reset_index()
        frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in (*WEEKLY_KEYS, *WEEKLY_VALUES) if c not in frame.columns]
    if missing:
        raise Incorrect(f"{who} is missing the column(s): {', '.join(missing)}.")
    weeks = pd.to_datetime(frame["week"].astype("string"), errors="coerce")
    if weeks.isna().any():
        raise Incorrect(f"{who}: some `week` values are not dates (use the Monday, e.g. 2025-03-03).")
    if (weeks.dt.dayofweek != 0).any():
        raise Incorrect(f"{who}: `week` must be the Monday that starts each week.")
    out = pd.DataFrame(
        {
            "week": weeks.dt.strftime("%Y-%m-%d"),
            "team": frame["team"].astype("string").str.strip(),
        }
    )
    for col in WEEKLY_VALUES:
        values = pd.to_numeric(frame[col], errors="coerce")
        if values.isna().any():
            raise Incorrect(f"{who}: column `{col}` must hold numbers only.")
        out[col] = values.astype(float)
    if out.duplicated(list(WEEKLY_KEYS)).any():
        raise Incorrect(f"{who} has more than one row for the same week and team: aggregate them.")
    return out


@check(
    "explore.weekly_usage_output",
    truth="weekly_usage_output",
    hints=[
        "Both tables need the team: join ai_events and work_items to employees on employee_id.",
        "A week is the Monday that starts it: `ts.dt.to_period('W').dt.start_time`.",
        "Output counts work items whose closed_at falls in the week and whose status is closed "
        "or merged; abandoned work is not output. ai_users counts distinct employees.",
    ],
    passing=[
        (
            pd.DataFrame(
                {"week": ["2025-01-06", "2025-01-06"], "team": ["Payments", "Search"],
                 "ai_events": [10, 3], "ai_users": [4, 1], "closed_items": [5, 0]}
            ),
            pd.DataFrame(
                {"week": ["2025-01-06", "2025-01-06"], "team": ["Payments", "Search"],
                 "ai_events": [10, 3], "ai_users": [4, 1], "closed_items": [5, 0]}
            ),
        ),
        Example(
            pd.DataFrame(
                {"week": pd.to_datetime(["2025-01-06"]), "team": ["Payments"],
                 "ai_events": [10], "ai_users": [4], "closed_items": [5], "extra": [1]}
            ),
            pd.DataFrame(
                {"week": ["2025-01-06", "2025-01-13"], "team": ["Payments", "Payments"],
                 "ai_events": [10, 0], "ai_users": [4, 0], "closed_items": [5, 0]}
            ),
            "datetime weeks, an extra column and an omitted all-zero row are fine",
        ),
    ],
    failing=[
        Example(
            pd.DataFrame({"week": ["2025-01-06"], "team": ["Payments"], "ai_events": [10]}),
            pd.DataFrame({"week": ["2025-01-06"], "team": ["Payments"], "ai_events": [10],
                          "ai_users": [4], "closed_items": [5]}),
            "missing columns",
        ),
        Example(
            pd.DataFrame({"week": ["2025-01-07"], "team": ["Payments"], "ai_events": [10],
                          "ai_users": [4], "closed_items": [5]}),
            pd.DataFrame({"week": ["2025-01-06"], "team": ["Payments"], "ai_events": [10],
                          "ai_users": [4], "closed_items": [5]}),
            "week not a Monday",
        ),
        Example(
            pd.DataFrame({"week": ["2025-01-06"], "team": ["Payments"], "ai_events": [10],
                          "ai_users": [10], "closed_items": [7]}),
            pd.DataFrame({"week": ["2025-01-06"], "team": ["Payments"], "ai_events": [10],
                          "ai_users": [4], "closed_items": [5]}),
            "two of three cells wrong",
        ),
        Example("a table", pd.DataFrame({"week": ["2025-01-06"]}), "wrong type"),
    ],
)
def weekly_usage_output(answer: Any, truth: pd.DataFrame) -> tuple[float, str]:
    """The per-week, per-team table of AI usage beside closed work, compared cell by cell."""
    mine = _normalise_weekly(_frame_from_answer(answer), "Your table")
    expected = _normalise_weekly(truth, "The truth table")
    merged = mine.merge(expected, on=list(WEEKLY_KEYS), how="outer", suffixes=("_a", "_t"))
    merged = merged.fillna(0.0)
    agreement: dict[str, float] = {}
    for col in WEEKLY_VALUES:
        agreement[col] = float(np.isclose(merged[f"{col}_a"], merged[f"{col}_t"], atol=1e-6).mean())
    score = sum(agreement.values()) / len(agreement)
    if score >= 1.0:
        return 1.0, "Every cell of your weekly table agrees with the logs."
    worst = min(agreement, key=agreement.get)
    extra = len(mine.merge(expected, on=list(WEEKLY_KEYS), how="left", indicator=True)
                .query("_merge == 'left_only'"))
    message = f"Some cells disagree with the logs; `{worst}` is the column that disagrees most."
    if extra:
        message += f" {extra} of your week/team rows have no activity in the logs (check the join)."
    return score, message


def _as_session_labels(answer: Any) -> dict[int, bool]:
    if isinstance(answer, pd.Series):
        answer = answer.to_dict()
    if isinstance(answer, pd.DataFrame):
        if not {"session_id", "is_theater"} <= set(answer.columns):
            raise Incorrect("Expected a table with columns session_id and is_theater.")
        answer = dict(zip(answer["session_id"], answer["is_theater"], strict=True))
    if not isinstance(answer, Mapping):
        raise Incorrect("Expected a mapping of session id to your label (theater or genuine).")
    labels: dict[int, bool] = {}
    for key, value in answer.items():
        try:
            session = int(key)
        except (TypeError, ValueError):
            raise Incorrect("Session ids must be whole numbers.") from None
        if isinstance(value, str):
            word = value.strip().lower()
            if word in {"theater", "theatre", "performative", "true", "yes"}:
                value = True
            elif word in {"genuine", "real", "false", "no"}:
                value = False
            else:
                raise Incorrect("Label each session 'theater' or 'genuine'.")
        if isinstance(value, np.generic):
            value = value.item()
        if value is None:
            continue
        if not isinstance(value, bool | int) or value not in (0, 1):
            raise Incorrect("Label each session 'theater' or 'genuine'.")
        labels[session] = bool(value)
    return labels


@check(
    "spot.label_sessions",
    hints=[
        "Look at what happened to the output: accepted, reused, linked to a merged work item?",
        "Near-duplicate prompts on a document the person wrote themselves rarely move work.",
        "Bursts just before a dashboard refresh or a reporting deadline are a warning sign.",
    ],
    passing=[
        ({1: True, 2: False, 3: True, 4: False}, {1: True, 2: False, 3: True, 4: False}),
        Example({"1": "theater", "2": "genuine", "3": "theater", "4": "theater"},
                {1: True, 2: False, 3: True, 4: False}, "3 of 4 (string labels) passes"),
    ],
    failing=[
        ({1: False, 2: True, 3: False, 4: True}, {1: True, 2: False, 3: True, 4: False}),
        Example({1: "maybe"}, {1: True}, "unknown label word"),
        Example(["theater"], {1: True}, "a list instead of a mapping"),
    ],
    pass_mark=0.75,
)
def label_sessions(answer: Any, truth: Mapping[int, bool]) -> tuple[float, str]:
    """The share of sampled sessions the learner labels as the hidden truth does."""
    labels = _as_session_labels(answer)
    expected = {int(k): bool(v) for k, v in truth.items()}
    unknown = set(labels) - set(expected)
    if unknown:
        raise Incorrect(f"{len(unknown)} labelled session(s) are not in the sample shown to you.")
    agree = sum(labels.get(session) == value for session, value in expected.items())
    score = agree / len(expected)
    unlabelled = len(set(expected) - set(labels))
    message = f"{agree} of {len(expected)} sessions labelled as the logs show."
    if unlabelled:
        message += f" {unlabelled} left unlabelled."
    return score, message


def _flag_check(group: str) -> Callable[[Any, Any], tuple[float, str]]:
    def score(answer: Any, truth: Any) -> tuple[float, str]:
        return _flag_message(as_id_set(answer), truth, group)

    return score


_TRUTH_12 = {f"E{n:05d}" for n in range(1, 11)}


@check(
    "detect.flag_tokenmaxxers",
    truth="tokenmaxxer_ids",
    hints=[
        "Token volume and session counts alone do not separate them: that is the lesson.",
        "Compare what was asked with what was kept: acceptance and reuse of output.",
        "Link sessions to work items: is the usage connected to anything that closed or merged?",
    ],
    passing=[
        (sorted(_TRUTH_12), _TRUTH_12),
        Example(sorted(_TRUTH_12)[:8], _TRUTH_12, "8 of 10 found, no false flags: F1 0.89"),
        Example(pd.Series(sorted(_TRUTH_12)), _TRUTH_12, "a pandas Series of ids"),
    ],
    failing=[
        Example(["E00001", "E00050", "E00051", "E00052"], _TRUTH_12, "mostly false accusations"),
        Example([1, 2, 3], _TRUTH_12, "numbers instead of ids"),
        Example({"E00001": True}, _TRUTH_12, "a dict"),
    ],
)
def flag_tokenmaxxers(answer: Any, truth: Iterable[str]) -> tuple[float, str]:
    """F1 of the flagged employee ids against the hidden tokenmaxxers."""
    return _flag_check("tokenmaxxers")(answer, truth)


@check(
    "detect.flag_converts",
    truth="convert_ids",
    hints=[
        "A convert's early weeks look like a tokenmaxxer's; their later weeks look genuine.",
        "Compare each person's acceptance and linked work before and after a change point.",
        "Look for usage that became more varied and more connected to merged work over time.",
    ],
    passing=[
        (["E00003", "E00007"], {"E00003", "E00007"}),
        Example("E00003, E00007", {"E00003", "E00007"}, "comma-separated text"),
    ],
    failing=[
        Example(["E00001", "E00002", "E00004", "E00005"], {"E00003", "E00007"}, "all wrong"),
        Example(42, {"E00003"}, "a number"),
    ],
)
def flag_converts(answer: Any, truth: Iterable[str]) -> tuple[float, str]:
    """F1 of the flagged employee ids against the hidden converts."""
    return _flag_check("converts")(answer, truth)


@dataclass(frozen=True)
class EstimateRule:
    """Full credit within `full_within` of the truth, linearly down to 0 at `zero_at`."""

    what: str
    full_within: float
    zero_at: float
    unit: str


# Calibrated with benchmarks/guessing.py on 50 learners' mandate-bigco companies (150 employees,
# 180 days, drawn per seed across the ranges of datasets/variation.py). The truths spread over
# about 0.2-0.55 (theater share) and -17 to +60 points (effect). The tolerances follow the measure
# notebook's own errors (share: median 0.022, 90th percentile 0.052, no bias across the range;
# effect: median 1.7, 90th percentile 5.6 points): its reference solution earns 96% of the finding
# (measure.finding: the product of the two credits), the best constant pair 16% in hindsight (13%
# for the best pair over 50 companies a learner generates at home with the open generator), a
# classmate's answers 8%. The effect cannot be tightened: its estimate's errors still reach the
# tolerance on about one company in ten (docs/grading.md).
ESTIMATE_RULES: dict[str, EstimateRule] = {
    "measure.theater_share": EstimateRule("the theater share", 0.05, 0.10, "share points"),
    "measure.productivity_effect": EstimateRule("the productivity effect", 6.0, 10.0, "percentage points"),
}


def estimate_band(error: float, full: float, zero: float) -> str:
    """The band a learner sees: within the tolerance, close, or off by more than the zero-credit error."""
    if error <= full:
        return "within"
    return "close" if error < zero else "far"


def _estimate(check_id: str, value: float, truth: Any) -> tuple[float, str]:
    """Linear credit for the gradebook; the message names only the band, never a direction or
    the credit, so no answer can be solved for from what the learner is shown."""
    rule = ESTIMATE_RULES[check_id]
    expected, overrides = _truth_number(truth)
    full = float(overrides.get("full_within", rule.full_within))
    zero = float(overrides.get("zero_at", rule.zero_at))
    error = abs(value - expected)
    score = linear_credit(error, full, zero)
    band = estimate_band(error, full, zero)
    if band == "within":
        return 1.0, f"Your estimate of {rule.what} is within the tolerance ({full:g} {rule.unit})."
    if band == "close":
        return score, (f"Your estimate of {rule.what} is close, but off by more than the tolerance "
                       f"({full:g} {rule.unit}): partial credit.")
    return score, f"Your estimate of {rule.what} is off by more than {zero:g} {rule.unit}: no credit."


@check(
    "measure.theater_share",
    truth="theater_share",
    hints=[
        "Only events on or after the mandate date count.",
        "Which events would have happened without the mandate? Think about who produced them and "
        "whether their output was kept or linked to work.",
        "Estimate per employee group, then weight each group by its share of post-mandate events.",
    ],
    passing=[(0.31, 0.30), ("0.28", 0.30), Example(0.41, {"value": 0.30, "full_within": 0.12}, "wider tolerance")],
    failing=[
        Example(0.9, 0.30, "far too high"),
        Example(30, 0.30, "a percentage instead of a share"),
        Example(-0.1, 0.30, "negative"),
        Example([0.3], 0.30, "a list"),
    ],
)
def theater_share(answer: Any, truth: Any) -> tuple[float, str]:
    """The estimated share (0–1) of post-mandate AI events that are theater."""
    value = as_number(answer, "the theater share")
    if 1.0 < value <= 100.0:
        raise Incorrect("That looks like a percentage: give the theater share between 0 and 1.")
    if not 0.0 <= value <= 1.0:
        raise Incorrect("A share lies between 0 and 1.")
    return _estimate("measure.theater_share", value, truth)


@check(
    "measure.productivity_effect",
    truth="productivity_effect",
    hints=[
        "Compare closed or merged work per person per week before and after the mandate.",
        "Non-users are your control group: their change is what would have happened anyway.",
        "Take the ratio of the two changes: (after/before for users) / (after/before for "
        "non-users), minus 1, in percent.",
    ],
    passing=[(12.0, 10.0), ("-3%", 0.0)],
    failing=[
        Example(60.0, 10.0, "far too high"),
        Example("about ten", 10.0, "words"),
        Example(float("inf"), 10.0, "infinite"),
    ],
)
def productivity_effect(answer: Any, truth: Any) -> tuple[float, str]:
    """The estimated difference-in-differences change in weekly closed work, in percent."""
    value = as_number(answer, "the productivity effect (in percent)")
    return _estimate("measure.productivity_effect", value, truth)


# The measure report is one finding: how much of the adoption is theater, and what the genuine use
# did to delivered work. Its keys in answers/estimates.json, with the check that scores each number.
FINDING_PARTS: dict[str, str] = {
    "theater_share": "measure.theater_share",
    "productivity_effect_pct": "measure.productivity_effect",
}


@check(
    "measure.finding",
    truth="measure_finding",
    hints=[
        "The finding has two numbers and both count: a right share with a wrong effect (or the "
        "reverse) tells the board the wrong story, so it earns nothing.",
        "Theater share: of the AI events on or after the mandate, the share that is performance. "
        "Effect: the genuine users' change in closed work per person per week, relative to non-users.",
        "Write both with the notebook's cell into answers/estimates.json, keys theater_share and "
        "productivity_effect_pct.",
    ],
    passing=[
        ({"theater_share": 0.31, "productivity_effect_pct": 12.0},
         {"theater_share": 0.30, "productivity_effect_pct": 10.0}),
        Example({"theater_share": "0.28", "productivity_effect_pct": "-3%"},
                {"theater_share": 0.30, "productivity_effect_pct": 0.0}, "numbers as text"),
    ],
    failing=[
        Example({"theater_share": 0.30, "productivity_effect_pct": 40.0},
                {"theater_share": 0.30, "productivity_effect_pct": 10.0}, "right share, wrong effect"),
        Example({"theater_share": 0.60, "productivity_effect_pct": 10.0},
                {"theater_share": 0.30, "productivity_effect_pct": 10.0}, "right effect, wrong share"),
        Example({"theater_share": 0.30}, {"theater_share": 0.30, "productivity_effect_pct": 10.0},
                "the effect is missing"),
        Example({"theater_share": 30, "productivity_effect_pct": 10.0},
                {"theater_share": 0.30, "productivity_effect_pct": 10.0}, "a percentage for the share"),
        Example([0.3, 10.0], {"theater_share": 0.30, "productivity_effect_pct": 10.0}, "a list, not keyed"),
    ],
)
def measure_finding(answer: Any, truth: Mapping[str, Any]) -> tuple[float, str]:
    """The theater share and the productivity effect as one finding: the credit of each number, multiplied.

    A report is right only when both numbers are right, so one lucky number earns nothing and a
    guess has to land inside two tolerances at once. Each number keeps its own band in the message
    (no credit, no direction): the learner learns which number to revisit, not where the truth is.
    """
    if isinstance(answer, str):
        try:
            answer = json.loads(answer)
        except json.JSONDecodeError:
            raise Incorrect("Expected the two estimates as a JSON object; the text is not valid JSON.") from None
    if not isinstance(answer, Mapping):
        raise Incorrect("Expected the two estimates as an object with the keys "
                        + " and ".join(FINDING_PARTS) + f", not a {type(answer).__name__}.")
    missing = [key for key in FINDING_PARTS if is_empty(answer.get(key))]
    if missing:
        raise Incorrect(f"The finding needs both numbers; {' and '.join(missing)} "
                        f"{'is' if len(missing) == 1 else 'are'} missing. "
                        "One number alone earns nothing.")
    credit, messages = 1.0, []
    for key, check_id in FINDING_PARTS.items():
        outcome = CHECKS[check_id].func(answer[key], truth[key])
        score, message = outcome if isinstance(outcome, tuple) else (outcome, "")
        credit *= _clip_score(score)
        messages.append(message)
    if credit >= 1.0:
        return 1.0, " ".join(messages)
    return credit, " ".join(messages) + " The finding earns credit only as far as both numbers are right."


COLLAPSE_FULL_WITHIN = 0.01     # one step of the reward slider above the true point (display rounding)
COLLAPSE_GRID = 0.01             # the truth lies on the slider's grid; below it by more is "not yet"


@check(
    "goodhart.collapse_point",
    hints=[
        "Watch the correlation between usage and output as you raise the reward for usage.",
        "The collapse point is where the correlation first falls below half its starting value.",
    ],
    passing=[
        (0.41, 0.4),
        Example(0.4, {"value": 0.4}, "exactly the first collapsed setting"),
        Example(0.55, {"value": 0.4, "full_within": 0.2}, "wider tolerance"),
    ],
    failing=[
        Example(0.9, 0.4, "far off"),
        Example(0.45, 0.4, "collapsed there, but not the first setting that collapses"),
        Example(0.2, 0.3, "below the collapse point: the correlation is still above half there"),
        Example(0.28, 0.3, "just below the collapse point is not collapsed either"),
        Example(1.5, 0.4, "a reward strength above 1"),
        Example("high", 0.4, "words"),
    ],
)
def collapse_point(answer: Any, truth: Any) -> tuple[float, str]:
    """The incentive strength at which usage stops tracking output in the simulator.

    The definition is one-sided: below the true point the correlation is still above half its
    starting value, so such an answer is wrong however close it is. Credit is all or nothing and
    the message never says which side an answer is on, so a few attempts cannot bisect the truth.
    """
    value = as_number(answer, "the collapse point")
    if not 0.0 <= value <= 1.0:
        raise Incorrect("The reward strength lies between 0 and 1.")
    expected, overrides = _truth_number(truth)
    full = float(overrides.get("full_within", COLLAPSE_FULL_WITHIN))
    if expected - COLLAPSE_GRID / 2 <= value <= expected + full + 1e-9:
        return 1.0, "That is where usage stops tracking output: the first reward with the correlation below half."
    return 0.0, ("That is not the collapse point. At the reward you gave, compare the correlation with "
                 "half its value at zero reward, and check the settings just below it as well.")


DASHBOARD_MIN, DASHBOARD_MAX = 2, 5


@check(
    "metrics.dashboard_design",
    hints=[
        "A metric that is cheap to move without doing the work will be moved without the work.",
        "Put at least one outcome on the dashboard, and a guardrail that catches gaming it.",
        "Keep it short: between 2 and 5 metrics that leaders can actually discuss.",
    ],
    passing=[
        (["customer_fix_time", "rework_rate", "cycle_time"], None),
        (["cycle_time", "change_failure_rate"], None),
    ],
    failing=[
        Example(["ai_sessions_per_user", "tokens_per_user", "active_ai_users"], None, "activity only"),
        Example(["cycle_time"], None, "a single metric, no guardrail"),
        Example(["merged_prs_per_team", "rework_rate", "cycle_time"], None, "an output count as a target"),
        Example(["ai_linked_merged_share", "change_failure_rate"], None, "an attribution share as the outcome"),
        Example(["no_such_metric"], None, "unknown metric id"),
    ],
)
def dashboard_design(answer: Any, truth: Any) -> tuple[float, str]:
    """The share of design criteria a proposed dashboard meets (outcome, guardrail, no gameable target, size)."""
    from exercises.metrics import METRIC_CATALOGUE

    catalogue = truth if isinstance(truth, Mapping) and truth else METRIC_CATALOGUE
    chosen = as_id_set(answer, "metric ids")
    unknown = sorted(chosen - set(catalogue))
    if unknown:
        raise Incorrect(f"Unknown metric id(s): {', '.join(unknown)}. Pick ids from the catalogue.")
    metrics = [catalogue[m] for m in chosen]
    criteria = {
        "it includes at least one outcome metric": any(m.kind == "outcome" for m in metrics),
        "it includes a quality guardrail": any(m.kind == "quality" for m in metrics),
        "no metric on it is easy to game once it becomes a target": all(m.survives_target for m in metrics),
        f"it has between {DASHBOARD_MIN} and {DASHBOARD_MAX} metrics": DASHBOARD_MIN <= len(metrics) <= DASHBOARD_MAX,
    }
    met = [c for c, ok in criteria.items() if ok]
    score = len(met) / len(criteria)
    if score >= 1.0:
        return 1.0, "A dashboard that survives being a target: outcomes with a guardrail, nothing cheap to game."
    missing = [c for c, ok in criteria.items() if not ok]
    return score, "Not yet. Check that " + "; and that ".join(missing) + "."
