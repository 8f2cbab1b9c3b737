"""`theater import` writes the same bytes as before the tidy table's columns became categorical
and float32: the files in fixtures/import_golden/expected/ were written by main at 8de05ca (string
and float64 columns, the whole table written at once) from the inputs listed in RUNS.

The inputs cover both CSV paths (the block reader and the row reader's fall-back), formula-like
ids, NFD and zero-width ids, a conflicting duplicate, counts and credits float32 cannot hold, the
GitHub team and repository reports (tables of their own), and several vendors in one table."""

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from theater.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
INPUTS = FIXTURES / "import_golden" / "inputs"
EXPECTED = FIXTURES / "import_golden" / "expected"
VENDORS = FIXTURES / "vendors"

RUNS = {
    "amazon-q-odd-cells": [INPUTS / "amazon-q-odd-cells.csv"],
    "amazon-q-clean": [INPUTS / "amazon-q-clean.csv"],
    "kiro-fractional-credits": [INPUTS / "kiro-fractional-credits.csv"],
    "kiro-user-report-per-client": [VENDORS / "kiro-user-report-per-client.csv"],
    "m365-graph-json": [VENDORS / "m365-copilot-usage-user-detail.json"],
    "copilot-users-28-day": [VENDORS / "copilot-users-28-day"],
    "copilot-user-teams": [VENDORS / "copilot-user-teams-1-day.ndjson"],
    "copilot-repos": [VENDORS / "copilot-repos-1-day.ndjson"],
    "generated-copilot-users": [INPUTS / "generated-copilot-users.ndjson"],
    "generated-openai-usage": [INPUTS / "generated-openai-usage.json"],
    "generated-m365": [INPUTS / "generated-m365-user-detail.csv"],
    "mixed-vendors": [INPUTS / "amazon-q-clean.csv", INPUTS / "kiro-fractional-credits.csv",
                      INPUTS / "generated-copilot-users.ndjson"],
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_import_writes_the_same_bytes_as_before(name, tmp_path, capsys):
    out = tmp_path / f"{name}.csv"
    assert main(["import", *map(str, RUNS[name]), "--out", str(out)]) == 0
    assert out.read_bytes() == (EXPECTED / f"{name}.csv").read_bytes()


@pytest.mark.parametrize("name", ["amazon-q-odd-cells", "mixed-vendors", "kiro-fractional-credits"])
def test_writing_a_few_rows_at_a_time_gives_the_same_bytes(name, tmp_path, capsys, monkeypatch):
    from datasets import commands
    monkeypatch.setattr(commands, "WRITE_ROWS", 7)     # slices end inside users, days and sources
    out = tmp_path / f"{name}.csv"
    assert main(["import", *map(str, RUNS[name]), "--out", str(out)]) == 0
    assert out.read_bytes() == (EXPECTED / f"{name}.csv").read_bytes()


def test_every_expected_file_is_checked():
    assert {path.stem for path in EXPECTED.glob("*.csv")} == set(RUNS)


names = st.text(alphabet=st.sampled_from(list('ab,"\n\r=+-@\t é\u200b\'x')), min_size=1, max_size=6)
counts = st.one_of(st.just(float("nan")), st.integers(0, 10**15).map(float),
                   st.floats(0, 1e6, allow_nan=False), st.sampled_from([0.1, 0.25, 1e-05, 16777217.0, 1e15]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(names, st.integers(0, 400), st.sampled_from(["kiro", "=src", "a,b"]), counts, counts),
                     min_size=0, max_size=30), narrow=st.booleans())
def test_the_usage_rows_writer_gives_the_bytes_pandas_gives(tmp_path, rows, narrow):
    """Any usage-shaped table: the whole-column writer and pandas' to_csv write the same bytes."""
    import numpy as np

    from datasets.commands import spreadsheet_safe, write_csv
    users, days, sources, first, second = (list(column) for column in zip(*rows, strict=True)) if rows else [[]] * 5
    table = pd.DataFrame({
        "user": pd.Categorical(users, categories=sorted(set(users))),
        "day": (pd.Timestamp("2026-01-01") + pd.to_timedelta(days, unit="D")).astype("datetime64[ns]"),
        "source": pd.Categorical(sources, categories=sorted(set(sources))),
        "interactions": np.array(first, dtype=np.float64), "credits_used": np.array(second, dtype=np.float64),
    })
    if narrow:
        table["interactions"] = table["interactions"].astype(np.float32)
    ours, theirs = tmp_path / "ours.csv", tmp_path / "theirs.csv"
    write_csv(table, ours)
    spreadsheet_safe(table).to_csv(theirs, index=False)
    assert ours.read_bytes() == theirs.read_bytes()
