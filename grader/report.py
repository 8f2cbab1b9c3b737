"""What a grading run reports: one `LearnerGrade` per learner in a `GradeReport`, and `GradeError`.

Shared by every step of grading (grader.grade, grader.commit, grader.cluster), so it depends on
none of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from datasets.errors import UserError


class GradeError(UserError):
    """The assignment cannot be graded (not released, unknown, no course)."""


@dataclass
class LearnerGrade:
    learner: str
    score: float
    max_score: float
    parts: dict[str, float] = field(default_factory=dict)
    status: str = "graded"  # graded | resumed | error
    isolation: str = ""
    isolation_detail: str = ""
    integrity_flags: list[str] = field(default_factory=list)
    copy_flags: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    seconds: float = 0.0
    final: float | None = None  # what export writes: overrides win, the late penalty off (None: as `score`)
    adjustments: list[str] = field(default_factory=list)  # why `final` differs from the autograder's `score`
    to_grade: list[str] = field(default_factory=list)  # rubric parts waiting for a person (grader.rubric)


@dataclass
class GradeReport:
    assignment: str
    isolation: str
    learners: dict[str, LearnerGrade] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def errors(self) -> dict[str, LearnerGrade]:
        return {k: v for k, v in self.learners.items() if v.status == "error"}

    def summary(self) -> str:
        graded = sum(1 for g in self.learners.values() if g.status == "graded")
        resumed = sum(1 for g in self.learners.values() if g.status == "resumed")
        flagged = sum(1 for g in self.learners.values() if g.integrity_flags or g.copy_flags)
        isolations = sorted({g.isolation for g in self.learners.values() if g.isolation}) or [self.isolation]
        text = (f"{self.assignment}: {graded} graded, {resumed} unchanged since last run, "
                f"{len(self.errors)} failed, {flagged} flagged for review; isolation: {', '.join(isolations)}; "
                f"{self.seconds:.1f} s")
        for learner, g in sorted(self.learners.items()):
            if g.status == "error":  # no score: nothing was written for them (never shown as a 0)
                text += f"\n  {learner}: NOT GRADED [error] — " + "; ".join(g.comments)
                continue
            shown = g.score if g.final is None or not g.adjustments else g.final
            line = f"\n  {learner}: {shown:g}/{g.max_score:g} [{g.status}, {g.isolation or '-'}]"
            notes = ([f"autograder {g.score:g}, " + ", ".join(g.adjustments)] if g.adjustments and g.final is not None
                     else [])
            notes += [f"needs a manual grade: {', '.join(g.to_grade)}"] if g.to_grade else []
            notes += g.comments + [f"integrity: {f}" for f in g.integrity_flags] + [f"copy: {f}" for f in g.copy_flags]
            if notes:
                line += " — " + "; ".join(notes)
            text += line
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"assignment": self.assignment, "isolation": self.isolation, "seconds": self.seconds,
                "learners": {k: asdict(v) for k, v in self.learners.items()}}
