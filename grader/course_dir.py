"""An instructor's course directory: nbgrader's layout plus our settings and the course secret.

Layout (see docs/instructors.md):
    nbgrader_config.py   nbgrader's settings (root, course id, gradebook URL, stubs, late penalties)
    theater.toml         our settings: course id, dataset defaults and per-assignment overrides
    .theater/secret      the course secret (mode 0600): learners' dataset seeds derive from it
    source/ release/ outbound/ submitted/ autograded/ feedback/ gradebook.db
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets.errors import UserError
from datasets.filelocks import busy_message, is_locked_error
from exercises.assignments import CODE_STUB, SOURCE_DIR, Assignment, AssignmentError, DataSpec, load_assignment
from grader.settings import AssignmentSettings, CourseSettings, validate_settings

SETTINGS_FILE = "theater.toml"
NBGRADER_CONFIG = "nbgrader_config.py"
STATE_DIR = ".theater"
SECRET_FILE = "secret"
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# The one learner-id rule of the app, `assign`, the grader and the workshop: an id is a folder name
# under outbound/ and submitted/, so it starts with a letter or digit (never "." or a hidden folder).
LEARNER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LEARNER_ID_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
SESSION_KEY_FILE = "session_key"
ACCESS_CODES_FILE = "access_codes.json"
STAFF_FILE = "staff.json"
LAYOUT = ("source", "release", "outbound", "submitted", "autograded", "feedback")


class CourseError(UserError):
    """The course directory is missing, incomplete or unsafe."""


@dataclass(frozen=True)
class Course:
    root: Path
    course_id: str
    settings: Mapping[str, Any] = field(default_factory=dict)  # theater.toml as parsed, for other tables' readers
    config: CourseSettings = field(default_factory=CourseSettings)  # the same, typed and checked at open
    settings_stamp: tuple[int, int] | None = None  # theater.toml's (mtime_ns, size) when it was read

    def settings_changed(self) -> bool:
        """True once theater.toml differs from what this object read: a long-running reader (the app)
        opens the course again, so an instructor's new due date or attempt limit applies at once."""
        return settings_stamp(self.root) != self.settings_stamp

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def secret_path(self) -> Path:
        return self.state_dir / SECRET_FILE

    @property
    def session_key_path(self) -> Path:
        """The key that signs sign-in tokens: its own, never the data secret."""
        return self.state_dir / SESSION_KEY_FILE

    @property
    def access_codes_path(self) -> Path:
        """Learners' access codes, argon2-hashed (issued by `theater assign --roster`)."""
        return self.state_dir / ACCESS_CODES_FILE

    @property
    def staff_path(self) -> Path:
        """Staff accounts with argon2-hashed passwords (`theater users add`)."""
        return self.state_dir / STAFF_FILE

    def course_data_spec(self) -> DataSpec:
        """The course-wide dataset: the one the course's own assignments release, then theater.toml [data].

        The app's learner company uses it; an assignment uses it too unless its assignment.yaml
        or [assignments.NAME.data] says otherwise (see `data_spec`). The base is the dataset every
        assignment.yaml in the course's source/ names when they agree, else DataSpec's defaults:
        a course created with 150-employee assignments keeps a 150-employee app company after an
        upgrade moves the defaults, so the app's charts and the notebooks stay one company."""
        return self._sources_data_spec().updated(self.config.data.as_overrides())

    def _sources_data_spec(self) -> DataSpec:
        specs = set()
        for path in sorted((self.root / "source").glob("*/assignment.yaml")):
            try:
                specs.add(load_assignment(path.parent).data)
            except AssignmentError:  # reported where the assignment is used, not here
                continue
        return specs.pop() if len(specs) == 1 else DataSpec()

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'gradebook.db'}"

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def assignment(self, name: str) -> Assignment:
        """The course's copy of an assignment (source/<name>/assignment.yaml)."""
        if not ID_PATTERN.match(name):
            raise CourseError(f"{name!r} is not a valid assignment name")
        folder = self.root / "source" / name
        if not (folder / "assignment.yaml").is_file():
            known = ", ".join(sorted(p.parent.name for p in (self.root / "source").glob("*/assignment.yaml")))
            raise CourseError(f"no assignment {name!r} in {self.root / 'source'} (known: {known or 'none'})")
        return load_assignment(folder)

    def data_spec(self, assignment: Assignment) -> DataSpec:
        """The dataset a learner gets: assignment.yaml, then theater.toml [data], then [assignments.NAME.data]."""
        release = self.release_record(assignment.name)
        if release is not None:
            return DataSpec(**release["data"])
        spec = assignment.data.updated(self.config.data.as_overrides())
        return spec.updated(self.settings_for(assignment.name).data.as_overrides())

    def release_record_path(self, assignment: str) -> Path:
        return self.state_dir / "releases" / f"{assignment}.json"

    def release_record(self, assignment: str) -> dict[str, Any] | None:
        """What was released for an assignment (its dataset spec), so grading regenerates the same data."""
        path = self.release_record_path(assignment)
        if not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def settings_for(self, assignment: str) -> AssignmentSettings:
        """theater.toml's [assignments.NAME], typed (every key at its default when the table is absent)."""
        return self.config.assignment(assignment)

    def assignment_setting(self, assignment: str, key: str, default: Any = None) -> Any:
        """A key of [assignments.NAME] as written in theater.toml (`settings_for` gives it typed)."""
        return ((self.settings.get("assignments") or {}).get(assignment) or {}).get(key, default)


