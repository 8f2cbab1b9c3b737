"""assignment.yaml: what an assignment releases and how its answer artifacts are scored.

The scores that matter are computed outside the learner's kernel: each `graded` entry names an
nbgrader autograder-test cell, the artifact the learner's code writes beside the notebook, how to
read it, the check (exercises.checks) and the truth function (exercises.truth) to score it with.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, get_args

import nbformat
import numpy as np
import pandas as pd
import yaml
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints,
                      TypeAdapter, ValidationError, field_validator, model_validator)

from datasets.errors import UserError
from datasets.validation import STRICT_FILE, FileRecord, InvalidFile, describe, file_record, invalid_file
from exercises.checks import CHECKS, Tolerance
from exercises.truth import TRUTHS

SOURCE_DIR = Path(__file__).resolve().parent / "source"
ASSIGNMENT_FILE = "assignment.yaml"
Reader = Literal["json_set", "json_number", "json_object", "csv_frame"]
READERS: tuple[str, ...] = get_args(Reader)
DataFormat = Literal["csv", "parquet"]
DATA_FORMATS: tuple[str, ...] = get_args(DataFormat)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# What a learner sees in place of a solution: a comment only, so a skipped part still runs.
CODE_STUB = "# YOUR CODE HERE"


class AssignmentError(UserError):
    """assignment.yaml or its notebook is not usable; the message names the file and the problem."""


class InvalidAssignment(InvalidFile, AssignmentError):
    """assignment.yaml does not validate: names the file and the field (datasets.validation)."""


def _registered(registry: Mapping[str, Any], noun: str):
    def check(value: str) -> str:
        if value not in registry:
            raise ValueError(f"unknown {noun} {value!r}")
        return value
    return AfterValidator(check)


def _safe_relative(path: str) -> str:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or "\\" in path:
        raise ValueError(f"artifact {path!r} must be a relative path inside the notebook folder")
    return str(pure)


def _notebook_file(name: str) -> str:
    if "/" in name or "\\" in name or not name.endswith(".ipynb"):
        raise ValueError("notebook must be a file name ending in .ipynb")
    return name


PositiveWhole = Annotated[int, Strict(), Field(ge=1)]


@file_record
class DataSpec(FileRecord):
    """The learner's dataset: generator profile, size and file format."""

    profile: Annotated[str, StringConstraints(min_length=1)] = "mandate-bigco"
    employees: PositiveWhole = 400
    days: PositiveWhole = 180
    format: DataFormat = "csv"

    def updated(self, overrides: Mapping[str, Any] | None) -> DataSpec:
        """A copy with the given keys replaced (unknown keys are an error, to catch typos)."""
        if not overrides:
            return self
        try:
            return _DATA_SPEC.validate_python({**self.as_dict(), **dict(overrides)})
        except ValidationError as exc:
            raise AssignmentError(f"dataset settings: {describe(exc)}") from None

    def as_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "employees": self.employees, "days": self.days, "format": self.format}


_DATA_SPEC = TypeAdapter(DataSpec)


