"""`theater grade`: sandboxed, parallel, resumable autograding into nbgrader's gradebook.

For each submitted/<learner>/<assignment>/ notebook, one Dask task runs `grade_one` on a worker
(an embedded LocalCluster, or an existing cluster named by --scheduler / theater.toml):
1. repair: the notebook is rebuilt on the released student version — read-only and test cells
   come from the release (as nbgrader's OverwriteCells does, but never with hidden tests: nothing
   hidden is ever inside the sandbox), answer cells from the learner; malformed files are graded
   with a clear comment instead of crashing the batch;
2. execute in the sandbox (grader.sandbox) with only the learner's released data bound in;
3. score, in the worker but outside the kernel: the answer artifacts against that learner's truth
   regenerated from the learner's seed (exercises.checks), written into the graded cells as
   partial credit.
The task carries everything it needs (`Job`), so a worker needs neither the course directory nor
the course secret. Only the submitting process then writes autograded/<learner>/<assignment>/,
the gradebook, and finally a grading record (.theater/grading/<assignment>/<learner>.json) —
atomically, in that order. A submission whose record matches its content is not graded again,
so a batch killed halfway (or a worker lost) and run again loses nothing and counts nothing twice.
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import stat
import sys
import tempfile
import uuid
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

# jsonschema (nbformat's validator) builds an IRI grammar with lark at import when the optional
# rfc3987_syntax package is installed: 2-3 s in every fresh grading worker, for a format check
# notebooks never use (the app skips it the same way in course/app.py).
sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402
from nbformat import NotebookNode

from datasets.errors import UserError
from exercises.assignments import Assignment, DataSpec, json_depth
from grader.copydetect import detect_copies
from grader.integrity import Flag, edited_cells, scan_outputs, scan_sources
from grader.sandbox import ISOLATION_BWRAP, Limits, RunResult, first_error, probe_isolation, run_notebook_sandboxed
from grader.scoring import fill_grade_cells, jsonable, score_submission
from grader.settings import LOCAL_SCHEDULER, SCHEDULER_SCHEMES, check_scheduler  # noqa: F401 (names kept here)

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
LARGE_NOTEBOOK_BYTES = 2 * 1024 * 1024
MAX_NOTEBOOK_DEPTH = 64  # a notebook's JSON nests about 8 deep; deeper only exhausts the parser
MAX_CELLS = 2000  # the course's notebooks have about 30
RECORD_VERSION = 1
COPY_READERS = ("json_set", "json_number", "json_object")
LOG = logging.getLogger(__name__)
NOT_RUN = "not-run"  # isolation of a submission with nothing of the learner's to execute


class GradeError(UserError):
    """The assignment cannot be graded (not released, unknown, no course)."""


@dataclass
class LearnerGrade:
    learner: str
    score: float
    max_score: float
    parts: dict[str, float] = field(default_factory=dict)
    status: str = "graded"  # graded | resumed | error
    isolation: str = ""
    isolation_detail: str = ""
    integrity_flags: list[str] = field(default_factory=list)
    copy_flags: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    seconds: float = 0.0
    final: float | None = None  # what export writes: overrides win, the late penalty off (None: as `score`)
    adjustments: list[str] = field(default_factory=list)  # why `final` differs from the autograder's `score`
    to_grade: list[str] = field(default_factory=list)  # rubric parts waiting for a person (grader.rubric)


@dataclass
class GradeReport:
    assignment: str
    isolation: str
    learners: dict[str, LearnerGrade] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def errors(self) -> dict[str, LearnerGrade]:
        return {k: v for k, v in self.learners.items() if v.status == "error"}

    def summary(self) -> str:
        graded = sum(1 for g in self.learners.values() if g.status == "graded")
        resumed = sum(1 for g in self.learners.values() if g.status == "resumed")
        flagged = sum(1 for g in self.learners.values() if g.integrity_flags or g.copy_flags)
        isolations = sorted({g.isolation for g in self.learners.values() if g.isolation}) or [self.isolation]
        text = (f"{self.assignment}: {graded} graded, {resumed} unchanged since last run, "
                f"{len(self.errors)} failed, {flagged} flagged for review; isolation: {', '.join(isolations)}; "
                f"{self.seconds:.1f} s")
        for learner, g in sorted(self.learners.items()):
            shown = g.score if g.final is None or not g.adjustments else g.final
            line = f"\n  {learner}: {shown:g}/{g.max_score:g} [{g.status}, {g.isolation or '-'}]"
            notes = ([f"autograder {g.score:g}, " + ", ".join(g.adjustments)] if g.adjustments and g.final is not None
                     else [])
            notes += [f"needs a manual grade: {', '.join(g.to_grade)}"] if g.to_grade else []
            notes += g.comments + [f"integrity: {f}" for f in g.integrity_flags] + [f"copy: {f}" for f in g.copy_flags]
            if notes:
                line += " — " + "; ".join(notes)
            text += line
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"assignment": self.assignment, "isolation": self.isolation, "seconds": self.seconds,
                "learners": {k: asdict(v) for k, v in self.learners.items()}}


# ---------------------------------------------------------------------------------------------
# repair


def _nbgrader_meta(cell: Any) -> dict:
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    value = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return value if isinstance(value, dict) else {}


def _source_text(cell: Any) -> str:
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(source, list):
        source = "".join(str(s) for s in source)
    return source if isinstance(source, str) else ""


def _clean_cell(cell: NotebookNode) -> NotebookNode:
    """A copy without outputs or execution counts: nothing the learner computed survives into grading."""
    copy = nbformat.from_dict(json.loads(json.dumps(cell)))
    if copy.get("cell_type") == "code":
        copy["outputs"] = []
        copy["execution_count"] = None
    return copy


def _answered(cell: dict, reference: dict) -> bool:
    """An answer cell copy that holds something other than the released stub."""
    source = _source_text(cell).strip()
    return bool(source) and source != _source_text(reference).strip()


def repair_notebook(raw: bytes | None, student: NotebookNode) -> tuple[NotebookNode, list[str], list[Flag], list[tuple[str, str]]]:
    """Rebuild a submission on the released notebook.

    Returns the notebook to run, comments for the learner, integrity flags (edited read-only
    cells) and the learner-written code cells as (where, source) for the static scan.
    """
    comments: list[str] = []
    learner_cells: list[dict] = []
    if raw is None:
        comments.append("no notebook was submitted: graded as an empty submission")
    elif len(raw) > MAX_NOTEBOOK_BYTES:
        comments.append(f"the notebook is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB: graded as empty")
    else:
        data = None
        depth = json_depth(raw)
        if depth > MAX_NOTEBOOK_DEPTH:
            comments.append(f"the notebook file nests {depth:,} levels deep; at most {MAX_NOTEBOOK_DEPTH}: graded as empty")
        else:
            try:
                data = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                comments.append("the notebook file is not valid JSON: graded as empty")
        if data is not None:
            if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
                comments.append("the file is not a Jupyter notebook (no cell list): graded as empty")
            elif len(data["cells"]) > MAX_CELLS:
                comments.append(f"the notebook has {len(data['cells']):,} cells; at most {MAX_CELLS:,}: graded as empty")
            else:
                if data.get("nbformat") != 4:
                    version = data.get("nbformat")
                    shown = version if isinstance(version, int) else repr(str(version)[:20])
                    comments.append(f"notebook format {shown} is not 4: cells were read as far as possible")
                learner_cells = [c for c in data["cells"] if isinstance(c, dict)]
                if len(raw) > LARGE_NOTEBOOK_BYTES:
                    comments.append(f"the submitted notebook holds {len(raw) / 2**20:.1f} MB of outputs or data: "
                                    "they were discarded and the notebook was run afresh")
                if not learner_cells:
                    comments.append("the notebook has no cells: graded as empty")

    release_ids = [(_nbgrader_meta(c).get("grade_id"), c) for c in student.cells]
    by_id = {gid: cell for gid, cell in release_ids if gid}
    locked_reference = {gid: _source_text(c) for gid, c in by_id.items()
                        if not _nbgrader_meta(c).get("solution")}
    chosen: dict[str, dict] = {}
    extras: dict[str | None, list[dict]] = {}
    submitted_locked: list[tuple[str, str]] = []
    last: str | None = None
    duplicates: set[str] = set()
    for cell in learner_cells:
        gid = _nbgrader_meta(cell).get("grade_id")
        if isinstance(gid, str) and gid in by_id:
            if gid in chosen:
                duplicates.add(gid)
                if gid not in locked_reference and not _answered(chosen[gid], by_id[gid]) \
                        and _answered(cell, by_id[gid]):
                    chosen[gid] = cell  # an empty first copy must not hide the answer written below it
                continue
            chosen[gid] = cell
            last = gid
            if gid in locked_reference:
                submitted_locked.append((gid, _source_text(cell)))
        else:
            extras.setdefault(last, []).append(cell)
    if duplicates:
        comments.append("duplicated cells: one copy of each was kept (the first one holding an answer): "
                        f"{', '.join(sorted(duplicates))}")

    flags = edited_cells(submitted_locked, locked_reference)
    if learner_cells:
        missing_locked = sorted(set(locked_reference) - set(chosen))
        if missing_locked:
            comments.append(f"deleted read-only cells were restored: {', '.join(missing_locked)}")

    cells: list[NotebookNode] = []
    learner_code: list[tuple[str, str]] = []  # code the learner wrote or changed: scanned, and worth running
    released_free_code = {_source_text(c).strip() for gid, c in release_ids if not gid and c.get("cell_type") == "code"}
    missing_answers, retyped = [], []

    def add_extras(after: str | None) -> None:
        for index, extra in enumerate(extras.get(after, [])):
            ctype = extra.get("cell_type")
            if ctype not in ("code", "markdown", "raw"):
                continue
            source = _source_text(extra)
            if ctype == "code":
                new = nbformat.v4.new_code_cell(source)
                if source.strip() not in released_free_code:
                    learner_code.append((f"added cell after {after or 'start'} #{index + 1}", source))
            elif ctype == "markdown":
                new = nbformat.v4.new_markdown_cell(source)
            else:
                new = nbformat.v4.new_raw_cell(source)
            cells.append(new)  # no nbgrader metadata: an added cell can never carry points

    add_extras(None)
    for gid, reference in release_ids:
        if not gid and learner_cells:
            continue  # cells nbgrader does not manage are the learner's own (kept among the extras)
        cell = _clean_cell(reference)
        meta = _nbgrader_meta(reference)
        if gid and meta.get("solution") and gid in chosen:
            theirs = chosen[gid]
            if theirs.get("cell_type") != reference.get("cell_type"):
                retyped.append(gid)
            else:
                cell["source"] = _source_text(theirs)
                if cell.get("cell_type") == "code" and cell["source"].strip() != _source_text(reference).strip():
                    learner_code.append((gid, cell["source"]))
        elif gid and meta.get("solution") and learner_cells:
            missing_answers.append(gid)
        cells.append(cell)
        if gid:
            add_extras(gid)
    if missing_answers:
        comments.append(f"answer cells missing from the submission (left empty): {', '.join(missing_answers)}")
    if retyped:
        comments.append(f"answer cells whose type was changed (left empty): {', '.join(retyped)}")
    if flags:
        comments.append(f"edited read-only cells were restored: {', '.join(f.where for f in flags)}")
    nb = nbformat.v4.new_notebook(cells=cells, metadata=json.loads(json.dumps(student.get("metadata", {}))))
    return nb, comments, flags, learner_code


# ---------------------------------------------------------------------------------------------
# one submission, in a worker process


@dataclass
class Job:
    """Everything a worker needs to grade one submission, so it can run on a machine without the course.

    It never holds the course secret: `seed` (HMAC(secret, learner)) regenerates this learner's
    company and no one else's. `data_dir` is the released data on the grader's own disk, set only
    when the worker shares that disk (in-process and the embedded LocalCluster).
    """

    assignment: Assignment
    learner: str
    notebook: bytes | None  # the submitted file, at most MAX_NOTEBOOK_BYTES + 1 bytes; None if absent
    student_json: str  # the released student version
    data: DataSpec
    seed: int
    generator_version: str
    limits: Limits
    isolation: str  # what the grader requires; a worker that cannot provide it refuses the job
    data_dir: str | None = None


@dataclass
class Outcome:
    learner: str
    ok: bool
    notebook_json: str = ""
    parts: dict[str, dict] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    isolation: str = ""
    isolation_detail: str = ""
    answers: dict[str, Any] = field(default_factory=dict)
    truths: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""
    worker: str = ""
    written: dict[str, str] = field(default_factory=dict)  # rubric part -> sha256 of the learner's answer text


_COMPANIES: dict[tuple[DataSpec, int], Any] = {}


def _company(spec: DataSpec, seed: int) -> Any:
    """The learner's company with labels, generated once per worker process."""
    from grader.course_dir import company_for_seed

    key = (spec, seed)
    if key not in _COMPANIES:
        _COMPANIES.clear()
        _COMPANIES[key] = company_for_seed(spec, seed)
    return _COMPANIES[key]


