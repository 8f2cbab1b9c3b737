"""One course from the app to the grader: the same data, the same notebook, codes that work.

An instructor's course is released with `theater assign`; the app serves that course directory.
What a learner downloads in the app must be byte for byte what was released to them and what the
grader regenerates, and the download must run as it is once unzipped.
"""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import nbformat
import pytest

from course import data as course_data
from course.auth import ThrottleBook
from course.config import load_config
from grader.assign import assign
from grader.course_dir import init_course

pytestmark = pytest.mark.slow
ROSTER = "id,first_name,last_name,email\nada,Ada,Lovelace,ada@example.org\nbob,Bob,Builder,bob@example.org\n"


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A small course with `explore` released to ada and bob, and the app's config serving it."""
    root = tmp_path_factory.mktemp("one-course")
    course = init_course(root / "course", data={"employees": 40, "days": 120})
    roster = root / "roster.csv"
    roster.write_text(ROSTER)
    report = assign(course, "explore", roster)
    config = load_config(root / "home", course=course.root)
    return {"course": course, "config": config, "report": report, "root": root}


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def unzip(blob: bytes, into: Path) -> Path:
    zipfile.ZipFile(io.BytesIO(blob)).extractall(into)
    return into


def test_the_app_download_is_what_assign_released_and_what_the_grader_regenerates(released, tmp_path):
    from grader.worker import _materialise_data

    config, course = released["config"], released["course"]
    explore = course.assignment("explore")
    company = course_data.generate_learner_company(config, "ada")  # the app's cached company
    folder = unzip(course_data.assignment_zip(config, explore, "ada", company), tmp_path / "app")
    outbound = course.path("outbound", "ada", "explore")
    app_data = files_under(folder / "explore" / "data")
    assert app_data and app_data == files_under(outbound / "data")
    regenerated = _materialise_data(course, explore, "ada", tmp_path / "grader")
    assert app_data == files_under(regenerated)
    assert (folder / "explore" / "explore.ipynb").read_bytes() == (outbound / "explore.ipynb").read_bytes()
    bob = unzip(course_data.assignment_zip(config, explore, "bob"), tmp_path / "bob")
    assert files_under(bob / "explore" / "data") != app_data, "each learner has their own company"


def test_the_app_serves_the_courses_secret_and_spec(released):
    config, course = released["config"], released["course"]
    assert config.course.root == course.root
    assert (config.employees, config.days) == (40, 120)


def test_assign_issues_private_access_codes_that_sign_in_only_their_learner(released):
    from grader.assign import CODES_FILE, read_roster

    report, config, course = released["report"], released["config"], released["course"]
    assert report.codes_issued == ["ada", "bob"]
    path = course.path(CODES_FILE)
    assert report.codes_file == path and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "access code" in report.summary()
    rows = [line.split(",") for line in path.read_text().splitlines()[1:]]
    codes = {row[0]: row[-1] for row in rows}
    book = ThrottleBook()
    assert course_data.sign_in_learner(config, "ada", codes["ada"], None, "c", book) == "ada"
    with pytest.raises(course_data.SignInError):
        course_data.sign_in_learner(config, "ada", codes["bob"], None, "c2", book)
    with pytest.raises(course_data.SignInError):
        course_data.sign_in_learner(config, "ada", None, None, "c3", book)
    from grader.assign import issue_codes

    assert issue_codes(course, read_roster(released["root"] / "roster.csv")) == ([], None), \
        "releasing the next assignment keeps everyone's code"


def test_the_gradebook_is_private(released):
    course = released["course"]
    assert stat.S_IMODE((course.root / "gradebook.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(course.root.stat().st_mode) == 0o700


def _solved(downloaded: Path, source: Path) -> None:
    """Fill the downloaded notebook's answer cells with the source's solutions (a learner who did it)."""
    solutions = {c.metadata.get("nbgrader", {}).get("grade_id"): c
                 for c in nbformat.read(source, as_version=4).cells}
    notebook = nbformat.read(downloaded, as_version=4)
    filled = 0
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in solutions:
            text = solutions[grade_id].source
            cell.source = text.replace("### BEGIN SOLUTION\n", "").replace("### END SOLUTION\n", "")
            filled += 1
    assert filled, "the notebook has answer cells to fill"
    nbformat.write(notebook, downloaded)


def test_the_download_runs_as_it_is_once_unzipped(released, tmp_path):
    """Unzip in an empty folder and run the notebook there: data/ is found, nothing fails."""
    from nbclient import NotebookClient

    config, course = released["config"], released["course"]
    explore = course.assignment("explore")
    folder = unzip(course_data.assignment_zip(config, explore, "ada"), tmp_path / "empty") / "explore"
    assert (folder / "DATA_DICTIONARY.md").is_file()
    notebook_path = folder / "explore.ipynb"
    as_downloaded = nbformat.read(notebook_path, as_version=4)
    NotebookClient(as_downloaded, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    setup = next(c for c in as_downloaded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    assert not [o for o in setup.outputs if o.output_type == "error"], "the setup cell finds data/"
    _solved(notebook_path, explore.notebook_path)
    solved = nbformat.read(notebook_path, as_version=4)
    NotebookClient(solved, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()  # raises on any error
    assert (folder / "answers" / "weekly.csv").is_file()