def _default_course_id(root: Path) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", root.name).strip("-.") or "course"
    return cleaned[:64]


def _data_lines(data: Mapping[str, Any] | None) -> str:
    defaults = DataSpec().as_dict()  # shown commented out: what the course uses unless set
    lines = []
    for key, default in defaults.items():
        value = (data or {}).get(key)
        shown = value if value is not None else default
        literal = f'"{shown}"' if isinstance(shown, str) else str(int(shown))
        lines.append(f"{'' if value is not None else '# '}{key} = {literal}")
    return "\n".join(lines)


def _settings_text(course_id: str, data: Mapping[str, Any] | None = None) -> str:
    return f'''# Signal or Theater course settings. See docs/instructors.md.
course_id = "{course_id}"

# Dataset of every learner, for all assignments (overrides each assignment.yaml `data:`).
# Uncomment to change; profile is one of datasets/profiles/*.yaml, format csv or parquet.
[data]
{_data_lines(data)}

# Per-assignment settings, e.g. a bigger company and a due date for `detect`:
# [assignments.detect]
# due = "2026-12-01 17:00:00 UTC"
# [assignments.detect.data]
# employees = 200
'''


def _nbgrader_config_text(course_id: str) -> str:
    return f'''"""nbgrader settings for this course (written by `theater course init`)."""
import os

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)
HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "{course_id}"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")

# Student stubs are a comment only: a learner who skips a part can still run the notebook.
c.ClearSolutions.code_stub = {{"python": {CODE_STUB!r}}}
# Kernels stop at once after autograding (a graceful shutdown sometimes stalls for seconds).
c.Execute.shutdown_kernel = "immediate"

# Late penalties: nbgrader's late-submission plugin. Due dates come from theater.toml
# ([assignments.NAME] due = "..."); the penalty is applied at grading and again at export.
# Zero credit for anything late:
# c.LateSubmissionPlugin.penalty_method = "zero"
# Or a percentage of the score per started day late (our plugin, capped at the score):
# c.AssignLatePenalties.plugin_class = "grader.export.PercentPerDayLate"
# c.PercentPerDayLate.percent_per_day = 10
'''


