"""A real LTI 1.3 platform for the tests: lti1p3platform's OIDC login, signed launch (resource links
and deep-linking requests), key set and access tokens, served over HTTP by uvicorn, with the
Assignment and Grade Services line items and scores, the Names and Role Provisioning member list
(paged with `Link: rel="next"`) and the deep-linked content items an LMS keeps (in memory). Nothing
here writes a JWT by hand: the platform library signs the launches and tokens and checks the tool's
signed client assertions and deep-linking responses against the tool's /lti/jwks."""

from __future__ import annotations

import html
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Route

LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
TA_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
INSTITUTION_INSTRUCTOR_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"


def rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PlatformConf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: Any) -> None:
        self.registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self.registration


@dataclass
class Pending:
    """What the platform launches after the OIDC round trip (keyed by lti_message_hint)."""

    user: str
    roles: list[str]
    custom: dict[str, str]
    expires_in: int = 300
    deep_link: bool = False
    accept_multiple: bool = True
    accept_types: tuple[str, ...] = ("ltiResourceLink",)
    full_name: str = "A Learner"


class Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=302)


class Launch(LTIAdvantageMessageLaunchAbstract):
    def __init__(self, request, platform_config, query: dict[str, str]):
        super().__init__(request, platform_config)
        self.query = query

    def get_preflight_response(self) -> dict[str, Any]:
        return self.query

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> HTMLResponse:
        fields = "".join(f'<input type="hidden" name="{k}" value="{html.escape(str(v))}">'
                         for k, v in launch_data.items() if k != "launch_url")
        return HTMLResponse(f'<form method="post" action="{html.escape(launch_data["launch_url"])}">'
                            f'{fields}</form>')


