"""How much of the `measure` finding's points a learner earns without doing the analysis.

For a class of learners (seeds derived from one course secret, so each company is drawn from the
ranges of datasets/variation.py) it prints, side by side, as a share of the finding's points
(measure.finding: the theater share's credit times the productivity effect's):
  1. the best single constant pair of answers (searched over a grid in hindsight: an upper bound),
     the best pair for one half of the class scored on the other half, and the best pair over
     another --pool companies drawn from other seeds (what a learner with the open generator can
     find at home without knowing any classmate's truth);
  2. a classmate's answers: their reference-solution answers, the same with a little noise added,
     and their exact truths (a perfect classmate);
  3. the midpoints of the generator's ranges (performer share and productivity gain);
  4. the reference solution of exercises/source/measure (what a careful learner earns);
and, for comparison, the same strategies scored per number as before (the mean of the two credits),
with the spread of the truths and of the reference's errors. Figures, never asserts.

    .venv/bin/python benchmarks/guessing.py [--learners 50] [--employees 150] [--days 180]
                                            [--profile mandate-bigco] [--secret S] [--save F.npz]
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
from datasets.variation import RANGES  # noqa: E402
from exercises import truth  # noqa: E402
from exercises.checks import ESTIMATE_RULES, FINDING_PARTS, linear_credit, run_check  # noqa: E402

NOTEBOOK = ROOT / "exercises" / "source" / "measure" / "measure.ipynb"
SKIP = {"setup", "write-estimates"}  # and every grade cell: they read the answers file
KEYS = tuple(FINDING_PARTS)  # theater_share, productivity_effect_pct
GRIDS = (np.linspace(0.0, 1.0, 401), np.linspace(-60.0, 120.0, 721))
MIDPOINT = (RANGES["performative_share"].at(0.5), 100 * RANGES["productivity_gain"].at(0.5))
NOISE = (0.03, 3.0)  # a copier hiding the copy: about the reference's own error on each number


def run_solution(notebook: Path, company) -> dict:
    """A notebook's code cells with their solutions, run in this process on the company's public
    tables (no labels); returns the variables they leave. Setup and grade cells are skipped (they
    read files), and answers go to a temporary folder."""
    cells = [c for c in nbformat.read(notebook, as_version=4).cells
             if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade_id") not in SKIP
             and not c.metadata.get("nbgrader", {}).get("grade")]
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "manifest.json").write_text(json.dumps(company.meta))
        scope = {"pd": pd, "json": json, "Path": Path, "DATA": Path(folder), "ANSWERS": Path(folder),
                 "employees": company.employees, "ai_events": company.ai_events,
                 "work_items": company.work_items, "calendar": company.calendar}
        with contextlib.redirect_stdout(io.StringIO()):
            for cell in cells:
                exec(cell.source, scope)  # noqa: S102 - our own solution notebook
    return scope


def reference_answers(company) -> tuple[float, float]:
    """The measure notebook's solution cells, run on the company's public tables."""
    scope = run_solution(NOTEBOOK, company)
    return float(scope["theater_share"]), float(scope["productivity_effect_pct"])


def part_credits(answers: np.ndarray, truths: np.ndarray) -> np.ndarray:
    """Per learner and number, the credit of that number alone (answers, truths: n x 2)."""
    columns = []
    for k, check_id in enumerate(FINDING_PARTS.values()):
        rule = ESTIMATE_RULES[check_id]
        columns.append([linear_credit(e, rule.full_within, rule.zero_at) for e in np.abs(answers[:, k] - truths[:, k])])
    return np.array(columns).T


def finding_scores(answers: np.ndarray, truths: np.ndarray) -> np.ndarray:
    """The real check, per learner: what the grader gives the pair."""
    return np.array([run_check("measure.finding", dict(zip(KEYS, map(float, a))), dict(zip(KEYS, map(float, t)))).score
                     for a, t in zip(answers, truths)])


def held_out_constant(truths: np.ndarray) -> float:
    """A constant a learner could really pick: the best pair for half the class, scored on the other half."""
    halves = (truths[::2], truths[1::2])
    scores = []
    for chosen_on, scored_on in (halves, halves[::-1]):
        _, _, pair = best_constant(chosen_on)
        scores.append(finding_scores(np.tile(pair, (len(scored_on), 1)), scored_on).mean())
    return float(np.mean(scores))


def best_constant(truths: np.ndarray) -> tuple[float, float, tuple[float, float]]:
    """The best constant pair in hindsight: (joint share of points, per-number mean, the pair)."""
    credit = []
    for k, check_id in enumerate(FINDING_PARTS.values()):
        rule = ESTIMATE_RULES[check_id]
        error = np.abs(GRIDS[k][:, None] - truths[None, :, k])
        credit.append(np.clip(1 - (error - rule.full_within) / (rule.zero_at - rule.full_within), 0, 1))
    joint = credit[0] @ credit[1].T / len(truths)  # grid_share x grid_effect: mean of the products
    i, j = np.unravel_index(joint.argmax(), joint.shape)
    separate = (credit[0].mean(axis=1).max() + credit[1].mean(axis=1).max()) / 2
    return float(joint[i, j]), float(separate), (float(GRIDS[0][i]), float(GRIDS[1][j]))


def classmates(answers: np.ndarray, truths: np.ndarray, score) -> float:
    """Mean over learners and classmates of what a classmate's answers earn on the learner's data."""
    n = len(truths)
    return float(np.mean([score(np.roll(answers, shift, axis=0), truths).mean() for shift in range(1, n)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--employees", type=int, default=150)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--profile", default="mandate-bigco")
    parser.add_argument("--secret", default="benchmark-course-secret")
    parser.add_argument("--pool", type=int, default=50, help="companies a learner generates at home (0: skip)")
    parser.add_argument("--save", type=Path, help="also write the truths and reference answers (.npz)")
    args = parser.parse_args()
    started = time.perf_counter()
    truths, refs = [], []
    for i in range(args.learners):
        company = generate_company(args.profile, args.employees, args.days, learner_seed(args.secret, f"learner{i:03d}"))
        truths.append((truth.theater_share(company), truth.productivity_effect(company)))
        refs.append(reference_answers(company))
    truths_a, refs_a = np.array(truths), np.array(refs)
    home = np.array([(truth.theater_share(c), truth.productivity_effect(c)) for c in (
        generate_company(args.profile, args.employees, args.days, learner_seed("a learner's own pool", f"c{i}"))
        for i in range(args.pool))]).reshape(-1, 2)
    if args.save:
        np.savez(args.save, truths=truths_a, references=refs_a)
    n = len(truths_a)
    for k, key in enumerate(KEYS):
        errors = refs_a[:, k] - truths_a[:, k]
        print(f"{key}: truths {truths_a[:, k].min():.3f} to {truths_a[:, k].max():.3f}; reference error mean "
              f"{errors.mean():+.3f}, |error| median {np.median(np.abs(errors)):.3f}, 90th percentile "
              f"{np.quantile(np.abs(errors), 0.9):.3f}, max {np.abs(errors).max():.3f}")
    print(f"learners: {n} ({args.profile}, {args.employees} employees, {args.days} days), "
          f"{time.perf_counter() - started:.0f} s")

    def separate(answers: np.ndarray, truths: np.ndarray) -> np.ndarray:
        return part_credits(answers, truths).mean(axis=1)

    noisy = refs_a + np.random.default_rng(0).normal(0.0, NOISE, refs_a.shape)
    noisy[:, 0] = noisy[:, 0].clip(0.0, 1.0)
    joint_constant, separate_constant, pair = best_constant(truths_a)
    rows = [
        (f"best constant pair {pair[0]:.3f}, {pair[1]:+.1f}", joint_constant, separate_constant),
        ("the best pair for the other half", held_out_constant(truths_a), float("nan")),
        *([(f"the best pair over {len(home)} companies of one's own",
            finding_scores(np.tile(best_constant(home)[2], (n, 1)), truths_a).mean(), float("nan"))] if len(home) else []),
        ("a classmate's reference answers", classmates(refs_a, truths_a, finding_scores),
         classmates(refs_a, truths_a, separate)),
        ("the same with noise (0.03, 3 points)", classmates(noisy, truths_a, finding_scores),
         classmates(noisy, truths_a, separate)),
        ("a classmate's exact truths", classmates(truths_a, truths_a, finding_scores),
         classmates(truths_a, truths_a, separate)),
        (f"midpoints of the ranges {MIDPOINT[0]:.2f}, {MIDPOINT[1]:+.0f}",
         finding_scores(np.tile(MIDPOINT, (n, 1)), truths_a).mean(), separate(np.tile(MIDPOINT, (n, 1)), truths_a).mean()),
        ("the reference solution", finding_scores(refs_a, truths_a).mean(), separate(refs_a, truths_a).mean()),
    ]
    print(f"{'share of the finding points':>44}  {'as one finding':>14}  {'per number (old)':>16}")
    for label, joint, per_number in rows:
        print(f"{label:>44}  {joint:14.1%}  " + (f"{per_number:16.1%}" if np.isfinite(per_number) else ""))
    reference = finding_scores(refs_a, truths_a)
    print(f"reference solution: lowest learner {reference.min():.0%}, {np.mean(reference >= 0.999):.0%} at full marks")


if __name__ == "__main__":
    main()
