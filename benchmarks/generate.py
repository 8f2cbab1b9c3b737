"""How fast the company generator is, against a row-by-row Faker loop, and how much memory a huge run takes.

Prints, from one run:
  1. AI events/s of `generate_to_dir` writing Parquet (wall clock and per CPU-second);
  2. AI events/s of a row-by-row Faker loop producing the same ai_events columns, written to Parquet
     (a bounded sample of rows: its speed does not depend on size);
  3. their ratio;
  4. a streamed ~50M-event company (`--quick`: ~5M) with its peak resident memory, measured in a
     child process so this script's own memory does not count.
Figures, never asserts: the machine is shared, so the load average is printed too.

    .venv/bin/python benchmarks/generate.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datasets.api import generate_to_dir  # noqa: E402
from datasets.provider import company_faker  # noqa: E402

EVENTS_PER_EMPLOYEE_YEAR = 1690  # mandate-bigco, measured: 50M events ~ 29,600 employees x 365 days
FAKER_ROWS = 50_000


def _events_in(folder: Path) -> int:
    manifest = json.loads((folder / "manifest.json").read_text())
    return int(manifest["files"]["ai_events.parquet"]["rows"])


def time_generator(employees: int, days: int, workdir: Path) -> tuple[int, float, float]:
    """Events, wall seconds and CPU seconds (both threads) of one generate_to_dir run to Parquet."""
    out = workdir / f"ours-{employees}"
    cpu0, wall0 = time.process_time(), time.perf_counter()
    generate_to_dir("mandate-bigco", employees, days, seed=1, out_dir=out, fmt="parquet", progress=False)
    return _events_in(out), time.perf_counter() - wall0, time.process_time() - cpu0


def time_faker_loop(rows: int, workdir: Path) -> tuple[int, float]:
    """The naive way: one Faker call per field per row, then a DataFrame, then Parquet."""
    fake = company_faker(1)
    employees = [f"E{n:05d}" for n in range(1, 501)]
    start = datetime(2026, 1, 5)
    end = start + timedelta(days=365)
    tools = ["ide-assistant", "chat-assistant", "office-copilot", "cli-agent"]
    features = ["code_completion", "chat", "summarize", "draft", "agent_edit", "review"]
    categories = ["code", "summarize", "draft", "question", "analysis", "rewrite"]
    wall0 = time.perf_counter()
    records = []
    session = 1
    for event_id in range(1, rows + 1):
        if fake.pyfloat(min_value=0, max_value=1) < 0.3:
            session += 1
        has_doc = fake.pybool()
        records.append({
            "event_id": event_id,
            "employee_id": fake.random_element(employees),
            "timestamp": fake.date_time_between(start_date=start, end_date=end),
            "tool": fake.random_element(tools),
            "feature": fake.random_element(features),
            "session_id": session,
            "prompt_category": fake.random_element(categories),
            "prompt_fingerprint": fake.pyint(min_value=0, max_value=2**62),
            "document_id": fake.bothify("D#######") if has_doc else None,
            "doc_authored_by_self": has_doc and fake.pybool(),
            "tokens_in": int(fake.pyint(min_value=20, max_value=4000)),
            "tokens_out": int(fake.pyint(min_value=10, max_value=2000)),
            "accepted": fake.pybool(),
        })
    frame = pd.DataFrame.from_records(records)
    frame["timestamp"] = frame["timestamp"].astype("datetime64[ns]")
    frame.to_parquet(workdir / "faker-loop.parquet", index=False)
    return rows, time.perf_counter() - wall0


_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from datasets.api import generate_to_dir
t0 = time.perf_counter()
generate_to_dir("mandate-bigco", {employees}, 365, seed=2, out_dir={out!r}, fmt="parquet", progress=True)
print(json.dumps({{"seconds": time.perf_counter() - t0,
                   "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def big_run(target_events: int, workdir: Path) -> dict[str, float]:
    """A streamed company of about `target_events` events, generated in a child process."""
    employees = max(1, round(target_events / EVENTS_PER_EMPLOYEE_YEAR))
    out = workdir / "big"
    code = _CHILD.format(root=str(ROOT), employees=employees, out=str(out))
    result = subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.PIPE, text=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["events"] = _events_in(out)
    figures["employees"] = employees
    figures["bytes"] = sum(path.stat().st_size for path in out.iterdir())
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~5M-event big run instead of ~50M")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(prefix="theater-bench-") as tmp:
        workdir = Path(tmp)
        time_generator(200, 30, workdir)  # warm imports and caches
        events, wall, cpu = time_generator(3000, 365, workdir)
        ours = events / wall
        print(f"generator -> Parquet: {events:,} events in {wall:.2f} s = {ours:,.0f} events/s "
              f"({events / cpu:,.0f} events per CPU-second)")
        rows, faker_wall = time_faker_loop(FAKER_ROWS, workdir)
        naive = rows / faker_wall
        print(f"row-by-row Faker loop -> Parquet: {rows:,} rows in {faker_wall:.2f} s = {naive:,.0f} events/s")
        print(f"ratio: {ours / naive:,.0f}x (goal >= 100x; goal >= 2,000,000 events/s on 2 cores)")
        target = 5_000_000 if args.quick else 50_000_000
        big = big_run(target, workdir)
        print(f"streamed company: {big['events']:,} events ({big['employees']:,} employees x 365 days) "
              f"in {big['seconds']:.1f} s = {big['events'] / big['seconds']:,.0f} events/s, "
              f"{big['bytes'] / 2**20:,.0f} MiB on disk, peak RSS {big['peak_rss_kib'] / 1024:,.0f} MiB "
              f"(goal < 1024 MiB)")
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
