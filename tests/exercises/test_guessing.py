"""Guessing pays little on `measure`: its finding is the theater share and the effect of AI access
with its interval, scored as share credit x interval credit.

A constant, a classmate's answers (their reference answers, noisy copies, their exact truths with
a reference-wide interval) and a share of another quantity each earn little: a guess has to land
inside the share's tolerance and put an interval of about the reference's width around the
company's own effect at once. benchmarks/guessing.py prints the figures for learner-sized
companies beside the reference solution's.

Submission feedback is a channel of its own: a prober that uses every allowed submission as a probe
(a prior from companies generated at home, the truths consistent with each page kept; it chooses
a share, an interval centre and a width) earned most of the reference's points while every attempt
showed bands. Bands now wait until the submission is final (grader/submissions.py), and the same
prober earns no more than its prior gives it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks import guessing
from benchmarks.guessing import reference_answers
from exercises.assignments import DataSpec
from datasets import variation
from datasets.api import generate_company, learner_seed
from datasets.scenario import load_scenario
from exercises import truth
from exercises.checks import run_check

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("guessing")]  # the class is drawn once, on one worker

COURSE_SIZE = (DataSpec().employees, DataSpec().days)  # every assignment's company and the app's
TARGET = 0.20  # issue 8: a constant and a classmate's answers each earn at most 20% of the points
# The course's company is 400 employees x 180 days (exercises.assignments.DataSpec, every
# assignment and the app), because at 150 the reference interval (median width 21 points) was about
# as wide as the spread of the true effects (sd 16) and a constant interval covered half the truths.
# Measured 2026-12-07 at 400 x 180 (benchmarks/guessing.py, 30 learners): reference width 9-19
# points (median 14) against an effect sd of 15; the reference earns 99.1% (97% at full marks); the
# constant a learner could find at home earns 13.0%, a classmate's answers 12.3%, the prober under
# the course's policy 15.4% of the reference; the true share beside the class's middle interval
# 47% (57% at 150). The best constant in hindsight, an oracle that knows every learner's truth,
# still earns 26-32%: it stays a strict expected failure that reports when a fix makes it pass.
GUESSABLE_INTERVAL = pytest.mark.xfail(strict=True, reason="the effect's spread across companies (sd 15) is about "
                                       "one reference interval (median 14) wide: a constant interval chosen "
                                       "with the class's truths covers about half of them")


@pytest.fixture(scope="module")
def class_companies():
    return [generate_company("mandate-bigco", 60, 120, learner_seed("guessing-test", f"l{i}")) for i in range(50)]


@pytest.fixture(scope="module")
def truths(class_companies):
    return np.array([guessing.truth_triple(c) for c in class_companies])


@pytest.fixture(scope="module")
def other_class_truths():
    """Another class, as a learner with the public generator could make at home."""
    return np.array([guessing.truth_triple(generate_company("mandate-bigco", 60, 120,
                                                            learner_seed("guessing-test", f"pool{i}")))
                     for i in range(50)])


def _mean_score(answers, truths) -> float:
    return float(guessing.finding_scores(np.asarray(answers, dtype=float), truths).mean())


def test_the_vectorised_interval_credit_is_the_checks():
    rng = np.random.default_rng(5)
    for _ in range(300):
        share, centre, half = rng.uniform(0, 1), rng.uniform(-40, 80), rng.uniform(0.5, 40)
        truth_ = (rng.uniform(0, 1), rng.uniform(-40, 80), rng.uniform(5, 40))
        credit = guessing.interval_codes(np.array([centre]), np.array([half]), np.array([truth_[1]]),
                                         np.array([truth_[2]]))[0][0, 0]
        share_credit = guessing.share_credit(np.array([share]), np.array([truth_[0]]))[0, 0]
        real = run_check("measure.finding", guessing.as_answer((share, centre, half)), guessing.as_truth(truth_))
        assert real.score == pytest.approx(credit * share_credit)


@GUESSABLE_INTERVAL
def test_the_best_constant_in_hindsight_earns_little(probed):
    """An oracle's bound, not an attack: the one answer that does best on the class's own truths."""
    truths = probed[0]
    expected, per_part, answer = guessing.best_constant(truths)
    best = _mean_score([answer] * len(truths), truths)
    assert best == pytest.approx(expected)
    assert best <= TARGET, (answer, best)
    # scored per part, the same class would have paid a constant far more: the product is the guard
    assert per_part > 0.3


def test_the_best_constant_a_learner_could_find_earns_little(probed):
    """A learner generates companies of the course's size at home, finds the answer that does best
    there, and submits it: scored on the class's own companies."""
    pairs, _, home = probed
    answer = guessing.best_constant(home)[2]
    assert _mean_score([answer] * len(pairs), pairs) <= TARGET, answer


def test_a_classmates_exact_truths_earn_little(truths):
    exact = truths.copy()
    exact[:, 2] = truths[:, 2] / 2     # the classmate's effect with an interval as wide as their reference's
    n = len(truths)
    copied = np.mean([_mean_score(np.roll(exact, shift, axis=0), truths) for shift in (1, 7, 19)])
    assert np.ptp(truths[:, 0]) > 4 * 0.05 and np.ptp(truths[:, 1]) > np.median(truths[:, 2])
    assert copied <= TARGET, copied
    assert _mean_score(exact, truths) == pytest.approx(1.0)   # the learner's own truth would pass
    assert n == 50


def test_a_classmates_answers_with_noise_earn_little(truths):
    rng = np.random.default_rng(8)
    noisy = truths.copy()
    noisy[:, 2] = truths[:, 2] / 2
    noisy += rng.normal(0, guessing.NOISE, noisy.shape)
    noisy[:, 0] = noisy[:, 0].clip(0, 1)
    copied = np.mean([_mean_score(np.roll(noisy, shift, axis=0), truths) for shift in (1, 7, 19)])
    assert copied <= TARGET, copied


