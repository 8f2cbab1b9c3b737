"""A grade killed mid-run leaves its scratch folder (the learner's notebook and data) in the temporary
folder; the next grading on the host removes it, and never a folder that is still in use."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from grader import scratch
from grader.scratch import new_scratch, remove_stale_scratch
from grader.worker import Job, grade_one
from grader.sandbox import Limits

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch_root(tmp_path, monkeypatch):
    """The temporary folder the grader makes its scratch folders in, private to the test."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def _killed_grade(root: Path) -> Path:
    """A process that makes its scratch folder, writes a learner's file into it and is killed -9."""
    code = ("import sys, tempfile, time; tempfile.tempdir = sys.argv[1]\n"
            "from grader.scratch import new_scratch\n"
            "folder = new_scratch(); (folder / 'answers.json').write_text('{\"ada\": 1}')\n"
            "print(folder, flush=True); time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code, str(root)], stdout=subprocess.PIPE, text=True,
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    folder = Path(child.stdout.readline().strip())
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    assert (folder / "answers.json").is_file()
    return folder


def test_the_next_run_removes_a_killed_grades_scratch_folder(scratch_root):
    stale = _killed_grade(scratch_root)
    assert remove_stale_scratch() == [stale]
    assert not stale.exists()


def test_folders_of_live_processes_other_hosts_and_strangers_stay(scratch_root):
    mine = new_scratch()                                   # this process: still grading
    other_host = scratch_root / f"{scratch.SCRATCH_PREFIX}0000aaaa-999999-x"
    other_host.mkdir()
    not_ours = scratch_root / "theater-grade-notes"        # no pid in the name
    not_ours.mkdir()
    target = scratch_root / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("keep")
    dead_pid = _dead_pid()
    link = scratch_root / f"{scratch._scratch_prefix()}{dead_pid}-link"
    link.symlink_to(target, target_is_directory=True)      # a planted symlink is never followed
    assert remove_stale_scratch() == []
    assert mine.is_dir() and other_host.is_dir() and not_ours.is_dir()
    assert (target / "keep.txt").read_text() == "keep"


def test_a_day_old_folder_from_before_folders_named_their_process_is_removed(scratch_root):
    old, recent = scratch_root / "theater-grade-k2j4_x9a", scratch_root / "theater-grade-p0q1r2s3"
    for folder in (old, recent):
        folder.mkdir()
        (folder / "detect.ipynb").write_text("{}")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    assert remove_stale_scratch() == [old]
    assert recent.is_dir()   # could still be a running grade of an older version


def test_grading_a_submission_first_clears_stale_folders_and_leaves_none_of_its_own(scratch_root):
    stale = _killed_grade(scratch_root)
    job = Job(assignment=None, learner="ada", notebook=b"{}", student_json="{}", data=None, seed=1,
              generator_version="not-this-one", limits=Limits(), isolation="rlimits")
    outcome = grade_one(job)   # refused (another generator), after the sweep, before any work
    assert not outcome.ok and "generator" in outcome.error
    assert not stale.exists()
    assert list(scratch_root.iterdir()) == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)
    time.sleep(0.05)
    return child.pid
