"""The Faker provider honours its weights and only builds pools."""

from __future__ import annotations

from collections import Counter

from datasets.provider import CompanyProvider, company_faker, name_pools


def test_weighted_vocabularies_follow_their_weights():
    fake = company_faker(1)
    counts = Counter(fake.ai_tool() for _ in range(4000))
    assert counts["ide-assistant"] > counts["chat-assistant"] > counts["office-copilot"] > counts["cli-agent"]
    assert abs(counts["cli-agent"] / 4000 - CompanyProvider.ai_tools["cli-agent"]) < 0.03


def test_document_titles_teams_and_roles_come_from_the_vocabularies():
    fake = company_faker(2)
    kind, subject = fake.document_title().split(": ")
    assert kind in CompanyProvider.document_kinds and subject in CompanyProvider.document_subjects
    assert fake.team_name() in CompanyProvider.teams
    assert fake.job_role() in CompanyProvider.roles


def test_name_pools_are_seeded_and_distinct():
    first_a, last_a = name_pools(company_faker(5), 50)
    first_b, last_b = name_pools(company_faker(5), 50)
    assert (first_a, last_a) == (first_b, last_b)
    assert len(set(first_a)) == len(first_a) and len(first_a) > 20
