import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from course import commands

ROOT = Path(__file__).resolve().parents[2]


def test_theater_app_runs_streamlit_on_the_router_with_the_given_home(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(commands, "run_server", lambda cmd, env: calls.append((cmd, env)) or 0)
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    args = parser.parse_args(["app", "--port", "8600", "--home", str(tmp_path)])
    assert args.func(args) == 0
    cmd, env = calls[0]
    assert cmd[1:4] == ["-m", "course.serve", "run"] and cmd[4].endswith("course/app.py")
    assert cmd[cmd.index("--server.port") + 1] == "8600"
    assert env["THEATER_HOME"] == str(tmp_path.resolve())


def test_theater_app_passes_the_deployment_settings_of_the_shipped_config(monkeypatch):
    """`make run` and a deployment from any folder get the same settings as .streamlit/config.toml,
    above all the two without which a live room of phones keeps the server busy."""
    import tomllib
    from pathlib import Path

    calls = []
    monkeypatch.setattr(commands, "run_server", lambda cmd, env: calls.append(cmd) or 0)
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


def _flag(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(f"--{name}") + 1]


def test_the_server_refuses_uploads_over_the_courses_notebook_limit(monkeypatch):
    """Streamlit's own limit is 200 MB: without the flag the server took a 60 MB body that the
    page's uploader would have refused."""
    from grader.grade import MAX_NOTEBOOK_BYTES

    calls = []
    monkeypatch.setattr(commands, "run_server", lambda cmd, env: calls.append(cmd) or 0)
    commands.run_app(port=8601)
    assert int(_flag(calls[0], "server.maxUploadSize")) * 2**20 == MAX_NOTEBOOK_BYTES
    assert _flag(calls[0], "server.enableXsrfProtection") == "true"


def test_the_app_listens_on_this_machine_only_unless_told_otherwise(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(commands, "run_server", lambda cmd, env: calls.append(cmd) or 0)
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    home = tmp_path / "home"
    for extra in ([], ["--address", "0.0.0.0"]):
        args = parser.parse_args(["app", "--home", str(home), *extra])
        assert args.func(args) == 0
    (home / "config.yaml").write_text("address: 10.0.0.5\n")
    args = parser.parse_args(["app", "--home", str(home)])
    assert args.func(args) == 0
    assert [_flag(cmd, "server.address") for cmd in calls] == ["127.0.0.1", "0.0.0.0", "10.0.0.5"]


def test_a_bad_address_on_the_command_line_is_one_clear_error(monkeypatch, tmp_path):
    from datasets.errors import UserError

    monkeypatch.setattr(commands, "run_server", lambda cmd, env: pytest.fail("started anyway"))
    with pytest.raises(UserError, match="not a network address"):
        commands.run_app(home=str(tmp_path), address="0.0.0.0 --server.enableCORS=false")


def test_a_bad_address_in_the_config_is_one_clear_error(tmp_path):
    from course.config import ConfigError, load_config

    (tmp_path / "config.yaml").write_text("address: '0.0.0.0; rm -rf /'\n")
    with pytest.raises(ConfigError, match="address"):
        load_config(tmp_path)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _start_app(tmp_path: Path, port: int) -> tuple[subprocess.Popen, psutil.Process]:
    """`theater app` on `port`, once Streamlit says it serves (it sets up its own signal handlers
    right after that line: a signal before them would end it by default, with no clean exit)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    app = subprocess.Popen([sys.executable, "-m", "theater.cli", "app", "--port", str(port), "--home", str(tmp_path)],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 180
    for line in app.stdout:  # type: ignore[union-attr]
        if "You can now view" in line or time.monotonic() > deadline:
            break
    assert app.poll() is None, f"theater app exited with {app.returncode} before serving"
    while not _listening(port):
        assert time.monotonic() < deadline, "theater app did not start serving in 180 s"
        time.sleep(0.2)
    time.sleep(1.0)
    children = psutil.Process(app.pid).children(recursive=True)
    assert children, "the server runs as a child of theater app"
    return app, children[0]


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_to_theater_app_stops_its_streamlit_child_and_frees_the_port(tmp_path, stop):
    port = _free_port()
    app, server = _start_app(tmp_path, port)
    try:
        app.send_signal(stop)
        code = app.wait(timeout=60)
        assert not server.is_running() or server.status() == psutil.STATUS_ZOMBIE, "Streamlit outlived theater app"
        assert not _listening(port), f"port {port} is still taken after theater app exited"
        assert code == 0, f"theater app exited with {code}, not with Streamlit's own code (0 on a clean stop)"
    finally:
        for process in (server, psutil.Process(app.pid) if app.poll() is None else None):
            if process is not None and process.is_running():
                process.kill()


def test_the_servers_exit_code_is_the_apps():
    assert commands.run_server([sys.executable, "-c", "raise SystemExit(7)"], dict(os.environ)) == 7
    killed = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
    assert commands.run_server(killed, dict(os.environ)) == 128 + signal.SIGKILL


def test_a_server_that_ignores_the_stop_signal_is_killed_after_the_grace_period(tmp_path):
    ready = tmp_path / "ready"
    server = (f"import pathlib, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              f"pathlib.Path({str(ready)!r}).touch(); time.sleep(600)")
    wrapper = (f"import os, sys; from course.commands import run_server; "
               f"sys.exit(run_server([sys.executable, '-c', {server!r}], dict(os.environ), grace=1.0))")
    app = subprocess.Popen([sys.executable, "-c", wrapper], env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert time.monotonic() < deadline and app.poll() is None
        time.sleep(0.1)
    children = psutil.Process(app.pid).children()
    time.sleep(0.3)  # run_server sets its handlers right after starting the server, which is up by now
    app.send_signal(signal.SIGTERM)
    try:
        assert app.wait(timeout=30) == 128 + signal.SIGKILL
        assert not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children)
    finally:
        for child in children:
            if child.is_running():
                child.kill()


def test_the_public_url_flag_reaches_the_app_and_a_bad_one_stops_it(monkeypatch, tmp_path):
    from course.config import PUBLIC_URL_ENV
    from datasets.errors import UserError

    monkeypatch.delenv(PUBLIC_URL_ENV, raising=False)
    envs = []
    monkeypatch.setattr(commands, "run_server", lambda cmd, env: envs.append(env) or 0)
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    args = parser.parse_args(["app", "--home", str(tmp_path / "home"),
                              "--public-url", "https://room.example.org"])
    assert args.func(args) == 0
    assert envs[0][PUBLIC_URL_ENV] == "https://room.example.org/"
    monkeypatch.setattr(commands, "run_server", lambda cmd, env: pytest.fail("started anyway"))
    for bad in ("https://room.example.org/?x=1", "https://me:pw@room.example.org/", "room.example.org"):
        with pytest.raises(UserError, match="public_url"):
            commands.run_app(home=str(tmp_path / "home"), public_url=bad)
