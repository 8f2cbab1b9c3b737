"""The GitHub Copilot users report (NDJSON) is read by whole columns (datasets/importers/fastjson.py);
whatever a file holds, the table or the message is the record-by-record reader's, and a plain
report never takes the slow path."""

from __future__ import annotations

import json
import re
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datasets.importers import fastcsv, fastjson, read_export
from datasets.importers.copilot import CopilotUsersReader
from tests.datasets.both_readers import same_as_slow_reader

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FEATURES = ("code_completion", "chat_panel_ask_mode", "agent_edit")


def _record(n: int, day: str = "2026-04-09") -> dict:
    """A users-report record in GitHub's documented shape, its breakdowns included."""
    return {
        "day": day, "user_login": f"dev-{n % 7}", "user_id": 100 + n % 7, "organization_id": "42",
        "user_initiated_interaction_count": n % 9, "code_generation_activity_count": n % 13,
        "code_acceptance_activity_count": n % 5, "loc_added_sum": n % 40, "loc_deleted_sum": 3,
        "used_chat": True, "used_copilot_code_review_active": n % 2 == 0, "ai_credits_used": (n % 8) / 4,
        "ai_adoption_phase": {"phase": n % 4, "version": "v1"},
        "totals_by_feature": [{"feature": f, "code_generation_activity_count": n % 11 + i,
                               "code_acceptance_activity_count": 1} for i, f in enumerate(FEATURES)],
        "totals_by_ide": [{"ide": "vscode", "user_initiated_interaction_count": 2}],
        "totals_by_cli": {"prompt_count": n % 6, "token_usage": {"prompt_tokens_sum": 10 * n,
                                                                  "output_tokens_sum": 3 * n}},
    }


def _same_as_record_reader(path: Path) -> tuple:
    return same_as_slow_reader(path, fastjson, "batches")


def _write(path: Path, lines: list[str], end: str = "\n") -> Path:
    path.write_bytes(end.join(lines).encode("utf-8", "surrogatepass") + end.encode())
    return path


def test_a_plain_report_is_read_by_columns_not_record_by_record(tmp_path):
    days = ["2026-04-08", "2026-04-09", "2026-04-10", "2026-04-11"]   # CLI prompts join the totals on the 10th
    path = _write(tmp_path / "users.ndjson", [json.dumps(_record(n, days[n % 4])) for n in range(400)])
    with mock.patch.object(CopilotUsersReader, "_records", side_effect=AssertionError("read record by record")):
        fast = read_export(path)
    assert len(fast) == 28 and fast.attrs["duplicates"] == 400 - 28
    slow = _same_as_record_reader(path)[1]
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)


