"""LTI 1.3 (Advantage) for a course: the tool's keys, the registered platforms, and grade pass-back.

An LMS (Canvas, Moodle, Blackboard, Brightspace…) launches learners into the app and receives
their scores through Assignment and Grade Services (AGS). What the course keeps, under .theater/:

- `lti_private.pem` (0600) and `lti_public.pem`: the tool's RSA key pair (`theater lti keys`). The
  LMS checks the tool's signed requests (AGS tokens) against the public half, served at /lti/jwks.
- `lti.json`: the tool's public address and each registered platform — issuer, client id,
  deployment ids, the platform's OIDC auth, token and JWKS URLs (`theater lti register`).
- `lti_launches.json`: what launches taught the course — each LMS context's AGS endpoint (where
  line items live) and each launched learner's LMS user id (`sub`), so `theater lti push` needs no
  browser. The app writes it at every launch (course.lti).
- `lti_pushed.json`: the score last delivered per learner, so a second push sends only what changed.

The protocol work (OIDC login, id_token checks, the AGS client) is pylti1p3next's, a maintained fork
of PyLTI1p3 (docs/lti.md says why); this module holds what the course decides: who a launch is on the
roster, which score a learner gets (the gradebook's, after overrides and late penalties, as
`theater export` writes it), and which line item it goes to.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from datasets.errors import UserError
from grader.course_dir import Course, gradebook, write_private

PRIVATE_KEY_FILE = "lti_private.pem"
PUBLIC_KEY_FILE = "lti_public.pem"
SETTINGS_FILE = "lti.json"
LAUNCHES_FILE = "lti_launches.json"
PUSHED_FILE = "lti_pushed.json"
KEY_BITS = 2048
DEFAULT_TOOL_URL = "http://localhost:8501"
LOGIN_PATH, LAUNCH_PATH, JWKS_PATH = "/lti/login", "/lti/launch", "/lti/jwks"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
CONTEXT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/context"
DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
CUSTOM_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/custom"
ROLES_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/roles"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


class LtiError(UserError):
    """The course's LTI set-up cannot do what was asked (no keys, no registration, bad URL)."""


# ----------------------------------------------------------------------------- files


def private_key_path(course: Course) -> Path:
    return course.state_dir / PRIVATE_KEY_FILE


def public_key_path(course: Course) -> Path:
    return course.state_dir / PUBLIC_KEY_FILE


