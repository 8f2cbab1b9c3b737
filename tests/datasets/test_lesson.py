"""The lesson is true in the data: volume does not reveal theater, outcome-linked features do."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from datasets.api import generate_company
from datasets.reference import (OUTCOME_FEATURES, employee_features, fit_reference_detector, mandate_date,
                                roc_auc)

pytestmark = pytest.mark.slow


def _tokenmaxxers_vs_genuine(company, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    archetype = company.labels.set_index("employee_id")["archetype"]
    keep = archetype[archetype.isin(["genuine", "tokenmaxxer"])].index
    frame = frame.reindex(keep)
    return frame, pd.Series(archetype.loc[keep] == "tokenmaxxer", index=keep)


def _separation(scores, positive) -> float:
    """How well a score separates the groups in either direction (0.5 = not at all)."""
    auc = roc_auc(scores, positive)
    return max(auc, 1.0 - auc)


@pytest.mark.parametrize("volume", ["total_tokens", "sessions", "events"])
@pytest.mark.parametrize("since", [None, "mandate"])
def test_token_volume_and_session_count_do_not_separate_tokenmaxxers(any_company, volume, since):
    """In every company a learner can get: the profile, per-seed draws, the corners of the ranges."""
    features, positive = _tokenmaxxers_vs_genuine(any_company, employee_features(any_company, since))
    assert _separation(features[volume], positive) <= 0.65


@pytest.mark.parametrize("since", ["mandate", None])
def test_reference_detector_separates_on_a_seed_it_was_not_tuned_on(tuning_company, any_company, since):
    train, train_y = _tokenmaxxers_vs_genuine(tuning_company, employee_features(tuning_company, since=since))
    detector = fit_reference_detector(train, train_y)
    test, test_y = _tokenmaxxers_vs_genuine(any_company, employee_features(any_company, since=since))
    assert roc_auc(detector.score(test), test_y) >= 0.9
    assert all(detector.weights[name] != 0 for name in OUTCOME_FEATURES)


def test_each_outcome_feature_helps_and_together_they_beat_any_one(tuning_company, held_out_company):
    train, train_y = _tokenmaxxers_vs_genuine(tuning_company, employee_features(tuning_company, since=None))
    detector = fit_reference_detector(train, train_y)
    features, positive = _tokenmaxxers_vs_genuine(held_out_company, employee_features(held_out_company, since=None))
    single = {name: _separation(features[name], positive) for name in OUTCOME_FEATURES}
    assert min(single.values()) >= 0.6, single
    assert roc_auc(detector.score(features), positive) > max(single.values())


def _raw_averages(company) -> dict[str, pd.Series]:
    """Every per-employee average a learner can take of a raw column, including category shares."""
    averages: dict[str, pd.Series] = {}
    for table_name in ("ai_events", "work_items", "survey"):
        table = getattr(company, table_name)
        grouped = table.groupby("employee_id")
        for column in table.columns:
            if column == "employee_id" or column.endswith("_id") or column == "prompt_fingerprint":
                continue
            values = table[column]
            if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
                averages[f"{table_name}.{column}"] = grouped[column].mean()
            elif pd.api.types.is_datetime64_any_dtype(values):
                averages[f"{table_name}.{column}.hour"] = values.dt.hour.groupby(table["employee_id"]).mean()
            else:
                shares = pd.crosstab(table["employee_id"], values, normalize="index")
                for value in shares.columns:
                    averages[f"{table_name}.{column}={value}"] = shares[value]
        if "linked_session_id" in table:
            averages[f"{table_name}.linked_share"] = table["linked_session_id"].notna().groupby(
                table["employee_id"]).mean()
    return averages


def test_no_single_per_employee_average_of_a_raw_column_reaches_0_9(held_out_company):
    worst = {}
    for name, series in _raw_averages(held_out_company).items():
        values, positive = _tokenmaxxers_vs_genuine(held_out_company, series.to_frame("v"))
        worst[name] = _separation(values["v"], positive)
    assert max(worst.values()) < 0.9, max(worst, key=worst.get)


def test_no_column_outside_labels_encodes_the_archetype(held_out_company):
    company = held_out_company
    archetype = company.labels.set_index("employee_id")["archetype"]
    baseline = archetype.value_counts(normalize=True).max()
    for table_name in ("employees", "ai_events", "work_items", "survey"):
        table = getattr(company, table_name)
        for column in table.columns:
            if column == "employee_id":
                continue
            if table[column].nunique() > 1000:
                continue  # ids, names, counts, times: covered by the per-employee averages test
            # the most common value per employee, used as a lookup table for the archetype
            pairs = pd.DataFrame({"employee_id": table["employee_id"], "value": table[column].astype("str")})
            counts = pairs.value_counts(sort=True)
            typical = counts.reset_index().drop_duplicates("employee_id").set_index("employee_id")["value"]
            joined = pd.DataFrame({"value": typical, "archetype": archetype.reindex(typical.index)}).dropna()
            # learn value -> most common archetype on half the employees, score on the other half
            half = np.arange(len(joined)) % 2 == 0
            lookup = joined[half].groupby("value")["archetype"].agg(lambda s: s.value_counts().index[0])
            guess = joined.loc[~half, "value"].map(lookup)
            accuracy = (guess == joined.loc[~half, "archetype"]).mean()
            assert accuracy < baseline + 0.25, f"{table_name}.{column} predicts the archetype ({accuracy:.2f})"
    # ids are assigned independently of the archetype
    order = np.arange(len(archetype))
    for name in ("genuine", "tokenmaxxer"):
        positions = order[(archetype == name).to_numpy()]
        assert abs(positions.mean() / len(order) - 0.5) < 0.1


def _per_business_day(company, frame: pd.DataFrame, column: str) -> tuple[float, float]:
    """Rows per business day before and from the mandate on."""
    mandate = mandate_date(company)
    holidays = pd.to_datetime(company.calendar.loc[company.calendar["event_type"] == "holiday", "date"])
    start, end = pd.Timestamp(company.meta["start_date"]), pd.Timestamp(company.meta["end_date"])
    business = pd.bdate_range(start, end)
    business = business[~business.isin(holidays)]
    pre_days, post_days = (business < mandate).sum(), (business >= mandate).sum()
    stamps = frame[column]
    inside = (stamps >= start) & (stamps < end + pd.Timedelta(days=1))
    return (((stamps < mandate) & inside).sum() / pre_days, ((stamps >= mandate) & inside).sum() / post_days)


def test_after_the_mandate_usage_rises_sharply_while_output_stays_flat(held_out_company):
    company = held_out_company
    pre, post = _per_business_day(company, company.ai_events, "timestamp")
    assert post / pre >= 1.4
    output = company.work_items[company.work_items["status"].isin(["closed", "merged"])]
    out_pre, out_post = _per_business_day(company, output, "closed_at")
    assert abs(out_post / out_pre - 1.0) <= 0.05


def test_genuine_adopters_output_improves_after_the_mandate(held_out_company):
    company = held_out_company
    archetype = company.labels.set_index("employee_id")["archetype"]
    output = company.work_items[company.work_items["status"].isin(["closed", "merged"])]
    genuine = output[output["employee_id"].map(archetype) == "genuine"]
    non_users = output[output["employee_id"].map(archetype) == "non_user"]
    g_pre, g_post = _per_business_day(company, genuine, "closed_at")
    n_pre, n_post = _per_business_day(company, non_users, "closed_at")
    assert g_post / g_pre >= 1.03
    assert (g_post / g_pre) / (n_post / n_pre) >= 1.03


def test_performative_users_believe_they_are_faster_while_their_output_drops(held_out_company):
    """METR 2025 in miniature: the survey says faster, the work items say slower."""
    company = held_out_company
    archetype = company.labels.set_index("employee_id")["archetype"]
    mandate = mandate_date(company)
    survey = company.survey[company.survey["survey_date"] >= mandate]
    believed = survey[survey["employee_id"].map(archetype) == "tokenmaxxer"]["perceived_speedup_pct"].mean()
    output = company.work_items[company.work_items["status"].isin(["closed", "merged"])]
    tokenmaxxers = output[output["employee_id"].map(archetype) == "tokenmaxxer"]
    non_users = output[output["employee_id"].map(archetype) == "non_user"]
    t_pre, t_post = _per_business_day(company, tokenmaxxers, "closed_at")
    n_pre, n_post = _per_business_day(company, non_users, "closed_at")
    assert believed >= 10
    assert (t_post / t_pre) / (n_post / n_pre) < 1.0


def test_about_thirty_percent_of_ai_users_say_they_use_it_because_obliged(held_out_company):
    company = held_out_company
    survey = company.survey[company.survey["survey_date"] >= mandate_date(company)]
    users = set(company.ai_events.loc[company.ai_events["timestamp"] >= mandate_date(company), "employee_id"])
    share = survey[survey["employee_id"].isin(users)]["uses_ai_because_obliged"].mean()
    assert 0.2 <= share <= 0.4


def test_converts_behave_more_genuinely_after_their_convert_date(held_out_company):
    company = held_out_company
    labels = company.labels[company.labels["archetype"] == "convert"].set_index("employee_id")
    events = company.ai_events.merge(company.event_labels, on="event_id")
    events = events[events["employee_id"].isin(labels.index)]
    after = events["timestamp"] >= events["employee_id"].map(labels["convert_date"])
    before_share = events.loc[~after & (events["timestamp"] >= mandate_date(company)), "is_theater"].mean()
    after_share = events.loc[after, "is_theater"].mean()
    assert before_share > 0.5 > after_share


@pytest.mark.parametrize("profile", ["startup", "consultancy"])
def test_volume_does_not_reveal_tokenmaxxers_in_other_profiles_either(profile):
    company = generate_company(profile=profile, employees=400, days=150, seed=9)
    features, positive = _tokenmaxxers_vs_genuine(company, employee_features(company, since=None))
    assert positive.sum() >= 20
    assert _separation(features["total_tokens"], positive) <= 0.7
