"""The effect of AI access, estimated the way a field experiment is, and graded with its interval.

Every synthetic company rolls AI access out in random waves (`employees.ai_access_from`): the
first wave on its first access date P, the next on the second access date P2, ..., the last on
the mandate day M. Most have two waves (a pilot, then everyone at the mandate: P2 = M); a
staggered rollout has three or four. Because the waves are random, comparing a wave with every
wave not yet licensed, from its access date to the next wave's, measures the effect of *access*
(intent-to-treat), whoever in the wave ends up using AI. A later wave is the comparison group
only until its own start; from then on it is the treated wave of the next comparison. The graded
effect pools every wave's window (exercises/truth.py access_effect); with two waves it is the
first wave over [P, M).

- Work is attributed to the day it was opened: "closed work" here counts the closed or merged
  items (datasets.measures.closed_work) by `created_at`, so work started before someone's access
  and finished after it counts as work without access (counting at `closed_at` would smear the
  days before the pilot into the pilot window and understate a growing effect).
- Reference estimator (`reference_estimate`, released tables only): a difference-in-differences
  of closed work for every wave but the last, that wave against the later ones, the period
  before its start [first day, start) against its window [start, next start). What each wave
  would have closed in its window without access is its own work before times the later waves'
  growth; the effect is the waves' window work over that, minus one, in percent
  (`pooled_effect`). With two waves it is the ratio of ratios
  100 * ((wave_window / wave_pre) / (rest_window / rest_pre) - 1); per person-week rates give
  the same number. Its 95% interval is a percentile bootstrap over the units of randomisation,
  resampled within each wave, one draw serving every comparison a unit is in: people, or whole
  squads/teams when everyone in one shares one access date (`randomisation_unit`).
- The two-wave recipe in any rollout (`first_wave_estimate`): the first wave alone. Right, and the
  reference, with two waves; in a staggered rollout it leaves the later waves' windows out, so its
  interval is wider than the design gives (and with its window run to the mandate its comparison
  group is partly licensed).
- Event study (`event_study`): the same comparison week by week around each wave's start,
  pooled over the waves that have a not-yet-licensed group: flat before the start when the groups
  were on parallel paths, and the effect building up after it.
- Naive estimator (`naive_estimate`): heavy AI users against non-users, pre-pilot period against
  the time since the mandate: the users-versus-non-users contrast vendors' dashboards show. It
  targets the effect on self-selected users and is biased wherever who uses AI is related to
  how their output moves anyway (benchmarks/estimands.py measures it per family).
- `interval_credit`: full credit when the interval, widened by INTERVAL_SLACK of its half-width on
  each side, covers the truth and its width is between NARROW_FULL and WIDTH_FULL times the
  reference interval's on the same company; linear to zero at NARROW_ZERO and WIDTH_ZERO times;
  zero when it misses. The upper cap stops an interval wide enough to cover everything; the lower
  one fails an interval that resamples people where whole squads were licensed (too narrow, even
  when it happens to cover).
- The measure report (theater share and the access effect with its interval) is one finding,
  share credit times interval credit: exercises/checks/estimates.py `measure.finding`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from datasets.errors import UserError
from datasets.measures import Company, closed_work, data_period, non_user_ids

BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 20261206        # fixed: the reference width of a company is one number
INTERVAL_SLACK = 0.4             # of the learner's half-width, added on each side before checking coverage
WIDTH_FULL = 1.15                # full credit up to this multiple of the reference interval's width
WIDTH_ZERO = 1.6                 # no credit from this multiple on
NARROW_FULL = 0.85               # ... and down to this multiple: a narrower interval claims a certainty
NARROW_ZERO = 0.6                # the design does not give (no credit from this multiple down)
FINDING_KEYS = ("theater_share", "access_effect_pct", "access_effect_low", "access_effect_high")

Unit = Literal["person", "squad", "team"]


class CausalError(UserError):
    """The company has no pilot to compare (one access date for everyone), or too little work."""


class AnswerError(ValueError):
    """A malformed interval answer: the message says what to fix."""


@dataclass(frozen=True)
class Estimate:
    value: float        # percent
    low: float
    high: float
    unit: str           # what the bootstrap resampled

    @property
    def width(self) -> float:
        return self.high - self.low


@dataclass(frozen=True)
class Pilot:
    """Who got access when, and the periods around the first wave, from the released tables."""

    people: pd.DataFrame      # employee_id, team, manager_id, wave (bool: the first wave), access,
                              # wave_index (0 for the first wave, 1 for the next, ...)
    start: pd.Timestamp
    pilot: pd.Timestamp       # the first access date
    second: pd.Timestamp      # the second access date: the comparison window ends here
    mandate: pd.Timestamp     # the last access date (everyone licensed)
    end: pd.Timestamp

    @property
    def wave_starts(self) -> list[pd.Timestamp]:
        return sorted(self.people["access"].unique())


def pilot_design(company: Company) -> Pilot:
    """The first wave (everyone licensed on the earliest access date) and the periods around it."""
    employees = company.employees
    if "ai_access_from" not in employees.columns:
        raise CausalError("the employees table has no ai_access_from column: this company has no pilot")
    access = pd.to_datetime(employees["ai_access_from"]).dt.normalize()
    starts = sorted(access.dropna().unique())
    if len(starts) < 2:
        raise CausalError("everyone got AI access on the same day: there is no pilot wave to compare")
    first, second, last = pd.Timestamp(starts[0]), pd.Timestamp(starts[1]), pd.Timestamp(starts[-1])
    start, end = data_period(company)
    if first <= start:
        raise CausalError("the pilot started on the first day of the data: there is no pre-pilot period")
    people = pd.DataFrame({"employee_id": employees["employee_id"].astype(str),
                           "team": employees["team"].astype(str),
                           "manager_id": employees["manager_id"].astype("string").fillna("-"),
                           "wave": (access == first).to_numpy(),
                           "access": access.to_numpy(),
                           "wave_index": pd.DatetimeIndex(starts).searchsorted(access.to_numpy())})
    return Pilot(people=people, start=start, pilot=first, second=second, mandate=last, end=end)


def design_unit(company: Company) -> Unit:
    """The unit the generator's lottery drew (its family's `randomised_by`), from the company's
    in-memory meta: the grader's own copy knows its design, a released export does not. The
    learner works it out from the access dates (the measure notebook); the package carries no
    such rule, so it holds no solution of that step."""
    from datasets.families import FAMILIES

    family = (getattr(company, "meta", None) or {}).get("family")
    if family not in FAMILIES:
        raise CausalError("this company does not say how its pilot was randomised (only a company "
                          "generated here knows its family): the reference interval needs the unit")
    return FAMILIES[family].randomised_by


def _closed_counts(company: Company, ids: pd.Series, periods: list[tuple[pd.Timestamp, pd.Timestamp]]) -> np.ndarray:
    """(people, periods) counts of closed work per person, by the day it was opened, in each period."""
    done = closed_work(company.work_items)[["employee_id", "created_at"]]
    done = done.assign(employee_id=done["employee_id"].astype(str), created_at=pd.to_datetime(done["created_at"]))
    columns = []
    for lo, hi in periods:
        inside = done[(done["created_at"] >= lo) & (done["created_at"] < hi)]
        columns.append(inside.groupby("employee_id").size().reindex(ids, fill_value=0).to_numpy())
    return np.column_stack(columns).astype(float)


def pooled_effect(sums: np.ndarray) -> np.ndarray:
    """The pooled effect in percent from per-wave sums (..., waves, stacks, 2 periods: before,
    window), stack k comparing wave k with every later wave: each wave's expected window work
    without access is its own work before times the later waves' growth (window over before),
    and the effect is all waves' window work over all of that expected work, minus one. With two
    waves this is the ratio of ratios 100 * ((T1/T0) / (C1/C0) - 1)."""
    stacks = sums.shape[-3] - 1
    treated = np.stack([sums[..., k, k, :] for k in range(stacks)], axis=-2)
    later = np.stack([sums[..., k + 1:, k, :].sum(axis=-2) for k in range(stacks)], axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = treated[..., 0] * later[..., 1] / later[..., 0]
        return 100.0 * (treated[..., 1].sum(axis=-1) / expected.sum(axis=-1) - 1.0)


def pooled_with_interval(counts: np.ndarray, wave: np.ndarray, units: np.ndarray, unit_name: str,
                         samples: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED) -> Estimate:
    """pooled_effect of per-person (stacks, 2) counts, `wave` the person's wave (0, 1, ...), with
    a 95% percentile bootstrap over `units` (each unit wholly in one wave), resampled within each
    wave so that every wave keeps its size."""
    unit_codes, unit_of = np.unique(units, return_inverse=True)
    sums = np.zeros((len(unit_codes),) + counts.shape[1:])
    np.add.at(sums, unit_of, counts)
    unit_wave = np.full(len(unit_codes), np.iinfo(np.int64).max)
    np.minimum.at(unit_wave, unit_of, wave)    # a unit belongs to its earliest-licensed member's wave
    by_wave = [sums[unit_wave == w] for w in range(int(wave.max()) + 1)]
    if min(len(part) for part in by_wave) < 2:
        raise CausalError("fewer than two units in one of the access waves: no interval")
    value = float(pooled_effect(np.stack([part.sum(axis=0) for part in by_wave])))
    if not math.isfinite(value):
        raise CausalError("a group closed no work in one of the periods: the effect is undefined")
    rng = np.random.default_rng(seed)
    draws = np.stack([part[rng.integers(0, len(part), (samples, len(part)))].sum(axis=1)
                      for part in by_wave], axis=1)
    boot = pooled_effect(draws)
    boot = boot[np.isfinite(boot)]
    low, high = np.percentile(boot, [2.5, 97.5])
    return Estimate(value=value, low=float(low), high=float(high), unit=unit_name)


def did_with_interval(counts: np.ndarray, treated: np.ndarray, units: np.ndarray, unit_name: str,
                      samples: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED) -> Estimate:
    """The ratio-of-ratios DiD of per-person (before, after) counts, with a 95% percentile
    bootstrap over `units` (each unit wholly treated or not), resampled within each arm."""
    return pooled_with_interval(counts[:, None, :], np.where(treated, 0, 1), units, unit_name,
                                samples, seed)


def _unit_of(people: pd.DataFrame, unit: Unit) -> np.ndarray:
    """Each person's unit of randomisation: themselves, their team or their squad (manager)."""
    return people[{"person": "employee_id", "team": "team", "squad": "manager_id"}[unit]].to_numpy()