MISSING_SOURCES = (
    "this installation carries the student notebooks only, not the source notebooks (with solutions "
    "and hidden tests) that {what}: pass --source DIR, a folder of assignment folders such as "
    "exercises/source in a checkout of the project's repository (each <name>/ holding assignment.yaml "
    "and the notebook it names)"
)
_COPY_IGNORE = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "answers", "data")


def source_folders(source_dir: Path | str) -> list[Path]:
    """The assignment folders (holding an assignment.yaml) of an instructor's source folder.

    `source_dir` is such a folder, or a checkout of the project's repository (its exercises/source)."""
    root = Path(source_dir).expanduser()
    if not root.is_dir():
        raise CourseError(f"{root}: no such folder (--source names the instructor's assignment folders)")
    folders = sorted(p.parent for p in root.glob("*/assignment.yaml"))
    if not folders and (root / "exercises" / "source").is_dir():
        folders = sorted(p.parent for p in (root / "exercises" / "source").glob("*/assignment.yaml"))
    if not folders:
        raise CourseError(f"{root} holds no assignment folders (<name>/assignment.yaml and its notebook)")
    return folders


def checked_source(folder: Path) -> Assignment:
    """An instructor's assignment folder whose notebook is a source (solutions not yet cleared)."""
    from exercises.assignments import validate_notebook
    from exercises.student_version import has_source_notebook

    assignment = load_assignment(folder)
    validate_notebook(assignment)
    if not has_source_notebook(assignment):
        raise CourseError(f"{assignment.notebook_path} is a student version (its solutions are cleared): "
                          "a course needs the source notebook with the solutions and hidden tests")
    return assignment


def _installed_sources() -> bool:
    """Whether exercises/source/ holds every assignment's source notebook (a checkout) or only its
    assignment.yaml (an installed package, which ships the student versions instead)."""
    from exercises.student_version import has_source_notebook

    folders = sorted(p.parent for p in SOURCE_DIR.glob("*/assignment.yaml"))
    return bool(folders) and all(has_source_notebook(load_assignment(folder)) for folder in folders)


def _copy_sources(destination: Path, source_dir: Path | None, require_sources: bool) -> None:
    """source/<name>/ of a new course: the instructor's folder, else the checkout's exercises/source,
    else (only where `require_sources` is off) each assignment.yaml alone: its student version is then
    the one this installation carries (exercises/release), released without nbgrader's clearing steps."""
    if source_dir is not None:
        for folder in source_folders(source_dir):
            checked_source(folder)
            shutil.copytree(folder, destination / folder.name, ignore=_COPY_IGNORE)
        return
    if _installed_sources():
        for folder in sorted(p.parent for p in SOURCE_DIR.glob("*/assignment.yaml")):
            shutil.copytree(folder, destination / folder.name, ignore=_COPY_IGNORE)
        return
    if require_sources:
        raise CourseError(MISSING_SOURCES.format(what="`theater course init` copies into a course"))
    for folder in sorted(p.parent for p in SOURCE_DIR.glob("*/assignment.yaml")):
        (destination / folder.name).mkdir()
        shutil.copy2(folder / "assignment.yaml", destination / folder.name / "assignment.yaml")


def write_private(path: Path, text: str, exclusive: bool = False) -> None:
    """Write a file only its owner can read (0600), atomically unless `exclusive` (create-only)."""
    if exclusive:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(path, 0o600)
        return
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def make_private(path: Path) -> None:
    """0700 for a folder, 0600 for a file (SQLite's -wal/-shm/-journal companions too)."""
    for candidate in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        try:
            os.chmod(candidate, 0o700 if candidate.is_dir() else 0o600)
        except FileNotFoundError:
            pass


def sqlite_file(db_url: str) -> Path | None:
    """The file behind a sqlite:/// url (None for memory or another database)."""
    prefix = "sqlite:///"
    if not db_url.startswith(prefix) or db_url[len(prefix):] in ("", ":memory:"):
        return None
    return Path(db_url[len(prefix):].split("?", 1)[0])


