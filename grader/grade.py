"""`theater grade`: sandboxed, parallel, resumable autograding into nbgrader's gradebook.

`grade()` runs one-job steps over every submitted/<learner>/<assignment>/ notebook, in this order:
1. resume (grader.commit): a submission whose grading record matches its content is not graded
   again, so a batch killed halfway (or a worker lost) and run again loses nothing;
2. one Dask task per submission (grader.cluster: an embedded LocalCluster, or an existing cluster
   named by --scheduler / theater.toml) runs `grader.worker.grade_one`, which
   - repairs the notebook on the released student version (grader.repair): nothing hidden is
     ever inside the sandbox, and a malformed file is graded with a clear comment;
   - executes it in the sandbox (grader.sandbox) with only the learner's released data bound in;
   - scores it outside the kernel against that learner's regenerated truth;
   the task carries everything it needs (`Job`), so a worker holds neither the course directory
   nor the course secret;
3. commit (grader.commit): only this process writes autograded/, the gradebook and then the
   grading record, atomically and in that order, as each result arrives;
4. across the class: copy detection, then each learner's final score as the gradebook and export
   have it (overrides, rubric grades, late penalty), into the `GradeReport` (grader.report).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import nbformat
from nbformat import NotebookNode

from exercises.assignments import Assignment
from grader import truth_cache
from grader.cluster import run_jobs, scheduler_address
from grader.commit import commit_outcome, open_gradebook, read_record, record_path, submission_digest
from grader.copydetect import class_copy_flags
from grader.repair import read_notebook
from grader.report import GradeError, GradeReport, LearnerGrade
from grader.sandbox import ISOLATION_BWRAP, Limits, probe_isolation
from grader.worker import Job

# Kept importable from here: the app, the CLI, tests and instructors' scripts use these names.
from grader.cluster import grading_scheduler  # noqa: F401
from grader.repair import MAX_CELLS, MAX_NOTEBOOK_BYTES, MAX_NOTEBOOK_DEPTH, repair_notebook  # noqa: F401
from grader.scratch import SCRATCH_PREFIX, new_scratch, remove_stale_scratch  # noqa: F401
from grader.settings import LOCAL_SCHEDULER, SCHEDULER_SCHEMES, check_scheduler  # noqa: F401
from grader.worker import NOT_RUN, Outcome, grade_one  # noqa: F401


def _student_version(course: Any, assignment: Any) -> NotebookNode:
    """The released notebook (no solutions, no hidden tests); refuses an unreleased assignment."""
    release = course.path("release", assignment.name, assignment.notebook)
    if not release.is_file():
        raise GradeError(f"{assignment.name} has not been released (no {release}): run `theater assign` first")
    return nbformat.read(release, as_version=4)


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


@dataclass
class _Pending:
    """A submission to grade and what its grading record will be valid for."""

    learner: str
    submitted_dir: Path
    digest: str


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
        digest = submission_digest(submitted_dir, spec.notebook, fingerprint)
        record = read_record(record_path(course, assignment, learner))
        autograded = course.path("autograded", learner, assignment, spec.notebook)
        if not force and record and record.get("digest") == digest and autograded.is_file():
            grade_entry = LearnerGrade(**{**record["grade"], "status": "resumed", "copy_flags": []})
            report.learners[learner] = grade_entry
            records[learner] = record
            continue
        pending.append(_Pending(learner, submitted_dir, digest))

    truth_keys: dict[str, tuple] = {}   # learner -> the key their kept truths are stored under

    def jobs() -> Iterator[tuple[Job, _Pending]]:
        """Built as they are handed out: each notebook is read when its task is submitted."""
        for item in pending:
            released = course.path("outbound", item.learner, assignment, "data")
            shared_disk = scheduler is None and released.is_dir()  # a remote worker regenerates the data
            seed = learner_seed(course, item.learner)
            truth_keys[item.learner] = truth_cache.cache_key(spec, data_spec, seed)
            yield Job(assignment=spec, learner=item.learner,
                      notebook=read_notebook(item.submitted_dir / spec.notebook), student_json=student_json,
                      data=data_spec, seed=seed,
                      generator_version=GENERATOR_VERSION, limits=limits, isolation=isolation,
                      data_dir=str(released) if shared_disk else None,
                      truths=truth_cache.load(course.state_dir, spec, item.learner, truth_keys[item.learner])), item

    resumed = len(report.learners)
    bar = None
    if progress and pending:
        from tqdm import tqdm

        tqdm.monitor_interval = 0  # no monitor thread in a process that starts workers
        bar = tqdm(total=len(pending), desc=f"grade {assignment}", unit="notebook")
    book = late = None  # one gradebook connection for the batch, opened when there is something to save
    results = run_jobs(jobs(), len(pending), workers, scheduler)
    try:
        for item, outcome in results:
            if should_stop is not None and should_stop():
                break
            if outcome.ok:
                if outcome.truth_cache:   # computed by this grading: the next one of this learner reads it
                    truth_cache.store(course.state_dir, spec, item.learner, truth_keys[item.learner],
                                      pickle.loads(outcome.truth_cache))
                if book is None:
                    book, late = open_gradebook(course, spec)
                grade_entry = commit_outcome(book, course, spec, outcome, item.submitted_dir, item.digest, late)
                records[item.learner] = read_record(record_path(course, assignment, item.learner)) or {}
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
    tolerances = {p.grade_id: p.tolerances for p in spec.graded}
    for learner, flags in class_copy_flags(records, tolerances).items():
        if learner in report.learners:
            report.learners[learner].copy_flags.extend(flags)
