"""`theater import` writes the same bytes as before the tidy table's columns became categorical
and float32: the files in fixtures/import_golden/expected/ were written by main at 8de05ca (string
and float64 columns, the whole table written at once) from the inputs listed in RUNS.

The inputs cover both CSV paths (the block reader and the row reader's fall-back), formula-like
ids, NFD and zero-width ids, a conflicting duplicate, counts and credits float32 cannot hold, the
GitHub team and repository reports (tables of their own), and several vendors in one table."""

from pathlib import Path

import pytest

from grader.cli import main

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