def init_course(directory: Path | str, course_id: str | None = None, source_dir: Path | None = None,
                data: Mapping[str, Any] | None = None, secret: str | None = None,
                create_gradebook: bool = True, require_sources: bool = False) -> Course:
    """Create a course directory; refuses to touch a directory that already holds anything.

    The assignments come from `source_dir` (an instructor's folder, `--source DIR`), else from the
    checkout's exercises/source. An installed package has no source notebooks: then
    `require_sources` (what `theater course init` sets) stops with a message naming the fix, and
    without it (the app's own course) each assignment is released from the student version the
    package carries, and `theater assign` asks for the sources.

    `data` sets the course-wide dataset (profile, employees, days, format) in theater.toml;
    `secret` keeps an existing secret (the app's former var/course_secret) instead of a new one.
    `create_gradebook=False` leaves gradebook.db to the first `assign` (the app's embedded course
    starts faster; `gradebook()` creates it on first use either way).
    """
    root = Path(directory).expanduser().resolve()
    data = {k: v for k, v in (data or {}).items() if v is not None}
    DataSpec().updated(data)  # validate before anything is created
    if "profile" in data:
        from datasets.scenario import load_scenario

        load_scenario(data["profile"])  # an unknown profile is a clear error now, not at release
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise CourseError(f"{root} already exists and is not empty: choose a new directory")
    course_id = course_id or _default_course_id(root)
    if not ID_PATTERN.match(course_id):
        raise CourseError(f"course id {course_id!r} may only use letters, digits, '.', '_' and '-'")
    course = _init_course(root, course_id, source_dir, data, secret, create_gradebook, require_sources)
    _make_tree_private(root)  # every folder 0700 and file 0600: learners' data, grades, the secret
    return course


def _make_tree_private(root: Path) -> None:
    """chmod, never the umask: the umask is the whole process's, so setting it here made files
    another thread wrote meanwhile (a learner's released data, read by the sandboxed kernel's own
    uid) unreadable to the kernel. The root is 0700 from its first moment, so nothing is exposed
    before this walk."""
    for folder, _dirs, files in os.walk(root):
        os.chmod(folder, 0o700)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, 0o600)


def _init_course(root: Path, course_id: str, source_dir: Path | None, data: Mapping[str, Any],
                 secret: str | None, create_gradebook: bool, require_sources: bool) -> Course:
    try:
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)  # the course holds learners' data, grades and the secret
    except OSError as exc:
        raise CourseError(f"cannot create {root}: {exc.strerror}") from None
    try:
        for name in LAYOUT:
            (root / name).mkdir()
        state = root / STATE_DIR
        state.mkdir(mode=0o700)
        os.chmod(state, 0o700)
        (state / "exchange").mkdir()  # nbgrader's exchange lives here, never in a shared system folder
        write_private(state / SECRET_FILE, (secret or secrets.token_hex(32)) + "\n", exclusive=True)
        (root / SETTINGS_FILE).write_text(_settings_text(course_id, data), encoding="utf-8")
        (root / NBGRADER_CONFIG).write_text(_nbgrader_config_text(course_id), encoding="utf-8")
        _copy_sources(root / "source", source_dir, require_sources)
        course = open_course(root)
        if create_gradebook:
            gradebook(course).close()  # create and stamp gradebook.db now, not halfway through a release
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)  # nothing half-made is left behind
        raise
    return course


