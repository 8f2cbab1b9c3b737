"""A real browser: a learner signs in, uploads their notebook, and sees it graded on the same page.

The grading is the real one (release, bubblewrap sandbox, out-of-kernel scoring) on a small
self-study course, run by the app's background worker.
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse
from pathlib import Path

import pytest

from course import commands
from course.auth import issue_access_codes
from grader.course_dir import init_course, open_course
from tests.e2e.support import _open, _settle, _shot, running_app

ROOT = Path(__file__).resolve().parents[2]
SOLVED = ROOT / "exercises" / "source" / "detect" / "detect.ipynb"  # the instructor's worked solution

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def small_course_app(tmp_path_factory):
    """The app on a self-study course with a small company, so grading takes seconds."""
    home = tmp_path_factory.mktemp("submit-home")
    init_course(home / "course", course_id="self-study", data={"employees": 40, "days": 60},
                secret="submit-browser-test", create_gradebook=False)  # a fixed company: a stable result
    with running_app(home, commands.streamlit_flags()) as url:
        yield url, home


def _sign_in(page, url: str, learner: str) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="Learner id").fill(learner)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Your course").wait_for(timeout=90_000)
    _settle(page)


OTHER_TITLES = ("Explore your company", "Measure it", "Memo to the board")


def _detect_box(page):
    """The Detect assignment's whole block: the outermost one holding its title and no other
    assignment's (the capstone page lists four)."""
    box = page.locator("[data-testid='stVerticalBlock']").filter(has=page.get_by_text("Detect the theater", exact=True))
    for title in OTHER_TITLES:
        box = box.filter(has_not=page.get_by_text(title, exact=True))
    return box.first


def test_learner_uploads_a_notebook_sees_its_form_then_makes_it_final_and_nobody_else_sees_it(small_course_app, browser, tmp_path):
    url, home = small_course_app
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, url, "ada")
    _open(page, "Capstone notebook")  # the sidebar keeps the session (a typed url would sign out)
    box = _detect_box(page)
    box.get_by_text("Policy: no deadline; 3 attempt(s).").wait_for(timeout=30_000)

    wrong = tmp_path / "notes.txt"
    wrong.write_text("not a notebook")
    box.locator("input[type=file]").set_input_files(str(wrong))
    page.wait_for_timeout(1000)
    box.get_by_role("button", name="Submit for grading").click()
    box.get_by_text("is not a notebook: upload detect.ipynb").wait_for(timeout=30_000)

    box = _detect_box(page)
    box.locator("input[type=file]").set_input_files(str(SOLVED))
    page.wait_for_timeout(1000)
    started = time.monotonic()
    box.get_by_role("button", name="Submit for grading").click()
    box.get_by_text("Attempt 1 received").wait_for(timeout=30_000)
    page.get_by_text("Grading your notebook").first.wait_for(timeout=60_000)  # the page polls by itself
    checked = page.get_by_text("Your submission (attempt 1) was checked")
    checked.wait_for(timeout=240_000)
    seconds = time.monotonic() - started
    print(f"\nupload to result in the browser: {seconds:.1f} s (first submission releases the assignment)")
    text = _detect_box(page).inner_text()  # not final yet: the answer's form, no band
    assert "Flagged tokenmaxxers: well formed" in text and "Bands appear once your submission is final" in text
    assert not re.search(r"full marks|partly|not yet", text), text
    _detect_box(page).get_by_text("I will not submit again").click()
    _detect_box(page).get_by_role("button", name="Make attempt 1 final and see its bands").click()
    result = page.get_by_text("Your result (attempt 1):")
    result.wait_for(timeout=60_000)
    assert re.search(r"Your result \(attempt 1\): (full marks|close|partly)", result.inner_text())
    assert re.search(r"Flagged tokenmaxxers: (full marks|close|partly)", _detect_box(page).inner_text())
    text = _detect_box(page).inner_text()
    assert not re.search(r"\d\s*(/|of)\s*\d|\d\s*points?", text), text  # bands, never points
    assert "Traceback" not in page.content()
    _shot(page, "capstone-submitted")

    other = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(other, url, "bob")
    _open(other, "Capstone notebook")
    _detect_box(other).get_by_text("Policy: no deadline").wait_for(timeout=30_000)
    assert "Your result" not in other.content() and "You have submitted" not in other.content()

    # ada types the instructor's url (with her own sign-in token): no staff page, no class data
    token = parse_qs(urlparse(page.url).query)["u"][0]
    page.goto(f"{url}/instructor?u={token}")
    _settle(page)
    assert "how the class is doing" not in page.content() and "Class progress" not in page.content()

    # once the course has a roster, knowing ada's id without her access code gets nothing of hers
    issue_access_codes(open_course(home / "course").access_codes_path, ["ada", "bob"])
    stranger = browser.new_page(viewport={"width": 1280, "height": 900})
    stranger.goto(url)
    stranger.get_by_role("textbox", name="Learner id").fill("ada")
    stranger.get_by_role("textbox", name="Access code").fill("WRONG-CODE-0000")
    stranger.get_by_role("button", name="Sign in", exact=True).click()
    stranger.locator("[data-testid='stAlert']").first.wait_for(timeout=30_000)  # the refusal
    _settle(stranger)
    assert not stranger.get_by_role("heading", name="Your course").count()
    assert "Your result" not in stranger.content() and "Flagged tokenmaxxers" not in stranger.content()
