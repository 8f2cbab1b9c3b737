"""Feedback pages: each learner's graded notebook as HTML, with nothing a learner must not see.

nbgrader's own feedback shows hidden test source, and tracebacks from hidden tests quote their
lines even when the source is stripped. Here, in order, before rendering with our feedback
template (nbgrader's layout, grader/templates/theater_feedback.html.j2):
1. `strip_hidden_tests`: hidden regions are cut from every autograder-test cell;
2. `redact_test_outputs`: errors and stderr in test cells become one sanitised line (a public
   check's message is kept only when that message is visible in the cell's public part);
3. `redact_leaks`: any output anywhere that quotes a hidden test line (e.g. a learner cell that
   printed IPython's input history) is replaced;
4. `annotate_parts`: each graded part gets a band ("full marks", "close", "not yet": the one ladder
   of exercises.checks.bands) and the check's message, never points: its cell loses the grader's note and the numeric result
   nbgrader reads as partial credit (before step 5, which would make that result a line of text),
   so exact scores stay in the gradebook and the export. Before the learner's submission is final
   (grader.submissions.release) a part gets only its answer's form (found without the truth) and
   the page says when the bands appear;
5. `as_learner_text`: what the learner wrote or printed is shown as text — outputs keep only their
   plain-text form, and markdown the release did not contain is shown as written, in a frame that
   says it is the learner's — so no learner HTML, script or forged "grader" block reaches the page;
6. the rendered body goes through nh3 (an allow-list HTML sanitiser) and the course secret is
   redacted if it appears anywhere.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from datasets.errors import UserError
from exercises.assignments import Assignment, GraderReadError, score_parts
from exercises.checks.bands import EPSILON, LADDER, band_of_credit
from exercises.student_version import HIDDEN_BEGIN, HIDDEN_END
from grader.course_dir import Course, find_course, gradebook, learner_company, load_secret
from grader.rubric import level_message

BEGIN_HIDDEN = HIDDEN_BEGIN  # nbgrader's markers (exercises.student_version)
END_HIDDEN = HIDDEN_END
MIN_LEAK_LINE = 12  # shorter hidden lines (e.g. `)`) would match innocent output


class FeedbackError(UserError):
    """Feedback cannot be generated for this assignment."""


@dataclass
class FeedbackReport:
    assignment: str
    written: dict[str, Path] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        text = f"{self.assignment}: feedback for {len(self.written)} learner(s)"
        if self.failed:
            text += "; failed: " + ", ".join(f"{k} ({v})" for k, v in sorted(self.failed.items()))
        return text


def _meta(cell: Any) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _is_test_cell(cell: Any) -> bool:
    meta = _meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"


def split_hidden(source: str) -> tuple[str, list[str]]:
    """(source without hidden regions, the hidden lines)."""
    kept: list[str] = []
    hidden: list[str] = []
    inside = False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            inside = True
            continue
        if END_HIDDEN in line:
            inside = False
            continue
        (hidden if inside else kept).append(line)
    return "\n".join(kept).rstrip("\n"), hidden


def strip_hidden_tests(nb: Any) -> set[str]:
    """Cut hidden regions from test cells; returns the distinctive hidden lines for leak checks."""
    hidden_lines: set[str] = set()
    for cell in nb.cells:
        if cell.get("cell_type") != "code" or not _meta(cell).get("grade"):
            continue
        public, hidden = split_hidden(cell.source)
        cell.source = public
        hidden_lines.update(h.strip() for h in hidden if len(h.strip()) >= MIN_LEAK_LINE)
    return hidden_lines


def _stream_text(text: Any) -> str:
    return "".join(text) if isinstance(text, list) else str(text or "")


def redact_test_outputs(nb: Any) -> None:
    """Replace errors and stderr in test cells by one line that quotes nothing hidden."""
    for cell in nb.cells:
        if not _is_test_cell(cell):
            continue
        kept = []
        failure: str | None = None
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                message = str(output.get("evalue", "")).strip()
                kind = str(output.get("ename", "")).strip()
                visible = message and message in cell.source
                failure = f"A check failed: {message}" if visible else f"A check in this cell failed ({kind or 'error'})."
            elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                continue
            else:
                kept.append(output)
        if failure:
            kept.append(nbformat.v4.new_output("stream", name="stdout", text=failure + "\n"))
        cell.outputs = kept


def _output_texts(output: Any) -> list[str]:
    texts = []
    if output.get("output_type") == "stream":
        texts.append(_stream_text(output.get("text")))
    if output.get("output_type") == "error":
        texts.extend(output.get("traceback", []))
        texts.append(str(output.get("evalue", "")))
    for value in (output.get("data") or {}).values():
        texts.append(value if isinstance(value, str) else json.dumps(value))
    return texts


LEAK_WINDOW = 24  # a quoted fragment this long of a hidden line counts as a leak


def _fragments(lines: set[str]) -> set[str]:
    """Overlapping fragments of the hidden lines, so that quoting part of a line is caught too."""
    pieces: set[str] = set()
    for line in lines:
        if len(line) <= LEAK_WINDOW:
            pieces.add(line)
            continue
        pieces.update(line[i:i + LEAK_WINDOW] for i in range(0, len(line) - LEAK_WINDOW + 1, 4))
        pieces.add(line[-LEAK_WINDOW:])
    return pieces


def redact_leaks(nb: Any, hidden_lines: set[str]) -> int:
    """Replace any output that quotes (part of) a hidden test line; returns how many were replaced."""
    if not hidden_lines:
        return 0
    fragments = _fragments(hidden_lines)
    replaced = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            text = "\n".join(_output_texts(output))
            if any(piece in text for piece in fragments):
                replaced += 1
                outputs.append(nbformat.v4.new_output(
                    "stream", name="stdout", text="[output removed: it quoted hidden test code]\n"))
            else:
                outputs.append(output)
        cell.outputs = outputs
    return replaced


@dataclass(frozen=True)
class PartNote:
    grade_id: str
    score: float | None
    max_score: float
    message: str
    label: str = ""  # shown instead of the band (the answer's form, before the submission is final)


GRADER_NOTE = "Scored by the grader"
# The one ladder (exercises.checks.bands), as (lower bound as a share, label) above its last rung
BANDS = tuple((band.floor * (1.0 - EPSILON), band.label) for band in LADDER[:-1])
NOT_YET = LADDER[-1].label
NOT_GRADED = "not graded yet"
OWN_NOTE = re.compile(GRADER_NOTE + r" outside your notebook: \S+ / \S+ points\.(.*)", re.S)  # grader/scoring.py
BARE_NUMBER = re.compile(r"^\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*$")
CREDIT_FIGURE = re.compile(r"[^.]*\d+(?:\.\d+)?\s*%\s+of the credit[^.]*\.?\s*")


def band(score: float | None, max_score: float) -> str:
    """The band a learner sees for a score: coarse enough that no answer can be solved for from it."""
    if score is None:
        return NOT_GRADED
    return band_of_credit(score / max_score if max_score > 0 else 0.0).label


def _learner_message(message: str) -> str:
    """A check's message without a stated share of the credit (that would give the points back)."""
    return " ".join(CREDIT_FIGURE.sub(" ", message).split())


