"""theater.toml as a typed model, read and checked once when a course opens (grader.course_dir.open_course).

A course's settings file holds:
    course_id = "..."
    [data]                     the dataset of every learner (profile, employees, days, format)
    [assignments.NAME]         due, closes, attempts, late_penalty, canvas_id
    [assignments.NAME.data]    this assignment's dataset
    [assignments.NAME.extensions]
                               learner = "2026-12-10 17:00 UTC" (a learner's own due date) or "+3d"
    [grading]                  scheduler (a Dask address, or "local")

A wrong value stops the course from opening with one line naming the file, the table and the key
(`theater.toml [assignments.detect] attempts: ...`), instead of surfacing at the first submission
or halfway through a grading run. Unknown keys in [data] and [assignments.NAME] are errors too: a
misspelt `deu` would otherwise silently drop a deadline. Other tables are left to their readers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError, field_validator,
                      model_validator)

from datasets.errors import UserError
from datasets.validation import _problem

UNLIMITED = "unlimited"
SCHEDULER_SCHEMES = ("tcp://", "tls://", "ucx://", "ws://", "wss://", "inproc://")
LOCAL_SCHEDULER = "local"
LEARNER_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # grader.course_dir.LEARNER_ID_PATTERN
RELATIVE_EXTENSION = re.compile(r"^\+\s*(\d{1,3}(?:\.\d+)?)\s*([dh])$")  # "+3d", "+36h"
PERCENT_PER_DAY = re.compile(r"^(\d{1,3}(?:\.\d+)?)\s*%\s*per\s*day$")
DATE_EXAMPLE = '"2026-12-01 17:00:00 UTC"'


def parse_time(value: Any) -> datetime:
    """A date as theater.toml holds it (text in nbgrader's formats, or a TOML date-time), in UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a date (e.g. {DATE_EXAMPLE})")
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(value.strip()).replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"{value!r} is not a date (e.g. {DATE_EXAMPLE})") from None


def _optional_time(value: Any) -> datetime | None:
    return None if value in (None, "") else parse_time(value)


Deadline = Annotated[datetime | None, BeforeValidator(_optional_time)]


