"""pandera schemas of every table, the Arrow types files are written with, and integrity checks.

Tables are checked here before anything is written, so a bug in the generator shows up as a clear
schema failure instead of a quietly broken dataset in a learner's hands.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as arrow
import pyarrow.compute as pc

from datasets.errors import UserError

PUBLIC_TABLES = ("employees", "ai_events", "work_items", "calendar", "survey")
LABEL_TABLES = ("labels", "event_labels")
ALL_TABLES = PUBLIC_TABLES + LABEL_TABLES

TOOLS = ["ide-assistant", "chat-assistant", "office-copilot", "cli-agent"]
FEATURES = ["code_completion", "chat", "summarize", "draft", "agent_edit", "review"]
CATEGORIES = ["code", "summarize", "draft", "question", "analysis", "rewrite"]
WORK_KINDS = ["ticket", "pull_request", "document"]
WORK_STATUSES = ["open", "closed", "merged", "abandoned"]
OUTPUT_STATUSES = ("closed", "merged")    # the statuses of work that counts as output (datasets.measures)
CALENDAR_TYPES = ["mandate", "dashboard_refresh", "reporting_deadline", "review_cycle", "holiday"]
ARCHETYPE_NAMES = ["genuine", "tokenmaxxer", "convert", "non_user", "quiet_expert"]


class SchemaViolation(UserError):
    """Generated or loaded data that breaks the data contract (docs/data-model.md)."""


STRING = arrow.string()
DICT8 = arrow.dictionary(arrow.int8(), arrow.string())
DICT32 = arrow.dictionary(arrow.int32(), arrow.string())
NS = arrow.timestamp("ns")
DATE = arrow.date32()

# What each public column means: the learner's data dictionary (course.data.data_dictionary) and
# the schemas below carry these, so the prose cannot drift from the contract.
DESCRIPTIONS: dict[str, dict[str, str]] = {
    "employees": {
        "employee_id": "The employee, stable within a company; every other table joins on it.",
        "name": "Made-up full name.",
        "email": "Made-up work address.",
        "team": "The team the employee belongs to.",
        "role": "Job title.",
        "manager_id": "The employee's manager (another employee_id); empty for the top of the tree.",
        "hire_date": "The day the employee joined.",
        "ai_access_from": "The first day the employee had access to the AI tools (licensed). A "
                          "randomly drawn pilot wave got access weeks before the mandate, everyone "
                          "else on the mandate day; nobody has AI events before it.",
    },
    "ai_events": {
        "event_id": "One AI interaction (a prompt and its answer).",
        "employee_id": "Who made the request.",
        "timestamp": "When (UTC, no time zone). A week is the Monday that starts it.",
        "tool": "Which AI tool was used.",
        "feature": "Which feature of the tool.",
        "session_id": "Events of one sitting share it; work_items.linked_session_id points here.",
        "prompt_category": "What kind of request it was.",
        "prompt_fingerprint": "Near-duplicate prompts of one person share a fingerprint.",
        "document_id": "The document or file the prompt was about, if any.",
        "doc_authored_by_self": "True when the employee wrote that document themselves.",
        "tokens_in": "Tokens sent to the model.",
        "tokens_out": "Tokens the model returned.",
        "accepted": "True when the output was accepted, kept or reused.",
    },
    "work_items": {
        "work_item_id": "One ticket, pull request or document.",
        "employee_id": "Its owner.",
        "kind": "Ticket, pull request or document.",
        "created_at": "When the work was opened.",
        "closed_at": "When it was closed, merged, published or abandoned; empty while open.",
        "status": "Closed and merged work is output (closed work); open and abandoned work is not.",
        "cycle_time_hours": "Hours from created_at to closed_at; empty while open.",
        "rework": "True when the work was reopened, reverted or rewritten after closing.",
        "linked_session_id": "The AI session that fed this item, if any. A session is linked to "
                             "work when closed or merged work names it here.",
    },
    "calendar": {
        "date": "The day.",
        "event_type": "The mandate (the day AI use was required), a dashboard refresh, a "
                      "reporting deadline, a review cycle or a holiday.",
        "description": "What happened, in words.",
    },
    "survey": {
        "employee_id": "Who answered.",
        "survey_date": "When the survey ran.",
        "perceived_speedup_pct": "How much faster AI makes them, as they see it (can be negative).",
        "uses_ai_because_obliged": "True when they say they use AI because they must.",
        "satisfaction": "Satisfaction with the AI tools, 1 (low) to 5 (high).",
    },
    "labels": {
        "employee_id": "The employee.",
        "archetype": "Hidden truth: how the employee really uses AI.",
        "convert_date": "Hidden truth: when a convert's use turned genuine.",
        "pilot_expected_without": "Hidden truth: expected new work over the person's wave's window "
                                  "(their access date to the day before the next wave's; 0 for "
                                  "the last wave) without AI access.",
        "pilot_expected_with": "Hidden truth: the same with AI access from the wave's access date.",
    },
    "event_labels": {
        "event_id": "The AI event.",
        "is_theater": "Hidden truth: True when the event was performed for the count.",
    },
}

# name -> [(column, arrow type in memory/files, arrow type when streamed as a dictionary)]
ARROW_COLUMNS: dict[str, list[tuple[str, arrow.DataType, arrow.DataType]]] = {
    "employees": [
        ("employee_id", STRING, STRING), ("name", STRING, STRING), ("email", STRING, STRING),
        ("team", STRING, DICT32), ("role", STRING, DICT32), ("manager_id", STRING, STRING),
        ("hire_date", DATE, DATE), ("ai_access_from", DATE, DATE),
    ],
    "ai_events": [
        ("event_id", arrow.int64(), arrow.int64()), ("employee_id", STRING, DICT32),
        ("timestamp", NS, NS), ("tool", STRING, DICT8), ("feature", STRING, DICT8),
        ("session_id", arrow.int64(), arrow.int64()), ("prompt_category", STRING, DICT8),
        ("prompt_fingerprint", arrow.int64(), arrow.int64()), ("document_id", STRING, DICT32),
        ("doc_authored_by_self", arrow.bool_(), arrow.bool_()),
        ("tokens_in", arrow.int64(), arrow.int64()), ("tokens_out", arrow.int64(), arrow.int64()),
        ("accepted", arrow.bool_(), arrow.bool_()),
    ],
    "work_items": [
        ("work_item_id", STRING, STRING), ("employee_id", STRING, DICT32), ("kind", STRING, DICT8),
        ("created_at", NS, NS), ("closed_at", NS, NS), ("status", STRING, DICT8),
        ("cycle_time_hours", arrow.float64(), arrow.float64()), ("rework", arrow.bool_(), arrow.bool_()),
        ("linked_session_id", arrow.int64(), arrow.int64()),
    ],
    "calendar": [("date", DATE, DATE), ("event_type", STRING, STRING), ("description", STRING, STRING)],
    "survey": [
        ("employee_id", STRING, DICT32), ("survey_date", DATE, DATE),
        ("perceived_speedup_pct", arrow.float64(), arrow.float64()),
        ("uses_ai_because_obliged", arrow.bool_(), arrow.bool_()),
        ("satisfaction", arrow.int64(), arrow.int64()),
    ],
    "labels": [("employee_id", STRING, STRING), ("archetype", STRING, DICT8), ("convert_date", DATE, DATE),
               ("pilot_expected_without", arrow.float64(), arrow.float64()),
               ("pilot_expected_with", arrow.float64(), arrow.float64())],
    "event_labels": [("event_id", arrow.int64(), arrow.int64()), ("is_theater", arrow.bool_(), arrow.bool_())],
}
DATE_COLUMNS = {name: [c for c, t, _ in cols if t == DATE] for name, cols in ARROW_COLUMNS.items()}
NULLABLE_INT_COLUMNS = {"work_items": ["linked_session_id"]}


def arrow_schema(name: str, streamed: bool = False) -> arrow.Schema:
    """The Arrow schema a table is written with (dictionary-encoded text when streamed)."""
    return arrow.schema([(col, streamed_type if streamed else plain)
                         for col, plain, streamed_type in ARROW_COLUMNS[name]])


def _id(pattern: str) -> list[pa.Check]:
    return [pa.Check.str_matches(pattern)]


_EMPLOYEE_ID = r"^E\d{5,}$"
_TEXT = "str"
_TIME = "datetime64[ns]"

SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "employees": pa.DataFrameSchema({
        "employee_id": pa.Column(_TEXT, _id(_EMPLOYEE_ID), unique=True),
        "name": pa.Column(_TEXT, pa.Check.str_length(min_value=3)),
        "email": pa.Column(_TEXT, pa.Check.str_matches(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"), unique=True),
        "team": pa.Column(_TEXT, pa.Check.str_length(min_value=1)),
        "role": pa.Column(_TEXT, pa.Check.str_length(min_value=1)),
        "manager_id": pa.Column(_TEXT, _id(_EMPLOYEE_ID), nullable=True),
        "hire_date": pa.Column(_TIME),
        "ai_access_from": pa.Column(_TIME),
    }, strict=True, ordered=True),
    "ai_events": pa.DataFrameSchema({
        "event_id": pa.Column("int64", pa.Check.ge(1), unique=True),
        "employee_id": pa.Column(_TEXT, _id(_EMPLOYEE_ID)),
        "timestamp": pa.Column(_TIME),
        "tool": pa.Column(_TEXT, pa.Check.isin(TOOLS)),
        "feature": pa.Column(_TEXT, pa.Check.isin(FEATURES)),
        "session_id": pa.Column("int64", pa.Check.ge(1)),
        "prompt_category": pa.Column(_TEXT, pa.Check.isin(CATEGORIES)),
        "prompt_fingerprint": pa.Column("int64", pa.Check.ge(0)),
        "document_id": pa.Column(_TEXT, _id(r"^D\d{7,}$"), nullable=True),
        "doc_authored_by_self": pa.Column(bool),
        "tokens_in": pa.Column("int64", pa.Check.ge(1)),
        "tokens_out": pa.Column("int64", pa.Check.ge(1)),
        "accepted": pa.Column(bool),
    }, strict=True, ordered=True),
    "work_items": pa.DataFrameSchema({
        "work_item_id": pa.Column(_TEXT, _id(r"^W\d{6,}$"), unique=True),
        "employee_id": pa.Column(_TEXT, _id(_EMPLOYEE_ID)),
        "kind": pa.Column(_TEXT, pa.Check.isin(WORK_KINDS)),
        "created_at": pa.Column(_TIME),
        "closed_at": pa.Column(_TIME, nullable=True),
        "status": pa.Column(_TEXT, pa.Check.isin(WORK_STATUSES)),
        "cycle_time_hours": pa.Column(float, pa.Check.gt(0), nullable=True),
        "rework": pa.Column(bool),
        "linked_session_id": pa.Column("Int64", pa.Check.ge(1), nullable=True),
    }, strict=True, ordered=True, checks=[
        pa.Check(lambda df: (df["closed_at"].isna() | (df["closed_at"] >= df["created_at"])),
                 error="closed_at must not be before created_at"),
        pa.Check(lambda df: df["closed_at"].isna() == (df["status"] == "open"),
                 error="exactly the open items have no closed_at"),
    ]),
    "calendar": pa.DataFrameSchema({
        "date": pa.Column(_TIME),
        "event_type": pa.Column(_TEXT, pa.Check.isin(CALENDAR_TYPES)),
        "description": pa.Column(_TEXT),
    }, strict=True, ordered=True),
    "survey": pa.DataFrameSchema({
        "employee_id": pa.Column(_TEXT, _id(_EMPLOYEE_ID)),
        "survey_date": pa.Column(_TIME),
        "perceived_speedup_pct": pa.Column(float, pa.Check.in_range(-100, 300)),
        "uses_ai_because_obliged": pa.Column(bool),
        "satisfaction": pa.Column("int64", pa.Check.in_range(1, 5)),
    }, strict=True, ordered=True, unique=["employee_id", "survey_date"]),
    "labels": pa.DataFrameSchema({
        "employee_id": pa.Column(_TEXT, _id(_EMPLOYEE_ID), unique=True),
        "archetype": pa.Column(_TEXT, pa.Check.isin(ARCHETYPE_NAMES)),
        "convert_date": pa.Column(_TIME, nullable=True),
        "pilot_expected_without": pa.Column(float, pa.Check.ge(0)),
        "pilot_expected_with": pa.Column(float, pa.Check.ge(0)),
    }, strict=True, ordered=True, checks=[
        pa.Check(lambda df: df["convert_date"].notna() == (df["archetype"] == "convert"),
                 error="exactly the converts have a convert_date"),
    ]),
    "event_labels": pa.DataFrameSchema({
        "event_id": pa.Column("int64", pa.Check.ge(1), unique=True),
        "is_theater": pa.Column(bool),
    }, strict=True, ordered=True),
}


for _table, _schema in SCHEMAS.items():
    SCHEMAS[_table] = _schema.update_columns(
        {column: {"description": text} for column, text in DESCRIPTIONS[_table].items()})
del _table, _schema


def validate_table(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Check one table against its schema; a violation is reported with the table and column."""
    try:
        return SCHEMAS[name].validate(frame, lazy=False)
    except (pa.errors.SchemaError, pa.errors.SchemaErrors) as exc:
        first_line = str(exc).strip().splitlines()[0][:300]
        raise SchemaViolation(f"table '{name}' breaks the data contract: {first_line}") from exc


