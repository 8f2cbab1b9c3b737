"""Live workshops: codes, joining, answering, the room's aggregate, closing, concurrency."""

import datetime as dt
import threading

import pytest

from course.progress import ProgressStore
from course.workshop import (CODE_ALPHABET, CODE_LENGTH, RoundQuestion, WorkshopError,
                             WorkshopStore, available_scenarios, misconception_in_words, normalize_code,
                             question_choices)
from tests.course.workshop_fixtures import Clock, store  # noqa: F401 - the fixture

QUESTION = RoundQuestion(
    key="m1/proxy", prompt="Sessions doubled after the mandate. What do you know?",
    options=("Value doubled", "Nothing about value yet", "Teams got lazier"),
    answer="Nothing about value yet",
    misconceptions=("usage-is-value", None, "activity-means-effort"))


@pytest.fixture
def room(store):
    workshop = store.create_workshop("mandate-bigco", "Board room")
    return store, workshop


def answer_all(store, workshop, round_, choices):
    for i, option in enumerate(choices):
        person = store.join(workshop.code, f"p{i}")
        store.submit_answer(workshop.code, person.token, round_.id, option)


def test_join_code_uses_only_unambiguous_characters(store):
    codes = {store.create_workshop("startup").code for _ in range(20)}
    assert len(codes) == 20
    for code in codes:
        assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    assert not set("0O1IL") & set(CODE_ALPHABET)


def test_code_typed_in_lower_case_with_spaces_still_joins(room):
    store, workshop = room
    typed = f" {workshop.code[:3].lower()}-{workshop.code[3:].lower()} "
    assert normalize_code(typed) == workshop.code
    assert store.join(typed, "Ada").code == workshop.code


def test_unknown_code_gives_a_clear_message(store):
    with pytest.raises(WorkshopError, match="No workshop has the code ZZZZZZ"):
        store.join("zzzzzz", "Ada")


def test_unknown_scenario_is_refused(store):
    with pytest.raises(WorkshopError, match="Unknown scenario"):
        store.create_workshop("no-such-company")
    assert "mandate-bigco" in available_scenarios()


def test_joining_a_closed_workshop_is_refused(room):
    store, workshop = room
    store.close_workshop(workshop.code)
    with pytest.raises(WorkshopError, match="closed"):
        store.join(workshop.code, "Ada")
    assert workshop.code not in {w.code for w in store.active_workshops()}


def test_workshop_expires_by_itself(tmp_path):
    clock = Clock()
    progress = ProgressStore(f"sqlite:///{tmp_path / 'p.sqlite'}")
    store = WorkshopStore(progress.engine, clock=clock)
    workshop = store.create_workshop("consultancy", hours=2)
    store.join(workshop.code, "early")
    clock.now += dt.timedelta(hours=2, minutes=1)
    with pytest.raises(WorkshopError, match="expired"):
        store.join(workshop.code, "late")
    assert store.active_workshops() == []
    progress.engine.dispose()


def test_nicknames_are_unique_per_room_regardless_of_case(room):
    store, workshop = room
    store.join(workshop.code, "Ada")
    with pytest.raises(WorkshopError, match="already taken"):
        store.join(workshop.code, "  ada ")
    with pytest.raises(WorkshopError, match="nickname"):
        store.join(workshop.code, "   ")


def test_answers_stay_hidden_until_five_people_answered(room):
    store, workshop = room
    round_ = store.open_question(workshop.code, QUESTION.key, QUESTION)
    answer_all(store, workshop, round_, ["Nothing about value yet"] * 4)
    waiting = store.aggregate(round_.id)
    assert not waiting.shown and waiting.waiting_for == 1
    assert "Waiting for 1 more answer" in waiting.status
    assert waiting.table().empty and all(o.count is None for o in waiting.options)


