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
                                          ("s1234567", "s1234567"), ("a", "a"), ("x_1-y", "x_1-y")])
def test_valid_learner_ids_are_accepted_and_trimmed(config, raw, cleaned):
    assert validate_learner_id(raw, config) == cleaned


@pytest.mark.parametrize("raw, message", [
    ("", "Enter your learner id"), (None, "Enter your learner id"), (".hidden", "not a valid"),
    ("../etc", "not a valid"), ("ada lovelace", "not a valid"), ("x" * 80, "not a valid"),
    ("a@uni.edu", "no '@'"), ("..", "not a valid"), ("-x", "not a valid"),
])
def test_invalid_learner_ids_say_what_is_wrong(config, raw, message):
    with pytest.raises(SignInError, match=message):
        validate_learner_id(raw, config)


@pytest.mark.parametrize("learner", ["ada", "a", "x_1-y", "s1234567", "A.B"])
def test_app_and_grader_share_one_learner_id_rule(config, learner):
    """An id the app accepts is one `theater assign` and the grader accept, and the reverse."""
    from grader.course_dir import validate_learner_id as grader_rule

    assert validate_learner_id(learner, config) == grader_rule(learner)


@pytest.mark.parametrize("learner", [".hidden", "a@b.c", "", "..", "a b", "_x"])
def test_ids_the_grader_refuses_the_app_refuses_too(config, learner):
    from grader.course_dir import CourseError, validate_learner_id as grader_rule

    with pytest.raises(CourseError):
        grader_rule(learner)
    with pytest.raises(SignInError):
        validate_learner_id(learner, config)


def test_course_code_is_enforced(app_home):
    app_home.mkdir(parents=True, exist_ok=True)
    (app_home / "config.yaml").write_text("course_code: C1\n")
    config = load_config()
    assert validate_learner_id("ada", config, "C1") == "ada"
    with pytest.raises(SignInError, match="course code"):
        validate_learner_id("ada", config, "C2")


def test_with_a_roster_only_the_learners_own_code_signs_them_in(config):
    from course.auth import ThrottleBook, issue_access_codes

    codes = issue_access_codes(config.access_codes_path, ["ada", "bob"])
    book = ThrottleBook()
    assert course_data.has_roster(config)
    assert course_data.sign_in_learner(config, "ada", codes["ada"], None, "c1", book) == "ada"
    typed = codes["ada"].lower().replace("-", " ")  # case, spaces and dashes do not matter
    assert course_data.sign_in_learner(config, " ada ", typed, None, "c1", book) == "ada"
    for wrong in (None, "", codes["bob"], "ABCD-EFGH-JKMN"):
        with pytest.raises(SignInError, match="Wrong learner id or access code"):
            course_data.sign_in_learner(config, "ada", wrong, None, f"client-{wrong}", book)
    with pytest.raises(SignInError, match="Wrong learner id or access code"):
        course_data.sign_in_learner(config, "eve", codes["ada"], None, "c2", book)


def test_self_study_needs_no_code(config):
    assert not course_data.has_roster(config)
    assert course_data.sign_in_learner(config, "ada", None, None, "c1") == "ada"


def test_learner_company_is_written_once_without_labels(config):
    company = course_data.generate_learner_company(config, "ada")
    folder = course_data.learner_dir(config, "ada")
    files = {p.name for p in folder.iterdir()}
    assert "manifest.json" in files and not any("label" in name for name in files)
    stamp = (folder / "manifest.json").stat().st_mtime_ns
    course_data.generate_learner_company(config, "ada")
    assert (folder / "manifest.json").stat().st_mtime_ns == stamp


def test_the_apps_graded_company_holds_the_released_tables_and_no_labels_at_all(config):
    """The app's copy of the company a learner is graded on has no labels attribute, so a chart
    or check that reaches for them fails instead of leaking the graded truth."""
    company = course_data.generate_learner_company(config, "ada")
    assert not hasattr(company, "labels") and not hasattr(company, "event_labels")
    with pytest.raises(AttributeError):
        company.labels
    assert set(company.tables()) == set(course_data.PUBLIC_TABLES)
    with pytest.raises(course_data.DataUnavailable):
        company.tables(with_labels=True)
    with pytest.raises(TypeError, match="practice company"):
        course_data.exercise_truth("detect.flag_tokenmaxxers", company)
    from course.charts import detector_tradeoff

    with pytest.raises(AttributeError, match="labels"):
        detector_tradeoff(company)


