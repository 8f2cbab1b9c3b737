"""Class-level learning analytics for instructors: aggregates only, never a single learner.

The course teaches that monitoring must be aggregate with a minimum group size of 5, and its own
analytics follow the rule: a group of fewer than 5 learners is hidden, and a hidden cell is never
recoverable from what is shown (complementary cells are hidden as well, and a row whose hidden
cells could still be worked out from its total is hidden entirely). Pure pandas, no streamlit.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from course.modules import mastery
from course.practice import mastery_scores, reviews_passed
from course.progress import SCORED_KINDS
from datasets.errors import UserError

MIN_GROUP_SIZE = 5
RETEACH_SHARE = 0.30
MASTERY_LEVELS = ("not started", "attempted", "familiar", "proficient", "mastered")
TEST_KINDS = ("pretest", "posttest")
CHOICE_KINDS = ("quiz", "retrieval", "prediction", "pretest", "posttest", "review")
HINT_LEVELS = ("no hint", "hint tier 1", "hint tier 2", "hint tier 3+")
HIDDEN_LABEL = "hidden"


def _pinned(values: list[int], hidden: list[bool], k: int) -> bool:
    """Whether some hidden cell could be worked out exactly from what is shown.

    An onlooker knows the total, every shown cell (zeros are shown), that a hidden cell holds
    at least 1, and at most k-1 or the smallest cell still shown (a cell hidden to protect
    another is always the smallest shown one), whichever is larger. A cell is pinned when
    those bounds leave it a single possible value.
    """
    hidden_values = [v for v, h in zip(values, hidden) if h]
    hidden_sum, n_hidden = sum(hidden_values), len(hidden_values)
    shown_positive = [v for v, h in zip(values, hidden) if not h and v > 0]
    ceiling = min(shown_positive) if shown_positive else hidden_sum
    high_each = min(max(k - 1, ceiling), hidden_sum)
    low = max(1, hidden_sum - (n_hidden - 1) * high_each)
    high = min(high_each, hidden_sum - (n_hidden - 1))
    return high <= low


def suppress_partition(counts: pd.Series | Mapping[Any, int],
                       k: int = MIN_GROUP_SIZE) -> pd.Series:
    """Counts of one group split into categories, with every unsafe cell set to <NA>.

    Cells of 1..k-1 are hidden; then the smallest shown cells are hidden too until the hidden
    cells add up to at least k and none of them can be pinned down from the total. If that is
    impossible, or the whole group is smaller than k, every cell is hidden. Zeros stay shown.
    """
    series = counts if isinstance(counts, pd.Series) else pd.Series(dict(counts), dtype="int64")
    values = [int(v) for v in series.tolist()]
    hidden = [0 < v < k for v in values]
    everything_hidden = sum(values) < k
    while any(hidden) and not everything_hidden:
        hidden_sum = sum(v for v, h in zip(values, hidden) if h)
        if hidden_sum >= k and not _pinned(values, hidden, k):
            break
        candidates = [(v, i) for i, (v, h) in enumerate(zip(values, hidden)) if not h and v > 0]
        if not candidates:
            everything_hidden = True
            break
        hidden[min(candidates)[1]] = True
    shown = [pd.NA if everything_hidden or h else v for v, h in zip(values, hidden)]
    return pd.Series(shown, index=series.index, dtype="Int64")


def poll_spread(counts: pd.Series | Mapping[Any, int], k: int = MIN_GROUP_SIZE) -> pd.Series:
    """A live poll's answer counts: all shown once k have answered, none before.

    A poll answer is not data about a person: the room answered anonymously, nicknames are never
    linked to answers, so once k people answered every option's count and share is shown (a
    hidden 35% misconception is exactly what a trainer must see). Data about people — progress,
    staff analytics — keeps `suppress_partition`'s rule of k with complementary suppression.
    """
    series = counts if isinstance(counts, pd.Series) else pd.Series(dict(counts), dtype="int64")
    if int(series.sum()) >= k:
        return series.astype("Int64")
    return pd.Series(pd.NA, index=series.index, dtype="Int64")


def group_size_shown(n: int, k: int = MIN_GROUP_SIZE) -> int | None:
    """A group's size, or None when the group is too small to report on."""
    return int(n) if n >= k else None


