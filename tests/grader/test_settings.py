"""theater.toml as a typed model: checked once when the course opens, one clear line on a bad value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from theater.cli import main
from grader.course_dir import CourseError, init_course, open_course
from grader.settings import Extension


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return init_course(tmp_path_factory.mktemp("settings") / "course", data={"employees": 20, "days": 30},
                       create_gradebook=False)


@pytest.fixture
def course(template, tmp_path):
    import shutil

    root = tmp_path / "course"
    shutil.copytree(template.root, root, symlinks=True)
    return open_course(root)


def _with(course, text: str):
    path = course.root / "theater.toml"
    path.write_text(path.read_text(encoding="utf-8") + "\n" + text + "\n", encoding="utf-8")
    return path


def test_a_course_written_in_the_existing_format_opens_typed(course):
    _with(course, '[grading]\nscheduler = "local"\nworkers = 4\n\n[lti]\nissuer = "https://lms.example.org"\n\n'
                  '[assignments.detect]\ndue = "2026-12-01 17:00:00 UTC"\nattempts = "unlimited"\ncanvas_id = 1234\n'
                  '[assignments.detect.data]\nemployees = 55\n\n'
                  '[assignments.explore]\ndue = 2026-11-01T09:00:00Z\ncloses = 2026-11-03T09:00:00\nattempts = 2\n')
    opened = open_course(course.root)
    detect = opened.settings_for("detect")
    assert detect.due == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    assert detect.attempts == "unlimited" and detect.canvas_id == "1234" and detect.data.employees == 55
    assert opened.data_spec(opened.assignment("detect")).employees == 55
    explore = opened.settings_for("explore")  # TOML's own date-times, with or without a zone, are UTC
    assert explore.due == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    assert explore.closes - explore.due == timedelta(days=2) and explore.attempts == 2
    assert opened.settings_for("capstone").due is None  # no table: every key at its default
    assert opened.settings["lti"]["issuer"] == "https://lms.example.org"  # other tables are kept for their readers
    assert opened.config.grading.scheduler == "local"


@pytest.mark.parametrize("text, where, what", [
    ("[assignments.detect]\ndeu = \"2026-12-01 17:00 UTC\"", "[assignments.detect]", "unknown key 'deu' (known: due,"),
    ("[assignments.detect]\nattempts = -1", "[assignments.detect] attempts", "whole number of at least 1"),
    ("[assignments.detect]\nlate_penalty = \"harsh\"", "[assignments.detect] late_penalty", "is not a late penalty"),
    ("[assignments.detect]\ndue = \"2026-12-01 17:00 UTC\"\n[assignments.detect.extensions]\nada = \"2026-11-01\"",
     "[assignments.detect]", "the extension of ada ends before the due date"),
    ("[assignments.detect.extensions]\nada = \"+2d\"", "[assignments.detect]", "there is none: give a due date"),
    ("[assignments.detect.extensions]\nada = \"whenever\"", "[assignments.detect.extensions]", "ada: 'whenever'"),
    ("[assignments.detect.data]\nemployes = 20", "[assignments.detect.data]", "unknown key 'employes'"),
    ("[assignments.explore.data]\ndays = 0", "[assignments.explore.data] days", "greater than or equal to 1"),
    ("[assignments.explore.data]\nformat = \"xlsx\"", "[assignments.explore.data] format", "unknown format 'xlsx'"),
    ("[grading]\nscheduler = 8786", "[grading] scheduler", "is not a Dask scheduler address"),
])
def test_a_bad_value_stops_the_course_at_open_naming_file_table_and_key(course, text, where, what):
    path = _with(course, text)
    with pytest.raises(CourseError) as error:
        open_course(course.root)
    message = str(error.value)
    assert message.startswith(f"{path} {where}"), message
    assert what in message and "\n" not in message


def test_a_bad_course_wide_dataset_is_named_by_its_table(course):
    path = course.root / "theater.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("employees = 20", 'employees = "lots"'), encoding="utf-8")
    with pytest.raises(CourseError, match=r"theater.toml \[data\] employees: must be a whole number, not 'lots'"):
        open_course(course.root)


def test_the_cli_says_one_line_and_exits_non_zero_on_a_bad_setting(course, capsys, tmp_path):
    _with(course, "[assignments.detect]\nattempts = \"three\"")
    code = main(["export", "--course", str(course.root), "--to", str(tmp_path / "grades.csv")])
    err = capsys.readouterr().err
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "theater.toml [assignments.detect] attempts: 'three' is not a whole number" in lines[0]
    assert not (tmp_path / "grades.csv").exists()


@pytest.mark.parametrize("value, due, expected", [
    ("+3d", datetime(2026, 12, 1, 17, tzinfo=UTC), datetime(2026, 12, 4, 17, tzinfo=UTC)),
    ("+36h", datetime(2026, 12, 1, 17, tzinfo=UTC), datetime(2026, 12, 3, 5, tzinfo=UTC)),
    ("2026-12-10 17:00 UTC", None, datetime(2026, 12, 10, 17, tzinfo=UTC)),
])
def test_an_extension_is_a_date_or_a_span_after_the_due_date(value, due, expected):
    extension = Extension.parse(value)
    assert extension.due(due) == expected
    assert Extension.parse(extension.as_toml()) == extension  # what `theater extend` writes reads back


@pytest.mark.parametrize("value", ["+0d", "+3w", "-2d", "tomorrow", 3])
def test_a_wrong_extension_is_refused(value):
    with pytest.raises(ValueError):
        Extension.parse(value)
