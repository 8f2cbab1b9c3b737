"""Peak memory of `theater import` on a large export: the readers stream, so memory follows the
number of user-days, not the file size (target: at most 300 MB for a 200 MB export).

Writes a GitHub Copilot users report (NDJSON, about 1 KB a record, as GitHub's documented shape
with per-feature and per-IDE totals) of the requested size, then reads it with
`datasets.importers.read_export` in a child process and prints the child's peak resident memory
(so this script's own memory does not count). Figures, never asserts.

    .venv/bin/python benchmarks/importers.py [--mb 200]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import resource, sys, time
from datasets.importers import read_export
start = time.perf_counter()
table = read_export(sys.argv[1])
print(len(table), time.perf_counter() - start)
"""


def _record(login: str, day: date, n: int) -> str:
    features = [{"feature": feature, "code_generation_activity_count": n % 17 + i,
                 "code_acceptance_activity_count": n % 5, "loc_added_sum": n % 40,
                 "loc_suggested_to_add_sum": n % 60, "user_initiated_interaction_count": n % 9}
                for i, feature in enumerate(("code_completion", "chat_panel_ask_mode", "agent_edit"))]
    record = {"day": day.isoformat(), "enterprise_id": "1", "organization_id": "7", "user_id": 1000 + n % 5000,
              "user_login": login, "user_initiated_interaction_count": n % 9, "code_generation_activity_count": n % 31,
              "code_acceptance_activity_count": n % 5, "loc_suggested_to_add_sum": n % 60, "loc_added_sum": n % 40,
              "loc_deleted_sum": n % 7, "used_chat": True, "used_agent": False, "used_cli": False,
              "totals_by_feature": features,
              "totals_by_ide": [{"ide": "vscode", "last_known_ide_version": {"ide_version": "1.104.0"},
                                 "code_generation_activity_count": n % 31}]}
    return json.dumps(record, separators=(",", ":")) + "\n"


def write_export(path: Path, megabytes: int) -> int:
    """A Copilot NDJSON export of about `megabytes` MB; returns the number of records."""
    target = megabytes * 1024 * 1024
    written = records = 0
    start = date(2025, 1, 1)
    with path.open("w", encoding="utf-8") as out:
        while written < target:
            line = _record(f"user-{records % 2000:04d}", start + timedelta(days=records // 2000), records)
            out.write(line)
            written += len(line)
            records += 1
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the export in MB (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "copilot-usage-users.ndjson"
        records = write_export(path, args.mb)
        size = path.stat().st_size / 1024**2
        child = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True,
                               text=True, check=True)
        rows, seconds = child.stdout.split()
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"export: {size:,.0f} MB, {records:,} Copilot records; tidy table: {int(rows):,} user-days")
    print(f"read in {float(seconds):.1f} s; peak resident memory of the reading process: {peak:,.0f} MB "
          f"(target <= 300 MB for a 200 MB export); load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
