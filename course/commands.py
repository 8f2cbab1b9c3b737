"""`theater app` starts the course app; `theater workshop` lets a trainer manage live rooms from a shell."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")
# The settings of .streamlit/config.toml (which explains them), passed as flags too so they hold
# wherever `theater app` is started from. Without the first two a live workshop of 20 phones kept
# 2 cores busy with the room idle.
APP_SETTINGS: dict[str, str] = {
    "runner.postScriptGC": "false",
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "minimal",
    # Streamlit's default red gives white button text 3.2:1; Okabe-Ito blue gives 5.2:1 (WCAG AA).
    "theme.primaryColor": "#0072B2",
}

THEME_FLAGS = ("--theme.primaryColor", APP_SETTINGS["theme.primaryColor"])


def streamlit_flags(settings: dict[str, str] = APP_SETTINGS) -> list[str]:
    return [part for name, value in settings.items() for part in (f"--{name}", value)]


def run_app(port: int = 8501, headless: bool = True, home: str | None = None) -> int:
    """Run `streamlit run course/app.py`; state lives under var/ unless home or THEATER_HOME is set."""
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(port),
        "--server.headless", "true" if headless else "false",
        *streamlit_flags(),
    ]
    env = os.environ.copy()
    if home:
        env["THEATER_HOME"] = str(Path(home).expanduser().resolve())
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:   # Ctrl-C stops the app; that is not an error
        return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    app = subparsers.add_parser("app", help="start the course app (http://localhost:8501)")
    app.add_argument("--port", type=int, default=8501)
    app.add_argument("--home", default=None,
                     help="folder for the app's state (default: var/, or $THEATER_HOME)")
    app.set_defaults(func=lambda a: run_app(port=a.port, home=a.home))
    _register_workshop(subparsers)


def _workshop_store(home: str | None):
    """The app's own workshop store, on the database its config names."""
    from course.config import load_config
    from course.progress import ProgressStore
    from course.workshop import WorkshopStore

    config = load_config(Path(home).expanduser().resolve() if home else None)
    return WorkshopStore(ProgressStore(config.database_url).engine)


def workshop_create(scenario: str, title: str | None, hours: float, home: str | None) -> int:
    """Open a room before the session starts, so the join code can go on the first slide."""
    from course.workshop import DEFAULT_HOURS

    room = _workshop_store(home).create_workshop(scenario, title, hours if hours else DEFAULT_HOURS)
    print(f"{room.code}  {room.title} ({room.scenario}), open until {room.expires_at:%Y-%m-%d %H:%M} UTC")
    return 0


def workshop_list(home: str | None) -> int:
    rooms = _workshop_store(home).active_workshops()
    if not rooms:
        print("no open workshops")
    for room in rooms:
        print(f"{room.code}  {room.title} ({room.scenario}), open until {room.expires_at:%Y-%m-%d %H:%M} UTC")
    return 0


def workshop_close(code: str, home: str | None) -> int:
    store = _workshop_store(home)
    store.close_workshop(code)
    print(f"closed {store.get_workshop(code).code}")
    return 0


def _register_workshop(subparsers: argparse._SubParsersAction) -> None:
    workshop = subparsers.add_parser("workshop", help="create, list and close live workshop rooms")
    workshop.add_argument("--home", default=None, help="the app's state folder (default: var/, or $THEATER_HOME)")
    actions = workshop.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="open a room and print its join code")
    create.add_argument("--scenario", default="mandate-bigco", help="company profile the room works on")
    create.add_argument("--title", default=None)
    create.add_argument("--hours", type=float, default=0, help="how long the room stays open")
    create.set_defaults(func=lambda a: workshop_create(a.scenario, a.title, a.hours, a.home))
    actions.add_parser("list", help="rooms still open").set_defaults(func=lambda a: workshop_list(a.home))
    close = actions.add_parser("close", help="close a room (no more joins or answers)")
    close.add_argument("code")
    close.set_defaults(func=lambda a: workshop_close(a.code, a.home))
