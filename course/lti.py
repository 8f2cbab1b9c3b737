"""LTI 1.3 launch into the app: the HTTP routes an LMS calls, in front of Streamlit (course.serve).

- `/lti/login` (GET or POST): the LMS's third-party-initiated OIDC login. The tool answers with a
  redirect to the platform's auth URL, carrying a fresh `state` (also set as a short-lived cookie in
  this browser) and a one-time `nonce` (kept server-side).
- `/lti/launch` (POST `id_token`, `state`): the platform's signed launch. pylti1p3next checks it —
  state against this browser's cookie, the signature against the platform's JWKS, issuer and client
  id (aud) against the registration, the deployment id, the expiry, the message type — and this
  module consumes the nonce, so a replayed launch is refused. The launch's LMS user becomes the
  staff account the course linked to them (staff_for_launch: a staff role in the LMS course AND a
  link made with `theater users link`), else the roster learner (grader.lti.learner_for_launch); a
  server-side session is opened (course.sessions) and the browser is sent (303) to the
  deep-linked page with `?staff=HANDLE` or `?u=HANDLE`, as any sign-in. A deep-linking request
  from linked staff gets the picker of assignments and modules instead.
- `/lti/deep-link` (POST): the picker's choice, answered with the signed LtiDeepLinkingResponse
  the browser posts back to the LMS.
- `/lti/jwks`: the tool's public key set, where the LMS checks the tool's signed requests.

Every refusal is a plain page that says what went wrong and what to do; none opens a session.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import sqlalchemy as sa
from pylti1p3.cookie import CookieService
from pylti1p3.exception import LtiException, OIDCException, ToolConfException
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.oidc_login import OIDCLogin
from pylti1p3.redirect import Redirect
from pylti1p3.request import Request
from pylti1p3.session import SessionService

from course.schema import create_tables
from datasets.errors import UserError
from grader import lti

STATE_SECONDS = 5 * 60        # a login must come back as a launch within this
NONCE_SECONDS = 15 * 60       # a nonce is forgotten after this (the id_token expires well before)
COOKIE_PREFIX = "lti1p3-"
PAGE_PATTERN = re.compile(r"^(home|capstone|my-learning|module-[A-Za-z0-9_-]{1,64})$")
MODULE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LOG = logging.getLogger(__name__)

metadata = sa.MetaData()
launch_data = sa.Table(
    "lti_launch_data", metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class LaunchStore(LaunchDataStorage):
    """pylti1p3's launch-data storage in the progress database (SQLite or PostgreSQL), so nonces and
    states hold across threads and app replicas. `check_value` (the library asks it only about
    nonces) consumes the key: a nonce lets one launch in, a replay finds it gone."""

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__()
        self.engine = engine
        create_tables(engine, metadata)

    def get_session_cookie_name(self):
        return None      # keys are random (state, nonce): no per-browser prefix needed

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(launch_data.c.value).where(launch_data.c.key == self._prepare_key(key))
                               .where(launch_data.c.expires_at > _now())).first()
        return json.loads(row[0]) if row is not None else None

    def set_value(self, key: str, value: Any, exp: int | None = None) -> None:
        key = self._prepare_key(key)
        ends = _now() + dt.timedelta(seconds=exp or NONCE_SECONDS)
        with self.engine.begin() as conn:
            conn.execute(launch_data.delete().where(launch_data.c.key == key))
            conn.execute(launch_data.insert().values(key=key, value=json.dumps(value), expires_at=ends))
            if secrets.randbelow(50) == 0:
                conn.execute(launch_data.delete().where(launch_data.c.expires_at <= _now()))

    def check_value(self, key: str) -> bool:
        with self.engine.begin() as conn:
            deleted = conn.execute(launch_data.delete().where(launch_data.c.key == self._prepare_key(key))
                                   .where(launch_data.c.expires_at > _now())).rowcount
        return deleted > 0


class LtiRequest(Request):
    """One HTTP request's parameters (query and form) for pylti1p3."""

    def __init__(self, params: Mapping[str, str], cookies: Mapping[str, str], secure: bool):
        self.params, self.cookies, self.secure = dict(params), dict(cookies), secure

    @property
    def session(self):
        raise LtiException("the tool keeps no framework session")

    def is_secure(self) -> bool:
        return self.secure

    def get_param(self, key: str) -> str:
        return self.params.get(key, "")


