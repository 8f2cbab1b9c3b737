"""Scratch folders: where one submission runs, and the cleanup of those a killed grading left.

Each folder is named after its host and process, so a later run on the same host can tell a
folder whose grading was killed from one still in use, and removes only the former.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import socket
import stat
import tempfile
import time
from pathlib import Path

LOG = logging.getLogger(__name__)

SCRATCH_PREFIX = "theater-grade-"
# Before folders carried their host and process (theater-grade-<8 random characters>): one that old
# is no running grade's (every run has a time limit far below this).
_LEGACY_SCRATCH = re.compile(r"theater-grade-[a-z0-9_]{8}")
LEGACY_SCRATCH_SECONDS = 24 * 3600


def _scratch_prefix() -> str:
    """theater-grade-<host>-: a temporary folder shared by several machines keeps each host's apart."""
    return f"{SCRATCH_PREFIX}{hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]}-"


def new_scratch() -> Path:
    """A private temporary folder for one submission's run, named after this host and process
    (theater-grade-<host>-<pid>-…) so a later run can tell one whose grading was killed from one
    still in use."""
    return Path(tempfile.mkdtemp(prefix=f"{_scratch_prefix()}{os.getpid()}-"))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale_scratch(folder: Path | None = None) -> list[Path]:
    """Delete the scratch folders of gradings on this host whose process is gone: a grade killed
    mid-run (a stopped app, a lost Dask worker, kill -9) cannot clean up after itself, and its folder
    holds the learner's notebook and data. Only our own folders (this user's, this host's, a dead
    process's; never a symlink) are touched. Returns the folders removed."""
    base = Path(folder) if folder is not None else Path(tempfile.gettempdir())
    prefix = _scratch_prefix()
    removed: list[Path] = []
    for path in base.glob(f"{SCRATCH_PREFIX}*"):
        try:
            info = path.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue
        if path.name.startswith(prefix):
            pid = path.name[len(prefix):].split("-", 1)[0]
            if not pid.isdigit() or _process_alive(int(pid)):
                continue
        elif not (_LEGACY_SCRATCH.fullmatch(path.name)
                  and time.time() - info.st_mtime > LEGACY_SCRATCH_SECONDS):
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    if removed:
        LOG.warning("removed %d scratch folder(s) left by killed gradings", len(removed))
    return removed
