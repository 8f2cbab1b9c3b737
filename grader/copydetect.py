"""Copy detection that accuses only the improbable.

Every learner has a private company, and the companies differ (datasets/variation.py), so honest
answers spread across the class. A match is evidence of copying only when it would be unlikely
between honest learners of *this* class:

- numbers: two answers (or an answer and a classmate's hidden truth) closer than the precision
  they are written with, judged against the spread of the class's truths — the chance that honest
  answers land that close is erf(d / 2s) (d: the distance, at least the answers' rounding step;
  s: a robust spread of the truths). Two learners who both write 0.3 are not accused; two who both
  write 0.30718254 are.
- an estimate pair (`measure`'s finding, an object of numbers): each number as above, against the
  spread of its own truths; the chances multiply (the numbers come from different analyses), so
  a pair copied to a few digits is improbable even when each number alone would not be.
- id sets: the overlap of two sets of flagged ids, against the hypergeometric chance of so many
  shared ids among the ids seen in the class.

The chance is multiplied by the number of comparisons in the class (Bonferroni) and a flag needs
it below ALPHA. The flag also needs direction: the flagged learner's answer fits the classmate's
data better than their own (an answer copied from the source fits the source's data), or, when
both fits reach the check's cap, lies closer to the classmate's truth than to their own; so the
source is not accused. Flags are for the instructor only: they never go into a learner's
feedback (they would name another learner).

Written answers (rubric parts, read by a person) are compared by their distinctive five-word
phrases (`phrase_prints`): phrases of the released notebook are removed in the worker, and phrases
that many learners share (the course's own wording, a common sentence) are removed here. Two
memos written apart share almost none of what is left; a pair that shares at least SHARED_TEXT of
the shorter one's phrases is flagged on both sides, because text does not tell who wrote first.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from exercises.checks import Incorrect, as_id_set, as_number, run_check

ALPHA = 0.01  # chance, over the whole class, of accusing someone whose answers match by luck
MIN_MARGIN = 0.25  # an answer that fits a classmate's data must fit it this much better than its own
PHRASE_WORDS = 5      # a written answer's phrases: every run of five words
MAX_PRINTS = 4000     # the smallest phrase hashes kept per answer (a bottom-k sketch of a long text)
MIN_PRINTS = 25       # an answer with fewer distinctive phrases is too short to compare
SHARED_TEXT = 0.5     # share of the shorter answer's distinctive phrases two answers must share
COMMON_SHARE = 0.2    # a phrase in more than this share of the class (and at least 3) is common wording


@dataclass(frozen=True)
class CopyFlag:
    learner: str
    grade_id: str
    other: str
    own_score: float
    other_score: float
    kind: str = "data"  # "data": fits the classmate's hidden truth; "answer": matches their answer
    chance: float = 0.0

    def __str__(self) -> str:
        what = f"fits {self.other}'s data" if self.kind == "data" else f"matches {self.other}'s answer"
        return (f"{self.grade_id}: answer {what} ({self.other_score:.2f} on {self.other}'s data, "
                f"{self.own_score:.2f} on the learner's own); chance of so close a match by luck "
                f"about {self.chance:.1g}")


def _decimals(value: float) -> int:
    text = repr(float(value))
    if "e" in text or "E" in text:
        mantissa, exponent = re.split("[eE]", text)
        return max(0, len(mantissa.split(".")[1]) if "." in mantissa else 0) - int(exponent)
    return len(text.split(".")[1].rstrip("0")) if "." in text else 0


def _step(*values: float) -> float:
    """The rounding step of the least precise value: a match finer than this means nothing."""
    return 10.0 ** -min(_decimals(v) for v in values)


def _spread(values: list[float]) -> float:
    """A robust spread of the class's truths (MAD scaled to a standard deviation)."""
    array = np.asarray(values, dtype=float)
    if len(array) < 2:
        return float("nan")
    mad = 1.4826 * float(np.median(np.abs(array - np.median(array))))
    return mad if mad > 0 else float(array.std())


def number_match_chance(a: float, b: float, spread: float) -> float:
    """Chance that two honest numbers with this class spread land at least this close."""
    if not spread or not math.isfinite(spread):
        return 1.0
    distance = max(abs(a - b), _step(a, b))
    return math.erf(distance / (2.0 * spread))


def set_overlap_chance(a: set[str], b: set[str], population: int) -> float:
    """Hypergeometric chance that a random set of |a| ids shares at least |a & b| with b."""
    shared, n, k = len(a & b), len(a), len(b)
    population = max(population, n, k)
    if shared == 0 or not n or not k:
        return 1.0
    total = math.comb(population, n)
    tail = sum(math.comb(k, x) * math.comb(population - k, n - x) for x in range(shared, min(n, k) + 1))
    return tail / total


def _as_number(value: Any) -> float | None:
    try:
        return as_number(value, "an estimate")
    except Incorrect:
        return None


def _as_ids(value: Any) -> set[str] | None:
    try:
        return as_id_set(value)
    except Incorrect:
        return None


