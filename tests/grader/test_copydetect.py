"""Copy detection accuses only matches that are improbable under the class's own spread."""

from __future__ import annotations

import numpy as np
import pytest

from grader.copydetect import ALPHA, detect_copies, number_match_chance, set_overlap_chance

CHECKS = {"flagged": "detect.flag_tokenmaxxers", "finding": "measure.finding"}
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
        truths[name] = {"finding": _truth(share, effect), "flagged": sorted(true_ids)}
        estimate = _pair(float(np.clip(share + rng.normal(0, 0.03), 0, 1)), effect + rng.normal(0, 3.0))
        if i % 3 == 0:  # some learners round what they hand in: coincidences become likely, still honest
            estimate = _pair(round(estimate["theater_share"], 2), round(estimate["access_effect_pct"]))
        elif i % 3 == 1:  # others round one number only
            estimate = _pair(round(estimate["theater_share"], 3), estimate["access_effect_pct"])
        answers[name] = {"finding": estimate, "flagged": sorted(found | wrong)}
    return answers, truths


def _pair(share: float, effect: float) -> dict[str, float]:
    """The measure finding as answers/estimates.json holds it: the effect with an interval as wide
    as the reference's (REFERENCE_WIDTH)."""
    return {"theater_share": share, "access_effect_pct": effect,
            "access_effect_low": effect - REFERENCE_WIDTH / 2, "access_effect_high": effect + REFERENCE_WIDTH / 2}


REFERENCE_WIDTH = 16.0


def _truth(share: float, effect: float) -> dict[str, float]:
    """The finding's truth as exercises.truth.measure_finding gives it."""
    return {"theater_share": share, "access_effect_pct": effect, "access_effect_reference_width": REFERENCE_WIDTH}


@pytest.mark.parametrize("seed", range(5))
def test_honest_learners_in_a_30_learner_class_raise_no_flag(seed):
    answers, truths = _honest_class(np.random.default_rng(seed))
    assert detect_copies(answers, truths, CHECKS) == []


def test_an_exact_copy_of_a_classmates_finding_is_flagged_and_the_source_is_not():
    answers, truths = _honest_class(np.random.default_rng(100))
    answers["learner02"] = {**answers["learner02"], "finding": dict(answers["learner01"]["finding"])}
    flags = detect_copies(answers, truths, CHECKS)
    assert [(f.learner, f.grade_id, f.other, f.kind) for f in flags] == [("learner02", "finding", "learner01", "answer")]
    assert flags[0].chance < ALPHA and "learner01's answer" in str(flags[0])


@pytest.mark.parametrize("seed", range(3))
def test_a_pair_copied_to_a_few_digits_is_flagged_though_each_number_alone_is_not(seed):
    """Copying, say, 0.412 and 23.7: either number alone could be a coincidence in a class, both together not."""
    answers, truths = _honest_class(np.random.default_rng(200 + seed))
    honest = answers["learner10"]["finding"]
    source = answers["learner10"]["finding"] = _pair(round(honest["theater_share"], 3),
                                                     round(honest["access_effect_pct"], 1))
    answers["learner11"] = {**answers["learner11"], "finding": dict(source)}
    share_only = {k: {"share": v["finding"]["theater_share"]} for k, v in answers.items()}
    share_truths = {k: {"share": v["finding"]["theater_share"]} for k, v in truths.items()}
    assert detect_copies(share_only, share_truths, {"share": "measure.theater_share"}) == []
    flags = detect_copies(answers, truths, CHECKS)
    assert [(f.learner, f.other) for f in flags] == [("learner11", "learner10")]


def test_a_copied_pair_with_one_number_changed_still_counts_the_other():
    answers, truths = _honest_class(np.random.default_rng(103))
    source = answers["learner05"]["finding"]  # written to full precision
    answers["learner06"] = {**answers["learner06"], "finding": _pair(source["theater_share"],
                                                                     source["access_effect_pct"] + 4.0)}
    flags = detect_copies(answers, truths, CHECKS)
    assert [(f.learner, f.other) for f in flags] == [("learner06", "learner05")]


def test_a_copied_flag_set_is_attributed_to_its_source():
    answers, truths = _honest_class(np.random.default_rng(101))
    answers["learner05"] = {**answers["learner05"], "flagged": list(answers["learner07"]["flagged"])}
    flags = detect_copies(answers, truths, CHECKS)
    assert [(f.learner, f.grade_id, f.other) for f in flags] == [("learner05", "flagged", "learner07")]


