"""Per-learner practice rules: shuffles, forms, attempt budget, mastery, bands, degenerate answers."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from course import practice
from course import simulator as sim
from course.modules import load_modules
from exercises.checks import run_check

LEARNERS = [f"learner{i:03d}" for i in range(200)]


def _a_question():
    modules, _ = load_modules()
    return modules[0].quiz[0]


def test_option_order_is_stable_for_a_learner_even_in_a_new_process():
    q = _a_question()
    here = [o.text for o in practice.shuffled(q.options, "ada", q.id)]
    assert here == [o.text for o in practice.shuffled(q.options, "ada", q.id)]
    code = ("from course import practice; from course.modules import load_modules; "
            "q = load_modules()[0][0].quiz[0]; "
            "print('|'.join(o.text for o in practice.shuffled(q.options, 'ada', q.id)))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "12345"})
    assert other.stdout.strip() == "|".join(here)


def test_option_orders_spread_across_learners_and_put_the_answer_everywhere():
    q = _a_question()
    orders = Counter(tuple(o.text for o in practice.shuffled(q.options, lid, q.id)) for lid in LEARNERS)
    n = len(q.options)
    assert len(orders) == math.factorial(n)        # every order of the options occurs
    assert max(orders.values()) < 3 * len(LEARNERS) / math.factorial(n)
    positions = Counter([o.text for o in practice.shuffled(q.options, lid, q.id)].index(q.answer)
                        for lid in LEARNERS)
    assert set(positions) == set(range(n)) and min(positions.values()) > 0.5 * len(LEARNERS) / n


def test_one_learner_sees_different_orders_on_different_items():
    items = [f"item{i}" for i in range(20)]
    orders = {tuple(practice.shuffled(["a", "b", "c", "d"], "ada", item)) for item in items}
    assert len(orders) > 5


def test_pre_post_forms_are_counterbalanced_and_stable():
    forms = [practice.pre_post_forms(lid) for lid in LEARNERS]
    assert set(forms) == {("A", "B"), ("B", "A")}
    share = sum(f == ("A", "B") for f in forms) / len(forms)
    assert 0.4 < share < 0.6
    assert practice.pre_post_forms("ada") == practice.pre_post_forms("ada")


def test_the_attempt_budget_closes_checking_and_opens_the_solution():
    state = practice.attempt_state([0.0, 0.5], budget=3)
    assert state.remaining == 1 and state.can_check and not state.solution_unlocked
    spent = practice.attempt_state([0.0, 0.5, 0.2], budget=3)
    assert spent.remaining == 0 and not spent.can_check and spent.solution_unlocked
    assert "used your 3 checked attempts" in practice.budget_message(spent)
    with pytest.raises(ValueError):
        practice.attempt_state([], budget=0)


def test_exploring_after_a_success_costs_no_attempt_and_keeps_mastery():
    state = practice.attempt_state([0.2, 1.0, 0.0, 0.0, 0.0], budget=3)
    assert state.succeeded and state.checked == 2 and state.can_check and state.best == 1.0
    assert practice.mastery_item_score([0.2, 1.0, 0.0]) == 1.0
    assert practice.mastery_item_score([1.0, 0.4], pass_mark=1.0) == 1.0
    assert practice.mastery_item_score([0.9, 0.4], pass_mark=1.0) == 0.4   # never passed: latest


def test_progress_mastery_does_not_drop_when_a_learner_explores_after_succeeding(tmp_path):
    from course.progress import ProgressStore

    store = ProgressStore(f"sqlite:///{tmp_path / 'p.sqlite'}")
    for qid in ("q1", "q2", "q3"):
        store.record_attempt("ada", "m1", qid, "quiz", "right", True, 1.0, None)
    store.record_attempt("ada", "m1", "q1", "quiz", "a wrong option, to see its feedback", False, 0.0,
                         "usage-equals-value")
    assert store.learner_summary("ada")["mastery"]["m1"] == "proficient"
    store.record_attempt("bob", "m1", "q1", "quiz", "wrong", False, 0.0, None)
    store.record_attempt("bob", "m1", "q2", "quiz", "right", True, 1.0, None)
    assert store.learner_summary("bob")["mastery"]["m1"] == "attempted"


def _attempts(*rows):
    return pd.DataFrame(rows, columns=["item_id", "kind", "score", "correct"])


def test_a_question_counts_its_first_answer_and_an_exercise_its_best_once_passed():
    scored = _attempts(("q1", "quiz", 0.0, False), ("q1", "quiz", 0.0, False),
                       ("q1", "quiz", 1.0, True),            # answered until right: still 0
                       ("q2", "quiz", 1.0, True), ("q2", "quiz", 0.0, False),
                       ("ex", "exercise", 0.4, False), ("ex", "exercise", 1.0, True),
                       ("ex", "exercise", 0.0, False),
                       ("ex2", "exercise", 0.9, False), ("ex2", "exercise", 0.4, False))
    assert practice.mastery_item_scores(scored) == {"q1": 0.0, "q2": 1.0, "ex": 1.0, "ex2": 0.4}
    assert practice.mastery_item_scores(scored.iloc[0:0]) == {}


def test_a_review_counts_when_one_of_its_items_was_right_the_first_time():
    retried = _attempts(("r1", "review", 0.0, False), ("r1", "review", 1.0, True))
    assert practice.reviews_passed(retried) is False
    assert practice.reviews_passed(pd.concat([retried, _attempts(("r2", "review", 1.0, True))]))
    assert practice.reviews_passed(retried.iloc[0:0]) is False


def test_answering_every_option_until_right_does_not_make_a_learner_proficient(tmp_path):
    from course.progress import ProgressStore

    store = ProgressStore(f"sqlite:///{tmp_path / 'p.sqlite'}")
    for qid in ("q1", "q2", "q3"):
        for option in ("wrong", "also wrong", "right"):
            store.record_attempt("eve", "m1", qid, "quiz", option, option == "right",
                                 1.0 if option == "right" else 0.0, None)
    summary = store.learner_summary("eve", {"m1": 3})
    assert summary["mastery"]["m1"] == "attempted"
    assert summary["modules"]["m1"]["attempts"] == 9     # every answer is still recorded


@pytest.mark.parametrize("score, band", [(1.0, "within"), (0.8, "close"), (0.5, "close"),
                                         (0.01, "close"), (0.0, "off")])
def test_feedback_bands_hide_the_exact_score(score, band):
    got, text = practice.feedback_band(score)
    assert got == band and "%" not in text and not any(ch.isdigit() for ch in text)


def test_estimate_feedback_in_the_app_gives_no_direction_or_figure():
    truth = 6.0
    seen = set()
    for answer in (-40.0, -10.0, 0.0, 14.0, 22.0, 60.0):
        band, text = practice.learner_feedback("measure.access_effect",
                                               run_check("measure.access_effect", answer, truth))
        words = set(text.lower().replace(".", " ").replace(",", " ").split())
        assert not words & {"high", "higher", "low", "lower", "above", "below", "raise", "reduce"}
        assert not any(ch.isdigit() for ch in text)
        seen.add((answer > truth, band, text))
    # answers on either side of the truth with the same band read the same
    assert {(b, t) for above, b, t in seen if above} & {(b, t) for above, b, t in seen if not above}


# ----------------------------------------------------------------------------- simulator variants

def _variant(learner: str) -> sim.SimParams:
    return sim.learner_params(practice.variant_key("course-secret", learner, "goodhart-simulator"))


def test_simulator_variants_differ_across_learners_and_need_the_course_secret():
    params = [_variant(lid) for lid in LEARNERS[:30]]
    assert len({(p.gamers_share, p.gaming_cost, p.spread, p.seed) for p in params}) == 30
    assert _variant("ada") == _variant("ada")
    other_course = sim.learner_params(practice.variant_key("another-secret", "ada", "goodhart-simulator"))
    assert other_course != _variant("ada")
    assert sim.learner_params(None) == sim.DEFAULT_PARAMS


def test_collapse_points_spread_wider_than_the_tolerance_so_no_shared_answer_works():
    from exercises.checks import COLLAPSE_FULL_WITHIN

    points = np.array([sim.goodhart_collapse_point(_variant(lid)) for lid in LEARNERS[:24]])
    assert (points < 1.0).all()                       # every learner's sandbox does collapse
    assert len(set(points)) >= 8

    def passes(answer: float) -> np.ndarray:
        return (answer >= points - 0.005) & (answer <= points + COLLAPSE_FULL_WITHIN + 1e-9)

    best_constant = max(passes(c).mean() for c in np.round(np.arange(0, 1.001, 0.01), 2))
    classmate = np.mean([passes(points[i])[np.arange(len(points)) != i].mean()
                         for i in range(len(points))])
    assert best_constant <= 0.3 and classmate <= 0.2, (best_constant, classmate)


def test_an_answer_below_the_collapse_point_is_refused_even_when_close():
    params = _variant("ada")
    point = sim.goodhart_collapse_point(params)
    below = round(point - 0.02, 2)
    assert not sim.simulate(sim.replace(params, reward=below)).collapsed   # still above half there
    assert run_check("goodhart.collapse_point", below, point).score == 0.0
    assert run_check("goodhart.collapse_point", point, point).correct
    wrong_low = run_check("goodhart.collapse_point", round(point - 0.1, 2), point)
    wrong_high = run_check("goodhart.collapse_point", min(1.0, round(point + 0.1, 2)), point)
    assert wrong_low.message == wrong_high.message    # no side to bisect along
