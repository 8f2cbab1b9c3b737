"""The measure notebook's reference method on released tables, as a learner runs it: the unit of
randomisation read from the access dates, then exercises.causal.reference_estimate.

Kept out of the package on purpose: reading the design from the data is a step the learner is
graded on, and the grader takes the unit from the generator instead (exercises.causal.design_unit).
Benchmarks and tests use this to check that the notebook's recipe and the grader agree.
"""

from __future__ import annotations

from exercises.causal import Estimate, Pilot, Unit, pilot_design, reference_estimate
from datasets.measures import Company


def randomisation_unit(company: Company, pilot: Pilot | None = None) -> Unit:
    """Teams, when every team shares one access date; squads (people with the same manager),
    when every squad of two or more does; else people."""
    pilot = pilot or pilot_design(company)
    people = pilot.people
    if people.groupby("team")["access"].nunique().max() == 1:
        return "team"
    squads = people.groupby("manager_id")["access"].agg(["nunique", "size"])
    if (squads.loc[squads["size"] >= 2, "nunique"] == 1).all():
        return "squad"
    return "person"


def notebook_estimate(company: Company, unit: Unit | None = None) -> Estimate:
    """The reference estimate with the unit read from the data (or forced, for the benchmark)."""
    return reference_estimate(company, unit or randomisation_unit(company))
