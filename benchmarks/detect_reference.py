"""What a careful learner earns on `detect`: the reference solution across drawn companies.

For a class of learners (seeds from one course secret, so each company is drawn from the ranges of
datasets/variation.py) and at the corners of those ranges, it prints side by side, as a share of
detect's points: the notebook's reference detector (a weighted mean of the habits as shares, with
a fixed threshold) and the detector it replaced (habits standardised against the company's own
median and spread, flagged above 1.5), with how many people each flags against how many tokenmax. With --rules it also prints the most
precise rule on the released link columns that says "theater" for a session
(datasets/label_rules.py; the generator keeps it below 0.95 precision at 5% coverage).
Figures, never asserts.

    .venv/bin/python benchmarks/detect_reference.py [--learners 40] [--employees 150] [--days 180]
                                                    [--secret S] [--rules]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.guessing import run_solution  # noqa: E402
from datasets import label_rules, variation  # noqa: E402
from datasets.api import generate_company, learner_seed  # noqa: E402
from datasets.scenario import load_scenario  # noqa: E402
from exercises import truth  # noqa: E402
from exercises.checks import run_check  # noqa: E402

NOTEBOOK = ROOT / "exercises" / "source" / "detect" / "detect.ipynb"
HABITS = ["accept", "self_doc", "variety", "linked", "near"]


def relative_flags(features) -> list[str]:
    """The replaced detector: each habit minus the company's median, over its standard deviation."""
    users = features[features["events"] >= 0.5 * features["events"].median()]
    z = (users[HABITS] - users[HABITS].median()) / users[HABITS].std()
    score = -z["accept"] + z["self_doc"] - z["variety"] - z["linked"] + z["near"]
    return sorted(score[score > 1.5].index)


def scores(company) -> tuple[float, float, int, int, int]:
    """(reference score, replaced detector's score, flagged by each, tokenmaxxers)."""
    scope = run_solution(NOTEBOOK, company)
    truth_ids = truth.tokenmaxxer_ids(company)
    old = relative_flags(scope["features"])
    return (run_check("detect.flag_tokenmaxxers", scope["flagged"], truth_ids).score,
            run_check("detect.flag_tokenmaxxers", old, truth_ids).score,
            len(scope["flagged"]), len(old), len(truth_ids))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=40)
    parser.add_argument("--employees", type=int, default=150)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--secret", default="benchmark-course-secret")
    parser.add_argument("--rules", action="store_true", help="also search link rules that label sessions")
    args = parser.parse_args()
    started = time.perf_counter()
    drawn, rules = [], []
    for i in range(args.learners):
        seed = learner_seed(args.secret, f"learner{i:03d}")
        company = generate_company("mandate-bigco", args.employees, args.days, seed)
        drawn.append(scores(company))
        if args.rules:
            frame = label_rules.session_links(company)
            theater = label_rules.session_theater(company, frame["session_id"].to_numpy())
            rules.append(label_rules.best_rule(frame, theater, company=i))
    drawn = np.array(drawn)
    print(f"learners: {len(drawn)} (mandate-bigco, {args.employees} employees, {args.days} days), "
          f"{time.perf_counter() - started:.0f} s")
    print(f"{'share of detect points':>36}  {'mean':>6}  {'full marks':>10}  {'below half':>10}  {'lowest':>6}")
    for column, label in ((0, "reference (shares, fixed threshold)"), (1, "replaced (company-relative z)")):
        values = drawn[:, column]
        print(f"{label:>36}  {values.mean():6.1%}  {np.mean(values >= 0.999):10.0%}  "
              f"{np.mean(values < 0.5):10.0%}  {values.min():6.0%}")
    spread = np.corrcoef(drawn[:, 4], drawn[:, 2])[0, 1], np.corrcoef(drawn[:, 4], drawn[:, 3])[0, 1]
    print(f"tokenmaxxers per company {drawn[:, 4].min():.0f}-{drawn[:, 4].max():.0f}; flagged by the reference "
          f"{drawn[:, 2].min():.0f}-{drawn[:, 2].max():.0f} (correlation with the truth {spread[0]:.2f}), by the "
          f"replaced detector {drawn[:, 3].min():.0f}-{drawn[:, 3].max():.0f} ({spread[1]:.2f})")
    if rules:
        precision = np.array([rule.precision for rule in rules])
        best = max(rules, key=lambda rule: rule.precision)
        print(f"most precise link rule per company (>= 5% of theater sessions): precision median "
              f"{np.median(precision):.3f}, max {precision.max():.3f}; the best: {best}")
    for name, scenario in variation.extremes(load_scenario("mandate-bigco")).items():
        new, old, n_new, n_old, n_true = scores(generate_company(scenario, args.employees, args.days, 11))
        print(f"corner '{name}': reference {new:.0%} ({n_new} flagged), replaced {old:.0%} ({n_old}), "
              f"{n_true} tokenmaxxers")


if __name__ == "__main__":
    main()
