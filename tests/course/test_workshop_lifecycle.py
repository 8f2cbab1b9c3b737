"""A room's life beyond one question: pause and resume, timed closes recorded when the timer
ended, one seat across devices, and deletion (by the trainer, or by itself after retention)."""

import datetime as dt

import pytest
import sqlalchemy as sa

from course import workshop_report as report
from course.progress import ProgressStore
from course.workshop import (RETENTION_DAYS, RoundQuestion, WorkshopError, WorkshopStore,
                             rejoin_hash, rejoin_url, workshop_answer_log, workshop_answers,
                             workshop_participants, workshop_rounds, workshops)
from tests.course.workshop_fixtures import Clock

QUESTION = RoundQuestion(
    key="room/usage", prompt="Usage doubled. What do you know?",
    options=("Value doubled", "Nothing about value yet"), answer="Nothing about value yet",
    misconceptions=("usage-is-value", None))


@pytest.fixture
def timed(tmp_path):
    """A store on a clock the test moves, with its database file."""
    clock = Clock()
    path = tmp_path / "progress.sqlite"
    progress = ProgressStore(f"sqlite:///{path}")
    yield WorkshopStore(progress.engine, clock=clock), clock, path
    progress.engine.dispose()


# ------------------------------------------------------------------------------ timed closes
@pytest.mark.parametrize("next_action", ["open", "close", "reveal", "close room"])
def test_a_timed_question_is_recorded_closed_when_its_timer_ran_out(timed, next_action):
    """Nobody looked at the room while the timer ran out: whatever the trainer does next, the
    export says voting ended at opened_at + seconds, not at the trainer's next click."""
    store, clock, _ = timed
    room = store.create_workshop("startup")
    round_ = store.open_question(room.code, QUESTION.key, QUESTION, seconds=60)
    clock.now += dt.timedelta(minutes=7)
    {"open": lambda: store.open_question(room.code, QUESTION.key, QUESTION),
     "close": lambda: store.close_question(room.code),
     "reveal": lambda: store.reveal(room.code, round_.id),
     "close room": lambda: store.close_workshop(room.code)}[next_action]()
    ended = round_.opened_at + dt.timedelta(seconds=60)
    assert store.get_round(round_.id).closed_at == ended
    exported = report.room_results(store, store.get_workshop(room.code))
    assert set(exported.loc[exported["question_no"] == 1, "closed_at"]) == {ended}


def test_a_question_closed_before_its_timer_keeps_the_trainers_moment(timed):
    store, clock, _ = timed
    room = store.create_workshop("startup")
    round_ = store.open_question(room.code, QUESTION.key, QUESTION, seconds=60)
    clock.now += dt.timedelta(seconds=20)
    store.close_question(room.code)
    assert store.get_round(round_.id).closed_at == round_.opened_at + dt.timedelta(seconds=20)


# ------------------------------------------------------------------------------ pause
def test_a_paused_room_takes_no_answers_and_its_timer_waits(timed):
    store, clock, _ = timed
    room = store.create_workshop("startup", owner="Grace")
    round_ = store.open_question(room.code, QUESTION.key, QUESTION, seconds=60)
    ada = store.join(room.code, "Ada")
    clock.now += dt.timedelta(seconds=20)
    store.pause_workshop(room.code, owner="Grace")
    assert store.get_workshop(room.code).paused
    with pytest.raises(WorkshopError, match="paused"):
        store.submit_answer(room.code, ada.token, round_.id, "Value doubled")
    with pytest.raises(WorkshopError, match="resume"):
        store.open_question(room.code, QUESTION.key, QUESTION)
    with pytest.raises(WorkshopError, match="No workshop of yours"):
        store.pause_workshop(room.code, owner="Alan")
    clock.now += dt.timedelta(minutes=5)              # a long discussion: the timer waits
    assert store.current_round(room.code).id == round_.id
    store.resume_workshop(room.code, owner="Grace")
    assert not store.get_workshop(room.code).paused
    assert store.current_round(room.code).seconds_left(clock.now) == 40
    store.submit_answer(room.code, ada.token, round_.id, "Value doubled")
    clock.now += dt.timedelta(seconds=41)
    assert store.current_round(room.code) is None


def test_pausing_between_questions_and_a_closed_room(timed):
    store, _, _ = timed
    room = store.create_workshop("startup")
    store.pause_workshop(room.code)
    store.pause_workshop(room.code)                   # twice is once
    store.resume_workshop(room.code)
    store.open_question(room.code, QUESTION.key, QUESTION)
    store.close_workshop(room.code)
    with pytest.raises(WorkshopError, match="closed"):
        store.pause_workshop(room.code)


