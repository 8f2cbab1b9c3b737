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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from course import auth
from course.config import AppConfig
from datasets.errors import UserError
from grader.course_dir import (LEARNER_ID_RULE, company_for_seed, company_for_spec, is_learner_id,
                               write_learner_data)

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


@dataclass(frozen=True, eq=False)
class ReleasedCompany:
    """A graded company as the app may hold it: the released tables and the manifest facts, and
    nothing else. There is no `labels` or `event_labels` attribute at all, so a chart, check or
    summary that reaches for the hidden truth of a company a learner is graded on fails loudly
    (AttributeError) instead of leaking it. Everything that needs labels runs on the learner's
    practice company (`learner_practice_company`)."""

    employees: pd.DataFrame
    ai_events: pd.DataFrame
    work_items: pd.DataFrame
    calendar: pd.DataFrame
    survey: pd.DataFrame
    meta: dict = field(default_factory=dict)

    def tables(self, with_labels: bool = False) -> dict[str, pd.DataFrame]:
        """The released tables (what datasets.api.write_company writes); never labels."""
        if with_labels:
            raise DataUnavailable("a graded company in the app holds no labels")
        return {name: getattr(self, name) for name in PUBLIC_TABLES}


def released(company: Any) -> ReleasedCompany:
    """The released part of a generated company; its labels are left behind (and freed)."""
    return ReleasedCompany(**{name: getattr(company, name) for name in PUBLIC_TABLES},
                           meta=dict(getattr(company, "meta", None) or {}))


def _generate(config: AppConfig, owner: str, failure: str) -> Any:
    """The labelled company of the course's data spec for `owner` (seeded by the course's HMAC)."""
    api = _api()
    try:
        if is_learner_id(owner):
            return company_for_spec(config.course, config.data_spec, owner, api=api)
        seed = api.learner_seed(secret=config.course_secret, learner_id=owner)
        return company_for_seed(config.data_spec, seed, api=api)
    except UserError:
        raise
    except Exception as exc:  # the generator's bug must not look like the learner's fault
        raise DataUnavailable(f"{failure} ({exc.__class__.__name__}: {exc}).") from exc


def _generate_and_store(config: AppConfig, owner: str, out: Path, failure: str) -> ReleasedCompany:
    """Generate `owner`'s company, write its label-free files once, and keep the released tables
    only (the labels are dropped before the company is returned)."""
    company = _generate(config, owner, failure)
    if not (out / "manifest.json").exists():
        if out.exists():
            shutil.rmtree(out)  # an interrupted earlier write; the data is regenerated identically
        out.parent.mkdir(parents=True, exist_ok=True)
        _api().write_company(company, out, fmt="parquet", with_labels=False)
    return released(company)


def ensure_default_dataset(config: AppConfig) -> Path:
    """The course's default company (label-free files), generated on the app's first start."""
    out = config.home / "data" / DEFAULT_LEARNER
    if not (out / "manifest.json").exists():
        _generate_and_store(config, DEFAULT_LEARNER, out, "Generating the default company failed")
    return out


def generate_learner_company(config: AppConfig, learner_id: str) -> ReleasedCompany:
    """The learner's GRADED company as the app holds it: the released tables only, exactly the
    ones `theater assign` releases and the grader regenerates (its label-free files are written
    once). Its labels never stay in the app's memory."""
    return _generate_and_store(config, learner_id, learner_dir(config, learner_id),
                               "Generating your company failed; tell your instructor")


PRACTICE_PREFIX = "practice:"   # ':' is not allowed in a learner id: no learner ever gets this seed


def practice_owner(learner_id: str) -> str:
    """The HMAC owner of a learner's practice company ('practice:<id>'), which is never a valid
    learner id, so the practice company is never anyone's graded company."""
    return f"{PRACTICE_PREFIX}{learner_id}"


def learner_practice_company(config: AppConfig, learner_id: str) -> Any:
    """The learner's PRACTICE company, labels included (held in server memory only): the course's
    data spec and profile, a different keyed variant (HMAC of the course secret and
    'practice:<id>'). Every in-app check, every chart or sentence that needs labels and every
    takeaway about hidden groups runs on it, so nothing the app shows or checks depends on the
    hidden truth of the company the learner's notebooks are graded on."""
    return _generate(config, practice_owner(learner_id),
                     "Generating your practice company failed; tell your instructor")


def practice_zip(config: AppConfig, learner_id: str, company: Any, fmt: str = "csv") -> bytes:
    """The practice company's released tables, for the exercises done in pandas (no labels)."""
    return company_zip(config, f"practice-{learner_id}", released(company), fmt)


# Not a valid learner id (a space), so no learner ever gets its seed; the words are the HMAC input
# the course's tuning company has always been drawn from, so it stays the same company.
TUNING_COMPANY = "practice company"


def tuning_company(config: AppConfig) -> Any:
    """One labelled company of the course's spec for the whole class, nobody's graded or practice
    company: the detector exercises show precision, recall and F1 of the learner's settings on it.

    It stays separate from the learner's practice company on purpose. The detector exercises are
    checked on the practice company's hidden labels; if F1 were shown on that same company, the
    check would only repeat what the panel already says. Tuning on one labelled company and
    checking the flags on another is the lesson itself: a detector is judged on people it was not
    tuned on."""
    return _generate(config, TUNING_COMPANY, "Generating the labelled tuning company failed")


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
    """The notebook as released (release/<name>/ when `assign` ran), else its student version made
    the same way (or the one the installation carries): never a notebook that holds solutions."""
    from exercises.student_version import student_notebook

    released = config.course.path("release", assignment.name, assignment.notebook)
    if released.is_file():
        return released.read_bytes()
    return student_notebook(assignment)


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
    `company` is the learner's practice company: a graded company (ReleasedCompany) has no truth
    to give and is refused.
    """
    from exercises import truth

    from exercises.checks import CHECKS

    if isinstance(company, ReleasedCompany):
        raise TypeError("exercise_truth needs the labelled practice company, never a graded one")
    if check_id not in CHECKS:
        raise DataUnavailable(f"no truth is defined for the check '{check_id}'")
    check = CHECKS[check_id]   # where the truth comes from lives once, on the check's record
    if check.truth_source == "simulator":
        from course.simulator import DEFAULT_PARAMS, goodhart_collapse_point

        return goodhart_collapse_point(simulator_params or DEFAULT_PARAMS)
    if check.truth_source == "session_sample":
        ids = list(answer) if isinstance(answer, dict) else []
        return truth.session_theater_labels(company, ids)
    if check.truth_source == "catalogue":
        return None
    return truth.TRUTHS[check.truth](company)


def learner_notebook(path: Path) -> bytes:
    """An nbgrader source notebook exactly as `nbgrader generate_assignment` releases it
    (exercises.student_version: the one pipeline that makes every student version)."""
    from exercises.student_version import student_version_bytes

    return student_version_bytes(path)
