"""What a learner can get without the analysis: nothing from blind flags, nothing solvable from feedback."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest

from datasets import variation
from datasets.api import generate_company
from datasets.scenario import load_scenario
from exercises import truth as truths
from exercises.checks import ESTIMATE_RULES, chance_f1, linear_credit, run_check
from exercises.causal import interval_credit

DETECT = {"detect.flag_tokenmaxxers": truths.tokenmaxxer_ids, "detect.flag_converts": truths.convert_ids}


def _companies():
    base = load_scenario("mandate-bigco")
    corners = [generate_company(s, 80, 60, 5) for s in variation.extremes(base).values()]
    return corners + [generate_company("mandate-bigco", 80, 60, seed) for seed in (11, 12, 13)]


@pytest.fixture(scope="module")
def companies():
    return _companies()


@pytest.mark.parametrize("check_id", sorted(DETECT))
def test_flagging_everyone_or_every_ai_user_earns_nothing(companies, check_id):
    for company in companies:
        truth = DETECT[check_id](company)
        everyone = list(company.employees["employee_id"])
        users = list(company.ai_events["employee_id"].unique())
        assert run_check(check_id, everyone, truth).score == 0.0
        assert run_check(check_id, users, truth).score == 0.0
        # ... and random halves of the users earn next to nothing on average (blind flags lose recall)
        rng = np.random.default_rng(0)
        halves = [list(rng.choice(users, len(users) // 2, replace=False)) for _ in range(40)]
        assert np.mean([run_check(check_id, half, truth).score for half in halves]) < 0.05


def test_the_floor_follows_the_company_and_the_true_ids_still_earn_full_marks(companies):
    shares = []
    for company in companies:
        truth = truths.tokenmaxxer_ids(company)
        shares.append(chance_f1(truth))
        assert run_check("detect.flag_tokenmaxxers", sorted(truth), truth).score == 1.0
    assert max(shares) > 0.45  # where a fixed floor of 0.3 used to pay for flagging every AI user


def test_the_truth_stays_a_set_for_everyone_else(companies):
    truth = truths.tokenmaxxer_ids(companies[0])
    assert isinstance(truth, frozenset) and sorted(truth) == sorted(set(truth))
    copy = pickle.loads(pickle.dumps(truth))
    assert copy == truth and copy.ai_users == truth.ai_users


# --------------------------------------------------------------------------- feedback

NUMBER = re.compile(r"\d+\.\d{2,}|\d+%")
DIRECTION = re.compile(r"\b(high|low|above|below|over|under|more than the truth|less than)\b", re.I)


@pytest.mark.parametrize("check_id", ["measure.theater_share", "measure.access_effect"])
def test_estimate_messages_are_bands_without_credit_or_direction(check_id):
    rule = ESTIMATE_RULES[check_id]
    truth = 0.3 if check_id.endswith("share") else 10.0
    span = rule.zero_at * 1.5
    messages = set()
    for value in np.linspace(truth - span, truth + span, 61):
        value = float(np.clip(value, 0, 1)) if check_id.endswith("share") else float(value)
        result = run_check(check_id, value, truth)
        assert not NUMBER.search(result.message.replace(f"{rule.full_within:g}", "").replace(
            f"{rule.zero_at:g}", "")), result.message
        assert not DIRECTION.search(result.message.replace("more than", "")), result.message
        messages.add(result.message)
        # the exact credit is still there for the gradebook
        assert result.score == pytest.approx(linear_credit(abs(value - truth), rule.full_within, rule.zero_at))
    assert len(messages) == 3  # within / close / far: the same text either side of the truth


def _consistent(check_id, probes, truth_grid, seen):
    """Truth candidates that would have produced exactly the messages the learner saw."""
    keep = np.ones(len(truth_grid), dtype=bool)
    for value, message in zip(probes, seen, strict=True):
        keep &= np.array([run_check(check_id, value, t).message == message for t in truth_grid])
    return truth_grid[keep]


@pytest.mark.parametrize("check_id,truth,first", [
    ("measure.access_effect", 13.7, 30.0),
    ("measure.access_effect", -4.2, 10.0),
])
def test_reading_only_the_messages_a_learner_cannot_solve_for_the_truth(check_id, truth, first):
    """The old feedback (4-decimal credit plus 'too high/low') gave the truth from one answer.

    Here a learner probes three times, each time bisecting what is still possible, and reads only
    the messages. The truths still consistent with what they saw span more than the full-credit
    window, so they could not have moved an answer from partial to full credit by solving for it.
    """
    rule = ESTIMATE_RULES[check_id]
    grid = np.round(np.arange(truth - 3 * rule.zero_at, truth + 3 * rule.zero_at, 0.05), 4)
    probes, seen = [first], [run_check(check_id, first, truth).message]
    assert "within" not in seen[0]
    for _ in range(2):
        left = _consistent(check_id, probes, grid, seen)
        guess = float(np.median(left))  # the most informative next answer
        probes.append(guess)
        seen.append(run_check(check_id, guess, truth).message)
    left = _consistent(check_id, probes, grid, seen)
    assert np.isclose(left, truth, atol=0.03).any()  # the truth is among them
    assert left.max() - left.min() > rule.full_within, (left.min(), left.max())


# --------------------------------------------------------------------------- the measure finding

FINDING_TRUTH = {"theater_share": 0.37, "access_effect_pct": 13.7, "access_effect_reference_width": 16.0}


def _finding(share: float, centre: float, width: float) -> dict[str, float]:
    return {"theater_share": float(share), "access_effect_pct": float(centre),
            "access_effect_low": float(centre - width / 2), "access_effect_high": float(centre + width / 2)}


def test_finding_messages_are_bands_for_each_part_without_credit_or_direction():
    """Each part's message is a band: no number, no direction, and the same text for an interval
    the same distance above the truth as below it, so the messages cannot say where the truth is."""
    share_rule = ESTIMATE_RULES["measure.theater_share"]
    tolerances = {f"{share_rule.full_within:g}", f"{share_rule.zero_at:g}"}
    reference = FINDING_TRUTH["access_effect_reference_width"]
    messages = set()
    # 8 points a side: none lies on a tolerance's edge, where rounding alone would pick the band
    for share in np.linspace(0.37 - 0.2, 0.37 + 0.2, 8):
        for width in reference * np.array([0.5, 0.7, 1.0, 1.3, 2.0]):
            for offset in (0.3, 3.3, 7.7, 12.9, 21.1, 40.3):
                above, below = (run_check("measure.finding", _finding(share, 13.7 + sign * offset, width),
                                          FINDING_TRUTH) for sign in (1, -1))
                assert above.message == below.message
                assert above.score == pytest.approx(below.score)
                text = above.message
                for tolerance in sorted(tolerances, key=len, reverse=True):
                    text = text.replace(tolerance, "")
                assert not NUMBER.search(text), above.message
                assert not DIRECTION.search(text.replace("more than", "")), above.message
                messages.add(above.message)
                answer = _finding(share, 13.7 + offset, width)
                expected = (linear_credit(abs(share - 0.37), share_rule.full_within, share_rule.zero_at)
                            * interval_credit(answer["access_effect_pct"], answer["access_effect_low"],
                                              answer["access_effect_high"], 13.7, reference)[0])
                assert above.score == pytest.approx(expected)
    # three share bands times the interval's: misses, too narrow (partial, none), covers, too wide (partial, none)
    assert len(messages) == 3 * 6
