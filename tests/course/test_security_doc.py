"""docs/app.md's Security section names a test for every row of its threat model and token tables:
each named test must exist, so a renamed or deleted test cannot leave a row without one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _security_section() -> str:
    text = (ROOT / "docs" / "app.md").read_text(encoding="utf-8")
    start = text.index("\n## Security\n")
    return text[start:text.index("\n## ", start + 1)]


def _defined_tests() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        names.update(re.findall(r"^(?:async )?def (test_\w+)", path.read_text(encoding="utf-8"), re.M))
    return names


def _table_rows(section: str, header: str) -> list[list[str]]:
    """The rows of the Markdown table whose header row starts with `header`, split into cells."""
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_every_test_the_security_section_names_exists():
    named = set(re.findall(r"`(test_\w+)`", _security_section()))
    assert len(named) >= 30
    assert sorted(named - _defined_tests()) == []


def test_every_row_of_the_threat_model_and_the_token_table_names_a_test():
    section = _security_section()
    for header, min_rows in (("| who |", 7), ("| token |", 5)):
        rows = _table_rows(section, header)
        assert len(rows) >= min_rows, header
        for row in rows:
            assert re.search(r"`test_\w+`", row[-1]), row[0]
