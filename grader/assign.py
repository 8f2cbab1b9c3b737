"""Release an assignment: nbgrader's student version, then one folder per learner with their data.

Order of work, and why:
1. read and validate the roster first, so a bad row stops everything before anything is written;
2. add the learners (and the due date) to nbgrader's gradebook;
3. run nbgrader's generate_assignment in-process (release/<assignment>/: solutions and hidden
   tests removed, checksums recorded);
4. record the dataset spec in .theater/releases/<assignment>.json, so grading regenerates exactly
   the data that was released even if theater.toml changes later;
5. per learner, build outbound/<learner>/<assignment>/ in a temporary folder (student notebook +
   data/ without labels; never the seed, the secret or assignment.yaml) and swap it in.
Re-running is safe: the same roster gives byte-identical folders; new learners are added.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from datasets.errors import UserError
from exercises.assignments import ASSIGNMENT_FILE, Assignment, validate_notebook
from grader.course_dir import ID_PATTERN, Course, find_course, gradebook, learner_company, nbgrader_config

ROSTER_COLUMNS = ("id", "first_name", "last_name", "email")
OPTIONAL_COLUMNS = ("lms_user_id",)


class RosterError(UserError):
    """The roster CSV cannot be used; the message names the row."""


class AssignError(UserError):
    """nbgrader could not generate the student version."""


@dataclass(frozen=True)
class Learner:
    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""


@dataclass
class AssignReport:
    assignment: str
    released: list[str] = field(default_factory=list)
    outbound: Path | None = None

    def summary(self) -> str:
        return f"{self.assignment}: released to {len(self.released)} learner(s) in {self.outbound}"


def read_roster(path: Path | str) -> list[Learner]:
    """nbgrader's student-import CSV (id,first_name,last_name,email[,lms_user_id]), validated row by row."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError(f"{path}: no such roster file") from None
    except UnicodeDecodeError:
        raise RosterError(f"{path}: not a UTF-8 text file") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise RosterError(f"{path}: the roster is empty")
    header = [h.strip().lower() for h in rows[0]]
    if "id" not in header:
        raise RosterError(f"{path}: row 1 must be a header with an `id` column (id,first_name,last_name,email)")
    unknown = [h for h in header if h not in ROSTER_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise RosterError(f"{path}: row 1 has unknown column(s) {', '.join(unknown)}")
    learners: list[Learner] = []
    seen: dict[str, int] = {}
    seen_lms: dict[str, int] = {}  # an LMS user id names one learner: a repeat would file work under another
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise RosterError(f"{path}: row {number} has {len(row)} field(s), the header has {len(header)}")
        record = {key: value.strip() for key, value in zip(header, row, strict=True)}
        learner_id = record["id"]
        if not ID_PATTERN.match(learner_id) or learner_id in {".", ".."}:
            raise RosterError(
                f"{path}: row {number}: id {learner_id!r} must be 1-64 letters, digits, '.', '_' or '-'"
            )
        if learner_id in seen:
            raise RosterError(f"{path}: row {number}: id {learner_id!r} repeats row {seen[learner_id]}")
        if record.get("email") and "@" not in record["email"]:
            raise RosterError(f"{path}: row {number}: email {record['email']!r} is not an address")
        lms_user_id = record.get("lms_user_id", "")
        if lms_user_id and lms_user_id in seen_lms:
            raise RosterError(f"{path}: row {number}: lms_user_id {lms_user_id!r} repeats row {seen_lms[lms_user_id]}: "
                              "each learner needs their own LMS user id")
        seen[learner_id] = number
        if lms_user_id:
            seen_lms[lms_user_id] = number
        learners.append(Learner(**{k: v for k, v in record.items()}))
    if not learners:
        raise RosterError(f"{path}: the roster has a header but no learners")
    return learners


def _register_learners(course: Course, assignment: Assignment, learners: list[Learner]) -> None:
    due = course.assignment_setting(assignment.name, "due")
    with gradebook(course) as gb:
        _refuse_taken_lms_ids(gb, learners)
        for learner in learners:
            details = {
                "first_name": learner.first_name or None,
                "last_name": learner.last_name or None,
                "email": learner.email or None,
            }
            if learner.lms_user_id:
                details["lms_user_id"] = learner.lms_user_id
            gb.update_or_create_student(learner.id, **details)
        if due:
            gb.update_or_create_assignment(assignment.name, duedate=str(due))


def _refuse_taken_lms_ids(gb, learners: list[Learner]) -> None:
    """An LMS user id already held by another learner in the gradebook is an error, before anything is written."""
    holders = {s.lms_user_id: s.id for s in gb.students if s.lms_user_id}
    for learner in learners:
        holder = holders.get(learner.lms_user_id) if learner.lms_user_id else None
        if holder is not None and holder != learner.id:
            raise RosterError(f"lms_user_id {learner.lms_user_id!r} of {learner.id!r} already belongs to {holder!r} "
                              "in the gradebook: each learner needs their own LMS user id")


def generate_student_version(course: Course, assignment: Assignment) -> Path:
    """nbgrader generate_assignment, in-process; returns release/<assignment>/."""
    from nbgrader.apps import NbGraderAPI

    api = NbGraderAPI(config=nbgrader_config(course))
    result = api.generate_assignment(assignment.name, force=True, create=True)
    if not result.get("success"):
        detail = (result.get("error") or result.get("log") or "no details").strip().splitlines()
        raise AssignError(f"nbgrader could not generate {assignment.name!r}: {detail[-1] if detail else ''}")
    release = course.path("release", assignment.name)
    if not (release / assignment.notebook).is_file():
        raise AssignError(f"nbgrader generated no {assignment.notebook} in {release}")
    return release


def _record_release(course: Course, assignment: Assignment, release: Path) -> None:
    record_path = course.release_record_path(assignment.name)
    from datasets.pipeline import GENERATOR_VERSION

    record = course.release_record(assignment.name) or {
        "data": course.data_spec(assignment).as_dict(),
        "generator_version": GENERATOR_VERSION,
    }
    notebook = (release / assignment.notebook).read_bytes()
    record["notebook_sha256"] = hashlib.sha256(notebook).hexdigest()
    record_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = record_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(record_path)


def _build_outbound(course: Course, assignment: Assignment, release: Path, learner: Learner) -> Path:
    from datasets.api import write_company

    target = course.path("outbound", learner.id, assignment.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{assignment.name}-", dir=target.parent))
    try:
        for item in release.iterdir():
            if item.name == ASSIGNMENT_FILE:
                continue
            if item.is_dir():
                shutil.copytree(item, building / item.name)
            else:
                shutil.copy2(item, building / item.name)
        spec = course.data_spec(assignment)
        company = learner_company(course, assignment, learner.id)
        write_company(company, building / "data", fmt=spec.format, with_labels=False)
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        building.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return target


def assign(
    course: Course | Path | str | None,
    assignment: str,
    roster_csv: Path | str,
    progress: bool = False,
) -> AssignReport:
    """Release an assignment to every learner on the roster (safe to run again)."""
    course = course if isinstance(course, Course) else find_course(course=course)
    spec_assignment = course.assignment(assignment)
    validate_notebook(spec_assignment)
    learners = read_roster(roster_csv)
    _register_learners(course, spec_assignment, learners)
    release = generate_student_version(course, spec_assignment)
    _record_release(course, spec_assignment, release)
    report = AssignReport(assignment=assignment, outbound=course.path("outbound"))
    iterator = learners
    if progress:
        from tqdm import tqdm

        iterator = tqdm(learners, desc=f"release {assignment}", unit="learner")
    for learner in iterator:
        _build_outbound(course, spec_assignment, release, learner)
        report.released.append(learner.id)
    return report
