"""How much of the `measure` finding's points a learner earns without doing the analysis.

For a class of learners (seeds derived from one course secret, so each company is drawn from the
ranges of datasets/variation.py) it prints, side by side, as a share of the finding's points
(measure.finding: the theater share's credit times the credit of the access effect's interval):
  1. the best single constant answer (a share, an interval centre and a width, searched over a grid
     in hindsight: an upper bound), the best one for one half of the class scored on the other half,
     and the best one over another --pool companies drawn from other seeds (what a learner with the
     open generator can find at home without knowing any classmate's truth);
  2. a classmate's answers: their reference-solution answers, the same with a little noise added,
     and their exact truths with an interval as wide as their reference's (a perfect classmate);
  3. the midpoint of the generator's performer-share range with the middle effect and width of
     the home companies;
  4. the reference solution of exercises/source/measure (what a careful learner earns);
and, for comparison, the same strategies scored per part as before (the mean of the two credits),
with the spread of the truths and of the reference's errors. Then, per feedback channel, as a share
of the reference's points:
  5. an adaptive prober on submission feedback (every allowed attempt a probe, a prior from the
     --pool companies generated at home; see "the adaptive prober" below), under the old policy
     (bands on every attempt) and the course's (a validity report until the submission is final),
     beside what its prior alone gives (its best answer before any feedback). It chooses the share,
     the interval's centre and its width.
The home companies are drawn with a random secret (printed; --pool-secret repeats a run).
Figures, never asserts.

    .venv/bin/python benchmarks/guessing.py [--learners 50] [--employees 150] [--days 180]
                                            [--profile mandate-bigco] [--secret S] [--save F.npz]
                                            [--pool 50] [--pool-secret S] [--attempts 3] [--particles 20000]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import secrets
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datasets.api import generate_company, learner_seed  # noqa: E402
from datasets.variation import RANGES  # noqa: E402
from exercises import causal, truth  # noqa: E402
from exercises.assignments import load_assignment  # noqa: E402
from exercises.checks import ESTIMATE_RULES, FINDING_KEYS, run_check  # noqa: E402
from grader.feedback import BANDS  # noqa: E402
from grader.scoring import SCORE_DIGITS, score_part  # noqa: E402
from grader.submissions import DEFAULT_ATTEMPTS, Release, learner_view  # noqa: E402

NOTEBOOK = ROOT / "exercises" / "source" / "measure" / "measure.ipynb"
SKIP = {"setup", "write-estimates"}  # and every grade cell: they read the answers file
KEYS = FINDING_KEYS  # theater_share, access_effect_pct, access_effect_low, access_effect_high
TRUTH_KEYS = ("theater_share", "access_effect_pct", "access_effect_reference_width")
# An answer here is (share, interval centre, half-width); a truth (share, effect, reference width).
GRIDS = (np.linspace(0.0, 1.0, 201), np.linspace(-60.0, 120.0, 181), np.linspace(1.0, 60.0, 60))
SHARE_RULE = ESTIMATE_RULES["measure.theater_share"]
NOISE = (0.03, 3.0, 1.0)  # a copier hiding the copy: about the reference's own error on each number


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


def reference_answers(company) -> tuple[float, float, float]:
    """The measure notebook's solution cells, run on the company's public tables: (share, interval
    centre, half-width), the centre being the middle of the notebook's interval."""
    scope = run_solution(NOTEBOOK, company)
    low, high = float(scope["access_effect_low"]), float(scope["access_effect_high"])
    return float(scope["theater_share"]), (low + high) / 2, (high - low) / 2


def truth_triple(company) -> tuple[float, float, float]:
    finding = truth.measure_finding(company)
    return tuple(float(finding[key]) for key in TRUTH_KEYS)


def as_answer(triple) -> dict[str, float]:
    share, centre, half = map(float, triple)
    return {"theater_share": share, "access_effect_pct": centre,
            "access_effect_low": centre - half, "access_effect_high": centre + half}


def as_truth(triple) -> dict[str, float]:
    return dict(zip(TRUTH_KEYS, map(float, triple)))


