"""Shared page plumbing: cached config, store, modules and company; navigation; page timing.

Pages stay thin: they read state through these helpers, call pure functions in course/*.py,
and render. Nothing here decides what is right or wrong; it only wires state to widgets.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from course import data as course_data
from course.config import (AppConfig, ConfigError, LiveWorkshopSettings, WorkshopSettings, announce,
                           load_config)
from course.progress import (RETRY_ATTEMPTS, DatabaseBusy, ProgressError, ProgressStore,
                             open_progress_store)
from datasets.errors import UserError
from grader.course_dir import make_private, sqlite_file

PAGES_DIR = Path(__file__).parent
LEARNER_KEY = "learner_id"
STAFF_ROLE_KEY = "staff_role"          # the key course.auth keeps the signed-in staff role under
STAFF_USER_KEY = "staff_user"          # ... and the signed-in staff account's name
STAFF_DISPLAY_KEY = "staff_display"    # ... and (account, the person's name an LMS launch gave)
STAFF_HANDLE_KEY = "_staff_session"    # ... and its server-side session's handle
PAGES_KEY = "_pages_by_url"
MODULE_PAGES_KEY = "_module_by_url"
CLOCK_KEY = "_page_clock"
GO_HOME_KEY = "_go_home"
IDLE_CAP_SECONDS = 300.0               # a tab left open overnight is not study time
FLUSH_SECONDS = 60.0


# ----------------------------------------------------------------------------- cached resources

@st.cache_resource(show_spinner=False)
def _config_for(home: str, course: str) -> AppConfig:
    config = load_config(Path(home) if home else None, course or None)
    announce(config)
    return config


@st.cache_resource(show_spinner=False)
def _live_workshop_settings(home: str, public_url: str | None, refresh_seconds: float) -> LiveWorkshopSettings:
    return LiveWorkshopSettings(Path(home), WorkshopSettings(public_url, refresh_seconds))


def workshop_settings() -> WorkshopSettings:
    """The join address and the phones' refresh as var/config.yaml says now: an edit applies to
    a running workshop within seconds, without a restart (course.config.LiveWorkshopSettings)."""
    config = get_config()
    return _live_workshop_settings(str(config.home), config.public_url,
                                   config.workshop_refresh_seconds).current()


_THREAD_CONFIG = threading.local()


def get_config() -> AppConfig:
    """The app's config; a broken config file stops the page with a clear message. An edited
    theater.toml (a due date, an extension, an attempt limit) applies on the next page run,
    without a restart: the config is loaded again when the file's stamp changes."""
    pinned = getattr(_THREAD_CONFIG, "config", None)
    if pinned is not None:      # a background thread of a page: that page's config, not a new read
        return pinned
    home, course = os.environ.get("THEATER_HOME", ""), os.environ.get("THEATER_COURSE", "")
    try:
        config = _config_for(home, course)
        if config.course.settings_changed():   # read the whole config again, checked as at start
            _config_for.clear()
            config = _config_for(home, course)
        return config
    except ConfigError as error:
        st.error(f"The course configuration cannot be used: {error}")
        st.stop()
        raise


STORE_OPEN_ATTEMPTS = RETRY_ATTEMPTS   # how long a page waits for a database another program locks


@st.cache_resource(show_spinner="Opening the progress database…")
def _store_for(url: str) -> tuple[ProgressStore, str | None]:
    """The progress store, once per process. A busy database raises (and is not cached: the next
    page run tries again); one that cannot be used at all is replaced by a store in memory, with a
    warning that says so."""
    try:
        opened = open_progress_store(url, STORE_OPEN_ATTEMPTS)
        path = sqlite_file(url)
        if path is not None:
            make_private(path)  # learners' answers are nobody else's business
        return opened
    except DatabaseBusy:
        raise
    except (ProgressError, OSError) as error:
        fallback = ProgressStore("sqlite://")
        return fallback, (f"{error} Your answers in this session are kept in memory only and will "
                          "be lost when the app restarts.")


