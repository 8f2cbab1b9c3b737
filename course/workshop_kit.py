"""The workshop kit (course/content/workshop-kit.yaml): a run-of-show a trainer follows cold, the
ground rules for a room with managers in it, and the one-page leader brief, as validated data."""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field, StringConstraints, ValidationError, model_validator

from datasets.errors import UserError
from datasets.validation import FileModel, InvalidFile, invalid_file

KIT_FILE = Path(__file__).resolve().parent / "content" / "workshop-kit.yaml"
Text = Annotated[str, StringConstraints(min_length=2)]
BOARD = "board"


class KitError(UserError):
    """The workshop kit is wrong (a block, a timing or a question it names)."""


class InvalidKit(InvalidFile, KitError):
    """The kit file fails validation; the message names the field."""


class Spread(FileModel):
    when: Text
    then: Text


class Block(FileModel):
    id: Text
    title: Text
    minutes: Annotated[int, Field(gt=0, le=30)]
    goal: Text
    activity: Text
    script: Text
    notes: Text
    spreads: Annotated[tuple[Spread, ...], Field(min_length=1)]
    ask: tuple[Text, ...] = ()


class Version(FileModel):
    id: Text
    minutes: Annotated[int, Field(gt=0)]
    blocks: Annotated[tuple[Text, ...], Field(min_length=1)]


class BriefSection(FileModel):
    heading: Text
    points: Annotated[tuple[Text, ...], Field(min_length=1)]


class LeaderBrief(FileModel):
    title: Text
    sections: Annotated[tuple[BriefSection, ...], Field(min_length=3)]


class Kit(FileModel):
    title: Text
    audience: Text
    ground_rules: Annotated[tuple[Text, ...], Field(min_length=2)]
    versions: Annotated[tuple[Version, ...], Field(min_length=1)]
    blocks: Annotated[tuple[Block, ...], Field(min_length=1)]
    leader_brief: LeaderBrief

    @model_validator(mode="after")
    def _versions_add_up(self) -> "Kit":
        known = {block.id: block for block in self.blocks}
        if len(known) != len(self.blocks):
            raise ValueError("two blocks share an id")
        for version in self.versions:
            missing = [b for b in version.blocks if b not in known]
            if missing:
                raise ValueError(f"version {version.id} names unknown block(s): {', '.join(missing)}")
            total = sum(known[b].minutes for b in version.blocks)
            if total != version.minutes:
                raise ValueError(f"version {version.id} is {version.minutes} minutes, but its blocks add "
                                 f"up to {total}")
        return self

    def version(self, version_id: str) -> list[Block]:
        known = {block.id: block for block in self.blocks}
        for version in self.versions:
            if version.id == version_id:
                return [known[b] for b in version.blocks]
        raise KitError(f"the kit has no version {version_id!r}; it has "
                       f"{', '.join(v.id for v in self.versions)}")


@cache
def load_kit(path: Path = KIT_FILE) -> Kit:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KitError(f"{path}: cannot be read ({exc})") from None
    try:
        return Kit.model_validate(raw)
    except ValidationError as exc:
        raise invalid_file(path, exc, InvalidKit, raw) from None


def unknown_questions(kit: Kit, choices: dict) -> list[str]:
    """Questions the kit asks that the room cannot open: not a key of
    course.workshop.question_choices, the board question or a stage of Goodhart live."""
    from course.workshop_simulator import load_simulator_room

    room_modes = {BOARD, *(stage.key for stage in load_simulator_room().stages)}
    return [f"{block.id}: {key}" for block in kit.blocks for key in block.ask
            if key not in room_modes and key not in choices]


def leader_brief_html(kit: Kit) -> str:
    """The leader brief as one self-contained page to print or send."""
    brief = kit.leader_brief
    sections = "".join(
        f"<h2>{html.escape(s.heading)}</h2><ul>"
        + "".join(f"<li>{html.escape(p)}</li>" for p in s.points) + "</ul>" for s in brief.sections)
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(brief.title)}"
            "</title><style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;"
            "line-height:1.4;color:#222}h2{font-size:1.05rem;margin:1.2rem 0 .3rem}ul{margin:0}"
            f"</style></head><body><h1>{html.escape(brief.title)}</h1>{sections}</body></html>\n")
