"""Grading on a real Dask cluster: a `dask scheduler` and `dask worker` processes on localhost.

The workers run in a mount namespace where the course directory does not exist, so a grade can
only come from what the task carries (notebook bytes, release, assignment, data spec, the
learner's seed), never from the grader's disk.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from grader.assign import assign
from grader.course_dir import CourseError, gradebook, init_course, open_course
from grader.grade import NOT_RUN, GradeError, grade
from grader.sandbox import ISOLATION_BWRAP, Limits
from tests.grader.hostile.corpus import NOTEBOOKS

pytestmark = [pytest.mark.xdist_group("dask-cluster"),
              pytest.mark.skipif(shutil.which("bwrap") is None, reason="the cluster's workers need bubblewrap")]

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "exercises" / "source" / "detect" / "detect.ipynb"
LIMITS = Limits(cell_timeout=30, notebook_timeout=90)
DASK = Path(sys.executable).parent / "dask"
# learner -> what they submit: two reference solutions and an honest-but-wrong one run in the
# sandbox; a broken file and a missing notebook are graded without running anything
CLASS = {"ada": SOURCE, "bob": NOTEBOOKS / "baseline.ipynb", "cy": SOURCE, "eve": b"{not a notebook", "fay": None}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """A scheduler and workers as separate process groups, each killed with SIGKILL at teardown."""

    def __init__(self, logs: Path, hidden: Path, workers: int = 2, no_bwrap: bool = False):
        self.logs, self.hidden, self.no_bwrap = logs, hidden, no_bwrap
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.processes: list[subprocess.Popen] = []
        env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "2"}
        self._start(["scheduler", "--host", "127.0.0.1", "--port", self.address.rsplit(":", 1)[1],
                     "--no-dashboard", "--dashboard-address", "127.0.0.1:0"], "scheduler", env, sandboxed=False)
        self.worker_env = env
        for _ in range(workers):
            self.add_worker()

    def _start(self, args: list[str], name: str, env: dict, sandboxed: bool) -> subprocess.Popen:
        command = [str(DASK), *args]
        if sandboxed:  # the worker's view of the machine: everything but the course directory
            hide = ["--tmpfs", str(self.hidden)]
            if self.no_bwrap:
                hide += ["--ro-bind", "/dev/null", shutil.which("bwrap")]
            command = ["bwrap", "--dev-bind", "/", "/", "--cap-add", "ALL", *hide, "--die-with-parent", "--",
                       *command]
        log = open(self.logs / f"{name}-{len(self.processes)}.log", "wb")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd="/",
                                   start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def add_worker(self) -> None:
        self._start(["worker", self.address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard"],
                    "worker", self.worker_env, sandboxed=True)

    def client(self, workers: int):
        from distributed import Client

        deadline = time.monotonic() + 120
        while True:
            try:
                client = Client(self.address, timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        client.wait_for_workers(workers, timeout=180)
        return client

    def close(self) -> None:
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=30)


def _build_class(root: Path) -> None:
    course = init_course(root, data={"employees": 60, "days": 120}, secret="graded-class-2")  # fixed: see test_runs
    roster = root.parent / "roster.csv"
    roster.write_text("id\n" + "".join(f"{learner}\n" for learner in CLASS))
    assign(course, "detect", roster, progress=False)
    for learner, content in CLASS.items():
        target = root / "submitted" / learner / "detect"
        target.mkdir(parents=True)
        if isinstance(content, Path):
            shutil.copy(content, target / "detect.ipynb")
        elif content is not None:
            (target / "detect.ipynb").write_bytes(content)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    private = tmp_path_factory.mktemp("dask-course")  # hidden from the workers
    root = private / "course"
    _build_class(root)
    logs = tmp_path_factory.mktemp("dask-logs")
    cluster = Cluster(logs, hidden=private)
    client = cluster.client(2)
    try:
        yield {"root": root, "cluster": cluster, "client": client}
    finally:
        client.close()
        cluster.close()


def _scores(report) -> dict[str, tuple]:
    return {k: (g.score, g.parts, g.isolation) for k, g in sorted(report.learners.items())}


@pytest.mark.slow
def test_a_cluster_without_the_course_grades_exactly_as_this_machine(setup):
    root, cluster, client = setup["root"], setup["cluster"], setup["client"]
    assert set(client.run(os.path.exists, str(root)).values()) == {False}  # the workers cannot see the course
    local = grade(root, "detect", workers=1, progress=False, limits=LIMITS)
    assert local.errors == {} and local.learners["ada"].score >= 3 > local.learners["bob"].score
    remote = grade(root, "detect", progress=False, limits=LIMITS, force=True, scheduler=cluster.address)
    assert remote.errors == {}
    assert _scores(remote) == _scores(local)
    assert remote.learners["eve"].isolation == NOT_RUN and remote.learners["ada"].isolation == ISOLATION_BWRAP
    assert local.learners["ada"].copy_flags == [] and remote.learners["cy"].copy_flags == local.learners["cy"].copy_flags
    with gradebook(open_course(root)) as gb:
        for learner, result in remote.learners.items():
            assert gb.find_submission("detect", learner).score == pytest.approx(result.score)
    nb = nbformat.read(root / "autograded" / "ada" / "detect" / "detect.ipynb", as_version=4)
    assert any(c.metadata.get("nbgrader", {}).get("grade_id") == "flagged_tokenmaxxers" for c in nb.cells)


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_nothing_and_counts_nothing_twice(setup):
    root, cluster, client = setup["root"], setup["cluster"], setup["client"]
    if len(client.nthreads()) < 2:
        cluster.add_worker()
        client.wait_for_workers(2, timeout=180)
    shutil.rmtree(root / ".theater" / "grading" / "detect", ignore_errors=True)
    killed: list[str] = []
    seen: list[tuple[str, int, int]] = []

    def kill_a_busy_worker(result, done, total):
        seen.append((result.learner, done, total))
        if killed:
            return
        busy = [address for address, keys in client.processing().items() if keys]
        assert busy, "a worker should still be grading when the first result arrives"
        pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
        os.killpg(os.getpgid(pid), signal.SIGKILL)  # the worker, its nanny and its sandbox, at once
        killed.append(busy[0])

    report = grade(root, "detect", progress=False, limits=LIMITS, force=True, scheduler=cluster.address,
                   on_result=kill_a_busy_worker)
    assert killed
    assert report.errors == {}
    assert {g.status for g in report.learners.values()} == {"graded"}
    assert sorted(learner for learner, _, _ in seen) == sorted(CLASS)  # each result reported once
    assert [done for _, done, _ in seen] == list(range(1, len(CLASS) + 1))
    records = sorted(p.stem for p in (root / ".theater" / "grading" / "detect").glob("*.json"))
    assert records == sorted(CLASS)
    with gradebook(open_course(root)) as gb:
        submissions = gb.assignment_submissions("detect")
        assert sorted(s.student.id for s in submissions) == sorted(CLASS)
        for learner, result in report.learners.items():
            submission = gb.find_submission("detect", learner)
            assert submission.score == pytest.approx(result.score)
            assert len(submission.notebooks) == 1
    for learner in ("ada", "cy"):
        record = json.loads((root / ".theater" / "grading" / "detect" / f"{learner}.json").read_text())
        assert record["grade"]["score"] == report.learners[learner].score


@pytest.mark.slow
def test_workers_without_bubblewrap_refuse_every_submission(tmp_path):
    root = tmp_path / "private" / "course"
    root.parent.mkdir()
    _build_class(root)
    cluster = Cluster(tmp_path, hidden=root.parent, workers=1, no_bwrap=True)
    try:
        cluster.client(1).close()
        report = grade(root, "detect", progress=False, limits=LIMITS, scheduler=cluster.address,
                       learners=["ada", "eve"])
    finally:
        cluster.close()
    assert sorted(report.errors) == ["ada", "eve"]
    for result in report.errors.values():
        assert "cannot run the bubblewrap sandbox" in result.comments[0] and "retried" in result.comments[0]
    assert not (root / "autograded").exists() or not any((root / "autograded").iterdir())
    assert not (root / ".theater" / "grading").exists()


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path, monkeypatch):
    import grader.cluster

    monkeypatch.setattr(grader.cluster, "CONNECT_TIMEOUT", 2)
    root = tmp_path / "course"
    assign(init_course(root, data={"employees": 20, "days": 30}), "detect", _roster(tmp_path), progress=False)
    (root / "submitted" / "ada" / "detect").mkdir(parents=True)
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(GradeError, match=f"cannot reach the Dask scheduler at {address}"):
        grade(root, "detect", progress=False, scheduler=address)


def _roster(folder: Path) -> Path:
    path = folder / "roster.csv"
    path.write_text("id\nada\n")
    return path


def test_the_courses_scheduler_setting_is_read_and_checked(tmp_path):
    from grader.grade import grading_scheduler

    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30})
    assert grading_scheduler(course) is None
    settings = course.root / "theater.toml"
    base = settings.read_text()
    for value, expected in (('"tcp://10.1.2.3:8786"', "tcp://10.1.2.3:8786"), ('"local"', None)):
        settings.write_text(base + f"\n[grading]\nscheduler = {value}\n")
        assert grading_scheduler(open_course(course.root)) == expected
    settings.write_text(base + '\n[grading]\nscheduler = "10.1.2.3"\n')
    with pytest.raises(CourseError, match=r"theater.toml \[grading\] scheduler: '10.1.2.3' is not a Dask scheduler"):
        open_course(course.root)  # checked once, when the course opens


def test_a_worker_with_another_generator_refuses_the_job():
    from exercises.assignments import DataSpec, load_assignment
    from grader.grade import Job, grade_one

    job = Job(assignment=load_assignment(ROOT / "exercises" / "source" / "detect"), learner="ada",
              notebook=SOURCE.read_bytes(), student_json=SOURCE.read_text(), data=DataSpec(employees=20, days=30),
              seed=1, generator_version="0.9", limits=LIMITS, isolation="rlimits")
    outcome = grade_one(job)
    assert not outcome.ok and "generator" in outcome.error and "0.9" in outcome.error
    assert outcome.notebook_json == "" and outcome.parts == {}
