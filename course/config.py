"""Where the app keeps its state and which course it serves.

The app serves ONE course directory (grader/course_dir.py), the same one `theater assign` and
`theater grade` work on, so the app, the grader and the workshop share one secret, one learner-id
rule and one data spec. Which course: `theater app --course DIR` (THEATER_COURSE), else `course:`
in var/config.yaml, else var/course/, created on first start (self-study needs nothing).

An app home made by an earlier version (var/course_secret, var/staff_password) is migrated on
first start: its secret and company size go into var/course/ so every learner keeps their company,
and the shared staff password becomes the instructor account `staff`.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, Strict, StringConstraints, ValidationError, field_validator, model_validator

from datasets.errors import UserError
from datasets.validation import FileModel, InvalidFile, invalid_file
from exercises.assignments import DataSpec
from grader.course_dir import (Course, CourseError, init_course, load_secret, make_private,
                               open_course)

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = "config.yaml"
DEFAULT_COURSE_DIR = "course"
LEGACY_SECRET_FILE = "course_secret"
LEGACY_STAFF_PASSWORD_FILE = "staff_password"
LEGACY_EMPLOYEES = 200  # the app's company size before it served a course directory
DATA_KEYS = ("profile", "employees", "days")

LOCAL_ADDRESS = "127.0.0.1"   # the server's default address: reachable from this machine only
ADDRESS_PATTERN = r"^[A-Za-z0-9.:-]+$"   # an IPv4 or IPv6 address or a host name, nothing else
PUBLIC_URL_ENV = "THEATER_PUBLIC_URL"    # set by `theater app --public-url URL`
PositiveNumber = Annotated[float, Strict(), Field(gt=0)]
PositiveWhole = Annotated[int, Strict(), Field(gt=0)]


def check_public_url(raw: str) -> str:
    """The address participants' phones reach the app at, as the QR code and the join link give
    it: http(s), a host, no credentials, no query or fragment (a link on a projector is public)."""
    from urllib.parse import urlsplit

    url = (raw or "").strip()
    try:
        parts = urlsplit(url)
        parts.port       # raises on a port that is not a number
    except ValueError:
        parts = None
    problem = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        problem = "give the address phones open, starting with https:// or http://"
    elif parts.username is not None or parts.password is not None:
        problem = "it must hold no user name or password (everyone in the room reads it)"
    elif parts.query or parts.fragment or "?" in url or "#" in url:
        problem = "it must hold no ?query or #fragment: the join link adds its own"
    elif any(ch.isspace() or not ch.isprintable() for ch in url):
        problem = "it must hold no spaces"
    if problem:
        secret = parts is not None and parts.password is not None
        shown = "" if secret else f" {url!r}"          # a password is never echoed to a console
        raise ConfigError(f"public_url{shown} cannot be used: {problem}, e.g. "
                          "https://workshop.example.org/")
    return url.rstrip("/") + "/"


class OidcSettings(FileModel):
    """How a learner's identity from the provider (st.user) finds them on the course's roster."""

    provider: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]+$")] | None = Field(
        default=None, description="a provider [auth.NAME] of .streamlit/secrets.toml; none: [auth] itself")
    match: Literal["email", "lms_user_id"] = "email"
    claim: Annotated[str, StringConstraints(min_length=1)] | None = Field(
        default=None, description="the ID-token claim to compare; default: email, or sub for lms_user_id")
    label: Annotated[str, StringConstraints(min_length=1)] = "Sign in with your institution account"

    @property
    def claim_name(self) -> str:
        return self.claim or ("email" if self.match == "email" else "sub")


class ConfigFile(FileModel):
    """var/config.yaml: every setting is optional (docs/app.md)."""

    course: Annotated[str, StringConstraints(min_length=1)] | None = None
    database_url: Annotated[str, StringConstraints(min_length=1)] | None = None
    course_code: str | None = None
    session_hours: PositiveNumber = 12          # a sign-in's absolute lifetime
    session_idle_hours: PositiveNumber = 2      # ... and how long it lasts unused
    client_address_header: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]+$")] | None = Field(
        default=None, description="a reverse proxy's header naming the client, e.g. X-Forwarded-For")
    address: Annotated[str, StringConstraints(pattern=ADDRESS_PATTERN)] = Field(
        default=LOCAL_ADDRESS, description="where `theater app` listens: 127.0.0.1 is this machine "
        "only (behind a reverse proxy on the same host); 0.0.0.0 every network interface")
    public_url: Annotated[str, StringConstraints(min_length=1)] | None = Field(
        default=None, description="the address participants open, e.g. https://workshop.example.org/: "
        "the workshop's QR code and join link use it")
    workshop_refresh_seconds: Annotated[float, Field(ge=1, le=30)] = Field(
        default=2.5, description="how often each workshop phone checks for the trainer's next question: "
        "2.5 s reaches 50 phones within 3 s on 2 cores; a hall of hundreds on a small server "
        "may need 4-6 s (docs/workshops.md)")
    profile: Annotated[str, StringConstraints(min_length=1)] | None = None
    employees: PositiveWhole | None = None
    days: PositiveWhole | None = None
    attempt_budget: PositiveWhole = 3
    oidc: OidcSettings = OidcSettings()

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and "learners" in data:
            raise ValueError(
                "`learners` is no longer used: a course's learners sign in with personal access "
                "codes. Remove it and run `theater assign ASSIGNMENT --roster roster.csv` on the course "
                "to register them and issue their codes (see docs/app.md).")
        unknown = sorted(str(key) for key in data if key not in cls.model_fields) if isinstance(data, dict) else []
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(cls.model_fields)}")
        return data

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_public_url(value)
        except ConfigError as error:
            raise ValueError(str(error)) from None

    @field_validator("oidc", mode="before")
    @classmethod
    def _null_is_default(cls, value: Any) -> Any:
        return {} if value is None else value


DEFAULTS: dict[str, object] = ConfigFile().model_dump()


class ConfigError(UserError):
    """The app's config file exists but cannot be used."""


