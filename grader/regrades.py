"""Regrade requests: a learner asks for a second look at a final graded result; staff answer with a note.

A request is a short text (at most MAX_TEXT characters) about one assignment. A learner has at most
one open request per assignment, and at most MAX_REQUESTS in all per assignment, so the queue
cannot be flooded; staff (instructors and teaching assistants) resolve a request with a note the
learner then reads beside their result. Changing the score is a separate, deliberate act (an
override, grader.overrides), never a side effect of answering.

Storage: one JSON file per learner and assignment, `.theater/regrades/<assignment>/<learner>.json`,
holding that learner's requests oldest first, written atomically under an flock (0600: it is
between the learner and the staff). The text is kept as written and shown as plain text only.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from datasets.errors import UserError
from grader.course_dir import Course, is_learner_id

REGRADES_DIR = "regrades"
MAX_TEXT = 1000  # characters of a request or of the answer to it
MAX_REQUESTS = 3  # per learner and assignment, open or answered
OPEN, RESOLVED = "open", "resolved"


class RegradeError(UserError):
    """A request or an answer that cannot be accepted; the message says why, for the person typing it."""


@dataclass(frozen=True)
class RegradeRequest:
    assignment: str
    learner: str
    number: int  # 1, 2, ... per learner and assignment
    text: str
    requested_at: str  # ISO 8601, UTC
    status: str = OPEN
    note: str = ""
    resolved_by: str = ""
    resolved_at: str = ""

    @property
    def is_open(self) -> bool:
        return self.status == OPEN


def _folder(course: Course, assignment: str) -> Path:
    return course.state_dir / REGRADES_DIR / assignment


def _path(course: Course, assignment: str, learner: str) -> Path:
    return _folder(course, assignment) / f"{learner}.json"


def _clean(text: str | None, what: str) -> str:
    """The text as the person meant it: trimmed, limited, without control characters but newlines and tabs."""
    cleaned = (text or "").replace("\r\n", "\n").strip()
    if not cleaned:
        raise RegradeError(f"Write your {what} first: it cannot be empty.")
    if len(cleaned) > MAX_TEXT:
        raise RegradeError(f"Your {what} is {len(cleaned)} characters long: keep it to {MAX_TEXT}.")
    if any(not ch.isprintable() and ch not in "\n\t" for ch in cleaned):
        raise RegradeError(f"Your {what} holds control characters: write plain text.")
    return cleaned


def _read(path: Path) -> list[RegradeRequest]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    fields = set(RegradeRequest.__dataclass_fields__)
    return [RegradeRequest(**{k: v for k, v in item.items() if k in fields})
            for item in data if isinstance(item, dict) and fields >= set(item) and "text" in item] \
        if isinstance(data, list) else []


def _write(path: Path, requests: list[RegradeRequest]) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump([asdict(r) for r in requests], handle, indent=1, ensure_ascii=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def _locked(course: Course, assignment: str, learner: str) -> Iterator[Path]:
    """One writer at a time per learner and assignment, across threads and processes."""
    folder = _folder(course, assignment)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(folder / f".{learner}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield _path(course, assignment, learner)
    finally:
        os.close(fd)


def _now(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")


def _check(course: Course, assignment: str, learner: str) -> None:
    if not is_learner_id(learner):
        raise RegradeError("You are not signed in with a valid learner id.")
    course.assignment(assignment)  # an unknown assignment is a CourseError


def requests_of(course: Course, assignment: str, learner: str) -> list[RegradeRequest]:
    """A learner's requests about one assignment, oldest first (what their result shows)."""
    _check(course, assignment, learner)
    return _read(_path(course, assignment, learner))


def can_request(course: Course, assignment: str, learner: str) -> str | None:
    """None when the learner may send a request now, else why not (for the page to say)."""
    from grader.submissions import learner_result

    mine = requests_of(course, assignment, learner)
    if any(r.is_open for r in mine):
        return "Your regrade request is with your instructor: you will see their answer here."
    if len(mine) >= MAX_REQUESTS:
        return f"You have sent {MAX_REQUESTS} regrade requests for this assignment, the most there can be."
    result = learner_result(course, assignment, learner)
    if result is None or not result.final:
        return "A regrade request is about a final graded result: there is none yet."
    return None


def request_regrade(course: Course, assignment: str, learner: str, text: str,
                    now: datetime | None = None) -> RegradeRequest:
    """File a learner's request about their final graded result (one open at a time)."""
    _check(course, assignment, learner)
    cleaned = _clean(text, "request")
    with _locked(course, assignment, learner) as path:
        why_not = can_request(course, assignment, learner)
        if why_not:
            raise RegradeError(why_not)
        mine = _read(path)
        request = RegradeRequest(assignment, learner, len(mine) + 1, cleaned, _now(now))
        _write(path, [*mine, request])
    return request


def open_requests(course: Course, assignment: str | None = None) -> list[RegradeRequest]:
    """The staff's queue: every open request (of one assignment, if given), oldest first."""
    root = course.state_dir / REGRADES_DIR
    folders = [root / assignment] if assignment else sorted(p for p in root.glob("*") if p.is_dir())
    found = []
    for folder in folders:
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
            if is_learner_id(path.stem):
                found.extend(r for r in _read(path) if r.is_open)
    return sorted(found, key=lambda r: (r.requested_at, r.learner))


def resolve(course: Course, assignment: str, learner: str, note: str, by: str,
            now: datetime | None = None) -> RegradeRequest:
    """Answer a learner's open request with a note they will read; returns the request as resolved."""
    _check(course, assignment, learner)
    cleaned = _clean(note, "answer")
    with _locked(course, assignment, learner) as path:
        mine = _read(path)
        index = next((i for i, r in enumerate(mine) if r.is_open), None)
        if index is None:
            raise RegradeError(f"{learner} has no open regrade request for {assignment}.")
        done = RegradeRequest(**{**asdict(mine[index]), "status": RESOLVED, "note": cleaned,
                                 "resolved_by": by or "staff", "resolved_at": _now(now)})
        mine[index] = done
        _write(path, mine)
    return done
