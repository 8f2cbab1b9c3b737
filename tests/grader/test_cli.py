"""The instructor's workflow through the `theater` CLI: init -> assign -> collect -> grade -> feedback -> export."""

from __future__ import annotations

import csv
import shutil
import zipfile

import pytest

from exercises.assignments import SOURCE_DIR
from theater.cli import main

ROSTER = "id,first_name,last_name,email,lms_user_id\nada,Ada,Lovelace,ada@x.org,5001\nbob,Bob,Builder,bob@x.org,5002\n"


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err


@pytest.mark.slow
def test_full_workflow_from_init_to_export(tmp_path, capsys, monkeypatch):
    course = tmp_path / "course"
    code, out, _ = _run(capsys, "course", "init", course, "--employees", 40, "--days", 60)
    assert code == 0 and "created course" in out
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)

    monkeypatch.chdir(course / "source")  # every command finds the course from here
    code, out, _ = _run(capsys, "assign", "explore", "--roster", roster, "--quiet")
    assert code == 0 and "released to 2 learner(s)" in out

    inbox = tmp_path / "canvas.zip"
    with zipfile.ZipFile(inbox, "w") as archive:  # ada hands in the reference solution, bob the blank notebook
        archive.write(SOURCE_DIR / "explore" / "explore.ipynb", "lovelaceada_5001_7_explore.ipynb")
        archive.write(course / "release" / "explore" / "explore.ipynb", "builderbob_5002_3_explore.ipynb")
        archive.writestr("nobody_9_1_explore.ipynb", "{}")
    code, out, _ = _run(capsys, "collect", inbox, "--assignment", "explore")
    assert code == 0 and "collected 2 submission(s)" in out and "1 unmatched" in out

    code, out, err = _run(capsys, "grade", "explore", "--workers", 2, "--quiet")
    assert code == 0, err
    assert "ada: 6/6" in out and "bob: 0/6" in out

    code, out, _ = _run(capsys, "feedback", "explore")
    assert code == 0 and "feedback for 2 learner(s)" in out
    html = (course / "feedback" / "ada" / "explore" / "explore.html").read_text()
    assert "HIDDEN TESTS" not in html and (course / ".theater" / "secret").read_text().strip() not in html

    grades = tmp_path / "grades.csv"
    code, out, _ = _run(capsys, "export", "--format", "nbgrader", "--to", grades)
    assert code == 0
    rows = {r["student_id"]: r for r in csv.DictReader(grades.open())}
    assert rows["ada"]["score"] == "6" and rows["bob"]["score"] == "0" and rows["ada"]["max_score"] == "6"
    code, _, _ = _run(capsys, "export", "--format", "canvas", "--to", tmp_path / "canvas.csv", "--course", course)
    assert code == 0
    canvas = list(csv.reader((tmp_path / "canvas.csv").open()))
    assert canvas[0][-1] == "explore" and canvas[1][0] == "Points Possible"


def test_course_init_refuses_an_existing_course_in_one_line(tmp_path, capsys):
    assert _run(capsys, "course", "init", tmp_path / "c", "--employees", 20, "--days", 30)[0] == 0
    code, _, err = _run(capsys, "course", "init", tmp_path / "c")
    assert code == 2 and "not empty" in err
    _one_line_error(err)


