"""The grading record keeps what the checks need: a detect truth scores the same after JSON."""

import json

from exercises.checks import run_check
from exercises.truth import EmployeeGroup
from grader.scoring import jsonable


def test_a_recorded_detect_truth_keeps_the_blind_flagging_floor():
    truth = EmployeeGroup({f"E{i:05d}" for i in range(12)}, ai_users=30)
    recorded = json.loads(json.dumps(jsonable(truth)))
    assert recorded == {"ids": sorted(truth), "ai_users": 30}
    # 6 of the 12 and 2 others: F1 0.6, above the fixed 0.3 floor, barely above flagging every AI user (0.57)
    answer = sorted(truth)[:6] + ["E00100", "E00101"]
    assert run_check("detect.flag_tokenmaxxers", answer, recorded).score == \
        run_check("detect.flag_tokenmaxxers", answer, truth).score
    assert run_check("detect.flag_tokenmaxxers", answer, recorded).score != \
        run_check("detect.flag_tokenmaxxers", answer, sorted(truth)).score


def test_a_plain_id_set_is_recorded_as_a_sorted_list():
    assert jsonable(frozenset({"b", "a"})) == ["a", "b"]
