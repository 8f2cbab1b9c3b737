"""Two `theater app` replicas on one PostgreSQL database and one course serve one room.

The set-up docs/workshops.md describes for a hall past one machine: every replica on the same
database and course directory, a reverse proxy in front. Streamlit's pages need sticky sessions;
the light phone page (/room) does not, and this test is why that claim holds: a seat taken on one
replica polls and answers through the other, every answer counts once whichever replica took it,
a rejoin code from one works on the other, and closing the room reaches the other's phones within
its snapshot interval (course.workshop_phone.STATE_TTL_SECONDS) plus one poll.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from course.config import load_config
from course.progress import ProgressStore
from course.workshop import RoundQuestion, WorkshopStore
from course.workshop_phone import STATE_TTL_SECONDS

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_URL = "https://workshop.example.org/"
QUESTION = RoundQuestion(
    key="replicas/usage", prompt="Usage doubled after the mandate. What do you know?",
    options=("Value doubled", "Nothing about value yet", "Teams got lazier"),
    answer="Nothing about value yet", misconceptions=("usage-is-value", None, "lazy-teams"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_replica(home: Path, port: int) -> subprocess.Popen:
    """`theater app` as a deployment starts each replica: same home (so the same config.yaml,
    database and course directory), its own port."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop("THEATER_COURSE", None)
    env.pop("THEATER_DATABASE_URL", None)
    log = open(home / f"replica-{port}.log", "w")
    return subprocess.Popen([sys.executable, "-m", "theater.cli", "app", "--port", str(port),
                             "--home", str(home)], env=env, stdout=log, stderr=subprocess.STDOUT,
                            cwd=home)


def _call(url: str, path: str, payload: dict | None = None,
          token: str = "") -> tuple[int, dict]:
    """One phone request: a JSON POST when `payload` is given, else a GET; (status, body)."""
    headers = {"X-Seat-Token": token} if token else {}
    data = None
    if payload is not None:
        data = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _state(url: str, code: str, token: str) -> dict:
    status, body = _call(url, f"/room/api/state?code={code}", token=token)
    assert status == 200, body
    return body


def _wait_served(url: str, process: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"replica {url} did not start:\n{log.read_text()}")
            time.sleep(0.3)


