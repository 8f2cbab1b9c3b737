"""What the browser tests share: the app on a free port, Debian's Chromium, waiting and screenshots.

Debian's Chromium (/usr/bin/chromium) is driven through Playwright; Playwright's own browser
download is never used. Screenshots go to var/screenshots/ for people to look at.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from course.commands import THEME_FLAGS  # noqa: F401  (the tests start the app with the course's theme)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
STAFF_PASSWORD = "e2e-staff-password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_app(home: Path, flags: list[str], serve: bool = False) -> Iterator[str]:
    """The app started with `streamlit run` on a free port, its state in `home`; yields its url.
    With `serve`, through course.serve as `theater app` starts it (the light phone page
    /room and the other routes in front of Streamlit's own)."""
    port = _free_port()
    env = {**os.environ, "THEATER_HOME": str(home), "THEATER_STAFF_PASSWORD": STAFF_PASSWORD}
    log = open(home / "app.log", "w")
    runner = ["course.serve"] if serve else ["streamlit"]
    process = subprocess.Popen(
        [sys.executable, "-m", *runner, "run", str(ROOT / "course" / "app.py"),
         "--server.port", str(port), "--server.headless", "true", *flags],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the app did not start:\n" + (home / "app.log").read_text())
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _settle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished running the script: the app says it is not running (the
    'Running…' status shows only for a long run) and no status widget is left."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]') && document.querySelector("
        "'[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state') !== 'running'", timeout=timeout)
    page.wait_for_timeout(400)


def _shot(page, name: str) -> None:
    """The whole page: Streamlit scrolls inside its main pane, so grow the viewport to fit it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    height = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                           " return m ? m.scrollHeight : document.body.scrollHeight; }")
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), 12000)})
    _charts_drawn(page)           # charts below the old fold draw only after the resize
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(size)


def _charts_drawn(page, timeout: float = 10_000) -> None:
    """Wait until every chart on the page has drawn its canvas or svg (a screenshot taken earlier shows
    empty frames); a chart that never draws is left to the test's own checks, not failed here."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]')].every(chart => {"
            " const drawn = chart.querySelector('canvas, svg'); return drawn && drawn.getBoundingClientRect().width > 0; })",
            timeout=timeout)
    except PlaywrightTimeoutError:
        pass
    page.wait_for_timeout(500)


def _sign_in(page, url: str, learner: str) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="Learner id").fill(learner)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Your course").wait_for(timeout=90_000)
    _settle(page)


def _commit_predictions(page) -> int:
    """Commit the first option of every chart prediction so the screenshots show the charts."""
    forms = page.get_by_test_id("stForm").filter(
        has=page.get_by_role("button", name="Commit my prediction"))
    for index in range(forms.count()):
        form = forms.nth(index)
        form.get_by_role("radio").first.click(force=True)
        form.get_by_role("button", name="Commit my prediction").click()
        _rerun_started(page, 800)
        _settle(page)
    return forms.count()


SCRIPT_RUNNING = "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state') === 'running'"


def _rerun_started(page, timeout: float, before_url: str | None = None) -> None:
    """Wait until the rerun a click asked for has begun: the script runs, or (a page link) the
    address changed, which Streamlit does as the new page's run starts. A run too short to be seen
    costs the whole timeout, the fixed wait this replaces."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    check = SCRIPT_RUNNING if before_url is None else (
        f"() => location.href !== {before_url!r} || ({SCRIPT_RUNNING})()")
    try:
        page.wait_for_function(check, timeout=timeout, polling=20)
    except PlaywrightTimeoutError:
        pass


def _open(page, link_text: str) -> None:
    before = page.url
    page.get_by_test_id("stSidebarNav").get_by_text(link_text, exact=False).first.click()
    _rerun_started(page, 1500, before)
    _settle(page)


@contextlib.contextmanager
def theater_app(port: int, home: Path, course: Path | None = None,
                env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """`theater app` (course.serve in front of Streamlit) as a deployment starts it, on `port`;
    yields the process without waiting for it to serve (each test waits for what it needs) and
    stops it, killed if it does not stop within a minute."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **(env or {})}
    environment.pop("THEATER_COURSE", None)
    command = [sys.executable, "-m", "theater.cli", "app", "--port", str(port), "--home", str(home)]
    if course is not None:
        command += ["--course", str(course)]
    app = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield app
    finally:
        app.terminate()
        try:
            app.wait(60)
        except subprocess.TimeoutExpired:
            app.kill()
