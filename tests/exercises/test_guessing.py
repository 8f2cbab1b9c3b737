"""Guessing does not pay on `measure`: the truths of a class spread further than the tolerances.

Before per-learner variation one constant pair earned ~98% of the estimate points on average and a
classmate's numbers ~94%. benchmarks/guessing.py prints the figures for learner-sized companies
(with the reference solution's own errors); this test keeps them down on a 50-learner class of
small companies, scoring with the real checks.
"""

from __future__ import annotations

import numpy as np
import pytest

from datasets.api import generate_company, learner_seed
from exercises import truth
from exercises.checks import run_check

pytestmark = pytest.mark.slow

PARTS = (("measure.theater_share", truth.theater_share, np.linspace(0.0, 1.0, 101)),
         ("measure.productivity_effect", truth.productivity_effect, np.linspace(-40.0, 80.0, 121)))
# Share of the estimate points. It was ~0.98 (constant) and ~0.94 (copy); measured now on this class:
# 0.47 and 0.29 (the theater share carries most of it: 0.65 and 0.45). The course aims at 0.2; the
# tolerances cannot shrink further without grading the reference solution's own estimation noise.
CEILING = 0.5
# The productivity effect alone is guarded (measured 0.29 constant, 0.14 copy on this class): its
# truths spread over ~75 points against a 6-10 point tolerance. The theater share is not (0.65, 0.45).
EFFECT_CEILING = 0.35


@pytest.fixture(scope="module")
def class_truths():
    companies = [generate_company("mandate-bigco", 60, 120, learner_seed("guessing-test", f"l{i}"))
                 for i in range(50)]
    return {check_id: np.array([f(c) for c in companies]) for check_id, f, _ in PARTS}


def _mean_credit(check_id, answers, truths):
    return float(np.mean([run_check(check_id, float(a), float(t)).score for a, t in zip(answers, truths)]))


def test_the_best_constant_pair_earns_little(class_truths):
    best = []
    for check_id, _, grid in PARTS:
        truths = class_truths[check_id]
        best.append(max(_mean_credit(check_id, np.full(len(truths), c), truths) for c in grid))
    assert np.mean(best) <= CEILING, best
    assert best[1] <= EFFECT_CEILING, best


def test_a_classmates_exact_answers_earn_little(class_truths):
    copied = []
    for check_id, _, _ in PARTS:
        truths = class_truths[check_id]
        neighbour = np.roll(truths, 1)  # each learner hands in a classmate's perfect answer
        copied.append(_mean_credit(check_id, neighbour, truths))
        assert np.ptp(truths) > 4 * (0.07 if check_id.endswith("share") else 6.0)  # wider than the tolerance
    assert np.mean(copied) <= CEILING, copied
    assert copied[1] <= EFFECT_CEILING, copied
