"""A workshop after the first vote: nothing lost, peer instruction, timers, trainer questions,
rooms that belong to their trainer, the history, the export and the summary."""

import datetime as dt
import random
import threading
import time

import pandas as pd
import pytest

from course.progress import ProgressStore
from course.workshop import (RoundQuestion, WorkshopError, WorkshopStore, misconception_in_words,
                             trainer_question)
from course.workshop_report import (results_csv, room_results, room_summary, shift_chart,
                                    shift_frame, spread_chart, spread_frame)
from tests.course.workshop_fixtures import Clock, store  # noqa: F401 - the fixture

QUESTION = RoundQuestion(
    key="m1/proxy", prompt="Sessions doubled after the mandate. What do you know?",
    options=("Value doubled", "Nothing about value yet", "Teams got lazier"),
    answer="Nothing about value yet",
    misconceptions=("usage-equals-value", None, "transition-cost-excuse"),
    explanation="Usage answered the mandate; value depends on whether it touched real work.",
    feedback=("Check whether output moved too.", "", "Theater is cheap; expect flat output."))


def _room_of_answers(store, code, round_, answers):
    people = []
    for i, option in enumerate(answers):
        person = store.join(code, f"p{round_.id}-{i}")
        store.submit_answer(code, person.token, round_.id, option)
        people.append(person)
    return people


def _change_within_200_ms(store, participants=50):
    """Each participant answers, then changes the answer 0–200 ms later, all at once."""
    room = store.create_workshop("startup", "Fast fingers")
    round_ = store.open_question(room.code, QUESTION.key, QUESTION)
    people = [store.join(room.code, f"n{i}") for i in range(participants)]
    barrier = threading.Barrier(participants)
    errors: list[Exception] = []
    rng = random.Random(7)
    delays = [rng.uniform(0, 0.2) for _ in people]

    def answer(person, delay):
        try:
            barrier.wait()
            store.submit_answer(room.code, person.token, round_.id, QUESTION.options[0])
            time.sleep(delay)
            store.submit_answer(room.code, person.token, round_.id, QUESTION.options[1])
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=answer, args=(p, d)) for p, d in zip(people, delays)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    finals = [store.my_answer(p.token, round_.id) for p in people]
    assert finals == [QUESTION.options[1]] * participants        # zero changes lost
    assert store.answer_changes(round_.id) == 2 * participants  # every change logged
    assert {o.option: o.count for o in store.aggregate(round_.id).options} == dict(
        zip(QUESTION.options, [0, participants, 0]))


@pytest.mark.slow
def test_fifty_quick_answer_changes_are_all_kept_on_sqlite(store):
    _change_within_200_ms(store)


@pytest.mark.slow
def test_fifty_quick_answer_changes_are_all_kept_on_postgresql(postgres_url):
    progress = ProgressStore(postgres_url)
    _change_within_200_ms(WorkshopStore(progress.engine))
    progress.engine.dispose()


def test_an_older_database_gets_the_new_columns(tmp_path):
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE workshops (code VARCHAR(6) PRIMARY KEY, title TEXT, "
                             "scenario TEXT, seed BIGINT, created_at DATETIME, expires_at "
                             "DATETIME, closed_at DATETIME)"))
        conn.execute(sa.text("CREATE TABLE workshop_participants (token VARCHAR(64) PRIMARY "
                             "KEY, code VARCHAR(6), nickname VARCHAR(24), nickname_key "
                             "VARCHAR(24), joined_at DATETIME, UNIQUE (code, nickname_key))"))
        conn.execute(sa.text("INSERT INTO workshops VALUES ('ABCDEF', 'Old', 'startup', 1, "
                             "'2026-01-01 09:00:00', '2099-01-01 09:00:00', NULL)"))
    store = WorkshopStore(engine)
    old = store.get_workshop("ABCDEF")
    assert old.owner is None and old.title == "Old" and not old.paused
    store.open_question("ABCDEF", QUESTION.key, QUESTION, seconds=60)
    store.pause_workshop("ABCDEF")
    store.resume_workshop("ABCDEF")
    ada = store.join("ABCDEF", "Ada")                 # the rejoin column was added
    assert store.rejoin("ABCDEF", ada.rejoin).token == ada.token