def _opened_store() -> tuple[ProgressStore, str | None]:
    """The store and its warning; while another program holds the database the page stops with
    that message (held by whom, try again), and never works on an empty stand-in."""
    try:
        return _store_for(get_config().database_url)
    except DatabaseBusy as error:
        st.error(str(error), icon=":material/hourglass_top:")
        st.stop()
        raise


def get_store() -> ProgressStore:
    return _opened_store()[0]


@st.cache_resource(show_spinner=False)
def _workshops_for(url: str):
    from course.workshop import WorkshopStore

    return WorkshopStore(get_store().engine)


def workshop_store():
    """The live rooms, in the progress database (one store shared by every workshop page)."""
    return _workshops_for(get_config().database_url)


def store_warning() -> str | None:
    """A message about the progress database to show once per session, if anything went wrong."""
    return _opened_store()[1]


@st.cache_resource(show_spinner="Preparing the default company dataset (first start only)…")
def _default_dataset(home: str) -> str | None:
    try:
        return str(course_data.ensure_default_dataset(get_config()))
    except UserError as error:
        return f"The default dataset could not be prepared: {error}"


def ensure_default_dataset() -> None:
    """Generate var/data/default once per installation; a failure is reported, not fatal."""
    result = _default_dataset(str(get_config().home))
    if result and not Path(result).exists():
        st.sidebar.warning(result)


def get_modules() -> tuple[list, list]:
    """(modules, content errors); a missing content package shows as one error."""
    try:
        from course.modules import content_dir_from_env, load_modules_cached
    except ImportError as error:  # the content loader is part of the app; say so plainly
        return [], [f"The course content loader cannot be imported: {error}"]
    return load_modules_cached(content_dir_from_env())


@st.cache_resource(show_spinner="Generating your company's logs (first sign-in only)…",
                   max_entries=32)
def _company_for(course: str, learner_id: str, profile: str, employees: int, days: int,
                 _config: AppConfig) -> Any:
    return course_data.generate_learner_company(_config, learner_id)


def get_company(learner_id: str) -> Any:
    """The learner's GRADED company as the app sees it: released tables only (a
    course.data.ReleasedCompany, with no labels attribute at all); generated once, then cached.
    Charts built from released tables show it. The first time, its charts and the learner's
    practice company are prepared in the background (see warm_up)."""
    config = get_config()
    company = _company_for(str(config.course.root), learner_id, config.profile, config.employees,
                           config.days, config)
    warm_up(learner_id, company)
    return company


@st.cache_resource(show_spinner=False, max_entries=32)
def _practice_company_for(course: str, learner_id: str, profile: str, employees: int,
                          days: int, _config: AppConfig) -> Any:
    return course_data.learner_practice_company(_config, learner_id)


def get_practice_company(learner_id: str) -> Any:
    """The learner's PRACTICE company, labels held in server memory only: every in-app check,
    every chart that needs labels and every sentence about hidden groups uses it, never the
    graded company. Generated once per learner (in the background after sign-in), then cached."""
    config = get_config()
    args = (str(config.course.root), learner_id, config.profile, config.employees, config.days)
    with st.spinner("Preparing your practice company (once)…"):
        return _practice_company_for(*args, config)


def practice_key(learner_id: str) -> str:
    """The cache key of the learner's practice company (never equal to a graded company's)."""
    return company_key(course_data.practice_owner(learner_id))


_WARMED: set[str] = set()
_WARM_LOCK = threading.Lock()