@pytest.fixture
def replicas(tmp_path, postgres_url):
    """Two replicas of the app on one fresh PostgreSQL database; yields (home, [url A, url B])."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(f"database_url: {json.dumps(postgres_url)}\n"
                                      f"public_url: {PUBLIC_URL}\n")
    load_config(home)          # the shared course directory exists before either replica starts
    ports = [_free_port(), _free_port()]
    processes = [_start_replica(home, port) for port in ports]     # both start at once
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url, process, port in zip(urls, processes, ports):
            _wait_served(url, process, home / f"replica-{port}.log")
        yield home, urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.mark.slow
def test_two_replicas_on_one_database_serve_one_room_without_sticky_sessions(replicas,
                                                                                 postgres_url):
    home, (a, b) = replicas
    # Both replicas open the empty database for their first phones at the same moment: each
    # creates the tables it needs, and neither fails because the other did so too.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        first = list(pool.map(lambda url: _call(url, "/room/api/state?code=ZZZZZZ", token="x"),
                              [a, b] * 4))
    assert {status for status, _ in first} == {404}, first

    store = WorkshopStore(ProgressStore(postgres_url).engine)
    room = store.create_workshop("startup", "Two replicas", owner="trainer")
    code = room.code

    # Phones join on both replicas; nicknames are one room's, whichever replica took them.
    seats = {}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        joined = list(pool.map(lambda i: (i, _call((a, b)[i % 2], "/room/api/join",
                                                   {"code": code, "nickname": f"phone {i}"})),
                               range(12)))
    for i, (status, seat) in joined:
        assert status == 200, seat
        assert seat["rejoin_link"].startswith(PUBLIC_URL)      # the proxy's address, not a replica's
        seats[i] = seat
    status, taken = _call(b, "/room/api/join", {"code": code, "nickname": "phone 0"})
    assert status == 400 and "already taken" in taken["error"]       # phone 0 joined on A
    assert store.participant_count(code) == 12

    round_ = store.open_question(code, QUESTION.key, QUESTION)
    # Every phone sees the question through the OTHER replica than the one it joined on.
    for i, seat in seats.items():
        other = (b, a)[i % 2]
        deadline = time.monotonic() + 5
        while (state := _state(other, code, seat["token"]))["state"]["round"] is None:
            assert time.monotonic() < deadline, "the question never reached the other replica"
            time.sleep(0.1)
        assert state["state"]["round"]["id"] == round_.id

    # Answers go to both replicas; each phone changes its mind once, on the other replica.
    options = QUESTION.options
    final = {}
    for i, seat in seats.items():
        here, other = (a, b)[i % 2], (b, a)[i % 2]
        status, reply = _call(here, "/room/api/answer",
                              {"code": code, "round": round_.id, "answer": options[0]},
                              token=seat["token"])
        assert status == 200 and reply["answer"] == options[0], reply
        final[i] = options[i % 3]
        status, reply = _call(other, "/room/api/answer",
                              {"code": code, "round": round_.id, "answer": final[i]},
                              token=seat["token"])
        assert status == 200 and reply["answer"] == final[i], reply
    # A token from another room, or made up, is refused the same on either replica.
    for url in (a, b):
        status, refused = _call(url, "/room/api/answer",
                                {"code": code, "round": round_.id, "answer": options[1]},
                                token="made-up-token")
        assert status == 403, refused

    # Each answer counts once: the store (the trainer's and the presenter's view) and both
    # replicas' phones after the close agree on every option.
    aggregate = store.aggregate(round_.id)
    assert aggregate.answers == 12
    expected = {option: sum(1 for answer in final.values() if answer == option)
                for option in options}
    assert {o.option: o.count for o in aggregate.options} == expected
    store.close_question(code)
    time.sleep(STATE_TTL_SECONDS + 0.1)
    for url in (a, b):
        state = _state(url, code, seats[0]["token"])
        spread = {o["text"]: o["count"] for o in state["state"]["round"]["result"]["spread"]}
        assert state["state"]["round"]["open"] is False
        assert spread == expected, (url, spread)
        assert state["seat"]["answer"] == final[0]

    # A rejoin code handed out by A gives the same seat back on B (and the other way round).
    for i in (0, 1):
        status, back = _call((b, a)[i % 2], "/room/api/rejoin",
                             {"code": code, "rejoin": seats[i]["rejoin"]})
        assert status == 200, back
        assert back["token"] == seats[i]["token"] and back["nickname"] == f"phone {i}"
        assert _state((b, a)[i % 2], code, back["token"])["seat"]["answer"] == final[i]

    # Closing the room (the trainer's control view on A calls this same store method) reaches a
    # phone polling B within the snapshot interval: B reads the room again once its cached
    # state is STATE_TTL_SECONDS old.
    assert _state(b, code, seats[1]["token"])["state"]["room"]["status"] == "open"
    store.close_workshop(code, owner="trainer")
    closed_at = time.monotonic()
    while _state(b, code, seats[1]["token"])["state"]["room"]["status"] != "closed":
        assert time.monotonic() - closed_at < STATE_TTL_SECONDS + 1.0, "B kept the room open"
        time.sleep(0.05)
    assert time.monotonic() - closed_at <= STATE_TTL_SECONDS + 1.0
    status, refused = _call(a, "/room/api/join", {"code": code, "nickname": "late"})
    assert status == 400, refused
    logs = "".join(path.read_text() for path in home.glob("replica-*.log"))
    assert "phone route" not in logs and "Traceback" not in logs, logs   # no failed request


def test_stores_opened_at_once_on_an_empty_postgresql_database_all_succeed(postgres_server):
    """What two replicas' first visitors do to a new database, made to happen in the same instant
    (three openers released by one barrier, several times): without course.schema's lock one of
    them fails on PostgreSQL's catalogue (pg_type_typname_nsp_index)."""
    import threading
    import uuid

    import sqlalchemy as sa

    from course.lti import LaunchStore
    from course.sessions import SessionStore

    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    failures: list[str] = []
    try:
        for _ in range(5):
            name = f"r_{uuid.uuid4().hex[:12]}"
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            url = postgres_server.replace("/postgres?", f"/{name}?")
            gate = threading.Barrier(3)
            stores: list[ProgressStore] = []

            def open_stores() -> None:
                gate.wait()
                try:
                    progress = ProgressStore(url)
                    stores.append(progress)
                    WorkshopStore(progress.engine)
                    SessionStore(progress.engine)
                    LaunchStore(progress.engine)
                except Exception as error:       # noqa: BLE001  (the assertion shows which)
                    failures.append(repr(error)[:200])

            openers = [threading.Thread(target=open_stores) for _ in range(3)]
            for opener in openers:
                opener.start()
            for opener in openers:
                opener.join()
            for progress in stores:
                progress.engine.dispose()
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
    assert failures == []
