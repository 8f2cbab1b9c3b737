"""Parsing hostile answers files: pandas as the grader used to call it, against the bounded reader.

The reported attack is a 19 MB `answers/weekly.csv` with 2.3 million columns (519 s and 7.2 GB
in the grader's process). Plain `pd.read_csv` is measured on narrower files, each in a child
process (time and peak memory), to show how it grows; the bounded reader
(`exercises.assignments.load_artifact`) is measured on the full-size file and on one just under
its byte cap, which it must refuse from the header alone.

    .venv/bin/python benchmarks/artifacts.py [--widths 2000 5000 10000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from exercises.assignments import ARTIFACT_LIMITS, ArtifactRejected, GradedPart, load_artifact  # noqa: E402

PART = GradedPart("weekly_table", "answers/weekly.csv", "csv_frame", "explore.weekly_usage_output",
                  "weekly_usage_output", 6.0)
PLAIN = """
import resource, sys, time
import pandas as pd
started = time.perf_counter()
pd.read_csv(sys.argv[1])
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def wide_csv(folder: Path, columns: int) -> Path:
    path = folder / "answers" / "weekly.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"col," * (columns - 1) + b"col\n" + b"1.0," * (columns - 1) + b"1.0\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[2000, 5000, 10000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("plain pd.read_csv (what the grader did), one child process each:")
        for columns in args.widths:
            path = wide_csv(folder, columns)
            done = subprocess.run([sys.executable, "-c", PLAIN, str(path)], capture_output=True, text=True, timeout=600)
            seconds, peak_mb = done.stdout.split()
            print(f"  {columns:>9,} columns, {path.stat().st_size / 2**20:6.2f} MB: {float(seconds):7.2f} s, "
                  f"peak {int(peak_mb):,} MB")
        cases = [("the reported file", 2_300_000),
                 ("just under the byte cap", ARTIFACT_LIMITS.csv_bytes // 8 - 1)]
        print("bounded reader (exercises.assignments.load_artifact), in this process:")
        for label, columns in cases:
            path = wide_csv(folder, columns)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.perf_counter()
            try:
                load_artifact(folder, PART)
                outcome = "read (unexpected)"
            except ArtifactRejected as exc:
                outcome = f"refused: {exc}"
            seconds = time.perf_counter() - started
            grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024
            print(f"  {label}, {columns:,} columns, {path.stat().st_size / 2**20:.1f} MB: {seconds * 1000:.1f} ms, "
                  f"peak memory +{grown} MB; {outcome}")


if __name__ == "__main__":
    main()
