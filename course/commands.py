"""`theater app` starts the course app; `theater workshop` lets a trainer manage live rooms from a shell."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from datasets.errors import UserError

if TYPE_CHECKING:
    from course.config import AppConfig

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
    # The upload limit enforced by the server, not only by the page's uploader: the course's 20 MB
    # notebook limit (grader.grade.MAX_NOTEBOOK_BYTES; Streamlit's own default is 200 MB).
    "server.maxUploadSize": "20",
    "server.enableXsrfProtection": "true",   # Streamlit's default, kept whatever a user config says
    # Streamlit's default red gives white button text 3.2:1; Okabe-Ito blue gives 5.2:1 (WCAG AA).
    "theme.primaryColor": "#0072B2",
}

THEME_FLAGS = ("--theme.primaryColor", APP_SETTINGS["theme.primaryColor"])


def streamlit_flags(settings: dict[str, str] = APP_SETTINGS) -> list[str]:
    return [part for name, value in settings.items() for part in (f"--{name}", value)]


LOCAL_ADDRESSES = ("127.0.0.1", "localhost", "::1")   # reachable from this machine only


def run_app(port: int = 8501, headless: bool = True, home: str | None = None,
            course: str | None = None, address: str | None = None,
            public_url: str | None = None) -> int:
    """Run the course app's server (course.serve: `streamlit run course/app.py` with Streamlit's
    metrics endpoint closed and the grading worker started); state lives under var/ unless home
    or THEATER_HOME is set.

    `course` is the instructor's course directory to serve (else `course:` in var/config.yaml,
    else var/course/, created on first start). The course is checked before Streamlit starts, so a
    wrong path is one clear error, not a broken page. `address` is where the server listens (else
    `address:` in var/config.yaml, else 127.0.0.1: this machine only). `public_url` is the address
    participants' phones open, which the workshop's QR code and join link carry (else
    `public_url:` in var/config.yaml, else the address the projector's tab was opened with)."""
    env = os.environ.copy()
    if home:
        env["THEATER_HOME"] = str(Path(home).expanduser().resolve())
    if course:
        env["THEATER_COURSE"] = str(Path(course).expanduser().resolve())
    from course.config import ADDRESS_PATTERN, PUBLIC_URL_ENV, check_public_url

    if public_url is not None:
        env[PUBLIC_URL_ENV] = check_public_url(public_url)   # checked before anything starts

    config = _check_course(env)  # var/ and the course are made 0700 here, so all the app writes there is private
    listen = address or config.address
    if not re.fullmatch(ADDRESS_PATTERN, listen):
        raise UserError(f"--address {listen!r} is not a network address: give an IP address or a host "
                        "name, e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)")
    cmd = [
        sys.executable, "-m", "course.serve", "run", str(APP),
        "--server.port", str(port),
        "--server.address", listen,
        "--server.headless", "true" if headless else "false",
        *streamlit_flags(),
    ]
    print(f"Signal or Theater: listening on {listen}:{port}"
          + (" (this machine only; --address 0.0.0.0 for every network interface)"
             if listen in LOCAL_ADDRESSES else ""), file=sys.stderr, flush=True)
    joins = env.get(PUBLIC_URL_ENV) or config.public_url
    if joins:
        print(f"Signal or Theater: workshop join links and QR codes open {joins}",
              file=sys.stderr, flush=True)
    try:
        return run_server(cmd, env)
    except KeyboardInterrupt:   # Ctrl-C before the server started stops the app; that is not an error
        return 0


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
STOP_GRACE_SECONDS = 20.0  # Streamlit stops in about a second; one that hangs is killed after this


def run_server(cmd: list[str], env: dict[str, str], grace: float = STOP_GRACE_SECONDS) -> int:
    """Run the server as our child and stop with it: SIGTERM or SIGINT (a service manager, a container
    stop, Ctrl-C) is passed on to it, we wait for it to exit (killing it after `grace` seconds) and
    return its exit code (128 + the signal's number when a signal ended it), so no server is left
    holding the port after `theater app` is gone."""
    child = subprocess.Popen(cmd, env=env)
    stopping: list[float] = []

    def forward(signum: int, _frame: object) -> None:
        stopping.append(time.monotonic())
        if child.poll() is None:
            child.send_signal(signum)

    previous = {number: signal.signal(number, forward) for number in STOP_SIGNALS}
    try:
        while True:
            try:
                code = child.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if stopping and time.monotonic() - stopping[0] > grace:
                    child.kill()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 128 - code if code < 0 else code


def _check_course(env: dict[str, str]) -> AppConfig:
    """Open (or on the embedded default, create) the course the app will serve; say which."""
    from course.config import announce, load_config

    home = env.get("THEATER_HOME")
    config = load_config(Path(home) if home else None, env.get("THEATER_COURSE") or None)
    announce(config)
    print(f"Signal or Theater: serving the course {config.course.course_id!r} in {config.course.root}",
          file=sys.stderr, flush=True)
    return config


def register(subparsers: argparse._SubParsersAction) -> None:
    app = subparsers.add_parser("app", help="start the course app (http://localhost:8501)")
    app.add_argument("--port", type=int, default=8501)
    app.add_argument("--home", default=None,
                     help="folder for the app's state (default: var/, or $THEATER_HOME)")
    app.add_argument("--course", default=None, metavar="DIR",
                     help="the instructor's course directory to serve (default: `course:` in "
                          "var/config.yaml, else var/course/, created on first start)")
    app.add_argument("--address", default=None,
                     help="the network address to listen on (default: `address:` in var/config.yaml, "
                          "else 127.0.0.1, this machine only; 0.0.0.0 for every interface)")
    app.add_argument("--public-url", default=None, metavar="URL",
                     help="the address participants' phones open, e.g. https://workshop.example.org/; "
                          "the workshop's QR code and join link use it (default: `public_url:` in "
                          "var/config.yaml, else the address the projector's tab was opened with)")
    app.set_defaults(func=lambda a: run_app(port=a.port, home=a.home, course=a.course,
                                            address=a.address, public_url=a.public_url))
    _register_workshop(subparsers)
    _register_users(subparsers)


# ----------------------------------------------------------------------------- theater users

def _users_path(home: str | None, course: str | None) -> Path:
    """The staff accounts file of the course the app serves (same rules as `theater app`)."""
    from course.config import load_config

    config = load_config(Path(home).expanduser().resolve() if home else None, course)
    return config.staff_path


def _new_password(generate: bool) -> tuple[str, bool]:
    """Prompted twice on a terminal; generated (and printed once) with --generate or without one."""
    import getpass

    from course.auth import generate_password

    if generate or not sys.stdin.isatty():
        return generate_password(), True
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat it: "):
        raise UserError("the two passwords differ; nothing was changed")
    return first, False


def users_add(name: str, role: str, home: str | None = None, course: str | None = None,
              generate: bool = False, replace: bool = False) -> int:
    """Create a staff account (or reset its password with `replace`); the password is stored hashed."""
    from course.auth import add_staff

    path = _users_path(home, course)
    password, generated = _new_password(generate)
    add_staff(path, name, role, password, replace=replace)
    print(f"{'reset' if replace else 'created'} {role} account {name!r} in {path}")
    if generated:
        print(f"password (shown once, stored only hashed): {password}")
    return 0


def users_list(home: str | None = None, course: str | None = None) -> int:
    from course.auth import load_staff

    accounts = load_staff(_users_path(home, course))
    if not accounts:
        print("no staff accounts; create one with `theater users add NAME --role instructor`")
    for account in sorted(accounts.values(), key=lambda a: a.name):
        links = "".join(f"  LMS {issuer} user {sub}" for issuer, sub in sorted(account.lms_identities))
        print(f"{account.label}  {account.role}{links}")
    return 0


def users_link(name: str, issuer: str, sub: str, home: str | None = None, course: str | None = None,
               unlink: bool = False) -> int:
    """Vouch (or stop vouching) that an LMS user is this staff account: their LTI launches with an
    instructor or TA role in the LMS course then sign in as it (docs/lti.md)."""
    from course.auth import link_staff, unlink_staff

    (unlink_staff if unlink else link_staff)(_users_path(home, course), name, issuer, sub)
    print(f"{'unlinked' if unlink else 'linked'} LMS user {sub} of {issuer} {'from' if unlink else 'to'} {name!r}")
    return 0


def users_remove(name: str, home: str | None = None, course: str | None = None) -> int:
    from course.auth import remove_staff

    remove_staff(_users_path(home, course), name)
    print(f"removed {name!r}")
    return 0


def _register_users(subparsers: argparse._SubParsersAction) -> None:
    from course.auth import ROLES

    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--home", default=None, help="the app's state folder (default: var/, or $THEATER_HOME)")
    where.add_argument("--course", default=None, metavar="DIR",
                       help="the course directory (default: the one `theater app` serves)")
    users = subparsers.add_parser("users", help="staff accounts (instructors, teaching assistants, trainers) of the app's course")
    actions = users.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", parents=[where],
                             help="create an account (password prompted, or generated and shown once)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--generate", action="store_true", help="generate the password and print it once")
    add.add_argument("--replace", action="store_true", help="reset an existing account's password")
    add.set_defaults(func=lambda a: users_add(a.name, a.role, a.home, a.course, a.generate, a.replace))
    actions.add_parser("list", parents=[where], help="accounts and their roles").set_defaults(
        func=lambda a: users_list(a.home, a.course))
    remove = actions.add_parser("remove", parents=[where], help="delete an account")
    remove.add_argument("name")
    remove.set_defaults(func=lambda a: users_remove(a.name, a.home, a.course))
    for action, undo in (("link", False), ("unlink", True)):
        link = actions.add_parser(action, parents=[where], help=(
            "stop an LMS user's LTI launches signing in as this account" if undo else
            "let an LMS user's LTI launches (instructor or TA role) sign in as this account"))
        link.add_argument("name")
        link.add_argument("--issuer", required=True, help="the LMS's issuer, as registered with `theater lti register`")
        link.add_argument("--sub", required=True, help="the LMS user id the launch carries (the refusal page shows it)")
        link.set_defaults(func=lambda a, undo=undo: users_link(a.name, a.issuer, a.sub, a.home, a.course, undo))


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


