"""Peak memory of `theater generate --export` against generation alone: the export streams.

Generates the same company twice in child processes — once without and once with a vendor
export — and prints each child's peak resident memory and their ratio (target: the export run
within 2x of generation alone). Figures, never asserts; the machine is shared.

    .venv/bin/python benchmarks/exports.py [--events 2000000] [--export github-copilot]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVENTS_PER_EMPLOYEE_YEAR = 1690  # mandate-bigco, as in benchmarks/generate.py

CHILD = """
import json, resource, sys, time
from datasets.api import generate_to_dir
employees, days, out, export = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4] or None
start = time.perf_counter()
folder = generate_to_dir("mandate-bigco", employees, days, 7, out, export=export, progress=False)
seconds = time.perf_counter() - start
events = json.loads((folder / "manifest.json").read_text())["files"]["ai_events.parquet"]["rows"]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"events": events, "seconds": seconds, "peak_mb": peak}))
"""


def run(employees: int, days: int, export: str | None, folder: Path) -> dict:
    out = folder / (export or "plain")
    child = subprocess.run([sys.executable, "-c", CHILD, str(employees), str(days), str(out), export or ""],
                           cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000, help="about this many AI events")
    parser.add_argument("--export", default="github-copilot", help="the vendor export to write")
    args = parser.parse_args()
    days = 365
    employees = max(1, round(args.events / EVENTS_PER_EMPLOYEE_YEAR))
    with tempfile.TemporaryDirectory() as folder:
        plain = run(employees, days, None, Path(folder))
        exported = run(employees, days, args.export, Path(folder))
    print(f"{plain['events']:,} AI events ({employees:,} employees x {days} days)")
    print(f"generate alone:        peak {plain['peak_mb']:,.0f} MB in {plain['seconds']:.1f} s")
    print(f"generate --export {args.export}: peak {exported['peak_mb']:,.0f} MB in {exported['seconds']:.1f} s")
    print(f"ratio: {exported['peak_mb'] / plain['peak_mb']:.2f}x (target <= 2x); "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
