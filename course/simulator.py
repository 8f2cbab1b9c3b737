"""The Goodhart simulator: reward usage and watch usage climb, output stay flat, correlation collapse.

A population of workers each has a true value (what they produce) and a genuine AI usage that
tracks it: people who get value from the tools use them more, so before any reward usage is a
fair proxy. The stages add one mechanic at a time:

- metric: usage is measured and shown, nothing else changes;
- incentive: usage is rewarded, so everyone uses the tools somewhat more (little output gain);
- gaming: the reward also buys performative usage from the workers willing to game it;
- combined: gaming spreads as people see it pay, and the time spent performing costs output;
- sandbox: combined, with every knob free.

Pure numpy; the same parameters always give the same numbers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

STAGES = ("metric", "incentive", "gaming", "combined", "sandbox")
COLLAPSE_FRACTION = 0.5          # "collapsed": correlation below half its pre-reward value
FINAL_WEEKS = 4                  # the end state is the mean over the last weeks (less noise)
REWARD_GRID = np.round(np.linspace(0.0, 1.0, 101), 2)


@dataclass(frozen=True)
class SimParams:
    reward: float = 0.5          # how strongly usage is rewarded, 0 (not at all) to 1 (heavily)
    stage: str = "combined"
    workers: int = 400
    weeks: int = 52
    reward_week: int = 12        # the week the reward starts (the mandate)
    gamers_share: float = 0.35   # share of workers willing to game the metric at the start
    gaming_cost: float = 0.5     # output lost per unit of performative usage (combined, sandbox)
    spread: float = 0.5          # how fast gaming spreads to others once it pays (combined, sandbox)
    noise: float = 0.25          # week-to-week noise in measured output
    seed: int = 7

    @property
    def effective_reward(self) -> float:
        """The reward the simulation applies: none at the "metric" stage, whatever `reward` says."""
        return 0.0 if self.stage == "metric" else self.reward

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if not 0.0 <= self.reward <= 1.0:
            raise ValueError(f"reward must lie between 0 and 1, got {self.reward}")
        if self.workers < 10 or self.weeks < self.reward_week + FINAL_WEEKS or self.reward_week < 2:
            raise ValueError("need at least 10 workers, 2 weeks before the reward and "
                             f"{FINAL_WEEKS} weeks after it")
        for name in ("gamers_share", "gaming_cost", "spread", "noise"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie between 0 and 1")


@dataclass(frozen=True)
class SimResult:
    weekly: pd.DataFrame        # week, usage, output, correlation, rewarded
    baseline_correlation: float
    final_correlation: float
    usage_change_pct: float
    output_change_pct: float

    @property
    def collapsed(self) -> bool:
        return self.final_correlation < COLLAPSE_FRACTION * self.baseline_correlation


def _row_correlation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation across workers, one value per week (rows are weeks)."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    denom = np.sqrt((xc ** 2).sum(axis=1) * (yc ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (xc * yc).sum(axis=1) / denom, 0.0)


def simulate(params: SimParams) -> SimResult:
    """Weekly mean usage, mean output and the usage–output correlation across workers."""
    rng = np.random.default_rng(params.seed)
    n, weeks = params.workers, params.weeks
    value = rng.lognormal(mean=0.0, sigma=0.35, size=n)                 # true value per worker
    fit = np.exp(0.9 * np.log(value) + rng.normal(0.0, 0.25, size=n))   # how much AI helps them
    genuine = 10.0 * fit                                                # sessions per week
    willingness = rng.uniform(0.0, 1.0, size=n)                         # who would game, and when
    intensity = rng.uniform(0.5, 1.5, size=n)
    week_noise = rng.normal(0.0, params.noise, size=(weeks, n))

    t = np.arange(weeks)[:, None]
    since = np.clip(t - params.reward_week, 0, None)
    ramp = np.where(t >= params.reward_week, 1.0 - np.exp(-(since + 1) / 6.0), 0.0)
    stage = params.stage
    reward = params.effective_reward

    genuine_t = genuine * (1.0 + 0.6 * reward * ramp)                   # incentive: more real use
    output = 10.0 * value + 0.15 * genuine + 0.05 * (genuine_t - genuine)  # diminishing returns
    gamed = np.zeros((weeks, n))
    if stage in ("gaming", "combined", "sandbox"):
        share = np.full((weeks, 1), params.gamers_share)
        if stage in ("combined", "sandbox"):                            # gaming spreads when it pays
            share = np.clip(params.gamers_share + params.spread * reward * ramp * 0.6, 0.0, 1.0)
        gamers = willingness[None, :] < share
        gamed = gamers * intensity[None, :] * 40.0 * reward * ramp
        if stage in ("combined", "sandbox"):
            output = output - params.gaming_cost * 0.08 * gamed         # performing takes time
    usage = genuine_t + gamed
    output = output * (1.0 + week_noise * 0.2)

    correlation = _row_correlation(usage, output)
    before = slice(0, params.reward_week)
    baseline = float(correlation[before].mean())
    final = float(correlation[-FINAL_WEEKS:].mean())
    usage_mean, output_mean = usage.mean(axis=1), output.mean(axis=1)
    weekly = pd.DataFrame({
        "week": np.arange(1, weeks + 1),
        "usage": usage_mean,
        "output": output_mean,
        "correlation": correlation,
        "rewarded": (t[:, 0] >= params.reward_week) & (reward > 0),
    })
    base_usage, base_output = usage_mean[before].mean(), output_mean[before].mean()
    return SimResult(
        weekly=weekly,
        baseline_correlation=baseline,
        final_correlation=final,
        usage_change_pct=float(100.0 * (usage_mean[-FINAL_WEEKS:].mean() / base_usage - 1.0)),
        output_change_pct=float(100.0 * (output_mean[-FINAL_WEEKS:].mean() / base_output - 1.0)),
    )


# Each learner's sandbox starts from their own population and settings, so the collapse point the
# exercise asks for differs between learners by more than the check's tolerance: a classmate's
# answer, or one remembered from an earlier run of the course, earns nothing.
VARIANT_RANGES: dict[str, tuple[float, float]] = {
    "gamers_share": (0.1, 0.6),
    "gaming_cost": (0.25, 0.95),
    "spread": (0.1, 0.9),
}
VARIANT_STEP = 0.05              # the sandbox sliders' step, so a variant is reachable by hand
VARIANT_REWARD_WEEKS = (8, 16)
DEFAULT_PARAMS = SimParams(stage="sandbox")


def learner_params(key: bytes | None) -> SimParams:
    """The sandbox's starting settings for one learner (key: course.practice.variant_key)."""
    from course.practice import keyed_unit

    if key is None:
        return DEFAULT_PARAMS
    values: dict[str, float | int] = {}
    for name, (low, high) in VARIANT_RANGES.items():
        steps = round((high - low) / VARIANT_STEP)
        values[name] = round(low + VARIANT_STEP * int(keyed_unit(key, name) * (steps + 1)), 2)
    first, last = VARIANT_REWARD_WEEKS
    values["reward_week"] = first + int(keyed_unit(key, "reward_week") * (last - first + 1))
    values["seed"] = int(keyed_unit(key, "population") * 2 ** 31)
    return replace(DEFAULT_PARAMS, **values)


