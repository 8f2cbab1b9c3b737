"""assignment.yaml parsing, the source notebooks' nbgrader structure, and defensive artifact reading."""

from __future__ import annotations

import errno
import json
import os
import re

import nbformat
import pandas as pd
import pytest
from nbgrader.nbgraderformat import MetadataValidator

from exercises.assignments import (
    SOURCE_DIR,
    AssignmentError,
    GradedPart,
    GraderReadError,
    list_assignments,
    load_assignment,
    read_artifact,
    score_parts,
    validate_notebook,
)
from exercises.checks import ESTIMATE_RULES, Tolerance, run_check
from benchmarks.reference_method import notebook_estimate

ASSIGNMENTS = list_assignments()
# notebooks whose points the autograder scores (the memo's answers are read by a person instead)
AUTOGRADED = [name for name in ASSIGNMENTS if load_assignment(SOURCE_DIR / name).graded]
GOOD_YAML = """\
title: T
notebook: t.ipynb
graded:
  - {grade_id: g, artifact: answers/x.json, reader: json_set, check: detect.flag_tokenmaxxers, truth: tokenmaxxer_ids, points: 2}
"""


MEASURE_YAML = """\
title: M
notebook: m.ipynb
graded:
  - {grade_id: f, artifact: answers/e.json, reader: json_object, check: measure.finding, points: 8, tolerance: TOL}
"""


def test_the_four_assignments_exist():
    assert set(ASSIGNMENTS) >= {"explore", "detect", "measure", "memo"}
    assert set(AUTOGRADED) >= {"explore", "detect", "measure"} and "memo" not in AUTOGRADED


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_source_assignment_is_valid_and_its_grade_cells_match(name):
    assignment = load_assignment(SOURCE_DIR / name)
    validate_notebook(assignment)
    assert assignment.title and assignment.max_score > 0


def _cells(name):
    assignment = load_assignment(SOURCE_DIR / name)
    nb = nbformat.read(assignment.notebook_path, as_version=4)
    MetadataValidator().validate_nb(nb)
    return nb.cells