def check_references(tables: dict[str, Any]) -> None:
    """Ids that point at other tables must exist there (employees, managers, sessions, events)."""
    employees = tables.get("employees")
    if employees is None:
        return
    known = set(employees["employee_id"])
    problems = []
    managers = employees["manager_id"].dropna()
    if not set(managers) <= known:
        problems.append("employees.manager_id names someone who is not an employee")
    for name in ("ai_events", "work_items", "survey", "labels"):
        frame = tables.get(name)
        if frame is not None and len(frame) and not set(frame["employee_id"].unique()) <= known:
            problems.append(f"{name}.employee_id names someone who is not an employee")
    events, work = tables.get("ai_events"), tables.get("work_items")
    if events is not None and work is not None:
        linked = work["linked_session_id"].dropna()
        if len(linked) and not set(linked.unique()) <= set(events["session_id"].unique()):
            problems.append("work_items.linked_session_id names a session with no AI events")
    event_labels = tables.get("event_labels")
    if events is not None and event_labels is not None:
        if len(event_labels) != len(events) or not (
                event_labels["event_id"].to_numpy() == events["event_id"].to_numpy()).all():
            problems.append("event_labels does not have one row per ai_events row")
    if problems:
        raise SchemaViolation("; ".join(problems))


NULLABLE_COLUMNS = {("employees", "manager_id"), ("ai_events", "document_id"), ("work_items", "closed_at"),
                    ("work_items", "cycle_time_hours"), ("work_items", "linked_session_id"),
                    ("labels", "convert_date")}
