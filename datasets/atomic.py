"""Folders that appear whole or not at all: build beside the target, then swap in one step.

Shared by `theater generate` (a company folder) and `theater collect` (a submission folder). A run
builds in a hidden sibling `.NAME.tmp-*` that it holds locked (flock) while it lives; a run killed
by `kill -9` leaves that folder unlocked, and the next run removes it. The swap with an existing
folder is one atomic exchange (Linux renameat2 RENAME_EXCHANGE), so a reader never finds the
target missing; elsewhere it falls back to two renames.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths atomically; False where the system or file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))


class LockedTempDir:
    """A fresh hidden sibling folder `.NAME.tmp-*`, locked until close() so no cleaner touches it."""

    def __init__(self, target: Path):
        self.path = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        self._fd: int | None = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def replace_folder(built: Path, target: Path) -> Path | None:
    """Put `built` at `target`; return where the previous `target` now is (None if there was none).

    The previous folder is moved to a hidden `.NAME.old-*` sibling, for the caller to empty.
    """
    if not target.exists():
        built.rename(target)
        return None
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    old.rmdir()
    if exchange(built, target):
        built.rename(old)
    else:
        target.rename(old)
        built.rename(target)
    return old


def clean_stale(target: Path, empty_old: Callable[[Path], None] = lambda path: shutil.rmtree(path, True)) -> None:
    """Remove what killed runs left beside `target`: temporary folders no live run holds locked.

    A `.NAME.tmp-*` folder holds only what that run wrote, so it goes whole; a `.NAME.old-*` folder
    is a replaced target, emptied by `empty_old` (which may keep what it does not own).
    """
    try:
        candidates = [path for path in target.parent.iterdir()
                      if path.name.startswith((f".{target.name}.tmp-", f".{target.name}.old-"))]
    except OSError:
        return
    for path in candidates:
        if path.is_symlink() or not path.is_dir():
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a live run holds it
            os.close(fd)
            continue
        try:
            if path.name.startswith(f".{target.name}.tmp-"):
                shutil.rmtree(path, ignore_errors=True)
            else:
                empty_old(path)
        finally:
            os.close(fd)
