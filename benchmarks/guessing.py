"""How much of the `measure` estimate points a learner earns without doing the analysis.

For a class of learners (seeds derived from one course secret, so each company is drawn from the
ranges of datasets/variation.py) it prints, as a share of the estimate points (measure.*):
  1. the best single constant pair of answers (searched over a grid, in hindsight: an upper bound);
  2. a classmate's answers copied as they are: the classmate's reference-solution answers, and the
     classmate's exact truths (a perfect classmate);
  3. the reference solution of exercises/source/measure (what a competent learner earns);
and the spread of the truths and of the reference's errors. Figures, never asserts.

    .venv/bin/python benchmarks/guessing.py [--learners 50] [--employees 150] [--days 180] [--save F.npz]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datasets.api import generate_company, learner_seed  # noqa: E402
from exercises import truth  # noqa: E402
from exercises.checks import ESTIMATE_RULES, linear_credit  # noqa: E402

NOTEBOOK = ROOT / "exercises" / "source" / "measure" / "measure.ipynb"
SKIP = {"setup", "theater_share", "productivity_effect", "write-estimates"}
PARTS = (("measure.theater_share", np.linspace(0.0, 1.0, 401)),
         ("measure.productivity_effect", np.linspace(-60.0, 120.0, 721)))


def reference_answers(company) -> tuple[float, float]:
    """The measure notebook's solution cells, run on the company's public tables."""
    cells = [c for c in nbformat.read(NOTEBOOK, as_version=4).cells
             if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade_id") not in SKIP]
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "manifest.json").write_text(json.dumps(company.meta))
        scope = {"pd": pd, "json": json, "Path": Path, "DATA": Path(folder), "employees": company.employees,
                 "ai_events": company.ai_events, "work_items": company.work_items, "calendar": company.calendar}
        with contextlib.redirect_stdout(io.StringIO()):
            for cell in cells:
                exec(cell.source, scope)  # noqa: S102 - our own solution notebook
    return float(scope["theater_share"]), float(scope["productivity_effect_pct"])


def credit(check_id: str, answers: np.ndarray, truths: np.ndarray) -> np.ndarray:
    rule = ESTIMATE_RULES[check_id]
    return np.vectorize(lambda e: linear_credit(e, rule.full_within, rule.zero_at))(np.abs(answers - truths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--employees", type=int, default=150)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--save", type=Path, help="also write the truths and reference answers (.npz)")
    args = parser.parse_args()
    started = time.perf_counter()
    truths, refs = [], []
    for i in range(args.learners):
        company = generate_company("mandate-bigco", args.employees, args.days,
                                   learner_seed("benchmark-course-secret", f"learner{i:03d}"))
        truths.append((truth.theater_share(company), truth.productivity_effect(company)))
        refs.append(reference_answers(company))
    truths_a, refs_a = np.array(truths), np.array(refs)
    if args.save:
        np.savez(args.save, truths=truths_a, references=refs_a)
    n = len(truths_a)
    others = np.array([[j for j in range(n) if j != i] for i in range(n)])
    constant, copy_ref, copy_truth, own = [], [], [], []
    for k, (check_id, grid) in enumerate(PARTS):
        t = truths_a[:, k]
        constant.append(max(credit(check_id, np.full(n, c), t).mean() for c in grid))
        copy_ref.append(np.mean([credit(check_id, refs_a[others[i], k], np.full(n - 1, t[i])).mean() for i in range(n)]))
        copy_truth.append(np.mean([credit(check_id, t[others[i]], np.full(n - 1, t[i])).mean() for i in range(n)]))
        own.append(credit(check_id, refs_a[:, k], t).mean())
        errors = np.abs(refs_a[:, k] - t)
        print(f"{check_id}: truths {t.min():.3f} to {t.max():.3f}; reference error median "
              f"{np.median(errors):.3f}, 90th percentile {np.quantile(errors, 0.9):.3f}, max {errors.max():.3f}")
    print(f"learners: {n} ({args.employees} employees, {args.days} days), {time.perf_counter() - started:.0f} s")
    for label, values in (("best single constant pair", constant), ("a classmate's reference answers", copy_ref),
                          ("a classmate's exact truths", copy_truth), ("the reference solution", own)):
        print(f"{label:>34}: {np.mean(values):6.1%} of the estimate points "
              f"(theater share {values[0]:.1%}, productivity effect {values[1]:.1%})")


if __name__ == "__main__":
    main()
