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