# ------------------------------------------------------------------------------ one seat
def test_a_rejoin_link_gives_the_same_seat_back_on_another_device(timed):
    store, _, _ = timed
    room = store.create_workshop("startup")
    phone = store.join(room.code, "Ada")
    assert len(phone.rejoin) >= 16                       # secrets.token_urlsafe(12): 96 bits
    round_ = store.open_question(room.code, QUESTION.key, QUESTION)
    store.submit_answer(room.code, phone.token, round_.id, "Value doubled")
    link = rejoin_url("http://10.0.0.5:8501/workshop", room.code, phone.rejoin)
    assert link == f"http://10.0.0.5:8501/room?code={room.code}&rejoin={phone.rejoin}"  # light page
    laptop = store.rejoin("", link)                      # the whole link pasted: its room too
    assert laptop.token == phone.token and laptop.nickname == "Ada"
    assert store.rejoin(room.code.lower(), f"  {phone.rejoin} ").token == phone.token
    store.submit_answer(room.code, laptop.token, round_.id, "Nothing about value yet")
    assert store.participant_count(room.code) == 1
    assert store.aggregate(round_.id, min_group=1).answers == 1     # one person, counted once
    assert store.my_answer(phone.token, round_.id) == "Nothing about value yet"


def test_only_a_hash_of_the_rejoin_code_is_stored_and_it_is_bound_to_its_room(timed):
    store, _, path = timed
    room = store.create_workshop("startup")
    ada = store.join(room.code, "Ada")
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(workshop_participants.c.rejoin_hash)).scalar()
    assert stored == rejoin_hash(room.code, ada.rejoin) and ada.rejoin not in stored
    assert ada.rejoin.encode() not in path.read_bytes()
    assert rejoin_hash("ZZZZZZ", ada.rejoin) != stored        # the same code, another room


def test_a_held_nickname_is_not_taken_and_a_wrong_or_foreign_rejoin_code_is_refused(timed):
    store, _, _ = timed
    room = store.create_workshop("startup")
    other = store.create_workshop("startup")
    ada = store.join(room.code, "Ada")
    bob = store.join(other.code, "Bob")
    with pytest.raises(WorkshopError, match="already taken.*rejoin link"):
        store.join(room.code, "Ada")
    with pytest.raises(WorkshopError, match=f"not for a seat in workshop {room.code}"):
        store.rejoin(room.code, ada.rejoin[:-1] + ("A" if ada.rejoin[-1] != "A" else "B"))
    with pytest.raises(WorkshopError, match=f"not for a seat in workshop {room.code}"):
        store.rejoin(room.code, bob.rejoin)                   # another room's seat
    with pytest.raises(WorkshopError, match=f"not for a seat in workshop {other.code}"):
        store.rejoin(other.code, ada.rejoin)
    with pytest.raises(WorkshopError, match=f"is for workshop {other.code}, not {room.code}"):
        store.rejoin(room.code, rejoin_url("http://x/", other.code, bob.rejoin))
    with pytest.raises(WorkshopError, match="Paste your rejoin link"):
        store.rejoin(room.code, "   ")
    with pytest.raises(WorkshopError, match="not a workshop code"):   # nothing echoed back
        store.rejoin("[CLICK](HTTPS://EVIL)", ada.rejoin)
    assert store.participant_count(room.code) == 1


def test_a_rejoin_code_still_shows_a_closed_room_and_is_useless_once_it_is_deleted(timed):
    store, _, _ = timed
    room = store.create_workshop("startup")
    ada = store.join(room.code, "Ada")
    store.close_workshop(room.code)
    assert store.rejoin(room.code, ada.rejoin).token == ada.token    # results stay readable
    store.delete_workshop(room.code)
    with pytest.raises(WorkshopError, match="no longer exists"):
        store.rejoin(room.code, ada.rejoin)
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(workshop_participants)
                            ).scalar() == 0


# ------------------------------------------------------------------------------ deletion
def _rows(store, table, **where) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar())


def _room_with_answers(store, title="Offsite", owner="Grace"):
    room = store.create_workshop("startup", title, owner=owner)
    round_ = store.open_question(room.code, QUESTION.key, QUESTION)
    for name in ("Zephyrine", "Quillon", "Marigold"):
        person = store.join(room.code, name)
        store.submit_answer(room.code, person.token, round_.id, QUESTION.options[0])
    return room, round_


def _sqlite_built_without_secure_delete(engine) -> None:
    """Many SQLite builds leave deleted rows in the file's free pages until overwritten."""
    engine.dispose()
    sa.event.listen(engine, "connect",
                    lambda dbapi, _: dbapi.execute("PRAGMA secure_delete = OFF"))


def test_a_trainer_deletes_a_closed_room_with_everything_in_it(timed):
    store, _, path = timed
    _sqlite_built_without_secure_delete(store.engine)
    room, round_ = _room_with_answers(store)
    kept, kept_round = _room_with_answers(store, "Another room")
    with pytest.raises(WorkshopError, match="still open"):
        store.delete_workshop(room.code, owner="Grace")
    store.close_workshop(room.code)
    with pytest.raises(WorkshopError, match="No workshop of yours"):
        store.delete_workshop(room.code, owner="Alan")
    store.delete_workshop(room.code, owner="Grace")
    with pytest.raises(WorkshopError, match="No workshop has the code"):
        store.get_workshop(room.code)
    assert _rows(store, workshop_participants, code=room.code) == 0
    assert _rows(store, workshop_rounds, code=room.code) == 0
    assert _rows(store, workshop_answers, round_id=round_.id) == 0
    assert _rows(store, workshop_answer_log, round_id=round_.id) == 0
    assert _rows(store, workshop_answers, round_id=kept_round.id) == 3     # others untouched
    assert store.participant_count(kept.code) == 3
    with pytest.raises(WorkshopError, match="no longer exists"):
        store.room_now(room.code)
    # The deleted rows are overwritten, not only unlinked: the file no longer holds a nickname
    # of the deleted room (the other room's are still there).
    store.close_workshop(kept.code)
    store.delete_workshop(kept.code)
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert b"Zephyrine" not in raw and b"Quillon" not in raw