@contextlib.contextmanager
def _locked(course: Course) -> Iterator[None]:
    """One writer at a time: the app records launches while the CLI registers or pushes."""
    course.state_dir.mkdir(parents=True, exist_ok=True)
    with open(course.state_dir / ".lti.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read(course: Course, name: str) -> dict[str, Any]:
    path = course.state_dir / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise LtiError(f"{path} cannot be read ({error}): fix or remove it") from None
    if not isinstance(data, dict):
        raise LtiError(f"{path} is not an LTI settings object: fix or remove it")
    return data


def _write(course: Course, name: str, data: Mapping[str, Any]) -> None:
    write_private(course.state_dir / name, json.dumps(data, indent=2, sort_keys=True) + "\n")


# ----------------------------------------------------------------------------- keys


def make_keys(course: Course, replace: bool = False) -> Path:
    """Create the tool's RSA key pair (the private half 0600); refuses to replace one unless asked,
    since every registered LMS would have to fetch the new public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private, public = private_key_path(course), public_key_path(course)
    if private.exists() and not replace:
        raise LtiError(f"{private} exists: the tool already has keys (use --replace to make new ones; "
                       "every LMS then reads the new public key from /lti/jwks)")
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode("ascii")
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
    course.state_dir.mkdir(parents=True, exist_ok=True)
    write_private(private, pem)
    public.write_text(public_pem, encoding="ascii")
    os.chmod(public, 0o644)
    return private


def _keys(course: Course) -> tuple[str, str]:
    try:
        return (private_key_path(course).read_text(encoding="ascii"),
                public_key_path(course).read_text(encoding="ascii"))
    except FileNotFoundError:
        raise LtiError("the tool has no keys yet: run `theater lti keys`") from None


def tool_jwks(course: Course) -> dict[str, Any]:
    """The tool's public key set, as an LMS reads it from /lti/jwks."""
    from pylti1p3.registration import Registration

    _, public = _keys(course)
    return {"keys": [dict(Registration.get_jwk(public))]}


# ----------------------------------------------------------------------------- registration


@dataclass(frozen=True)
class Platform:
    """One LMS registration: what `theater lti register` stores."""

    issuer: str
    client_id: str
    deployment_ids: tuple[str, ...]
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    # the highest staff role a launch from this LMS earns on its role claim alone ("ta" or
    # "instructor"; None: only staff `theater users link` vouched for); course.lti staff_for_launch
    trust_staff: str | None = None


TRUSTED_STAFF_ROLES = ("ta", "instructor")


def _check_trust(value: str | None) -> str | None:
    if value in (None, "none"):
        return None
    if value not in TRUSTED_STAFF_ROLES:
        raise LtiError(f"--trust-staff {value!r}: choose none, ta or instructor")
    return value


def trusted_staff_role(course: Course, issuer: str, client_id: str) -> str | None:
    """The staff role this registration trusts the LMS to grant (None: none)."""
    return next((p.trust_staff for p in platforms(course)
                 if p.issuer == issuer and p.client_id == client_id), None)


def _check_url(name: str, value: str) -> str:
    parsed = urlparse(value or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise LtiError(f"--{name} {value!r} is not an http(s) URL")
    return value


def tool_url(course: Course) -> str:
    """The app's public address as the LMS reaches it (the launch's redirect_uri is built on it)."""
    return str(_read(course, SETTINGS_FILE).get("tool_url") or DEFAULT_TOOL_URL).rstrip("/")


def tool_urls(course: Course) -> dict[str, str]:
    base = tool_url(course)
    return {"login": base + LOGIN_PATH, "launch": base + LAUNCH_PATH, "jwks": base + JWKS_PATH}


def platforms(course: Course) -> list[Platform]:
    """The registered platforms, as stored."""
    out = []
    for item in _read(course, SETTINGS_FILE).get("platforms", []):
        try:
            out.append(Platform(item["issuer"], item["client_id"], tuple(item["deployment_ids"]),
                                item["auth_login_url"], item["auth_token_url"], item["key_set_url"],
                                _check_trust(item.get("trust_staff"))))
        except (KeyError, TypeError, LtiError):
            raise LtiError(f"{course.state_dir / SETTINGS_FILE}: a platform entry is incomplete: "
                           "register it again with `theater lti register`") from None
    return out


def register_platform(course: Course, issuer: str, client_id: str, deployment_id: str, auth_url: str,
                      token_url: str, jwks_url: str, tool_base_url: str | None = None,
                      trust_staff: str | None = None) -> Platform:
    """Store (or update) a platform registration; a new deployment id of the same issuer and client
    is added to the ones it has. `trust_staff` ("none", "ta", "instructor"; None keeps what was
    stored) is how far a launch's staff role counts without a per-person link."""
    if not issuer.strip() or not client_id.strip() or not deployment_id.strip():
        raise LtiError("--issuer, --client-id and --deployment-id must not be empty")
    for name, value in (("auth-url", auth_url), ("token-url", token_url), ("jwks-url", jwks_url)):
        _check_url(name, value)
    if tool_base_url is not None:
        _check_url("tool-url", tool_base_url)
    with _locked(course):
        settings = _read(course, SETTINGS_FILE)
        entries = [p for p in settings.get("platforms", []) if isinstance(p, dict)]
        old = next((p for p in entries if p.get("issuer") == issuer and p.get("client_id") == client_id), None)
        deployments = sorted(set((old or {}).get("deployment_ids", [])) | {deployment_id})
        trust = _check_trust(trust_staff) if trust_staff is not None else (old or {}).get("trust_staff")
        entry = {"issuer": issuer, "client_id": client_id, "deployment_ids": deployments,
                 "auth_login_url": auth_url, "auth_token_url": token_url, "key_set_url": jwks_url}
        if trust:
            entry["trust_staff"] = trust
        settings["platforms"] = [p for p in entries if p is not old] + [entry]
        if tool_base_url is not None:
            settings["tool_url"] = tool_base_url.rstrip("/")
        _write(course, SETTINGS_FILE, settings)
    return Platform(issuer, client_id, tuple(deployments), auth_url, token_url, jwks_url, trust)


def tool_config(course: Course) -> Any:
    """The registrations as pylti1p3's ToolConfDict (one issuer may have several client ids), with
    the tool's keys; LtiError when nothing is registered."""
    from pylti1p3.tool_config import ToolConfDict

    registered = platforms(course)
    if not registered:
        raise LtiError("no LMS is registered: run `theater lti register`")
    private, public = _keys(course)
    data: dict[str, list[dict[str, Any]]] = {}
    for number, platform in enumerate(registered):
        data.setdefault(platform.issuer, []).append({
            "default": not any(p.issuer == platform.issuer for p in registered[:number]),
            "client_id": platform.client_id, "auth_login_url": platform.auth_login_url,
            "auth_token_url": platform.auth_token_url, "auth_audience": None,
            "key_set_url": platform.key_set_url, "key_set": None,
            "deployment_ids": list(platform.deployment_ids)})
    config = ToolConfDict(data)
    for platform in registered:
        config.set_private_key(platform.issuer, private, client_id=platform.client_id)
        config.set_public_key(platform.issuer, public, client_id=platform.client_id)
    return config


# ----------------------------------------------------------------------------- launches


class UnknownLearner(LtiError):
    """A launch whose LMS user is nobody (or more than one learner) on the roster."""


def _lms_ids(course: Course) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    with gradebook(course) as gb:
        for student in gb.students:
            lms = str(student.lms_user_id or "").strip()
            if lms:
                found.setdefault(lms, []).append(str(student.id))
    return found


def learner_for_launch(course: Course, claims: Mapping[str, Any]) -> str:
    """The roster learner a validated launch is: the roster's lms_user_id equal to the launch's
    `sub`, or to the custom claim `lms_user_id` (an LMS can send its own user id there, e.g.
    Canvas's `$Canvas.user.id`). UnknownLearner otherwise, with what to do."""
    custom = claims.get(CUSTOM_CLAIM) if isinstance(claims.get(CUSTOM_CLAIM), Mapping) else {}
    candidates = [str(v).strip() for v in (claims.get("sub"), custom.get("lms_user_id")) if v not in (None, "")]
    if not candidates:
        raise UnknownLearner("The LMS sent no user id, so the app cannot tell who you are.")
    ids = _lms_ids(course)
    for value in candidates:
        matches = ids.get(value, [])
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise UnknownLearner(f"{len(matches)} learners on the class list share the LMS user id {value}: "
                                 "ask your instructor to fix the roster.")
    raise UnknownLearner(f"Your LMS account ({' / '.join(candidates)}) is not on this course's class list. "
                         "Ask your instructor to add your LMS user id to the roster "
                         "(`theater assign --roster`, column lms_user_id).")


def _context_key(issuer: str, client_id: str, deployment_id: str, context_id: str) -> str:
    return json.dumps([issuer, client_id, deployment_id, context_id])


def record_launch(course: Course, claims: Mapping[str, Any], learner: str | None) -> None:
    """Remember the launch's AGS endpoint and NRPS membership URL (per LMS context) and the
    learner's LMS user id (`sub`), which `theater lti push` posts to; `learner` is None for a
    staff launch, which teaches the course its LMS course's services all the same."""
    aud = claims.get("aud")
    client_id = str(aud[0] if isinstance(aud, list) else aud)
    issuer = str(claims.get("iss"))
    deployment = str(claims.get(DEPLOYMENT_CLAIM, ""))
    context = claims.get(CONTEXT_CLAIM) if isinstance(claims.get(CONTEXT_CLAIM), Mapping) else {}
    context_id = str(context.get("id", ""))
    key = _context_key(issuer, client_id, deployment, context_id)
    with _locked(course):
        launches = _read(course, LAUNCHES_FILE)
        contexts = launches.setdefault("contexts", {})
        entry = contexts.setdefault(key, {"issuer": issuer, "client_id": client_id,
                                          "deployment_id": deployment, "context_id": context_id,
                                          "title": str(context.get("title", ""))})
        endpoint = claims.get(AGS_CLAIM)
        if isinstance(endpoint, Mapping) and endpoint.get("lineitems"):
            entry["ags"] = {"lineitems": str(endpoint["lineitems"]),
                            "scope": [str(s) for s in endpoint.get("scope", [])]}
        nrps = claims.get(NRPS_CLAIM)
        if isinstance(nrps, Mapping) and nrps.get("context_memberships_url"):
            entry["memberships_url"] = str(nrps["context_memberships_url"])
        members = entry.setdefault("members", {})
        if learner is not None:
            members[learner] = str(claims.get("sub", ""))
        entry["last_launch"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        _write(course, LAUNCHES_FILE, launches)


@dataclass(frozen=True)
class Context:
    """An LMS course (context) the tool was launched from, with its AGS endpoint if it gave one."""

    issuer: str
    client_id: str
    deployment_id: str
    context_id: str
    title: str
    lineitems: str
    scope: tuple[str, ...]
    members: Mapping[str, str] = field(default_factory=dict)
    memberships_url: str = ""

    @property
    def label(self) -> str:
        return f"{self.title or self.context_id} ({self.issuer})"


def contexts(course: Course) -> list[Context]:
    out = []
    for entry in _read(course, LAUNCHES_FILE).get("contexts", {}).values():
        ags = entry.get("ags") or {}
        out.append(Context(entry.get("issuer", ""), entry.get("client_id", ""), entry.get("deployment_id", ""),
                           entry.get("context_id", ""), entry.get("title", ""), ags.get("lineitems", ""),
                           tuple(ags.get("scope", [])), dict(entry.get("members", {})),
                           str(entry.get("memberships_url", ""))))
    return out


def _pick_context(course: Course, context_id: str | None) -> Context:
    known = [c for c in contexts(course) if c.lineitems]
    if context_id is not None:
        known = [c for c in known if c.context_id == context_id]
    if not known:
        raise LtiError("no LMS course has launched the app with grade services yet" +
                       (f" (context {context_id!r})" if context_id else "") +
                       ": open any assignment link from the LMS once, as instructor or learner, then push")
    if len(known) > 1:
        raise LtiError(f"{len(known)} LMS courses launched the app: choose one with --context "
                       f"({', '.join(c.context_id + ' = ' + c.label for c in known)})")
    return known[0]


# ----------------------------------------------------------------------------- grade pass-back


@dataclass(frozen=True)
class PushLine:
    learner: str
    score: float | None
    outcome: str          # posted | unchanged | would post | no submission | failed
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"


def push_summary(assignment: str, lines: Sequence[PushLine]) -> str:
    """One line for the CLI and the gradebook page: how many learners had each outcome."""
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.outcome] = counts.get(line.outcome, 0) + 1
    return f"{assignment}: " + (", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
                                or "no learner in the gradebook")


def _connector(course: Course, context: Context, session: Any = None) -> Any:
    from pylti1p3.exception import ToolConfException
    from pylti1p3.service_connector import ServiceConnector

    class CachingConnector(ServiceConnector):
        """pylti1p3 leaves token caching to the framework: one push keeps its tokens in memory."""

        tokens: dict[str, tuple[str, float]] = {}

        def _get_cached_access_token(self, scope_key):
            token = self.tokens.get(scope_key)
            return token[0] if token and token[1] > time.time() else None

        def _cache_access_token(self, scope_key, access_token, expires_in):
            self.tokens[scope_key] = (access_token, time.time() + max(0.0, float(expires_in or 0) - 30))

    config = tool_config(course)
    try:
        registration = config.find_registration_by_params(context.issuer, context.client_id)
    except ToolConfException:
        registration = None
    if registration is None:
        raise LtiError(f"the LMS {context.issuer} (client {context.client_id}) that launched this course is "
                       "no longer registered: run `theater lti register` again")
    connector = CachingConnector(registration, session)
    connector.tokens = {}
    return connector


def _failure(error: Exception) -> str:
    response = getattr(error, "response", None)
    if response is not None:
        text = re.sub(r"\s+", " ", getattr(response, "text", "") or "")[:160]
        return f"the LMS answered HTTP {response.status_code}: {text}".rstrip(": ")
    return re.sub(r"\s+", " ", str(error))[:200] or type(error).__name__


def push_scores(course: Course, assignment: str, dry_run: bool = False, force: bool = False,
                context_id: str | None = None, session: Any = None) -> list[PushLine]:
    """Post each learner's effective score (the gradebook's after overrides and late penalties, as
    `theater export` computes it) to the assignment's line item in the LMS course, creating the line
    item (tag = the assignment's name) when it is missing. A score already delivered is not sent
    again unless `force`; a learner without a submission gets nothing; `session` is a
    requests.Session (tests pass one).

    Returns one line per learner; a failure for one learner does not stop the others."""
    import requests
    from pylti1p3.assignments_grades import AssignmentsGradesService
    from pylti1p3.exception import LtiException
    from pylti1p3.grade import Grade
    from pylti1p3.lineitem import LineItem

    from grader.export import apply_late_penalties, grade_rows

    course.assignment(assignment)   # an unknown assignment: the course's own clear error
    context = _pick_context(course, context_id)
    if SCORE_SCOPE not in context.scope:
        raise LtiError(f"the LMS course {context.label} does not let the tool post scores "
                       "(no AGS score scope in its launches): enable grade pass-back for the tool there")
    apply_late_penalties(course)
    rows = [row for row in grade_rows(course, [assignment]) if row.assignment == assignment]
    pushed_key = json.dumps([context.issuer, context.client_id, context.context_id, assignment])
    pushed = _read(course, PUSHED_FILE).get(pushed_key, {})
    lines: list[PushLine] = []
    todo = []
    for row in rows:
        score = round(row.score, 4)
        if not row.submitted:
            lines.append(PushLine(row.student_id, None, "no submission"))
            continue
        user = context.members.get(row.student_id) or row.lms_user_id
        if not user:
            lines.append(PushLine(row.student_id, score, "failed",
                                  "no LMS user id: the learner never launched from the LMS and the roster has "
                                  "no lms_user_id for them"))
            continue
        if not force and pushed.get(row.student_id) == [user, score, row.max_score]:
            lines.append(PushLine(row.student_id, score, "unchanged"))
            continue
        todo.append((row, user, score))
    if dry_run:
        lines += [PushLine(row.student_id, score, "would post") for row, _, score in todo]
    if dry_run or not todo:
        return sorted(lines, key=lambda line: line.learner)
    service = AssignmentsGradesService(_connector(course, context, session),
                                       {"scope": list(context.scope), "lineitems": context.lineitems})
    max_score = todo[0][0].max_score
    try:
        wanted = (LineItem().set_tag(assignment).set_label(assignment).set_resource_id(assignment)
                  .set_score_maximum(max_score))
        lineitem = service.find_or_create_lineitem(wanted, find_by="tag")
    except (LtiException, requests.RequestException) as error:
        detail = f"the line item for {assignment} could not be found or created: {_failure(error)}"
        return sorted(lines + [PushLine(row.student_id, score, "failed", detail) for row, _, score in todo],
                      key=lambda line: line.learner)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    delivered: dict[str, list] = {}
    for row, user, score in todo:
        grade = (Grade().set_score_given(score).set_score_maximum(row.max_score).set_user_id(user)
                 .set_activity_progress("Completed").set_grading_progress("FullyGraded").set_timestamp(now))
        try:
            service.put_grade(grade, lineitem)
        except (LtiException, requests.RequestException) as error:
            hint = "" if row.student_id in context.members else (
                f" (sent as the roster's lms_user_id {user}: the LMS may know this learner by another "
                "id until they open the app from the LMS once)")
            lines.append(PushLine(row.student_id, score, "failed", _failure(error) + hint))
            continue
        lines.append(PushLine(row.student_id, score, "posted"))
        delivered[row.student_id] = [user, score, row.max_score]
    if delivered:
        with _locked(course):
            record = _read(course, PUSHED_FILE)
            record.setdefault(pushed_key, {}).update(delivered)
            _write(course, PUSHED_FILE, record)
    return sorted(lines, key=lambda line: line.learner)


# ----------------------------------------------------------------------------- roster (NRPS)
#
# Names and Role Provisioning Services: the LMS course's member list, fetched with the same
# client-credentials token (signed with the tool's key) as grade pass-back, page by page (the LMS
# names the next page in a `Link: <…>; rel="next"` header). Learners merge into the gradebook's
# roster with their `lms_user_id`; nobody is ever removed: who is on the roster but not listed by the
# LMS is reported, and the instructor decides.

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
NRPS_MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_MEMBER_PAGES = 500


@dataclass(frozen=True)
class Member:
    """One LMS course member as NRPS lists them."""

    user_id: str
    name: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str = ""
    sourcedid: str = ""
    status: str = "Active"
    learner: bool = False
    staff: bool = False


@dataclass
class RosterSync:
    """What a roster sync found and did (or, with dry_run, would do)."""

    context: str
    added: list[tuple[str, str]] = field(default_factory=list)        # (learner id, LMS user id)
    linked: list[tuple[str, str, str]] = field(default_factory=list)  # (learner id, LMS user id, matched by)
    unchanged: list[str] = field(default_factory=list)
    absent: list[tuple[str, str]] = field(default_factory=list)       # (learner id, why)
    conflicts: list[str] = field(default_factory=list)                # members not merged, and why
    staff: int = 0
    pages: int = 0
    dry_run: bool = False
    new_learners: list[Any] = field(default_factory=list)            # grader.assign.Learner, for the codes CSV
    codes: dict[str, str] = field(default_factory=dict)              # new access codes (hand out; never stored)

    def summary(self) -> str:
        return (f"{self.context}: {len(self.added)} added, {len(self.linked)} linked to their LMS id, "
                f"{len(self.unchanged)} unchanged, {len(self.absent)} on the roster but not active learners "
                f"in the LMS (kept), {len(self.conflicts)} not merged, {self.staff} staff skipped "
                f"({self.pages} page{'s' if self.pages != 1 else ''} read)" +
                (" (dry run: nothing written)" if self.dry_run else ""))

    def lines(self) -> list[str]:
        """One line per learner the sync touched or could not merge, for the CLI and the roster page."""
        add, link = ("would add", "would link") if self.dry_run else ("added", "linked")
        return ([f"{learner}: {add} (LMS user {user})" for learner, user in self.added] +
                [f"{learner}: {link} to LMS user {user} (matched by {how})" for learner, user, how in self.linked] +
                [f"{learner}: on the roster but {why}: kept (remove them yourself if they left)"
                 for learner, why in self.absent] +
                [f"not merged: {conflict}" for conflict in self.conflicts])


def _roles_say(roles: Sequence[str], role_class: Any) -> bool:
    return role_class({ROLES_CLAIM: list(roles)}).check()


def _text(value: Any, limit: int) -> str:
    """A member field as the roster can keep it: printable, trimmed, at most `limit` characters."""
    text = "".join(ch for ch in str(value if isinstance(value, str | int) else "") if ch.isprintable())
    return text.strip()[:limit]


def _member(raw: Any) -> Member | None:
    """One NRPS member entry; None for an entry without a usable user id."""
    from pylti1p3.roles import StudentRole, TeacherRole, TeachingAssistantRole

    user_id = _text(raw.get("user_id"), 300) if isinstance(raw, Mapping) else ""
    if not user_id or len(user_id) > 255:
        return None
    roles = [str(r) for r in raw.get("roles") or [] if isinstance(r, str)]
    staff = _roles_say(roles, TeacherRole) or _roles_say(roles, TeachingAssistantRole)
    text = {key: _text(raw.get(key), 100) for key in ("name", "given_name", "family_name", "email")}
    text["lis_person_sourcedid"] = _text(raw.get("lis_person_sourcedid"), 64)
    return Member(user_id, text["name"], text["given_name"], text["family_name"],
                  text["email"], text["lis_person_sourcedid"], str(raw.get("status") or "Active"),
                  learner=not staff and _roles_say(roles, StudentRole), staff=staff)


def fetch_members(course: Course, context: Context, url: str, session: Any = None) -> tuple[list[Member], int]:
    """Every member of the LMS course at `url`, following `rel="next"` pages; (members, pages read).
    LtiError with the LMS's answer when a page cannot be had or is not an NRPS member list."""
    import requests
    from pylti1p3.exception import LtiException

    connector = _connector(course, context, session)
    members: list[Member] = []
    seen: set[str] = set()
    page_url: str | None = url
    pages = 0
    origin = urlparse(url)[:2]
    while page_url:
        if urlparse(page_url)[:2] != origin:   # the access token goes with each page: never elsewhere
            raise LtiError(f"page {pages + 1} of the LMS's member list is on another server ({page_url}) than "
                           f"the list ({url}): not followed")
        if page_url in seen or pages >= MAX_MEMBER_PAGES:
            raise LtiError(f"the LMS's member list does not end (page {pages + 1} at {page_url} was read before "
                           f"or exceeds {MAX_MEMBER_PAGES} pages)")
        seen.add(page_url)
        _check_url("url", page_url)
        try:
            answer = connector.make_service_request([NRPS_SCOPE], page_url, accept=NRPS_MEDIA_TYPE)
        except ValueError as error:   # requests' JSONDecodeError: the body is not JSON
            raise LtiError(f"page {pages + 1} of the LMS's member list ({page_url}) is not JSON ({error})") from None
        except (LtiException, requests.RequestException) as error:
            raise LtiError(f"the LMS's member list ({page_url}) could not be read: {_failure(error)}") from None
        pages += 1
        body = answer.get("body")
        if not isinstance(body, Mapping) or not isinstance(body.get("members"), list):
            raise LtiError(f"page {pages} of the LMS's member list ({page_url}) is JSON but not an NRPS "
                           "membership container (no `members` list)")
        members += [m for m in (_member(raw) for raw in body["members"]) if m is not None]
        page_url = answer.get("next_page_url")
    return members, pages


def _learner_id_for(member: Member, taken: set[str]) -> str:
    """A new learner's id: the e-mail's local part, else the name, else the LMS user id, made to the
    learner-id rule and unique (a suffix -2, -3…)."""
    import unicodedata

    from grader.course_dir import is_learner_id

    for source in (member.email.split("@")[0], f"{member.given_name}.{member.family_name}".strip("."),
                   member.name.replace(" ", "."), "lms-" + member.user_id):
        ascii_text = unicodedata.normalize("NFKD", source).encode("ascii", "ignore").decode()
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_text).strip("._-").lower()[:56]
        if base and is_learner_id(base):
            break
    else:
        base = "learner"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}-{number}", number + 1
    taken.add(candidate)
    return candidate


