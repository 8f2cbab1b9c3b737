"""Per-learner practice rules: shuffled options, test forms, attempt budgets, mastery, feedback bands.

Everything here must be the same on every reload for one learner yet differ between learners, so
it is derived from keyed BLAKE2b hashes of the learner id (never Python's `hash()`, which is
salted per process). Pure logic: the pages call it, the tests call it, nothing imports streamlit.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import pandas as pd

from exercises.checks import CHECKS, LADDER, OFF, WITHIN, band_of_credit

T = TypeVar("T")

DEFAULT_ATTEMPT_BUDGET = 3          # checked attempts per exercise before the solution is shown
FORM_ORDERS = (("A", "B"), ("B", "A"))

_SHUFFLE_KEY = b"signal-or-theater/quiz-options/v1"
_FORM_KEY = b"signal-or-theater/test-forms/v1"


def keyed_unit(key: bytes, *parts: str) -> float:
    """A number in [0, 1) fixed by (key, parts) and unpredictable without the key."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), key=key[:64], digest_size=8)
    return int.from_bytes(digest.digest(), "big") / 2.0 ** 64


def variant_key(course_secret: str, learner_id: str, purpose: str) -> bytes:
    """The key of one learner's variant of one exercise: HMAC of the course secret, never the seed."""
    return hmac.new(course_secret.encode("utf-8"), f"variant:{purpose}:{learner_id}".encode("utf-8"),
                    hashlib.sha256).digest()


def shuffled(items: Sequence[T], learner_id: str, item_id: str) -> list[T]:
    """`items` in a per-learner order that survives reloads (options of one quiz question)."""
    ranks = [keyed_unit(_SHUFFLE_KEY, learner_id, item_id, str(i)) for i in range(len(items))]
    return [item for _, item in sorted(zip(ranks, items, strict=True), key=lambda pair: pair[0])]


def pre_post_forms(learner_id: str) -> tuple[str, str]:
    """(pre-test form, post-test form): half of the learners take A then B, the other half B then A."""
    return FORM_ORDERS[int(keyed_unit(_FORM_KEY, learner_id) * 2)]


@dataclass(frozen=True)
class AttemptState:
    """Where a learner stands on one exercise, from their checked attempts in order."""

    checked: int                 # attempts before the first success (exploration after it is free)
    succeeded: bool
    best: float | None
    budget: int

    @property
    def remaining(self) -> int:
        return max(0, self.budget - self.checked)

    @property
    def can_check(self) -> bool:
        """Checking stays open until the budget is spent; after a success it is free exploration."""
        return self.succeeded or self.remaining > 0

    @property
    def solution_unlocked(self) -> bool:
        return self.succeeded or self.remaining == 0


def attempt_state(scores: Sequence[float | None], pass_mark: float = 1.0,
                  budget: int = DEFAULT_ATTEMPT_BUDGET) -> AttemptState:
    """Count checked attempts up to the first success; `scores` are in the order they were made."""
    if budget < 1:
        raise ValueError(f"the attempt budget must be at least 1, got {budget}")
    checked, succeeded, best = 0, False, None
    for score in scores:
        value = _valid_score(score)
        best = value if best is None else max(best, value)
        if not succeeded:
            checked += 1
            succeeded = value >= pass_mark - 1e-9
    return AttemptState(checked=checked, succeeded=succeeded, best=best, budget=budget)


def mastery_item_score(scores: Sequence[float | None], pass_mark: float = 1.0) -> float:
    """The score an exercise contributes to mastery: the best once passed, else the latest.

    A learner who succeeds and then explores (tries a worse answer to see what happens) keeps
    the mastery they earned; before a success the latest attempt is what they know now.
    """
    values = [_valid_score(s) for s in scores]
    if not values:
        return 0.0
    best = max(values)
    return best if best >= pass_mark - 1e-9 else values[-1]


def _number_or_none(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):     # None, pandas' NA
        return None
    return None if math.isnan(number) else number


def _valid_score(score: float | None) -> float:
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return 0.0
    return min(1.0, max(0.0, float(score)))


# Banded feedback: the learner sees which band their answer falls in, never the exact credit,
# so two or three attempts cannot be solved for the expected value. The bands are the one ladder
# every surface uses (exercises.checks.bands): (floor, band id, sentence) here.
FEEDBACK_BANDS = tuple((band.floor, band.id, band.sentence) for band in LADDER)


