"""What the package ships: each assignment's student version, never a solution, a hidden test or a
source notebook; and an installation built from it makes courses and downloads without them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest

from exercises.assignments import CODE_STUB, SOURCE_DIR, list_assignments, load_assignment
from exercises.student_version import (HIDDEN_BEGIN, HIDDEN_END, RELEASE_DIR, SOLUTION_BEGIN, SOLUTION_END, TEXT_STUB,
                                       instructor_markers, student_version_bytes)

ROOT = Path(__file__).resolve().parents[1]
NAMES = list_assignments(SOURCE_DIR)
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "var", "build", "dist", "*.egg-info", "__pycache__",
                                    ".pytest_cache", "*.pyc", ".ipynb_checkpoints", "node_modules")


def _solution_lines() -> set[str]:
    """Distinctive lines of the sources' solution regions: what pasting a solution would need."""
    lines: set[str] = set()
    for name in NAMES:
        notebook = nbformat.read(load_assignment(SOURCE_DIR / name).notebook_path, as_version=4)
        for cell in notebook.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "markdown" and meta.get("solution"):  # a reference written answer (the memo)
                lines.update(sentence.strip() for sentence in cell.source.split(". ") if len(sentence.strip()) >= 30)
                continue
            inside = False
            for line in cell.source.split("\n"):
                if SOLUTION_BEGIN in line or HIDDEN_BEGIN in line:
                    inside = True
                elif SOLUTION_END in line or HIDDEN_END in line:
                    inside = False
                elif inside and len(line.strip()) >= 30:
                    lines.add(line.strip())
    return lines


def test_the_markers_are_nbgraders_own():
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    solutions, tests = ClearSolutions(), ClearHiddenTests()
    assert (SOLUTION_BEGIN, SOLUTION_END) == (solutions.begin_solution_delimeter, solutions.end_solution_delimeter)
    assert (HIDDEN_BEGIN, HIDDEN_END) == (tests.begin_test_delimeter, tests.end_test_delimeter)


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_student_version_is_what_its_source_produces(name):
    """exercises/release/ cannot drift from exercises/source/: regenerate with
    `python -m exercises.student_version` after editing a source notebook."""
    assignment = load_assignment(SOURCE_DIR / name)
    committed = RELEASE_DIR / name / assignment.notebook
    assert committed.is_file(), f"{committed} is missing: run python -m exercises.student_version"
    assert committed.read_bytes() == student_version_bytes(assignment.notebook_path), (
        f"{committed} differs from its source: run python -m exercises.student_version")


def test_every_assignment_and_only_those_have_a_committed_student_version():
    assert sorted(p.name for p in RELEASE_DIR.iterdir() if p.is_dir()) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_a_student_version_holds_no_solution_and_no_hidden_test(name):
    text = (RELEASE_DIR / name / f"{name}.ipynb").read_text(encoding="utf-8")
    assert not [marker for marker in instructor_markers() if marker in text]
    assert not [line for line in _solution_lines() if line in text]
    written = load_assignment(SOURCE_DIR / name).rubric  # a memo's answers are written, not coded
    assert (TEXT_STUB if written and not load_assignment(SOURCE_DIR / name).graded else CODE_STUB) in text


def test_the_solutions_are_distinctive_enough_to_be_searched_for():
    """The searches below look for these lines: without them they could not fail."""
    source = load_assignment(SOURCE_DIR / "measure").notebook_path.read_text(encoding="utf-8")
    assert len(_solution_lines()) >= 20 and all(marker in source for marker in instructor_markers())


# ----------------------------------------------------------------------------- built distributions