def warm_up(learner: str, graded: Any) -> None:
    """Prepare a learner's practice company, the charts of both companies and the exercises'
    data in a background thread, once per learner: a learner reads for a while before the first
    prediction or exercise, so the reveal then finds everything ready instead of building it on
    the click. Charts that need labels are built on the practice company only."""
    key = company_key(learner)
    with _WARM_LOCK:
        if key in _WARMED:
            return
        if len(_WARMED) > 1024:
            _WARMED.clear()
        _WARMED.add(key)
    config = get_config()
    args = (str(config.course.root), learner, config.profile, config.employees, config.days)
    practice_target_key = practice_key(learner)

    def build() -> None:
        from course.charts import CHARTS, NEEDS_LABELS

        _THREAD_CONFIG.config = config   # everything this thread reads uses the page's config

        try:
            practice = _practice_company_for(*args, config)  # the config of the page that started it
        except Exception:     # the page shows the error when the learner gets there
            practice = None
        for chart_id in CHARTS:
            target, target_key = ((practice, practice_target_key) if chart_id in NEEDS_LABELS
                                  else (graded, key))
            if target is None:
                continue
            try:
                chart_payload(chart_id, target_key, target)
            except Exception:
                continue
        if practice is not None:
            try:
                from course.app_pages import widgets

                widgets.warm_up_exercises(learner, practice)
            except Exception:
                pass

    from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

    thread = threading.Thread(target=build, name=f"warm-up {key[-40:]}", daemon=True)
    if get_script_run_ctx() is not None:
        add_script_run_ctx(thread)
    thread.start()


@st.cache_resource(show_spinner="Preparing the labelled tuning company (once per course)…",
                   max_entries=4)
def _tuning_for(course: str, profile: str, employees: int, days: int, _config: AppConfig) -> Any:
    return course_data.tuning_company(_config)


def get_tuning_company() -> Any:
    """The course's one labelled tuning company (the detectors' precision, recall and F1 are
    shown on it; see course.data.tuning_company for why it is not the practice company)."""
    config = get_config()
    return _tuning_for(str(config.course.root), config.profile, config.employees, config.days, config)


def company_key(learner_id: str) -> str:
    """A cache key that changes whenever the learner's company would."""
    config = get_config()
    return f"{config.course.root}|{learner_id}|{config.profile}|{config.employees}|{config.days}"


@dataclass(frozen=True)
class ChartPayload:
    """A chart ready to send: its spec without data, the data already as Arrow IPC bytes (what
    Streamlit would otherwise convert on every rerun), the summary and the table as Arrow."""

    spec: dict
    datasets: dict[str, bytes]
    summary: str
    table: Any

    def vega_spec(self) -> dict:
        """A fresh spec for st.vega_lite_chart (it moves the datasets out of the dict it gets)."""
        spec = copy.deepcopy(self.spec)
        if self.datasets:
            spec["datasets"] = dict(self.datasets)
        return spec


def prepare_chart(spec: dict, summary: str, table: Any) -> ChartPayload:
    import pyarrow as pa
    from streamlit import dataframe_util

    datasets = {str(name): dataframe_util.convert_anything_to_arrow_bytes(values)
                for name, values in spec.get("datasets", {}).items()}
    bare = {key: value for key, value in spec.items() if key != "datasets"}
    arrow = pa.Table.from_pandas(table, preserve_index=False) if table is not None else None
    return ChartPayload(bare, datasets, summary, arrow)


@st.cache_resource(show_spinner=False, max_entries=256)
def chart_payload(chart_id: str, key: str, _company: Any) -> ChartPayload:
    """One chart of one company, built, validated and converted once, then shared read-only
    (Altair's validation and the Arrow conversion cost more than the aggregation)."""
    from course.charts import CHARTS

    result = CHARTS[chart_id](_company)
    return prepare_chart(result.chart.to_dict(), result.summary, result.table)


# ----------------------------------------------------------------------------- session helpers

def learner_id() -> str | None:
    return st.session_state.get(LEARNER_KEY)


def client_address() -> str:
    """Who is knocking, for sign-in throttling: the client's address, never the browser session
    (a fresh websocket session per guess would start every count at zero).

    Behind a reverse proxy every visitor shares the proxy's address: set `client_address_header`
    (e.g. X-Forwarded-For) in var/config.yaml and the last entry of that header, the address the
    proxy saw, is used instead. Without an address all sessions share one key ("")."""
    from course import auth

    try:
        headers, peer = st.context.headers, st.context.ip_address
    except Exception:  # no client context (scripts, tests)
        headers, peer = {}, None
    return auth.client_address(headers, get_config().client_address_header, peer)


