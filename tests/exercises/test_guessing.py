"""Guessing pays little on `measure`: its two numbers are one finding, scored as share credit x effect credit.

Before per-learner variation one constant pair earned ~98% of the estimate points and a classmate's
numbers ~94%; with the variation but each number scored on its own, 46% and 36% (the theater share
spreads over only ~0.2-0.55). Scored as one finding, a guess has to land inside both tolerances at
once, and the notebook's two-habit share method (no pull towards the middle) allows a share
tolerance of 0.05: a classmate's answers, noisy copies, the ranges' midpoints and shares of other
quantities stay far under 20%; the pair a learner could find with the open generator (the best
pair for another class) earns 15% here; the best pair chosen in hindsight for this very class,
which needs every classmate's truth, 19.6% (16% on the benchmark's class, median 18% over classes
of 50 drawn from 180 pooled companies; docs/grading.md). benchmarks/guessing.py prints the figures for
learner-sized companies beside the reference solution's.

Submission feedback is a channel of its own: a prober that uses every allowed submission as a probe
(a prior from companies generated at home, the truths consistent with each page kept) earned most
of the reference's points while every attempt showed bands. Bands now wait until the submission is
final (grader/submissions.py), and the same prober earns no more than its prior gives it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks import guessing
from benchmarks.guessing import reference_answers
from datasets import variation
from datasets.api import generate_company, learner_seed
from datasets.scenario import load_scenario
from exercises import truth
from exercises.checks import FINDING_PARTS, run_check

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("guessing")]  # the class is drawn once, on one worker

KEYS = tuple(FINDING_PARTS)  # theater_share, productivity_effect_pct
GRIDS = (np.linspace(0.0, 1.0, 101), np.linspace(-40.0, 80.0, 121))
TARGET = 0.20  # issue 8: a constant and a classmate's answers each earn at most 20% of the points
# What a learner can really pick: the best pair over another class of generated companies (measured
# 0.150 on this class). The best pair in hindsight for this class measured 0.196.
CHOSEN_ELSEWHERE_CEILING = 0.16


@pytest.fixture(scope="module")
def class_companies():
    return [generate_company("mandate-bigco", 60, 120, learner_seed("guessing-test", f"l{i}")) for i in range(50)]


@pytest.fixture(scope="module")
def truths(class_companies):
    return [truth.measure_finding(c) for c in class_companies]


@pytest.fixture(scope="module")
def other_class_truths():
    """Another class, as a learner with the public generator could make at home."""
    return [truth.measure_finding(generate_company("mandate-bigco", 60, 120, learner_seed("guessing-test", f"pool{i}")))
            for i in range(50)]


def _pair(share: float, effect: float) -> dict[str, float]:
    return dict(zip(KEYS, (float(share), float(effect))))


def _mean_score(answers, truths) -> float:
    return float(np.mean([run_check("measure.finding", a, t).score for a, t in zip(answers, truths, strict=True)]))


def _credit_grid(truths) -> list[np.ndarray]:
    """Per grid value and learner, each number's own credit (the finding's credit is their product)."""
    return [np.array([[run_check(check_id, float(v), t[key]).score for t in truths] for v in grid])
            for grid, (key, check_id) in zip(GRIDS, FINDING_PARTS.items(), strict=True)]


def _best_pair(truths) -> tuple[dict[str, float], float]:
    credit = _credit_grid(truths)
    joint = credit[0] @ credit[1].T / len(truths)
    i, j = np.unravel_index(joint.argmax(), joint.shape)
    return _pair(GRIDS[0][i], GRIDS[1][j]), float(joint[i, j])


def test_the_best_constant_pair_in_hindsight_earns_little(truths):
    # the grid search runs on each number's check once per value and learner; the best pair is
    # then scored with the real check
    pair, expected = _best_pair(truths)
    best = _mean_score([pair] * len(truths), truths)
    assert best == pytest.approx(expected)
    assert best <= TARGET, (pair, best)
    # scored per number, the same class would have paid a constant far more: the product is the guard
    assert max(_credit_grid(truths)[0].mean(axis=1)) > 0.4


def test_the_best_pair_a_learner_could_find_earns_little(truths, other_class_truths):
    """A learner generates companies at home, finds the pair that does best there, and submits it."""
    pair, _ = _best_pair(other_class_truths)
    assert _mean_score([pair] * len(truths), truths) <= CHOSEN_ELSEWHERE_CEILING, pair


def test_the_midpoints_of_the_generators_ranges_earn_little(truths):
    share, gain = variation.RANGES["performative_share"], variation.RANGES["productivity_gain"]
    midpoint = _pair(share.at(0.5), 100 * gain.at(0.5))
    assert _mean_score([midpoint] * len(truths), truths) <= TARGET


def test_a_classmates_exact_answers_earn_little(truths):
    n = len(truths)
    copied = np.mean([_mean_score([truths[(i + shift) % n] for i in range(n)], truths) for shift in (1, 7, 19)])
    spread = pd.DataFrame(truths).agg(np.ptp)
    assert spread["theater_share"] > 4 * 0.05 and spread["productivity_effect_pct"] > 4 * 6.0
    assert copied <= TARGET, copied


def test_a_classmates_answers_with_noise_earn_little(truths):
    rng = np.random.default_rng(8)
    n = len(truths)
    noisy = [_pair(np.clip(t["theater_share"] + rng.normal(0, 0.03), 0, 1), t["productivity_effect_pct"] + rng.normal(0, 3))
             for t in truths]
    copied = np.mean([_mean_score([noisy[(i + shift) % n] for i in range(n)], truths) for shift in (1, 7, 19)])
    assert copied <= TARGET, copied


def test_one_number_right_and_the_other_guessed_earns_little(truths):
    """A learner who does only the easy half: their own true share, the class's middle effect."""
    middle = float(np.median([t["productivity_effect_pct"] for t in truths]))
    half = [_pair(t["theater_share"], middle) for t in truths]
    assert _mean_score(half, truths) <= 0.35
    assert np.mean([run_check("measure.finding", {KEYS[0]: t[KEYS[0]]}, t).score for t in truths]) == 0.0


