"""Per-learner scenario draws: every learner's company is a different company.

A profile names a kind of company (its teams, calendar, holidays, e-mail domain). What a graded
estimate depends on — how many people perform AI use, how hard the mandate pushes and when, how
much genuine use helps, how the teams are sized — is drawn per seed from the ranges in RANGES,
with keyed uniform draws (datasets.keyed: a learner cannot work back from their scenario to the
seed). The ranges are wider than the grading tolerances, so the best single constant answer and
a classmate's answer earn little (benchmarks/guessing.py prints the figures), and narrow enough
that the lesson holds everywhere inside them (tests/datasets/test_lesson.py runs at their
extremes). The gain's range is wide on purpose: the access effect is graded with an interval
about 20 points wide at the course size, so the truths must spread much further than that for a
constant guess to earn little (benchmarks/estimands.py prints both). docs/data-model.md lists them.

Each seed also draws its scenario family (datasets/families.py, keyed by the seed with the
family table's shares); a family replaces some ranges with its own (`Family.overrides`).

A scenario with `vary: false` is generated exactly as written (demos, tests of a fixed company).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from datasets.families import DEFAULT_FAMILY, FAMILIES, family_at
from datasets.keyed import keyed_uniform
from datasets.scenario import Scenario, default_teams

PURPOSE = "scenario-variation"


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    what: str

    def at(self, u: float) -> float:
        return self.low + (self.high - self.low) * u


RANGES: dict[str, Range] = {
    "performative_share": Range(0.12, 0.56, "share of staff who perform AI use (tokenmaxxers + converts)"),
    "convert_fraction": Range(0.20, 0.50, "of the performers, the share who later turn genuine"),
    "non_user_share": Range(0.10, 0.22, "share of staff who do not use AI"),
    "quiet_expert_share": Range(0.04, 0.10, "share of quiet experts (fast, light users)"),
    "mandate_at": Range(0.45, 0.60, "when the mandate starts, as a fraction of the period"),
    "pilot_weeks": Range(4, 7.999, "weeks before the mandate that the random pilot wave gets access (whole weeks)"),
    "output_trend": Range(-0.10, 0.15, "everyone's output change over the period, with or without AI"),
    "output_seasonality": Range(0.0, 0.06, "amplitude of a quarterly swing in everyone's output"),
    "mandate_strength": Range(0.70, 1.00, "how hard the mandate pushes (0-1)"),
    "productivity_gain": Range(-0.40, 0.90, "genuine adopters' mean output change once AI use settles in"),
    "team_weight_log": Range(-0.7, 0.7, "log-factor applied to each team's size"),
    "manager_span": Range(4, 12, "people per manager"),
}


# How often a session feeds work, per mode: drawn per company (not part of a scenario), so how
# linked a company's sessions are overall says little about its theater share unless compared
# within the company. The work-items stage of datasets/pipeline.py draws each session from them.
LINK_RANGES: dict[str, Range] = {
    "feeds_work_genuine": Range(0.40, 0.65, "chance that a genuine session fed work"),
    "feeds_work_performative": Range(0.02, 0.12, "chance that a performative session fed work"),
}


def feeds_work(seed: int) -> tuple[float, float]:
    """(genuine, performative) chance that a session fed work, keyed by the seed."""
    return tuple(LINK_RANGES[name].at(keyed_uniform(seed, PURPOSE, name)) for name in LINK_RANGES)


def draws(seed: int) -> dict[str, float]:
    """One uniform draw in [0, 1) per varied quantity, keyed by the seed."""
    return {name: keyed_uniform(seed, PURPOSE, name) for name in RANGES}


def family_of_seed(seed: int) -> str:
    """The seed's scenario family: a keyed draw with the shares of datasets/families.py."""
    return family_at(keyed_uniform(seed, PURPOSE, "family"))


def ranges_of(family: str) -> dict[str, Range]:
    """RANGES with the family's own ranges in place of the common ones."""
    overrides = FAMILIES[family].overrides
    return {name: (Range(*overrides[name], rng.what) if name in overrides else rng)
            for name, rng in RANGES.items()}


def at_draws(scenario: Scenario, u: dict[str, float], team_u: list[float] | None = None,
             family: str | None = None) -> Scenario:
    """The scenario with every varied quantity set from the uniform draws `u` (name -> [0, 1]) in
    the ranges of `family` (default: the scenario's own, else theater); `team_u` scales each
    team's size (default: as written)."""
    family = family or scenario.family or DEFAULT_FAMILY
    value = {name: rng.at(u[name]) for name, rng in ranges_of(family).items()}
    performers = value["performative_share"]
    converts = performers * value["convert_fraction"]
    non_users, quiet = value["non_user_share"], value["quiet_expert_share"]
    mix = {"genuine": 1.0 - performers - non_users - quiet, "tokenmaxxer": performers - converts,
           "convert": converts, "non_user": non_users, "quiet_expert": quiet}
    teams = list(scenario.teams or default_teams())
    if team_u is not None:
        teams = [team.model_copy(update={"weight": team.weight * math.exp(RANGES["team_weight_log"].at(t))})
                 for team, t in zip(teams, team_u, strict=True)]
    at = scenario.mandate.at
    if isinstance(at, float):        # a fraction is drawn; a calendar date the profile names is kept
        at = round(value["mandate_at"], 4)
    mandate = scenario.mandate.model_copy(update={
        "at": at, "strength": round(value["mandate_strength"], 4)})
    return scenario.model_copy(update={
        "archetype_mix": {name: round(share, 6) for name, share in mix.items()},
        "mandate": mandate,
        "productivity_gain": round(value["productivity_gain"], 4),
        "teams": teams,
        "manager_span": int(round(value["manager_span"])),
        "family": family,
        "pilot_weeks": int(value["pilot_weeks"]),
        "output_trend": round(value["output_trend"], 4),
        "output_seasonality": round(value["output_seasonality"], 4),
        "vary": False,  # drawn once: generating it again keeps these values
    })


def for_seed(scenario: Scenario, seed: int) -> Scenario:
    """The learner's own scenario: the profile with the varied quantities drawn from the seed."""
    if not scenario.vary:
        return scenario
    teams = scenario.teams or default_teams()
    team_u = [keyed_uniform(seed, PURPOSE, f"team:{team.name}") for team in teams]
    return at_draws(scenario, draws(seed), team_u, scenario.family or family_of_seed(seed))


def extremes(scenario: Scenario) -> dict[str, Scenario]:
    """The corners of the ranges that stress the lesson most, for tests."""
    low = dict.fromkeys(RANGES, 0.0)
    high = dict.fromkeys(RANGES, 1.0)
    return {
        "fewest performers, weakest push": at_draws(scenario, {**high, "performative_share": 0.0,
                                                                "mandate_strength": 0.0}),
        "most performers, strongest push": at_draws(scenario, {**low, "performative_share": 1.0,
                                                                "mandate_strength": 1.0}),
        "most performers, weakest push, late mandate": at_draws(scenario, {**low, "performative_share": 1.0,
                                                                            "mandate_at": 1.0}),
    }
