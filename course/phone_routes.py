"""The light phone page's routes, answered in front of Streamlit on the app's own port.

    GET  /room                      the page (course/static/room.html: one file, inline script)
    GET  /room/api/state?code=C     the room's state and this seat's part (header X-Seat-Token;
                                    If-None-Match → 304 while nothing changed)
    POST /room/api/join             {"code", "nickname"} → the seat: token, rejoin code and link
    POST /room/api/rejoin           {"code", "rejoin"} (a rejoin code or a pasted rejoin link)
    POST /room/api/answer           {"code", "round", "answer"} with the header X-Seat-Token

Under any base URL, like course.lti's routes. The seat token travels in a header, never a cookie,
so another site cannot answer for a phone (no CSRF); a request body is JSON of at most
BODY_MAX_BYTES. Every refusal is JSON `{"error": message}` with a status a script can act on:
400 bad request, 403 unknown seat, 404 unknown room, 413 too large, 415 not JSON, 429 too many
answers, 503 database busy; never a traceback. The handlers are thin: course.workshop_phone
shapes the state, course.workshop keeps the room's rules.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import sqlalchemy as sa

from course.workshop import TooManyAnswers
from course.workshop_phone import BODY_MAX_BYTES, PhoneRooms, RoomGone, SeatUnknown
from datasets.errors import UserError

PAGE_FILE = Path(__file__).resolve().parent / "static" / "room.html"
PAGE_PATH = "/room"
STATE_PATH = "/room/api/state"
ACTIONS = {"/room/api/join", "/room/api/rejoin", "/room/api/answer"}
ROUTES = (STATE_PATH, *sorted(ACTIONS), PAGE_PATH)      # longest first: /room ends them all
SEAT_HEADER = b"x-seat-token"
LOG = logging.getLogger(__name__)
JSON_HEADERS = [(b"content-type", b"application/json; charset=utf-8"),
                (b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"no-referrer")]


def route_of(path: str) -> str | None:
    """Which phone route a request path is (under any base URL), or None for Streamlit's own."""
    normal = re.sub(r"/+", "/", "/" + path).rstrip("/")
    return next((route for route in ROUTES if normal.endswith(route)), None)


def open_phones() -> PhoneRooms:
    """The phone API on the app's own progress database and settings (as `theater app` serves)."""
    import os

    from course.config import LiveWorkshopSettings, load_config
    from course.progress import ProgressStore
    from course.workshop import WorkshopStore

    home, course = os.environ.get("THEATER_HOME") or None, os.environ.get("THEATER_COURSE") or None
    config = load_config(Path(home) if home else None, course)
    store = WorkshopStore(ProgressStore(config.database_url).engine)
    return PhoneRooms(store, settings=LiveWorkshopSettings.of(config).current)


def page_with_policy(html: str) -> tuple[bytes, str]:
    """The page and a Content-Security-Policy that runs its own inline script and style only
    (by their hashes): nothing else loads, no other script runs, whatever a text contains."""
    def hashes(tag: str) -> str:
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)
        return " ".join("'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()
                        + "'" for b in blocks)

    policy = (f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
              "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'none'")
    return html.encode(), policy