def wave_counts(company: Company, pilot: Pilot | None = None) -> np.ndarray:
    """(people, stacks, 2): each person's closed work, by the day it was opened, before each
    wave's start [first day, wave start) and in its window [wave start, next wave's start), for
    every wave but the last."""
    pilot = pilot or pilot_design(company)
    starts = pilot.wave_starts
    periods = [period for lo, hi in zip(starts[:-1], starts[1:]) for period in ((pilot.start, lo), (lo, hi))]
    counts = _closed_counts(company, pilot.people["employee_id"], periods)
    return counts.reshape(len(counts), len(starts) - 1, 2)


def reference_estimate(company: Company, unit: Unit) -> Estimate:
    """The reference method: every wave against the ones not yet licensed, before its start
    against its own window [its start, the next wave's start), pooled (pooled_effect), with a
    bootstrap over `unit`, the unit of randomisation (the grader passes design_unit; choosing it
    from the data is the learner's step). With two waves: the first wave against the rest, the
    pre-pilot period against [first, second access date)."""
    pilot = pilot_design(company)
    people = pilot.people
    return pooled_with_interval(wave_counts(company, pilot), people["wave_index"].to_numpy(),
                                _unit_of(people, unit), unit)


def first_wave_estimate(company: Company, unit: Unit, end: pd.Timestamp | None = None) -> Estimate:
    """The two-wave recipe in any rollout: the first wave against everyone else, the pre-pilot
    period against [first access date, `end`) (the second access date unless given). Right, and
    the reference, with two waves; with more it leaves the later waves' own windows out, and with
    `end` past the second access date its comparison group is partly licensed."""
    pilot = pilot_design(company)
    people = pilot.people
    counts = _closed_counts(company, people["employee_id"],
                            [(pilot.start, pilot.pilot), (pilot.pilot, end or pilot.second)])
    return did_with_interval(counts, people["wave"].to_numpy(), _unit_of(people, unit), unit)


