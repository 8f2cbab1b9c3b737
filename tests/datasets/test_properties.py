"""Property-based tests: whatever a user feeds the readers, they give a correct table or one clear
UserError — never another exception, never a NaN or negative count, never a user called "None"."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datasets.errors import UserError
from datasets.importers import COUNT_COLUMNS, TIDY_COLUMNS, read_export
from datasets.importers.base import MISSING_TEXTS, identity
from datasets.scenario import Scenario, load_scenario
from tests.datasets.both_readers import outcome, same_as_slow_reader

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check_tidy(table: pd.DataFrame) -> None:
    """What every successful import guarantees."""
    if "team" in table.columns or "repository" in table.columns:
        _check_side_table(table)
        return
    assert list(table.columns[:len(TIDY_COLUMNS)]) == TIDY_COLUMNS
    extra = list(table.columns[len(TIDY_COLUMNS):])
    assert all(column in table.attrs["roles"][source] for column in extra for source in set(table["source"]))
    assert len(table) > 0
    assert not table.duplicated(["user", "day", "source"]).any()
    assert table["day"].dtype == "datetime64[ns]" and table["day"].notna().all()
    users = table["user"].astype(str)
    assert (users.str.strip() != "").all() and not users.isin(["None", "nan", "<NA>"]).any()
    for column in COUNT_COLUMNS + extra:
        values = table[column].to_numpy(dtype="float64")
        known = values[~np.isnan(values)]
        assert np.isfinite(known).all() and (known >= 0).all(), column
    if "ai_adoption_phase" in extra:
        phases = table["ai_adoption_phase"].dropna()
        assert phases.isin([0, 1, 2, 3]).all()


def _check_side_table(table: pd.DataFrame) -> None:
    """GitHub's team and repository reports: no blank names, real days, finite non-negative counts."""
    assert len(table) > 0 and table["day"].notna().all()
    names = table["team" if "team" in table.columns else "repository"].astype(str)
    assert (names.str.strip() != "").all() and not names.isin(["None", "nan", "<NA>"]).any()
    for column in table.columns:
        if column not in ("user", "day", "team", "repository", "source"):
            values = table[column].to_numpy(dtype="float64")
            known = values[~np.isnan(values)]
            assert np.isfinite(known).all() and (known >= 0).all(), column


def _read(path: Path, kind: str | None = None) -> None:
    try:
        table = read_export(path, kind=kind)
    except UserError as error:
        message = str(error)
        assert message and "\n" not in message.strip()
        return
    _check_tidy(table)


# ----- values that real exports hold, and the hostile ones around them ---------------------------