def _write_data(spec: DataSpec, seed: int, into: Path) -> Path:
    """The learner's released data without labels, regenerated where outbound/ is not at hand."""
    from grader.course_dir import write_spec_data

    return write_spec_data(spec, _company(spec, seed), into / "data")


def _materialise_data(course: Any, assignment: Any, learner: str, into: Path) -> Path:
    """What a worker without the course writes for `learner` (the app's tests compare it to the release)."""
    from grader.course_dir import check_generator, learner_seed

    check_generator(course, assignment)
    return _write_data(course.data_spec(assignment), learner_seed(course, learner), into)


def _refusal(job: Job) -> str:
    """Why this worker must not grade the job (empty when it may): a weaker sandbox or another generator."""
    from datasets.pipeline import GENERATOR_VERSION

    here = socket.gethostname()
    if job.isolation == ISOLATION_BWRAP and probe_isolation() != ISOLATION_BWRAP:
        return (f"worker {here} cannot run the bubblewrap sandbox (install bubblewrap, or check that it may "
                "create namespaces): not graded without it")
    if job.generator_version != GENERATOR_VERSION:
        return (f"worker {here} has dataset generator {GENERATOR_VERSION}, the release was made with "
                f"{job.generator_version}: install the grader's version of theater on the worker")
    return ""