def read_audit_file(path: Path):
    """An audit room file from disk, read no further than its size cap (course.audit_room)."""
    from course.audit_room import MAX_FILE_BYTES, AuditRoomError, read_room_file

    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise AuditRoomError(f"{path}: a folder, not an audit room file") from None
    except OSError as exc:
        raise AuditRoomError(f"cannot read {path}: {exc.strerror or exc}") from None
    return read_room_file(data, name=str(path))


def workshop_create(scenario: str | None, title: str | None, hours: float, home: str | None,
                    owner: str | None = None, audit_file: str | None = None,
                    compare_from: str | None = None) -> int:
    """Open a room before the session starts, so the join code can go on the first slide. It
    belongs to `owner`, the staff account name the trainer gives in the app. With `audit_file`
    the room discusses that organisation's own audit instead of a generated company."""
    from course.workshop import DEFAULT_HOURS, WorkshopError

    if not owner:
        raise WorkshopError("give --owner: the staff account name that will run the room in "
                            "the app (rooms belong to the account that opened them)")
    if scenario and audit_file:
        raise WorkshopError("give --scenario or --audit-file, not both: a room discusses one "
                            "company")
    audit = read_audit_file(Path(audit_file)) if audit_file else None
    if compare_from:
        import datetime as dt

        from course.audit_room import with_comparison

        if audit is None:
            raise WorkshopError("--compare-from splits an audit file's weeks: give --audit-file too")
        try:
            day = dt.date.fromisoformat(compare_from)
        except ValueError:
            raise WorkshopError(f"--compare-from {compare_from[:40]!r}: give a date as YYYY-MM-DD") from None
        audit = with_comparison(audit, day)
    room = _workshop_store(home).create_workshop(scenario or "mandate-bigco", title,
                                                 hours if hours else DEFAULT_HOURS, owner=owner,
                                                 audit=audit)
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
                    home: str | None, brief_path: str | None = None) -> int:
    """A room's results as CSV (counts per option) and a one-page Markdown summary; with
    `brief_path` also its leader brief (HTML there, Markdown beside it as .md)."""
    from course.workshop_report import results_csv, room_summary

    store = _workshop_store(home)
    room = store.get_workshop(code)
    csv_file = Path(csv_path or f"workshop-{room.code}.csv")
    summary_file = Path(summary_path or f"workshop-{room.code}-summary.md")
    csv_file.write_bytes(results_csv(store, room))
    summary_file.write_text(room_summary(store, room), encoding="utf-8")
    written = [csv_file, summary_file]
    if brief_path:
        from course.leader_brief import leader_brief_files

        page, markdown = leader_brief_files(store, room)
        brief_file = Path(brief_path).with_suffix(".html")
        brief_file.write_text(page, encoding="utf-8")
        brief_file.with_suffix(".md").write_text(markdown, encoding="utf-8")
        written += [brief_file, brief_file.with_suffix(".md")]
    print(f"wrote {', '.join(map(str, written[:-1]))} and {written[-1]}")
    return 0


