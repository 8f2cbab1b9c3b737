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


def test_theater_app_passes_the_deployment_settings_of_the_shipped_config(monkeypatch):
    """`make run` and a deployment from any folder get the same settings as .streamlit/config.toml,
    above all the two without which a live room of phones keeps the server busy."""
    import tomllib
    from pathlib import Path

    calls = []
    monkeypatch.setattr(commands.subprocess, "call", lambda cmd, env: calls.append(cmd) or 0)
    commands.run_app(port=8601)
    cmd = calls[0]
    assert cmd[cmd.index("--runner.postScriptGC") + 1] == "false"
    assert cmd[cmd.index("--server.fileWatcherType") + 1] == "none"
    shipped = tomllib.loads((Path(commands.__file__).parents[1] / ".streamlit" / "config.toml")
                            .read_text())
    flat = {f"{section}.{name}": value for section, values in shipped.items()
            for name, value in values.items()}
    for name, value in commands.APP_SETTINGS.items():
        assert str(flat[name]).lower() == value.lower(), name
