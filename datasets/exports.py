"""Vendor-shaped exports of a company's AI events: what an admin would download from each vendor.

Each AI tool of the synthetic company reports to exactly one vendor, so no event is counted twice
when several exports are read together:

| tool             | export           | file                                         |
|------------------|------------------|----------------------------------------------|
| `ide-assistant`  | `github-copilot` | `copilot-usage-users.ndjson` (user per day)  |
| `cli-agent`      | `github-copilot` | same file, in `totals_by_cli`                |
| `chat-assistant` | `openai-usage`   | `openai-usage-completions-page-NNN.json`     |
| `office-copilot` | `m365-copilot`   | `m365-copilot-usage-user-detail.csv`         |

Field names follow the vendors' documented shapes (see docs/exports.md). Every exporter groups the
events with pandas; Python loops only run over the aggregated rows (user-days), never over events.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from datasets.errors import UserError
from datasets.importers.copilot import CLI_IN_TOTALS

EXPORT_TOOLS: dict[str, tuple[str, ...]] = {
    "github-copilot": ("ide-assistant", "cli-agent"),
    "openai-usage": ("chat-assistant",),
    "m365-copilot": ("office-copilot",),
}

# A line of code is about ten tokens; the events carry tokens, the Copilot export carries lines.
TOKENS_PER_LINE = 10
# Share of the lines an accepted agent edit writes that replace existing lines (deleted lines).
AGENT_DELETE_DIVISOR = 4

COPILOT_IDES: tuple[tuple[str, str, str, str], ...] = (
    # ide, ide_version, plugin, plugin_version — one IDE per user, picked by a stable hash
    ("vscode", "1.95.3", "copilot-chat", "0.23.2"),
    ("vscode", "1.95.3", "copilot-chat", "0.23.2"),
    ("vscode", "1.95.3", "copilot-chat", "0.23.2"),
    ("intellij", "2024.3.1", "copilot-intellij", "1.5.30"),
    ("visualstudio", "17.12.3", "copilot-vs", "17.12.110"),
    ("neovim", "0.10.2", "copilot.vim", "1.41.0"),
)
COPILOT_LANGUAGES: tuple[str, ...] = ("python", "typescript", "java", "go", "sql", "csharp", "kotlin")
COPILOT_CLI_VERSION = "0.0.354"
COPILOT_RECORDS_PER_CHUNK = 50_000  # records turned into Python objects at a time (bounded memory)
COPILOT_WINDOW_DAYS = 28  # days of records finished at a time (memory bounded by the window)
COPILOT_FEATURE_COUNTS = (
    "code_acceptance_activity_count",
    "code_generation_activity_count",
    "loc_added_sum",
    "loc_deleted_sum",
    "loc_suggested_to_add_sum",
    "loc_suggested_to_delete_sum",
    "user_initiated_interaction_count",
)

OPENAI_MODELS: tuple[tuple[str, int], ...] = (
    # model, cumulative share of sessions in percent (a sitting uses one model)
    ("gpt-4.1-mini-2025-04-14", 55),
    ("gpt-4.1-2025-04-14", 85),
    ("o4-mini-2025-04-16", 100),
)
OPENAI_BUCKETS_PER_PAGE = 31  # the API's maximum `limit` for daily buckets
OPENAI_CACHE_MIN_TOKENS = 1024  # prompts shorter than this are never cached
OPENAI_CACHE_BLOCK = 128  # cache hits come in 128-token increments

M365_APP_COLUMNS: tuple[str, ...] = (
    "Copilot Chat Last Activity Date",
    "Microsoft Teams Copilot Last Activity Date",
    "Word Copilot Last Activity Date",
    "Excel Copilot Last Activity Date",
    "PowerPoint Copilot Last Activity Date",
    "Outlook Copilot Last Activity Date",
    "OneNote Copilot Last Activity Date",
    "Loop Copilot Last Activity Date",
)
M365_COLUMNS: tuple[str, ...] = (
    "Report Refresh Date",
    "User Principal Name",
    "Display Name",
    "Last Activity Date",
    *M365_APP_COLUMNS,
    "Report Period",
)
M365_PERIODS = (7, 30, 90, 180)
# Which app a prompt category happens in; categories with two apps split by session parity.
M365_APP_BY_CATEGORY: dict[str, tuple[str, str]] = {
    "summarize": ("Microsoft Teams", "Outlook"),
    "draft": ("Word", "PowerPoint"),
    "analysis": ("Excel", "Excel"),
    "rewrite": ("Outlook", "OneNote"),
    "question": ("Copilot Chat", "Copilot Chat"),
    "code": ("Copilot Chat", "Loop"),
}


class Company(Protocol):
    """What an exporter reads: the generator's tables and its meta dict."""

    employees: pd.DataFrame
    ai_events: pd.DataFrame
    work_items: pd.DataFrame
    calendar: pd.DataFrame
    survey: pd.DataFrame
    meta: dict[str, Any]