def _reference_score(company) -> float:
    share, effect = reference_answers(company)
    return run_check("measure.finding", _pair(share, effect), truth.measure_finding(company)).score


def test_the_reference_solution_earns_high_credit_on_drawn_companies():
    """Learner-sized companies drawn as learners get them (the benchmark: 96% over 50)."""
    scores = [_reference_score(generate_company("mandate-bigco", 150, 180, learner_seed("guessing-test", f"r{i}")))
              for i in range(3)]
    assert np.mean(scores) >= 0.85, scores


@pytest.mark.parametrize("corner", list(variation.extremes(load_scenario("mandate-bigco"))))
def test_the_reference_solution_holds_at_the_corners_of_the_ranges(corner):
    """Every varied quantity extreme at once: the share method has no pull towards the middle, so
    the finding stays right where theater is rarest and most common (measured 0.93-1.0; the
    acceptance-only method it replaced was 0.05-0.14 off there and earned 0-95%)."""
    scenario = variation.extremes(load_scenario("mandate-bigco"))[corner]
    assert _reference_score(generate_company(scenario, 150, 180, 11)) >= 0.85


def _after_mandate(company) -> pd.DataFrame:
    events = company.ai_events.assign(timestamp=pd.to_datetime(company.ai_events["timestamp"]))
    return events[events["timestamp"] >= truth.mandate_date(company)]


def _unaccepted_share(company) -> float:
    """'Output nobody kept is theater': the share of post-mandate outputs not accepted."""
    return float(1.0 - _after_mandate(company)["accepted"].mean())


def _session_share(company) -> float:
    """A share of sessions instead of events: sessions that keep less than a quarter of their output."""
    return float((_after_mandate(company).groupby("session_id")["accepted"].mean() < 0.25).mean())


@pytest.mark.parametrize("share_of", [_unaccepted_share, _session_share],
                         ids=lambda f: f.__name__.strip("_"))
def test_a_share_of_a_different_quantity_earns_little_even_beside_the_true_effect(share_of, class_companies, truths):
    """The effect exactly right (the attacker's best case) cannot carry a share of something else."""
    answers = [_pair(share_of(c), t["productivity_effect_pct"]) for c, t in zip(class_companies, truths, strict=True)]
    assert _mean_score(answers, truths) <= 0.35


# ------------------------------------------------------------- the adaptive prober on submission feedback

PROBED = 20  # learners of the class the prober plays (every allowed submission each)
PARTICLES = 4000  # truth pairs it draws from its prior


@pytest.fixture(scope="module")
def probed(class_companies, truths, other_class_truths):
    """The first learners' truths and reference scores; the prior: the other class, generated at home."""
    companies = class_companies[:PROBED]
    pairs = np.array([[t[key] for key in KEYS] for t in truths[:PROBED]])
    reference = guessing.finding_scores(np.array([reference_answers(c) for c in companies]), pairs)
    home = np.array([[t[key] for key in KEYS] for t in other_class_truths])
    return pairs, reference, home


def test_the_probers_model_of_a_page_is_the_page():
    """Equal band codes are equal pages and different codes different pages (the real page, made by
    grader.scoring and grader.submissions), so the prober's likelihood is exact."""
    rng = np.random.default_rng(3)
    answers = np.column_stack([rng.uniform(0.1, 0.6, 300), rng.uniform(-30, 80, 300)])
    truths_ = answers + rng.normal(0, [0.06, 8.0], answers.shape)
    truths_[:, 0] = truths_[:, 0].clip(0, 1)
    codes = [guessing.band_codes(a[None, :], t[None, :])[0, 0] for a, t in zip(answers, truths_)]
    pages = [guessing.shown(guessing.BANDS_EVERY_ATTEMPT, a, t, final=False) for a, t in zip(answers, truths_)]
    assert len(set(codes)) > 8
    assert len(set(zip(codes, pages))) == len(set(codes)) == len(set(pages))


def test_the_adaptive_prober_earns_little_once_bands_wait_for_the_final_submission(probed):
    """The prober's final answer, scored by the real check: at most 20% of the reference under the
    course's policy, where it learns nothing (its answer is its prior's best for every learner);
    while every attempt showed bands the same prober earned far more."""
    pairs, reference, home = probed
    held = guessing.prober_answers(guessing.HELD_UNTIL_FINAL, pairs, home, particles=PARTICLES)
    prior = guessing.prior_particles(home, PARTICLES, np.random.default_rng(0))
    assert np.array_equal(held, np.tile(guessing.best_answer(prior)[0], (len(pairs), 1)))
    held_scores = guessing.finding_scores(held, pairs)
    banded = guessing.prober_scores(guessing.BANDS_EVERY_ATTEMPT, pairs, home, particles=PARTICLES)
    assert held_scores.mean() <= TARGET * reference.mean(), (held_scores.mean(), reference.mean())
    assert banded.mean() >= 2 * TARGET * reference.mean(), (banded.mean(), reference.mean())
    assert banded.mean() >= held_scores.mean() + 0.25