def _memberships_context(course: Course, context_id: str | None, url: str | None) -> tuple[Context, str]:
    if url is not None:
        _check_url("url", url)
    known = [c for c in contexts(course) if c.memberships_url or url]
    if context_id is not None:
        known = [c for c in known if c.context_id == context_id]
    registered = platforms(course)
    if not known and url and context_id is None and len(registered) == 1:   # no launch yet: the one LMS
        platform = registered[0]
        known = [Context(platform.issuer, platform.client_id, platform.deployment_ids[0], "", "", "", ())]
    if not known:
        raise LtiError("no LMS course has launched the app with Names and Role Provisioning yet" +
                       (f" (context {context_id!r})" if context_id else "") +
                       ": open the app's link from the LMS once (an instructor's launch is enough), or "
                       "give the LMS's context memberships URL with --url")
    if len(known) > 1:
        raise LtiError(f"{len(known)} LMS courses launched the app: choose one with --context "
                       f"({', '.join(c.context_id + ' = ' + c.label for c in known)})")
    return known[0], url or known[0].memberships_url


def _remember_members(course: Course, context: Context, subs: Mapping[str, str]) -> None:
    """Record learners' LMS user ids in the context, as their launches would (push posts to them)."""
    key = _context_key(context.issuer, context.client_id, context.deployment_id, context.context_id)
    with _locked(course):
        launches = _read(course, LAUNCHES_FILE)
        entry = launches.setdefault("contexts", {}).get(key)
        if entry is not None:
            entry.setdefault("members", {}).update(subs)
            _write(course, LAUNCHES_FILE, launches)