def test_room_aggregate_counts_answers_per_option_once_enough_answered(room):
    store, workshop = room
    round_ = store.open_question(workshop.code, QUESTION.key, QUESTION)
    answer_all(store, workshop, round_, ["Value doubled"] * 6 + ["Nothing about value yet"] * 9)
    aggregate = store.aggregate(round_.id)
    assert aggregate.shown and aggregate.answers == 15 and aggregate.participants == 15
    counts = {o.option: o.count for o in aggregate.options}
    assert counts == {"Value doubled": 6, "Nothing about value yet": 9, "Teams got lazier": 0}
    wrong = next(o for o in aggregate.options if o.option == "Value doubled")
    assert wrong.misconception == "usage is value" and not wrong.correct


def test_a_poll_shows_every_option_once_five_answered_even_small_ones(room):
    """A poll answer is anonymous, not data about a person: a 7-of-20 misconception must show
    (it used to be suppressed, and 'worth discussing' never appeared)."""
    store, workshop = room
    round_ = store.open_question(workshop.code, QUESTION.key, QUESTION)
    answer_all(store, workshop, round_, ["Value doubled"] * 7 + ["Nothing about value yet"] * 12
               + ["Teams got lazier"] * 1)
    aggregate = store.aggregate(round_.id)
    counts = {o.option: o.count for o in aggregate.options}
    assert counts == {"Value doubled": 7, "Nothing about value yet": 12, "Teams got lazier": 1}
    assert {o.option: round(aggregate.share(o), 2) for o in aggregate.options} == {
        "Value doubled": 0.35, "Nothing about value yet": 0.6, "Teams got lazier": 0.05}
    assert aggregate.popular_wrong_answer.option == "Value doubled"
    assert aggregate.status == "20 of 20 answered"


def test_data_about_people_keeps_complementary_suppression():
    """Only polls changed: staff analytics still hide small cells and their complement."""
    import pandas as pd

    from course.analytics import poll_spread, suppress_partition

    counts = pd.Series({"a": 2, "b": 8, "c": 6})
    assert suppress_partition(counts).isna().tolist() == [True, False, True]
    assert poll_spread(counts).tolist() == [2, 8, 6]
    assert poll_spread(pd.Series({"a": 1, "b": 3})).isna().all()


def test_changing_an_answer_counts_once(room):
    store, workshop = room
    round_ = store.open_question(workshop.code, QUESTION.key, QUESTION)
    ada = store.join(workshop.code, "Ada")
    assert not store.submit_answer(workshop.code, ada.token, round_.id, "Value doubled")
    assert store.submit_answer(workshop.code, ada.token, round_.id, "Nothing about value yet")
    assert store.aggregate(round_.id).answers == 1
    assert store.my_answer(ada.token, round_.id) == "Nothing about value yet"


def test_closed_question_takes_no_more_answers(room):
    store, workshop = room
    round_ = store.open_question(workshop.code, QUESTION.key, QUESTION)
    ada = store.join(workshop.code, "Ada")
    store.close_question(workshop.code)
    assert store.current_round(workshop.code) is None
    assert store.latest_round(workshop.code).id == round_.id
    with pytest.raises(WorkshopError, match="closed"):
        store.submit_answer(workshop.code, ada.token, round_.id, "Value doubled")


def test_opening_a_new_question_closes_the_previous_one(room):
    store, workshop = room
    first = store.open_question(workshop.code, QUESTION.key, QUESTION)
    second = store.open_question(workshop.code, "m1/other", QUESTION)
    assert second.seq == first.seq + 1
    assert store.get_round(first.id).closed_at is not None
    assert store.current_round(workshop.code).id == second.id


def test_answer_must_be_one_of_the_options(room):
    store, workshop = room
    round_ = store.open_question(workshop.code, QUESTION.key, QUESTION)
    ada = store.join(workshop.code, "Ada")
    with pytest.raises(WorkshopError, match="options"):
        store.submit_answer(workshop.code, ada.token, round_.id, "Something else")


def test_token_of_another_room_is_refused(store):
    first = store.create_workshop("startup")
    second = store.create_workshop("startup")
    ada = store.join(first.code, "Ada")
    with pytest.raises(WorkshopError, match="join again"):
        store.participant(second.code, ada.token)


