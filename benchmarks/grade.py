"""Grading speed: plain `nbgrader autograde` (sequential, no sandbox) against `grade(workers=N)` (sandboxed).

Builds a throw-away course with a class of submissions of `detect` — right (the reference
solution), wrong (a fixed guess that passes the notebook's shape checks) and broken (invalid
JSON, an answer cell that raises, an emptied notebook) — grades it both ways in the same run and
prints both times, the ratio and where the scores agree. The learner's data is placed beside each
submission too, because plain nbgrader runs the notebook where it was submitted.

    .venv/bin/python benchmarks/grade.py [--learners 40] [--workers 2] [--employees 60] [--days 120]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.assign import assign  # noqa: E402
from grader.course_dir import gradebook, init_course  # noqa: E402
from grader.grade import grade  # noqa: E402

SOURCE = ROOT / "exercises" / "source" / "detect" / "detect.ipynb"
WRONG_IDS = ["E00001", "E00002", "E00003", "E00004", "E00005", "E00006"]


def _answer_cell(nb: dict) -> dict:
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "part3-detector")


def wrong_notebook(release: dict) -> dict:
    nb = json.loads(json.dumps(release))
    cell = _answer_cell(nb)
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    cell["source"] = source.replace("# YOUR CODE HERE", f"flagged = {WRONG_IDS!r}")
    return nb


def broken_submission(release: dict, kind: int) -> bytes:
    if kind == 0:
        return b'{"cells": [ this is not json'
    nb = json.loads(json.dumps(release))
    if kind == 1:
        _answer_cell(nb)["source"] = "raise RuntimeError('I give up')"
    else:
        nb["cells"] = []
    return json.dumps(nb).encode()


def build_class(workdir: Path, learners: int, employees: int, days: int) -> tuple[Path, dict[str, str]]:
    root = workdir / "course"
    course = init_course(root, data={"employees": employees, "days": days})
    ids = [f"learner{i:03d}" for i in range(learners)]
    roster = workdir / "roster.csv"
    roster.write_text("id,first_name,last_name,email\n" + "".join(f"{i},A,B,{i}@example.org\n" for i in ids))
    started = time.monotonic()
    assign(course, "detect", roster, progress=True)
    print(f"released {learners} datasets in {time.monotonic() - started:.1f} s")
    release = json.loads((root / "release" / "detect" / "detect.ipynb").read_text())
    kinds = {}
    for index, learner in enumerate(ids):
        target = root / "submitted" / learner / "detect"
        target.mkdir(parents=True)
        shutil.copytree(root / "outbound" / learner / "detect" / "data", target / "data")
        kind = ("right", "wrong", "broken")[index % 3]
        kinds[learner] = kind
        if kind == "right":
            shutil.copy(SOURCE, target / "detect.ipynb")
        elif kind == "wrong":
            (target / "detect.ipynb").write_text(json.dumps(wrong_notebook(release)))
        else:
            (target / "detect.ipynb").write_bytes(broken_submission(release, (index // 3) % 3))
    return root, kinds


def run_nbgrader(root: Path) -> float:
    nbgrader = Path(sys.executable).parent / "nbgrader"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    started = time.monotonic()
    done = subprocess.run([str(nbgrader), "autograde", "detect", "--force"], cwd=root, env=env,
                          capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        print(f"nbgrader autograde exited {done.returncode} (it reports failed submissions this way)")
    return seconds


def gradebook_scores(course_root: Path, learners: list[str]) -> dict[str, float | None]:
    from grader.course_dir import open_course

    scores: dict[str, float | None] = {}
    with gradebook(open_course(course_root)) as gb:
        for learner in learners:
            try:
                scores[learner] = float(gb.find_submission("detect", learner).score)
            except Exception:  # noqa: BLE001 - nbgrader never graded it
                scores[learner] = None
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--employees", type=int, default=60)
    parser.add_argument("--days", type=int, default=120)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="theater-bench-grade-") as tmp:
        root, kinds = build_class(Path(tmp), args.learners, args.employees, args.days)
        learners = sorted(kinds)

        plain_seconds = run_nbgrader(root)
        plain = gradebook_scores(root, learners)

        started = time.monotonic()
        report = grade(root, "detect", workers=args.workers, progress=False)
        ours_seconds = time.monotonic() - started
        ours = {k: report.learners[k].score for k in learners}

    print(f"\n{args.learners} submissions ({args.employees} employees, {args.days} days each)")
    print(f"plain nbgrader autograde (sequential, no sandbox): {plain_seconds:7.1f} s")
    print(f"theater grade --workers {args.workers} (isolation: {report.isolation}): {ours_seconds:7.1f} s")
    print(f"ratio: {plain_seconds / ours_seconds:.2f}x faster (goal >= 1.8x)")
    for kind in ("right", "wrong", "broken"):
        group = [k for k in learners if kinds[k] == kind]
        agree = sum(plain[k] is not None and abs(plain[k] - ours[k]) < 1e-6 for k in group)
        plain_mean = sum(plain[k] or 0 for k in group) / len(group)
        ours_mean = sum(ours[k] for k in group) / len(group)
        print(f"  {kind:6s}: scores agree for {agree}/{len(group)}; mean nbgrader {plain_mean:.2f}, ours {ours_mean:.2f}")
    print("  (nbgrader scores inside the learner's kernel: a wrong answer of the right shape passes its\n"
          "   checks; ours scores the answer against the learner's hidden truth outside the kernel)")
    print(f"errors in our run: {len(report.errors)}")
    for learner, failed in list(report.errors.items())[:3]:
        print(f"  {learner}: {'; '.join(failed.comments)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
