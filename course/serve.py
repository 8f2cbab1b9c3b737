"""The app's server process: `streamlit run`, plus what a course needs before the first visitor.

`theater app` starts `python -m course.serve run course/app.py --flags…` where it used to start
`python -m streamlit run …`; the arguments are Streamlit's own. Before Streamlit serves, this
process
- answers the LTI 1.3 routes an LMS launches learners through (`/lti/login`, `/lti/launch`,
  `/lti/jwks`: course.lti) in front of Streamlit's own;
- answers the light phone page of live workshops (`/room` and `/room/api/…`: course.phone_routes),
  so a hall's phones poll a small shared JSON state instead of rerunning Streamlit scripts;
- closes the server endpoints a course must not answer to anyone who asks: `/_stcore/metrics`
  (Streamlit's session and cache counts, served without sign-in, with no setting to turn it off)
  answers 404 as if absent. A deployment that wants metrics scrapes its reverse proxy instead;
- removes the scratch folders of gradings killed with the previous process (grader.grade);
- starts the course's grading worker (grader.submissions.start_worker), so a submission queued
  before a restart is graded now, not when a learner next opens the Capstone page.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from datasets.errors import UserError

CLOSED_PATHS = ("/_stcore/metrics",)
LOG = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def is_closed(path: str, closed: tuple[str, ...] = CLOSED_PATHS) -> bool:
    """Whether a request path reaches a closed endpoint, under any base URL and with extra slashes."""
    normal = re.sub(r"/+", "/", "/" + path).rstrip("/")
    return any(normal.endswith(end) for end in closed)


class CloseEndpoints:
    """ASGI middleware in front of Streamlit's own: a closed endpoint answers 404, nothing else changes."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]],
                 closed: tuple[str, ...] = CLOSED_PATHS):
        self.app = app
        self.closed = closed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_closed(scope.get("path", ""), self.closed):
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body", "body": b"Not Found"})
            return
        await self.app(scope, receive, send)


class ServeError(UserError):
    """The server cannot be started safely."""


def close_endpoints() -> None:
    """Put CloseEndpoints in front of every Starlette app Streamlit builds for `streamlit run`.

    Streamlit has no option for this; its server builds the app in one function, which is wrapped
    here. A Streamlit without that function (another version than constraints.txt pins) stops the
    start instead of serving the endpoints open."""
    try:
        from streamlit.web.server.starlette import starlette_server
    except ImportError as error:
        raise ServeError(f"this Streamlit has no Starlette server ({error}); install the version "
                         "constraints.txt pins") from None
    build = getattr(starlette_server, "create_starlette_app", None)
    if build is None:
        raise ServeError("this Streamlit builds its server differently: /_stcore/metrics cannot be "
                         "closed; install the version constraints.txt pins")
    if getattr(build, "closes_endpoints", False):
        return

    def create_starlette_app(runtime: Any) -> Any:
        from course.lti import LtiRoutes
        from course.phone_routes import PhoneRoutes

        app = build(runtime)
        app.add_middleware(CloseEndpoints)
        app.add_middleware(LtiRoutes)
        app.add_middleware(PhoneRoutes)
        return app

    create_starlette_app.closes_endpoints = True  # type: ignore[attr-defined]
    starlette_server.create_starlette_app = create_starlette_app


def phone_page_served() -> bool:
    """Whether this process answers the light phone page (/room): the app was started through
    course.serve. A plain `streamlit run` has only the Streamlit page, so a join link must open
    that one there."""
    try:
        from streamlit.web.server.starlette import starlette_server
    except ImportError:
        return False
    return bool(getattr(starlette_server.create_starlette_app, "closes_endpoints", False))


def start_grading(home: str | None = None, course: str | None = None) -> Any:
    """Clear killed gradings' scratch folders and start this process's grading worker for the
    course the app serves (the same worker the Capstone page would otherwise start on first visit)."""
    from course import data as course_data
    from course.config import load_config
    from grader import submissions
    from grader.grade import remove_stale_scratch

    config = load_config(Path(home) if home else None, course or None)
    remove_stale_scratch()
    return submissions.start_worker(config.course, self_study=not course_data.has_roster(config))


def main(argv: list[str]) -> None:
    """Run Streamlit's command line on `argv` with the endpoints closed and grading started."""
    close_endpoints()
    try:
        start_grading(os.environ.get("THEATER_HOME") or None, os.environ.get("THEATER_COURSE") or None)
    except (UserError, OSError) as error:  # the pages show what is wrong with the course; serve anyway
        print(f"Signal or Theater: grading not started ({error}); the Capstone page starts it on "
              "its first visit", file=sys.stderr, flush=True)
    from streamlit.web import cli

    sys.argv = ["streamlit", *argv]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except ServeError as error:
        print(f"Signal or Theater: {error}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
