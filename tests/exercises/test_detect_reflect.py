"""detect.ipynb's ungraded reflect cell runs whatever the learner named their score."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

NOTEBOOK = Path(__file__).resolve().parents[2] / "exercises" / "source" / "detect" / "detect.ipynb"


def _reflect_cell() -> str:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    heading = next(i for i, c in enumerate(cells)
                   if c["cell_type"] == "markdown" and "## Reflect" in "".join(c["source"]))
    return "".join(cells[heading + 1]["source"])


def test_reflect_cell_runs_without_a_variable_named_score(capsys):
    exec(_reflect_cell(), {"pd": pd, "flagged": ["E00001"]})    # no NameError
    assert "named `score`" in capsys.readouterr().out


def test_reflect_cell_counts_flags_per_threshold_from_the_score(capsys):
    score = pd.Series([0.5, 1.2, 1.7, 2.2, 3.0], index=[f"E0000{i}" for i in range(5)])
    exec(_reflect_cell(), {"pd": pd, "score": score})
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["1.0 4 flagged", "1.5 3 flagged", "2.0 2 flagged", "2.5 1 flagged"]
