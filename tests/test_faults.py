"""Fault injection: `kill -9` at random points of generate, collect and progress writes.

After every kill the user's folder holds the old state or the new one, never a mix; a file the
user owns is never lost; whatever the killed run left behind is cleaned by the next run; and no
acknowledged progress write is lost.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import time
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

KILLS = 5


def _run_and_kill(work, seconds: float, *args) -> tuple[bool, int]:
    """Fork a child doing `work(write_ack, *args)`, SIGKILL it after `seconds`; return (whether it
    was still running, how many writes it acknowledged). Forking skips the imports: kills are cheap."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: do the work, never return into pytest
        os.close(read_end)
        try:
            work(lambda: os.write(write_end, b"."), *args)
        finally:
            os._exit(0)
    os.close(write_end)
    time.sleep(seconds)
    alive = os.waitpid(pid, os.WNOHANG) == (0, 0)
    if alive:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    acknowledged = 0
    with os.fdopen(read_end, "rb") as pipe:
        acknowledged = len(pipe.read())
    return alive, acknowledged


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _generate(ack, out: Path, seed: int) -> None:
    from datasets.api import generate_to_dir

    generate_to_dir("startup", 120, 40, seed, out, export="github-copilot", progress=False)
    ack()


def test_generate_killed_anywhere_leaves_the_old_company_or_the_new_one(tmp_path):
    from datasets.api import generate_to_dir, load_company

    out = tmp_path / "company"
    generate_to_dir("startup", 120, 40, 1, out, export="github-copilot")
    states = {"old": _digest(out)}
    started = time.perf_counter()  # timed once warm: kills fall anywhere in a run
    generate_to_dir("startup", 120, 40, 2, tmp_path / "reference", export="github-copilot")
    duration = time.perf_counter() - started
    states["new"] = _digest(tmp_path / "reference")
    rng = random.Random(12)
    killed = 0
    for _ in range(KILLS):
        alive, _ = _run_and_kill(_generate, rng.uniform(0.0, 1.2 * duration), out, 2)
        killed += alive
        now = _digest(out)
        assert now in (states["old"], states["new"]), "the folder mixes two companies"
        load_company(out)  # and it reads back
        if now == states["new"]:
            generate_to_dir("startup", 120, 40, 1, out, export="github-copilot")  # back to the old one
    assert killed >= 1
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".company.")]
    generate_to_dir("startup", 120, 40, 1, out, export="github-copilot")  # the next run cleans up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["company", "reference"], leftovers
    assert _digest(out) == states["old"]


def _collect(ack, course: Path, source: Path) -> None:
    from grader.collect import collect

    for _ in range(50):
        collect(course, source, "detect")
        ack()


def test_collect_killed_anywhere_never_leaves_a_half_written_submission(tmp_path):
    import nbformat

    from grader.collect import collect
    from grader.course_dir import gradebook, init_course

    course = init_course(tmp_path / "course", data={"employees": 20, "days": 30})
    learners = [f"l{n:02d}" for n in range(12)]
    with gradebook(course) as gb:
        for learner in learners:
            gb.update_or_create_student(learner)
    notebooks = {}
    source = tmp_path / "submissions.zip"
    with zipfile.ZipFile(source, "w") as archive:
        for learner in learners:
            nb = nbformat.v4.new_notebook()
            nb.cells = [nbformat.v4.new_code_cell(f"answer = {learner!r}  # " + "x" * 20000)]
            notebooks[learner] = nbformat.writes(nb).encode()
            archive.writestr(f"{learner}/detect.ipynb", notebooks[learner])
    rng = random.Random(7)
    for _ in range(KILLS):
        _run_and_kill(_collect, rng.uniform(0.0, 1.0), course.root, source)
        for learner in learners:
            folder = course.path("submitted", learner, "detect")
            if folder.exists():
                assert sorted(p.name for p in folder.iterdir()) == ["detect.ipynb", "timestamp.txt"]
                assert (folder / "detect.ipynb").read_bytes() == notebooks[learner]
    collect(course, source, "detect")
    for learner in learners:
        assert course.path("submitted", learner, "detect", "detect.ipynb").read_bytes() == notebooks[learner]
        assert sorted(p.name for p in course.path("submitted", learner).iterdir()) == ["detect"]


def _write_progress(ack, url: str) -> None:
    from course.progress import ProgressStore

    store = ProgressStore(url)
    for n in range(100000):
        store.record_attempt("ada", "module", f"item-{n}", "quiz", "a", True, 1.0, None)
        ack()


def test_progress_writes_killed_anywhere_lose_nothing_acknowledged(tmp_path):
    from course.progress import ProgressStore

    url = f"sqlite:///{tmp_path / 'progress.sqlite'}"
    ProgressStore(url).engine.dispose()
    rng = random.Random(3)
    expected = 0
    for _ in range(KILLS):
        _, acknowledged = _run_and_kill(_write_progress, rng.uniform(0.05, 0.6), url)
        store = ProgressStore(url)  # opens: quick_check passes, nothing is corrupt
        attempts = store.attempts_frame()
        store.engine.dispose()
        written = len(attempts) - expected
        assert acknowledged <= written <= acknowledged + 1, (acknowledged, written)
        assert attempts["item_id"].str.startswith("item-").all() and attempts["score"].notna().all()
        expected = len(attempts)
    assert expected > 0
