"""Collect submissions into nbgrader's layout: submitted/<learner>/<assignment>/<notebook>.ipynb.

Accepted sources:
- an LMS download zip or folder with Canvas naming, `name_userid_attemptid_file.ipynb` (also
  `name_LATE_userid_attemptid_file.ipynb`); userid is matched to the roster's `lms_user_id`, then
  to the learner id, then `name` to the roster's last+first name;
- folders per learner, `learnerid/notebook.ipynb` or `learnerid/assignment/notebook.ipynb`
  (nbgrader's own layout; a `timestamp.txt` beside the notebook is kept);
- loose files named after the learner, `learnerid.ipynb`.
The latest attempt per learner wins (attempt number, then time). Files that match nobody are
reported, never silently dropped; non-notebooks are skipped and reported. Members of a zip are
read as bytes and written only to paths we build, so `../` names cannot escape (zip-slip).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

from datasets import atomic
from datasets.errors import UserError
from grader.course_dir import Course, find_course, gradebook

# Canvas's submissions download names each file `sortablename[_LATE]_userid_attachmentid_display`:
# the sortable name lower-cased with everything but Ruby's [[:word:]] removed, so Unicode letters,
# digits and marks stay (müllerłukasiewiczzoë), as may `_` and `-`.
CANVAS_NAME = re.compile(
    r"^(?P<name>[\w-]+?)_(?:(?P<late>LATE)_)?(?P<userid>\d+)_(?P<attempt>\d+)_(?P<file>.+)$"
)
SAME_TIME_SECONDS = 120  # folder times this close together, all after the due date: copied, not submitted
UTF8_FLAG = 0x800  # a zip member whose name is UTF-8 says so; rubyzip (Canvas) may not
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
IGNORED_PARTS = {"__MACOSX", ".ipynb_checkpoints"}


class CollectError(UserError):
    """The submission source cannot be read."""


@dataclass(frozen=True)
class Candidate:
    """One notebook found in the source, before matching."""

    origin: str  # the name in the zip or folder, for reports
    learner_hint: str | None  # an id-like token found in the name
    lms_user_id: str | None
    name_hint: str | None
    attempt: int
    timestamp: datetime
    read: object = field(repr=False, compare=False)  # () -> bytes
    late: bool | None = None  # Canvas's LATE token: the LMS's own verdict (None: not a Canvas name)
    stamped: bool = False  # the time comes from a timestamp.txt, not from a file's time


@dataclass
class CollectReport:
    assignment: str
    collected: dict[str, Path] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.assignment}: collected {len(self.collected)} submission(s)"]
        if self.unmatched:
            parts.append(f"{len(self.unmatched)} unmatched: {', '.join(self.unmatched)}")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped: " + ", ".join(f"{n} ({why})" for n, why in self.skipped))
        return "; ".join(parts)


def _squash(text: str) -> str:
    """A name as Canvas writes it in file names: case-folded letters and digits only (any script)."""
    return re.sub(r"[\W_]", "", unicodedata.normalize("NFC", text).casefold())


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's name; a UTF-8 name stored without the zip's UTF-8 flag is read as UTF-8."""
    name = info.filename
    if not info.flag_bits & UTF8_FLAG and not name.isascii():
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return unicodedata.normalize("NFC", name)


def _candidate(parts: tuple[str, ...], timestamp: datetime, read, sibling_timestamp: str | None,
               origin: str | None = None) -> Candidate:
    """Read what a path tells about whose notebook it is."""
    origin = origin or "/".join(parts)
    filename = unicodedata.normalize("NFC", parts[-1])
    match = CANVAS_NAME.match(filename)
    if match:
        return Candidate(origin, match["userid"], match["userid"], match["name"], int(match["attempt"]), timestamp,
                         read, late=bool(match["late"]))
    stamped = False
    if sibling_timestamp:
        try:
            timestamp = datetime.strptime(sibling_timestamp.strip(), TIMESTAMP_FORMAT).replace(tzinfo=UTC)
            stamped = True
        except ValueError:
            from nbgrader.utils import parse_utc

            try:
                timestamp = parse_utc(sibling_timestamp.strip()).replace(tzinfo=UTC)
                stamped = True
            except (ValueError, OverflowError):
                pass
    stem = filename.rsplit(".", 1)[0]
    return Candidate(origin, "/".join((*parts[:-1], stem)), None, None, 0, timestamp, read, stamped=stamped)


class _UnreadableMember(Exception):
    """One submission that cannot be read: reported and skipped, the rest are still collected."""