SCRATCH_PREFIX = "theater-grade-"
# Before folders carried their host and process (theater-grade-<8 random characters>): one that old
# is no running grade's (every run has a time limit far below this).
_LEGACY_SCRATCH = re.compile(r"theater-grade-[a-z0-9_]{8}")
LEGACY_SCRATCH_SECONDS = 24 * 3600


def _scratch_prefix() -> str:
    """theater-grade-<host>-: a temporary folder shared by several machines keeps each host's apart."""
    return f"{SCRATCH_PREFIX}{hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]}-"


def new_scratch() -> Path:
    """A private temporary folder for one submission's run, named after this host and process
    (theater-grade-<host>-<pid>-…) so a later run can tell one whose grading was killed from one
    still in use."""
    return Path(tempfile.mkdtemp(prefix=f"{_scratch_prefix()}{os.getpid()}-"))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale_scratch(folder: Path | None = None) -> list[Path]:
    """Delete the scratch folders of gradings on this host whose process is gone: a grade killed
    mid-run (a stopped app, a lost Dask worker, kill -9) cannot clean up after itself, and its folder
    holds the learner's notebook and data. Only our own folders (this user's, this host's, a dead
    process's; never a symlink) are touched. Returns the folders removed."""
    base = Path(folder) if folder is not None else Path(tempfile.gettempdir())
    prefix = _scratch_prefix()
    removed: list[Path] = []
    for path in base.glob(f"{SCRATCH_PREFIX}*"):
        try:
            info = path.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue
        if path.name.startswith(prefix):
            pid = path.name[len(prefix):].split("-", 1)[0]
            if not pid.isdigit() or _process_alive(int(pid)):
                continue
        elif not (_LEGACY_SCRATCH.fullmatch(path.name)
                  and time.time() - info.st_mtime > LEGACY_SCRATCH_SECONDS):
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    if removed:
        LOG.warning("removed %d scratch folder(s) left by killed gradings", len(removed))
    return removed