counts = st.one_of(
    st.integers(min_value=-5, max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([None, True, "3", "", [], {}]),
)
days = st.one_of(
    st.dates().map(lambda day: day.isoformat()),
    st.sampled_from(["2025-10-01", "2025-02-30", "02/10/2026", "10-01-2025", "", "yesterday",
                     "2025-10-01T09:00:00Z"]),
    st.none(), st.integers(),
)
# a JSON login spelled "None" or "nan" is a login, yet in a table it would look like a null made text
# (what _check_tidy catches), so the generated texts never spell one
logins = st.one_of(st.text(max_size=12).filter(lambda text: identity(text) not in MISSING_TEXTS), st.none(),
                   st.integers(), st.sampled_from(["ada", "  ", "a\u2028b"]))

copilot_records = st.fixed_dictionaries(
    {},
    optional={
        "day": days,
        "user_login": logins,
        "user_initiated_interaction_count": counts,
        "code_acceptance_activity_count": counts,
        "code_generation_activity_count": counts,
        "loc_added_sum": counts,
        "totals_by_feature": st.one_of(st.none(), st.lists(st.fixed_dictionaries(
            {"feature": st.sampled_from(["code_completion", "agent_edit", "chat_panel_ask_mode"])},
            optional={"code_generation_activity_count": counts}), max_size=3), st.just("x")),
        "ai_credits_used": st.one_of(counts, st.floats(min_value=0, max_value=1e6)),
        "ai_adoption_phase": st.one_of(st.none(), counts, st.fixed_dictionaries(
            {"phase": st.one_of(st.integers(min_value=-1, max_value=5), counts)}, optional={"version": st.just("v1")})),
        "used_copilot_code_review_active": st.one_of(st.booleans(), counts),
        "totals_by_cli": st.one_of(st.none(), st.fixed_dictionaries({}, optional={
            "prompt_count": counts,
            "token_usage": st.one_of(st.none(), st.fixed_dictionaries(
                {}, optional={"prompt_tokens_sum": counts, "output_tokens_sum": counts}))})),
    },
)


def _dumps(record) -> str:
    return json.dumps(record, allow_nan=True, ensure_ascii=False)


@SETTINGS
@given(records=st.lists(copilot_records, max_size=6), as_array=st.booleans())
def test_any_copilot_export_gives_a_correct_table_or_one_clear_error(tmp_path, records, as_array):
    path = tmp_path / "users.json"
    path.write_text(_dumps(records) if as_array else "\n".join(_dumps(r) for r in records) + "\n", encoding="utf-8")
    _read(path)
    _read(path, "github-copilot")


openai_results = st.fixed_dictionaries({}, optional={
    "input_tokens": counts, "output_tokens": counts, "num_model_requests": counts,
    "user_id": st.one_of(st.none(), st.text(max_size=8), st.integers()),
    "model": st.one_of(st.none(), st.text(max_size=5)),
})
openai_pages = st.fixed_dictionaries({"object": st.just("page")}, optional={
    "data": st.one_of(st.none(), st.lists(st.fixed_dictionaries({}, optional={
        "start_time": st.one_of(st.integers(min_value=-10**14, max_value=10**14), counts),
        "results": st.one_of(st.none(), st.lists(openai_results, max_size=3), st.just({})),
    }), max_size=4)),
})


@SETTINGS
@given(page=openai_pages)
def test_any_openai_page_gives_a_correct_table_or_one_clear_error(tmp_path, page):
    path = tmp_path / "page.json"
    path.write_text(_dumps(page), encoding="utf-8")
    _read(path, "openai-usage")


claude_records = st.fixed_dictionaries({}, optional={
    "date": days,
    "actor": st.one_of(st.none(), st.text(max_size=4), st.fixed_dictionaries({}, optional={
        "email_address": logins, "api_key_name": logins})),
    "tool_actions": st.one_of(st.none(), st.just([]), st.dictionaries(
        st.sampled_from(["edit_tool", "write_tool"]),
        st.fixed_dictionaries({}, optional={"accepted": counts, "rejected": counts}), max_size=2)),
    "model_breakdown": st.one_of(st.none(), st.just({}), st.lists(st.fixed_dictionaries({}, optional={
        "tokens": st.one_of(st.none(), st.fixed_dictionaries({}, optional={"input": counts, "output": counts}))}),
        max_size=2)),
    "core_metrics": st.one_of(st.none(), st.fixed_dictionaries({}, optional={
        "lines_of_code": st.one_of(st.none(), st.fixed_dictionaries({}, optional={"added": counts}))})),
})


@SETTINGS
@given(records=st.lists(claude_records, max_size=5), wrapped=st.booleans())
def test_any_claude_code_report_gives_a_correct_table_or_one_clear_error(tmp_path, records, wrapped):
    path = tmp_path / "claude.json"
    path.write_text(_dumps({"data": records} if wrapped else records), encoding="utf-8")
    _read(path, "claude-code")


cells = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=10),
    st.sampled_from(["2026-02-10", "02/10/2026", "05-14-2025", "-1", "nan", "1e400", "inf", "3", "", " 4 "]),
)


@SETTINGS
@given(header=st.sampled_from([
    ["User Principal Name", "Display Name", "Last Activity Date", "Word Copilot Last Activity Date"],
    ["UserId", "Date", "Chat_MessagesSent", "Inline_AcceptanceCount", "Chat_AICodeLines"],
    ["userid", "date", "chat_messagessent"],
    ["UserId", "Date", "Client_Type", "Conversations", "Messages", "Credits_Used"],
    ["user_id", "date", "client type", "credits used"],
    ["Name", "Email"],
]), rows=st.lists(st.lists(cells, min_size=0, max_size=6), max_size=6),
    delimiter=st.sampled_from([",", ";", "\t"]), bom=st.booleans())
