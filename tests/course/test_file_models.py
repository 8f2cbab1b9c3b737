"""The pydantic models of users' files: one clear line naming file and field, never a traceback.

Module front matter, the pre/post test, assignment.yaml and the app's config.yaml are validated
by pydantic models; datasets.validation.invalid_file turns a ValidationError into one UserError.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course.config import ConfigError, load_config
from course.modules import ContentError, load_pre_post_forms, parse_module
from datasets.errors import UserError
from exercises.assignments import AssignmentError, DataSpec, GradedPart, load_assignment
from tests.course.test_modules import GOOD_BODY, GOOD_FRONT

GOOD_ASSIGNMENT = {
    "title": "T", "notebook": "t.ipynb", "data": {"employees": 40, "days": 60},
    "graded": [{"grade_id": "g", "artifact": "answers/x.json", "reader": "json_set",
                "check": "detect.flag_tokenmaxxers", "truth": "tokenmaxxer_ids", "points": 2}],
}
GOOD_CONFIG = {"session_hours": 8, "attempt_budget": 3, "course_code": "SPRING",
               "oidc": {"match": "email", "label": "Sign in with Campus"}}


def _module(root: Path, front: dict[str, Any] | str) -> Path:
    path = root / "01-sample" / "module.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = front if isinstance(front, str) else yaml.safe_dump(front, sort_keys=False, allow_unicode=True)
    path.write_text(f"---\n{text}---\n{GOOD_BODY}", encoding="utf-8")
    return path


def _one_line(error: UserError, path: Path) -> str:
    message = str(error)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    assert "Traceback" not in message and "pydantic" not in message.lower(), message
    return message


# --------------------------------------------------------------------------- one example per model


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["quiz"][0]["options"][1].update(text=True),
     "front matter: field 'quiz[0].options[1].text' (id 'proxy'): must be text (quote yes/no/true/false"),
    (lambda d: d["charts"][0].update(minutes=-1),
     "front matter: field 'charts[0].minutes' (id 'adoption_vs_output'): must be greater than or equal to 0, not -1"),
    (lambda d: d["exercise"].update(hints="one hint"),
     "front matter: field 'exercise.hints' (id 'label'): must be a list, not 'one hint'"),
    (lambda d: d["objectives"].append({"id": "Bad Id", "text": "x"}),
     "front matter: field 'objectives[2].id' (id 'Bad Id'): 'Bad Id' must be lower-case letters"),
    (lambda d: d.update(simulator_minutes={"turbo": 2}),
     "front matter: field 'simulator_minutes': unknown key 'turbo' (known: metric, incentive"),
    (lambda d: d.update(objectives=[]), "front matter: field 'objectives': must have at least 1 entry"),
    (lambda d: d.update(checker_game={"prompt": "p"}),
     "front matter: field 'checker_game': missing required field 'target'"),
])
def test_a_malformed_front_matter_names_the_file_and_the_field(tmp_path, change, expected):
    front = yaml.safe_load(GOOD_FRONT)
    change(front)
    path = _module(tmp_path, front)
    with pytest.raises(ContentError) as caught:
        parse_module(path)
    assert expected in _one_line(caught.value, path)


def test_a_malformed_pre_post_test_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "pre-post-test.yaml"
    path.write_text("objectives: [{id: o1, text: one}]\nforms:\n  A: [{id: q1, prompt: p, objective: o1, "
                    "answer: a, explain: e, options: [a, b]}]\n  C: []\n")
    with pytest.raises(ContentError) as caught:
        load_pre_post_forms(path)
    assert "pre/post test: field 'forms': unknown key 'C' (known: A, B)" in _one_line(caught.value, path)


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["graded"][0].update(artifact="../../etc/passwd"),
     "field 'graded[0].artifact' (id"),
    (lambda d: d["data"].update(days=0), "field 'data.days': must be greater than or equal to 1, not 0"),
    (lambda d: d["graded"][0].pop("check"), "field 'graded[0]': missing required field 'check'"),
    (lambda d: d["graded"][0].update(colour="blue"), "field 'graded[0]': unknown field(s) colour (allowed:"),
    (lambda d: d["graded"].append(dict(d["graded"][0])), "a grade_id appears twice in graded"),
])
def test_a_malformed_assignment_names_the_file_and_the_field(tmp_path, change, expected):
    raw = yaml.safe_load(yaml.safe_dump(GOOD_ASSIGNMENT))
    change(raw)
    folder = tmp_path / "myassign"
    folder.mkdir()
    (folder / "assignment.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(AssignmentError) as caught:
        load_assignment(folder)
    message = _one_line(caught.value, folder / "assignment.yaml")
    assert expected.split(" (id")[0] in message


def test_data_spec_and_graded_part_keep_their_positional_constructors_and_validate():
    assert DataSpec("startup", 40, 60, "parquet").as_dict()["format"] == "parquet"
    assert GradedPart("g", "a.json", "json_set", "detect.flag_tokenmaxxers", "tokenmaxxer_ids", 1.0).points == 1.0
    with pytest.raises(ValueError, match="xlsx"):
        DataSpec("startup", 40, 60, "xlsx")
    with pytest.raises(AssignmentError, match=r"dataset settings: field 'employees': must be a whole number"):
        DataSpec().updated({"employees": "many"})


def test_a_malformed_config_names_the_file_and_the_setting(tmp_path):
    (tmp_path / "config.yaml").write_text("oidc: {match: email, claim: ''}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert "field 'oidc.claim': is empty" in _one_line(
        caught.value, tmp_path / "config.yaml")


# --------------------------------------------------------------------------- fuzz: never a traceback

JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, prefix + (i,))
    return found


@st.composite
def mutated(draw, good: dict) -> Any:
    """The good document with one place replaced by junk, removed, or given an unknown key."""
    doc = yaml.safe_load(yaml.safe_dump(good))
    path = draw(st.sampled_from(_paths(doc)))
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    if not path:
        return draw(JUNK) if action == "replace" else doc
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if action == "replace":
        parent[path[-1]] = draw(JUNK)
    elif action == "remove":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=6))] = draw(JUNK)
    return doc


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, allow_unicode=True)


@FUZZ
@given(doc=mutated(yaml.safe_load(GOOD_FRONT)))
def test_no_malformed_front_matter_gives_a_traceback(tmp_path, doc):
    path = _module(tmp_path, _dump(doc))
    try:
        parse_module(path)
    except ContentError as error:
        _one_line(error, path)


@FUZZ
@given(text=st.text(max_size=80))
def test_no_text_as_front_matter_gives_a_traceback(tmp_path, text):
    path = _module(tmp_path, text + "\n")
    try:
        parse_module(path)
    except ContentError as error:
        _one_line(error, path)


@FUZZ
@given(doc=mutated(GOOD_ASSIGNMENT))
def test_no_malformed_assignment_yaml_gives_a_traceback(tmp_path, doc):
    folder = tmp_path / "myassign"
    folder.mkdir(exist_ok=True)
    (folder / "assignment.yaml").write_text(_dump(doc), encoding="utf-8")
    try:
        load_assignment(folder)
    except AssignmentError as error:
        _one_line(error, folder / "assignment.yaml")


@FUZZ
@given(doc=mutated(GOOD_CONFIG))
def test_no_malformed_config_gives_a_traceback(tmp_path, doc):
    from course.config import _read_config_file

    path = tmp_path / "config.yaml"
    path.write_text(_dump(doc), encoding="utf-8")
    try:
        _read_config_file(path)
    except ConfigError as error:
        message = str(error)
        assert message.startswith(str(path)) and "\n" not in message, message


def test_the_error_adapter_names_nested_fields_like_an_author_reads_them():
    from datasets.validation import field_path

    assert field_path(("quiz", 0, "options", 2, "text")) == "quiz[0].options[2].text"
    assert field_path(()) == ""
    assert re.fullmatch(r"graded\[1\]", field_path(("graded", 1)))


GOOD_PRE_POST = {"objectives": [{"id": "o1", "text": "one"}],
                 "forms": {form: [{"id": f"q{form}", "prompt": "p", "objective": "o1", "answer": "a",
                                   "explain": "e", "options": ["a", {"text": "b", "misconception": "m"}]}]
                           for form in ("A", "B")}}


@FUZZ
@given(doc=mutated(GOOD_PRE_POST))
def test_no_malformed_pre_post_test_gives_a_traceback(tmp_path, doc):
    path = tmp_path / "pre-post-test.yaml"
    path.write_text(_dump(doc), encoding="utf-8")
    try:
        load_pre_post_forms(path)
    except ContentError as error:
        _one_line(error, path)