class Cookies(CookieService):
    """Cookies read from the request and the ones to set on the response (the login's state)."""

    def __init__(self, request: LtiRequest):
        self.request = request
        self.to_set: list[tuple[str, str, int]] = []

    def get_cookie(self, name: str) -> str | None:
        return self.request.cookies.get(COOKIE_PREFIX + name)

    def set_cookie(self, name: str, value, exp: int | None = 3600) -> None:
        self.to_set.append((COOKIE_PREFIX + name, str(value), int(exp or STATE_SECONDS)))


class ToRedirect(Redirect):
    def __init__(self, location: str):
        self.location = location

    def do_redirect(self):
        return self.location

    def do_js_redirect(self):
        return self.location

    def set_redirect_url(self, location: str) -> None:
        self.location = location

    def get_redirect_url(self) -> str:
        return self.location


class Login(OIDCLogin):
    def get_redirect(self, url: str) -> ToRedirect:
        return ToRedirect(url)


class Launch(MessageLaunch):
    def _get_request_param(self, key: str) -> str:
        return self._request.get_param(key)


def _services(request: LtiRequest, store: LaunchStore) -> tuple[SessionService, Cookies]:
    sessions = SessionService(request)
    sessions.set_data_storage(store)
    store.set_request(request)
    sessions.set_launch_data_lifetime(NONCE_SECONDS)
    return sessions, Cookies(request)


# ----------------------------------------------------------------------------- what the routes decide


class Refused(Exception):
    """A launch or login the tool turns down: `message` is for the person in front of the browser."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


AGAIN = " Go back to your LMS and open the assignment link again."


def _plain_reason(error: Exception) -> str:
    """The library's exception in words a learner or an instructor can act on."""
    text = str(error)
    if isinstance(error, ToolConfException) or "registration" in text.lower():
        return ("This LMS is not registered with the course, so the app cannot trust its launch. The "
                "instructor registers it with `theater lti register`.")
    if "expired" in text.lower():
        return "The launch from your LMS has expired (it is valid for a few minutes)." + AGAIN
    if "nonce" in text.lower():
        return "This launch was already used (a launch can sign in only once)." + AGAIN
    if "state" in text.lower():
        return ("This launch did not start in this browser (its sign-in state is missing or wrong; "
                "the app needs cookies allowed for it)." + AGAIN)
    if "signature" in text.lower() or "public key" in text.lower() or "kid" in text.lower():
        return ("This launch is not signed by the registered LMS, so the app refuses it. If this keeps "
                "happening, tell your instructor.")
    if "resource link placement" in text.lower():   # a deep-linking request for files or HTML only
        return ("This LMS place accepts no LTI links (its deep-linking request lacks ltiResourceLink): add "
                "the app as an external-tool assignment or module item instead.")
    if "deployment" in text.lower():
        return ("This LMS deployment is not registered with the course. The instructor adds its "
                "deployment id with `theater lti register`.")
    return f"The launch from your LMS could not be checked ({text[:200]})." + AGAIN


