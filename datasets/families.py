"""Scenario families: the kinds of company a learner can be given, as one table.

Every learner's company belongs to one family, a keyed draw from the seed with the documented
shares below (datasets/variation.py draws it). Every family rolls AI access out in randomised
waves, the last one at the mandate: in most, a keyed third of the staff (a pilot wave) gets
access some weeks before the mandate and everyone else at it. They differ in what happened
around it:

- theater: a usage mandate with performers (the course's base case);
- worked: a mandate that worked: few performers and a real gain ("no theater here");
- selection: newer staff, who are still getting faster anyway, are the ones who adopt AI, so
  comparing users with non-users is biased by construction;
- spillover: the pilot licenses whole squads (a manager's direct reports), and people who gain
  nothing themselves gain part of their squad's effect (they review AI-assisted work). Squads
  also drift apart and swing month to month (projects, on-call, a reorganisation), so an
  interval that treats people as independent is too narrow.
- staggered: access rolls out by squad in 3-4 waves in a keyed random order, a few weeks apart,
  the last at the mandate (a later mandate, so that the rollout has room before it). Squads drift
  and swing as in the spillover family (an interval that treats people as independent is too
  narrow). Each wave is compared with the ones still waiting, from its own start to the next
  wave's, and the graded effect pools those windows (exercises/causal.py).

Shares: theater 32%, worked, selection, spillover and staggered 17% each.
`overrides` replaces ranges of datasets/variation.py RANGES for the family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Family:
    name: str
    share: float                       # of learners' companies
    description: str
    randomised_by: Literal["person", "squad"] = "person"
    overrides: dict[str, tuple[float, float]] = field(default_factory=dict)
    adopters_are_newer: bool = False   # selection into use by tenure
    tenure_median_years: float = 3.0
    spillover: float = 0.0             # share of the gain that non-gaining squad members get
    squad_drift_sd: float = 0.04       # sd of each squad's own output trend over the period
    squad_shock_sd: float = 0.03       # sd of a squad's own month-to-month swings in output (log scale)
    waves: tuple[int, ...] = (2,)      # how many access waves, the last at the mandate (one is drawn per seed)


FAMILY_TABLE: tuple[Family, ...] = (
    Family("theater", 0.32, "a usage mandate with performers (12-56% of staff)"),
    Family("worked", 0.17, "a mandate that worked: 8-12% performers and a real gain",
           overrides={"performative_share": (0.08, 0.12), "productivity_gain": (0.20, 0.90)}),
    Family("selection", 0.17, "newer staff adopt AI, and newer staff get faster anyway",
           adopters_are_newer=True, tenure_median_years=1.2),
    Family("spillover", 0.17, "squads are licensed together; reviewers gain from AI-assisted work",
           randomised_by="squad", spillover=0.5, squad_drift_sd=0.15,
           squad_shock_sd=0.16),
    Family("staggered", 0.17, "access rolls out by squad in 3-4 random waves, the last at the mandate",
           randomised_by="squad", waves=(3, 4), squad_drift_sd=0.15, squad_shock_sd=0.16,
           overrides={"mandate_at": (0.55, 0.70), "pilot_weeks": (6, 9.999)}),
)
FAMILIES: dict[str, Family] = {row.name: row for row in FAMILY_TABLE}
DEFAULT_FAMILY = "theater"
assert abs(sum(row.share for row in FAMILY_TABLE) - 1.0) < 1e-9, "family shares add up to 1"


def family_at(u: float) -> str:
    """The family whose share interval holds the uniform draw u (shares in table order)."""
    edge = 0.0
    for row in FAMILY_TABLE:
        edge += row.share
        if u < edge:
            return row.name
    return FAMILY_TABLE[-1].name
