"""The `detect` reference solution earns what a careful learner should, on every kind of company.

Its detector is a weighted mean of the habits as shares with a fixed threshold, so it flags more
people where more perform. The detector it replaced standardised each habit against the company's
own median and spread and flagged about 30-45 people whatever the truth: few tokenmaxxers meant
many false accusations, many meant many misses (benchmarks/detect_reference.py prints both).
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.detect_reference import NOTEBOOK, relative_flags, scores
from benchmarks.guessing import run_solution
from exercises.assignments import DataSpec
from datasets import variation
from datasets.api import generate_company, learner_seed
from datasets.scenario import load_scenario
from exercises import truth
from exercises.checks import run_check

pytestmark = pytest.mark.slow

COURSE_SIZE = (DataSpec().employees, DataSpec().days)
CORNERS = variation.extremes(load_scenario("mandate-bigco"))


def test_the_reference_earns_high_credit_on_drawn_companies():
    """Measured over 120 drawn companies: mean 98-99.5%, 85-93% full marks, lowest 70%."""
    drawn = [scores(generate_company("mandate-bigco", *COURSE_SIZE, learner_seed("detect-reference", f"l{i}")))[0]
             for i in range(4)]
    assert np.mean(drawn) >= 0.85 and min(drawn) >= 0.5, drawn


@pytest.mark.parametrize("corner", [name for name in CORNERS if name.startswith("most performers")])
def test_the_reference_holds_where_most_people_perform(corner):
    assert scores(generate_company(CORNERS[corner], *COURSE_SIZE, 11))[0] >= 0.9


def test_where_few_perform_the_reference_accuses_few_and_the_relative_yardstick_many():
    """The notebook's claim: a yardstick built from the company flags about as many people either way."""
    company = generate_company(CORNERS["fewest performers, weakest push"], *COURSE_SIZE, 11)
    scope = run_solution(NOTEBOOK, company)
    tokenmaxxers = truth.tokenmaxxer_ids(company)
    relative = relative_flags(scope["features"])
    assert len(relative) >= 3 * len(tokenmaxxers)
    assert len(scope["flagged"]) <= 2 * len(tokenmaxxers)
    reference = run_check("detect.flag_tokenmaxxers", scope["flagged"], tokenmaxxers).score
    assert reference >= 0.5
    assert reference > run_check("detect.flag_tokenmaxxers", relative, tokenmaxxers).score + 0.3
