"""The task a Dask worker runs: grade one submission, knowing nothing of the course.

`grade_one(job)` repairs the notebook (grader.repair), executes it in the sandbox
(grader.sandbox) with only the learner's released data bound in, then scores it in the worker
but outside the kernel: the answer artifacts against that learner's truth, regenerated from the
learner's seed (exercises.checks), written into the graded cells as partial credit. The `Job`
carries everything it needs, so a worker needs neither the course directory nor the course
secret. Dask imports this module by name on every worker, so it must stay importable and inert.
"""

from __future__ import annotations

import concurrent.futures as futures
import hashlib
import pickle
import shutil
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from exercises.assignments import Assignment, DataSpec, GraderReadError
from grader.copydetect import phrase_prints
from grader.integrity import Flag, scan_outputs, scan_sources
from grader.repair import nbgrader_meta, repair_notebook, source_text
from grader.sandbox import ISOLATION_BWRAP, Limits, RunResult, first_error, probe_isolation, run_notebook_sandboxed
from grader.scoring import fill_grade_cells, jsonable, score_submission
from grader.scratch import new_scratch, remove_stale_scratch

COPY_READERS = ("json_set", "json_number", "json_object")  # answers copy detection compares across learners
NOT_RUN = "not-run"  # isolation of a submission with nothing of the learner's to execute


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
    truths: bytes | None = None  # this learner's truths, pickled (grader.truth_cache): no company to regenerate


@dataclass
class Outcome:
    """What a worker sends back: the graded notebook and per-part scores, or why it could not grade."""

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
    phrases: dict[str, list[int]] = field(default_factory=dict)  # rubric part -> its distinctive phrases (copy detection)
    truth_cache: bytes = b""  # the truths this worker computed, pickled, for grader.truth_cache to keep


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
            if job.truths is not None:
                company = None
                run = run_notebook_sandboxed(nb, workdir, data_dir, job.limits, job.isolation)
            else:
                with futures.ThreadPoolExecutor(max_workers=1) as helper:
                    # the truth is regenerated while the kernel runs (it mostly waits on another process)
                    company = helper.submit(_company, job.data, job.seed)
                    run = run_notebook_sandboxed(nb, workdir, data_dir, job.limits, job.isolation)
                    company = company.result()
        else:  # nbgrader's "No response": nothing the learner wrote would run, so nothing runs
            company = None if job.truths is not None else _company(job.data, job.seed)
            run = RunResult(notebook=nb, isolation=NOT_RUN,
                            problems=["no response: no answer cell differs from the released notebook, so it was not run"])
        comments += run.problems
        flags += scan_outputs(run.notebook)
        truths: dict[str, Any] = pickle.loads(job.truths) if job.truths is not None else {}
        scores, answers = score_submission(assignment, workdir, company, truths)
        if job.truths is None and company is not None:
            outcome.truth_cache = pickle.dumps(truths, protocol=pickle.HIGHEST_PROTOCOL)
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
        outcome.phrases = written_phrases(run.notebook, student, assignment)
        for part in assignment.graded:
            if part.reader in COPY_READERS:
                outcome.answers[part.grade_id] = jsonable(answers.get(part.grade_id))
                outcome.truths[part.grade_id] = jsonable(truths.get(part.truth))
        outcome.ok = True
    except GraderReadError as exc:  # the grading machine failed to read an answer: said plainly, retried
        outcome.error = str(exc)[:300]
    except Exception as exc:  # noqa: BLE001 - one submission never stops the batch
        outcome.error = f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        outcome.seconds = time.monotonic() - started
    return outcome


def _rubric_texts(nb: NotebookNode, assignment: Assignment) -> dict[str, str]:
    """The text of each rubric part's cell (the learner's written answers, or the released cells)."""
    wanted = {part.grade_id for part in assignment.rubric}
    return {grade_id: source_text(cell) for cell in nb.cells
            if (grade_id := nbgrader_meta(cell).get("grade_id")) in wanted}


def written_answers(nb: NotebookNode, assignment: Assignment) -> dict[str, str]:
    """sha256 of each rubric part's answer text: a changed memo sends its parts back to the grader."""
    return {grade_id: hashlib.sha256(text.encode("utf-8")).hexdigest()
            for grade_id, text in _rubric_texts(nb, assignment).items()}


def written_phrases(nb: NotebookNode, student: NotebookNode, assignment: Assignment) -> dict[str, list[int]]:
    """Each rubric part's distinctive phrases (grader.copydetect.phrase_prints), without the
    released cell's own words, so two learners who keep the template are not alike by it."""
    released = _rubric_texts(student, assignment)
    return {grade_id: phrase_prints(text, released.get(grade_id, ""))
            for grade_id, text in _rubric_texts(nb, assignment).items()}


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
