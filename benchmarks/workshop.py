"""A live workshop under load: N phones and a projector against a real `streamlit run` server.

Each participant is a Streamlit websocket client speaking the app's own protocol (the messages a
browser tab sends: page load, widget values, the timer-driven fragment reruns `st.fragment(
run_every=…)` asks the browser for). It opens the join page, types the code and a nickname,
waits for the question, answers and keeps polling like a phone left open. A projector client
holds the presenter view. Browsers would measure the same server work; 50 Chromium tabs would
not fit on the 2 cores this runs on.

    python benchmarks/workshop.py --participants 10
    python benchmarks/workshop.py --participants 50 --streamlit-defaults   # without our settings
    python benchmarks/workshop.py --participants 300 --phone-refresh 5     # a hall, phones slower

Prints, from one run: join time, opened question → phone latency, send → board latency (median,
p95), the server's CPU idle and while answers come in, the answers the database kept, and the
machine's load at the time. Targets (issue 11): p95 send → board ≤ 3 s, question → every phone
≤ 5 s, idle CPU ≤ 15% with 50 participants.
"""

from __future__ import annotations

import argparse
import asyncio
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


def start_server(home: Path, port: int, defaults: bool) -> subprocess.Popen:
    """The app as a deployment runs it (`theater app`'s flags), or on Streamlit's defaults."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "course" / "app.py"),
           "--server.port", str(port), "--server.headless", "true",
           "--browser.gatherUsageStats", "false"]
    if not defaults:
        cmd += commands.streamlit_flags()
    env = {**os.environ, "THEATER_HOME": str(home), "THEATER_STAFF_PASSWORD": PASSWORD}
    # From the home folder, so only the flags decide (the repo's .streamlit/ is not read).
    process = subprocess.Popen(cmd, cwd=home, env=env, stdout=open(home / "app.log", "w"),
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the app did not start:\n" + (home / "app.log").read_text())
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
    """The server process's CPU, as % of one core, over a window."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)

    def start(self) -> None:
        self.t0, self.c0 = time.monotonic(), self._cpu()
        psutil.cpu_percent()

    def stop(self) -> tuple[float, float]:
        """(server % of one core, whole machine % busy) since start()."""
        elapsed = time.monotonic() - self.t0
        return 100 * (self._cpu() - self.c0) / elapsed, psutil.cpu_percent()

    def _cpu(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system


async def run(participants: int, defaults: bool, idle_seconds: float,
              answer_window: float, change_within: float, phone_refresh: float | None = None) -> int:
    home = Path(tempfile.mkdtemp(prefix="theater-bench-workshop-"))
    if phone_refresh is not None:    # the app's own setting, as a trainer would write it
        (home / "config.yaml").write_text(f"workshop_refresh_seconds: {phone_refresh}\n")
    port = _free_port()
    load_before = os.getloadavg()
    print(f"machine: {psutil.cpu_count()} cores, load average {load_before[0]:.2f} / "
          f"{load_before[1]:.2f} / {load_before[2]:.2f} (1/5/15 min) before start")
    print(f"settings: {'Streamlit defaults' if defaults else 'shipped (theater app flags)'}; "
          f"{participants} participants; phones refresh every "
          f"{phone_refresh if phone_refresh is not None else 'default'} s")
    server = start_server(home, port, defaults)
    url = f"ws://127.0.0.1:{port}"
    meter = CpuMeter(server.pid)
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
            raise SystemExit("the presenter view did not load:\n" + (home / "app.log").read_text())

        # ---- joining: every phone loads the join page, types code and nickname, presses Join
        phones = [Client(url, "workshop") for _ in range(participants)]
        join_times: list[float] = []

        async def join(index: int, phone: Client) -> None:
            await asyncio.sleep(index * 0.1)            # people arrive over a few seconds
            start = time.monotonic()
            await phone.connect()
            if not await wait_for(lambda: "Nickname" in phone.widgets and
                                  "Join" in phone.form_button, 60):
                phone.errors += 1
                return
            phone.nickname = f"phone {index}"
            await phone.rerun([(phone.widgets["Workshop code"], "string_value", room.code),
                               (phone.widgets["Nickname"], "string_value", phone.nickname),
                               (phone.form_button["Join"], "trigger_value", True)])
            seated = await wait_for(lambda: phone.saw("Waiting for the trainer"), 60)
            if seated:
                join_times.append(seated - start)
            else:
                phone.errors += 1

        started = time.monotonic()
        await asyncio.gather(*(join(i, p) for i, p in enumerate(phones)))
        print(line("join (load page → seated)", join_times))
        print(f"{'joined':<34} {len(join_times)} of {participants} in "
              f"{time.monotonic() - started:.1f} s; seats in the database: "
              f"{rooms.participant_count(room.code)}")

        # ---- idle: everyone waits for the first question, phones and board polling
        meter.start()
        await asyncio.sleep(idle_seconds)
        idle_server, idle_machine = meter.stop()

        # ---- a question opens: how long until every phone shows it
        # In a thread, so the phones' timers keep running; the clock starts at the commit.
        asked = time.monotonic()
        round_ = await asyncio.to_thread(rooms.open_question, room.code, QUESTION.key, QUESTION)
        opened_at = time.monotonic()
        print(f"{'opening the question took':<34} {opened_at - asked:.2f} s (database write)")
        seen = await asyncio.gather(*(wait_for(lambda p=p: p.saw(QUESTION.prompt, opened_at),
                                               60) for p in phones))
        to_phone = [t - opened_at for t in seen if t]
        print(line("opened question → phone", to_phone))
        print(f"{'question reached':<34} {len(to_phone)} of {participants} phones; all within "
              f"{max(to_phone) if to_phone else float('nan'):.2f} s")

        # ---- answers: each phone answers once at a random moment in the window
        rng = random.Random(11)
        sent: list[float] = []
        final: dict[str, str] = {}

        async def answer(phone: Client) -> None:
            await asyncio.sleep(rng.uniform(0.5, answer_window))
            radio = await wait_for(lambda: phone.widgets.get("Your answer"), 10)
            button = phone.form_button.get("Send my answer")
            if not radio or not button:
                phone.errors += 1
                return
            choice = rng.choice(QUESTION.options)        # a radio's state is its option text
            sent.append(time.monotonic())
            fragment = phone.widget_fragment.get(button, "")
            await phone.rerun([(radio, "string_value", choice), (button, "trigger_value", True)],
                              fragment_id=fragment)
            if change_within:    # a second thought before the page has even updated
                await asyncio.sleep(rng.uniform(0, change_within))
                choice = next(o for o in QUESTION.options if o != choice)
                await phone.rerun([(radio, "string_value", choice),
                                   (button, "trigger_value", True)], fragment_id=fragment)
            final[phone.nickname] = choice

        meter.start()
        await asyncio.gather(*(answer(p) for p in phones))
        expected = len(sent)
        await wait_for(lambda: board_counts and board_counts[-1][1] >= expected, 60)
        busy_server, busy_machine = meter.stop()
        # The k-th answer sent is on the board when the board first counts k answers.
        order = sorted(sent)
        to_board = []
        for k, t_sent in enumerate(order, start=1):
            shown = next((t for t, n in board_counts if n >= k and t >= t_sent), None)
            if shown is not None:
                to_board.append(shown - t_sent)
        print(line("send → board", to_board))
        stored = rooms.aggregate(round_.id).answers
        kept = stored_answers(progress.engine, round_.id)
        lost = sum(kept.get(name) != choice for name, choice in final.items())
        if change_within:
            print(f"{'answers changed within':<34} {change_within * 1000:.0f} ms of the first: "
                  f"{lost} of {len(final)} final answers lost")
        print(f"{'answers':<34} sent {expected}, on the board "
              f"{board_counts[-1][1] if board_counts else 0}, in the database {stored}")
        print(f"{'server CPU idle (% of one core)':<34} {idle_server:5.1f}%   machine busy "
              f"{idle_machine:5.1f}% ({idle_seconds:.0f} s, {participants} phones + board "
              "polling)")
        print(f"{'server CPU under answers':<34} {busy_server:5.1f}%   machine busy "
              f"{busy_machine:5.1f}%")
        load_after = os.getloadavg()
        print(f"machine load average after: {load_after[0]:.2f} / {load_after[1]:.2f} / "
              f"{load_after[2]:.2f}; client errors: {sum(p.errors for p in phones)}")
        for client in (*phones, board):
            await client.close()
        progress.engine.dispose()
        return 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=10)
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
    args = parser.parse_args()
    if args.participants < 1:
        parser.error("--participants must be at least 1")
    return asyncio.run(run(args.participants, args.streamlit_defaults, args.idle_seconds,
                           args.answer_window, args.change_within, args.phone_refresh))


if __name__ == "__main__":
    raise SystemExit(main())
