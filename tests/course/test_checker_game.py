"""The checker you can game: the dashboard rewards the count, the hidden check measures output."""

from __future__ import annotations

import itertools

import pytest

from course import checker_game as cg
from course import practice
from course.modules import load_modules

TARGET = 25
TEAMS = [cg.team_variant(practice.variant_key("course-secret", f"l{i}", "checker-game"))
         for i in range(60)]


def test_padding_passes_the_dashboard_and_costs_output_in_every_hidden_team():
    for team in TEAMS:
        verdict = cg.hidden_check(cg.BASELINE_REAL, TARGET - cg.BASELINE_REAL, team, TARGET)
        assert verdict.dashboard == 1.0 and verdict.output_change_pct < 0 and verdict.gamed


def test_no_plan_that_turns_the_dashboard_green_delivers_the_most():
    """The module's lesson text says so: it must hold for every learner's hidden team."""
    plans = list(itertools.product(range(cg.REAL_MAX + 1), range(cg.PADDED_MAX + 1)))
    for team in TEAMS:
        best = cg.hidden_check(*cg.best_plan(team), team, TARGET)
        assert best.best_dashboard < 1.0 and best.best_output_change_pct > 0
        passing = [p for p in plans if cg.dashboard_score(*p, TARGET) >= 1.0]
        assert max(cg.output_change_pct(*p, team) for p in passing) < best.best_output_change_pct


def test_hidden_teams_differ_between_learners_and_are_stable():
    assert len(set(TEAMS)) == len(TEAMS)
    key = practice.variant_key("course-secret", "ada", "checker-game")
    assert cg.team_variant(key) == cg.team_variant(key)


@pytest.mark.parametrize("plan", [(-1, 0), (0, cg.PADDED_MAX + 1), (cg.REAL_MAX + 1, 0)])
def test_plans_outside_the_sliders_are_refused(plan):
    with pytest.raises(ValueError):
        cg.dashboard_score(*plan, TARGET)


def test_module_one_carries_the_game_as_data():
    module = load_modules()[0][0]
    assert module.checker_game is not None and module.checker_game.target == TARGET
    assert any("game" in s.items for s in module.sections)