def _theater(cell: Any) -> dict:
    meta = cell.setdefault("metadata", {})
    if not isinstance(meta.get("theater"), dict):
        meta["theater"] = {}
    return meta["theater"]  # (a NotebookNode copies what is assigned to it: return the stored one)


def _is_grader_cell(cell: Any) -> bool:
    """Our own notes: only grader/worker.py sets this metadata (cells a learner adds are rebuilt without any)."""
    meta = cell.get("metadata", {}).get("theater")
    return isinstance(meta, dict) and meta.get("kind") == "grader"


def _is_part_note(cell: Any) -> bool:
    """A graded part's band and message, added by `annotate_parts` (a learner's cell never keeps this kind:
    every cell the learner adds is rebuilt without metadata when grading)."""
    meta = cell.get("metadata", {}).get("theater")
    return isinstance(meta, dict) and meta.get("kind") == "part" and not _meta(cell)


def _plain_outputs(outputs: list) -> list:
    """Outputs as text only: streams and errors as they are (escaped when rendered), rich data as its text/plain."""
    kept = []
    for output in outputs:
        kind = output.get("output_type")
        if kind in ("stream", "error"):
            kept.append(output)
        elif kind in ("execute_result", "display_data"):
            data = output.get("data") or {}
            text = data.get("text/plain")
            if isinstance(text, list):
                text = "".join(str(t) for t in text)
            if not isinstance(text, str) or not text:
                text = f"[{', '.join(sorted(map(str, data))) or 'empty'} output, not shown in feedback]"
            kept.append(nbformat.v4.new_output("stream", name="stdout", text=text.rstrip("\n") + "\n"))
    return kept


