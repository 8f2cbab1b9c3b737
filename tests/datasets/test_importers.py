"""Importers of real exports: round trips with our exports, the other vendors, bad files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datasets.errors import UserError
from datasets.exports import EXPORT_TOOLS, TOKENS_PER_LINE, vendor_identities, write_export
from datasets.importers import TIDY_COLUMNS, detect_kind, read_export, read_exports

def _load_small_company():
    """The hand-made company builder of test_exports.py, loaded by path (test names may repeat)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("datasets_test_exports", Path(__file__).with_name("test_exports.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.small_company


small_company = _load_small_company()


@pytest.fixture(scope="module")
def company():
    return small_company(seed=11, employees=8, days=40, events=1500)


@pytest.fixture(scope="module")
def exported(company, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("exports")
    for kind in ("github-copilot", "openai-usage", "m365-copilot"):
        write_export(company, kind, root / kind)
    return {kind: root / kind for kind in ("github-copilot", "openai-usage", "m365-copilot")}


def per_user_day(events: pd.DataFrame, user_of: pd.Series) -> pd.DataFrame:
    """The events' own aggregates keyed like the tidy table."""
    frame = events.assign(user=events["employee_id"].map(user_of), day=events["timestamp"].dt.normalize())
    return frame.groupby(["user", "day"])


# ----- round trips ------------------------------------------------------------------------------


def test_every_import_has_the_tidy_columns_and_types(exported):
    for kind, folder in exported.items():
        tidy = read_export(folder)
        # the tidy columns first; after them only the vendor's own declared columns, each with its role
        assert list(tidy.columns[:len(TIDY_COLUMNS)]) == TIDY_COLUMNS
        extra = list(tidy.columns[len(TIDY_COLUMNS):])
        assert set(extra) <= set(tidy.attrs["roles"][kind]), extra
        assert (tidy["source"] == kind).all()
        assert tidy["day"].dtype == "datetime64[ns]"
        assert tidy["user"].dtype == "category" and tidy["source"].dtype == "category"
        assert all(tidy[c].dtype in ("float32", "float64") for c in TIDY_COLUMNS[3:])
        assert not tidy.duplicated(["user", "day", "source"]).any()


def test_copilot_round_trip_agrees_with_the_events(company, exported):
    tidy = read_export(exported["github-copilot"], kind="github-copilot").set_index(["user", "day"])
    logins = vendor_identities(company.employees).set_index("employee_id")["github_login"]
    events = company.ai_events[company.ai_events["tool"].isin(EXPORT_TOOLS["github-copilot"])]
    grouped = per_user_day(events, logins)
    assert sorted(tidy.index) == sorted(grouped.size().index)
    assert (tidy["interactions"] == grouped.size().reindex(tidy.index)).all()

    ide = events[events["tool"] == "ide-assistant"]
    accepted = per_user_day(ide, logins)["accepted"].sum().reindex(tidy.index, fill_value=0)
    assert (tidy["acceptances"] == accepted).all()
    lines = np.maximum(np.ceil(ide["tokens_out"] / TOKENS_PER_LINE), 1).where(ide["accepted"], 0)
    added = per_user_day(ide.assign(lines=lines), logins)["lines"].sum().reindex(tidy.index, fill_value=0)
    assert (tidy["lines_added"] == added).all()

    cli = events[events["tool"] == "cli-agent"]
    cli_tokens = per_user_day(cli, logins)[["tokens_in", "tokens_out"]].sum()
    assert tidy["tokens_in"].dropna().to_dict() == cli_tokens["tokens_in"].astype(float).to_dict()
    assert tidy["tokens_out"].dropna().sum() == cli["tokens_out"].sum()


def test_copilot_cli_prompts_survive_the_round_trip_across_githubs_definition_change(tmp_path):
    """From 2026-04-10 GitHub's top-level interaction count includes Copilot CLI prompts (feature
    copilot_cli); the generated export follows the date, and the reader counts each prompt once on
    both sides of it."""
    from datasets.importers.copilot import CLI_IN_TOTALS

    company = small_company(seed=5, employees=6, days=20, events=1200, start="2026-03-31")
    write_export(company, "github-copilot", tmp_path)
    tidy = read_export(tmp_path, kind="github-copilot").set_index(["user", "day"])
    logins = vendor_identities(company.employees).set_index("employee_id")["github_login"]
    events = company.ai_events[company.ai_events["tool"].isin(EXPORT_TOOLS["github-copilot"])]
    expected = per_user_day(events, logins).size().reindex(tidy.index)
    after = tidy.index.get_level_values("day") >= pd.Timestamp(CLI_IN_TOTALS)
    cli_after = events[(events["tool"] == "cli-agent") & (events["timestamp"] >= pd.Timestamp(CLI_IN_TOTALS))]
    assert after.any() and (~after).any() and len(cli_after) > 0
    assert (tidy["interactions"] == expected).all()
    records = [json.loads(line) for path in sorted(tmp_path.rglob("*.ndjson")) for line in path.read_text().splitlines()]
    later = [r for r in records if r["day"] >= CLI_IN_TOTALS.isoformat() and r["used_cli"]]
    assert later and all(any(f["feature"] == "copilot_cli" for f in r["totals_by_feature"]) for r in later)


def test_openai_round_trip_agrees_with_the_events(company, exported):
    tidy = read_export(exported["openai-usage"]).astype({"user": "string"}).set_index(["user", "day"])
    users = vendor_identities(company.employees).set_index("employee_id")["openai_user_id"]
    chat = company.ai_events[company.ai_events["tool"] == "chat-assistant"]
    grouped = per_user_day(chat, users)
    expected = grouped.agg(interactions=("event_id", "size"), tokens_in=("tokens_in", "sum"), tokens_out=("tokens_out", "sum"))
    pd.testing.assert_frame_equal(
        tidy[["interactions", "tokens_in", "tokens_out"]].astype("float64").sort_index(),
        expected.astype("float64").sort_index()
    )
    assert tidy["acceptances"].isna().all() and tidy["lines_added"].isna().all()


def test_m365_round_trip_keeps_only_last_activity_dates(company, exported):
    tidy = read_export(exported["m365-copilot"])
    office = company.ai_events[company.ai_events["tool"] == "office-copilot"]
    emails = company.employees.set_index("employee_id")["email"]
    latest = office.groupby(office["employee_id"].map(emails))["timestamp"].max().dt.normalize()
    assert tidy.groupby("user")["day"].max().to_dict() == latest.to_dict()
    assert tidy[TIDY_COLUMNS[3:]].isna().all().all(), "intensity is invisible in this export"
    active_days = per_user_day(office, emails).ngroups
    assert len(tidy) < active_days


def test_reading_several_exports_stacks_their_sources(exported):
    tidy = read_exports(exported.values())
    assert set(tidy["source"]) == {"github-copilot", "openai-usage", "m365-copilot"}


def test_a_generated_company_round_trips_through_every_export(tmp_path):
    api = pytest.importorskip("datasets.api", reason="the generator is not available")
    company = api.generate_company(profile="startup", employees=30, days=30, seed=5)
    for kind in ("github-copilot", "openai-usage", "m365-copilot"):
        paths = write_export(company, kind, tmp_path / kind)
        tidy = read_export(tmp_path / kind)
        tools = company.ai_events["tool"].isin(EXPORT_TOOLS[kind])
        if kind != "m365-copilot":
            assert tidy["interactions"].sum() == tools.sum()
        assert paths


# ----- other vendors ----------------------------------------------------------------------------

AMAZON_Q_CSV = (
    "UserId,Date,Chat_AICodeLines,Chat_MessagesInteracted,Chat_MessagesSent,Inline_AICodeLines,"
    "Inline_AcceptanceCount,Inline_SuggestionsCount,Dev_AcceptedLines\n"
    "d-9067-a1b2,2025-05-14,12,2,8,40,5,30,\n"
    "d-9067-c3d4,2025-05-14,0,0,0,3,1,4,10\n"
)


def test_amazon_q_csv_sums_chat_and_inline_counts(tmp_path):
    path = tmp_path / "111122223333_by_user_analytic_1715731200.csv"
    path.write_text(AMAZON_Q_CSV)
    assert detect_kind(path) == "amazon-q"
    tidy = read_export(path).set_index("user")
    assert tidy.loc["d-9067-a1b2", ["interactions", "acceptances", "lines_added"]].tolist() == [38, 7, 52]
    assert tidy.loc["d-9067-c3d4", "lines_added"] == 13
    assert tidy["tokens_in"].isna().all()
    assert (tidy["day"] == pd.Timestamp("2025-05-14")).all()


CLAUDE_REPORT = {
    "data": [
        {
            "actor": {"email_address": "ada@example.com", "type": "user_actor"},
            "core_metrics": {
                "commits_by_claude_code": 3,
                "lines_of_code": {"added": 842, "removed": 210},
                "num_sessions": 5,
                "pull_requests_by_claude_code": 1,
            },
            "customer_type": "subscription",
            "date": "2026-01-15",
            "model_breakdown": [
                {"estimated_cost": {"amount": 1234, "currency": "USD"}, "model": "claude-sonnet-4",
                 "tokens": {"cache_creation": 0, "cache_read": 1200, "input": 5400, "output": 2100}},
                {"estimated_cost": {"amount": 90, "currency": "USD"}, "model": "claude-haiku-4",
                 "tokens": {"cache_creation": 0, "cache_read": 0, "input": 600, "output": 400}},
            ],
            "organization_id": "org_123",
            "terminal_type": "vscode",
            "tool_actions": {
                "edit_tool": {"accepted": 10, "rejected": 2},
                "write_tool": {"accepted": 3, "rejected": 1},
            },
        },
        {
            "actor": {"api_key_name": "ci-bot", "type": "api_actor"},
            "core_metrics": {"lines_of_code": {"added": 5, "removed": 0}, "num_sessions": 1},
            "customer_type": "api",
            "date": "2026-01-15",
            "model_breakdown": [],
            "organization_id": "org_123",
            "terminal_type": "non-interactive",
            "tool_actions": {},
        },
    ],
    "has_more": False,
    "next_page": None,
}


def test_claude_code_report_reads_actions_tokens_and_lines(tmp_path):
    path = tmp_path / "claude_code_2026-01-15.json"
    path.write_text(json.dumps(CLAUDE_REPORT, indent=2))
    assert detect_kind(path) == "claude-code"
    tidy = read_export(path).set_index("user")
    ada = tidy.loc["ada@example.com"]
    assert [ada.interactions, ada.acceptances, ada.tokens_in, ada.tokens_out, ada.lines_added] == [16, 13, 6000, 2500, 842]
    assert np.isnan(tidy.loc["ci-bot", "interactions"]) and tidy.loc["ci-bot", "lines_added"] == 5


def test_claude_code_daily_pulls_appended_as_ndjson_are_read(tmp_path):
    path = tmp_path / "claude.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in CLAUDE_REPORT["data"]) + "\n")
    assert detect_kind(path) == "claude-code"
    assert set(read_export(path)["user"]) == {"ada@example.com", "ci-bot"}


def test_openai_hourly_buckets_add_up_to_days_and_null_users_are_kept(tmp_path):
    result = {"object": "organization.usage.completions.result", "input_tokens": 100, "output_tokens": 10,
              "num_model_requests": 2, "user_id": None, "model": None}
    page = {"object": "page", "has_more": False, "next_page": None, "data": [
        {"object": "bucket", "start_time": 1_730_419_200 + hour * 3600, "end_time": 1_730_419_200 + (hour + 1) * 3600,
         "results": [result]} for hour in range(3)
    ]}
    path = tmp_path / "usage.json"
    path.write_text(json.dumps(page))
    tidy = read_export(path)
    assert len(tidy) == 1 and tidy["user"].iloc[0] == "(unattributed)"
    assert tidy[["interactions", "tokens_in"]].iloc[0].tolist() == [6, 300]


# ----- malformed input --------------------------------------------------------------------------


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(UserError, match=r"nope\.ndjson: no such file"):
        read_export(tmp_path / "nope.ndjson", kind="github-copilot")


@pytest.mark.parametrize("kind", ["github-copilot", "openai-usage", "m365-copilot", "amazon-q", "claude-code"])
def test_empty_file_is_reported_as_empty(tmp_path, kind):
    path = tmp_path / "export.txt"
    path.write_text("  \n")
    with pytest.raises(UserError, match=r"export\.txt: the file is empty"):
        read_export(path, kind=kind)


def test_bad_ndjson_line_is_named_by_number(exported, tmp_path):
    lines = next(exported["github-copilot"].iterdir()).read_text().splitlines()
    lines[2] = lines[2][:-5]
    path = tmp_path / "broken.ndjson"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"broken\.ndjson: line 3: not valid JSON"):
        read_export(path)


def test_copilot_record_without_login_is_named_by_line(tmp_path):
    path = tmp_path / "users.ndjson"
    path.write_text('{"day": "2025-10-01", "user_login": "a", "user_initiated_interaction_count": 1, '
                    '"code_acceptance_activity_count": 0}\n'
                    '{"day": "2025-10-01", "user_initiated_interaction_count": 1, "code_acceptance_activity_count": 0}\n')
    with pytest.raises(UserError, match=r"users\.ndjson: line 2: missing field 'user_login'"):
        read_export(path, kind="github-copilot")


def test_copilot_count_that_is_text_is_rejected(tmp_path):
    path = tmp_path / "users.ndjson"
    path.write_text('{"day": "2025-10-01", "user_login": "a", "user_initiated_interaction_count": "many", '
                    '"code_acceptance_activity_count": 0}\n')
    with pytest.raises(UserError, match=r"line 1: field 'user_initiated_interaction_count' is not a number"):
        read_export(path, kind="github-copilot")


def test_wrong_csv_columns_are_listed(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text("Name,Email\nAda,ada@example.com\n")
    with pytest.raises(UserError, match=r"report\.csv: missing column\(s\) 'User Principal Name', 'Last Activity Date'"):
        read_export(path, kind="m365-copilot")
    with pytest.raises(UserError, match=r"report\.csv: cannot tell which export"):
        read_export(path)


def test_bad_date_in_m365_report_names_line_and_column(tmp_path):
    path = tmp_path / "m365.csv"
    path.write_text("User Principal Name,Last Activity Date\nada@example.com,2025-01-02\nbob@example.com,yesterday\n")
    with pytest.raises(UserError, match=r"m365\.csv: line 3: column 'Last Activity Date' is not a date"):
        read_export(path)


def test_bad_number_in_amazon_q_csv_names_line_and_column(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("UserId,Date,Chat_MessagesSent\nu1,2025-05-14,3\nu2,2025-05-14,lots\n")
    with pytest.raises(UserError, match=r"q\.csv: line 3: column 'Chat_MessagesSent' is not a number"):
        read_export(path)


def test_openai_page_with_bad_json_names_the_line(tmp_path):
    path = tmp_path / "page.json"
    path.write_text('{\n  "object": "page",\n  "data": [\n    {"start_time": 1,,}\n  ]\n}\n')
    with pytest.raises(UserError, match=r"page\.json: line 4: not valid JSON"):
        read_export(path, kind="openai-usage")


def test_openai_bucket_without_results_is_rejected(tmp_path):
    path = tmp_path / "page.json"
    path.write_text(json.dumps({"object": "page", "data": [{"object": "bucket", "start_time": 0}]}))
    with pytest.raises(UserError, match=r"bucket 1: missing field 'results'"):
        read_export(path)


def test_unknown_kind_and_empty_folder_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="unknown export kind 'slack'"):
        read_export(tmp_path, kind="slack")
    with pytest.raises(UserError, match="no export files"):
        read_export(tmp_path)


def test_a_generated_company_folder_reads_only_its_export_files(tmp_path):
    api = pytest.importorskip("datasets.api", reason="the generator is not available")
    company = api.generate_company(profile="startup", employees=12, days=14, seed=2)
    out = api.write_company(company, tmp_path / "company", fmt="csv")
    write_export(company, "openai-usage", out)
    write_export(company, "m365-copilot", out)
    tidy = read_export(out)
    assert set(tidy["source"]) == {"openai-usage", "m365-copilot"}
    assert set(read_export(out, kind="openai-usage")["source"]) == {"openai-usage"}
    with pytest.raises(UserError, match="no file in this folder is a github-copilot export"):
        read_export(out, kind="github-copilot")


def test_openai_pages_saved_together_as_one_list_are_read(exported, tmp_path):
    pages = [json.loads(p.read_text()) for p in sorted(exported["openai-usage"].iterdir())]
    path = tmp_path / "all-pages.json"
    path.write_text(json.dumps(pages))
    pd.testing.assert_frame_equal(read_export(path), read_export(exported["openai-usage"]))


def test_copilot_json_array_is_read_and_non_objects_are_named(tmp_path):
    record = {"day": "2025-10-01", "user_login": "a", "user_initiated_interaction_count": 2,
              "code_acceptance_activity_count": 1, "loc_added_sum": 8}
    path = tmp_path / "users.json"
    path.write_text(json.dumps([record]))
    assert detect_kind(path) == "github-copilot"
    assert read_export(path)[["interactions", "acceptances", "lines_added"]].iloc[0].tolist() == [2, 1, 8]
    path.write_text(json.dumps([record, 5]))
    with pytest.raises(UserError, match=r"users\.json: record 2: expected a JSON object"):
        read_export(path)


def test_amazon_q_month_first_dates_and_lower_case_headers_are_read(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("userid,date,chat_messagessent,inline_acceptancecount\nu1,05-14-2025,4,2\n")
    tidy = read_export(path)
    assert tidy["day"].tolist() == [pd.Timestamp("2025-05-14")]
    assert tidy[["interactions", "acceptances"]].iloc[0].tolist() == [4, 2]


def test_amazon_q_csv_without_user_column_is_named(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("Date,Chat_MessagesSent\n2025-05-14,3\n")
    with pytest.raises(UserError, match=r"q\.csv: missing column\(s\) 'UserId'"):
        read_export(path, kind="amazon-q")


# ----- hostile and real-world input -------------------------------------------------------------


def _copilot_line(day: str, login: str = "ada", interactions: int = 3, accepted: int = 1, **extra) -> str:
    record = {"day": day, "user_login": login, "user_initiated_interaction_count": interactions,
              "code_acceptance_activity_count": accepted, "loc_added_sum": 5, **extra}
    return json.dumps(record)


def test_the_same_export_given_twice_is_counted_once_with_a_note(exported):
    folder = exported["github-copilot"]
    once = read_export(folder)
    twice = read_exports([folder, folder])
    pd.testing.assert_frame_equal(twice, once)
    assert once.attrs["duplicates"] == 0 and twice.attrs["duplicates"] == len(once)


def test_overlapping_exports_do_not_double_the_shared_days(tmp_path):
    first, second = tmp_path / "oct1-3.ndjson", tmp_path / "oct2-4.ndjson"
    first.write_text("\n".join(_copilot_line(f"2025-10-0{d}") for d in (1, 2, 3)) + "\n")
    second.write_text("\n".join(_copilot_line(f"2025-10-0{d}") for d in (2, 3, 4)) + "\n")
    tidy = read_exports([first, second])
    assert tidy["interactions"].tolist() == [3, 3, 3, 3]
    assert tidy.attrs["duplicates"] == 2


def test_m365_day_first_dates_are_refused_not_turned_into_another_day(tmp_path):
    path = tmp_path / "m365.csv"
    path.write_text("User Principal Name,Last Activity Date\nada@example.com,02/10/2026\n")
    with pytest.raises(UserError, match=r"line 2: column 'Last Activity Date' is not a date in the report's "
                                        r"form YYYY-MM-DD.*'02/10/2026'"):
        read_export(path)


@pytest.mark.parametrize(("value", "words"), [
    ("-4", "is negative"), ("NaN", "not valid JSON"), ("Infinity", "not valid JSON"),
    ("1e400", "not a finite number"), ("null", "is null"), ("true", "is not a number"),
])
def test_copilot_counts_must_be_finite_and_non_negative(tmp_path, value, words):
    path = tmp_path / "users.ndjson"
    path.write_text(_copilot_line("2025-10-01") + "\n"
                    + _copilot_line("2025-10-02").replace('"code_acceptance_activity_count": 1',
                                                          f'"code_acceptance_activity_count": {value}') + "\n")
    with pytest.raises(UserError, match=rf"users\.ndjson: line 2: .*{words}"):
        read_export(path, kind="github-copilot")


@pytest.mark.parametrize("cell", ["-1", "nan", "inf", "1e400", "NaN"])
def test_csv_counts_must_be_finite_and_non_negative(tmp_path, cell):
    path = tmp_path / "q.csv"
    path.write_text(f"UserId,Date,Chat_MessagesSent\nu1,2025-05-14,3\nu2,2025-05-14,{cell}\n")
    with pytest.raises(UserError, match=r"q\.csv: line 3: column 'Chat_MessagesSent'"):
        read_export(path)


def test_a_renamed_acceptance_field_is_an_error_not_nan(tmp_path):
    path = tmp_path / "users.ndjson"
    path.write_text(_copilot_line("2025-10-01").replace("code_acceptance_activity_count", "code_acceptances") + "\n")
    with pytest.raises(UserError, match=r"users\.ndjson: line 1: missing field 'code_acceptance_activity_count'"):
        read_export(path, kind="github-copilot")


@pytest.mark.parametrize("login", ["null", '""', "  ", "{}"])
def test_a_null_or_blank_login_never_becomes_a_user(tmp_path, login):
    path = tmp_path / "users.ndjson"
    path.write_text(_copilot_line("2025-10-01").replace('"user_login": "ada"', f'"user_login": {json.dumps(login) if login.strip() == "" else login}') + "\n")
    with pytest.raises(UserError, match=r"line 1: field 'user_login' must be a non-empty text"):
        read_export(path, kind="github-copilot")


@pytest.mark.parametrize("missing", ["nan", "NaN", "None", "null", "<NA>", " nan "])
@pytest.mark.parametrize(("name", "text", "message"), [
    ("m365.csv", "User Principal Name,Last Activity Date\n{user},2026-02-10\n", "column 'User Principal Name' has no user"),
    ("q.csv", "UserId,Date,Chat_MessagesSent\n{user},05-14-2025,4\n", "column 'UserId' has no user"),
    ("kiro.csv", "UserId,Date,Client_Type,Messages\n{user},2026-11-02,KIRO_IDE,4\n", "column 'UserId' has no user"),
])
def test_a_missing_value_written_as_text_in_a_csv_never_becomes_a_user(tmp_path, missing, name, text, message):
    """A CSV that went through pandas or a database dump writes a missing login as 'nan', 'None' or 'null'."""
    path = tmp_path / name
    path.write_text(text.replace("{user}", missing))
    with pytest.raises(UserError, match=r"line 2: " + re.escape(message)):
        read_export(path)


def test_in_json_a_login_spelled_like_a_missing_value_is_a_login(tmp_path):
    """JSON writes a missing login as null (refused above); the text "nan" is someone's login (Nan)."""
    path = tmp_path / "users.ndjson"
    path.write_text(_copilot_line("2025-10-01").replace('"user_login": "ada"', '"user_login": "nan"') + "\n")
    assert read_export(path)["user"].tolist() == ["nan"]


def test_semicolon_csv_with_a_bom_is_detected_and_read(tmp_path):
    m365 = tmp_path / "m365.csv"
    m365.write_bytes("\ufeffUser Principal Name;Display Name;Last Activity Date\r\nada@example.com;Ada;2026-02-10\r\n"
                     .encode("utf-8"))
    q = tmp_path / "q.csv"
    q.write_bytes("\ufeffUserId;Date;Chat_MessagesSent\nu1;05-14-2025;4\n".encode("utf-8"))
    assert detect_kind(m365) == "m365-copilot" and detect_kind(q) == "amazon-q"
    tidy = read_exports([m365, q])
    assert tidy["user"].tolist() == ["ada@example.com", "u1"]
    assert tidy["day"].tolist() == [pd.Timestamp("2026-02-10"), pd.Timestamp("2025-05-14")]
    assert tidy["interactions"].iloc[1] == 4


def test_openai_timestamps_in_milliseconds_are_read_as_the_same_day(tmp_path):
    def page(start):
        return {"object": "page", "data": [{"object": "bucket", "start_time": start, "end_time": start + 86400,
                                            "results": [{"input_tokens": 5, "output_tokens": 1,
                                                         "num_model_requests": 1, "user_id": "u"}]}]}
    seconds, millis = tmp_path / "s.json", tmp_path / "ms.json"
    seconds.write_text(json.dumps(page(1_730_419_200)))
    millis.write_text(json.dumps(page(1_730_419_200_000)))
    assert read_export(millis)["day"].tolist() == read_export(seconds)["day"].tolist() == [pd.Timestamp("2024-11-01")]
    seconds.write_text(json.dumps(page(42)))
    with pytest.raises(UserError, match=r"bucket 1: field 'start_time' is not a Unix time"):
        read_export(seconds)


def test_copilot_day_level_generation_count_is_kept_without_a_feature_breakdown(tmp_path):
    path = tmp_path / "users.ndjson"
    path.write_text(_copilot_line("2025-10-01", interactions=2, code_generation_activity_count=7) + "\n"
                    + _copilot_line("2025-10-02", interactions=2, code_generation_activity_count=7,
                                    totals_by_feature=[{"feature": "code_completion",
                                                        "code_generation_activity_count": 4}]) + "\n")
    assert read_export(path)["interactions"].tolist() == [9, 6]


def test_the_first_bad_ndjson_line_is_the_one_reported(tmp_path):
    path = tmp_path / "users.ndjson"
    path.write_text('{"day": "2025-10-01", "user_login": "ada"\n' + _copilot_line("2025-10-02") + "\n")
    with pytest.raises(UserError, match=r"users\.ndjson: line 1: not valid JSON"):
        read_export(path)
    weird = json.dumps({"day": "2025-10-01", "user_login": "a\u2028b", "user_initiated_interaction_count": 1,
                        "code_acceptance_activity_count": 0}, ensure_ascii=False)
    path.write_text(weird + "\n" + _copilot_line("2025-10-02") + "\n" + "{broken\n")
    with pytest.raises(UserError, match=r"users\.ndjson: line 3: not valid JSON"):
        read_export(path)


@pytest.mark.parametrize(("name", "text"), [
    ("m365.csv", "User Principal Name,Last Activity Date\n"),
    ("q.csv", "UserId,Date,Chat_MessagesSent\n"),
    ("page.json", '{"object": "page", "data": []}'),
    ("claude.json", '{"data": []}'),
])
def test_an_export_without_records_is_a_clear_error(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    kind = {"m365.csv": "m365-copilot", "q.csv": "amazon-q", "page.json": "openai-usage",
            "claude.json": "claude-code"}[name]
    with pytest.raises(UserError, match=rf"{name.replace('.', '[.]')}: no records"):
        read_export(path, kind=kind)


def test_messages_name_the_real_command_line_option(tmp_path):
    path = tmp_path / "mystery.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="use --kind with one of") as caught:
        read_export(path)
    assert "kind=" not in str(caught.value)
    with pytest.raises(UserError, match="--kind takes one of"):
        read_export(path, kind="slack")


def test_a_json_document_with_one_object_per_line_is_not_mistaken_for_ndjson(tmp_path):
    path = tmp_path / "claude.json"
    record = {"date": "2026-01-15", "actor": {"type": "user_actor", "email_address": "ada@example.com"}}
    path.write_text('{"data": [\n' + json.dumps(record) + "\n]}\n")
    assert read_export(path)["user"].tolist() == ["ada@example.com"]
