"""A course whose gradebook looks as it does after `theater grade`, without running notebooks.

Scores go in through grader.commit.save_to_gradebook, the function grading itself writes with, and
the grading records have the shape grader.commit.commit_outcome writes."""

from __future__ import annotations

import json
import shutil

from grader.assign import Learner
from grader.course_dir import init_course, open_course

ROSTER = [Learner("ada", "Ada", "Lovelace", "ada@x.org"), Learner("bob", "Bob", "Builder", "bob@x.org")]


def small_course(root, db_url: str | None = None):
    """A course with tiny companies (fast to release); `db_url` puts nbgrader's gradebook elsewhere."""
    course = init_course(root, data={"employees": 20, "days": 30})
    if db_url:
        with open(course.root / "nbgrader_config.py", "a") as handle:
            handle.write(f"\nc.CourseDirectory.db_url = {db_url!r}\n")
        course = open_course(course.root)
    return course


def autograde(course, assignment: str, learner: str, points: dict[str, float],
              stamp: str = "2026-03-01 09:00:00.000000 UTC", answers: dict | None = None,
              truths: dict | None = None, statuses: dict | None = None) -> None:
    """Submitted, autograded and recorded as a grading run leaves it."""
    from grader.commit import open_gradebook, save_to_gradebook

    spec = course.assignment(assignment)
    folder = course.path("submitted", learner, assignment)
    folder.mkdir(parents=True, exist_ok=True)
    release = course.path("release", assignment, spec.notebook)
    shutil.copy(release, folder / spec.notebook)
    (folder / "timestamp.txt").write_text(stamp)
    graded = course.path("autograded", learner, assignment)
    graded.mkdir(parents=True, exist_ok=True)
    shutil.copy(release, graded / spec.notebook)
    book, late = open_gradebook(course, spec)
    try:
        save_to_gradebook(book, spec, learner, {k: {"points": v} for k, v in points.items()}, folder, late)
    finally:
        book.close()
    parts = {k: {"grade_id": k, "points": v, "max_points": p.points,
                 "status": (statuses or {}).get(k, "correct" if v >= p.points else "incorrect"), "message": ""}
             for p in spec.graded for k, v in points.items() if k == p.grade_id}
    record = course.state_dir / "grading" / assignment / f"{learner}.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({
        "version": 1, "digest": "test", "parts": parts, "answers": answers or {}, "truths": truths or {},
        "checks": {p.grade_id: p.check for p in spec.graded},
        "grade": {"learner": learner, "score": sum(points.values()), "max_score": spec.max_score,
                  "integrity_flags": [], "comments": []}}))


def submit_memo(course, learner: str, texts: dict[str, str], stamp: str = "2026-03-01 09:00:00.000000 UTC") -> None:
    """The released memo with the learner's written answers, as `theater collect` leaves it in submitted/."""
    import nbformat

    release = course.path("release", "memo", "memo.ipynb")
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if texts.get(grade_id):
            cell.source = texts[grade_id]
    folder = course.path("submitted", learner, "memo")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "memo.ipynb")
    (folder / "timestamp.txt").write_text(stamp)
