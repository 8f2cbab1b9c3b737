"""Copy detection: an answer that fits another learner's data better than the learner's own.

Every learner has a private company, so a copied answer scores well against the *source's*
hidden truth and poorly against the copier's. For each graded part we score each learner's
answer against every other learner's truth with the same check the grader uses; a clearly better
fit elsewhere is flagged with the other learner's id. Flags are for the instructor only: they
never go into a learner's feedback (they would name another learner).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exercises.checks import run_check

MIN_OTHER_SCORE = 0.5  # the answer must fit the other learner's data reasonably well …
MIN_MARGIN = 0.25  # … and clearly better than the learner's own


@dataclass(frozen=True)
class CopyFlag:
    learner: str
    grade_id: str
    other: str
    own_score: float
    other_score: float

    def __str__(self) -> str:
        return (f"{self.grade_id}: answer fits {self.other}'s data ({self.other_score:.2f}) "
                f"better than the learner's own ({self.own_score:.2f})")


def detect_copies(
    answers: Mapping[str, Mapping[str, Any]],
    truths: Mapping[str, Mapping[str, Any]],
    checks: Mapping[str, str],
) -> list[CopyFlag]:
    """answers[learner][grade_id], truths[learner][grade_id], checks[grade_id] -> flags, best match per part."""
    flags: list[CopyFlag] = []
    for learner, parts in sorted(answers.items()):
        for grade_id, answer in sorted(parts.items()):
            if answer is None or grade_id not in checks or grade_id not in truths.get(learner, {}):
                continue
            check_id = checks[grade_id]
            own = run_check(check_id, answer, truths[learner][grade_id]).score
            best: tuple[float, str] | None = None
            for other, other_truths in truths.items():
                if other == learner or grade_id not in other_truths:
                    continue
                score = run_check(check_id, answer, other_truths[grade_id]).score
                if best is None or score > best[0]:
                    best = (score, other)
            if best and best[0] >= MIN_OTHER_SCORE and best[0] - own >= MIN_MARGIN:
                flags.append(CopyFlag(learner, grade_id, best[1], round(own, 3), round(best[0], 3)))
    return flags
