"""Profiles load and validate; a broken profile names its file and the field that is wrong."""

from __future__ import annotations

from datetime import date

import pytest

from datasets.scenario import Scenario, ScenarioError, available_profiles, load_scenario


def test_the_shipped_profiles_load():
    assert {"mandate-bigco", "startup", "consultancy", "service-desk"} <= set(available_profiles())
    for name in available_profiles():
        scenario = load_scenario(name)
        assert abs(sum(scenario.archetype_mix.values()) - 1.0) < 1e-9
        assert scenario.teams


def test_mandate_bigco_has_thirty_percent_obliged_users_and_a_strong_mid_period_mandate():
    scenario = load_scenario("mandate-bigco")
    obliged = scenario.archetype_mix["tokenmaxxer"] + scenario.archetype_mix["convert"]
    assert obliged == pytest.approx(0.30)
    assert 0.2 < scenario.mandate.at < 0.8 and scenario.mandate.strength >= 0.8


def test_mandate_can_be_a_date():
    assert load_scenario("consultancy").mandate.at == date(2026, 3, 2)


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(ScenarioError, match="unknown profile 'nope'.*mandate-bigco"):
        load_scenario("nope")


def test_invalid_yaml_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("archetype_mix:\n  genuine: [0.5\nteams: {\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(path) in str(caught.value) and "line" in str(caught.value)


@pytest.mark.parametrize("body, field", [
    ("archetype_mix: {genuine: 0.5, tokenmaxxer: 0.2}\nteams: [{name: A, weight: 1, roles: {Analyst: 1}}]\n",
     "archetype_mix"),
    ("archetype_mix: {genuine: 1.0}\nteams: [{name: A, weight: -1, roles: {Analyst: 1}}]\n", "teams[0].weight"),
    ("archetype_mix: {genuine: 1.0}\nmandate: {at: 1.5}\nteams: [{name: A, weight: 1, roles: {Analyst: 1}}]\n",
     "mandate.at"),
    ("archetype_mix: {wizard: 1.0}\nteams: [{name: A, weight: 1, roles: {Analyst: 1}}]\n", "archetype_mix"),
    ("archetype_mix: {genuine: 1.0}\nteams: [{name: A, weight: 1, roles: {Analyst: 1}}]\ncolour: blue\n", "colour"),
    ("archetype_mix: {genuine: 1.0}\nholidays: ['02-30']\nteams: [{name: A, weight: 1, roles: {Analyst: 1}}]\n",
     "holidays"),
    ("start_date: 2026-02-30\narchetype_mix: {genuine: 1.0}\n", "start_date"),
    ("start_date: 2026-13-01\narchetype_mix: {genuine: 1.0}\n", "start_date"),
    ("archetype_mix: {genuine: 1.0}\nmandate: {at: 2026-02-30}\n", "mandate.at"),
    ("archetype_mix: {genuine: .nan, non_user: 1.0}\n", "archetype_mix"),
    ("archetype_mix: {genuine: .inf}\n", "archetype_mix"),
    ("archetype_mix: {genuine: 1.0}\nteams: [{name: A, weight: .nan, roles: {Analyst: 1}}]\n", "teams[0].weight"),
    ("archetype_mix: {genuine: 1.0}\nteams: [{name: A, weight: .inf, roles: {Analyst: 1}}]\n", "teams[0].weight"),
    ("archetype_mix: {genuine: 1.0}\nteams: [{name: A, weight: 1, roles: {Analyst: .nan}}]\n", "teams[0].roles"),
    ("archetype_mix: {genuine: 1.0}\nteams: [{name: A, weight: 1, roles: {Analyst: -.inf}}]\n", "teams[0].roles"),
    ("archetype_mix: {genuine: 1.0}\nmandate: {strength: .nan}\n", "mandate.strength"),
    ("archetype_mix: {genuine: 1.0}\nnoise: .nan\n", "noise"),
    ("archetype_mix: {genuine: 1.0}\nteams: [{name: A, weight: 1, roles: {Analyst: 1}, work_kinds: {memo: 1}}]\n",
     "teams[0].work_kinds"),
    ("archetype_mix: {genuine: 1.0}\nteams: [{name: A, weight: 1, roles: {Analyst: 1}, work_kinds: {ticket: 0}}]\n",
     "teams[0].work_kinds"),
    ("archetype_mix: {genuine: 1.0}\nteams: [{name: A, weight: 1, roles: {Analyst: 1}, work_kinds: {ticket: .nan}}]\n",
     "teams[0].work_kinds"),
])
def test_bad_values_name_the_file_and_the_field(tmp_path, body, field):
    path = tmp_path / "custom.yaml"
    path.write_text(body)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert str(path) in message and f"'{field}" in message


def test_a_scenario_object_is_used_as_is():
    scenario = Scenario(name="tiny", archetype_mix={"genuine": 1.0},
                        teams=[{"name": "A", "weight": 1, "roles": {"Analyst": 1}}])
    assert load_scenario(scenario) is scenario


def test_a_profile_without_teams_uses_the_provider_vocabulary(tmp_path):
    from datasets.api import generate_company
    from datasets.provider import CompanyProvider

    path = tmp_path / "plain.yaml"
    path.write_text("archetype_mix: {genuine: 0.6, tokenmaxxer: 0.4}\n")
    company = generate_company(load_scenario(path), 80, 10, 1)
    assert set(company.employees["team"]) <= set(CompanyProvider.teams)
    assert set(company.employees["role"]) <= set(CompanyProvider.roles)
    assert company.employees["team"].nunique() > 5


def test_a_valid_yaml_date_still_loads_as_a_date(tmp_path):
    path = tmp_path / "dated.yaml"
    path.write_text("start_date: 2026-02-02\narchetype_mix: {genuine: 1.0}\nmandate: {at: 2026-03-02}\n")
    scenario = load_scenario(path)
    assert scenario.start_date == date(2026, 2, 2) and scenario.mandate.at == date(2026, 3, 2)


def test_the_work_kind_vocabulary_is_the_one_the_tables_use():
    from typing import get_args

    from datasets.pipeline import WORK_KINDS
    from datasets.scenario import WorkKind
    from datasets.schemas import WORK_KINDS as SCHEMA_KINDS

    assert get_args(WorkKind) == WORK_KINDS == tuple(SCHEMA_KINDS)


def test_a_support_desk_closes_tickets_its_lawyers_write_documents_and_its_developers_merge_code():
    import pandas as pd

    from datasets.api import generate_company

    company = generate_company("service-desk", 300, 90, seed=5)
    work = company.work_items.merge(company.employees[["employee_id", "team", "role"]])
    share = pd.crosstab(work.team, work.kind, normalize="index")
    assert share.loc["Customer Support", "ticket"] > 0.7
    assert share.loc["Legal & Contracts", "document"] > 0.7
    assert (work.kind == "pull_request").mean() < 0.05            # almost no code in this company
    developers = work[work.role == "CRM Developer"]
    assert (developers.kind == "pull_request").mean() > 0.4      # an engineer keeps their role's mix
