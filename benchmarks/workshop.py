"""A live workshop under load: N phones and a projector against the app as `theater app` serves it.

Two kinds of phone, each measured on a fresh server (`python -m course.serve run …`, the app's
own front, so the light page's routes are there):
- the Streamlit page (/workshop): each participant is a Streamlit websocket client speaking the
  app's own protocol (the messages a browser tab sends: page load, widget values, the
  timer-driven fragment reruns `st.fragment(run_every=…)` asks the browser for);
- the light page (/room): each participant joins with one POST, polls the JSON state at the
  interval the state carries (If-None-Match, as the page's script does) and answers with a POST.
Either opens its page, types the code and a nickname, waits for the question, answers (and
changes its mind a moment later) and keeps polling like a phone left open. A projector client
holds the presenter view (a websocket tab). Browsers would measure the same server work; 300
Chromium tabs would not fit on the 2 cores this runs on.

    python benchmarks/workshop.py --participants 10
    python benchmarks/workshop.py --participants 300 50                # both pages, side by side
    python benchmarks/workshop.py --participants 300 --client light
    python benchmarks/workshop.py --participants 50 --streamlit-defaults   # without our settings
    python benchmarks/workshop.py --participants 1000 --client light --replicas 2
    python benchmarks/workshop.py --participants 1000 --client light \
        --servers 10.0.0.5:8501 10.0.0.6:8501 --database-url postgresql://…   # replicas elsewhere

With `--replicas N` each room size runs twice, with one app process and with N, side by side:
every process is a replica as docs/workshops.md sets them up (one PostgreSQL database, one course
directory, one home); the phones are spread round-robin over the replicas (the light page needs
no sticky session), the projector and the trainer stay on the first. The database is a
throw-away PostgreSQL server started for the run (Debian's postgresql, as the test suite starts
it), or `--database-url`. On one machine the replicas share its cores: such a run shows that the
set-up works and what a second process costs, not what two machines would serve. `--servers`
measures replicas already running on other machines (started as docs/workshops.md says, on the
database `--database-url` names, which this machine must reach too): nothing is started, the
latencies are end to end from here, and the servers' CPU is left to them (n/a).

Prints, per run: join time, opened question → phone latency, send → board latency (median,
p95), the server's CPU idle and while answers come in, the answers the database kept, and the
machine's load at the time; then every run side by side. Targets (issue 22, a hall of 300):
question → phone p95 ≤ 3 s, send → board p95 ≤ 2 s, 0 answers lost, idle CPU ≤ 15%.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import websockets  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from course import auth, commands  # noqa: E402
from course.config import load_config  # noqa: E402
from course.progress import ProgressStore  # noqa: E402
from course.sessions import SessionStore  # noqa: E402
from course.workshop import RoundQuestion, WorkshopStore  # noqa: E402
from tests.postgres_server import PostgresMissing, create_database, throwaway_server  # noqa: E402

PASSWORD = "bench-staff-password"
QUESTION = RoundQuestion(
    key="bench/proxy", prompt="Sessions doubled after the mandate. What do you know now?",
    options=("Value doubled", "Nothing about value yet", "Teams got lazier"),
    answer="Nothing about value yet", misconceptions=("usage-equals-value", None, "x"))
ANSWERED = re.compile(r"(\d+) of (\d+) answered")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL server for this run only (tests/postgres_server.py, as the test suite starts
    it); yields its admin URL, and removes it all afterwards."""
    try:
        with throwaway_server(max_connections=300, prefix="theater-bench-pg-") as admin_url:
            yield admin_url
    except PostgresMissing:
        raise SystemExit("--replicas needs PostgreSQL: run `make system-deps` (Debian's "
                         "postgresql), or give --database-url") from None


def fresh_database(admin_url: str) -> str:
    """A new empty database on the throw-away server, so every run starts like a new hall."""
    return create_database(admin_url, prefix="bench_")


def start_servers(home: Path, ports: list[int], defaults: bool) -> list[subprocess.Popen]:
    """One app process per port on the same home (so the same config.yaml, database and course),
    started together as a deployment's replicas would be; returns once every one is serving."""
    processes = [launch_server(home, port, defaults) for port in ports]
    for process, port in zip(processes, ports):
        wait_served(process, home, port)
    return processes