def grade_one(job: Job) -> Outcome:
    """Repair, run in the sandbox, score outside it. Never raises: failures become an Outcome."""
    started = time.monotonic()
    outcome = Outcome(learner=job.learner, ok=False, worker=socket.gethostname())
    remove_stale_scratch()  # a killed grade's folder on this host goes before a new one is made
    scratch = new_scratch()
    try:
        refusal = _refusal(job)
        if refusal:
            outcome.error = refusal
            return outcome
        assignment = job.assignment
        student = nbformat.reads(job.student_json, as_version=4)
        nb, comments, flags, learner_code = repair_notebook(job.notebook, student)
        flags = flags + scan_sources(learner_code)
        workdir = scratch / "work"
        workdir.mkdir()
        if not assignment.graded:  # every part is read by a person (grader.rubric): nothing runs, nothing is generated
            company = None
            run = RunResult(notebook=nb, isolation=NOT_RUN, problems=[])
        elif learner_code:
            data_dir = Path(job.data_dir) if job.data_dir else _write_data(job.data, job.seed, scratch)
            with futures.ThreadPoolExecutor(max_workers=1) as helper:
                # the truth is regenerated while the kernel runs (it mostly waits on another process)
                company = helper.submit(_company, job.data, job.seed)
                run = run_notebook_sandboxed(nb, workdir, data_dir, job.limits, job.isolation)
                company = company.result()
        else:  # nbgrader's "No response": nothing the learner wrote would run, so nothing runs
            company = _company(job.data, job.seed)
            run = RunResult(notebook=nb, isolation=NOT_RUN,
                            problems=["no response: no answer cell differs from the released notebook, so it was not run"])
        comments += run.problems
        flags += scan_outputs(run.notebook)
        truths: dict[str, Any] = {}
        scores, answers = score_submission(assignment, workdir, company, truths)
        if run.isolation != NOT_RUN and assignment.graded and all(
                answers.get(part.grade_id) is None for part in assignment.graded):
            error = first_error(run.notebook)
            comments.append(f"no answer file was written; the first error in the run: {error}" if error else
                            "the run raised no error but left no answer file in answers/")
        fill_grade_cells(run.notebook, scores)
        _add_grader_notes(run.notebook, comments, flags)
        outcome.notebook_json = nbformat.writes(run.notebook)
        outcome.parts = {k: asdict(v) for k, v in scores.items()}
        outcome.comments = comments
        outcome.flags = [str(f) for f in flags]
        outcome.isolation = run.isolation
        outcome.isolation_detail = (run.isolation_detail if run.isolation != NOT_RUN else
                                    "not executed (no response)" if assignment.graded else
                                    "not executed (graded by a person against the rubric)")
        outcome.written = written_answers(run.notebook, assignment)
        for part in assignment.graded:
            if part.reader in COPY_READERS:
                outcome.answers[part.grade_id] = jsonable(answers.get(part.grade_id))
                outcome.truths[part.grade_id] = jsonable(truths.get(part.truth))
        outcome.ok = True
    except Exception as exc:  # noqa: BLE001 - one submission never stops the batch
        outcome.error = f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        outcome.seconds = time.monotonic() - started
    return outcome


