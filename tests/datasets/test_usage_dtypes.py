"""The usage table's dtypes: `user` and `source` categorical over their sorted names, `day`
datetime64[ns], each count float32 when every value of the column is exact in float32 and float64
otherwise, so a 200 MB export fits in memory and no count is ever rounded."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datasets.importers import COUNT_COLUMNS, read_export, read_exports

FIXTURES = Path(__file__).parent / "fixtures"
INPUTS = FIXTURES / "import_golden" / "inputs"
KIRO_HEADER = "UserId,Date,Client_Type,Conversations,Messages,Credits_Used,Overage_Credits_Used\n"


def _check_tidy_dtypes(table: pd.DataFrame) -> None:
    for column in ("user", "source"):
        assert isinstance(table[column].dtype, pd.CategoricalDtype), column
        categories = list(table[column].cat.categories)
        assert categories == sorted(categories) and table[column].notna().all()
        assert str(table[column].cat.categories.dtype) == "string"
    assert table["day"].dtype == "datetime64[ns]"
    for column in table.columns[3:]:
        values = table[column].to_numpy()
        assert values.dtype in (np.float32, np.float64), column
        exact = bool(np.all((values.astype(np.float32) == values) | np.isnan(values)))
        assert (values.dtype == np.float32) == exact, f"{column}: float32 exactly when every value is exact in it"


@pytest.mark.parametrize("paths", [
    [INPUTS / "amazon-q-clean.csv"], [INPUTS / "amazon-q-odd-cells.csv"], [INPUTS / "kiro-fractional-credits.csv"],
    [INPUTS / "generated-copilot-users.ndjson"], [INPUTS / "generated-openai-usage.json"],
    [INPUTS / "generated-m365-user-detail.csv"], [FIXTURES / "vendors" / "kiro-user-report-per-client.csv"],
    [INPUTS / "amazon-q-clean.csv", INPUTS / "kiro-fractional-credits.csv", INPUTS / "generated-copilot-users.ndjson"],
], ids=lambda paths: "+".join(path.stem for path in paths))
def test_the_usage_table_has_the_chosen_dtypes(paths):
    table = read_exports(paths)
    _check_tidy_dtypes(table)
    assert list(table.columns[:8]) == ["user", "day", "source", *COUNT_COLUMNS]
    # sorted by user name (code points, as strings sort), then day and source
    keys = pd.DataFrame({"user": table["user"].astype(str), "day": table["day"], "source": table["source"].astype(str)})
    assert keys.equals(keys.sort_values(["user", "day", "source"], kind="stable", ignore_index=True))


def test_small_counts_are_float32_and_larger_ones_stay_exact_in_float64():
    table = read_export(INPUTS / "kiro-fractional-credits.csv")
    assert table["conversations"].dtype == np.float32
    assert table["interactions"].dtype == np.float64      # 16,777,217 messages: float32 would round it
    assert 16777217 + (2 * 3) % 23 + (2 * 3) % 23 in set(table["interactions"])   # u-002's day 3, three clients
    assert table["credits_used"].dtype == np.float64      # tenths: float32 holds none of them exactly
    assert set(table["credits_used"].round(10)) >= {0.3, 1.5}


def test_sums_a_float32_cannot_hold_make_the_column_float64(tmp_path):
    path = tmp_path / "kiro.csv"    # each record is exact in float32, their day's sum is not
    path.write_text(KIRO_HEADER + "u-1,2026-11-02,KIRO_IDE,1,16777216,0.5,0\nu-1,2026-11-02,KIRO_CLI,1,1,0.25,0\n"
                    "u-2,2026-11-02,KIRO_IDE,1,3,0.75,0\n", encoding="utf-8")
    table = read_export(path)
    assert table["interactions"].dtype == np.float64 and table["interactions"].tolist() == [16777217.0, 3.0]
    assert table["credits_used"].dtype == np.float32 and table["credits_used"].tolist() == [0.75, 0.75]


def test_the_wide_key_sort_gives_the_same_table_as_the_packed_one(monkeypatch):
    from datasets.importers import base
    paths = [INPUTS / "amazon-q-odd-cells.csv", INPUTS / "kiro-fractional-credits.csv",
             INPUTS / "generated-openai-usage.json", INPUTS / "amazon-q-odd-cells.csv"]   # duplicates too
    packed = read_exports(paths)
    monkeypatch.setattr(base, "_PACKED_BITS", 0)      # every key "too wide": the lexsort path
    wide = read_exports(paths)
    pd.testing.assert_frame_equal(packed, wide, check_exact=True)
    assert packed.attrs["duplicates"] == wide.attrs["duplicates"] > 0
    assert packed.attrs["conflicts"] == wide.attrs["conflicts"]


@pytest.mark.parametrize("page", [None, 1000])
@pytest.mark.parametrize("row_by_row", [False, True])
def test_many_users_and_records_keep_their_names_and_order(tmp_path, monkeypatch, page, row_by_row):
    """Past 127 and 32,767 users the sink's codes widen; records span pages (made small here).
    Every user keeps its own name, day and count."""
    from datasets.importers import base
    from datasets.importers import fastcsv
    if page:
        monkeypatch.setattr(base, "_CHUNK", page)
    if row_by_row:
        monkeypatch.setattr(fastcsv, "blocks", lambda *args: (_ for _ in ()).throw(fastcsv.NotFast()))
    users = 40_000
    lines = [f"u{n:05d},2026-11-{1 + n % 3:02d},KIRO_IDE,1,{n % 7},0,0\n" for n in range(users)]
    path = tmp_path / "kiro.csv"
    path.write_text(KIRO_HEADER + "".join(lines), encoding="utf-8")
    table = read_export(path)
    assert len(table) == users and table["user"].cat.codes.dtype == np.int32
    assert table["user"].astype(str).tolist() == [f"u{n:05d}" for n in range(users)]
    assert (table["day"].dt.day.to_numpy() == 1 + np.arange(users) % 3).all()
    assert (table["interactions"].to_numpy() == np.arange(users) % 7).all()


def test_each_sources_first_and_last_day_are_found_without_a_groupby():
    from datetime import date

    from datasets.importers.registry import _day_spans
    table = pd.DataFrame({
        "user": pd.Categorical(["a", "b", "a", "c"]),
        "day": pd.to_datetime(["2026-04-09", "2026-04-12", "2026-01-02", "2026-05-01"]).astype("datetime64[ns]"),
        "source": pd.Categorical(["kiro", "github-copilot", "github-copilot", "kiro"],
                                 categories=["amazon-q", "github-copilot", "kiro"]),
    })
    assert _day_spans(table) == {"github-copilot": (date(2026, 1, 2), date(2026, 4, 12)),
                                 "kiro": (date(2026, 4, 9), date(2026, 5, 1))}   # no rows: no amazon-q
    single = table[table["source"] == "kiro"].assign(source=pd.Categorical(["kiro", "kiro"]))
    assert _day_spans(single) == {"kiro": (date(2026, 4, 9), date(2026, 5, 1))}
    plain = table.astype({"source": "string"})
    assert _day_spans(plain) == _day_spans(table)


def test_an_id_with_a_lone_surrogate_is_one_clear_error(tmp_path, capsys):
    from theater.cli import main
    path = tmp_path / "users.ndjson"     # JSON's \ud800 escape: half of a character, no file can hold it
    path.write_text('{"day": "2025-10-01", "user_login": "a\\ud800b", "user_initiated_interaction_count": 3, '
                    '"code_acceptance_activity_count": 1}\n', encoding="utf-8")
    assert main(["import", str(path), "--out", str(tmp_path / "out.csv")]) == 2
    err = capsys.readouterr().err
    assert "lone surrogate" in err and "internal error" not in err and not (tmp_path / "out.csv").exists()
