"""Sign-out in a real browser ends the session on the server: the old URL, opened afterwards in a
fresh browser (the next person at a classroom machine, or whoever found the link), lands on the
sign-in page, for a learner and for an instructor.

Drives Debian's Chromium through Playwright, as tests/e2e/test_browser.py does.
"""

from __future__ import annotations

import pytest

from tests.e2e.support import STAFF_PASSWORD, _settle, _sign_in, running_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("signout-home"),
                     ["--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]) as url:
        yield url


def _sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("textbox", name="Learner id").wait_for(timeout=30_000)
    _settle(page)


def _lands_on_sign_in(browser, url: str) -> str:
    """Open `url` in a fresh browser context (no cookies, no storage); returns the page's text."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(url)
        page.get_by_role("textbox", name="Learner id").wait_for(timeout=60_000)
        _settle(page)
        body = page.inner_text("body")
        assert "Signed in as" not in body
        assert page.get_by_role("button", name="Sign out").count() == 0
        return body
    finally:
        context.close()


def test_a_learners_old_url_after_sign_out_opens_the_sign_in_page(app_url, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _sign_in(page, app_url, "ada")
    signed_in_url = page.url
    assert "u=" in signed_in_url
    page.reload()                              # before sign-out the url keeps ada signed in
    page.get_by_role("heading", name="Your course").wait_for(timeout=60_000)
    _sign_out(page)
    assert "u=" not in page.url
    context.close()
    _lands_on_sign_in(browser, signed_in_url)


def test_an_instructors_old_url_after_sign_out_opens_no_staff_page(app_url, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(app_url)
    _settle(page)
    page.get_by_role("tab", name="Instructor or trainer").click()
    page.get_by_role("textbox", name="Staff account").fill("staff")   # THEATER_STAFF_PASSWORD's account
    page.get_by_role("textbox", name="Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in as staff").click()
    page.get_by_role("button", name="Sign out").wait_for(timeout=60_000)
    _settle(page)
    staff_url = page.url
    assert "staff=" in staff_url
    handle = staff_url.split("staff=")[1].split("&")[0]
    roster_url = f"{app_url}/instructor-roster?staff={handle}"
    opened = context.new_page()                # the same link works while signed in
    opened.goto(roster_url)
    opened.get_by_text("Learners (").first.wait_for(timeout=60_000)
    opened.close()
    _sign_out(page)
    context.close()
    body = _lands_on_sign_in(browser, staff_url)
    assert "Roster" not in body
    body = _lands_on_sign_in(browser, roster_url)
    assert "Learners (" not in body and "Issue a new code" not in body