def as_learner_text(nb: Any, released_markdown: set[str]) -> None:
    """Mark every cell whose content the learner controls so it renders as text, never as HTML.

    Trusted markdown is exactly what the release holds: nbgrader's read-only cells (restored from
    the release when grading) and unchanged copies of the release's other markdown cells.
    """
    for cell in nb.cells:
        kind = cell.get("cell_type")
        if kind == "code":
            cell.outputs = _plain_outputs(cell.get("outputs", []))
        elif kind == "markdown" and not _is_grader_cell(cell) and not _is_part_note(cell):
            meta = _meta(cell)
            if meta.get("solution"):
                _theater(cell).update(kind="learner", label="Your answer")
            elif not meta and cell.source.strip() not in released_markdown:
                _theater(cell).update(kind="learner", label="Your text")
            else:
                cell.get("metadata", {}).pop("theater", None)


def annotate_parts(nb: Any, notes: dict[str, PartNote]) -> None:
    """A band on each graded cell, its own points note and numeric result removed, and after it our note."""
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        meta = _meta(cell)
        if not meta.get("grade"):
            continue
        meta.pop("score", None)
        meta.pop("points", None)
        note = notes.get(str(meta.get("grade_id")))
        label = (note.label or band(note.score, note.max_score)) if note else NOT_GRADED
        _theater(cell)["band"] = label
        message = note.message if note else ""
        if cell.get("cell_type") == "code":
            kept = []
            for output in cell.get("outputs", []):
                # Only text survives here: the numeric result nbgrader reads as partial credit (and any
                # other rich output) is the exact score, and so is a line that is only a number.
                text = _stream_text(output.get("text")) if output.get("output_type") == "stream" else ""
                found = OWN_NOTE.search(text)
                if found and not message and not (note and note.label):
                    message = found.group(1).strip()  # the check's message, without our points
                if text and not found and not BARE_NUMBER.match(text):
                    kept.append(output)
            cell.outputs = kept
        message = _learner_message(message)
        text = f"{GRADER_NOTE}, outside your notebook: {label}."
        if message:
            text += "\n" + message
        part = nbformat.v4.new_markdown_cell(text)
        part.metadata["theater"] = {"kind": "part", "band": label}
        cells.append(part)
    nb.cells = cells


def _record(course: Course, assignment: str, learner: str) -> dict[str, Any]:
    path = course.state_dir / "grading" / assignment / f"{learner}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _record_messages(record: dict[str, Any]) -> dict[str, str]:
    """Per-part messages from the grading record, whichever of the usual shapes it has."""
    parts = record.get("parts") or {}
    messages: dict[str, str] = {}
    items = parts.items() if isinstance(parts, dict) else ((p.get("grade_id"), p) for p in parts if isinstance(p, dict))
    for grade_id, part in items:
        if isinstance(part, dict):
            message = part.get("message") or part.get("comment")
            if grade_id and message:
                messages[str(grade_id)] = str(message)
    return messages


def _record_comments(record: dict[str, Any]) -> list[str]:
    """Comments for the learner (never integrity or copy flags: those are for the instructor)."""
    grade = record.get("grade") if isinstance(record.get("grade"), dict) else {}
    comments = record.get("comments") or grade.get("comments") or []
    return [str(c) for c in comments] if isinstance(comments, list) else [str(comments)]


