"""Estimates (`measure.*`): numbers scored against a tolerance, and the measure finding.

- each number: full credit within its tolerance of the truth, falling linearly to none at a
  documented error (`ESTIMATE_RULES`, overridable per graded part in assignment.yaml);
- the finding (`measure.finding`, what the grader scores): the theater share and the effect of AI
  access with its 95% interval as one answer, credit = the share's credit x the interval's
  (exercises/causal.py interval_verdict), so one part right and the other wrong earns nothing;
- `measure.access_effect`: the app's practice exercise, the effect estimate alone against the
  practice company's truth, with a tolerance the size of the reference interval there.

Every estimate of the measure assignment lives here, so replacing what is estimated touches one
module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exercises import causal
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


# The theater share's tolerance follows the measure notebook's own errors (median 0.022, 90th
# percentile 0.052 over 50 learners' companies, no bias across the range). The access effect's
# in-app tolerance is a default only: the truth of the practice exercise carries its own, the
# reference interval's half-width and width on that company (exercises/truth.py access_effect_point),
# since how precisely a pilot pins the effect depends on the company's size and design.
ESTIMATE_RULES: dict[str, EstimateRule] = {
    "measure.theater_share": EstimateRule("the theater share", 0.05, 0.10, "share points"),
    "measure.access_effect": EstimateRule("the effect of AI access", 10.0, 20.0, "percentage points"),
}

# The measure report is one finding: how much of the adoption is theater, and what giving people
# AI access did to delivered work, with the interval that says how sure the estimate is. Its keys
# in answers/estimates.json; FINDING_PARTS names the check whose reading each part has.
INTERVAL_KEYS = ("access_effect_pct", "access_effect_low", "access_effect_high")
FINDING_KEYS = ("theater_share", *INTERVAL_KEYS)
FINDING_PARTS: dict[str, str] = {
    "theater_share": "measure.theater_share",
    "access_effect_pct": "measure.access_effect",
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
    "measure.access_effect",
    truth="access_effect_point",
    widget=AppWidget("pilot_estimate", label="Effect of AI access in the pilot (percent)", tables=True),
    tolerances={"access_effect_pct": default_tolerance("measure.access_effect")},
    misconceptions={
        "high": "credits access with change that happened anyway: a before/after of the pilot wave "
                "alone, or heavy users against non-users",
        "low": "subtracts too much: the wrong comparison group, or work counted on the day it closed "
               "instead of the day it was opened",
    },
    hints=[
        "Who got access first? Everyone whose ai_access_from is the earliest date is the first wave; "
        "everyone else was still waiting until the second access date.",
        "Count closed work by the day it was opened, per group, before the first access date and "
        "from it to the day before the second (a later wave is a fair comparison only until then).",
        "The effect: (wave's window / wave's pre-pilot) / (rest's window / rest's pre-pilot), minus 1, "
        "in percent.",
    ],
    passing=[(32.0, {"value": 30.0, "full_within": 8.0, "zero_at": 16.0}), ("-3%", 0.0)],
    failing=[
        Example(60.0, {"value": 30.0, "full_within": 8.0, "zero_at": 16.0}, "far too high"),
        Example("about ten", 10.0, "words"),
        Example(float("inf"), 10.0, "infinite"),
    ],
)
def access_effect(answer: Any, truth: Any, tolerance: Mapping[str, Tolerance] | None = None
                  ) -> tuple[float, str, Reading]:
    """The estimated effect of AI access on closed work in the pilot window, in percent."""
    value = as_number(answer, "the effect of AI access (in percent)")
    return _estimate("measure.access_effect", value, truth, tolerance)


def _interval(answer: Mapping[str, Any], truth: Mapping[str, Any]) -> tuple[float, str, Reading]:
    """The effect with its interval, scored by exercises.causal; the reading keeps the verdict."""
    try:
        credit, message, verdict = causal.interval_verdict(
            answer["access_effect_pct"], answer["access_effect_low"], answer["access_effect_high"],
            float(truth["access_effect_pct"]), float(truth["access_effect_reference_width"]))
    except causal.AnswerError as exc:
        raise Incorrect(f"The effect's interval cannot be scored: {exc}.",
                        Reading("interval", "off", problem="unreadable")) from None
    estimate = float(causal.number_of(answer["access_effect_pct"]))
    band = "within" if credit >= 1.0 else ("off" if credit <= 0.0 else "close")
    reading = Reading("interval", band, problem="" if verdict == causal.COVERS else verdict,
                      value=estimate, error=estimate - float(truth["access_effect_pct"]))
    return credit, message, reading


_TRUTH = {"theater_share": 0.30, "access_effect_pct": 12.0, "access_effect_reference_width": 16.0}
_GOOD = {"theater_share": 0.31, "access_effect_pct": 10.0, "access_effect_low": 2.0, "access_effect_high": 18.0}


@check(
    "measure.finding",
    truth="measure_finding",
    widget=AppWidget("notebook"),
    tolerances={"theater_share": default_tolerance("measure.theater_share")},
    misconceptions={
        causal.MISSES: "the interval misses the truth: a biased comparison (users against non-users, "
                       "a before/after) or an interval that ignores what was randomised",
        causal.TOO_NARROW: "an interval narrower than the design allows: people resampled where whole "
                           "squads were licensed, or no bootstrap at all",
        causal.TOO_WIDE: "an interval wider than the design needs: covering the truth by width alone",
    },
    hints=[
        "The finding has two parts and both count: the theater share, and the effect of AI access "
        "with its 95% interval.",
        "The effect: pilot wave against the staff not yet licensed, pre-pilot period against the pilot "
        "window, as a ratio of ratios. The interval: a bootstrap over what was randomised (people, or "
        "whole squads when each squad shares one access date).",
        "Write them with the notebook's cell into answers/estimates.json: " + ", ".join(FINDING_KEYS) + ".",
    ],
    passing=[
        (_GOOD, _TRUTH),
        Example({"theater_share": "0.28", "access_effect_pct": "10", "access_effect_low": "2",
                 "access_effect_high": "18"}, _TRUTH, "numbers as text"),
    ],
    failing=[
        Example({**_GOOD, "access_effect_pct": 25.0, "access_effect_low": 20.0, "access_effect_high": 30.0},
                _TRUTH, "the interval misses"),
        Example({**_GOOD, "access_effect_low": -100.0, "access_effect_high": 100.0}, _TRUTH,
                "an interval covering everything"),
        Example({**_GOOD, "access_effect_pct": 12.0, "access_effect_low": 11.0, "access_effect_high": 13.0},
                _TRUTH, "too narrow"),
        Example({**_GOOD, "theater_share": 0.6}, _TRUTH, "right effect, wrong share"),
        Example({"theater_share": 0.3}, _TRUTH, "the effect is missing"),
        Example({**_GOOD, "theater_share": 30}, _TRUTH, "a percentage for the share"),
        Example([0.3, 10, 2, 18], _TRUTH, "a list, not keyed"),
    ],
)
def measure_finding(answer: Any, truth: Mapping[str, Any],
                    tolerance: Mapping[str, Tolerance] | None = None) -> tuple[float, str, Reading]:
    """The theater share and the effect of AI access with its interval as one finding: the credit
    of each part, multiplied.

    A report is right only when both parts are right, so one lucky number earns nothing. Each part
    keeps its own band in the message (no credit, no direction): the learner learns which part to
    revisit, not where the truth is.
    """
    if isinstance(answer, str):
        try:
            answer = json.loads(answer)
        except json.JSONDecodeError:
            raise Incorrect("Expected the estimates as a JSON object; the text is not valid JSON.") from None
    if not isinstance(answer, Mapping):
        raise Incorrect("Expected the estimates as an object with the keys " + ", ".join(FINDING_KEYS)
                        + f", not a {type(answer).__name__}.")
    missing = [key for key in FINDING_KEYS if is_empty(answer.get(key))]
    parts: dict[str, Reading] = {}
    if "theater_share" in missing:
        parts["theater_share"] = Reading("estimate", "off", problem=MISSING_NUMBER)
    if any(key in missing for key in INTERVAL_KEYS):
        parts["access_effect_pct"] = Reading("interval", "off", problem=MISSING_NUMBER)
    if missing:
        raise Incorrect(f"The finding needs {', '.join(FINDING_KEYS)}; missing: {', '.join(missing)}. "
                        "One part alone earns nothing.", Reading("finding", "off", parts=parts))
    credit, messages = 1.0, []
    refused: Incorrect | None = None   # the first part that could not be read, said to the learner
    scorers = {"theater_share": lambda: CHECKS["measure.theater_share"].func(
                   answer["theater_share"], truth["theater_share"], tolerance=tolerance),
               "access_effect_pct": lambda: _interval(answer, truth)}
    for key, score_part in scorers.items():
        try:
            score, message, parts[key] = score_part()
        except Incorrect as exc:
            parts[key] = exc.reading or Reading("estimate", "off", problem="unreadable")
            refused = refused or exc
            continue
        credit *= clip_score(score)
        messages.append(message)
    if refused is not None:
        raise Incorrect(str(refused), Reading("finding", "off", parts=parts))
    reading = Reading("finding", "", parts=parts)
    if credit >= 1.0:
        return 1.0, " ".join(messages), reading
    return credit, " ".join(messages) + " The finding earns credit only as far as both parts are right.", reading


__all__ = ["ESTIMATE_RULES", "FINDING_KEYS", "FINDING_PARTS", "INTERVAL_KEYS", "EstimateRule", "access_effect",
           "default_tolerance", "measure_finding", "theater_share"]