class PhoneRoutes:
    """ASGI middleware in front of Streamlit's app: the phone routes are answered here, every
    other request passes through unchanged. `phones` is opened on the first phone request."""

    def __init__(self, app: Any, phones: PhoneRooms | None = None):
        self.app = app
        self._phones = phones
        self._page: tuple[bytes, str] | None = None

    def phones(self) -> PhoneRooms:
        if self._phones is None:
            try:
                self._phones = open_phones()
            except UserError as error:      # a broken config.yaml: say so, try again next time
                raise _Refusal(503, f"The app cannot open its rooms: {error}") from None
        return self._phones

    async def __call__(self, scope, receive, send) -> None:
        route = route_of(scope.get("path", "")) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        try:
            if route == PAGE_PATH:
                if method not in ("GET", "HEAD"):
                    raise _Refusal(405, "The page is read with GET.")
                await self._serve_page(send)
            elif route == STATE_PATH:
                if method != "GET":
                    raise _Refusal(405, "The state is read with GET.")
                await self._state(scope, send)
            else:
                if method != "POST":
                    raise _Refusal(405, "Send this with POST and a JSON body.")
                await self._action(route, scope, receive, send)
        except _Refusal as refusal:
            await _json(send, refusal.status, {"error": refusal.message})
        except RoomGone as error:
            await _json(send, 404, {"error": str(error)})
        except SeatUnknown as error:
            await _json(send, 403, {"error": str(error)})
        except TooManyAnswers as error:
            await _json(send, 429, {"error": str(error)})
        except UserError as error:       # the room's rules (course.workshop) or the app's config
            await _json(send, 400, {"error": str(error)})
        except sa.exc.OperationalError:
            await _json(send, 503, {"error": "The app's database is busy; your phone tries again "
                                             "by itself."})
        except Exception:                # never a traceback to a phone; the log has it
            LOG.exception("phone route %s failed", route)
            await _json(send, 500, {"error": "Something went wrong on the server; try again in "
                                             "a moment."})

    async def _serve_page(self, send) -> None:
        if self._page is None:
            self._page = page_with_policy(PAGE_FILE.read_text(encoding="utf-8"))
        body, policy = self._page
        await _respond(send, 200, body, [
            (b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-cache"),
            (b"content-security-policy", policy.encode()), (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")])

    async def _state(self, scope, send) -> None:
        """Most checks are answered from the room's shared snapshot without leaving the event
        loop; a stale snapshot or a seat not seen yet goes to a worker thread."""
        from starlette.concurrency import run_in_threadpool

        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        code = (query.get("code") or [""])[0]
        headers = dict(scope.get("headers") or [])
        token = headers.get(SEAT_HEADER, b"").decode("latin-1").strip()
        if not token:
            raise _Refusal(403, "Join the workshop first: this page sends your seat with each "
                                "check.")
        phones = self.phones()
        snapshot = phones.fresh(code)
        if snapshot is None or not phones.knows_seat(snapshot, token):
            def read():
                ready = phones.snapshot(code)
                phones.check_seat(ready, token)
                return ready

            snapshot = await run_in_threadpool(read)
        body, etag = phones.state_body(snapshot, token)
        cache = [(b"etag", etag.encode()), (b"vary", b"X-Seat-Token")]
        if headers.get(b"if-none-match", b"").decode("latin-1") == etag:
            await _respond(send, 304, b"", [*JSON_HEADERS[1:], *cache])
            return
        await _respond(send, 200, body, [*JSON_HEADERS, *cache])

    async def _action(self, route: str, scope, receive, send) -> None:
        from starlette.concurrency import run_in_threadpool

        headers = dict(scope.get("headers") or [])
        kind = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        if kind != "application/json":
            raise _Refusal(415, "Send a JSON body (Content-Type: application/json).")
        payload = await _json_body(headers, receive)
        phones = self.phones()
        app_url = _request_url(scope, headers)
        if route.endswith("/join"):
            result = await run_in_threadpool(phones.join, _text(payload, "code"),
                                             _text(payload, "nickname"), app_url)
        elif route.endswith("/rejoin"):
            result = await run_in_threadpool(phones.rejoin, _text(payload, "code"),
                                             _text(payload, "rejoin"), app_url)
        else:
            token = headers.get(SEAT_HEADER, b"").decode("latin-1").strip()
            result = await run_in_threadpool(phones.answer, _text(payload, "code"), token,
                                             payload.get("round"), payload.get("answer"))
        await _json(send, 200, result)


class _Refusal(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _text(payload: dict, name: str) -> str:
    value = payload.get(name, "")
    if not isinstance(value, str):
        raise _Refusal(400, f"{name!r} must be a text.")
    return value


async def _json_body(headers: dict, receive) -> dict:
    """The request's JSON object, read up to BODY_MAX_BYTES (a larger one is refused unread)."""
    declared = headers.get(b"content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > BODY_MAX_BYTES):
        raise _Refusal(413, f"A request to this page is at most {BODY_MAX_BYTES} bytes.")
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Refusal(400, "The request ended before its body.")
        body += message.get("body", b"")
        if len(body) > BODY_MAX_BYTES:
            raise _Refusal(413, f"A request to this page is at most {BODY_MAX_BYTES} bytes.")
        if not message.get("more_body"):
            break
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _Refusal(400, "The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise _Refusal(400, "The request body must be a JSON object.")
    return payload


def _request_url(scope, headers: dict) -> str:
    """The address the phone used, for a rejoin link when no public_url is configured."""
    host = headers.get(b"host", b"localhost").decode("latin-1")
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('path', '/')}"


async def _respond(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    length = [] if status == 304 else [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *length]})
    await send({"type": "http.response.body", "body": body})


async def _json(send, status: int, payload: dict) -> None:
    await _respond(send, status, json.dumps(payload, ensure_ascii=False).encode(), JSON_HEADERS)
