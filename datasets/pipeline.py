"""The one generation pipeline: scenario -> seeded RNG -> employees -> archetypes -> AI events ->
work items -> survey -> labels.

Everything per event is vectorised numpy; Faker only fills the name pools. Employees are generated
in fixed blocks of BLOCK_EMPLOYEES, each with its own RNG stream derived from (seed, block), so
the same company comes out whether it is built in memory at once or streamed to disk in chunks.

How the lesson is planted (the behaviour model):
- Every AI session is either genuine or performative. An employee's share of performative
  sessions depends on their archetype and on the period (before/after the mandate, before/after a
  convert's conversion); `event_labels.is_theater` is exactly that mode.
- Volume does not tell the modes apart: tokenmaxxers produce about as many events, sessions and
  tokens as genuine adopters over the period.
- What does: performative output is rarely accepted, is more often about documents the person wrote
  themselves, reuses a few near-identical prompts, bunches up before dashboard refreshes and
  reporting deadlines, and seldom feeds a work item that gets merged or closed. Each employee has
  independent habits on each of these, so no single one separates the archetypes well, while
  several together do.
- Access is a released fact (`employees.ai_access_from`): a keyed random pilot wave (a third of
  each team, or half of the squads in the spillover family) gets AI access on the pilot day,
  some whole weeks before the mandate; everyone else on the mandate day. In the staggered family
  whole squads are licensed in 3-4 waves in a keyed random order, whole weeks apart from the
  pilot day to the mandate. Nobody has an AI event before their access date.
- Output (work items) has potential outcomes: for every person and day an expected rate of new
  work without access (lambda0: the role's rate, the person's own level, a learning curve for new
  hires, a company-wide trend and quarterly swing, the squad's own drift and
  monthly swings) and with access (lambda1 =
  lambda0 times the effect of access). Genuine adopters and converts (after converting) gain the
  scenario's productivity_gain, ramping in over 14 days from access (negative in some drawn
  companies: AI can cost time); performers lose a little time, more under the mandate's pressure;
  in the spillover family everyone else in a licensed squad gains part of it. Quiet experts are
  faster with or without AI. Work is drawn from the realised rate: lambda1 from the person's
  access date on, lambda0 before. The labels keep each person's sums of both over the comparison
  window, the first access date to the second (the truth of exercises/truth.py access_effect).
- Behaviour per archetype is the table of datasets/archetypes.py; per family, datasets/families.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from datasets import archetypes as archetype_table
from datasets.archetypes import ARCHETYPES
from datasets.families import DEFAULT_FAMILY, FAMILIES, Family
from datasets.keyed import derive_key, keyed_int, keyed_stream, keyed_words
from datasets.provider import company_faker, name_pools
from datasets.scenario import Scenario, default_teams
from datasets.variation import feeds_work

GENERATOR_VERSION = "3.3"  # bump whenever the same arguments would give different data (the grader checks it)
BLOCK_EMPLOYEES = 200
NS_PER_SECOND = 1_000_000_000
SECONDS_PER_DAY = 86_400
BACKLOG_DAYS = 28  # work created before the period so that closures are steady from day one
SURVEY_EVERY_DAYS = 28
DOCS_PER_EMPLOYEE = 40
COMPANY_PROMPT_POOL = 400
TEMPLATE_SLOTS = 80  # above the largest personal prompt pool (pool_gen < 80)

GENUINE, TOKENMAXXER, CONVERT, NON_USER, QUIET_EXPERT = range(5)
ENGINEERING, BUSINESS, MANAGEMENT = range(3)

TOOLS = ("ide-assistant", "chat-assistant", "office-copilot", "cli-agent")
FEATURES = ("code_completion", "chat", "summarize", "draft", "agent_edit", "review")
CATEGORIES = ("code", "summarize", "draft", "question", "analysis", "rewrite")
WORK_KINDS = ("ticket", "pull_request", "document")
WORK_STATUSES = ("open", "closed", "merged", "abandoned")
CALENDAR_TYPES = ("mandate", "dashboard_refresh", "reporting_deadline", "review_cycle", "holiday")

# Feature mix of a session by role group and mode (genuine, performative), before per-person taste.
FEATURE_MIX = np.array([
    [[0.42, 0.20, 0.06, 0.05, 0.15, 0.12], [0.36, 0.24, 0.10, 0.07, 0.13, 0.10]],
    [[0.00, 0.34, 0.24, 0.28, 0.00, 0.14], [0.00, 0.36, 0.29, 0.25, 0.00, 0.10]],
    [[0.02, 0.32, 0.28, 0.26, 0.00, 0.12], [0.00, 0.34, 0.32, 0.24, 0.00, 0.10]],
])
# Tool by role group and feature.
TOOL_BY_FEATURE = np.array([
    [[1, 0, 0, 0], [0.35, 0.65, 0, 0], [0, 0.5, 0.5, 0], [0, 0.4, 0.6, 0], [0.35, 0, 0, 0.65],
     [0.8, 0.2, 0, 0]],
    [[1, 0, 0, 0], [0, 0.6, 0.4, 0], [0, 0.35, 0.65, 0], [0, 0.3, 0.7, 0], [0, 0, 0, 1],
     [0, 0.3, 0.7, 0]],
    [[1, 0, 0, 0], [0, 0.55, 0.45, 0], [0, 0.3, 0.7, 0], [0, 0.3, 0.7, 0], [0, 0, 0, 1],
     [0, 0.3, 0.7, 0]],
])
# Prompt category by feature.
CATEGORY_BY_FEATURE = np.array([
    [0.92, 0.00, 0.00, 0.08, 0.00, 0.00],
    [0.15, 0.05, 0.05, 0.45, 0.25, 0.05],
    [0.00, 0.85, 0.00, 0.10, 0.05, 0.00],
    [0.00, 0.00, 0.70, 0.00, 0.00, 0.30],
    [0.70, 0.00, 0.00, 0.00, 0.10, 0.20],
    [0.20, 0.00, 0.00, 0.00, 0.50, 0.30],
])
LOOKUP_BINS = 4096


def _lookup_table(probabilities: np.ndarray, bins: int = LOOKUP_BINS) -> np.ndarray:
    """Inverse CDFs quantised into `bins` equal steps: one gather per draw instead of a search."""
    cumulative = np.cumsum(probabilities, axis=1) / probabilities.sum(axis=1, keepdims=True)
    midpoints = (np.arange(bins) + 0.5) / bins
    return np.stack([np.searchsorted(row, midpoints, side="right") for row in cumulative]).astype(np.int8)


CATEGORY_LOOKUP = _lookup_table(CATEGORY_BY_FEATURE)
DOC_PROBABILITY = np.array([1.0, 0.35, 1.0, 0.9, 1.0, 1.0])
ACCEPT_BY_FEATURE = np.array([0.8, 1.1, 1.05, 1.1, 0.95, 1.0])
# Median tokens and log-sd per feature: (in, sigma_in, out, sigma_out).
TOKENS = np.array([
    [350, 0.7, 45, 0.8], [450, 1.0, 380, 0.9], [2400, 1.1, 320, 0.7], [300, 0.9, 650, 0.8],
    [3500, 1.0, 1400, 1.0], [1600, 0.9, 280, 0.8],
])
WORK_KIND_MIX = np.array([[0.35, 0.55, 0.10], [0.45, 0.0, 0.55], [0.40, 0.0, 0.60]])
CYCLE_MEDIAN_HOURS = np.array([40.0, 26.0, 50.0])
ROLE_USAGE = np.array([1.15, 0.9, 0.7])
ROLE_OUTPUT = np.array([1.3, 1.1, 0.7])
GAIN_RAMP_DAYS = 14        # AI's effect on a gaining person's output builds up over two weeks of access
PRESSURE_BEFORE_MANDATE = 0.4   # performers' output loss before the mandate, as a share of its full size
NEW_HIRE_DEFICIT = 0.45    # a new hire's output starts this much below their level ...
NEW_HIRE_DAYS = 240.0      # ... and closes the gap with this time constant (days of tenure)
SEASON_DAYS = 91           # the company-wide swing in output is quarterly
SHOCK_DAYS = 28            # a squad's own swings in output change every four weeks


@dataclass(frozen=True)
class Timeline:
    """Days of the period and the company calendar that shapes behaviour."""

    start: date
    days: int
    day_kind: np.ndarray  # 0 business day, 1 weekend, 2 holiday; index 0 = start
    mandate_day: int | None
    pilot_day: int | None      # the pilot wave's access day (None: no pilot)
    burst_factor_base: np.ndarray  # per day: burst-window multiplier for performative sessions
    survey_days: np.ndarray
    calendar: pd.DataFrame

    @property
    def start_ns(self) -> int:
        return int(np.datetime64(self.start, "ns").astype(np.int64))


@dataclass
class Population:
    """Employees and every per-person trait the event generator needs (one row per employee)."""

    table: pd.DataFrame
    archetype: np.ndarray
    convert_day: np.ndarray
    access_day: np.ndarray     # first day of AI access (index into the period)
    unit: np.ndarray           # unit of randomisation: the team (person families) or the squad
    tenure_at_start: np.ndarray
    traits: dict[str, np.ndarray] = field(default_factory=dict)
    work_kind_mix: np.ndarray = field(default_factory=lambda: WORK_KIND_MIX)  # rows: traits["kind_row"]

    def __len__(self) -> int:
        return len(self.archetype)


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed & (2**63 - 1), *stream])))


def _beta(rng: np.random.Generator, mean: np.ndarray | float, concentration: float,
          size: int) -> np.ndarray:
    mean = np.clip(np.broadcast_to(mean, (size,)), 1e-3, 1 - 1e-3)
    return rng.beta(mean * concentration, (1 - mean) * concentration)


def _sample_rows(rng: np.random.Generator, table: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One categorical draw per element, from the probability row `table[row]`.

    Each row's cumulative distribution is shifted by its row number, so all rows form one sorted
    array and a single searchsorted does every draw without an (n, k) temporary.
    """
    rows, k = table.shape
    cumulative = np.cumsum(table, axis=1)
    cumulative /= cumulative[:, -1:]
    cumulative[:, -1] = 1.0
    flat = (cumulative + np.arange(rows)[:, None]).ravel()
    row = row.astype(np.int64)
    picks = np.searchsorted(flat, row + rng.random(len(row)), side="right") - row * k
    return np.minimum(picks, k - 1).astype(np.int8)