def test_commands_outside_a_course_say_how_to_make_one(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for argv in (("assign", "explore", "--roster", "r.csv"), ("collect", "x", "--assignment", "explore"),
                 ("grade", "explore"), ("feedback", "explore"), ("export", "--to", "g.csv")):
        code, _, err = _run(capsys, *argv)
        assert code == 2, argv
        assert "course init" in err
        _one_line_error(err)


def test_bad_roster_is_one_line_naming_the_row(tmp_path, capsys):
    _run(capsys, "course", "init", tmp_path / "c", "--employees", 20, "--days", 30)
    roster = tmp_path / "r.csv"
    roster.write_text("id\nada\nada\n")
    code, _, err = _run(capsys, "assign", "explore", "--roster", roster, "--course", tmp_path / "c")
    assert code == 2 and "row 3" in err
    _one_line_error(err)
    assert not list((tmp_path / "c" / "outbound").iterdir())


def test_unknown_assignment_lists_the_known_ones(tmp_path, capsys):
    _run(capsys, "course", "init", tmp_path / "c")
    code, _, err = _run(capsys, "feedback", "nope", "--course", tmp_path / "c")
    assert code == 2 and "known: detect, explore, measure, memo" in err
    _one_line_error(err)


def test_grade_passes_its_options_to_the_grader(tmp_path, capsys, monkeypatch):
    import grader.grade

    _run(capsys, "course", "init", tmp_path / "c")
    calls = []

    class Report:
        def summary(self):
            return "graded"

    def fake_grade(course_dir, assignment, workers, learners, progress, force, scheduler):
        calls.append((str(course_dir), assignment, workers, learners, progress, force, scheduler))
        return Report()

    monkeypatch.setattr(grader.grade, "grade", fake_grade)
    code, out, _ = _run(capsys, "grade", "detect", "--workers", 3, "--learner", "ada", "--quiet", "--force",
                        "--course", tmp_path / "c")
    assert code == 0 and out.strip() == "graded"
    assert calls == [(str((tmp_path / "c").resolve()), "detect", 3, ["ada"], False, True, None)]
    code, _, err = _run(capsys, "grade", "detect", "--workers", 0, "--course", tmp_path / "c")
    assert code == 2 and "at least 1" in err


def test_grade_sends_work_to_the_courses_scheduler_unless_told_otherwise(tmp_path, capsys, monkeypatch):
    import grader.grade

    _run(capsys, "course", "init", tmp_path / "c")
    with open(tmp_path / "c" / "theater.toml", "a") as handle:
        handle.write('\n[grading]\nscheduler = "tcp://grading.example.org:8786"\n')
    seen = []

    class Report:
        def summary(self):
            return "graded"

    monkeypatch.setattr(grader.grade, "grade", lambda *a, scheduler, **k: seen.append(scheduler) or Report())
    for extra in ((), ("--scheduler", "tcp://10.0.0.5:8786"), ("--scheduler", "local")):
        code, _, _ = _run(capsys, "grade", "detect", "--course", tmp_path / "c", *extra)
        assert code == 0
    assert seen == ["tcp://grading.example.org:8786", "tcp://10.0.0.5:8786", None]
    code, _, err = _run(capsys, "grade", "detect", "--course", tmp_path / "c", "--scheduler", "grading-box")
    assert code == 2 and "not a Dask scheduler address" in err
    _one_line_error(err)


def test_collect_with_only_unmatched_files_exits_non_zero(tmp_path, capsys):
    _run(capsys, "course", "init", tmp_path / "c")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SOURCE_DIR / "explore" / "explore.ipynb", inbox / "stranger.ipynb")
    code, out, _ = _run(capsys, "collect", inbox, "--assignment", "explore", "--course", tmp_path / "c")
    assert code == 1 and "unmatched: stranger.ipynb" in out


def test_a_gradebook_locked_by_another_program_is_one_line_naming_it_and_is_left_alone(tmp_path, capsys):
    import subprocess
    import sys

    from grader.course_dir import gradebook, init_course

    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30})
    with gradebook(course):
        pass
    db = course.root / "gradebook.db"
    before = db.read_bytes()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); "
         "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(120)", str(db)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, _, err = _run(capsys, "export", "--course", course.root, "--to", tmp_path / "grades.csv")
    finally:
        holder.kill()
        holder.wait()
    assert code != 0
    _one_line_error(err)
    assert "gradebook" in err and "is busy" in err and f"pid {holder.pid}" in err
    assert "internal error" not in err
    assert db.read_bytes() == before and not (tmp_path / "grades.csv").exists()   # nothing moved or written
    assert sorted(p.name for p in course.root.glob("gradebook.db*")) == ["gradebook.db"]


def test_python_m_grader_cli_still_runs_the_theater_command(tmp_path):
    """The console script moved to theater/cli.py; scripts and installs that call grader.cli keep working."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import grader.cli
    import theater.cli

    assert grader.cli.main is theater.cli.main
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-m", "grader.cli", "course", "init", str(tmp_path / "c"),
                          "--employees", "20", "--days", "30"], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(root)})
    assert run.returncode == 0 and "created course" in run.stdout, run.stderr[-2000:]
    assert (tmp_path / "c" / "theater.toml").is_file()