@pytest.mark.parametrize("name", AUTOGRADED)
def test_notebook_follows_nbgrader_conventions(name):
    cells = _cells(name)
    metas = [c.metadata.get("nbgrader", {}) for c in cells]
    ids = [m["grade_id"] for m in metas if m]
    assert len(ids) == len(set(ids))
    setup = [c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"]
    assert setup and setup[0].metadata.nbgrader["locked"], "the data-loading cell is read-only"
    for cell in cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            assert cell.source.count("### BEGIN SOLUTION") == cell.source.count("### END SOLUTION") == 1
        if meta.get("grade"):
            assert meta["points"] > 0 and meta["locked"]
            assert "### BEGIN HIDDEN TESTS" in cell.source and "### END HIDDEN TESTS" in cell.source
            public = cell.source.split("### BEGIN HIDDEN TESTS")[0]
            assert "assert" in public, "each graded cell has visible (formative) checks"


@pytest.mark.parametrize("name", AUTOGRADED)
def test_notebook_fades_from_worked_to_partly_filled_to_blank_with_a_skip_path(name):
    cells = _cells(name)
    intro = cells[0].source
    assert "Skip path" in intro and "graded" in intro.lower()
    worked = [c for c in cells if "worked" in c.metadata.get("nbgrader", {}).get("grade_id", "")]
    solutions = [c for c in cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert worked, "a worked example"
    partly = [c for c in solutions if not c.source.lstrip().startswith("### BEGIN SOLUTION")]
    blank = [c for c in solutions if c.source.lstrip().startswith("### BEGIN SOLUTION")]
    assert partly and blank
    assert cells.index(worked[0]) < cells.index(partly[0]) < cells.index(blank[-1])


@pytest.mark.parametrize("name", AUTOGRADED)
def test_public_tests_check_shape_not_values(name):
    """Visible tests must not give the answer away: no literal expected scores or ids."""
    for cell in _cells(name):
        if cell.metadata.get("nbgrader", {}).get("grade"):
            public = cell.source.split("### BEGIN HIDDEN TESTS")[0]
            assert not re.search(r"[\[{(,]\s*['\"]E\d{5}", public), "no literal collection of ids"
            assert not re.search(r"==\s*-?\d+\.\d", public), "no comparison with a literal expected number"


def _write(tmp_path, text, notebook=True):
    folder = tmp_path / "myassign"
    folder.mkdir(exist_ok=True)
    (folder / "assignment.yaml").write_text(text)
    return folder


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("title: [unclosed", "invalid YAML"),
        ("- a list", "mapping at the top level"),
        ("title: T\nnotebook: t.ipynb\n", "missing required field 'graded'"),
        (GOOD_YAML.replace("detect.flag_tokenmaxxers", "detect.nope"), "unknown check 'detect.nope'"),
        (GOOD_YAML.replace("tokenmaxxer_ids", "secret_ids"), "unknown truth function"),
        (GOOD_YAML.replace("tokenmaxxer_ids", "convert_ids"),
         "the check detect.flag_tokenmaxxers scores against the truth 'tokenmaxxer_ids', not 'convert_ids'"),
        (GOOD_YAML.replace("answers/x.json", "../../x.json"), "relative path inside"),
        (GOOD_YAML.replace("answers/x.json", "/etc/passwd"), "relative path inside"),
        (GOOD_YAML.replace("json_set", "pickle"), "field 'graded[0].reader': unknown reader 'pickle' (known: json_set"),
        (GOOD_YAML.replace("points: 2", "points: 0"), "field 'graded[0].points': must be greater than 0, not 0"),
        (GOOD_YAML.replace("points: 2", "points: .nan"), "field 'graded[0].points': must be a finite number"),
        (GOOD_YAML.replace("points: 2", "points: true"), "field 'graded[0].points': must not be true"),
        (GOOD_YAML.replace("t.ipynb", "t.py"), "ending in .ipynb"),
        (GOOD_YAML + "data: {employees: -3}\n", "data.employees"),
        (GOOD_YAML + "data: {format: xlsx}\n", "data.format"),
        (GOOD_YAML.replace("points: 2}", "points: 2, tolerance: {full_within: 1, zero_at: 2}}"),
         "the check detect.flag_tokenmaxxers has no tolerance to override"),
        (MEASURE_YAML.replace("TOL", "{theater_share: {full_within: 0.2, zero_at: 0.1}}"),
         "must be larger than full_within"),
        (MEASURE_YAML.replace("TOL", "{share: {full_within: 0.01, zero_at: 0.02}}"),
         "the check measure.finding has a tolerance for theater_share only"),
        (MEASURE_YAML.replace("TOL", "{access_effect_pct: {full_within: 5, zero_at: 9}}"),
         "the check measure.finding has a tolerance for theater_share only"),  # the interval has none
        (MEASURE_YAML.replace("TOL", "{theater_share: {full_within: -1, zero_at: 0.1}}"), "full_within"),
        (MEASURE_YAML.replace("TOL", "{theater_share: {full_within: .nan, zero_at: 0.1}}"), "full_within"),
    ],
)
def test_bad_assignment_yaml_names_the_file_and_the_problem(tmp_path, text, problem):
    folder = _write(tmp_path, text)
    with pytest.raises(AssignmentError) as info:
        load_assignment(folder)
    assert problem in str(info.value)
    assert str(folder / "assignment.yaml") in str(info.value)


def test_a_part_without_truth_takes_the_one_its_check_is_registered_with(tmp_path):
    folder = _write(tmp_path, GOOD_YAML.replace(", truth: tokenmaxxer_ids", ""))
    assert "truth" not in (folder / "assignment.yaml").read_text()
    assert load_assignment(folder).graded[0].truth == "tokenmaxxer_ids"


def test_notebook_whose_points_disagree_with_the_yaml_is_refused(tmp_path):
    folder = _write(tmp_path, GOOD_YAML)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("# a graded test cell")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": "g",
                                 "points": 3, "schema_version": 3}
    nb.cells = [cell]
    nbformat.write(nb, folder / "t.ipynb")
    with pytest.raises(AssignmentError, match="3 points"):
        validate_notebook(load_assignment(folder))


def test_extra_grade_cells_are_refused_because_their_points_would_come_from_the_kernel(tmp_path):
    folder = _write(tmp_path, GOOD_YAML)
    nb = nbformat.v4.new_notebook()
    for grade_id, points in (("g", 2), ("sneaky", 5)):
        cell = nbformat.v4.new_code_cell("pass")
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": grade_id,
                                     "points": points, "schema_version": 3}
        nb.cells.append(cell)
    nbformat.write(nb, folder / "t.ipynb")
    with pytest.raises(AssignmentError, match="sneaky"):
        validate_notebook(load_assignment(folder))


