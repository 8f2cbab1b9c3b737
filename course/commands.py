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


def _room_line(room) -> str:
    state = (f"open until {room.expires_at:%Y-%m-%d %H:%M} UTC" if room.closed_at is None
             else f"closed {room.closed_at:%Y-%m-%d %H:%M} UTC")
    return f"{room.code}  {room.title} ({room.scenario}), {state}, owner {room.owner or '-'}"


def workshop_create(scenario: str, title: str | None, hours: float, home: str | None,
                    owner: str | None = None) -> int:
    """Open a room before the session starts, so the join code can go on the first slide. It
    belongs to `owner`, the staff account name the trainer gives in the app."""
    from course.workshop import DEFAULT_HOURS, WorkshopError

    if not owner:
        raise WorkshopError("give --owner: the staff account name that will run the room in "
                            "the app (rooms belong to the account that opened them)")
    room = _workshop_store(home).create_workshop(scenario, title,
                                                 hours if hours else DEFAULT_HOURS, owner=owner)
    print(_room_line(room))
    return 0


def workshop_list(home: str | None, include_closed: bool = False,
                  owner: str | None = None) -> int:
    store = _workshop_store(home)
    rooms = store.workshop_history(owner) if include_closed else store.active_workshops(owner)
    if not rooms:
        print("no workshops" if include_closed else "no open workshops")
    for room in rooms:
        print(_room_line(room))
    return 0


def workshop_close(code: str, home: str | None) -> int:
    store = _workshop_store(home)
    store.close_workshop(code)
    print(f"closed {store.get_workshop(code).code}")
    return 0


def workshop_export(code: str, csv_path: str | None, summary_path: str | None,
                    home: str | None) -> int:
    """A room's results as CSV (counts per option) and a one-page Markdown summary."""
    from course.workshop_report import results_csv, room_summary

    store = _workshop_store(home)
    room = store.get_workshop(code)
    csv_file = Path(csv_path or f"workshop-{room.code}.csv")
    summary_file = Path(summary_path or f"workshop-{room.code}-summary.md")
    csv_file.write_bytes(results_csv(store, room))
    summary_file.write_text(room_summary(store, room), encoding="utf-8")
    print(f"wrote {csv_file} and {summary_file}")
    return 0


def _register_workshop(subparsers: argparse._SubParsersAction) -> None:
    workshop = subparsers.add_parser("workshop", help="create, list, close and export live workshop rooms")
    workshop.add_argument("--home", default=None, help="the app's state folder (default: var/, or $THEATER_HOME)")
    actions = workshop.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="open a room and print its join code")
    create.add_argument("--scenario", default="mandate-bigco", help="company profile the room works on")
    create.add_argument("--title", default=None)
    create.add_argument("--hours", type=float, default=0, help="how long the room stays open")
    create.add_argument("--owner", default=None,
                        help="staff account name that runs the room in the app")
    create.set_defaults(func=lambda a: workshop_create(a.scenario, a.title, a.hours, a.home, a.owner))
    listing = actions.add_parser("list", help="rooms still open (--all: closed ones too)")
    listing.add_argument("--all", action="store_true", help="include closed rooms")
    listing.add_argument("--owner", default=None, help="only this staff account's rooms")
    listing.set_defaults(func=lambda a: workshop_list(a.home, a.all, a.owner))
    close = actions.add_parser("close", help="close a room (no more joins or answers)")
    close.add_argument("code")
    close.set_defaults(func=lambda a: workshop_close(a.code, a.home))
    export = actions.add_parser("export", help="write a room's results (CSV) and summary (Markdown)")
    export.add_argument("code")
    export.add_argument("--csv", default=None, help="default: workshop-CODE.csv")
    export.add_argument("--summary", default=None, help="default: workshop-CODE-summary.md")
    export.set_defaults(func=lambda a: workshop_export(a.code, a.csv, a.summary, a.home))
