"""Copy detection accuses only matches that are improbable under the class's own spread."""

from __future__ import annotations

import numpy as np
import pytest

from grader.copydetect import ALPHA, detect_copies, number_match_chance, set_overlap_chance

CHECKS = {"flagged": "detect.flag_tokenmaxxers", "share": "measure.theater_share",
          "effect": "measure.productivity_effect"}
IDS = [f"E{n:05d}" for n in range(1, 151)]


def _honest_class(rng: np.random.Generator, learners: int = 30) -> tuple[dict, dict]:
    """Truths spread as the per-learner companies spread; honest answers are truth plus estimation noise."""
    answers, truths = {}, {}
    for i in range(learners):
        name = f"learner{i:02d}"
        share, effect = rng.uniform(0.05, 0.6), rng.uniform(-15, 45)
        true_ids = set(rng.choice(IDS, int(rng.uniform(0.03, 0.4) * len(IDS)), replace=False))
        found = {i for i in true_ids if rng.random() < 0.8}
        wrong = set(rng.choice(sorted(set(IDS) - true_ids), max(1, len(true_ids) // 5), replace=False))
        truths[name] = {"share": share, "effect": effect, "flagged": sorted(true_ids)}
        answers[name] = {"share": float(np.clip(share + rng.normal(0, 0.03), 0, 1)),
                         "effect": effect + rng.normal(0, 3.0), "flagged": sorted(found | wrong)}
        if i % 3 == 0:  # some learners round what they hand in: coincidences become likely, still honest
            answers[name] = {**answers[name], "share": round(answers[name]["share"], 2),
                             "effect": round(answers[name]["effect"])}
    return answers, truths


@pytest.mark.parametrize("seed", range(5))
def test_honest_learners_in_a_30_learner_class_raise_no_flag(seed):
    answers, truths = _honest_class(np.random.default_rng(seed))
    assert detect_copies(answers, truths, CHECKS) == []


def test_an_exact_copy_of_a_classmates_estimate_is_flagged_and_the_source_is_not():
    answers, truths = _honest_class(np.random.default_rng(100))
    source = answers["learner01"]
    answers["learner02"] = {**answers["learner02"], "share": source["share"], "effect": source["effect"]}
    flags = detect_copies(answers, truths, CHECKS)
    assert {(f.learner, f.grade_id, f.other, f.kind) for f in flags} == {
        ("learner02", "share", "learner01", "answer"), ("learner02", "effect", "learner01", "answer")}
    assert all(f.chance < ALPHA for f in flags) and "learner01's answer" in str(flags[0])


def test_a_copied_flag_set_is_attributed_to_its_source():
    answers, truths = _honest_class(np.random.default_rng(101))
    answers["learner05"] = {**answers["learner05"], "flagged": list(answers["learner07"]["flagged"])}
    flags = detect_copies(answers, truths, CHECKS)
    assert [(f.learner, f.grade_id, f.other) for f in flags] == [("learner05", "flagged", "learner07")]


def test_an_answer_that_is_a_classmates_hidden_truth_is_flagged():
    answers, truths = _honest_class(np.random.default_rng(102))
    answers["learner04"] = {**answers["learner04"], "flagged": truths["learner09"]["flagged"],
                            "share": truths["learner09"]["share"]}
    flags = {(f.learner, f.grade_id, f.other, f.kind) for f in detect_copies(answers, truths, CHECKS)}
    assert ("learner04", "flagged", "learner09", "data") in flags
    assert ("learner04", "share", "learner09", "data") in flags
    assert all(learner == "learner04" for learner, *_ in flags)


def test_equal_round_numbers_are_not_an_accusation():
    truths = {"ada": {"share": 0.10}, "bob": {"share": 0.45}, "cy": {"share": 0.3}}
    answers = {"ada": {"share": 0.45}, "bob": {"share": 0.45}, "cy": {"share": 0.3}}
    assert detect_copies(answers, truths, {"share": "measure.theater_share"}) == []
    answers["ada"]["share"] = answers["bob"]["share"] = 0.4471938
    flags = detect_copies(answers, truths, {"share": "measure.theater_share"})
    assert [(f.learner, f.other) for f in flags] == [("ada", "bob")]


def test_missing_answers_and_truths_raise_no_flag():
    answers = {"ada": {"flagged": ["E00001"]}, "bob": {"flagged": None}, "cy": {}}
    truths = {"ada": {"flagged": ["E00001", "E00002"]}, "bob": {"flagged": ["E00010"]}}
    assert detect_copies(answers, truths, CHECKS) == []


def test_chances():
    assert number_match_chance(0.3, 0.3, 0.15) > 0.03  # written to one decimal: means little
    assert number_match_chance(0.30718254, 0.30718254, 0.15) < 1e-6
    assert set_overlap_chance({"a", "b"}, {"a", "b"}, 150) == pytest.approx(1 / (150 * 149 / 2))
    assert set_overlap_chance({"a"}, {"b"}, 150) == 1.0
