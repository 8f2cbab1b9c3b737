"""The learner's private company and downloads: one course's secret, id rule and data spec.

Everything a learner gets comes from the course directory the app serves (course.config), through
the same functions `theater assign` and the grader use (grader.course_dir), so the data a learner
downloads here is byte for byte the data released to them and regenerated for grading.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from course import auth
from course.config import AppConfig
from datasets.errors import UserError
from grader.course_dir import LEARNER_ID_RULE, company_for_spec, is_learner_id, write_learner_data

DEFAULT_LEARNER = "default"
PUBLIC_TABLES = ("employees", "ai_events", "work_items", "calendar", "survey")
DICTIONARY_FILE = "DATA_DICTIONARY.md"
LEARNER_TOKEN = "learner"


class SignInError(UserError):
    """The learner id, access code or course code cannot be accepted."""


class DataUnavailable(UserError):
    """The company generator is not installed or failed."""


def has_roster(config: AppConfig) -> bool:
    """Whether the course's learners sign in with access codes (issued by `theater assign`)."""
    return bool(auth.load_access_codes(config.access_codes_path))


def validate_learner_id(raw: str | None, config: AppConfig, course_code: str | None = None,
                        client: str = "", throttles: auth.ThrottleBook | None = None) -> str:
    """Return the cleaned id, or say exactly what is wrong with it (the access code is checked by
    `sign_in_learner`). Wrong course codes are throttled per client address like passwords."""
    learner_id = (raw or "").strip()
    if not learner_id:
        raise SignInError("Enter your learner id (the one your instructor gave you).")
    if not is_learner_id(learner_id):
        hint = " (no '@': use your user name, not your e-mail address)" if "@" in learner_id else ""
        raise SignInError(f"'{learner_id[:70]}' is not a valid learner id: use {LEARNER_ID_RULE}{hint}.")
    if config.course_code:
        outcome = auth.check_course_code(course_code, config.course_code, client, throttles)
        if not outcome.ok:
            raise SignInError(outcome.message)
    return learner_id


def sign_in_learner(config: AppConfig, raw_id: str | None, access_code: str | None,
                    course_code: str | None, client: str,
                    throttles: auth.ThrottleBook | None = None, sessions=None) -> str:
    """The learner id when this person may sign in as it: with a roster, only with their own code.
    `client` is the client's address (throttling); `sessions` (course.sessions) tells which
    addresses signed this learner in lately, so others' guesses never lock those out."""
    learner_id = validate_learner_id(raw_id, config, course_code, client, throttles)
    codes = auth.load_access_codes(config.access_codes_path)
    if codes:
        outcome = auth.check_learner_code(learner_id, access_code, codes, client, throttles,
                                          sessions=sessions)
        if not outcome.ok:
            raise SignInError(outcome.message)
    return learner_id


def sign_in_token(config: AppConfig, learner_id: str, sessions, client: str = "") -> str:
    """Open a server-side session for a signed-in learner; returns the handle the url carries.
    The session keeps the version of the learner's access code, so a re-issued code ends it."""
    version = auth.code_version(auth.load_access_codes(config.access_codes_path), learner_id)
    return sessions.create(LEARNER_TOKEN, learner_id, "learner", credential=version, client=client)


def learner_from_token(config: AppConfig, token: str | None, sessions) -> str | None:
    """The learner an active session handle belongs to, or None (signed out, idle, expired, or the
    access code was re-issued since: then every session of that learner is revoked)."""
    record = sessions.lookup(token, kind=LEARNER_TOKEN)
    if record is None or not is_learner_id(record.who):
        return None
    codes = auth.load_access_codes(config.access_codes_path)
    current = auth.code_version(codes, record.who)
    if codes and (record.who not in codes or current != record.credential):
        sessions.revoke_user(LEARNER_TOKEN, record.who, "access code changed", current)
        return None
    return record.who


def _api():
    try:
        from datasets import api
    except ImportError as exc:
        raise DataUnavailable("The company generator (datasets.api) is not available in this "
                              f"installation: {exc}. Run `make install`.") from exc
    return api


def learner_dir(config: AppConfig, learner_id: str) -> Path:
    return config.data_dir / learner_id


