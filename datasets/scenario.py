"""Company scenarios: a validated description of one synthetic company, loaded from YAML."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from datasets.archetypes import ARCHETYPES
from datasets.errors import UserError
from datasets.families import FAMILIES
from datasets.profile_files import PROFILES_DIR, available_profiles  # noqa: F401  (re-exported)
from datasets.validation import InvalidFile, invalid_file


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class ScenarioError(UserError):
    """A profile that does not exist or does not describe a valid company."""


class InvalidScenario(InvalidFile, ScenarioError):
    """A profile file that does not validate: names the file and the field (datasets.validation)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Mandate(_Strict):
    """When leadership starts tracking AI usage and pressing staff to use it, and how hard."""

    at: Fraction | date | None = Field(
        default=0.4, description="fraction of the period (0–1) or a calendar date; null: no mandate")
    strength: Fraction = 0.8


WorkKind = Literal["ticket", "pull_request", "document"]  # the work_items `kind` vocabulary, in its order


class Team(_Strict):
    name: str = Field(min_length=1)
    weight: float = Field(gt=0, le=1e6)
    roles: dict[str, float] = Field(min_length=1, description="role name -> weight inside the team")
    work_kinds: dict[WorkKind, float] | None = Field(
        default=None, description="the kinds of work this team's business staff close, kind -> weight "
                                  "(a support desk closes tickets, a legal team writes documents); "
                                  "engineers and managers keep their role's mix")

    @field_validator("work_kinds")
    @classmethod
    def _some_work(cls, kinds: dict[str, float] | None) -> dict[str, float] | None:
        if kinds is None:
            return None
        for kind, weight in kinds.items():
            if not 0 <= weight <= 1e6:
                raise ValueError(f"work kind {kind!r} needs a weight from 0 to 1e6, got {weight}")
        if not sum(kinds.values()) > 0:
            raise ValueError("work_kinds needs at least one kind with a positive weight")
        return kinds

    @field_validator("roles")
    @classmethod
    def _positive_weights(cls, roles: dict[str, float]) -> dict[str, float]:
        for role, weight in roles.items():
            if not 0 < weight <= 1e6:
                raise ValueError(f"role {role!r} needs a positive finite weight up to 1e6, got {weight}")
        return roles


class Cadence(_Strict):
    """Reporting rhythm that performative users time their bursts to."""

    dashboard_refresh_days: int = Field(default=14, ge=1, le=92)
    reporting_deadline: Literal["monthly", "quarterly", "none"] = "monthly"
    review_cycle_days: int = Field(default=91, ge=7, le=400)
    burst_window_days: int = Field(default=2, ge=1, le=5)


class Scenario(_Strict):
    """Everything that makes one company different from another; behaviour lives in the pipeline."""

    name: str = Field(min_length=1)
    description: str = ""
    start_date: date = date(2026, 1, 5)
    archetype_mix: dict[str, float]
    mandate: Mandate = Mandate()
    cadence: Cadence = Cadence()
    holidays: list[Annotated[str, Field(pattern=r"^\d{2}-\d{2}$")]] = Field(
        default_factory=list, description="MM-DD of public holidays, repeated every year")
    noise: float = Field(default=1.0, ge=0.2, le=3.0)
    teams: list[Team] = Field(default_factory=list,
                              description="teams with weighted roles; empty: the Faker provider's vocabulary")
    email_domain: str = Field(default="example.com", pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$")
    manager_span: int = Field(default=7, ge=2, le=30)
    productivity_gain: float = Field(
        default=0.08, ge=-0.5, le=1.0,
        description="genuine adopters' mean output change once AI use settles in (0.08: +8%)")
    family: str | None = Field(
        default=None, description="scenario family (datasets/families.py); null: drawn per seed "
                                  "when vary is true, else 'theater'")
    pilot_weeks: int = Field(default=6, ge=0, le=26,
                             description="weeks before the mandate that a random pilot wave gets AI "
                                         "access (0: everyone at the mandate)")
    output_trend: float = Field(default=0.0, ge=-0.5, le=0.5,
                                description="company-wide change of output over the period, with or without AI")
    output_seasonality: float = Field(default=0.0, ge=0.0, le=0.3,
                                      description="amplitude of a quarterly swing of everyone's output")
    vary: bool = Field(default=True, description="draw the company per seed (datasets/variation.py); "
                                                 "false: generate the scenario exactly as written")

    @field_validator("archetype_mix")
    @classmethod
    def _mix_is_a_distribution(cls, mix: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(mix) - set(ARCHETYPES))
        if unknown:
            raise ValueError(f"unknown archetype(s) {unknown}; use {list(ARCHETYPES)}")
        if any(value < 0 for value in mix.values()):
            raise ValueError("archetype shares cannot be negative")
        total = sum(mix.values())
        if abs(total - 1.0) > 0.01:
            raise ValueError(f"archetype shares must add up to 1, they add up to {total:.3f}")
        return {name: float(mix.get(name, 0.0)) / total for name in ARCHETYPES}

    @field_validator("family")
    @classmethod
    def _known_family(cls, family: str | None) -> str | None:
        if family is not None and family not in FAMILIES:
            raise ValueError(f"unknown family {family!r}; use one of {list(FAMILIES)}")
        return family

    @field_validator("holidays")
    @classmethod
    def _real_days(cls, holidays: list[str]) -> list[str]:
        for text in holidays:
            month, day = (int(part) for part in text.split("-"))
            try:
                date(2024, month, day)  # a leap year accepts 02-29
            except ValueError:
                raise ValueError(f"holiday {text!r} is not a calendar day (MM-DD)") from None
        return holidays

    @model_validator(mode="after")
    def _unique_team_names(self) -> "Scenario":
        names = [team.name for team in self.teams]
        if len(set(names)) != len(names):
            raise ValueError("team names must be unique")
        return self


def default_teams() -> list[Team]:
    """Teams and roles from the company Faker provider's weighted vocabularies."""
    from datasets.provider import CompanyProvider

    return [Team(name=name, weight=weight, roles=dict(CompanyProvider.roles))
            for name, weight in CompanyProvider.teams.items()]


class _TextDatesLoader(yaml.SafeLoader):
    """YAML with dates left as text, so pydantic names the field of `start_date: 2026-02-30`."""


_TextDatesLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_scalar)


def load_scenario(profile: str | Path | Scenario) -> Scenario:
    """A Scenario from a profile name, a YAML path, or an existing Scenario."""
    if isinstance(profile, Scenario):
        return profile
    path = Path(profile)
    if path.suffix not in (".yaml", ".yml"):
        path = PROFILES_DIR / f"{profile}.yaml"
        if not path.is_file():
            raise ScenarioError(
                f"unknown profile {str(profile)!r}: choose one of {', '.join(available_profiles())}")
    if not path.is_file():
        raise ScenarioError(f"profile file {path} does not exist")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_TextDatesLoader)  # noqa: S506 (safe)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())  # one line, always
        raise ScenarioError(f"{path}: invalid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ScenarioError(f"{path}: cannot read the profile: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a profile must be a YAML mapping of settings")
    data.setdefault("name", path.stem)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise invalid_file(path, exc, InvalidScenario, data) from None