def detect_copies(
    answers: Mapping[str, Mapping[str, Any]],
    truths: Mapping[str, Mapping[str, Any]],
    checks: Mapping[str, str],
    tolerances: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[CopyFlag]:
    """answers[learner][grade_id], truths[learner][grade_id], checks[grade_id] -> flags, the most
    improbable match per learner and part. `tolerances[grade_id]`: a graded part's own tolerance
    (GradedPart.tolerances), so a fit is scored as the part is graded."""
    flags: list[CopyFlag] = []
    for grade_id, check_id in sorted(checks.items()):
        given = {k: v[grade_id] for k, v in answers.items() if v.get(grade_id) is not None}
        known = {k: v[grade_id] for k, v in truths.items() if v.get(grade_id) is not None}
        if not given or len(known) < 2:
            continue
        comparisons = max(len(known) * (len(known) - 1), 1)
        chance = _chance_function(given, known)
        distance = _distance_function(given, known)
        tolerance = (tolerances or {}).get(grade_id)
        for learner, answer in sorted(given.items()):
            if learner not in known:
                continue
            own = run_check(check_id, answer, known[learner], tolerance=tolerance).score
            best: CopyFlag | None = None
            for other in sorted(known):
                if other == learner:
                    continue
                fit = run_check(check_id, answer, known[other], tolerance=tolerance).score
                candidates = [("data", chance(answer, known[other]), fit >= own + MIN_MARGIN and fit >= 0.5)]
                if other in given:
                    candidates.append(("answer", chance(answer, given[other]),
                                       _copied_from(fit, own, distance(answer, known[other]),
                                                    distance(answer, known[learner]))))
                for kind, p, directed in candidates:
                    p = min(1.0, p * comparisons)
                    if directed and p < ALPHA and (best is None or p < best.chance):
                        best = CopyFlag(learner, grade_id, other, round(own, 3), round(fit, 3), kind, p)
            if best is not None:
                flags.append(best)
    return sorted(flags, key=lambda f: (f.learner, f.grade_id))


def _copied_from(fit: float, own: float, to_other: float, to_own: float) -> bool:
    """Direction of an answer that matches a classmate's: it fits the classmate's data better than
    the learner's own, or, when the two fits tie (both at full marks, the check's cap), it lies
    closer to the classmate's truth. The source's answer was worked out on the source's data, so it
    lies closer to the source's own truth: the source is not accused."""
    if fit != own:
        return fit > own
    return to_other < to_own


def _distance_function(given: Mapping[str, Any], known: Mapping[str, Any]):
    """How far an answer lies from a truth, uncapped (a check's score stops at full marks): numbers
    in units of the class's spread of truths, summed over an estimate pair; id sets as 1 − Jaccard."""
    keys = _number_keys(known)
    if keys:
        spreads = {key: _spread([_as_number(t[key]) for t in known.values()]) for key in keys}

        def estimates(a: Any, b: Any) -> float:
            if not isinstance(a, Mapping) or not isinstance(b, Mapping):
                return math.inf
            total, compared = 0.0, 0
            for key in keys:
                x, y = _as_number(a.get(key)), _as_number(b.get(key))
                if x is not None and y is not None:
                    total += abs(x - y) / (spreads[key] if spreads[key] and math.isfinite(spreads[key]) else 1.0)
                    compared += 1
            return total if compared else math.inf

        return estimates
    truth_numbers = [_as_number(t["value"] if isinstance(t, Mapping) and "value" in t else t)
                     for t in known.values()]
    if all(v is not None for v in truth_numbers):

        def numbers(a: Any, b: Any) -> float:
            x = _as_number(a)
            y = _as_number(b["value"] if isinstance(b, Mapping) and "value" in b else b)
            return math.inf if x is None or y is None else abs(x - y)

        return numbers

    def id_sets(a: Any, b: Any) -> float:
        x = _as_ids(a)
        y = _as_ids(b.get("ids", ()) if isinstance(b, Mapping) else b)
        return math.inf if not x or not y else 1.0 - len(x & y) / len(x | y)

    return id_sets


def _number_keys(known: Mapping[str, Any]) -> list[str]:
    """The keys every truth holds as a number, when the truths are objects of numbers (an estimate pair)."""
    if not all(isinstance(t, Mapping) and t and "value" not in t and "ids" not in t for t in known.values()):
        return []
    keys = set.intersection(*(set(t) for t in known.values()))
    return sorted(k for k in keys if all(_as_number(t[k]) is not None for t in known.values()))


def _chance_function(given: Mapping[str, Any], known: Mapping[str, Any]):
    """How to judge a match for this part: numbers against the truths' spread, several numbers (an
    estimate pair) as independent numbers whose chances multiply, or id-set overlap."""
    keys = _number_keys(known)
    if keys:
        spreads = {key: _spread([_as_number(t[key]) for t in known.values()]) for key in keys}

        def estimates(a: Any, b: Any) -> float:
            if not isinstance(a, Mapping) or not isinstance(b, Mapping):
                return 1.0
            chance, compared = 1.0, 0
            for key in keys:
                x, y = _as_number(a.get(key)), _as_number(b.get(key))
                if x is not None and y is not None:  # a number left out is no evidence either way
                    chance *= number_match_chance(x, y, spreads[key])
                    compared += 1
            return chance if compared else 1.0

        return estimates
    truth_numbers = [_as_number(t["value"] if isinstance(t, Mapping) and "value" in t else t)
                     for t in known.values()]
    if all(v is not None for v in truth_numbers):
        spread = _spread([v for v in truth_numbers if v is not None])

        def numbers(a: Any, b: Any) -> float:
            x = _as_number(a)
            y = _as_number(b["value"] if isinstance(b, Mapping) and "value" in b else b)
            return 1.0 if x is None or y is None else number_match_chance(x, y, spread)

        return numbers
    seen: set[str] = set()
    for value in (*given.values(), *known.values()):
        seen |= _as_ids(value.get("ids", ()) if isinstance(value, Mapping) else value) or set()

    def id_sets(a: Any, b: Any) -> float:
        x = _as_ids(a)
        y = _as_ids(b.get("ids", ()) if isinstance(b, Mapping) else b)
        return 1.0 if not x or not y else set_overlap_chance(x, y, len(seen))

    return id_sets


def phrase_prints(text: str, released: str = "") -> list[int]:
    """The answer's five-word phrases as 52-bit hashes, minus the released notebook's own phrases
    (the question and any template), the smallest MAX_PRINTS of them, sorted. Case, punctuation and
    spacing do not change a phrase."""
    def prints(words: list[str]) -> set[int]:
        return {int.from_bytes(hashlib.blake2b(" ".join(words[i:i + PHRASE_WORDS]).encode("utf-8"),
                                               digest_size=8).digest(), "big") >> 12
                for i in range(len(words) - PHRASE_WORDS + 1)}

    own = prints(re.findall(r"\w+", text.lower())) - prints(re.findall(r"\w+", released.lower()))
    return sorted(own)[:MAX_PRINTS]


@dataclass(frozen=True)
class SharedTextFlag:
    learner: str
    grade_id: str
    other: str
    shared: int       # distinctive phrases the two answers share
    of: int           # distinctive phrases of the shorter answer

    def __str__(self) -> str:
        return (f"{self.grade_id}: written answer shares {self.shared} of {self.of} distinctive "
                f"five-word phrases ({self.shared / self.of:.0%}) with {self.other}'s; the text does not "
                "show who wrote it first: read both")


def detect_shared_text(prints: Mapping[str, Mapping[str, list[int]]]) -> list[SharedTextFlag]:
    """prints[learner][grade_id] (phrase_prints) -> a flag on both learners of every pair of
    written answers that share at least SHARED_TEXT of the shorter one's distinctive phrases."""
    flags: list[SharedTextFlag] = []
    parts = sorted({grade_id for by_part in prints.values() for grade_id in by_part})
    for grade_id in parts:
        answers = {k: set(v[grade_id]) for k, v in prints.items() if v.get(grade_id)}
        seen: dict[int, int] = {}
        for phrases in answers.values():
            for phrase in phrases:
                seen[phrase] = seen.get(phrase, 0) + 1
        common_at = max(3, math.ceil(COMMON_SHARE * len(answers)))
        distinctive = {k: {p for p in v if seen[p] < common_at} for k, v in answers.items()}
        learners = sorted(k for k, v in distinctive.items() if len(v) >= MIN_PRINTS)
        for i, learner in enumerate(learners):
            for other in learners[i + 1:]:
                a, b = distinctive[learner], distinctive[other]
                shared, of = len(a & b), min(len(a), len(b))
                if shared >= SHARED_TEXT * of:
                    flags.append(SharedTextFlag(learner, grade_id, other, shared, of))
                    flags.append(SharedTextFlag(other, grade_id, learner, shared, of))
    return sorted(flags, key=lambda f: (f.learner, f.grade_id, f.other))


def class_copy_flags(records: Mapping[str, Mapping[str, Any]],
                     tolerances: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, list[str]]:
    """Every copy flag of a class from its grading records (grader.commit): answers matched against
    data and classmates (detect_copies) and written answers sharing text (detect_shared_text)."""
    flags: dict[str, list[str]] = {}
    if len(records) < 2:
        return flags
    answers = {k: r.get("answers") or {} for k, r in records.items()}
    truths = {k: r.get("truths") or {} for k, r in records.items()}
    checks: dict[str, str] = {}
    for record in records.values():
        checks.update(record.get("checks") or {})
    found: list[Any] = list(detect_copies(answers, truths, checks, tolerances))
    found += detect_shared_text({k: r.get("phrases") or {} for k, r in records.items()})
    for flag in found:
        flags.setdefault(flag.learner, []).append(str(flag))
    return flags
