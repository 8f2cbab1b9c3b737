"""Print how long the course app's pages take with N learners at once, against a real server
(goal, issue 10: every module page ≤ 1 s warm and the first chart reveal ≤ 1.5 s on the default
company with 2 learners).

The app runs as a deployment runs it (`theater app`'s flags). Each learner is a Streamlit websocket
client speaking the app's own protocol (as benchmarks/workshop.py does): it sends the reruns a
browser tab sends — open a page, submit a prediction form, move an exercise slider (a fragment
rerun) — and times each until the server says the run finished. The learners go through the
course together, every step at the same moment (a barrier), so each figure is taken while the other
learner's page runs too. Per module page: cold (first visit), warm (the next visit), each
prediction or quiz submitted (the first reveal of a chart is a prediction's submit) and one
exercise input change. Figures are the slowest learner's. The machine's load average is printed
before and after: the machine these run on is shared.

Usage: python benchmarks/app.py [--learners 2] [--employees N --days D]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from benchmarks.workshop import _free_port, start_server  # noqa: E402

INPUT_KINDS = ("radio", "slider", "number_input", "button", "checkbox", "multiselect")


@dataclass
class Widget:
    id: str
    kind: str
    label: str
    form_id: str
    fragment_id: str
    options: tuple[str, ...] = ()
    bounds: tuple[float, float] = (0.0, 1.0)


@dataclass
class Session:
    """One browser tab of one learner."""

    url: str
    query: str
    ws: object = None
    widgets: dict[str, Widget] = field(default_factory=dict)
    values: dict[str, tuple[str, object]] = field(default_factory=dict)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    exceptions: list[str] = field(default_factory=list)
    page: str = ""

    async def connect(self) -> None:
        self.ws = await websockets.connect(f"{self.url}/_stcore/stream", max_size=2**26)
        asyncio.get_running_loop().create_task(self._receive())

    async def run(self, page: str, changes: list[tuple[str, str, object]] = (),
                  fragment_id: str = "") -> float:
        """One rerun (a page visit, a form submit, a widget change); seconds until it finished."""
        if page != self.page:
            self.values.clear()            # a new page: the browser forgets the old page's widgets
            self.widgets.clear()
        self.page = page
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_name = page
        state.fragment_id = fragment_id
        for widget_id, kind, value in changes:
            if kind != "trigger_value":
                self.values[widget_id] = (kind, value)
        sent = [*((w, k, v) for w, (k, v) in self.values.items()),
                *((w, k, v) for w, k, v in changes if k == "trigger_value")]
        for widget_id, kind, value in sent:
            widget = state.widget_states.widgets.add()
            widget.id = widget_id
            if kind == "double_array_value":
                widget.double_array_value.data.extend(value)
            else:
                setattr(widget, kind, value)
        self.finished.clear()
        start = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        await asyncio.wait_for(self.finished.wait(), timeout=300)
        return time.perf_counter() - start

    async def _receive(self) -> None:
        try:
            async for raw in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                kind = msg.WhichOneof("type")
                if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    self._element(msg.delta.new_element, msg.delta.fragment_id)
                elif kind == "script_finished":
                    self.finished.set()
        except websockets.ConnectionClosed:
            self.finished.set()

    def _element(self, element, fragment_id: str) -> None:
        kind = element.WhichOneof("type")
        if kind == "exception":
            self.exceptions.append(f"{self.page}: {element.exception.type}: "
                                   f"{element.exception.message} "
                                   f"{list(element.exception.stack_trace)[-3:]}")
        if kind not in INPUT_KINDS:
            return
        proto = getattr(element, kind)
        widget = Widget(proto.id, kind, proto.label, getattr(proto, "form_id", ""), fragment_id)
        if kind == "radio":
            widget.options = tuple(proto.options)
        if kind == "slider":
            widget.bounds = (proto.min, proto.max)
        self.widgets[proto.id] = widget

    def forms(self, prefix: str) -> list[tuple[Widget, Widget]]:
        """(radio, submit button) of each one-question form whose id starts with `prefix`."""
        pairs = []
        for widget in self.widgets.values():
            if widget.kind == "radio" and widget.form_id.startswith(prefix):
                submit = next((w for w in self.widgets.values() if w.kind == "button"
                               and w.form_id == widget.form_id), None)
                if submit is not None:
                    pairs.append((widget, submit))
        return pairs


async def learner_course(session: Session, modules: list, barrier: "Barrier",
                         times: dict[str, dict[str, list[float]]]) -> None:
    def note(page: str, what: str, seconds: float) -> None:
        times.setdefault(page, {}).setdefault(what, []).append(seconds)

    await session.connect()
    await barrier.wait()
    note("sign-in + company", "cold", await session.run("signin"))
    for page in ("home", "capstone", "my-learning"):
        await barrier.wait()
        note(page, "cold", await session.run(page))
        await barrier.wait()
        note(page, "warm", await session.run(page))
    for module in modules:
        page = f"module-{module.id}"
        label = f"module {module.number}: {module.id}"
        await barrier.wait()
        note(label, "cold", await session.run(page))
        await barrier.wait()
        note(label, "warm", await session.run(page))
        done: set[str] = set()
        for kind in ("retrieval", "prediction", "quiz"):
            while True:                     # answering one form can reveal the next (gates)
                pending = [p for p in session.forms(f"form:{kind}:") if p[0].form_id not in done]
                await barrier.wait()
                if not pending:
                    await barrier.wait()
                    break
                radio, submit = pending[0]
                done.add(radio.form_id)
                seconds = await session.run(page, [(radio.id, "string_value", radio.options[0]),
                                                   (submit.id, "trigger_value", True)])
                note(label, "reveal" if kind == "prediction" else "answer", seconds)
                await barrier.wait()
        await barrier.wait()
        note(label, "revealed warm", await session.run(page))
        sliders = [w for w in session.widgets.values()
                   if w.kind == "slider" and w.id.endswith(tuple(f":{s}" for s in (
                       "threshold", "rise", "lowest", "reward")))]
        await barrier.wait()
        if sliders:
            slider = sliders[0]
            note(label, "exercise click", await session.run(
                page, [(slider.id, "double_array_value", [slider.bounds[1]])],
                fragment_id=slider.fragment_id))
        await barrier.wait()


class Barrier:
    """Every learner's next step starts together (asyncio has no barrier before 3.11's TaskGroup)."""

    def __init__(self, parties: int) -> None:
        self.parties, self.count, self.generation = parties, 0, 0
        self.condition = asyncio.Condition()

    async def wait(self) -> None:
        async with self.condition:
            generation = self.generation
            self.count += 1
            if self.count == self.parties:
                self.count, self.generation = 0, self.generation + 1
                self.condition.notify_all()
                return
            await self.condition.wait_for(lambda: self.generation != generation)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} cores"


async def bench(learners: int, employees: int | None, days: int | None) -> None:
    from course import data as course_data
    from course.config import load_config
    from course.modules import content_dir_from_env, load_modules

    home = Path(tempfile.mkdtemp(prefix="theater-bench-app-"))
    if employees:
        (home / "config.yaml").write_text(f"employees: {employees}\ndays: {days or 180}\n")
    print(f"load average before: {_load()}")
    port = _free_port()
    start = time.perf_counter()
    server = start_server(home, port, defaults=False)
    print(f"server up (default dataset prepared on first page): {time.perf_counter() - start:.1f} s")
    try:
        os.environ["THEATER_HOME"] = str(home)
        config = load_config(home)
        from course.progress import ProgressStore
        from course.sessions import SessionStore

        handles = SessionStore(ProgressStore(config.database_url).engine,
                               config.session_idle_hours * 3600, config.session_hours * 3600)
        modules, _ = load_modules(content_dir_from_env())
        barrier = Barrier(learners)
        sessions = [Session(f"ws://127.0.0.1:{port}",
                            f"u={course_data.sign_in_token(config, f'bench{n + 1}', handles)}")
                    for n in range(learners)]
        per_learner: list[dict] = [{} for _ in sessions]
        await asyncio.gather(*(learner_course(s, modules, barrier, t)
                               for s, t in zip(sessions, per_learner)))
        errors = [e for s in sessions for e in s.exceptions]
        if errors:
            print(f"PAGES RAISED ({len(errors)}): {errors[0]}")
        report(per_learner, learners, employees)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"load average after: {_load()}")


def report(per_learner: list[dict], learners: int, employees: int | None) -> None:
    columns = ["cold", "warm", "reveal", "answer", "revealed warm", "exercise click"]
    print(f"\n{'default company' if not employees else f'{employees} employees'}, {learners} "
          "learner(s) at once; seconds, the slowest learner (reveal/answer: the slowest submit)")
    print(f"  {'page':<40}" + "".join(f"{c:>15}" for c in columns))
    warm, reveal, clicks, answers = [], [], [], []
    for page in per_learner[0]:
        row = {c: max((max(t[page][c]) for t in per_learner if c in t.get(page, {})), default=None)
               for c in columns}
        module = page.startswith("module")
        if module:
            warm.append(max(v for v in (row["warm"], row["revealed warm"]) if v is not None))
            if row["reveal"] is not None:
                reveal.append(row["reveal"])
            if row["exercise click"] is not None:
                clicks.append(row["exercise click"])
            answers += [x for t in per_learner for x in t[page].get("answer", [])]
        over = module and (warm[-1] > 1.0 or (row["reveal"] or 0) > 1.5)
        print(f"  {page:<40}" + "".join(f"{'':>15}" if row[c] is None else f"{row[c]:15.2f}"
                                        for c in columns) + ("  (over the goal)" if over else ""))
    print(f"  module pages warm:       median {statistics.median(warm):.2f} s, max {max(warm):.2f} s"
          " (goal ≤ 1 s)")
    if reveal:
        print(f"  first chart reveal:      median {statistics.median(reveal):.2f} s, "
              f"max {max(reveal):.2f} s (goal ≤ 1.5 s)")
    if answers:
        print(f"  quiz answer click:       median {statistics.median(answers):.2f} s, "
              f"max {max(answers):.2f} s")
    if clicks:
        print(f"  exercise input change:   median {statistics.median(clicks):.2f} s, "
              f"max {max(clicks):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=2, help="simulated learners at once")
    parser.add_argument("--employees", type=int, help="company size (default: the course's)")
    parser.add_argument("--days", type=int)
    args = parser.parse_args()
    asyncio.run(bench(args.learners, args.employees, args.days))


if __name__ == "__main__":
    main()