@file_record
class ToleranceSpec(FileRecord):
    """A number's tolerance in assignment.yaml: full credit within `full_within` of the truth,
    none from `zero_at`, linear in between (in the number's own unit)."""

    full_within: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    zero_at: Annotated[float, Field(gt=0, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _zero_beyond_full(self) -> ToleranceSpec:
        if self.zero_at <= self.full_within:
            raise ValueError(f"zero_at ({self.zero_at:g}) must be larger than full_within ({self.full_within:g})")
        return self

    def as_tolerance(self) -> Tolerance:
        return Tolerance(float(self.full_within), float(self.zero_at))


@file_record
class GradedPart(FileRecord):
    """One autograded cell: the artifact the learner's code writes and how to score it.

    `tolerance` overrides the check's default tolerance for this part, per number of the answer
    (the keys of the check record's `tolerances`); a check with one number may give
    `{full_within, zero_at}` directly."""

    grade_id: Annotated[str, StringConstraints(min_length=1)]
    artifact: Annotated[str, AfterValidator(_safe_relative)]
    reader: Reader
    check: Annotated[str, _registered(CHECKS, "check")]
    truth: Annotated[str, _registered(TRUTHS, "truth function")]
    points: Annotated[float, Strict(), Field(gt=0)]
    key: str | None = None  # for json_number: the key inside a JSON object holding the number
    tolerance: dict[str, ToleranceSpec] | None = None

    @model_validator(mode="before")
    @classmethod
    def _tolerance_of_the_only_number(cls, values: Any) -> Any:
        """`tolerance: {full_within, zero_at}` names the check's only number."""
        if not isinstance(values, dict) or not isinstance(values.get("tolerance"), dict):
            return values
        given = values["tolerance"]
        if values.get("check") not in CHECKS:
            return values
        numbers = list(CHECKS[values["check"]].tolerances)
        if not numbers:
            raise ValueError(f"the check {values['check']} has no tolerance to override")
        if {"full_within", "zero_at"} & set(given):
            if len(numbers) > 1:
                raise ValueError(f"the check {values['check']} scores {len(numbers)} numbers: give the tolerance "
                                 f"of each by name ({', '.join(numbers)})")
            return {**values, "tolerance": {numbers[0]: given}}
        return values

    @model_validator(mode="after")
    def _tolerance_names_the_checks_numbers(self) -> GradedPart:
        numbers = CHECKS[self.check].tolerances
        unknown = sorted(set(self.tolerance or {}) - set(numbers))
        if unknown:
            raise ValueError(f"tolerance for {', '.join(unknown)}: the check {self.check} has a tolerance for "
                             f"{', '.join(numbers)} only")
        return self

    @property
    def tolerances(self) -> dict[str, Tolerance]:
        """This part's tolerance overrides, as the check takes them (run_check's `tolerance`)."""
        return {name: spec.as_tolerance() for name, spec in (self.tolerance or {}).items()}

    @model_validator(mode="before")
    @classmethod
    def _truth_from_the_check(cls, values: Any) -> Any:
        """`truth` may be left out of assignment.yaml: the check's registry entry names it."""
        if isinstance(values, dict) and values.get("truth") is None and values.get("check") in CHECKS:
            registered = CHECKS[values["check"]].truth
            if registered is not None:
                values = {**values, "truth": registered}
        return values

    @model_validator(mode="after")
    def _truth_agrees_with_the_check(self) -> GradedPart:
        registered = CHECKS[self.check].truth
        if registered is not None and self.truth != registered:
            raise ValueError(f"the check {self.check} scores against the truth {registered!r}, not "
                             f"{self.truth!r} (leave truth out: the check's registry entry names it)")
        return self


@file_record
class RubricLevel(FileRecord):
    """One level of a rubric: the points it earns and what an answer at that level does."""

    points: Annotated[float, Strict(), Field(ge=0)]
    descriptor: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


@file_record
class RubricPart(FileRecord):
    """A written answer graded by a person against a rubric (`kind: rubric` in graded): no
    artifact, no check. The grader picks one level per learner; the highest level is the part's points.

    Its cell is nbgrader's manually graded answer: a markdown cell with solution and grade set."""

    grade_id: Annotated[str, StringConstraints(min_length=1)]
    kind: Literal["rubric"]
    points: Annotated[float, Strict(), Field(gt=0)]
    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    rubric: Annotated[tuple[RubricLevel, ...], Field(min_length=2)]

    @model_validator(mode="after")
    def _levels_span_the_points(self) -> RubricPart:
        levels = [level.points for level in self.rubric]
        if len(set(levels)) != len(levels):
            raise ValueError(f"two rubric levels of {self.grade_id} give the same points: each level needs its own")
        if max(levels) != self.points:
            raise ValueError(f"the top rubric level of {self.grade_id} gives {max(levels):g} points, "
                             f"the part is worth {self.points:g}")
        if min(levels) != 0:
            raise ValueError(f"the rubric of {self.grade_id} needs a level worth 0 points (an answer that misses)")
        return self

    def level(self, points: float) -> RubricLevel | None:
        """The rubric level worth exactly `points`, if there is one."""
        return next((level for level in self.rubric if level.points == points), None)


def _split_rubric_parts(values: Any) -> Any:
    """`graded` entries with `kind: rubric` become the assignment's rubric parts."""
    if not isinstance(values, dict) or not isinstance(values.get("graded"), list):
        return values
    if "rubric" in values:
        raise ValueError("list rubric parts under graded with `kind: rubric`, not under a rubric key")
    entries = values["graded"]
    manual = [e for e in entries if isinstance(e, dict) and e.get("kind") == "rubric"]
    auto = [e for e in entries if not (isinstance(e, dict) and e.get("kind") == "rubric")]
    return {**values, "graded": auto, "rubric": manual}


class AssignmentFile(BaseModel):
    """assignment.yaml as written; keys beyond these are kept in Assignment.extra."""

    model_config = ConfigDict(**{**STRICT_FILE, "extra": "allow", "frozen": True})

    title: Annotated[str, StringConstraints(min_length=1)]
    notebook: Annotated[str, AfterValidator(_notebook_file)]
    data: Annotated[DataSpec, BeforeValidator(lambda value: {} if value is None else value)] = DataSpec()
    graded: tuple[GradedPart, ...]
    rubric: tuple[RubricPart, ...] = ()  # graded entries of kind rubric (_split_rubric_parts)
    # how long the notebook takes a first-time learner, low and high, setup included
    minutes: tuple[Annotated[int, Field(gt=0)], Annotated[int, Field(gt=0)]] | None = None

    @field_validator("minutes")
    @classmethod
    def _low_then_high(cls, minutes: tuple[int, int] | None) -> tuple[int, int] | None:
        if minutes is not None and minutes[0] > minutes[1]:
            raise ValueError("write minutes as [low, high], the low figure first")
        return minutes

    @model_validator(mode="before")
    @classmethod
    def _rubric_parts(cls, values: Any) -> Any:
        return _split_rubric_parts(values)

    @model_validator(mode="after")
    def _unique_grade_ids(self) -> AssignmentFile:
        ids = [part.grade_id for part in (*self.graded, *self.rubric)]
        if not ids:
            raise ValueError("graded lists no part: an assignment needs at least one")
        if len(set(ids)) != len(ids):
            raise ValueError("a grade_id appears twice in graded")
        return self


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    notebook: str
    data: DataSpec
    graded: tuple[GradedPart, ...]
    folder: Path
    extra: Mapping[str, Any] = field(default_factory=dict)
    minutes: tuple[int, int] | None = None
    rubric: tuple[RubricPart, ...] = ()  # parts a person grades (grader.rubric); `graded` is autograded

    @property
    def notebook_path(self) -> Path:
        return self.folder / self.notebook

    @property
    def max_score(self) -> float:
        return float(sum(part.points for part in (*self.graded, *self.rubric)))

    @property
    def part_points(self) -> dict[str, float]:
        """grade_id -> points of every part, autograded and rubric: the notebook's grade cells."""
        return {part.grade_id: part.points for part in (*self.graded, *self.rubric)}

    def rubric_part(self, grade_id: str) -> RubricPart | None:
        return next((part for part in self.rubric if part.grade_id == grade_id), None)


def load_assignment(path: Path | str) -> Assignment:
    """Parse and validate an assignment folder (or its assignment.yaml)."""
    path = Path(path)
    yaml_path = path / ASSIGNMENT_FILE if path.is_dir() else path
    folder = yaml_path.parent
    where = str(yaml_path)
    try:
        raw = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AssignmentError(f"{where}: no such file") from None
    except yaml.YAMLError as exc:
        raise AssignmentError(f"{where}: invalid YAML ({str(exc).splitlines()[0]})") from None
    except (OSError, UnicodeDecodeError, RecursionError) as exc:
        raise AssignmentError(f"{where}: cannot be read ({type(exc).__name__})") from None
    if not isinstance(raw, Mapping):
        raise AssignmentError(f"{where}: expected a mapping at the top level")
    try:
        parsed = AssignmentFile.model_validate(raw)
    except ValidationError as exc:
        raise invalid_file(yaml_path, exc, InvalidAssignment, raw) from None
    name = folder.name
    if not NAME_PATTERN.match(name):
        raise AssignmentError(f"{where}: the folder name {name!r} is not a valid assignment name")
    return Assignment(
        name=name,
        title=parsed.title,
        notebook=parsed.notebook,
        data=parsed.data,
        graded=parsed.graded,
        folder=folder,
        extra=dict(parsed.model_extra or {}),
        minutes=parsed.minutes,
        rubric=parsed.rubric,
    )


def grade_cells(notebook: nbformat.NotebookNode) -> dict[str, float]:
    """grade_id -> points of every nbgrader autograder cell in a notebook."""
    cells = {}
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            cells[str(meta.get("grade_id"))] = float(meta.get("points", 0))
    return cells


def validate_notebook(assignment: Assignment) -> None:
    """The source notebook exists and its grade cells are exactly the graded parts, with the same points."""
    path = assignment.notebook_path
    try:
        notebook = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise AssignmentError(f"{path}: the notebook named in {ASSIGNMENT_FILE} does not exist") from None
    except Exception as exc:
        raise AssignmentError(f"{path}: not a readable notebook ({type(exc).__name__})") from None
    cells = grade_cells(notebook)
    manual = {str(c.metadata.nbgrader.get("grade_id")) for c in notebook.cells
              if c.get("cell_type") == "markdown" and (c.get("metadata", {}).get("nbgrader") or {}).get("solution")
              and c.metadata.nbgrader.get("grade")}
    for part in assignment.rubric:
        if part.grade_id not in manual:
            raise AssignmentError(f"{path}: no manually graded markdown answer cell with grade_id {part.grade_id!r} "
                                  "(nbgrader's solution and grade both set)")
    for part in (*assignment.graded, *assignment.rubric):
        if part.grade_id not in cells:
            raise AssignmentError(f"{path}: no autograder cell with grade_id {part.grade_id!r}")
        if cells[part.grade_id] != part.points:
            raise AssignmentError(
                f"{path}: cell {part.grade_id!r} has {cells[part.grade_id]:g} points, "
                f"{ASSIGNMENT_FILE} says {part.points:g}"
            )
    extra = sorted(set(cells) - set(assignment.part_points))
    if extra:
        raise AssignmentError(
            f"{path}: grade cells {', '.join(extra)} are not in {ASSIGNMENT_FILE}: "
            "every point must be scored outside the kernel"
        )


def list_assignments(source_dir: Path | str = SOURCE_DIR) -> list[str]:
    """Names of the assignment folders (those holding an assignment.yaml)."""
    root = Path(source_dir)
    return sorted(p.parent.name for p in root.glob(f"*/{ASSIGNMENT_FILE}"))


# ---------------------------------------------------------------------------------------------
# reading artifacts written by learner code: outside the sandbox, so under size, shape and nesting
# limits that bound the grader's time and memory. None = not attempted (missing or malformed: the
# learner's); ArtifactRejected = past a limit (the learner's, said why); GraderReadError = the
# grading machine failed to read it (not the learner's: they are not graded, and graded again later)


@dataclass(frozen=True)
class ArtifactLimits:
    """What the grader agrees to parse. The course's answers are a few kilobytes; these leave a wide margin."""

    json_bytes: int = 1024 * 1024
    json_depth: int = 32
    csv_bytes: int = 5 * 1024 * 1024
    csv_columns: int = 64
    csv_rows: int = 100_000


ARTIFACT_LIMITS = ArtifactLimits()


class ArtifactRejected(ValueError):
    """An answers file the grader refuses to parse; the message names the file and the limit."""


class GraderReadError(UserError):
    """The grading machine could not read a learner's answers file (no file handles left, an I/O
    error, a folder it cannot enter): its own problem to fix, never the learner's missing answer."""


# What a learner's own answers folder can do to a read: a file that is not there, a folder where a
# file should be, a symlink loop, a name too long, a FIFO or device (and a file or folder they made
# unreadable, see `_made_unreadable`). Any other OSError (EMFILE, ENFILE, EIO, ENOMEM, ESTALE, an
# EACCES they did not cause ...) is the grading machine's.
_LEARNER_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.ENAMETOOLONG,
                             errno.ENXIO, errno.ENODEV})