def written_answers(nb: NotebookNode, assignment: Assignment) -> dict[str, str]:
    """sha256 of each rubric part's answer text: a changed memo sends its parts back to the grader."""
    wanted = {part.grade_id for part in assignment.rubric}
    found = {}
    for cell in nb.cells:
        grade_id = _nbgrader_meta(cell).get("grade_id")
        if grade_id in wanted:
            found[grade_id] = hashlib.sha256(_source_text(cell).encode("utf-8")).hexdigest()
    return found


def _add_grader_notes(nb: NotebookNode, comments: list[str], flags: list[Flag]) -> None:
    """A first markdown cell telling the learner what the grader did to their submission."""
    if not comments and not flags:
        return
    lines = ["**Grader notes**", ""]
    lines += [f"- {c}" for c in comments]
    lines += [f"- integrity: {f}" for f in flags]
    cell = nbformat.v4.new_markdown_cell("\n".join(lines))
    cell.metadata["theater"] = {"kind": "grader"}  # feedback trusts only this mark; added cells never carry metadata
    nb.cells.insert(0, cell)


# ---------------------------------------------------------------------------------------------
# the batch, in the main process


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _student_version(course: Any, assignment: Any) -> NotebookNode:
    """The released notebook (no solutions, no hidden tests); refuses an unreleased assignment."""
    release = course.path("release", assignment.name, assignment.notebook)
    if not release.is_file():
        raise GradeError(f"{assignment.name} has not been released (no {release}): run `theater assign` first")
    return nbformat.read(release, as_version=4)


def _submission_digest(submitted_dir: Path, notebook: str, fingerprint: str) -> str:
    """What a grading record is valid for: the submission's bytes, its timestamp and the release."""
    digest = hashlib.sha256(fingerprint.encode())
    for name in (notebook, "timestamp.txt"):
        path = submitted_dir / name
        digest.update(name.encode())
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def _record_path(course: Any, assignment: str, learner: str) -> Path:
    return course.state_dir / "grading" / assignment / f"{learner}.json"


