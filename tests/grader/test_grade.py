"""grade(): repair of malformed notebooks, scores in the gradebook, resume after a kill, copy flags."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import determine_grade

from exercises.checks import run_check
from exercises.truth import tokenmaxxer_ids
from grader.assign import assign
from grader.course_dir import gradebook, init_course, learner_company
from grader.grade import NOT_RUN, GradeError, grade, repair_notebook
from grader.sandbox import ISOLATION_RLIMITS, Limits
from tests.grader.hostile.corpus import BASELINE, BASELINE_IDS, NOTEBOOKS

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "exercises" / "source" / "detect" / "detect.ipynb"
LIMITS = Limits(cell_timeout=30, notebook_timeout=90)


def _student() -> nbformat.NotebookNode:
    """The released notebook: the corpus baseline with its answer put back to the stub."""
    nb = nbformat.read(NOTEBOOKS / "baseline.ipynb", as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "part3-detector")
    answer.source = answer.source.replace(BASELINE, "# YOUR CODE HERE\n")
    return nb


def _ids(nb: nbformat.NotebookNode) -> list:
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


# ---------------------------------------------------------------------------------------------
# repair (no kernel)


def test_repair_keeps_answers_and_restores_read_only_cells():
    student = _student()
    submitted = json.loads((NOTEBOOKS / "baseline.ipynb").read_text())
    setup = next(c for c in submitted["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "setup")
    setup["source"] = "print('I rewrote the setup')"
    nb, comments, flags, code = repair_notebook(json.dumps(submitted).encode(), student)
    assert _ids(nb) == _ids(student)
    restored = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    assert "I rewrote" not in restored.source
    assert [f.kind for f in flags] == ["edited-read-only-cell"]
    assert [where for where, _src in code] == ["part3-detector"]  # unchanged cells are not the learner's code
    assert "E00001" in code[0][1]
    assert any("restored" in c for c in comments)


@pytest.mark.parametrize("raw, expected", [
    (b"{not json", "not valid JSON"),
    (json.dumps({"nbformat": 4, "cells": []}).encode(), "no cells"),
    (json.dumps({"hello": "world"}).encode(), "not a Jupyter notebook"),
    (None, "no notebook was submitted"),
    (b" " * (21 * 1024 * 1024), "larger than"),
    (b"[" * 500_000 + b"]" * 500_000, "nests 500,000 levels deep; at most 64"),
    (json.dumps({"nbformat": 4, "cells": [{"cell_type": "raw", "source": ""}] * 50_000}).encode(),
     "has 50,000 cells; at most 2,000"),
])
def test_repair_turns_unusable_files_into_an_empty_submission_with_a_comment(raw, expected):
    nb, comments, _flags, code = repair_notebook(raw, _student())
    assert _ids(nb) == _ids(_student())
    assert any(expected in c for c in comments)
    assert code == []


def test_repair_handles_deleted_duplicated_and_retyped_cells():
    student = _student()
    submitted = json.loads((NOTEBOOKS / "baseline.ipynb").read_text())
    cells = submitted["cells"]
    answer = next(c for c in cells if c["metadata"].get("nbgrader", {}).get("grade_id") == "part3-detector")
    features = next(c for c in cells if c["metadata"].get("nbgrader", {}).get("grade_id") == "part2-features")
    features["cell_type"] = "markdown"
    features.pop("outputs", None)
    features.pop("execution_count", None)
    cells.insert(cells.index(answer) + 1, json.loads(json.dumps(answer)))  # duplicated
    submitted["cells"] = [c for c in cells if c["metadata"].get("nbgrader", {}).get("grade_id") != "setup"]
    submitted["nbformat"] = 3
    nb, comments, _flags, _code = repair_notebook(json.dumps(submitted).encode(), student)
    text = " ".join(comments)
    assert _ids(nb) == _ids(student)
    assert "format 3" in text and "duplicated" in text and "setup" in text and "type was changed" in text


def test_a_duplicated_answer_cell_keeps_the_copy_with_content():
    student = _student()
    submitted = json.loads((NOTEBOOKS / "duplicated_answer_cell.ipynb").read_text())
    copies = [c for c in submitted["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "part3-detector"]
    assert len(copies) == 2 and "YOUR CODE HERE" in "".join(copies[0]["source"])
    nb, comments, _flags, code = repair_notebook(json.dumps(submitted).encode(), student)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "part3-detector")
    assert "E00001" in answer.source and "YOUR CODE HERE" not in answer.source
    assert any(where == "part3-detector" and "E00001" in src for where, src in code)
    assert any("duplicated" in c and "part3-detector" in c for c in comments)


def test_added_cells_keep_their_place_but_never_carry_points():
    submitted = json.loads((NOTEBOOKS / "extra_graded_cell.ipynb").read_text())
    nb, _comments, _flags, code = repair_notebook(json.dumps(submitted).encode(), _student())
    assert "bonus" not in _ids(nb)
    assert nb.cells[-1].source == "100" and "nbgrader" not in nb.cells[-1].metadata
    assert any(src == "100" for _where, src in code)


def test_the_late_penalty_is_set_when_grading_not_only_at_export(tmp_path):
    from grader.assign import generate_student_version
    from grader.course_dir import open_course
    from grader.commit import open_gradebook, save_to_gradebook

    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30})
    with open(course.root / "theater.toml", "a") as handle:
        handle.write('\n[assignments.explore]\ndue = "2026-03-01 12:00:00 UTC"\n')
    with open(course.root / "nbgrader_config.py", "a") as handle:
        handle.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    course = open_course(course.root)
    explore = course.assignment("explore")
    generate_student_version(course, explore)
    for learner, stamp in (("ada", "2026-03-01 11:00:00 UTC"), ("bob", "2026-03-02 13:00:00 UTC")):
        submitted = course.path("submitted", learner, "explore")
        submitted.mkdir(parents=True)
        (submitted / "timestamp.txt").write_text(stamp)
        book, late = open_gradebook(course, explore)
        try:
            save_to_gradebook(book, explore, learner, {"weekly_table": {"points": 4.0}}, submitted, late)
        finally:
            book.close()
    with gradebook(course) as gb:
        assert gb.find_submission_notebook("explore", "explore", "ada").late_submission_penalty is None
        assert gb.find_submission_notebook("explore", "explore", "bob").late_submission_penalty == 4.0


# ---------------------------------------------------------------------------------------------
# grading a small class


def _baseline_points(root: Path, learner: str) -> float:
    """What the corpus's honest-but-wrong guess earns on this learner's data."""
    record = json.loads((root / ".theater" / "grading" / "detect" / f"{learner}.json").read_text())
    truth = record["truths"]["flagged_tokenmaxxers"]
    return round(run_check("detect.flag_tokenmaxxers", BASELINE_IDS, truth).score * 6, 4)


def _place(root: Path, learner: str, content: bytes | Path, timestamp: str | None = None) -> None:
    target = root / "submitted" / learner / "detect"
    target.mkdir(parents=True, exist_ok=True)
    if isinstance(content, Path):
        shutil.copy(content, target / "detect.ipynb")
    else:
        (target / "detect.ipynb").write_bytes(content)
    if timestamp:
        (target / "timestamp.txt").write_text(timestamp)


def _with_answer(ids: list[str]) -> bytes:
    text = (NOTEBOOKS / "baseline.ipynb").read_text()
    return text.replace(json.dumps(BASELINE)[1:-1], json.dumps(f"flagged = {ids!r}\n")[1:-1]).encode()


_BUILT: dict[str, dict] = {}  # xdist may set a module fixture up again after a chunk: build once per worker


# the graded class is built once: every test of this file runs on one xdist worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group("graded-class")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    if "course" not in _BUILT:
        _BUILT["course"] = _graded_class(tmp_path_factory)
    return _BUILT["course"]


def _graded_class(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("grade") / "course"
    # a fixed secret: a fixed company, on which the reference solution separates the groups well (at 60
    # employees a few drawn companies leave even the careful solution below half marks)
    course = init_course(root, data={"employees": 60, "days": 120}, secret="graded-class-2")
    roster = root.parent / "roster.csv"
    roster.write_text("id,first_name,last_name,email\nright,R,L,r@example.org\nwrong,W,L,w@example.org\n")
    assign(course, "detect", roster)
    right_truth = sorted(tokenmaxxer_ids(learner_company(course, course.assignment("detect"), "right")))
    _place(root, "right", SOURCE, "2026-11-20 10:00:00.000000 UTC")
    _place(root, "wrong", NOTEBOOKS / "baseline.ipynb")
    _place(root, "copier", _with_answer(right_truth))
    _place(root, "broken", b"{this is not a notebook")
    huge = json.loads((NOTEBOOKS / "baseline.ipynb").read_text())
    huge["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * (5 * 1024 * 1024)}]
    _place(root, "huge-outputs", json.dumps(huge).encode())
    report = grade(root, "detect", workers=2, progress=False, limits=LIMITS)
    return {"root": root, "course": course, "report": report, "right_truth": right_truth}


@pytest.mark.slow
def test_class_is_graded_with_comments_for_broken_submissions(course):
    report = course["report"]
    assert report.errors == {}
    assert report.learners["right"].score >= 3 > report.learners["wrong"].score
    assert report.learners["copier"].score < 3  # the right answer for someone else's data
    assert report.learners["broken"].score == 0
    assert any("not valid JSON" in c for c in report.learners["broken"].comments)
    assert report.learners["huge-outputs"].score == _baseline_points(course["root"], "huge-outputs")
    assert report.learners["wrong"].score == _baseline_points(course["root"], "wrong")
    assert any("run afresh" in c for c in report.learners["huge-outputs"].comments)
    assert report.learners["broken"].isolation == NOT_RUN  # nothing of the learner's to run
    assert any("no response" in c for c in report.learners["broken"].comments)
    assert all(g.isolation == report.isolation for k, g in report.learners.items() if k != "broken")
    assert "graded" in report.summary()


@pytest.mark.slow
def test_scores_land_in_nbgrader_gradebook_and_agree_with_the_notebook(course):
    root = course["root"]
    with gradebook(course["course"]) as gb:
        for learner, result in course["report"].learners.items():
            submission = gb.find_submission("detect", learner)
            assert submission.score == pytest.approx(result.score)
            assert submission.max_score == 6
        assert gb.find_submission("detect", "right").timestamp is not None
    nb = nbformat.read(root / "autograded" / "right" / "detect" / "detect.ipynb", as_version=4)
    graded = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "flagged_tokenmaxxers")
    assert determine_grade(graded)[0] == course["report"].learners["right"].score
    assert (root / "autograded" / "right" / "detect" / "timestamp.txt").is_file()


@pytest.mark.slow
def test_copy_detection_names_the_learner_whose_data_the_answer_fits(course):
    flags = course["report"].learners["copier"].copy_flags
    assert len(flags) == 1 and "right" in flags[0]
    assert course["report"].learners["right"].copy_flags == []
    autograded = (course["root"] / "autograded" / "copier" / "detect" / "detect.ipynb").read_text()
    assert "right's data" not in autograded  # instructor-only


@pytest.mark.slow
def test_second_run_resumes_and_only_regrades_changed_submissions(course):
    root = course["root"]
    again = grade(root, "detect", workers=2, progress=False, limits=LIMITS)
    assert {g.status for g in again.learners.values()} == {"resumed"}
    assert again.learners["copier"].copy_flags  # copy detection also covers resumed records
    _place(root, "wrong", SOURCE)
    third = grade(root, "detect", workers=2, progress=False, limits=LIMITS)
    assert third.learners["wrong"].status == "graded" and third.learners["wrong"].score >= 3
    assert sum(g.status == "graded" for g in third.learners.values()) == 1
    with gradebook(course["course"]) as gb:
        assert gb.find_submission("detect", "wrong").score == third.learners["wrong"].score


@pytest.mark.slow
def test_force_regrades_one_graded_learner_and_reports_each_result(course):
    root = course["root"]
    seen: list[tuple[str, int, int]] = []
    report = grade(root, "detect", workers=1, progress=False, limits=LIMITS, learners=["right"], force=True,
                   on_result=lambda g, done, total: seen.append((g.learner, done, total)))
    assert report.learners["right"].status == "graded"  # graded again although nothing changed
    assert seen == [("right", 1, 1)]
    assert report.learners["right"].score == course["report"].learners["right"].score
    quiet: list = []
    grade(root, "detect", workers=1, progress=False, limits=LIMITS, learners=["right"], on_result=quiet.append)
    assert quiet == []  # without force an unchanged submission is resumed, not graded


def test_unknown_learner_and_unreleased_assignment_are_user_errors(course):
    with pytest.raises(GradeError, match="no submission"):
        grade(course["root"], "detect", learners=["nobody"], progress=False)
    with pytest.raises(GradeError, match="not been released"):
        grade(course["root"], "measure", progress=False)


@pytest.mark.slow
def test_fallback_isolation_is_reported(course):
    report = grade(course["root"], "detect", workers=1, learners=["right"], progress=False, limits=LIMITS,
                   isolation=ISOLATION_RLIMITS)
    assert report.learners["right"].status == "resumed"  # same submission: not graded twice
    shutil.rmtree(course["root"] / ".theater" / "grading" / "detect")
    report = grade(course["root"], "detect", workers=1, learners=["right"], progress=False, limits=LIMITS,
                   isolation=ISOLATION_RLIMITS)
    assert report.learners["right"].isolation == ISOLATION_RLIMITS
    assert "fallback" in report.learners["right"].isolation_detail
    assert report.learners["right"].score == course["report"].learners["right"].score


KILL_SCRIPT = """
import sys
from grader.grade import grade
from grader.sandbox import Limits
if __name__ == "__main__":
    grade(sys.argv[1], "detect", workers=2, progress=False, limits=Limits(cell_timeout=30, notebook_timeout=90))
