"""A Faker provider with the company's own weighted vocabularies.

Faker is only used to build pools (names, team and role defaults, document titles) once per
company; events never call Faker, because one call costs about as much as a thousand vectorised
rows.
"""

from __future__ import annotations

from collections import OrderedDict

from faker import Faker
from faker.providers import BaseProvider


class CompanyProvider(BaseProvider):
    """Weighted vocabularies of a knowledge-work company: teams, roles, documents, AI tools."""

    __use_weighting__ = True

    teams = OrderedDict([
        ("Payments", 0.14), ("Data Platform", 0.12), ("Customer Support", 0.14),
        ("Marketing", 0.10), ("Finance", 0.08), ("Platform Reliability", 0.10),
        ("Mobile", 0.10), ("Sales Operations", 0.09), ("Legal", 0.04), ("People", 0.05),
        ("Security", 0.04),
    ])
    roles = OrderedDict([
        ("Software Engineer", 0.28), ("Senior Software Engineer", 0.12), ("Data Engineer", 0.06),
        ("Site Reliability Engineer", 0.05), ("Data Analyst", 0.08), ("Analyst", 0.08),
        ("Product Manager", 0.06), ("Designer", 0.05), ("Support Specialist", 0.10),
        ("Marketing Specialist", 0.05), ("Engineering Manager", 0.04), ("Manager", 0.03),
    ])
    document_kinds = OrderedDict([
        ("Design doc", 0.22), ("Quarterly business review", 0.08), ("Runbook", 0.10),
        ("Postmortem", 0.07), ("Project plan", 0.12), ("Meeting notes", 0.20),
        ("Customer brief", 0.09), ("Policy draft", 0.04), ("Status report", 0.08),
    ])
    document_subjects = OrderedDict([
        ("checkout latency", 0.1), ("data retention", 0.08), ("onboarding flow", 0.1),
        ("billing migration", 0.08), ("incident response", 0.09), ("pricing update", 0.07),
        ("search relevance", 0.08), ("vendor review", 0.06), ("hiring plan", 0.06),
        ("churn analysis", 0.09), ("API deprecation", 0.07), ("cost controls", 0.06),
        ("mobile release", 0.06),
    ])
    ai_tools = OrderedDict([
        ("ide-assistant", 0.38), ("chat-assistant", 0.30), ("office-copilot", 0.24),
        ("cli-agent", 0.08),
    ])

    def team_name(self) -> str:
        return self.random_element(self.teams)

    def job_role(self) -> str:
        return self.random_element(self.roles)

    def document_title(self) -> str:
        kind = self.random_element(self.document_kinds)
        subject = self.random_element(self.document_subjects)
        return f"{kind}: {subject}"

    def ai_tool(self) -> str:
        return self.random_element(self.ai_tools)


def company_faker(seed: int, locale: str = "en_US") -> Faker:
    """A seeded Faker with the company provider: identical pools for identical seeds."""
    fake = Faker(locale)
    fake.add_provider(CompanyProvider)
    fake.seed_instance(seed)
    return fake


def name_pools(fake: Faker, size: int) -> tuple[list[str], list[str]]:
    """Distinct first and last names to combine, built once instead of one Faker call per person."""
    first = list(dict.fromkeys(fake.first_name() for _ in range(size)))
    last = list(dict.fromkeys(fake.last_name() for _ in range(size)))
    return first, last