def start_server(home: Path, port: int, defaults: bool) -> subprocess.Popen:
    """The app as a deployment runs it (course.serve with `theater app`'s flags), or on
    Streamlit's defaults."""
    process = launch_server(home, port, defaults)
    wait_served(process, home, port)
    return process


def launch_server(home: Path, port: int, defaults: bool) -> subprocess.Popen:
    """Start the app's process without waiting for it (its log: home/app-PORT.log)."""
    cmd = [sys.executable, "-m", "course.serve", "run", str(ROOT / "course" / "app.py"),
           "--server.port", str(port), "--server.headless", "true",
           "--browser.gatherUsageStats", "false"]
    if not defaults:
        cmd += commands.streamlit_flags()
    env = {**os.environ, "THEATER_HOME": str(home), "THEATER_STAFF_PASSWORD": PASSWORD,
           # this checkout's code, whatever the environment has installed
           "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    # From the home folder, so only the flags decide (the repo's .streamlit/ is not read).
    return subprocess.Popen(cmd, cwd=home, env=env, stdout=open(home / f"app-{port}.log", "w"),
                            stderr=subprocess.STDOUT)


def app_logs(home: Path) -> str:
    return "\n".join(path.read_text() for path in sorted(home.glob("app-*.log")))


def wait_served(process: subprocess.Popen, home: Path, port: int) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the app did not start:\n" + app_logs(home))
            time.sleep(0.5)


@dataclass
class Client:
    """One browser tab: loads a page, keeps widget ids, runs the fragments' timers."""

    url: str
    page: str
    query: str = ""
    texts: list[tuple[float, str]] = field(default_factory=list)
    widgets: dict[str, str] = field(default_factory=dict)        # label → widget id
    form_button: dict[str, str] = field(default_factory=dict)    # button label → id
    widget_fragment: dict[str, str] = field(default_factory=dict)
    timers: dict[str, asyncio.Task] = field(default_factory=dict)
    on_text: object = None
    ws: object = None
    nickname: str = ""
    values: dict[str, tuple[str, object]] = field(default_factory=dict)  # id → current value
    errors: int = 0

    async def connect(self) -> None:
        self.ws = await websockets.connect(f"{self.url}/_stcore/stream", max_size=2**24)
        asyncio.get_running_loop().create_task(self._receive())
        await self.rerun()

    async def rerun(self, widget_states: list[tuple[str, str, object]] = (),
                    fragment_id: str = "", auto: bool = False) -> None:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_name = self.page
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        # Like a browser: every rerun carries the current value of every widget, and a
        # button's trigger only on the rerun its press causes.
        for widget_id, kind, value in widget_states:
            if kind != "trigger_value":
                self.values[widget_id] = (kind, value)
        triggers = [(w, k, v) for w, k, v in widget_states if k == "trigger_value"]
        for widget_id, kind, value in [*((w, k, v) for w, (k, v) in self.values.items()),
                                       *triggers]:
            widget = state.widget_states.widgets.add()
            widget.id = widget_id
            setattr(widget, kind, value)
        await self.ws.send(msg.SerializeToString())

    async def _receive(self) -> None:
        try:
            async for raw in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                kind = msg.WhichOneof("type")
                if kind == "delta":
                    self._element(msg.delta)
                elif kind == "auto_rerun":
                    self._start_timer(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
                elif kind == "stop_auto_rerun":
                    for task in self.timers.values():
                        task.cancel()
                    self.timers.clear()
        except websockets.ConnectionClosed:
            pass

    def _element(self, delta) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        now = time.monotonic()
        if kind == "markdown":
            self.texts.append((now, element.markdown.body))
        elif kind == "alert":
            self.texts.append((now, element.alert.body))
        elif kind in ("text_input", "radio"):
            widget = getattr(element, kind)
            self.widgets[widget.label] = widget.id
            self.widget_fragment[widget.id] = delta.fragment_id
        elif kind == "button":
            self.form_button[element.button.label] = element.button.id
            self.widget_fragment[element.button.id] = delta.fragment_id
        if self.texts and self.on_text is not None and kind in ("markdown", "alert"):
            self.on_text(now, self.texts[-1][1])

    def _start_timer(self, fragment_id: str, interval: float) -> None:
        if fragment_id in self.timers:
            return

        async def tick() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.rerun(fragment_id=fragment_id, auto=True)
                except websockets.ConnectionClosed:
                    return

        self.timers[fragment_id] = asyncio.get_running_loop().create_task(tick())

    def saw(self, pattern: str, since: float = 0.0) -> float | None:
        return next((t for t, text in self.texts if t >= since and pattern in text), None)

    async def close(self) -> None:
        for task in self.timers.values():
            task.cancel()
        await self.ws.close()


def stored_answers(engine, round_id: int) -> dict[str, str]:
    """nickname → the answer the database holds (the benchmark's own check, not an app view)."""
    import sqlalchemy as sa

    from course.workshop import workshop_answers, workshop_participants

    query = (sa.select(workshop_participants.c.nickname, workshop_answers.c.answer)
             .join(workshop_answers, workshop_answers.c.token == workshop_participants.c.token)
             .where(workshop_answers.c.round_id == round_id))
    with engine.connect() as conn:
        return dict(conn.execute(query).fetchall())


async def wait_for(check, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(step)
    return None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def line(name: str, values: list[float], unit: str = "s") -> str:
    if not values:
        return f"{name:<34} no data"
    return (f"{name:<34} median {statistics.median(values):6.2f} {unit}   p95 "
            f"{pct(values, 0.95):6.2f} {unit}   max {max(values):6.2f} {unit}   (n={len(values)})")


class CpuMeter:
    """The server processes' CPU (every replica's together), as % of one core, over a window."""

    def __init__(self, *pids: int) -> None:
        self.processes = [psutil.Process(pid) for pid in pids]

    def start(self) -> None:
        self.t0, self.c0 = time.monotonic(), self._cpu()
        psutil.cpu_percent()

    def stop(self) -> tuple[float, float]:
        """(server % of one core, whole machine % busy) since start(); NaN for servers elsewhere."""
        elapsed = time.monotonic() - self.t0
        server = 100 * (self._cpu() - self.c0) / elapsed if self.processes else math.nan
        return server, psutil.cpu_percent()

    def _cpu(self) -> float:
        return sum(t.user + t.system for t in (p.cpu_times() for p in self.processes))


class StreamlitPhone:
    """A phone on the Streamlit page (/workshop): a websocket tab rerunning its fragment."""

    def __init__(self, url: str) -> None:
        self.tab = Client(url, "workshop")
        self.nickname = ""

    @property
    def errors(self) -> int:
        return self.tab.errors

    async def join(self, code: str, nickname: str) -> bool:
        phone = self.tab
        await phone.connect()
        if not await wait_for(lambda: "Nickname" in phone.widgets and "Join" in phone.form_button,
                              60):
            return False
        self.nickname = nickname
        await phone.rerun([(phone.widgets["Workshop code"], "string_value", code),
                           (phone.widgets["Nickname"], "string_value", nickname),
                           (phone.form_button["Join"], "trigger_value", True)])
        return bool(await wait_for(lambda: phone.saw("Waiting for the trainer"), 60))

    def saw(self, prompt: str, since: float) -> float | None:
        return self.tab.saw(prompt, since)

    async def answer(self, choices: list[str], change_within: float, rng: random.Random) -> bool:
        """Send the first choice, and (within `change_within` s) the second; False if the
        answer form never showed."""
        phone = self.tab
        radio = await wait_for(lambda: phone.widgets.get("Your answer"), 10)
        button = phone.form_button.get("Send my answer")
        if not radio or not button:
            return False
        fragment = phone.widget_fragment.get(button, "")
        for index, choice in enumerate(choices):
            if index:
                await asyncio.sleep(rng.uniform(0, change_within))
            await phone.rerun([(radio, "string_value", choice), (button, "trigger_value", True)],
                              fragment_id=fragment)
        return True

    async def close(self) -> None:
        await self.tab.close()


class LightPhone:
    """A phone on the light page (/room): joins over HTTP, then polls the JSON state at the
    interval the state carries (with If-None-Match, as the page does) on one kept-alive
    connection, and answers with a POST. A minimal HTTP/1.1 client on asyncio streams, so 300
    of them cost the benchmark's process little."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader = self.writer = None
        self.nickname = self.code = self.token = ""
        self.errors = 0
        self.etag = ""
        self.refresh = 2.5
        self.round_id: int | None = None
        self.prompts: list[tuple[float, str]] = []
        self.poller: asyncio.Task | None = None
        self.busy = asyncio.Lock()      # one request at a time on the kept-alive connection

    async def _request(self, method: str, path: str, body: bytes = b"",
                       headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
        async with self.busy:
            return await self._exchange(method, path, body, headers)

    async def _exchange(self, method: str, path: str, body: bytes,
                        headers: dict[str, str] | None) -> tuple[int, dict, bytes]:
        for attempt in range(2):      # a dropped keep-alive connection is opened again once
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                         f"Content-Length: {len(body)}"]
                lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
                self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
                await self.writer.drain()
                status_line = await self.reader.readline()
                if not status_line:
                    raise ConnectionError("closed")
                status = int(status_line.split()[1])
                head: dict[str, str] = {}
                while (line := await self.reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    head[name.strip().lower()] = value.strip()
                length = int(head.get("content-length", "0"))
                data = await self.reader.readexactly(length) if length else b""
                return status, head, data
            except (ConnectionError, OSError, asyncio.IncompleteReadError):
                if self.writer is not None:
                    self.writer.close()
                self.reader = self.writer = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _post(self, route: str, payload: dict) -> tuple[int, dict]:
        import json

        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["X-Seat-Token"] = self.token
        status, _, data = await self._request("POST", f"/room/api/{route}",
                                              json.dumps(payload).encode(), headers)
        return status, json.loads(data or b"{}")

    async def join(self, code: str, nickname: str) -> bool:
        self.code, self.nickname = code, nickname
        status, seat = await self._post("join", {"code": code, "nickname": nickname})
        if status != 200:
            return False
        self.token = seat["token"]
        await self._poll_once()
        self.poller = asyncio.get_running_loop().create_task(self._poll())
        return True

    async def _poll_once(self) -> None:
        import json

        headers = {"X-Seat-Token": self.token}
        if self.etag:
            headers["If-None-Match"] = self.etag
        try:
            status, head, data = await self._request("GET", f"/room/api/state?code={self.code}",
                                                     headers=headers)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            self.errors += 1
            return
        if status == 304:
            return
        if status != 200:
            self.errors += 1
            return
        now = time.monotonic()
        self.etag = head.get("etag", "")
        state = json.loads(data)["state"]
        self.refresh = state["refresh_seconds"]
        round_ = state["round"]
        if round_ is not None:
            self.round_id = round_["id"]
            self.prompts.append((now, round_["prompt"]))

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.refresh)
            await self._poll_once()

    def saw(self, prompt: str, since: float) -> float | None:
        return next((t for t, text in self.prompts if t >= since and text == prompt), None)

    async def answer(self, choices: list[str], change_within: float, rng: random.Random) -> bool:
        for index, choice in enumerate(choices):
            if index:
                await asyncio.sleep(rng.uniform(0, change_within))
            status, _ = await self._post("answer", {"code": self.code, "round": self.round_id,
                                                    "answer": choice})
            if status != 200:
                self.errors += 1
                return False
        return True

    async def close(self) -> None:
        if self.poller is not None:
            self.poller.cancel()
        if self.writer is not None:
            self.writer.close()


@dataclass
class Result:
    """One run's figures: one client kind, one room size."""

    client: str
    participants: int
    replicas: int = 1
    seated: int = 0
    join: list[float] = field(default_factory=list)
    to_phone: list[float] = field(default_factory=list)
    to_board: list[float] = field(default_factory=list)
    sent: int = 0
    lost: int = 0
    stored: int = 0
    idle_cpu: float = float("nan")
    busy_cpu: float = float("nan")
    errors: int = 0


async def run(client: str, participants: int, defaults: bool, idle_seconds: float,
              answer_window: float, change_within: float,
              phone_refresh: float | None = None, replicas: int = 1,
              database_url: str | None = None,
              remote: list[tuple[str, int]] | None = None) -> Result:
    """One room of `participants` phones of one kind on fresh servers (`replicas` app processes
    on `database_url`, else on the app's default database), measured end to end. With `remote`
    (host, port) of replicas already running on `database_url`, elsewhere, nothing is started
    and their CPU is not measured (it is not on this machine)."""
    replicas = len(remote) if remote else replicas
    result = Result(client, participants, replicas)
    home = Path(tempfile.mkdtemp(prefix="theater-bench-workshop-"))
    settings = []                    # the app's own settings, as a trainer would write them
    if phone_refresh is not None:
        settings.append(f"workshop_refresh_seconds: {phone_refresh}")
    if database_url is not None:
        settings.append(f'database_url: "{database_url}"')
    if settings:
        (home / "config.yaml").write_text("\n".join(settings) + "\n")
    addresses = remote or [("127.0.0.1", _free_port()) for _ in range(replicas)]
    load_before = os.getloadavg()
    print(f"\n=== {participants} phones on the {client} page, {replicas} replica(s) "
          f"({'PostgreSQL' if database_url else 'default database'}); machine: "
          f"{psutil.cpu_count()} cores, load {load_before[0]:.2f} / {load_before[1]:.2f} / "
          f"{load_before[2]:.2f} (1/5/15 min); "
          f"{'Streamlit defaults' if defaults else 'shipped settings'}; "
          f"workshop_refresh_seconds {phone_refresh if phone_refresh is not None else 'default'}")
    if remote:
        print("    replicas already running at " + ", ".join(f"{h}:{p}" for h, p in remote) +
              ": their CPU is theirs to measure (below it reads n/a); the latencies are end to end "
              "from this machine")
    elif replicas > 1:
        print(f"    the {replicas} replicas share this machine's {psutil.cpu_count()} cores "
              "(and the database's): the figures show the set-up works and what another "
              "process costs, not what separate machines would serve")
    servers = [] if remote else start_servers(home, [port for _, port in addresses], defaults)
    host, port = addresses[0]        # the trainer's and the projector's replica
    url = f"ws://{host}:{port}"
    meter = CpuMeter(*(server.pid for server in servers))
    try:
        os.environ["THEATER_STAFF_PASSWORD"] = PASSWORD
        config = load_config(home)
        progress = ProgressStore(config.database_url)
        rooms = WorkshopStore(progress.engine)
        room = rooms.create_workshop("startup", "Benchmark room", owner="bench")
        auth.add_staff(config.staff_path, "bench", "trainer", PASSWORD, replace=True)
        token = auth.presenter_session(SessionStore(progress.engine), room.code, "bench",
                                       room.expires_at)

        board_counts: list[tuple[float, int]] = []
        board = Client(url, "workshop-present", f"room={room.code}&view={token}")
        board.on_text = lambda t, text: (m := ANSWERED.search(text)) and board_counts.append(
            (t, int(m.group(1))))
        await board.connect()
        if not await wait_for(lambda: board.saw(room.title) or board.saw("joined"), 60):
            raise SystemExit("the presenter view did not load:\n" + app_logs(home))

        # ---- joining: every phone opens its page, types code and nickname, presses Join
        # Round-robin over the replicas: phone i on replica i mod N (a proxy without stickiness).
        phones = [StreamlitPhone("ws://{}:{}".format(*addresses[i % replicas]))
                  if client == "streamlit" else LightPhone(*addresses[i % replicas])
                  for i in range(participants)]

        async def join(index: int, phone) -> None:
            await asyncio.sleep(index * 0.1)            # people arrive over a few seconds
            start = time.monotonic()
            try:
                seated = await phone.join(room.code, f"phone {index}")
            except (OSError, ConnectionError, asyncio.IncompleteReadError):
                seated = False
            if seated:
                result.join.append(time.monotonic() - start)
            else:
                phone.errors += 1

        started = time.monotonic()
        await asyncio.gather(*(join(i, p) for i, p in enumerate(phones)))
        result.seated = rooms.participant_count(room.code)
        print(line("join (open page → seated)", result.join))
        print(f"{'joined':<34} {len(result.join)} of {participants} in "
              f"{time.monotonic() - started:.1f} s; seats in the database: {result.seated}")

        # ---- idle: everyone waits for the first question, phones and board polling
        meter.start()
        await asyncio.sleep(idle_seconds)
        result.idle_cpu, idle_machine = meter.stop()

        # ---- a question opens: how long until every phone shows it
        # In a thread, so the phones' timers keep running; the clock starts at the commit.
        asked = time.monotonic()
        round_ = await asyncio.to_thread(rooms.open_question, room.code, QUESTION.key, QUESTION)
        opened_at = time.monotonic()
        print(f"{'opening the question took':<34} {opened_at - asked:.2f} s (database write)")
        seen = await asyncio.gather(*(wait_for(lambda p=p: p.saw(QUESTION.prompt, opened_at),
                                               60) for p in phones))
        result.to_phone = [t - opened_at for t in seen if t]
        print(line("opened question → phone", result.to_phone))
        print(f"{'question reached':<34} {len(result.to_phone)} of {participants} phones")

        # ---- answers: each phone answers once at a random moment in the window (and changes
        # its mind a moment later, before its page has updated)
        rng = random.Random(11)
        sent: list[float] = []
        final: dict[str, str] = {}

        async def answer(phone) -> None:
            await asyncio.sleep(rng.uniform(0.5, answer_window))
            first = rng.choice(QUESTION.options)        # a radio's state is its option text
            choices = [first] + ([next(o for o in QUESTION.options if o != first)]
                                 if change_within else [])
            sent.append(time.monotonic())
            try:
                ok = await phone.answer(choices, change_within, rng)
            except (OSError, ConnectionError, asyncio.IncompleteReadError):
                ok = False
            if ok:
                final[phone.nickname] = choices[-1]
            else:
                sent.pop()
                phone.errors += 1

        meter.start()
        await asyncio.gather(*(answer(p) for p in phones))
        expected = len(sent)
        await wait_for(lambda: board_counts and board_counts[-1][1] >= expected, 60)
        result.busy_cpu, busy_machine = meter.stop()
        # The k-th answer sent is on the board when the board first counts k answers.
        for k, t_sent in enumerate(sorted(sent), start=1):
            shown = next((t for t, n in board_counts if n >= k and t >= t_sent), None)
            if shown is not None:
                result.to_board.append(shown - t_sent)
        print(line("send → board", result.to_board))
        result.sent = expected
        result.stored = rooms.aggregate(round_.id).answers
        kept = stored_answers(progress.engine, round_.id)
        result.lost = sum(kept.get(name) != choice for name, choice in final.items()) + \
            (participants - len(final))
        print(f"{'answers':<34} sent by {expected}, on the board "
              f"{board_counts[-1][1] if board_counts else 0}, in the database {result.stored}; "
              f"final answers lost {result.lost} of {participants}")
        print(f"{'server CPU idle (% of one core)':<34} {_share(result.idle_cpu):>6}   machine busy "
              f"{idle_machine:5.1f}% ({idle_seconds:.0f} s, {participants} phones + board polling)")
        print(f"{'server CPU under answers':<34} {_share(result.busy_cpu):>6}   machine busy "
              f"{busy_machine:5.1f}%")
        result.errors = sum(p.errors for p in phones)
        load_after = os.getloadavg()
        print(f"machine load average after: {load_after[0]:.2f} / {load_after[1]:.2f} / "
              f"{load_after[2]:.2f}; client errors: {result.errors}")
        for phone in phones:
            await phone.close()
        await board.close()
        progress.engine.dispose()
        return result
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


def _share(percent: float) -> str:
    """A CPU share as printed: n/a for servers on other machines."""
    return "n/a" if math.isnan(percent) else f"{percent:.1f}%"


def side_by_side(results: list[Result]) -> str:
    """Every run in one table: a column per (client, room size)."""
    def fmt(values: list[float], q: float | None) -> str:
        if not values:
            return "no data"
        return f"{(statistics.median(values) if q is None else pct(values, q)):.2f} s"

    rows = [("seated", lambda r: f"{r.seated} of {r.participants}"),
            ("question → phone p50", lambda r: fmt(r.to_phone, None)),
            ("question → phone p95", lambda r: fmt(r.to_phone, 0.95)),
            ("question reached", lambda r: f"{len(r.to_phone)} of {r.participants}"),
            ("send → board p95", lambda r: fmt(r.to_board, 0.95)),
            ("answers lost", lambda r: f"{r.lost} of {r.participants}"),
            ("idle server CPU (% of a core)", lambda r: _share(r.idle_cpu)),
            ("  per replica", lambda r: _share(r.idle_cpu / r.replicas)),
            ("server CPU under answers", lambda r: _share(r.busy_cpu)),
            ("client errors", lambda r: str(r.errors))]
    header = [f"{r.client} × {r.participants}" + (f" · {r.replicas} repl." if any(
        x.replicas > 1 for x in results) else "") for r in results]
    width = max(16, *(len(h) for h in header)) + 2
    out = [f"{'':<32}" + "".join(f"{h:>{width}}" for h in header)]
    out += [f"{name:<32}" + "".join(f"{get(r):>{width}}" for r in results) for name, get in rows]
    return "\n".join(out)


def _address(text: str, parser: argparse.ArgumentParser) -> tuple[str, int]:
    """HOST:PORT (or http://HOST:PORT) of a running replica."""
    host, _, port = text.removeprefix("http://").rstrip("/").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        parser.error(f"--servers: {text!r} is not HOST:PORT (e.g. 10.0.0.5:8501)")
    return host, int(port)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, nargs="+", default=[10],
                        help="room sizes to run, e.g. 300 50 (one fresh server each)")
    parser.add_argument("--client", choices=("both", "light", "streamlit"), default="both",
                        help="the phones' page: the light page /room, the Streamlit page "
                             "/workshop, or both, one after the other (default)")
    parser.add_argument("--idle-seconds", type=float, default=15.0)
    parser.add_argument("--answer-window", type=float, default=10.0,
                        help="participants answer at random moments within this many seconds")
    parser.add_argument("--change-within", type=float, default=0.2,
                        help="each participant changes the answer this many seconds (at most) "
                             "after sending it, before the page updates; 0 to answer once")
    parser.add_argument("--streamlit-defaults", action="store_true",
                        help="run the server without the shipped settings, for comparison")
    parser.add_argument("--phone-refresh", type=float, default=None, metavar="S",
                        help="the app's workshop_refresh_seconds (default: the app's own default)")
    parser.add_argument("--replicas", type=int, default=1, metavar="N",
                        help="also run every room size on N app processes sharing one "
                             "PostgreSQL database, phones spread round-robin, side by side "
                             "with one process (default 1: one process only)")
    parser.add_argument("--servers", nargs="+", default=None, metavar="HOST:PORT",
                        help="measure replicas already running elsewhere (each `theater app` on "
                             "--database-url, the database they share) instead of starting any; "
                             "phones spread round-robin, the projector on the first")
    parser.add_argument("--database-url", default=None, metavar="URL",
                        help="the PostgreSQL database every run uses (default with --replicas: "
                             "a throw-away server started for the run, a fresh database per run)")
    args = parser.parse_args()
    if min(args.participants) < 1:
        parser.error("--participants must be at least 1")
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    remote = None
    if args.servers:
        if not args.database_url:
            parser.error("--servers needs --database-url: the database those replicas share, where "
                         "the room is made and the answers are counted")
        if args.replicas != 1 or args.streamlit_defaults or args.phone_refresh is not None:
            parser.error("--servers measures replicas as they run: --replicas, --streamlit-defaults "
                         "and --phone-refresh are theirs to set")
        remote = [_address(text, parser) for text in args.servers]
    clients = ("streamlit", "light") if args.client == "both" else (args.client,)
    counts = [len(remote)] if remote else sorted({1, args.replicas})
    results = []
    with contextlib.ExitStack() as stack:
        server = None
        if args.database_url is None and args.replicas > 1:
            server = stack.enter_context(throwaway_postgres())
        for participants in args.participants:
            for client in clients:
                for replicas in counts:
                    database = args.database_url or (fresh_database(server) if server else None)
                    results.append(asyncio.run(run(
                        client, participants, args.streamlit_defaults, args.idle_seconds,
                        args.answer_window, args.change_within, args.phone_refresh,
                        replicas=replicas, database_url=database, remote=remote)))
    print("\n" + side_by_side(results))
    if args.replicas > 1:
        print(f"(replicas share this machine's {psutil.cpu_count()} cores: CPU is every "
              "replica's together; the run shows the set-up works and what a second process "
              "costs, not the speed of separate machines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
