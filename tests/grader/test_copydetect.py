"""Copy detection flags answers that fit another learner's data clearly better than their own."""

from __future__ import annotations

from grader.copydetect import detect_copies

CHECKS = {"flagged": "detect.flag_tokenmaxxers"}
TRUTHS = {
    "ada": {"flagged": ["E00001", "E00002", "E00003", "E00004"]},
    "bob": {"flagged": ["E00010", "E00011", "E00012", "E00013"]},
    "cy": {"flagged": ["E00020", "E00021", "E00022", "E00023"]},
}


def test_copied_flag_set_is_attributed_to_its_source():
    answers = {
        "ada": {"flagged": ["E00001", "E00002", "E00003"]},
        "bob": {"flagged": ["E00001", "E00002", "E00003", "E00004"]},  # ada's answer
        "cy": {"flagged": ["E00020", "E00021"]},
    }
    flags = detect_copies(answers, TRUTHS, CHECKS)
    assert [(f.learner, f.other) for f in flags] == [("bob", "ada")]
    assert flags[0].own_score == 0 and flags[0].other_score == 1
    assert "ada" in str(flags[0])


def test_honest_answers_and_missing_answers_raise_no_flag():
    answers = {"ada": {"flagged": ["E00001"]}, "bob": {"flagged": None}, "cy": {}}
    assert detect_copies(answers, TRUTHS, CHECKS) == []


def test_a_weak_fit_elsewhere_is_not_enough():
    answers = {"bob": {"flagged": ["E00001", "E00030", "E00031", "E00032", "E00033", "E00034"]}}
    assert detect_copies(answers, TRUTHS, CHECKS) == []


def test_estimates_are_compared_with_the_same_check():
    checks = {"share": "measure.theater_share"}
    truths = {"ada": {"share": 0.10}, "bob": {"share": 0.45}}
    answers = {"ada": {"share": 0.45}, "bob": {"share": 0.45}}
    flags = detect_copies(answers, truths, checks)
    assert [(f.learner, f.other) for f in flags] == [("ada", "bob")]
