"""Quiz-cue rules of the content lint: a test-wise learner must not find the key without the idea.

A learner who has not learnt the idea still scores well above chance if the right option can be
picked by its form: the longest option, the middle-length one, the one without "always" or "never".
These functions measure those cues over a set of multiple-choice items (every module's quiz,
retrieval and prediction items, or the pre/post forms) and return one line per problem. The content
lint in tests/course/test_content_lint.py runs them on the shipped course; an author can run them
on a draft the same way. Pure logic: no streamlit, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from fractions import Fraction

from course.modules import Module, Question

# ----------------------------------------------------------------------------- length

MAX_LONGEST_RIGHT_SHARE = Fraction(1, 3)   # the key may be (or tie for) the longest in a third of items
MAX_RANK_SHARE = Fraction(2, 5)            # no length rank may hold more than 40% of the keys

RANK_NAMES: dict[int, tuple[str, ...]] = {
    3: ("shortest", "middle", "longest"),
    4: ("shortest", "second-shortest", "second-longest", "longest"),
    5: ("shortest", "second-shortest", "middle", "second-longest", "longest"),
}


def right_answer_is_longest(q: Question) -> bool:
    """The cue test-wise learners use: the right option is at least as long as every other."""
    return all(len(q.answer) >= len(o.text) for o in q.options)


def key_length_rank(q: Question) -> dict[int, Fraction]:
    """Where the key falls when the options are sorted by length (0 = shortest), as weights.

    Length is the option's number of characters. A key as long as k-1 other options could sit at
    any of the k places they share, and a learner sorting by length cannot tell them apart, so the
    key counts 1/k at each of those places: a key tied with one distractor for the longest of three
    options counts half "middle" and half "longest". The weights add up to 1.
    """
    length = len(q.answer)
    shorter = sum(len(o.text) < length for o in q.options)
    tied = sum(len(o.text) == length for o in q.options)   # the key itself included
    return {rank: Fraction(1, tied) for rank in range(shorter, shorter + tied)}


def longest_cue_problems(questions: Sequence[Question], where: str) -> list[str]:
    """The key is (or ties for) the longest option in at most a third of the items."""
    longest = [q.id for q in questions if right_answer_is_longest(q)]
    if questions and len(longest) > MAX_LONGEST_RIGHT_SHARE * len(questions):
        return [f"{where}: the right option is the longest in {len(longest)} of {len(questions)} "
                f"questions (at most a third may be): {', '.join(longest)}; shorten the answer or "
                "write a fuller distractor"]
    return []


def rank_shares(questions: Iterable[Question]) -> dict[int, tuple[int, dict[int, Fraction]]]:
    """{number of options: (items, {rank: keys at that rank})} with ties split as in key_length_rank."""
    groups: dict[int, tuple[int, dict[int, Fraction]]] = {}
    for q in questions:
        n = len(q.options)
        count, at = groups.get(n, (0, {}))
        for rank, weight in key_length_rank(q).items():
            at[rank] = at.get(rank, Fraction(0)) + weight
        groups[n] = (count + 1, at)
    return groups


def rank_spread_problems(questions: Sequence[Question], where: str) -> list[str]:
    """No length rank holds more than 40% of the keys, counted among items with as many options.

    Three-option items are ranked shortest/middle/longest, four-option items shortest to longest
    over four places, and so on: a rank means the same thing only among items with the same number
    of options. A rank may always hold one key, so a lone five-option item is not a problem.
    """
    problems = []
    for n, (count, at) in sorted(rank_shares(questions).items()):
        names = RANK_NAMES.get(n, tuple(f"#{i + 1} by length" for i in range(n)))
        for rank, keys in sorted(at.items()):
            if keys > max(1, MAX_RANK_SHARE * count):
                ids = [q.id for q in questions if len(q.options) == n and rank in key_length_rank(q)]
                problems.append(
                    f"{where}: the right option is the {names[rank]} of {n} options in {float(keys):.1f} "
                    f"of {count} such questions (at most 40% may be): {', '.join(ids)}; in some of "
                    "them make a distractor longer or shorter than the right option")
    return problems


# ----------------------------------------------------------------------------- absolute words

ABSOLUTE_WORDS = (
    "always", "never", "all", "every", "everyone", "everybody", "everything", "must", "certainly",
    "proof", "proves", "prove", "proven", "impossible", "nothing more", "whatever", "for certain",
    "almost all", "nobody", "no one", "none", "cannot", "can't", "only", "immediately",
    "guarantee", "guarantees", "definitely", "completely", "entirely",
)
# Whole words only ("all" is not in "allow"), longest first so "almost all" wins over "all"; a
# phrase matches across any spacing, and "can't" with either apostrophe.
_ALTERNATIVES = "|".join(re.escape(w).replace(r"\ ", r"\s+").replace("'", "['’]")
                         for w in sorted(ABSOLUTE_WORDS, key=len, reverse=True))
_ABSOLUTE = re.compile(rf"(?<![\w'’-])(?:{_ALTERNATIVES})(?![\w'’-])", re.IGNORECASE)

MAX_ONE_SIDED_ABSOLUTE_SHARE = Fraction(3, 20)   # 15% of items


def absolute_words(text: str) -> list[str]:
    """The absolute words ("always", "never", "only" …) in an option, lower-cased, in order."""
    return [" ".join(m.group(0).lower().replace("’", "'").split()) for m in _ABSOLUTE.finditer(text)]


def absolute_side(q: Question) -> str | None:
    """'distractors' when only wrong options carry absolute words, 'key' when only the key does.

    "Only" means: the key has none while some distractor has one ('distractors', the cue "avoid
    the absolute option"), or the key has one while some distractor has none ('key', the cue
    "pick the absolute option"). None when the words do not single out a side.
    """
    key_has = bool(absolute_words(q.answer))
    wrong = [bool(absolute_words(o.text)) for o in q.options if o.text != q.answer]
    if not key_has and any(wrong):
        return "distractors"
    if key_has and not all(wrong):
        return "key"
    return None


def absolute_word_problems(questions: Sequence[Question], where: str) -> list[str]:
    """Absolute words must not tell the key: balanced between key and distractors, and rare one-sided.

    Two conditions. (1) Items where only distractors carry absolute words are at most 15% of the
    items, and so are items where only the key carries one: a learner who eliminates (or picks) the
    absolute option then gains on few items. (2) Items where only distractors carry them are no more
    than items where only the key does: following "avoid the absolute option" then loses a key as
    often as it removes a distractor, so it gains nothing on balance. Condition (2) is what makes an
    author write some keys as the bold, definite claim and some distractors as the hedged one.
    """
    sides: dict[str, list[str]] = {"distractors": [], "key": []}
    for q in questions:
        side = absolute_side(q)
        if side:
            sides[side].append(q.id)
    problems = []
    cap = MAX_ONE_SIDED_ABSOLUTE_SHARE * len(questions)
    for side, ids in sides.items():
        if len(ids) > max(1, cap):
            who = "only distractors carry" if side == "distractors" else "only the right option carries"
            problems.append(f"{where}: {who} an absolute word (always, never, only, all …) in {len(ids)} of "
                            f"{len(questions)} questions (at most 15% may): {', '.join(ids)}")
    if len(sides["distractors"]) > len(sides["key"]):
        problems.append(
            f"{where}: absolute words sit only in distractors in {len(sides['distractors'])} questions but "
            f"only in the right option in {len(sides['key'])}; 'avoid the absolute option' must not pay: "
            "write some right options as the definite claim, or some distractors as the hedged one")
    return problems


# ----------------------------------------------------------------------------- the sets of items

def module_questions(modules: Iterable[Module]) -> list[Question]:
    """Every multiple-choice item of the modules: retrieval, quiz (simulator predictions included), charts."""
    return [q for m in modules for q in m.all_questions()]


def cue_problems(questions: Sequence[Question], where: str) -> list[str]:
    """Every cue rule over one set of items."""
    return (longest_cue_problems(questions, where) + rank_spread_problems(questions, where)
            + absolute_word_problems(questions, where))


def course_cue_problems(modules: Sequence[Module], pre_post: Sequence[Question]) -> list[str]:
    """The cue rules over the modules' items together, and over the pre/post forms together."""
    return (cue_problems(module_questions(modules), "modules")
            + cue_problems(list(pre_post), "pre/post test"))
