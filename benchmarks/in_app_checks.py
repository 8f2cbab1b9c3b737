"""Print how much a shared or guessed answer earns on the in-app checks, and the quizzes' length cue.

- the Goodhart sandbox: each learner's collapse point (their own variant), the share of a class a
  single constant answer passes at best, the share a classmate's exact answer passes, and the
  share the answer of the old shared simulator would pass;
- the quizzes: in how many multiple-choice items the right option is the longest (or the shortest).
Usage: python benchmarks/in_app_checks.py [--learners 50]
"""

from __future__ import annotations

import argparse
import secrets

import numpy as np

from course import practice
from course import simulator as sim
from course.modules import load_modules, pre_post_test
from exercises.checks import run_check


def collapse_figures(learners: int) -> None:
    secret = secrets.token_hex(16)
    points = np.array([sim.goodhart_collapse_point(sim.learner_params(
        practice.variant_key(secret, f"learner{i:03d}", "goodhart-simulator"))) for i in range(learners)])

    def passes(answer: float) -> float:
        return float(np.mean([run_check("goodhart.collapse_point", answer, float(t)).correct
                              for t in points]))

    best = max(passes(float(c)) for c in np.round(np.arange(0.0, 1.001, 0.01), 2))
    classmate = np.mean([run_check("goodhart.collapse_point", float(points[i]), float(points[j])).correct
                         for i in range(learners) for j in range(learners) if i != j])
    shared = passes(sim.goodhart_collapse_point(sim.DEFAULT_PARAMS))
    print(f"collapse points over {learners} learners: {points.min():.2f}–{points.max():.2f}, "
          f"{len(set(points))} distinct values")
    print(f"share of the class passed by the best constant answer: {best:.0%}")
    print(f"share passed by a classmate's exact answer (mean over pairs): {classmate:.0%}")
    print(f"share passed by the old shared simulator's answer: {shared:.0%}")


def quiz_figures() -> None:
    modules, _ = load_modules()
    questions = [q for m in modules for q in m.all_questions()] + pre_post_test()
    lengths = [[len(o.text) for o in q.options] for q in questions]
    longest = sum(len(q.answer) >= max(L) for q, L in zip(questions, lengths, strict=True))
    shortest = sum(len(q.answer) <= min(L) for q, L in zip(questions, lengths, strict=True))
    print(f"multiple-choice items: {len(questions)}; right option longest in {longest} "
          f"({longest / len(questions):.0%}), shortest in {shortest} ({shortest / len(questions):.0%})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=50)
    args = parser.parse_args()
    quiz_figures()
    collapse_figures(args.learners)