def test_any_csv_export_gives_a_correct_table_or_one_clear_error(tmp_path, header, rows, delimiter, bom):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path / "report.csv"
    path.write_text(("\ufeff" if bom else "") + buffer.getvalue(), encoding="utf-8")
    _read(path)


@SETTINGS
@given(content=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".json", ".ndjson"]))
def test_any_bytes_give_a_correct_table_or_one_clear_error(tmp_path, content, suffix):
    path = tmp_path / f"export{suffix}"
    path.write_bytes(content)
    _read(path)


# ----- the profile loader ---------------------------------------------------------------------------

numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-10, max_value=10**9),
                    st.text(max_size=5), st.none())
profiles = st.fixed_dictionaries({}, optional={
    "start_date": st.one_of(st.dates().map(str), st.sampled_from(["2026-02-30", "9999-12-28", "soon"]), numbers),
    "archetype_mix": st.one_of(numbers, st.dictionaries(
        st.sampled_from(["genuine", "tokenmaxxer", "convert", "non_user", "quiet_expert", "wizard"]), numbers,
        max_size=5), st.just({"genuine": 0.5, "non_user": 0.5})),
    "mandate": st.one_of(numbers, st.fixed_dictionaries({}, optional={
        "at": st.one_of(numbers, st.dates().map(str)), "strength": numbers})),
    "noise": numbers,
    "manager_span": numbers,
    "holidays": st.one_of(numbers, st.lists(st.text(max_size=6), max_size=3)),
    "teams": st.one_of(numbers, st.lists(st.fixed_dictionaries(
        {"name": st.text(max_size=4)}, optional={"weight": numbers, "roles": st.dictionaries(
            st.text(min_size=1, max_size=4), numbers, max_size=2)}), max_size=3)),
    "colour": st.text(max_size=3),
})


@SETTINGS
@given(profile=profiles)
def test_any_profile_loads_into_a_valid_scenario_or_one_clear_error(tmp_path, profile):
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    try:
        scenario = load_scenario(path)
    except UserError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        return
    assert isinstance(scenario, Scenario)
    assert math.isclose(sum(scenario.archetype_mix.values()), 1.0)
    for team in scenario.teams:
        assert math.isfinite(team.weight) and team.weight > 0
        assert all(math.isfinite(w) and w > 0 for w in team.roles.values())


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=200))
def test_any_yaml_text_loads_or_is_one_clear_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("profile") / "custom.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_scenario(path)
    except UserError as error:
        assert "\n" not in str(error)


@settings(max_examples=25, deadline=None)
@given(start=st.dates(), days=st.integers(min_value=1, max_value=40),
       at=st.one_of(st.none(), st.floats(min_value=0, max_value=1), st.dates()))
def test_any_period_and_mandate_generate_a_company_or_one_clear_error(start, days, at):
    from datasets.api import generate_company

    scenario = load_scenario("startup").model_copy(update={"mandate": load_scenario("startup").mandate
                                                          .model_copy(update={"at": at})})
    try:
        company = generate_company(scenario, 4, days, 1, start_date=start)
    except UserError as error:
        assert "\n" not in str(error)
        return
    assert company.meta["start_date"] == start.isoformat()
    if isinstance(at, type(start)):
        assert company.meta["mandate_date"] == at.isoformat()


# ----- the roster reader ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def read_roster():
    from grader.assign import read_roster

    return read_roster


@SETTINGS
@given(rows=st.lists(st.lists(cells, max_size=5), max_size=5),
       header=st.sampled_from([["id", "first_name", "last_name", "email"], ["id"], ["ID", "Email"], ["name"]]))
def test_any_roster_csv_gives_learners_or_one_clear_error(tmp_path, read_roster, rows, header):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path / "roster.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    try:
        learners = read_roster(path)
    except UserError as error:
        assert "\n" not in str(error)
        return
    ids = [learner.id for learner in learners]
    assert ids and len(set(ids)) == len(ids) and all(ids)