class InvalidConfig(InvalidFile, ConfigError):
    """config.yaml does not validate: names the file and the setting (datasets.validation)."""


@dataclass(frozen=True)
class AppConfig:
    home: Path
    database_url: str
    course: Course
    course_secret: str = field(repr=False)
    session_key: str = field(repr=False)
    course_code: str | None
    session_hours: float
    legacy_staff_password: str | None = field(default=None, repr=False)
    notices: tuple[str, ...] = ()
    attempt_budget: int = 3          # checked attempts per in-app exercise before the solution shows
    oidc: OidcSettings = OidcSettings()   # how an OIDC sign-in finds the learner (course.auth)
    session_idle_hours: float = 2.0       # a session unused this long ends (course.sessions)
    client_address_header: str | None = None   # the proxy's client header, e.g. X-Forwarded-For
    address: str = LOCAL_ADDRESS               # where `theater app` listens (docs/app.md, Security)
    public_url: str | None = None              # what the workshop's QR code and join link open
    workshop_refresh_seconds: float = 2.5      # how often a workshop phone checks for a new question

    @property
    def data_spec(self) -> DataSpec:
        """The company every learner works on in the app: the course's [data] in theater.toml."""
        return self.course.course_data_spec()

    @property
    def profile(self) -> str:
        return self.data_spec.profile

    @property
    def employees(self) -> int:
        return self.data_spec.employees

    @property
    def days(self) -> int:
        return self.data_spec.days

    @property
    def data_dir(self) -> Path:
        """Generated learner companies live here, one folder per learner."""
        return self.home / "data" / "learners"

    @property
    def access_codes_path(self) -> Path:
        return self.course.access_codes_path

    @property
    def staff_path(self) -> Path:
        return self.course.staff_path


def default_home() -> Path:
    """var/ of the checkout, unless THEATER_HOME points elsewhere."""
    env = os.environ.get("THEATER_HOME")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / "var"


