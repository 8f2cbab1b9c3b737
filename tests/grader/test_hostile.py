"""The hostile corpus graded in one batch with honest submissions: no attack pays, nothing leaks."""

from __future__ import annotations

import fcntl
import json
import pickle
import shutil
from pathlib import Path

import pytest

from exercises.checks import run_check
from grader.assign import assign
from grader.course_dir import gradebook, init_course, load_secret
from grader.grade import grade
from grader.sandbox import Limits
from tests.grader.hostile.corpus import BASELINE_IDS, NOTEBOOKS, all_names

SOURCE = Path(__file__).resolve().parents[2] / "exercises" / "source" / "detect" / "detect.ipynb"
# the looping notebooks stop at 10 s, the flooding one after 4 MB
LIMITS = Limits(cell_timeout=10, notebook_timeout=90, output_bytes=100_000, flood_bytes=4 * 1024**2)
EXPECTED_FLAGS = {
    "input_transformer": "ipython-hook",
    "ast_transformer": "ipython-hook",
    "pre_run_cell_peek": "ipython-hook",
    "monkeypatch_isclose": "monkeypatch",
    "monkeypatch_numpy_testing": "monkeypatch",
    "monkeypatch_builtins": "monkeypatch",
    "always_equal_answer": "always-equal",
    "read_course_files": "outside-folder",
    "write_outside": "outside-folder",
    "network": "network",
    "os_exit": "process-control",
    "tamper_points_and_grade_cell": "edited-read-only-cell",
}
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hostile")]  # one worker grades the batch; the other goes on