RUBRIC_YAML = """\
title: Memo
notebook: t.ipynb
graded:
  - grade_id: q
    kind: rubric
    points: 3
    question: What the data shows
    rubric:
      - {points: 3, descriptor: Both numbers with their intervals.}
      - {points: 1, descriptor: One number.}
      - {points: 0, descriptor: No number.}
"""


def test_a_rubric_part_is_graded_by_a_person_and_counts_in_the_maximum(tmp_path):
    assignment = load_assignment(_write(tmp_path, RUBRIC_YAML))
    assert assignment.graded == () and [p.grade_id for p in assignment.rubric] == ["q"]
    part = assignment.rubric_part("q")
    assert [level.points for level in part.rubric] == [3.0, 1.0, 0.0]
    assert part.level(1.0).descriptor == "One number." and part.level(2.0) is None
    assert assignment.max_score == 3.0 and assignment.part_points == {"q": 3.0}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("{points: 3, descriptor: Both", "{points: 2, descriptor: Both"), "top rubric level of q gives 2 points"),
        (("{points: 1, descriptor: One", "{points: 0, descriptor: One"), "two rubric levels of q give the same"),
        (("{points: 0, descriptor: No number.}", "{points: 0.5, descriptor: No number.}"), "a level worth 0"),
        (("descriptor: One number.", "descriptor: ''"), "descriptor"),
        (("    question: What the data shows\n", ""), "question"),
        (("      - {points: 1, descriptor: One number.}\n      - {points: 0, descriptor: No number.}\n", ""),
         "at least 2"),
        (("kind: rubric", "kind: essay"), "graded"),
        (("points: 3, descriptor", "points: -3, descriptor"), "greater than or equal to 0"),
    ],
)
def test_a_bad_rubric_is_refused_in_one_message_naming_the_file(tmp_path, change, problem):
    folder = _write(tmp_path, RUBRIC_YAML.replace(*change))
    with pytest.raises(AssignmentError) as info:
        load_assignment(folder)
    assert problem in str(info.value) and str(folder / "assignment.yaml") in str(info.value)
    assert "\n" not in str(info.value).strip()


def test_a_rubric_part_needs_a_manually_graded_markdown_cell(tmp_path):
    folder = _write(tmp_path, RUBRIC_YAML)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("answer = 1")  # a code cell cannot hold a written answer
    cell.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": False, "grade_id": "q",
                                 "points": 3, "schema_version": 3}
    nb.cells = [cell]
    nbformat.write(nb, folder / "t.ipynb")
    with pytest.raises(AssignmentError, match="manually graded markdown answer cell with grade_id 'q'"):
        validate_notebook(load_assignment(folder))
    nb.cells = [nbformat.v4.new_markdown_cell("My memo."), ]
    nb.cells[0].metadata["nbgrader"] = {**cell.metadata["nbgrader"]}
    nbformat.write(nb, folder / "t.ipynb")
    validate_notebook(load_assignment(folder))


def test_the_memo_asks_one_rubric_question_per_answer_cell_after_a_read_only_prompt():
    assignment = load_assignment(SOURCE_DIR / "memo")
    assert not assignment.graded and assignment.max_score == 10
    cells = _cells("memo")
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in cells]
    for part in assignment.rubric:
        answer = cells[ids.index(part.grade_id)]
        prompt = cells[ids.index(part.grade_id) - 1]
        assert answer.cell_type == "markdown" and not answer.metadata.nbgrader["locked"]
        assert prompt.metadata.nbgrader["locked"] and part.question in prompt.source
        assert f"({part.points:g} points)" in prompt.source
        assert 40 <= len(answer.source.split()) <= 150, "the reference answer is a short paragraph"
    assert "graded" in cells[0].source.lower() and "rubric" in cells[0].source


def _part(reader, artifact="answers/a.json", key=None):
    return GradedPart("g", artifact, reader, "detect.flag_tokenmaxxers", "tokenmaxxer_ids", 1.0, key)