# ----------------------------------------------------------------------------- ownership, history

def test_rooms_belong_to_the_staff_account_that_opened_them(store):
    mine = store.create_workshop("startup", "Mine", owner="Grace Hopper")
    theirs = store.create_workshop("consultancy", "Theirs", owner="Alan")
    assert [w.code for w in store.active_workshops("grace hopper")] == [mine.code]
    assert store.owned_workshop(mine.code, "Grace Hopper").title == "Mine"
    with pytest.raises(WorkshopError, match="No workshop of yours"):
        store.owned_workshop(theirs.code, "Grace Hopper")
    with pytest.raises(WorkshopError, match="No workshop of yours"):
        store.close_workshop(theirs.code, owner="Grace Hopper")
    assert store.get_workshop(theirs.code).closed_at is None
    with pytest.raises(WorkshopError, match="account name"):
        store.create_workshop("startup", owner="   ")


def test_a_closed_room_stays_in_the_history_with_its_results(store):
    room = store.create_workshop("startup", "Debrief me", owner="Ada")
    round_ = store.open_question(room.code, QUESTION.key, QUESTION)
    _room_of_answers(store, room.code, round_, ["Value doubled"] * 3 + ["Nothing about value yet"] * 3)
    store.close_workshop(room.code, owner="Ada")
    assert store.active_workshops("Ada") == []
    history = store.workshop_history("Ada")
    assert [w.code for w in history] == [room.code] and history[0].closed_at is not None
    assert store.aggregate(round_.id).shown


# ----------------------------------------------------------------------------- peer instruction

def test_peer_instruction_revote_and_reveal(store):
    room = store.create_workshop("startup")
    first = store.open_question(room.code, QUESTION.key, QUESTION)
    _room_of_answers(store, room.code, first, ["Value doubled"] * 6 + ["Nothing about value yet"] * 4)
    store.close_question(room.code)
    second = store.revote(room.code, first.id)
    assert second.vote == 2 and second.first_vote_id == first.id and second.is_open
    _room_of_answers(store, room.code, second, ["Value doubled"] * 2 + ["Nothing about value yet"] * 8)
    a, b = store.aggregate(first.id), store.aggregate(second.id)
    shift = shift_frame(a, b, revealed=False)
    assert shift.pivot(index="option", columns="vote", values="share").loc[
        "Nothing about value yet"].tolist() == [0.4, 0.8]
    assert not shift["right"].any()           # nothing marks the answer before the reveal
    spec = shift_chart(a, b).to_dict()
    assert "✓" not in str(spec["datasets"])
    store.reveal(room.code, second.id)
    assert store.get_round(first.id).revealed and store.get_round(second.id).revealed
    assert not store.get_round(second.id).is_open
    revealed = shift_chart(a, b, revealed=True).to_dict()
    assert "✓ Nothing about value yet" in str(revealed["datasets"])
    with pytest.raises(WorkshopError, match="already revealed"):
        store.revote(room.code, first.id)


def test_misconceptions_are_named_in_words_and_explanations_travel_with_the_round(store):
    assert misconception_in_words("transition-cost-excuse") == "transition cost excuse"
    room = store.create_workshop("startup")
    round_ = store.open_question(room.code, QUESTION.key, QUESTION)
    saved = store.get_round(round_.id).question
    assert saved.explanation.startswith("Usage answered")
    assert saved.misconception_words("Teams got lazier") == "transition cost excuse"
    assert saved.feedback_for("Value doubled") == "Check whether output moved too."