def test_an_answer_that_is_a_classmates_hidden_truth_is_flagged():
    answers, truths = _honest_class(np.random.default_rng(102))
    answers["learner04"] = {**answers["learner04"], "flagged": truths["learner09"]["flagged"],
                            "finding": _pair(truths["learner09"]["finding"]["theater_share"],
                                             truths["learner09"]["finding"]["access_effect_pct"])}
    flags = {(f.learner, f.grade_id, f.other, f.kind) for f in detect_copies(answers, truths, CHECKS)}
    assert ("learner04", "flagged", "learner09", "data") in flags
    assert ("learner04", "finding", "learner09", "data") in flags
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
    # a finding with a number missing, or not an object at all, is compared on what it holds
    truths = {name: {"finding": _truth(s, e)} for name, s, e in (("ada", 0.2, 5.0), ("bob", 0.5, 40.0), ("cy", 0.35, 20.0))}
    answers = {"ada": {"finding": {"theater_share": 0.31}}, "bob": {"finding": {"theater_share": 0.31}},
               "cy": {"finding": [0.3, 20.0]}}
    assert detect_copies(answers, truths, {"finding": "measure.finding"}) == []


def test_chances():
    assert number_match_chance(0.3, 0.3, 0.15) > 0.03  # written to one decimal: means little
    assert number_match_chance(0.30718254, 0.30718254, 0.15) < 1e-6
    assert set_overlap_chance({"a", "b"}, {"a", "b"}, 150) == pytest.approx(1 / (150 * 149 / 2))
    assert set_overlap_chance({"a"}, {"b"}, 150) == 1.0


def test_when_both_fits_reach_full_marks_only_the_copier_is_accused():
    """Two learners whose truths lie close: bchen's own answer, pasted by qali, earns full marks on
    both companies; it lies closer to bchen's truth, so qali copied it from bchen, not the reverse."""
    truths = {"bchen": {"finding": _truth(0.278, 31.3)}, "qali": {"finding": _truth(0.318, 35.6)}}
    answer = _pair(0.2791, 31.27)
    answers = {"bchen": {"finding": dict(answer)}, "qali": {"finding": dict(answer)}}
    from exercises.checks import run_check

    assert run_check(CHECKS["finding"], answer, truths["qali"]["finding"]).score == 1.0  # both at the cap
    assert run_check(CHECKS["finding"], answer, truths["bchen"]["finding"]).score == 1.0
    flags = detect_copies(answers, truths, {"finding": CHECKS["finding"]})
    assert [(f.learner, f.other, f.kind) for f in flags] == [("qali", "bchen", "answer")]


def test_when_both_fits_reach_full_marks_in_a_class_the_source_is_not_accused():
    answers, truths = _honest_class(np.random.default_rng(104))
    source = truths["learner03"]["finding"]
    truths["learner04"]["finding"] = _truth(source["theater_share"] + 0.01, source["access_effect_pct"] + 1.0)
    answers["learner03"]["finding"] = _pair(source["theater_share"] + 0.0021, source["access_effect_pct"] - 0.37)
    answers["learner04"]["finding"] = dict(answers["learner03"]["finding"])
    flags = [f for f in detect_copies(answers, truths, CHECKS) if f.grade_id == "finding"]
    assert [(f.learner, f.other) for f in flags] == [("learner04", "learner03")]


def test_a_parts_own_tolerance_scores_the_fits_as_the_part_is_graded():
    """ada hands in bob's answer. The flag reports both fits as the part is graded: on the default
    tolerance her answer earns nothing on her own data and full credit on bob's; on a part
    tolerance wide enough to pay both truths in full, both fits are full credit, and the identical
    answer, closer to bob's truth, is still flagged."""
    from exercises.checks import Tolerance

    truths = {"ada": {"share": 0.10}, "bob": {"share": 0.45}, "cy": {"share": 0.3}}
    answers = {"ada": {"share": 0.4471938}, "bob": {"share": 0.4471938}, "cy": {"share": 0.3}}
    checks = {"share": "measure.theater_share"}
    [default] = detect_copies(answers, truths, checks)
    assert (default.learner, default.other, default.own_score, default.other_score) == ("ada", "bob", 0.0, 1.0)
    wide = {"share": {"theater_share": Tolerance(0.5, 0.9)}}
    [widened] = detect_copies(answers, truths, checks, wide)
    assert (widened.learner, widened.other, widened.own_score, widened.other_score) == ("ada", "bob", 1.0, 1.0)