def _place(course_root: Path, learner: str, notebook: Path) -> None:
    target = course_root / "submitted" / learner / "detect"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(notebook, target / "detect.ipynb")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Graded once per test session, even when xdist spreads this module over several workers."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if base.name.startswith("popen-gw") else base
    stored = shared / "hostile-batch.pickle"
    with open(shared / "hostile-batch.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other workers wait for the first one's batch
        if stored.exists():
            return pickle.loads(stored.read_bytes())
        result = _grade_batch(tmp_path_factory)
        stored.write_bytes(pickle.dumps(result))
        return result


def _grade_batch(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("hostile") / "course"
    # a fixed secret: a fixed company, on which the reference solution separates the groups well (at 60
    # employees a few drawn companies leave even the careful solution below half marks)
    course = init_course(root, data={"employees": 60, "days": 120}, secret="graded-class-2")
    roster = root.parent / "roster.csv"
    roster.write_text("id,first_name,last_name,email\nhonest,H,L,h@example.org\nright,R,L,r@example.org\n")
    assign(course, "detect", roster)
    _place(root, "honest", NOTEBOOKS / "baseline.ipynb")
    _place(root, "right", SOURCE)
    before = grade(root, "detect", workers=2, progress=False, limits=LIMITS)
    for name in all_names():
        _place(root, name.replace("_", "-"), NOTEBOOKS / f"{name}.ipynb")
    shutil.rmtree(course.state_dir / "grading")  # the honest ones are graded again, beside the attacks
    after = grade(root, "detect", workers=2, progress=False, limits=LIMITS)
    return {"root": root, "course": course, "before": before, "after": after}


def _baseline_points(root: Path, learner: str) -> float:
    record = json.loads((root / ".theater" / "grading" / "detect" / f"{learner}.json").read_text())
    truth = record["truths"]["flagged_tokenmaxxers"]
    return round(run_check("detect.flag_tokenmaxxers", BASELINE_IDS, truth).score * 6, 4)


def test_the_batch_completes_and_every_submission_is_graded(batch):
    report = batch["after"]
    assert set(report.learners) == {"honest", "right"} | {n.replace("_", "-") for n in all_names()}
    assert report.errors == {}
    assert all(g.isolation for g in report.learners.values())
    assert report.learners["right"].score >= 3  # the reference solution, graded beside the attacks


def test_no_attack_scores_more_than_the_honest_wrong_answer(batch):
    report = batch["after"]
    for name in all_names():
        learner = name.replace("_", "-")
        assert report.learners[learner].score <= _baseline_points(batch["root"], learner) + 1e-9, name


def test_the_gradebook_holds_exactly_the_reported_scores(batch):
    with gradebook(batch["course"]) as gb:
        for learner, result in batch["after"].learners.items():
            assert gb.find_submission("detect", learner).score == pytest.approx(result.score), learner


def test_honest_grades_do_not_change_when_graded_beside_attacks(batch):
    for learner in ("honest", "right"):
        assert batch["after"].learners[learner].score == batch["before"].learners[learner].score
    assert batch["after"].learners["honest"].score == _baseline_points(batch["root"], "honest")


def test_nothing_secret_reaches_any_output_or_feedback(batch):
    from grader.feedback import feedback

    root = batch["root"]
    feedback(batch["course"], "detect")
    secret = load_secret(batch["course"])
    source = json.loads(SOURCE.read_text())
    hidden = []
    for cell in source["cells"]:
        text = "".join(cell["source"])
        if "BEGIN HIDDEN TESTS" in text:
            region = text.split("BEGIN HIDDEN TESTS", 1)[1].split("END HIDDEN TESTS", 1)[0]
            hidden += [line.strip() for line in region.splitlines() if len(line.strip()) > 12]
    assert hidden, "the source notebook should have hidden tests to protect"
    files = list((root / "autograded").rglob("*")) + list((root / "feedback").rglob("*"))
    assert any(f.suffix == ".html" for f in files)
    for path in files:
        if path.is_file():
            text = path.read_text(errors="replace")
            assert secret not in text, path
            for line in hidden:
                assert line not in text, (path, line)


def test_attacks_leave_the_course_and_system_untouched(batch):
    root = batch["root"]
    assert not Path("/usr/pwned").exists() and not Path("/etc/pwned").exists()
    assert not list(root.rglob("pwned"))
    assert (root / "source" / "detect" / "detect.ipynb").is_file()
    assert (root / "outbound" / "honest" / "detect" / "data").is_dir()
    assert "pwned" not in (root / "gradebook.db").read_bytes().decode("latin-1")


def test_tampering_is_flagged_for_the_instructor(batch):
    report = batch["after"]
    for name, kind in EXPECTED_FLAGS.items():
        flags = report.learners[name.replace("_", "-")].integrity_flags
        assert any(flag.startswith(kind) for flag in flags), (name, flags)
    assert report.learners["honest"].integrity_flags == []


def _record(root: Path, learner: str) -> dict:
    return json.loads((root / ".theater" / "grading" / "detect" / f"{learner}.json").read_text())


def _outputs(root: Path, learner: str) -> str:
    nb = json.loads((root / "autograded" / learner / "detect" / "detect.ipynb").read_text())
    texts = [o.get("text", "") for c in nb["cells"] for o in c.get("outputs", [])]
    return "\n".join("".join(t) if isinstance(t, list) else str(t) for t in texts)


def test_a_duplicated_answer_cell_is_graded_from_the_copy_with_the_answer(batch):
    report = batch["after"]
    assert report.learners["duplicated-answer-cell"].score == _baseline_points(batch["root"], "duplicated-answer-cell")
    assert any("duplicated" in c for c in report.learners["duplicated-answer-cell"].comments)


def test_an_output_flood_is_stopped_with_a_note_not_left_to_its_time_limit(batch):
    grade = batch["after"].learners["output-flood"]
    assert any("execution stopped: the notebook printed more than 4 MB" in c for c in grade.comments), grade.comments
    assert not any("time limit" in c for c in grade.comments), grade.comments


def test_deeply_nested_answers_are_refused_with_a_message(batch):
    part = _record(batch["root"], "deeply-nested-answers")["parts"]["flagged_tokenmaxxers"]
    assert part["points"] == 0 and "nests lists or objects 100,000 deep; at most 32" in part["message"]


def test_filling_the_connection_folder_is_stopped_by_the_folder_guard(batch):
    grade = batch["after"].learners["connection-folder-fill"]
    assert any("working folder exceeded" in c for c in grade.comments), grade.comments
    assert "/theater-kernel-" not in _outputs(batch["root"], "connection-folder-fill")


def test_no_user_namespace_can_be_created_in_the_sandbox(batch):
    lines = [line for line in _outputs(batch["root"], "nested-userns").splitlines() if line.startswith("USERNS")]
    assert len(lines) == 3 and all(" exit 0 " not in line + " " for line in lines), lines


def test_learner_html_reaches_feedback_only_as_text(batch):
    from grader.feedback import feedback
    from tests.grader.test_feedback import _Page

    feedback(batch["course"], "detect", learners=["html-injection"])
    html = (batch["root"] / "feedback" / "html-injection" / "detect" / "detect.html").read_text()
    body = html[html.index("<body"):].lower()
    assert "<script" not in body and "<iframe" not in body
    page = _Page()
    page.feed(html)
    for tag, attributes in page.elements:
        assert not any(name.lower().startswith("on") for name in attributes), (tag, attributes)
        assert not str(attributes.get("href", "")).lower().startswith("javascript:")
    forged = [classes for text, classes in page.texts if "outside your notebook: 6 / 6 points" in text]
    assert forged and all("theater-learner" in classes and "theater-grader" not in classes for classes in forged)
    ours = "".join(text for text, classes in page.texts if "theater-grader" in classes)
    assert "Scored by the grader, outside your notebook:" in ours and "6 / 6" not in ours


def test_a_very_wide_answers_csv_is_refused_quickly_with_a_message(tmp_path):
    """`explore` reads a CSV: the reported 19 MB, 2.3-million-column file, written by a graded notebook."""
    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30})
    roster = tmp_path / "roster.csv"
    roster.write_text("id\nwide\n")
    assign(course, "explore", roster)
    nb = json.loads((course.root / "release" / "explore" / "explore.ipynb").read_text())
    answer = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "part3-weekly")
    answer["source"] = ("with open(ANSWERS / 'weekly.csv', 'w') as handle:\n"
                        "    handle.write('col,' * 2_299_999 + 'col\\n' + '1.0,' * 2_299_999 + '1.0\\n')\n")
    target = course.root / "submitted" / "wide" / "explore"
    target.mkdir(parents=True)
    (target / "explore.ipynb").write_text(json.dumps(nb))
    report = grade(course.root, "explore", workers=1, progress=False, limits=LIMITS)
    result = report.learners["wide"]
    assert result.status == "graded" and result.score == 0
    record = json.loads((course.state_dir / "grading" / "explore" / "wide.json").read_text())
    assert record["parts"]["weekly_table"]["message"] == \
        "Not scored: answers/weekly.csv is 17.5 MB; the grader reads at most 5.0 MB."
