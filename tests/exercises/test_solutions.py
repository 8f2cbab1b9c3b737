"""The reference solutions earn full marks through our own scoring; untouched student versions earn nothing.

Each notebook runs in a real Jupyter kernel on a learner-sized company written as plain CSV files,
exactly as a learner receives it (no labels, no seed), and its artifacts are scored outside the
kernel against the labels, as the grader does.
"""

from __future__ import annotations

import shutil

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

from datasets.api import generate_company, write_company
from exercises.assignments import SOURCE_DIR, DataSpec, list_assignments, load_assignment, score_parts
from exercises.checks import NOT_ATTEMPTED, run_check
from exercises.truth import tokenmaxxer_ids

pytestmark = pytest.mark.slow

# One company on which every reference solution earns full marks. The reference does not on every
# drawn company: `measure`'s share is off by more than its tolerance on a few percent of them (and
# the effect on a few more), which benchmarks/guessing.py and tests/exercises/test_guessing.py measure.
SEED = 20261126
# notebooks the autograder scores; the memo's written answers are graded by a person (grader.rubric)
AUTOGRADED = [name for name in list_assignments() if load_assignment(SOURCE_DIR / name).graded]


@pytest.fixture(scope="module")
def company():
    return generate_company("mandate-bigco", employees=DataSpec().employees, days=DataSpec().days, seed=SEED)


@pytest.fixture(scope="module")
def released_data(company, tmp_path_factory):
    folder = tmp_path_factory.mktemp("release") / "data"
    write_company(company, folder, fmt="csv", with_labels=False)
    return folder


def _run(notebook, folder):
    client = NotebookClient(notebook, timeout=180, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(folder)}})
    client.execute()
    return [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


def _workspace(tmp_path, released_data, name):
    folder = tmp_path / name
    folder.mkdir()
    shutil.copytree(released_data, folder / "data")
    assert not list((folder / "data").glob("*labels*")), "a release never holds labels"
    return folder


@pytest.mark.parametrize("name", AUTOGRADED)
def test_reference_solution_scores_full_marks(name, company, released_data, tmp_path):
    assignment = load_assignment(SOURCE_DIR / name)
    folder = _workspace(tmp_path, released_data, name)
    notebook = nbformat.read(assignment.notebook_path, as_version=4)
    errors = _run(notebook, folder)
    assert not errors, [f"{e['ename']}: {e['evalue']}" for e in errors]
    results = score_parts(assignment, folder, company)
    assert {k: r.score for k, r in results.items()} == {p.grade_id: 1.0 for p in assignment.graded}, results


@pytest.mark.parametrize("name", AUTOGRADED)
def test_untouched_student_version_earns_nothing(name, company, released_data, tmp_path):
    assignment = load_assignment(SOURCE_DIR / name)
    folder = _workspace(tmp_path, released_data, name)
    notebook = nbformat.read(assignment.notebook_path, as_version=4)
    resources = {"language": "python"}
    ClearSolutions(code_stub={"python": "# YOUR CODE HERE"}).preprocess(notebook, resources)
    ClearHiddenTests().preprocess(notebook, resources)
    source = "\n".join(c.source for c in notebook.cells)
    assert "BEGIN SOLUTION" not in source and "HIDDEN TESTS" not in source
    _run(notebook, folder)
    results = score_parts(assignment, folder, company)
    assert all(r.score < 1.0 for r in results.values())
    assert any(r.status == NOT_ATTEMPTED for r in results.values())


def test_the_memo_runs_beside_the_measure_answers_and_its_student_version_leaves_every_answer_blank(tmp_path):
    """The memo's one code cell shows the learner's own measure numbers; its answers are blank stubs."""
    from exercises.student_version import TEXT_STUB, student_version

    assignment = load_assignment(SOURCE_DIR / "memo")
    folder = tmp_path / "memo"
    folder.mkdir()
    (tmp_path / "measure" / "answers").mkdir(parents=True)
    (tmp_path / "measure" / "answers" / "estimates.json").write_text('{"theater_share": 0.31}')
    released = student_version(nbformat.read(assignment.notebook_path, as_version=4))
    assert not _run(released, folder)
    printed = "".join(o.get("text", "") for c in released.cells for o in c.get("outputs", []))
    assert '"theater_share": 0.31' in printed
    answers = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert [c.metadata.nbgrader.grade_id for c in answers] == [p.grade_id for p in assignment.rubric]
    assert all(c.source == TEXT_STUB for c in answers)


def test_flagging_the_heaviest_token_users_earns_little(company):
    """The lesson, as a grade: the usage dashboard's favourites are not the tokenmaxxers."""
    events = company.ai_events
    tokens = (events["tokens_in"] + events["tokens_out"]).groupby(events["employee_id"]).sum()
    truth = tokenmaxxer_ids(company)
    top = tokens.sort_values(ascending=False).index[: len(truth)]
    assert run_check("detect.flag_tokenmaxxers", list(top), truth).score < 0.5


def test_a_half_finished_measure_notebook_earns_nothing_and_is_told_what_is_missing(company, released_data, tmp_path):
    """The share and the interval are one finding: a share without an effect tells the board nothing it can act on."""
    assignment = load_assignment(SOURCE_DIR / "measure")
    folder = _workspace(tmp_path, released_data, "measure")
    notebook = nbformat.read(assignment.notebook_path, as_version=4)
    effect_cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "part2-effect")
    effect_cell.source = effect_cell.source.split("### BEGIN SOLUTION")[0] + "# YOUR CODE HERE"
    _run(notebook, folder)
    results = score_parts(assignment, folder, company)
    assert results["measure_finding"].score == 0.0
    assert "missing: access_effect_pct" in results["measure_finding"].message


def test_notebooks_read_parquet_releases_too(company, tmp_path):
    assignment = load_assignment(SOURCE_DIR / "explore")
    folder = tmp_path / "parquet"
    folder.mkdir()
    write_company(company, folder / "data", fmt="parquet", with_labels=False)
    assert not list((folder / "data").glob("*.csv"))
    notebook = nbformat.read(assignment.notebook_path, as_version=4)
    errors = _run(notebook, folder)
    assert not errors, [f"{e['ename']}: {e['evalue']}" for e in errors]
    assert score_parts(assignment, folder, company)["weekly_table"].score == 1.0


@pytest.mark.parametrize("seed, waves", [(20261130, 4), (20261132, 3)])
def test_the_measure_reference_earns_full_marks_on_a_staggered_rollout(seed, waves, tmp_path):
    """In a real kernel on a released staggered company: the notebook pools every wave's window,
    resamples squads by wave, and the finding earns full credit against the pooled truth."""
    from datasets.variation import family_of_seed

    assert family_of_seed(seed) == "staggered"
    company = generate_company("mandate-bigco", employees=DataSpec().employees, days=DataSpec().days, seed=seed)
    assert company.employees["ai_access_from"].nunique() == waves
    write_company(company, tmp_path / "data", fmt="csv", with_labels=False)
    assignment = load_assignment(SOURCE_DIR / "measure")
    notebook = nbformat.read(assignment.notebook_path, as_version=4)
    errors = _run(notebook, tmp_path)
    assert not errors, [f"{e['ename']}: {e['evalue']}" for e in errors]
    printed = "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", []))
    assert f"comparisons pooled: {waves - 1}" in printed and "resampled: squad" in printed
    assert score_parts(assignment, tmp_path, company)["measure_finding"].score == 1.0
