"""assignment.yaml: what an assignment releases and how its answer artifacts are scored.

The scores that matter are computed outside the learner's kernel: each `graded` entry names an
nbgrader autograder-test cell, the artifact the learner's code writes beside the notebook, how to
read it, the check (exercises.checks) and the truth function (exercises.truth) to score it with.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import yaml

from datasets.errors import UserError
from exercises.checks import CHECKS
from exercises.truth import TRUTHS

SOURCE_DIR = Path(__file__).resolve().parent / "source"
ASSIGNMENT_FILE = "assignment.yaml"
READERS = ("json_set", "json_number", "json_object", "csv_frame")
DATA_FORMATS = ("csv", "parquet")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# What a learner sees in place of a solution: a comment only, so a skipped part still runs.
CODE_STUB = "# YOUR CODE HERE"


class AssignmentError(UserError):
    """assignment.yaml or its notebook is not usable; the message names the file and the problem."""


@dataclass(frozen=True)
class DataSpec:
    """The learner's dataset: generator profile, size and file format."""

    profile: str = "mandate-bigco"
    employees: int = 150
    days: int = 180
    format: str = "csv"

    def updated(self, overrides: Mapping[str, Any] | None) -> DataSpec:
        """A copy with the given keys replaced (unknown keys are an error, to catch typos)."""
        if not overrides:
            return self
        unknown = set(overrides) - {"profile", "employees", "days", "format"}
        if unknown:
            raise AssignmentError(f"unknown dataset setting(s): {', '.join(sorted(unknown))}")
        merged = {**self.as_dict(), **dict(overrides)}
        return _data_spec(merged, "dataset settings")

    def as_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "employees": self.employees, "days": self.days, "format": self.format}


@dataclass(frozen=True)
class GradedPart:
    grade_id: str
    artifact: str
    reader: str
    check: str
    truth: str
    points: float
    key: str | None = None  # for json_number: the key inside a JSON object holding the number


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    notebook: str
    data: DataSpec
    graded: tuple[GradedPart, ...]
    folder: Path
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def notebook_path(self) -> Path:
        return self.folder / self.notebook

    @property
    def max_score(self) -> float:
        return float(sum(part.points for part in self.graded))


def _data_spec(raw: Any, where: str) -> DataSpec:
    if raw is None:
        return DataSpec()
    if not isinstance(raw, Mapping):
        raise AssignmentError(f"{where}: `data` must be a mapping (profile, employees, days, format)")
    spec = {**DataSpec().as_dict(), **raw}
    if not isinstance(spec["profile"], str) or not spec["profile"]:
        raise AssignmentError(f"{where}: data.profile must be a profile name")
    for key in ("employees", "days"):
        value = spec[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise AssignmentError(f"{where}: data.{key} must be a positive whole number, not {value!r}")
    if spec["format"] not in DATA_FORMATS:
        raise AssignmentError(f"{where}: data.format must be one of {', '.join(DATA_FORMATS)}")
    return DataSpec(spec["profile"], spec["employees"], spec["days"], spec["format"])


def _safe_relative(path: str, where: str) -> str:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or "\\" in path:
        raise AssignmentError(f"{where}: artifact {path!r} must be a relative path inside the notebook folder")
    return str(pure)


def _graded_part(raw: Any, index: int, where: str) -> GradedPart:
    label = f"{where}: graded[{index}]"
    if not isinstance(raw, Mapping):
        raise AssignmentError(f"{label} must be a mapping")
    missing = [k for k in ("grade_id", "artifact", "reader", "check", "truth", "points") if k not in raw]
    if missing:
        raise AssignmentError(f"{label} is missing {', '.join(missing)}")
    if raw["reader"] not in READERS:
        raise AssignmentError(f"{label}: reader must be one of {', '.join(READERS)}, not {raw['reader']!r}")
    if raw["check"] not in CHECKS:
        raise AssignmentError(f"{label}: unknown check {raw['check']!r}")
    if raw["truth"] not in TRUTHS:
        raise AssignmentError(f"{label}: unknown truth function {raw['truth']!r}")
    points = raw["points"]
    if isinstance(points, bool) or not isinstance(points, int | float) or not points > 0 or not math.isfinite(points):
        raise AssignmentError(f"{label}: points must be a positive number")
    key = raw.get("key")
    if key is not None and not isinstance(key, str):
        raise AssignmentError(f"{label}: key must be text")
    return GradedPart(
        grade_id=str(raw["grade_id"]),
        artifact=_safe_relative(str(raw["artifact"]), label),
        reader=raw["reader"],
        check=raw["check"],
        truth=raw["truth"],
        points=float(points),
        key=key,
    )


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
    if not isinstance(raw, Mapping):
        raise AssignmentError(f"{where}: expected a mapping at the top level")
    for key in ("title", "notebook", "graded"):
        if key not in raw:
            raise AssignmentError(f"{where}: missing `{key}`")
    notebook = str(raw["notebook"])
    if "/" in notebook or not notebook.endswith(".ipynb"):
        raise AssignmentError(f"{where}: notebook must be a file name ending in .ipynb")
    if not isinstance(raw["graded"], list) or not raw["graded"]:
        raise AssignmentError(f"{where}: graded must be a non-empty list")
    graded = tuple(_graded_part(entry, i, where) for i, entry in enumerate(raw["graded"]))
    ids = [part.grade_id for part in graded]
    if len(set(ids)) != len(ids):
        raise AssignmentError(f"{where}: a grade_id appears twice in graded")
    name = folder.name
    if not NAME_PATTERN.match(name):
        raise AssignmentError(f"{where}: the folder name {name!r} is not a valid assignment name")
    known = {"title", "notebook", "data", "graded"}
    return Assignment(
        name=name,
        title=str(raw["title"]),
        notebook=notebook,
        data=_data_spec(raw.get("data"), where),
        graded=graded,
        folder=folder,
        extra={k: v for k, v in raw.items() if k not in known},
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
    for part in assignment.graded:
        if part.grade_id not in cells:
            raise AssignmentError(f"{path}: no autograder cell with grade_id {part.grade_id!r}")
        if cells[part.grade_id] != part.points:
            raise AssignmentError(
                f"{path}: cell {part.grade_id!r} has {cells[part.grade_id]:g} points, "
                f"{ASSIGNMENT_FILE} says {part.points:g}"
            )
    extra = sorted(set(cells) - {part.grade_id for part in assignment.graded})
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
# limits that bound the grader's time and memory; never raises, None = not attempted


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


def _artifact_path(folder: Path, relative: str) -> Path | None:
    folder = Path(folder).resolve()
    candidate = folder / relative
    try:
        if candidate.is_symlink():
            return None
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
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
    """The learner's answer for one graded part, None when missing or malformed; ArtifactRejected past a limit."""
    path = _artifact_path(Path(folder), part.artifact)
    if path is None:
        return None
    try:
        return _READERS[part.reader](path, part, limits)
    except ArtifactRejected:
        raise
    except Exception:  # malformed artifacts are "not attempted", never a crash of the batch
        return None


def read_artifact(folder: Path | str, part: GradedPart, limits: ArtifactLimits = ARTIFACT_LIMITS) -> Any:
    """The learner's answer for one graded part, or None when it is missing, malformed or past a limit."""
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
        results[part.grade_id] = run_check(part.check, read_artifact(folder, part), truths[part.truth])
    return results
