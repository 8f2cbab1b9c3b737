"""Each learner's company is drawn from documented ranges, keyed by the seed."""

from __future__ import annotations

import pytest

from datasets import variation
from datasets.api import generate_company, learner_seed
from datasets.scenario import ARCHETYPES, load_scenario


@pytest.fixture(scope="module")
def profile():
    return load_scenario("mandate-bigco")


def test_the_draw_is_the_seeds_own_and_inside_the_ranges(profile):
    seeds = [learner_seed("course secret", f"learner{i}") for i in range(50)]
    drawn = [variation.for_seed(profile, seed) for seed in seeds]
    assert variation.for_seed(profile, seeds[0]) == drawn[0]  # the grader regenerates the same company
    performers = [s.archetype_mix["tokenmaxxer"] + s.archetype_mix["convert"] for s in drawn]
    gains = [s.productivity_gain for s in drawn]
    for scenario in drawn:
        assert sum(scenario.archetype_mix.values()) == pytest.approx(1.0, abs=1e-5)
        assert set(scenario.archetype_mix) == set(ARCHETYPES) and min(scenario.archetype_mix.values()) > 0
        strength, at = scenario.mandate.strength, scenario.mandate.at
        assert variation.RANGES["mandate_strength"].low <= strength <= variation.RANGES["mandate_strength"].high
        mandate_at = variation.ranges_of(scenario.family)["mandate_at"]   # a family may move the mandate
        assert mandate_at.low <= at <= mandate_at.high
        assert not scenario.vary  # drawn once
        assert [t.name for t in scenario.teams] == [t.name for t in profile.teams]
    # the draws cover the ranges, not a corner of them
    perf = variation.RANGES["performative_share"]
    assert min(performers) < perf.low + 0.15 * (perf.high - perf.low)
    assert max(performers) > perf.high - 0.15 * (perf.high - perf.low)
    gain = variation.RANGES["productivity_gain"]
    assert min(gains) < gain.low + 0.15 * (gain.high - gain.low) and max(gains) > gain.high - 0.15 * (gain.high - gain.low)
    assert len({s.manager_span for s in drawn}) >= 5


def test_how_often_sessions_feed_work_is_drawn_per_company():
    """A company-wide linked share must not map onto the theater share through fixed chances."""
    chances = [variation.feeds_work(learner_seed("course secret", f"learner{i}")) for i in range(50)]
    assert variation.feeds_work(learner_seed("course secret", "learner0")) == chances[0]
    genuine, performative = (variation.LINK_RANGES[name] for name in ("feeds_work_genuine", "feeds_work_performative"))
    for g, p in chances:
        assert genuine.low <= g <= genuine.high and performative.low <= p <= performative.high
        assert 0 < p < g < 1  # genuine sessions feed work more often, but neither mode always or never does
    spread = max(g for g, _ in chances) - min(g for g, _ in chances)
    assert spread > 0.7 * (genuine.high - genuine.low)


def test_a_fixed_scenario_is_generated_as_written(profile):
    fixed = profile.model_copy(update={"vary": False})
    assert variation.for_seed(fixed, 7) is fixed
    company = generate_company(fixed, 40, 30, 7)
    assert company.meta["mandate_strength"] == profile.mandate.strength


def test_companies_of_two_learners_differ_in_what_is_graded(profile):
    a = generate_company("mandate-bigco", 60, 60, learner_seed("s", "ada"))
    b = generate_company("mandate-bigco", 60, 60, learner_seed("s", "grace"))
    assert a.meta["mandate_strength"] != b.meta["mandate_strength"]
    counts = [c.labels["archetype"].value_counts().reindex(ARCHETYPES, fill_value=0).tolist() for c in (a, b)]
    assert counts[0] != counts[1]


def test_the_corners_of_the_ranges_are_valid_companies(profile):
    for name, scenario in variation.extremes(profile).items():
        company = generate_company(scenario, 60, 60, 1)
        assert len(company.ai_events) > 0, name
        assert set(company.labels["archetype"]) >= {"genuine", "tokenmaxxer", "non_user"}, name