class Extension(BaseModel):
    """One learner's own due date: a date, or a number of days (or hours) after the assignment's."""

    model_config = ConfigDict(frozen=True)
    until: datetime | None = None
    extra: timedelta | None = None

    def due(self, assignment_due: datetime | None) -> datetime | None:
        if self.until is not None:
            return self.until
        return None if assignment_due is None or self.extra is None else assignment_due + self.extra

    @classmethod
    def parse(cls, value: Any) -> Extension:
        if isinstance(value, str):
            match = RELATIVE_EXTENSION.match(value.strip())
            if match:
                amount = float(match.group(1))
                if amount <= 0:
                    raise ValueError(f"{value!r} extends by nothing")
                return cls(extra=timedelta(days=amount) if match.group(2) == "d" else timedelta(hours=amount))
        try:
            return cls(until=parse_time(value))
        except ValueError:
            raise ValueError(f"{value!r} is neither a date (e.g. {DATE_EXAMPLE}) nor a number of days "
                             "after the due date (e.g. \"+3d\", \"+36h\")") from None

    def as_toml(self) -> str:
        if self.until is not None:
            return f"{self.until:%Y-%m-%d %H:%M:%S} UTC"
        hours = self.extra.total_seconds() / 3600 if self.extra else 0
        return f"+{hours / 24:g}d" if hours % 24 == 0 else f"+{hours:g}h"


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSettings(_Table):
    """[data] and [assignments.NAME.data]: checked in full by exercises.assignments.DataSpec."""

    profile: str | None = None
    employees: Annotated[int, Strict(), Field(ge=1)] | None = None
    days: Annotated[int, Strict(), Field(ge=1)] | None = None
    format: Literal["csv", "parquet"] | None = None

    def as_overrides(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class AssignmentSettings(_Table):
    """[assignments.NAME]: when it is due and closes, how many attempts, its late penalty and LMS id."""

    due: Deadline = None
    closes: Deadline = None
    attempts: int | Literal["unlimited"] | None = None
    late_penalty: str | None = None  # "none", "zero" or "N% per day"; default: nbgrader_config.py's plugin
    canvas_id: str | None = None
    data: DataSettings = DataSettings()
    extensions: dict[str, Extension] = Field(default_factory=dict)

    @field_validator("attempts", mode="before")
    @classmethod
    def _attempts(cls, value: Any) -> Any:
        if value is None or value == UNLIMITED:
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{value!r} is not a whole number of at least 1, or \"{UNLIMITED}\"")
        return value

    @field_validator("late_penalty", mode="before")
    @classmethod
    def _late_penalty(cls, value: Any) -> Any:
        if value is None:
            return None
        text = " ".join(str(value).lower().split()) if isinstance(value, str) else ""
        if text in ("none", "zero"):
            return text
        match = PERCENT_PER_DAY.match(text)
        if match and 0 < float(match.group(1)) <= 100:
            return f"{float(match.group(1)):g}% per day"
        raise ValueError(f"{value!r} is not a late penalty: \"none\", \"zero\" or a percentage of the score "
                         "per started day late such as \"10% per day\"")

    @field_validator("canvas_id", mode="before")
    @classmethod
    def _canvas_id(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit() or not 0 < int(text) < 10**15:
            raise ValueError(f"{str(value)[:40]!r} is not a Canvas assignment id (the number in the "
                             "assignment's Canvas address, /assignments/<id>)")
        return str(int(text))

    @field_validator("extensions", mode="before")
    @classmethod
    def _extensions(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValueError("must be a table of learner = date or \"+Nd\"")
        parsed = {}
        for learner, when in value.items():
            if not LEARNER_KEY.match(str(learner)):
                raise ValueError(f"{learner!r} is not a learner id")
            try:
                parsed[learner] = Extension.parse(when)
            except ValueError as exc:
                raise ValueError(f"{learner}: {exc}") from None
        return parsed

    @model_validator(mode="after")
    def _dates_agree(self) -> AssignmentSettings:
        if self.closes is not None and self.due is not None and self.closes < self.due:
            raise ValueError(f"closes ({self.closes:%Y-%m-%d %H:%M} UTC) is before its due date "
                             f"({self.due:%Y-%m-%d %H:%M} UTC)")
        early = sorted(name for name, ext in self.extensions.items()
                       if ext.until is not None and self.due is not None and ext.until < self.due)
        if early:
            raise ValueError(f"the extension of {', '.join(early)} ends before the due date "
                             f"({self.due:%Y-%m-%d %H:%M} UTC)")
        if self.due is None:
            relative = sorted(name for name, ext in self.extensions.items() if ext.until is None)
            if relative:
                raise ValueError(f"extensions of {', '.join(relative)} count days after the due date, "
                                 "and there is none: give a due date or the extension's own date")
        return self


class GradingSettings(BaseModel):
    """[grading]: where the course's grading runs (other keys are left to their readers)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    scheduler: str | None = None

    @field_validator("scheduler", mode="before")
    @classmethod
    def _scheduler(cls, value: Any) -> Any:
        check_scheduler(value)
        return value


def check_scheduler(value: Any) -> str | None:
    """A Dask scheduler address as given by a user; None for "local" (this machine) or nothing."""
    if value is None or value == "" or value == LOCAL_SCHEDULER:
        return None
    if not isinstance(value, str) or not value.startswith(SCHEDULER_SCHEMES) or len(value) > 300 \
            or any(c.isspace() for c in value) or "://" == value[-3:]:
        raise ValueError(f"{str(value)[:80]!r} is not a Dask scheduler address "
                         f"(like tcp://host:8786, or \"{LOCAL_SCHEDULER}\" for this machine)")
    return value


class CourseSettings(BaseModel):
    """The whole of theater.toml; tables this model does not know are kept for their own readers."""

    model_config = ConfigDict(extra="allow", frozen=True)
    course_id: str | None = None
    data: DataSettings = DataSettings()
    assignments: dict[str, AssignmentSettings] = Field(default_factory=dict)
    grading: GradingSettings = GradingSettings()

    def assignment(self, name: str) -> AssignmentSettings:
        return self.assignments.get(name) or AssignmentSettings()


def _where(loc: tuple[Any, ...]) -> str:
    """('assignments', 'detect', 'extensions') -> '[assignments.detect] extensions'."""
    parts = [str(part) for part in loc]
    if not parts:
        return ""
    if parts[0] == "assignments" and len(parts) >= 2:
        table, keys = parts[:2], parts[2:]
        if keys[:1] in (["data"], ["extensions"]):
            table, keys = table + keys[:1], keys[1:]
    elif parts[0] in ("data", "grading"):
        table, keys = parts[:1], parts[1:]
    else:
        return parts[0] if len(parts) == 1 else f"[{parts[0]}] {'.'.join(parts[1:])}"
    return f"[{'.'.join(table)}]" + (f" {'.'.join(keys)}" if keys else "")


def validate_settings(raw: Mapping[str, Any], path: Path | str,
                      error: type[UserError] = UserError) -> CourseSettings:
    """theater.toml's parsed TOML as CourseSettings, or `error` naming the file, table and key."""
    try:
        return CourseSettings.model_validate(dict(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc, what = _problem(first)
        if first["type"] == "extra_forbidden":
            known = _known_keys(loc)
            what = f"unknown key '{first['loc'][-1]}'" + (f" (known: {', '.join(known)})" if known else "")
        where = _where(tuple(loc))
        raise error(f"{path} {where}: {what}" if where else f"{path}: {what}") from None


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    model = {0: CourseSettings}.get(len(loc))
    if loc == ("data",) or (len(loc) == 3 and loc[0] == "assignments" and loc[2] == "data"):
        model = DataSettings
    elif len(loc) == 2 and loc[0] == "assignments":
        model = AssignmentSettings
    return list(model.model_fields) if model else []
