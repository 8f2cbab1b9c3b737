import io
import zipfile
from pathlib import Path

import nbformat
import pytest

from course import data as course_data
from course.config import load_config
from course.data import SignInError, validate_learner_id
from exercises.checks import run_check

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(app_home):
    return load_config()


@pytest.mark.parametrize("raw, cleaned", [(" ada ", "ada"), ("ada.lovelace", "ada.lovelace"),
                                          ("s1234567", "s1234567"), ("a@uni.edu", "a@uni.edu")])
def test_valid_learner_ids_are_accepted_and_trimmed(config, raw, cleaned):
    assert validate_learner_id(raw, config) == cleaned


@pytest.mark.parametrize("raw, message", [
    ("", "Enter your learner id"), (None, "Enter your learner id"), ("a", "not a valid"),
    ("../etc", "not a valid"), ("ada lovelace", "not a valid"), ("x" * 80, "not a valid"),
])
def test_invalid_learner_ids_say_what_is_wrong(config, raw, message):
    with pytest.raises(SignInError, match=message):
        validate_learner_id(raw, config)


def test_roster_and_course_code_are_enforced(app_home):
    app_home.mkdir(parents=True, exist_ok=True)
    (app_home / "config.yaml").write_text("course_code: C1\nlearners: [ada]\n")
    config = load_config()
    assert validate_learner_id("ada", config, "C1") == "ada"
    with pytest.raises(SignInError, match="course code"):
        validate_learner_id("ada", config, "C2")
    with pytest.raises(SignInError, match="not on this course's list"):
        validate_learner_id("eve", config, "C1")


def test_learner_company_is_written_once_without_labels(config):
    company = course_data.generate_learner_company(config, "ada")
    folder = course_data.learner_dir(config, "ada")
    files = {p.name for p in folder.iterdir()}
    assert "manifest.json" in files and not any("label" in name for name in files)
    stamp = (folder / "manifest.json").stat().st_mtime_ns
    course_data.generate_learner_company(config, "ada")
    assert (folder / "manifest.json").stat().st_mtime_ns == stamp
    assert len(company.labels)            # the labels exist, in memory only


def test_two_learners_get_different_companies(config):
    a = course_data.generate_learner_company(config, "ada")
    b = course_data.generate_learner_company(config, "bob")
    assert not a.ai_events["tokens_in"].equals(b.ai_events["tokens_in"])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_download_zip_holds_the_public_tables_and_no_labels(config, fmt):
    company = course_data.generate_learner_company(config, "ada")
    archive = zipfile.ZipFile(io.BytesIO(course_data.company_zip(config, "ada", company, fmt)))
    names = {name.rsplit("/", 1)[-1] for name in archive.namelist()}
    assert {f"{t}.{fmt}" for t in course_data.PUBLIC_TABLES} <= names
    assert not any("label" in name for name in names)


def test_default_dataset_is_generated_once(config):
    out = course_data.ensure_default_dataset(config)
    assert (out / "manifest.json").exists()
    stamp = (out / "manifest.json").stat().st_mtime_ns
    assert course_data.ensure_default_dataset(config) == out
    assert (out / "manifest.json").stat().st_mtime_ns == stamp


def test_missing_generator_is_a_clear_error(config, monkeypatch):
    def missing():
        raise course_data.DataUnavailable("The company generator is not available")
    monkeypatch.setattr(course_data, "_api", missing)
    with pytest.raises(course_data.DataUnavailable, match="not available"):
        course_data.generate_learner_company(config, "zed")


@pytest.mark.parametrize("check_id, answer", [
    ("goodhart.collapse_point", 0.9), ("measure.theater_share", 0.99),
    ("measure.productivity_effect", 80.0), ("detect.flag_tokenmaxxers", "E00001"),
    ("detect.flag_converts", "E00001"), ("metrics.dashboard_design", ["tokens_per_user"]),
])
def test_every_in_app_check_has_truth_and_a_wrong_answer_fails(small_company, check_id, answer):
    truth = course_data.exercise_truth(check_id, small_company, answer)
    result = run_check(check_id, answer, truth)
    assert result.status == "incorrect" and result.score < 1


def test_session_labels_truth_covers_the_labelled_sessions(small_company):
    from exercises.truth import sample_sessions

    sample = sample_sessions(small_company, 6, 1)
    answer = {int(s): "genuine" for s in sample["session_id"]}
    truth = course_data.exercise_truth("spot.label_sessions", small_company, answer)
    assert set(truth) == set(answer)


@pytest.mark.parametrize("assignment", ["explore", "detect", "measure"])
def test_learner_notebook_is_what_nbgrader_releases(assignment):
    source = REPO / "exercises" / "source" / assignment / f"{assignment}.ipynb"
    text = course_data.learner_notebook(source).decode()
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert "YOUR CODE HERE" in text and "NotImplementedError" not in text  # the course's stub
    released = nbformat.reads(text, as_version=4)
    graded = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded and all(c.metadata["nbgrader"].get("checksum") for c in graded)


def test_sign_in_token_round_trips_and_cannot_be_forged(config, tmp_path):
    token = course_data.sign_in_token(config, "ada")
    assert course_data.learner_from_token(config, token) == "ada"
    assert course_data.learner_from_token(config, "bob" + token[3:]) is None
    tampered = token[:-1] + ("1" if token[-1] != "1" else "2")
    assert course_data.learner_from_token(config, tampered) is None
    assert course_data.learner_from_token(config, None) is None
    assert course_data.learner_from_token(config, "no-dot-here") is None
    other = load_config(tmp_path / "other-course")
    assert course_data.learner_from_token(other, token) is None