def landing_page(claims: Mapping[str, Any], assignments: set[str]) -> str:
    """The app page a launch deep-links to: the custom parameter `module=ID` (a module page),
    `assignment=NAME` (a course assignment: the Capstone page, where assignments are downloaded and
    submitted), else the page named by the target link's last path segment, else the home page."""
    custom = claims.get(lti.CUSTOM_CLAIM) if isinstance(claims.get(lti.CUSTOM_CLAIM), Mapping) else {}
    module = str(custom.get("module", "")).strip()
    if module and MODULE_PATTERN.match(module):
        return f"module-{module}"
    if str(custom.get("assignment", "")).strip() in assignments:
        return "capstone"
    target = claims.get("https://purl.imsglobal.org/spec/lti/claim/target_link_uri", "")
    last = urlparse(str(target)).path.rstrip("/").rsplit("/", 1)[-1]
    return last if PAGE_PATTERN.match(last) else "home"


@dataclass
class Site:
    """What the routes need from the app: its configuration, sign-in sessions and launch store."""

    config: Any                 # course.config.AppConfig
    sessions: Any               # course.sessions.SessionStore
    store: LaunchStore

    @property
    def course(self):
        return self.config.course


def open_site(home: str | None = None, course: str | None = None) -> Site:
    """The app's course, progress database and sessions, as `theater app` serves them."""
    from pathlib import Path

    from course.config import load_config
    from course.progress import ProgressStore
    from course.sessions import SessionStore

    config = load_config(Path(home) if home else None, course or None)
    engine = ProgressStore(config.database_url).engine
    return Site(config, SessionStore(engine, config.session_idle_hours * 3600.0, config.session_hours * 3600.0),
                LaunchStore(engine))


def start_login(site: Site, params: Mapping[str, str], cookies: Mapping[str, str]) -> tuple[str, list]:
    """The OIDC login: (the platform auth URL to redirect to, the cookies to set)."""
    request = LtiRequest(params, cookies, lti.tool_url(site.course).startswith("https://"))
    sessions, cookie_service = _services(request, site.store)
    try:
        login = Login(request, lti.tool_config(site.course), session_service=sessions,
                      cookie_service=cookie_service, launch_data_storage=site.store)
        location = login.redirect(lti.tool_urls(site.course)["launch"])
    except lti.LtiError as error:
        raise Refused(f"LTI is not set up for this course: {error}.", 404) from None
    except (OIDCException, LtiException, ToolConfException) as error:
        raise Refused(_plain_reason(error)) from None
    return location, cookie_service.to_set


def _lms_staff_roles(launch: MessageLaunch) -> list[str]:
    """The staff roles the launch's LMS gives its user in this LMS course (context roles only: an
    institution-wide "Instructor" is no staff role in a course where the user is a learner)."""
    roles = []
    if launch.check_teacher_access():
        roles.append("instructor")
    if launch.check_teaching_assistant_access():
        roles.append("ta")
    return roles


def _staff_page(role: str, claims: Mapping[str, Any], assignments: set[str]) -> str:
    """Where a staff launch lands: an assignment's link opens grading, any other the role's home."""
    custom = claims.get(lti.CUSTOM_CLAIM) if isinstance(claims.get(lti.CUSTOM_CLAIM), Mapping) else {}
    if str(custom.get("assignment", "")).strip() in assignments:
        return "instructor-assignments"
    return "instructor" if role == "instructor" else "instructor-gradebook"


@dataclass(frozen=True)
class StaffLaunch:
    """A launch the course vouched for as staff: the account, the role it earned, where it came from."""

    account: Any               # course.auth.StaffAccount
    role: str
    issuer: str
    sub: str


