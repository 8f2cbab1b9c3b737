"""Repair: rebuild a submitted notebook on the released student version before anything runs.

Read-only and test cells come from the release (as nbgrader's OverwriteCells does, but never with
hidden tests: nothing hidden is ever inside the sandbox), answer cells from the learner. A
malformed file is graded as empty with a comment saying why, instead of crashing the batch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from exercises.assignments import json_depth
from grader.integrity import Flag, edited_cells

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
LARGE_NOTEBOOK_BYTES = 2 * 1024 * 1024
MAX_NOTEBOOK_DEPTH = 64  # a notebook's JSON nests about 8 deep; deeper only exhausts the parser
MAX_CELLS = 2000  # the course's notebooks have about 30


def nbgrader_meta(cell: Any) -> dict:
    """A cell's nbgrader metadata; {} when it is missing or malformed (the learner wrote the file)."""
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    value = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return value if isinstance(value, dict) else {}


def source_text(cell: Any) -> str:
    """A cell's source as one string, whichever form (or garbage) the file holds."""
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
    source = source_text(cell).strip()
    return bool(source) and source != source_text(reference).strip()


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

    release_ids = [(nbgrader_meta(c).get("grade_id"), c) for c in student.cells]
    by_id = {gid: cell for gid, cell in release_ids if gid}
    locked_reference = {gid: source_text(c) for gid, c in by_id.items()
                        if not nbgrader_meta(c).get("solution")}
    chosen: dict[str, dict] = {}
    extras: dict[str | None, list[dict]] = {}
    submitted_locked: list[tuple[str, str]] = []
    last: str | None = None
    duplicates: set[str] = set()
    for cell in learner_cells:
        gid = nbgrader_meta(cell).get("grade_id")
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
                submitted_locked.append((gid, source_text(cell)))
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
    released_free_code = {source_text(c).strip() for gid, c in release_ids if not gid and c.get("cell_type") == "code"}
    missing_answers, retyped = [], []

    def add_extras(after: str | None) -> None:
        for index, extra in enumerate(extras.get(after, [])):
            ctype = extra.get("cell_type")
            if ctype not in ("code", "markdown", "raw"):
                continue
            source = source_text(extra)
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
        meta = nbgrader_meta(reference)
        if gid and meta.get("solution") and gid in chosen:
            theirs = chosen[gid]
            if theirs.get("cell_type") != reference.get("cell_type"):
                retyped.append(gid)
            else:
                cell["source"] = source_text(theirs)
                if cell.get("cell_type") == "code" and cell["source"].strip() != source_text(reference).strip():
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


def read_notebook(path: Path) -> bytes | None:
    """The submitted notebook's bytes, one more than the size limit at most (repair refuses bigger ones)."""
    if not path.is_file() or path.is_symlink():
        return None
    with open(path, "rb") as handle:
        return handle.read(MAX_NOTEBOOK_BYTES + 1)
