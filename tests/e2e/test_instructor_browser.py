"""The instructor area in a real browser: an instructor sees the gradebook of a graded class; a signed-in
learner typing an instructor url gets nothing of it. Screenshots go to var/screenshots/."""

from __future__ import annotations

import pytest

from grader.assign import assign, import_roster
from tests.e2e.support import STAFF_PASSWORD, THEME_FLAGS, _open, _settle, _shot, running_app
from tests.grader.gradebook_fixtures import ROSTER, autograde, small_course

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def graded_app(tmp_path_factory):
    """The app serving a course where ada and bob are graded on `measure`; yields (url, codes)."""
    root = tmp_path_factory.mktemp("instructor")
    course = small_course(root / "course")
    codes = import_roster(course, ROSTER)
    assign(course, "measure", ROSTER)
    autograde(course, "measure", "ada", {"measure_finding": 5.0},
              answers={"measure_finding": {"theater_share": 0.9, "access_effect_pct": 12.0,
                                               "access_effect_low": 4.0, "access_effect_high": 20.0}},
              truths={"measure_finding": {"theater_share": 0.3, "access_effect_pct": 10.0,
                                              "access_effect_reference_width": 16.0}})
    autograde(course, "measure", "bob", {"measure_finding": 4.0},
              answers={"measure_finding": {"theater_share": 0.31, "access_effect_pct": 60.0,
                                               "access_effect_low": 52.0, "access_effect_high": 68.0}},
              truths={"measure_finding": {"theater_share": 0.32, "access_effect_pct": 5.0,
                                              "access_effect_reference_width": 16.0}})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("THEATER_COURSE", str(course.root))
        home = root / "home"
        home.mkdir()
        with running_app(home, ["--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
                                "--client.toolbarMode", "minimal", *THEME_FLAGS]) as url:
            yield url, codes


def test_instructor_sees_the_gradebook_and_a_learner_typing_its_url_gets_nothing(graded_app, browser):
    url, codes = graded_app
    staff = browser.new_page(viewport={"width": 1400, "height": 1000})
    staff.goto(url)
    _settle(staff)
    staff.get_by_role("tab", name="Instructor or trainer").click()
    staff.get_by_role("textbox", name="Staff account").fill("staff")
    staff.get_by_role("textbox", name="Password").fill(STAFF_PASSWORD)
    staff.get_by_role("button", name="Sign in as staff").click()
    _settle(staff)
    _open(staff, "Gradebook")
    staff.get_by_test_id("stDataFrame").first.wait_for(timeout=180_000)  # the graded class's table
    staff.get_by_role("heading", name="The spread of answers").wait_for(timeout=60_000)
    _settle(staff, 180_000)
    assert not staff.get_by_test_id("stException").count()
    _shot(staff, "40-instructor-gradebook")
    for link, name in (("Assignments & grading", "41-instructor-assignments"),
                       ("Roster & access codes", "42-instructor-roster")):
        _open(staff, link)
        staff.get_by_test_id("stDataFrame").first.wait_for(timeout=180_000)
        _settle(staff, 180_000)
        assert not staff.get_by_test_id("stException").count()
        _shot(staff, name)
    staff.close()

    learner = browser.new_page(viewport={"width": 1280, "height": 900})
    learner.goto(url)
    learner.get_by_role("textbox", name="Learner id").fill("ada")
    learner.get_by_role("textbox", name="Access code").fill(codes["ada"])
    learner.get_by_role("button", name="Sign in", exact=True).click()
    learner.get_by_role("heading", name="Your course").wait_for(timeout=120_000)
    _settle(learner)
    token = learner.url.split("?", 1)[1] if "?" in learner.url else ""
    for path in ("instructor-gradebook", "instructor-assignments", "instructor-roster", "instructor"):
        learner.goto(f"{url}/{path}?{token}")
        _settle(learner, 120_000)
        learner.get_by_text("Page not found").wait_for(timeout=60_000)
        body = learner.get_by_test_id("stMain").inner_text()
        assert "Gradebook" not in body and "bob" not in body and "measure_finding" not in body
        assert not learner.get_by_role("textbox", name="Staff account").is_visible() or path == "instructor"
    _shot(learner, "43-learner-typing-an-instructor-url")
    learner.close()