team_records = st.fixed_dictionaries({}, optional={
    "day": days, "user_login": logins, "user_id": st.integers(), "team_id": st.one_of(st.none(), st.integers()),
    "slug": st.one_of(st.none(), st.text(max_size=6)),
})
repo_records = st.fixed_dictionaries({"day": days}, optional={
    "repository": st.one_of(st.none(), st.text(max_size=8), st.integers()),
    "pull_requests": st.one_of(counts, st.fixed_dictionaries({}, optional={
        "total_created_by_copilot": counts, "total_merged_created_by_copilot": counts})),
    "code_review": st.fixed_dictionaries({}, optional={"total_suggestions": counts}),
})


@SETTINGS
@given(records=st.one_of(st.lists(team_records, max_size=5), st.lists(repo_records, max_size=5)))
def test_any_github_team_or_repository_report_gives_a_correct_table_or_one_clear_error(tmp_path, records):
    path = tmp_path / "report.ndjson"
    path.write_text("\n".join(_dumps(r) for r in records) + "\n", encoding="utf-8")
    _read(path)


# ----- the fast CSV path (whole columns) and the row reader never disagree ------------------------

csv_cells = st.one_of(
    st.integers(min_value=0, max_value=10**16).map(str),
    st.sampled_from(["", " ", "0", "007", "5.", "5.000", "5.25", " 7 ", "\t3", "1_000", "+5", "-1", "0x10",
                     "1e3", "\u0663", "\xa012", '"4"', '""', '"4', 'a"b', "12.5.1", ".5", "9" * 30, "\x0c4", "4\x85",
                     "a\x00b", "a\rb", "a\u2028b", "0" * 25 + "1"]),
    st.sampled_from(["ada", "Ada ", "e\u0301", "\xe9", "b\u200bob", " ", '"ada"', "KIRO_IDE", "kiro_cli ",
                     "PLUGIN", '"PLUGIN"']),
    st.sampled_from(["2026-11-02", "2026-11-03", "11-02-2026", " 2026-11-02", "2026-02-30", '"2026-11-02"']),
    st.text(alphabet="ab1.\" \t,", max_size=4),
)
CSV_FAST_HEADERS = (
    ["UserId", "Date", "Chat_MessagesSent", "Inline_AcceptanceCount", "Chat_AICodeLines", "Inline_AICodeLines"],
    ["UserId", "Date", "Client_Type", "Conversations", "Messages", "Credits_Used", "Overage_Credits_Used"],
)


@SETTINGS
@given(header=st.sampled_from(CSV_FAST_HEADERS), seed_rows=st.lists(
    st.tuples(st.sampled_from(["ada", "bob", "e\u0301", "\xe9"]), st.sampled_from(["2026-11-02", "11-02-2026"]),
              st.sampled_from(["KIRO_IDE", "KIRO_CLI"]), st.lists(st.integers(0, 99), min_size=4, max_size=4)),
    min_size=1, max_size=8), hostile=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 6), csv_cells), max_size=3),
    delimiter=st.sampled_from([",", ";"]), line_end=st.sampled_from(["\n", "\r\n", "\r"]))
def test_the_column_reader_and_the_row_reader_give_the_same_table_or_message(
        tmp_path, header, seed_rows, hostile, delimiter, line_end):
    from datasets.importers import fastcsv
    rows = []
    for user, day, client, numbers in seed_rows:   # mostly valid rows, then a few cells made hostile
        if "Client_Type" in header:
            rows.append([user, day.replace("11-02-2026", "2026-11-02"), client, *map(str, numbers[:3]), "0"])
        else:
            rows.append([user, day, *map(str, numbers)])
    for row, column, cell in hostile:
        if row < len(rows):
            rows[row][column % len(header)] = cell
    path = tmp_path / "report.csv"
    path.write_text(line_end.join(delimiter.join(cells) for cells in [header, *rows]) + line_end, encoding="utf-8")
    same_as_slow_reader(path, fastcsv, "blocks")