# --------------------------------------------------------------------------- class progress
def _class_ids(attempts: pd.DataFrame, learner_ids: list[str] | None) -> list[str]:
    ids = set(attempts["learner_id"].astype(str)) if len(attempts) else set()
    return sorted(ids | set(learner_ids or []))


def learner_mastery(attempts: pd.DataFrame, learner_ids: list[str] | None = None,
                    items_per_module: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Mastery level of every learner in every module (an intermediate: never shown as such).

    Same rule as the learner's own progress (course.practice.mastery_scores): a question counts
    its first answer, an exercise its best score once passed (else its latest), unanswered
    expected items count as 0, and a later review answered right the first time turns
    proficient into mastered.
    """
    ids = _class_ids(attempts, learner_ids)
    attempts = attempts[~attempts["kind"].isin(TEST_KINDS)] if len(attempts) else attempts
    modules = sorted((set(attempts["module_id"].astype(str)) if len(attempts) else set())
                     | set(items_per_module or {}))
    columns = ["learner_id", "module_id", "mastery"]
    if not ids or not modules:
        return pd.DataFrame(columns=columns)
    keys = ["learner_id", "module_id"]
    started = set(map(tuple, attempts[keys].astype(str).drop_duplicates().to_numpy())) \
        if len(attempts) else set()
    attempts = attempts.astype({key: str for key in keys}) if len(attempts) else attempts
    scored = attempts[attempts["kind"].isin(SCORED_KINDS)] if len(attempts) else attempts
    counted = mastery_scores(scored, keys) if len(scored) else pd.Series(dtype="float64")
    item_scores = ({(str(k[0]), str(k[1])): [float(v) for v in values]
                    for k, values in counted.groupby(level=keys).agg(list).items()}
                   if len(counted) else {})
    reviews = attempts[attempts["kind"] == "review"] if len(attempts) else attempts
    passed = reviews_passed(reviews, keys) if len(reviews) else pd.Series([], dtype=bool)
    reviewed_keys = {(str(k[0]), str(k[1])) for k, ok in passed.items() if ok}
    rows = []
    for module_id in modules:
        expected = (items_per_module or {}).get(module_id)
        for learner_id in ids:
            key = (learner_id, module_id)
            if key not in started:
                rows.append((learner_id, module_id, "not started"))
                continue
            scores = item_scores.get(key, [])
            scores = scores + [0.0] * max(0, (expected or 0) - len(scores))
            level = mastery(scores, key in reviewed_keys) if scores else "attempted"
            rows.append((learner_id, module_id, level))
    return pd.DataFrame(rows, columns=columns)


def class_progress(attempts: pd.DataFrame, learner_ids: list[str] | None = None,
                   items_per_module: Mapping[str, int] | None = None,
                   k: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Per module, how many learners sit at each mastery level; small cells hidden."""
    levels = learner_mastery(attempts, learner_ids, items_per_module)
    columns = ["module_id", "learners", *MASTERY_LEVELS]
    if levels.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for module_id, group in levels.groupby("module_id", sort=True):
        counts = group["mastery"].value_counts().reindex(MASTERY_LEVELS, fill_value=0)
        shown = suppress_partition(counts, k)
        rows.append({"module_id": module_id, "learners": group_size_shown(len(group), k),
                     **shown.to_dict()})
    frame = pd.DataFrame(rows, columns=columns)
    for column in columns[1:]:
        frame[column] = frame[column].astype("Int64")
    return frame


# --------------------------------------------------------------------------- answer spreads
def first_answers(attempts: pd.DataFrame, kinds: tuple[str, ...] = CHOICE_KINDS) -> pd.DataFrame:
    """Each learner's first answer to each multiple-choice question: the unprompted belief."""
    chosen = attempts[attempts["kind"].isin(kinds) & attempts["answer"].notna()]
    ordered = chosen.sort_values("created_at", kind="stable")
    return ordered.drop_duplicates(["learner_id", "module_id", "item_id", "kind"], keep="first")


def answer_spreads(attempts: pd.DataFrame, questions: Mapping[tuple[str, str], Any] | None = None,
                   k: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """How the class answered each question, option by option, with the misconception of each.

    `questions` maps (module_id, item_id) to a course Question so that options nobody chose
    still appear; without it the options are those seen in the answers.
    """
    columns = ["module_id", "item_id", "kind", "respondents", "option", "correct",
               "misconception", "count", "share"]
    firsts = first_answers(attempts).copy()
    firsts["answer"] = firsts["answer"].astype(str)
    firsts["correct"] = firsts["correct"].fillna(False).astype(bool)
    keys = ["module_id", "item_id", "kind"]
    seen_all = firsts.groupby([*keys, "answer"], sort=True).agg(
        correct=("correct", "any"), misconception=("misconception", "first"))
    rows: list[dict] = []
    for (module_id, item_id, kind), group in firsts.groupby(keys, sort=True):
        question = (questions or {}).get((str(module_id), str(item_id)))
        options = _option_table(seen_all.loc[(module_id, item_id, kind)], question)
        counts = group["answer"].value_counts().reindex(options.index, fill_value=0)
        shown = suppress_partition(counts, k)
        respondents = group_size_shown(len(group), k)
        for option, meta in options.iterrows():
            count = shown[option]
            rows.append({
                "module_id": module_id, "item_id": item_id, "kind": kind,
                "respondents": respondents, "option": option, "correct": bool(meta["correct"]),
                "misconception": meta["misconception"], "count": count,
                "share": (None if pd.isna(count) or respondents is None
                          else round(int(count) / respondents, 3)),
            })
    frame = pd.DataFrame(rows, columns=columns)
    frame["respondents"] = frame["respondents"].astype("Int64")
    frame["count"] = frame["count"].astype("Int64")
    frame["share"] = frame["share"].astype("Float64")
    return frame


def _option_table(seen: pd.DataFrame, question: Any | None) -> pd.DataFrame:
    """Option text → whether it is right and the misconception it reveals.

    `seen` holds the answers given (index: answer text; columns correct, misconception); the
    question, when known, adds the options nobody chose and is trusted over recorded tags.
    """
    meta: dict[str, dict] = {}
    if question is not None:
        for option in question.options:
            meta[option.text] = {"correct": option.text == question.answer,
                                 "misconception": option.misconception}
    for answer, row in seen.iterrows():
        meta.setdefault(str(answer), {"correct": bool(row["correct"]),
                                      "misconception": row["misconception"]})
    return pd.DataFrame.from_dict(meta, orient="index", columns=["correct", "misconception"])


def reteach_flags(spreads: pd.DataFrame, share: float = RETEACH_SHARE) -> pd.DataFrame:
    """Questions where one wrong answer is popular: name the misconception to re-teach."""
    columns = ["module_id", "item_id", "kind", "option", "misconception", "share", "flag"]
    wrong = spreads[~spreads["correct"].astype(bool) & spreads["share"].notna()]
    rows = []
    for _, group in wrong.groupby(["module_id", "item_id", "kind"], sort=True):
        top = group.sort_values("share", ascending=False).iloc[0]
        if float(top["share"]) >= share:
            label = top["misconception"] if pd.notna(top["misconception"]) else top["option"]
            rows.append({"module_id": top["module_id"], "item_id": top["item_id"],
                         "kind": top["kind"], "option": top["option"],
                         "misconception": top["misconception"], "share": float(top["share"]),
                         "flag": f"re-teach: {label}"})
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- pre/post gain
@dataclass(frozen=True)
class GainSummary:
    """The class's pre/post-test result; every figure is None when fewer than k took both.

    `gain_low`/`gain_high` bound the mean gain (post − pre, as shares) with a 95% interval: a class
    of twelve that gained ten points may have gained nothing, and the page must say so.
    """

    learners: int | None
    pre_mean: float | None
    post_mean: float | None
    mean_gain: float | None
    normalized_gain: float | None
    gain_low: float | None = None
    gain_high: float | None = None

    @property
    def shown(self) -> bool:
        return self.learners is not None


def _test_objective_scores(attempts: pd.DataFrame, kind: str,
                           objective_of: Mapping[str, str]) -> pd.Series:
    """Score per (learner, objective) on one test: the first answer to each question counts."""
    firsts = first_answers(attempts, (kind,))
    if firsts.empty:
        return pd.Series(dtype="float64")
    score = firsts["score"].astype("Float64").fillna(
        firsts["correct"].astype("boolean").astype("Float64")).fillna(0.0).astype("float64")
    objective = firsts["item_id"].map(lambda item: objective_of.get(item, item))
    return score.groupby([firsts["learner_id"], objective]).mean()


def _pre_post_objectives() -> dict[str, str]:
    """Question id -> objective for both forms of the shipped test ({} if it cannot be read)."""
    try:
        from course.modules import pre_post_test
        return {q.id: q.objective for q in pre_post_test()}
    except UserError:
        return {}


def pre_post_gain(attempts: pd.DataFrame, k: int = MIN_GROUP_SIZE,
                  objective_of: Mapping[str, str] | None = None) -> GainSummary:
    """Mean pre- and post-test score of learners who took both, and the normalized gain.

    The pre- and post-test are parallel forms (different questions on the same objectives), so
    like is compared with like per objective: for each learner only the objectives answered on
    both tests count, on both sides. An item id without a known objective stands for itself.
    """
    objective_of = _pre_post_objectives() if objective_of is None else objective_of
    pre = _test_objective_scores(attempts, "pretest", objective_of)
    post = _test_objective_scores(attempts, "posttest", objective_of)
    paired = pre.index.intersection(post.index)
    learners = paired.get_level_values(0).unique() if len(paired) else []
    if len(learners) < k:
        return GainSummary(None, None, None, None, None)
    pre_by_learner = pre[paired].groupby(level=0).mean()
    post_by_learner = post[paired].groupby(level=0).mean()
    pre_mean, post_mean = float(pre_by_learner.mean()), float(post_by_learner.mean())
    normalized = (post_mean - pre_mean) / (1.0 - pre_mean) if pre_mean < 1.0 else None
    low, high = mean_interval((post_by_learner - pre_by_learner.reindex(post_by_learner.index)).to_numpy())
    return GainSummary(len(learners), round(pre_mean, 3), round(post_mean, 3),
                       round(post_mean - pre_mean, 3),
                       None if normalized is None else round(normalized, 3),
                       round(low, 3), round(high, 3))


def misconception_shift(attempts: pd.DataFrame, questions: Any = None,
                        k: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Per misconception tag of the pre/post test: the share of learners holding it before and after.

    Only learners who took both tests count. A learner "holds" a tag on a test when their first
    answer to a question picked an option carrying it; the share is over learners whose form offered
    such an option, so a tag that only one form offers is left out (nothing to compare). A share over
    fewer than k learners is not shown. This is what a trainer reads to see which ideas moved.
    """
    columns = ["misconception", "learners", "before", "after", "change"]
    if questions is None:
        try:
            from course.modules import pre_post_test
            questions = pre_post_test()
        except UserError:
            return pd.DataFrame(columns=columns)
    tag_of = {(q.id, o.text): o.misconception for q in questions for o in q.options if o.misconception}
    offered: dict[str, set[str]] = {}
    for q in questions:
        for o in q.options:
            if o.misconception:
                offered.setdefault(q.id, set()).add(o.misconception)
    firsts = first_answers(attempts, TEST_KINDS) if len(attempts) else pd.DataFrame()
    if firsts.empty:
        return pd.DataFrame(columns=columns)
    took = firsts.groupby("learner_id")["kind"].nunique()
    firsts = firsts[firsts["learner_id"].isin(took.index[took == len(TEST_KINDS)])]
    share: dict[tuple[str, str], tuple[int, int]] = {}   # (tag, kind) -> (holding, exposed)
    for (learner, kind), group in firsts.groupby(["learner_id", "kind"]):
        exposed = set().union(*(offered.get(item, set()) for item in group["item_id"]))
        holding = {tag_of.get((item, answer)) for item, answer in zip(group["item_id"], group["answer"])}
        for tag in exposed:
            held, seen = share.get((tag, kind), (0, 0))
            share[(tag, kind)] = (held + (tag in holding), seen + 1)
    rows = []
    for tag in sorted({tag for tag, _ in share}):
        (held_pre, seen_pre), (held_post, seen_post) = (share.get((tag, kind), (0, 0)) for kind in TEST_KINDS)
        seen = min(seen_pre, seen_post)
        if seen < k:
            continue
        before, after = held_pre / seen_pre, held_post / seen_post
        rows.append({"misconception": tag, "learners": seen, "before": round(before, 3),
                     "after": round(after, 3), "change": round(after - before, 3)})
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("change", kind="stable", ignore_index=True) if len(frame) else frame


GAIN_RESAMPLES = 4000


def mean_interval(values: Any, level: float = 0.95, resamples: int = GAIN_RESAMPLES) -> tuple[float, float]:
    """A percentile bootstrap interval for the mean of per-learner values, resampling learners.

    Fixed-seeded, so the same class shows the same interval on every page load; learners are the
    unit because one learner's answers are not independent of each other.
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("no values to bound")
    rng = np.random.default_rng(20261207)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


# --------------------------------------------------------------------------- hint use
def hint_use(hints: pd.DataFrame, attempts: pd.DataFrame, k: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Per module, learners who worked on it split by the deepest hint tier they opened."""
    columns = ["module_id", "learners", *HINT_LEVELS, "hints_per_learner"]
    attempts = attempts[~attempts["kind"].isin(TEST_KINDS)] if len(attempts) else attempts
    active = pd.concat([attempts[["learner_id", "module_id"]], hints[["learner_id", "module_id"]]]
                       ).drop_duplicates() if len(attempts) or len(hints) else None
    if active is None or active.empty:
        return pd.DataFrame(columns=columns)
    deepest = hints.groupby(["learner_id", "module_id"])["tier"].max().to_dict() \
        if len(hints) else None
    total = hints.groupby(["learner_id", "module_id"]).size().to_dict() if len(hints) else None
    rows = []
    for module_id, group in active.groupby("module_id", sort=True):
        keys = list(zip(group["learner_id"], group["module_id"]))
        tiers = [int(deepest.get(key, 0)) if deepest is not None else 0 for key in keys]
        level = [HINT_LEVELS[min(t, 3)] for t in tiers]
        counts = pd.Series(level).value_counts().reindex(HINT_LEVELS, fill_value=0)
        n = len(keys)
        used = sum(int(total.get(key, 0)) for key in keys) if total is not None else 0
        rows.append({"module_id": module_id, "learners": group_size_shown(n, k),
                     **suppress_partition(counts, k).to_dict(),
                     "hints_per_learner": round(used / n, 2) if n >= k else None})
    frame = pd.DataFrame(rows, columns=columns)
    for column in columns[1:-1]:
        frame[column] = frame[column].astype("Int64")
    frame["hints_per_learner"] = frame["hints_per_learner"].astype("Float64")
    return frame


# --------------------------------------------------------------------------- loading, report
@dataclass
class ClassData:
    """Everything the analytics read, loaded once: attempts, hints and the class list."""

    attempts: pd.DataFrame
    hints: pd.DataFrame
    learner_ids: list[str] = field(default_factory=list)


def load_class_data(store: Any, include_workshops: bool = False) -> ClassData:
    """Read the whole class from a ProgressStore; workshop answers are left out by default."""
    from course import progress

    attempts = store.attempts_frame()
    if not include_workshops and len(attempts):
        attempts = attempts[attempts["workshop_code"].isna()]
    with store.engine.connect() as conn:
        hint_rows = conn.execute(sa.select(progress.hints.c.learner_id, progress.hints.c.module_id,
                                           progress.hints.c.item_id, progress.hints.c.tier))
        hints = pd.DataFrame(hint_rows.fetchall(),
                             columns=["learner_id", "module_id", "item_id", "tier"])
        ids = [str(row[0]) for row in conn.execute(sa.select(progress.learners.c.learner_id))]
    return ClassData(attempts.reset_index(drop=True), hints, ids)


def class_fingerprint(store: Any) -> tuple:
    """Changes whenever anything the report reads changes: a cheap key for caching the report."""
    from course import progress

    with store.engine.connect() as conn:
        return tuple(
            tuple(conn.execute(sa.select(sa.func.count(), sa.func.max(table.c[column]))).one())
            for table, column in ((progress.attempts, "id"), (progress.hints, "id"),
                                  (progress.learners, "learner_id")))


@dataclass(frozen=True)
class ClassReport:
    progress: pd.DataFrame
    spreads: pd.DataFrame
    reteach: pd.DataFrame
    gain: GainSummary
    hints: pd.DataFrame
    misconceptions: pd.DataFrame = field(default_factory=pd.DataFrame)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the report by name, ready for export."""
        gain = pd.DataFrame([{"learners": self.gain.learners, "pre_mean": self.gain.pre_mean,
                              "post_mean": self.gain.post_mean, "mean_gain": self.gain.mean_gain,
                              "gain_low": self.gain.gain_low, "gain_high": self.gain.gain_high,
                              "normalized_gain": self.gain.normalized_gain}])
        return {"class_progress": self.progress, "answer_spreads": self.spreads,
                "reteach": self.reteach, "pre_post_gain": gain, "hint_use": self.hints,
                "misconception_shift": self.misconceptions}


def class_report(data: ClassData, modules: list[Any] | None = None,
                 k: int = MIN_GROUP_SIZE) -> ClassReport:
    """All instructor aggregates at once; `modules` (course Modules) adds unchosen options."""
    questions: dict[tuple[str, str], Any] = {}
    items: dict[str, int] | None = None
    if modules:
        items = {}
        for module in modules:
            predictions = tuple(c.predict for c in module.charts if c.predict is not None)
            for question in (*module.quiz, *module.retrieval, *predictions):
                questions[(module.id, question.id)] = question
            items[module.id] = len(module.quiz) + (1 if module.exercise is not None else 0)
    spreads = answer_spreads(data.attempts, questions, k)
    return ClassReport(class_progress(data.attempts, data.learner_ids, items, k), spreads,
                       reteach_flags(spreads), pre_post_gain(data.attempts, k),
                       hint_use(data.hints, data.attempts, k), misconception_shift(data.attempts, k=k))


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as shown and exported: a hidden count reads 'hidden', never a number or blank.

    Counts become text so that a column mixing numbers and 'hidden' stays one type.
    """
    shown = frame.astype(object)
    for column in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[column]) and \
                not pd.api.types.is_bool_dtype(frame[column]):
            shown[column] = [HIDDEN_LABEL if pd.isna(v) else f"{v:g}" if isinstance(v, float)
                             else str(v) for v in frame[column].tolist()]
    return shown.where(shown.notna(), "")


def to_csv(frame: pd.DataFrame) -> bytes:
    """CSV of an aggregate table; a hidden cell is written as the word 'hidden'."""
    return display_frame(frame).to_csv(index=False).encode("utf-8")


def report_zip(report: ClassReport) -> bytes:
    """Every aggregate table of the report as CSV files in one zip, for the course records."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, table in report.tables().items():
            archive.writestr(f"{name}.csv", to_csv(table))
        archive.writestr("README.txt", (
            "Aggregates of the course's learning analytics. Groups of fewer than "
            f"{MIN_GROUP_SIZE} learners are hidden, and so are cells that would let a hidden one "
            "be worked out by subtraction; such cells read 'hidden'. No learner ids are included.\n"))
    return buffer.getvalue()
