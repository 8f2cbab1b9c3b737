"""Each learner's graded truths kept beside the course, so grading does not regenerate a company.

Scoring needs the truths of a learner's company (exercises.truth: who performed, the theater share,
the effect of access with its reference interval). Regenerating a course-size company for them
costs about a second of CPU per submission, as much as a third of what grading one takes, and the
same learner is graded again on every resubmission and regrade. The truths are computed once —
when the learner's data is released, or by the first grading — and stored under the course's
private state folder (`.theater/truths/ASSIGNMENT/LEARNER.pickle`, mode 0600, never in a release
or a download).

A stored entry is used only when it was made for the same generator version, data spec, seed and
graded truths (its key); anything else — an older entry, a damaged file, a course whose size
changed — is ignored and the company is regenerated, as without the cache. The files are written
by the grader only, so reading them with pickle trusts nothing a learner can write.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from exercises.assignments import Assignment, DataSpec

FOLDER = "truths"


def truth_names(assignment: Assignment) -> tuple[str, ...]:
    return tuple(sorted({part.truth for part in assignment.graded}))


def cache_key(assignment: Assignment, spec: DataSpec, seed: int) -> tuple:
    """What an entry must have been made for: the generator, the data, the learner, the truths."""
    from datasets.pipeline import GENERATOR_VERSION

    return (GENERATOR_VERSION, dataclasses.astuple(spec), int(seed), truth_names(assignment))


def compute(assignment: Assignment, company: Any) -> dict[str, Any]:
    """The truths every graded part of `assignment` is scored against, for one company."""
    from exercises.truth import TRUTHS

    return {name: TRUTHS[name](company) for name in truth_names(assignment)}


def _path(state_dir: Path, assignment: str, learner: str) -> Path:
    return Path(state_dir) / FOLDER / assignment / f"{learner}.pickle"


def load(state_dir: Path, assignment: Assignment, learner: str, key: tuple) -> bytes | None:
    """The stored truths (pickled, as a Job carries them) when they were made for `key`, else None."""
    try:
        stored = _path(state_dir, assignment.name, learner).read_bytes()
        entry = pickle.loads(stored)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError,
            TypeError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("truths"), dict):
        return None
    if set(entry["truths"]) != set(key[-1]):
        return None
    return pickle.dumps(entry["truths"])


def store(state_dir: Path, assignment: Assignment, learner: str, key: tuple, truths: dict[str, Any]) -> None:
    """Write the entry atomically, private to the course's owner; a failure only loses the shortcut."""
    if set(truths) != set(key[-1]):
        return
    target = _path(state_dir, assignment.name, learner)
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(prefix=".truths-", dir=target.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump({"key": key, "truths": truths}, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.chmod(temporary, 0o600)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        return
