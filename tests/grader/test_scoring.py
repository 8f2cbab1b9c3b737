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


def test_a_scored_part_keeps_the_checks_reading_for_the_instructor_and_review_reads_it(tmp_path):
    """What grading writes into the record (asdict of PartScore, as JSON) carries the reading, and
    the instructor's review reads the band from it: the message plays no part."""
    from dataclasses import asdict

    from exercises.assignments import SOURCE_DIR, load_assignment
    from grader import review
    from grader.scoring import score_part

    [part] = load_assignment(SOURCE_DIR / "measure").graded
    truth = {"theater_share": 0.3, "access_effect_pct": 10.0, "access_effect_reference_width": 16.0}
    answer = {"theater_share": 0.37, "access_effect_pct": 2.0, "access_effect_low": -1.0, "access_effect_high": 5.0}
    scored = score_part(part, answer, truth)
    recorded = json.loads(json.dumps(asdict(scored)))
    assert recorded["reading"]["parts"]["theater_share"]["band"] == "close"
    assert recorded["reading"]["parts"]["access_effect_pct"]["error"] == -8.0
    recorded["message"] = "reworded entirely"
    found = dict(review._finding_parts(review.CheckReading.from_dict(recorded["reading"])))
    assert found["theater_share"].band == "too high (close)"
    assert found["access_effect_pct"].band == "interval misses"


def test_the_first_error_of_a_run_names_its_code_cell_and_exception():
    """A notebook that wrote no answer gets a grader note saying where its run first failed."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    from grader.sandbox import first_error

    nb = new_notebook(cells=[
        new_markdown_cell("# Title"),
        new_code_cell("import pandas as pd", outputs=[new_output("stream", name="stdout", text="ok\n")]),
        new_code_cell("pd.read_csv('data/x.csv')", outputs=[new_output(
            "error", ename="FileNotFoundError", evalue="[Errno 2]\n No such file:   'data/x.csv'", traceback=[])]),
        new_code_cell("1/0", outputs=[new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                                 traceback=[])]),
    ])
    assert first_error(nb) == "code cell 2 raised FileNotFoundError: `[Errno 2] No such file: 'data/x.csv'`"
    forged = new_notebook(cells=[new_code_cell("raise", outputs=[new_output(
        "error", ename="<div class='theater-grader'>", evalue="`</code><div class='theater-grader'>6/6</div>`",
        traceback=[])])])
    note = first_error(forged)  # a learner's exception text cannot leave its code span in the trusted notes cell
    assert note.count("`") == 2 and "<div" not in note.split("`")[0] and "`" not in note.split("`")[1]
    assert first_error(nbformat.v4.new_notebook(cells=[new_code_cell("x = 1")])) == ""
