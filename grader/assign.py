"""Release an assignment: nbgrader's student version, then one folder per learner with their data.

Order of work, and why:
1. read and validate the roster first, so a bad row stops everything before anything is written;
2. add the learners (and the due date) to nbgrader's gradebook;
3. run nbgrader's generate_assignment in-process on the course's source notebook (release/<assignment>/:
   solutions and hidden tests removed, checksums recorded); a course without one stops here and
   asks for `--source DIR` (the installed package carries student versions only);
4. record the dataset spec in .theater/releases/<assignment>.json, so grading regenerates exactly
   the data that was released even if theater.toml changes later;
5. per learner, build outbound/<learner>/<assignment>/ in a temporary folder (student notebook +
   data/ without labels; never the seed, the secret or assignment.yaml) and swap it in;
6. issue a personal access code to each learner who has none yet (the app's sign-in), stored
   argon2-hashed in .theater/access_codes.json (grader.access_codes); the new codes go to a CSV
   only the instructor can read (access-codes.csv in the course, mode 0600) for handing out.
Re-running is safe: the same roster gives byte-identical folders; new learners are added and get
codes, learners who have a code keep it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from datasets.errors import UserError
from exercises.assignments import ASSIGNMENT_FILE, Assignment, validate_notebook
from grader.access_codes import issue_access_codes
from grader.course_dir import (LEARNER_ID_RULE, Course, find_course, gradebook, is_learner_id, nbgrader_config,
                               write_learner_data)

ROSTER_COLUMNS = ("id", "first_name", "last_name", "email")
OPTIONAL_COLUMNS = ("lms_user_id", "section", "sis_user_id")
# nbgrader's gradebook has no place for these: they live beside it, in .theater/roster.json
DETAIL_COLUMNS = ("section", "sis_user_id")
ROSTER_DETAILS_FILE = "roster.json"
MAX_SECTION = 100  # characters of a section name (Canvas's are course-section names)
MAX_SIS_USER_ID = 64


class RosterError(UserError):
    """The roster CSV cannot be used; the message names the row."""


class AssignError(UserError):
    """nbgrader could not generate the student version."""


MISSING_SOURCE = ("releasing to a roster needs the source notebook of {name!r} (with its solutions and "
                  "hidden tests), which this installation does not carry: run `theater assign {name} "
                  "--roster ROSTER --source DIR`, DIR holding {name}/ with its assignment.yaml and source "
                  "notebook, such as exercises/source in a checkout of the project's repository")


def install_source(course: Course, assignment: Assignment, source_dir: Path | str) -> Assignment:
    """Copy an assignment's source notebook (and its other files) from an instructor's folder into
    the course's source/<name>/; the course's own assignment.yaml is kept when it has one."""
    from grader.course_dir import CourseError, checked_source, source_folders

    matches = [folder for folder in source_folders(source_dir) if folder.name == assignment.name]
    if not matches:
        raise CourseError(f"{source_dir} holds no folder {assignment.name}/ with an assignment.yaml")
    checked_source(matches[0])
    for item in matches[0].iterdir():
        if item.name in (ASSIGNMENT_FILE, "answers", "data", ".ipynb_checkpoints", "__pycache__"):
            continue
        if item.is_dir():
            shutil.copytree(item, assignment.folder / item.name, dirs_exist_ok=True)
        else:
            shutil.copy2(item, assignment.folder / item.name)
    return course.assignment(assignment.name)


@dataclass(frozen=True)
class Learner:
    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""
    # None: not known (an import without the column keeps what an earlier one gave; "" clears it)
    section: str | None = None
    sis_user_id: str | None = None  # the institution's id (Canvas's "SIS User ID")


CODES_FILE = "access-codes.csv"


@dataclass
class AssignReport:
    assignment: str
    released: list[str] = field(default_factory=list)
    outbound: Path | None = None
    codes_issued: list[str] = field(default_factory=list)
    codes_file: Path | None = None

    def summary(self) -> str:
        lines = [f"{self.assignment}: released to {len(self.released)} learner(s) in {self.outbound}"]
        if self.codes_issued:
            lines.append(f"{len(self.codes_issued)} new access code(s) for the app's sign-in written to "
                         f"{self.codes_file} (only you can read it): hand each learner their code, then "
                         "delete the file; codes are stored hashed and cannot be shown again")
        return "\n".join(lines)


def codes_csv(learners: list[Learner], codes: dict[str, str], earlier: str = "") -> str:
    """The hand-out CSV (id,first_name,last_name,email,access_code): `earlier` rows, then the new codes."""
    rows: dict[str, list[str]] = {}
    for row in list(csv.reader(earlier.splitlines()))[1:]:
        if row:
            rows[row[0]] = row
    by_id = {learner.id: learner for learner in learners}
    for learner_id, code in codes.items():
        learner = by_id.get(learner_id, Learner(learner_id))
        rows[learner_id] = [learner_id, learner.first_name, learner.last_name, learner.email, code]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "first_name", "last_name", "email", "access_code"])
    writer.writerows(rows[key] for key in sorted(rows))
    return buffer.getvalue()


def write_codes(path: Path, learners: list[Learner], codes: dict[str, str]) -> Path:
    """Add newly issued codes to the instructor's hand-out CSV (0600), keeping rows already there."""
    from grader.course_dir import write_private

    earlier = path.read_text(encoding="utf-8") if path.is_file() else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, codes_csv(learners, codes, earlier))
    return path