def test_rooms_are_deleted_by_themselves_after_the_retention_period(timed):
    store, clock, _ = timed
    old, _ = _room_with_answers(store, "Old")
    store.close_workshop(old.code)
    expired = store.create_workshop("startup", "Never closed", hours=1)
    recent, _ = _room_with_answers(store, "Recent")
    clock.now += dt.timedelta(days=RETENTION_DAYS - 1)
    store.close_workshop(recent.code)
    assert store.delete_expired_workshops() == 0
    clock.now += dt.timedelta(days=1, hours=2)       # old and expired ended over 30 days ago
    assert store.delete_expired_workshops() == 2
    assert [w.code for w in store.workshop_history()] == [recent.code]
    assert store.get_workshop(recent.code).deleted_after() == \
        store.get_workshop(recent.code).closed_at + dt.timedelta(days=RETENTION_DAYS)
    with store.engine.connect() as conn:
        left = conn.execute(sa.select(workshops.c.code)).scalars().all()
    assert left == [recent.code]


def test_a_store_deletes_expired_rooms_when_it_starts(tmp_path):
    clock = Clock()
    progress = ProgressStore(f"sqlite:///{tmp_path / 'p.sqlite'}")
    first = WorkshopStore(progress.engine, clock=clock)
    room, _ = _room_with_answers(first)
    first.close_workshop(room.code)
    clock.now += dt.timedelta(days=RETENTION_DAYS + 1)
    restarted = WorkshopStore(progress.engine, clock=clock)
    assert restarted.workshop_history() == []
    assert _rows(restarted, workshop_participants) == 0
    progress.engine.dispose()


def test_pause_timed_close_seat_and_delete_on_postgresql(postgres_url):
    """PostgreSQL checks the foreign keys the deletion must respect, and types the timer's CASE."""
    clock = Clock()
    progress = ProgressStore(postgres_url)
    store = WorkshopStore(progress.engine, clock=clock)
    room = store.create_workshop("startup", owner="Grace")
    round_ = store.open_question(room.code, QUESTION.key, QUESTION, seconds=30)
    ada = store.join(room.code, "Ada")
    assert store.rejoin(room.code, ada.rejoin).token == ada.token
    store.submit_answer(room.code, ada.token, round_.id, QUESTION.options[0])
    clock.now += dt.timedelta(seconds=10)
    store.pause_workshop(room.code)
    clock.now += dt.timedelta(minutes=2)
    store.resume_workshop(room.code)
    clock.now += dt.timedelta(minutes=5)
    store.close_workshop(room.code)
    resumed_at = round_.opened_at + dt.timedelta(seconds=10, minutes=2)
    assert store.get_round(round_.id).closed_at == resumed_at + dt.timedelta(seconds=20)
    store.delete_workshop(room.code, owner="Grace")
    assert store.workshop_history() == []
    assert _rows(store, workshop_answer_log) == 0 and _rows(store, workshop_participants) == 0
    progress.engine.dispose()


def test_a_room_closed_to_newcomers_refuses_new_seats_but_keeps_its_own(timed, monkeypatch):
    """Vote stuffing: a script that joins under invented nicknames. Once the trainer closes the
    door no new seat is given (the seated keep answering and rejoining), and no room ever holds
    more than MAX_SEATS seats."""
    from course import workshop

    store, _, _ = timed
    room = store.create_workshop("startup", owner="trainer")
    ada = store.join(room.code, "Ada")
    round_ = store.open_question(room.code, QUESTION.key, QUESTION)
    with pytest.raises(WorkshopError, match="No workshop of yours"):
        store.lock_joins(room.code, owner="someone-else")
    store.lock_joins(room.code, owner="trainer")
    assert store.get_workshop(room.code).joins_locked_at is not None
    with pytest.raises(WorkshopError, match="no new participants.*rejoin"):
        store.join(room.code, "Bot 1")
    store.submit_answer(room.code, ada.token, round_.id, "Value doubled")
    assert store.rejoin(room.code, ada.rejoin).token == ada.token
    assert store.aggregate(round_.id, min_group=1).answers == 1 and store.participant_count(room.code) == 1
    store.lock_joins(room.code, owner="trainer", locked=False)
    store.join(room.code, "Grace")

    monkeypatch.setattr(workshop, "MAX_SEATS", 3)
    store.join(room.code, "Edsger")
    with pytest.raises(WorkshopError, match="full"):
        store.join(room.code, "Bot 2")
    assert store.participant_count(room.code) == 3
