"""Fixtures for the app's tests: a private THEATER_HOME and the small fake company generator."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.course.fakes import fake_api, make_company

APP = str(Path(__file__).resolve().parents[2] / "course" / "app.py")


@pytest.fixture(scope="session")
def small_company():
    """One seeded fake company shared by the pure chart tests (read-only)."""
    return make_company(employees=60, days=70, seed=3)


@pytest.fixture
def app_home(tmp_path, monkeypatch):
    """A fresh app home with a known staff password and the fake generator in place."""
    home = tmp_path / "home"
    monkeypatch.setenv("THEATER_HOME", str(home))
    monkeypatch.setenv("THEATER_STAFF_PASSWORD", "staff-secret")
    monkeypatch.delenv("THEATER_DATABASE_URL", raising=False)
    monkeypatch.delenv("THEATER_COURSE_CODE", raising=False)
    monkeypatch.delenv("THEATER_COURSE", raising=False)
    import course.auth
    import course.data

    monkeypatch.setattr(course.data, "_api", lambda: fake_api())
    monkeypatch.setattr(course.auth, "THROTTLES", course.auth.ThrottleBook())  # no test's guesses count in another
    return home
