"""Room modes beyond multiple choice: the kit's run-of-show step by step, module 1's checker game
played by the room, and open-text questions the trainer moderates before the projector shows them."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from course import checker_game as cg
from course import workshop
from course import workshop_checker as checker
from course import workshop_kit as kit_lib
from course import workshop_report as report
from course.modules import load_modules, load_pre_post_test
from course.workshop import WorkshopError, parse_plan, plan_answer, trainer_question
from course.workshop_steps import step_question
from tests.course.workshop_fixtures import store  # noqa: F401  (fixture)

TARGET = 25.0


def _checker_round(store, code):
    game = checker.load_game(load_modules()[0])
    return store.open_question(code, checker.KEY, checker.checker_question(game))


def _seated(store, code, n):
    return [store.join(code, f"p{i}") for i in range(n)]


# ----------------------------------------------------------------------------- the checker game

def test_the_room_plays_the_checker_game_and_every_green_plan_scores_below_the_best(store):
    room = store.create_workshop("startup", "Checker")
    current = _checker_round(store, room.code)
    assert current.question.kind == "checker" and current.question.dashboard_target == TARGET
    plans = [(4, 21), (10, 15), (20, 5), (0, 25), (12, 0), (6, 2), (20, 40)]
    for person, plan in zip(_seated(store, room.code, len(plans)), plans):
        green = store.submit_answer(room.code, person.token, current.id, plan_answer(*plan))
        assert green == (sum(plan) >= TARGET)              # the visible checker's own verdict
    scored = checker.room_plans(store.current_answers(current.id), room.seed, TARGET)
    assert scored.shown and len(scored.green) == 5 and scored.green_share == pytest.approx(5 / 7)
    team = checker.room_team(room.seed)
    for plan in scored.plans:                              # the game's functions, nothing new
        assert plan.output_change_pct == cg.output_change_pct(plan.real, plan.padded, team)
        assert plan.dashboard == cg.dashboard_score(plan.real, plan.padded, TARGET)
    assert all(p.output_change_pct < scored.best.output_change_pct for p in scored.green)
    assert not scored.best.green
    assert "every one" in scored.hidden_summary()
    assert "5 of 7 plans (71%) turn the dashboard green" in scored.visible_summary()


def test_no_green_plan_beats_the_best_on_any_rooms_hidden_team():
    """The reveal's lesson must hold for every room, whatever its seed."""
    every_plan = [plan_answer(r, p) for r, p in
                  itertools.product(range(cg.REAL_MAX + 1), range(cg.PADDED_MAX + 1))]
    for seed in range(40):
        scored = checker.room_plans(every_plan, seed, TARGET)
        assert scored.green and max(p.output_change_pct for p in scored.green) < \
            scored.best.output_change_pct


def test_rooms_get_different_hidden_teams():
    assert len({checker.room_team(seed) for seed in range(20)}) == 20


@pytest.mark.parametrize("sent", ["21 real, 0 padded", "0 real, 41 padded", "-1 real, 5 padded",
                                  "Value doubled", "<script>alert(1)</script>", "", "5 real,5 padded"])
def test_a_plan_outside_the_sliders_is_refused(store, sent):
    room = store.create_workshop("startup")
    current = _checker_round(store, room.code)
    person = store.join(room.code, "Ada")
    with pytest.raises(WorkshopError, match="plan"):
        store.submit_answer(room.code, person.token, current.id, sent)
    assert store.answer_count(current.id) == 0


def test_the_checker_game_is_not_voted_again_and_reveals_the_hidden_check(store):
    room = store.create_workshop("startup")
    current = _checker_round(store, room.code)
    store.close_question(room.code)
    with pytest.raises(WorkshopError, match="options"):
        store.revote(room.code, current.id)
    assert current.question.revealable and not current.question.has_answer
    store.reveal(room.code, current.id)
    assert store.get_round(current.id).revealed


def test_fewer_than_five_plans_show_nothing_of_the_room():
    scored = checker.room_plans([plan_answer(4, 21)] * 4, 7, TARGET)
    assert not scored.shown and "Waiting for 1 more plan" in scored.visible_summary()
    assert scored.hidden_summary() == scored.status


# ----------------------------------------------------------------------------- open text

def _text_round(store, code, prompt="One thing you will stop measuring?"):
    return store.open_question(code, "room/stop", trainer_question(prompt, "text"))


