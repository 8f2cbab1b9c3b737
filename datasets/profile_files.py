"""Where the shipped company profiles live, readable without importing the scenario model (and
numpy with it), so `theater --help` can list them quickly."""

from __future__ import annotations

from pathlib import Path

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"


def available_profiles() -> list[str]:
    """Profile names shipped with the project, for help texts and error messages."""
    return sorted(path.stem for path in PROFILES_DIR.glob("*.yaml"))