def test_bar_chart_shows_percentages_and_marks_the_answer_only_when_revealed(store):
    room = store.create_workshop("startup")
    round_ = store.open_question(room.code, QUESTION.key, QUESTION)
    _room_of_answers(store, room.code, round_, ["Value doubled"] * 7 + ["Nothing about value yet"] * 13)
    aggregate = store.aggregate(round_.id)
    hidden = spread_frame(aggregate, revealed=False)
    assert dict(zip(hidden["option"], hidden["text"])) == dict(
        zip(QUESTION.options, ["35% (7)", "65% (13)", "0% (0)"]))
    assert set(hidden["group"]) == {"other options"}
    spec = spread_chart(aggregate, revealed=False, font_size=28).to_dict()
    assert "right answer" not in str(spec["datasets"])
    shown = spread_frame(aggregate, revealed=True)
    assert shown.loc[shown["option"] == "Nothing about value yet", "group"].item() == "right answer"


# ----------------------------------------------------------------------------- timer, own questions

def test_a_timer_closes_the_question_by_itself(tmp_path):
    clock = Clock()
    progress = ProgressStore(f"sqlite:///{tmp_path / 'p.sqlite'}")
    store = WorkshopStore(progress.engine, clock=clock)
    room = store.create_workshop("startup")
    round_ = store.open_question(room.code, QUESTION.key, QUESTION, seconds=30)
    ada = store.join(room.code, "Ada")
    assert round_.seconds_left(clock.now) == 30
    clock.now += dt.timedelta(seconds=29)
    store.submit_answer(room.code, ada.token, round_.id, "Value doubled")
    clock.now += dt.timedelta(seconds=2)
    assert store.current_round(room.code) is None
    with pytest.raises(WorkshopError, match="closed"):
        store.submit_answer(room.code, ada.token, round_.id, "Nothing about value yet")
    assert store.get_round(round_.id).closed_at == round_.opened_at + dt.timedelta(seconds=30)
    with pytest.raises(WorkshopError, match="timer"):
        store.open_question(room.code, QUESTION.key, QUESTION, seconds=1)
    progress.engine.dispose()


def test_trainer_written_questions_are_saved_with_the_room(store):
    room = store.create_workshop("startup")
    scale = trainer_question("How much do you trust your AI dashboard?", "scale")
    choice = trainer_question("Which number would you report?", "choice",
                              ["Sessions", " Merged work ", "", "Sessions"], answer="Merged work")
    assert scale.options == ("1", "2", "3", "4", "5") and scale.answer is None
    assert choice.options == ("Sessions", "Merged work")
    store.save_question(room.code, scale)
    store.save_question(room.code, choice)
    assert [q.prompt for q in store.saved_questions(room.code)] == [scale.prompt, choice.prompt]
    round_ = store.open_question(room.code, scale.key, scale)
    _room_of_answers(store, room.code, round_, ["4", "4", "5", "2", "3"])
    aggregate = store.aggregate(round_.id)
    assert aggregate.shown and not any(o.correct for o in aggregate.options)
    assert aggregate.popular_wrong_answer is None    # nothing is wrong on a scale
    for bad, message in [(("", "scale"), "Write the question"),
                         (("Q?", "choice", ["only one"]), "2 to 8"),
                         (("Q?", "choice", ["a", "b"], "c"), "not one of the options"),
                         (("Q?", "essay"), "Unknown question kind")]:
        with pytest.raises(WorkshopError, match=message):
            trainer_question(*bad)


# ----------------------------------------------------------------------------- export, summary