@st.cache_resource(show_spinner=False)
def _sessions_for(url: str, idle_hours: float, absolute_hours: float):
    from course.sessions import SessionStore

    return SessionStore(get_store().engine, idle_hours * 3600.0, absolute_hours * 3600.0)


def get_sessions():
    """The server-side sign-in sessions (course.sessions), in the progress database."""
    config = get_config()
    return _sessions_for(config.database_url, config.session_idle_hours, config.session_hours)


def staff_accounts() -> dict:
    """The course's staff accounts (re-read on each sign-in, so `theater users add` takes effect)."""
    from course import auth

    config = get_config()
    return auth.load_staff(config.staff_path, config.legacy_staff_password)


def staff_role() -> str | None:
    role = st.session_state.get(STAFF_ROLE_KEY)
    return role if isinstance(role, str) else None


def require_learner() -> str:
    """Stop the page with a pointer to sign-in when nobody is signed in."""
    learner = learner_id()
    if not learner:
        st.info("Sign in with your learner id to see this page.")
        page = page_for("signin")
        if page is not None:
            st.page_link(page, label="Go to sign-in", icon=":material/login:")
        st.stop()
    return learner


def require_staff(role: str, audience: str) -> None:
    """Stop the page behind the staff sign-in form unless this session holds `role`."""
    from course import auth

    if auth.require_role(st.session_state, role):
        return
    st.info(f"This page is for {audience}. Sign in with your staff account.")
    with st.form(f"{role}_sign_in"):
        name = st.text_input("Staff account")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        outcome = auth.sign_in(st.session_state, name, password, staff_accounts(), client_address(),
                               sessions=get_sessions())
        if outcome.ok and auth.require_role(st.session_state, role):
            st.rerun()
        if outcome.ok:
            role_name = ROLE_NAMES.get(staff_role(), staff_role())
            st.error(f"The account {name.strip()} is {role_name} account: this page is for "
                     f"{audience}.", icon=":material/lock:")
        else:
            st.error(outcome.message, icon=":material/lock:")
    st.stop()


ROLE_NAMES = {"instructor": "an instructor", "ta": "a teaching assistant's", "trainer": "a trainer"}


def page_for(url_path: str):
    """The navigation page object for a url path (pages sharing one file need the object)."""
    return st.session_state.get(PAGES_KEY, {}).get(url_path)


def workshop_code() -> str | None:
    """The live workshop this browser session has joined, if any (its answers count there too)."""
    seat = st.session_state.get("workshop_seat")
    return seat[0] if isinstance(seat, (tuple, list)) and seat else None


def current_module_id() -> str | None:
    return st.session_state.get("current_module_id")


def module_url(module_id: str) -> str:
    return f"module-{module_id}"


# ----------------------------------------------------------------------------- navigation

def _page(file: str, title: str, url_path: str, icon: str, default: bool = False):
    return st.Page(str(PAGES_DIR / file), title=title, url_path=url_path, icon=icon,
                   default=default)


INSTRUCTOR_PAGES = (
    ("instructor.py", "Class analytics", "instructor", ":material/school:"),
    ("instructor_roster.py", "Roster & access codes", "instructor-roster", ":material/badge:"),
    ("instructor_assignments.py", "Assignments & grading", "instructor-assignments", ":material/grading:"),
    ("instructor_gradebook.py", "Gradebook", "instructor-gradebook", ":material/table_chart:"),
    ("instructor_rubric.py", "Rubric grading", "instructor-rubric", ":material/rate_review:"),
    ("instructor_sessions.py", "Sign-in sessions", "instructor-sessions", ":material/key:"),
)


