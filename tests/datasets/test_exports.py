"""Vendor-shaped exports: field names, determinism, atomic writes, vectorised speed."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from datasets.errors import UserError
from datasets.exports import (
    EXPORT_TOOLS,
    EXPORTERS,
    M365_COLUMNS,
    openai_results,
    vendor_identities,
    write_export,
)

TOOL_FEATURES = {
    "ide-assistant": ["code_completion", "code_completion", "chat", "agent_edit", "review"],
    "cli-agent": ["agent_edit", "chat"],
    "chat-assistant": ["chat", "summarize", "draft"],
    "office-copilot": ["summarize", "draft", "chat"],
}
CATEGORIES = ["code", "summarize", "draft", "question", "analysis", "rewrite"]


def small_company(seed: int = 7, employees: int = 6, days: int = 10, events: int = 400,
                  start: str = "2025-03-03") -> SimpleNamespace:
    """A hand-made company with exactly the data-model columns, small enough to check by eye."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(start)
    ids = [f"E{n:05d}" for n in range(1, employees + 1)]
    people = pd.DataFrame(
        {
            "employee_id": pd.array(ids, dtype="string"),
            "name": pd.array([f"Person {n}" for n in range(1, employees + 1)], dtype="string"),
            "email": pd.array(
                # two emails share a local part up to punctuation: logins must still be unique
                ["ann.lee@example.com", "ann_lee@example.com"]
                + [f"worker.{n}@example.com" for n in range(3, employees + 1)],
                dtype="string",
            ),
            "team": pd.array(["Payments"] * employees, dtype="string"),
            "role": pd.array(["Software Engineer"] * employees, dtype="string"),
            "manager_id": pd.array([None] + ids[:-1], dtype="string"),
            "hire_date": pd.to_datetime(["2020-01-01"] * employees).date,
        }
    )
    tools = rng.choice(list(TOOL_FEATURES), size=events)
    features = np.empty(events, dtype=object)
    for tool, choices in TOOL_FEATURES.items():
        picked = tools == tool
        features[picked] = rng.choice(choices, size=int(picked.sum()))
    stamps = start + pd.to_timedelta(rng.integers(0, days, events), unit="D") + pd.to_timedelta(
        rng.integers(8 * 3600, 18 * 3600, events), unit="s"
    )
    ai_events = pd.DataFrame(
        {
            "event_id": np.arange(1, events + 1, dtype="int64"),
            "employee_id": pd.array(rng.choice(ids[:-1], size=events), dtype="string"),  # last one never uses AI
            "timestamp": stamps.astype("datetime64[ns]"),
            "tool": pd.array(tools, dtype="string"),
            "feature": pd.array(features, dtype="string"),
            "session_id": rng.integers(1, 60, events).astype("int64"),
            "prompt_category": pd.array(rng.choice(CATEGORIES, size=events), dtype="string"),
            "prompt_fingerprint": rng.integers(1, 40, events).astype("int64"),
            "document_id": pd.array([f"D{n}" for n in rng.integers(1, 30, events)], dtype="string"),
            "doc_authored_by_self": rng.random(events) < 0.3,
            "tokens_in": rng.lognormal(6.5, 1.0, events).astype("int64") + 1,
            "tokens_out": rng.lognormal(5.5, 1.0, events).astype("int64") + 1,
            "accepted": rng.random(events) < 0.4,
        }
    ).sort_values(["employee_id", "timestamp"], ignore_index=True)
    empty = pd.DataFrame()
    return SimpleNamespace(
        employees=people,
        ai_events=ai_events,
        work_items=empty,
        calendar=empty,
        survey=empty,
        meta={"start_date": start.date(), "days": days, "profile": "test-profile"},
    )


@pytest.fixture
def company() -> SimpleNamespace:
    return small_company()


def read_ndjson(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def digest(paths: list[Path]) -> str:
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in paths)).hexdigest()


# ----- registry ---------------------------------------------------------------------------------


def test_registry_has_the_three_vendor_kinds():
    assert set(EXPORTERS) == {"github-copilot", "openai-usage", "m365-copilot"}