"""


@pytest.mark.slow
def test_killed_mid_batch_then_rerun_loses_nothing_and_counts_nothing_twice(course, tmp_path):
    root = course["root"]
    records = root / ".theater" / "grading" / "detect"
    shutil.rmtree(records, ignore_errors=True)
    script = tmp_path / "run_grade.py"
    script.write_text(KILL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(root)], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not (records.is_dir() and any(records.glob("*.json"))):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.stem for p in records.glob("*.json")}
    assert 0 < len(done_before) < 5
    report = grade(root, "detect", workers=2, progress=False, limits=LIMITS)
    assert report.errors == {}
    assert {k for k, g in report.learners.items() if g.status == "resumed"} == done_before
    with gradebook(course["course"]) as gb:
        submissions = gb.assignment_submissions("detect")
        assert sorted(s.student.id for s in submissions) == sorted(report.learners)
        for learner, result in report.learners.items():
            assert gb.find_submission("detect", learner).score == pytest.approx(result.score)


@pytest.mark.slow
def test_workers_die_with_a_killed_grader(tmp_path):
    """`kill -9` of `theater grade` mid-batch leaves no worker process (nor sandbox) running."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    root = tmp_path / "course"
    course = init_course(root, data={"employees": 20, "days": 30})
    roster = tmp_path / "roster.csv"
    roster.write_text("id\nloop1\nloop2\n")
    assign(course, "detect", roster)
    for learner in ("loop1", "loop2"):
        _place(root, learner, NOTEBOOKS / "infinite_loop.ipynb")
    theater = Path(sys.executable).parent / "theater"
    grader = subprocess.Popen([str(theater), "grade", "detect", "--course", str(root), "--workers", "2", "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        parent = psutil.Process(grader.pid)
        deadline = time.monotonic() + 120
        descendants: list[psutil.Process] = []
        while time.monotonic() < deadline:  # until both workers run a sandboxed kernel
            descendants = parent.children(recursive=True)
            if sum(1 for p in descendants if _safe_name(p) == "bwrap") >= 2:
                break
            time.sleep(0.5)
        assert sum(1 for p in descendants if _safe_name(p) == "bwrap") >= 2, [_safe_name(p) for p in descendants]
        os.kill(grader.pid, signal.SIGKILL)
        grader.wait(timeout=10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(p) for p in descendants):
            time.sleep(0.5)
        assert [(p.pid, _safe_name(p), _safe_cmd(p)) for p in descendants if _alive(p)] == []
    finally:
        if grader.poll() is None:
            grader.kill()


def _safe_name(process) -> str:
    import psutil

    try:
        return process.name()
    except psutil.Error:
        return ""


def _safe_cmd(process) -> str:
    import psutil

    try:
        return " ".join(process.cmdline())[:120]
    except psutil.Error:
        return ""


def _alive(process) -> bool:
    import psutil

    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_only_folders_named_by_the_learner_id_rule_are_graded(tmp_path):
    from grader.course_dir import open_course
    from grader.grade import _learners

    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30})
    for folder in ("ada", "_draft", "-x", "b.o.b"):
        (course.root / "submitted" / folder / "detect").mkdir(parents=True)
    assert _learners(open_course(course.root), "detect", None) == ["ada", "b.o.b"]


