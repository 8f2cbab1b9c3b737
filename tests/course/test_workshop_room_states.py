"""What the pages show as a room pauses, closes and is deleted, and a seat moving device."""

import datetime as dt

import pytest
import sqlalchemy as sa

from course.workshop import RETENTION_DAYS, WorkshopError, workshops
from tests.course.test_staff_pages import page, texts
from tests.course.test_workshop_pages import (QUESTION, _join, _presenter, button,  # noqa: F401
                                              rooms, trainer)


def test_a_phone_says_the_workshop_closed_and_keeps_the_last_result(app_home, rooms):
    room = rooms.create_workshop("startup", owner="Grace")
    current = rooms.open_question(room.code, QUESTION.key, QUESTION)
    phone = _join(room.code, "Ada")
    assert phone.radio
    rooms.close_workshop(room.code, owner="Grace")
    phone.run()
    assert not phone.exception
    assert any("This workshop has closed" in w.value for w in phone.warning)
    assert not phone.radio and not any(b.label == "Send my answer" for b in phone.button)
    assert f"Last question** ({current.seq})" in texts(phone)


def test_a_phone_says_the_room_is_paused_and_offers_no_vote_until_it_resumes(app_home, rooms):
    room = rooms.create_workshop("startup", owner="Grace")
    rooms.open_question(room.code, QUESTION.key, QUESTION)
    phone = _join(room.code, "Ada")
    rooms.pause_workshop(room.code, owner="Grace")
    phone.run()
    assert not phone.exception
    assert any("paused the room" in i.value for i in phone.info) and not phone.radio
    rooms.resume_workshop(room.code, owner="Grace")
    phone.run()
    assert phone.radio and "paused the room" not in texts(phone)


def test_a_deleted_room_tells_the_phone_instead_of_failing(app_home, rooms):
    room = rooms.create_workshop("startup", owner="Grace")
    phone = _join(room.code, "Ada")
    rooms.close_workshop(room.code)
    rooms.delete_workshop(room.code)
    phone.run()
    assert not phone.exception
    assert "no longer exists" in texts(phone)
    assert "workshop_seat" not in phone.session_state      # back to the join form


def test_the_projector_drops_the_qr_code_once_the_room_closed(app_home, rooms):
    room = rooms.create_workshop("startup", owner="Grace")
    rooms.open_question(room.code, QUESTION.key, QUESTION)
    projector = _presenter(room.code)
    assert len(projector.get("image")) == 1
    rooms.pause_workshop(room.code, owner="Grace")
    projector.run()
    assert "Paused" in texts(projector) and QUESTION.prompt not in texts(projector)
    assert len(projector.get("image")) == 1                  # people may still join a pause
    rooms.resume_workshop(room.code, owner="Grace")
    rooms.close_workshop(room.code, owner="Grace")
    projector.run()
    assert not projector.exception
    assert not projector.get("image") and room.code not in texts(projector).replace(
        f"room={room.code}", "")
    assert "This workshop has closed" in texts(projector)


def test_the_trainer_pauses_and_resumes_the_room(app_home, rooms):
    at = trainer().run()
    at.button[0].click().run()
    code = at.session_state["workshop_host_code"]
    at.radio[0].set_value("60 s")
    button(at, "Open this question").click().run()
    button(at, "Pause the room").click().run()
    assert not at.exception and rooms.get_workshop(code).paused
    assert "room is **paused**" in texts(at) and "timer waits with" in texts(at)
    assert not any(b.label == "Open this question" for b in at.button)
    button(at, "Resume the room").click().run()
    assert not at.exception and not rooms.get_workshop(code).paused
    assert any(b.label == "Open this question" for b in at.button)


def test_the_trainer_deletes_a_closed_room_after_confirming(app_home, rooms):
    at = trainer().run()
    at.button[0].click().run()
    code = at.session_state["workshop_host_code"]
    assert not any(b.label == "Delete the workshop" for b in at.button)   # not while open
    button(at, "Close the workshop").click().run()
    assert f"until {(rooms.get_workshop(code).closed_at + dt.timedelta(days=RETENTION_DAYS)):%Y-%m-%d}" \
        in texts(at)
    delete = button(at, "Delete the workshop")
    assert delete.disabled                                # nothing goes without the tick
    next(c for c in at.checkbox if code in c.label).check().run()
    button(at, "Delete the workshop").click().run()
    assert not at.exception
    assert f"Workshop {code} is deleted" in texts(at)
    assert rooms.workshop_history("Grace") == []


def test_listing_rooms_deletes_those_past_their_retention(app_home, rooms):
    old = rooms.create_workshop("startup", "Last quarter", owner="Grace")
    recent = rooms.create_workshop("startup", "Last week", owner="Grace")
    rooms.join(old.code, "Ada")
    long_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=RETENTION_DAYS + 1)
    with rooms.engine.begin() as conn:
        conn.execute(sa.update(workshops).where(workshops.c.code == old.code)
                     .values(closed_at=long_ago, created_at=long_ago))
    at = trainer().run()
    assert not at.exception
    history = next(s for s in at.selectbox if s.label == "Workshop")
    assert [o.split(" · ")[0] for o in history.options] == [recent.code]
    assert f"{RETENTION_DAYS} days after it closed" in texts(at)
    assert rooms.participant_count(old.code) == 0


