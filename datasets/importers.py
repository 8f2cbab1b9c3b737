"""Read real AI-usage exports into one tidy per-user-per-day table, so the course's analyses run
on an organisation's own data.

Supported shapes (see docs/exports.md): GitHub Copilot usage metrics (NDJSON users report),
OpenAI organization usage completions (JSON pages of buckets), Microsoft 365 Copilot usage user
detail (CSV), Amazon Q Developer user activity (CSV) and Anthropic Claude Code analytics (JSON).

The tidy table has the columns of `TIDY_COLUMNS`: `user` is the vendor's own identity (login,
email or user id), `day` a date, `source` the export kind, and the counts are NaN wherever the
source does not report such a count — an export that only knows dates stays honest about that.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from datasets.errors import UserError

TIDY_COLUMNS = ["user", "day", "source", "interactions", "acceptances", "tokens_in", "tokens_out", "lines_added"]
COUNT_COLUMNS = TIDY_COLUMNS[3:]
EXPORT_SUFFIXES = (".ndjson", ".jsonl", ".json", ".csv")
UNATTRIBUTED = "(unattributed)"

# Amazon Q Developer user activity CSV: which metric columns make up each tidy count.
AMAZON_Q_COUNTS: dict[str, tuple[str, ...]] = {
    "interactions": ("Chat_MessagesSent", "Inline_SuggestionsCount", "InlineChat_TotalEventCount"),
    "acceptances": ("Chat_MessagesInteracted", "Inline_AcceptanceCount", "InlineChat_AcceptanceEventCount"),
    "lines_added": (
        "Chat_AICodeLines",
        "Inline_AICodeLines",
        "InlineChat_AcceptedLineAdditions",
        "CodeFix_AcceptedLines",
        "Dev_AcceptedLines",
    ),
}


class ExportFormatError(UserError):
    """A file is not a readable export of the expected shape; the message names file and place."""


class UnknownExportError(ExportFormatError):
    """A well-formed file that is none of the known exports (e.g. a company folder's manifest)."""


# ---------------------------------------------------------------------------------------------
# Reading helpers


def _read_text(path: Path) -> str:
    """The file's text, or a UserError saying why it cannot be read."""
    if not path.exists():
        raise ExportFormatError(f"{path}: no such file")
    if path.is_dir():
        raise ExportFormatError(f"{path}: is a folder, expected an export file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExportFormatError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ExportFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not text.strip():
        raise ExportFormatError(f"{path}: the file is empty")
    return text


def _load_json(path: Path, text: str | None = None) -> Any:
    """Parse a whole JSON document, pointing at the line of a syntax error."""
    text = _read_text(path) if text is None else text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportFormatError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from None


def _ndjson_records(path: Path, text: str) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line of an NDJSON file."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ExportFormatError(f"{path}: line {number}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise ExportFormatError(f"{path}: line {number}: expected a JSON object, got {type(record).__name__}")
        records.append((number, record))
    return records


def _require(path: Path, where: str, record: dict, fields: Iterable[str], shape: str) -> None:
    """Fail with the first missing field, naming where it is missing and what shape was expected."""
    for field in fields:
        if field not in record:
            raise ExportFormatError(f"{path}: {where}: missing field {field!r} (not a {shape})")


def _number(path: Path, where: str, value: Any, field: str) -> float:
    """A count from the file; None counts as missing (NaN), text or objects are an error."""
    if value is None:
        return np.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExportFormatError(f"{path}: {where}: field {field!r} is not a number ({value!r})")
    return float(value)


def _day(path: Path, where: str, value: Any, field: str) -> pd.Timestamp:
    """A calendar day from a `YYYY-MM-DD` (or ISO timestamp) field."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if not isinstance(value, str) or pd.isna(stamp):
        raise ExportFormatError(f"{path}: {where}: field {field!r} is not a date ({value!r})")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.normalize()


def _tidy(rows: list[dict] | pd.DataFrame, source: str) -> pd.DataFrame:
    """Rows with user, day and counts -> the tidy table, one row per user and day, sorted."""
    frame = pd.DataFrame(rows)
    for column in ["user", "day", *COUNT_COLUMNS]:
        if column not in frame:
            frame[column] = np.nan
    frame["source"] = source
    frame["user"] = frame["user"].astype("string")
    frame["day"] = pd.to_datetime(frame["day"]).astype("datetime64[ns]")
    for column in COUNT_COLUMNS:
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    tidy = (
        frame.groupby(["user", "day", "source"], sort=True)[COUNT_COLUMNS]
        .sum(min_count=1)
        .reset_index()
    )
    tidy["source"] = tidy["source"].astype("string")
    return tidy[TIDY_COLUMNS]


def _csv_frame(path: Path, required: Iterable[str], shape: str) -> pd.DataFrame:
    """A CSV export as text columns, after checking its header names the required columns."""
    text = _read_text(path)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, csv.Error) as exc:
        raise ExportFormatError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    frame.columns = [str(column).strip() for column in frame.columns]
    missing = [column for column in required if column not in frame.columns]
    if missing:
        names = ", ".join(repr(column) for column in missing)
        raise ExportFormatError(f"{path}: missing column(s) {names} (not a {shape})")
    return frame


def _csv_dates(path: Path, frame: pd.DataFrame, column: str) -> pd.Series:
    """A CSV date column (blank allowed) as timestamps; names the first bad cell by line."""
    text = frame[column].str.strip()
    parsed = pd.to_datetime(text.where(text != ""), errors="coerce", format="mixed")
    bad = parsed.isna() & (text != "")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ExportFormatError(f"{path}: line {row + 2}: column {column!r} is not a date ({text.iloc[row]!r})")
    return parsed.dt.normalize()


def _csv_numbers(path: Path, frame: pd.DataFrame, column: str) -> pd.Series:
    """A CSV count column (blank means 0) as floats; names the first bad cell by line."""
    text = frame[column].str.strip()
    numbers = pd.to_numeric(text.where(text != "", "0"), errors="coerce")
    bad = numbers.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ExportFormatError(f"{path}: line {row + 2}: column {column!r} is not a number ({text.iloc[row]!r})")
    return numbers.astype("float64")


# ---------------------------------------------------------------------------------------------
# One reader per export kind


COPILOT_SHAPE = "GitHub Copilot usage-metrics user record"


def read_github_copilot(path: Path) -> pd.DataFrame:
    """Copilot users report: prompts, completions shown and CLI prompts count as interactions."""
    text = _read_text(path)
    if text.lstrip().startswith("["):
        loaded = _load_json(path, text)
        records = [(f"record {n}", r) for n, r in enumerate(loaded, start=1)]
    else:
        records = [(f"line {n}", r) for n, r in _ndjson_records(path, text)]
    rows = []
    for where, record in records:
        if not isinstance(record, dict):
            raise ExportFormatError(f"{path}: {where}: expected a JSON object (not a {COPILOT_SHAPE})")
        _require(path, where, record, ("day", "user_login", "user_initiated_interaction_count"), COPILOT_SHAPE)
        completions = 0.0
        for feature in record.get("totals_by_feature") or []:
            if isinstance(feature, dict) and feature.get("feature") == "code_completion":
                completions += _number(
                    path, where, feature.get("code_generation_activity_count", 0), "code_generation_activity_count"
                )
        cli = record.get("totals_by_cli") or {}
        tokens = cli.get("token_usage") or {}
        cli_prompts = _number(path, where, cli.get("prompt_count", 0), "totals_by_cli.prompt_count")
        rows.append(
            {
                "user": str(record["user_login"]),
                "day": _day(path, where, record["day"], "day"),
                "interactions": _number(
                    path, where, record["user_initiated_interaction_count"], "user_initiated_interaction_count"
                )
                + completions
                + (0.0 if np.isnan(cli_prompts) else cli_prompts),
                "acceptances": _number(
                    path, where, record.get("code_acceptance_activity_count"), "code_acceptance_activity_count"
                ),
                # only the CLI reports tokens; IDE usage has none, so no CLI means unknown
                "tokens_in": _number(path, where, tokens.get("prompt_tokens_sum"), "prompt_tokens_sum"),
                "tokens_out": _number(path, where, tokens.get("output_tokens_sum"), "output_tokens_sum"),
                "lines_added": _number(path, where, record.get("loc_added_sum"), "loc_added_sum"),
            }
        )
    if not rows:
        raise ExportFormatError(f"{path}: no records (not a {COPILOT_SHAPE} file)")
    return _tidy(rows, "github-copilot")


OPENAI_SHAPE = "OpenAI organization usage completions page"


def read_openai_usage(path: Path) -> pd.DataFrame:
    """Completions usage buckets (any width) summed per user and UTC day across models."""
    loaded = _load_json(path)
    if isinstance(loaded, dict) and "data" in loaded:
        buckets = loaded["data"]
    elif isinstance(loaded, list) and all(isinstance(item, dict) and "data" in item for item in loaded):
        # several response pages saved together
        buckets = [bucket for page in loaded for bucket in (page["data"] or [])]
    elif isinstance(loaded, list):
        buckets = loaded
    else:
        raise ExportFormatError(f"{path}: expected a page with a 'data' list of buckets (not an {OPENAI_SHAPE})")
    if not isinstance(buckets, list):
        raise ExportFormatError(f"{path}: 'data' is not a list (not an {OPENAI_SHAPE})")
    rows = []
    for number, bucket in enumerate(buckets, start=1):
        where = f"bucket {number}"
        if not isinstance(bucket, dict):
            raise ExportFormatError(f"{path}: {where}: expected a JSON object (not an {OPENAI_SHAPE})")
        _require(path, where, bucket, ("start_time", "results"), OPENAI_SHAPE)
        start = _number(path, where, bucket["start_time"], "start_time")
        day = pd.Timestamp(int(start), unit="s").normalize()
        for index, result in enumerate(bucket["results"] or [], start=1):
            spot = f"{where} result {index}"
            if not isinstance(result, dict):
                raise ExportFormatError(f"{path}: {spot}: expected a JSON object (not an {OPENAI_SHAPE})")
            _require(path, spot, result, ("input_tokens", "output_tokens", "num_model_requests"), OPENAI_SHAPE)
            rows.append(
                {
                    "user": result.get("user_id") or UNATTRIBUTED,
                    "day": day,
                    "interactions": _number(path, spot, result["num_model_requests"], "num_model_requests"),
                    "tokens_in": _number(path, spot, result["input_tokens"], "input_tokens"),
                    "tokens_out": _number(path, spot, result["output_tokens"], "output_tokens"),
                }
            )
    return _tidy(rows, "openai-usage")


M365_SHAPE = "Microsoft 365 Copilot usage user-detail report"


def read_m365_copilot(path: Path) -> pd.DataFrame:
    """One row per user and day that appears as any last-activity date; no counts exist."""
    frame = _csv_frame(path, ("User Principal Name", "Last Activity Date"), M365_SHAPE)
    date_columns = [column for column in frame.columns if column.endswith("Last Activity Date")]
    parts = [
        pd.DataFrame({"user": frame["User Principal Name"].str.strip(), "day": _csv_dates(path, frame, column)})
        for column in date_columns
    ]
    activity = pd.concat(parts, ignore_index=True).dropna(subset=["day"])
    activity = activity.loc[activity["user"] != ""].drop_duplicates()
    return _tidy(activity, "m365-copilot")


AMAZON_Q_SHAPE = "Amazon Q Developer user activity report"


def read_amazon_q(path: Path) -> pd.DataFrame:
    """Amazon Q per-user daily CSV: chat, inline and inline-chat counts summed into tidy counts."""
    frame = _csv_frame(path, (), AMAZON_Q_SHAPE)
    # the columns are matched whatever their case (Athena tables over these files lower-case them)
    canonical = {name.lower(): name for names in AMAZON_Q_COUNTS.values() for name in names}
    canonical.update({"userid": "UserId", "date": "Date"})
    frame = frame.rename(columns=lambda column: canonical.get(column.lower(), column))
    missing = [column for column in ("UserId", "Date") if column not in frame.columns]
    if missing:
        names = ", ".join(repr(column) for column in missing)
        raise ExportFormatError(f"{path}: missing column(s) {names} (not an {AMAZON_Q_SHAPE})")
    tidy = pd.DataFrame({"user": frame["UserId"].str.strip(), "day": _csv_dates(path, frame, "Date")})
    if tidy["day"].isna().any():
        row = int(np.flatnonzero(tidy["day"].isna().to_numpy())[0])
        raise ExportFormatError(f"{path}: line {row + 2}: column 'Date' is blank")
    for target, columns in AMAZON_Q_COUNTS.items():
        present = [column for column in columns if column in frame.columns]
        tidy[target] = sum(_csv_numbers(path, frame, column) for column in present) if present else np.nan
    return _tidy(tidy, "amazon-q")


CLAUDE_SHAPE = "Claude Code analytics report"


def read_claude_code(path: Path) -> pd.DataFrame:
    """Claude Code daily records: tool proposals as interactions, accepted ones as acceptances."""
    text = _read_text(path)
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError:
        # not one JSON document: one record per line (daily pulls appended to a file)
        records = [(f"line {n}", r) for n, r in _ndjson_records(path, text)]
    else:
        items = loaded.get("data") if isinstance(loaded, dict) else loaded
        if not isinstance(items, list):
            raise ExportFormatError(f"{path}: expected a 'data' list of records (not a {CLAUDE_SHAPE})")
        records = [(f"record {n}", r) for n, r in enumerate(items, start=1)]
    rows = []
    for where, record in records:
        if not isinstance(record, dict):
            raise ExportFormatError(f"{path}: {where}: expected a JSON object (not a {CLAUDE_SHAPE})")
        _require(path, where, record, ("date", "actor"), CLAUDE_SHAPE)
        actor = record["actor"] if isinstance(record["actor"], dict) else {}
        user = actor.get("email_address") or actor.get("api_key_name")
        if not user:
            raise ExportFormatError(f"{path}: {where}: actor has neither 'email_address' nor 'api_key_name'")
        actions = [a for a in (record.get("tool_actions") or {}).values() if isinstance(a, dict)]
        accepted = sum(_number(path, where, a.get("accepted", 0), "accepted") for a in actions)
        rejected = sum(_number(path, where, a.get("rejected", 0), "rejected") for a in actions)
        models = [m for m in record.get("model_breakdown") or [] if isinstance(m, dict)]
        tokens = [m.get("tokens") or {} for m in models]
        lines = ((record.get("core_metrics") or {}).get("lines_of_code") or {}).get("added")
        rows.append(
            {
                "user": str(user),
                "day": _day(path, where, record["date"], "date"),
                "interactions": accepted + rejected if actions else np.nan,
                "acceptances": accepted if actions else np.nan,
                "tokens_in": sum(_number(path, where, t.get("input", 0), "tokens.input") for t in tokens)
                if models
                else np.nan,
                "tokens_out": sum(_number(path, where, t.get("output", 0), "tokens.output") for t in tokens)
                if models
                else np.nan,
                "lines_added": _number(path, where, lines, "lines_of_code.added"),
            }
        )
    return _tidy(rows, "claude-code")


IMPORTERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "github-copilot": read_github_copilot,
    "openai-usage": read_openai_usage,
    "m365-copilot": read_m365_copilot,
    "amazon-q": read_amazon_q,
    "claude-code": read_claude_code,
}


# ---------------------------------------------------------------------------------------------
# Detection and the public entry points


def _json_kind(item: Any) -> str | None:
    """Which export a parsed JSON record belongs to, judged by its distinctive fields."""
    if not isinstance(item, dict):
        return None
    if "user_login" in item or "user_initiated_interaction_count" in item:
        return "github-copilot"
    if item.get("object") in {"page", "bucket"} or "start_time" in item:
        return "openai-usage"
    if "actor" in item and "date" in item:
        return "claude-code"
    return None


def detect_kind(path: str | os.PathLike[str]) -> str:
    """Tell which vendor export a file is from its header or first record."""
    path = Path(path)
    text = _read_text(path)
    if path.suffix.lower() == ".csv":
        header = next(csv.reader(io.StringIO(text)), [])
        names = {name.strip() for name in header}
        if "User Principal Name" in names:
            return "m365-copilot"
        if {"userid", "date"} <= {name.lower() for name in names}:
            return "amazon-q"
    else:
        first_line = text.lstrip().split("\n", 1)[0]
        try:
            first = json.loads(first_line)
        except json.JSONDecodeError:
            first = _load_json(path, text)
        if isinstance(first, list):
            first = first[0] if first else None
        if isinstance(first, dict) and isinstance(first.get("data"), list) and first.get("object") != "page":
            first = first["data"][0] if first["data"] else {"object": "page"}
        kind = _json_kind(first)
        if kind:
            return kind
    known = ", ".join(sorted(IMPORTERS))
    raise UnknownExportError(f"{path}: cannot tell which export this is; pass kind= one of: {known}")


def _export_files(folder: Path) -> list[Path]:
    """The export files of a folder, in name order (hidden and temporary files skipped)."""
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in EXPORT_SUFFIXES
    )
    if not files:
        raise ExportFormatError(f"{folder}: no export files ({', '.join(EXPORT_SUFFIXES)}) in this folder")
    return files


def read_export(path: str | os.PathLike[str], kind: str | None = None) -> pd.DataFrame:
    """Read one export file, or every export file of a folder, into the tidy per-user-per-day table.

    `kind` is one of `IMPORTERS`; without it each file's kind is detected from its content, and in
    a folder only the files detected as exports (of `kind`, if given) are read, so a generated
    company's folder with its tables and manifest can be passed as it is.
    """
    path = Path(path)
    if kind is not None and kind not in IMPORTERS:
        known = ", ".join(sorted(IMPORTERS))
        raise ExportFormatError(f"unknown export kind {kind!r}; choose one of: {known}")
    if not path.is_dir():
        return IMPORTERS[kind or detect_kind(path)](path)
    detected = []
    for file in _export_files(path):
        try:
            file_kind = detect_kind(file)
        except UnknownExportError:
            continue
        if kind is None or file_kind == kind:
            detected.append((file, file_kind))
    if not detected:
        wanted = f"{kind} export" if kind else "known export"
        raise ExportFormatError(f"{path}: no file in this folder is a {wanted}")
    return _combine(pd.concat([IMPORTERS[k](f) for f, k in detected], ignore_index=True))


def read_exports(paths: Iterable[str | os.PathLike[str]], kind: str | None = None) -> pd.DataFrame:
    """Several exports (pages, days, vendors) in one tidy table; rows of a same user-day-source add up."""
    frames = [read_export(path, kind) for path in paths]
    if not frames:
        raise ExportFormatError("no export files given")
    return _combine(pd.concat(frames, ignore_index=True))


def _combine(frame: pd.DataFrame) -> pd.DataFrame:
    """Sum rows that share user, day and source (e.g. one OpenAI page per month)."""
    combined = (
        frame.groupby(["user", "day", "source"], sort=True)[COUNT_COLUMNS].sum(min_count=1).reset_index()
    )
    combined["user"] = combined["user"].astype("string")
    combined["source"] = combined["source"].astype("string")
    return combined[TIDY_COLUMNS]


__all__ = [
    "COUNT_COLUMNS",
    "IMPORTERS",
    "TIDY_COLUMNS",
    "ExportFormatError",
    "detect_kind",
    "read_export",
    "read_exports",
]
