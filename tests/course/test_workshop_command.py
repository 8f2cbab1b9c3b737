"""`theater workshop`: a trainer opens, lists and closes rooms from a shell."""

import re

from grader.cli import main


def test_a_room_created_from_the_shell_can_be_listed_and_closed(tmp_path, capsys):
    home = ["workshop", "--home", str(tmp_path)]
    assert main([*home, "create", "--scenario", "startup", "--title", "Tuesday cohort"]) == 0
    code = capsys.readouterr().out.split()[0]
    assert re.fullmatch(r"[A-Z2-9]{6}", code)
    assert main([*home, "list"]) == 0
    assert f"{code}  Tuesday cohort (startup)" in capsys.readouterr().out
    assert main([*home, "close", code.lower()]) == 0
    capsys.readouterr()
    assert main([*home, "list"]) == 0
    assert "no open workshops" in capsys.readouterr().out


def test_unknown_rooms_and_scenarios_are_one_line_errors(tmp_path, capsys):
    home = ["workshop", "--home", str(tmp_path)]
    assert main([*home, "close", "QQQQQQ"]) == 2
    assert main([*home, "create", "--scenario", "no-such-company"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("theater workshop: error:") for line in errors)
    assert "no-such-company" in errors[1]
