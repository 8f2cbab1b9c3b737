"""Instructor analytics: aggregates only, groups under 5 hidden and not recoverable."""

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import pytest

from course.analytics import (HIDDEN_LABEL, MIN_GROUP_SIZE, ClassData, answer_spreads,
                              class_progress, report_zip,
                              class_report, hint_use, load_class_data, pre_post_gain,
                              reteach_flags, suppress_partition, to_csv)
from course.progress import ATTEMPT_COLUMNS, ProgressStore

K = MIN_GROUP_SIZE
START = dt.datetime(2026, 1, 5, 9, 0)


@dataclass(frozen=True)
class Option:
    text: str
    misconception: str | None
    feedback: str = ""


@dataclass(frozen=True)
class Question:
    id: str
    prompt: str
    options: tuple
    answer: str
    objective: str = "o1"
    explain: str = ""


PROXY = Question("proxy", "Sessions doubled after the mandate. What do you know?",
                 (Option("Value doubled", "usage-is-value"),
                  Option("Nothing about value yet", None),
                  Option("Teams got lazier", "activity-means-effort"),
                  Option("The tool got worse", "tool-blame")),
                 "Nothing about value yet")


def attempt(learner, module, item, kind, answer=None, correct=None, score=None,
            misconception=None, minutes=0, workshop=None):
    return {"learner_id": learner, "module_id": module, "item_id": item, "kind": kind,
            "answer": answer, "correct": correct, "score": score, "misconception": misconception,
            "workshop_code": workshop, "created_at": START + dt.timedelta(minutes=minutes)}


def frame(rows):
    return pd.DataFrame(rows, columns=ATTEMPT_COLUMNS)


def spread_answers(choices: dict[str, int], question=PROXY, module="m1", kind="quiz"):
    """One first answer per learner, `choices` maps option text to how many chose it."""
    rows, n = [], 0
    tags = {o.text: o.misconception for o in question.options}
    for option, count in choices.items():
        for _ in range(count):
            right = option == question.answer
            rows.append(attempt(f"L{n:03d}", module, question.id, kind, option, right,
                                1.0 if right else 0.0, tags.get(option), minutes=n))
            n += 1
    return rows


def feasible_values(published: list, total: int, k: int = K) -> dict[int, set[int]]:
    """Every value each hidden cell could take given what is published (an attacker's view).

    The attacker knows the total and shown cells, that hidden cells are positive (zeros are
    shown) and at most max(k-1, smallest shown positive cell).
    """
    hidden = [i for i, v in enumerate(published) if v is None]
    shown = [v for v in published if v is not None]
    positive_shown = [v for v in shown if v > 0]
    ceiling = max(k - 1, min(positive_shown)) if positive_shown else total
    remaining, others = total - sum(shown), len(hidden) - 1
    return {cell: {v for v in range(1, ceiling + 1)
                   if others <= remaining - v <= others * ceiling}
            for cell in hidden}


def compositions(total: int, cells: int):
    """Every way to split `total` learners over `cells` answer options."""
    if cells == 1:
        yield (total,)
        return
    for first in range(total + 1):
        for rest in compositions(total - first, cells - 1):
            yield (first, *rest)


# --------------------------------------------------------------------------- suppression
def test_cells_under_five_are_hidden_and_zeros_stay_visible():
    shown = suppress_partition({"a": 12, "b": 3, "c": 9, "d": 0})
    assert pd.isna(shown["b"])
    assert shown["d"] == 0


def test_a_group_smaller_than_five_is_hidden_entirely():
    shown = suppress_partition({"a": 4, "b": 0})
    assert shown.isna().all()


def test_a_single_small_cell_takes_a_complementary_cell_with_it():
    shown = suppress_partition({"right": 20, "wrong": 3, "other": 7})
    assert shown.isna().sum() == 2, "total minus one visible cell would reveal the small one"
    assert pd.isna(shown["wrong"]) and pd.isna(shown["other"]) and shown["right"] == 20


def test_nothing_is_hidden_when_every_cell_is_safe():
    shown = suppress_partition({"a": 5, "b": 0, "c": 11})
    assert shown.tolist() == [5, 0, 11]