@functools.lru_cache(maxsize=256)
def goodhart_collapse_point(params: SimParams | None = None) -> float:
    """The smallest reward (0–1, step 0.01) at which the correlation falls below half its start.

    Truth for the check goodhart.collapse_point; 1.0 when it never collapses at these settings.
    """
    params = params or SimParams()
    stage = params.stage if params.stage not in ("metric",) else "combined"
    for reward in REWARD_GRID:
        if simulate(replace(params, stage=stage, reward=float(reward))).collapsed:
            return float(reward)
    return 1.0


def reward_sweep(params: SimParams | None = None, steps: int = 21) -> pd.DataFrame:
    """End-of-year usage change, output change and correlation for rewards from 0 to 1."""
    params = params or SimParams()
    rows = []
    for reward in np.linspace(0.0, 1.0, steps):
        result = simulate(replace(params, reward=float(round(reward, 4))))
        rows.append({"reward": round(float(reward), 4),
                     "usage_change_pct": result.usage_change_pct,
                     "output_change_pct": result.output_change_pct,
                     "final_correlation": result.final_correlation})
    return pd.DataFrame(rows)


def describe(result: SimResult, params: SimParams) -> str:
    """One-paragraph text summary of a run, shown under the chart."""
    reward = params.effective_reward
    if reward > 0:
        opening = (f"With usage rewarded at {reward:.2f} from week {params.reward_week + 1}, mean "
                   f"usage changed by {result.usage_change_pct:+.0f}% and mean output by "
                   f"{result.output_change_pct:+.1f}%. The usage–output correlation went from "
                   f"{result.baseline_correlation:.2f} before the reward to ")
    else:
        opening = (f"With usage measured but never rewarded, mean usage changed by "
                   f"{result.usage_change_pct:+.0f}% and mean output by "
                   f"{result.output_change_pct:+.1f}% between the first {params.reward_week} weeks "
                   f"and the last {FINAL_WEEKS}. The usage–output correlation went from "
                   f"{result.baseline_correlation:.2f} in the first weeks to ")
    return (opening + f"{result.final_correlation:.2f} at the end"
            + (" — usage no longer tells you who produces value." if result.collapsed
               else " — usage still roughly tracks output."))
