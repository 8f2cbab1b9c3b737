"""Estimates (`measure.*`): numbers scored against a tolerance, and the measure finding.

- each number: full credit within its tolerance of the truth, falling linearly to none at a
  documented error (`ESTIMATE_RULES`, overridable per graded part in assignment.yaml);
- the finding (`measure.finding`, what the grader scores): both estimates as one answer, credit =
  the share's credit x the effect's, so one number right and the other wrong earns nothing.

Every estimate of the measure assignment lives here, so replacing what is estimated touches one
module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exercises.checks.bands import Tolerance, band_of_credit, linear_credit
from exercises.checks.core import AppWidget, CHECKS, Example, Incorrect, Reading, check, clip_score, is_empty
from exercises.checks.readers import as_number, truth_number

PERCENTAGE = "percentage"
OUT_OF_RANGE = "out of range"
MISSING_NUMBER = "number missing"


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

# The measure report is one finding: how much of the adoption is theater, and what the genuine use
# did to delivered work. Its keys in answers/estimates.json, with the check that scores each number.
FINDING_PARTS: dict[str, str] = {
    "theater_share": "measure.theater_share",
    "productivity_effect_pct": "measure.productivity_effect",
}
NUMBER_OF_CHECK = {check_id: key for key, check_id in FINDING_PARTS.items()}


def default_tolerance(check_id: str) -> Tolerance:
    rule = ESTIMATE_RULES[check_id]
    return Tolerance(rule.full_within, rule.zero_at)


def _estimate(check_id: str, value: float, truth: Any,
              tolerance: Mapping[str, Tolerance] | None) -> tuple[float, str, Reading]:
    """Linear credit for the gradebook; the message names only the band, never a direction or
    the credit, so no answer can be solved for from what the learner is shown. A tolerance in
    the truth itself ({'value', 'full_within', 'zero_at'}) wins over the part's and the check's."""
    rule = ESTIMATE_RULES[check_id]
    given = (tolerance or {}).get(NUMBER_OF_CHECK[check_id]) or default_tolerance(check_id)
    expected, overrides = truth_number(truth)
    full = float(overrides.get("full_within", given.full_within))
    zero = float(overrides.get("zero_at", given.zero_at))
    error = abs(value - expected)
    score = linear_credit(error, full, zero)
    band = band_of_credit(score).id
    reading = Reading("estimate", band, value=value, error=value - expected, full_within=full, zero_at=zero)
    if band == "within":
        return 1.0, f"Your estimate of {rule.what} is within the tolerance ({full:g} {rule.unit}).", reading
    if band == "close":
        return score, (f"Your estimate of {rule.what} is close, but off by more than the tolerance "
                       f"({full:g} {rule.unit}): partial credit."), reading
    return score, f"Your estimate of {rule.what} is off by more than {zero:g} {rule.unit}: no credit.", reading


@check(
    "measure.theater_share",
    truth="theater_share",
    widget=AppWidget("number", label="Theater share of post-mandate AI events (0–1)", tables=True),
    tolerances={"theater_share": default_tolerance("measure.theater_share")},
    misconceptions={
        "high": "counts genuine use as theater: e.g. all post-mandate growth, or every event of anyone "
                "who looks like a tokenmaxxer, converts' later weeks included",
        "low": "counts only the most blatant theater: misses quieter tokenmaxxing or converts' early weeks",
        PERCENTAGE: "gave the share in percent (e.g. 30 for 0.30)",
    },
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
def theater_share(answer: Any, truth: Any, tolerance: Mapping[str, Tolerance] | None = None
                  ) -> tuple[float, str, Reading]:
    """The estimated share (0–1) of post-mandate AI events that are theater."""
    value = as_number(answer, "the theater share")
    if 1.0 < value <= 100.0:
        raise Incorrect("That looks like a percentage: give the theater share between 0 and 1.",
                        Reading("estimate", "off", problem=PERCENTAGE, value=value))
    if not 0.0 <= value <= 1.0:
        raise Incorrect("A share lies between 0 and 1.", Reading("estimate", "off", problem=OUT_OF_RANGE, value=value))
    return _estimate("measure.theater_share", value, truth, tolerance)


@check(
    "measure.productivity_effect",
    truth="productivity_effect",
    widget=AppWidget("comparison_estimate", label="Productivity effect (percent)", tables=True),
    tolerances={"productivity_effect_pct": default_tolerance("measure.productivity_effect")},
    misconceptions={
        "high": "credits AI with change that happened anyway: no control group, or users compared before/after only",
        "low": "subtracts too much: a control group that is not comparable, or abandoned work counted as output",
    },
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
def productivity_effect(answer: Any, truth: Any, tolerance: Mapping[str, Tolerance] | None = None
                        ) -> tuple[float, str, Reading]:
    """The estimated difference-in-differences change in weekly closed work, in percent."""
    value = as_number(answer, "the productivity effect (in percent)")
    return _estimate("measure.productivity_effect", value, truth, tolerance)


@check(
    "measure.finding",
    truth="measure_finding",
    widget=AppWidget("notebook"),
    tolerances={key: default_tolerance(check_id) for key, check_id in FINDING_PARTS.items()},
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
def measure_finding(answer: Any, truth: Mapping[str, Any],
                    tolerance: Mapping[str, Tolerance] | None = None) -> tuple[float, str, Reading]:
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
    parts = {key: Reading("estimate", "off", problem=MISSING_NUMBER) for key in missing}
    credit, messages = 1.0, []
    refused: Incorrect | None = None   # the first number that could not be read, said to the learner
    for key, check_id in FINDING_PARTS.items():
        if key in missing:
            continue
        try:
            score, message, parts[key] = CHECKS[check_id].func(answer[key], truth[key], tolerance=tolerance)
        except Incorrect as exc:
            parts[key] = exc.reading or Reading("estimate", "off", problem="unreadable")
            refused = refused or exc
            continue
        credit *= clip_score(score)
        messages.append(message)
    if missing:
        raise Incorrect(f"The finding needs both numbers; {' and '.join(missing)} "
                        f"{'is' if len(missing) == 1 else 'are'} missing. "
                        "One number alone earns nothing.", Reading("finding", "off", parts=parts))
    if refused is not None:
        raise Incorrect(str(refused), Reading("finding", "off", parts=parts))
    reading = Reading("finding", "", parts=parts)
    if credit >= 1.0:
        return 1.0, " ".join(messages), reading
    return credit, " ".join(messages) + " The finding earns credit only as far as both numbers are right.", reading


__all__ = ["ESTIMATE_RULES", "FINDING_PARTS", "EstimateRule", "default_tolerance", "measure_finding",
           "productivity_effect", "theater_share"]