def _gradebook_scores(course: Course, assignment: Assignment,
                      learner: str) -> tuple[dict[str, tuple[float | None, float]], float, dict[str, str]]:
    """grade_id -> (score, max_score) from nbgrader's gradebook (an instructor's override wins, as in
    nbgrader; a rubric part not graded yet, or changed since, is None), the late penalty, and the
    instructor's reason for each overridden part or comment on each rubric part."""
    from nbgrader.api import MissingEntry

    from grader.overrides import part_comments

    scores: dict[str, tuple[float | None, float]] = {}
    penalty = 0.0
    notebook_id = Path(assignment.notebook).stem
    with gradebook(course) as gb:
        comments = part_comments(gb, assignment, learner)
        for part in (*assignment.graded, *assignment.rubric):
            try:
                grade = gb.find_grade(part.grade_id, notebook_id, assignment.name, learner)
            except MissingEntry:
                continue
            waiting = part in assignment.rubric and (grade.manual_score is None or grade.needs_manual_grade)
            scores[part.grade_id] = (None if waiting else grade.score, float(grade.max_score))
        try:
            submitted = gb.find_submission_notebook(notebook_id, assignment.name, learner)
            penalty = float(submitted.late_submission_penalty or 0.0)
        except MissingEntry:
            pass
    return scores, penalty, comments


TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE_FILE = "theater_feedback.html.j2"
ALLOWED_TAGS = {"a", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
                "hr", "i", "img", "li", "ol", "p", "pre", "span", "strong", "sub", "sup", "table", "tbody",
                "td", "th", "thead", "tr", "ul"}
ALLOWED_ATTRIBUTES = {"*": {"class"}, "a": {"href", "name", "title"}, "img": {"src", "alt", "title"},
                      "div": {"class", "id"}, "td": {"class", "colspan", "rowspan"}, "th": {"class", "colspan", "rowspan"}}
BODY = re.compile(r"(<body[^>]*>)(.*)(</body>)", re.S | re.I)