def test_artifacts_are_read_by_kind(tmp_path):
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "a.json").write_text(json.dumps(["E00001", "E00002"]))
    assert read_artifact(tmp_path, _part("json_set")) == ["E00001", "E00002"]
    (answers / "e.json").write_text(json.dumps({"theater_share": 0.3, "other": "x"}))
    assert read_artifact(tmp_path, _part("json_number", "answers/e.json", "theater_share")) == 0.3
    assert read_artifact(tmp_path, _part("json_number", "answers/e.json", "other")) is None
    assert read_artifact(tmp_path, _part("json_object", "answers/e.json"))["other"] == "x"
    pd.DataFrame({"week": ["2026-01-05"], "team": ["A"]}).to_csv(answers / "w.csv", index=False)
    assert list(read_artifact(tmp_path, _part("csv_frame", "answers/w.csv")).columns) == ["week", "team"]


@pytest.mark.parametrize(
    "content", [b"", b"{not json", b"\xff\xfe\x00garbage", b"NaN", b'"a string"', b"[1, 2", b"1e999"]
)
def test_malformed_artifacts_read_as_not_attempted(tmp_path, content):
    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / "a.json").write_bytes(content)
    for reader in ("json_set", "json_number", "json_object", "csv_frame"):
        value = read_artifact(tmp_path, _part(reader))
        assert value is None or reader == "csv_frame"


def test_missing_artifact_is_none(tmp_path):
    assert read_artifact(tmp_path, _part("json_set")) is None


def test_artifact_symlinked_outside_the_folder_is_not_followed(tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps(["E00001"]))
    folder = tmp_path / "sub"
    (folder / "answers").mkdir(parents=True)
    (folder / "answers" / "a.json").symlink_to(secret)
    assert read_artifact(folder, _part("json_set")) is None


# A read the grading machine fails (out of file handles, an I/O error ...) is its problem, never the
# learner's missing answer; what the learner's own folder does to a read still is.


def _answer(tmp_path, content: bytes = b'["E00001"]'):
    (tmp_path / "answers").mkdir(exist_ok=True)
    (tmp_path / "answers" / "a.json").write_bytes(content)