def staff_for_launch(site: Site, claims: Mapping[str, Any], lms_roles: list[str]) -> StaffLaunch | None:
    """The staff sign-in a validated launch earns, or None. The rule (docs/lti.md): the LMS must
    give its user a staff role in the LMS course (Instructor, TeachingAssistant) AND the course must
    have linked that exact LMS identity (issuer + sub) to a staff account (`theater users link`);
    the session gets the lesser of the two roles. A role claim alone never makes anyone staff,
    unless the course registered this LMS with `--trust-staff ta|instructor`: then an unlinked
    staff launch signs in under an account made for that LMS user (auth.add_lms_staff), with the
    lesser of the LMS role and the trusted one."""
    from course import auth
    from grader import lti

    issuer, sub = str(claims.get("iss", "")), str(claims.get("sub", ""))
    if not lms_roles or not issuer or not sub:
        return None
    accounts = auth.load_staff(site.config.staff_path, site.config.legacy_staff_password)
    account = auth.staff_for_lms(accounts, issuer, sub)
    if account is None or account.name == auth.lms_account_name(issuer, sub):
        audience = claims.get("aud")
        client_id = str(audience[0] if isinstance(audience, list) and audience else audience or "")
        trusted = lti.trusted_staff_role(site.course, issuer, client_id)
        role = auth.lms_staff_role(trusted, lms_roles) if trusted else None
        if role is None:
            return None
        made = auth.add_lms_staff(site.config.staff_path, issuer, sub, role, launch_display_name(claims))
        LOG.info("staff launch trusted from %s: %s as %s", issuer, made.name, role)
        return StaffLaunch(made, role, issuer, sub)
    role = auth.lms_staff_role(account.role, lms_roles)
    return StaffLaunch(account, role, issuer, sub) if role else None


def launch_display_name(claims: Mapping[str, Any]) -> str:
    """The person's name a launch carries (LTI 1.3 user identity claims, all optional): `name`, else
    given and family name, else the e-mail address; empty when the LMS sends none."""
    from course.auth import clean_display_name

    for value in (claims.get("name"),
                  " ".join(str(claims.get(k) or "") for k in ("given_name", "family_name")
                           if isinstance(claims.get(k), str)),
                  claims.get("email")):
        name = clean_display_name(value)
        if name:
            return name
    return ""


def _unlinked_staff_hint(claims: Mapping[str, Any]) -> str:
    return (" You launched as staff of the LMS course, but the app gives staff power only to staff "
            "accounts the course has linked to an LMS user. Whoever runs the app links yours with "
            f"`theater users link YOUR-ACCOUNT --issuer {claims.get('iss', '')} --sub {claims.get('sub', '')}`; "
            "meanwhile, sign in to the app with your staff account.")


@dataclass(frozen=True)
class Page:
    """An answer that is a page of the tool's own (the deep-linking picker), not a redirect."""

    html: str


def finish_launch(site: Site, params: Mapping[str, str], cookies: Mapping[str, str], client: str = "",
                  requests_session: Any = None) -> str | Page:
    """Validate the launch and open the learner's or the staff member's session; returns where to
    send the browser, or (a deep-linking request from staff) the picker page."""
    from course import auth
    from course import data as course_data

    request = LtiRequest(params, cookies, lti.tool_url(site.course).startswith("https://"))
    sessions, cookie_service = _services(request, site.store)
    try:
        launch = Launch(request, lti.tool_config(site.course), session_service=sessions,
                        cookie_service=cookie_service, launch_data_storage=site.store,
                        requests_session=requests_session)
        claims = launch.get_launch_data()
        deep_link = launch.is_deep_link_launch()
        if not deep_link and not launch.is_resource_launch():
            raise Refused("This kind of LTI launch (data privacy or submission review) is not "
                          "supported: add the app to your LMS course as an external-tool link.")
        lms_roles = _lms_staff_roles(launch)
    except lti.LtiError as error:
        raise Refused(f"LTI is not set up for this course: {error}.", 404) from None
    except (OIDCException, LtiException, ToolConfException) as error:
        raise Refused(_plain_reason(error)) from None
    assignments = {a.name for a in course_data.course_assignments(site.config)}
    staff = staff_for_launch(site, claims, lms_roles)
    if staff is not None:   # staff launches say where the LMS keeps grades and members too
        lti.record_launch(site.course, claims, None)
    if deep_link:
        if staff is None:
            raise Refused("Only the course's staff choose what an LMS link opens." +
                          (_unlinked_staff_hint(claims) if lms_roles else ""), 403)
        return Page(picker_page(site, claims, staff))
    if staff is not None:
        handle = auth.staff_session(site.sessions, staff.account, client, role=staff.role,
                                    lms_identity=(staff.issuer, staff.sub))
        return f"{lti.tool_url(site.course)}/{_staff_page(staff.role, claims, assignments)}?staff={handle}"
    try:
        learner = lti.learner_for_launch(site.course, claims)
    except lti.UnknownLearner as error:   # recorded nothing: any LMS course of the deployment may launch
        raise Refused(str(error) + (_unlinked_staff_hint(claims) if lms_roles else ""), 403) from None
    lti.record_launch(site.course, claims, learner)
    handle = course_data.sign_in_token(site.config, learner, site.sessions, client)
    return f"{lti.tool_url(site.course)}/{landing_page(claims, assignments)}?u={handle}"