_PERMISSION_ERRNOS = frozenset({errno.EACCES, errno.EPERM})


def _made_unreadable(folder: Path, relative: str) -> bool:
    """Whether a permission error reading an answer is the learner's arrangement: the answers folder,
    the grader's own (the sandbox runs learner code as the grader's user), has lost its owner's
    search right; or below it, something on the way (followed through symlinks) denies its owner
    search or read, belongs to someone else, or cannot be looked at. Else it is the machine's."""
    parts = PurePosixPath(relative).parts
    path = folder
    for depth in range(len(parts) + 1):
        if depth:
            path = path / parts[depth - 1]
        try:
            info = os.stat(path)
        except OSError as exc:
            return depth > 0 and exc.errno in _PERMISSION_ERRNOS
        if info.st_uid != os.geteuid():
            return depth > 0  # only a learner's symlink leads below their folder to someone else's file
        if not info.st_mode & (stat.S_IRUSR if depth == len(parts) else stat.S_IXUSR):
            return True
    return False


def _learners_own(exc: OSError, folder: Path, relative: str) -> bool:
    """Whether an OSError reading an answer comes from the learner's folder, not the grading machine."""
    if exc.errno in _LEARNER_ERRNOS:
        return True
    return exc.errno in _PERMISSION_ERRNOS and _made_unreadable(folder, relative)


