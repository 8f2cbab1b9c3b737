"""The room modes through the pages (AppTest): the trainer steps through the kit, the room plays
the checker game on its phones, open-text answers go through moderation to the projector."""

from __future__ import annotations

from course import workshop_checker as checker
from course.workshop import plan_answer, trainer_question
from tests.course.test_staff_pages import page, texts
from tests.course.test_workshop_pages import _join, _presenter, button, chart_data, rooms, trainer  # noqa: F401

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)> [win](javascript:alert(1))"


def _new_room(at):
    at.run()
    at.button[0].click().run()
    assert not at.exception
    return at.session_state["workshop_host_code"]


def _next_button(at):
    return next(b for b in at.button if b.label.startswith("Next in the kit"))


def test_the_trainer_steps_through_the_kit_and_the_presenter_shows_the_block(app_home, rooms):
    at = trainer()
    code = _new_room(at)
    assert not any(b.label.startswith("Next in the kit") for b in at.button)   # no kit chosen
    next(s for s in at.selectbox if s.label.startswith("Run-of-show")).select("full").run()
    assert not at.exception and rooms.get_workshop(code).kit_version == "full"
    assert "Join, and the first test" in _next_button(at).label
    _next_button(at).click().run()
    assert not at.exception
    first = rooms.current_round(code)
    assert first.question.key == "pretest/pp-usage-outcome"
    assert "Block 1 of 8 · Join, and the first test · 8 min" in texts(at)
    projector = _presenter(code)
    assert not projector.exception
    assert "Block 1 of 8 · Join, and the first test · 8 min (minute 0–8 of 90)" in texts(projector)
    _next_button(at).click().run()
    assert rooms.current_round(code).question.key == "pretest/pp-target"
    # The trainer opens the third item by hand: the kit passes over it and goes to the board.
    third = next(s for s in at.selectbox if s.label == "Question")
    third.select("pretest/pp-comparison").run()
    button(at, "Open this question").click().run()
    assert "The story and the board question" in _next_button(at).label
    _next_button(at).click().run()               # generates the room's company once
    assert not at.exception
    assert rooms.current_round(code).question.kind == "board"
    projector.run()
    assert "Block 2 of 8 · The story and the board question · 10 min" in texts(projector)
    # A co-host (here: the store) switches to the 45-minute cut: this screen follows the room.
    rooms.follow_kit(code, "short")
    at.run()
    assert next(s for s in at.selectbox if s.label.startswith("Run-of-show")).value == "short"
    assert rooms.get_workshop(code).kit_version == "short"
    # Its start: the two form-A items and the board question were asked, so it goes on from there.
    assert "Signals and people" in _next_button(at).label


def test_the_room_plays_the_checker_game_on_phones_and_sees_the_hidden_check(app_home, rooms):
    at = trainer()
    code = _new_room(at)
    button(at, "Play the checker game with the room").click().run()
    assert not at.exception
    current = rooms.current_round(code)
    assert current.question.kind == "checker"
    for i, plan in enumerate([(4, 21), (10, 15), (20, 5), (12, 0)]):
        person = rooms.join(code, f"p{i}")
        rooms.submit_answer(code, person.token, current.id, plan_answer(*plan))
    phone = _join(code, "Ada")
    assert [s.label for s in phone.slider][0].startswith("AI sessions per person")
    phone.slider[0].set_value(5)
    phone.slider[1].set_value(20)
    button(phone, "Send my answer").click().run()
    assert not phone.exception
    assert rooms.my_answer(phone.session_state["workshop_seat"][1],
                           current.id) == "5 real, 20 padded"
    assert "Your plan (5 real, 20 padded) is in" in texts(phone)
    projector = _presenter(code)
    assert "5 of 5 sent a plan" in texts(projector)
    assert "turn the dashboard green" not in texts(projector)      # not while the room plays
    button(at, "Close the question").click().run()
    projector.run()
    assert "4 of 5 plans (80%) turn the dashboard green" in texts(projector)
    assert not projector.get("vega_lite_chart") and "hidden" not in texts(projector).lower()
    button(at, "Reveal the hidden check to the room").click().run()
    assert not at.exception
    projector.run()
    shown = texts(projector)
    assert "Of the 4 green plans, every one delivers less than that" in shown
    assert checker.GREEN in chart_data(projector)
    phone.run()
    assert "On the hidden team your plan scores 100% on the dashboard" in texts(phone)