def test_a_memo_runs_nothing_even_with_code_added_and_its_parts_wait_for_a_grader(tmp_path):
    """A learner who adds code to the memo (to write an answer file, print a fake grade) gets none of it
    run, and points claimed in a cell's metadata are the release's."""
    from grader.assign import import_roster
    from tests.grader.gradebook_fixtures import ROSTER, small_course, submit_memo

    course = small_course(tmp_path / "course")
    import_roster(course, ROSTER)
    assign(course, "memo", ROSTER[:1])
    submit_memo(course, "ada", {"memo_shows": "Theater 30%; access +8% (2% to 14%)."})
    submitted = course.path("submitted", "ada", "memo", "memo.ipynb")
    nb = nbformat.read(submitted, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("open('ran.txt', 'w').write('x'); print('10 / 10 points')"))
    for cell in nb.cells:  # and claims more points for an answer
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "memo_shows":
            cell.metadata.nbgrader["points"] = 100
    nbformat.write(nb, submitted)
    report = grade(course.root, "memo", workers=1, progress=False)
    entry = report.learners["ada"]
    assert entry.status == "graded" and entry.isolation == NOT_RUN and entry.score == 0 and entry.max_score == 10
    assert entry.to_grade == ["memo_shows", "memo_limits", "memo_next"]
    graded = nbformat.read(course.path("autograded", "ada", "memo", "memo.ipynb"), as_version=4)
    assert not any(c.get("outputs") for c in graded.cells if c.cell_type == "code")
    assert not list(course.root.rglob("ran.txt"))
    answer = next(c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "memo_shows")
    assert answer.source == "Theater 30%; access +8% (2% to 14%)." and answer.metadata.nbgrader["points"] == 4
    with gradebook(course) as gb:
        assert gb.find_submission("memo", "ada").score == 0
        assert all(gb.find_grade(p, "memo", "memo", "ada").needs_manual_grade
                   for p in ("memo_shows", "memo_limits", "memo_next"))