def test_unknown_kind_is_a_user_error_naming_the_choices(company, tmp_path):
    with pytest.raises(UserError, match=r"unknown export kind 'slack'.*github-copilot"):
        write_export(company, "slack", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_a_user_error(company, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(UserError, match="cannot write"):
        write_export(company, "m365-copilot", blocker / "out")


@pytest.mark.parametrize("kind", sorted(EXPORTERS))
def test_same_company_gives_byte_identical_files(kind, tmp_path):
    first = write_export(small_company(), kind, tmp_path / "a")
    second = write_export(small_company(), kind, tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    assert digest(first) == digest(second)
    assert digest(first) != digest(write_export(small_company(seed=8), kind, tmp_path / "c"))


@pytest.mark.parametrize("kind", sorted(EXPORTERS))
def test_no_temporary_files_are_left_behind(company, kind, tmp_path):
    paths = write_export(company, kind, tmp_path)
    assert sorted(tmp_path.iterdir()) == sorted(paths)


def test_vendor_identities_give_unique_github_logins(company):
    ids = vendor_identities(company.employees)
    assert ids["github_login"].is_unique and ids["github_user_id"].is_unique
    assert ids["github_login"].str.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*").all()
    assert ids["openai_user_id"].str.startswith("user-").all()


# ----- GitHub Copilot ---------------------------------------------------------------------------

COPILOT_TOP_FIELDS = {
    "day", "enterprise_id", "organization_id", "user_id", "user_login",
    "user_initiated_interaction_count", "code_generation_activity_count",
    "code_acceptance_activity_count", "loc_suggested_to_add_sum", "loc_suggested_to_delete_sum",
    "loc_added_sum", "loc_deleted_sum", "used_chat", "used_agent", "used_cli",
    "used_copilot_code_review_active", "used_copilot_code_review_passive",
    "totals_by_ide", "totals_by_feature", "totals_by_language_feature",
    "totals_by_language_model", "totals_by_model_feature",
}


def test_copilot_export_is_one_record_per_user_per_day(company, tmp_path):
    (path,) = write_export(company, "github-copilot", tmp_path)
    assert path.suffix == ".ndjson"
    records = read_ndjson(path)
    keys = [(r["user_login"], r["day"]) for r in records]
    assert len(keys) == len(set(keys))
    events = company.ai_events[company.ai_events["tool"].isin(EXPORT_TOOLS["github-copilot"])]
    expected = events.groupby(["employee_id", events["timestamp"].dt.normalize()]).ngroups
    assert len(records) == expected
    assert [(r["day"], r["user_login"]) for r in records] == sorted((r["day"], r["user_login"]) for r in records)


def test_copilot_records_carry_the_documented_fields(company, tmp_path):
    (path,) = write_export(company, "github-copilot", tmp_path)
    records = read_ndjson(path)
    for record in records:
        assert COPILOT_TOP_FIELDS <= set(record) <= COPILOT_TOP_FIELDS | {"totals_by_cli"}
        assert list(record) == sorted(record)
        assert isinstance(record["user_id"], int) and isinstance(record["enterprise_id"], str)
        for feature in record["totals_by_feature"]:
            assert feature["feature"] in {
                "code_completion", "chat_panel_ask_mode", "chat_panel_agent_mode", "agent_edit"
            }
        for ide in record["totals_by_ide"]:
            assert {"ide", "last_known_ide_version", "last_known_plugin_version"} <= set(ide)
    with_cli = [r for r in records if r["used_cli"]]
    assert with_cli and all(r["used_cli"] == ("totals_by_cli" in r) for r in records)
    usage = with_cli[0]["totals_by_cli"]
    assert set(usage) == {"last_known_cli_version", "prompt_count", "request_count", "session_count", "token_usage"}
    assert set(usage["token_usage"]) == {"avg_tokens_per_request", "output_tokens_sum", "prompt_tokens_sum"}


def test_copilot_feature_breakdown_adds_up_to_the_user_totals(company, tmp_path):
    (path,) = write_export(company, "github-copilot", tmp_path)
    for record in read_ndjson(path):
        for field in ("code_generation_activity_count", "code_acceptance_activity_count", "loc_added_sum",
                      "user_initiated_interaction_count"):
            assert sum(f[field] for f in record["totals_by_feature"]) == record[field]
        for ide in record["totals_by_ide"]:
            assert ide["loc_added_sum"] == record["loc_added_sum"]


def test_copilot_counts_match_the_ide_events(company, tmp_path):
    (path,) = write_export(company, "github-copilot", tmp_path)
    records = read_ndjson(path)
    ids = vendor_identities(company.employees).set_index("github_login")["employee_id"]
    ide = company.ai_events[company.ai_events["tool"] == "ide-assistant"]
    by_day = ide.groupby(["employee_id", ide["timestamp"].dt.strftime("%Y-%m-%d")])
    prompts = by_day["feature"].apply(lambda f: int((f != "code_completion").sum()))
    accepted = by_day["accepted"].sum()
    for record in records:
        key = (ids[record["user_login"]], record["day"])
        assert record["user_initiated_interaction_count"] == prompts.get(key, 0)
        assert record["code_acceptance_activity_count"] == accepted.get(key, 0)


# ----- OpenAI usage -----------------------------------------------------------------------------

OPENAI_RESULT_FIELDS = [
    "object", "input_tokens", "output_tokens", "input_cached_tokens", "input_audio_tokens",
    "output_audio_tokens", "num_model_requests", "project_id", "user_id", "api_key_id", "model",
    "batch", "service_tier",
]


def test_openai_export_is_pages_of_daily_buckets(company, tmp_path):
    paths = write_export(company, "openai-usage", tmp_path)
    pages = [json.loads(p.read_text()) for p in paths]
    buckets = [bucket for page in pages for bucket in page["data"]]
    assert len(buckets) == company.meta["days"]
    assert all(page["object"] == "page" for page in pages)
    assert pages[-1]["has_more"] is False and pages[-1]["next_page"] is None
    starts = [b["start_time"] for b in buckets]
    assert starts[0] == int(pd.Timestamp(company.meta["start_date"]).timestamp())
    assert all(b["end_time"] - b["start_time"] == 86_400 for b in buckets)
    assert starts == sorted(starts)
    results = [r for b in buckets for r in b["results"]]
    assert results and all(list(r) == OPENAI_RESULT_FIELDS for r in results)
    assert {r["object"] for r in results} == {"organization.usage.completions.result"}
    assert all(b["object"] == "bucket" for b in buckets)


def test_openai_long_periods_are_paginated_with_a_cursor(tmp_path):
    paths = write_export(small_company(days=70, events=900), "openai-usage", tmp_path)
    pages = [json.loads(p.read_text()) for p in paths]
    assert [len(p["data"]) for p in pages] == [31, 31, 8]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert all(isinstance(p["next_page"], str) for p in pages[:-1])


def test_openai_results_group_by_user_and_model_and_sum_tokens(company):
    results = openai_results(company)
    assert not results.duplicated(["day", "user_id", "model"]).any()
    chat = company.ai_events[company.ai_events["tool"] == "chat-assistant"]
    assert results["input_tokens"].sum() == chat["tokens_in"].sum()
    assert results["num_model_requests"].sum() == len(chat)
    assert (results["input_cached_tokens"] <= results["input_tokens"]).all()


# ----- Microsoft 365 Copilot --------------------------------------------------------------------


def test_m365_export_has_the_report_columns_and_dates_only(company, tmp_path):
    (path,) = write_export(company, "m365-copilot", tmp_path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == M365_COLUMNS
    assert len(rows) == len(company.employees)
    date_columns = [c for c in M365_COLUMNS if c.endswith("Date")]
    for row in rows:
        for column in date_columns:
            assert row[column] == "" or pd.Timestamp(row[column]).strftime("%Y-%m-%d") == row[column]
        assert row["Report Period"] == "30"
    silent = [r for r in rows if r["User Principal Name"] == "worker.6@example.com"]
    assert silent and silent[0]["Last Activity Date"] == ""


def test_m365_last_activity_is_the_latest_office_event(company, tmp_path):
    (path,) = write_export(company, "m365-copilot", tmp_path)
    report = pd.read_csv(path, dtype=str, keep_default_na=False)
    office = company.ai_events[company.ai_events["tool"] == "office-copilot"]
    emails = company.employees.set_index("employee_id")["email"]
    latest = office.groupby("employee_id")["timestamp"].max().dt.strftime("%Y-%m-%d")
    latest.index = latest.index.map(emails)
    shown = report.set_index("User Principal Name")["Last Activity Date"]
    assert shown[shown != ""].to_dict() == latest.to_dict()


# ----- scale ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_exports_of_a_hundred_thousand_events_keep_every_event(tmp_path):
    big = small_company(seed=3, employees=300, days=60, events=120_000)
    events = big.ai_events
    (copilot,) = write_export(big, "github-copilot", tmp_path / "copilot")
    records = read_ndjson(copilot)
    ide = events["tool"] == "ide-assistant"
    assert sum(r["code_generation_activity_count"] for r in records) == ide.sum()
    assert sum(r.get("totals_by_cli", {}).get("request_count", 0) for r in records) == (
        events["tool"] == "cli-agent"
    ).sum()
    pages = [json.loads(p.read_text()) for p in write_export(big, "openai-usage", tmp_path / "openai")]
    results = [r for page in pages for bucket in page["data"] for r in bucket["results"]]
    chat = events[events["tool"] == "chat-assistant"]
    assert sum(r["output_tokens"] for r in results) == chat["tokens_out"].sum()
    (m365,) = write_export(big, "m365-copilot", tmp_path / "m365")
    assert len(pd.read_csv(m365)) == len(big.employees)


@pytest.mark.parametrize("kind", sorted(EXPORTERS))
def test_categorical_columns_give_the_same_files_as_strings(kind, tmp_path):
    """The generator hands over Arrow dictionary columns, which pandas reads as categoricals."""
    plain = small_company()
    categorical = small_company()
    for column in ("employee_id", "tool", "feature", "prompt_category"):
        categorical.ai_events[column] = categorical.ai_events[column].astype("category")
    assert digest(write_export(plain, kind, tmp_path / "plain")) == digest(
        write_export(categorical, kind, tmp_path / "categorical")
    )


def test_a_company_without_ai_use_exports_empty_but_well_formed_files(tmp_path):
    idle = small_company()
    idle.ai_events = idle.ai_events.iloc[0:0]
    (copilot,) = write_export(idle, "github-copilot", tmp_path / "copilot")
    assert copilot.read_text() == ""
    pages = [json.loads(p.read_text()) for p in write_export(idle, "openai-usage", tmp_path / "openai")]
    assert [len(b["results"]) for b in pages[0]["data"]] == [0] * idle.meta["days"]
    (m365,) = write_export(idle, "m365-copilot", tmp_path / "m365")
    report = pd.read_csv(m365, dtype=str, keep_default_na=False)
    assert len(report) == len(idle.employees) and (report["Last Activity Date"] == "").all()


@pytest.mark.parametrize("kind", sorted(EXPORTERS))
def test_row_order_of_the_events_does_not_change_the_files(kind, tmp_path):
    shuffled = small_company()
    shuffled.ai_events = shuffled.ai_events.sample(frac=1.0, random_state=1)
    assert digest(write_export(small_company(), kind, tmp_path / "sorted")) == digest(
        write_export(shuffled, kind, tmp_path / "shuffled")
    )


def test_copilot_records_built_in_small_chunks_give_the_same_file(tmp_path, monkeypatch):
    import datasets.exports as exports

    whole = write_export(small_company(), "github-copilot", tmp_path / "whole")
    monkeypatch.setattr(exports, "COPILOT_RECORDS_PER_CHUNK", 7)
    chunked = write_export(small_company(), "github-copilot", tmp_path / "chunked")
    assert digest(whole) == digest(chunked)


def test_m365_period_longer_than_180_days_reports_only_the_last_180(tmp_path):
    long = small_company(days=200, events=3000)
    events = long.ai_events
    early = events["timestamp"] < pd.Timestamp(long.meta["start_date"]) + pd.Timedelta(days=15)
    office_of_first = (events["employee_id"] == "E00001") & (events["tool"] == "office-copilot")
    long.ai_events = events[~office_of_first | early]  # E00001 used office Copilot only early on
    assert (long.ai_events["employee_id"].eq("E00001") & long.ai_events["tool"].eq("office-copilot")).any()
    (path,) = write_export(long, "m365-copilot", tmp_path)
    report = pd.read_csv(path, dtype=str, keep_default_na=False).set_index("User Principal Name")
    assert set(report["Report Period"]) == {"180"}
    last_day = pd.Timestamp(long.meta["start_date"]) + pd.Timedelta(days=199)
    assert set(report["Report Refresh Date"]) == {last_day.strftime("%Y-%m-%d")}
    assert report.loc["ann.lee@example.com", "Last Activity Date"] == ""
    assert report.loc["ann_lee@example.com", "Last Activity Date"] != ""


@pytest.mark.parametrize("kind", ["github-copilot", "openai-usage", "m365-copilot"])
def test_a_streamed_export_is_byte_identical_to_one_from_the_whole_company(tmp_path, monkeypatch, kind):
    from datasets import api

    monkeypatch.setattr(api.pipeline, "BLOCK_EMPLOYEES", 7)  # many blocks
    streamed = api.generate_to_dir("mandate-bigco", 30, 40, 3, tmp_path / "streamed", export=kind)
    whole = api.write_company(api.generate_company("mandate-bigco", 30, 40, 3), tmp_path / "whole", export=kind)
    names = json.loads((streamed / "manifest.json").read_text())["export_files"]
    assert names and names == json.loads((whole / "manifest.json").read_text())["export_files"]
    for name in names:
        assert (streamed / name).read_bytes() == (whole / name).read_bytes(), name
