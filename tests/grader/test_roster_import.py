"""The app's roster import: the same rules as `theater assign --roster`, without releasing anything."""

from __future__ import annotations

import pytest

from course.auth import load_access_codes
from grader.assign import Learner, RosterError, assign, import_roster, parse_roster, read_roster, roster
from grader.course_dir import init_course


def test_an_upload_is_read_with_the_same_rules_as_a_roster_file(tmp_path):
    text = "\ufeffid,first_name,last_name,email,lms_user_id\nada,Ada,Lovelace,ada@x.org,5001\n"
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    assert parse_roster(text.encode("utf-8"), "upload.csv") == read_roster(path)
    with pytest.raises(RosterError, match="upload.csv: row 3: lms_user_id '5001' repeats row 2"):
        parse_roster(text + "bob,Bob,B,bob@x.org,5001\n", "upload.csv")


def test_import_registers_learners_and_issues_codes_once_without_releasing(tmp_path):
    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30})
    learners = [Learner("ada", "Ada", "Lovelace", "ada@x.org", "5001"), Learner("bob")]
    first = import_roster(course, learners)
    assert sorted(first) == ["ada", "bob"] and set(load_access_codes(course.access_codes_path)) == {"ada", "bob"}
    assert import_roster(course, learners) == {}  # learners who have a code keep it
    assert roster(course) == learners
    assert not any(course.path("outbound").iterdir()) and not any(course.path("release").iterdir())


def test_a_taken_lms_user_id_stops_the_import_before_anything_is_written(tmp_path):
    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30})
    import_roster(course, [Learner("ada", lms_user_id="5001")])
    with pytest.raises(RosterError, match="'5001' of 'bob' already belongs to 'ada'"):
        import_roster(course, [Learner("bob", lms_user_id="5001")])
    assert [x.id for x in roster(course)] == ["ada"] and "bob" not in load_access_codes(course.access_codes_path)


def test_releasing_to_an_empty_roster_says_so(tmp_path):
    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30})
    with pytest.raises(RosterError, match="import a roster first"):
        assign(course, "explore", [])


CANVAS_ROSTER = ("id,first_name,last_name,email,lms_user_id,section,sis_user_id\n"
                 "ada,Ada,Lovelace,ada@x.org,5001,Tuesday group,S-100\n"
                 "bob,Bob,Builder,bob@x.org,5002,Thursday group,S-200\n"
                 "cyd,Cyd,Charisse,,5003,Tuesday group,\n")


def test_sections_and_sis_ids_are_kept_and_a_later_roster_without_them_keeps_them(tmp_path):
    from grader.assign import roster_details, sections

    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30}, create_gradebook=False)
    import_roster(course, parse_roster(CANVAS_ROSTER, "canvas.csv"))
    found = {x.id: x for x in roster(course)}
    assert (found["ada"].section, found["ada"].sis_user_id) == ("Tuesday group", "S-100")
    assert (found["cyd"].section, found["cyd"].sis_user_id) == ("Tuesday group", None)
    assert sections(course) == ["Thursday group", "Tuesday group"]
    import_roster(course, parse_roster("id,email\nada,ada@new.org\n", "plain.csv"))  # no section column
    assert roster_details(course)["ada"] == {"section": "Tuesday group", "sis_user_id": "S-100"}
    import_roster(course, parse_roster("id,section\nada,Friday group\nbob,\n", "moves.csv"))
    found = {x.id: x for x in roster(course)}
    assert found["ada"].section == "Friday group" and found["bob"].section is None  # a blank clears it
    assert found["bob"].sis_user_id == "S-200"
    assert oct(course.path(".theater", "roster.json").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("text, message", [
    ("id,sis_user_id\nada,S-1\nbob,S-1\n", "row 3: sis_user_id 'S-1' repeats row 2"),
    ("id,section\nada," + "x" * 101 + "\n", "row 2: section must be at most 100 printable characters"),
    ("id,section\nada,A\x07B\n", "row 2: section must be at most 100 printable characters"),
    ("id,group\nada,A\n", r"unknown column\(s\) group"),
])
def test_a_bad_section_or_sis_id_is_one_clear_line(text, message):
    with pytest.raises(RosterError, match=message):
        parse_roster(text, "r.csv")


def test_a_taken_sis_user_id_stops_the_import(tmp_path):
    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30}, create_gradebook=False)
    import_roster(course, parse_roster("id,sis_user_id\nada,S-1\n"))
    with pytest.raises(RosterError, match="sis_user_id 'S-1' of 'bob' already belongs to 'ada'"):
        import_roster(course, parse_roster("id,sis_user_id\nbob,S-1\n"))
    assert [x.id for x in roster(course)] == ["ada"]
