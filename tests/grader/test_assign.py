"""Releasing an assignment: roster checks, nbgrader's student version, one private dataset each."""

from __future__ import annotations

import hashlib
import json

import nbformat
import pandas as pd
import pytest

from grader.assign import AssignError, RosterError, assign, read_roster
from grader.course_dir import gradebook, init_course, learner_company, load_secret

ROSTER = "id,first_name,last_name,email\nada,Ada,Lovelace,ada@example.org\nbob,Bob,Builder,bob@example.org\n"


def _roster(tmp_path, text=ROSTER, name="roster.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    root = tmp_path_factory.mktemp("assign")
    course = init_course(root / "course", data={"employees": 40, "days": 60})
    report = assign(course, "detect", _roster(root))
    return course, report


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_learner_gets_the_student_notebook_and_their_data(released):
    course, report = released
    assert report.released == ["ada", "bob"]
    for learner in ("ada", "bob"):
        folder = course.path("outbound", learner, "detect")
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        assert "detect.ipynb" in files
        assert {"data/ai_events.csv", "data/employees.csv", "data/work_items.csv", "data/calendar.csv",
                "data/manifest.json"} <= set(files)
        assert "assignment.yaml" not in files


def test_release_holds_no_solution_hidden_test_label_seed_or_secret(released):
    course, _ = released
    secret = load_secret(course)
    folder = course.path("outbound", "ada", "detect")
    notebook = (folder / "detect.ipynb").read_text()
    assert "BEGIN SOLUTION" not in notebook and "HIDDEN TESTS" not in notebook
    assert "score > 1.5" not in notebook  # the reference detector's threshold is solution code
    assert not list(folder.rglob("*label*"))
    manifest = json.loads((folder / "data" / "manifest.json").read_text())
    assert "seed" not in json.dumps(manifest).lower()
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            assert secret.encode() not in text
            assert b"archetype" not in text and b"is_theater" not in text


def test_student_notebook_is_nbgraders_generated_version(released):
    course, _ = released
    outbound = nbformat.read(course.path("outbound", "ada", "detect", "detect.ipynb"), as_version=4)
    release = nbformat.read(course.path("release", "detect", "detect.ipynb"), as_version=4)
    assert outbound == release
    checksums = [c.metadata["nbgrader"].get("checksum") for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert checksums and all(checksums)


def test_learners_are_in_the_gradebook_with_the_assignment(released):
    course, _ = released
    with gradebook(course) as gb:
        assert {s.id for s in gb.students} == {"ada", "bob"}
        assert gb.find_student("ada").email == "ada@example.org"
        assert gb.find_assignment("detect").max_score == 6


def test_each_learner_gets_their_own_company_matching_what_grading_regenerates(released):
    course, _ = released
    detect = course.assignment("detect")
    ada = pd.read_csv(course.path("outbound", "ada", "detect", "data", "ai_events.csv"))
    bob = pd.read_csv(course.path("outbound", "bob", "detect", "data", "ai_events.csv"))
    assert not ada["tokens_in"].equals(bob["tokens_in"])
    regenerated = learner_company(course, detect, "ada")
    assert len(regenerated.ai_events) == len(ada)
    assert regenerated.ai_events["tokens_in"].tolist() == ada["tokens_in"].tolist()
    record = json.loads(course.release_record_path("detect").read_text())
    assert record["data"] == {"profile": "mandate-bigco", "employees": 40, "days": 60, "format": "csv"}
    assert record["generator_version"]


def test_rerun_is_idempotent_and_adds_new_learners(released, tmp_path):
    course, _ = released
    before = _digest(course.path("outbound", "ada", "detect"))
    roster = _roster(tmp_path, ROSTER + "cyd,Cyd,Charisse,\n")
    report = assign(course, "detect", roster)
    assert report.released == ["ada", "bob", "cyd"]
    assert _digest(course.path("outbound", "ada", "detect")) == before
    assert course.path("outbound", "cyd", "detect", "detect.ipynb").is_file()
    assert not [p for p in course.path("outbound", "ada").iterdir() if p.name.startswith(".")]


def test_roster_is_read_like_nbgraders_student_import(tmp_path):
    text = "\ufeffid,last_name,first_name,email,lms_user_id\nada,Lovelace,Ada,ada@x.org,1001\n\n"
    learners = read_roster(_roster(tmp_path, text))
    assert [(x.id, x.first_name, x.lms_user_id) for x in learners] == [("ada", "Ada", "1001")]
    assert read_roster(_roster(tmp_path, "id\nada\nbob\n"))[1].id == "bob"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("first_name,last_name\nAda,Lovelace\n", "`id` column"),
        ("id,nickname\nada,A\n", "unknown column"),
        ("id,first_name\nada,Ada\nbob\n", "row 3 has 1 field"),
        ("id\nada\nada lovelace\n", "row 3: id 'ada lovelace'"),
        ("id\nada\n../etc\n", "row 3: id '../etc'"),
        ("id\nada\nbob\nada\n", "row 4: id 'ada' repeats row 2"),
        ("id,email\nada,not-an-address\n", "row 2: email"),
        ("id\n\n", "no learners"),
        ("id,lms_user_id\nada,5001\nbob,5002\ncyd,5001\n", "row 4: lms_user_id '5001' repeats row 2"),
    ],
)
def test_bad_roster_rows_are_named(tmp_path, text, problem):
    with pytest.raises(RosterError) as info:
        read_roster(_roster(tmp_path, text))
    assert problem in str(info.value)


def test_missing_roster_file_is_a_clear_error(tmp_path):
    with pytest.raises(RosterError, match="no such roster"):
        read_roster(tmp_path / "nope.csv")


def test_bad_roster_releases_nothing(tmp_path):
    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30})
    with pytest.raises(RosterError):
        assign(course, "explore", _roster(tmp_path, "id\nada\nada\n"))
    assert not list(course.path("outbound").iterdir())
    assert not list(course.path("release").iterdir())
    with gradebook(course) as gb:
        assert gb.students == []


def test_an_lms_user_id_held_by_another_learner_in_the_gradebook_is_refused(tmp_path):
    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30})
    with gradebook(course) as gb:
        gb.update_or_create_student("ada", lms_user_id="5001")
    with pytest.raises(RosterError, match="'5001' of 'bob' already belongs to 'ada'"):
        assign(course, "explore", _roster(tmp_path, "id,lms_user_id\nbob,5001\n"))
    with gradebook(course) as gb:
        assert [s.id for s in gb.students] == ["ada"]
    assert not list(course.path("outbound").iterdir())


def test_broken_source_notebook_is_reported_not_released(tmp_path):
    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30})
    notebook = course.path("source", "explore", "explore.ipynb")
    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "part2-usage")
    cell.source = cell.source.replace("### END SOLUTION", "")
    nbformat.write(nb, notebook)
    with pytest.raises(AssignError, match="could not generate"):
        assign(course, "explore", _roster(tmp_path))
    assert not list(course.path("outbound").iterdir())