def test_a_dropped_session_rejoins_by_its_link_and_is_counted_once(app_home, rooms):
    room = rooms.create_workshop("startup", owner="Grace")
    current = rooms.open_question(room.code, QUESTION.key, QUESTION)
    phone = _join(room.code, "Ada")
    code, token, _, rejoin = phone.session_state["workshop_seat"]
    assert phone.query_params["rejoin"] == rejoin and phone.query_params["code"] == code
    assert token not in str(phone.query_params)                   # the seat's key stays inside
    shown = [c.value for c in phone.code]
    assert any(v.endswith(f"/workshop?code={room.code}&rejoin={rejoin}") for v in shown)
    assert rejoin in shown and "Keep this to rejoin" in [e.label for e in phone.expander]
    phone.radio[0].set_value("Value doubled")
    button(phone, "Send my answer").click().run()

    laptop = _join(room.code, "Ada")                      # the nickname alone: refused
    assert "already taken" in texts(laptop) and "workshop_seat" not in laptop.session_state

    restarted = page("workshop_join.py")                  # the session is gone; the link is not
    restarted.query_params["code"] = room.code
    restarted.query_params["rejoin"] = rejoin
    restarted.run()
    assert not restarted.exception
    assert restarted.session_state["workshop_seat"][1] == token
    assert "you are **Ada**" in texts(restarted)
    assert restarted.radio[0].value == "Value doubled"    # the seat's answer, back again
    restarted.radio[0].set_value("Nothing about value yet")
    button(restarted, "Send my answer").click().run()
    assert rooms.my_answer(token, current.id) == "Nothing about value yet"
    aggregate = rooms.aggregate(current.id, min_group=1)
    assert aggregate.answers == 1 and aggregate.participants == 1

    typed = page("workshop_join.py").run()               # on another device, by hand
    typed.text_input[0].input(room.code.lower())
    typed.text_input[2].input(rejoin)
    typed.button[0].click().run()
    assert not typed.exception and typed.session_state["workshop_seat"][1] == token


def test_a_wrong_or_foreign_rejoin_link_is_refused_with_a_plain_message(app_home, rooms):
    room = rooms.create_workshop("startup", owner="Grace")
    other = rooms.create_workshop("startup", owner="Grace")
    theirs = rooms.join(other.code, "Bob")
    for rejoin in ("not-a-real-code", theirs.rejoin):
        at = page("workshop_join.py")
        at.query_params["code"] = room.code
        at.query_params["rejoin"] = rejoin
        at.run()
        assert not at.exception
        assert [e.value for e in at.error] == [
            f"That rejoin code is not for a seat in workshop {room.code}. Check that you copied "
            "all of it and that the workshop code is right, or join with a new nickname."]
        assert "workshop_seat" not in at.session_state and "rejoin" not in at.query_params
        assert at.text_input[0].value == room.code         # the join form, ready for a nickname
    assert rooms.participant_count(room.code) == 0


def test_after_the_room_closes_the_rejoin_link_still_shows_the_own_commitment(app_home, rooms):
    from course.workshop import trainer_question
    from course.workshop_kit import COMMITMENT_KEY

    room = rooms.create_workshop("startup", owner="Grace")
    current = rooms.open_question(room.code, COMMITMENT_KEY,
                                  trainer_question("One sentence: what will you change?", "text"))
    ada = rooms.join(room.code, "Ada")
    rooms.submit_answer(room.code, ada.token, current.id, "Stop ranking people by **tokens**")
    rooms.close_workshop(room.code, owner="Grace")
    later = page("workshop_join.py")
    later.query_params["code"] = room.code
    later.query_params["rejoin"] = ada.rejoin
    later.run()
    assert not later.exception
    assert any("This workshop has closed" in w.value for w in later.warning)
    assert "**Your commitment**" in texts(later)
    assert "Stop ranking people by **tokens**" in [t.value for t in later.text]   # as typed


def test_a_rejoin_link_opened_in_a_session_with_another_seat_takes_that_seat(app_home, rooms):
    first = rooms.create_workshop("startup", owner="Grace")
    second = rooms.create_workshop("startup", owner="Grace")
    phone = _join(first.code, "Ada")
    bob = rooms.join(second.code, "Bob")
    phone.query_params["code"] = second.code
    phone.query_params["rejoin"] = bob.rejoin
    phone.run()
    assert not phone.exception
    assert phone.session_state["workshop_seat"][:3] == (second.code, bob.token, "Bob")
    del phone.query_params["rejoin"]                   # the page opened from the menu, no link
    phone.run()
    assert phone.query_params["rejoin"] == bob.rejoin  # the address is the rejoin link again


def test_the_trainer_closes_the_room_to_newcomers_and_opens_it_again(app_home, rooms):
    at = trainer().run()
    at.button[0].click().run()
    code = at.session_state["workshop_host_code"]
    rooms.join(code, "Ada")
    button(at, "Close to newcomers").click().run()
    assert not at.exception and rooms.get_workshop(code).joins_locked_at is not None
    assert "Closed to newcomers since" in texts(at)
    with pytest.raises(WorkshopError, match="no new participants"):
        rooms.join(code, "Bot")
    button(at, "Let newcomers in").click().run()
    assert not at.exception and rooms.get_workshop(code).joins_locked_at is None
    rooms.join(code, "Grace")