class ExportError(UserError):
    """An export cannot be written (unknown kind, unwritable folder)."""


# ---------------------------------------------------------------------------------------------
# Shared helpers


def _stable_hash(values: pd.Series) -> np.ndarray:
    """A hash that is the same on every run and machine (pandas' fixed-key SipHash)."""
    return pd.util.hash_array(values.to_numpy(dtype=object)).astype(np.uint64)


def _period(company: Company) -> tuple[pd.Timestamp, int]:
    """First day and length of the company's period, from meta or else from the events."""
    meta = getattr(company, "meta", None) or {}
    start, days = meta.get("start_date"), meta.get("days")
    if start is None or days is None:
        stamps = company.ai_events["timestamp"]
        if stamps.empty:
            raise ExportError("cannot export: the company has no meta start_date/days and no events")
        first = stamps.min().normalize()
        return first, int((stamps.max().normalize() - first).days) + 1
    return pd.Timestamp(start).normalize(), int(days)


def _tool_events(events: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The events a vendor sees, with a normalised `day` column."""
    picked = events.loc[events["tool"].isin(EXPORT_TOOLS[kind])].copy()
    picked["employee_id"] = picked["employee_id"].astype("string")
    picked["day"] = picked["timestamp"].astype("datetime64[ns]").dt.normalize()
    return picked


def _company_number(meta: dict[str, Any], salt: str) -> str:
    """A stable numeric id for the enterprise or organization, derived from the profile name."""
    profile = str((meta or {}).get("profile", "company"))
    return str(100_000 + zlib.crc32(f"{salt}:{profile}".encode()) % 900_000)


def _iso_millis(stamps: pd.Series) -> pd.Series:
    """Timestamps as the vendors write them: `2025-10-01T09:14:03.000Z`."""
    return stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _write_atomic(path: Path, chunks: Iterable[str], *, encoding: str = "utf-8") -> Path:
    """Write text to a temporary file beside `path`, then rename: readers never see half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ExportError(f"cannot write to {path.parent}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(handle, "w", encoding=encoding, newline="") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path


def _plain_column(series: pd.Series) -> list:
    """A column as Python values, fast: days become int nanoseconds, text becomes str."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.to_numpy(dtype="datetime64[ns]").view("int64").tolist()
    if isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(series):
        return series.to_numpy(dtype=object).tolist()
    return series.to_numpy().tolist()


def _groups(frame: pd.DataFrame, keys: list[str], columns: list[str]) -> dict[tuple, list[dict]]:
    """Rows of an aggregated frame as lists of dicts keyed by `keys` (one Python step per row)."""
    values = [_plain_column(frame[column]) for column in columns]
    key_rows = zip(*(_plain_column(frame[key]) for key in keys))
    grouped: dict[tuple, list[dict]] = {}
    for key, row in zip(key_rows, zip(*values)):
        grouped.setdefault(key, []).append(dict(zip(columns, row)))
    return grouped


# ---------------------------------------------------------------------------------------------
# Vendor identities


def vendor_identities(employees: pd.DataFrame) -> pd.DataFrame:
    """How each employee appears in each vendor's export, for joining exports back to people.

    Columns: employee_id, email, display_name, github_user_id, github_login, openai_user_id.
    A GitHub login is the email's local part with other characters turned into hyphens (a later
    employee with the same login gets their employee id appended); an OpenAI user id is an
    opaque `user-…` string.
    """
    ordered = employees.sort_values("employee_id", kind="stable").reset_index(drop=True)
    hashes = _stable_hash(ordered["employee_id"].astype("string"))
    local = ordered["email"].astype("string").str.split("@").str[0].str.lower()
    login = local.str.replace(r"[^a-z0-9]+", "-", regex=True).str.strip("-")
    login = login.where(login.str.len() > 0, "user")
    first_holder = login.groupby(login).cumcount() == 0
    employee_suffix = ordered["employee_id"].astype("string").str.lower().str.replace(r"[^a-z0-9]+", "-", regex=True)
    login = login.where(first_holder, login + "-" + employee_suffix)
    return pd.DataFrame(
        {
            "employee_id": ordered["employee_id"].astype("string"),
            "email": ordered["email"].astype("string"),
            "display_name": ordered["name"].astype("string"),
            "github_user_id": (1_000_000 + (hashes % np.uint64(90_000_000))).astype("int64"),
            "github_login": login.astype("string"),
            "openai_user_id": pd.array([f"user-{int(h):016x}"[:21] for h in hashes], dtype="string"),
        }
    )


# ---------------------------------------------------------------------------------------------
# GitHub Copilot usage metrics: NDJSON, one record per user per day


def _copilot_feature_rows(ide: pd.DataFrame) -> pd.DataFrame:
    """One row per IDE event and Copilot feature it counts under (agent edits count twice)."""
    lines = np.ceil(ide["tokens_out"].to_numpy(dtype="float64") / TOKENS_PER_LINE).astype("int64")
    lines = np.maximum(lines, 1)
    accepted = ide["accepted"].fillna(False).to_numpy(dtype=bool)
    feature = ide["feature"].astype("string").to_numpy(dtype=object)
    is_completion = feature == "code_completion"
    is_agent = feature == "agent_edit"
    zeros = np.zeros(len(ide), dtype="int64")
    prompts = pd.DataFrame(
        {
            "employee_id": ide["employee_id"].to_numpy(),
            "day": ide["day"].to_numpy(),
            "feature": np.select(
                [is_completion, is_agent],
                ["code_completion", "chat_panel_agent_mode"],
                "chat_panel_ask_mode",
            ),
            "code_acceptance_activity_count": accepted.astype("int64"),
            "code_generation_activity_count": np.ones(len(ide), dtype="int64"),
            # agent edits write into files directly: not "suggested", counted under agent_edit
            "loc_added_sum": np.where(accepted & ~is_agent, lines, 0),
            "loc_deleted_sum": zeros,
            "loc_suggested_to_add_sum": np.where(is_agent, 0, lines),
            "loc_suggested_to_delete_sum": zeros,
            "user_initiated_interaction_count": (~is_completion).astype("int64"),
        }
    )
    agent = is_agent & accepted
    edits = pd.DataFrame(
        {
            "employee_id": ide["employee_id"].to_numpy()[agent],
            "day": ide["day"].to_numpy()[agent],
            "feature": "agent_edit",
            "code_acceptance_activity_count": 0,
            "code_generation_activity_count": 0,
            "loc_added_sum": lines[agent],
            "loc_deleted_sum": lines[agent] // AGENT_DELETE_DIVISOR,
            "loc_suggested_to_add_sum": 0,
            "loc_suggested_to_delete_sum": 0,
            "user_initiated_interaction_count": 0,
        }
    )
    return pd.concat([prompts, edits], ignore_index=True)


def _copilot_partial(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series, pd.Series, pd.DataFrame]:
    """Per employee-day aggregates of one block of Copilot events (a block holds whole employees)."""
    keys = ["employee_id", "day"]
    ide = events.loc[events["tool"] == "ide-assistant"]
    cli = events.loc[events["tool"] == "cli-agent"]
    by_feature = (
        _copilot_feature_rows(ide)
        .groupby(keys + ["feature"], sort=True, observed=True)[list(COPILOT_FEATURE_COUNTS)]
        .sum()
        .astype("int32")  # per employee-day counts: small, and half the memory of int64
        .reset_index()
    )
    reviewed = ide.loc[ide["feature"] == "review"].groupby(keys).size()
    ide_last = ide.groupby(keys)["timestamp"].max()
    cli_totals = cli.groupby(keys, sort=True).agg(
        session_count=("session_id", "nunique"),
        request_count=("event_id", "size"),
        prompt_tokens_sum=("tokens_in", "sum"),
        output_tokens_sum=("tokens_out", "sum"),
        cli_last=("timestamp", "max"),
    )
    return by_feature, reviewed, ide_last, cli_totals


def copilot_records(company: Company) -> Iterator[dict[str, Any]]:
    """The Copilot usage-metrics user records, sorted by day then user login."""
    builder = ExportBuilder("github-copilot", company)
    builder.add(company.ai_events)
    return builder.copilot_records()


def _copilot_records(parts: list, employees: pd.DataFrame, meta: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Records in (day, login) order, finished one window of days at a time: every aggregate is per
    employee-day, so a window needs only its own rows and memory stays bounded by the window."""
    ids = vendor_identities(employees).set_index("employee_id")
    enterprise_id = _company_number(meta, "enterprise")
    organization_id = _company_number(meta, "organization")
    days = [part[0]["day"] for part in parts] + [part[3].index.get_level_values("day") for part in parts]
    days = [d for d in days if len(d)]
    if not days:
        return
    first = min(d.min() for d in days)
    last = max(d.max() for d in days)
    window = pd.Timedelta(days=COPILOT_WINDOW_DAYS)
    start = first
    while start <= last:
        end = start + window

        def rows(frame: pd.DataFrame, days: pd.Series | pd.Index) -> pd.DataFrame:
            inside = (days >= start) & (days < end)
            return frame[np.asarray(inside)]

        yield from _copilot_window_records(
            [rows(part[0], part[0]["day"]) for part in parts],
            [rows(part[1], part[1].index.get_level_values("day")) for part in parts],
            [rows(part[2], part[2].index.get_level_values("day")) for part in parts],
            [rows(part[3], part[3].index.get_level_values("day")) for part in parts],
            ids, enterprise_id, organization_id)
        start = end


def _copilot_window_records(feature_parts: list, reviewed_parts: list, ide_parts: list, cli_parts: list,
                            ids: pd.DataFrame, enterprise_id: str, organization_id: str
                            ) -> Iterator[dict[str, Any]]:
    keys = ["employee_id", "day"]
    by_feature = pd.concat(feature_parts, ignore_index=True).sort_values(
        keys + ["feature"], kind="stable", ignore_index=True)
    if by_feature.empty and all(part.empty for part in cli_parts):
        return
    reviewed = pd.concat(reviewed_parts).sort_index()
    ide_last = pd.concat(ide_parts).sort_index()
    cli_totals = pd.concat(cli_parts).sort_index()

    totals = by_feature.groupby(keys, sort=True)[list(COPILOT_FEATURE_COUNTS)].sum()
    mode_counts = by_feature.pivot_table(
        index=keys, columns="feature", values="user_initiated_interaction_count", aggfunc="sum"
    )
    totals["used_chat"] = mode_counts.get("chat_panel_ask_mode", pd.Series(dtype=float)).reindex(
        totals.index
    ).fillna(0).gt(0)
    totals["used_agent"] = mode_counts.get(
        "chat_panel_agent_mode", pd.Series(dtype=float)
    ).reindex(totals.index).fillna(0).gt(0)
    totals["used_copilot_code_review_active"] = reviewed.reindex(totals.index).fillna(0).gt(0)
    totals["ide_sampled_at"] = _iso_millis(ide_last).reindex(totals.index)

    cli_totals["cli_sampled_at"] = _iso_millis(cli_totals["cli_last"])

    day_users = totals.index.union(cli_totals.index).sort_values()
    frame = pd.DataFrame(index=day_users).join(totals).join(cli_totals).reset_index()
    for column in COPILOT_FEATURE_COUNTS:
        frame[column] = frame[column].fillna(0).astype("int64")
    for column in ("used_chat", "used_agent", "used_copilot_code_review_active"):
        frame[column] = frame[column].fillna(False).astype(bool)
    frame["used_cli"] = frame["request_count"].notna()
    frame = frame.join(ids, on="employee_id")
    frame["day_text"] = frame["day"].dt.strftime("%Y-%m-%d")
    ide_choice = (_stable_hash(frame["employee_id"].astype("string")) % np.uint64(len(COPILOT_IDES)))
    language_choice = _stable_hash(frame["employee_id"].astype("string") + ":lang") % np.uint64(
        len(COPILOT_LANGUAGES)
    )
    frame["ide_choice"] = ide_choice.astype("int64")
    frame["language"] = np.asarray(COPILOT_LANGUAGES, dtype=object)[language_choice.astype("int64")]
    frame = frame.sort_values(["day", "github_login"], kind="stable", ignore_index=True)
    frame["record"] = np.arange(len(frame), dtype="int64")

    # feature rows in record order, so each chunk of records takes one contiguous slice of them
    by_feature["employee_id"] = by_feature["employee_id"].astype("string")
    by_feature = by_feature.merge(frame[["employee_id", "day", "record"]], on=keys, how="left")
    by_feature = by_feature.sort_values(["record", "feature"], kind="stable", ignore_index=True)
    record_of_feature = by_feature["record"].to_numpy()
    columns = [
        "record", "day_text", "github_user_id", "github_login", "language", "ide_choice",
        "used_agent", "used_chat", "used_cli", "used_copilot_code_review_active", "ide_sampled_at",
        "request_count", "session_count", "prompt_tokens_sum", "output_tokens_sum", "cli_sampled_at",
        *COPILOT_FEATURE_COUNTS,
    ]
    for first in range(0, len(frame), COPILOT_RECORDS_PER_CHUNK):
        last = min(first + COPILOT_RECORDS_PER_CHUNK, len(frame))
        low, high = np.searchsorted(record_of_feature, [first, last])
        features = _groups(by_feature.iloc[low:high], ["record"], ["feature", *COPILOT_FEATURE_COUNTS])
        part = frame.iloc[first:last]
        plain = [_plain_column(part[column]) for column in columns]
        for values in zip(*plain):
            yield _copilot_record(
                SimpleNamespace(**dict(zip(columns, values))), features, enterprise_id, organization_id
            )


def _copilot_record(
    row: SimpleNamespace, features: dict[tuple, list[dict]], enterprise_id: str, organization_id: str
) -> dict[str, Any]:
    """One user-day record in the documented shape, from its aggregated row and feature rows."""
    feature_rows = features.get((row.record,), [])
    counts = {name: int(getattr(row, name)) for name in COPILOT_FEATURE_COUNTS}
    ide_counts = dict(counts)
    cli_in_totals = bool(row.used_cli) and row.day_text >= CLI_IN_TOTALS.isoformat()
    if cli_in_totals:  # GitHub's totals include Copilot CLI prompts from this date, as feature copilot_cli
        counts["user_initiated_interaction_count"] += int(row.request_count)
    record: dict[str, Any] = {
        "day": row.day_text,
        "enterprise_id": enterprise_id,
        "organization_id": organization_id,
        "user_id": int(row.github_user_id),
        "user_login": row.github_login,
        **counts,
        "used_agent": bool(row.used_agent),
        "used_chat": bool(row.used_chat),
        "used_cli": bool(row.used_cli),
        "used_copilot_code_review_active": bool(row.used_copilot_code_review_active),
        "used_copilot_code_review_passive": False,
        "totals_by_feature": feature_rows + ([{
            **dict.fromkeys(COPILOT_FEATURE_COUNTS, 0), "feature": "copilot_cli",
            "user_initiated_interaction_count": int(row.request_count)}] if cli_in_totals else []),
        "totals_by_ide": [],
        "totals_by_language_feature": [
            {
                "language": row.language,
                **{k: v for k, v in feat.items() if k != "user_initiated_interaction_count"},
            }
            for feat in feature_rows
            if feat["feature"] != "agent_edit"
        ],
        "totals_by_language_model": [],
        "totals_by_model_feature": [],
    }
    if feature_rows:
        ide_name, ide_version, plugin, plugin_version = COPILOT_IDES[row.ide_choice]
        record["totals_by_ide"] = [
            {
                "ide": ide_name,
                "last_known_ide_version": {"ide_version": ide_version, "sampled_at": row.ide_sampled_at},
                "last_known_plugin_version": {
                    "plugin": plugin,
                    "plugin_version": plugin_version,
                    "sampled_at": row.ide_sampled_at,
                },
                **ide_counts,
            }
        ]
    if row.used_cli:
        requests = int(row.request_count)
        prompt_tokens, output_tokens = int(row.prompt_tokens_sum), int(row.output_tokens_sum)
        record["totals_by_cli"] = {
            "last_known_cli_version": {"cli_version": COPILOT_CLI_VERSION, "sampled_at": row.cli_sampled_at},
            "prompt_count": requests,
            "request_count": requests,
            "session_count": int(row.session_count),
            "token_usage": {
                "avg_tokens_per_request": round((prompt_tokens + output_tokens) / requests, 1),
                "output_tokens_sum": output_tokens,
                "prompt_tokens_sum": prompt_tokens,
            },
        }
    return record


def write_github_copilot(company: Company, out_dir: Path) -> list[Path]:
    """GitHub Copilot usage metrics, users report: one JSON object per line, keys sorted."""
    return _write_copilot(copilot_records(company), out_dir)


def _write_copilot(records: Iterable[dict[str, Any]], out_dir: Path) -> list[Path]:
    lines = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n" for record in records)
    return [_write_atomic(Path(out_dir) / "copilot-usage-users.ndjson", lines)]


# ---------------------------------------------------------------------------------------------
# OpenAI organization usage: completions, daily buckets grouped by user and model


def _openai_partial(events: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """Per day, user and model sums of one block of chat events (a block holds whole employees)."""
    events = events.sort_values(["timestamp", "event_id"], kind="stable")
    session_share = (_stable_hash(events["session_id"].astype("int64")) % np.uint64(100)).astype("int64")
    thresholds = np.array([share for _, share in OPENAI_MODELS])
    model_index = np.searchsorted(thresholds, session_share, side="right")
    tokens_in = events["tokens_in"].to_numpy(dtype="int64")
    repeat = events.duplicated(["employee_id", "prompt_fingerprint"], keep="first").to_numpy()
    cached = np.where(
        repeat & (tokens_in >= OPENAI_CACHE_MIN_TOKENS),
        (tokens_in // OPENAI_CACHE_BLOCK) * OPENAI_CACHE_BLOCK,
        0,
    )
    usage = pd.DataFrame(
        {
            "day": events["day"].to_numpy(),
            "user_id": events["employee_id"].map(ids).to_numpy(),
            "model": np.asarray([name for name, _ in OPENAI_MODELS], dtype=object)[model_index],
            "input_tokens": tokens_in,
            "output_tokens": events["tokens_out"].to_numpy(dtype="int64"),
            "input_cached_tokens": cached,
        }
    )
    return (
        usage.groupby(["day", "user_id", "model"], sort=True)
        .agg(
            input_tokens=("input_tokens", "sum"),
            output_tokens=("output_tokens", "sum"),
            input_cached_tokens=("input_cached_tokens", "sum"),
            num_model_requests=("input_tokens", "size"),
        )
        .reset_index()
    )


def openai_results(company: Company) -> pd.DataFrame:
    """One row per day, user and model with the completions usage counts, sorted."""
    builder = ExportBuilder("openai-usage", company)
    builder.add(company.ai_events)
    return builder.openai_results()


def _openai_bucket(day: pd.Timestamp, rows: list[dict]) -> dict[str, Any]:
    """One daily bucket; only the group_by fields (user_id, model) are filled, as the API does."""
    start_time = int(day.timestamp())
    return {
        "object": "bucket",
        "start_time": start_time,
        "end_time": start_time + 86_400,
        "results": [
            {
                "object": "organization.usage.completions.result",
                "input_tokens": int(row["input_tokens"]),
                "output_tokens": int(row["output_tokens"]),
                "input_cached_tokens": int(row["input_cached_tokens"]),
                "input_audio_tokens": 0,
                "output_audio_tokens": 0,
                "num_model_requests": int(row["num_model_requests"]),
                "project_id": None,
                "user_id": row["user_id"],
                "api_key_id": None,
                "model": row["model"],
                "batch": None,
                "service_tier": None,
            }
            for row in rows
        ],
    }


def openai_pages(company: Company) -> Iterator[dict[str, Any]]:
    """The completions usage response pages, one at a time: every day of the period is a bucket."""
    builder = ExportBuilder("openai-usage", company)
    builder.add(company.ai_events)
    return _openai_pages(builder.openai_results(), *_period(company))


def _openai_page_specs(results: pd.DataFrame, start: pd.Timestamp, days: int
                       ) -> Iterator[tuple[Iterator[dict[str, Any]], bool, str | None]]:
    """Per page: its buckets (made one day at a time, when asked for), has_more and the cursor."""
    result_days = results["day"].to_numpy(dtype="datetime64[ns]").view("int64")
    columns = ["input_tokens", "output_tokens", "input_cached_tokens", "num_model_requests", "user_id", "model"]

    def buckets(page_days: list[pd.Timestamp]) -> Iterator[dict[str, Any]]:
        for day in page_days:
            low, high = np.searchsorted(result_days, [day.value, (day + pd.Timedelta(days=1)).value])
            rows = _groups(results.iloc[low:high], ["day"], columns).get((day.value,), [])
            yield _openai_bucket(day, rows)

    period = [start + pd.Timedelta(days=offset) for offset in range(days)]
    for first in range(0, days, OPENAI_BUCKETS_PER_PAGE):
        page_days = period[first : first + OPENAI_BUCKETS_PER_PAGE]
        after = page_days[-1] + pd.Timedelta(days=1)
        has_more = first + OPENAI_BUCKETS_PER_PAGE < days
        cursor = base64.b64encode(f"bucket:{int(after.timestamp())}".encode()).decode() if has_more else None
        yield buckets(page_days), has_more, cursor


def _openai_pages(results: pd.DataFrame, start: pd.Timestamp, days: int) -> Iterator[dict[str, Any]]:
    for buckets, has_more, cursor in _openai_page_specs(results, start, days):
        yield {"object": "page", "data": list(buckets), "has_more": has_more, "next_page": cursor}


def _page_text(buckets: Iterator[dict[str, Any]], has_more: bool, cursor: str | None) -> Iterator[str]:
    """The text of `json.dumps(page)`, written a bucket at a time: a page of a large company never
    sits in memory whole."""
    yield '{"object": "page", "data": ['
    for number, bucket in enumerate(buckets):
        yield (", " if number else "") + json.dumps(bucket)
    yield f'], "has_more": {json.dumps(has_more)}, "next_page": {json.dumps(cursor)}}}\n'


def write_openai_usage(company: Company, out_dir: Path) -> list[Path]:
    """OpenAI /v1/organization/usage/completions responses, one JSON file per page."""
    builder = ExportBuilder("openai-usage", company)
    builder.add(company.ai_events)
    return builder.write(out_dir)


def _write_openai_pages(specs: Iterable[tuple[Iterator[dict[str, Any]], bool, str | None]],
                        out_dir: Path) -> list[Path]:
    paths = []
    for number, (buckets, has_more, cursor) in enumerate(specs, start=1):
        paths.append(_write_atomic(Path(out_dir) / f"openai-usage-completions-page-{number:03d}.json",
                                   _page_text(buckets, has_more, cursor)))
    return paths


# ---------------------------------------------------------------------------------------------
# Microsoft 365 Copilot usage report: last activity dates only


def _m365_window(start: pd.Timestamp, days: int) -> tuple[int, pd.Timestamp, pd.Timestamp]:
    period = next((p for p in M365_PERIODS if p >= days), M365_PERIODS[-1])
    last_day = start + pd.Timedelta(days=days - 1)
    return period, last_day, last_day - pd.Timedelta(days=period - 1)


def _m365_partial(events: pd.DataFrame, window_start: pd.Timestamp) -> pd.Series:
    """Last day per employee and app in one block of office events (a block holds whole employees)."""
    events = events.loc[events["day"] >= window_start]
    category = events["prompt_category"].astype("string").fillna("question").to_numpy(dtype=object)
    second = (events["session_id"].to_numpy(dtype="int64") % 2).astype(bool)
    first_app = np.array([apps[0] for apps in M365_APP_BY_CATEGORY.values()], dtype=object)
    second_app = np.array([apps[1] for apps in M365_APP_BY_CATEGORY.values()], dtype=object)
    codes = pd.Categorical(category, categories=list(M365_APP_BY_CATEGORY)).codes
    known = codes >= 0
    app = np.full(len(events), "Copilot Chat", dtype=object)
    app[known] = np.where(second[known], second_app[codes[known]], first_app[codes[known]])
    activity = pd.DataFrame({"employee_id": events["employee_id"].to_numpy(), "app": app, "day": events["day"].to_numpy()})
    return activity.groupby(["employee_id", "app"])["day"].max()


def m365_report(company: Company) -> pd.DataFrame:
    """The getMicrosoft365CopilotUsageUserDetail table: one row per enabled user, dates as text."""
    builder = ExportBuilder("m365-copilot", company)
    builder.add(company.ai_events)
    return builder.m365_report()


def _m365_report(parts: list[pd.Series], employees: pd.DataFrame, start: pd.Timestamp, days: int) -> pd.DataFrame:
    period, last_day, _ = _m365_window(start, days)
    app_names = [column.removesuffix(" Last Activity Date").removesuffix(" Copilot") for column in M365_APP_COLUMNS]
    last = pd.concat(parts).unstack("app")
    ids = vendor_identities(employees)
    per_app = last.reindex(index=ids["employee_id"].to_numpy(), columns=app_names)
    per_app = per_app.apply(lambda dates: pd.to_datetime(dates))
    report = pd.DataFrame(
        {
            "Report Refresh Date": last_day.strftime("%Y-%m-%d"),
            "User Principal Name": ids["email"].to_numpy(),
            "Display Name": ids["display_name"].to_numpy(),
            "Last Activity Date": per_app.max(axis=1).dt.strftime("%Y-%m-%d").fillna("").to_numpy(),
        }
    )
    for column, app_name in zip(M365_APP_COLUMNS, app_names):
        report[column] = per_app[app_name].dt.strftime("%Y-%m-%d").fillna("").to_numpy()
    report["Report Period"] = str(period)
    return report.sort_values("User Principal Name", kind="stable").reset_index(drop=True)[list(M365_COLUMNS)]


def write_m365_copilot(company: Company, out_dir: Path) -> list[Path]:
    """The Microsoft 365 Copilot usage user-detail CSV, as the admin centre downloads it."""
    return _write_m365(m365_report(company), out_dir)


def _write_m365(report: pd.DataFrame, out_dir: Path) -> list[Path]:
    buffer = io.StringIO()
    report.to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    path = Path(out_dir) / "m365-copilot-usage-user-detail.csv"
    return [_write_atomic(path, [buffer.getvalue()], encoding="utf-8-sig")]


# ---------------------------------------------------------------------------------------------
# Registry

EXPORTERS: dict[str, Callable[[Company, Path], list[Path]]] = {
    "github-copilot": write_github_copilot,
    "openai-usage": write_openai_usage,
    "m365-copilot": write_m365_copilot,
}


def _check_kind(kind: str) -> None:
    if kind not in EXPORTERS:
        known = ", ".join(sorted(EXPORTERS))
        raise ExportError(f"unknown export kind {kind!r}; choose one of: {known}")


class ExportBuilder:
    """One vendor export built from blocks of events, so a company of any size streams through.

    Each block must hold all events of its employees (the generator's blocks do: a block is a set
    of employees). `add` keeps only per employee-day aggregates, which are far smaller than the
    events; `write` finishes them into the vendor's files. The files are byte-identical to those
    written from the whole event table at once.
    """

    def __init__(self, kind: str, company: Company | None = None, *, employees: pd.DataFrame | None = None,
                 meta: dict[str, Any] | None = None):
        _check_kind(kind)
        self.kind = kind
        self.employees = company.employees if company is not None else employees
        self.meta = (getattr(company, "meta", None) or {}) if company is not None else (meta or {})
        if company is not None:
            self.start, self.days = _period(company)
        else:
            self.start, self.days = pd.Timestamp(self.meta["start_date"]).normalize(), int(self.meta["days"])
        self._window_start = _m365_window(self.start, self.days)[2]
        self._openai_ids = (vendor_identities(self.employees).set_index("employee_id")["openai_user_id"]
                            if kind == "openai-usage" else None)
        # Kept per user-day-model, text columns as categoricals in sorted order: a fraction of the
        # memory of Python strings, and sorting by their codes is sorting by the text.
        self._openai_text = ({"user_id": sorted(set(self._openai_ids)),
                              "model": sorted(name for name, _ in OPENAI_MODELS)}
                             if kind == "openai-usage" else None)
        self.parts: list = []

    def add(self, events: pd.DataFrame) -> None:
        picked = _tool_events(events, self.kind)
        if self.kind == "github-copilot":
            self.parts.append(_copilot_partial(picked))
        elif self.kind == "openai-usage":
            part = _openai_partial(picked, self._openai_ids)
            for column, categories in self._openai_text.items():
                part[column] = pd.Categorical(part[column], categories=categories)
            self.parts.append(part)
        else:
            self.parts.append(_m365_partial(picked, self._window_start))

    def copilot_records(self) -> Iterator[dict[str, Any]]:
        return _copilot_records(self.parts, self.employees, self.meta)

    def openai_results(self) -> pd.DataFrame:
        return pd.concat(self.parts, ignore_index=True).sort_values(
            ["day", "user_id", "model"], kind="stable", ignore_index=True)

    def m365_report(self) -> pd.DataFrame:
        return _m365_report(self.parts, self.employees, self.start, self.days)

    def write(self, out_dir: str | os.PathLike[str]) -> list[Path]:
        out = Path(out_dir)
        if self.kind == "github-copilot":
            return _write_copilot(self.copilot_records(), out)
        if self.kind == "openai-usage":
            return _write_openai_pages(_openai_page_specs(self.openai_results(), self.start, self.days), out)
        return _write_m365(self.m365_report(), out)


def write_export(company: Company, kind: str, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write one vendor-shaped export of the company's events into `out_dir`; return the files."""
    _check_kind(kind)
    return EXPORTERS[kind](company, Path(out_dir))


__all__ = [
    "EXPORTERS",
    "ExportBuilder",
    "EXPORT_TOOLS",
    "ExportError",
    "copilot_records",
    "m365_report",
    "openai_pages",
    "openai_results",
    "vendor_identities",
    "write_export",
]