def share_credit(values: np.ndarray, truths: np.ndarray) -> np.ndarray:
    """The share's credit, values x truths (the check's linear rule)."""
    error = np.abs(values[:, None] - truths[None, :])
    return np.clip(1 - (error - SHARE_RULE.full_within) / (SHARE_RULE.zero_at - SHARE_RULE.full_within), 0.0, 1.0)


MISSES, NARROW_SOME, NARROW_NONE, COVERS, WIDE_SOME, WIDE_NONE = range(6)


def interval_codes(centres: np.ndarray, halves: np.ndarray, effects: np.ndarray, widths: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(credit, message code) of centred intervals (centres, halves: one per candidate) against
    truths (effects, widths: one per truth), candidates x truths: exercises.causal.interval_verdict
    vectorised (the test checks it against the real check)."""
    covers = np.abs(effects[None, :] - centres[:, None]) <= halves[:, None] * (1 + causal.INTERVAL_SLACK)
    ratio = 2 * halves[:, None] / widths[None, :]
    narrow = np.clip((ratio - causal.NARROW_ZERO) / (causal.NARROW_FULL - causal.NARROW_ZERO), 0.0, 1.0)
    wide = np.clip((causal.WIDTH_ZERO - ratio) / (causal.WIDTH_ZERO - causal.WIDTH_FULL), 0.0, 1.0)
    credit = np.where(ratio < causal.NARROW_FULL, narrow, np.where(ratio <= causal.WIDTH_FULL, 1.0, wide))
    code = np.where(ratio < causal.NARROW_FULL, np.where(narrow > 0, NARROW_SOME, NARROW_NONE),
                    np.where(ratio <= causal.WIDTH_FULL, COVERS,
                             np.where(ratio >= causal.WIDTH_ZERO, WIDE_NONE, WIDE_SOME)))
    return np.where(covers, credit, 0.0), np.where(covers, code, MISSES)


def part_credits(answers: np.ndarray, truths: np.ndarray) -> np.ndarray:
    """Per learner, the credit of each part alone (answers, truths: n x 3)."""
    share = np.diag(share_credit(answers[:, 0], truths[:, 0])) if len(answers) else np.zeros(0)
    interval = np.array([interval_codes(a[1:2], a[2:3], t[1:2], t[2:3])[0][0, 0] for a, t in zip(answers, truths)])
    return np.column_stack([share, interval])


def finding_scores(answers: np.ndarray, truths: np.ndarray) -> np.ndarray:
    """The real check, per learner: what the grader gives the answer."""
    return np.array([run_check("measure.finding", as_answer(a), as_truth(t)).score for a, t in zip(answers, truths)])


def _interval_grid() -> tuple[np.ndarray, np.ndarray]:
    centres, halves = np.meshgrid(GRIDS[1], GRIDS[2], indexing="ij")
    return centres.ravel(), halves.ravel()


def best_constant(truths: np.ndarray) -> tuple[float, float, tuple[float, float, float]]:
    """The best constant answer in hindsight: (joint share of points, per-part mean, the answer)."""
    share = share_credit(GRIDS[0], truths[:, 0])
    centres, halves = _interval_grid()
    interval = interval_codes(centres, halves, truths[:, 1], truths[:, 2])[0]
    joint = share @ interval.T / len(truths)  # grid_share x grid_interval: mean of the products
    i, j = np.unravel_index(joint.argmax(), joint.shape)
    separate = (share.mean(axis=1).max() + interval.mean(axis=1).max()) / 2
    return float(joint[i, j]), float(separate), (float(GRIDS[0][i]), float(centres[j]), float(halves[j]))


def held_out_constant(truths: np.ndarray) -> float:
    """A constant a learner could really pick: the best answer for half the class, scored on the other half."""
    halves = (truths[::2], truths[1::2])
    scores = []
    for chosen_on, scored_on in (halves, halves[::-1]):
        _, _, answer = best_constant(chosen_on)
        scores.append(finding_scores(np.tile(answer, (len(scored_on), 1)), scored_on).mean())
    return float(np.mean(scores))


def classmates(answers: np.ndarray, truths: np.ndarray, score) -> float:
    """Mean over learners and classmates of what a classmate's answers earn on the learner's data."""
    n = len(truths)
    return float(np.mean([score(np.roll(answers, shift, axis=0), truths).mean() for shift in range(1, n)]))


# ------------------------------------------------------------------ the adaptive prober (submissions)
# A learner who does no analysis, holds a prior from companies generated at home with the open
# generator, and uses every allowed submission of `measure` as a probe: after each graded attempt
# it keeps the truths (share, effect, reference width, drawn from the prior) that would have shown
# exactly what its page showed, chooses the next answer (a share, an interval centre and a width)
# by expected information or expected final credit, and hands in the answer with the highest
# expected credit under what is left. What a page shows is produced by the real code:
# grader.scoring.score_part (credit, message and the answer's form), then
# grader.submissions.learner_view, under the old policy (bands on every attempt) or the course's
# (a validity report until the submission is final, bands after).

MEASURE = load_assignment(ROOT / "exercises" / "source" / "measure" / "assignment.yaml")
PART = MEASURE.graded[0]
BANDS_EVERY_ATTEMPT = "bands on every attempt (old)"
HELD_UNTIL_FINAL = "validity until final (new)"
POLICIES = (BANDS_EVERY_ATTEMPT, HELD_UNTIL_FINAL)
FINAL_GRIDS = (np.linspace(0.0, 1.0, 101), np.linspace(-60.0, 120.0, 91), np.linspace(1.0, 60.0, 30))
PROBE_GRIDS = (np.linspace(0.0, 1.0, 26), np.linspace(-60.0, 120.0, 31), np.array([2.0, 5.0, 10.0, 20.0, 40.0]))


def shown(policy: str, answer, truth_triple_, final: bool) -> str:
    """What the learner's page shows for one graded attempt, as text, made by the real code."""
    score = score_part(PART, as_answer(answer), as_truth(truth_triple_))
    record = {"parts": {PART.grade_id: asdict(score)}, "comments": []}
    view = learner_view(MEASURE, {PART.grade_id: (score.points, PART.points)}, 0.0, record, {},
                        Release(final or policy == BANDS_EVERY_ATTEMPT, ""))
    return repr((view.band, [(p.band, p.message) for p in view.parts]))


def prior_particles(home: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n truths drawn from a Gaussian kernel density over the home companies' (Scott's bandwidth)."""
    width = len(home) ** (-1 / 7) * home.std(axis=0, ddof=1)
    drawn = home[rng.integers(len(home), size=n)] + rng.normal(size=(n, home.shape[1])) * width
    drawn[:, 0] = drawn[:, 0].clip(0.0, 1.0)
    drawn[:, 2] = np.abs(drawn[:, 2]).clip(0.5, None)
    return drawn


_BEST: dict[bytes, tuple[np.ndarray, float]] = {}  # by the particles' bytes: a posterior that did not move


def best_answer(particles: np.ndarray) -> tuple[np.ndarray, float]:
    """The answer with the highest expected finding credit over the particles, and that expectation."""
    key = hashlib.blake2b(np.ascontiguousarray(particles).tobytes(), digest_size=16).digest()
    if key not in _BEST:
        if len(_BEST) > 64:
            _BEST.clear()
        _BEST[key] = _best_answer(particles)
    return _BEST[key]


def _final_grid() -> tuple[np.ndarray, np.ndarray]:
    centres, halves = np.meshgrid(FINAL_GRIDS[1], FINAL_GRIDS[2], indexing="ij")
    return centres.ravel(), halves.ravel()


def _best_answer(particles: np.ndarray) -> tuple[np.ndarray, float]:
    share = share_credit(FINAL_GRIDS[0], particles[:, 0])
    centres, halves = _final_grid()
    interval = interval_codes(centres, halves, particles[:, 1], particles[:, 2])[0]
    expected = share @ interval.T / len(particles)
    i, j = np.unravel_index(expected.argmax(), expected.shape)
    return np.array([FINAL_GRIDS[0][i], centres[j], halves[j]]), float(expected[i, j])


def band_codes(answers: np.ndarray, particles: np.ndarray) -> np.ndarray:
    """What the old policy's page tells apart, answers x particles, as integers: the share's band
    (within / close / off: the one ladder of exercises.checks.bands), the interval's message
    (misses, too narrow with or without credit, covers, too wide with or without credit) and the
    finding's band (grader.feedback.band on the points as the grader rounds them).
    `tests/exercises/test_guessing.py` checks that equal codes are exactly equal pages."""
    error = np.abs(answers[:, 0][:, None] - particles[None, :, 0])
    share_code = (error > SHARE_RULE.full_within).astype(np.int64) + (error >= SHARE_RULE.zero_at)
    share = np.clip(1 - (error - SHARE_RULE.full_within) / (SHARE_RULE.zero_at - SHARE_RULE.full_within), 0.0, 1.0)
    interval, message = interval_codes(answers[:, 1], answers[:, 2], particles[:, 1], particles[:, 2])
    fraction = np.round(share * interval * PART.points, SCORE_DIGITS) / PART.points
    band = np.full(error.shape, len(BANDS))
    for index, (lower, _) in reversed(list(enumerate(BANDS))):
        band = np.where(fraction >= lower, index, band)
    return (share_code * 6 + message) * (len(BANDS) + 1) + band


def pages(policy: str, answer: np.ndarray, particles: np.ndarray) -> list[str]:
    """The page one answer shows for each particle: the real page of one particle per band code
    (a page depends on the truth only through what band_codes tells apart; the test checks it)."""
    codes = band_codes(answer[None, :], particles)[0]
    known = {c: shown(policy, answer, particles[np.argmax(codes == c)], final=False) for c in np.unique(codes)}
    return [known[c] for c in codes]


def _predicted(policy: str, candidates: np.ndarray, particles: np.ndarray) -> np.ndarray:
    """The page each candidate answer would show for each particle, as integer codes."""
    if policy == BANDS_EVERY_ATTEMPT:
        return band_codes(candidates, particles)  # the codes are the pages
    ids: dict[str, int] = {}
    return np.array([[ids.setdefault(page, len(ids)) for page in pages(policy, c, particles)] for c in candidates])


def _entropy(codes: np.ndarray) -> np.ndarray:
    """Per candidate (row), the entropy of what the page would show: the information a probe can bring."""
    _, index = np.unique(codes, return_inverse=True)
    index = index.reshape(codes.shape)
    kinds = index.max() + 1
    counts = np.bincount((index + kinds * np.arange(len(codes))[:, None]).ravel(),
                         minlength=kinds * len(codes)).reshape(len(codes), kinds) / codes.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(counts > 0, counts * np.log(counts), 0.0).sum(axis=1)


def _expected_final(codes: np.ndarray, share: np.ndarray, interval: np.ndarray) -> float:
    """The expected credit of the best final answer after seeing what one probe shows (share,
    interval: each part's credit per final value and particle)."""
    total = 0.0
    for code in np.unique(codes):
        inside = codes == code
        total += (share[:, inside] @ interval[:, inside].T).max()
    return total / len(codes)


def choose_probe(policy: str, particles: np.ndarray, probes_left: int, rng: np.random.Generator,
                 sample: int = 600, shortlist: int = 20) -> np.ndarray:
    """The next probe: the most informative answer (over a grid spanning what is still possible);
    for the last probe, of the most informative, the one after which the best final answer has the
    highest expected credit."""
    some = particles[rng.choice(len(particles), min(sample, len(particles)), replace=False)]
    low, high = np.quantile(particles, [0.005, 0.995], axis=0)
    grid = np.array([(s, c, h) for s in PROBE_GRIDS[0] for c in PROBE_GRIDS[1] for h in PROBE_GRIDS[2]
                     if low[0] - 0.1 <= s <= high[0] + 0.1 and low[1] - 10 <= c <= high[1] + 10])
    if policy != BANDS_EVERY_ATTEMPT:  # a real page per answer and band code: fewer answers
        grid = grid[rng.choice(len(grid), min(24, len(grid)), replace=False)]
    codes = _predicted(policy, grid, some)
    information = _entropy(codes)
    if information.max() <= 1e-12:  # nothing the page shows depends on the truth: probing is useless
        return best_answer(particles)[0]
    if probes_left > 1:
        return grid[information.argmax()]
    share = share_credit(FINAL_GRIDS[0][::4], some[:, 0])
    centres, halves = _final_grid()
    interval = interval_codes(centres[::3], halves[::3], some[:, 1], some[:, 2])[0]
    top = np.argsort(information)[::-1][:shortlist]
    return grid[top[np.argmax([_expected_final(codes[i], share, interval) for i in top])]]


def probe_learner(policy: str, truth_, prior: np.ndarray, attempts: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """One learner's attempts: probes, then the final answer; returns it and how many particles were left."""
    particles = prior
    for attempt in range(1, attempts + 1):
        if attempt == attempts:
            answer = best_answer(particles)[0]
        else:
            answer = choose_probe(policy, particles, attempts - attempt, rng)
        seen = shown(policy, answer, truth_, final=attempt == attempts)
        if attempt == attempts:
            return answer, len(particles)
        keep = np.array([page == seen for page in pages(policy, answer, particles)])
        if keep.any():  # the truth lies outside the prior's draws: keep what was known
            particles = particles[keep]
    raise ValueError("attempts must be at least 1")


def prober_answers(policy: str, truths: np.ndarray, home: np.ndarray, attempts: int = DEFAULT_ATTEMPTS,
                   particles: int = 20000, seed: int = 0) -> np.ndarray:
    """The prober's final answer (the graded one), per learner."""
    rng = np.random.default_rng(seed)
    prior = prior_particles(home, particles, rng)
    return np.array([probe_learner(policy, t, prior, attempts, rng)[0] for t in truths])


def prober_scores(policy: str, truths: np.ndarray, home: np.ndarray, attempts: int = DEFAULT_ATTEMPTS,
                  particles: int = 20000, seed: int = 0) -> np.ndarray:
    """The finding's credit the prober's final answer earns, per learner (the real check)."""
    return finding_scores(prober_answers(policy, truths, home, attempts, particles, seed), truths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--employees", type=int, default=150)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--profile", default="mandate-bigco")
    parser.add_argument("--secret", default="benchmark-course-secret")
    parser.add_argument("--pool", type=int, default=50, help="companies a learner generates at home (0: skip)")
    parser.add_argument("--pool-secret", default=None, help="the home companies' secret (default: random)")
    parser.add_argument("--attempts", type=int, default=DEFAULT_ATTEMPTS, help="submissions the prober may make")
    parser.add_argument("--particles", type=int, default=20000, help="truths the prober draws from its prior")
    parser.add_argument("--save", type=Path, help="also write the truths and reference answers (.npz)")
    args = parser.parse_args()
    started = time.perf_counter()
    truths, refs = [], []
    for i in range(args.learners):
        company = generate_company(args.profile, args.employees, args.days, learner_seed(args.secret, f"learner{i:03d}"))
        truths.append(truth_triple(company))
        refs.append(reference_answers(company))
    truths_a, refs_a = np.array(truths), np.array(refs)
    pool_secret = args.pool_secret or secrets.token_hex(16)
    home = np.array([truth_triple(c) for c in (
        generate_company(args.profile, args.employees, args.days, learner_seed(pool_secret, f"c{i}"))
        for i in range(args.pool))]).reshape(-1, 3)
    if args.save:
        np.savez(args.save, truths=truths_a, references=refs_a)
    n = len(truths_a)
    for k, key in enumerate(("theater_share", "access_effect_pct")):
        errors = refs_a[:, k] - truths_a[:, k]
        print(f"{key}: truths {truths_a[:, k].min():.3f} to {truths_a[:, k].max():.3f}; reference error mean "
              f"{errors.mean():+.3f}, |error| median {np.median(np.abs(errors)):.3f}, 90th percentile "
              f"{np.quantile(np.abs(errors), 0.9):.3f}, max {np.abs(errors).max():.3f}")
    print(f"reference interval width: {truths_a[:, 2].min():.1f} to {truths_a[:, 2].max():.1f} points")
    print(f"learners: {n} ({args.profile}, {args.employees} employees, {args.days} days), "
          f"{time.perf_counter() - started:.0f} s")

    def separate(answers: np.ndarray, truths: np.ndarray) -> np.ndarray:
        return part_credits(answers, truths).mean(axis=1)

    noisy = refs_a + np.random.default_rng(0).normal(0.0, NOISE, refs_a.shape)
    noisy[:, 0] = noisy[:, 0].clip(0.0, 1.0)
    exact = truths_a.copy()
    exact[:, 2] = truths_a[:, 2] / 2       # a classmate's truth, with an interval as wide as their reference's
    joint_constant, separate_constant, answer = best_constant(truths_a)
    middle = (RANGES["performative_share"].at(0.5), *(np.median(home[:, 1:], axis=0) / (1, 2))) if len(home) else \
        (RANGES["performative_share"].at(0.5), float(np.median(truths_a[:, 1])), float(np.median(truths_a[:, 2])) / 2)
    rows = [
        (f"best constant {answer[0]:.3f}, {answer[1]:+.1f} ± {answer[2]:.1f}", joint_constant, separate_constant),
        ("the best constant for the other half", held_out_constant(truths_a), float("nan")),
        *([(f"the best constant over {len(home)} companies of one's own",
            finding_scores(np.tile(best_constant(home)[2], (n, 1)), truths_a).mean(), float("nan"))] if len(home) else []),
        ("a classmate's reference answers", classmates(refs_a, truths_a, finding_scores),
         classmates(refs_a, truths_a, separate)),
        ("the same with noise (0.03, 3, 1 points)", classmates(noisy, truths_a, finding_scores),
         classmates(noisy, truths_a, separate)),
        ("a classmate's exact truths", classmates(exact, truths_a, finding_scores),
         classmates(exact, truths_a, separate)),
        (f"the middles {middle[0]:.2f}, {middle[1]:+.0f} ± {middle[2]:.0f}",
         finding_scores(np.tile(middle, (n, 1)), truths_a).mean(), separate(np.tile(middle, (n, 1)), truths_a).mean()),
        ("the reference solution", finding_scores(refs_a, truths_a).mean(), separate(refs_a, truths_a).mean()),
    ]
    print(f"{'share of the finding points':>48}  {'as one finding':>14}  {'per part':>10}")
    for label, joint, per_part in rows:
        print(f"{label:>48}  {joint:14.1%}  " + (f"{per_part:10.1%}" if np.isfinite(per_part) else ""))
    reference = finding_scores(refs_a, truths_a)
    print(f"reference solution: lowest learner {reference.min():.0%}, {np.mean(reference >= 0.999):.0%} at full marks")
    if len(home) < 2:
        return
    print(f"\nthe adaptive prober: {args.attempts} submissions each, a prior from {len(home)} companies generated "
          f"at home (secret {pool_secret}), {args.particles} particles")
    print(f"{'channel':>48}  {'% of reference':>14}  {'full marks':>10}  {'time':>6}")
    prior_only = finding_scores(np.tile(best_answer(prior_particles(home, args.particles, np.random.default_rng(0)))[0],
                                        (n, 1)), truths_a)  # the prober's own prior, drawn as it draws it
    print(f"{'its prior alone (no feedback)':>48}  {prior_only.mean() / reference.mean():14.1%}  "
          f"{np.mean(prior_only >= 0.999):10.0%}")
    for name in POLICIES:
        began = time.perf_counter()
        scores = prober_scores(name, truths_a, home, args.attempts, args.particles)
        print(f"{'submission feedback, ' + name:>48}  {scores.mean() / reference.mean():14.1%}  "
              f"{np.mean(scores >= 0.999):10.0%}  {time.perf_counter() - began:5.0f}s")


if __name__ == "__main__":
    main()
