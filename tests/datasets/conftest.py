"""Seeded companies shared by the generator tests (built once per test session)."""

from __future__ import annotations

import pytest

from datasets.api import generate_company

LESSON_EMPLOYEES = 500
LESSON_DAYS = 180
TUNING_SEED = 20260101  # the detector's weights are fitted on this company only
HELD_OUT_SEEDS = (424242, 77)


@pytest.fixture(scope="session")
def small_company():
    """Small enough for schema and round-trip tests, big enough to hold every archetype."""
    return generate_company(profile="mandate-bigco", employees=60, days=45, seed=3)


@pytest.fixture(scope="session")
def tuning_company():
    return generate_company(profile="mandate-bigco", employees=LESSON_EMPLOYEES, days=LESSON_DAYS,
                            seed=TUNING_SEED)


@pytest.fixture(scope="session", params=HELD_OUT_SEEDS)
def held_out_company(request):
    return generate_company(profile="mandate-bigco", employees=LESSON_EMPLOYEES, days=LESSON_DAYS,
                            seed=request.param)
