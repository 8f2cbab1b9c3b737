"""A real browser against the running app: sign in, answer a quiz, reload, find the progress kept.

Drives Debian's Chromium (/usr/bin/chromium) through Playwright; Playwright's own browser
download is never used. Screenshots of every page go to var/screenshots/ for people to look at.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from course.commands import THEME_FLAGS

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
STAFF_PASSWORD = "e2e-staff-password"

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_app(home: Path, flags: list[str]) -> Iterator[str]:
    """The app started with `streamlit run` on a free port, its state in `home`; yields its url."""
    port = _free_port()
    env = {**os.environ, "THEATER_HOME": str(home), "THEATER_STAFF_PASSWORD": STAFF_PASSWORD}
    log = open(home / "app.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "course" / "app.py"),
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


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The app with the course's theme, its state in a temporary home."""
    with running_app(tmp_path_factory.mktemp("home"),
                     ["--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
                      "--client.toolbarMode", "minimal", *THEME_FLAGS]) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make system-deps installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _settle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished running the script (no 'Running…' status)."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)
    page.wait_for_timeout(400)


def _shot(page, name: str) -> None:
    """The whole page: Streamlit scrolls inside its main pane, so grow the viewport to fit it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    height = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                           " return m ? m.scrollHeight : document.body.scrollHeight; }")
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), 12000)})
    page.wait_for_timeout(2500)   # elements below the old fold render after the resize
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(size)


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
        page.wait_for_timeout(800)
        _settle(page)
    return forms.count()


def _open(page, link_text: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(link_text, exact=False).first.click()
    page.wait_for_timeout(1500)   # the rerun starts a moment after the click
    _settle(page)


def test_learner_signs_in_answers_a_quiz_and_finds_progress_after_reload(app_url, browser):
    """Sign in, answer, reload (still signed in, answer kept), sign out, sign in again."""
    from course.modules import CONTENT_DIR, load_modules

    modules, _ = load_modules(CONTENT_DIR)
    module = modules[0]
    question = module.quiz[0]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(app_url)
    page.get_by_role("textbox", name="Learner id").wait_for(timeout=60_000)
    _settle(page)
    _shot(page, "00-sign-in")

    _sign_in(page, app_url, "ada")
    _shot(page, "01-home")

    _open(page, module.title)
    page.get_by_role("heading", name=f"{module.number}. {module.title}").wait_for()
    form = page.get_by_test_id("stForm").filter(has_text=question.prompt).first
    form.get_by_text(question.answer, exact=True).click()
    form.get_by_role("button", name="Check answer").click()
    page.get_by_text("Right.", exact=False).first.wait_for(timeout=30_000)
    _settle(page)
    _shot(page, f"02-module-{module.number:02d}")

    page.reload()   # a new Streamlit session: the signed token in the url keeps ada signed in
    page.get_by_role("heading", name=f"{module.number}. {module.title}").wait_for(timeout=60_000)
    page.get_by_text("Earlier you answered", exact=False).first.wait_for(timeout=30_000)
    _open(page, "Home")
    page.get_by_role("heading", name="Your course").wait_for()
    assert page.get_by_text("1 of", exact=False).first.is_visible()
    assert page.get_by_text(f"Resume where you left off: {module.number}.", exact=False).is_visible()

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("textbox", name="Learner id").wait_for(timeout=30_000)
    _settle(page)
    page.reload()   # signed out stays signed out
    page.get_by_role("textbox", name="Learner id").wait_for(timeout=60_000)
    _sign_in(page, app_url, "ada")   # and signing in again finds the same progress
    assert page.get_by_text("1 of", exact=False).first.is_visible()
    page.close()


def test_screenshot_of_every_page(app_url, browser):
    from course.modules import CONTENT_DIR, load_modules

    modules, _ = load_modules(CONTENT_DIR)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, app_url, "grace")
    for module in modules:
        _open(page, module.title)
        page.get_by_role("heading", name=f"{module.number}. {module.title}").wait_for()
        assert not page.get_by_test_id("stException").count()
        predictions = _commit_predictions(page)
        assert page.get_by_test_id("stVegaLiteChart").count() >= predictions
        assert not page.get_by_test_id("stException").count()
        _shot(page, f"10-module-{module.number:02d}")
    for index, (link, name, heading) in enumerate([
            ("Capstone notebook", "capstone", "Capstone: your notebook and your data"),
            ("My learning", "my-learning", "My learning"),
            ("Account & data", "account", "Signed in as grace")]):
        _open(page, link)
        page.get_by_role("heading", name=heading).wait_for()
        assert not page.get_by_test_id("stException").count(), link
        _shot(page, f"2{index}-{name}")
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Download CSV files (zip)").click()
    names = zipfile.ZipFile(download.value.path()).namelist()
    assert any(name.endswith("ai_events.csv") for name in names)
    assert not any("label" in name for name in names)
    page.close()

    staff = browser.new_page(viewport={"width": 1280, "height": 900})
    staff.goto(app_url)
    _settle(staff)
    staff.get_by_role("tab", name="Instructor or trainer").click()
    staff.get_by_role("textbox", name="Staff account").fill("staff")  # THEATER_STAFF_PASSWORD's account
    staff.get_by_role("textbox", name="Password").fill(STAFF_PASSWORD)
    staff.get_by_role("button", name="Sign in as staff").click()
    _settle(staff)
    assert not staff.get_by_test_id("stException").count()
    _shot(staff, "30-staff")
    staff.close()