def test_open_text_answers_wait_for_the_trainer_and_only_approved_ones_show(store):
    room = store.create_workshop("startup")
    current = _text_round(store, room.code)
    people = _seated(store, room.code, 6)
    for i, person in enumerate(people):
        store.submit_answer(room.code, person.token, current.id, f"  answer   {i} ")
    queue = store.text_answers(current.id)
    assert [a.text for a in queue] == [f"answer {i}" for i in range(6)]   # whitespace cleaned
    assert all(a.state is None for a in queue) and store.approved_texts(current) == []
    store.moderate(room.code, queue[0].id, "approved")
    store.moderate(room.code, queue[1].id, "approved")
    store.moderate(room.code, queue[2].id, "hidden")
    assert sorted(store.approved_texts(current)) == ["answer 0", "answer 1"]
    # A changed answer goes back to the queue: the approval was for the old words.
    store.submit_answer(room.code, people[0].token, current.id, "something else entirely")
    assert store.approved_texts(current) == ["answer 1"]
    assert any(a.text == "something else entirely" and a.state is None
               for a in store.text_answers(current.id))


def test_an_answer_changed_after_the_trainer_read_it_is_not_approved_unseen(store):
    room = store.create_workshop("startup")
    current = _text_round(store, room.code)
    person = store.join(room.code, "Ada")
    store.submit_answer(room.code, person.token, current.id, "a harmless sentence")
    read = store.text_answers(current.id)[0]
    store.submit_answer(room.code, person.token, current.id, "something the trainer never saw")
    with pytest.raises(WorkshopError, match="changed after you read it"):
        store.moderate(room.code, read.id, "approved", seen_text=read.text)
    assert store.approved_texts(current) == []


def test_an_open_text_answer_is_at_most_280_characters_and_not_empty(store):
    room = store.create_workshop("startup")
    current = _text_round(store, room.code)
    person = store.join(room.code, "Ada")
    with pytest.raises(WorkshopError, match="280"):
        store.submit_answer(room.code, person.token, current.id, "x" * 281)
    with pytest.raises(WorkshopError, match="Write your answer"):
        store.submit_answer(room.code, person.token, current.id, "   ")
    store.submit_answer(room.code, person.token, current.id, "y" * 280)
    assert store.my_answer(person.token, current.id) == "y" * 280


def test_a_trainer_cannot_moderate_another_rooms_answers(store):
    mine = store.create_workshop("startup", owner="Grace")
    theirs = store.create_workshop("startup", owner="Alan")
    current = _text_round(store, theirs.code)
    person = store.join(theirs.code, "Ada")
    store.submit_answer(theirs.code, person.token, current.id, "their words")
    answer_id = store.text_answers(current.id)[0].id
    with pytest.raises(WorkshopError, match="no longer in this room"):
        store.moderate(mine.code, answer_id, "approved", owner="Grace")
    with pytest.raises(WorkshopError, match="No workshop of yours"):
        store.moderate(theirs.code, answer_id, "approved", owner="Grace")
    with pytest.raises(WorkshopError, match="Unknown moderation"):
        store.moderate(theirs.code, answer_id, "shown", owner="Alan")
    assert store.approved_texts(current) == []


def test_deleting_a_room_deletes_its_open_text_answers(store):
    room = store.create_workshop("startup")
    current = _text_round(store, room.code)
    for person in _seated(store, room.code, 3):
        store.submit_answer(room.code, person.token, current.id, f"words of {person.nickname}")
    store.close_workshop(room.code)
    store.delete_workshop(room.code)
    with store.engine.connect() as conn:
        for table in (workshop.workshop_answers, workshop.workshop_answer_log):
            left = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            assert left == 0


def test_the_summary_quotes_approved_answers_as_plain_text(store):
    room = store.create_workshop("startup", "Texts")
    current = _text_round(store, room.code)
    for i, person in enumerate(_seated(store, room.code, 5)):
        store.submit_answer(room.code, person.token, current.id,
                            "<img src=x onerror=alert(1)> [click](http://evil)" if i == 0 else f"plain {i}")
    for answer in store.text_answers(current.id):
        store.moderate(room.code, answer.id, "approved")
    summary = report.room_summary(store, store.get_workshop(room.code))
    assert "5 answers, 5 approved" in summary
    assert "<img" not in summary and "](http" not in summary and "&lt;img" in summary
    rows = report.room_results(store, store.get_workshop(room.code))
    assert len(rows) == 5 and rows["count"].isna().all()


def test_the_export_counts_green_and_not_green_plans(store):
    room = store.create_workshop("startup", "Game")
    current = _checker_round(store, room.code)
    for person, plan in zip(_seated(store, room.code, 5), [(4, 21), (5, 20), (12, 0), (0, 30), (3, 3)]):
        store.submit_answer(room.code, person.token, current.id, plan_answer(*plan))
    rows = report.room_results(store, store.get_workshop(room.code))
    assert dict(zip(rows["option"], rows["count"])) == {checker.GREEN: 3, checker.NOT_GREEN: 2}
    assert "hidden check" in report.room_summary(store, store.get_workshop(room.code))
    aggregate = store.aggregate(current.id)
    assert aggregate.answers == 5 and report.spread_summary(aggregate, True).startswith("5 plans")