@pytest.mark.parametrize("vendor", ["kiro", "amazon-q"])
def test_a_plain_vendor_csv_is_read_by_columns_not_row_by_row(tmp_path, vendor):
    from unittest import mock

    from datasets.importers.amazon_q import AmazonQReader
    from datasets.importers.kiro import KiroReader
    if vendor == "kiro":
        reader, path = KiroReader, Path(__file__).parent / "fixtures" / "vendors" / "kiro-user-report-per-client.csv"
    else:
        reader, path = AmazonQReader, tmp_path / "amazon-q.csv"
        path.write_text('UserId,Date,Chat_MessagesSent,Inline_AICodeLines\r\n"d-1",11-02-2026,3,12.0\r\n'
                        "d-2,11-02-2026, 4 ,\r\n", encoding="utf-8")
    with mock.patch.object(reader, "_rows", side_effect=AssertionError("read row by row")):
        table = read_export(path)
    assert len(table) > 0 and table["source"].eq(vendor).all()
    if vendor == "amazon-q":
        assert table["interactions"].tolist() == [3, 4] and table["lines_added"].tolist() == [12, 0]


claude_members = st.fixed_dictionaries({}, optional={
    "user": st.one_of(st.none(), st.just("ada"), st.fixed_dictionaries({}, optional={
        "email_address": logins, "id": st.one_of(st.none(), st.just("user_01"))})),
    "distinct_user_count": st.one_of(st.none(), counts),
    "last_activity_date": st.one_of(st.none(), st.sampled_from(["2026-11-02", "2026-11-01", ""]), days),
    "claude_code_metrics": st.one_of(st.none(), st.just([]), st.fixed_dictionaries({}, optional={
        "core_metrics": st.one_of(st.none(), counts, st.fixed_dictionaries({}, optional={
            "commit_count": counts, "pull_request_count": counts, "distinct_session_count": counts,
            "lines_of_code": st.one_of(counts, st.fixed_dictionaries({}, optional={"added_count": counts}))})),
        "tool_actions": st.one_of(st.none(), counts, st.fixed_dictionaries({}, optional={
            tool: st.one_of(counts, st.fixed_dictionaries({}, optional={"accepted_count": counts,
                                                                         "rejected_count": counts}))
            for tool in ("edit_tool", "write_tool", "unknown_tool")}))})),
})


@SETTINGS
@given(rows=st.lists(claude_members, max_size=5), name=st.sampled_from(["users-2026-11-02.json", "users.json"]))
def test_any_claude_enterprise_page_gives_a_correct_table_or_one_clear_error(tmp_path, rows, name):
    path = tmp_path / name
    path.write_text(json.dumps({"data": rows, "next_page": None}))
    _read(path)
    _read(path, "claude-enterprise")


graph_records = st.fixed_dictionaries(
    {},
    optional={
        "userPrincipalName": logins,
        "lastActivityDate": st.one_of(days, st.just("")),
        "wordCopilotLastActivityDate": st.one_of(days, st.just("")),
        "copilotChatLastActivityDate": st.one_of(days, st.just(""), counts),
        "reportRefreshDate": days,
        "copilotActivityUserDetailsByPeriod": st.just([{"reportPeriod": 7}]),
    },
)


@SETTINGS
@given(records=st.lists(graph_records, max_size=5), wrapped=st.booleans())
def test_any_graph_m365_answer_gives_a_correct_table_or_one_clear_error(tmp_path, records, wrapped):
    path = tmp_path / "m365.json"
    path.write_text(json.dumps({"value": records} if wrapped else records))
    _read(path, kind="m365-copilot")
    _read(path)


def test_columns_of_hardly_repeating_counts_agree_with_the_row_reader(tmp_path):
    """Past a few distinct texts a block is converted by whole-column arithmetic, not per text."""
    from unittest import mock

    from datasets.importers import fastcsv
    lines = ["UserId,Date,Client_Type,Conversations,Messages,Credits_Used,Overage_Credits_Used"]
    lines += [f"u-{n % 50},2026-11-{1 + n % 28:02d},{('KIRO_IDE', 'KIRO_CLI', 'PLUGIN')[n % 3]},"
              f" {n} ,{n * 7}.000,{n}.{n % 997:03d},{n % 89}.{n}" for n in range(4000)]
    path = tmp_path / "kiro.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast = read_export(path)
    with mock.patch.object(fastcsv, "blocks", side_effect=fastcsv.NotFast):
        slow = read_export(path)
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert fast.attrs["duplicates"] == slow.attrs["duplicates"] == 4000 - 2100   # 50 users x 28 days x 3 clients
    assert fast.attrs["conflicts"] == slow.attrs["conflicts"] and len(fast.attrs["conflicts"]) == 1900