@dataclass
class Platform:
    """One LMS: `issuer`, one client id and deployment, one course (context) with AGS."""

    client_id: str = "tool-client-1"
    deployment_id: str = "deployment-1"
    context_id: str = "course-101"
    port: int = field(default_factory=free_port)
    lineitems: dict[str, dict] = field(default_factory=dict)
    scores: list[dict] = field(default_factory=list)
    token_requests: int = 0
    pending: dict[str, Pending] = field(default_factory=dict)
    members: set[str] = field(default_factory=set)   # the LMS user ids enrolled in the course
    roster: list[dict] = field(default_factory=list)  # what NRPS lists (user_id, name, email, roles, status)
    page_size: int = 2
    memberships_fault: str = ""   # "" | "not-json" | "unauthorised" | "not-members" | "foreign-next" | "loop"
    member_pages_served: int = 0
    content_items: list[dict] = field(default_factory=list)   # what deep-linking responses added

    def __post_init__(self):
        self.private_key, self.public_key = rsa_pair()
        self.base = f"http://127.0.0.1:{self.port}"
        self.issuer = self.base

    def configure_tool(self, tool_url: str) -> None:
        """What an LMS admin enters for the tool: its login, launch and JWKS URLs."""
        self.registration = (Registration().set_iss(self.issuer).set_client_id(self.client_id)
                             .set_deployment_id(self.deployment_id)
                             .set_oidc_login_url(tool_url + "/lti/login")
                             .set_launch_url(tool_url + "/lti/launch")
                             .set_platform_public_key(self.public_key)
                             .set_platform_private_key(self.private_key)
                             .set_deeplink_launch_url(tool_url + "/lti/launch"))
        self.registration.set_tool_key_set_url(tool_url + "/lti/jwks")
        self.tool_url = tool_url

    def conf(self) -> PlatformConf:
        return PlatformConf(registration=self.registration)

    # ------------------------------------------------------------------ what the tool registers

    def register_args(self) -> list[str]:
        return ["--issuer", self.issuer, "--client-id", self.client_id, "--deployment-id", self.deployment_id,
                "--auth-url", self.base + "/authorize", "--token-url", self.base + "/token",
                "--jwks-url", self.base + "/jwks"]

    # ------------------------------------------------------------------ endpoints

    def start_launch(self, request: Request):
        """A learner clicks the tool's link in the LMS: third-party-initiated login."""
        hint = f"hint-{len(self.pending)}-{time.monotonic_ns()}"
        query = request.query_params
        custom = {k[len("custom_"):]: v for k, v in query.items() if k.startswith("custom_")}
        self.pending[hint] = Pending(query["user"], query.get("role", LEARNER_ROLE).split(","), custom,
                                     int(query.get("expires_in", "300")), query.get("message") == "deep_link",
                                     query.get("accept_multiple", "true") == "true",
                                     tuple(query.get("accept_types", "ltiResourceLink").split(",")),
                                     query.get("name", "A Learner"))
        login = Login(request, self.conf())
        login.set_lti_message_hint(hint=hint)
        return login.initiate_login(query["user"])

    def authorize(self, request: Request):
        """The tool's OIDC auth request: answer with the signed launch (an auto-posting form)."""
        query = dict(request.query_params)
        if query.get("redirect_uri") != self.tool_url + "/lti/launch":
            return PlainTextResponse("redirect_uri is not the registered launch URL", status_code=400)
        pending = self.pending.get(query.get("lti_message_hint", ""))
        if pending is None or query.get("login_hint") != pending.user:
            return PlainTextResponse("unknown login", status_code=400)
        launch = Launch(request, self.conf(), query)
        launch.set_user_data(pending.user, pending.roles, full_name=pending.full_name or None)
        launch.set_resource_link_claim("link-" + (pending.custom.get("assignment") or "home"), title="Assignment")
        launch.set_launch_context_claim(self.context_id, context_title="Signal or Theater 101",
                                        context_label="SOT101")
        if pending.custom:
            launch.set_custom_parameters_claim(pending.custom)
        launch.set_ags(lineitems_url=f"{self.base}/{self.context_id}/lineitems", allow_creating_lineitems=True)
        launch.set_nrps(f"{self.base}/{self.context_id}/memberships")
        if pending.deep_link:   # the instructor adds the tool to the course: an LtiDeepLinkingRequest
            launch.set_dl(f"{self.base}/deep-link-return", title="Add the course app",
                          accept_types=set(pending.accept_types), extra_data={"placement": "module-7"})
            if not pending.accept_multiple:
                launch._deep_linking_launch_data[
                    "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"]["accept_multiple"] = False
        launch.set_id_token_expiration(pending.expires_in)
        return launch.lti_launch()

    def jwks(self, request: Request):
        conf = self.conf()
        conf.get_registration()
        return JSONResponse(conf.get_jwks())

    async def token(self, request: Request):
        self.token_requests += 1
        form = dict(await request.form())
        conf = self.conf()
        conf.get_registration()
        try:
            return JSONResponse(conf.get_access_token(form))
        except Exception as error:   # noqa: BLE001 - an LMS answers a bad client assertion with 400
            return JSONResponse({"error": "invalid_client", "detail": str(error)}, status_code=400)

    def _authorised(self, request: Request, scope: str) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return False
        conf = self.conf()
        conf.get_registration()
        try:
            return conf.validate_token(header[len("Bearer "):], allowed_scopes=[scope])
        except Exception:   # noqa: BLE001
            return False

    async def lineitems_endpoint(self, request: Request):
        if request.method == "GET":
            if not self._authorised(request, LINEITEM_SCOPE):
                return PlainTextResponse("unauthorised", status_code=401)
            tag = request.query_params.get("tag")
            items = [i for i in self.lineitems.values() if tag is None or i.get("tag") == tag]
            return JSONResponse(items, media_type="application/vnd.ims.lis.v2.lineitemcontainer+json")
        if not self._authorised(request, LINEITEM_SCOPE):
            return PlainTextResponse("unauthorised", status_code=401)
        item = await request.json()
        item["id"] = f"{self.base}/{self.context_id}/lineitems/{len(self.lineitems) + 1}"
        self.lineitems[item["id"]] = item
        return JSONResponse(item, media_type="application/vnd.ims.lis.v2.lineitem+json")

    async def scores_for(self, request: Request):
        if not self._authorised(request, SCORE_SCOPE):
            return PlainTextResponse("unauthorised", status_code=401)
        item_id = f"{self.base}/{self.context_id}/lineitems/{request.path_params['number']}"
        if item_id not in self.lineitems:
            return PlainTextResponse("no such line item", status_code=404)
        score = await request.json()
        if score.get("userId") not in self.members:
            return PlainTextResponse(f"user {score.get('userId')} is not in this course", status_code=422)
        self.scores.append({"lineitem": item_id, **score})
        return PlainTextResponse("", status_code=204)

    async def memberships(self, request: Request):
        """NRPS: the course's members, `page_size` a page, the next page named in a Link header."""
        if self.memberships_fault == "unauthorised" or not self._authorised(request, NRPS_SCOPE):
            return PlainTextResponse("unauthorised", status_code=401)
        self.member_pages_served += 1
        if self.memberships_fault == "not-json":
            return HTMLResponse("<html><body>Maintenance</body></html>")
        if self.memberships_fault == "not-members":
            return JSONResponse({"id": "x", "error": "no such course"})
        page = int(request.query_params.get("page", "1"))
        start = (page - 1) * self.page_size
        members = self.roster[start:start + self.page_size]
        url = f"{self.base}/{self.context_id}/memberships"
        headers = {}
        if start + self.page_size < len(self.roster):
            headers["Link"] = f'<{url}?page={page + 1}>; rel="next"'
        if self.memberships_fault == "foreign-next":
            headers["Link"] = '<https://elsewhere.example/members?page=2>; rel="next"'
        if self.memberships_fault == "loop":
            headers["Link"] = f'<{url}?page=1>; rel="next"'
        return JSONResponse({"id": url, "context": {"id": self.context_id, "title": "Signal or Theater 101"},
                             "members": members}, headers=headers,
                            media_type="application/vnd.ims.lti-nrps.v2.membershipcontainer+json")

    async def deep_link_return(self, request: Request):
        """The tool's LtiDeepLinkingResponse: checked against the tool's key set, then kept; an item
        with a lineItem gets its gradebook column, as an LMS creates it."""
        form = dict(await request.form())
        conf = self.conf()
        conf.get_registration()
        try:
            items = conf.validate_deeplinking_resp(form)
        except Exception as error:   # noqa: BLE001 - an LMS refuses a response it cannot verify
            return PlainTextResponse(f"deep-linking response refused: {error}", status_code=400)
        for item in items:
            self.content_items.append(item)
            if item.get("lineItem"):
                item_id = f"{self.base}/{self.context_id}/lineitems/{len(self.lineitems) + 1}"
                self.lineitems[item_id] = {"id": item_id, **item["lineItem"]}
        return HTMLResponse(f"<p>{len(items)} item(s) added</p>")

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route(f"/{self.context_id}/memberships", self.memberships),
            Route("/deep-link-return", self.deep_link_return, methods=["POST"]),
            Route("/start", self.start_launch), Route("/authorize", self.authorize),
            Route("/jwks", self.jwks), Route("/token", self.token, methods=["POST"]),
            Route(f"/{self.context_id}/lineitems", self.lineitems_endpoint, methods=["GET", "POST"]),
            Route(f"/{self.context_id}/lineitems/{{number}}/scores", self.scores_for, methods=["POST"]),
        ])

    # ------------------------------------------------------------------ serving

    def serve(self) -> None:
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the test platform did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def launch_url(self, user: str, **params: str) -> str:
        return f"{self.base}/start?{urlencode({'user': user, **params})}"


def member(user_id: str, name: str, email: str = "", role: str = LEARNER_ROLE, status: str = "Active",
           **extra: str) -> dict:
    """One NRPS member entry, as an LMS lists it."""
    given, _, family = name.partition(" ")
    return {"user_id": user_id, "name": name, "given_name": given, "family_name": family,
            "email": email, "roles": [role], "status": status, **extra}


FORM_FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)">')


def launch_form(page: str) -> tuple[str, dict[str, str]]:
    """The auto-posting form a platform's launch page holds: (its action, its fields)."""
    action = FORM_ACTION.search(page)
    assert action, page[:300]
    return html.unescape(action.group(1)), {k: html.unescape(v) for k, v in FORM_FIELD.findall(page)}
