"""Hostile and odd inputs to `theater import`: each is read right or refused in one clear line,
and nothing an admin opens afterwards can run as a spreadsheet formula."""

from __future__ import annotations

import gzip
import json
import os
import threading

import pandas as pd
import pytest

from datasets.errors import UserError
from datasets.importers import read_exports
from theater.cli import main


def _copilot(day: str, login: str = "ada", interactions: int = 3, accepted: int = 1) -> str:
    return json.dumps({"day": day, "user_login": login, "user_initiated_interaction_count": interactions,
                       "code_acceptance_activity_count": accepted})


def _import(tmp_path, *paths, capsys=None) -> tuple[int, str, str]:
    out = tmp_path / "tidy.csv"
    code = main(["import", *map(str, paths), "--out", str(out)])
    captured = capsys.readouterr() if capsys else None
    return code, captured.out if captured else "", captured.err if captured else ""


def test_a_fifo_is_refused_at_once_instead_of_blocking(tmp_path):
    fifo = tmp_path / "usage.ndjson"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            read_exports([fifo])
        except BaseException as exc:   # the outcome is checked below
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():          # unblock the reader so the test process can end
        with open(fifo, "w"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert outcome and isinstance(outcome[0], UserError) and "not a regular file" in str(outcome[0])


def test_out_pointing_at_an_input_is_refused_and_the_input_survives(tmp_path, capsys):
    export = tmp_path / "users.ndjson"
    export.write_text(_copilot("2025-10-01") + "\n")
    before = export.read_bytes()
    assert main(["import", str(export), "--out", str(export)]) == 2
    assert "would destroy it" in capsys.readouterr().err
    assert export.read_bytes() == before
    folder_copy = tmp_path / "in"
    folder_copy.mkdir()
    (folder_copy / "users.ndjson").write_bytes(before)
    assert main(["import", str(folder_copy), "--out", str(folder_copy / "users.ndjson")]) == 2
    assert (folder_copy / "users.ndjson").read_bytes() == before


def test_an_unwritable_out_is_one_line_and_a_non_zero_exit(tmp_path, capsys):
    export = tmp_path / "users.ndjson"
    export.write_text(_copilot("2025-10-01") + "\n")
    assert main(["import", str(export), "--out", str(tmp_path / "missing" / "tidy.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot write" in err and "\n" not in err and "Traceback" not in err


def test_cells_that_start_a_formula_are_neutralised_in_the_csv(tmp_path, capsys):
    export = tmp_path / "users.ndjson"
    export.write_text("\n".join(_copilot("2025-10-01", login) for login in
                                ('=HYPERLINK("http://x","y")', "+cmd", "-2+3", "@SUM(A1)", "ada")) + "\n")
    out = tmp_path / "tidy.csv"
    assert main(["import", str(export), "--out", str(out)]) == 0
    users = set(pd.read_csv(out)["user"])
    assert users == {"'=HYPERLINK(\"http://x\",\"y\")", "'+cmd", "'-2+3", "'@SUM(A1)", "ada"}


def test_one_id_written_two_ways_is_one_user(tmp_path):
    export = tmp_path / "users.ndjson"
    nfc, nfd, zero_width = "zo\u00eb", "zoe\u0308", "zo\u00eb\u200b"
    export.write_text("\n".join(_copilot(f"2025-10-0{i}", login) for i, login in
                                enumerate((nfc, nfd, zero_width), start=1)) + "\n")
    table = read_exports([export])
    assert table["user"].nunique() == 1 and table["user"].iloc[0] == nfc


@pytest.mark.parametrize("cell", ["1_000", "\u0661\u0662", "2.5", "1e3"])
def test_counts_in_odd_notation_are_refused_in_a_csv(tmp_path, cell):
    path = tmp_path / "q.csv"
    path.write_text(f"UserId,Date,Chat_MessagesSent\nu1,2025-05-14,{cell}\n", encoding="utf-8")
    with pytest.raises(UserError, match="line 2: column 'Chat_MessagesSent' is not a number"):
        read_exports([path])


@pytest.mark.parametrize("value, words", [("2.5", "not a whole count"), ("9" * 401, "small enough")])
def test_fractional_or_enormous_json_counts_are_refused(tmp_path, value, words):
    path = tmp_path / "users.ndjson"
    path.write_text(_copilot("2025-10-01").replace('"code_acceptance_activity_count": 1',
                                                   f'"code_acceptance_activity_count": {value}') + "\n")
    with pytest.raises(UserError, match=words) as caught:
        read_exports([path])
    assert len(str(caught.value)) < 300, "the message shows a shortened value"


def test_counts_that_add_up_past_a_float_are_refused(tmp_path):
    page = {"data": [{"date": "2025-10-01", "actor": {"email_address": "ada@x.org"}, "terminal_type": t,
                      "model_breakdown": [{"tokens": {"input": 9e14, "output": 1}}]}
                     for t in ("vscode", "iterm", "tmux")]}
    path = tmp_path / "claude.json"
    path.write_text(json.dumps(page))
    with pytest.raises(UserError, match="add up to more than this importer can hold"):
        read_exports([path], kind="claude-code")


def test_a_duplicated_csv_column_is_refused(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("UserId,Date,Chat_MessagesSent,Chat_MessagesSent\nu1,2025-05-14,3,30\n")
    with pytest.raises(UserError, match="'Chat_MessagesSent' appear more than once"):
        read_exports([path])


def test_gzipped_exports_are_read_and_a_folder_names_what_it_skips(tmp_path, capsys):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "oct.ndjson").write_text(_copilot("2025-10-01") + "\n")
    with gzip.open(folder / "nov.ndjson.gz", "wt") as handle:
        handle.write(_copilot("2025-11-01", interactions=5) + "\n")
    (folder / "cursor-daily-usage.csv").write_text("Date,Email,Total Lines Added\n2025-11-01,ada@x.org,12\n")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    code, out, _ = _import(tmp_path, folder, capsys=capsys)
    assert code == 0
    table = pd.read_csv(tmp_path / "tidy.csv")
    assert sorted(table["interactions"]) == [3, 5]
    assert "skipped" in out and "cursor-daily-usage.csv: not one of the known exports" in out
    assert "notes.pdf: not an export file" in out


def test_duplicates_that_disagree_say_which_record_was_kept(tmp_path, capsys):
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    first.write_text(_copilot("2025-10-01", interactions=3) + "\n")
    second.write_text(_copilot("2025-10-01", interactions=30) + "\n")
    code, out, _ = _import(tmp_path, first, second, capsys=capsys)
    assert code == 0
    assert "disagree on their counts" in out and f"kept {second}" in out
    assert pd.read_csv(tmp_path / "tidy.csv")["interactions"].tolist() == [30]


def test_m365_reports_no_duplicates_that_are_not_there(tmp_path):
    path = tmp_path / "m365.csv"
    path.write_text("Report Refresh Date,User Principal Name,Last Activity Date,"
                    "Microsoft Teams Copilot Last Activity Date,Word Copilot Last Activity Date\n"
                    "2025-10-07,ada@x.org,2025-10-06,2025-10-06,2025-10-02\n")
    table = read_exports([path])
    assert len(table) == 2 and table.attrs["duplicates"] == 0


def _openai_page(results: list[dict], start: int = 1759276800, width: int = 86400) -> dict:
    return {"object": "page", "data": [{"object": "bucket", "start_time": start, "end_time": start + width,
                                        "results": results}]}


def test_openai_results_split_by_api_source_all_count(tmp_path):
    results = [{"object": "organization.usage.completions.result", "input_tokens": 10, "output_tokens": 2,
                "num_model_requests": n, "user_id": "u1", "api_source": source}
               for n, source in ((5, "responses"), (7, "chat_completions"))]
    path = tmp_path / "openai.json"
    path.write_text(json.dumps(_openai_page(results)))
    assert read_exports([path])["interactions"].tolist() == [12]


def test_openai_exports_of_one_period_with_other_bucket_widths_are_refused(tmp_path):
    result = {"input_tokens": 10, "output_tokens": 2, "num_model_requests": 4, "user_id": "u1"}
    daily, hourly = tmp_path / "daily.json", tmp_path / "hourly.json"
    daily.write_text(json.dumps(_openai_page([result])))
    hourly.write_text(json.dumps(_openai_page([result], start=1759276800 + 3600, width=3600)))
    with pytest.raises(UserError, match="would count each request twice"):
        read_exports([daily, hourly])


def _cursor_day(email: str, day_ms: int, **counts) -> dict:
    base = {"date": day_ms, "userId": 17, "email": email, "isActive": True, "totalLinesAdded": 40,
            "acceptedLinesAdded": 12, "totalAccepts": 3, "totalRejects": 1, "totalTabsShown": 20,
            "totalTabsAccepted": 6, "composerRequests": 2, "chatRequests": 4, "agentRequests": 1,
            "cmdkUsages": 0, "bugbotUsages": 0, "mostUsedModel": "claude-4-sonnet"}
    return {**base, **counts}


def test_a_cursor_daily_usage_export_is_detected_and_read(tmp_path):
    path = tmp_path / "cursor-daily-usage.json"
    october_first_ms = 1759276800000
    path.write_text(json.dumps({"data": [_cursor_day("ada@x.org", october_first_ms),
                                         _cursor_day("bo@x.org", october_first_ms + 86_400_000,
                                                     chatRequests=9)],
                                "period": {"startDate": october_first_ms, "endDate": october_first_ms}}))
    table = read_exports([path]).set_index("user")
    assert set(table["source"]) == {"cursor"}
    assert table.loc["ada@x.org", "interactions"] == 2 + 4 + 1 + 20
    assert table.loc["ada@x.org", "acceptances"] == 3 + 6
    assert table.loc["ada@x.org", "lines_added"] == 12
    assert str(table.loc["bo@x.org", "day"].date()) == "2025-10-02"
    assert table.loc["bo@x.org", "interactions"] == 2 + 9 + 1 + 20
    assert table["tokens_in"].isna().all()


def test_a_cursor_record_without_a_date_names_the_record(tmp_path):
    record = _cursor_day("ada@x.org", 0)
    del record["date"]
    path = tmp_path / "cursor.json"
    path.write_text(json.dumps({"data": [record]}))
    with pytest.raises(UserError, match="record 1: missing field 'date'"):
        read_exports([path], kind="cursor")