def sync_roster(course: Course, context_id: str | None = None, url: str | None = None, dry_run: bool = False,
                match_email: bool = False, session: Any = None) -> RosterSync:
    """Merge the LMS course's active learners into the roster (grader.assign's). Each member is
    matched to a roster learner by what the LMS or the institution vouches for: the roster's
    lms_user_id, the LMS user id a launch of theirs recorded, their SIS id; by e-mail only with
    `match_email` and only to a learner with no LMS id yet (in many LMSs a user can change their own
    e-mail: matching on it by default would let anyone take a classmate's place). A matched learner
    keeps their id (and an lms_user_id they have); a new one gets an id and an access code like
    `theater assign --roster` gives. Nobody is removed."""
    from grader.access_codes import issue_access_codes
    from grader.assign import Learner, _register_learners, roster, roster_details

    context, members_url = _memberships_context(course, context_id, url)
    members, pages = fetch_members(course, context, members_url, session)
    result = RosterSync(context.label, pages=pages, dry_run=dry_run)
    learners = roster(course)
    by_id = {l.id: l for l in learners}
    by_lms = {l.lms_user_id: l for l in learners if l.lms_user_id}
    by_launch = {sub: by_id[learner] for learner, sub in context.members.items() if learner in by_id}
    launched = {learner for learner in context.members if learner in by_id}
    sis = {d["sis_user_id"]: by_id[learner] for learner, d in roster_details(course).items()
           if d.get("sis_user_id") and learner in by_id}
    emails: dict[str, list[Learner]] = {}
    for learner in learners:
        if learner.email:
            emails.setdefault(learner.email.casefold(), []).append(learner)
    active = []
    for member in members:
        if member.staff:
            result.staff += 1
        elif member.learner and member.status == "Active":
            active.append(member)
    matched: set[str] = set()
    conflicted: set[str] = set()   # learners a member could not be merged with: reported there, not as absent
    rest = []
    for member in active:   # first what the LMS itself says: its user id, on the roster or from a launch
        strong = by_lms.get(member.user_id) or by_launch.get(member.user_id)
        if strong is None:
            rest.append(member)
        elif strong.id in matched:
            result.conflicts.append(f"LMS user {member.user_id} is {strong.id} too, who is already matched to "
                                    "another LMS user")
            conflicted.add(strong.id)
        else:
            matched.add(strong.id)
            result.unchanged.append(strong.id)
    taken = set(by_id)
    writes: list[Learner] = []
    subs: dict[str, str] = {}
    for member in rest:
        who = f"LMS user {member.user_id} ({member.name or member.email or 'no name'})"
        same_email = emails.get(member.email.casefold(), []) if member.email else []
        found, how = (sis.get(member.sourcedid), "SIS id") if member.sourcedid in sis else (None, "")
        if found is None and len(same_email) == 1:
            candidate = same_email[0]
            free = not candidate.lms_user_id and candidate.id not in launched
            if not match_email or not free:
                conflicted.add(candidate.id)
                result.conflicts.append(
                    f"{who} has the e-mail of {candidate.id}, who " +
                    ("is known to the LMS by another id" if not free else "has no LMS id yet") +
                    (": not merged" if not free else
                     ": not merged (a user can often change their own e-mail in the LMS); if yours manages them, "
                     "merge with --match-email (in the app: match by e-mail), or add the lms_user_id to the roster"))
                continue
            found, how = candidate, "e-mail"
        if found is not None and found.id in matched:
            conflicted.add(found.id)
            result.conflicts.append(f"{who} matches {found.id} by {how}, who is already matched to another LMS user")
            continue
        if found is not None:
            matched.add(found.id)
            if found.lms_user_id:   # the roster's id stays (e.g. Canvas's numeric id, which collect
                # matches in submission zips); push posts to the LMS's own id, as after a launch
                subs[found.id] = member.user_id
                result.linked.append((found.id, member.user_id,
                                      f"{how}; the roster keeps lms_user_id {found.lms_user_id}"))
            else:
                writes.append(Learner(found.id, found.first_name, found.last_name, found.email, member.user_id))
                result.linked.append((found.id, member.user_id, how))
            continue
        if len(same_email) > 1:
            result.conflicts.append(f"{who}: several roster learners have the e-mail {member.email}; fix the "
                                    "roster, then sync again")
            continue
        new_id = _learner_id_for(member, taken)
        first = member.given_name or (member.name.split(" ")[0] if member.name else "")
        last = member.family_name or (" ".join(member.name.split(" ")[1:]) if member.name else "")
        writes.append(Learner(new_id, first, last, member.email if "@" in member.email else "", member.user_id))
        result.added.append((new_id, member.user_id))
    listed = {m.user_id: m for m in members}
    for learner in learners:
        if learner.id in matched or learner.id in conflicted:
            continue
        member = listed.get(learner.lms_user_id) or listed.get(context.members.get(learner.id, ""))
        why = (f"{member.status.lower()} in the LMS" if member is not None and member.status != "Active" else
               "not a learner in the LMS course" if member is not None else "not listed by the LMS")
        result.absent.append((learner.id, why))
    result.unchanged.sort()
    if subs and not dry_run:
        _remember_members(course, context, subs)
    if writes and not dry_run:
        _register_learners(course, None, writes)
        result.new_learners = [learner for learner in writes if learner.id in dict(result.added)]
        if result.new_learners:   # the same sign-in as `theater assign --roster` gives (access codes)
            result.codes = issue_access_codes(course.access_codes_path, [l.id for l in result.new_learners])
    return result