def _apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Integer counts proportional to weights that add up to total (largest remainder)."""
    weights = np.asarray(weights, dtype=float)
    if total == 0 or weights.sum() == 0:
        return np.zeros(len(weights), dtype=np.int64)
    exact = weights / weights.sum() * total
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


# Roles whose title the keyword rule of role_group reads wrong, one row each. A role's group sets
# its work kinds (WORK_KIND_MIX), its AI usage and its output rate, and who leads a team.
ROLE_GROUPS = {
    "Team Lead": MANAGEMENT,                  # leads a support or success team
    "Customer Success Manager": BUSINESS,     # manages customer accounts, not people
    "Contracts Manager": BUSINESS,            # manages contracts, not people
}


def role_group(role: str) -> int:
    """Engineers write code; managers write documents; everyone else is business staff (ROLE_GROUPS
    first, for titles that say otherwise)."""
    if role in ROLE_GROUPS:
        return ROLE_GROUPS[role]
    lowered = role.lower()
    if any(word in lowered for word in ("manager", "partner", "director", "head")):
        return MANAGEMENT
    if any(word in lowered for word in ("engineer", "developer")):
        return ENGINEERING
    return BUSINESS


# --------------------------------------------------------------------------- timeline

def mandate_day_of(scenario: Scenario, days: int, start: date) -> int | None:
    at = scenario.mandate.at
    if at is None:
        return None
    if isinstance(at, date):
        offset = (at - start).days
        return offset if 0 <= offset < days else None
    return int(round(float(at) * days)) if days > 1 else None


def pilot_day_of(scenario: Scenario, mandate_day: int | None) -> int | None:
    """The pilot day: whole weeks before the mandate, leaving a pre-pilot period at least as long."""
    if mandate_day is None:
        return None
    weeks = min(scenario.pilot_weeks, mandate_day // 14)
    return mandate_day - 7 * weeks if weeks >= 1 else None


def family_of(scenario: Scenario) -> Family:
    return FAMILIES[scenario.family or DEFAULT_FAMILY]


def build_timeline(scenario: Scenario, days: int, start: date) -> Timeline:
    """Business days, holidays, the mandate and the deadlines performative users aim at."""
    dates = [start + timedelta(days=offset) for offset in range(days)]
    holidays = set(scenario.holidays)
    day_kind = np.zeros(days, dtype=np.int8)
    for offset, day in enumerate(dates):
        if day.strftime("%m-%d") in holidays:
            day_kind[offset] = 2
        elif day.weekday() >= 5:
            day_kind[offset] = 1
    business = day_kind == 0
    mandate_day = mandate_day_of(scenario, days, start)
    cadence = scenario.cadence
    rows: list[tuple[date, str, str]] = []

    if mandate_day is not None:
        rows.append((dates[mandate_day], "mandate",
                     "Leadership starts tracking AI usage per employee and asks everyone to use AI daily"))
    refresh_days: list[int] = []
    if mandate_day is not None:
        refresh_days = list(range(mandate_day + cadence.dashboard_refresh_days, days,
                                  cadence.dashboard_refresh_days))
        rows += [(dates[d], "dashboard_refresh", "AI adoption dashboard refreshed for leadership")
                 for d in refresh_days]
    deadline_days: list[int] = []
    if cadence.reporting_deadline != "none":
        months = 3 if cadence.reporting_deadline == "quarterly" else 1
        for offset, day in enumerate(dates):
            next_day = day + timedelta(days=1)
            if next_day.month != day.month and day.month % months == 0:
                last_business = offset
                while last_business > 0 and not business[last_business]:
                    last_business -= 1
                deadline_days.append(last_business)
        deadline_days = sorted(set(deadline_days))
        label = "Quarterly" if months == 3 else "Monthly"
        rows += [(dates[d], "reporting_deadline", f"{label} report on team productivity and AI adoption due")
                 for d in deadline_days]
    review_days = list(range(cadence.review_cycle_days - 7, days, cadence.review_cycle_days))
    rows += [(dates[d], "review_cycle", "Performance review cycle opens") for d in review_days]
    rows += [(dates[d], "holiday", "Public holiday") for d in range(days) if day_kind[d] == 2]

    burst = np.zeros(days, dtype=bool)
    window = cadence.burst_window_days
    business_index = np.flatnonzero(business)
    for target in refresh_days + deadline_days + review_days:
        before = business_index[business_index < target][-window:] if target in refresh_days else \
            business_index[business_index <= target][-window:]
        burst[before] = True
    factor = np.zeros(days)
    split = mandate_day if mandate_day is not None else days
    for lo, hi in ((0, split), (split, days)):
        period_business = business[lo:hi]
        period_burst = burst[lo:hi] & period_business
        if period_burst.any():
            factor[lo:hi] = np.where(period_burst, period_business.sum() / period_burst.sum(), 0.0)
        else:
            factor[lo:hi] = 1.0

    survey_days = np.arange(SURVEY_EVERY_DAYS // 2, days, SURVEY_EVERY_DAYS)
    survey_days = np.array([_next_business(business, d) for d in survey_days], dtype=np.int64)
    survey_days = np.unique(survey_days[survey_days < days])

    calendar = pd.DataFrame(rows, columns=["date", "event_type", "description"])
    calendar["date"] = pd.to_datetime(calendar["date"]).astype("datetime64[ns]")
    calendar["event_type"] = calendar["event_type"].astype("str")
    calendar["description"] = calendar["description"].astype("str")
    type_order = {name: rank for rank, name in enumerate(CALENDAR_TYPES)}
    calendar = calendar.assign(_rank=calendar["event_type"].map(type_order)) \
        .sort_values(["date", "_rank"], kind="stable").drop(columns="_rank").reset_index(drop=True)
    return Timeline(start=start, days=days, day_kind=day_kind, mandate_day=mandate_day,
                    pilot_day=pilot_day_of(scenario, mandate_day), burst_factor_base=factor,
                    survey_days=survey_days, calendar=calendar)


def _next_business(business: np.ndarray, day: int) -> int:
    while day < len(business) and not business[day]:
        day += 1
    return day


# --------------------------------------------------------------------------- employees

def build_population(scenario: Scenario, employees: int, seed: int, timeline: Timeline) -> Population:
    """The employees table plus hidden per-person traits, from the company-level RNG stream."""
    rng = _rng(seed, 1)
    n = employees
    archetype_counts = _apportion(np.array([scenario.archetype_mix[a] for a in ARCHETYPES]), n)
    archetype = rng.permutation(np.repeat(np.arange(len(ARCHETYPES), dtype=np.int8), archetype_counts))

    teams = scenario.teams or default_teams()
    team_weights = np.array([team.weight for team in teams])
    team_of = rng.permutation(np.repeat(np.arange(len(teams)), _apportion(team_weights, n)))
    roles = np.empty(n, dtype=object)
    for t, team in enumerate(teams):
        members = np.flatnonzero(team_of == t)
        names = list(team.roles)
        weights = np.array([team.roles[r] for r in names], dtype=float)
        roles[members] = np.array(names, dtype=object)[rng.choice(len(names), size=len(members),
                                                                   p=weights / weights.sum())]
    group = np.array([role_group(r) for r in roles], dtype=np.int8) if n else np.zeros(0, np.int8)
    work_kind_mix, kind_row = _team_work_kinds(teams, team_of, group)

    fake = company_faker(keyed_int(seed, "faker", bits=31))  # names are released: no raw draw of `rng`
    first, last = name_pools(fake, 400)
    first_pick = rng.integers(0, len(first), n)
    last_pick = rng.integers(0, len(last), n)
    names, emails, seen = [], [], {}
    for f, l in zip(first_pick, last_pick):
        name = f"{first[f]} {last[l]}"
        local = "".join(ch for ch in f"{first[f]}.{last[l]}".lower() if ch.isalnum() or ch == ".")
        count = seen.get(local, 0)
        seen[local] = count + 1
        names.append(name)
        emails.append(f"{local}{count + 1 if count else ''}@{scenario.email_domain}")

    manager = _managers(rng, team_of, group, scenario.manager_span)
    family = family_of(scenario)
    tenure_days = np.minimum(rng.lognormal(np.log(family.tenure_median_years * 365), 0.8, n),
                             25 * 365).astype(np.int64) + 1
    if family.adopters_are_newer:
        archetype = _newer_staff_adopt(seed, archetype, tenure_days)
    squad = np.where(manager >= 0, manager, np.arange(n))
    unit = squad if family.randomised_by == "squad" else team_of
    access_day = _access_days(seed, timeline, unit, by_unit=family.randomised_by == "squad",
                              waves=_wave_count(seed, family, timeline))
    hire = np.datetime64(timeline.start, "D") - tenure_days.astype("timedelta64[D]")
    ids = _format_ids("E", np.arange(1, n + 1), 5)
    table = pd.DataFrame({
        "employee_id": pd.array(ids, dtype="str"),
        "name": pd.array(names, dtype="str"),
        "email": pd.array(emails, dtype="str"),
        "team": pd.array([teams[t].name for t in team_of], dtype="str"),
        "role": pd.array(list(roles), dtype="str"),
        "manager_id": pd.array([ids[m] if m >= 0 else None for m in manager], dtype="str"),
        "hire_date": hire.astype("datetime64[ns]"),
        "ai_access_from": (np.datetime64(timeline.start, "D") + access_day).astype("datetime64[ns]"),
    })

    convert_day = np.full(n, -1, dtype=np.int64)
    mandate = timeline.mandate_day if timeline.mandate_day is not None else 0
    converts = np.flatnonzero(archetype == CONVERT)
    lo = mandate + max(10, int(0.2 * (timeline.days - mandate)))
    hi = max(lo + 1, timeline.days - max(5, int(0.1 * timeline.days)))
    convert_day[converts] = rng.integers(lo, hi, len(converts))

    traits = _traits(rng, archetype, group, scenario)
    traits["group"] = group
    traits["kind_row"] = kind_row
    drift = keyed_stream(seed, "squad-drift").normal(0.0, family.squad_drift_sd, n)  # one per squad head
    traits["drift"] = drift[squad]
    shocks = keyed_stream(seed, "squad-shocks").normal(0.0, family.squad_shock_sd,
                                                      (n, -(-timeline.days // SHOCK_DAYS)))
    traits["shock"] = np.exp(shocks[squad])    # (person, four-week block): the squad's swing
    if family.adopters_are_newer:   # ... and the newest of them use AI the most
        log_tenure = np.log(tenure_days)
        traits["usage_rate"] = traits["usage_rate"] * np.exp(
            -0.5 * (log_tenure - log_tenure.mean()) / max(log_tenure.std(), 1e-9))
    return Population(table=table, archetype=archetype, convert_day=convert_day, access_day=access_day,
                      unit=unit, tenure_at_start=tenure_days, traits=traits, work_kind_mix=work_kind_mix)


def _team_work_kinds(teams, team_of: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The work-kind table and each person's row in it: their role group's row (WORK_KIND_MIX),
    or, for the business staff of a team with `work_kinds`, that team's own row appended after."""
    table = [WORK_KIND_MIX]
    kind_row = group.astype(np.int16)
    for t, team in enumerate(teams):
        if team.work_kinds:
            row = np.array([[team.work_kinds.get(kind, 0.0) for kind in WORK_KINDS]], dtype=float)
            kind_row[(team_of == t) & (group == BUSINESS)] = len(WORK_KIND_MIX) + len(table) - 1
            table.append(row / row.sum())
    return np.vstack(table), kind_row