@pytest.mark.parametrize("chunk", [300, 4096, 1 << 22])
def test_wherever_a_chunk_ends_the_table_is_the_record_readers(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(fastcsv, "CHUNK_BYTES", chunk)
    lines = [json.dumps(_record(n, f"2026-04-{1 + n % 20:02d}")) for n in range(200)]
    assert _same_as_record_reader(_write(tmp_path / "users.ndjson", lines))[0] == "table"


# Each of these is something Arrow's parser takes and `json.loads` on one line refuses (or reads
# another way), on the file's fourth line (a bad first line is refused before any reader runs):
# the chunk goes to the record reader, which gives its own table or message.
def _no_breakdown(line: str) -> str:
    record = json.loads(line)
    return json.dumps({k: v for k, v in record.items() if k not in ("totals_by_feature", "code_generation_activity_count")})


PHASE = r'\{"phase": (\d), "version": "v1"\}'
ODD_LINES = {
    "two records on one line": lambda line: line + " " + line,
    "one record over two lines": lambda line: line.replace(', "user_id"', ',\n"user_id"'),
    "a carriage return inside a record": lambda line: line.replace(', "user_id"', ',\r"user_id"'),
    "a blank line": lambda line: "\n" + line,
    "NaN in a field the reader ignores": lambda line: line.replace('"loc_deleted_sum": 3', '"loc_deleted_sum": NaN'),
    "Infinity in a field the reader ignores": lambda line: line.replace('"loc_deleted_sum": 3',
                                                                        '"loc_deleted_sum": -Infinity'),
    "a lone surrogate in an ignored field": lambda line: line.replace('"42"', '"\\ud800"'),
    "invalid UTF-8 in an ignored field": lambda line: line.replace('"42"', '"\udcff"'),
    "a byte-order mark inside the file": lambda line: "\ufeff" + line,
    "a non-ASCII login": lambda line: line.replace("dev-3", "d\\u00e9v"),
    "nesting deeper than Python parses": lambda line: line.replace('"42"', "[" * 1200 + "]" * 1200),
    "brackets enough to nest deep, but flat": lambda line: line.replace('"42"', "[" + "[]," * 700 + "[]]"),
    "a duplicated key": lambda line: line.replace('"loc_added_sum": 3', '"loc_added_sum": 3, "loc_added_sum": 7'),
    "a count written as 3.0": lambda line: line.replace('"code_acceptance_activity_count": 3',
                                                        '"code_acceptance_activity_count": 3.0'),
    "a count too large for 64 bits": lambda line: line.replace('"loc_added_sum": 3', '"loc_added_sum": ' + "9" * 30),
    "the adoption phase as a bare number": lambda line: re.sub(PHASE, r"\1", line),
    "an empty adoption phase object": lambda line: re.sub(PHASE, "{}", line),
    "CLI totals as an empty list": lambda line: line.replace('"totals_by_cli": {', '"totals_by_cli": [], "x": {'),
    "no breakdown and no day-level count": _no_breakdown,
}


@pytest.mark.parametrize("change", sorted(ODD_LINES))
def test_what_only_the_record_reader_judges_gets_its_answer(tmp_path, change):
    lines = [json.dumps(_record(n)) for n in range(8)]
    changed = ODD_LINES[change](lines[3])
    assert changed != lines[3]
    lines[3] = changed
    _same_as_record_reader(_write(tmp_path / "users.ndjson", lines))


def test_a_report_whose_every_phase_is_a_bare_number_is_read_by_columns(tmp_path):
    lines = [re.sub(PHASE, r"\1", json.dumps(_record(n))) for n in range(8)]
    with mock.patch.object(CopilotUsersReader, "_records", side_effect=AssertionError("read record by record")):
        fast = read_export(_write(tmp_path / "users.ndjson", lines))
    assert sorted(fast["ai_adoption_phase"].unique()) == [0, 1, 2, 3]


def _pair_and_blank(lines: list[str]) -> list[str]:
    """Two records on one line and a blank line: the row count matches the line count again."""
    return [lines[0], lines[1] + " " + lines[2], "", *lines[3:]]


def _split_and_pair(lines: list[str]) -> list[str]:
    """One record over two lines (the first ending in an inner object's brace) and two on another."""
    broken = lines[1].replace(', "totals_by_ide"', ',\n"totals_by_ide"')
    return [lines[0], broken, lines[2] + " " + lines[3], *lines[4:]]


@pytest.mark.parametrize("change", [_pair_and_blank, _split_and_pair])
def test_odd_lines_that_cancel_out_in_the_row_count_still_get_the_record_readers_answer(tmp_path, change):
    lines = change([json.dumps(_record(n)) for n in range(8)])
    outcome = _same_as_record_reader(_write(tmp_path / "users.ndjson", lines))
    assert outcome[0] == "error"


@pytest.mark.parametrize("end", ["\r\n", "\r"])
def test_other_line_ends_give_the_record_readers_table(tmp_path, end):
    lines = [json.dumps(_record(n)) for n in range(8)]
    assert _same_as_record_reader(_write(tmp_path / "users.ndjson", lines, end))[0] == "table"


hostile_values = st.one_of(
    st.integers(min_value=-3, max_value=10**16), st.sampled_from([None, True, False, 2.0, 2.5, 1e300, "4", "", [], {},
                                                                 2**63, 2**53 + 1, {"phase": 2}, {"phase": None}]),
)
FIELDS = ("day", "user_login", "user_initiated_interaction_count", "code_generation_activity_count",
          "code_acceptance_activity_count", "loc_added_sum", "ai_credits_used", "ai_adoption_phase",
          "used_copilot_code_review_active", "totals_by_feature", "totals_by_cli")


@SETTINGS
@given(count=st.integers(1, 12), days=st.lists(st.sampled_from(["2026-04-09", "2026-04-10", "2026-4-10", " 2026-04-11",
                                                                "2026-02-30"]), min_size=1, max_size=3),
       hostile=st.lists(st.tuples(st.integers(0, 11), st.sampled_from(FIELDS + ("cli", "feature") + tuple(
                                  f"absent:{name}" for name in FIELDS)), hostile_values), max_size=3))
def test_the_column_reader_and_the_record_reader_give_the_same_table_or_message(tmp_path, count, days, hostile):
    records = [_record(n, days[n % len(days)]) for n in range(count)]
    for index, where, value in hostile:   # mostly valid records, then a few fields made hostile
        if index >= count:
            continue
        record = records[index]
        if where == "cli":
            record["totals_by_cli"]["prompt_count"] = value
        elif where == "feature":
            record["totals_by_feature"][0]["code_generation_activity_count"] = value
        elif where.startswith("absent:"):
            record.pop(where.removeprefix("absent:"), None)
        else:
            record[where] = value
    _same_as_record_reader(_write(tmp_path / "users.ndjson", [json.dumps(r) for r in records]))
