"""The app's server process (course.serve): Streamlit's metrics closed, this machine only by default,
and the grading worker started with the server, not by the first visitor of the Capstone page."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from course.serve import CloseEndpoints, is_closed
from grader.assign import generate_student_version
from grader.course_dir import init_course
from grader.submissions import queue_status, submit
from tests.course.test_app_command import _free_port, _listening
from tests.e2e.support import theater_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path, closed", [
    ("/_stcore/metrics", True), ("/_stcore/metrics/", True), ("//_stcore//metrics", True),
    ("/course/_stcore/metrics", True),   # under a server.baseUrlPath
    ("/_stcore/health", False), ("/", False), ("/_stcore/metricsx", False), ("/x_stcore/metrics", False),
])
def test_the_metrics_endpoint_is_closed_under_any_spelling_of_its_path(path, closed):
    assert is_closed(path) is closed


def test_a_closed_endpoint_answers_404_and_the_rest_reaches_streamlit():
    reached: list[str] = []

    async def streamlit(scope, receive, send):
        reached.append(scope["path"])

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request"}

    middleware = CloseEndpoints(streamlit)
    asyncio.run(middleware({"type": "http", "path": "/_stcore/metrics"}, receive, send))
    asyncio.run(middleware({"type": "http", "path": "/_stcore/health"}, receive, send))
    assert sent[0]["status"] == 404 and reached == ["/_stcore/health"]


def _get(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


@pytest.mark.slow
def test_theater_app_closes_metrics_listens_locally_and_grades_what_was_queued_before_it_started(tmp_path):
    course = init_course(tmp_path / "course", data={"employees": 40, "days": 60}, secret="serve-test-secret")
    generate_student_version(course, course.assignment("detect"))
    solved = (ROOT / "exercises" / "source" / "detect" / "detect.ipynb").read_bytes()
    submit(course, "detect", "ada", solved)   # queued while no app runs (as before a restart)
    assert queue_status(course, "detect", "ada").state == "queued"

    port = _free_port()
    with theater_app(port, tmp_path / "home", course.root) as app:
        _wait_for(lambda: _listening(port) or app.poll() is not None, 180, "theater app did not serve in 180 s")
        assert app.poll() is None, f"theater app exited with {app.returncode}"
        _wait_for(lambda: _get(port, "/_stcore/health") == 200, 60, "the health check never answered")
        assert _get(port, "/_stcore/metrics") == 404
        assert _get(port, "/_stcore/metrics/") in (404, 307)   # a redirect to the closed path at most
        assert _get(port, "/_stcore/%6Detrics") == 404         # percent-encoded: the same path
        assert _get(port, "/_stcore/metrics?families=session_events") == 404
        server = psutil.Process(app.pid).children(recursive=True)[0]
        listening = {c.laddr.ip for c in server.net_connections("inet") if c.status == psutil.CONN_LISTEN}
        assert listening == {"127.0.0.1"}, listening
        # nobody opens a page: the worker started with the server grades the queued job
        _wait_for(lambda: queue_status(course, "detect", "ada").state in ("graded", "error"), 240,
                  "the queued submission was not graded")
        assert queue_status(course, "detect", "ada").state == "graded", queue_status(course, "detect", "ada")