ALLOWED_VALUES = {"tool": set(TOOLS), "feature": set(FEATURES), "prompt_category": set(CATEGORIES),
                  "kind": set(WORK_KINDS), "status": set(WORK_STATUSES)}


class StreamChecker:
    """The schema rules as Arrow compute checks: cheap enough to run on every block of a huge company."""

    def __init__(self, start_ns: int, days: int, backlog_days: int):
        self.last_event = 0
        self.last_work_item = ""
        self.first_ns = start_ns - backlog_days * 86_400 * 10**9
        self.end_ns = start_ns + (days + 1) * 86_400 * 10**9

    def _fail(self, table: str, rule: str) -> None:
        raise SchemaViolation(f"table '{table}' breaks the data contract: {rule}")

    def check(self, chunk: dict[str, arrow.Table]) -> None:
        for name, table in chunk.items():
            for column, plain, _ in ARROW_COLUMNS[name]:
                values = table.column(column)
                nullable = (name, column) in NULLABLE_COLUMNS
                if not nullable and values.null_count:
                    self._fail(name, f"column '{column}' has missing values")
                allowed = ALLOWED_VALUES.get(column)
                if allowed is not None and arrow.types.is_dictionary(values.type):
                    for piece in values.chunks:
                        if not set(piece.dictionary.to_pylist()) <= allowed:
                            self._fail(name, f"column '{column}' has a value outside {sorted(allowed)}")
        events = chunk["ai_events"]
        if events.num_rows:
            ids = events.column("event_id").to_numpy()
            if ids[0] <= self.last_event or (len(ids) > 1 and (np.diff(ids) <= 0).any()):
                self._fail("ai_events", "event_id must be unique")
            self.last_event = int(ids[-1])
            for column in ("tokens_in", "tokens_out", "session_id"):
                if pc.min(events.column(column)).as_py() < 1:
                    self._fail("ai_events", f"{column} must be at least 1")
            stamps = pc.min_max(events.column("timestamp").cast(arrow.int64()))
            if stamps["min"].as_py() < self.first_ns or stamps["max"].as_py() > self.end_ns:
                self._fail("ai_events", "timestamp outside the period")
        work = chunk["work_items"]
        if work.num_rows:
            created = work.column("created_at").cast(arrow.int64())
            closed = work.column("closed_at").cast(arrow.int64())
            if pc.any(pc.less(closed, created)).as_py():
                self._fail("work_items", "closed_at must not be before created_at")
            is_open = pc.equal(work.column("status").cast(arrow.string()), "open")
            if not pc.all(pc.equal(is_open, pc.is_null(closed))).as_py():
                self._fail("work_items", "exactly the open items have no closed_at")
            linked = work.column("linked_session_id").drop_null().to_numpy()
            sessions = events.column("session_id").to_numpy()  # non-decreasing by construction
            found = np.searchsorted(sessions, linked).clip(0, max(len(sessions) - 1, 0))
            if len(linked) and (not len(sessions) or (sessions[found] != linked).any()):
                self._fail("work_items", "linked_session_id names a session with no AI events")
            first_id = work.column("work_item_id")[0].as_py()
            if (len(first_id), first_id) <= (len(self.last_work_item), self.last_work_item):
                self._fail("work_items", "work_item_id must be unique")
            last_id = work.column("work_item_id")[-1].as_py()
            self.last_work_item = last_id
        survey = chunk["survey"]
        if survey.num_rows:
            bounds = pc.min_max(survey.column("satisfaction"))
            if bounds["min"].as_py() < 1 or bounds["max"].as_py() > 5:
                self._fail("survey", "satisfaction must be between 1 and 5")
        labels = chunk["event_labels"]
        if labels.num_rows != events.num_rows or not labels.column("event_id").equals(events.column("event_id")):
            self._fail("event_labels", "one row per ai_events row")