def _generate_and_store(config: AppConfig, owner: str, out: Path, failure: str) -> Any:
    """Generate `owner`'s company (labels stay in memory) and write its label-free files once."""
    api = _api()
    try:
        company = company_for_spec(config.course, config.data_spec, owner, api=api)
    except UserError:
        raise
    except Exception as exc:  # the generator's bug must not look like the learner's fault
        raise DataUnavailable(f"{failure} ({exc.__class__.__name__}: {exc}).") from exc
    if not (out / "manifest.json").exists():
        if out.exists():
            shutil.rmtree(out)  # an interrupted earlier write; the data is regenerated identically
        out.parent.mkdir(parents=True, exist_ok=True)
        api.write_company(company, out, fmt="parquet", with_labels=False)
    return company


def ensure_default_dataset(config: AppConfig) -> Path:
    """The course's default company (label-free files), generated on the app's first start."""
    out = config.home / "data" / DEFAULT_LEARNER
    if not (out / "manifest.json").exists():
        _generate_and_store(config, DEFAULT_LEARNER, out, "Generating the default company failed")
    return out


def generate_learner_company(config: AppConfig, learner_id: str) -> Any:
    """Generate the learner's company (labels stay in memory) and write the label-free files once."""
    return _generate_and_store(config, learner_id, learner_dir(config, learner_id),
                               "Generating your company failed; tell your instructor")


PRACTICE_COMPANY = "practice company"   # not a valid learner id: no learner ever gets its seed


def practice_company(config: AppConfig) -> Any:
    """A labelled company of the course's spec that nobody is graded on: the detector exercises
    show their precision and recall here, never on the learner's own company."""
    api = _api()
    try:
        seed = api.learner_seed(secret=config.course_secret, learner_id=PRACTICE_COMPANY)
        return api.generate_company(profile=config.profile, employees=config.employees,
                                    days=config.days, seed=seed)
    except UserError:
        raise
    except Exception as exc:
        raise DataUnavailable(f"Generating the practice company failed ({exc.__class__.__name__}: "
                              f"{exc}).") from exc


def data_dictionary() -> str:
    """What every column means, generated from datasets/schemas.py (the contract the data obeys)."""
    from datasets import schemas

    lines = ["# Data dictionary", "",
             "Your company's tables, one file each in `data/`. Generated from the schemas the data",
             "is checked against, so it is always current. `manifest.json` says which company this",
             "is (profile, size, dates). There are no labels: who is genuine is for you to find out.", ""]
    for table in PUBLIC_TABLES:
        schema = schemas.SCHEMAS[table]
        lines += [f"## {table}", "", "| column | meaning | type | empty allowed | values |",
                  "|---|---|---|---|---|"]
        for name, plain, _ in schemas.ARROW_COLUMNS[table]:
            column = schema.columns[name]
            rules = []
            if column.unique:
                rules.append("unique")
            for check in column.checks:
                rules.append(_describe_check(check))
            lines.append(f"| `{name}` | {column.description or ''} | {plain} | "
                         f"{'yes' if column.nullable else 'no'} | "
                         f"{'; '.join(r for r in rules if r) or ''} |")
        for check in schema.checks:
            if check.error:
                lines.append(f"\nRule: {check.error}.")
        lines.append("")
    return "\n".join(lines)


def _describe_check(check: Any) -> str:
    stats = getattr(check, "statistics", None) or {}
    name = getattr(check, "name", "")
    if name == "isin":
        return "one of " + ", ".join(f"`{v}`" for v in stats.get("allowed_values", []))
    if name == "str_matches":
        return f"matches `{stats.get('pattern')}`"
    if name == "str_length":
        return f"at least {stats.get('min_value')} character(s)"
    if name == "in_range":
        return f"from {stats.get('min_value')} to {stats.get('max_value')}"
    labels = {"greater_than_or_equal_to": "at least", "greater_than": "more than"}
    if name in labels:
        return f"{labels[name]} {stats.get('min_value')}"
    return name or ""


def _zip_folder(folder: Path, top: str) -> bytes:
    """The folder's files under `top/` in a zip, in a fixed order (same input, same zip)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.stem not in ("labels", "event_labels"):
                info = zipfile.ZipInfo(f"{top}/{path.relative_to(folder).as_posix()}",
                                       date_time=(2026, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def company_zip(config: AppConfig, learner_id: str, company: Any, fmt: str) -> bytes:
    """The learner's tables as CSV or Parquet, never with labels: `company-<id>/data/` plus the
    data dictionary, so a notebook placed in `company-<id>/` finds `data/` beside it."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be csv or parquet, got {fmt!r}")
    api = _api()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        api.write_company(company, out / "data", fmt=fmt, with_labels=False)
        (out / DICTIONARY_FILE).write_text(data_dictionary(), encoding="utf-8")
        return _zip_folder(out, f"company-{learner_id}")


