"""The course directory: nbgrader's layout, our settings, and a secret only its owner can read."""

from __future__ import annotations

import json
import os
import stat

import pytest

from exercises.assignments import DataSpec
from grader.course_dir import (
    CourseError,
    find_course,
    init_course,
    learner_company,
    load_secret,
    nbgrader_config,
    open_course,
    validate_learner_id,
)


@pytest.fixture
def course(tmp_path):
    return init_course(tmp_path / "course", data={"employees": 40, "days": 60})


def test_init_creates_nbgrader_layout_config_and_sources(course):
    root = course.root
    for name in ("source", "release", "outbound", "submitted", "autograded", "feedback"):
        assert (root / name).is_dir()
    assert (root / "gradebook.db").is_file()
    assert {p.name for p in (root / "source").iterdir()} >= {"explore", "detect", "measure"}
    assert (root / "source" / "detect" / "detect.ipynb").is_file()
    config = nbgrader_config(course)
    assert config.CourseDirectory.root == str(root)
    assert config.CourseDirectory.course_id == "course"
    assert config.CourseDirectory.db_url.endswith("gradebook.db")
    assert config.ClearSolutions.code_stub == {"python": "# YOUR CODE HERE"}


def test_secret_is_readable_by_its_owner_only(course):
    mode = stat.S_IMODE(course.secret_path.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(course.state_dir.stat().st_mode) == 0o700
    secret = load_secret(course)
    assert len(secret) == 64
    assert secret not in (course.root / "theater.toml").read_text()
    assert secret not in (course.root / "nbgrader_config.py").read_text()


def test_two_courses_get_different_secrets(tmp_path):
    a = init_course(tmp_path / "a")
    b = init_course(tmp_path / "b")
    assert load_secret(a) != load_secret(b)


def test_secret_readable_by_others_is_refused(course):
    os.chmod(course.secret_path, 0o644)
    with pytest.raises(CourseError, match="chmod 600"):
        load_secret(course)


def test_missing_secret_is_a_clear_error(course):
    course.secret_path.unlink()
    with pytest.raises(CourseError, match="missing"):
        load_secret(course)


def test_init_refuses_a_directory_that_holds_anything(tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(CourseError, match="not empty"):
        init_course(target)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_init_refuses_an_existing_course(course):
    with pytest.raises(CourseError, match="not empty"):
        init_course(course.root)


def test_init_with_unknown_profile_creates_nothing(tmp_path):
    with pytest.raises(Exception, match="nosuchprofile"):
        init_course(tmp_path / "c", data={"profile": "nosuchprofile"})
    assert not (tmp_path / "c").exists()


def test_init_rejects_bad_course_id(tmp_path):
    with pytest.raises(CourseError, match="course id"):
        init_course(tmp_path / "c", course_id="has space")


def test_find_course_walks_up_from_a_subfolder(course):
    deep = course.root / "submitted" / "ada"
    deep.mkdir(parents=True)
    assert find_course(start=deep).root == course.root


def test_find_course_honours_an_explicit_directory(course, tmp_path):
    assert find_course(start=tmp_path, course=course.root).root == course.root


def test_find_course_without_a_course_says_how_to_make_one(tmp_path):
    with pytest.raises(CourseError, match="course init"):
        find_course(start=tmp_path)
    with pytest.raises(CourseError, match="not a course directory"):
        find_course(course=tmp_path)


def test_dataset_settings_layer_assignment_course_and_per_assignment(course):
    detect = course.assignment("detect")
    assert course.data_spec(detect) == DataSpec("mandate-bigco", 40, 60, "csv")
    toml = course.root / "theater.toml"
    toml.write_text(toml.read_text() + '\n[assignments.detect.data]\nemployees = 55\nformat = "parquet"\n')
    course = open_course(course.root)
    assert course.data_spec(detect) == DataSpec("mandate-bigco", 55, 60, "parquet")
    assert course.data_spec(course.assignment("explore")).employees == 40


def test_the_apps_company_is_the_one_the_courses_own_assignments_release(tmp_path):
    """A course created when the assignments named 150 employees keeps a 150-employee app company
    after the defaults move, so the app's charts and the notebooks stay one company."""
    fresh = init_course(tmp_path / "fresh")
    assert fresh.course_data_spec() == DataSpec() == fresh.data_spec(fresh.assignment("measure"))
    older = init_course(tmp_path / "older")
    for path in (older.root / "source").glob("*/assignment.yaml"):
        path.write_text(path.read_text().replace(f"employees: {DataSpec().employees}", "employees: 150"))
    older = open_course(older.root)
    assert older.course_data_spec().employees == 150
    assert {older.data_spec(older.assignment(name)).employees for name in ("detect", "explore", "measure")} == {150}
    # assignments that disagree leave the defaults; theater.toml [data] overrides either way
    detect = older.root / "source" / "detect" / "assignment.yaml"
    detect.write_text(detect.read_text().replace("employees: 150", "employees: 90"))
    assert open_course(older.root).course_data_spec() == DataSpec()
    toml = older.root / "theater.toml"
    toml.write_text(toml.read_text().replace(f"# employees = {DataSpec().employees}", "employees = 120"))
    assert open_course(older.root).course_data_spec().employees == 120


def test_release_record_pins_the_dataset_after_release(course):
    explore = course.assignment("explore")
    record = course.release_record_path("explore")
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"data": {"profile": "mandate-bigco", "employees": 33, "days": 44, "format": "csv"}}))
    assert course.data_spec(explore) == DataSpec("mandate-bigco", 33, 44, "csv")