# ----------------------------------------------------------------------------- deep linking
#
# An instructor adding the app to an LMS course (Canvas: an external-tool assignment or module item)
# gets an LtiDeepLinkingRequest launch. The tool answers with a small picker of the course's
# assignments and modules; the choice goes back to the LMS as a signed LtiDeepLinkingResponse
# (pylti1p3's DeepLink) whose content items carry the `assignment=`/`module=` custom parameter
# landing_page reads, plus a line item (tag = the assignment's name, what `theater lti push` posts
# to) for an assignment. What the picker needs between the two requests is kept one-time in the
# launch store under a random token, like a nonce.

DEEP_LINK_PATH = "/lti/deep-link"
DEEP_LINK_SETTINGS_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
DEEP_LINK_PREFIX = "deep-link-"


@dataclass(frozen=True)
class Choice:
    """One thing an LMS link can open: `value` is what the picker posts (assignment:NAME, module:ID)."""

    value: str
    title: str
    detail: str = ""
    points: float | None = None   # an assignment's: the LMS gradebook column's maximum


def deep_link_choices(site: Site) -> list[Choice]:
    """The course's assignments and modules, in the order the picker lists them."""
    from course import data as course_data
    from course.modules import content_dir_from_env, load_modules_cached

    choices = [Choice(f"assignment:{a.name}", a.title, f"assignment {a.name}, {a.max_score:g} points",
                      float(a.max_score)) for a in course_data.course_assignments(site.config)]
    modules, _ = load_modules_cached(content_dir_from_env())
    choices += [Choice(f"module:{m.id}", f"{m.number}. {m.title}", "module") for m in modules
                if MODULE_PATTERN.match(m.id)]
    return choices


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def picker_page(site: Site, claims: Mapping[str, Any], staff: StaffLaunch) -> str:
    """The picker for a validated deep-linking request (plain HTML, every value escaped)."""
    settings = claims.get(DEEP_LINK_SETTINGS_CLAIM)
    if not isinstance(settings, Mapping) or not settings.get("deep_link_return_url"):
        raise Refused("The LMS's deep-linking request has no return address, so the app cannot answer it.")
    return_url = str(settings["deep_link_return_url"])
    if urlparse(return_url).scheme not in ("http", "https"):
        raise Refused("The LMS's deep-linking return address is not an http(s) URL.")
    if "ltiResourceLink" not in (settings.get("accept_types") or []):
        raise Refused("This LMS place accepts no LTI links (accept_types lacks ltiResourceLink): add the app "
                      "as an external-tool assignment or module item instead.")
    choices = deep_link_choices(site)
    if not choices:
        raise Refused("The course has no assignment or module to link to yet.")
    token = secrets.token_urlsafe(24)
    aud = claims.get("aud")
    site.store.set_value(DEEP_LINK_PREFIX + token, {
        "issuer": str(claims.get("iss", "")), "client_id": str(aud[0] if isinstance(aud, list) else aud),
        "deployment_id": str(claims.get(lti.DEPLOYMENT_CLAIM, "")), "settings": dict(settings),
        "staff": staff.account.name}, NONCE_SECONDS)
    multiple = _truthy(settings.get("accept_multiple"))
    kind = "checkbox" if multiple else "radio"
    rows = "".join(f"<p><label><input type={kind} name=item value=\"{html.escape(c.value)}\"> "
                   f"{html.escape(c.title)} <small>({html.escape(c.detail)})</small></label></p>" for c in choices)
    action = html.escape(lti.tool_url(site.course) + DEEP_LINK_PATH)
    return _page("Add the course app to your LMS",
                 f"<h1>What should this link open?</h1><p>Choose {'one or more' if multiple else 'one'}; the "
                 "LMS then adds the link (and, for an assignment, its gradebook column).</p>"
                 f"<form method=post action=\"{action}\"><input type=hidden name=token value=\"{html.escape(token)}\">"
                 f"{rows}<p><button type=submit>Add to the LMS</button></p></form>")