def issue_codes(course: Course, learners: list[Learner], codes_file: Path | None = None,
                reissue: list[str] | tuple[str, ...] = ()) -> tuple[list[str], Path | None]:
    """Access codes for learners who have none (and those named in `reissue`); see the module doc."""
    issued = issue_access_codes(course.access_codes_path, [learner.id for learner in learners], reissue)
    if not issued:
        return [], None
    path = Path(codes_file) if codes_file is not None else course.path(CODES_FILE)
    return sorted(issued), write_codes(path, learners, issued)


def read_roster(path: Path | str) -> list[Learner]:
    """nbgrader's student-import CSV (id,first_name,last_name,email[,lms_user_id,section,sis_user_id]),
    validated row by row."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError(f"{path}: no such roster file") from None
    except UnicodeDecodeError:
        raise RosterError(f"{path}: not a UTF-8 text file") from None
    return parse_roster(text, str(path))


def parse_roster(text: str | bytes, path: str = "roster") -> list[Learner]:
    """The roster rules of `read_roster` for text already in hand (an upload in the app);
    `path` names the file in messages."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise RosterError(f"{path}: not a UTF-8 text file") from None
    text = text.removeprefix("\ufeff")
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
    seen_sis: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise RosterError(f"{path}: row {number} has {len(row)} field(s), the header has {len(header)}")
        record = {key: value.strip() for key, value in zip(header, row, strict=True)}
        learner_id = record["id"]
        if not is_learner_id(learner_id):
            raise RosterError(f"{path}: row {number}: id {learner_id!r} must be {LEARNER_ID_RULE}")
        if learner_id in seen:
            raise RosterError(f"{path}: row {number}: id {learner_id!r} repeats row {seen[learner_id]}")
        if record.get("email") and "@" not in record["email"]:
            raise RosterError(f"{path}: row {number}: email {record['email']!r} is not an address")
        lms_user_id = record.get("lms_user_id", "")
        if lms_user_id and lms_user_id in seen_lms:
            raise RosterError(f"{path}: row {number}: lms_user_id {lms_user_id!r} repeats row {seen_lms[lms_user_id]}: "
                              "each learner needs their own LMS user id")
        for column, limit in (("section", MAX_SECTION), ("sis_user_id", MAX_SIS_USER_ID)):
            value = record.get(column, "")
            if len(value) > limit or any(not ch.isprintable() for ch in value):
                raise RosterError(f"{path}: row {number}: {column} must be at most {limit} printable characters")
        sis_user_id = record.get("sis_user_id", "")
        if sis_user_id and sis_user_id in seen_sis:
            raise RosterError(f"{path}: row {number}: sis_user_id {sis_user_id!r} repeats row {seen_sis[sis_user_id]}")
        seen[learner_id] = number
        if lms_user_id:
            seen_lms[lms_user_id] = number
        if sis_user_id:
            seen_sis[sis_user_id] = number
        learners.append(Learner(**{k: v for k, v in record.items()}))
    if not learners:
        raise RosterError(f"{path}: the roster has a header but no learners")
    return learners


