"""The static integrity scan flags grader tampering and leaves ordinary analysis code alone."""

from __future__ import annotations

import nbformat
import pytest

from grader.integrity import edited_cells, scan_outputs, scan_sources


def _kinds(*sources: str) -> set[str]:
    return {flag.kind for flag in scan_sources((f"cell {i}", s) for i, s in enumerate(sources))}


@pytest.mark.parametrize("source, kind", [
    ("get_ipython().input_transformers_cleanup.append(lambda lines: lines)", "ipython-hook"),
    ("ip = get_ipython()\nip.ast_transformers.append(object())", "ipython-hook"),
    ("get_ipython().events.register('pre_run_cell', print)", "ipython-hook"),
    ("import math\nmath.isclose = lambda *a, **k: True", "monkeypatch"),
    ("import numpy as np\nnp.testing.assert_allclose = lambda *a, **k: None", "monkeypatch"),
    ("import builtins\nbuiltins.__import__ = None", "monkeypatch"),
    ("import math\nsetattr(math, 'isclose', max)", "monkeypatch"),
    ("__builtins__['len'] = max", "monkeypatch"),
    ("class A:\n    def __eq__(self, other):\n        return True", "always-equal"),
    ("class A(str):\n    __eq__ = lambda self, other: True", "always-equal"),
    ("open('../../../.theater/secret').read()", "outside-folder"),
    ("open('gradebook.db', 'rb')", "outside-folder"),
    ("open('/etc/passwd').read()", "outside-folder"),
    ("exec(bytes.fromhex('7072696e74').decode())", "dynamic-code"),
    ("import os\nos._exit(0)", "process-control"),
    ("!cat /etc/passwd", "process-control"),
    ("import socket\nsocket.create_connection(('1.1.1.1', 53))", "network"),
])
def test_tampering_is_flagged(source, kind):
    assert kind in _kinds(source)


def test_monkeypatch_is_tracked_across_cells():
    assert "monkeypatch" in _kinds("import math as m", "m.isclose = lambda *a: True")


def test_ordinary_analysis_code_raises_no_flag():
    honest = (
        "import pandas as pd\nimport numpy as np\nframe = pd.read_csv('data/ai_events.csv')\n"
        "frame['week'] = frame['timestamp'].dt.to_period('W')\nsummary = frame.groupby('week').size()\n"
        "class Row:\n    def __eq__(self, other):\n        return self.key == other.key\n"
        "open('answers/flagged.json', 'w').write('[]')\nresult = np.isclose(1.0, 1.0)"
    )
    assert scan_sources([("answer", honest)]) == []


def test_syntax_errors_are_skipped_not_raised():
    assert scan_sources([("broken", "def (:")]) == []


def test_edited_read_only_cells_are_found_ignoring_hidden_tests():
    reference = {"setup": "x = 1\n", "tests": "assert x == 1\n"}
    instructor_copy = "assert x == 1\n### BEGIN HIDDEN TESTS\nassert x > 0\n### END HIDDEN TESTS\n"
    flags = edited_cells([("setup", "x = 2"), ("tests", instructor_copy)], reference)
    assert [f.where for f in flags] == ["setup"]


def test_blocked_access_in_outputs_is_flagged():
    cell = nbformat.v4.new_code_cell("...")
    cell.outputs = [nbformat.v4.new_output("error", ename="PermissionError",
                                           evalue="[Errno 13] Permission denied: '/usr/pwned'", traceback=[]),
                    nbformat.v4.new_output("stream", name="stdout",
                                           text="[Errno 2] No such file or directory: '/submission/data/x.csv'")]
    flags = scan_outputs(nbformat.v4.new_notebook(cells=[cell]))
    assert [f.detail for f in flags] == ["blocked access to '/usr/pwned'"]


def test_prose_that_mentions_a_secret_is_not_a_path():
    assert "outside-folder" not in _kinds("print('no secret here: the gradebook is the instructor\\'s')")
