"""Every sentence a module page says about "your company" is true for every learner's company.

All modules are rendered for 20 learners across the three profiles (the course's default size,
each learner's company drawn from the course secret as the app draws it). For each learner:

- every chart's computed summary is checked against numbers recomputed here from the raw tables,
  by a different route where one exists (days instead of weeks, labels instead of scores);
- every chart's fixed takeaway, and every quiz stem that states a fact about "your company", has a
  premise below that must hold in that learner's data. A new takeaway or premise without an entry
  here fails the test, so no fixed sentence can slip in unchecked.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pandas as pd
import pytest

from course.charts import CHARTS, MIN_GROUP, employee_features, precision_at_recall, self_authored_gap
from course.modules import load_modules
from datasets import measures
from exercises.assignments import DataSpec

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("true_statements")]

PROFILES = ("mandate-bigco", "startup", "consultancy", "service-desk")
LEARNERS = tuple(f"learner-{i:02d}" for i in range(20))
SECRET = "statements-test-secret"
EMPLOYEES, DAYS = DataSpec().employees, DataSpec().days     # the course's default size


@cache
def company(learner: str):
    from datasets import api

    profile = PROFILES[LEARNERS.index(learner) % len(PROFILES)]
    seed = api.learner_seed(secret=SECRET, learner_id=learner)
    return api.generate_company(profile=profile, employees=EMPLOYEES, days=DAYS, seed=seed)


@cache
def charts(learner: str) -> dict:
    return {chart_id: build(company(learner)) for chart_id, build in CHARTS.items()
            if chart_id != "goodhart_simulator"}


def numbers(text: str) -> list[float]:
    """The numbers in a sentence, in order (signs and thousands separators kept)."""
    return [float(n.replace(",", "")) for n in re.findall(r"[-+]?\d[\d,]*\.?\d*", text)]


# ----------------------------------------------------------------------------- recomputed facts

def usage_output_change(c, whole_weeks: bool = False) -> tuple[float, float]:
    """Percent change in AI events and closed work per day, after the mandate against before,
    counted by calendar day (the chart counts by week). `whole_weeks` keeps only the days of the
    Monday-to-Sunday weeks wholly on one side of the mandate, as the chart's summary does."""
    start, end = measures.data_period(c)
    mandate = measures.mandate_date(c)
    if whole_weeks:
        start = start + pd.Timedelta(days=(7 - start.weekday()) % 7)
        end = end - pd.Timedelta(days=end.weekday())
        last_before = mandate - pd.Timedelta(days=mandate.weekday())        # Monday of its week
        first_after = last_before + pd.Timedelta(days=7) if mandate.weekday() else mandate
    else:
        last_before = first_after = mandate
    stamps = pd.to_datetime(c.ai_events["timestamp"])
    closed = measures.closed_work(c.work_items)["closed_at"]
    def change(times: pd.Series) -> float:
        before = ((times >= start) & (times < last_before)).sum() / (last_before - start).days
        after = ((times >= first_after) & (times < end)).sum() / (end - first_after).days
        return 100 * (after / before - 1)
    return change(stamps), change(closed)


def linked_share_by_period(c) -> tuple[float, float]:
    """Share of sessions (by first event) that fed closed or merged work, before and after."""
    sessions = c.ai_events.groupby("session_id")["timestamp"].min()
    done = c.work_items[c.work_items["status"].isin(["closed", "merged"])]
    linked = sessions.index.isin(set(done["linked_session_id"].dropna().astype(int)))
    mandate = measures.mandate_date(c)
    return float(linked[(sessions < mandate).to_numpy()].mean()), float(linked[(sessions >= mandate).to_numpy()].mean())


def sessions_per_week_change(c) -> float:
    sessions = c.ai_events.groupby("session_id")["timestamp"].min()
    start, end = measures.data_period(c)
    mandate = measures.mandate_date(c)
    before = (sessions < mandate).sum() / (mandate - start).days
    after = (sessions >= mandate).sum() / (end - mandate).days
    return 100 * (after / before - 1)


