"""A real browser against the running app: sign in, answer a quiz, reload, find the progress kept.

Screenshots of every page go to var/screenshots/ for people to look at (tests/e2e/support.py).
"""

from __future__ import annotations

import zipfile

import pytest

from tests.e2e.support import (STAFF_PASSWORD, THEME_FLAGS, _commit_predictions, _open, _settle, _shot,
                               _sign_in, running_app)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The app with the course's theme, its state in a temporary home."""
    with running_app(tmp_path_factory.mktemp("home"),
                     ["--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
                      "--client.toolbarMode", "minimal", *THEME_FLAGS]) as url:
        yield url


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
        # a chart is drawn by the browser after the script ends (vega-embed): wait for it, on a busy
        # machine the count can lag the script's end
        page.wait_for_function("n => document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]').length >= n",
                               arg=predictions, timeout=30_000)
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