def _failing_open(code: int):
    def fake_open(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return fake_open


@pytest.mark.parametrize("code", [errno.EMFILE, errno.ENFILE, errno.EIO, errno.ENOMEM, errno.EACCES])
def test_a_read_the_grading_machine_fails_is_a_grader_problem_not_a_missing_answer(tmp_path, monkeypatch, code):
    import exercises.assignments

    _answer(tmp_path)  # readable by its owner: an EACCES here is not the learner's doing
    monkeypatch.setattr(exercises.assignments, "open", _failing_open(code), raising=False)
    name = errno.errorcode[code]
    with pytest.raises(GraderReadError, match=rf"could not read answers/a.json \({name}: .*grading machine"):
        read_artifact(tmp_path, _part("json_set"))


def test_a_stat_the_grading_machine_fails_is_a_grader_problem(tmp_path, monkeypatch):
    _answer(tmp_path)
    real_lstat = os.lstat

    def failing_lstat(path, *args, **kwargs):
        if str(path).endswith("a.json"):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", failing_lstat)
    with pytest.raises(GraderReadError, match="EIO"):
        read_artifact(tmp_path, _part("json_set"))


def test_the_learners_malformed_or_absent_answer_is_still_missing(tmp_path, monkeypatch):
    import exercises.assignments

    _answer(tmp_path, b"{not json")
    assert read_artifact(tmp_path, _part("json_set")) is None
    (tmp_path / "answers" / "a.json").unlink()
    (tmp_path / "answers" / "a.json").mkdir()  # a folder where the file should be
    assert read_artifact(tmp_path, _part("json_set")) is None
    monkeypatch.setattr(exercises.assignments, "open", _failing_open(errno.EMFILE), raising=False)
    assert read_artifact(tmp_path / "nowhere", _part("json_set")) is None, "no file: nothing is opened"


@pytest.mark.parametrize("locked", ["answers/a.json", "answers", "."])
def test_an_answer_the_learners_code_made_unreadable_is_theirs_not_a_grader_problem(tmp_path, monkeypatch, locked):
    """A learner cannot dodge a 0 by chmod-ing their answer away: that reads as missing, not as a retry.
    (The grader may run as root, which reads any mode: the refusal a non-root grader gets is made here.)"""
    import exercises.assignments

    _answer(tmp_path)
    target = tmp_path / locked
    target.chmod(0)
    monkeypatch.setattr(exercises.assignments, "open", _failing_open(errno.EACCES), raising=False)
    try:
        assert read_artifact(tmp_path, _part("json_set")) is None
    finally:
        target.chmod(0o700)


def test_an_answers_folder_symlinked_to_a_locked_folder_is_the_learners_too(tmp_path, monkeypatch):
    import exercises.assignments

    real = tmp_path / "real"
    real.mkdir()
    (real / "a.json").write_bytes(b'["E00001"]')
    (tmp_path / "answers").symlink_to(real)
    real.chmod(0)
    monkeypatch.setattr(exercises.assignments, "open", _failing_open(errno.EACCES), raising=False)
    try:
        assert read_artifact(tmp_path, _part("json_set")) is None
    finally:
        real.chmod(0o700)


def test_a_permission_error_the_learner_did_not_cause_is_the_machines(tmp_path, monkeypatch):
    """Everything readable by its owner, yet refused (another user's scratch, a security module)."""
    import exercises.assignments

    _answer(tmp_path)
    monkeypatch.setattr(exercises.assignments, "open", _failing_open(errno.EPERM), raising=False)
    with pytest.raises(GraderReadError, match="EPERM"):
        read_artifact(tmp_path, _part("json_set"))


@pytest.fixture(scope="module")
def piloted_company():
    """A small generated company with its pilot, labels and truths (the tiny fixture has no pilot)."""
    from datasets import api

    return api.generate_company(profile="mandate-bigco", employees=60, days=120, seed=20261207)


def _reference_answer(company, share_off: float = 0.0) -> dict:
    from exercises.truth import theater_share

    ref = notebook_estimate(company)
    return {"theater_share": theater_share(company) + share_off, "access_effect_pct": ref.value,
            "access_effect_low": ref.low, "access_effect_high": ref.high}


def test_score_parts_scores_each_graded_part_against_its_truth(piloted_company, tmp_path):
    measure = load_assignment(SOURCE_DIR / "measure")
    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / "estimates.json").write_text(json.dumps(_reference_answer(piloted_company, 0.03)))
    results = score_parts(measure, tmp_path, piloted_company)
    # the share within its tolerance, the reference interval on its own company: the whole finding
    assert results["measure_finding"].score == pytest.approx(1.0), results["measure_finding"].message
    assert "within the tolerance" in results["measure_finding"].message
    assert "covers the true effect" in results["measure_finding"].message


def test_a_graded_parts_tolerance_overrides_the_checks_default(piloted_company, tmp_path):
    """The same answer earns nothing on measure's shipped tolerance and full credit where an
    instructor's assignment.yaml widens the share's tolerance."""
    answer = _reference_answer(piloted_company, 0.2)   # the share 0.2 off
    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / "estimates.json").write_text(json.dumps(answer))
    shipped = score_parts(load_assignment(SOURCE_DIR / "measure"), tmp_path, piloted_company)["measure_finding"]
    assert shipped.score == 0.0
    (tmp_path / "course").mkdir()
    folder = _write(tmp_path / "course", MEASURE_YAML.replace(
        "TOL", "{theater_share: {full_within: 0.25, zero_at: 0.4}}"))
    widened = load_assignment(folder)
    [part] = widened.graded
    assert part.tolerances["theater_share"].full_within == 0.25
    (folder / "answers").mkdir()
    (folder / "answers" / "e.json").write_text(json.dumps(answer))
    result = score_parts(widened, folder, piloted_company)["f"]
    assert result.score == 1.0 and result.reading.parts["theater_share"].full_within == 0.25


def test_a_single_number_check_takes_its_tolerance_without_naming_the_number(tmp_path):
    folder = _write(tmp_path, """\
title: S
notebook: s.ipynb
graded:
  - {grade_id: s, artifact: answers/s.json, reader: json_number, check: measure.theater_share, points: 2,
     tolerance: {full_within: 0.2, zero_at: 0.3}}
""")
    [part] = load_assignment(folder).graded
    assert part.tolerances == {"theater_share": Tolerance(0.2, 0.3)}
    assert run_check(part.check, 0.45, 0.3, tolerance=part.tolerances).score == 1.0
    assert run_check(part.check, 0.45, 0.3).score == 0.0