def build_navigation() -> dict[str, list]:
    """Pages for whoever is signed in: sign-in only, a learner's course, and staff pages."""
    from course import auth

    learner = learner_id()
    role = staff_role()
    pages: dict[str, list] = {}
    projector = presenter_room() if not role else None
    signin = _page("signin.py", "Sign in" if not learner else "Account & data", "signin",
                   ":material/login:", default=not learner and not role)
    module_by_url: dict[str, str] = {}
    if learner:
        modules, _ = get_modules()
        course_pages = [_page("home.py", "Home", "home", ":material/home:", default=True)]
        for module in modules:
            url = module_url(module.id)
            module_by_url[url] = module.id
            course_pages.append(_page("module.py", f"{module.number}. {module.title}", url,
                                      ":material/menu_book:"))
        course_pages.append(_page("capstone.py", "Capstone notebook & data", "capstone", ":material/download:"))
        pages["Course"] = course_pages
        you = [_page("my_learning.py", "My learning", "my-learning", ":material/insights:"),
               signin]
        if (PAGES_DIR / "workshop_join.py").exists():
            you.append(_page("workshop_join.py", "Join a workshop", "workshop",
                             ":material/groups:"))
        pages["You"] = you
    else:
        start = [signin]
        if (PAGES_DIR / "workshop_join.py").exists():   # participants join with a code only
            start.append(_page("workshop_join.py", "Join a workshop", "workshop",
                               ":material/groups:"))
        pages["Start"] = start
    if projector:   # a presenter link: the projector's view of one room, and nothing else (not the
        # default page: that one answers at the root address, not at workshop-present)
        pages["Projector"] = [_page("workshop_present.py", "Presenter view", "workshop-present",
                                    ":material/tv:")]
    if role:
        staff = []
        # grading pages for the roles auth.STAFF_PAGE_ROLES lets open them (instructors all, a TA
        # the gradebook and assignments), never trainers; the pages' own gate reads the same table
        grading = [entry for entry in INSTRUCTOR_PAGES
                   if (PAGES_DIR / entry[0]).exists() and auth.role_may_open(role, entry[0])]
        home_url = "instructor" if any(url == "instructor" for _, _, url, _ in grading) else \
            next((url for _, _, url, _ in grading), None)
        for file, title, url, icon in grading:
            staff.append(_page(file, title, url, icon, default=not learner and url == home_url))
        if auth.has_grant(role, "trainer"):   # workshops are for trainers (and instructors), not TAs
            if (PAGES_DIR / "workshop_host.py").exists():
                staff.append(_page("workshop_host.py", "Run a workshop", "workshop-host",
                                   ":material/co_present:",
                                   default=not learner and not any(p._default for p in staff)))
            staff.append(_page("workshop_kit.py", "Workshop kit", "workshop-kit", ":material/menu_book:"))
            staff.append(_page("audit_logs.py", "Audit your own logs", "audit-logs", ":material/analytics:"))
            if (PAGES_DIR / "workshop_present.py").exists():   # the projector's view of a room
                staff.append(_page("workshop_present.py", "Presenter view", "workshop-present",
                                   ":material/tv:"))
        if staff:
            pages["Staff"] = staff
    if not any(p._default for group in pages.values() for p in group):
        first = next(iter(pages.values()))[0]
        first._default = True
    st.session_state[PAGES_KEY] = {p._url_path: p for group in pages.values() for p in group}
    st.session_state[MODULE_PAGES_KEY] = module_by_url
    return pages


def go_home_after_sign_in(page) -> None:
    """After a sign-in, leave the sign-in page for the signed-in person's default page."""
    if st.session_state.pop(GO_HOME_KEY, False) and page._url_path == "signin":
        target = next((p for p in st.session_state.get(PAGES_KEY, {}).values() if p._default),
                      None)
        if target is not None and target._url_path != "signin":
            st.switch_page(target)


def select_module(page) -> None:
    """Tell the module page which module the current url stands for."""
    st.session_state["current_module_id"] = st.session_state.get(MODULE_PAGES_KEY, {}).get(
        page._url_path)


