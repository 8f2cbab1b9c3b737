"""The workshop kit (course/content/workshop-kit.yaml): a run-of-show a trainer follows cold, the
ground rules for a room with managers in it, and the one-page leader brief, as validated data."""

from __future__ import annotations

import html
from collections.abc import Collection
from dataclasses import dataclass
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
CHECKER = "checker-game"     # module 1's checker game, played by the room (course.workshop_checker)
TEXT_PREFIX = "text/"        # an open-text prompt of the kit's `texts`, moderated before it shows
COMMITMENT_KEY = TEXT_PREFIX + "commitment"   # the last block's "one commitment each"


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


class TextPrompt(FileModel):
    """An open question the room answers in a sentence (course.workshop TEXT_MAX characters)."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$")]
    prompt: Annotated[str, StringConstraints(min_length=2, max_length=500)]

    @property
    def key(self) -> str:
        return TEXT_PREFIX + self.id


class Version(FileModel):
    id: Text
    minutes: Annotated[int, Field(gt=0)]
    blocks: Annotated[tuple[Text, ...], Field(min_length=1)]


class BriefSection(FileModel):
    """One recommendation of the leader brief, with the course modules it comes from (ids)."""

    heading: Text
    points: Annotated[tuple[Text, ...], Field(min_length=1)]
    modules: Annotated[tuple[Text, ...], Field(min_length=1)]


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
    texts: tuple[TextPrompt, ...] = ()

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

    def text_prompt(self, key: str) -> TextPrompt:
        for text in self.texts:
            if text.key == key:
                return text
        raise KitError(f"the kit has no open-text prompt {key!r}")

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

    room_modes = {BOARD, CHECKER, *(stage.key for stage in load_simulator_room().stages),
                  *(text.key for text in kit.texts)}
    return [f"{block.id}: {key}" for block in kit.blocks for key in block.ask
            if key not in room_modes and key not in choices]


def unknown_brief_modules(kit: Kit, module_ids: Collection[str]) -> list[str]:
    """Leader-brief sections that cite a module the course does not have: the brief may only
    recommend what a module teaches."""
    return [f"{section.heading}: {module}" for section in kit.leader_brief.sections
            for module in section.modules if module not in module_ids]


@dataclass(frozen=True)
class KitStep:
    """One step of a run-of-show: a block's next question, or a block that asks none."""

    index: int           # position among the version's steps
    block: Block
    block_number: int    # 1-based, among the version's blocks
    blocks: int          # how many blocks the version has
    start_minute: int    # when the block starts in the version's plan
    total_minutes: int
    key: str | None      # the question to open (a key of Block.ask); None: the block asks none

    @property
    def budget(self) -> str:
        """The block's place and time budget, as the presenter and the trainer read it."""
        end = self.start_minute + self.block.minutes
        return (f"Block {self.block_number} of {self.blocks} · {self.block.title} · "
                f"{self.block.minutes} min (minute {self.start_minute}–{end} of "
                f"{self.total_minutes})")


def kit_steps(kit: Kit, version_id: str) -> list[KitStep]:
    """The version's blocks in order, each block once per question it asks (once if none)."""
    blocks = kit.version(version_id)
    total = sum(block.minutes for block in blocks)
    steps: list[KitStep] = []
    start = 0
    for number, block in enumerate(blocks, start=1):
        for key in block.ask or (None,):
            steps.append(KitStep(len(steps), block, number, len(blocks), start, total, key))
        start += block.minutes
    return steps


def next_kit_step(steps: list[KitStep], current: int | None,
                  asked: Collection[str] = ()) -> KitStep | None:
    """The step after `current` (None: the start), passing over questions the room was already
    asked by hand from the full list; None once the run-of-show is done."""
    first = 0 if current is None else current + 1
    for step in steps[first:]:
        if step.key is None or step.key not in asked:
            return step
    return None


def current_kit_step(steps: list[KitStep], current: int | None) -> KitStep | None:
    """The step the room is at, or None before the first (or if the kit changed under it)."""
    return steps[current] if current is not None and 0 <= current < len(steps) else None


def module_sources(module_ids: Collection[str]) -> tuple[str, ...]:
    """A brief section's modules as a reader finds them: "Module 3 · Activity versus outcome"."""
    from course.modules import load_modules_cached

    try:
        modules, _ = load_modules_cached()
    except UserError:
        modules = []
    by_id = {m.id: m for m in modules}
    return tuple(f"Module {by_id[m].number} · {by_id[m].title}" if m in by_id else m
                 for m in module_ids)


def leader_brief_html(kit: Kit) -> str:
    """The leader brief as one self-contained page to print or send."""
    brief = kit.leader_brief
    sections = "".join(
        f"<h2>{html.escape(s.heading)}</h2><ul>"
        + "".join(f"<li>{html.escape(p)}</li>" for p in s.points) + "</ul>"
        + f"<p class=\"src\">From the course: {html.escape('; '.join(module_sources(s.modules)))}"
          "</p>" for s in brief.sections)
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(brief.title)}"
            "</title><style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;"
            "line-height:1.4;color:#222}h2{font-size:1.05rem;margin:1.2rem 0 .3rem}ul{margin:0}"
            ".src{color:#555;font-size:.9em;margin:.2rem 0}"
            f"</style></head><body><h1>{html.escape(brief.title)}</h1>{sections}</body></html>\n")
