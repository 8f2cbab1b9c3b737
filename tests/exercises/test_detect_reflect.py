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
    """Thresholds follow the score's own scale (its median up to its 95th percentile)."""
    score = pd.Series([0.1 * i for i in range(1, 11)], index=[f"E000{i:02d}" for i in range(10)])
    exec(_reflect_cell(), {"pd": pd, "score": score})
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["0.55 5 flagged", "0.685 4 flagged", "0.82 2 flagged", "0.91 1 flagged", "0.955 1 flagged"]


def test_reflect_cell_says_so_for_a_score_without_values(capsys):
    exec(_reflect_cell(), {"pd": pd, "score": pd.Series([float("nan")] * 3)})
    assert "named `score`" in capsys.readouterr().out
