"""Who holds a lock on an SQLite file, and what to tell a user when a database is busy.

Lowest layer (datasets), so the progress store (course) and the gradebook (grader) name the same
program the same way: a locked database is contention, not damage, and the message says who.
"""

from __future__ import annotations

from pathlib import Path

PROC_LOCKS = Path("/proc/locks")


def lock_holders(path: Path, locks: Path = PROC_LOCKS) -> list[str]:
    """The programs holding a lock on an SQLite file (or its -wal/-shm), as "name (pid N)", those
    with a write lock first; Linux only (/proc/locks), empty elsewhere or when nothing is found."""
    import os

    import psutil

    files: set[tuple[int, int, int]] = set()
    for suffix in ("", "-wal", "-shm"):
        try:
            info = os.stat(f"{path}{suffix}")
        except OSError:
            continue
        files.add((os.major(info.st_dev), os.minor(info.st_dev), info.st_ino))
    try:
        lines = locks.read_text().splitlines()
    except OSError:
        return []
    writers: list[int] = []
    readers: list[int] = []
    for line in lines:
        fields = line.split()
        if "->" in fields:        # a waiter on someone else's lock, not a holder
            continue
        try:
            kind, pid, where = fields[3], int(fields[4]), fields[5].split(":")
            key = (int(where[0], 16), int(where[1], 16), int(where[2]))
        except (IndexError, ValueError):
            continue
        if key in files:
            (writers if kind == "WRITE" else readers).append(pid)
    names = []
    for pid in dict.fromkeys(writers + readers):
        try:
            names.append(f"{psutil.Process(pid).name()} (pid {pid})")
        except psutil.Error:
            names.append(f"pid {pid}")
    return names


def is_locked_error(exc: BaseException) -> bool:
    """Whether an exception (or one it was raised from) is SQLite saying the database is locked."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc).lower()
        if "database is locked" in text or "database table is locked" in text:
            return True
        exc = exc.__cause__ or exc.__context__ or getattr(exc, "orig", None)
    return False


def busy_message(what: str, path: Path | str | None) -> str:
    """One line for a user: which database is busy, who holds it (where known), and what to do."""
    holders = lock_holders(Path(path)) if path else []
    who = f" (held by {', '.join(holders)})" if holders else ""
    where = f" {path}" if path else ""
    return (f"{what}{where} is busy: another program holds a lock on it{who}. Nothing was changed; "
            "wait for it to finish (a grading run, an open database tool) and try again.")