# ----- OpenAI pages: results read in bulk and result by result never disagree --------------------

openai_cells = st.one_of(
    st.integers(min_value=0, max_value=10**6), st.sampled_from([0, 2**53 + 1, 10**16, 10**400, -1, 1.0, 2.5, True,
                                                                None, "7", float("nan")]))
openai_users = st.sampled_from([None, "user-a", "user-b", "e\u0301", "\xe9", "b\u200bob", "", " ", 17, True, ["x"]])
openai_groupings = st.sampled_from([None, "gpt-5", 3, "", ["a"], {"k": 1}])


@SETTINGS
@given(buckets=st.lists(st.tuples(
    st.integers(0, 3),                                  # the bucket's hour
    st.sampled_from([3600, 86400]),                     # its width
    st.lists(st.tuples(openai_users, openai_cells, openai_cells, openai_cells, openai_groupings,
                       st.sampled_from(["plain", "model", "project", "model+project", "no-requests", "reordered"])),
             min_size=1, max_size=5)),
    min_size=1, max_size=5))
def test_the_bulk_and_the_per_result_openai_readers_give_the_same_table_or_message(tmp_path, buckets):
    from datasets.importers import openai

    data = []
    for hour, width, results in buckets:
        rows = []
        for user, requests, tokens_in, tokens_out, group, layout in results:
            row = {"object": "organization.usage.completions.result", "input_tokens": tokens_in,
                   "output_tokens": tokens_out, "num_model_requests": requests, "user_id": user}
            if layout in ("model", "model+project"):
                row["model"] = group
            if layout in ("project", "model+project"):
                row["project_id"] = group
            elif layout == "no-requests":
                del row["num_model_requests"]
            elif layout == "reordered":
                row = dict(reversed(list(row.items())))
            rows.append(row)
        start = 1_735_689_600 + 3600 * hour
        data.append({"object": "bucket", "start_time": start, "end_time": start + width, "results": rows})
    path = tmp_path / "usage.json"
    path.write_text(json.dumps({"object": "page", "data": data}), encoding="utf-8")
    same_as_slow_reader(path, openai._PlainResults, "read", return_value=None)   # every bucket result by result


def test_a_plain_openai_page_is_read_in_bulk(tmp_path):
    from unittest import mock

    from datasets.importers import openai

    results = [{"input_tokens": 10 + u, "output_tokens": 5, "num_model_requests": 1, "user_id": f"user-{u % 3}",
                "model": None} for u in range(6)]
    data = [{"object": "bucket", "start_time": 1_735_689_600 + 3600 * h, "end_time": 1_735_689_600 + 3600 * (h + 1),
             "results": results} for h in range(30)]
    path = tmp_path / "usage.json"
    path.write_text(json.dumps({"object": "page", "data": data}), encoding="utf-8")
    with mock.patch.object(openai.Sink, "add", side_effect=AssertionError("read result by result")):
        table = read_export(path)
    assert table["interactions"].sum() == 90 and table.attrs["duplicates"] == 30 * 3   # a user twice in a bucket: the later counts


def test_two_groupings_by_different_fields_with_one_value_stay_two_records(tmp_path):
    """A bucket grouped by model and one grouped by project, both "x": each record counts."""
    hour = {"start_time": 1_735_689_600, "end_time": 1_735_693_200}
    data = [{"object": "bucket", **hour, "results": [{"input_tokens": 1, "output_tokens": 1, "num_model_requests": 1,
                                                       "user_id": "u", "model": "x"}]},
            {"object": "bucket", **hour, "results": [{"input_tokens": 1, "output_tokens": 1, "num_model_requests": 2,
                                                       "user_id": "u", "project_id": "x"}]}]
    path = tmp_path / "usage.json"
    path.write_text(json.dumps({"object": "page", "data": data}), encoding="utf-8")
    table = read_export(path)
    assert table["interactions"].tolist() == [3.0] and table.attrs["duplicates"] == 0