def test_plans_are_stored_in_one_readable_form():
    assert parse_plan(plan_answer(7, 3)) == (7, 3) and plan_answer(7, 3) == "7 real, 3 padded"


# ----------------------------------------------------------------------------- the kit, step by step

def test_the_kit_steps_walk_every_question_of_a_version_in_order():
    kit = kit_lib.load_kit()
    steps = kit_lib.kit_steps(kit, "full")
    assert [s.key for s in steps] == [k for b in kit.version("full") for k in (b.ask or (None,))]
    assert steps[0].budget == "Block 1 of 8 · Join, and the first test · 8 min (minute 0–8 of 90)"
    assert kit_lib.next_kit_step(steps, None).index == 0
    assert kit_lib.next_kit_step(steps, 0).key == steps[1].key
    # A question already opened by hand from the list is passed over.
    assert kit_lib.next_kit_step(steps, 0, asked={steps[1].key}).index == 2
    assert kit_lib.next_kit_step(steps, len(steps) - 1) is None
    short = kit_lib.kit_steps(kit, "short")
    assert short[-1].total_minutes == 45 and short[-1].block.id == "commit"


def test_every_kit_step_opens_a_round_in_a_room(store):
    """Each key of both versions becomes a round (the board question aside: it needs the room's
    generated company, and the page tests open it)."""
    modules, _ = load_modules()
    choices = workshop.question_choices(modules, load_pre_post_test())
    kit = kit_lib.load_kit()
    room = store.create_workshop("startup")
    keys = {s.key for v in kit.versions for s in kit_lib.kit_steps(kit, v.id)} - {None, "board"}
    for key in sorted(keys):
        round_key, question = step_question(key, room, kit, choices, modules,
                                            lambda: pytest.fail("generated a company"))
        opened = store.open_question(room.code, round_key, question)
        assert opened.question.prompt
    kinds = {r.question.kind for r in store.rounds(room.code)}
    assert {"choice", "simulator", "checker", "text"} <= kinds


def test_a_room_remembers_where_it_is_in_the_kit(store):
    room = store.create_workshop("startup", owner="Grace")
    with pytest.raises(WorkshopError, match="run-of-show"):
        store.mark_kit_step(room.code, 0, True, owner="Grace")
    store.follow_kit(room.code, "short", owner="Grace")
    store.mark_kit_step(room.code, 1, True, owner="Grace")
    followed = store.get_workshop(room.code)
    assert (followed.kit_version, followed.kit_step) == ("short", 1)
    started = followed.kit_block_at
    store.mark_kit_step(room.code, 2, False, owner="Grace")
    assert store.get_workshop(room.code).kit_block_at == started   # same block, same clock
    store.follow_kit(room.code, None, owner="Grace")
    assert store.get_workshop(room.code).kit_step is None
    with pytest.raises(WorkshopError, match="No workshop of yours"):
        store.follow_kit(room.code, "full", owner="Alan")


# ----------------------------------------------------------------------------- a co-host

def test_a_co_host_runs_the_room_but_only_the_owner_deletes_it_or_adds_others(store):
    room = store.create_workshop("startup", "Shared", owner="Grace")
    with pytest.raises(WorkshopError, match="No workshop of yours"):
        store.owned_workshop(room.code, "Alan")
    store.add_cohost(room.code, "Grace", "Alan")
    assert store.cohosts(room.code) == ["Alan"]
    assert store.owned_workshop(room.code, "alan").code == room.code       # case does not matter
    assert [w.code for w in store.workshop_history("Alan")] == [room.code]
    store.pause_workshop(room.code, owner="Alan")
    store.resume_workshop(room.code, owner="Alan")
    store.follow_kit(room.code, "short", owner="Alan")
    for not_theirs in (lambda: store.add_cohost(room.code, "Alan", "Joan"),
                       lambda: store.remove_cohost(room.code, "Alan", "Alan")):
        with pytest.raises(WorkshopError, match="Only Grace"):
            not_theirs()
    with pytest.raises(WorkshopError, match="already co-hosts"):
        store.add_cohost(room.code, "Grace", "ALAN")
    with pytest.raises(WorkshopError, match="run this workshop already"):
        store.add_cohost(room.code, "Grace", "grace")
    with pytest.raises(WorkshopError, match="No workshop of yours"):
        store.owned_workshop(room.code, "Joan")
    store.close_workshop(room.code, owner="Alan")
    with pytest.raises(WorkshopError, match="Only Grace"):
        store.delete_workshop(room.code, owner="Alan")
    store.remove_cohost(room.code, "Grace", "Alan")
    with pytest.raises(WorkshopError, match="No workshop of yours"):
        store.owned_workshop(room.code, "Alan")
    store.add_cohost(room.code, "Grace", "Alan")
    store.delete_workshop(room.code, owner="Grace")                       # co-hosts go with it
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count())
                            .select_from(workshop.workshop_cohosts)).scalar() == 0
