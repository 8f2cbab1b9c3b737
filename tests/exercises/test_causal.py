"""The access effect: its truth is the documented estimand, the reference design recovers it with
an honest interval, and the grade rewards the design while the users-vs-non-users shortcut fails."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from datasets.api import generate_company
from datasets.families import FAMILIES
from datasets.variation import family_of_seed
from benchmarks.reference_method import notebook_estimate, randomisation_unit
from exercises import causal, truth
from exercises.assignments import DataSpec
from exercises.checks import run_check


def pilot_company() -> SimpleNamespace:
    """Four people over four weeks from Mon 2025-01-06; pilot day 01-20, mandate 01-27.

    Wave: E1, E2 (teams A, B); not yet licensed: E3, E4 (teams A, B); E1 manages everyone, so
    neither teams nor squads share one access date: people were randomised.
    Closed work by the day it was opened, (pre-pilot, pilot window):
    E1 (2, 2), E2 (2, 1), E3 (2, 1), E4 (2, 1) -> wave 3/4, rest 2/4 -> +50%.
    """
    employees = pd.DataFrame({
        "employee_id": ["E1", "E2", "E3", "E4"], "team": ["A", "B", "A", "B"],
        "manager_id": [None, "E1", "E1", "E1"],
        "ai_access_from": pd.to_datetime(["2025-01-20", "2025-01-20", "2025-01-27", "2025-01-27"]),
    })
    rows = [  # (employee, created, closed, status)
        ("E1", "2025-01-07", "2025-01-08", "merged"), ("E1", "2025-01-14", "2025-01-15", "closed"),
        ("E1", "2025-01-21", "2025-01-22", "merged"), ("E1", "2025-01-23", "2025-01-24", "merged"),
        ("E2", "2025-01-08", "2025-01-09", "closed"), ("E2", "2025-01-15", "2025-01-16", "closed"),
        ("E2", "2025-01-22", "2025-01-23", "closed"),
        ("E3", "2025-01-09", "2025-01-10", "closed"), ("E3", "2025-01-13", "2025-01-14", "closed"),
        ("E3", "2025-01-21", "2025-01-22", "closed"), ("E3", "2025-01-22", "2025-01-23", "abandoned"),
        ("E4", "2025-01-10", "2025-01-13", "merged"),
        ("E4", "2025-01-17", "2025-01-21", "merged"),   # opened before the pilot: pre-pilot work
        ("E4", "2025-01-24", "2025-01-27", "merged"),
        ("E4", "2025-01-28", None, "open"),
    ]
    work_items = pd.DataFrame(rows, columns=["employee_id", "created_at", "closed_at", "status"])
    work_items["created_at"] = pd.to_datetime(work_items["created_at"])
    work_items["closed_at"] = pd.to_datetime(work_items["closed_at"])
    labels = pd.DataFrame({"employee_id": ["E1", "E2", "E3", "E4"],
                           "pilot_expected_without": [2.0, 2.0, 1.0, 1.0],
                           "pilot_expected_with": [2.5, 2.2, 5.0, 5.0]})
    return SimpleNamespace(employees=employees, work_items=work_items, labels=labels,
                           ai_events=pd.DataFrame({"timestamp": pd.to_datetime([])}),
                           calendar=pd.DataFrame(), survey=pd.DataFrame(),
                           meta={"start_date": "2025-01-06", "days": 28, "family": "theater"})


def test_the_reference_estimate_is_the_ratio_of_ratios_by_the_day_work_was_opened():
    company = pilot_company()
    assert randomisation_unit(company) == "person"
    estimate = notebook_estimate(company)
    assert estimate.value == pytest.approx(50.0)
    assert estimate.low <= estimate.value <= estimate.high and estimate.width > 0


def test_the_grader_takes_the_unit_from_the_generator_not_from_the_data():
    """The package holds no rule that reads the unit from the access dates (the learner's step):
    a company without its generator's record of the design gets no reference interval."""
    company = pilot_company()
    assert causal.design_unit(company) == "person"
    assert not hasattr(causal, "randomisation_unit")
    company.meta.pop("family")
    with pytest.raises(causal.CausalError, match="randomised"):
        causal.design_unit(company)


def test_the_truth_is_the_wave_s_expected_work_with_access_over_without():
    effect = truth.access_effect(pilot_company())
    assert effect["value"] == pytest.approx(100 * (4.7 / 4.0 - 1))      # E1, E2 only
    assert effect["reference_width"] == pytest.approx(notebook_estimate(pilot_company()).width)


def staggered_company() -> SimpleNamespace:
    """pilot_company with three waves: E1, E2 on 01-20; E3 and a new E5 on Thu 01-23; E4 and a new
    E6 at the mandate 01-27. Closed work by the day it was opened, E5: 01-08, 01-24; E6: 01-09,
    01-21, 01-25."""
    company = pilot_company()
    company.employees = pd.concat([company.employees, pd.DataFrame({
        "employee_id": ["E5", "E6"], "team": ["A", "B"], "manager_id": ["E1", "E1"],
        "ai_access_from": pd.to_datetime(["2025-01-23", "2025-01-27"])})], ignore_index=True)
    company.employees["ai_access_from"] = pd.to_datetime(
        ["2025-01-20", "2025-01-20", "2025-01-23", "2025-01-27", "2025-01-23", "2025-01-27"])
    extra = pd.DataFrame([("E5", "2025-01-08", "2025-01-09", "closed"), ("E5", "2025-01-24", "2025-01-27", "closed"),
                          ("E6", "2025-01-09", "2025-01-10", "closed"), ("E6", "2025-01-21", "2025-01-22", "closed"),
                          ("E6", "2025-01-25", "2025-01-27", "merged")], columns=company.work_items.columns)
    extra["created_at"], extra["closed_at"] = pd.to_datetime(extra["created_at"]), pd.to_datetime(extra["closed_at"])
    company.work_items = pd.concat([company.work_items, extra], ignore_index=True)
    company.labels = pd.concat([company.labels, pd.DataFrame({
        "employee_id": ["E5", "E6"], "pilot_expected_without": [1.0, 0.0],
        "pilot_expected_with": [1.5, 0.0]})], ignore_index=True)
    return company


def test_in_a_staggered_rollout_each_wave_is_compared_with_the_later_ones_in_its_own_window():
    """Comparison 0, window [01-20, 01-23): wave E1+E2 2 of pre 4; later E3-E6 2 of pre 6 ->
    without access the wave would have closed 4 * 2/6 = 4/3. Comparison 1, window [01-23, 01-27),
    before it everything up to 01-23: wave E3+E5 1 of pre 4; later E4+E6 2 of pre 4 -> 4 * 2/4 = 2.
    Pooled: 100 * ((2 + 1) / (4/3 + 2) - 1) = -10%. The first wave alone says +50%."""
    company = staggered_company()
    pilot = causal.pilot_design(company)
    dates = ("2025-01-20", "2025-01-23", "2025-01-27")
    assert (pilot.pilot, pilot.second, pilot.mandate) == tuple(pd.Timestamp(d) for d in dates)
    assert list(pilot.people["wave"]) == [True, True, False, False, False, False]
    assert list(pilot.people["wave_index"]) == [0, 0, 1, 2, 1, 2]
    counts = causal.wave_counts(company, pilot)
    assert counts.shape == (6, 2, 2)
    assert counts[:, 0].tolist() == [[2, 1], [2, 1], [2, 1], [2, 0], [1, 0], [1, 1]]
    assert counts[:, 1].tolist() == [[3, 1], [3, 0], [3, 0], [2, 1], [1, 1], [2, 1]]
    assert notebook_estimate(company).value == pytest.approx(-10.0)
    assert causal.first_wave_estimate(company, "person").value == pytest.approx(50.0)
    # the two-wave recipe with the window run to the mandate compares the wave with licensed people
    assert causal.first_wave_estimate(company, "person", end=pilot.mandate).value == pytest.approx(-10.0)
    # the truth: every wave with a later one, each over its own window (E4, E6: the last wave)
    assert truth.access_effect(company)["value"] == pytest.approx(100 * (11.2 / 6.0 - 1))
    assert truth.first_wave_effect(company)["value"] == pytest.approx(100 * (4.7 / 4.0 - 1))
    assert truth.access_effect_point(company)["value"] == pytest.approx(100 * (4.7 / 4.0 - 1))


def test_with_two_waves_the_pooled_effect_is_the_ratio_of_ratios():
    rng = np.random.default_rng(3)
    sums = rng.uniform(5, 50, (100, 2, 1, 2))
    ratio = 100 * ((sums[:, 0, 0, 1] / sums[:, 0, 0, 0]) / (sums[:, 1, 0, 1] / sums[:, 1, 0, 0]) - 1)
    assert causal.pooled_effect(sums) == pytest.approx(ratio)
    company = pilot_company()
    assert notebook_estimate(company) == causal.first_wave_estimate(company, "person")


def test_a_wave_of_one_unit_gets_no_interval():
    company = staggered_company()
    company.employees["ai_access_from"] = pd.to_datetime(
        ["2025-01-20", "2025-01-20", "2025-01-23", "2025-01-27", "2025-01-27", "2025-01-27"])
    with pytest.raises(causal.CausalError, match="fewer than two units"):
        notebook_estimate(company)


def test_the_event_study_compares_each_week_with_the_mean_week_before_access():
    """Closed work by the week it was opened, wave E1+E2 against E3+E4: weeks -2 and -1 are 2 and 2
    in both groups, week 0 is 3 against 2 (E3's abandoned item does not count) -> 0, 0, +50%."""
    study = causal.event_study(pilot_company())
    assert list(study["week"]) == [-2, -1, 0]
    assert list(study["effect_pct"]) == pytest.approx([0.0, 0.0, 50.0])
    assert list(study["waves"]) == [1, 1, 1]
    with pytest.raises(causal.CausalError, match="at least one week"):
        causal.event_study(pilot_company(), pre_weeks=0)


def test_whole_squads_or_teams_sharing_a_date_are_the_unit():
    company = pilot_company()
    company.employees["team"] = ["A", "A", "B", "B"]
    assert randomisation_unit(company) == "team"
    company.employees["team"] = ["A", "B", "A", "B"]
    company.employees["manager_id"] = [None, "E1", "E4", None]   # squads {E2} / {E3}: size one
    assert randomisation_unit(company) == "person"


def test_a_company_without_a_pilot_is_a_clear_error():
    company = pilot_company()
    company.employees["ai_access_from"] = pd.Timestamp("2025-01-27")
    with pytest.raises(causal.CausalError, match="same day"):
        notebook_estimate(company)
    with pytest.raises(truth.TruthError, match="same day"):
        truth.access_effect(company)


# ----------------------------------------------------------------------------- interval credit

def test_interval_credit_rewards_covering_the_truth_at_the_reference_width():
    assert causal.interval_credit(10, 0, 20, truth=15, reference_width=20) == (1.0, pytest.approx(
        "Your interval covers the true effect and is no wider than the design needs."))
    slack = causal.INTERVAL_SLACK * 10      # of the half-width, on each side
    assert causal.interval_credit(10, 0, 20, truth=20 + slack - 0.01, reference_width=20)[0] == 1.0
    assert causal.interval_credit(10, 0, 20, truth=20 + slack + 0.01, reference_width=20)[0] == 0.0
    assert causal.interval_credit(10, 0, 20, truth=-slack - 0.01, reference_width=20)[0] == 0.0


def test_the_benchmarks_slack_sweep_moves_only_the_widening():
    """benchmarks/estimands.py --slack scores saved intervals with another widening: 0 is the bare interval."""
    assert causal.interval_credit(10, 0, 20, truth=20.01, reference_width=20, slack=0.0)[0] == 0.0
    assert causal.interval_credit(10, 0, 20, truth=20.0, reference_width=20, slack=0.0)[0] == 1.0
    assert causal.interval_credit(10, 0, 20, truth=25.9, reference_width=20, slack=0.6)[0] == 1.0
    assert causal.interval_credit(10, 0, 20, truth=15, reference_width=10, slack=0.0)[0] == 0.0  # width still counts


def test_the_benchmark_splits_the_shortcuts_credit_by_the_size_of_the_effect(capsys):
    """The shortcut estimating twice the effect passes where the effect is near zero, and the
    printed slope says twice."""
    from benchmarks.estimands import naive_by_effect
    truths = [-3.0, 1.0, 2.0, 8.0, 12.0, 20.0, -25.0]
    rows = [{"family": "theater", "truth": t, "naive_error": t, "naive": float(abs(t) < 5)} for t in truths]
    naive_by_effect(rows)
    line = capsys.readouterr().out.splitlines()[-1].split()
    assert line[0] == "theater" and line[-1] == "2.00"
    assert line[1:7] == ["100%", "(3)", "0%", "(2)", "0%", "(2)"]


def test_a_wide_interval_loses_credit_linearly_and_a_huge_one_earns_nothing():
    full = causal.WIDTH_FULL * 20
    assert causal.interval_credit(0, -full / 2, full / 2, truth=0, reference_width=20)[0] == 1.0
    assert causal.interval_credit(0, -10, 10, truth=0, reference_width=20)[0] == 1.0
    middle = (causal.WIDTH_FULL + causal.WIDTH_ZERO) / 2 * 20
    credit, message = causal.interval_credit(0, -middle / 2, middle / 2, truth=0, reference_width=20)
    assert credit == pytest.approx(0.5) and "wider than the design needs" in message
    assert causal.interval_credit(0, -500, 500, truth=0, reference_width=20)[0] == 0.0


def test_an_interval_narrower_than_the_design_allows_fails_even_when_it_covers():
    narrow = causal.NARROW_ZERO * 20 - 1
    credit, message = causal.interval_credit(0, -narrow / 2, narrow / 2, truth=0, reference_width=20)
    assert credit == 0.0 and "narrower than this design allows" in message
    just = causal.NARROW_FULL * 20 + 0.01
    assert causal.interval_credit(0, -just / 2, just / 2, truth=0, reference_width=20)[0] == 1.0


def test_the_messages_never_name_the_truth_or_its_direction():
    for low, high in ((0, 20), (-100, 100), (30, 40), (-40, -30)):
        _, message = causal.interval_credit((low + high) / 2, low, high, truth=13.7, reference_width=20)
        assert "13.7" not in message and "higher" not in message and "lower" not in message


@pytest.mark.parametrize("answer, problem", [
    ((5, 10, 0), "lower end is above"),
    ((float("nan"), 0, 10), "finite"),
    ((5, "ten", 10), "number"),
    ((50, 0, 10), "inside its own interval"),
    ((None, 0, 10), "number"),
])
def test_malformed_intervals_get_a_clear_message(answer, problem):
    with pytest.raises(causal.AnswerError, match=problem):
        causal.interval_credit(*answer, truth=5, reference_width=10)


def test_the_finding_multiplies_share_credit_by_interval_credit():
    truth_ = {"theater_share": 0.30, "access_effect_pct": 12.0, "access_effect_reference_width": 16.0}
    good = {"theater_share": 0.31, "access_effect_pct": 10.0, "access_effect_low": 3.0, "access_effect_high": 18.0}
    assert run_check("measure.finding", good, truth_).score == 1.0
    assert run_check("measure.finding", {**good, "theater_share": 0.6}, truth_).score == 0.0
    assert run_check("measure.finding", {**good, "access_effect_low": 1.0, "access_effect_high": 2.0,
                                         "access_effect_pct": 1.5}, truth_).score == 0.0
    result = run_check("measure.finding", {"theater_share": 0.3}, truth_)
    assert result.score == 0.0 and "access_effect_low" in result.message
    result = run_check("measure.finding", {**good, "access_effect_low": 30.0}, truth_)
    assert result.score == 0.0 and "cannot be scored" in result.message
    assert run_check("measure.finding", "not json", truth_).score == 0.0
    assert run_check("measure.finding", [1, 2], truth_).score == 0.0


# ----------------------------------------------------------------------------- on generated companies

COURSE_SIZE = (DataSpec().employees, DataSpec().days)


def _seeds(family: str, count: int, first: int = 5_000_000) -> list[int]:
    seeds, seed = [], first
    while len(seeds) < count:
        if family_of_seed(seed) == family:
            seeds.append(seed)
        seed += 1
    return seeds


def _credit(estimate: causal.Estimate, effect: dict[str, float]) -> float:
    return causal.interval_credit(estimate.value, estimate.low, estimate.high,
                                  effect["value"], effect["reference_width"])[0]


ON_ONE_WORKER = pytest.mark.xdist_group("causal-scored")  # the companies below are drawn once, not per worker


@pytest.fixture(scope="module")
def scored() -> dict[str, list[dict[str, float]]]:
    """Reference and naive credit on course-sized companies of the families the test needs."""
    out: dict[str, list[dict[str, float]]] = {}
    for family, count in (("selection", 10), ("theater", 5), ("spillover", 5), ("staggered", 6)):
        rows = []
        for seed in _seeds(family, count):
            company = generate_company("mandate-bigco", *COURSE_SIZE, seed)
            effect = truth.access_effect(company)
            rows.append({"reference": _credit(notebook_estimate(company), effect),
                         "naive": _credit(causal.naive_estimate(company), effect),
                         "person": _credit(causal.reference_estimate(company, "person"), effect),
                         "first_wave": _credit(causal.first_wave_estimate(company, randomisation_unit(company)), effect),
                         "unit": randomisation_unit(company),
                         "waves": company.employees["ai_access_from"].nunique(),
                         "event_study": causal.event_study(company)})
        out[family] = rows
    return out


@ON_ONE_WORKER
def test_the_reference_design_earns_full_interval_credit_almost_everywhere(scored):
    rows = [row for family in scored.values() for row in family]
    assert sum(row["reference"] == 1.0 for row in rows) >= len(rows) - 1


@ON_ONE_WORKER
def test_users_vs_non_users_fails_where_newer_staff_adopt(scored):
    selection = scored["selection"]
    assert np.mean([row["naive"] for row in selection]) < 0.6
    assert np.mean([row["reference"] for row in selection]) > 0.9


@ON_ONE_WORKER
def test_two_wave_recipes_pasted_into_a_staggered_rollout_fail(scored):
    """The first wave alone (the later waves' windows left out: an interval wider than the design
    gives) and people resampled where squads were licensed (too narrow) earn little; the reference
    pools every wave and earns full credit."""
    rows = scored["staggered"]
    assert np.mean([row["first_wave"] for row in rows]) < 0.6, rows
    assert np.mean([row["person"] for row in rows]) < 0.6, rows
    assert sum(row["first_wave"] == 1.0 for row in rows) <= 2 and sum(row["person"] == 1.0 for row in rows) <= 2
    assert np.mean([row["reference"] for row in rows]) > 0.9


@ON_ONE_WORKER
def test_the_unit_of_randomisation_follows_the_family(scored):
    assert {row["unit"] for row in scored["spillover"] + scored["staggered"]} == {"squad"}
    assert {row["unit"] for row in scored["theater"] + scored["selection"]} == {"person"}
    assert FAMILIES["spillover"].randomised_by == "squad"


@ON_ONE_WORKER
def test_a_staggered_rollout_has_three_or_four_waves_and_an_event_study_over_them(scored):
    rows = scored["staggered"]
    assert {row["waves"] for row in rows} <= {3, 4} and len({row["waves"] for row in rows}) == 2
    for row in rows:
        study = row["event_study"]
        assert study["week"].min() == -causal.EVENT_PRE_WEEKS and study["week"].max() >= 2
        # every wave but the last has a later, not-yet-licensed group in its first weeks
        assert study.loc[study["week"].between(-causal.EVENT_PRE_WEEKS, 0), "waves"].eq(row["waves"] - 1).all()
        assert study.loc[study["week"] < 0, "effect_pct"].abs().mean() < 15   # flat before access


@pytest.mark.parametrize("family", ["theater", "staggered"])
def test_the_labels_expected_work_matches_what_the_generator_draws(family):
    """A Monte-Carlo check of the potential outcomes: work a wave opened in its own window (its
    access date to the next wave's) is drawn from lambda1, so realised counts match the labels'
    sums over that window; the last wave has no window and zero labels."""
    company = generate_company("mandate-bigco", 600, 180, _seeds(family, 1)[0])
    pilot = causal.pilot_design(company)
    assert (pilot.second < pilot.mandate) == (family == "staggered")
    opened = pd.to_datetime(company.work_items["created_at"])
    labels = company.labels.set_index("employee_id").loc[pilot.people["employee_id"]]
    starts = pilot.wave_starts
    for start, next_start in zip(starts[:-1], starts[1:]):
        wave = (pilot.people["access"] == start).to_numpy()
        in_window = company.work_items[(opened >= start) & (opened < next_start)]
        counts = in_window.groupby("employee_id").size().reindex(pilot.people["employee_id"], fill_value=0)
        expected = float(labels["pilot_expected_with"].to_numpy()[wave].sum())
        realised = float(counts.to_numpy()[wave].sum())
        assert abs(realised - expected) < 4 * math.sqrt(expected), (start, realised, expected)
    last = (pilot.people["access"] == pilot.mandate).to_numpy()
    assert not labels[["pilot_expected_with", "pilot_expected_without"]].to_numpy()[last].any()
    # and the two potential outcomes differ for the waves: access changed the expected work
    assert not np.allclose(labels["pilot_expected_with"], labels["pilot_expected_without"])


@pytest.mark.parametrize("family", ["theater", "spillover", "staggered"])
def test_the_measure_notebook_s_solution_computes_the_reference_estimate(family, tmp_path, monkeypatch):
    """The notebook's own set-up and solution, run on a released company of each design (people,
    squads, a staggered rollout), give the grader's reference value and an interval of its width."""
    import nbformat

    from datasets.api import write_company
    from exercises.assignments import load_assignment

    company = generate_company("mandate-bigco", 200, 180, _seeds(family, 1)[0])
    write_company(company, tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    notebook = nbformat.read(load_assignment(Path(__file__).parents[2] / "exercises" / "source" / "measure").notebook_path,
                             as_version=4)
    namespace: dict = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        exec(compile(cell.source, cell.metadata.get("nbgrader", {}).get("grade_id", "cell"), "exec"), namespace)
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "part2-effect":
            break
    reference = causal.reference_estimate(company, causal.design_unit(company))
    assert namespace["access_effect_pct"] == pytest.approx(reference.value)
    width = namespace["access_effect_high"] - namespace["access_effect_low"]
    assert width == pytest.approx(reference.width, rel=0.1)      # another bootstrap seed
    assert namespace["comparisons"] == company.employees["ai_access_from"].nunique() - 1


def test_a_unit_with_members_in_two_waves_belongs_to_the_earliest_licensed_ones():
    """As the two-arm rule always had it (a unit with any treated member is treated), whatever
    order its members come in."""
    counts = np.array([[10, 12], [10, 10], [10, 11], [10, 10], [10, 10]], dtype=float)
    units = np.array(["a", "a", "b", "c", "d"])
    for treated in (np.array([True, False, True, False, False]), np.array([False, True, True, False, False])):
        estimate = causal.did_with_interval(counts, treated, units, "squad", samples=50)
        # a (both members) and b are treated: (22+11)/(20+10) against (10+10)/(10+10)
        assert estimate.value == pytest.approx(100 * (33 / 30 - 1))