def cycle_time_changes(c) -> list[float]:
    done = measures.closed_work(c.work_items).dropna(subset=["cycle_time_hours"])
    mandate = measures.mandate_date(c)
    after = pd.to_datetime(done["created_at"]) >= mandate
    medians = done.groupby([done["kind"], after])["cycle_time_hours"].median().unstack()
    return [100 * (medians.loc[k, True] / medians.loc[k, False] - 1) for k in medians.index]


# ----------------------------------------------------------------------------- premises

def adoption_gap(learner: str) -> bool:
    """AI usage rose clearly after the mandate; closed work rose less or fell."""
    usage, output = usage_output_change(company(learner))
    return usage >= 25 and output < usage - 5


def has_mandate(learner: str) -> bool:
    return measures.mandate_date(company(learner)) is not None


def deadline_rise(learner: str) -> bool:
    near, ratio = numbers(charts(learner)["deadline_bursts"].summary)[:2]
    table = charts(learner)["deadline_bursts"].table
    return ratio >= 1.2 and table.loc[table["days_to_deadline"] <= 2, "events_per_day"].mean() > \
        table.loc[table["days_to_deadline"] >= 7, "events_per_day"].mean()


def self_authored_one_hump(learner: str) -> bool:
    """Most regular users low, a tail at high shares, no empty bin setting a group apart."""
    features = employee_features(company(learner))
    regular = ~measures.non_users(features.set_index("employee_id")["ai_events"]).to_numpy()
    shares = features.loc[regular, "self_authored_share"].dropna()
    counts = np.bincount(np.minimum((shares * 10).astype(int), 9), minlength=10).tolist()
    top = max(i for i, n in enumerate(counts) if n)
    # fewer than MIN_GROUP people beyond an empty bin are not a group set apart (the chart draws
    # them in one open-ended top bar, hidden): only a gap with a group above it counts
    grouped = list(counts)
    while len(grouped) > 1 and grouped[-1] < MIN_GROUP:
        last = grouped.pop()
        grouped[-1] += last
    return shares.median() < 0.35 and not self_authored_gap(grouped) and counts[top] < max(counts)


def linked_share_falls(learner: str) -> bool:
    before, after = linked_share_by_period(company(learner))
    return after < before


def sessions_rose(learner: str) -> bool:
    return sessions_per_week_change(company(learner)) >= 10


def has_survey(learner: str) -> bool:
    return len(company(learner).survey) > 0


def cycle_time_moved_less_than_usage(learner: str) -> bool:
    usage, _ = usage_output_change(company(learner))
    return max(abs(v) for v in cycle_time_changes(company(learner))) <= usage / 2


def teams_counted_against_the_line(learner: str) -> bool:
    """The takeaway points at the summary's count of teams below the line: it must be right."""
    table = charts(learner)["perception_vs_measured"].table
    below = int((table["measured_change_pct"] < table["perceived_speedup_pct"]).sum())
    return f"{below} of {len(table)} teams sit below" in charts(learner)["perception_vs_measured"].summary


def volume_spreads_within_teams(learner: str) -> bool:
    """Volume spreads more within teams than between them, and does not pick out tokenmaxxers
    (the prediction's answer: genuine heavy users produce as many tokens)."""
    from datasets.reference import roc_auc

    table = charts(learner)["tokens_by_archetype_hidden"].table
    users = employee_features(company(learner)).merge(company(learner).labels, on="employee_id")
    shown = users[(users["ai_events"] > 0) & users["team"].isin(set(table["team"]))]
    logs = np.log1p(shown["tokens_per_week"].to_numpy(float))
    teams = shown["team"].to_numpy()
    within = sum(((logs[teams == t] - logs[teams == t].mean()) ** 2).sum() for t in set(teams))
    total = ((logs - logs.mean()) ** 2).sum()
    between_share = 1 - within / total                     # the same split, summed the other way
    stated = numbers(charts(learner)["tokens_by_archetype_hidden"].summary)[1]
    pair = users[users["archetype"].isin(["tokenmaxxer", "genuine"]) & (users["ai_events"] > 0)]
    return (between_share < 0.5 and stated == pytest.approx(100 * between_share, abs=1)
            and roc_auc(pair["tokens_per_week"], pair["archetype"] == "tokenmaxxer") < 0.75)