def _grader_read_error(exc: OSError, relative: str) -> GraderReadError:
    code = errno.errorcode.get(exc.errno, "no errno") if exc.errno is not None else "no errno"
    return GraderReadError(f"the grader could not read {relative} ({code}: {exc.strerror or exc}); this is a "
                           "problem on the grading machine, not in the submission: fix it, then grade again")


def _artifact_path(folder: Path, relative: str) -> Path | None:
    """The answer file inside `folder`, or None when there is no regular file there of the learner's own
    (a symlink, or a path that leads out of the folder, is not theirs to offer). OSError propagates."""
    folder = Path(folder).resolve()
    candidate = folder / relative
    if candidate.is_symlink():
        return None
    try:
        resolved = candidate.resolve(strict=True)
    except RuntimeError:  # a symlink loop on the way
        return None
    if not resolved.is_relative_to(folder) or not resolved.is_file():
        return None
    return resolved


def _read_capped(path: Path, relative: str, cap: int) -> bytes:
    """The file's bytes, refusing (before reading it) one larger than `cap`."""
    size = path.stat().st_size
    if size > cap:
        raise ArtifactRejected(f"{relative} is {_size(size)}; the grader reads at most {_size(cap)}.")
    with open(path, "rb") as handle:
        data = handle.read(cap + 1)
    if len(data) > cap:  # grew while we looked
        raise ArtifactRejected(f"{relative} is larger than {_size(cap)}, the most the grader reads.")
    return data


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB" if n >= 2**10 else f"{n} bytes"


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_OPENERS = np.frombuffer(b"[{", dtype=np.uint8)