def course_assignments(config: AppConfig) -> list[Any]:
    """The course's assignments (source/*/assignment.yaml), in name order; broken ones skipped."""
    from exercises.assignments import AssignmentError

    found = []
    for folder in sorted((config.course.root / "source").glob("*/assignment.yaml")):
        try:
            found.append(config.course.assignment(folder.parent.name))
        except (AssignmentError, UserError):
            continue
    return found


def assignment_notebook(config: AppConfig, assignment: Any) -> bytes:
    """The notebook as released (release/<name>/ when `assign` ran), else made the same way."""
    released = config.course.path("release", assignment.name, assignment.notebook)
    if released.is_file():
        return released.read_bytes()
    return learner_notebook(assignment.notebook_path)


def assignment_zip(config: AppConfig, assignment: Any, learner_id: str, company: Any = None) -> bytes:
    """Everything to do an assignment at home, laid out to run as-is: `<assignment>/` holding the
    notebook, `data/` (the learner's own files, exactly as `theater assign` releases them) and the
    data dictionary. `company` may be the learner's cached company when it has the same spec."""
    from exercises.assignments import ASSIGNMENT_FILE

    spec = config.course.data_spec(assignment)
    same = (spec.profile, spec.employees, spec.days) == (config.profile, config.employees, config.days)
    api = _api()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        released = config.course.path("release", assignment.name)
        if released.is_dir():
            for item in released.iterdir():
                if item.name in (ASSIGNMENT_FILE, "data", "answers"):
                    continue
                if item.is_dir():
                    shutil.copytree(item, out / item.name)
                else:
                    shutil.copy2(item, out / item.name)
        (out / assignment.notebook).write_bytes(assignment_notebook(config, assignment))
        write_learner_data(config.course, assignment, learner_id, out / "data",
                           company=company if same else None, api=api)
        (out / DICTIONARY_FILE).write_text(data_dictionary(), encoding="utf-8")
        return _zip_folder(out, assignment.name)


def company_size(company: Any) -> dict[str, int]:
    """Row counts of the public tables, for the sign-in confirmation."""
    return {name: int(len(getattr(company, name))) for name in PUBLIC_TABLES
            if getattr(company, name, None) is not None}


def exercise_truth(check_id: str, company: Any, answer: Any = None,
                   simulator_params: Any = None) -> Any:
    """The hidden truth for a check, computed in server memory from the labelled company.

    `simulator_params` are the learner's own sandbox settings (course.simulator.learner_params).
    """
    from exercises import truth

    if check_id == "goodhart.collapse_point":
        from course.simulator import DEFAULT_PARAMS, goodhart_collapse_point

        return goodhart_collapse_point(simulator_params or DEFAULT_PARAMS)
    if check_id == "spot.label_sessions":
        ids = list(answer) if isinstance(answer, dict) else []
        return truth.session_theater_labels(company, ids)
    from exercises.checks import CHECKS

    if check_id == "metrics.dashboard_design":
        return None
    registered = CHECKS[check_id].truth if check_id in CHECKS else None
    if registered is None:
        raise DataUnavailable(f"no truth is defined for the check '{check_id}'")
    return truth.TRUTHS[registered](company)  # the pairing lives once, in the check's registry entry


def learner_notebook(path: Path) -> bytes:
    """An nbgrader source notebook exactly as `nbgrader generate_assignment` releases it.

    nbgrader's own preprocessors, in its own order (without the gradebook step), so a notebook
    downloaded here carries the same stubs, locks and checksums as the instructor's release and
    grades the same way when it is submitted.
    """
    import nbformat
    from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme,
                                        ClearOutput, ClearSolutions, ComputeChecksums, LockCells)

    from exercises.assignments import CODE_STUB

    notebook = nbformat.read(str(path), as_version=4)
    resources: dict = {}
    for step in (LockCells(), ClearSolutions(code_stub={"python": CODE_STUB}), ClearOutput(), CheckCellMetadata(),
                 ComputeChecksums(), ClearHiddenTests(), ClearMarkScheme(), ComputeChecksums(),
                 CheckCellMetadata()):
        notebook, resources = step.preprocess(notebook, resources)
    return nbformat.writes(notebook).encode("utf-8")
