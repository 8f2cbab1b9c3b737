"""Seeded companies shared by the generator tests (built once per test session)."""

from __future__ import annotations

import pytest

from datasets import variation
from datasets.api import generate_company
from datasets.scenario import load_scenario

LESSON_EMPLOYEES = 500
LESSON_DAYS = 180
TUNING_SEED = 20260101  # the detector's weights are fitted on this company only
HELD_OUT_SEEDS = (424242, 77)
VARIED_SEEDS = (5, 2026)  # companies drawn per seed, as learners get them


def fixed_profile(name: str = "mandate-bigco"):
    """The profile exactly as written (no per-seed draw): the company the lesson tests describe."""
    return load_scenario(name).model_copy(update={"vary": False})


def _extremes() -> dict:
    return variation.extremes(load_scenario("mandate-bigco"))


@pytest.fixture(scope="session")
def small_company():
    """Small enough for schema and round-trip tests, big enough to hold every archetype."""
    return generate_company(profile="mandate-bigco", employees=60, days=45, seed=3)


@pytest.fixture(scope="session")
def tuning_company():
    return generate_company(profile=fixed_profile(), employees=LESSON_EMPLOYEES, days=LESSON_DAYS,
                            seed=TUNING_SEED)


@pytest.fixture(scope="session", params=HELD_OUT_SEEDS)
def held_out_company(request):
    return generate_company(profile=fixed_profile(), employees=LESSON_EMPLOYEES, days=LESSON_DAYS,
                            seed=request.param)


@pytest.fixture(scope="session", params=[*HELD_OUT_SEEDS, *VARIED_SEEDS, *_extremes()])
def any_company(request):
    """Held-out companies of the profile, companies drawn per seed, and the corners of the ranges."""
    if request.param in HELD_OUT_SEEDS:
        scenario, seed = fixed_profile(), request.param
    elif request.param in VARIED_SEEDS:
        scenario, seed = "mandate-bigco", request.param
    else:
        scenario, seed = _extremes()[request.param], 99
    return generate_company(profile=scenario, employees=LESSON_EMPLOYEES, days=LESSON_DAYS, seed=seed)
