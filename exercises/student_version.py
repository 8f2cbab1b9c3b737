"""The student version of an assignment notebook: what a learner may hold, and the only notebook we ship.

An assignment's source notebook (exercises/source/<name>/<notebook>) carries the solutions and the
hidden tests; it stays with the instructor: in a checkout of the project's repository, or in a
folder the instructor passes with `--source DIR`. The package carries the student versions
instead, committed as exercises/release/<name>/<notebook> and made by `student_version` below
(a test checks that each committed file is exactly what its source produces, so they cannot drift).

`student_version` runs nbgrader's own preprocessors in the order `nbgrader generate_assignment`
runs them, without the gradebook step (SaveCells):
1. LockCells: read-only and test cells are locked;
2. ClearSolutions: each solution region becomes the course's stub, a comment only, so a learner who
   skips a part can still run the notebook;
3. ClearOutput: no output of the instructor's run is left;
4. CheckCellMetadata, ComputeChecksums: the checksums the gradebook records (before hidden tests go);
5. ClearHiddenTests, ClearMarkScheme: hidden tests and mark schemes are cut;
6. ComputeChecksums, CheckCellMetadata again: checksums of what the learner receives.
So a notebook made here carries the same stubs, locks and checksums as the instructor's release
and grades the same way when it is submitted.

Regenerate the committed student versions after editing a source notebook:
    python -m exercises.student_version
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from exercises.assignments import ASSIGNMENT_FILE, CODE_STUB, SOURCE_DIR, Assignment, AssignmentError, load_assignment

RELEASE_DIR = Path(__file__).resolve().parent / "release"
TEXT_STUB = "YOUR ANSWER HERE"  # what ClearSolutions leaves of a written (markdown) answer


# nbgrader's region markers (the ClearSolutions and ClearHiddenTests delimiters; a test checks that
# they agree), put together from their words so that no file of the package spells one out: a search
# of the installed package for a marker finds instructor material, never our own code.
SOLUTION_BEGIN, SOLUTION_END = (f"{edge} SOLUTION" for edge in ("BEGIN", "END"))
HIDDEN_BEGIN, HIDDEN_END = (f"{edge} HIDDEN TESTS" for edge in ("BEGIN", "END"))


def instructor_markers() -> tuple[str, ...]:
    """Text that only an instructor's notebook holds: a student version (and the package) never does."""
    return SOLUTION_BEGIN, SOLUTION_END, HIDDEN_BEGIN, HIDDEN_END


def student_version(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A source notebook as `nbgrader generate_assignment` releases it (see the module doc for the steps)."""
    from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme, ClearOutput,
                                        ClearSolutions, ComputeChecksums, LockCells)

    resources: dict = {}
    for step in (LockCells(), ClearSolutions(code_stub={"python": CODE_STUB}), ClearOutput(), CheckCellMetadata(),
                 ComputeChecksums(), ClearHiddenTests(), ClearMarkScheme(), ComputeChecksums(),
                 CheckCellMetadata()):
        notebook, resources = step.preprocess(notebook, resources)
    return notebook


def student_version_bytes(path: Path | str) -> bytes:
    """The student version of the source notebook at `path`, as the bytes a learner downloads."""
    notebook = nbformat.read(str(path), as_version=4)
    return nbformat.writes(student_version(notebook)).encode("utf-8")


def is_student_version(notebook: nbformat.NotebookNode) -> bool:
    """True for a notebook whose solutions were already cleared (running nbgrader on it again would
    replace each partly filled answer cell by a bare stub)."""
    markers = instructor_markers()
    answers = [c for c in notebook.cells if (c.get("metadata", {}).get("nbgrader") or {}).get("solution")]
    text = "\n".join(str(c.get("source", "")) for c in notebook.cells)
    return (bool(answers) and all(_is_stub(cell) for cell in answers)
            and not any(marker in text for marker in markers))


def _is_stub(cell: nbformat.NotebookNode) -> bool:
    """An answer cell as nbgrader's ClearSolutions leaves it: the code stub, or the written-answer stub."""
    source = str(cell.get("source", ""))
    return CODE_STUB in source if cell.get("cell_type") == "code" else source.strip() == TEXT_STUB


def has_source_notebook(assignment: Assignment) -> bool:
    """The assignment's folder holds its source notebook (with solutions), not only assignment.yaml."""
    path = assignment.notebook_path
    if not path.is_file():
        return False
    try:
        return not is_student_version(nbformat.read(str(path), as_version=4))
    except Exception:  # noqa: BLE001 - an unreadable file is no source; validate_notebook names the problem
        return False


def packaged_student_notebook(assignment: Assignment, release_dir: Path = RELEASE_DIR) -> Path:
    """The student version this installation carries for an assignment of the same name and notebook.

    It is used only when its graded cells are exactly the assignment's (same ids, same points), so a
    course that changed an assignment never hands out a notebook that grades differently."""
    from exercises.assignments import grade_cells

    path = Path(release_dir) / assignment.name / assignment.notebook
    if not path.is_file():
        raise AssignmentError(f"this installation carries no student version of {assignment.name!r} "
                              f"({path} is missing)")
    cells = grade_cells(nbformat.read(str(path), as_version=4))
    wanted = assignment.part_points
    if cells != wanted:
        raise AssignmentError(f"the student version of {assignment.name!r} this installation carries does not "
                              f"match {assignment.folder / ASSIGNMENT_FILE} (its graded cells differ)")
    return path


def student_notebook(assignment: Assignment, release_dir: Path = RELEASE_DIR) -> bytes:
    """The student version of an assignment: made from its source notebook when the folder holds one,
    else the one this installation carries. Never a notebook that still holds solutions."""
    if has_source_notebook(assignment):
        return student_version_bytes(assignment.notebook_path)
    return packaged_student_notebook(assignment, release_dir).read_bytes()


def notebook_for_cells(assignment: Assignment, release_dir: Path = RELEASE_DIR) -> Path:
    """A notebook to read the assignment's cell ids and kinds from (the same in both versions):
    the course's source notebook when it has one, else the installation's student version."""
    if assignment.notebook_path.is_file():
        return assignment.notebook_path
    return packaged_student_notebook(assignment, release_dir)


def write_releases(source_dir: Path = SOURCE_DIR, release_dir: Path = RELEASE_DIR) -> list[Path]:
    """Write release_dir/<name>/<notebook> for every assignment of source_dir; returns what was written."""
    written = []
    for yaml_path in sorted(Path(source_dir).glob(f"*/{ASSIGNMENT_FILE}")):
        assignment = load_assignment(yaml_path.parent)
        if not has_source_notebook(assignment):
            raise AssignmentError(f"{assignment.notebook_path}: no source notebook to make the student version from")
        target = Path(release_dir) / assignment.name / assignment.notebook
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(student_version_bytes(assignment.notebook_path))
        written.append(target)
    return written


def main() -> int:
    for path in write_releases():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