def _register_workshop(subparsers: argparse._SubParsersAction) -> None:
    workshop = subparsers.add_parser("workshop", help="create, list, close and export live workshop rooms")
    workshop.add_argument("--home", default=None, help="the app's state folder (default: var/, or $THEATER_HOME)")
    actions = workshop.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="open a room and print its join code")
    create.add_argument("--scenario", default=None,
                        help="company profile the room works on (default: mandate-bigco)")
    create.add_argument("--audit-file", default=None, metavar="FILE.json",
                        help="instead, your own organisation's audit: the room file `theater "
                             "audit --room-file` writes (teams and weeks only)")
    create.add_argument("--compare-from", default=None, metavar="YYYY-MM-DD",
                        help="with --audit-file: the board question compares the weeks before "
                             "this date with the weeks from it (default: the first and the last "
                             "four weeks)")
    create.add_argument("--title", default=None)
    create.add_argument("--hours", type=float, default=0, help="how long the room stays open")
    create.add_argument("--owner", default=None,
                        help="staff account name that runs the room in the app")
    create.set_defaults(func=lambda a: workshop_create(a.scenario, a.title, a.hours, a.home, a.owner,
                                                       a.audit_file, a.compare_from))
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
    export.add_argument("--leader-brief", default=None, metavar="PATH",
                        help="also write the room's leader brief: PATH.html and PATH.md")
    export.set_defaults(func=lambda a: workshop_export(a.code, a.csv, a.summary, a.home,
                                                       a.leader_brief))
