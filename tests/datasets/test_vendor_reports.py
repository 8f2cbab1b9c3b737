"""Today's vendor reports (fixtures written from the documented schemas), the reader registry, and
the streaming JSON reader: what each report says, what it leaves out, and clear refusals."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from datasets.errors import UserError
from datasets.importers import IMPORTERS, READERS, TIDY_COLUMNS, Reader, detect_kind, read_export, read_exports
from datasets.importers.base import ROLES, JsonStream

FIXTURES = Path(__file__).with_name("fixtures") / "vendors"
USERS = FIXTURES / "copilot-users-28-day"
TEAMS = FIXTURES / "copilot-user-teams-1-day.ndjson"
REPOS = FIXTURES / "copilot-repos-1-day.ndjson"
KIRO = FIXTURES / "kiro-user-report-per-client.csv"
GRAPH = FIXTURES / "m365-copilot-usage-user-detail.json"
CLAUDE_USERS = FIXTURES / "claude-analytics-users-2026-11-02.json"


# ----- the registry ---------------------------------------------------------------------------------


def test_every_reader_has_a_unique_kind_a_shape_and_known_roles():
    kinds = [reader.kind for reader in READERS]
    assert len(kinds) == len(set(kinds)) and set(kinds) == set(IMPORTERS)
    for reader in READERS:
        assert isinstance(reader, Reader) and reader.shape
        assert set(reader.roles.values()) <= set(ROLES), reader.kind
        assert set(reader.extra) <= set(reader.roles), f"{reader.kind}: an extra column without a role"
        assert set(reader.extra.values()) <= {"sum", "max"}


@pytest.mark.parametrize(("path", "kind"), [
    (USERS / "part-1.ndjson", "github-copilot"),
    (TEAMS, "github-copilot-teams"),
    (REPOS, "github-copilot-repos"),
    (KIRO, "kiro"),
    (GRAPH, "m365-copilot"),
    (CLAUDE_USERS, "claude-enterprise"),
])
def test_each_fixture_is_detected_as_its_own_report_and_by_no_other_reader(path, kind):
    assert detect_kind(path) == kind
    from datasets.importers.registry import _head_of
    head = _head_of(path)
    assert [reader.kind for reader in READERS if reader.detect(head)][0] == kind


# ----- GitHub Copilot users report (API version 2026-03-10) ------------------------------------------


def test_a_multi_file_users_report_is_read_once_per_user_day_with_the_2026_fields():
    table = read_export(USERS)
    assert list(table.columns[:len(TIDY_COLUMNS)]) == TIDY_COLUMNS
    rows = table.set_index(["user", table["day"].dt.strftime("%Y-%m-%d")])
    # prompts + completions shown (+ CLI prompts only before 2026-04-10, when totals began to include them)
    assert rows.loc[("ada-lovelace", "2026-04-09"), "interactions"] == 5 + 10 + 3
    assert rows.loc[("ada-lovelace", "2026-04-10"), "interactions"] == 8 + 6
    assert rows.loc[("bob-b", "2026-04-11"), "interactions"] == 1 + 2      # no breakdown: the day's count
    assert rows.loc[("ada-lovelace", "2026-04-09"), "ai_credits_used"] == 1.5
    assert rows.loc[("ada-lovelace", "2026-04-10"), "ai_credits_used"] == 2.25
    assert rows.loc[("bob-b", "2026-04-09"), "ai_adoption_phase"] == 1
    assert rows.loc[("ada-lovelace", "2026-04-09"), "used_copilot_code_review_active"] == 1
    assert rows.loc[("bob-b", "2026-04-11"), "used_copilot_code_review_passive"] == 1
    assert table.attrs["duplicates"] == 1 and table.attrs["conflicts"] == []   # part-2 repeats one record
    assert table.attrs["roles"]["github-copilot"]["ai_credits_used"] == "consumption"
    assert table.attrs["roles"]["github-copilot"]["acceptances"] == "acceptance"


def test_a_definition_change_inside_the_period_is_in_the_metadata_and_one_outside_is_not():
    changes = read_export(USERS).attrs["definition_changes"]
    assert [(c["source"], c["since"]) for c in changes] == [("github-copilot", "2026-04-10")]
    assert "Copilot CLI" in changes[0]["what"]
    assert read_export(USERS / "part-2.ndjson").attrs["definition_changes"] == []   # 04-10 .. 04-11 starts on it


def test_the_adoption_phase_and_the_multiplier_caveats_travel_with_the_table():
    notes = " ".join(read_export(USERS).attrs["notes"])
    assert "2 of 28 days" in notes and "different populations" in notes and "Copy button" in notes


@pytest.mark.parametrize(("field", "value", "message"), [
    ("ai_adoption_phase", {"phase": 7, "version": "v1"}, "not a phase 0 to 3"),
    ("ai_adoption_phase", {"phase": True}, "not a phase 0 to 3"),
    ("ai_credits_used", -1, "negative"),
    ("ai_credits_used", "2.5", "not a number"),
    ("ai_credits_used", 10**400, "not a finite number"),
    ("used_copilot_code_review_active", "yes", "not true or false"),
])
def test_hostile_2026_fields_are_refused_naming_file_line_and_field(tmp_path, field, value, message):
    record = json.loads((USERS / "part-1.ndjson").read_text().splitlines()[1])
    record[field] = value
    path = tmp_path / "users.ndjson"
    path.write_text((USERS / "part-1.ndjson").read_text().splitlines()[0] + "\n" + json.dumps(record) + "\n")
    with pytest.raises(UserError, match=rf"users\.ndjson: line 2: field '{field}[^']*' .*{message}"):
        read_export(path)


def test_a_truncated_part_is_refused_and_nothing_is_half_imported(tmp_path):
    folder = tmp_path / "download"
    shutil.copytree(USERS, folder)
    text = (folder / "part-2.ndjson").read_text()
    (folder / "part-2.ndjson").write_text(text[: len(text) - 40])        # the download stopped mid-record
    with pytest.raises(UserError, match=r"part-2\.ndjson: line 2: not valid JSON"):
        read_export(folder)


# ----- the team and repository reports ----------------------------------------------------------------


def test_the_team_report_is_a_table_of_memberships_that_says_small_teams_are_missing():
    teams = read_export(TEAMS)
    assert list(teams.columns) == ["user", "day", "team", "source"]
    assert teams.groupby("team")["user"].nunique().to_dict() == {"payments": 1, "platform": 3}
    assert any("fewer than 5" in note for note in teams.attrs["notes"])


def test_the_team_report_beside_the_users_report_is_skipped_with_its_reason(tmp_path):
    folder = tmp_path / "download"
    shutil.copytree(USERS, folder)
    shutil.copy(TEAMS, folder / TEAMS.name)
    table = read_export(folder)
    assert set(table["source"]) == {"github-copilot"}
    assert any(TEAMS.name in line and "table of its own" in line for line in table.attrs["skipped"])
    with pytest.raises(UserError, match="different reports"):
        read_exports([TEAMS, REPOS])


def test_the_repository_report_keeps_its_counts_as_outcome_proximal_and_says_absence_is_not_zero():
    repos = read_export(REPOS)
    assert list(repos["repository"]) == ["acme/api", "acme/web"]
    assert repos["pull_requests.total_merged_created_by_copilot"].tolist() == [2, 0]
    roles = repos.attrs["roles"]["github-copilot-repos"]
    assert roles["pull_requests.total_merged_created_by_copilot"] == "outcome-proximal"
    assert roles["code_review.total_suggestions"] == "activity"
    assert any("not a zero" in note for note in repos.attrs["notes"])


# ----- Claude: the contribution counts of both reports ----------------------------------------------


def test_claude_enterprise_rows_are_read_on_the_day_the_file_names_with_contributions_as_outcome_proximal():
    table = read_export(CLAUDE_USERS).set_index("user")
    assert (table["day"] == "2026-11-02").all() and set(table["source"]) == {"claude-enterprise"}
    ada = table.loc["ada@example.com"]
    assert [ada.interactions, ada.acceptances, ada.lines_added] == [17, 14, 842]   # 10+1+3 accepted, 2+1 rejected
    assert [ada.sessions, ada.commits_by_claude_code, ada.pull_requests_by_claude_code] == [5, 3, 1]
    assert table.loc["bob@example.com", ["interactions", "commits_by_claude_code"]].tolist() == [0, 0]
    roles = table.attrs["roles"]["claude-enterprise"]
    assert roles["commits_by_claude_code"] == roles["pull_requests_by_claude_code"] == "outcome-proximal"
    assert roles["interactions"] == "activity" and np.isnan(ada.tokens_in)
    assert any("not what the tool changed" in note for note in table.attrs["notes"])


def test_the_claude_code_usage_report_keeps_its_sessions_commits_and_pull_requests(tmp_path):
    from tests.datasets.test_importers import CLAUDE_REPORT
    path = tmp_path / "claude_code.json"
    path.write_text(json.dumps(CLAUDE_REPORT))
    table = read_export(path).set_index("user")
    assert table.loc["ada@example.com", ["sessions", "commits_by_claude_code", "pull_requests_by_claude_code"]].tolist() \
        == [5, 3, 1]
    assert table.loc["ci-bot", "sessions"] == 1 and np.isnan(table.loc["ci-bot", "commits_by_claude_code"])
    assert table.attrs["roles"]["claude-code"]["commits_by_claude_code"] == "outcome-proximal"


def _claude_page(**change) -> dict:
    page = json.loads(CLAUDE_USERS.read_text())
    page["data"][0].update(change)
    return page


@pytest.mark.parametrize(("name", "page", "message"), [
    ("claude-users.json", _claude_page(), "does not say which day it covers"),
    ("claude-users-2026-11-02-to-2026-11-09.json", _claude_page(), "names 2 days in its file name"),
    ("claude-users-2026-11-03.json", _claude_page(), "last active on '2026-11-02', not on 2026-11-03"),
    ("claude-users-2026-11-02.json", _claude_page(user=None, distinct_user_count=14), "a group of members"),
    ("claude-users-2026-11-02.json", _claude_page(claude_code_metrics={"tool_actions": {}}),
     "'claude_code_metrics.core_metrics' is not an object"),
    ("claude-users-2026-11-02.json", _claude_page(claude_code_metrics={"core_metrics": {"commit_count": -2}}),
     "'commits_by_claude_code' is negative"),
    ("claude-users-2026-13-02.json", _claude_page(), "the file name"),
])
def test_claude_enterprise_files_that_cannot_be_read_per_day_are_refused(tmp_path, name, page, message):
    path = tmp_path / name
    path.write_text(json.dumps(page))
    with pytest.raises(UserError, match="^" + str(path).replace(".", r"\.") + ".*" + re.escape(message)):
        read_export(path, kind="claude-enterprise")


def test_a_team_record_without_a_team_is_refused(tmp_path):
    path = tmp_path / "teams.ndjson"
    path.write_text(TEAMS.read_text().splitlines()[0] + "\n"
                    + json.dumps({"user_login": "x", "day": "2026-04-10", "team_id": None, "slug": None}) + "\n")
    with pytest.raises(UserError, match=r"teams\.ndjson: line 2: neither 'slug' nor 'team_id'"):
        read_export(path)


# ----- Kiro -------------------------------------------------------------------------------------------


def test_kiro_per_client_rows_add_up_per_user_day_instead_of_being_dropped_as_duplicates():
    table = read_export(KIRO)
    assert set(table["source"]) == {"kiro"} and len(table) == 8 and table.attrs["duplicates"] == 0
    ada = table[(table["user"] == "u-0193") & (table["day"] == "2026-11-02")].iloc[0]
    assert [ada.interactions, ada.conversations, ada.credits_used] == [21 + 6 + 2, 3 + 1 + 1, 12.5 + 3.25 + 0.5]
    assert np.isnan(ada.acceptances) and np.isnan(ada.lines_added)    # Kiro reports neither
    assert table.attrs["roles"]["kiro"]["credits_used"] == "consumption"


def test_kiro_read_as_amazon_q_would_have_lost_rows_and_now_a_repeated_row_is_a_duplicate(tmp_path):
    path = tmp_path / "kiro.csv"
    lines = KIRO.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[1]]) + "\n")
    table = read_export(path)
    assert table.attrs["duplicates"] == 1 and len(table) == 8


@pytest.mark.parametrize(("header", "row", "message"), [
    ("UserId,Date,Client_Type,Messages", "u-1,2026-11-02,,4", r"line 2: column 'Client_Type' is blank"),
    ("UserId,Date,Client_Type,Messages", "u-1,02/11/2026,KIRO_IDE,4", r"line 2: column 'Date' is not a date"),
    ("UserId,Date,Client_Type,Messages", "u-1,02-11-2026,KIRO_IDE,4", r"could be day or month first"),
    ("UserId,Date,Client_Type,Credits_Used", "u-1,2026-11-02,KIRO_IDE,1e3", r"line 2: column 'Credits_Used'"),
    ("UserId,Date,Client_Type,Region", "u-1,2026-11-02,KIRO_IDE,eu", r"none of the count columns"),
])
def test_hostile_kiro_files_are_refused_naming_line_and_column(tmp_path, header, row, message):
    path = tmp_path / "kiro.csv"
    path.write_text(f"{header}\n{row}\n")
    with pytest.raises(UserError, match=message):
        read_export(path)


# ----- Microsoft 365 Copilot user detail as Graph answers by default (JSON) ---------------------------


def _graph_as_csv(path: Path) -> None:
    """The same report as Graph writes it with $format=text/csv."""
    columns = {"reportRefreshDate": "Report Refresh Date", "userPrincipalName": "User Principal Name",
               "displayName": "Display Name", "lastActivityDate": "Last Activity Date",
               "copilotChatLastActivityDate": "Copilot Chat Last Activity Date",
               "microsoftTeamsCopilotLastActivityDate": "Microsoft Teams Copilot Last Activity Date",
               "wordCopilotLastActivityDate": "Word Copilot Last Activity Date",
               "excelCopilotLastActivityDate": "Excel Copilot Last Activity Date",
               "powerPointCopilotLastActivityDate": "PowerPoint Copilot Last Activity Date",
               "outlookCopilotLastActivityDate": "Outlook Copilot Last Activity Date",
               "oneNoteCopilotLastActivityDate": "OneNote Copilot Last Activity Date",
               "loopCopilotLastActivityDate": "Loop Copilot Last Activity Date"}
    records = json.loads(GRAPH.read_text())["value"]
    lines = [",".join(columns.values())]
    lines += [",".join(record[field] or "" for field in columns) for record in records]
    path.write_text("\n".join(lines) + "\n")


def test_the_graph_json_report_reads_into_the_same_table_as_its_csv(tmp_path):
    table = read_export(GRAPH)
    _graph_as_csv(tmp_path / "m365.csv")
    assert table.equals(read_export(tmp_path / "m365.csv"))
    ada = table.loc[table["user"] == "ada.lovelace@contoso.example", "day"].dt.strftime("%Y-%m-%d").tolist()
    assert ada == ["2026-10-30", "2026-11-05", "2026-11-07"]      # lastActivityDate repeats one: no duplicate
    assert table.attrs["duplicates"] == 0 and set(table["source"]) == {"m365-copilot"}
    assert "grace.hopper@contoso.example" not in set(table["user"])   # licensed, never used: no day of use
    assert table[["interactions", "acceptances"]].isna().all().all()   # the report has dates only


def test_graph_pages_saved_one_per_line_or_in_a_list_read_as_one_report(tmp_path):
    document = json.loads(GRAPH.read_text())
    pages = [{"value": document["value"][:1], "@odata.nextLink": "https://graph.microsoft.com/next"},
             {"value": document["value"][1:]}]
    (tmp_path / "pages.ndjson").write_text("\n".join(json.dumps(page) for page in pages) + "\n")
    (tmp_path / "pages.json").write_text(json.dumps(pages))
    (tmp_path / "bare.json").write_text(json.dumps(document["value"]))
    whole = read_export(GRAPH)
    for name in ("pages.ndjson", "pages.json", "bare.json"):
        assert read_export(tmp_path / name).equals(whole), name


@pytest.mark.parametrize(("change", "message"), [
    ({"lastActivityDate": "11/07/2026"}, r"record 1: field 'lastActivityDate' is not a date in the report's form"),
    ({"wordCopilotLastActivityDate": 20261107}, r"record 1: field 'wordCopilotLastActivityDate' is not a date"),
    ({"userPrincipalName": None}, r"record 1: field 'userPrincipalName' must be a non-empty text, got None"),
    ({"userPrincipalName": " \u200b"}, r"record 1: field 'userPrincipalName' must be a non-empty text"),
])
def test_hostile_graph_records_are_refused_naming_record_and_field(tmp_path, change, message):
    document = json.loads(GRAPH.read_text())
    document["value"][0].update(change)
    path = tmp_path / "m365.json"
    path.write_text(json.dumps(document))
    with pytest.raises(UserError, match=message):
        read_export(path)


def test_a_graph_record_without_its_user_or_cut_short_is_refused(tmp_path):
    document = json.loads(GRAPH.read_text())
    del document["value"][1]["userPrincipalName"]
    path = tmp_path / "m365.json"
    path.write_text(json.dumps(document))
    with pytest.raises(UserError, match=r"record 2: missing field 'userPrincipalName'"):
        read_export(path, kind="m365-copilot")
    path.write_text(GRAPH.read_text()[:700])
    with pytest.raises(UserError, match=r"m365\.json: line \d+: not valid JSON"):
        read_export(path)
    path.write_text(json.dumps({"value": "none"}))
    with pytest.raises(UserError, match=r"expected a list of records"):
        read_export(path, kind="m365-copilot")


def test_a_graph_user_with_nfd_or_zero_width_spelling_is_one_user(tmp_path):
    document = json.loads(GRAPH.read_text())
    twin = dict(document["value"][0], userPrincipalName="ada.lovelace@contoso.example\u200b",
                lastActivityDate="2026-11-08", wordCopilotLastActivityDate="2026-11-08")
    document["value"].append(twin)
    path = tmp_path / "m365.json"
    path.write_text(json.dumps(document))
    table = read_export(path)
    assert table["user"].str.startswith("ada").sum() == 4 and table.attrs["duplicates"] == 3


# ----- streaming JSON ---------------------------------------------------------------------------------


def _openai_page(buckets: int) -> dict:
    return {"object": "page", "has_more": False, "next_page": None, "data": [
        {"object": "bucket", "start_time": 1_767_225_600 + 3600 * i, "end_time": 1_767_229_200 + 3600 * i,
         "results": [{"object": "organization.usage.completions.result", "input_tokens": 100 + i,
                      "output_tokens": 7, "num_model_requests": 1, "user_id": f"user-{i % 3}", "model": None}]}
        for i in range(buckets)]}


def test_a_streamed_openai_page_equals_the_whole_page_however_small_the_read_blocks(tmp_path, monkeypatch):
    path = tmp_path / "usage.json"
    path.write_text(json.dumps(_openai_page(40), indent=2))
    whole = read_export(path)
    monkeypatch.setattr(JsonStream, "CHUNK", 7)      # every bucket, key and number cut across blocks
    streamed = read_export(path)
    assert streamed.equals(whole) and whole["interactions"].sum() == 40
    assert whole["tokens_in"].sum() == sum(100 + i for i in range(40))


def test_a_streamed_syntax_error_names_its_line_across_blocks(tmp_path, monkeypatch):
    text = json.dumps(_openai_page(30), indent=2).splitlines()
    broken = next(i for i, line in enumerate(text) if '"num_model_requests"' in line and i > 200)
    text[broken] = text[broken].replace(":", "::")
    path = tmp_path / "usage.json"
    path.write_text("\n".join(text))
    monkeypatch.setattr(JsonStream, "CHUNK", 16)
    with pytest.raises(UserError, match=rf"usage\.json: line {broken + 1}: not valid JSON"):
        read_export(path)


def test_openai_pages_saved_one_per_line_are_read_and_trailing_text_is_refused(tmp_path):
    lines = tmp_path / "pages.ndjson"
    lines.write_text(json.dumps(_openai_page(3)) + "\n" + json.dumps(_openai_page(2)) + "\n")
    assert read_export(lines, kind="openai-usage").attrs["duplicates"] == 2
    trailing = tmp_path / "usage.json"
    trailing.write_text(json.dumps(_openai_page(2), indent=1) + "\n]\n")
    with pytest.raises(UserError, match=r"usage\.json: line \d+: not valid JSON \(Extra data\)"):
        read_export(trailing)


# ----- theater import ---------------------------------------------------------------------------------


def test_theater_import_writes_the_metadata_sidecar_and_names_the_series_break(tmp_path, capsys):
    from theater.cli import main

    out = tmp_path / "usage.csv"
    assert main(["import", str(USERS), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "series break: from 2026-04-10 github-copilot" in printed
    meta = json.loads((tmp_path / "usage.csv.meta.json").read_text())
    assert meta["definition_changes"][0]["since"] == "2026-04-10" and meta["duplicates"] == 1
    assert meta["roles"]["github-copilot"]["interactions"] == "activity"


def test_theater_import_of_the_repository_report_writes_its_own_table(tmp_path, capsys):
    from theater.cli import main

    out = tmp_path / "repos.csv"
    assert main(["import", str(REPOS), "--out", str(out)]) == 0
    assert "2 repository-days of 2 repositories" in capsys.readouterr().out
    assert out.read_text().splitlines()[0].startswith("repository,day,source,")


def test_a_text_inside_the_repository_report_counts_is_refused(tmp_path):
    record = json.loads(REPOS.read_text().splitlines()[0])
    record["pull_requests"]["total_merged_created_by_copilot"] = "2"
    path = tmp_path / "repos.ndjson"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(UserError, match=r"line 1: field 'pull_requests.total_merged_created_by_copilot' is not a number"):
        read_export(path)


def test_a_cut_short_openai_page_says_so_with_its_last_line(tmp_path):
    text = json.dumps(_openai_page(5), indent=2)
    path = tmp_path / "usage.json"
    cut = text[: len(text) - 3]
    path.write_text(cut)
    with pytest.raises(UserError, match=rf"usage\.json: line {cut.count(chr(10)) + 1}: .*ends inside the document"):
        read_export(path)


def test_the_download_links_answer_is_named_for_what_it_is(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"download_links": ["https://example.invalid/part-1"], "report_day": "2026-04-10"}))
    with pytest.raises(UserError, match="download the NDJSON file"):
        read_export(path)


def test_theater_audit_leaves_the_team_report_out_with_its_reason(tmp_path, capsys):
    from theater.cli import main

    code = main(["audit", str(USERS / "part-1.ndjson"), str(TEAMS), "--html", str(tmp_path / "audit.html")])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert f"left out: {TEAMS}: a github-copilot-teams report" in printed.out


def test_every_registered_reader_implements_the_interface_and_the_interface_alone_is_no_reader():
    from datasets.importers.base import Reader
    from datasets.importers.registry import READERS

    with pytest.raises(TypeError, match="abstract"):
        Reader()
    for reader in READERS:
        assert isinstance(reader, Reader) and reader.kind, reader
        assert type(reader).detect is not Reader.detect and type(reader).records is not Reader.records