def test_one_part_right_and_the_other_guessed_earns_at_most_half(probed):
    """A learner who does only the easy half: their own true share, the class's middle effect with
    the class's middle reference-wide interval (course-sized companies: 47% measured, 57% when the
    company had 150 employees)."""
    truths, _, _ = probed
    middle = np.median(truths[:, 1]), np.median(truths[:, 2]) / 2
    half = [(t[0], *middle) for t in truths]
    assert _mean_score(half, truths) <= 0.5
    assert np.mean([run_check("measure.finding", {"theater_share": t[0]}, guessing.as_truth(t)).score
                    for t in truths]) == 0.0


def _reference_score(company) -> float:
    return run_check("measure.finding", guessing.as_answer(reference_answers(company)),
                     truth.measure_finding(company)).score


def test_the_reference_solution_earns_high_credit_on_drawn_companies():
    """Learner-sized companies drawn as learners get them (the benchmark: 96% over 50)."""
    scores = [_reference_score(generate_company("mandate-bigco", *COURSE_SIZE, learner_seed("guessing-test", f"r{i}")))
              for i in range(3)]
    assert np.mean(scores) >= 0.85, scores


@pytest.mark.parametrize("corner", list(variation.extremes(load_scenario("mandate-bigco"))))
def test_the_reference_solution_holds_at_the_corners_of_the_ranges(corner):
    """Every varied quantity extreme at once: the share method has no pull towards the middle, so
    the finding stays right where theater is rarest and most common (measured 0.93-1.0; the
    acceptance-only method it replaced was 0.05-0.14 off there and earned 0-95%)."""
    scenario = variation.extremes(load_scenario("mandate-bigco"))[corner]
    assert _reference_score(generate_company(scenario, *COURSE_SIZE, 11)) >= 0.85


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
    answers = [(share_of(c), t[1], t[2] / 2) for c, t in zip(class_companies, truths, strict=True)]
    assert _mean_score(answers, truths) <= 0.35


# ------------------------------------------------------------- the adaptive prober on submission feedback

PROBED = 20  # learners of the class the prober plays (every allowed submission each)
PARTICLES = 4000  # truths (share, effect, reference width) it draws from its prior


HOME_POOL = 30


@pytest.fixture(scope="module")
def probed():
    """Learners' truths and reference scores at the course's own company size (the small class
    above has reference intervals about as wide as the spread of the effect, which no course
    company has); the prior: companies of that size a learner generates at home."""
    companies = [generate_company("mandate-bigco", *COURSE_SIZE, learner_seed("guessing-test", f"c{i}"))
                 for i in range(PROBED)]
    pairs = np.array([guessing.truth_triple(c) for c in companies])
    reference = guessing.finding_scores(np.array([reference_answers(c) for c in companies]), pairs)
    home = np.array([guessing.truth_triple(generate_company("mandate-bigco", *COURSE_SIZE,
                                                            learner_seed("guessing-test", f"home{i}")))
                     for i in range(HOME_POOL)])
    return pairs, reference, home


def test_the_probers_model_of_a_page_is_the_page():
    """Equal band codes are equal pages and different codes different pages (the real page, made by
    grader.scoring and grader.submissions), so the prober's likelihood is exact."""
    rng = np.random.default_rng(3)
    answers = np.column_stack([rng.uniform(0.1, 0.6, 300), rng.uniform(-30, 80, 300), rng.uniform(2, 30, 300)])
    truths_ = np.column_stack([(answers[:, 0] + rng.normal(0, 0.06, 300)).clip(0, 1),
                               answers[:, 1] + rng.normal(0, 12.0, 300), rng.uniform(8, 40, 300)])
    codes = [guessing.band_codes(a[None, :], t[None, :])[0, 0] for a, t in zip(answers, truths_)]
    pages = [guessing.shown(guessing.BANDS_EVERY_ATTEMPT, a, t, final=False) for a, t in zip(answers, truths_)]
    assert len(set(codes)) > 8
    assert len(set(zip(codes, pages))) == len(set(codes)) == len(set(pages))


def test_the_adaptive_prober_learns_nothing_until_bands_are_final(probed):
    """Under the course's policy the prober's final answer is its prior's best for every learner
    (nothing shown before the end depends on the truth); while every attempt showed bands the same
    prober earned far more (the control that lets the test fail)."""
    pairs, reference, home = probed
    held = guessing.prober_answers(guessing.HELD_UNTIL_FINAL, pairs, home, particles=PARTICLES)
    prior = guessing.prior_particles(home, PARTICLES, np.random.default_rng(0))
    assert np.array_equal(held, np.tile(guessing.best_answer(prior)[0], (len(pairs), 1)))
    held_scores = guessing.finding_scores(held, pairs)
    banded = guessing.prober_scores(guessing.BANDS_EVERY_ATTEMPT, pairs, home, particles=PARTICLES)
    assert banded.mean() >= 2 * TARGET * reference.mean(), (banded.mean(), reference.mean())
    assert banded.mean() >= held_scores.mean() + 0.25


def test_the_adaptive_prober_earns_little_once_bands_wait_for_the_final_submission(probed):
    """The prober's final answer, scored by the real check: at most 20% of the reference under the
    course's policy."""
    pairs, reference, home = probed
    held = guessing.prober_answers(guessing.HELD_UNTIL_FINAL, pairs, home, particles=PARTICLES)
    held_scores = guessing.finding_scores(held, pairs)
    assert held_scores.mean() <= TARGET * reference.mean(), (held_scores.mean(), reference.mean())