EVENT_PRE_WEEKS = 6   # weeks before each wave's start that the event study shows


def event_study(company: Company, pre_weeks: int = EVENT_PRE_WEEKS) -> pd.DataFrame:
    """Week-by-week DiD around each wave's start, pooled across waves (a diagnostic, not graded).

    For every wave that has a not-yet-licensed group (all but the last), and every whole week
    from `pre_weeks` before its start until the next wave's start: the wave's closed work in that
    week over its mean pre-start week, against the same ratio of everyone licensed later, in
    percent. The baseline is the mean of the pre-start weeks, not the single week before, because
    one week of one wave is too few items to compare against. Waves are pooled week by week,
    weighted by the wave's size. Rows: `week` (0 = the wave's first week of access), `effect_pct`,
    `waves` (how many waves the week pools). Flat before week 0 is what parallel paths look like;
    a tilt there means the later waves are no fair comparison.
    """
    pilot = pilot_design(company)
    people = pilot.people
    starts = pilot.wave_starts
    if pre_weeks < 1:
        raise CausalError("the event study needs at least one week before each wave's start")
    week = pd.Timedelta(days=7)
    rows: list[tuple[int, float, float]] = []
    for wave_start, next_start in zip(starts[:-1], starts[1:]):
        first_week = max(-pre_weeks, -int((wave_start - pilot.start) // week))
        post_weeks = int((next_start - wave_start) // week)
        if first_week > -1 or post_weeks < 1:
            continue
        weeks = list(range(first_week, post_weeks))
        periods = [(wave_start + k * week, wave_start + (k + 1) * week) for k in weeks]
        counts = _closed_counts(company, people["employee_id"], periods)
        treated = (people["access"] == wave_start).to_numpy()
        later = (people["access"] > wave_start).to_numpy()
        t, c = counts[treated].sum(axis=0), counts[later].sum(axis=0)
        pre = np.array(weeks) < 0
        with np.errstate(divide="ignore", invalid="ignore"):
            effect = 100.0 * ((t / t[pre].mean()) / (c / c[pre].mean()) - 1.0)
        rows += [(k, float(e), float(treated.sum())) for k, e in zip(weeks, effect) if np.isfinite(e)]
    if not rows:
        raise CausalError("no wave has both a week before its start and a not-yet-licensed group")
    table = pd.DataFrame(rows, columns=["week", "effect_pct", "size"])
    pooled = table.groupby("week").apply(
        lambda g: pd.Series({"effect_pct": np.average(g["effect_pct"], weights=g["size"]),
                             "waves": len(g)}), include_groups=False)
    return pooled.reset_index().astype({"week": int, "waves": int})


def naive_estimate(company: Company) -> Estimate:
    """Heavy users (at least the median AI events since the mandate among people with any) against
    non-users (datasets.measures: under a tenth of the median person's events over the whole
    period), pre-pilot vs since the mandate."""
    pilot = pilot_design(company)
    people = pilot.people
    events = company.ai_events
    since = events[pd.to_datetime(events["timestamp"]) >= pilot.mandate]
    per_person = since.groupby("employee_id", observed=True).size()
    per_person.index = per_person.index.astype(str)
    per_person = per_person.reindex(people["employee_id"], fill_value=0)
    active = per_person[per_person > 0]
    users = (per_person >= active.median()).to_numpy() if len(active) else np.zeros(len(people), bool)
    lacking = people["employee_id"].isin(non_user_ids(company)).to_numpy() & ~users
    keep = users | lacking
    counts = _closed_counts(company, people["employee_id"][keep],
                            [(pilot.start, pilot.pilot), (pilot.mandate, pilot.end)])
    return did_with_interval(counts, users[keep], people["employee_id"][keep].to_numpy(), "person")


# ----------------------------------------------------------------------------- grading

def number_of(value: Any, what: str = "the number") -> float:
    if isinstance(value, bool) or value is None:
        raise AnswerError(f"{what} must be a number")
    if isinstance(value, str):
        text = value.strip().rstrip("%").strip()
        try:
            value = float(text)
        except ValueError:
            raise AnswerError(f"{what} must be a number, not {value[:40]!r}") from None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AnswerError(f"{what} must be a number, not a {type(value).__name__}") from None
    if not math.isfinite(number):
        raise AnswerError(f"{what} must be a finite number")
    return number


COVERS, MISSES, TOO_NARROW, TOO_WIDE = "covers", "misses", "too narrow", "too wide"


def interval_verdict(estimate: Any, low: Any, high: Any, truth: float,
                     reference_width: float, slack: float = INTERVAL_SLACK) -> tuple[float, str, str]:
    """(credit, message, verdict) for an estimate with its interval: coverage first, then width
    against the reference; the verdict (covers / misses / too narrow / too wide) is what an
    instructor reads. The message names a band only: never the truth, its direction or the
    reference width. `slack` is for benchmarks/estimands.py's sweep; grading uses the default."""
    estimate = number_of(estimate, "the effect estimate")
    low = number_of(low, "the interval's lower end")
    high = number_of(high, "the interval's upper end")
    if low > high:
        raise AnswerError("the interval's lower end is above its upper end")
    if not low <= estimate <= high:
        raise AnswerError("the estimate must lie inside its own interval")
    if not (math.isfinite(truth) and math.isfinite(reference_width) and reference_width > 0):
        raise ValueError("the truth needs a finite value and a positive reference width")
    margin = slack * (high - low) / 2
    if not low - margin <= truth <= high + margin:
        return 0.0, "Your interval misses the true effect: no credit.", MISSES
    ratio = (high - low) / reference_width
    if ratio < NARROW_FULL:
        credit = max(0.0, (ratio - NARROW_ZERO) / (NARROW_FULL - NARROW_ZERO))
        return credit, ("Your interval covers the true effect, but it is narrower than this design "
                        "allows: it claims more certainty than the data hold"
                        + (": partial credit." if credit > 0 else ": no credit.")), TOO_NARROW
    if ratio <= WIDTH_FULL:
        return 1.0, "Your interval covers the true effect and is no wider than the design needs.", COVERS
    if ratio >= WIDTH_ZERO:
        return 0.0, ("Your interval covers the true effect only by being far wider than the design "
                     "needs: no credit."), TOO_WIDE
    credit = (WIDTH_ZERO - ratio) / (WIDTH_ZERO - WIDTH_FULL)
    return credit, "Your interval covers the true effect but is wider than the design needs: partial credit.", TOO_WIDE


def interval_credit(estimate: Any, low: Any, high: Any, truth: float,
                    reference_width: float, slack: float = INTERVAL_SLACK) -> tuple[float, str]:
    """Credit and message for an estimate with its interval (interval_verdict without the verdict)."""
    credit, message, _ = interval_verdict(estimate, low, high, truth, reference_width, slack)
    return credit, message