def _read_limited(stream) -> bytes:
    """Read at most MAX_NOTEBOOK_BYTES of inflated data, counting bytes as they come (headers can lie)."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(1024 * 1024)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > MAX_NOTEBOOK_BYTES:
            raise _UnreadableMember("larger than 50 MB")
        chunks.append(chunk)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with archive.open(info) as stream:
            return _read_limited(stream)
    except _UnreadableMember:
        raise
    except RuntimeError as exc:  # encrypted members
        raise _UnreadableMember(f"cannot be read from the zip: {exc}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError) as exc:
        raise _UnreadableMember(f"a corrupt zip member ({type(exc).__name__}: {exc})") from None


def _is_symlink_member(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _from_zip(path: Path) -> tuple[list[Candidate], list[tuple[str, str]]]:
    candidates: list[Candidate] = []
    skipped: list[tuple[str, str]] = []
    try:
        archive = zipfile.ZipFile(path)
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CollectError(f"{path}: not a readable zip file ({exc})") from None
    stamps = {}
    for info in infos:
        parts = PurePosixPath(_member_name(info).replace("\\", "/")).parts
        if parts and parts[-1] == "timestamp.txt" and info.file_size < 1024 and not _is_symlink_member(info):
            try:
                stamps[parts[:-1]] = _read_member(archive, info)[:1024].decode("utf-8", "replace")
            except _UnreadableMember:
                pass
    for info in infos:
        name = _member_name(info)
        parts = tuple(p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", "/"))
        if not parts or IGNORED_PARTS & set(parts) or parts[-1] == "timestamp.txt":
            continue
        if _is_symlink_member(info):
            skipped.append((name, "a symbolic link"))
            continue
        if not parts[-1].lower().endswith(".ipynb"):
            skipped.append((name, "not a notebook"))
            continue
        if info.file_size > MAX_NOTEBOOK_BYTES:
            skipped.append((name, "larger than 50 MB"))
            continue
        try:
            when = datetime(*info.date_time, tzinfo=UTC)
        except ValueError:
            when = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        safe = tuple(p for p in parts if p not in ("..", "."))
        candidates.append(_candidate(safe, when, lambda info=info: _read_member(archive, info),
                                     stamps.get(parts[:-1]), origin=name))
    return candidates, skipped


def _read_file(path: Path) -> bytes:
    try:
        with path.open("rb") as stream:
            return _read_limited(stream)
    except OSError as exc:
        raise _UnreadableMember(f"cannot be read: {exc.strerror or exc}") from None


def _from_folder(root: Path) -> tuple[list[Candidate], list[tuple[str, str]]]:
    candidates: list[Candidate] = []
    skipped: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_PARTS and not d.startswith("."))
        for name in sorted(filenames):
            full = Path(dirpath) / name
            relative = full.relative_to(root).parts
            if name == "timestamp.txt" or name.startswith("."):
                continue
            if full.is_symlink():
                skipped.append(("/".join(relative), "a symbolic link"))
                continue
            if not name.lower().endswith(".ipynb"):
                skipped.append(("/".join(relative), "not a notebook"))
                continue
            if full.stat().st_size > MAX_NOTEBOOK_BYTES:
                skipped.append(("/".join(relative), "larger than 50 MB"))
                continue
            stamp_file = full.parent / "timestamp.txt"
            stamp = stamp_file.read_text(encoding="utf-8", errors="replace") if stamp_file.is_file() else None
            when = datetime.fromtimestamp(full.stat().st_mtime, tz=UTC)
            candidates.append(_candidate(relative, when, lambda full=full: _read_file(full), stamp))
    return candidates, skipped


@dataclass(frozen=True)
class _Roster:
    ids: frozenset[str]
    by_lms: dict[str, str]
    by_name: dict[str, str]


def _roster(course: Course) -> _Roster:
    with gradebook(course) as gb:
        students = [(s.id, s.lms_user_id, s.first_name, s.last_name) for s in gb.students]
    by_name: dict[str, str] = {}
    ambiguous: set[str] = set()
    for sid, _, first, last in students:
        key = _squash(f"{last or ''}{first or ''}")
        if key:
            if key in by_name:
                ambiguous.add(key)
            by_name[key] = sid
    for key in ambiguous:
        by_name.pop(key)
    return _Roster(
        ids=frozenset(s[0] for s in students),
        by_lms={str(lms): sid for sid, lms, _, _ in students if lms},
        by_name=by_name,
    )


def _match(candidate: Candidate, roster: _Roster, assignment: str) -> str | None:
    if candidate.lms_user_id:
        if candidate.lms_user_id in roster.by_lms:
            return roster.by_lms[candidate.lms_user_id]
        if candidate.lms_user_id in roster.ids:
            return candidate.lms_user_id
        return roster.by_name.get(_squash(candidate.name_hint or ""))
    tokens = (candidate.learner_hint or "").split("/")
    for token in tokens:
        if token in roster.ids:
            return token
    stem = tokens[-1] if tokens else ""
    for suffix in (f"_{assignment}", f"-{assignment}"):
        if stem.endswith(suffix) and stem[: -len(suffix)] in roster.ids:
            return stem[: -len(suffix)]
    return None


def _write_submission(course: Course, learner: str, assignment: str, notebook: str,
                      content: bytes, timestamp: datetime) -> Path:
    """Swap in submitted/<learner>/<assignment>/ atomically: notebook + nbgrader's timestamp.txt.

    Built in a locked hidden sibling and exchanged in one step (datasets.atomic); what a killed
    collection left behind is removed first, so a reader sees the old submission or the new one.
    """
    target = course.path("submitted", learner, assignment)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic.clean_stale(target)
        building = atomic.LockedTempDir(target)
    except OSError as exc:
        raise CollectError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        (building.path / notebook).write_bytes(content)
        (building.path / "timestamp.txt").write_text(timestamp.strftime(TIMESTAMP_FORMAT), encoding="utf-8")
        old = atomic.replace_folder(building.path, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(building.path, ignore_errors=True)
        raise CollectError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(building.path, ignore_errors=True)
        raise
    finally:
        building.close()
    return target / notebook


def _existing_timestamp(course: Course, learner: str, assignment: str) -> datetime | None:
    stamp = course.path("submitted", learner, assignment, "timestamp.txt")
    if not stamp.is_file():
        return None
    try:
        return datetime.strptime(stamp.read_text(encoding="utf-8").strip(), TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _looks_like_notebook(content: bytes) -> bool:
    try:
        data = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and isinstance(data.get("cells"), list)


def collect(course: Course | Path | str | None, source: Path | str, assignment: str) -> CollectReport:
    """Copy the latest submission of every matched learner into submitted/; report the rest."""
    course = course if isinstance(course, Course) else find_course(course=course)
    spec = course.assignment(assignment)
    source = Path(source).expanduser()
    if not source.exists():
        raise CollectError(f"{source}: no such file or folder")
    if source.is_dir():
        candidates, skipped = _from_folder(source)
    elif zipfile.is_zipfile(source):
        candidates, skipped = _from_zip(source)
    else:
        raise CollectError(f"{source}: expected a folder of submissions or a .zip file")
    report = CollectReport(assignment=assignment, skipped=skipped)
    roster = _roster(course)
    attempts: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        learner = _match(candidate, roster, assignment)
        if learner is None:
            report.unmatched.append(candidate.origin)
            continue
        attempts.setdefault(learner, []).append(candidate)
    from grader.review import due_date

    due = due_date(course, assignment)
    late_marked: list[str] = []
    file_times: list[datetime] = []
    for learner, found in sorted(attempts.items()):
        found.sort(key=lambda c: (c.attempt, c.timestamp), reverse=True)
        chosen: tuple[Candidate, bytes] | None = None
        for candidate in found:
            if chosen is not None:
                report.skipped.append((candidate.origin, f"an earlier attempt of {learner}"))
                continue
            try:
                chosen = (candidate, candidate.read())
            except _UnreadableMember as exc:  # reported; an earlier attempt may still be readable
                report.skipped.append((candidate.origin, str(exc)))
        if chosen is None:
            continue
        candidate, content = chosen
        timestamp = _submission_time(candidate, due)
        previous = _existing_timestamp(course, learner, assignment)
        if previous is not None and previous > timestamp:
            report.skipped.append((candidate.origin, f"older than the submission of {learner} already collected"))
            continue
        if not _looks_like_notebook(content):
            report.warnings.append(f"{candidate.origin}: not a valid notebook; collected, it will grade with a comment")
        report.collected[learner] = _write_submission(course, learner, assignment, spec.notebook, content, timestamp)
        if candidate.late:
            late_marked.append(learner)
        elif candidate.late is None and not candidate.stamped:
            file_times.append(candidate.timestamp)
    report.warnings += _time_warnings(assignment, due, late_marked, file_times)
    return report


def _submission_time(candidate: Candidate, due: datetime | None) -> datetime:
    """When the submission counts as handed in, for nbgrader's late penalty.

    A Canvas download writes every member with the time of the download, so a Canvas name's zip
    time says nothing: its `LATE` token is the LMS's verdict. On time: the due date at the latest;
    LATE: one second after it (one started day late, as far as the file tells). Other files keep
    their timestamp.txt or their own time."""
    if candidate.late is None or due is None:
        return candidate.timestamp
    if candidate.late:
        return due + timedelta(seconds=1)
    return min(candidate.timestamp, due)


def _time_warnings(assignment: str, due: datetime | None, late_marked: list[str],
                   file_times: list[datetime]) -> list[str]:
    warnings = []
    if late_marked and due is None:
        warnings.append(f"Canvas marks {len(late_marked)} submission(s) LATE ({', '.join(late_marked)}), but "
                        f"{assignment} has no due date, so no late penalty applies: set [assignments.{assignment}] "
                        "due in theater.toml")
    elif late_marked:
        warnings.append(f"Canvas marks {len(late_marked)} submission(s) LATE ({', '.join(late_marked)}): recorded as "
                        "handed in just after the due date (one day late); for a later time write it into "
                        f"submitted/<learner>/{assignment}/timestamp.txt, or override the grade")
    if due is not None and len(file_times) >= 2 and min(file_times) > due \
            and max(file_times) - min(file_times) <= timedelta(seconds=SAME_TIME_SECONDS):
        warnings.append(f"all {len(file_times)} submissions carry the same file time "
                        f"({min(file_times):%Y-%m-%d %H:%M} UTC), after the due date: that looks like the time "
                        "they were copied or downloaded, not submitted, and every one will count as late. "
                        "Copy with times kept (cp -p, rsync -t), add a timestamp.txt per learner, or use the "
                        "LMS's own download")
    return warnings