def answer_deep_link(site: Site, params: Mapping[str, Any]) -> str:
    """The picker's choice as the auto-posting form that carries the signed LtiDeepLinkingResponse
    back to the LMS. The token is one-time: a second post, or a forged one, is refused."""
    from pylti1p3.deep_link import DeepLink
    from pylti1p3.deep_link_resource import DeepLinkResource
    from pylti1p3.lineitem import LineItem

    token = str(params.get("token", ""))
    saved = site.store.get_value(DEEP_LINK_PREFIX + token) if token else None
    expired = ("This choice is expired or was already sent (the picker is valid for one answer within a "
               "few minutes). Start again from your LMS.")
    if not isinstance(saved, dict):
        raise Refused(expired)
    items = params.get("item") or []
    items = [items] if isinstance(items, str) else list(items)
    known = {choice.value: choice for choice in deep_link_choices(site)}
    if not items or any(item not in known for item in items):
        raise Refused("Choose an assignment or a module the course has: go back to the list.")
    settings = saved["settings"]
    if len(items) > 1 and not _truthy(settings.get("accept_multiple")):
        raise Refused("This LMS place takes one link: go back and choose one item.")
    if not site.store.check_value(DEEP_LINK_PREFIX + token):   # consumed: one answer per picker
        raise Refused(expired)
    try:
        registration = lti.tool_config(site.course).find_registration_by_params(saved["issuer"], saved["client_id"])
    except ToolConfException:
        registration = None
    if registration is None:
        raise Refused("The LMS that asked for this link is no longer registered with the course.")
    launch_url = lti.tool_urls(site.course)["launch"]
    resources = []
    for item in items:
        kind, name = item.split(":", 1)
        choice = known[item]
        resource = (DeepLinkResource().set_url(launch_url).set_title(choice.title)
                    .set_custom_params({kind: name}).set_target("window"))
        if kind == "assignment" and choice.points:   # the column `theater lti push` finds by its tag
            resource.set_lineitem(LineItem().set_tag(name).set_label(name).set_resource_id(name)
                                  .set_score_maximum(choice.points))
        resources.append(resource)
    signed = DeepLink(registration, saved["deployment_id"], settings).get_response_jwt(resources)
    LOG.info("deep link for %s (%s): %s linked %s", saved["issuer"], saved["client_id"], saved["staff"],
             ", ".join(items))
    return_url = html.escape(str(settings["deep_link_return_url"]))
    return _page("Sending your choice to the LMS",
                 f"<form id=answer method=post action=\"{return_url}\"><input type=hidden name=JWT "
                 f"value=\"{html.escape(signed)}\"><p>Sending your choice to the LMS…</p>"
                 "<noscript><button type=submit>Continue</button></noscript></form>"
                 "<script>document.getElementById('answer').submit()</script>")


def _page(title: str, body: str) -> str:
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>Signal or Theater: "
            f"{html.escape(title)}</title></head><body style='font-family:sans-serif;max-width:40em;margin:3em auto'>"
            f"{body}</body></html>")


