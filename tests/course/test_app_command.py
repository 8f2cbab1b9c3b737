import argparse

from course import commands


def test_theater_app_runs_streamlit_on_the_router_with_the_given_home(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(commands.subprocess, "call",
                        lambda cmd, env: calls.append((cmd, env)) or 0)
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    args = parser.parse_args(["app", "--port", "8600", "--home", str(tmp_path)])
    assert args.func(args) == 0
    cmd, env = calls[0]
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("course/app.py")
    assert cmd[cmd.index("--server.port") + 1] == "8600"
    assert env["THEATER_HOME"] == str(tmp_path.resolve())
