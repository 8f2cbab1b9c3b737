"""The fast readers (whole columns) and the slow ones (row by row, record by record) must give the
same table, or the same message, for any file: one comparison for every reader's tests."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pandas as pd

from datasets.errors import UserError
from datasets.importers import fastcsv, read_export


def outcome(path: Path) -> tuple:
    """("table", table, duplicates, conflicts) or ("error", message)."""
    try:
        table = read_export(path)
    except UserError as error:
        return ("error", str(error))
    return ("table", table, table.attrs["duplicates"], table.attrs["conflicts"])


def same_as_slow_reader(path: Path, fast_path: object, name: str, **patch) -> tuple:
    """Read `path` as it comes, then with `fast_path.name` (the fast reader's entry) giving up at
    once (raising NotFast, or as `patch` says), and require the two outcomes to be the same."""
    fast = outcome(path)
    with mock.patch.object(fast_path, name, **(patch or {"side_effect": fastcsv.NotFast})):
        slow = outcome(path)
    assert fast[0] == slow[0] and fast[2:] == slow[2:]
    if fast[0] == "table":
        pd.testing.assert_frame_equal(fast[1], slow[1], check_exact=True)
    else:
        assert fast[1] == slow[1]
    return fast