def test_export_and_summary_hold_counts_never_who_answered(store):
    room = store.create_workshop("startup", "Offsite", owner="Ada")
    first = store.open_question(room.code, QUESTION.key, QUESTION)
    people = _room_of_answers(store, room.code, first,
                              ["Value doubled"] * 7 + ["Nothing about value yet"] * 13)
    store.close_question(room.code)
    second = store.revote(room.code, first.id)
    for person in people:
        store.submit_answer(room.code, person.token, second.id, "Nothing about value yet")
    store.open_question(room.code, "m1/few", QUESTION)   # only 0 answers: no spread
    store.close_workshop(room.code)
    frame = room_results(store, store.get_workshop(room.code))
    assert list(frame["question_no"].unique()) == [1, 2, 3]
    first_rows = frame[frame["question_no"] == 1]
    assert dict(zip(first_rows["option"], first_rows["count"])) == dict(zip(QUESTION.options, [7, 13, 0]))
    assert dict(zip(first_rows["option"], first_rows["share"])) == dict(
        zip(QUESTION.options, [0.35, 0.65, 0.0]))
    assert frame[frame["question_no"] == 3]["count"].isna().all()
    csv = results_csv(store, store.get_workshop(room.code)).decode()
    for person in people:
        assert person.nickname not in csv and person.token not in csv
    summary = room_summary(store, store.get_workshop(room.code))
    assert "# Offsite" in summary and "20 participants" in summary
    assert "35% (7)" in summary and "35% → 0%" in summary
    assert "worth discussing: 35% chose “Value doubled” (usage equals value)" in summary
    assert "fewer than 5 answers" in summary
    assert all(p.nickname not in summary for p in people)
    back = pd.read_csv(__import__("io").StringIO(csv))
    assert len(back) == len(frame)


# ----------------------------------------------------------------------------- the board question

def test_board_question_reveals_the_truth_of_the_rooms_company(small_company):
    from course.workshop_board import board_question
    from exercises import truth

    question, figures = board_question(small_company)
    assert figures.theater_share == truth.theater_share(small_company)
    assert figures.measured_effect == truth.access_effect(small_company)["value"]
    assert question.kind == "board" and len(question.options) == 3
    assert question.answer.startswith("Closed work per week")
    assert f"{figures.theater_share:.0%} of the AI activity" in question.explanation
    assert f"{figures.measured_effect:+.0f}%" in question.explanation
    assert question.misconception_words(question.options[0]) == "usage equals value"
    weekly = truth.weekly_usage_output(small_company)
    assert 0 < figures.weekly_users <= 1 and not weekly.empty


def test_a_post_test_spread_and_the_gain_line_tell_the_same_story(store):
    """16 of 20 right on the post-test used to show every count as hidden while the gain line
    below it ('45% → 80%') gave them away; now the spread is shown and agrees with the gain."""
    room = store.create_workshop("startup")
    people = [store.join(room.code, f"p{i}") for i in range(20)]
    pre = store.open_question(room.code, "pretest/proxy", QUESTION)
    for i, person in enumerate(people):
        store.submit_answer(room.code, person.token, pre.id, QUESTION.options[int(i < 9)])
    post = store.open_question(room.code, "posttest/proxy", QUESTION)
    for i, person in enumerate(people):
        store.submit_answer(room.code, person.token, post.id, QUESTION.options[int(i < 16)])
    spread = store.aggregate(post.id)
    assert {o.option: o.count for o in spread.options} == dict(zip(QUESTION.options, [4, 16, 0]))
    gain = store.gain(room.code)
    assert gain.shown and (gain.pre_mean, gain.post_mean) == (0.45, 0.80)
    assert spread.share(next(o for o in spread.options if o.correct)) == gain.post_mean


def test_no_gain_line_until_five_people_took_both_tests(store):
    room = store.create_workshop("startup")
    people = [store.join(room.code, f"p{i}") for i in range(6)]
    pre = store.open_question(room.code, "pretest/proxy", QUESTION)
    for person in people[:4]:
        store.submit_answer(room.code, person.token, pre.id, QUESTION.options[1])
    post = store.open_question(room.code, "posttest/proxy", QUESTION)
    for person in people:
        store.submit_answer(room.code, person.token, post.id, QUESTION.options[1])
    assert not store.gain(room.code).shown