def sanitise_body(html: str) -> str:
    """Run the page body through nh3's allow-list: no script, iframe, event handler or javascript: URL survives.

    The head (styles and layout written by the template, nothing from the notebook) is kept as is.
    """
    import nh3

    match = BODY.search(html)
    if match is None:
        return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"http", "https", "mailto", "data"})
    body = nh3.clean(match.group(2), tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto", "data"})
    return html[:match.start(2)] + body + html[match.end(2):]


def _render(nb: Any, title: str, total_band: str, late: bool, final: bool = True) -> str:
    from nbconvert.exporters import HTMLExporter
    from traitlets.config import Config

    import nbgrader

    templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    css = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "static" / "node_modules" / "bootstrap" / "dist" / "css"
    config = Config()
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.template_file = TEMPLATE_FILE
    config.HTMLExporter.extra_template_basedirs = [str(templates)]
    config.HTMLExporter.extra_template_paths = [str(TEMPLATES), str(css)]
    exporter = HTMLExporter(config=config)
    resources = {"theater": {"title": title, "band": total_band, "late": late, "final": final},
                 "nbgrader": {"notebook": title}}
    html, _ = exporter.from_notebook_node(nb, resources=resources)
    return sanitise_body(html)


def _released_markdown(course: Course, assignment: Assignment) -> set[str]:
    release = course.path("release", assignment.name, assignment.notebook)
    try:
        nb = nbformat.read(release, as_version=4)
    except Exception:  # noqa: BLE001 - without the release nothing counts as the instructor's text
        return set()
    return {c.source.strip() for c in nb.cells if c.get("cell_type") == "markdown"}


def feedback_for(course: Course, assignment: Assignment, learner: str, secret: str | None = None) -> Path:
    """Write feedback/<learner>/<assignment>/<notebook>.html for one autograded submission."""
    source = course.path("autograded", learner, assignment.name, assignment.notebook)
    try:
        nb = nbformat.read(source, as_version=4)
    except Exception as exc:
        raise FeedbackError(f"{source}: cannot be read ({type(exc).__name__})") from None
    hidden_lines = strip_hidden_tests(nb)
    redact_test_outputs(nb)
    redact_leaks(nb, hidden_lines)

    scores, penalty, instructor_notes = _gradebook_scores(course, assignment, learner)
    record = _record(course, assignment.name, learner)
    messages = _record_messages(record)
    folder = source.parent
    has_artifacts = all((folder / part.artifact).exists() for part in assignment.graded)
    if len(messages) < len(assignment.graded) and has_artifacts:
        try:
            results = score_parts(assignment, folder, learner_company(course, assignment, learner))
        except GraderReadError:  # the machine's problem, not a missing answer: this feedback fails, said why
            raise
        except UserError:
            results = {}
        for grade_id, result in results.items():
            messages.setdefault(grade_id, result.message)
    for part in assignment.rubric:  # the level the grader chose, before their comment
        messages[part.grade_id] = level_message(part, scores.get(part.grade_id, (None, part.points))[0])
    waiting = {p.grade_id for p in assignment.rubric if scores.get(p.grade_id, (None, 0))[0] is None}
    for grade_id, note in instructor_notes.items():  # the override's reason, after the check's message
        if grade_id in waiting:  # a comment on an earlier text of a resubmitted answer
            continue
        messages[grade_id] = " ".join(x for x in (messages.get(grade_id, ""), f"Your instructor: {note}") if x)
    notes = {
        part.grade_id: PartNote(part.grade_id, scores.get(part.grade_id, (None, part.points))[0],
                                scores.get(part.grade_id, (None, part.points))[1], messages.get(part.grade_id, ""))
        for part in (*assignment.graded, *assignment.rubric)
    }
    from grader.submissions import CHECKED, learner_view, release, submitted_late

    held = release(course, assignment.name, learner)
    late = penalty > 0
    if not held.final:  # the same validity report as the app's: each answer's form, no band
        late = submitted_late(course, assignment.name, learner)
        view = learner_view(assignment, scores, penalty, record, instructor_notes, held, late=late)
        notes = {p.grade_id: PartNote(p.grade_id, None, notes[p.grade_id].max_score, p.message, label=p.band)
                 for p in view.parts}
    # The graded cells' own outputs go first, while nbgrader's numeric result is still an execute_result;
    # then the learner's outputs become text (as_learner_text would turn that result into a stream).
    annotate_parts(nb, notes)
    as_learner_text(nb, _released_markdown(course, assignment))
    shown = "\n".join(c.source for c in nb.cells if _is_grader_cell(c))
    comments = [c for c in _record_comments(record) if c not in shown] + ([] if held.final else [held.why])
    if comments:
        cell = nbformat.v4.new_markdown_cell("\n".join(comments))
        cell.metadata["theater"] = {"kind": "grader"}
        nb.cells.insert(0, cell)

    total = sum(n.score or 0.0 for n in notes.values())
    # a total is shown once every rubric part has been read: part of a memo is not a band of the whole
    graded = any(n.score is not None for n in notes.values()) and \
        all(scores.get(part.grade_id, (None, 0))[0] is not None for part in assignment.rubric)
    total_band = band(max(0.0, total - penalty) if graded else None, assignment.max_score) if held.final else CHECKED
    html = _render(nb, Path(assignment.notebook).stem, total_band, late, held.final)
    secret = secret or load_secret(course)
    if secret in html:
        html = html.replace(secret, "[redacted]")
    target = course.path("feedback", learner, assignment.name, Path(assignment.notebook).stem + ".html")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".feedback-", suffix=".html")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(html)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return target


def feedback(course: Course | Path | str | None, assignment: str, learners: list[str] | None = None) -> FeedbackReport:
    """HTML feedback for every autograded submission of an assignment; one failure never stops the rest."""
    course = course if isinstance(course, Course) else find_course(course=course)
    spec = course.assignment(assignment)
    graded_root = course.path("autograded")
    found = sorted(p.parent.parent.name for p in graded_root.glob(f"*/{assignment}/{spec.notebook}"))
    if learners:
        found = [learner for learner in found if learner in set(learners)]
    if not found:
        raise FeedbackError(f"no autograded submissions of {assignment!r} yet: run `theater grade {assignment}` first")
    secret = load_secret(course)
    report = FeedbackReport(assignment=assignment)
    for learner in found:
        try:
            report.written[learner] = feedback_for(course, spec, learner, secret)
        except UserError as exc:
            report.failed[learner] = str(exc)
    return report
