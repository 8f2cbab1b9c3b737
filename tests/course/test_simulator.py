from dataclasses import replace

import numpy as np
import pytest

from course.simulator import (STAGES, SimParams, describe, goodhart_collapse_point, reward_sweep,
                              simulate)


def test_same_parameters_give_the_same_numbers():
    a, b = simulate(SimParams(reward=0.6)), simulate(SimParams(reward=0.6))
    assert a.weekly.equals(b.weekly)


def test_with_the_metric_alone_usage_tracks_output():
    result = simulate(SimParams(stage="metric", reward=1.0))
    assert result.baseline_correlation > 0.6
    assert result.final_correlation == pytest.approx(result.baseline_correlation, abs=0.05)
    assert abs(result.usage_change_pct) < 1


def test_incentive_alone_raises_usage_but_keeps_the_correlation():
    result = simulate(SimParams(stage="incentive", reward=1.0))
    assert result.usage_change_pct > 30
    assert 0 < result.output_change_pct < result.usage_change_pct / 5
    assert not result.collapsed


@pytest.mark.parametrize("stage", ["gaming", "combined"])
def test_more_reward_means_more_usage_and_less_correlation(stage):
    rewards = [0.0, 0.25, 0.5, 0.75, 1.0]
    runs = [simulate(SimParams(stage=stage, reward=r)) for r in rewards]
    usage = [r.usage_change_pct for r in runs]
    correlation = [r.final_correlation for r in runs]
    assert all(np.diff(usage) > 0)
    assert all(np.diff(correlation) < 0)


def test_combined_stage_ends_with_flat_or_falling_output_and_collapsed_correlation():
    result = simulate(SimParams(stage="combined", reward=0.9))
    assert result.usage_change_pct > 100
    assert result.output_change_pct < 1
    assert result.collapsed


def test_collapse_point_is_where_correlation_first_drops_below_half():
    params = SimParams(stage="sandbox")
    point = goodhart_collapse_point(params)
    assert 0 < point < 1
    assert simulate(replace(params, reward=point)).collapsed
    assert not simulate(replace(params, reward=round(point - 0.01, 2))).collapsed


def test_easier_gaming_collapses_earlier():
    hard = goodhart_collapse_point(SimParams(stage="sandbox", gamers_share=0.15))
    easy = goodhart_collapse_point(SimParams(stage="sandbox", gamers_share=0.6))
    assert easy < hard


def test_reward_sweep_covers_zero_to_one():
    sweep = reward_sweep(SimParams(stage="combined"), steps=5)
    assert list(sweep["reward"]) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert sweep["final_correlation"].is_monotonic_decreasing


@pytest.mark.parametrize("bad", [dict(stage="chaos"), dict(reward=1.5), dict(workers=3),
                                 dict(gaming_cost=-0.1)])
def test_bad_parameters_are_refused(bad):
    with pytest.raises(ValueError):
        SimParams(**bad)


def test_description_names_the_numbers():
    params = SimParams(stage="combined", reward=0.8)
    text = describe(simulate(params), params)
    assert "0.80" in text and "correlation" in text
    assert set(STAGES) == {"metric", "incentive", "gaming", "combined", "sandbox"}