@pytest.mark.parametrize("cells", [3, 4])
def test_no_hidden_cell_is_recoverable_by_subtraction_for_any_small_class(cells):
    for total in range(0, 16):
        for split in compositions(total, cells):
            shown = suppress_partition(pd.Series(split, index=[f"o{i}" for i in range(cells)]))
            published = [None if pd.isna(v) else int(v) for v in shown.tolist()]
            hidden = [i for i, v in enumerate(published) if v is None]
            assert all(published[i] is None for i, v in enumerate(split) if 0 < v < K), split
            if total < K:
                assert len(hidden) == cells
                continue
            if hidden:
                assert len(hidden) >= 2, split
                assert sum(split[i] for i in hidden) >= K, split
                for cell, values in feasible_values(published, total).items():
                    assert len(values) >= 2, (split, published, cell, values)
                    assert split[cell] in values


# --------------------------------------------------------------------------- class progress
def progress_rows(n_proficient, n_familiar, n_attempted, module="m1"):
    rows, n = [], 0
    for level, count in (("proficient", n_proficient), ("familiar", n_familiar),
                         ("attempted", n_attempted)):
        scores = {"proficient": (1.0, 1.0, 1.0, 1.0), "familiar": (1.0, 1.0, 1.0, 0.0),
                  "attempted": (1.0, 0.0, 0.0, 0.0)}[level]
        for _ in range(count):
            for i, score in enumerate(scores):
                rows.append(attempt(f"L{n:03d}", module, f"q{i}", "quiz", "x", score == 1.0,
                                    score, minutes=n))
            n += 1
    return rows


def test_class_progress_counts_learners_per_mastery_level_with_small_cells_hidden():
    table = class_progress(frame(progress_rows(10, 2, 6)), items_per_module={"m1": 4})
    row = table.set_index("module_id").loc["m1"]
    assert row["learners"] == 18
    assert row["proficient"] == 10
    assert pd.isna(row["familiar"]) and pd.isna(row["attempted"])
    assert row["mastered"] == 0 and row["not started"] == 0


def test_learners_without_attempts_count_as_not_started():
    table = class_progress(frame(progress_rows(6, 0, 0)),
                           learner_ids=[f"N{i}" for i in range(5)], items_per_module={"m1": 4})
    row = table.set_index("module_id").loc["m1"]
    assert row["learners"] == 11 and row["not started"] == 5 and row["proficient"] == 6


def test_class_progress_of_a_tiny_class_shows_nothing():
    table = class_progress(frame(progress_rows(2, 1, 1)), items_per_module={"m1": 4})
    assert table.drop(columns="module_id").isna().all(axis=None)


def test_class_mastery_counts_first_answers_so_re_answering_until_right_is_not_proficient():
    from course.analytics import learner_mastery

    rows = []
    for n in range(3):
        steady = f"S{n}"   # right the first time on every question, then a right review
        rows += [attempt(steady, "m1", q, "quiz", "x", True, 1.0, minutes=i)
                 for i, q in enumerate(("q1", "q2"))]
        rows.append(attempt(steady, "m1", "r1", "review", "x", True, 1.0, minutes=5))
        guesser = f"G{n}"  # wrong first, then re-answered until right; the review likewise
        for i, q in enumerate(("q1", "q2")):
            rows += [attempt(guesser, "m1", q, "quiz", "y", False, 0.0, minutes=i),
                     attempt(guesser, "m1", q, "quiz", "x", True, 1.0, minutes=i + 1)]
        rows += [attempt(guesser, "m1", "r1", "review", "y", False, 0.0, minutes=5),
                 attempt(guesser, "m1", "r1", "review", "x", True, 1.0, minutes=6)]
        solver = f"X{n}"   # a quiz right first, an exercise passed on its second check
        rows += [attempt(solver, "m1", "q1", "quiz", "x", True, 1.0),
                 attempt(solver, "m1", "ex", "exercise", "0.1", False, 0.3, minutes=1),
                 attempt(solver, "m1", "ex", "exercise", "0.2", True, 1.0, minutes=2),
                 attempt(solver, "m1", "ex", "exercise", "0.9", False, 0.0, minutes=3)]
    levels = learner_mastery(frame(rows), items_per_module={"m1": 2}).set_index("learner_id")
    assert set(levels.loc[[f"S{n}" for n in range(3)], "mastery"]) == {"mastered"}
    assert set(levels.loc[[f"G{n}" for n in range(3)], "mastery"]) == {"attempted"}
    assert set(levels.loc[[f"X{n}" for n in range(3)], "mastery"]) == {"proficient"}