def acceptance_differs_at_equal_volume(learner: str) -> bool:
    """In every fifth of users by token volume, the one who keeps most of their AI output keeps at
    least 40 points more of it than the one who keeps least."""
    users = employee_features(company(learner)).query("ai_events > 0")
    fifth = pd.qcut(users["tokens_per_week"].rank(method="first"), 5, labels=False)
    keep = users.groupby(fifth)["acceptance_rate"]
    return bool((keep.max() - keep.min() >= 0.4).all())


def outcome_detector_beats_tokens_but_errs(learner: str) -> bool:
    table = charts(learner)["detector_tradeoff"].table
    token, outcome = (precision_at_recall(table, name) for name in
                      ("Token count", "Outcome-linked features"))
    return token < outcome < 1.0


def first_and_last_month(learner: str) -> pd.DataFrame:
    """Each employee's category in their first whole month with AI access and in the last whole
    month (recomputed from events and access dates, month by month)."""
    c = company(learner)
    months = measures.complete_months(c)
    access = pd.to_datetime(c.employees.set_index("employee_id")["ai_access_from"]).dt.normalize()
    first = {e: next((m for m in months if m >= day), None) for e, day in access.items()}
    first = {e: m for e, m in first.items() if m is not None and m < months[-1]}
    events = c.ai_events.assign(month=pd.to_datetime(c.ai_events["timestamp"]).dt.to_period("M").dt.start_time)
    linked = events["session_id"].isin(measures.delivered_sessions(c.work_items))
    per = events.assign(linked=linked).groupby(["employee_id", "month"]).agg(
        accepted=("accepted", "mean"), linked=("linked", "mean"))
    outcome = ((per["accepted"] >= 0.4) | (per["linked"] >= 0.2)).to_dict()
    return pd.DataFrame({"first": [outcome.get((e, m)) for e, m in first.items()],
                         "last": [outcome.get((e, months[-1])) for e in first]}, index=list(first))


def some_convert_many_stay(learner: str) -> bool:
    """Someone moves from activity without outcome to outcome-linked use, and at least as many
    stay (the takeaway, and the prediction's answer "some move; many stay")."""
    table = first_and_last_month(learner)
    first, last = table.columns
    performed_first = table[first] == False  # noqa: E712  (NaN: no AI use that month)
    converts = int((performed_first & (table[last] == True)).sum())  # noqa: E712
    stayed = int((performed_first & (table[last] == False)).sum())  # noqa: E712
    return converts >= 1 and stayed >= max(converts, MIN_GROUP)


# (module id, chart id) -> premise every learner's data must meet for the takeaway to be true
TAKEAWAYS = {
    ("metric-became-mission", "adoption_vs_output"): adoption_gap,
    ("metrics-that-survive", "adoption_vs_output"): adoption_gap,
    ("anatomy-of-tokenmaxxing", "self_authored_share"): self_authored_one_hump,
    ("anatomy-of-tokenmaxxing", "deadline_bursts"): deadline_rise,
    ("capstone", "deadline_bursts"): deadline_rise,
    ("activity-vs-outcome", "sessions_linked_to_work"): linked_share_falls,
    ("activity-vs-outcome", "cycle_time_before_after"): cycle_time_moved_less_than_usage,
    ("activity-vs-outcome", "perception_vs_measured"): teams_counted_against_the_line,
    ("building-a-detector", "tokens_by_archetype_hidden"): volume_spreads_within_teams,
    ("building-a-detector", "acceptance_vs_tokens"): acceptance_differs_at_equal_volume,
    ("building-a-detector", "detector_tradeoff"): outcome_detector_beats_tokens_but_errs,
    ("converts-and-calcification", "cohort_flows"): some_convert_many_stay,
}