def test_unknown_assignment_lists_the_known_ones(course):
    with pytest.raises(CourseError, match="known: detect, explore, measure, memo"):
        course.assignment("nope")


@pytest.mark.parametrize("bad", ["", "..", "a/b", "x" * 65, "ada lovelace", "../etc"])
def test_invalid_learner_ids_are_refused(bad):
    with pytest.raises(CourseError):
        validate_learner_id(bad)


def test_learner_company_is_private_and_reproducible(course):
    explore = course.assignment("explore")
    ada = learner_company(course, explore, "ada")
    again = learner_company(course, explore, "ada")
    bob = learner_company(course, explore, "bob")
    assert len(ada.employees) == 40 and ada.labels is not None
    assert ada.ai_events.equals(again.ai_events)
    assert not ada.ai_events["tokens_in"].equals(bob.ai_events["tokens_in"])


def test_learner_company_refuses_a_different_generator_version(course):
    explore = course.assignment("explore")
    record = course.release_record_path("explore")
    record.parent.mkdir(parents=True)
    spec = {"profile": "mandate-bigco", "employees": 40, "days": 60, "format": "csv"}
    record.write_text(json.dumps({"data": spec, "generator_version": "0.0-old"}))
    with pytest.raises(CourseError, match="generator 0.0-old"):
        learner_company(course, explore, "ada")


# ----------------------------------------------------------------------------- where the sources come from

from pathlib import Path  # noqa: E402
import shutil  # noqa: E402

from exercises.assignments import SOURCE_DIR  # noqa: E402
from exercises.student_version import RELEASE_DIR, SOLUTION_BEGIN, instructor_markers  # noqa: E402
from grader import course_dir  # noqa: E402

CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """exercises/source/ as an installed package holds it: each assignment.yaml, no notebook."""
    folder = tmp_path / "installed-source"
    for yaml_path in SOURCE_DIR.glob("*/assignment.yaml"):
        (folder / yaml_path.parent.name).mkdir(parents=True)
        shutil.copy(yaml_path, folder / yaml_path.parent.name / "assignment.yaml")
    monkeypatch.setattr(course_dir, "SOURCE_DIR", folder)
    return folder