# --------------------------------------------------------------------------- spreads
def test_answer_spread_names_the_misconception_of_each_wrong_option():
    spreads = answer_spreads(frame(spread_answers({"Value doubled": 7,
                                                   "Nothing about value yet": 8})),
                             {("m1", "proxy"): PROXY})
    by_option = spreads.set_index("option")
    assert by_option.loc["Value doubled", "misconception"] == "usage-is-value"
    assert by_option.loc["Value doubled", "count"] == 7
    assert by_option.loc["Teams got lazier", "count"] == 0, "unchosen options still listed"
    assert bool(by_option.loc["Nothing about value yet", "correct"])
    assert spreads["respondents"].iloc[0] == 15


def test_popular_wrong_answer_raises_a_reteach_flag():
    spreads = answer_spreads(frame(spread_answers({"Value doubled": 7,
                                                   "Nothing about value yet": 8})),
                             {("m1", "proxy"): PROXY})
    flags = reteach_flags(spreads)
    assert flags["flag"].tolist() == ["re-teach: usage-is-value"]


def test_no_reteach_flag_when_the_class_mostly_got_it_right():
    spreads = answer_spreads(frame(spread_answers({"Value doubled": 5,
                                                   "Nothing about value yet": 20})),
                             {("m1", "proxy"): PROXY})
    assert reteach_flags(spreads).empty


def test_spread_with_few_respondents_is_hidden_and_raises_no_flag():
    spreads = answer_spreads(frame(spread_answers({"Value doubled": 4})), {("m1", "proxy"): PROXY})
    assert spreads["respondents"].isna().all() and spreads["count"].isna().all()
    assert reteach_flags(spreads).empty


def test_only_a_learners_first_answer_counts():
    rows = spread_answers({"Nothing about value yet": 6})
    rows += [attempt("L000", "m1", "proxy", "quiz", "Value doubled", False, 0.0,
                     "usage-is-value", minutes=500)]
    spreads = answer_spreads(frame(rows), {("m1", "proxy"): PROXY}).set_index("option")
    assert spreads.loc["Nothing about value yet", "count"] == 6
    assert spreads.loc["Value doubled", "count"] == 0


def test_spread_without_question_metadata_uses_the_recorded_misconceptions():
    spreads = answer_spreads(frame(spread_answers({"Value doubled": 6,
                                                   "Nothing about value yet": 6})))
    assert set(spreads["option"]) == {"Value doubled", "Nothing about value yet"}
    assert spreads.set_index("option").loc["Value doubled", "misconception"] == "usage-is-value"


# --------------------------------------------------------------------------- gain
def test_pre_post_gain_over_learners_who_took_both():
    rows = []
    for i in range(6):
        for j in range(3):
            rows.append(attempt(f"L{i}", "pretest", f"t{j}", "pretest", "a", j == 0,
                                1.0 if j == 0 else 0.0, minutes=j))
            rows.append(attempt(f"L{i}", "posttest", f"t{j}", "posttest", "a", True, 1.0,
                                minutes=100 + j))
    rows.append(attempt("Lonly", "pretest", "t0", "pretest", "a", False, 0.0))
    gain = pre_post_gain(frame(rows))
    assert gain.learners == 6
    assert gain.pre_mean == pytest.approx(1 / 3, abs=1e-3)
    assert gain.post_mean == 1.0
    assert gain.normalized_gain == pytest.approx(1.0)


def test_gain_compares_parallel_forms_objective_by_objective():
    """Form A before, form B after (or the reverse): only objectives answered on both count."""
    objective_of = {"a1": "usage", "a2": "skew", "b1": "usage", "b2": "skew"}
    rows = []
    for i in range(6):
        pre, post = (("a1", "a2"), ("b1", "b2")) if i % 2 else (("b1", "b2"), ("a1", "a2"))
        rows.append(attempt(f"L{i}", "pretest", pre[0], "pretest", "x", False, 0.0))
        rows.append(attempt(f"L{i}", "pretest", pre[1], "pretest", "x", True, 1.0))
        # the post-test answers only the first objective: the second is left out on both sides
        rows.append(attempt(f"L{i}", "posttest", post[0], "posttest", "x", True, 1.0, minutes=50))
    gain = pre_post_gain(frame(rows), objective_of=objective_of)
    assert gain.learners == 6
    assert gain.pre_mean == 0.0 and gain.post_mean == 1.0 and gain.mean_gain == 1.0
    unpaired = pre_post_gain(frame(rows), objective_of={})      # item ids differ: nothing pairs
    assert not unpaired.shown


