"""The app's grading runs: a batch process outside the app, on a real LocalCluster and a real Dask cluster.

The "app" here is a script that refuses to be imported as anything but `__main__`, as a Streamlit
page script does (course/app_pages/common.py fails outside Streamlit): a cluster whose workers
re-imported the app's `__main__` would never start.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from grader import runs
from grader.assign import assign
from grader.course_dir import gradebook, init_course, open_course
from tests.grader.hostile.corpus import NOTEBOOKS

pytestmark = [pytest.mark.xdist_group("dask-cluster"),
              pytest.mark.skipif(shutil.which("bwrap") is None, reason="grading needs bubblewrap")]

ROOT = Path(__file__).resolve().parents[2]
FIXED_SECRET = "graded-class-2"  # the secret tests/grader/test_grade.py grades its class with
SOURCE = ROOT / "exercises" / "source" / "detect" / "detect.ipynb"
# six submissions: three reference solutions and an honest-but-wrong one run in the sandbox, an
# unchanged release and a broken file are graded without running anything
CLASS = {"ada": SOURCE, "bob": NOTEBOOKS / "baseline.ipynb", "cy": SOURCE, "dan": SOURCE,
         "eve": b"{not a notebook", "fay": "release"}

APP = textwrap.dedent('''
    if __name__ != "__main__":  # what a Streamlit page script does when a worker imports it
        raise RuntimeError("the app's page script was imported by a grading worker")
    import sys, time
    from grader import runs
    run, started = runs.start(sys.argv[1], "detect", force=True)
    print(run.run_id, started, flush=True)
    time.sleep(3600)  # an app that keeps serving; the test kills it mid-run
''')


def _build_class(root: Path, learners: dict) -> None:
    # a fixed secret: the reference must score full marks on these learners' companies, and on a small
    # company a random one can now and then draw a company where it scores less (seen once in CI)
    course = init_course(root, data={"employees": 60, "days": 120}, secret=FIXED_SECRET)
    roster = root.parent / "roster.csv"
    roster.write_text("id\n" + "".join(f"{learner}\n" for learner in learners))
    assign(course, "detect", roster, progress=False)
    for learner, content in learners.items():
        target = root / "submitted" / learner / "detect"
        target.mkdir(parents=True)
        if content == "release":
            shutil.copy(root / "release" / "detect" / "detect.ipynb", target / "detect.ipynb")
        elif isinstance(content, Path):
            shutil.copy(content, target / "detect.ipynb")
        else:
            (target / "detect.ipynb").write_bytes(content)


def _wait(root: Path, seconds: float = 600, until=lambda run: run.finished) -> runs.GradingRun:
    deadline = time.monotonic() + seconds
    while True:
        run = runs.current(root, "detect")
        if run is not None and until(run):
            return run
        assert time.monotonic() < deadline, f"no end of the run: {run}"
        time.sleep(0.3)


def _alive_in_group(group: int) -> list[int]:
    """Processes of the process group that still run (a zombie nobody reaped has ended)."""
    alive = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group and fields[0] != "Z":
                alive.append(int(proc.name))
    return alive


def _gone(group: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while _alive_in_group(group):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _grade_from_an_app(root: Path, tmp_path: Path) -> runs.GradingRun:
    """Start grading from the app-like script, kill the app with SIGKILL once the batch grades, and
    follow the run from this process (an app restarted)."""
    script = tmp_path / "app.py"
    script.write_text(APP)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    app = subprocess.Popen([sys.executable, str(script), str(root)], stdout=subprocess.PIPE, env=env,
                           start_new_session=True, text=True)
    try:
        run_id, started = app.stdout.readline().split()
        assert started == "True"
        _wait(root, 300, until=lambda run: run.state == runs.RUNNING or run.finished)
        os.killpg(app.pid, signal.SIGKILL)  # the app dies; its batch goes on
        app.wait(30)
        run = _wait(root)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(app.pid, signal.SIGKILL)
        app.wait(30)
    assert run.run_id == run_id
    return run


def _assert_everyone_graded(root: Path, run: runs.GradingRun) -> None:
    log = runs.log_path(root, "detect").read_text(errors="replace")
    assert run.state == runs.FINISHED and run.error is None, log
    assert run.summary.startswith(f"detect: {len(CLASS)} graded, 0 unchanged since last run, 0 failed"), run.summary
    assert run.not_graded == {} and (run.done, run.total) == (len(CLASS), len(CLASS))
    assert "imported by a grading worker" not in log and "Nanny failed" not in log
    with gradebook(open_course(root)) as gb:
        assert sorted(s.student.id for s in gb.assignment_submissions("detect")) == sorted(CLASS)
        assert gb.find_submission("detect", "ada").score >= 3 > gb.find_submission("detect", "bob").score
        assert gb.find_submission("detect", "eve").score == gb.find_submission("detect", "fay").score == 0
    records = sorted(p.stem for p in (root / ".theater" / "grading" / "detect").glob("*.json"))
    assert records == sorted(CLASS)


@pytest.mark.slow
def test_the_app_grades_a_class_on_a_local_cluster_and_the_run_survives_the_app(tmp_path):
    root = tmp_path / "course"
    _build_class(root, CLASS)
    run = _grade_from_an_app(root, tmp_path)
    _assert_everyone_graded(root, run)
    assert _gone(run.pid)  # the batch and its cluster's workers exited


@pytest.mark.slow
def test_the_app_grades_a_class_on_the_dask_cluster_the_course_names(tmp_path):
    from tests.grader.test_dask import Cluster

    private = tmp_path / "private"
    root = private / "course"
    _build_class(root, CLASS)
    logs = tmp_path / "logs"
    logs.mkdir()
    cluster = Cluster(logs, hidden=private)
    try:
        cluster.client(2).close()
        with open(root / "theater.toml", "a") as handle:
            handle.write(f'\n[grading]\nscheduler = "{cluster.address}"\n')
        run = _grade_from_an_app(root, tmp_path)
        _assert_everyone_graded(root, run)
    finally:
        cluster.close()


def _class_with_an_endless_loop(root: Path) -> None:
    """ada hands in the reference solution, mia an answer cell that never ends."""
    _build_class(root, {"ada": SOURCE, "mia": "release"})
    looping = nbformat.read(root / "submitted" / "mia" / "detect" / "detect.ipynb", as_version=4)
    answer = next(c for c in looping.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
    answer.source = "while True:\n    pass\n"
    nbformat.write(looping, root / "submitted" / "mia" / "detect" / "detect.ipynb")


@pytest.mark.slow
def test_one_run_per_assignment_and_cancel_stops_the_batch_and_its_kernel(tmp_path):
    root = tmp_path / "course"
    _class_with_an_endless_loop(root)
    first, started = runs.start(root, "detect", learners=["mia"])
    second, again = runs.start(root, "detect", force=True)
    assert started and not again and second.run_id == first.run_id
    running = _wait(root, 300, until=lambda run: run.state == runs.RUNNING and run.pid)
    time.sleep(3)  # into the endless cell
    assert runs.cancel(root, "detect")
    run = _wait(root, 60)
    assert run.state == runs.CANCELLED and run.done == 0, runs.log_path(root, "detect").read_text()
    assert _gone(running.pid)  # the batch, its sandbox and its kernel
    assert not runs.cancel(root, "detect")  # nothing going any more
    # the next run starts again and grades what is asked
    third, restarted = runs.start(root, "detect", learners=["ada"])
    assert restarted and third.run_id != first.run_id
    done = _wait(root)
    assert done.state == runs.FINISHED and done.summary.startswith("detect: 1 graded"), done


@pytest.mark.slow
def test_cancel_on_a_local_cluster_keeps_what_was_graded_and_closes_the_cluster(tmp_path):
    root = tmp_path / "course"
    _class_with_an_endless_loop(root)
    runs.start(root, "detect")  # two submissions: a LocalCluster of two workers
    running = _wait(root, 600, until=lambda run: run.done >= 1 or run.finished)
    assert running.last == "ada: graded", running
    assert runs.cancel(root, "detect")
    run = _wait(root, 90)
    assert run.state == runs.CANCELLED and run.done == 1, runs.log_path(root, "detect").read_text()
    assert _gone(running.pid)  # the batch, its workers, mia's sandbox
    records = sorted(p.stem for p in (root / ".theater" / "grading" / "detect").glob("*.json"))
    assert records == ["ada"]  # mia was never committed: the next run grades her


def test_a_failed_run_says_why_in_one_line(tmp_path):
    run, started = runs.start(tmp_path, "detect")
    assert started
    run = _wait(tmp_path, 120)
    assert run.state == runs.FAILED and "\n" not in run.error and "theater.toml" in run.error, run.error


def test_a_run_whose_process_died_is_reported_not_shown_as_running(tmp_path):
    """A status left 'running' by a batch killed with -9 (nobody holds the lock any more)."""
    runs._write_status(runs.GradingRun(str(tmp_path), "detect", run_id="x", state=runs.RUNNING, pid=999999999))
    run = runs.current(tmp_path, "detect")
    assert run.finished and run.state == runs.FAILED and "grading again resumes the rest" in run.error
    assert json.loads(runs.status_path(tmp_path, "detect").read_text())["state"] == runs.RUNNING


def test_a_bad_scheduler_in_the_course_is_one_line_not_a_silent_local_run(tmp_path):
    course = init_course(tmp_path / "course")
    with open(course.root / "theater.toml", "a") as handle:
        handle.write('\n[grading]\nscheduler = "nowhere"\n')
    runs.start(course.root, "detect")
    run = _wait(course.root, 120)
    assert run.state == runs.FAILED and "is not a Dask scheduler address" in run.error, run.error