def roster_details_path(course: Course) -> Path:
    return course.state_dir / ROSTER_DETAILS_FILE


def roster_details(course: Course) -> dict[str, dict[str, str]]:
    """learner -> {"section": ..., "sis_user_id": ...} as the last roster imports gave them."""
    try:
        data = json.loads(roster_details_path(course).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {learner: {key: str(value) for key, value in details.items() if key in DETAIL_COLUMNS and value}
            for learner, details in data.items() if isinstance(details, dict) and is_learner_id(learner)}


def _save_details(course: Course, learners: list[Learner]) -> None:
    """Keep each learner's section and SIS id where the roster gives the column (blank clears it)."""
    given = [learner for learner in learners if learner.section is not None or learner.sis_user_id is not None]
    if not given:
        return
    from grader.course_dir import write_private

    details = roster_details(course)
    for learner in given:
        mine = details.setdefault(learner.id, {})
        for column in DETAIL_COLUMNS:
            value = getattr(learner, column)
            if value is not None:
                mine[column] = value
        details[learner.id] = {key: value for key, value in mine.items() if value}
    write_private(roster_details_path(course), json.dumps({k: v for k, v in sorted(details.items()) if v},
                                                          indent=1, ensure_ascii=False) + "\n")


def sections(course: Course) -> list[str]:
    """The sections the roster names, sorted (empty when it names none)."""
    return sorted({details["section"] for details in roster_details(course).values() if details.get("section")})


def with_sections(course: Course, frame, section: str | None = None):
    """A table with a `learner` column, with each learner's section beside it (only `section`'s rows if given)."""
    if frame is None or "learner" not in getattr(frame, "columns", ()):
        return frame
    details = roster_details(course)
    frame = frame.copy()
    frame.insert(1, "section", [details.get(learner, {}).get("section", "") for learner in frame["learner"]])
    return frame[frame["section"] == section].reset_index(drop=True) if section else frame


def _register_learners(course: Course, assignment: Assignment | None, learners: list[Learner]) -> None:
    due = course.settings_for(assignment.name).due if assignment is not None else None
    _refuse_taken_sis_ids(course, learners)
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
        if due and assignment is not None:
            gb.update_or_create_assignment(assignment.name, duedate=f"{due:%Y-%m-%d %H:%M:%S} UTC")
    _save_details(course, learners)


def import_roster(course: Course, learners: list[Learner]) -> dict[str, str]:
    """Add (or update) the roster's learners in the gradebook and issue access codes to those
    who have none, without releasing anything; returns the new codes (to hand out, never stored)."""
    _register_learners(course, None, learners)
    return issue_access_codes(course.access_codes_path, [learner.id for learner in learners])


def roster(course: Course) -> list[Learner]:
    """The learners in the course's gradebook (what `import_roster` and `assign` registered)."""
    details = roster_details(course)
    with gradebook(course) as gb:
        return [Learner(s.id, s.first_name or "", s.last_name or "", s.email or "", s.lms_user_id or "",
                        section=details.get(s.id, {}).get("section"),
                        sis_user_id=details.get(s.id, {}).get("sis_user_id"))
                for s in sorted(gb.students, key=lambda s: s.id)]


def _refuse_taken_sis_ids(course: Course, learners: list[Learner]) -> None:
    """A SIS user id already held by another learner is an error, before anything is written."""
    holders = {details["sis_user_id"]: learner for learner, details in roster_details(course).items()
               if details.get("sis_user_id")}
    for learner in learners:
        holder = holders.get(learner.sis_user_id) if learner.sis_user_id else None
        if holder is not None and holder != learner.id:
            raise RosterError(f"sis_user_id {learner.sis_user_id!r} of {learner.id!r} already belongs to {holder!r}: "
                              "each learner needs their own SIS user id")


def _refuse_taken_lms_ids(gb, learners: list[Learner]) -> None:
    """An LMS user id already held by another learner in the gradebook is an error, before anything is written."""
    holders = {s.lms_user_id: s.id for s in gb.students if s.lms_user_id}
    for learner in learners:
        holder = holders.get(learner.lms_user_id) if learner.lms_user_id else None
        if holder is not None and holder != learner.id:
            raise RosterError(f"lms_user_id {learner.lms_user_id!r} of {learner.id!r} already belongs to {holder!r} "
                              "in the gradebook: each learner needs their own LMS user id")


def generate_student_version(course: Course, assignment: Assignment) -> Path:
    """nbgrader generate_assignment, in-process; returns release/<assignment>/.

    A course made without source notebooks (the app's own course on an installed package) releases
    the student version the installation carries instead (`release_packaged_version`)."""
    from nbgrader.apps import NbGraderAPI

    from exercises.student_version import has_source_notebook

    if not has_source_notebook(assignment):
        return release_packaged_version(course, assignment)
    api = NbGraderAPI(config=nbgrader_config(course))
    result = api.generate_assignment(assignment.name, force=True, create=True)
    if not result.get("success"):
        detail = (result.get("error") or result.get("log") or "no details").strip().splitlines()
        raise AssignError(f"nbgrader could not generate {assignment.name!r}: {detail[-1] if detail else ''}")
    release = course.path("release", assignment.name)
    if not (release / assignment.notebook).is_file():
        raise AssignError(f"nbgrader generated no {assignment.notebook} in {release}")
    return release


def release_packaged_version(course: Course, assignment: Assignment) -> Path:
    """release/<assignment>/ from the student version this installation carries (exercises/release),
    with its cells recorded in the gradebook by nbgrader's own SaveCells, as generate_assignment does.

    Nothing is cleared here: the notebook never held a solution or a hidden test."""
    import nbformat
    from nbgrader.preprocessors import SaveCells

    from exercises.assignments import AssignmentError
    from exercises.student_version import packaged_student_notebook

    try:
        path = packaged_student_notebook(assignment)
    except AssignmentError as exc:
        raise AssignError(f"{exc}; {MISSING_SOURCE.format(name=assignment.name)}") from None
    data = path.read_bytes()
    notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    with gradebook(course) as gb:
        gb.update_or_create_assignment(assignment.name)
    resources = {"nbgrader": {"notebook": Path(assignment.notebook).stem, "assignment": assignment.name,
                              "db_url": str(nbgrader_config(course).CourseDirectory.db_url)}}
    try:
        SaveCells().preprocess(notebook, resources)
    except RuntimeError as exc:  # cells added or removed under existing submissions
        raise AssignError(f"cannot release {assignment.name!r}: {exc}") from None
    release = course.path("release", assignment.name)
    release.mkdir(parents=True, exist_ok=True)
    tmp = release / f".{assignment.notebook}.tmp"
    tmp.write_bytes(data)
    tmp.replace(release / assignment.notebook)
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
        write_learner_data(course, assignment, learner.id, building / "data", keep_truths=True)
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
    roster_csv: Path | str | list[Learner],
    progress: bool = False,
    codes_file: Path | str | None = None,
    reissue_codes: list[str] | tuple[str, ...] = (),
    source_dir: Path | str | None = None,
) -> AssignReport:
    """Release an assignment to every learner on the roster (safe to run again) and issue access
    codes to learners who have none (`reissue_codes`: learners whose code is replaced).

    The student version is made from the course's source notebook (source/<name>/, copied there by
    `course init`), or first copied in from `source_dir`, an instructor's folder of assignment
    folders (`--source DIR`); without either, it stops and says so.

    `roster_csv` is a roster file, or learners already read (the app releases to `roster(course)`)."""
    course = course if isinstance(course, Course) else find_course(course=course)
    spec_assignment = course.assignment(assignment)
    if source_dir is not None:
        spec_assignment = install_source(course, spec_assignment, source_dir)
    from exercises.student_version import has_source_notebook

    if not has_source_notebook(spec_assignment):
        raise AssignError(f"{spec_assignment.notebook_path} is missing (or is a student version): "
                          + MISSING_SOURCE.format(name=assignment))
    validate_notebook(spec_assignment)
    learners = list(roster_csv) if isinstance(roster_csv, list) else read_roster(roster_csv)
    if not learners:
        raise RosterError("the roster has no learners: import a roster first")
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
    report.codes_issued, report.codes_file = issue_codes(
        course, learners, Path(codes_file) if codes_file else None, reissue_codes)
    return report