def _class_gaining(changes: list[int], items: int = 12) -> list[dict]:
    """One learner per entry of `changes`: 4 of 12 right before, 4 + change right after."""
    rows = []
    for i, change in enumerate(changes):
        for j in range(items):
            rows.append(attempt(f"L{i}", "pretest", f"t{j}", "pretest", "a", j < 4, float(j < 4), minutes=j))
            right = j < 4 + change
            rows.append(attempt(f"L{i}", "posttest", f"t{j}", "posttest", "a", right, float(right),
                                minutes=100 + j))
    return rows


def test_the_gain_carries_an_interval_that_includes_zero_when_the_class_may_not_have_gained():
    mixed = pre_post_gain(frame(_class_gaining([3, -3, 2, -2, 1, -1, 0, 0])))
    assert mixed.mean_gain == 0.0
    assert mixed.gain_low < 0.0 < mixed.gain_high     # no gain is not ruled out
    clear = pre_post_gain(frame(_class_gaining([3, 4, 2, 3, 5, 3, 4, 2])))
    assert clear.gain_low > 0.0 and clear.gain_low <= clear.mean_gain <= clear.gain_high
    assert pre_post_gain(frame(_class_gaining([3, 4, 2, 3, 5, 3, 4, 2]))) == clear   # stable per load


def test_misconception_shift_counts_learners_who_took_both_forms_of_the_shipped_test():
    from course.analytics import misconception_shift
    from course.modules import load_pre_post_forms

    forms = load_pre_post_forms().forms
    a = next(q for q in forms["A"] if q.id == "pp-usage-outcome")
    b = next(q for q in forms["B"] if q.id == "pb-usage-outcome")
    equals_value = {q.id: next(o.text for o in q.options if o.misconception == "usage-equals-value")
                    for q in (a, b)}
    rows = []
    for i in range(8):   # 6 of 8 read usage as value before, 2 of 8 after
        rows.append(attempt(f"L{i}", "pretest", a.id, "pretest",
                            equals_value[a.id] if i < 6 else a.answer, i >= 6))
        rows.append(attempt(f"L{i}", "posttest", b.id, "posttest",
                            equals_value[b.id] if i < 2 else b.answer, i >= 2, minutes=60))
    rows.append(attempt("Lpre", "pretest", a.id, "pretest", equals_value[a.id], False))  # one test only
    shift = misconception_shift(frame(rows)).set_index("misconception")
    assert shift.loc["usage-equals-value", "learners"] == 8
    assert shift.loc["usage-equals-value", "before"] == 0.75 and shift.loc["usage-equals-value", "after"] == 0.25
    assert shift.loc["adoption-is-success", "before"] == 0.0      # offered in both forms, chosen by none
    small = misconception_shift(frame(rows[:8]))                  # 4 paired learners: nothing shown
    assert small.empty


def test_gain_is_hidden_under_five_paired_learners():
    rows = []
    for i in range(4):
        rows.append(attempt(f"L{i}", "pretest", "t0", "pretest", "a", False, 0.0))
        rows.append(attempt(f"L{i}", "posttest", "t0", "posttest", "a", True, 1.0, minutes=9))
    gain = pre_post_gain(frame(rows))
    assert not gain.shown and gain.mean_gain is None


# --------------------------------------------------------------------------- hints
def test_hint_use_splits_learners_by_deepest_tier_and_hides_small_cells():
    attempts = frame([attempt(f"L{i}", "m1", "ex", "exercise", "x", True, 1.0)
                      for i in range(12)])
    hints = pd.DataFrame([{"learner_id": f"L{i}", "module_id": "m1", "item_id": "ex",
                           "tier": 1} for i in range(6)]
                         + [{"learner_id": "L0", "module_id": "m1", "item_id": "ex", "tier": 2}])
    row = hint_use(hints, attempts).set_index("module_id").loc["m1"]
    assert row["learners"] == 12 and row["no hint"] == 6
    assert pd.isna(row["hint tier 2"]) and pd.isna(row["hint tier 1"])
    assert row["hints_per_learner"] == pytest.approx(7 / 12, abs=0.01)