# ----------------------------------------------------------------------------- written answers

MEMO_A = ("Theater is about a third of the activity since the mandate: 31 percent, with an interval "
          "from 26 to 37. The effect of access on delivered work, read from the randomised pilot "
          "wave against the staff still waiting, is plus 7 percent, from 1 to 13. Usage rose with the "
          "mandate and says nothing about value; the board should stop ranking teams by sessions and "
          "track cycle time and escaped defects per team instead, with rework as the guardrail.")
MEMO_B = ("Our company shows heavy padding of the dashboard after the target was announced. I estimate "
          "that 28 percent of AI events are performative (22 to 34). Comparing the pilot group with "
          "colleagues who had no licence yet gives a 9 percent rise in closed tickets, interval 3 to 15. "
          "I would retire the adoption leaderboard, report outcomes per team only and keep usage data "
          "away from performance reviews.")
TEMPLATE = "Write your memo to the board here. Say what the data shows and what it cannot show."


def _copied(text: str) -> str:
    """A copy with its case, punctuation and one sentence changed: what a copier does to hide it."""
    sentences = text.split(". ")
    sentences[1] = "I also looked at the pilot, which was the cleanest comparison we had"
    return ". ".join(sentences).upper().replace(",", " ;")


def _prints(texts: dict[str, str]) -> dict[str, dict[str, list[int]]]:
    from grader.copydetect import phrase_prints

    return {learner: {"memo_shows": phrase_prints(f"{TEMPLATE}\n{text}", TEMPLATE)} for learner, text in texts.items()}


def test_a_lightly_edited_copy_of_a_memo_is_flagged_on_both_sides_and_honest_memos_are_not():
    from grader.copydetect import detect_shared_text

    flags = detect_shared_text(_prints({"ada": MEMO_A, "bob": MEMO_B, "cy": _copied(MEMO_A)}))
    assert {(f.learner, f.other) for f in flags} == {("ada", "cy"), ("cy", "ada")}
    assert all(f.shared >= 0.5 * f.of and "does not show who wrote it first" in str(f) for f in flags)


def test_the_released_template_and_wording_the_whole_class_shares_make_nobody_alike():
    from grader.copydetect import detect_shared_text

    lesson = ("the course says that a usage number which counts in a review becomes a target and "
              "targets get gamed so the firewall between usage data and evaluation matters more than "
              "any threshold a vendor calls healthy adoption and teams should report outcomes per team "
              "never per person")                                  # quoted from the lesson by three people
    own = [MEMO_A[:230], MEMO_B[:230], MEMO_A[230:], MEMO_B[230:], MEMO_A[::-1]]
    texts = {f"l{i}": (f"{lesson}. " if i < 3 else "") + text for i, text in enumerate(own)}
    assert detect_shared_text(_prints(texts)) == []
    assert detect_shared_text(_prints({"ada": "", "bob": ""})) == []          # template only: nothing of their own
    short = "Stop ranking teams by sessions and track delivered work instead."
    assert detect_shared_text(_prints({"ada": short, "bob": short})) == []    # too short to tell


def test_a_graded_class_reports_a_copied_memo_to_the_instructor_only(tmp_path):
    from grader.assign import assign, import_roster
    from grader.feedback import feedback_for
    from grader.grade import grade
    from grader.review import copy_flags
    from grader.commit import read_record, record_path
    from tests.grader.gradebook_fixtures import Learner, small_course, submit_memo

    roster = [Learner(n, n.title(), "X", f"{n}@x.org") for n in ("ada", "bob", "cy")]
    course = small_course(tmp_path / "course")
    import_roster(course, roster)
    assign(course, "memo", roster)
    for learner, text in {"ada": MEMO_A, "bob": MEMO_B, "cy": _copied(MEMO_A)}.items():
        submit_memo(course, learner, {"memo_shows": text})
    report = grade(course.root, "memo", workers=1, progress=False)
    assert [f for f in report.learners["bob"].copy_flags] == []
    for learner, other in (("ada", "cy"), ("cy", "ada")):
        assert any(f"with {other}'s" in f for f in report.learners[learner].copy_flags)
    found = {k: read_record(record_path(course, "memo", k)) for k in ("ada", "bob", "cy")}
    assert sorted(copy_flags(found, course.assignment("memo"))) == ["ada", "cy"]   # the review page agrees
    page = feedback_for(course, course.assignment("memo"), "ada").read_text(encoding="utf-8")
    assert "five-word phrases" not in page and "cy's" not in page     # never in the learner's feedback
