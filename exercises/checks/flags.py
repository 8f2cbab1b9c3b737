"""Flag sets (`detect.*`): F1 of the flagged ids against the hidden ids.

Full credit from F1 >= FLAG_FULL_F1 (0.7), none at or below FLAG_ZERO_F1 (0.3, about what
flagging every AI user scores) or the F1 of flagging every AI user, linear in between.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from exercises.checks.bands import linear_credit
from exercises.checks.core import AppWidget, Example, Reading, check
from exercises.checks.readers import as_id_set

FLAG_FULL_F1 = 0.7
FLAG_ZERO_F1 = 0.3
FLAG_MARGIN = 0.15  # full credit needs at least this much F1 above flagging every AI user


def f1_score(flagged: set[str], truth: set[str]) -> tuple[float, float, float]:
    """(precision, recall, F1) of a set of flags against the true set."""
    hits = len(flagged & truth)
    precision = hits / len(flagged) if flagged else 0.0
    recall = hits / len(truth) if truth else (1.0 if not flagged else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1



def chance_f1(truth: Any) -> float:
    """F1 of flagging every AI user: the best any strategy blind to the signals can do.

    Flagging more people at random only raises recall, so flagging everyone who used AI is the
    best blind F1. The truth carries how many AI users there were (exercises.truth.EmployeeGroup,
    or a mapping with `ai_users`); without it (an old record), 0.
    """
    size = len(_truth_ids(truth))
    users = truth.get("ai_users") if isinstance(truth, Mapping) else getattr(truth, "ai_users", None)
    if not users or not size:
        return 0.0
    return 2 * size / (int(users) + size)


def _truth_ids(truth: Any) -> set[str]:
    if isinstance(truth, Mapping):
        truth = truth.get("ids", ())
    return {str(t) for t in truth}


def flag_thresholds(truth: Any) -> tuple[float, float]:
    """(zero, full): no credit at or below the F1 of flagging every AI user, full from FLAG_FULL_F1 or
    FLAG_MARGIN above that floor, linear in between."""
    zero = max(FLAG_ZERO_F1, chance_f1(truth))
    return zero, max(FLAG_FULL_F1, zero + FLAG_MARGIN)



def _flag_message(flagged: set[str], truth: Any, group: str) -> tuple[float, str, Reading]:
    precision, recall, f1 = f1_score(flagged, _truth_ids(truth))
    zero, full = flag_thresholds(truth)
    score = linear_credit(full - min(f1, full), 0.0, full - zero)
    users = truth.get("ai_users") if isinstance(truth, Mapping) else getattr(truth, "ai_users", None)
    reading = Reading("flags", "", flagged=len(flagged), precision=precision, recall=recall, f1=f1,
                      ai_users=None if users is None else int(users))
    if score >= 1.0:
        return score, f"Your flags separate the {group} well.", reading
    band = "no better than flagging every AI user" if score == 0.0 else "better than chance, not yet reliable"
    if precision < recall:
        lean = f"more of your flags land on people who are not {group} than you miss"
    elif recall < precision:
        lean = f"you miss more {group} than you wrongly flag"
    else:
        lean = "misses and wrong flags are about even"
    return score, f"Your flags are {band} ({len(flagged)} flagged): {lean}.", reading


def flag_misconceptions(group: str) -> dict[str, str]:
    """What an instructor reads from a flag set's reading (grader.review.read_flags)."""
    return {
        "every user": "reads any AI use as theater: volume alone is not the signal",
        "too many": f"mistakes heavy genuine users for {group}: token volume and session counts do not "
                    "separate them",
        "too few": f"flags only the most extreme cases and misses most {group}",
        "partly": f"some {group} found, with as many misses as wrong flags",
    }


def _flag_check(group: str):
    def score(answer: Any, truth: Any) -> tuple[float, str, Reading]:
        return _flag_message(as_id_set(answer), truth, group)

    return score


_TRUTH_12 = {f"E{n:05d}" for n in range(1, 11)}


@check(
    "detect.flag_tokenmaxxers",
    truth="tokenmaxxer_ids",
    widget=AppWidget("flag_employees"),
    misconceptions=flag_misconceptions("tokenmaxxers"),
    hints=[
        "Token volume and session counts alone do not separate them: that is the lesson.",
        "Compare what was asked with what was kept: acceptance and reuse of output.",
        "Link sessions to work items: is the usage connected to anything that closed or merged?",
    ],
    passing=[
        (sorted(_TRUTH_12), _TRUTH_12),
        Example(sorted(_TRUTH_12)[:8], _TRUTH_12, "8 of 10 found, no false flags: F1 0.89"),
        Example(pd.Series(sorted(_TRUTH_12)), _TRUTH_12, "a pandas Series of ids"),
    ],
    failing=[
        Example(["E00001", "E00050", "E00051", "E00052"], _TRUTH_12, "mostly false accusations"),
        Example([1, 2, 3], _TRUTH_12, "numbers instead of ids"),
        Example({"E00001": True}, _TRUTH_12, "a dict"),
    ],
)
def flag_tokenmaxxers(answer: Any, truth: Iterable[str]) -> tuple[float, str, Reading]:
    """F1 of the flagged employee ids against the hidden tokenmaxxers."""
    return _flag_check("tokenmaxxers")(answer, truth)


@check(
    "detect.flag_converts",
    truth="convert_ids",
    widget=AppWidget("flag_converts"),
    misconceptions=flag_misconceptions("converts"),
    hints=[
        "A convert's early weeks look like a tokenmaxxer's; their later weeks look genuine.",
        "Compare each person's acceptance and linked work before and after a change point.",
        "Look for usage that became more varied and more connected to merged work over time.",
    ],
    passing=[
        (["E00003", "E00007"], {"E00003", "E00007"}),
        Example("E00003, E00007", {"E00003", "E00007"}, "comma-separated text"),
    ],
    failing=[
        Example(["E00001", "E00002", "E00004", "E00005"], {"E00003", "E00007"}, "all wrong"),
        Example(42, {"E00003"}, "a number"),
    ],
)
def flag_converts(answer: Any, truth: Iterable[str]) -> tuple[float, str, Reading]:
    """F1 of the flagged employee ids against the hidden converts."""
    return _flag_check("converts")(answer, truth)
