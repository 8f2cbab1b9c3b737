"""Peak memory and speed of `theater import` per vendor, side by side in one run: the readers
stream, so memory follows the number of user-days, not the size of the file (target from the
project: a 200 MB export in at most 300 MB, at 100 MB/s or more).

Writes, for each vendor, an export of the requested size in the vendor's documented shape — a
GitHub Copilot users report (NDJSON, ~2.6 KB a record as today's reports with their breakdowns),
an OpenAI usage completions page (one JSON document of hourly buckets), an Amazon Q Developer user
activity CSV and a Kiro per-client CSV — then reads each with `datasets.importers.read_export` in a
child process and prints the child's peak resident memory and MB/s (so this script's own memory
does not count). Figures, never asserts.

    .venv/bin/python benchmarks/importers.py [--mb 200] [--vendor github-copilot ...] [--against ../main]

With --against, each export is also read by the other checkout's code, right after this one's
on the same file, so the two are compared under the same load (the machine's load average is
printed beside each run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
USERS = 2000
START = date(2025, 1, 1)
EPOCH = 1_735_689_600   # 2025-01-01T00:00:00Z

CHILD = """
import resource, sys, time
from datasets.importers import read_export
start = time.perf_counter()
table = read_export(sys.argv[1])
seconds = time.perf_counter() - start
print(len(table), seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _copilot_lines() -> Iterator[str]:
    features = ("code_completion", "chat_panel_ask_mode", "chat_panel_agent_mode", "agent_edit", "copilot_cli")
    n = 0
    while True:
        day = (START + timedelta(days=n // USERS)).isoformat()
        per_feature = [{"feature": f, "user_initiated_interaction_count": n % 9, "code_generation_activity_count":
                        n % 17 + i, "code_acceptance_activity_count": n % 5, "loc_suggested_to_add_sum": n % 60,
                        "loc_suggested_to_delete_sum": n % 3, "loc_added_sum": n % 40, "loc_deleted_sum": n % 7}
                       for i, f in enumerate(features)]
        per_language = [{"language": lang, "feature": f, "code_generation_activity_count": n % 11,
                         "code_acceptance_activity_count": n % 4, "loc_added_sum": n % 30, "loc_deleted_sum": 1,
                         "loc_suggested_to_add_sum": n % 33, "loc_suggested_to_delete_sum": 0}
                        for lang in ("python", "typescript") for f in features[:3]]
        record = {"day": day, "organization_id": "4096", "enterprise_id": None, "user_id": 1000 + n % USERS,
                  "user_login": f"user-{n % USERS:04d}", "user_initiated_interaction_count": n % 9,
                  "code_generation_activity_count": n % 31, "code_acceptance_activity_count": n % 5,
                  "loc_suggested_to_add_sum": n % 60, "loc_suggested_to_delete_sum": 0, "loc_added_sum": n % 40,
                  "loc_deleted_sum": n % 7, "used_chat": True, "used_agent": False, "used_cli": True,
                  "used_copilot_code_review_active": False, "used_copilot_code_review_passive": n % 2 == 0,
                  "ai_credits_used": (n % 13) / 4, "ai_adoption_phase": {"phase": n % 4, "version": "v1"},
                  "totals_by_feature": per_feature, "totals_by_language_feature": per_language,
                  "totals_by_model_feature": [{"model": "gpt-5.1", "feature": "chat_panel_agent_mode",
                                               "user_initiated_interaction_count": n % 9}],
                  "totals_by_ide": [{"ide": "vscode", "user_initiated_interaction_count": n % 9,
                                     "code_generation_activity_count": n % 31,
                                     "last_known_ide_version": {"ide_version": "1.109.2",
                                                                "sampled_at": f"{day}T16:02:11Z"},
                                     "last_known_plugin_version": {"plugin": "copilot-chat", "plugin_version":
                                                                   "0.37.1", "sampled_at": f"{day}T16:02:11Z"}}],
                  "totals_by_cli": {"session_count": 1, "request_count": n % 6 + 1, "prompt_count": n % 6 + 1,
                                    "token_usage": {"prompt_tokens_sum": 900 + n % 50, "output_tokens_sum": 300,
                                                    "avg_tokens_per_request": 120.5},
                                    "last_known_cli_version": {"cli_version": "0.0.412",
                                                               "sampled_at": f"{day}T10:00:00Z"}}}
        yield json.dumps(record, separators=(",", ":")) + "\n"
        n += 1


def _openai_lines() -> Iterator[str]:
    """One page document: `{"object":"page","data":[` bucket, bucket, ... `]}` (closed by the writer)."""
    yield '{"object": "page", "has_more": false, "next_page": null, "data": [\n'
    hour = 0
    while True:
        results = [{"object": "organization.usage.completions.result", "input_tokens": 1000 + hour % 97 + u,
                    "output_tokens": 200 + u, "input_cached_tokens": 10, "input_audio_tokens": 0,
                    "output_audio_tokens": 0, "num_model_requests": 1 + u % 4, "project_id": None,
                    "user_id": f"user-{(hour * 7 + u) % USERS:04d}", "api_key_id": None, "model": None,
                    "batch": None} for u in range(20)]
        bucket = {"object": "bucket", "start_time": EPOCH + 3600 * hour, "end_time": EPOCH + 3600 * (hour + 1),
                  "results": results}
        yield ("" if hour == 0 else ",\n") + json.dumps(bucket)
        hour += 1


AMAZON_Q_HEADER = ("UserId,Date,Chat_AICodeLines,Chat_MessagesInteracted,Chat_MessagesSent,CodeFix_AcceptedLines,"
                   "CodeFix_GeneratedLines,Dev_AcceptedLines,Inline_AICodeLines,Inline_AcceptanceCount,"
                   "Inline_SuggestionsCount,InlineChat_AcceptanceEventCount,InlineChat_TotalEventCount\n")


def _amazon_q_lines() -> Iterator[str]:
    yield AMAZON_Q_HEADER
    n = 0
    while True:
        day = (START + timedelta(days=n // USERS)).strftime("%m-%d-%Y")
        yield (f"d-9067-{n % USERS:05d},{day},{n % 40},{n % 5},{n % 9},{n % 3},{n % 4},{n % 2},{n % 30},{n % 6},"
               f"{n % 20},{n % 2},{n % 3}\n")
        n += 1


def _kiro_lines() -> Iterator[str]:
    yield "UserId,Date,Client_Type,Conversations,Messages,Credits_Used,Overage_Credits_Used\n"
    clients = ("KIRO_IDE", "KIRO_CLI", "PLUGIN")
    n = 0
    while True:
        day = (START + timedelta(days=n // (USERS * 3))).isoformat()
        yield f"u-{(n // 3) % USERS:05d},{day},{clients[n % 3]},{n % 4},{n % 23},{(n % 50) / 4},0\n"
        n += 1


VENDORS: dict[str, tuple[str, Callable[[], Iterator[str]], str]] = {
    "github-copilot": ("users-1-day.ndjson", _copilot_lines, ""),
    "openai-usage": ("usage-completions.json", _openai_lines, "\n]}\n"),
    "amazon-q": ("amazon-q-user-activity.csv", _amazon_q_lines, ""),
    "kiro": ("kiro-per-client.csv", _kiro_lines, ""),
}


def write_export(path: Path, lines: Iterator[str], closing: str, megabytes: float) -> None:
    target = int(megabytes * 1024 * 1024)
    written = 0
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(line)
            written += len(line)
            if written >= target:
                break
        out.write(closing)


def _run(root: Path, path: Path) -> tuple[int, float, int] | str:
    """(rows, seconds, peak kB) of reading `path` with the code in `root`, or why it failed."""
    child = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=root, capture_output=True,
                           text=True, env={**os.environ, "PYTHONPATH": str(root)})
    if child.returncode != 0:
        return child.stderr.strip().splitlines()[-1]
    rows, seconds, peak_kb = child.stdout.split()
    return int(rows), float(seconds), int(peak_kb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200, help="size of each export in MB (default 200)")
    parser.add_argument("--vendor", action="append", choices=sorted(VENDORS), help="only these (repeatable)")
    parser.add_argument("--against", type=Path, help="another checkout to compare with (e.g. ../main)")
    args = parser.parse_args()
    roots = [("this", ROOT)] + ([("against", args.against.resolve())] if args.against else [])
    print(f"{'vendor':<16} {'code':<8} {'file MB':>8} {'rows':>10} {'seconds':>8} {'MB/s':>7} {'peak MB':>8} "
          f"{'load':>5}")
    for kind in args.vendor or list(VENDORS):
        name, lines, closing = VENDORS[kind]
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            write_export(path, lines(), closing, args.mb)
            size = path.stat().st_size / 1024**2
            for label, root in roots:
                result = _run(root, path)
                load = os.getloadavg()[0]
                if isinstance(result, str):
                    print(f"{kind:<16} {label:<8} failed: {result}")
                    continue
                rows, seconds, peak_kb = result
                print(f"{kind:<16} {label:<8} {size:>8,.0f} {rows:>10,} {seconds:>8.1f} {size / seconds:>7.0f} "
                      f"{peak_kb / 1024:>8,.0f} {load:>5.1f}")
    print(f"target: a 200 MB export in <= 300 MB at >= 100 MB/s; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
