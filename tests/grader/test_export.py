"""Grade export: nbgrader's CSV columns, Canvas's gradebook shape, late penalties by nbgrader's plugin."""

from __future__ import annotations

import csv
from datetime import datetime

import pytest

from grader.assign import generate_student_version
from grader.course_dir import CourseError, gradebook, init_course, open_course
from grader.export import NBGRADER_COLUMNS, ExportError, PercentPerDayLate, export_grades

DUE = datetime(2026, 3, 1, 12, 0, 0)


@pytest.fixture
def course(tmp_path):
    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30})
    with gradebook(course) as gb:
        gb.update_or_create_student("ada", first_name="Ada", last_name="Lovelace", email="ada@x.org",
                                    lms_user_id="5001")
        gb.update_or_create_student("bob", first_name="Bob", last_name="Builder, Jr.", email="bob@x.org")
        gb.update_or_create_student("cyd", first_name="Cyd", last_name="Charisse")
    generate_student_version(course, course.assignment("explore"))
    with gradebook(course) as gb:
        gb.update_or_create_assignment("explore", duedate=DUE)
        for learner, score, submitted in (("ada", 4.5, datetime(2026, 3, 1, 9, 0)),
                                          ("bob", 6.0, datetime(2026, 3, 2, 13, 0))):  # bob: 1 day 1 h late
            gb.add_submission("explore", learner, timestamp=submitted)
            gb.find_grade("weekly_table", "explore", "explore", learner).auto_score = score
        gb.db.commit()
    return course


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_nbgrader_format_has_nbgraders_columns_and_a_row_per_learner(course, tmp_path):
    path = export_grades(course, "nbgrader", tmp_path / "grades.csv")
    rows = _rows(path)
    assert tuple(rows[0]) == NBGRADER_COLUMNS
    table = {r[3]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert sorted(table) == ["ada", "bob", "cyd"]
    assert table["ada"]["score"] == "4.5" and table["ada"]["max_score"] == "6"
    assert table["bob"]["last_name"] == "Builder, Jr."  # quoted properly, unlike a naive join
    assert table["cyd"]["score"] == "0" and table["cyd"]["timestamp"] == ""
    assert table["bob"]["late_submission_penalty"] == "0"  # nbgrader's default plugin: no penalty


def test_columns_match_nbgraders_own_csv_export(course, tmp_path):
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    plugin = CsvExportPlugin(to=str(tmp_path / "nbgrader.csv"))
    with Gradebook(course.db_url) as gb:
        plugin.export(gb)
    theirs = (tmp_path / "nbgrader.csv").read_text().splitlines()[0].split(",")
    assert tuple(theirs) == NBGRADER_COLUMNS


def test_zero_penalty_for_late_work_through_nbgraders_plugin_config(course, tmp_path):
    config = course.root / "nbgrader_config.py"
    config.write_text(config.read_text() + '\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    rows = _rows(export_grades(open_course(course.root), "nbgrader", tmp_path / "g.csv"))
    table = {r[3]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert table["bob"]["raw_score"] == "6" and table["bob"]["late_submission_penalty"] == "6"
    assert table["bob"]["score"] == "0"
    assert table["ada"]["score"] == "4.5"


def test_percent_per_started_day_penalty(course, tmp_path):
    config = course.root / "nbgrader_config.py"
    config.write_text(config.read_text() + '\nc.AssignLatePenalties.plugin_class = "grader.export.PercentPerDayLate"\n'
                      "c.PercentPerDayLate.percent_per_day = 25\n")
    rows = _rows(export_grades(open_course(course.root), "nbgrader", tmp_path / "g.csv"))
    table = {r[3]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert table["bob"]["late_submission_penalty"] == "3"  # two started days x 25% of 6
    assert table["bob"]["score"] == "3"


def test_percent_per_day_plugin_never_takes_more_than_the_score():
    plugin = PercentPerDayLate(percent_per_day=40)
    assert plugin.late_submission_penalty("x", 5.0, 0) is None
    assert plugin.late_submission_penalty("x", 5.0, 10) == 2.0
    assert plugin.late_submission_penalty("x", 5.0, 86400 * 5) == 5.0


def test_canvas_format_has_points_possible_and_one_column_per_assignment(course, tmp_path):
    rows = _rows(export_grades(course, "canvas", tmp_path / "canvas.csv"))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "explore"]
    assert rows[1][0] == "Points Possible" and rows[1][-1] == "6"
    by_name = {r[0]: r for r in rows[2:]}
    assert by_name["Lovelace, Ada"] == ["Lovelace, Ada", "5001", "", "ada@x.org", "", "4.5"]
    assert by_name["Charisse, Cyd"][-1] == ""  # no submission: blank (Canvas's "missing"), not a graded 0
    assert by_name["Builder, Jr., Bob"][2] == ""  # no SIS id is known: none is made up


def test_canvas_headers_carry_the_canvas_assignment_id_the_course_gives(course, tmp_path):
    with open(course.root / "theater.toml", "a") as handle:
        handle.write('\n[assignments.explore]\ncanvas_id = 123456\n')
    rows = _rows(export_grades(open_course(course.root), "canvas", tmp_path / "canvas.csv"))
    assert rows[0][-1] == "explore (123456)"
    assert rows[1][-1] == "6"


@pytest.mark.parametrize("value", ['"soon"', "-4", "true", '"12 34"'])
def test_a_canvas_id_that_is_not_a_number_is_one_clear_error(course, tmp_path, value):
    with open(course.root / "theater.toml", "a") as handle:
        handle.write(f'\n[assignments.explore]\ncanvas_id = {value}\n')
    with pytest.raises(CourseError, match=r"\[assignments.explore\] canvas_id: .* is not a Canvas assignment id"):
        open_course(course.root)  # checked once, when the course opens



def test_export_errors_are_clear(course, tmp_path):
    with pytest.raises(ExportError, match="unknown format"):
        export_grades(course, "xlsx", tmp_path / "g.csv")
    with pytest.raises(ExportError, match="does not exist"):
        export_grades(course, "nbgrader", tmp_path / "missing" / "g.csv")
    with pytest.raises(ExportError, match="is a folder"):
        export_grades(course, "nbgrader", tmp_path)


def test_empty_gradebook_has_nothing_to_export(tmp_path):
    course = init_course(tmp_path / "empty")
    with pytest.raises(ExportError, match="nothing to export"):
        export_grades(course, "nbgrader", tmp_path / "g.csv")


def _with_sections(course):
    from grader.assign import import_roster, parse_roster

    import_roster(course, parse_roster("id,first_name,last_name,email,lms_user_id,section,sis_user_id\n"
                                       "ada,Ada,Lovelace,ada@x.org,5001,Tuesday,S-1\n"
                                       "bob,Bob,\"Builder, Jr.\",bob@x.org,,Thursday,S-2\n"
                                       "cyd,Cyd,Charisse,,,Tuesday,\n"))
    return course


def test_canvas_csv_fills_section_and_sis_user_id_from_the_roster(course, tmp_path):
    rows = _rows(export_grades(_with_sections(course), "canvas", tmp_path / "canvas.csv"))
    by_name = {r[0]: r for r in rows[2:]}
    assert by_name["Lovelace, Ada"][:5] == ["Lovelace, Ada", "5001", "S-1", "ada@x.org", "Tuesday"]
    assert by_name["Builder, Jr., Bob"][2] == "S-2" and by_name["Builder, Jr., Bob"][4] == "Thursday"
    assert by_name["Charisse, Cyd"][2] == "" and by_name["Charisse, Cyd"][4] == "Tuesday"


def test_export_of_one_section_has_only_its_learners(course, tmp_path):
    _with_sections(course)
    rows = _rows(export_grades(course, "nbgrader", tmp_path / "g.csv", sections=["Tuesday"]))
    assert sorted(r[3] for r in rows[1:]) == ["ada", "cyd"]
    canvas = _rows(export_grades(course, "canvas", tmp_path / "c.csv", sections=["Thursday"]))
    assert [r[0] for r in canvas[2:]] == ["Builder, Jr., Bob"] and canvas[1][0] == "Points Possible"
    with pytest.raises(ExportError, match=r"no section 'Monday' on the roster \(known: Thursday, Tuesday\)"):
        export_grades(course, "nbgrader", tmp_path / "m.csv", sections=["Monday"])


def test_theater_export_takes_a_section(course, tmp_path, capsys):
    from theater.cli import main

    _with_sections(course)
    target = tmp_path / "t.csv"
    assert main(["export", "--section", "Thursday", "--to", str(target), "--course", str(course.root)]) == 0
    assert [r[3] for r in _rows(target)[1:]] == ["bob"]
    assert main(["export", "--section", "Sunday", "--to", str(target), "--course", str(course.root)]) != 0
    assert "no section 'Sunday'" in capsys.readouterr().err