# A quiz stem or chart prediction that says something about "your company": (module id, question
# id) -> the premise its data must meet, or None for a stem that only sets a scene or asks about
# the learner's own plans ("your company asks ...", "once your company makes it a target").
PREMISES = {
    ("metric-became-mission", "predict-dashboard"): has_mandate,
    ("activity-vs-outcome", "predict-linked"): sessions_rose,
    ("activity-vs-outcome", "predict-perception"): has_survey,
    ("converts-and-calcification", "predict-flows"): some_convert_many_stay,
    ("capstone", "predict-capstone-bursts"): deadline_rise,
    ("anatomy-of-tokenmaxxing", "r1-proxy"): None,
    ("activity-vs-outcome", "outcome-measures"): None,
    ("activity-vs-outcome", "link-share"): None,          # true of the schema: every company has the column
    ("activity-vs-outcome", "dora-reading"): None,
    ("activity-vs-outcome", "predict-cycle"): None,       # "if AI really sped up work": a conditional
    ("building-a-detector", "purpose"): None,
    ("metrics-that-survive", "survives"): None,
    ("metrics-that-survive", "counter-gaming"): None,
    ("metrics-that-survive", "predict-board"): None,
    ("capstone", "weighting"): None,
}
# The pre- and post-test is taken before the learner has seen any data: its stems speak of "a
# company", never of the learner's own, except to set a scene.
PRE_POST_SCENES = {"Your company adds", "Which employees in your company"}


@pytest.fixture(scope="module")
def modules():
    found, errors = load_modules()
    assert not errors
    return found


def test_the_learners_meet_every_scenario_family_at_least_twice():
    """A sentence that holds only where the mandate produced theater must fail here: the sample has
    companies of every family (datasets/families.py), "a mandate that worked" included."""
    from datasets import api
    from datasets.families import FAMILIES
    from datasets.variation import family_of_seed

    drawn = [family_of_seed(api.learner_seed(secret=SECRET, learner_id=learner)) for learner in LEARNERS]
    assert {family: drawn.count(family) for family in FAMILIES} == \
        {family: max(2, drawn.count(family)) for family in FAMILIES}, drawn


def test_every_takeaway_has_a_premise_checked_on_the_data(modules):
    shown = {(m.id, c.id) for m in modules for c in m.charts if c.id != "goodhart_simulator"}
    assert shown == set(TAKEAWAYS), "a chart takeaway needs a premise in TAKEAWAYS (or lost one)"


def test_every_your_company_stem_is_a_checked_premise_or_sets_a_scene(modules):
    from course.modules import load_pre_post_test

    unchecked = []
    for module in modules:
        questions = [*module.quiz, *module.retrieval, *(c.predict for c in module.charts if c.predict)]
        for question in questions:
            if "your company" in question.prompt.lower() and (module.id, question.id) not in PREMISES:
                unchecked.append(f"{module.id}:{question.id}: {question.prompt}")
    for question in load_pre_post_test():
        if "your company" in question.prompt.lower() and \
                not any(question.prompt.startswith(scene) for scene in PRE_POST_SCENES):
            unchecked.append(f"pre/post test {question.id}: {question.prompt}")
    assert not unchecked, "stems that claim a fact about the learner's company:\n" + "\n".join(unchecked)


@pytest.mark.parametrize("learner", LEARNERS)
def test_takeaways_and_premises_hold_for_this_learner(learner, modules):
    failed = [f"{key}: {check.__name__}" for key, check in {**TAKEAWAYS, **PREMISES}.items()
              if check is not None and not check(learner)]
    assert not failed, f"{learner} ({company(learner).meta['profile']}): " + "; ".join(failed)


