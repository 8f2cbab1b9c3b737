"""Where the app keeps its state and which secrets it uses: embedded defaults under var/."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from datasets.errors import UserError

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = "config.yaml"
SECRET_FILE = "course_secret"
STAFF_PASSWORD_FILE = "staff_password"

DEFAULTS: dict[str, object] = {
    "database_url": None,
    "course_code": None,
    "profile": "mandate-bigco",
    "employees": 200,
    "days": 180,
    "learners": None,
    "attempt_budget": 3,
}


class ConfigError(UserError):
    """The app's config file exists but cannot be used."""


@dataclass(frozen=True)
class AppConfig:
    home: Path
    database_url: str
    course_secret: str
    course_code: str | None
    staff_password: str
    profile: str
    employees: int
    days: int
    learners: frozenset[str] | None = None
    staff_password_created: bool = False
    attempt_budget: int = 3          # checked attempts per in-app exercise before the solution shows

    @property
    def data_dir(self) -> Path:
        """Generated learner companies live here, one folder per learner."""
        return self.home / "data" / "learners"


def default_home() -> Path:
    """var/ of the checkout, unless THEATER_HOME points elsewhere."""
    env = os.environ.get("THEATER_HOME")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / "var"


def _read_or_create_secret(path: Path, make: Callable[[], str]) -> tuple[str, bool]:
    """A secret is generated once and kept (mode 0600) so restarts keep learners' datasets."""
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value, False
    value = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    os.replace(tmp, path)
    os.chmod(path, 0o600)
    return value, True


def _read_config_file(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, found {type(loaded).__name__}")
    unknown = set(loaded) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(DEFAULTS)}")
    return loaded


def _positive_int(value: object, name: str, path: Path) -> int:
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: {name} must be a whole number, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{path}: {name} must be positive, got {number}")
    return number


def _roster(value: object, path: Path) -> frozenset[str] | None:
    """An optional list of learner ids the course admits; None admits any well-formed id."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise ConfigError(f"{path}: learners must be a list of learner ids")
    return frozenset(str(v).strip() for v in value)


def load_config(home: Path | None = None) -> AppConfig:
    """Read var/config.yaml (optional), create the secrets on first use, apply env overrides."""
    home = Path(home) if home is not None else default_home()
    home.mkdir(parents=True, exist_ok=True)
    path = home / CONFIG_FILE
    settings = {**DEFAULTS, **_read_config_file(path)}
    secret, _ = _read_or_create_secret(home / SECRET_FILE, lambda: secrets.token_hex(32))
    env_password = os.environ.get("THEATER_STAFF_PASSWORD")
    if env_password:
        password, created = env_password, False
    else:
        password, created = _read_or_create_secret(
            home / STAFF_PASSWORD_FILE, lambda: secrets.token_urlsafe(12))
    database_url = (os.environ.get("THEATER_DATABASE_URL") or settings["database_url"]
                    or f"sqlite:///{home / 'progress.sqlite'}")
    code = os.environ.get("THEATER_COURSE_CODE", settings["course_code"])
    return AppConfig(
        home=home,
        database_url=str(database_url),
        course_secret=secret,
        course_code=str(code).strip() if code else None,
        staff_password=password,
        profile=str(settings["profile"]),
        employees=_positive_int(settings["employees"], "employees", path),
        days=_positive_int(settings["days"], "days", path),
        learners=_roster(settings["learners"], path),
        staff_password_created=created,
        attempt_budget=_positive_int(settings["attempt_budget"], "attempt_budget", path),
    )


def announce_staff_password(config: AppConfig) -> None:
    """Print the generated staff password once, to the console that started the app."""
    if config.staff_password_created:
        print(f"Signal or Theater: staff password (kept in {config.home / STAFF_PASSWORD_FILE}): "
              f"{config.staff_password}", file=sys.stderr, flush=True)