def json_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in JSON text (brackets inside strings do not count)."""
    brackets = np.frombuffer(re.sub(rb"[^\[\]{}]", b"", _JSON_STRING.sub(b"", data)), dtype=np.uint8)
    if not brackets.size:
        return 0
    steps = np.where(np.isin(brackets, _OPENERS), 1, -1)
    return int(np.cumsum(steps).max())


def _read_json(path: Path, relative: str, limits: ArtifactLimits) -> Any:
    data = _read_capped(path, relative, limits.json_bytes)
    depth = json_depth(data)
    if depth > limits.json_depth:
        raise ArtifactRejected(f"{relative} nests lists or objects {depth:,} deep; at most {limits.json_depth}.")
    return json.loads(data.decode("utf-8"))


def _json_set(path: Path, part: GradedPart, limits: ArtifactLimits) -> list | None:
    """A JSON list of ids, as written; the check names any item of the wrong type."""
    data = _read_json(path, part.artifact, limits)
    if isinstance(data, Mapping) and part.key:
        data = data.get(part.key)
    return data if isinstance(data, list) else None


def _json_number(path: Path, part: GradedPart, limits: ArtifactLimits) -> float | None:
    data = _read_json(path, part.artifact, limits)
    if isinstance(data, Mapping):
        data = data.get(part.key) if part.key else None
    if isinstance(data, bool) or not isinstance(data, int | float):
        return None
    value = float(data)
    return value if math.isfinite(value) else None


def _json_object(path: Path, part: GradedPart, limits: ArtifactLimits) -> dict | None:
    data = _read_json(path, part.artifact, limits)
    return dict(data) if isinstance(data, Mapping) else None


def _csv_frame(path: Path, part: GradedPart, limits: ArtifactLimits) -> pd.DataFrame | None:
    """A table, after its header and line count are checked against the limits (pandas never sees a huge one)."""
    data = _read_capped(path, part.artifact, limits.csv_bytes)
    header = data.split(b"\n", 1)[0]
    if header.count(b",") + 1 > limits.csv_columns:
        columns = len(next(csv.reader([header.decode("utf-8", errors="replace")]), []))
        if columns > limits.csv_columns:
            raise ArtifactRejected(f"{part.artifact} has {columns:,} columns; at most {limits.csv_columns}.")
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    if lines - 1 > limits.csv_rows:
        raise ArtifactRejected(f"{part.artifact} has {lines - 1:,} rows; at most {limits.csv_rows:,}.")
    frame = pd.read_csv(io.BytesIO(data), nrows=limits.csv_rows)
    return frame if len(frame.columns) else None


_READERS = {"json_set": _json_set, "json_number": _json_number, "json_object": _json_object, "csv_frame": _csv_frame}


def load_artifact(folder: Path | str, part: GradedPart, limits: ArtifactLimits = ARTIFACT_LIMITS) -> Any:
    """The learner's answer for one graded part, None when missing or malformed; ArtifactRejected past a
    limit; GraderReadError when the grading machine failed to read it (so no one scores 0 for that)."""
    folder = Path(folder)
    try:
        path = _artifact_path(folder, part.artifact)
        if path is None:
            return None
        return _READERS[part.reader](path, part, limits)
    except ArtifactRejected:
        raise
    except OSError as exc:
        if _learners_own(exc, folder.resolve(), part.artifact):
            return None
        raise _grader_read_error(exc, part.artifact) from exc
    except Exception:  # malformed artifacts are "not attempted", never a crash of the batch
        return None


def read_artifact(folder: Path | str, part: GradedPart, limits: ArtifactLimits = ARTIFACT_LIMITS) -> Any:
    """The learner's answer for one graded part, or None when it is missing, malformed or past a limit;
    GraderReadError when the grading machine could not read it."""
    try:
        return load_artifact(folder, part, limits)
    except ArtifactRejected:
        return None


def score_parts(assignment: Assignment, folder: Path | str, company: Any) -> dict[str, Any]:
    """grade_id -> checks.Result for each graded part: the learner's artifact against the truth."""
    from exercises.checks import run_check

    results = {}
    truths: dict[str, Any] = {}
    for part in assignment.graded:
        if part.truth not in truths:
            truths[part.truth] = TRUTHS[part.truth](company)
        results[part.grade_id] = run_check(part.check, read_artifact(folder, part), truths[part.truth],
                                           tolerance=part.tolerances)
    return results