@pytest.mark.parametrize("learner", LEARNERS)
def test_chart_summaries_state_the_learners_numbers(learner):
    c, results = company(learner), charts(learner)

    usage, output = numbers(results["adoption_vs_output"].summary)[-2:]
    day_usage, day_output = usage_output_change(c, whole_weeks=True)
    assert usage == pytest.approx(day_usage, abs=1) and output == pytest.approx(day_output, abs=1)

    linked = re.search(r"went from (\d+)% to (\d+)%", results["sessions_linked_to_work"].summary)
    before, after = linked_share_by_period(c)
    assert float(linked[1]) == pytest.approx(100 * before, abs=3)
    assert float(linked[2]) == pytest.approx(100 * after, abs=3)

    features = employee_features(c)
    regular = ~measures.non_users(features.set_index("employee_id")["ai_events"]).to_numpy()
    shares = features.loc[regular, "self_authored_share"]
    high, users, low = numbers(results["self_authored_share"].summary)[:3]
    assert users == len(shares) and low == (shares < 0.2).sum()
    assert high == (shares >= 0.5).sum() or (high == MIN_GROUP and (shares >= 0.5).sum() < MIN_GROUP)

    labels = c.labels.set_index("employee_id")["archetype"]
    ai_users = features[features["ai_events"] > 0]
    by_tokens = ai_users.sort_values("tokens_per_week", ascending=False)["employee_id"]
    hits = (labels.reindex(by_tokens).to_numpy() == "tokenmaxxer").cumsum()
    half = np.argmax(hits >= hits[-1] / 2)          # first rank reaching half of the tokenmaxxers
    token_precision = numbers(results["detector_tradeoff"].summary)[0]
    assert token_precision == pytest.approx(100 * hits[half] / (half + 1), abs=6)

    done = c.work_items[c.work_items["status"].isin(["closed", "merged"])].dropna(subset=["cycle_time_hours"])
    after = pd.to_datetime(done["created_at"]) >= measures.mandate_date(c)
    medians = done.groupby(["kind", after])["cycle_time_hours"].median()
    for kind, before_h, after_h in re.findall(r"(\w+ ?\w*)s (\d+) → (\d+) h",
                                             results["cycle_time_before_after"].summary):
        kind = kind.strip().replace(" ", "_")
        assert float(before_h) == pytest.approx(medians[(kind, False)], abs=1)
        assert float(after_h) == pytest.approx(medians[(kind, True)], abs=1)

    months = measures.complete_months(c)
    assert "first full month with AI access" in results["cohort_flows"].summary
    assert pd.Timestamp(months[-1]).strftime("%B %Y") in results["cohort_flows"].summary
    shown = pd.to_datetime(results["cohort_flows"].table["month"]).unique()
    assert set(shown) <= set(months), "a month the data covers only in part is drawn as a full bar"
    cohort = results["cohort_flows"].table
    assert (cohort.groupby("month")["employees"].sum() == len(c.employees)).all(), \
        "every employee is drawn in every month: no group disappears to protect a smaller one"
    assert (cohort["employees"] >= MIN_GROUP).all()


def test_the_old_fixed_texts_issue_10_found_false_are_caught():
    """The checks can fail: the takeaways the course used to show are false for some learners."""
    def separate_self_authored_group(learner: str) -> bool:       # module 2's old takeaway
        return not self_authored_one_hump(learner)
    def output_barely_moves(learner: str) -> bool:                # module 1's old takeaway
        return abs(usage_output_change(company(learner))[1]) <= 5
    def most_teams_below_the_line(learner: str) -> bool:          # module 3's old takeaway
        table = charts(learner)["perception_vs_measured"].table
        return (table["measured_change_pct"] < table["perceived_speedup_pct"]).mean() > 0.5
    for old in (separate_self_authored_group, output_barely_moves, most_teams_below_the_line):
        assert not all(old(learner) for learner in LEARNERS), old.__name__