def track_page(page) -> None:
    """Record time on pages: an arrival row (for resume) and the seconds spent when leaving."""
    learner = learner_id()
    if not learner:
        return
    now = time.monotonic()
    url = page._url_path
    clock = st.session_state.get(CLOCK_KEY)
    store = get_store()
    try:
        if clock is None:
            store.record_page_view(learner, url, 0.0)
            st.session_state[CLOCK_KEY] = {"page": url, "last": now, "seconds": 0.0}
            return
        clock["seconds"] += min(now - clock["last"], IDLE_CAP_SECONDS)
        clock["last"] = now
        if clock["page"] != url:
            if clock["seconds"] > 0:
                store.record_page_view(learner, clock["page"], clock["seconds"])
            store.record_page_view(learner, url, 0.0)
            st.session_state[CLOCK_KEY] = {"page": url, "last": now, "seconds": 0.0}
        elif clock["seconds"] >= FLUSH_SECONDS:
            store.record_page_view(learner, url, clock["seconds"])
            clock["seconds"] = 0.0
    except ProgressError as error:
        st.warning(str(error))


TOKEN_PARAM = "u"
STAFF_TOKEN_PARAM = "staff"
PRESENTER_PARAM = "view"
LEARNER_HANDLE_KEY = "_learner_session"   # the learner sign-in's session handle (course.sessions)
PRESENTER_HANDLE_KEY = "_presenter_session"
PRESENTER_ROOM_KEY = "_presenter_room"


def _param(name: str) -> str | None:
    value = st.query_params.get(name)
    return value if isinstance(value, str) and value else None


def _drop_param(name: str) -> None:
    if name in st.query_params:
        del st.query_params[name]


def start_learner_session(learner: str) -> None:
    """A learner just signed in: open their server-side session; the url will carry its handle."""
    handle = course_data.sign_in_token(get_config(), learner, get_sessions(), client_address())
    st.session_state[LEARNER_HANDLE_KEY] = handle
    st.session_state[LEARNER_KEY] = learner


def _end_learner_here() -> None:
    for key in (LEARNER_KEY, LEARNER_HANDLE_KEY, CLOCK_KEY, "current_module_id"):
        st.session_state.pop(key, None)
    _drop_param(TOKEN_PARAM)


def _end_staff_here() -> None:
    for key in (STAFF_ROLE_KEY, STAFF_USER_KEY, STAFF_HANDLE_KEY, STAFF_DISPLAY_KEY):
        st.session_state.pop(key, None)
    _drop_param(STAFF_TOKEN_PARAM)


def restore_sign_in() -> None:
    """On every run: the session handles in this browser session (or, on a reload, in the url)
    must still stand for an active server-side session, or the sign-in here ends too (signed out
    in another tab, revoked by an instructor, idle, expired, a new password or access code)."""
    from course import auth

    config = get_config()
    sessions = get_sessions()
    handle = st.session_state.get(LEARNER_HANDLE_KEY)
    if handle is None and learner_id() is None:
        handle = _param(TOKEN_PARAM)
    if handle is not None:
        restored = course_data.learner_from_token(config, handle, sessions)
        if restored is None:
            _end_learner_here()
        else:
            st.session_state[LEARNER_KEY] = restored
            st.session_state[LEARNER_HANDLE_KEY] = handle
    elif learner_id() is None:
        _drop_param(TOKEN_PARAM)

    handle = st.session_state.get(auth.SESSION_HANDLE_KEY)
    if handle is None and staff_role() is None:
        handle = _param(STAFF_TOKEN_PARAM)
    if handle is not None:
        account = auth.staff_from_session(sessions, handle, staff_accounts())
        if account is None:
            _end_staff_here()
        else:
            st.session_state[STAFF_ROLE_KEY] = account.role
            st.session_state[STAFF_USER_KEY] = account.name
            st.session_state[STAFF_DISPLAY_KEY] = (account.name, account.display_name)
            st.session_state[auth.SESSION_HANDLE_KEY] = handle
    elif staff_role() is None:
        _drop_param(STAFF_TOKEN_PARAM)

    handle = st.session_state.get(PRESENTER_HANDLE_KEY) or _param(PRESENTER_PARAM)
    if handle is not None:
        room = auth.presenter_room(sessions, handle)
        if room is None:
            st.session_state.pop(PRESENTER_HANDLE_KEY, None)
            st.session_state.pop(PRESENTER_ROOM_KEY, None)
            _drop_param(PRESENTER_PARAM)
        else:
            st.session_state[PRESENTER_HANDLE_KEY] = handle
            st.session_state[PRESENTER_ROOM_KEY] = room


