"""Does the graded access effect reward the design and fail the shortcut? Figures per scenario family.

For each family (datasets/families.py, staggered rollouts included), over N companies of the course size (mandate-bigco,
400 employees x 180 days unless --employees/--days say otherwise), it prints:
  - the truth's spread (exercises/truth.py access_effect) and the reference interval's mean width;
  - the reference method's interval credit (benchmarks/reference_method.py notebook_estimate scored with
    interval_credit): the share of companies with full credit and the mean credit;
  - the naive users-vs-non-users estimate with its own bootstrap interval, scored the same way;
  - a person-level bootstrap interval, scored the same way (wrong where whole squads were licensed);
  - the two-wave recipe pasted into any rollout, two ways: the first wave alone over its window to
    the second access date (the later waves' windows left out: right, but a wider interval than
    the pooled design's), and with the window run to the last access date (the mandate; its
    "control" is partly licensed); both are the reference where there are two waves;
  - the best constant interval in hindsight over all companies (what guessing earns).
With --slack S ..., the saved intervals are scored again as if INTERVAL_SLACK were each S: what
the grader's widening of a 95% interval buys the reference (its full-credit share per family)
against what it gives away (the shortcuts' and the constant's). --load reads a --save file instead
of drawing the companies again.
Figures, never asserts: tests/exercises/test_causal.py checks the directions on a few companies.

    .venv/bin/python benchmarks/estimands.py [--companies 200] [--procs 2] [--employees 400] [--days 180]
        [--save FILE | --load FILE] [--slack 0 0.2 0.4]
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datasets.api import generate_company  # noqa: E402
from datasets.families import FAMILY_TABLE  # noqa: E402
from datasets.variation import family_of_seed  # noqa: E402
from exercises import causal, truth  # noqa: E402
from exercises.assignments import DataSpec  # noqa: E402
from benchmarks.reference_method import notebook_estimate, randomisation_unit  # noqa: E402

PROFILE = "mandate-bigco"
EMPLOYEES, DAYS = DataSpec().employees, DataSpec().days  # the course's own company size


def seeds_per_family(count: int, first: int = 1_000_000,
                     families: list[str] | None = None) -> dict[str, list[int]]:
    """The first `count` seeds from `first` on that draw each family (the draw is keyed, so cheap)."""
    found: dict[str, list[int]] = {row.name: [] for row in FAMILY_TABLE
                                   if families is None or row.name in families}
    seed = first
    while any(len(seeds) < count for seeds in found.values()):
        family = family_of_seed(seed)
        if family in found and len(found[family]) < count:
            found[family].append(seed)
        seed += 1
    return found


def _interval(estimate: causal.Estimate) -> list[float]:
    return [estimate.value, estimate.low, estimate.high]


STRATEGIES = ("reference", "naive", "person", "to_mandate", "first_wave")


def score(estimate: causal.Estimate, effect: dict[str, float]) -> float:
    credit, _ = causal.interval_credit(estimate.value, estimate.low, estimate.high,
                                       effect["value"], effect["reference_width"])
    return credit


def to_mandate_estimate(company) -> causal.Estimate:
    """The two-wave recipe with the window [first access date, last access date): what a learner
    who pasted it with (access.min(), access.max()) computes."""
    pilot = causal.pilot_design(company)
    return causal.first_wave_estimate(company, randomisation_unit(company, pilot), end=pilot.mandate)


def first_wave_only(company) -> causal.Estimate:
    """The two-wave recipe with the right window [first, second access date): the later waves'
    own windows left out."""
    return causal.first_wave_estimate(company, randomisation_unit(company))


def one_company(seed: int, employees: int = EMPLOYEES, days: int = DAYS) -> dict[str, float]:
    company = generate_company(PROFILE, employees, days, seed)
    effect = truth.access_effect(company)
    reference = notebook_estimate(company)
    naive = causal.naive_estimate(company)
    person = causal.reference_estimate(company, "person")
    to_mandate = to_mandate_estimate(company)
    first_wave = first_wave_only(company)
    return {"seed": seed, "family": family_of_seed(seed), "truth": effect["value"],
            "width": effect["reference_width"], "reference": score(reference, effect),
            "reference_error": reference.value - effect["value"], "naive": score(naive, effect),
            "naive_error": naive.value - effect["value"], "person": score(person, effect),
            "person_width": person.width, "unit": reference.unit,
            "to_mandate": score(to_mandate, effect), "to_mandate_error": to_mandate.value - effect["value"],
            "first_wave": score(first_wave, effect), "first_wave_ratio": first_wave.width / reference.width,
            "intervals": {"reference": _interval(reference), "naive": _interval(naive),
                          "person": _interval(person), "to_mandate": _interval(to_mandate),
                          "first_wave": _interval(first_wave)}}


def best_constant(rows: list[dict[str, float]], slack: float = causal.INTERVAL_SLACK) -> tuple[float, float, float]:
    """The constant (centre, half-width) with the highest mean credit over all companies."""
    best = (0.0, 0.0, 0.0)
    for centre in np.arange(-10, 25.01, 0.5):
        for half in np.arange(2, 40.01, 1.0):
            credit = np.mean([causal.interval_credit(centre, centre - half, centre + half,
                                                     r["truth"], r["width"], slack)[0] for r in rows])
            if credit > best[0]:
                best = (float(credit), float(centre), float(half))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=200, help="companies per family")
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--save", type=Path, help="write every company's figures to this JSON file")
    parser.add_argument("--families", nargs="+", choices=[row.name for row in FAMILY_TABLE],
                        help="only these families (default: all)")
    parser.add_argument("--employees", type=int, default=EMPLOYEES)
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--load", type=Path, help="score the companies of a --save file instead of drawing them")
    parser.add_argument("--slack", type=float, nargs="+",
                        help="also score the saved intervals with each of these slacks (of the half-width)")
    args = parser.parse_args()
    if args.load:
        rows = load_rows(args.load)
        if args.slack:
            slack_sweep(rows, args.slack)
            return
        seeds = {family: [] for family in dict.fromkeys(r["family"] for r in rows)}
        drawn = f"read from {args.load}"
    else:
        seeds = seeds_per_family(args.companies, families=args.families)
        started = time.perf_counter()
        with Pool(args.procs) as pool:
            measure = functools.partial(one_company, employees=args.employees, days=args.days)
            rows = pool.map(measure, [s for family in seeds.values() for s in family], chunksize=4)
        drawn = (f"{PROFILE}, {args.employees} employees x {args.days} days, "
                 f"in {time.perf_counter() - started:.0f} s")
    if args.save:
        args.save.write_text(json.dumps(rows, indent=1))
    print(f"{len(rows)} companies ({drawn}); credit = exercises/causal.py interval_credit "
          f"(slack {causal.INTERVAL_SLACK:g} of the half-width, full from {causal.NARROW_FULL:g}x to {causal.WIDTH_FULL:g}x, "
          f"none below {causal.NARROW_ZERO:g}x or from {causal.WIDTH_ZERO:g}x the reference width)")
    header = (f"{'family':<10} {'truth p5..p95':>15} {'ref width':>9} {'ref full':>8} {'ref mean':>8} "
              f"{'ref bias':>8} {'naive full':>10} {'naive mean':>10} {'naive bias':>10} "
              f"{'person full':>11} {'1st-wave full':>13} {'to-M full':>9} {'to-M bias':>9} {'unit':>7}")
    print(header)
    for family in seeds:
        part = [r for r in rows if r["family"] == family]
        t = np.array([r["truth"] for r in part])
        col = {key: np.array([r[key] for r in part]) for key in part[0]
               if key not in ("family", "unit", "intervals")}
        units = sorted({r["unit"] for r in part})
        print(f"{family:<10} {np.percentile(t, 5):>6.1f}..{np.percentile(t, 95):>6.1f} "
              f"{col['width'].mean():>9.1f} {np.mean(col['reference'] == 1):>8.1%} "
              f"{col['reference'].mean():>8.2f} {col['reference_error'].mean():>+8.1f} "
              f"{np.mean(col['naive'] == 1):>10.1%} {col['naive'].mean():>10.2f} "
              f"{col['naive_error'].mean():>+10.1f} {np.mean(col['person'] == 1):>11.1%} "
              f"{np.mean(col['first_wave'] == 1):>13.1%} "
              f"{np.mean(col['to_mandate'] == 1):>9.1%} {col['to_mandate_error'].mean():>+9.1f} "
              f"{'/'.join(units):>7}")
    naive_by_effect(rows)
    credit, centre, half = best_constant(rows)
    print(f"best constant interval in hindsight over all {len(rows)} companies: "
          f"{centre:+.1f} +/- {half:.0f} points, mean credit {credit:.2f}")
    if args.slack:
        slack_sweep(rows, args.slack)


EFFECT_BANDS = (0.0, 5.0, 15.0, math.inf)   # points of true effect, either sign


def naive_by_effect(rows: list[dict]) -> None:
    """Where users-vs-non-users earns full credit, by the size of the true effect, with its slope on
    the truth: the shortcut estimates the effect on heavy users (a multiple of the effect of access,
    plus any selection), so it lands inside an interval mostly where both are near zero."""
    bands = [f"|effect| {lo:g}-{hi:g}" if math.isfinite(hi) else f"|effect| >= {lo:g}"
             for lo, hi in zip(EFFECT_BANDS, EFFECT_BANDS[1:])]
    print("users-vs-non-users, full credit by the size of the true effect (companies in the band), "
          "and its estimate per point of true effect:")
    print(f"{'family':<10} " + " ".join(f"{band:>20}" for band in bands) + f" {'slope':>6}")
    for family in dict.fromkeys(r["family"] for r in rows):
        part = [r for r in rows if r["family"] == family]
        truth = np.array([r["truth"] for r in part])
        full = np.array([r["naive"] == 1 for r in part])
        naive = truth + np.array([r["naive_error"] for r in part])
        cells = []
        for lo, hi in zip(EFFECT_BANDS, EFFECT_BANDS[1:]):
            inside = (np.abs(truth) >= lo) & (np.abs(truth) < hi)
            cells.append(f"{full[inside].mean():.0%} ({inside.sum()})" if inside.any() else "-")
        slope = np.polyfit(truth, naive, 1)[0] if len(part) > 2 else math.nan
        print(f"{family:<10} " + " ".join(f"{cell:>20}" for cell in cells) + f" {slope:>6.2f}")


def load_rows(path: Path) -> list[dict]:
    """The companies of a --save file; a missing or foreign file is named, never a traceback."""
    try:
        rows = json.loads(path.read_text())
        if not rows or not all(set(STRATEGIES) <= set(r["intervals"]) for r in rows):
            raise ValueError("no companies with every strategy's interval")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.exit(f"{path}: not a benchmarks/estimands.py --save file of this version ({exc})")
    return rows


def slack_sweep(rows: list[dict], slacks: list[float]) -> None:
    """Full-credit shares per family and strategy, and the hindsight constant, at each slack."""
    families = list(dict.fromkeys(r["family"] for r in rows))
    print(f"full interval credit by slack (grading uses {causal.INTERVAL_SLACK:g}); "
          f"per family: {', '.join(STRATEGIES)}; then the best constant's mean credit")
    for slack in slacks:
        cells = []
        for family in families:
            part = [r for r in rows if r["family"] == family]
            shares = [np.mean([causal.interval_credit(*r["intervals"][key], r["truth"], r["width"], slack)[0] == 1
                               for r in part]) for key in STRATEGIES]
            cells.append(f"{family} " + "/".join(f"{share:.1%}" for share in shares))
        constant = best_constant(rows, slack)[0]
        print(f"slack {slack:<4g} " + "  ".join(cells) + f"  constant {constant:.2f}")


if __name__ == "__main__":
    main()
