"""Tables and labels: the weekly usage-and-output table (`explore.*`) and labelled sessions (`spot.*`).

- the weekly table: the share of (week, team, column) cells that agree with the truth, rows
  missing on either side counted as zeros.
- labelled sessions: the share of sessions labelled as the logs show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from exercises.checks.core import AppWidget, Example, Incorrect, Reading, check
from exercises.checks.readers import frame_from_answer

WEEKLY_KEYS = ("week", "team")
WEEKLY_VALUES = ("ai_events", "ai_users", "closed_items")
MISSING_COLUMNS = "missing columns"


def _normalise_weekly(frame: pd.DataFrame, who: str) -> pd.DataFrame:
    frame = frame.copy()
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if set(WEEKLY_KEYS) - set(frame.columns) and "week" in (frame.index.names or []):
        frame = frame.reset_index()
        frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in (*WEEKLY_KEYS, *WEEKLY_VALUES) if c not in frame.columns]
    if missing:
        raise Incorrect(f"{who} is missing the column(s): {', '.join(missing)}.",
                        Reading("table", "off", problem=MISSING_COLUMNS, missing_columns=tuple(missing)))
    weeks = pd.to_datetime(frame["week"].astype("string"), errors="coerce")
    if weeks.isna().any():
        raise Incorrect(f"{who}: some `week` values are not dates (use the Monday, e.g. 2025-03-03).")
    if (weeks.dt.dayofweek != 0).any():
        raise Incorrect(f"{who}: `week` must be the Monday that starts each week.")
    out = pd.DataFrame(
        {
            "week": weeks.dt.strftime("%Y-%m-%d"),
            "team": frame["team"].astype("string").str.strip(),
        }
    )
    for col in WEEKLY_VALUES:
        values = pd.to_numeric(frame[col], errors="coerce")
        if values.isna().any():
            raise Incorrect(f"{who}: column `{col}` must hold numbers only.")
        out[col] = values.astype(float)
    if out.duplicated(list(WEEKLY_KEYS)).any():
        raise Incorrect(f"{who} has more than one row for the same week and team: aggregate them.")
    return out


@check(
    "explore.weekly_usage_output",
    truth="weekly_usage_output",
    widget=AppWidget("upload_table", tables=True),
    visibility="message",
    misconceptions={
        "closed_items": "output counted wrongly: abandoned items included, or weeks taken from the wrong date",
        "ai_users": "users counted wrongly: events counted instead of distinct people",
        "ai_events": "events lost or counted twice in the join to employees",
        MISSING_COLUMNS: "the table lacks required columns",
    },
    hints=[
        "Both tables need the team: join ai_events and work_items to employees on employee_id.",
        "A week is the Monday that starts it: `ts.dt.to_period('W').dt.start_time`.",
        "Output counts work items whose closed_at falls in the week and whose status is closed "
        "or merged; abandoned work is not output. ai_users counts distinct employees.",
    ],
    passing=[
        (
            pd.DataFrame(
                {"week": ["2025-01-06", "2025-01-06"], "team": ["Payments", "Search"],
                 "ai_events": [10, 3], "ai_users": [4, 1], "closed_items": [5, 0]}
            ),
            pd.DataFrame(
                {"week": ["2025-01-06", "2025-01-06"], "team": ["Payments", "Search"],
                 "ai_events": [10, 3], "ai_users": [4, 1], "closed_items": [5, 0]}
            ),
        ),
        Example(
            pd.DataFrame(
                {"week": pd.to_datetime(["2025-01-06"]), "team": ["Payments"],
                 "ai_events": [10], "ai_users": [4], "closed_items": [5], "extra": [1]}
            ),
            pd.DataFrame(
                {"week": ["2025-01-06", "2025-01-13"], "team": ["Payments", "Payments"],
                 "ai_events": [10, 0], "ai_users": [4, 0], "closed_items": [5, 0]}
            ),
            "datetime weeks, an extra column and an omitted all-zero row are fine",
        ),
    ],
    failing=[
        Example(
            pd.DataFrame({"week": ["2025-01-06"], "team": ["Payments"], "ai_events": [10]}),
            pd.DataFrame({"week": ["2025-01-06"], "team": ["Payments"], "ai_events": [10],
                          "ai_users": [4], "closed_items": [5]}),
            "missing columns",
        ),
        Example(
            pd.DataFrame({"week": ["2025-01-07"], "team": ["Payments"], "ai_events": [10],
                          "ai_users": [4], "closed_items": [5]}),
            pd.DataFrame({"week": ["2025-01-06"], "team": ["Payments"], "ai_events": [10],
                          "ai_users": [4], "closed_items": [5]}),
            "week not a Monday",
        ),
        Example(
            pd.DataFrame({"week": ["2025-01-06"], "team": ["Payments"], "ai_events": [10],
                          "ai_users": [10], "closed_items": [7]}),
            pd.DataFrame({"week": ["2025-01-06"], "team": ["Payments"], "ai_events": [10],
                          "ai_users": [4], "closed_items": [5]}),
            "two of three cells wrong",
        ),
        Example("a table", pd.DataFrame({"week": ["2025-01-06"]}), "wrong type"),
    ],
)
def weekly_usage_output(answer: Any, truth: pd.DataFrame) -> tuple[float, str, Reading]:
    """The per-week, per-team table of AI usage beside closed work, compared cell by cell."""
    mine = _normalise_weekly(frame_from_answer(answer), "Your table")
    expected = _normalise_weekly(truth, "The truth table")
    merged = mine.merge(expected, on=list(WEEKLY_KEYS), how="outer", suffixes=("_a", "_t"))
    merged = merged.fillna(0.0)
    agreement: dict[str, float] = {}
    for col in WEEKLY_VALUES:
        agreement[col] = float(np.isclose(merged[f"{col}_a"], merged[f"{col}_t"], atol=1e-6).mean())
    score = sum(agreement.values()) / len(agreement)
    if score >= 1.0:
        return 1.0, "Every cell of your weekly table agrees with the logs.", Reading("table", "")
    worst = min(agreement, key=agreement.get)
    extra = len(mine.merge(expected, on=list(WEEKLY_KEYS), how="left", indicator=True)
                .query("_merge == 'left_only'"))
    message = f"Some cells disagree with the logs; `{worst}` is the column that disagrees most."
    if extra:
        message += f" {extra} of your week/team rows have no activity in the logs (check the join)."
    return score, message, Reading("table", "", worst_column=worst, extra_rows=extra)


def _as_session_labels(answer: Any) -> dict[int, bool]:
    if isinstance(answer, pd.Series):
        answer = answer.to_dict()
    if isinstance(answer, pd.DataFrame):
        if not {"session_id", "is_theater"} <= set(answer.columns):
            raise Incorrect("Expected a table with columns session_id and is_theater.")
        answer = dict(zip(answer["session_id"], answer["is_theater"], strict=True))
    if not isinstance(answer, Mapping):
        raise Incorrect("Expected a mapping of session id to your label (theater or genuine).")
    labels: dict[int, bool] = {}
    for key, value in answer.items():
        try:
            session = int(key)
        except (TypeError, ValueError):
            raise Incorrect("Session ids must be whole numbers.") from None
        if isinstance(value, str):
            word = value.strip().lower()
            if word in {"theater", "theatre", "performative", "true", "yes"}:
                value = True
            elif word in {"genuine", "real", "false", "no"}:
                value = False
            else:
                raise Incorrect("Label each session 'theater' or 'genuine'.")
        if isinstance(value, np.generic):
            value = value.item()
        if value is None:
            continue
        if not isinstance(value, bool | int) or value not in (0, 1):
            raise Incorrect("Label each session 'theater' or 'genuine'.")
        labels[session] = bool(value)
    return labels


@check(
    "spot.label_sessions",
    truth_source="session_sample",
    widget=AppWidget("label_sessions"),
    hints=[
        "Look at what happened to the output: accepted, reused, linked to a merged work item?",
        "Near-duplicate prompts on a document the person wrote themselves rarely move work.",
        "Bursts just before a dashboard refresh or a reporting deadline are a warning sign.",
    ],
    passing=[
        ({1: True, 2: False, 3: True, 4: False}, {1: True, 2: False, 3: True, 4: False}),
        Example({"1": "theater", "2": "genuine", "3": "theater", "4": "theater"},
                {1: True, 2: False, 3: True, 4: False}, "3 of 4 (string labels) passes"),
    ],
    failing=[
        ({1: False, 2: True, 3: False, 4: True}, {1: True, 2: False, 3: True, 4: False}),
        Example({1: "maybe"}, {1: True}, "unknown label word"),
        Example(["theater"], {1: True}, "a list instead of a mapping"),
    ],
    pass_mark=0.75,
)
def label_sessions(answer: Any, truth: Mapping[int, bool]) -> tuple[float, str, Reading]:
    """The share of sampled sessions the learner labels as the hidden truth does."""
    labels = _as_session_labels(answer)
    expected = {int(k): bool(v) for k, v in truth.items()}
    unknown = set(labels) - set(expected)
    if unknown:
        raise Incorrect(f"{len(unknown)} labelled session(s) are not in the sample shown to you.")
    agree = sum(labels.get(session) == value for session, value in expected.items())
    score = agree / len(expected)
    unlabelled = len(set(expected) - set(labels))
    message = f"{agree} of {len(expected)} sessions labelled as the logs show."
    if unlabelled:
        message += f" {unlabelled} left unlabelled."
    return score, message, Reading("labels", "", agreed=agree, total=len(expected))
