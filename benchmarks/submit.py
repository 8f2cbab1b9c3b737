"""Submit in the app, upload to result: how long a learner waits on an idle machine.

Builds a throw-away course with `detect` released, starts the app's grading worker (one thread,
the real grade(): sandbox and out-of-kernel scoring), submits the reference solution as one
learner and times `submit` → the status "graded" → the learner's banded result; then N learners
at once, to show how the queue drains.

    .venv/bin/python benchmarks/submit.py [--employees 400] [--days 180] [--learners 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.assign import generate_student_version  # noqa: E402
from grader.course_dir import init_course  # noqa: E402
from grader import submissions  # noqa: E402
from exercises.assignments import DataSpec  # noqa: E402

SOLVED = ROOT / "exercises" / "source" / "detect" / "detect.ipynb"


def _wait(course, learners: list[str], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while any(submissions.queue_status(course, "detect", learner).state in ("queued", "grading")
              for learner in learners):
        if time.monotonic() > deadline:
            raise SystemExit("grading did not finish in time")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=DataSpec().employees)
    parser.add_argument("--days", type=int, default=DataSpec().days)
    parser.add_argument("--learners", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        course = init_course(Path(tmp) / "course", data={"employees": args.employees, "days": args.days})
        generate_student_version(course, course.assignment("detect"))
        worker = submissions.start_worker(course, poll_seconds=0.2)
        data = SOLVED.read_bytes()
        try:
            started = time.monotonic()
            submissions.submit(course, "detect", "first", data)
            stored = time.monotonic() - started
            _wait(course, ["first"])
            result = submissions.learner_result(course, "detect", "first")
            total = time.monotonic() - started
            state = submissions.queue_status(course, "detect", "first").state
            print(f"company {args.employees} employees x {args.days} days")
            print(f"one learner: stored in {stored * 1000:.0f} ms; result ({state}, "
                  f"{result.band if result else '-'}) after {total:.1f} s")
            learners = [f"learner{i}" for i in range(args.learners)]
            started = time.monotonic()
            for learner in learners:
                submissions.submit(course, "detect", learner, data)
            _wait(course, learners)
            drained = time.monotonic() - started
            print(f"{args.learners} learners at once: the last result after {drained:.1f} s "
                  f"({drained / args.learners:.1f} s each, one grading thread)")
        finally:
            submissions.stop_worker(course)
            del worker


if __name__ == "__main__":
    main()