def _newer_staff_adopt(seed: int, archetype: np.ndarray, tenure_days: np.ndarray) -> np.ndarray:
    """Selection into use: the same archetypes, dealt so that the newest staff (ranked by tenure
    with noise) become AI users and the longest-serving the non-users."""
    noise = keyed_stream(seed, "selection").normal(0.0, 0.35, len(archetype))
    order = np.argsort(np.log(tenure_days) + noise, kind="stable")   # newest first
    users_first = np.sort(archetype, kind="stable")
    users_first = np.concatenate([users_first[users_first != NON_USER], users_first[users_first == NON_USER]])
    dealt = np.empty_like(archetype)
    dealt[order] = users_first
    return dealt


def _wave_count(seed: int, family: Family, timeline: Timeline) -> int:
    """How many access waves the company has: the family's keyed draw, fewer when the rollout is too
    short to give the first wave three weeks and every later one two."""
    drawn = family.waves[keyed_int(seed, "rollout-waves", bits=31) % len(family.waves)]
    if timeline.pilot_day is None or timeline.mandate_day is None:
        return 1
    weeks = (timeline.mandate_day - timeline.pilot_day) // 7
    return max(2, min(drawn, 2 + (weeks - 3) // 2))


def wave_days(timeline: Timeline, waves: int) -> list[int]:
    """The access days of `waves` waves from the pilot day to the mandate day, whole weeks apart,
    the earlier gaps the longer ones (the first wave's window is the graded one)."""
    weeks = (timeline.mandate_day - timeline.pilot_day) // 7
    gaps = _apportion(np.ones(waves - 1), weeks)
    return [int(timeline.pilot_day + 7 * g) for g in np.concatenate([[0], np.cumsum(gaps)])]


def _access_days(seed: int, timeline: Timeline, unit: np.ndarray, by_unit: bool,
                 waves: int = 2) -> np.ndarray:
    """Each person's first day of AI access. Two waves: the pilot day for a keyed random third of
    each unit (or half of the units, when whole units are licensed together), the mandate day for
    the rest. More waves (always whole units): the units in a keyed random order, split into equal
    waves, each licensed on its own day (datasets/families.py staggered), with at least two units
    in each wave so that a bootstrap over units has something to redraw."""
    n = len(unit)
    if timeline.mandate_day is None:
        return np.zeros(n, dtype=np.int64)
    access = np.full(n, timeline.mandate_day, dtype=np.int64)
    if timeline.pilot_day is None or n == 0:
        return access
    rng = keyed_stream(seed, "pilot-wave")
    if waves > 2:
        units = np.unique(unit)
        waves = max(2, min(waves, len(units) // 2))
        days = wave_days(timeline, waves)
        order = rng.permutation(units)
        for day, chunk in zip(days, np.array_split(order, waves), strict=True):
            access[np.isin(unit, chunk)] = day
        return access
    if by_unit:
        units = np.unique(unit)   # half of them: a bootstrap over few licensed squads is too narrow
        k = min(max(1, int(round(len(units) / 2))), max(len(units) - 1, 1))
        wave = np.isin(unit, rng.permutation(units)[:k]) if len(units) > 1 else np.zeros(n, bool)
    else:
        wave = np.zeros(n, dtype=bool)
        for u in np.unique(unit):
            members = np.flatnonzero(unit == u)
            wave[rng.permutation(members)[: int(round(len(members) / 3))]] = True
    access[wave] = timeline.pilot_day
    return access


def _managers(rng: np.random.Generator, team_of: np.ndarray, group: np.ndarray, span: int) -> np.ndarray:
    """Each team has a lead (a manager where there is one); leads report to the company head."""
    n = len(team_of)
    manager = np.full(n, -1, dtype=np.int64)
    leads = []
    for t in np.unique(team_of):
        members = np.flatnonzero(team_of == t)
        managerial = members[group[members] == MANAGEMENT]
        lead = int(managerial[0]) if len(managerial) else int(members[0])
        leads.append(lead)
        others = members[members != lead]
        for start in range(0, len(others), span):
            chunk = others[start:start + span]
            boss = lead if start == 0 else int(others[start - span])
            manager[chunk] = boss
    if leads:
        head = leads[0]
        for lead in leads[1:]:
            manager[lead] = head
    return manager


def genuine_usage_after(strength: float) -> float:
    """Genuine adopters use AI more once it is encouraged (and licensed); tokenmaxxers track this norm."""
    return 1.0 + 0.4 * strength


def _traits(rng: np.random.Generator, archetype: np.ndarray, group: np.ndarray,
            scenario: Scenario) -> dict[str, np.ndarray]:
    """Per-person habits, each drawn independently so no single habit gives an archetype away."""
    n = len(archetype)
    noise = scenario.noise
    strength = scenario.mandate.strength
    table = archetype_table
    perf_pre_mean = table.column("perf_pre")[archetype]
    perf_post_mean = table.at_strength("perf_post", strength)[archetype]
    usage_pre = table.column("usage_pre")[archetype]
    usage_post = table.at_strength("usage_post", strength)[archetype]
    gains = table.column("gains")[archetype] > 0
    output_gain = np.where(gains, rng.normal(scenario.productivity_gain, 0.03, n).clip(-0.5, None), 0.0)
    loss = table.column("output_loss")[archetype]
    output_loss = np.where(loss > 0, rng.normal(loss, 0.02, n).clip(0.0, None), 0.0)
    bonus = table.column("output_bonus")[archetype]
    output_base = np.where(bonus > 0, 1.0 + rng.normal(bonus, 0.06, n).clip(0.05, None), 1.0)
    acc_gen_mean = table.column("acceptance_genuine")[archetype]
    obliged_mean = table.column("obliged")[archetype]

    traits = {
        "usage_rate": 8.0 * ROLE_USAGE[group] * rng.lognormal(0.0, 0.55 * noise, n),
        "usage_pre": usage_pre, "usage_post": usage_post,
        "perf_pre": _beta(rng, perf_pre_mean, 14, n),
        "perf_post": _beta(rng, perf_post_mean, 20, n),
        "perf_converted": _beta(rng, 0.04 + 0.08 * strength, 14, n),
        "acc_gen": _beta(rng, acc_gen_mean, 9 / noise, n),
        "acc_perf": _beta(rng, 0.16, 9 / noise, n),
        "self_gen": _beta(rng, 0.22, 6 / noise, n),
        "self_perf": _beta(rng, 0.50, 6 / noise, n),
        "reuse_gen": _beta(rng, 0.15, 5 / noise, n),
        "reuse_perf": _beta(rng, 0.45, 5 / noise, n),
        "pool_gen": rng.integers(25, 80, n),
        "pool_perf": rng.integers(3, 12, n),
        "burst": _beta(rng, 0.30, 2.5 / noise, n),
        "burst_gen": _beta(rng, 0.07, 3 / noise, n),
        "link": 1.0 - 0.4 * (1.0 - _beta(rng, 0.75, 8, n)),  # 0.6-1, mean 0.9
        "rework": _beta(rng, 0.07, 30 / noise, n),
        "token_scale": rng.lognormal(0.0, 0.3, n),
        "hour_shift": rng.normal(0.0, 0.8, n),
        "output_rate": 1.0 * ROLE_OUTPUT[group] * rng.lognormal(0.0, 0.35, n),
        "output_base": output_base, "output_gain": output_gain, "output_loss": output_loss,
        "spillover": np.where(gains, 0.0, family_of(scenario).spillover * scenario.productivity_gain),
        "cycle_scale": rng.lognormal(0.0, 0.25, n) * np.where(bonus > 0, 0.75, 1.0),
        "obliged": _beta(rng, obliged_mean, 5, n),
        "speed_bias": rng.normal(0.0, 8.0, n),
        "satisfaction": rng.normal(0.0, 0.6, n),
    }
    mix = FEATURE_MIX[group]  # (n, 2, F)
    taste = rng.gamma(np.maximum(mix * 30, 1e-9))
    traits["feature_mix"] = taste / taste.sum(axis=2, keepdims=True)
    return traits


def _format_ids(prefix: str, numbers: np.ndarray, width: int) -> list[str]:
    return _format_ids_arrow(prefix, numbers, width).to_pylist()


def _format_ids_arrow(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Zero-padded ids like E00042, formatted in Arrow's C++ kernels instead of Python."""
    text = pc.utf8_lpad(pc.cast(pa.array(numbers, type=pa.int64()), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(pa.scalar(prefix), text, "")


# --------------------------------------------------------------------------- per block

@dataclass
class Context:
    """What every block needs: the scenario, the seed and the company-level pieces."""

    scenario: Scenario
    seed: int
    timeline: Timeline
    population: Population
    employee_ids: pa.Array

    @property
    def blocks(self) -> int:
        return -(-len(self.population) // BLOCK_EMPLOYEES)


@dataclass
class Offsets:
    """Running id counters, so ids are global and independent of chunking."""

    event: int = 0
    session: int = 0
    work_item: int = 0


def build_context(scenario: Scenario, employees: int, days: int, seed: int, start: date) -> Context:
    timeline = build_timeline(scenario, days, start)
    population = build_population(scenario, employees, seed, timeline)
    ids = pa.array(population.table["employee_id"].to_numpy(dtype=object), type=pa.string())
    return Context(scenario=scenario, seed=seed, timeline=timeline, population=population,
                   employee_ids=ids)


def _period_matrices(ctx: Context, members: np.ndarray, days: np.ndarray) -> dict[str, np.ndarray]:
    """Per (employee, day) usage level and performative share for this block."""
    tl = ctx.timeline
    tr = ctx.population.traits
    mandate = tl.mandate_day if tl.mandate_day is not None else tl.days * 10
    archetype = ctx.population.archetype[members][:, None]
    convert_day = ctx.population.convert_day[members][:, None]
    d = days[None, :]
    ramp = np.clip((d - mandate) / 10.0, 0.0, 1.0)
    usage = tr["usage_pre"][members][:, None] * (1 - ramp) + tr["usage_post"][members][:, None] * ramp
    perf = tr["perf_pre"][members][:, None] * (1 - ramp) + tr["perf_post"][members][:, None] * ramp
    converted = (archetype == CONVERT) & (d >= convert_day)
    genuine_post = genuine_usage_after(ctx.scenario.mandate.strength)
    usage = np.where(converted, genuine_post, usage)
    usage = np.where(d >= ctx.population.access_day[members][:, None], usage, 0.0)  # no AI before access
    perf = np.where(converted, tr["perf_converted"][members][:, None], perf)

    access = ctx.population.access_day[members]
    without, with_access = output_multipliers(ctx, members, days, access)
    output = np.where(d >= access[:, None], with_access, without)
    return {"usage": usage, "perf": perf, "output": output}


def output_multipliers(ctx: Context, members: np.ndarray, days: np.ndarray,
                       access: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Potential outcomes per (employee, day), as multipliers of the person's output rate:
    without AI access, and with access that started on `access` (per employee)."""
    tl = ctx.timeline
    tr = ctx.population.traits
    scenario = ctx.scenario
    mandate = tl.mandate_day if tl.mandate_day is not None else tl.days * 10
    archetype = ctx.population.archetype[members][:, None]
    convert_day = ctx.population.convert_day[members][:, None]
    d = days[None, :]
    tenure = ctx.population.tenure_at_start[members][:, None] + d
    learning = 1.0 - NEW_HIRE_DEFICIT * np.exp(-tenure / NEW_HIRE_DAYS)
    fraction = d / max(tl.days, 1)
    trend = 1.0 + scenario.output_trend * fraction + \
        scenario.output_seasonality * np.sin(2 * np.pi * d / SEASON_DAYS)
    drift = np.exp(tr["drift"][members][:, None] * fraction)
    shock = tr["shock"][members][:, np.minimum(days // SHOCK_DAYS, tr["shock"].shape[1] - 1)]
    without = tr["output_base"][members][:, None] * learning * trend * drift * shock

    since_access = np.clip((d - access[:, None]) / GAIN_RAMP_DAYS, 0.0, 1.0)
    converted = (archetype == CONVERT) & (d >= convert_day)
    convert_ramp = np.clip((d - convert_day) / GAIN_RAMP_DAYS, 0.0, 1.0) * (convert_day >= 0)
    gain = np.where(archetype == CONVERT, convert_ramp, since_access)
    pressure = PRESSURE_BEFORE_MANDATE + (1 - PRESSURE_BEFORE_MANDATE) * np.clip((d - mandate) / 10.0, 0.0, 1.0)
    effect = (tr["output_gain"][members][:, None] * gain
              - tr["output_loss"][members][:, None] * np.where(converted, 0.0, pressure)
              + tr["spillover"][members][:, None] * since_access)
    return without, without * (1.0 + effect)


def day_output_weight(day_kind: np.ndarray) -> np.ndarray:
    """How much of a business day's new work a weekend day or a holiday sees."""
    return np.choose(day_kind, [1.0, 0.05, 0.02])


def generate_block(ctx: Context, block: int, offsets: Offsets) -> dict[str, pa.Table]:
    """All rows that belong to one block of employees; advances the id offsets."""
    rng = _rng(ctx.seed, 2, block)
    n_total = len(ctx.population)
    members = np.arange(block * BLOCK_EMPLOYEES, min((block + 1) * BLOCK_EMPLOYEES, n_total))
    tl = ctx.timeline
    tr = ctx.population.traits
    days = np.arange(tl.days)
    day_weight = np.choose(tl.day_kind, [1.0, 0.04, 0.03])
    level = _period_matrices(ctx, members, days)

    events, sessions = _events(ctx, rng, block, members, level, day_weight, offsets)
    work = _work_items(ctx, rng, block, members, level, sessions, offsets)
    survey = _survey(ctx, rng, members)
    return {"ai_events": events, "work_items": work, "survey": survey,
            "event_labels": pa.table({"event_id": events.column("event_id"),
                                      "is_theater": sessions["event_mode"].astype(bool)})}


EVENTS_PER_SESSION = 3.5


def _events(ctx: Context, rng: np.random.Generator, block: int, members: np.ndarray,
            level: dict[str, np.ndarray], day_weight: np.ndarray, offsets: Offsets) -> tuple[pa.Table, dict[str, np.ndarray]]:
    tl = ctx.timeline
    tr = ctx.population.traits
    nb = len(members)
    rate = tr["usage_rate"][members][:, None] * level["usage"] * day_weight[None, :] / EVENTS_PER_SESSION
    burst = tr["burst"][members][:, None]
    perf_rate = rate * level["perf"] * ((1.0 - burst) + burst * tl.burst_factor_base[None, :])
    gen_burst = tr["burst_gen"][members][:, None]
    gen_rate = rate * (1.0 - level["perf"]) * ((1.0 - gen_burst) + gen_burst * tl.burst_factor_base[None, :])
    counts = rng.poisson(np.stack([gen_rate, perf_rate], axis=-1))  # (nb, days, 2)
    flat = counts.reshape(-1)
    cell = np.repeat(np.arange(flat.size, dtype=np.int64), flat)
    s_emp = (cell // (tl.days * 2)).astype(np.int64)
    s_day = ((cell // 2) % tl.days).astype(np.int64)
    s_mode = (cell % 2).astype(np.int8)
    n_sess = len(cell)

    # start of each session: a two-peak working day, shifted per person
    morning = rng.random(n_sess) < 0.55
    hour = np.where(morning, 10.2, 14.8) + np.where(morning, 1.3, 1.6) * rng.standard_normal(n_sess)
    hour = np.clip(hour + tr["hour_shift"][members][s_emp], 6.5, 21.5)
    start = s_day * SECONDS_PER_DAY + (hour * 3600).astype(np.int64)

    # sessions in (employee, start) order; then events, so ids grow with time inside a person
    order = np.argsort((s_emp << 34) + start, kind="stable")
    s_emp, s_mode, start = s_emp[order], s_mode[order], start[order]
    n_ev = rng.geometric(1.0 / EVENTS_PER_SESSION, n_sess).astype(np.int64)
    total_events = int(n_ev.sum())
    ev_sess = np.repeat(np.arange(n_sess, dtype=np.int64), n_ev)
    first_event = np.cumsum(n_ev) - n_ev
    gap_cum = np.cumsum(rng.exponential(80.0, total_events).astype(np.int64) + 5)
    gap_cum -= gap_cum[0] if total_events else 0
    session_base = gap_cum[first_event] if n_sess else np.zeros(0, np.int64)
    offset_in_session = gap_cum - session_base[ev_sess]
    duration = (gap_cum[first_event + n_ev - 1] - session_base) if n_sess else np.zeros(0, np.int64)
    # push a session that would overlap the previous one of the same person to just after it
    key = (s_emp << 34) + start
    spacing = np.cumsum(duration + 60) - (duration + 60)
    if n_sess:
        start = spacing + np.maximum.accumulate(key - spacing) - (s_emp << 34)

    # session-level attributes (one sitting: one feature, one tool, one document, one mode)
    emp_traits = {name: tr[name][members] for name in (
        "group", "self_perf", "self_gen", "acc_perf", "acc_gen", "reuse_perf", "reuse_gen",
        "pool_perf", "pool_gen", "token_scale")}
    group = emp_traits["group"][s_emp]
    performative = s_mode == 1
    s_feature = _sample_rows(rng, tr["feature_mix"][members].reshape(nb * 2, -1), s_emp * 2 + s_mode)
    s_tool = _sample_rows(rng, TOOL_BY_FEATURE.reshape(-1, len(TOOLS)),
                          group.astype(np.int64) * len(FEATURES) + s_feature)
    has_doc = rng.random(n_sess) < DOC_PROBABILITY[s_feature]
    self_p = np.where(performative, emp_traits["self_perf"][s_emp], emp_traits["self_gen"][s_emp])
    s_self = has_doc & (rng.random(n_sess) < self_p)
    global_emp = members[s_emp]
    n_total = len(ctx.population)
    other = (global_emp + 1 + rng.integers(0, max(n_total - 1, 1), n_sess)) % n_total
    owner = np.where(s_self, global_emp, other)
    s_doc = np.where(has_doc, owner * DOCS_PER_EMPLOYEE + rng.integers(0, DOCS_PER_EMPLOYEE, n_sess), -1)
    s_accept = np.clip(np.where(performative, emp_traits["acc_perf"][s_emp], emp_traits["acc_gen"][s_emp])
                       * ACCEPT_BY_FEATURE[s_feature], 0.0, 0.98)
    s_reuse = np.where(performative, emp_traits["reuse_perf"][s_emp], emp_traits["reuse_gen"][s_emp])
    s_pool = np.where(performative, emp_traits["pool_perf"][s_emp], emp_traits["pool_gen"][s_emp])
    s_scale = emp_traits["token_scale"][s_emp]

    # event-level attributes, gathered from their session
    e_feature = s_feature[ev_sess]
    category = CATEGORY_LOOKUP[e_feature, rng.integers(0, LOOKUP_BINS, total_events, dtype=np.int16)]
    tok = TOKENS[s_feature].astype(np.float32)
    s_scale = s_scale.astype(np.float32)
    tokens_in = np.maximum(1, ((tok[:, 0] * s_scale)[ev_sess] * np.exp(
        tok[:, 1][ev_sess] * rng.standard_normal(total_events, dtype=np.float32))).astype(np.int64))
    tokens_out = np.maximum(1, ((tok[:, 2] * s_scale)[ev_sess] * np.exp(
        tok[:, 3][ev_sess] * rng.standard_normal(total_events, dtype=np.float32))).astype(np.int64))
    accepted = rng.random(total_events, dtype=np.float32) < s_accept.astype(np.float32)[ev_sess]

    # prompt fingerprints: a person's few templates, the company's common prompts, or unique.
    # Every value is a keyed hash (or a draw from a stream seeded by one) of what the prompt IS:
    # (employee, template slot) or (company, common prompt). The session's mode is not an input,
    # so nothing released can be inverted to the mode or the seed (see datasets/keyed.py).
    draw = rng.random(total_events, dtype=np.float32)
    reuse = s_reuse.astype(np.float32)[ev_sess]
    personal = np.flatnonzero(draw < reuse)
    shared = np.flatnonzero((draw >= reuse) & (draw < reuse + 0.04))
    unique = np.ones(total_events, dtype=bool)
    unique[personal] = False
    unique[shared] = False
    fingerprint = np.empty(total_events, dtype=np.int64)
    fingerprint[unique] = keyed_stream(ctx.seed, "unique-prompts", block).integers(
        0, 2**63 - 1, int(unique.sum()), dtype=np.int64)
    p_sess = ev_sess[personal]
    template = (rng.random(len(personal)) * s_pool[p_sess]).astype(np.int64)
    fingerprint[personal] = _template_fingerprints(ctx.seed, members)[s_emp[p_sess], template]
    fingerprint[shared] = keyed_words(derive_key(ctx.seed, "prompt-templates"), b"company", COMPANY_PROMPT_POOL)[
        rng.integers(0, COMPANY_PROMPT_POOL, len(shared))]

    timestamp = tl.start_ns + (start[ev_sess] + offset_in_session) * NS_PER_SECOND
    event_id = offsets.event + 1 + np.arange(total_events, dtype=np.int64)
    session_id = offsets.session + 1 + np.arange(n_sess, dtype=np.int64)
    # documents as a dictionary of the ones this block touches: each id is formatted once
    unique_docs, doc_code = np.unique(s_doc, return_inverse=True)
    with_doc = unique_docs >= 0
    doc_code = doc_code - (~with_doc).sum()
    doc_ids = pa.DictionaryArray.from_arrays(
        pa.array(doc_code.astype(np.int32)[ev_sess], mask=(~has_doc)[ev_sess]),
        _format_ids_arrow("D", unique_docs[with_doc], 7))

    table = pa.table({
        "event_id": event_id,
        "employee_id": _block_employees(ctx, members, s_emp.astype(np.int32)[ev_sess]),
        "timestamp": pa.array(timestamp.view("datetime64[ns]")),
        "tool": _dictionary(s_tool[ev_sess], TOOLS),
        "feature": _dictionary(e_feature, FEATURES),
        "session_id": session_id[ev_sess],
        "prompt_category": _dictionary(category, CATEGORIES),
        "prompt_fingerprint": fingerprint,
        "document_id": doc_ids,
        "doc_authored_by_self": s_self[ev_sess],
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "accepted": accepted,
    })
    offsets.event += total_events
    offsets.session += n_sess
    sessions = {"emp": s_emp, "start": start, "mode": s_mode, "id": session_id,
                "event_mode": s_mode[ev_sess]}
    return table, sessions


def _template_fingerprints(seed: int, members: np.ndarray) -> np.ndarray:
    """(len(members), TEMPLATE_SLOTS) keyed fingerprints of each employee's prompt templates."""
    key = derive_key(seed, "prompt-templates")
    return np.stack([keyed_words(key, b"employee" + int(e).to_bytes(8, "big"), TEMPLATE_SLOTS)
                     for e in members]) if len(members) else np.zeros((0, TEMPLATE_SLOTS), np.int64)


def _block_employees(ctx: Context, members: np.ndarray, local: np.ndarray) -> pa.DictionaryArray:
    """Employee ids as codes into this block's own ids (members are consecutive)."""
    return pa.DictionaryArray.from_arrays(pa.array(local), ctx.employee_ids.slice(int(members[0]), len(members)))


def _dictionary(codes: np.ndarray, values: tuple[str, ...]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int8)), pa.array(values))


def _work_items(ctx: Context, rng: np.random.Generator, block: int, members: np.ndarray,
                level: dict[str, np.ndarray], sessions: dict[str, np.ndarray],
                offsets: Offsets) -> pa.Table:
    tl = ctx.timeline
    tr = ctx.population.traits
    nb = len(members)
    backlog_kind = _backlog_day_kind(tl)
    all_kind = np.concatenate([backlog_kind, tl.day_kind])
    weight = day_output_weight(all_kind)
    output = np.concatenate([np.repeat(level["output"][:, :1], BACKLOG_DAYS, axis=1), level["output"]], axis=1)
    rate = tr["output_rate"][members][:, None] * output * weight[None, :]
    counts = rng.poisson(rate).reshape(-1)
    cell = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    total_days = BACKLOG_DAYS + tl.days
    w_emp = cell // total_days
    w_day = cell % total_days - BACKLOG_DAYS
    n = len(cell)
    hour = np.clip(rng.normal(12.5, 2.3, n) + tr["hour_shift"][members][w_emp], 7.0, 20.0)
    created = w_day * SECONDS_PER_DAY + (hour * 3600).astype(np.int64)
    order = np.argsort((w_emp << 34) + created + (np.int64(BACKLOG_DAYS) * SECONDS_PER_DAY), kind="stable")
    w_emp, w_day, created = w_emp[order], w_day[order], created[order]

    kind = _sample_rows(rng, ctx.population.work_kind_mix, tr["kind_row"][members][w_emp])
    cycle_hours = CYCLE_MEDIAN_HOURS[kind] * tr["cycle_scale"][members][w_emp] * \
        np.exp(0.9 * rng.standard_normal(n))
    closed = created + (np.maximum(cycle_hours, 0.25) * 3600).astype(np.int64)
    # work is closed on business days: a closure that lands on a weekend or holiday waits for the next one
    closed_day = np.clip(closed // SECONDS_PER_DAY + BACKLOG_DAYS, 0, total_days - 1)
    next_business = _next_business_days(all_kind)
    moved = next_business[closed_day] != closed_day
    morning = (next_business[closed_day] - BACKLOG_DAYS) * SECONDS_PER_DAY + 9 * 3600 + \
        rng.integers(0, 7200, n)
    closed = np.where(moved & (closed // SECONDS_PER_DAY < tl.days), morning, closed)
    cycle_hours = np.round((closed - created) / 3600.0, 2)
    end = tl.days * SECONDS_PER_DAY
    abandoned = rng.random(n) < 0.04
    is_open = closed >= end
    status = np.where(is_open, 0, np.where(abandoned, 3, np.where(kind == 1, 2, 1))).astype(np.int8)

    # link to the latest session in the 36 hours before that fed work. Whether a session fed work is
    # one keyed draw per session, with a chance that depends on its mode and is drawn per company
    # (datasets/variation.py feeds_work): genuine sessions feed work more often, but neither mode
    # always or never does, so a session an item passes over (or that no item names) is only
    # likelier, never certain, to be performative (tests/datasets/test_no_label_rule.py searches).
    feeds = np.array(feeds_work(ctx.seed))
    candidate = keyed_stream(ctx.seed, "work-links", block).random(len(sessions["mode"])) < feeds[sessions["mode"]]
    c_key = (sessions["emp"][candidate] << 34) + sessions["start"][candidate] + BACKLOG_DAYS * SECONDS_PER_DAY
    c_id = sessions["id"][candidate]
    c_mode = sessions["mode"][candidate]
    i_key = (w_emp << 34) + created + BACKLOG_DAYS * SECONDS_PER_DAY
    pos = np.searchsorted(c_key, i_key, side="right") - 1
    valid = pos >= 0
    pos_safe = np.maximum(pos, 0)
    gap = i_key - (c_key[pos_safe] if len(c_key) else np.zeros(n, np.int64))
    same_person = valid & (gap >= 0) & (gap < 36 * 3600) if len(c_key) else np.zeros(n, bool)
    linked = same_person & (rng.random(n) < tr["link"][members][w_emp])
    linked_session = np.where(linked, c_id[pos_safe] if len(c_id) else 0, 0)
    linked_perf = linked & ((c_mode[pos_safe] == 1) if len(c_mode) else False)

    rework_p = tr["rework"][members][w_emp] + 0.10 * linked_perf + \
        0.015 * (ctx.population.archetype[members][w_emp] == TOKENMAXXER)
    rework = (status == 1) | (status == 2)
    rework &= rng.random(n) < rework_p

    # keep work created in the period, and backlog work that closes inside it
    keep = (w_day >= 0) | (~is_open & (closed >= 0))
    idx = np.flatnonzero(keep)
    n_keep = len(idx)
    item_numbers = offsets.work_item + 1 + np.arange(n_keep, dtype=np.int64)
    offsets.work_item += n_keep
    closed_mask = is_open[idx]
    cycle = pa.array(cycle_hours[idx], mask=closed_mask)
    closed_ns = pa.array((tl.start_ns + closed[idx] * NS_PER_SECOND).astype("datetime64[ns]"), mask=closed_mask)
    return pa.table({
        "work_item_id": _format_ids_arrow("W", item_numbers, 6),
        "employee_id": _block_employees(ctx, members, w_emp[idx].astype(np.int32)),
        "kind": _dictionary(kind[idx], WORK_KINDS),
        "created_at": pa.array((tl.start_ns + created[idx] * NS_PER_SECOND).astype("datetime64[ns]")),
        "closed_at": closed_ns,
        "status": _dictionary(status[idx], WORK_STATUSES),
        "cycle_time_hours": cycle,
        "rework": rework[idx],
        "linked_session_id": pa.array(linked_session[idx], mask=~linked[idx]),
    })


def _next_business_days(day_kind: np.ndarray) -> np.ndarray:
    """For each day index, the first business day on or after it (the last day maps to itself)."""
    days = np.arange(len(day_kind))
    candidate = np.where(day_kind == 0, days, len(day_kind) - 1)
    return np.minimum.accumulate(candidate[::-1])[::-1]


def _backlog_day_kind(tl: Timeline) -> np.ndarray:
    offsets = np.arange(-BACKLOG_DAYS, 0)
    weekday = (np.datetime64(tl.start, "D") + offsets).astype("datetime64[D]").view(np.int64)
    weekday = (weekday + 3) % 7  # 1970-01-01 was a Thursday
    return np.where(weekday >= 5, 1, 0).astype(np.int8)


def _survey(ctx: Context, rng: np.random.Generator, members: np.ndarray) -> pa.Table:
    """Monthly self-reports: perception tracks usage and pressure, not measured output."""
    tl = ctx.timeline
    tr = ctx.population.traits
    nb, ns = len(members), len(tl.survey_days)
    if nb == 0 or ns == 0:
        return _empty_survey()
    archetype = ctx.population.archetype[members][:, None]
    convert_day = ctx.population.convert_day[members][:, None]
    day = tl.survey_days[None, :]
    mandate = tl.mandate_day if tl.mandate_day is not None else tl.days * 10
    after = day >= mandate
    converted = (archetype == CONVERT) & (day >= convert_day)
    performative = ((archetype == TOKENMAXXER) | (archetype == CONVERT)) & ~converted
    months_after = np.clip((day - mandate) / 30.0, 0.0, None)
    strength = ctx.scenario.mandate.strength
    base = np.select(
        [performative & after, performative, converted, archetype == NON_USER,
         archetype == QUIET_EXPERT, after],
        [16.0, 3.0, 20.0, 2.0 * after, 9.0, 18.0], 12.0)
    perceived = base + 1.5 * strength * months_after * (archetype != NON_USER) + \
        tr["speed_bias"][members][:, None] + rng.normal(0.0, 6.0, (nb, ns))
    obliged_p = np.where(after, tr["obliged"][members][:, None], 0.2 * tr["obliged"][members][:, None])
    obliged_p = np.where(converted, 0.15, obliged_p)
    obliged = rng.random((nb, ns)) < obliged_p
    satisfaction = np.select([performative & after, archetype == NON_USER], [3.0, 3.2], 3.8) + \
        tr["satisfaction"][members][:, None] + rng.normal(0.0, 0.7, (nb, ns))
    satisfaction = np.clip(np.rint(satisfaction), 1, 5).astype(np.int64)
    responded = rng.random((nb, ns)) < 0.85
    emp_idx, survey_idx = np.nonzero(responded)
    dates = (np.datetime64(tl.start, "D") + tl.survey_days[survey_idx]).astype("datetime64[ns]")
    return pa.table({
        "employee_id": _block_employees(ctx, members, emp_idx.astype(np.int32)),
        "survey_date": pa.array(dates),
        "perceived_speedup_pct": np.round(perceived[emp_idx, survey_idx], 1),
        "uses_ai_because_obliged": obliged[emp_idx, survey_idx],
        "satisfaction": satisfaction[emp_idx, survey_idx],
    })


def _empty_survey() -> pa.Table:
    return pa.table({
        "employee_id": pa.array([], pa.string()), "survey_date": pa.array([], pa.timestamp("ns")),
        "perceived_speedup_pct": pa.array([], pa.float64()),
        "uses_ai_because_obliged": pa.array([], pa.bool_()), "satisfaction": pa.array([], pa.int64()),
    })


def iter_blocks(ctx: Context) -> Iterator[dict[str, pa.Table]]:
    """The blocks in order, with global ids (each block's random stream is its own)."""
    offsets = Offsets()
    for block in range(ctx.blocks):
        yield generate_block(ctx, block, offsets)


def concat_blocks(parts: list[dict[str, pa.Table]]) -> dict[str, pa.Table]:
    """Blocks glued into whole tables (dictionary columns decoded to plain text)."""
    if len(parts) == 1:
        return parts[0]
    return {name: pa.concat_tables([_decoded(part[name]) for part in parts]) for name in parts[0]}


def _decoded(table: pa.Table) -> pa.Table:
    columns = [column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
               for column in table.columns]
    return pa.Table.from_arrays(columns, names=table.column_names)


def wave_windows(ctx: Context) -> dict[int, tuple[int, int]]:
    """Each access wave's own comparison window, by its access day: from that day to the next
    wave's (in a two-wave rollout, the pilot day to the mandate), while a later wave is still
    unlicensed. The last wave has none; with a single access date there is none at all."""
    starts = np.unique(ctx.population.access_day)
    return {int(lo): (int(lo), int(hi)) for lo, hi in zip(starts[:-1], starts[1:])}


def pilot_expectations(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """Per employee: expected new work over their own wave's comparison window (wave_windows)
    without AI access and with access from the wave's day (zeros for the last wave, and for
    everyone with a single access date)."""
    pop, tl = ctx.population, ctx.timeline
    n = len(pop)
    without, with_access = np.zeros(n), np.zeros(n)
    for access_day, window in wave_windows(ctx).items():
        days = np.arange(*window)
        weight = day_output_weight(tl.day_kind[days])[None, :]
        wave = np.flatnonzero(pop.access_day == access_day)
        for lo in range(0, len(wave), BLOCK_EMPLOYEES):
            members = wave[lo:lo + BLOCK_EMPLOYEES]
            m0, m1 = output_multipliers(ctx, members, days, np.full(len(members), window[0]))
            rate = pop.traits["output_rate"][members][:, None] * weight
            without[members] = (rate * m0).sum(axis=1)
            with_access[members] = (rate * m1).sum(axis=1)
    return without, with_access


def labels_table(ctx: Context) -> pd.DataFrame:
    """Per-employee truth: archetype, for converts the day they turned genuine, and the expected
    new work over their wave's comparison window without and with AI access (the potential
    outcomes; zero for the last wave, which has no not-yet-licensed comparison)."""
    pop = ctx.population
    without, with_access = pilot_expectations(ctx)
    convert_date = pd.Series(pd.NaT, index=range(len(pop)), dtype="datetime64[ns]")
    has = pop.convert_day >= 0
    convert_date[has] = (np.datetime64(ctx.timeline.start, "D") + pop.convert_day[has]).astype("datetime64[ns]")
    return pd.DataFrame({
        "employee_id": pop.table["employee_id"],
        "archetype": pd.array([ARCHETYPES[a] for a in pop.archetype], dtype="str"),
        "convert_date": convert_date.to_numpy(),
        "pilot_expected_without": without,
        "pilot_expected_with": with_access,
    })