def refusal_page(message: str) -> str:
    return _page("launch refused", f"<h1>The app could not open from your LMS</h1><p>{html.escape(message)}</p>")


# ----------------------------------------------------------------------------- ASGI


ROUTES = (lti.LOGIN_PATH, lti.LAUNCH_PATH, lti.JWKS_PATH, DEEP_LINK_PATH)


def route_of(path: str) -> str | None:
    """Which LTI route a request path is (under any base URL), or None for Streamlit's own."""
    normal = re.sub(r"/+", "/", "/" + path).rstrip("/")
    return next((route for route in ROUTES if normal.endswith(route)), None)


class LtiRoutes:
    """ASGI middleware in front of Streamlit's app: the LTI routes are answered here, every other
    request passes through unchanged. `site` is opened on the first LTI request (`open_site`)."""

    def __init__(self, app: Callable, site: Callable[[], Site] | None = None,
                 requests_session: Any = None):
        self.app = app
        self._open = site or (lambda: open_site())
        self._site: Site | None = None
        self.requests_session = requests_session

    def site(self) -> Site:
        if self._site is None:
            self._site = self._open()
        return self._site

    async def __call__(self, scope, receive, send) -> None:
        route = route_of(scope.get("path", "")) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        from starlette.concurrency import run_in_threadpool
        from starlette.requests import Request as HttpRequest
        from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse

        request = HttpRequest(scope, receive)
        try:
            if route == lti.JWKS_PATH:
                response = JSONResponse(await run_in_threadpool(lambda: lti.tool_jwks(self.site().course)))
            elif request.method not in ("GET", "POST") or (route in (lti.LAUNCH_PATH, DEEP_LINK_PATH)
                                                            and request.method != "POST"):
                response = PlainTextResponse("Method Not Allowed", status_code=405)
            elif route == DEEP_LINK_PATH:
                form = await request.form()
                params = {"token": str(form.get("token") or ""),
                          "item": [v for v in form.getlist("item") if isinstance(v, str)]}
                response = HTMLResponse(await run_in_threadpool(answer_deep_link, self.site(), params))
            else:
                params = dict(request.query_params)
                if request.method == "POST":
                    params.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
                if route == lti.LOGIN_PATH:
                    location, cookies = await run_in_threadpool(start_login, self.site(), params,
                                                                dict(request.cookies))
                    response = RedirectResponse(location, status_code=302)
                    secure = lti.tool_url(self.site().course).startswith("https://")
                    for name, value, seconds in cookies:   # cross-site (the LMS posts the launch): None over HTTPS
                        response.set_cookie(name, value, max_age=seconds, httponly=True, secure=secure,
                                            samesite="none" if secure else "lax")
                else:
                    client = self._client(request)
                    landing = await run_in_threadpool(finish_launch, self.site(), params,
                                                      dict(request.cookies), client, self.requests_session)
                    response = (HTMLResponse(landing.html) if isinstance(landing, Page)
                                else RedirectResponse(landing, status_code=303))
        except Refused as refused:
            response = HTMLResponse(refusal_page(refused.message), status_code=refused.status)
        except lti.LtiError as error:
            response = HTMLResponse(refusal_page(f"LTI is not set up for this course: {error}."), status_code=404)
        except UserError as error:   # the app's course cannot be opened (course.config)
            response = HTMLResponse(refusal_page(f"The course cannot be opened: {error}."), status_code=503)
        except sa.exc.OperationalError:   # the progress database is locked or unreachable just now
            response = HTMLResponse(refusal_page("The app's database is busy." + AGAIN), status_code=503)
        await response(scope, receive, send)

    def _client(self, request) -> str:
        from course import auth

        peer = request.client.host if request.client else None
        return auth.client_address(request.headers, self.site().config.client_address_header, peer)
