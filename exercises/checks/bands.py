"""THE band ladder: the one meaning of "within", "close" and "off" for every learner-facing surface.

A learner never sees a credit, only the band it falls in, so no answer can be solved for from what
they are shown. The app's exercise feedback (course.practice), the checks' own messages and the
notebook feedback (grader.feedback) all read a credit on this ladder, so one credit gives one band
everywhere. For a number scored by `linear_credit` the bands are the tolerance's zones: within the
full-credit error, close (some credit: below the zero-credit error), off (no credit).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

EPSILON = 1e-9


@dataclass(frozen=True)
class Band:
    """One rung: its id, the lowest credit share it holds (`floor`; the first rung that holds a
    credit is its band) and its learner-facing words in the app and in notebook feedback."""

    id: str
    floor: float
    name: str       # the band in words (My learning)
    sentence: str   # the app: a sentence under the checked answer
    label: str      # notebook feedback and the submission page: a short label

    def holds(self, credit: float) -> bool:
        return credit >= self.floor * (1.0 - EPSILON)


WITHIN = Band("within", 1.0, "within the tolerance", "Within the tolerance.", "full marks")
CLOSE = Band("close", EPSILON, "close", "Close, but outside the tolerance.", "close")
OFF = Band("off", 0.0, "off", "Off by more than the tolerance allows.", "not yet")
LADDER: tuple[Band, ...] = (WITHIN, CLOSE, OFF)


def band_of_credit(credit: float, ladder: Sequence[Band] = LADDER) -> Band:
    """The band of a credit share in [0, 1] (values outside are clipped, NaN counts as none)."""
    value = float(credit)
    value = 0.0 if math.isnan(value) else min(1.0, max(0.0, value))
    for band in ladder:
        if band.holds(value):
            return band
    return ladder[-1]


def band_by_id(band_id: str, ladder: Sequence[Band] = LADDER) -> Band:
    for band in ladder:
        if band.id == band_id:
            return band
    raise KeyError(f"unknown band {band_id!r}; known: {', '.join(b.id for b in ladder)}")


@dataclass(frozen=True)
class Tolerance:
    """Full credit up to `full_within` of the truth, falling linearly to none at `zero_at`."""

    full_within: float
    zero_at: float

    def __post_init__(self) -> None:
        if not 0 <= self.full_within < self.zero_at:
            raise ValueError(f"a tolerance needs 0 <= full_within < zero_at, got {self.full_within} and {self.zero_at}")

    def credit(self, error: float) -> float:
        return linear_credit(abs(error), self.full_within, self.zero_at)


def linear_credit(error: float, full_within: float, zero_at: float) -> float:
    """Full credit up to `full_within`, falling linearly to 0 at `zero_at`."""
    if error <= full_within:
        return 1.0
    if error >= zero_at:
        return 0.0
    return 1.0 - (error - full_within) / (zero_at - full_within)


def estimate_band(error: float, full: float, zero: float) -> str:
    """The band id of an absolute error against a tolerance: the band of the credit it earns."""
    return band_of_credit(linear_credit(error, full, zero)).id