def feedback_band(score: float) -> tuple[str, str]:
    """(band id, sentence) for a score in [0, 1]; no direction, no exact figure."""
    band = band_of_credit(_valid_score(score))
    return band.id, band.sentence


def budget_message(state: AttemptState) -> str:
    """One line under the check button: how many checked attempts are left, and what then."""
    if state.succeeded:
        return ("Solved. Further checks are practice: they never lower the mastery you earned.")
    if state.remaining == 0:
        return (f"You have used your {state.budget} checked attempts, so the solution is shown "
                "below. Work through it, then try the idea on the next module.")
    return (f"{state.remaining} of {state.budget} checked attempts left; after that the solution "
            "is shown.")


def learner_feedback(check_id: str, result) -> tuple[str, str]:
    """(band, text) the app shows for a checked answer: `result` is exercises.checks.Result.

    What may be shown is the check record's `visibility`: its own message (a check whose messages
    teach without a figure or a direction to search along), or the band alone (the exact score
    stays in the progress store for the instructor)."""
    if result.status == "not_attempted":
        return "not_attempted", result.message
    if result.status == "rejected" or CHECKS[check_id].visibility == "message":
        band = WITHIN.id if result.status == "correct" else OFF.id
        return band, result.message
    if result.status == "correct":
        return feedback_band(1.0)
    return feedback_band(min(result.score, 0.99))


# ----------------------------------------------------------------------------- degenerate answers

@dataclass(frozen=True)
class Rejected:
    """An answer refused before it is scored: it does not use up an attempt."""

    message: str
    status: str = "rejected"
    score: float = 0.0

    @property
    def correct(self) -> bool:
        return False


# Kinds whose first answer is the one mastery counts: a question shows its explained feedback at
# once, so a second answer is practice (answering until right would make every learner proficient).
FIRST_ANSWER_KINDS = ("quiz", "retrieval", "review")


def _passed(correct) -> bool:
    return _number_or_none(correct) == 1.0


def mastery_scores(scored: pd.DataFrame, keys: Sequence[str] = ()) -> pd.Series:
    """Per (keys..., item_id), the score mastery counts, from attempts oldest first.

    A question (quiz, retrieval, review) counts its first answer; later answers are practice.
    An exercise counts its best score once it has been passed (the recorded `correct` flag, so a
    pass mark below 100% counts as passed when the check said so), else its latest.
    """
    index = [*keys, "item_id"]
    if scored.empty:
        return pd.Series(dtype="float64")
    frame = scored[[*index, "kind"]].copy()
    frame["_score"] = [_valid_score(_number_or_none(s)) for s in scored["score"]]
    frame["_passed"] = [_passed(c) for c in scored["correct"].astype(object)]
    groups = frame.groupby(index, sort=False)
    first, last = groups["_score"].first(), groups["_score"].last()
    exercise_rule = groups["_score"].max().where(groups["_passed"].any(), last)
    question = groups["kind"].first().isin(FIRST_ANSWER_KINDS)
    return first.where(question, exercise_rule).astype("float64")


def mastery_item_scores(scored: pd.DataFrame) -> dict[str, float]:
    """Per item of one learner's module, the score mastery counts (see mastery_scores).

    `scored`: the learner's scored attempts of one module (a progress-store frame with item_id,
    kind, score and correct, oldest first).
    """
    scores = mastery_scores(scored)
    return {str(key[0] if isinstance(key, tuple) else key): float(value)
            for key, value in scores.items()}


def reviews_passed(reviews: pd.DataFrame, keys: Sequence[str] = ()) -> pd.Series | bool:
    """Whether a later, mixed review of a module was answered right, per keys (or overall when
    keys is empty): the first answer to each review item counts, like any question's."""
    if reviews.empty:
        return False if not keys else pd.Series([], dtype=bool)
    frame = reviews[[*keys, "item_id"]].copy()
    frame["_passed"] = [_passed(c) for c in reviews["correct"].astype(object)]
    first = frame.groupby([*keys, "item_id"], sort=False)["_passed"].first()
    if not keys:
        return bool(first.any())
    return first.groupby(level=list(keys), sort=False).any()


def blind_flags_problem(flagged: int, ai_users: int) -> str | None:
    """Flagging every AI user (or more) is not a detector: refused before scoring."""
    if ai_users and flagged >= ai_users:
        return (f"Your detector flags all {ai_users} AI users: that accuses everyone and finds "
                "nobody. Raise the threshold or tighten the rule. This answer did not use up an "
                "attempt.")
    return None