def test_open_text_answers_reach_the_projector_only_when_approved_and_escaped(app_home, rooms):
    at = trainer()
    code = _new_room(at)
    current = rooms.open_question(code, "room/commit", trainer_question("Your commitment?", "text"))
    phone = _join(code, "Ada")
    phone.text_area[0].input(HOSTILE)
    button(phone, "Send my answer").click().run()
    assert not phone.exception and "Your answer is in" in texts(phone)
    for i in range(4):
        person = rooms.join(code, f"p{i}")
        rooms.submit_answer(code, person.token, current.id, f"stop counting sessions {i}")
    projector = _presenter(code)
    assert "5 of 5 answered" in texts(projector)
    assert "stop counting" not in texts(projector) and "alert" not in texts(projector)
    at.run()
    assert "5 waiting" in texts(at)
    assert HOSTILE in [t.value for t in at.text]            # the trainer reads it as plain text
    hostile = next(a for a in rooms.text_answers(current.id) if a.text == HOSTILE)
    plain = next(a for a in rooms.text_answers(current.id) if a.text != HOSTILE)
    next(b for b in at.button if b.key == f"approve_{hostile.id}").click().run()
    next(b for b in at.button if b.key == f"approve_{plain.id}").click().run()
    assert not at.exception and "2 approved" in texts(at)
    projector.run()
    shown = texts(projector)
    assert plain.text in shown
    assert "<script" not in shown and "<img" not in shown and "](javascript" not in shown
    assert "&lt;script&gt;" in shown and "&#91;win&#93;&#40;javascript&#58;" in shown
    assert sum("stop counting" in m.value for m in projector.markdown) == 1   # hidden ones stay off


def test_the_owner_adds_a_co_host_who_then_runs_the_room(app_home, rooms):
    from course.auth import add_staff
    from course.config import load_config

    staff = load_config().staff_path
    add_staff(staff, "Alan", "trainer", "a-long-trainer-password")
    at = trainer()
    code = _new_room(at)
    form = next(t for t in at.text_input if t.label == "Staff account to add")
    form.input("nobody-here")
    button(at, "Add co-host").click().run()
    assert any("No staff account has that name" in e.value for e in at.error)
    next(t for t in at.text_input if t.label == "Staff account to add").input("alan")
    button(at, "Add co-host").click().run()
    assert not at.exception and rooms.cohosts(code) == ["Alan"]
    cohost = page("workshop_host.py", staff_role="trainer", staff_user="Alan",
                  workshop_host_code=code).run()
    assert not cohost.exception
    assert "You co-host this workshop for Grace" in texts(cohost).replace("**", "")
    assert not any(t.label == "Staff account to add" for t in cohost.text_input)
    button(cohost, "Open this question").click().run()
    assert rooms.current_round(code) is not None
    button(cohost, "Close the workshop").click().run()
    assert not cohost.exception
    assert not any(b.label == "Delete the workshop" for b in cohost.button)


def test_phones_see_the_approved_answers_after_sending_their_own_and_never_a_hidden_one(app_home, rooms):
    at = trainer()
    code = _new_room(at)
    current = rooms.open_question(code, "room/design", trainer_question("One outcome metric?", "text"))
    early, late = _join(code, "Ada"), _join(code, "Bea")
    early.text_area[0].input("Cycle time per team")
    button(early, "Send my answer").click().run()
    people = [rooms.join(code, f"p{i}") for i in range(3)]
    texts_sent = [HOSTILE, "Escaped defects per release", "Hide this one"]
    for person, text in zip(people, texts_sent):
        rooms.submit_answer(code, person.token, current.id, text)
    early.run()
    assert "appear here once 5 people have answered" in texts(early)     # four so far
    rooms.submit_answer(code, rooms.join(code, "p9").token, current.id, "Rework rate")
    for answer in rooms.text_answers(current.id):
        rooms.moderate(code, answer.id, "hidden" if answer.text == "Hide this one" else "approved")
    early.run()
    plain = [t.value for t in early.text]
    assert "**The room's answers** (4 approved by the trainer, without names)" in texts(early)
    assert HOSTILE in plain and "Escaped defects per release" in plain     # as typed, never as HTML
    assert "Hide this one" not in texts(early) and "Hide this one" not in plain
    assert not any(HOSTILE in m.value for m in early.markdown)
    late.run()
    assert "Escaped defects per release" not in [t.value for t in late.text]   # not before answering
    rooms.close_question(code)
    late.run()                                                              # closed: everyone reads them
    assert "Escaped defects per release" in [t.value for t in late.text]
    assert "Hide this one" not in [t.value for t in late.text]
