"""No simple rule on how work items are linked to sessions labels the sessions.

A learner holds their released tables and the open generator. If links depended on the hidden
mode through a rule that always holds (a work item used to link to the latest *genuine* session, so
every session it passed over was performative), a few lines of pandas would label sessions and
fit the theater share without any analysis. datasets/label_rules.py searches single threshold
rules and pairs of them on the released link columns; none may say "theater" with precision 0.95
while flagging 5% of a company's theater sessions.
"""

from __future__ import annotations

import pytest

from datasets import label_rules, pipeline, variation
from datasets.api import generate_company, learner_seed
from datasets.scenario import load_scenario

EMPLOYEES, DAYS = 120, 120
MAX_PRECISION, MIN_COVERAGE = 0.95, 0.05


def _companies():
    """Companies drawn per seed, as learners get them, and the corners of the drawn ranges."""
    for k in range(4):
        yield generate_company("mandate-bigco", EMPLOYEES, DAYS, learner_seed("label-rule search", f"learner{k}"))
    for scenario in variation.extremes(load_scenario("mandate-bigco")).values():
        yield generate_company(scenario, EMPLOYEES, DAYS, 11)


@pytest.mark.slow
def test_no_rule_on_the_links_labels_theater_sessions():
    best = label_rules.search(_companies(), min_coverage=MIN_COVERAGE)
    assert best.precision < MAX_PRECISION, f"a released-column rule labels theater sessions: {best}"


@pytest.mark.slow
def test_the_search_finds_a_planted_link_rule(monkeypatch):
    """The old artefact, planted again (genuine sessions always feed work, performative ones never):
    the search must find the rule that every passed-over session is theater."""
    monkeypatch.setattr(pipeline, "feeds_work", lambda seed: (1.0, 0.0))
    company = generate_company("mandate-bigco", EMPLOYEES, DAYS, learner_seed("label-rule search", "learner0"))
    best = label_rules.search([company], min_coverage=MIN_COVERAGE)
    assert best.precision == 1.0 and best.coverage >= 0.1, str(best)


def test_a_rule_scores_against_the_hidden_mode_of_each_session():
    """A tiny frame: the best rule flags the two theater sessions and nothing else."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"session_id": [1, 2, 3, 4], "employee": [0, 0, 1, 1],
                          "skipped": [True, True, False, False], "hours_to_next_item": [2.0, 3.0, 9.0, 30.0]})
    rule = label_rules.best_rule(frame, np.array([True, True, False, False]), min_coverage=0.5)
    assert (rule.precision, rule.coverage, rule.flagged) == (1.0, 1.0, 2)
    assert "skipped" in rule.text or "hours_to_next_item <=" in rule.text