def _read_record(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("version") == RECORD_VERSION else None


def _timestamp(submitted_dir: Path) -> Any:
    from nbgrader.utils import parse_utc

    path = submitted_dir / "timestamp.txt"
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:  # a timestamp is one short line; never parse more
            return parse_utc(handle.read(200).decode("utf-8").strip())
    except Exception:  # noqa: BLE001 - an unreadable timestamp means "on time", as in nbgrader
        return None


def _save_to_gradebook(gb: Any, assignment: Any, learner: str, parts: dict[str, dict], submitted_dir: Path,
                       late: Any = None, extension: Any = None, changed: set[str] | None = None) -> None:
    """Partial credit, then the late penalty, into nbgrader's gradebook (set, never add: safe to repeat)."""
    from grader.export import set_late_penalty

    notebook_id = Path(assignment.notebook).stem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's update_or_create_submission trips SQLAlchemy warnings
        try:
            _set_scores(gb, assignment, notebook_id, learner, parts, submitted_dir, extension, changed)
            if late is not None:  # the penalty depends on the score just committed
                set_late_penalty(late, gb.find_submission(assignment.name, learner))
                gb.db.commit()
        except BaseException:
            gb.db.rollback()
            raise


def _set_scores(gb: Any, assignment: Any, notebook_id: str, learner: str, parts: dict[str, dict],
                submitted_dir: Path, extension: Any = None, changed: set[str] | None = None) -> None:
    """The student, the submission (with its timestamp and the learner's extension) and each part's auto score.

    A rubric part needs a manual grade (nbgrader's needs_manual_grade) until a person grades it, and
    again when its answer changed since (`changed`: the rubric parts whose text differs; None: all)."""
    gb.update_or_create_student(learner)
    stamp = _timestamp(submitted_dir)
    if stamp is not None:
        gb.update_or_create_submission(assignment.name, learner, timestamp=stamp, extension=extension)
    else:
        gb.update_or_create_submission(assignment.name, learner, extension=extension)
    for grade_id, part in parts.items():
        grade = gb.find_grade(grade_id, notebook_id, assignment.name, learner)
        grade.auto_score = float(part["points"])
        grade.needs_manual_grade = grade.manual_score is not None
    for part in assignment.rubric:
        grade = gb.find_grade(part.grade_id, notebook_id, assignment.name, learner)
        grade.needs_manual_grade = grade.manual_score is None or changed is None or part.grade_id in changed
    gb.db.commit()


def _commit(gb: Any, course: Any, assignment: Any, outcome: Outcome, submitted_dir: Path, digest: str,
            late: Any = None) -> LearnerGrade:
    """autograded/ notebook, then gradebook, then the record: a kill between steps only repeats work."""
    learner = outcome.learner
    target = course.path("autograded", learner, assignment.name)
    target.mkdir(parents=True, exist_ok=True)
    _atomic_write(target / assignment.notebook, outcome.notebook_json.encode("utf-8"))
    stamp = submitted_dir / "timestamp.txt"
    if stamp.is_file() and not stamp.is_symlink():
        _atomic_write(target / "timestamp.txt", stamp.read_bytes()[:200])
    from grader.deadlines import gradebook_extension

    extension = gradebook_extension(course, assignment.name, learner, gb.find_assignment(assignment.name).duedate)
    before = (_read_record(_record_path(course, assignment.name, learner)) or {}).get("written") or {}
    changed = {part for part, digest in outcome.written.items() if before.get(part) != digest}
    _save_to_gradebook(gb, assignment, learner, outcome.parts, submitted_dir, late, extension, changed)
    grade = LearnerGrade(
        learner=learner,
        score=round(sum(p["points"] for p in outcome.parts.values()), 4),
        max_score=assignment.max_score,
        parts={k: p["points"] for k, p in outcome.parts.items()},
        isolation=outcome.isolation,
        isolation_detail=outcome.isolation_detail,
        integrity_flags=list(outcome.flags),
        comments=list(outcome.comments),
        seconds=round(outcome.seconds, 2),
    )
    record = {"version": RECORD_VERSION, "digest": digest, "grade": asdict(grade), "parts": outcome.parts,
              "answers": outcome.answers, "truths": outcome.truths, "written": outcome.written,
              "checks": {p.grade_id: p.check for p in assignment.graded}}
    _atomic_write(_record_path(course, assignment.name, learner), json.dumps(record, indent=1).encode("utf-8"))
    return grade


def _open_gradebook(course: Any, assignment: Any) -> tuple[Any, Any]:
    """The batch's gradebook connection, with theater.toml's due date, and the course's late-penalty plugin."""
    from grader.course_dir import gradebook
    from grader.deadlines import late_plugin_for

    book = gradebook(course)
    due = course.settings_for(assignment.name).due
    if due:
        book.update_or_create_assignment(assignment.name, duedate=f"{due:%Y-%m-%d %H:%M:%S} UTC")
    return book, late_plugin_for(course, assignment.name)


def _learners(course: Any, assignment: str, only: list[str] | None) -> list[str]:
    """Learners with a submission: folders named by the one learner-id rule (others are not learners)."""
    from grader.course_dir import is_learner_id, validate_learner_id

    submitted = course.path("submitted")
    found = sorted(p.parent.name for p in submitted.glob(f"*/{assignment}") if p.is_dir())
    if only is None:
        return [learner for learner in found if is_learner_id(learner)]
    for learner in only:
        validate_learner_id(learner)
    missing = sorted(set(only) - set(found))
    if missing:
        raise GradeError(f"no submission of {assignment} for: {', '.join(missing)}")
    return sorted(set(only))


# ---------------------------------------------------------------------------------------------
# where the grading runs: in this process, an embedded Dask LocalCluster, or an existing cluster

CONNECT_TIMEOUT = 10  # seconds to reach a scheduler before saying it is unreachable
WORKER_WAIT = 60  # seconds to wait for a cluster's first worker
ALLOWED_FAILURES = 2  # a submission whose worker dies 3 times is reported, not tried forever


def scheduler_address(value: Any, where: str = "--scheduler") -> str | None:
    """A Dask scheduler address as given by a user; None for "local" (this machine) or nothing."""
    try:
        return check_scheduler(value)
    except ValueError as exc:
        raise GradeError(f"{where}: {exc}") from None


def grading_scheduler(course: Any) -> str | None:
    """Where the course's grading runs: theater.toml's `[grading] scheduler`, or None for this machine.

    The app and `theater grade` pass it to `grade(..., scheduler=...)`.
    """
    return scheduler_address(course.config.grading.scheduler)  # checked when the course opened


@contextlib.contextmanager
def _dask_client(workers: int, jobs: int, scheduler: str | None) -> Iterator[Any]:
    """A Dask client: on an embedded LocalCluster (one single-threaded process per worker) or `scheduler`."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler is None:
        # The scheduler runs in this process, so its settings are ours; workers are its child processes
        # and exit as soon as this process is gone, even after a kill -9 (distributed's parent pipe).
        with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
            cluster = LocalCluster(n_workers=min(workers, jobs), threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR,
                                   # its health/metrics server on a free local port, never a fixed one
                                   scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise GradeError(f"cannot reach the Dask scheduler at {scheduler}: {reason}") from None
    try:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT)
        except TimeoutError:
            raise GradeError(f"the Dask scheduler at {scheduler} has had no worker for {WORKER_WAIT} s: "
                             f"start `dask worker {scheduler}` on a machine with bubblewrap") from None
        yield client
    finally:
        client.close()


def _run_jobs(jobs: Iterable[tuple[Job, Any]], count: int, workers: int,
              scheduler: str | None = None) -> Iterator[tuple[Any, Outcome]]:
    """Yield (tag, outcome) as submissions finish; a task that fails or kills its worker fails only itself.

    One submission with no cluster named is graded in this process (no cluster to start). Otherwise
    each job is a Dask task; at most two per worker thread are handed out at a time, so a big class
    never holds every notebook in memory at once.
    """
    if scheduler is None and (workers == 1 or count <= 1):
        for job, tag in jobs:
            yield tag, grade_one(job)
        return
    from distributed import as_completed

    with _dask_client(workers, count, scheduler) as client:
        queue = iter(jobs)
        tags: dict[str, tuple[str, Any]] = {}
        running = as_completed()

        def submit_next() -> bool:
            item = next(queue, None)
            if item is None:
                return False
            job, tag = item
            key = f"grade-{job.assignment.name}-{job.learner}-{uuid.uuid4().hex[:12]}"
            tags[key] = (job.learner, tag)
            running.add(client.submit(grade_one, job, key=key, pure=False))
            return True

        window = max(2, 2 * sum(client.nthreads().values()))
        while len(tags) < window and submit_next():
            pass
        for future in running:
            learner, tag = tags.pop(future.key)
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - a task that raised, or whose workers kept dying
                outcome = Outcome(learner=learner, ok=False,
                                  error=f"the cluster could not grade it: {type(exc).__name__}: {str(exc)[:300]}")
            future.release()
            window = max(window, 2 * sum(client.nthreads().values()))  # a cluster may grow while grading
            while len(tags) < window and submit_next():
                pass
            yield tag, outcome


@dataclass
class _Pending:
    """A submission to grade and what its grading record will be valid for."""

    learner: str
    submitted_dir: Path
    digest: str


def _read_notebook(path: Path) -> bytes | None:
    """The submitted notebook's bytes, one more than the size limit at most (repair refuses bigger ones)."""
    if not path.is_file() or path.is_symlink():
        return None
    with open(path, "rb") as handle:
        return handle.read(MAX_NOTEBOOK_BYTES + 1)


def grade(
    course_dir: Path | str,
    assignment: str,
    workers: int = 2,
    learners: list[str] | None = None,
    progress: bool = True,
    limits: Limits | None = None,
    isolation: str | None = None,
    force: bool = False,
    on_result: Callable[[LearnerGrade, int, int], None] | None = None,
    scheduler: str | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> GradeReport:
    """Grade every submission of `assignment` (or only `learners`); resumable, never stops on one bad submission.

    `force` regrades submissions whose record says they are already graded (a changed check, a
    disputed grade); `on_result(grade, done, total)` is called as each submission is committed, so
    the app can draw a live progress bar with the same function the CLI runs.
    `scheduler` sends the work to an existing Dask cluster (tcp://host:port, see
    `grading_scheduler`); without one, `workers` processes of an embedded LocalCluster grade it, or
    this process alone for a single submission. Only this process writes the gradebook and records.
    `should_stop()` is asked before each commit: once it says yes, nothing more is committed and the
    cluster is closed (a cancelled run; the next run grades the rest).
    A cluster's workers must provide the bubblewrap sandbox unless `isolation` says otherwise.
    """
    from datasets.pipeline import GENERATOR_VERSION
    from grader.course_dir import check_generator, learner_seed, load_secret, open_course

    started = time.monotonic()
    if workers < 1:
        raise GradeError("--workers must be at least 1")
    scheduler = scheduler_address(scheduler)
    course = open_course(course_dir)
    spec = course.assignment(assignment)
    load_secret(course)  # fail early and clearly if the truth cannot be regenerated
    check_generator(course, spec)
    student = _student_version(course, spec)
    student_json = nbformat.writes(student)
    data_spec = course.data_spec(spec)
    fingerprint = hashlib.sha256((student_json + json.dumps(data_spec.as_dict())).encode()).hexdigest()
    # On this machine the sandbox is what the probe finds (a fallback is named per learner); a cluster's
    # workers must each provide bubblewrap, or refuse the job.
    isolation = isolation or (ISOLATION_BWRAP if scheduler else probe_isolation())
    limits = limits or Limits()
    report = GradeReport(assignment=assignment, isolation=isolation)

    pending: list[_Pending] = []
    records: dict[str, dict] = {}
    for learner in _learners(course, assignment, learners):
        submitted_dir = course.path("submitted", learner, assignment)
        digest = _submission_digest(submitted_dir, spec.notebook, fingerprint)
        record = _read_record(_record_path(course, assignment, learner))
        autograded = course.path("autograded", learner, assignment, spec.notebook)
        if not force and record and record.get("digest") == digest and autograded.is_file():
            grade_entry = LearnerGrade(**{**record["grade"], "status": "resumed", "copy_flags": []})
            report.learners[learner] = grade_entry
            records[learner] = record
            continue
        pending.append(_Pending(learner, submitted_dir, digest))

    def jobs() -> Iterator[tuple[Job, _Pending]]:
        """Built as they are handed out: each notebook is read when its task is submitted."""
        for item in pending:
            released = course.path("outbound", item.learner, assignment, "data")
            shared_disk = scheduler is None and released.is_dir()  # a remote worker regenerates the data
            yield Job(assignment=spec, learner=item.learner,
                      notebook=_read_notebook(item.submitted_dir / spec.notebook), student_json=student_json,
                      data=data_spec, seed=learner_seed(course, item.learner),
                      generator_version=GENERATOR_VERSION, limits=limits, isolation=isolation,
                      data_dir=str(released) if shared_disk else None), item

    resumed = len(report.learners)
    bar = None
    if progress and pending:
        from tqdm import tqdm

        tqdm.monitor_interval = 0  # no monitor thread in a process that starts workers
        bar = tqdm(total=len(pending), desc=f"grade {assignment}", unit="notebook")
    book = late = None  # one gradebook connection for the batch, opened when there is something to save
    results = _run_jobs(jobs(), len(pending), workers, scheduler)
    try:
        for item, outcome in results:
            if should_stop is not None and should_stop():
                break
            if outcome.ok:
                if book is None:
                    book, late = _open_gradebook(course, spec)
                grade_entry = _commit(book, course, spec, outcome, item.submitted_dir, item.digest, late)
                records[item.learner] = _read_record(_record_path(course, assignment, item.learner)) or {}
            else:
                grade_entry = LearnerGrade(learner=item.learner, score=0.0, max_score=spec.max_score,
                                           status="error", seconds=round(outcome.seconds, 2),
                                           comments=[f"not graded, will be retried on the next run: {outcome.error}"])
            report.learners[item.learner] = grade_entry
            if bar is not None:
                bar.update(1)
            if on_result is not None:
                on_result(grade_entry, len(report.learners) - resumed, len(pending))
    finally:
        results.close()  # the cluster, if one was started, is closed here
        if book is not None:
            book.close()
        if bar is not None:
            bar.close()

    _flag_copies(report, records, spec)
    _final_scores(course, spec, report)
    report.seconds = round(time.monotonic() - started, 2)
    return report


def _final_scores(course: Any, assignment: Any, report: GradeReport) -> None:
    """Each learner's score as the gradebook and export have it: an instructor's override wins per
    part (nbgrader's Grade.score), then the stored late penalty comes off; the summary shows it."""
    from nbgrader.api import MissingEntry

    from grader.course_dir import gradebook

    learners = sorted(k for k, g in report.learners.items() if g.status != "error")
    if not learners:
        return
    notebook_id = Path(assignment.notebook).stem
    with gradebook(course) as gb:
        for learner in learners:
            entry = report.learners[learner]
            try:
                notebook = gb.find_submission_notebook(notebook_id, assignment.name, learner)
            except MissingEntry:
                continue
            overridden = []
            for part in assignment.graded:
                try:
                    row = gb.find_grade(part.grade_id, notebook_id, assignment.name, learner)
                except MissingEntry:
                    continue
                if row.manual_score is not None:
                    overridden.append(f"{part.grade_id} {float(row.manual_score):g}")
            rubric = []
            entry.to_grade = []
            for part in assignment.rubric:
                try:
                    row = gb.find_grade(part.grade_id, notebook_id, assignment.name, learner)
                except MissingEntry:
                    continue
                if row.manual_score is None or row.needs_manual_grade:
                    entry.to_grade.append(part.grade_id)
                else:
                    rubric.append(f"{part.grade_id} {float(row.manual_score):g}")
            penalty = float(notebook.late_submission_penalty or 0.0)
            entry.final = round(max(0.0, float(notebook.score) - penalty), 4)
            entry.adjustments = ([f"override {', '.join(overridden)}"] if overridden else []) + \
                                ([f"rubric {', '.join(rubric)}"] if rubric else []) + \
                                ([f"late penalty {penalty:g}"] if penalty else [])


def _flag_copies(report: GradeReport, records: dict[str, dict], spec: Assignment) -> None:
    """Copy detection across every graded learner (this run's and earlier runs' records)."""
    answers = {k: r.get("answers") or {} for k, r in records.items()}
    truths = {k: r.get("truths") or {} for k, r in records.items()}
    checks: dict[str, str] = {}
    for record in records.values():
        checks.update(record.get("checks") or {})
    if len(records) < 2:
        return
    for flag in detect_copies(answers, truths, checks, {p.grade_id: p.tolerances for p in spec.graded}):
        if flag.learner in report.learners:
            report.learners[flag.learner].copy_flags.append(str(flag))