def _copy_of_the_project(target: Path) -> Path:
    """The project's files in a fresh folder: a build writes build/ and *.egg-info beside the sources."""
    shutil.copytree(ROOT, target, ignore=NOT_COPIED)
    return target


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """The wheel and the sdist, built from a copy of the project: the wheel by pip in its isolated
    build environment (pyproject's build requirements, from the package index as `make install`
    gets them), the sdist by setuptools' PEP 517 backend."""
    work = tmp_path_factory.mktemp("build")
    project = _copy_of_the_project(work / "project")
    dist = work / "dist"
    for command, where in (
            ([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(project)], work),
            ([sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_sdist({str(dist)!r})"],
             project)):
        run = subprocess.run(command, cwd=where, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, f"{command[2:4]} failed: {run.stderr[-2000:]}"
    wheel = next(dist.glob("*.whl"))
    sdist = next(dist.glob("*.tar.gz"))
    return {"wheel": wheel, "sdist": sdist, "dist": dist}


def _members(path: Path) -> dict[str, bytes]:
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as archive:
            return {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
    with tarfile.open(path) as archive:
        return {member.name.split("/", 1)[1]: archive.extractfile(member).read()  # type: ignore[union-attr]
                for member in archive.getmembers() if member.isfile()}


@pytest.mark.slow
@pytest.mark.xdist_group("package-build")  # the distributions are built once, on one worker
@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_the_built_package_carries_student_versions_only(built, kind):
    files = _members(built[kind])
    markers = [marker.encode() for marker in (*instructor_markers(), "BEGIN SOLUTION", "BEGIN HIDDEN TESTS",
                                                "END SOLUTION")]
    leaks = sorted({name for name, data in files.items() for marker in markers if marker in data})
    assert not leaks, f"{kind} holds instructor material in {leaks}"
    solution_lines = [line.encode() for line in _solution_lines()]
    pasted = sorted({name for name, data in files.items() for line in solution_lines if line in data})
    assert not pasted, f"{kind} holds solution code in {pasted}"
    assert not [name for name in files if name.startswith("exercises/source/") and name.endswith(".ipynb")]
    for name in NAMES:
        assert files.get(f"exercises/release/{name}/{name}.ipynb") == (RELEASE_DIR / name / f"{name}.ipynb").read_bytes()
        assert f"exercises/source/{name}/assignment.yaml" in files
    assert "course/content/pre-post-test.yaml" in files  # the app scores the test server-side (docs/instructors.md)
    assert "course/static/room.html" in files   # the light phone page (course.phone_routes)


INSTALLED_CHECK = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    import grader, exercises.student_version as sv
    from course import config as app_config, data as course_data
    from grader.assign import AssignError, assign, generate_student_version
    from theater.cli import main
    from grader.course_dir import init_course
    import grader.cli, theater

    out, here = {}, Path(sys.argv[1])
    out["imported_from"] = grader.__file__
    out["cli_imported_from"] = theater.__file__
    out["old_cli_is_the_new_one"] = grader.cli.main is main  # `python -m grader.cli` still works
    out["init_without_sources"] = main(["course", "init", str(here / "instructor")])
    out["left_behind"] = (here / "instructor").exists()
    out["init_with_sources"] = main(["course", "init", str(here / "with-sources"), "--source", sys.argv[2]])
    copied = here / "with-sources" / "source" / "measure" / "measure.ipynb"
    out["copied_source_has_markers"] = all(m in copied.read_text() for m in sv.instructor_markers())

    app = app_config.load_config(here / "app-home")  # the app's own course, as on a first start
    course = app.course
    out["app_course_notebooks"] = sorted(str(p.relative_to(course.root)) for p in course.root.glob("source/*/*.ipynb"))
    measure = course.assignment("measure")
    download = course_data.assignment_notebook(app, measure).decode()
    out["download_markers"] = [m for m in sv.instructor_markers() if m in download]
    release = generate_student_version(course, measure)  # what a self-study submission triggers
    out["release_is_packaged"] = (release / "measure.ipynb").read_bytes() == Path(sv.RELEASE_DIR, "measure", "measure.ipynb").read_bytes()
    from grader.course_dir import gradebook
    with gradebook(course) as gb:
        out["gradebook_cell"] = gb.find_grade_cell("measure_finding", "measure", "measure").max_score
    roster = here / "roster.csv"
    roster.write_text("id\\nada\\n")
    try:
        assign(course, "detect", roster)
        out["assign_without_sources"] = "released"
    except AssignError as exc:
        out["assign_without_sources"] = str(exc)
    out["assign_with_sources"] = assign(course, "detect", roster, source_dir=sys.argv[2]).released
    print(json.dumps(out))
''')


@pytest.mark.slow
@pytest.mark.xdist_group("package-build")
def test_an_installed_wheel_makes_courses_and_downloads_without_solutions(built, tmp_path, capfd):
    """Installed from the wheel alone: `course init` asks for the sources, the app's own course
    releases and downloads the shipped student versions, `assign` needs --source DIR."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target),
                    str(built["wheel"])], check=True, capture_output=True, timeout=600)
    run = subprocess.run([sys.executable, "-c", INSTALLED_CHECK, str(tmp_path / "w"), str(ROOT / "exercises" / "source")],
                         env={**{k: v for k, v in os.environ.items() if not k.startswith("THEATER_")}, "PYTHONPATH": str(target)}, capture_output=True,
                         text=True, timeout=900, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["imported_from"].startswith(str(target)), out["imported_from"]
    assert out["cli_imported_from"].startswith(str(target)) and out["old_cli_is_the_new_one"]
    command = subprocess.run([str(target / "bin" / "theater"), "--help"], capture_output=True, text=True, timeout=300,
                             env={**os.environ, "PYTHONPATH": str(target)}, cwd=tmp_path)
    assert command.returncode == 0 and "Signal or Theater" in command.stdout, command.stderr[-2000:]
    assert out["init_without_sources"] != 0 and not out["left_behind"]
    message = [line for line in run.stderr.splitlines() if line.startswith("theater course: error")]
    assert len(message) == 1 and "--source DIR" in message[0] and "student notebooks only" in message[0], run.stderr
    assert out["init_with_sources"] == 0 and out["copied_source_has_markers"]
    assert out["app_course_notebooks"] == []  # assignment.yaml only: no notebook with solutions anywhere
    assert out["download_markers"] == [] and out["release_is_packaged"] and out["gradebook_cell"] == 8.0
    assert "--source DIR" in out["assign_without_sources"], out["assign_without_sources"]
    assert out["assign_with_sources"] == ["ada"]


# ----------------------------------------------------------------------------- the app's downloads


@pytest.fixture(params=["checkout", "installed"])
def app_config(request, tmp_path, monkeypatch):
    """The app's own course, made from a checkout or (exercises/source without notebooks) an installed package."""
    import course.data
    from course.config import load_config
    from grader import course_dir
    from tests.course.fakes import fake_api

    for name in ("THEATER_DATABASE_URL", "THEATER_COURSE_CODE", "THEATER_COURSE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("THEATER_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(course.data, "_api", lambda: fake_api())
    if request.param == "installed":
        folder = tmp_path / "installed-source"
        for name in NAMES:
            (folder / name).mkdir(parents=True)
            shutil.copy(SOURCE_DIR / name / "assignment.yaml", folder / name / "assignment.yaml")
        monkeypatch.setattr(course_dir, "SOURCE_DIR", folder)
    return load_config()


def test_the_apps_downloads_hold_the_student_version_only(app_config):
    import io

    from course import data as course_data

    for assignment in course_data.course_assignments(app_config):
        archive = zipfile.ZipFile(io.BytesIO(course_data.assignment_zip(app_config, assignment, "ada")))
        for name in archive.namelist():
            data = archive.read(name)
            assert not [m for m in instructor_markers() if m.encode() in data], (assignment.name, name)
            assert not [line for line in _solution_lines() if line.encode() in data], (assignment.name, name)
        notebook = archive.read(f"{assignment.name}/{assignment.notebook}")
        shipped = RELEASE_DIR / assignment.name / assignment.notebook
        assert nbformat.reads(notebook.decode(), as_version=4).cells == nbformat.read(shipped, as_version=4).cells


def _sent(at) -> str:
    """Everything the rendered page sends to the browser: every element's message, as text."""
    from google.protobuf.json_format import MessageToDict

    def walk(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    parts = []
    for node in walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "DESCRIPTOR"):
            parts.extend(strings(MessageToDict(proto)))
    return "\n".join(parts)


def test_the_shipped_pre_post_key_never_reaches_a_learners_page(app_config):
    """The app keeps the pre/post test's key to score it on the server: the page sends the prompts
    and the options, never which option is right, an explanation or a wrong option's feedback,
    neither before nor after the learner answers."""
    from streamlit.testing.v1 import AppTest

    from course.modules import load_pre_post_forms
    from course.practice import pre_post_forms

    questions = load_pre_post_forms().forms[pre_post_forms("ada")[0]]
    at = AppTest.from_file(str(ROOT / "course" / "app.py"), default_timeout=120).run()
    next(t for t in at.text_input if t.label == "Learner id").input("ada")
    next(b for b in at.button if b.label == "Sign in").click().run()
    hidden = {q.explain for q in questions} | {o.feedback for q in questions for o in q.options if o.feedback}
    hidden |= {o.misconception for q in questions for o in q.options if getattr(o, "misconception", None)}
    page = _sent(at)
    assert len(hidden) > len(questions)
    assert all(q.prompt in page and all(o.text in page for o in q.options) for q in questions)  # what is sent is seen
    assert not [text for text in hidden if text in page]
    for q in questions:
        at.radio(key=f"choice:pretest:{q.id}").set_value(q.answer)
    next(b for b in at.button if b.proto.form_id == "form:pretest").click().run()
    assert not at.exception and any("saved" in s.value for s in at.success)
    assert not [text for text in hidden if text in _sent(at)]