def test_room_pre_post_gain_needs_five_paired_participants(room):
    store, workshop = room
    pre = store.open_question(workshop.code, "pretest/usage", QUESTION)
    people = [store.join(workshop.code, f"p{i}") for i in range(6)]
    for person in people:
        store.submit_answer(workshop.code, person.token, pre.id, "Value doubled")
    post = store.open_question(workshop.code, "posttest/usage", QUESTION)
    for person in people[:4]:
        store.submit_answer(workshop.code, person.token, post.id, "Nothing about value yet")
    assert not store.gain(workshop.code).shown
    store.submit_answer(workshop.code, people[4].token, post.id, "Nothing about value yet")
    gain = store.gain(workshop.code)
    assert gain.learners == 5 and gain.pre_mean == 0.0 and gain.post_mean == 1.0


def test_question_choices_cover_modules_and_both_test_stages():
    from dataclasses import dataclass

    @dataclass
    class Module:
        id: str
        number: int
        title: str
        retrieval: tuple
        quiz: tuple

    @dataclass
    class Question:
        id: str
        prompt: str

    module = Module("m1", 1, "The metric", (), (Question("proxy", "What do you know?"),))
    choices = question_choices([module], [Question("usage", "Usage is value?")])
    assert set(choices) == {"pretest/usage", "posttest/usage", "m1/proxy"}
    assert choices["m1/proxy"][0].startswith("Module 1")


@pytest.mark.slow
def test_many_participants_answering_at_once_all_count(room):
    store, workshop = room
    round_ = store.open_question(workshop.code, QUESTION.key, QUESTION)
    people = [store.join(workshop.code, f"p{i}") for i in range(24)]
    errors: list[Exception] = []
    barrier = threading.Barrier(len(people))

    def answer(person, option):
        try:
            barrier.wait()
            store.submit_answer(workshop.code, person.token, round_.id, option)
            store.submit_answer(workshop.code, person.token, round_.id, option)
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=answer, args=(p, QUESTION.options[i % 3]))
               for i, p in enumerate(people)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    aggregate = store.aggregate(round_.id)
    assert aggregate.answers == 24
    assert [o.count for o in aggregate.options] == [8, 8, 8]


@pytest.mark.slow
def test_many_participants_joining_at_once_get_distinct_seats(room):
    store, workshop = room
    joined, errors = [], []
    barrier = threading.Barrier(16)

    def join(i):
        try:
            barrier.wait()
            joined.append(store.join(workshop.code, f"n{i}"))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=join, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len({p.token for p in joined}) == 16
    assert store.participant_count(workshop.code) == 16


def test_popular_wrong_answer_is_pointed_out_for_discussion(room):
    store, workshop = room
    round_ = store.open_question(workshop.code, QUESTION.key, QUESTION)
    answer_all(store, workshop, round_, ["Value doubled"] * 6 + ["Nothing about value yet"] * 7)
    top = store.aggregate(round_.id).popular_wrong_answer
    assert top is not None and top.misconception == "usage is value"
    other = store.open_question(workshop.code, "m1/again", QUESTION)
    for i in range(13):
        person = store.join(workshop.code, f"q{i}")
        store.submit_answer(workshop.code, person.token, other.id, "Nothing about value yet")
    assert store.aggregate(other.id).popular_wrong_answer is None


def test_a_seat_is_found_again_by_its_rejoin_code_alone(room):
    store, workshop = room
    ada = store.join(workshop.code, "Ada")
    assert store.rejoin(workshop.code, ada.rejoin) == ada
    with pytest.raises(WorkshopError, match="not for a seat in workshop"):
        store.rejoin(workshop.code, "not-a-code")


@pytest.mark.slow
def test_everyone_in_a_room_gets_the_same_company(room):
    from course.workshop import room_company

    _, workshop = room
    first = room_company(workshop.scenario, workshop.seed, employees=30, days=40)
    second = room_company(workshop.scenario, workshop.seed, employees=30, days=40)
    assert first.meta["profile"] == "mandate-bigco"
    assert first.ai_events.equals(second.ai_events)


