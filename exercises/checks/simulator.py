"""The simulator's collapse point (`goodhart.*`): all or nothing, right only from the true point up
to COLLAPSE_FULL_WITHIN above it (below it the correlation has not collapsed)."""

from __future__ import annotations

from typing import Any

from exercises.checks.core import AppWidget, Example, Incorrect, Reading, check
from exercises.checks.readers import as_number, truth_number

COLLAPSE_FULL_WITHIN = 0.01     # one step of the reward slider above the true point (display rounding)
COLLAPSE_GRID = 0.01             # the truth lies on the slider's grid; below it by more is "not yet"


@check(
    "goodhart.collapse_point",
    truth_source="simulator",
    widget=AppWidget("number", label="Collapse point (reward strength, 0–1)", company=False),
    visibility="message",
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
def collapse_point(answer: Any, truth: Any) -> tuple[float, str, Reading]:
    """The incentive strength at which usage stops tracking output in the simulator.

    The definition is one-sided: below the true point the correlation is still above half its
    starting value, so such an answer is wrong however close it is. Credit is all or nothing and
    the message never says which side an answer is on, so a few attempts cannot bisect the truth.
    """
    value = as_number(answer, "the collapse point")
    if not 0.0 <= value <= 1.0:
        raise Incorrect("The reward strength lies between 0 and 1.")
    expected, overrides = truth_number(truth)
    full = float(overrides.get("full_within", COLLAPSE_FULL_WITHIN))
    reading = Reading("collapse", "", value=value, error=value - expected, full_within=full)
    if expected - COLLAPSE_GRID / 2 <= value <= expected + full + 1e-9:
        return 1.0, ("That is where usage stops tracking output: the first reward with the correlation "
                     "below half."), reading
    return 0.0, ("That is not the collapse point. At the reward you gave, compare the correlation with "
                 "half its value at zero reward, and check the settings just below it as well."), reading
