"""Every table matches its pandera schema, and broken tables are refused before writing."""

from __future__ import annotations

import pandas as pd
import pytest

from datasets.api import write_company
from datasets.schemas import SCHEMAS, SchemaViolation, check_references, validate_table


def test_every_generated_table_passes_its_schema(small_company):
    tables = small_company.tables(with_labels=True)
    assert set(tables) == set(SCHEMAS)
    for name, frame in tables.items():
        validate_table(name, frame)
        assert list(frame.columns) == list(SCHEMAS[name].columns)
    check_references(tables)


def test_text_columns_use_the_string_dtype_and_times_are_nanoseconds(small_company):
    assert pd.api.types.is_string_dtype(small_company.ai_events["employee_id"])
    assert small_company.ai_events["timestamp"].dtype == "datetime64[ns]"
    assert str(small_company.work_items["linked_session_id"].dtype) == "Int64"


@pytest.mark.parametrize("table, breakage", [
    ("ai_events", lambda f: f.assign(event_id=1)),
    ("ai_events", lambda f: f.assign(tokens_in=-f["tokens_in"])),
    ("ai_events", lambda f: f.assign(tool="slack")),
    ("work_items", lambda f: f.assign(status="done")),
    ("work_items", lambda f: f.assign(closed_at=f["created_at"] - pd.Timedelta(hours=1))),
    ("survey", lambda f: f.assign(satisfaction=9)),
    ("employees", lambda f: f.assign(email="not-an-email")),
    ("labels", lambda f: f.assign(archetype="wizard")),
    ("ai_events", lambda f: f.drop(columns="accepted")),
])
def test_broken_tables_are_refused(small_company, table, breakage):
    with pytest.raises(SchemaViolation, match=table):
        validate_table(table, breakage(getattr(small_company, table).copy()))


def test_dangling_references_are_refused(small_company):
    tables = small_company.tables(with_labels=True)
    events = tables["ai_events"].copy()
    events.loc[events.index[0], "employee_id"] = "E99999"
    with pytest.raises(SchemaViolation, match="ai_events.employee_id"):
        check_references({**tables, "ai_events": events})
    work = tables["work_items"].copy()
    work["linked_session_id"] = pd.array([10**12] * len(work), dtype="Int64")
    with pytest.raises(SchemaViolation, match="linked_session_id"):
        check_references({**tables, "work_items": work})


def test_nothing_is_written_when_a_table_breaks_the_contract(tmp_path, small_company):
    from dataclasses import replace

    broken = replace(small_company, survey=small_company.survey.assign(satisfaction=0))
    with pytest.raises(SchemaViolation):
        write_company(broken, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
