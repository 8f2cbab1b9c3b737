"""Grading a class from the served app in a real browser: Grade → every submission, on this machine's
LocalCluster and then on the course's own `dask scheduler` + workers; every result arrives.

The app is `streamlit run course/app.py`: its `__main__` is the page script, which a grading worker
must never import (the workers once crashed on it and the cluster reported "Nanny failed to start").
"""

from __future__ import annotations

import shutil

import pytest

from grader.course_dir import gradebook, open_course
from tests.e2e.support import STAFF_PASSWORD, THEME_FLAGS, _open, _settle, _shot, running_app
from tests.grader.test_runs import CLASS, _build_class

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("browser"),
              pytest.mark.skipif(shutil.which("bwrap") is None, reason="grading needs bubblewrap")]


def _grade_every_submission(page, force: bool) -> str:
    """Click Grade for every submission of detect; the run's one-line result."""
    form = page.get_by_test_id("stForm")
    if force:
        form.get_by_text("Regrade submissions already graded").click()
    form.get_by_role("button", name="Grade", exact=True).click()
    page.get_by_text("Grading detect:").first.wait_for(timeout=120_000)  # the live progress bar
    page.wait_for_function(  # an earlier run's result is gone while this one grades
        "() => ![...document.querySelectorAll('[data-testid=\"stAlert\"]')]"
        ".some(a => a.innerText.includes('detect: '))", timeout=120_000)
    done = page.get_by_test_id("stAlert").filter(has_text="detect: ")
    done.first.wait_for(timeout=600_000)
    _settle(page, 120_000)
    assert not page.get_by_test_id("stException").count()
    return done.first.inner_text()


def test_the_app_grades_a_class_on_a_local_cluster_and_on_a_dask_cluster(tmp_path, browser):
    from tests.grader.test_dask import Cluster

    private = tmp_path / "private"
    root = private / "course"
    _build_class(root, CLASS)
    home = tmp_path / "home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("THEATER_COURSE", str(root))
        with running_app(home, ["--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
                                "--client.toolbarMode", "minimal", *THEME_FLAGS]) as url:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            _settle(page)
            page.get_by_role("tab", name="Instructor or trainer").click()
            page.get_by_role("textbox", name="Staff account").fill("staff")
            page.get_by_role("textbox", name="Password").fill(STAFF_PASSWORD)
            page.get_by_role("button", name="Sign in as staff").click()
            _settle(page)
            _open(page, "Assignments & grading")
            page.get_by_test_id("stSelectbox").filter(has_text="Assignment").first.click()
            page.get_by_role("option", name="detect", exact=True).click()
            _settle(page, 120_000)

            local = _grade_every_submission(page, force=False)
            assert f"detect: {len(CLASS)} graded, 0 unchanged since last run, 0 failed" in local, local
            _shot(page, "44-instructor-graded-a-class")

            cluster = Cluster(tmp_path, hidden=private)  # workers that cannot see the course directory
            try:
                cluster.client(2).close()
                with open(root / "theater.toml", "a") as handle:
                    handle.write(f'\n[grading]\nscheduler = "{cluster.address}"\n')
                remote = _grade_every_submission(page, force=True)
            finally:
                cluster.close()
            assert f"detect: {len(CLASS)} graded, 0 unchanged since last run, 0 failed" in remote, remote
            page.close()
    log = (home / "app.log").read_text(errors="replace")
    assert "Nanny failed" not in log and "Traceback" not in log, log[-3000:]
    with gradebook(open_course(root)) as gb:
        assert sorted(s.student.id for s in gb.assignment_submissions("detect")) == sorted(CLASS)
