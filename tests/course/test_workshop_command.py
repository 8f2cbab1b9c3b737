"""`theater workshop`: a trainer opens, lists and closes rooms from a shell."""

import re

from theater.cli import main


def test_a_room_created_from_the_shell_can_be_listed_and_closed(tmp_path, capsys):
    home = ["workshop", "--home", str(tmp_path)]
    assert main([*home, "create", "--scenario", "startup", "--title", "Tuesday cohort",
                 "--owner", "Grace"]) == 0
    code = capsys.readouterr().out.split()[0]
    assert re.fullmatch(r"[A-Z2-9]{6}", code)
    assert main([*home, "list"]) == 0
    out = capsys.readouterr().out
    assert f"{code}  Tuesday cohort (startup)" in out and "owner Grace" in out
    assert main([*home, "close", code.lower()]) == 0
    capsys.readouterr()
    assert main([*home, "list"]) == 0
    assert "no open workshops" in capsys.readouterr().out
    assert main([*home, "list", "--all", "--owner", "grace"]) == 0
    assert "closed" in capsys.readouterr().out
    csv, summary = tmp_path / "r.csv", tmp_path / "r.md"
    assert main([*home, "export", code, "--csv", str(csv), "--summary", str(summary)]) == 0
    assert csv.read_text().startswith("room,title,question_no")
    assert "# Tuesday cohort" in summary.read_text()
    brief = tmp_path / "brief"
    assert main([*home, "export", code, "--csv", str(csv), "--summary", str(summary),
                 "--leader-brief", str(brief)]) == 0
    assert f"and {brief}.md" in capsys.readouterr().out
    page, markdown = (tmp_path / "brief.html").read_text(), (tmp_path / "brief.md").read_text()
    assert page.startswith("<!doctype html>") and "Tuesday cohort" in page
    assert "## What the course recommends" in markdown and "asked no questions" in markdown


def test_unknown_rooms_and_scenarios_are_one_line_errors(tmp_path, capsys):
    home = ["workshop", "--home", str(tmp_path)]
    assert main([*home, "close", "QQQQQQ"]) == 2
    assert main([*home, "create", "--scenario", "no-such-company", "--owner", "Ada"]) == 2
    assert main([*home, "create", "--scenario", "startup"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("theater workshop: error:") for line in errors)
    assert "no-such-company" in errors[1] and "--owner" in errors[2]
