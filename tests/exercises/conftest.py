"""Small hand-made companies whose truth can be worked out by hand."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest


def tiny_company() -> SimpleNamespace:
    """Four employees over four weeks (Mon 2025-01-06 .. Sun 2025-02-02), mandate on 2025-01-20.

    E1 genuine (Payments), E2 tokenmaxxer (Payments), E3 non_user (Search), E4 convert (Search).
    """
    employees = pd.DataFrame(
        {"employee_id": ["E1", "E2", "E3", "E4"], "team": ["Payments", "Payments", "Search", "Search"]}
    )
    stamps = pd.to_datetime(
        [
            "2025-01-06 10:00", "2025-01-07 11:00",  # E1 week 1, session 1
            "2025-01-21 09:00",                      # E1 week 3, session 2
            "2025-01-22 09:00", "2025-01-22 09:05", "2025-01-22 09:10",  # E2 week 3, session 3
            "2025-01-28 16:00",                      # E2 week 4, session 4
            "2025-01-09 14:00",                      # E4 week 1, session 5
            "2025-01-30 14:00",                      # E4 week 4, session 6
        ]
    )
    ai_events = pd.DataFrame(
        {
            "event_id": range(1, 10),
            "employee_id": ["E1", "E1", "E1", "E2", "E2", "E2", "E2", "E4", "E4"],
            "timestamp": stamps,
            "tool": ["ide-assistant"] * 9,
            "feature": ["chat"] * 9,
            "session_id": [1, 1, 2, 3, 3, 3, 4, 5, 6],
            "prompt_category": ["code"] * 9,
            "prompt_fingerprint": [11, 12, 13, 20, 20, 20, 20, 30, 31],
            "document_id": [None] * 9,
            "doc_authored_by_self": [False, False, False, True, True, True, True, True, False],
            "tokens_in": [100] * 9,
            "tokens_out": [200] * 9,
            "accepted": [True, True, True, False, False, False, False, False, True],
        }
    )
    event_labels = pd.DataFrame(
        {"event_id": range(1, 10),
         "is_theater": [False, False, False, True, True, True, True, True, False]}
    )
    work_items = pd.DataFrame(
        {
            "work_item_id": [f"W{i}" for i in range(1, 9)],
            "employee_id": ["E1", "E1", "E1", "E3", "E3", "E3", "E2", "E4"],
            "kind": ["pull_request"] * 8,
            "created_at": pd.to_datetime(["2025-01-01"] * 8),
            "closed_at": pd.to_datetime(
                ["2025-01-08", "2025-01-24", "2025-01-29", "2025-01-10", "2025-01-23", "2025-01-30",
                 "2025-01-23", None]
            ),
            "status": ["merged", "merged", "merged", "closed", "closed", "closed", "abandoned", "open"],
            "linked_session_id": pd.array([1, 2, None, None, None, None, 3, None], dtype="Int64"),
        }
    )
    calendar = pd.DataFrame(
        {"date": pd.to_datetime(["2025-01-20"]).date, "event_type": ["mandate"], "description": ["AI mandate"]}
    )
    labels = pd.DataFrame(
        {"employee_id": ["E1", "E2", "E3", "E4"],
         "archetype": ["genuine", "tokenmaxxer", "non_user", "convert"]}
    )
    meta = {"start_date": "2025-01-06", "days": 28, "mandate_date": "2025-01-20"}
    return SimpleNamespace(
        employees=employees, ai_events=ai_events, work_items=work_items, calendar=calendar,
        survey=pd.DataFrame(), labels=labels, event_labels=event_labels, meta=meta,
    )


@pytest.fixture
def company() -> SimpleNamespace:
    return tiny_company()