# --------------------------------------------------------------------------- store, export
def test_report_from_a_real_store_leaves_out_workshop_answers(tmp_path):
    store = ProgressStore(f"sqlite:///{tmp_path / 'progress.sqlite'}")
    for i in range(6):
        store.ensure_learner(f"L{i}")
        store.record_attempt(f"L{i}", "m1", "proxy", "quiz", "Value doubled", False, 0.0,
                             "usage-is-value")
    store.ensure_learner("idle")
    store.record_attempt("W1", "m1", "proxy", "quiz", "Nothing about value yet", True, 1.0, None,
                         workshop_code="ABC234")
    store.record_hint("L0", "m1", "ex", 1)
    data = load_class_data(store)
    assert "W1" not in set(data.attempts["learner_id"])
    assert "idle" in data.learner_ids and len(data.hints) == 1
    report = class_report(data)
    assert report.progress.set_index("module_id").loc["m1", "learners"] == 7
    assert report.reteach["flag"].tolist() == ["re-teach: usage-is-value"]
    store.engine.dispose()


def test_csv_export_marks_hidden_cells_and_never_holds_learner_ids():
    spreads = answer_spreads(frame(spread_answers({"Value doubled": 3,
                                                   "Nothing about value yet": 9})),
                             {("m1", "proxy"): PROXY})
    text = to_csv(spreads).decode()
    assert HIDDEN_LABEL in text
    assert "L000" not in text and "learner_id" not in text


def test_pre_and_post_test_are_not_counted_as_modules_but_their_takers_are_in_the_class():
    rows = progress_rows(5, 0, 0)
    rows.append(attempt("Lpre", "pretest", "t0", "pretest", "a", False, 0.0))
    table = class_progress(frame(rows), items_per_module={"m1": 4}).set_index("module_id")
    assert list(table.index) == ["m1"]
    assert table.loc["m1", "learners"] == 6


def test_report_zip_holds_every_table_as_csv():
    import io
    import zipfile

    data = ClassData(frame(spread_answers({"Value doubled": 6, "Nothing about value yet": 6})),
                     pd.DataFrame(columns=["learner_id", "module_id", "item_id", "tier"]))
    archive = zipfile.ZipFile(io.BytesIO(report_zip(class_report(data))))
    assert {"class_progress.csv", "answer_spreads.csv", "reteach.csv", "pre_post_gain.csv",
            "hint_use.csv", "README.txt"} <= set(archive.namelist())
    assert "L000" not in b"".join(archive.read(n) for n in archive.namelist()).decode()


def test_class_fingerprint_changes_when_the_class_does(tmp_path):
    from course.analytics import class_fingerprint

    store = ProgressStore(f"sqlite:///{tmp_path / 'progress.sqlite'}")
    before = class_fingerprint(store)
    assert class_fingerprint(store) == before
    store.record_attempt("L1", "m1", "proxy", "quiz", "x", False, 0.0, None)
    after_attempt = class_fingerprint(store)
    store.record_hint("L1", "m1", "ex", 1)
    assert len({before, after_attempt, class_fingerprint(store)}) == 3
    store.engine.dispose()


def test_report_with_the_real_course_lists_every_option_of_an_answered_question():
    from course.modules import load_modules

    modules, _ = load_modules()
    module = modules[0]
    question = module.quiz[0]
    wrong = next(o for o in question.options if o.text != question.answer)
    rows = [attempt(f"L{i}", module.id, question.id, "quiz", wrong.text, False, 0.0,
                    wrong.misconception, minutes=i) for i in range(6)]
    data = ClassData(frame(rows), pd.DataFrame(columns=["learner_id", "module_id", "item_id",
                                                        "tier"]))
    report = class_report(data, modules)
    spread = report.spreads[report.spreads["item_id"] == question.id]
    assert set(spread["option"]) == {o.text for o in question.options}
    assert report.reteach["flag"].tolist() == [f"re-teach: {wrong.misconception}"]
    assert set(report.progress["module_id"]) == {m.id for m in modules}