def test_the_practice_company_is_a_keyed_variant_nobody_is_graded_on(config):
    """Same spec, different seed: HMAC of 'practice:<id>', never a valid learner id."""
    from grader.course_dir import is_learner_id

    graded = course_data.generate_learner_company(config, "ada")
    practice = course_data.learner_practice_company(config, "ada")
    assert course_data.practice_owner("ada") == "practice:ada"
    assert not is_learner_id(course_data.practice_owner("ada"))
    assert len(practice.labels)            # its labels exist, in server memory only
    assert not practice.ai_events["tokens_in"].equals(graded.ai_events["tokens_in"])
    again = course_data.learner_practice_company(config, "ada")
    assert again.ai_events["tokens_in"].equals(practice.ai_events["tokens_in"])
    bob = course_data.learner_practice_company(config, "bob")
    assert not bob.ai_events["tokens_in"].equals(practice.ai_events["tokens_in"])
    tuning = course_data.tuning_company(config)
    assert not tuning.ai_events["tokens_in"].equals(practice.ai_events["tokens_in"])
    assert not list(course_data.learner_dir(config, "ada").parent.glob("practice*"))


def test_the_practice_zip_holds_released_tables_only(config):
    practice = course_data.learner_practice_company(config, "ada")
    archive = zipfile.ZipFile(io.BytesIO(course_data.practice_zip(config, "ada", practice)))
    names = set(archive.namelist())
    assert {f"company-practice-ada/data/{t}.csv" for t in course_data.PUBLIC_TABLES} <= names
    assert not any("label" in name for name in names)


def test_two_learners_get_different_companies(config):
    a = course_data.generate_learner_company(config, "ada")
    b = course_data.generate_learner_company(config, "bob")
    assert not a.ai_events["tokens_in"].equals(b.ai_events["tokens_in"])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_download_zip_holds_data_beside_the_dictionary_and_no_labels(config, fmt):
    company = course_data.generate_learner_company(config, "ada")
    archive = zipfile.ZipFile(io.BytesIO(course_data.company_zip(config, "ada", company, fmt)))
    names = set(archive.namelist())
    assert {f"company-ada/data/{t}.{fmt}" for t in course_data.PUBLIC_TABLES} <= names
    assert "company-ada/DATA_DICTIONARY.md" in names
    assert not any("label" in name for name in names)


def test_data_dictionary_is_generated_from_the_schemas():
    from datasets import schemas

    text = course_data.data_dictionary()
    for table in course_data.PUBLIC_TABLES:
        assert f"## {table}" in text
        for column, _, _ in schemas.ARROW_COLUMNS[table]:
            assert f"| `{column}` |" in text, (table, column)
    assert "`tokenmaxxer`" not in text and "labels" not in text.split("no labels")[-1]
    assert "one of `ticket`, `pull_request`, `document`" in text


def test_assignment_zip_unpacks_to_notebook_data_and_dictionary(config):
    explore = config.course.assignment("explore")
    archive = zipfile.ZipFile(io.BytesIO(course_data.assignment_zip(config, explore, "ada")))
    names = set(archive.namelist())
    assert "explore/explore.ipynb" in names and "explore/DATA_DICTIONARY.md" in names
    assert {f"explore/data/{t}.csv" for t in course_data.PUBLIC_TABLES} <= names
    assert not any("label" in n or n.endswith("assignment.yaml") for n in names)
    notebook = archive.read("explore/explore.ipynb").decode()
    assert "BEGIN SOLUTION" not in notebook and "BEGIN HIDDEN TESTS" not in notebook


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
    ("measure.access_effect", 500.0), ("detect.flag_tokenmaxxers", "E00001"),
    ("detect.flag_converts", "E00001"), ("metrics.dashboard_design", ["tokens_per_user"]),
    ("measure.finding", {"theater_share": 0.99, "access_effect_pct": 80.0, "access_effect_low": 70.0,
                         "access_effect_high": 90.0}),
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