def _read_config_file(path: Path) -> ConfigFile:
    if not path.exists():
        return ConfigFile()
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from exc
    except (OSError, UnicodeDecodeError, RecursionError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
    if loaded is None:
        return ConfigFile()
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, found {type(loaded).__name__}")
    try:
        return ConfigFile.model_validate(loaded)
    except ValidationError as exc:
        raise invalid_file(path, exc, InvalidConfig, loaded) from None


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(path, 0o700)
    except PermissionError:  # a folder someone else owns: we cannot tighten it, and must not fail
        pass


def _embedded_course(home: Path, data: dict, notices: list[str]) -> Course:
    """var/course/: created on first start, taking over an earlier version's secret and size."""
    root = home / DEFAULT_COURSE_DIR
    if (root / "theater.toml").is_file():
        try:
            return open_course(root)
        except CourseError as error:   # e.g. a value in theater.toml its settings model refuses
            raise ConfigError(f"the app's course in {root} cannot be opened: {error}") from None
    legacy_secret_path = home / LEGACY_SECRET_FILE
    legacy_secret = None
    if legacy_secret_path.is_file():
        legacy_secret = legacy_secret_path.read_text(encoding="utf-8").strip() or None
    if legacy_secret and "employees" not in data:
        data = {**data, "employees": LEGACY_EMPLOYEES}  # keep every learner's company as it was
    try:
        course = init_course(root, course_id="self-study", data=data, secret=legacy_secret,
                             create_gradebook=False)
    except FileExistsError:   # another thread or process is creating the same course right now
        for _ in range(50):
            if (root / "theater.toml").is_file():
                return open_course(root)
            time.sleep(0.1)
        raise ConfigError(f"the app's course in {root} is half made; remove the folder and start again") from None
    except CourseError as error:
        raise ConfigError(f"cannot create the app's course in {root}: {error}") from None
    if legacy_secret:
        legacy_secret_path.unlink()
        notices.append(f"Signal or Theater: moved {legacy_secret_path} into the course directory "
                       f"{root} (learners keep their companies).")
    return course


def _session_key(course: Course) -> str:
    """The key that signs sign-in tokens, made once per course (0600), never the data secret."""
    from grader.course_dir import write_private

    path = course.session_key_path
    if not path.is_file():
        try:
            write_private(path, secrets.token_urlsafe(48) + "\n", exclusive=True)
        except FileExistsError:  # another replica made it a moment ago
            pass
    key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise ConfigError(f"{path} is empty: delete it and restart (everyone signs in again)")
    return key


def _migrate_staff_password(home: Path, course: Course, notices: list[str]) -> None:
    """An earlier version's shared staff password becomes the instructor account `staff`."""
    from course.auth import LEGACY_ACCOUNT, AuthError, add_staff, load_staff

    legacy = home / LEGACY_STAFF_PASSWORD_FILE
    if not legacy.is_file():
        return
    password = legacy.read_text(encoding="utf-8").strip()
    if password and LEGACY_ACCOUNT not in load_staff(course.staff_path):
        try:
            add_staff(course.staff_path, LEGACY_ACCOUNT, "instructor", password)
        except AuthError as error:  # e.g. shorter than today's minimum: say so, keep the file
            notices.append(f"Signal or Theater: {legacy} was not migrated ({error}); create an "
                           "account with `theater users add NAME --role instructor`.")
            return
        notices.append(f"Signal or Theater: the staff password in {legacy} is now the password of "
                       f"the instructor account '{LEGACY_ACCOUNT}' (stored hashed); the file was removed.")
    legacy.unlink()


def load_config(home: Path | None = None, course: Path | str | None = None) -> AppConfig:
    """Read var/config.yaml (optional), open or create the course, apply env overrides."""
    home = Path(home) if home is not None else default_home()
    _private_dir(home)
    path = home / CONFIG_FILE
    settings = _read_config_file(path)
    data = {key: getattr(settings, key) for key in DATA_KEYS if getattr(settings, key) is not None}
    notices: list[str] = []
    given = course or os.environ.get("THEATER_COURSE")   # on the command line: from where it was typed
    chosen = given or settings.course                      # in config.yaml: from the app home
    if chosen:
        root = Path(str(chosen)).expanduser()
        if not root.is_absolute():
            root = ((Path.cwd() if given else home) / root).resolve()
        try:
            the_course = open_course(root)
        except CourseError as error:
            raise ConfigError(f"the course {root} cannot be served: {error}") from None
    else:
        the_course = _embedded_course(home, data, notices)
    spec = the_course.course_data_spec()
    differs = {k: v for k, v in data.items() if getattr(spec, k) != v}
    if differs:
        raise ConfigError(
            f"{path}: {', '.join(sorted(differs))} now belong to the course: set them under [data] in "
            f"{the_course.root / 'theater.toml'} and remove them from {CONFIG_FILE}")
    try:
        secret = load_secret(the_course)
    except CourseError as error:
        raise ConfigError(str(error)) from None
    _migrate_staff_password(home, the_course, notices)
    database_url = (os.environ.get("THEATER_DATABASE_URL") or settings.database_url
                    or f"sqlite:///{home / 'progress.sqlite'}")
    progress_file = home / "progress.sqlite"
    if progress_file.exists():
        make_private(progress_file)
    code = os.environ.get("THEATER_COURSE_CODE", settings.course_code)
    public_url = os.environ.get(PUBLIC_URL_ENV) or settings.public_url
    if public_url:
        public_url = check_public_url(public_url)
    return AppConfig(
        home=home,
        database_url=str(database_url),
        course=the_course,
        course_secret=secret,
        session_key=_session_key(the_course),
        course_code=str(code).strip() if code else None,
        session_hours=float(settings.session_hours),
        legacy_staff_password=os.environ.get("THEATER_STAFF_PASSWORD") or None,
        notices=tuple(notices),
        attempt_budget=settings.attempt_budget,
        oidc=settings.oidc,
        session_idle_hours=float(settings.session_idle_hours),
        client_address_header=settings.client_address_header,
        address=settings.address,
        public_url=public_url or None,
        workshop_refresh_seconds=float(settings.workshop_refresh_seconds),
    )


@dataclass(frozen=True)
class WorkshopSettings:
    """The settings a running workshop reads on every refresh, not only at start."""
    public_url: str | None = None
    refresh_seconds: float = 2.5


LIVE_CHECK_SECONDS = 2.0   # how often a running app looks at config.yaml's modification time


class LiveWorkshopSettings:
    """`public_url` and `workshop_refresh_seconds` as var/config.yaml says now.

    A trainer who fixes the join address or slows the phones for a big hall mid-session should
    not have to restart the app (and drop every phone's connection). The file's modification time
    is checked at most every LIVE_CHECK_SECONDS; an edit that does not read or validate keeps the
    last good values, so a typo never stops a room, and is logged once. `theater app
    --public-url` (THEATER_PUBLIC_URL) still wins over the file."""

    def __init__(self, home: Path, initial: WorkshopSettings,
                 monotonic: Any = time.monotonic, check_seconds: float = LIVE_CHECK_SECONDS):
        self.path = Path(home) / CONFIG_FILE
        self._value = initial
        self._monotonic = monotonic
        self._check_seconds = check_seconds
        self._checked = monotonic()
        self._stamp = self._stamp_now()
        self._lock = threading.Lock()

    @classmethod
    def of(cls, config: AppConfig) -> LiveWorkshopSettings:
        return cls(config.home, WorkshopSettings(config.public_url, config.workshop_refresh_seconds))

    def _stamp_now(self) -> tuple[int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def current(self) -> WorkshopSettings:
        now = self._monotonic()
        if now - self._checked < self._check_seconds:
            return self._value
        with self._lock:
            if now - self._checked < self._check_seconds:
                return self._value
            self._checked = now
            stamp = self._stamp_now()
            if stamp != self._stamp:
                self._stamp = stamp
                self._reload()
        return self._value

    def _reload(self) -> None:
        try:
            settings = _read_config_file(self.path)
            public_url = os.environ.get(PUBLIC_URL_ENV) or settings.public_url
            self._value = WorkshopSettings(check_public_url(public_url) if public_url else None,
                                           float(settings.workshop_refresh_seconds))
        except (ConfigError, InvalidFile) as error:
            logging.getLogger(__name__).warning(
                "%s changed but cannot be used, the workshop keeps its settings: %s", self.path, error)


def announce(config: AppConfig) -> None:
    """Say once, on the console that started the app, what a migration changed."""
    for notice in config.notices:
        print(notice, file=sys.stderr, flush=True)
