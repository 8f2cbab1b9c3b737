"""`theater import`: real exports in, one tidy CSV out, one-line errors on bad files."""

import pandas as pd

from datasets.api import generate_company, write_company
from theater.cli import main


def test_import_reads_a_generated_export_into_a_tidy_csv(tmp_path, capsys):
    company = generate_company("startup", employees=30, days=40, seed=11)
    folder = write_company(company, tmp_path / "co", fmt="csv", export="github-copilot")
    out = tmp_path / "tidy.csv"
    assert main(["import", str(folder), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns[:8]) == ["user", "day", "source", "interactions", "acceptances",
                                       "tokens_in", "tokens_out", "lines_added"]
    assert set(table.columns[8:]) <= {"used_copilot_code_review_active", "used_copilot_code_review_passive"}
    assert set(table["source"]) == {"github-copilot"}
    assert table["interactions"].sum() > 0
    assert "user-days" in capsys.readouterr().out


def test_import_of_malformed_json_is_one_line_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "usage.ndjson"
    bad.write_text('{"day": "2026-01-05"\n')
    out = tmp_path / "tidy.csv"
    assert main(["import", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("theater import: error:") and "not valid JSON" in err and "\n" not in err
    assert not out.exists() and not list(tmp_path.glob(".*partial"))


def test_import_notes_duplicates_counted_once(tmp_path, capsys):
    export = tmp_path / "users.ndjson"
    export.write_text('{"day": "2025-10-01", "user_login": "ada", "user_initiated_interaction_count": 3, '
                      '"code_acceptance_activity_count": 1}\n')
    out = tmp_path / "tidy.csv"
    assert main(["import", str(export), str(export), "--out", str(out)]) == 0
    assert "1 duplicate record(s)" in capsys.readouterr().out
    assert pd.read_csv(out)["interactions"].tolist() == [3]


def test_import_kind_choices_are_the_importers(tmp_path, capsys):
    export = tmp_path / "x.csv"
    export.write_text("a\n")
    try:
        main(["import", str(export), "--kind", "slack", "--out", str(tmp_path / "o.csv")])
    except SystemExit as exc:
        assert exc.code == 2
    assert "invalid choice: 'slack'" in capsys.readouterr().err