def presenter_room() -> str | None:
    """The room this browser session's presenter link shows (a projector), or None."""
    room = st.session_state.get(PRESENTER_ROOM_KEY)
    return room if isinstance(room, str) else None


def presenter_link_active() -> bool:
    """Whether the presenter link still stands (checked on each refresh of the projector)."""
    from course import auth

    room = auth.presenter_room(get_sessions(), st.session_state.get(PRESENTER_HANDLE_KEY))
    return room is not None and room == presenter_room()


def presenter_link(room) -> str:
    """A handle for the projector that shows `room` and nothing else, made once per room and
    browser session (a new one when the old one ended); the room's closing ends it."""
    from course import auth

    links = st.session_state.setdefault("_presenter_links", {})
    sessions = get_sessions()
    handle = links.get(room.code)
    if handle is None or auth.presenter_room(sessions, handle) != room.code:
        handle = auth.presenter_session(sessions, room.code, staff_user_name() or "", room.expires_at)
        links[room.code] = handle
    return handle


def end_presenter_links(room_code: str) -> None:
    """The room closed: every presenter link of it stops working."""
    get_sessions().revoke_scope(room_code, "room closed")


def staff_user_name() -> str | None:
    name = st.session_state.get(STAFF_USER_KEY)
    return name if isinstance(name, str) else None


def signed_in_staff_markdown() -> str | None:
    """Who the staff sign-in is, for the sidebar: the role and the person's name an LMS launch gave,
    else the account's name (None for a presenter link). Read from what restore_sign_in kept: no
    second read of the accounts file on each run."""
    from course.workshop_report import escape_markdown

    name, role = staff_user_name(), staff_role()
    if not name or not role:
        return None
    kept = st.session_state.get(STAFF_DISPLAY_KEY)
    shown = kept[1] if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == name and kept[1] else name
    return f"{role} **{escape_markdown(shown)}**"


def keep_sign_in_in_url() -> None:
    """Put the handles back after page switches (Streamlit clears query parameters on them).
    A sign-in this browser session holds without a server-side session yet gets one here."""
    from course import auth

    learner = learner_id()
    if learner is not None and not st.session_state.get(LEARNER_HANDLE_KEY):
        start_learner_session(learner)
    name = staff_user_name()
    if staff_role() is not None and name and not st.session_state.get(STAFF_HANDLE_KEY):
        account = staff_accounts().get(name)
        if account is not None:
            st.session_state[STAFF_HANDLE_KEY] = auth.staff_session(get_sessions(), account,
                                                                    client_address())
    for key, param in ((LEARNER_HANDLE_KEY, TOKEN_PARAM), (auth.SESSION_HANDLE_KEY, STAFF_TOKEN_PARAM),
                       (PRESENTER_HANDLE_KEY, PRESENTER_PARAM)):
        handle = st.session_state.get(key)
        if isinstance(handle, str) and _param(param) != handle:
            st.query_params[param] = handle


def sign_out() -> None:
    """End the sign-ins of this browser session, server-side too: the old url then opens the
    sign-in page anywhere (their progress stays in the store)."""
    from course import auth

    sessions = get_sessions()
    learner_handle = st.session_state.get(LEARNER_HANDLE_KEY) or _param(TOKEN_PARAM)
    if learner_handle:
        sessions.revoke(learner_handle, "signed out")
    staff_handle = st.session_state.get(auth.SESSION_HANDLE_KEY) or _param(STAFF_TOKEN_PARAM)
    if staff_handle:
        sessions.revoke(staff_handle, "signed out")
    _end_learner_here()
    _end_staff_here()
    if st.user.get("is_logged_in") is True:  # signed in with an identity provider (OIDC): end that too,
        st.logout()                          # or the sign-in page would sign the learner straight back in
