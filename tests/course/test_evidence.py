"""The evidence file: every module cites by key, every entry says what it found, its limits and
when it was checked, and a study named in a lesson is in that module's sources."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from course.evidence import EVIDENCE_FILE, InvalidEvidence, cited, load_evidence
from course.modules import load_modules

TODAY = dt.date(2026, 12, 6)


def test_every_module_source_is_an_entry_of_the_evidence_file():
    evidence = load_evidence()
    modules, _ = load_modules()
    unknown = [(m.id, s) for m in modules for s in m.sources if s not in evidence]
    assert not unknown, f"sources that are not evidence keys: {unknown}"


def test_every_entry_is_dated_and_names_its_limits():
    for key, entry in load_evidence().items():
        assert entry.checked <= TODAY + dt.timedelta(days=366), key
        assert entry.limits and entry.finding and entry.where, key


def test_a_study_named_in_a_lesson_is_in_that_modules_sources():
    """'(Cui et al., 2026)' in the prose needs cui-2026 under the module's sources."""
    evidence = load_evidence()
    surnames = {key: key.split("-")[0] for key in evidence}
    modules, _ = load_modules()
    missing = []
    for module in modules:
        prose = "\n".join(section.body_md for section in module.sections)
        for key, surname in surnames.items():
            year = key.rsplit("-", 1)[-1]
            if re.search(rf"\b{surname}\b[^()\n]{{0,60}}\(?{year}\)?", prose, flags=re.IGNORECASE) \
                    and key not in module.sources:
                missing.append((module.id, key))
    assert not missing, f"cited in the lesson but not in its sources: {missing}"


def test_the_module_page_shows_findings_and_limits_not_keys():
    lines = cited(("cui-2026", "an unlisted source"))
    assert "26.08%" in lines[0] and "**Limits:**" in lines[0] and "cui-2026" not in lines[0]
    assert lines[1] == "an unlisted source"


def test_a_broken_entry_is_one_error_naming_key_and_field(tmp_path):
    broken = tmp_path / "evidence.yaml"
    text = EVIDENCE_FILE.read_text().replace("  limits: Few developers", "  limts: Few developers", 1)
    broken.write_text(text)
    load_evidence.cache_clear()
    try:
        with pytest.raises(InvalidEvidence, match="metr-2025"):
            load_evidence(broken)
    finally:
        load_evidence.cache_clear()
