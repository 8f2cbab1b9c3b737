"""The course's evidence file: every study, report and case it cites, with what it found, its
limits and when it was last checked, so a module cites by key and a correction is made once."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import StringConstraints, ValidationError

from datasets.errors import UserError
from datasets.validation import FileModel, InvalidFile, invalid_file

EVIDENCE_FILE = Path(__file__).resolve().parent / "content" / "evidence.yaml"
Line = Annotated[str, StringConstraints(min_length=3)]


class EvidenceError(UserError):
    """The evidence file or a module's reference to it is wrong."""


class InvalidEvidence(InvalidFile, EvidenceError):
    """An entry of the evidence file fails validation (the message names the key and field)."""


class Entry(FileModel):
    cite: Line
    design: Line
    finding: Line
    limits: Line
    where: Line
    primary: bool
    checked: dt.date
    n: Line | None = None

    def as_markdown(self) -> str:
        """One line for a module's source list: the reference, what it found, its limits."""
        size = f" ({self.n})" if self.n else ""
        secondary = " A secondary account." if not self.primary else ""
        return (f"{self.cite} *{self.design[0].upper()}{self.design[1:]}{size}.* {self.finding} "
                f"**Limits:** {self.limits}{secondary}")


@cache
def load_evidence(path: Path = EVIDENCE_FILE) -> dict[str, Entry]:
    """Key -> entry; any problem is one EvidenceError naming the key and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EvidenceError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(raw, dict) or not raw:
        raise EvidenceError(f"{path}: expected a mapping of keys to entries")
    entries = {}
    for key, value in raw.items():
        try:
            entries[str(key)] = Entry.model_validate(value)
        except ValidationError as exc:
            raise invalid_file(path, exc, InvalidEvidence, value, context=f"{key}: ") from None
    return entries


def cited(sources: tuple[str, ...]) -> list[str]:
    """A module's sources as Markdown lines: keys of the evidence file are expanded."""
    evidence = load_evidence()
    return [evidence[s].as_markdown() if s in evidence else s for s in sources]