def open_course(root: Path | str) -> Course:
    """Read a course directory's theater.toml and check it once (grader.settings): a bad value is one
    CourseError naming the file, table and key, before anything else happens."""
    root = Path(root).expanduser().resolve()
    settings_path = root / SETTINGS_FILE
    if not settings_path.is_file():
        raise CourseError(f"{root} is not a course directory (no {SETTINGS_FILE}); run `theater course init DIR`")
    stamp = settings_stamp(root)
    try:
        settings = tomllib.loads(settings_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(f"{settings_path}: invalid TOML ({exc})") from None
    config = validate_settings(settings, settings_path, CourseError)
    course_id = str(config.course_id or _default_course_id(root))
    return Course(root=root, course_id=course_id, settings=settings, config=config, settings_stamp=stamp)


def settings_stamp(root: Path) -> tuple[int, int] | None:
    """theater.toml's (mtime_ns, size): what a long-running reader compares to see an edit."""
    try:
        info = (Path(root) / SETTINGS_FILE).stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def find_course(start: Path | str | None = None, course: Path | str | None = None) -> Course:
    """The course given by --course, else the nearest directory at or above `start` with a theater.toml."""
    if course is not None:
        return open_course(course)
    here = Path(start or Path.cwd()).expanduser().resolve()
    for folder in (here, *here.parents):
        if (folder / SETTINGS_FILE).is_file():
            return open_course(folder)
    raise CourseError(f"no course directory at or above {here}: pass --course DIR or run `theater course init DIR`")


def load_secret(course: Course) -> str:
    """The course secret; refuses one that others can read."""
    path = course.secret_path
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise CourseError(f"{path} is missing: this course cannot regenerate its learners' data") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CourseError(f"{path} is readable by others: run `chmod 600 {path}`")
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise CourseError(f"{path} is empty")
    return secret


def is_learner_id(learner_id: object) -> bool:
    """The one learner-id rule (LEARNER_ID_PATTERN), shared by the app, assign, grade and workshop."""
    return isinstance(learner_id, str) and bool(LEARNER_ID_PATTERN.match(learner_id))


def validate_learner_id(learner_id: str) -> str:
    if not is_learner_id(learner_id):
        raise CourseError(f"{learner_id!r} is not a valid learner id ({LEARNER_ID_RULE})")
    return learner_id


def check_generator(course: Course, assignment: Assignment) -> None:
    """Refuse to regenerate data with a generator other than the one that made the release."""
    from datasets.pipeline import GENERATOR_VERSION

    record = course.release_record(assignment.name) or {}
    released = record.get("generator_version")
    if released and released != GENERATOR_VERSION:
        raise CourseError(
            f"{assignment.name} was released with generator {released}, this installation has "
            f"{GENERATOR_VERSION}: grade with the version that made the release"
        )


def learner_seed(course: Course, learner_id: str, api: Any = None) -> int:
    """HMAC(course secret, id): regenerates this learner's company and no one else's (what a grading
    worker is given instead of the course secret)."""
    if api is None:
        from datasets import api

    validate_learner_id(learner_id)
    return api.learner_seed(secret=load_secret(course), learner_id=learner_id)


def company_for_seed(spec: DataSpec, seed: int, api: Any = None) -> Any:
    """The company, WITH labels, that a dataset spec and a learner's seed describe."""
    if api is None:
        from datasets import api

    return api.generate_company(profile=spec.profile, employees=spec.employees, days=spec.days, seed=seed)


def company_for_spec(course: Course, spec: DataSpec, learner_id: str, api: Any = None) -> Any:
    """A learner's company, WITH labels, for a dataset spec: seeded by HMAC(course secret, id).

    `api` is datasets.api unless a caller passes a stand-in with the same functions (app tests)."""
    return company_for_seed(spec, learner_seed(course, learner_id, api=api), api=api)


def learner_company(course: Course, assignment: Assignment, learner_id: str) -> Any:
    """The learner's company for an assignment, WITH labels: what assign releases and grade scores against."""
    validate_learner_id(learner_id)
    check_generator(course, assignment)
    return company_for_spec(course, course.data_spec(assignment), learner_id)


def write_learner_data(course: Course, assignment: Assignment, learner_id: str, folder: Path,
                       company: Any = None, api: Any = None, keep_truths: bool = False) -> Path:
    """The learner's data/ for an assignment, without labels: the files `assign` releases, the app's
    download holds and the grader mounts are all written by this one function. With `keep_truths`
    (a release), the company's graded truths are kept for the grader too (grader.truth_cache)."""
    if api is None:
        from datasets import api

    check_generator(course, assignment)
    spec = course.data_spec(assignment)
    if company is None:
        company = company_for_spec(course, spec, learner_id, api=api)
    written = write_spec_data(spec, company, folder, api=api)
    if keep_truths and assignment.graded:
        from grader import truth_cache

        from exercises.truth import TruthError

        key = truth_cache.cache_key(assignment, spec, learner_seed(course, learner_id, api=api))
        if truth_cache.load(course.state_dir, assignment, learner_id, key) is None:
            try:
                truths = truth_cache.compute(assignment, company)
            except TruthError:      # e.g. a tiny company with one squad in a wave: nothing to keep;
                truths = None       # grading computes it again and reports the problem for this learner
            if truths is not None:
                truth_cache.store(course.state_dir, assignment, learner_id, key, truths)
    return written


def write_spec_data(spec: DataSpec, company: Any, folder: Path, api: Any = None) -> Path:
    """A company's tables as a learner receives them: the spec's format, never the labels."""
    if api is None:
        from datasets import api

    api.write_company(company, folder, fmt=spec.format, with_labels=False)
    return folder


def nbgrader_tools_on_path() -> None:
    """nbgrader runs the `alembic` script to stamp a new gradebook; make sure our venv's scripts are found."""
    scripts = str(Path(sys.executable).parent)
    if shutil.which("alembic") is None and (Path(scripts) / "alembic").exists():
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def nbgrader_config(course: Course) -> Any:
    """nbgrader's traitlets Config from the course's nbgrader_config.py, root pinned to the course."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    nbgrader_tools_on_path()
    config = Config()
    if (course.root / NBGRADER_CONFIG).is_file():
        try:
            config = PyFileConfigLoader(NBGRADER_CONFIG, path=str(course.root)).load_config()
        except Exception as exc:
            raise CourseError(f"{course.root / NBGRADER_CONFIG}: cannot be loaded ({type(exc).__name__}: {exc})") from None
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.course_id = course.course_id
    if "db_url" not in config.CourseDirectory:
        config.CourseDirectory.db_url = course.db_url
    config.Exchange.root = str(course.state_dir / "exchange")  # never a shared system folder
    return config


def ensure_gradebook(db_url: str) -> None:
    """Create and stamp an empty gradebook in-process.

    nbgrader stamps a new database by running the `alembic` command in a subprocess, which costs
    seconds (more on a loaded machine). Same tables, same stamp, no subprocess.
    """
    import nbgrader
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory
    from nbgrader.api import Base
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(db_url, future=True)
    try:
        if inspect(engine).get_table_names():
            return
        settings = AlembicConfig()
        settings.set_main_option("script_location", str(Path(nbgrader.__file__).parent / "alembic"))
        head = ScriptDirectory.from_config(settings).get_current_head()
        Base.metadata.create_all(bind=engine)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head})
    finally:
        engine.dispose()
        path = sqlite_file(db_url)
        if path is not None:
            make_private(path)  # grades and names are nobody else's business


def gradebook(course: Course) -> Any:
    """nbgrader's Gradebook for the course (use as a context manager)."""
    from nbgrader.api import Gradebook

    nbgrader_tools_on_path()
    db_url = str(nbgrader_config(course).CourseDirectory.db_url)
    try:
        ensure_gradebook(db_url)
        return Gradebook(db_url, course.course_id)
    except Exception as exc:
        if is_locked_error(exc):
            raise GradebookBusy(gradebook_busy_message(db_url)) from None
        raise


class GradebookBusy(CourseError):
    """Another program holds the gradebook's SQLite lock: contention, never treated as damage."""


def gradebook_busy_message(db_url: str) -> str:
    """The busy line for a gradebook URL, naming the program that holds an SQLite file's lock."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    path = url.database if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") else None
    return busy_message("The gradebook", path)
