"""One band ladder: the checks' messages, the app's feedback and notebook feedback read a credit alike."""

from __future__ import annotations

import numpy as np
import pytest

from course import practice
from exercises.checks import CHECKS, ESTIMATE_RULES, LADDER, band_of_credit, linear_credit, run_check
from grader import feedback

CREDITS = [0.0, 1e-12, 1e-6, 0.01, 0.25, 0.49, 0.5, 0.74, 0.75, 0.99, 0.9999999999, 1.0]


@pytest.mark.parametrize("credit", CREDITS)
def test_the_app_and_notebook_feedback_give_the_same_band_for_the_same_credit(credit):
    band = band_of_credit(credit)
    assert practice.feedback_band(credit) == (band.id, band.sentence)
    for points in (1.0, 6.0, 8.0):
        assert feedback.band(credit * points, points) == band.label


@pytest.mark.parametrize("check_id", sorted(ESTIMATE_RULES))
def test_a_checks_message_names_the_band_the_app_and_feedback_show(check_id):
    """Across a grid of answers, the band a check's message names is the band the app shows for
    its result and the band notebook feedback shows for its points."""
    rule = ESTIMATE_RULES[check_id]
    words = {"within": "within the tolerance", "close": "is close", "off": "no credit"}
    seen = set()
    truth = 0.5 if check_id == "measure.theater_share" else 0.0
    for offset in np.linspace(-1.5 * rule.zero_at, 1.5 * rule.zero_at, 37):
        result = run_check(check_id, truth + float(offset), truth)
        band = band_of_credit(result.score)
        assert words[band.id] in result.message, (offset, result.message)
        assert practice.learner_feedback(check_id, result)[0] == band.id
        assert feedback.band(result.score * 6.0, 6.0) == band.label
        assert band.id == band_of_credit(linear_credit(abs(offset), rule.full_within, rule.zero_at)).id
        seen.add(band.id)
    assert seen == {b.id for b in LADDER}


def test_close_means_some_credit_and_off_means_none():
    assert band_of_credit(0.0).id == "off" and band_of_credit(float("nan")).id == "off"
    assert band_of_credit(1e-6).id == "close" and band_of_credit(0.999).id == "close"
    assert band_of_credit(1.0).id == "within" and band_of_credit(3.0).id == "within"
    assert all(chk.ladder is LADDER for chk in CHECKS.values())