def test_an_instructors_course_without_source_notebooks_stops_naming_the_fix(installed, tmp_path, capsys):
    from theater.cli import main

    with pytest.raises(CourseError, match=r"student notebooks only.*--source DIR") as error:
        init_course(tmp_path / "c", require_sources=True)
    assert "\n" not in str(error.value) and not (tmp_path / "c").exists()
    assert main(["course", "init", str(tmp_path / "d")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--source DIR" in err[0] and not (tmp_path / "d").exists()


@pytest.mark.parametrize("where", ["exercises/source", "."])
def test_source_dir_copies_the_instructors_notebooks(installed, tmp_path, where):
    course = init_course(tmp_path / "c", source_dir=CHECKOUT / where, require_sources=True)
    for name in ("detect", "explore", "measure"):
        text = course.path("source", name, f"{name}.ipynb").read_text(encoding="utf-8")
        assert all(marker in text for marker in instructor_markers()), name


def test_student_versions_are_refused_as_sources(installed, tmp_path):
    folder = tmp_path / "students"
    for name in ("detect", "explore", "measure"):
        (folder / name).mkdir(parents=True)
        shutil.copy(SOURCE_DIR / name / "assignment.yaml", folder / name)
        shutil.copy(RELEASE_DIR / name / f"{name}.ipynb", folder / name)
    with pytest.raises(CourseError, match="is a student version"):
        init_course(tmp_path / "c", source_dir=folder)
    with pytest.raises(CourseError, match="no such folder"):
        init_course(tmp_path / "d", source_dir=tmp_path / "nowhere")


def test_the_apps_course_without_sources_releases_the_shipped_student_version(installed, tmp_path):
    from grader.assign import AssignError, assign, generate_student_version
    from grader.course_dir import gradebook

    course = init_course(tmp_path / "c", data={"employees": 20, "days": 30})
    assert not list(course.root.glob("source/*/*.ipynb"))  # no notebook that could hold a solution
    release = generate_student_version(course, course.assignment("measure"))  # a self-study release
    assert (release / "measure.ipynb").read_bytes() == (RELEASE_DIR / "measure" / "measure.ipynb").read_bytes()
    with gradebook(course) as gb:
        assert gb.find_grade_cell("measure_finding", "measure", "measure").max_score == 8.0
    roster = tmp_path / "roster.csv"
    roster.write_text("id\nada\n", encoding="utf-8")
    with pytest.raises(AssignError, match=r"source notebook of 'detect'.*--source DIR") as error:
        assign(course, "detect", roster)
    assert "\n" not in str(error.value) and not course.path("outbound", "ada").exists()
    report = assign(course, "detect", roster, source_dir=CHECKOUT / "exercises" / "source")
    assert report.released == ["ada"]
    assert SOLUTION_BEGIN in course.path("source", "detect", "detect.ipynb").read_text(encoding="utf-8")
    released = course.path("outbound", "ada", "detect", "detect.ipynb").read_text(encoding="utf-8")
    assert not [marker for marker in instructor_markers() if marker in released]


@pytest.mark.slow
def test_a_self_study_submission_is_graded_in_a_course_without_sources(installed, tmp_path):
    """The app's course on an installed package: the first submission releases the shipped student
    version, and the grader scores it into the gradebook that release recorded."""
    from grader.course_dir import gradebook
    from grader.submissions import GradingQueue, submit

    course = init_course(tmp_path / "c", data={"employees": 30, "days": 40}, create_gradebook=False)
    notebook = (RELEASE_DIR / "explore" / "explore.ipynb").read_bytes()
    submit(course, "explore", "ada", notebook, filename="explore.ipynb", self_study=True)
    queue = GradingQueue(course, self_study=True)
    assert queue.run_next()
    status = json.loads((course.state_dir / "submissions" / "explore" / "ada" / "status.json").read_text())
    assert status["state"] == "graded", status
    assert course.path("release", "explore", "explore.ipynb").read_bytes() == notebook
    with gradebook(course) as gb:
        assert gb.find_grade("weekly_table", "explore", "explore", "ada").score == 0.0  # nothing answered


def test_creating_a_course_leaves_files_other_threads_write_meanwhile_as_they_would_be(tmp_path, monkeypatch):
    """The app creates its course while a grading thread may be releasing a learner's data, which
    the sandboxed kernel (another uid) must read: course creation must not change the umask."""
    import grader.course_dir as course_dir

    copy_sources = course_dir._copy_sources
    written = tmp_path / "elsewhere.csv"

    def copy_and_meanwhile_write(*args, **kwargs):
        written.write_text("employee_id\n")          # what another thread writes during init
        return copy_sources(*args, **kwargs)

    monkeypatch.setattr(course_dir, "_copy_sources", copy_and_meanwhile_write)
    umask = os.umask(0o022)
    try:
        course = init_course(tmp_path / "course")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(written.stat().st_mode) == 0o644
    modes = {stat.S_IMODE(p.stat().st_mode) for p in course.root.rglob("*") if not p.is_symlink()}
    assert modes <= {0o700, 0o600}, modes                    # the course itself stays private
