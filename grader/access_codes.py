"""Learners' access codes, stored beside the course in .theater/access_codes.json.

`theater assign --roster` issues them (grader.assign) and the app checks them at sign-in
(course.auth), so they live here, below both: the grader never imports the app. The file keeps
learner id -> argon2 hash of the code, and only that; the plaintext codes go once to the
instructor. The locked, private JSON files are shared with course.auth's staff accounts.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from datasets.errors import UserError

# Access codes are 60 random bits, so a lighter hash than a person's password is as safe and keeps a
# 500-learner roster fast. Changing these parameters keeps old codes working (argon2 hashes carry
# their own), but every code issued since would be hashed differently: keep them unless there is a reason.
CODE_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: read aloud and typed safely
CODE_LENGTH = 12


class AuthError(UserError):
    """A staff account or access code that cannot be created or used; the message says why."""


# ----------------------------------------------------------------------------- credential files


def write_credentials(path: Path, data: Mapping) -> None:
    """Replace a credentials file atomically, readable by its owner only."""
    from grader.course_dir import write_private

    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def read_credentials(path: Path) -> dict:
    """A credentials file's JSON object; {} when there is none yet, AuthError when it is damaged."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise AuthError(f"{path}: cannot be read ({exc.__class__.__name__}); restore it from a backup") from None
    if not isinstance(loaded, dict):
        raise AuthError(f"{path}: expected a JSON object; restore it from a backup")
    return loaded


@contextlib.contextmanager
def credentials_lock(path: Path) -> Iterator[None]:
    """One writer at a time (the CLI and the app may both change a credentials file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def verify_hash(hasher: PasswordHasher, stored: str, given: str) -> bool:
    """Whether `given` matches an argon2 hash; a damaged hash is a mismatch, never a crash."""
    try:
        return hasher.verify(stored, given)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def hash_version(stored_hash: str) -> str:
    """A short fingerprint of a stored hash: sessions keep it, so a new secret ends old sessions."""
    return hashlib.sha256(stored_hash.encode()).hexdigest()[:12]


# ----------------------------------------------------------------------------- access codes


def normalise_code(code: str | None) -> str:
    """Codes are shown as XXXX-XXXX-XXXX; case, spaces and dashes do not matter when typed."""
    return re.sub(r"[\s-]+", "", code or "").upper()


def new_access_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def load_access_codes(path: Path) -> dict[str, str]:
    """learner id -> argon2 hash of their code; empty for a course without a roster."""
    return {str(k): str(v) for k, v in (read_credentials(path).get("learners") or {}).items()}


def issue_access_codes(path: Path, learner_ids: Iterable[str],
                       reissue: Iterable[str] = ()) -> dict[str, str]:
    """New codes for the learners who have none (and those in `reissue`): learner id -> code.

    Only hashes are kept; the returned plaintext codes are the instructor's to hand out. A learner
    who already has a code keeps it, so running `assign` again for the next assignment changes
    nothing; a re-issued code replaces the old one (and signs that learner out everywhere).
    """
    learner_ids = list(learner_ids)
    again = set(reissue)
    unknown = sorted(again - set(learner_ids))
    if unknown:
        raise AuthError(f"cannot re-issue a code for {', '.join(unknown)}: not on the roster")
    with credentials_lock(path):
        data = read_credentials(path)
        stored = data.setdefault("learners", {})
        issued = {}
        for learner in learner_ids:
            if learner in stored and learner not in again:
                continue
            code = new_access_code()
            stored[learner] = CODE_HASHER.hash(normalise_code(code))
            issued[learner] = code
        if issued:
            write_credentials(path, data)
    return issued


_DUMMY_CODE_HASH = CODE_HASHER.hash(normalise_code(new_access_code()))


def verify_access_code(codes: Mapping[str, str], learner_id: str, code: str | None) -> bool:
    """Whether `code` is the learner's; an unknown learner costs the same time as a known one."""
    stored = codes.get(learner_id)
    if stored is None:
        verify_hash(CODE_HASHER, _DUMMY_CODE_HASH, normalise_code(code))
        return False
    return bool(code) and verify_hash(CODE_HASHER, stored, normalise_code(code))


def code_version(codes: Mapping[str, str], learner_id: str) -> str:
    """The fingerprint of the learner's current code ("" without one): a re-issued code ends old sessions."""
    stored = codes.get(learner_id)
    return hash_version(stored) if stored else ""
