"""`theater users` manages staff accounts; `theater app --course DIR` serves an instructor's course."""

from __future__ import annotations

import stat

import pytest

from course import commands
from course.auth import load_staff, verify_staff
from theater.cli import main
from grader.course_dir import init_course


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    for name in ("THEATER_STAFF_PASSWORD", "THEATER_COURSE", "THEATER_DATABASE_URL", "THEATER_COURSE_CODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("THEATER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_users_add_generates_a_password_shown_once_and_stored_hashed(home, capsys):
    assert main(["users", "add", "ines", "--role", "instructor", "--generate"]) == 0
    out = capsys.readouterr().out
    password = out.split("stored only hashed): ")[1].strip()
    path = home / "course" / ".theater" / "staff.json"
    assert password not in path.read_text() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert verify_staff(load_staff(path), "ines", password).role == "instructor"
    assert main(["users", "list"]) == 0
    assert "ines  instructor" in capsys.readouterr().out


def test_users_add_twice_is_one_clear_error_and_replace_resets(home, capsys):
    main(["users", "add", "tom", "--role", "trainer", "--generate"])
    capsys.readouterr()
    assert main(["users", "add", "tom", "--role", "trainer", "--generate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--replace" in err
    assert main(["users", "add", "tom", "--role", "trainer", "--generate", "--replace"]) == 0
    assert main(["users", "remove", "tom"]) == 0
    assert main(["users", "remove", "tom"]) == 2


def test_users_add_prompts_twice_on_a_terminal(home, monkeypatch, capsys):
    answers = iter(["typed password 1", "typed password 1"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["users", "add", "ann", "--role", "trainer"]) == 0
    assert "typed password" not in capsys.readouterr().out
    assert verify_staff(load_staff(home / "course" / ".theater" / "staff.json"), "ann", "typed password 1")


def test_users_work_on_the_course_given(tmp_path, capsys):
    course = init_course(tmp_path / "spring", create_gradebook=False)
    assert main(["users", "add", "ines", "--role", "instructor", "--generate", "--course", str(course.root)]) == 0
    assert "ines" in load_staff(course.staff_path)


def test_theater_app_serves_the_given_course(tmp_path, monkeypatch):
    course = init_course(tmp_path / "spring", create_gradebook=False)
    calls = []
    monkeypatch.setattr(commands, "run_server", lambda cmd, env: calls.append(env) or 0)
    assert main(["app", "--course", str(course.root)]) == 0
    assert calls[0]["THEATER_COURSE"] == str(course.root)


def test_theater_app_refuses_a_folder_that_is_not_a_course(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(commands, "run_server", lambda cmd, env: calls.append(env) or 0)
    (tmp_path / "nothing").mkdir()
    assert main(["app", "--course", str(tmp_path / "nothing")]) == 2
    assert not calls and "theater course init" in capsys.readouterr().err


def test_users_add_creates_a_teaching_assistant_account(home, capsys):
    assert main(["users", "add", "tia", "--role", "ta", "--generate"]) == 0
    password = capsys.readouterr().out.split("stored only hashed): ")[1].strip()
    path = home / "course" / ".theater" / "staff.json"
    assert verify_staff(load_staff(path), "tia", password).role == "ta"
    with pytest.raises(SystemExit):  # argparse refuses an unknown role before anything is written
        main(["users", "add", "tim", "--role", "janitor", "--generate"])
    assert "tim" not in load_staff(path)