@pytest.mark.slow
def test_a_whole_workshop_runs_on_postgresql(postgres_url):
    progress = ProgressStore(postgres_url)
    store = WorkshopStore(progress.engine)
    workshop = store.create_workshop("startup", "On PostgreSQL")
    round_ = store.open_question(workshop.code, QUESTION.key, QUESTION)
    people = [store.join(workshop.code, f"pg{i}") for i in range(12)]
    with pytest.raises(WorkshopError, match="already taken"):
        store.join(workshop.code, "PG0")
    threads = [threading.Thread(target=store.submit_answer,
                                args=(workshop.code, p.token, round_.id, QUESTION.options[i % 2]))
               for i, p in enumerate(people)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.submit_answer(workshop.code, people[0].token, round_.id, QUESTION.options[0])
    aggregate = store.aggregate(round_.id)
    assert aggregate.answers == 12 and {o.option: o.count for o in aggregate.options} == dict(
        zip(QUESTION.options, [6, 6, 0]))
    store.close_workshop(workshop.code)
    with pytest.raises(WorkshopError, match="closed"):
        store.join(workshop.code, "late")
    progress.engine.dispose()


# ----------------------------------------------------------------------------- options in a room's order

def _course_choices():
    from course.modules import load_modules, pre_post_test

    modules, errors = load_modules()
    assert errors == []
    return question_choices(modules, pre_post_test())


ROOM_CODES = tuple("".join(CODE_ALPHABET[(7 * i + 3 * j * j + i * j) % len(CODE_ALPHABET)]
                           for j in range(CODE_LENGTH)) for i in range(30))


def test_across_rooms_the_right_answer_lands_in_every_position():
    """In file order the key was option B or C in 53 of 70 askable items; a room's own order
    must put it in each position about equally often."""
    positions: dict[int, list[int]] = {}
    file_order: dict[int, list[int]] = {}
    for key, (_, question) in _course_choices().items():
        texts = [o.text for o in question.options]
        file_order.setdefault(len(texts), []).append(texts.index(question.answer))
        orders = set()
        for code in ROOM_CODES:
            asked = RoundQuestion.from_question(key, question).in_room_order(code)
            assert sorted(asked.options) == sorted(texts)
            orders.add(asked.options)
            positions.setdefault(len(texts), []).append(asked.options.index(asked.answer))
        assert len(orders) > 1, f"{key} is asked in one order in every room"
    for n, seen in positions.items():
        shares = [seen.count(p) / len(seen) for p in range(n)]
        assert all(abs(share - 1 / n) < 0.06 for share in shares), (n, shares)
    three = file_order[3]
    assert max(three.count(p) for p in range(3)) / len(three) > 0.4   # what the shuffle removes


def test_a_room_keeps_one_order_for_a_question_and_its_revote(store):
    key, (_, question) = next((k, c) for k, c in _course_choices().items() if len(c[1].options) == 3)
    file_order = tuple(o.text for o in question.options)
    for _ in range(20):   # a room whose order differs from the file's, so the check can fail
        workshop = store.create_workshop("startup")
        expected = RoundQuestion.from_question(key, question).in_room_order(workshop.code)
        if expected.options != file_order:
            break
    assert expected.options != file_order
    first = store.open_question(workshop.code, key, question)
    assert first.question.options == expected.options
    assert store.get_round(first.id).question.options == expected.options
    assert store.current_round(workshop.code).question.options == expected.options
    store.close_question(workshop.code)
    second = store.revote(workshop.code, first.id)
    assert second.question.options == expected.options
    again = store.open_question(workshop.code, key, question)
    assert again.question.options == expected.options
    # tags and feedback travel with their option
    for option in question.options:
        assert again.question.misconception_words(option.text) == misconception_in_words(option.misconception)
        if option.text != question.answer:
            assert again.question.feedback_for(option.text) == option.feedback
    others = {RoundQuestion.from_question(key, question).in_room_order(code).options for code in ROOM_CODES}
    assert len(others) > 1


def test_answers_are_counted_on_the_option_chosen_whatever_its_position(store):
    from course.workshop_report import room_results

    key, (_, question) = next((k, c) for k, c in _course_choices().items() if len(c[1].options) == 4)
    workshop = store.create_workshop("startup")
    round_ = store.open_question(workshop.code, key, question)
    wrong = next(o.text for o in question.options if o.text != question.answer)
    answer_all(store, workshop, round_, [question.answer] * 6 + [wrong] * 3)
    aggregate = store.aggregate(round_.id)
    counts = {o.option: (o.count, o.correct) for o in aggregate.options}
    assert counts[question.answer] == (6, True) and counts[wrong] == (3, False)
    assert sum(c for c, _ in counts.values()) == 9
    rows = room_results(store, store.get_workshop(workshop.code))
    right = rows[rows["right_answer"] == True]  # noqa: E712 - a pandas mask
    assert right["option"].tolist() == [question.answer] and right["count"].tolist() == [6]
    assert rows.loc[rows["option"] == wrong, "count"].tolist() == [3]


def test_a_trainers_own_question_and_a_scale_keep_their_written_order(store):
    from course.workshop import trainer_question

    written = trainer_question("How many teams use it?", "choice", ["0-2", "3-5", "6-9", "10 or more"], "3-5")
    scale = trainer_question("How useful was that?", "scale")
    for code in ROOM_CODES[:10]:
        assert written.in_room_order(code) == written and scale.in_room_order(code) == scale
    workshop = store.create_workshop("startup")
    assert store.open_question(workshop.code, written.key, written).question.options == written.options


def test_a_revote_keeps_the_order_its_first_vote_was_asked_in(store):
    """A round stored before rooms had their own order keeps its order for the second vote, so
    the shift between the votes is read on one list."""
    from course.workshop import workshop_rounds

    key, (_, question) = next((k, c) for k, c in _course_choices().items() if len(c[1].options) == 3)
    file_order = RoundQuestion.from_question(key, question)
    for _ in range(20):   # a room whose own order differs from the file's, so the check can fail
        workshop = store.create_workshop("startup")
        if file_order.in_room_order(workshop.code).options != file_order.options:
            break
    assert file_order.in_room_order(workshop.code).options != file_order.options
    first = store.open_question(workshop.code, key, question)
    with store.engine.begin() as conn:
        conn.execute(workshop_rounds.update().where(workshop_rounds.c.id == first.id)
                     .values(question_json=file_order.to_json()))
    store.close_question(workshop.code)
    second = store.revote(workshop.code, first.id)
    assert second.question.options == file_order.options


def test_the_scenario_menu_describes_each_company_and_offers_one_without_code(tmp_path):
    from course.workshop import scenario_label

    assert "service-desk" in available_scenarios()
    label = scenario_label("service-desk")
    assert label.startswith("service-desk · ") and "tickets" in label
    assert scenario_label("no-such-profile", tmp_path) == "no-such-profile"   # a name, never an error


def test_the_join_qr_code_is_an_svg_that_scales_without_blurring():
    from course.workshop import join_qr_svg

    first, second = join_qr_svg("https://example.org/room?code=ABCDEF"), join_qr_svg("https://example.org/room?code=GHJKLM")
    assert first.startswith("<svg") and 'viewBox="0 0 ' in first
    assert " width=" not in first.split(">", 1)[0]      # no fixed size: the projector's width decides
    assert first != second


def test_a_store_made_before_the_answer_rate_index_gains_it_on_open(tmp_path):
    """The shared answer limit counts a seat's recent answers in the log: a database an earlier
    version made (no index on token and time) gets the index when the app opens it, once."""
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'progress.sqlite'}"
    first = ProgressStore(url)
    WorkshopStore(first.engine)
    with first.engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_workshop_answer_log_token_at"))
    first.engine.dispose()
    for _ in range(2):                       # upgraded, then opened again: no error, one index
        progress = ProgressStore(url)
        WorkshopStore(progress.engine)
        names = [ix["name"] for ix in sa.inspect(progress.engine).get_indexes("workshop_answer_log")]
        assert names.count("ix_workshop_answer_log_token_at") == 1
        progress.engine.dispose()
