"""The checker you can game, then the hidden check: Goodhart's law lived rather than read.

The learner runs a team and sets two habits: real AI use on work, and extra sessions whose only
purpose is the dashboard. A *visible* checker scores the plan the way the company's dashboard
does, by sessions per person against a target, and shows its exact score: it is there to be
gamed. The *hidden* check then measures the same plan on a team the learner has not seen (its
own variant, keyed per learner), by the output it delivers. Padding passes the dashboard and
costs output; real use helps with diminishing returns and reaches the target only at a cost.

Pure numpy-free arithmetic; the page only draws the sliders and the two verdicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

REAL_MAX = 20          # slider ranges, in sessions per person per week
PADDED_MAX = 40
BASELINE_REAL = 4      # the team's habits before the dashboard existed


@dataclass(frozen=True)
class TeamVariant:
    """How one hidden team turns AI sessions into output (never shown to the learner)."""

    gain: float          # the most real AI use can add to output, as a share
    saturation: float    # sessions per week at which real use gives ~63% of its gain
    overuse: float       # output lost per session of real use beyond what the work needs
    needed: float        # sessions per week the team's work can use
    padding_cost: float  # output lost per padded session (time spent performing)


VARIANT_RANGES = {
    "gain": (0.06, 0.16),
    "saturation": (3.0, 7.0),
    "overuse": (0.002, 0.006),
    "needed": (8.0, 14.0),
    "padding_cost": (0.003, 0.008),
}


def team_variant(key: bytes | None) -> TeamVariant:
    """The learner's hidden team (key: course.practice.variant_key), or the middle of every range."""
    from course.practice import keyed_unit

    values = {}
    for name, (low, high) in VARIANT_RANGES.items():
        u = 0.5 if key is None else keyed_unit(key, "checker-game", name)
        values[name] = low + u * (high - low)
    return TeamVariant(**values)


def dashboard_score(real: float, padded: float, target: float) -> float:
    """What the visible checker rewards: sessions per person per week against the target, 0–1."""
    _check_plan(real, padded)
    if target <= 0:
        raise ValueError("the dashboard target must be positive")
    return min(1.0, (real + padded) / target)


def output_index(real: float, padded: float, team: TeamVariant) -> float:
    """Weekly output of the hidden team under a plan, 1.0 = no AI use at all."""
    _check_plan(real, padded)
    helped = team.gain * (1.0 - math.exp(-real / team.saturation))
    overused = team.overuse * max(0.0, real - team.needed)
    return 1.0 + helped - overused - team.padding_cost * padded


def output_change_pct(real: float, padded: float, team: TeamVariant) -> float:
    """Change in the hidden team's output against its habits before the dashboard, in percent."""
    before = output_index(BASELINE_REAL, 0.0, team)
    return 100.0 * (output_index(real, padded, team) / before - 1.0)


def best_plan(team: TeamVariant) -> tuple[int, int]:
    """The plan (real, padded) that delivers the most output: no padding, as much real use as pays."""
    best = max(range(REAL_MAX + 1), key=lambda r: output_index(r, 0.0, team))
    return best, 0


@dataclass(frozen=True)
class Verdict:
    dashboard: float             # the visible score, 0–1
    output_change_pct: float     # the hidden team's output change under this plan
    best_output_change_pct: float
    best_dashboard: float        # what the best plan for output scores on the dashboard

    @property
    def gamed(self) -> bool:
        """Passed the dashboard while delivering less than the team's habits did before."""
        return self.dashboard >= 1.0 and self.output_change_pct < 0.0


def hidden_check(real: float, padded: float, team: TeamVariant, target: float) -> Verdict:
    """The same plan scored by what it delivers, beside the plan that delivers the most."""
    best_real, best_padded = best_plan(team)
    return Verdict(
        dashboard=dashboard_score(real, padded, target),
        output_change_pct=output_change_pct(real, padded, team),
        best_output_change_pct=output_change_pct(best_real, best_padded, team),
        best_dashboard=dashboard_score(best_real, best_padded, target),
    )


def _check_plan(real: float, padded: float) -> None:
    if not (0 <= real <= REAL_MAX and 0 <= padded <= PADDED_MAX):
        raise ValueError(f"a plan has 0–{REAL_MAX} real and 0–{PADDED_MAX} padded sessions a week")
