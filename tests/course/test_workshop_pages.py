"""The workshop pages through AppTest: the trainer's control view, the phones, the projector."""

import pytest
from streamlit.testing.v1 import AppTest

from course.progress import ProgressStore
from course.workshop import RoundQuestion, WorkshopStore
from tests.course.test_staff_pages import APP, TIMEOUT, page, texts

QUESTION = RoundQuestion(
    "m1/proxy", "Usage doubled. What do you know?", ("Value doubled", "Nothing about value yet"),
    "Nothing about value yet", ("usage-equals-value", None),
    explanation="Usage answered the mandate; value needs linked work.",
    feedback=("Check whether output moved too.", ""))


@pytest.fixture
def rooms(app_home):
    app_home.mkdir(parents=True, exist_ok=True)
    progress = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}")
    yield WorkshopStore(progress.engine)
    progress.engine.dispose()


def trainer(**state) -> AppTest:
    return page("workshop_host.py", staff_role="trainer", staff_user="Grace", **state)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_a_session_without_a_staff_account_name_is_sent_back_to_sign_in(app_home):
    at = page("workshop_host.py", staff_role="trainer").run()
    assert not at.exception
    assert any("sign in again with your staff account" in w.value for w in at.warning)
    assert "Start a workshop" not in [s.value for s in at.subheader]


def test_trainer_creates_a_workshop_and_opens_a_question_with_a_timer(app_home, rooms):
    at = trainer().run()
    at.text_input[0].input("Offsite")
    at.button[0].click().run()
    assert not at.exception
    code = at.session_state["workshop_host_code"]
    assert code in texts(at) and rooms.get_workshop(code).owner == "Grace"
    assert "workshop-present?room=" in texts(at)          # the presenter link
    at.radio[0].set_value("60 s")
    button(at, "Open this question").click().run()
    assert not at.exception
    assert any("Waiting for 5 more answers" in i.value for i in at.info)
    opened = rooms.current_round(code)
    assert (opened.closes_at - opened.opened_at).total_seconds() == 60
    next(t for t in at.toggle if t.label == "Pause live updates").set_value(True).run()
    assert not at.exception


def test_another_staff_account_cannot_see_or_run_the_room(app_home, rooms):
    theirs = rooms.create_workshop("startup", "Not yours", owner="Alan")
    at = trainer().run()
    assert not at.exception
    assert not any(theirs.code in s.options for s in at.selectbox)
    at = trainer(workshop_host_code=theirs.code).run()
    assert any("No workshop of yours" in e.value for e in at.error)
    presenter = page("workshop_present.py", staff_role="trainer", staff_user="Grace")
    presenter.query_params["room"] = theirs.code
    presenter.run()
    assert any("No workshop of yours" in e.value for e in presenter.error)


def test_a_closed_workshop_stays_in_the_history_with_export(app_home, rooms):
    at = trainer().run()
    at.button[0].click().run()
    code = at.session_state["workshop_host_code"]
    button(at, "Open this question").click().run()
    button(at, "Close the workshop").click().run()
    assert not at.exception
    assert any(f"Workshop {code} is closed" in w.value for w in at.warning)
    assert not any(b.label == "Open this question" for b in at.button)
    labels = [b.label for b in at.get("download_button")]
    assert "Download the results (CSV)" in labels and any("summary" in x for x in labels)
    reloaded = trainer().run()                    # a reload: the room is in the history
    history = next(s for s in reloaded.selectbox if s.label == "Workshop")
    assert history.options[0].startswith(code) and "closed" in history.options[0]
    joiner = page("workshop_join.py").run()
    joiner.text_input[0].input(code)
    joiner.text_input[1].input("Late")
    joiner.button[0].click().run()
    assert any("has been closed" in e.value for e in joiner.error)


def _join(code: str, name: str) -> AppTest:
    at = page("workshop_join.py").run()
    at.text_input[0].input(code.lower())
    at.text_input[1].input(name)
    at.button[0].click().run()
    assert not at.exception
    return at


def test_a_phone_checks_for_the_next_question_as_often_as_the_setting_says(app_home, rooms):
    room = rooms.create_workshop("startup", "Test room", owner="Grace")
    assert "every 2.5 s" in next(t for t in _join(room.code, "Ada").toggle).help
    (app_home / "config.yaml").write_text("workshop_refresh_seconds: 5\n")
    from course.app_pages import common

    common._config_for.clear()       # a restart: config.yaml is read when the app starts
    assert "every 5 s" in next(t for t in _join(room.code, "Bea").toggle).help


def test_a_hall_slows_its_phones_so_the_server_keeps_up(app_home, rooms):
    from course.workshop import phone_refresh_seconds

    assert [phone_refresh_seconds(2.5, n) for n in (1, 150, 151, 300, 301, 1000)] == [2.5, 2.5, 5, 5, 7.5, 17.5]
    assert phone_refresh_seconds(4, 300) == 8
    room = rooms.create_workshop("startup", "Hall", owner="Grace")
    phone = _join(room.code, "Ada")
    assert "every 2.5 s" in next(t for t in phone.toggle).help
    for i in range(200):
        rooms.join(room.code, f"p{i}")
    late = _join(room.code, "Bea")    # joining a hall: this phone checks every 5 s
    assert "every 5 s" in next(t for t in late.toggle).help


def test_phone_sees_no_spread_while_voting_then_answer_and_explanation_on_reveal(app_home, rooms):
    room = rooms.create_workshop("startup", "Test room", owner="Grace")
    current = rooms.open_question(room.code, QUESTION.key, QUESTION)
    for i in range(5):
        other = rooms.join(room.code, f"other{i}")
        rooms.submit_answer(room.code, other.token, current.id, "Nothing about value yet")
    at = _join(room.code, "Ada")
    assert "Usage doubled" in texts(at)
    at.radio[0].set_value("Value doubled")
    button(at, "Send my answer").click().run()
    assert not at.exception and rooms.aggregate(current.id).answers == 6
    assert "How the room answered" not in texts(at)      # vote 1 is nobody's but your own
    assert not at.get("vega_lite_chart")
    rooms.close_question(room.code)
    at.run()
    assert "How the room answered" in texts(at) and at.get("vega_lite_chart")
    assert "Right answer" not in texts(at)                # not before the reveal
    rooms.reveal(room.code, current.id)
    at.run()
    shown = texts(at)
    assert "Right answer: “Nothing about value yet”" in shown
    assert "Usage answered the mandate" in shown
    assert "usage equals value" in shown and "usage-equals-value" not in shown
    assert "Check whether output moved too." in shown


def test_a_join_link_fills_in_the_code(app_home, rooms):
    room = rooms.create_workshop("startup", owner="Grace")
    at = page("workshop_join.py")
    at.query_params["code"] = room.code.lower()
    at.run()
    assert at.text_input[0].value == room.code


def chart_data(at: AppTest) -> str:
    """The first chart's spec and data as text (Streamlit ships the data as Arrow beside it)."""
    proto = at.get("vega_lite_chart")[0].proto
    data = b"".join(d.data.data for d in proto.datasets)
    return proto.spec + data.decode("utf-8", "replace")


def _presenter(code: str) -> AppTest:
    at = page("workshop_present.py", staff_role="trainer", staff_user="Grace")
    at.query_params["room"] = code
    return at.run()


def test_presenter_view_never_gives_the_answer_away_and_has_no_controls(app_home, rooms):
    room = rooms.create_workshop("startup", "Projector", owner="Grace")
    current = rooms.open_question(room.code, QUESTION.key, QUESTION)
    for i in range(6):
        person = rooms.join(room.code, f"p{i}")
        rooms.submit_answer(room.code, person.token, current.id, QUESTION.options[i % 2])
    at = _presenter(room.code)
    assert not at.exception
    shown = texts(at)
    assert "Usage doubled" in shown and "6 of 6 answered" in shown
    assert not at.button and not at.selectbox and not at.toggle and not at.radio
    assert not at.get("vega_lite_chart")                  # no spread while voting
    assert len(at.get("image")) == 1                       # the join QR code
    assert "✓" not in shown and "right answer" not in shown.lower()
    rooms.close_question(room.code)
    at.run()
    assert "50% (3)" in chart_data(at) and "right answer" not in chart_data(at)
    assert "✓" not in texts(at) and "“Value doubled”: 50%" in texts(at)
    rooms.reveal(room.code, current.id)
    at.run()
    assert "✓ Nothing about value yet" in texts(at)
    assert "right answer" in chart_data(at)


def test_presenter_shows_the_shift_between_two_votes(app_home, rooms):
    room = rooms.create_workshop("startup", owner="Grace")
    first = rooms.open_question(room.code, QUESTION.key, QUESTION)
    people = [rooms.join(room.code, f"p{i}") for i in range(10)]
    for i, person in enumerate(people):
        rooms.submit_answer(room.code, person.token, first.id, QUESTION.options[int(i < 7)])
    rooms.close_question(room.code)
    second = rooms.revote(room.code, first.id)
    for i, person in enumerate(people):
        rooms.submit_answer(room.code, person.token, second.id, QUESTION.options[int(i < 2)])
    rooms.close_question(room.code)
    at = _presenter(room.code)
    assert not at.exception
    assert "vote 1" in chart_data(at) and "vote 2" in chart_data(at)
    assert "“Nothing about value yet”: 70% → 20%" in texts(at)


def test_trainer_runs_peer_instruction_from_the_control_view(app_home, rooms):
    at = trainer().run()
    at.button[0].click().run()
    code = at.session_state["workshop_host_code"]
    button(at, "Open this question").click().run()
    first = rooms.current_round(code)
    for i in range(5):
        person = rooms.join(code, f"p{i}")
        rooms.submit_answer(code, person.token, first.id, first.question.options[0])
    button(at, "Close the question").click().run()
    button(at, "Vote again on this question (peer instruction)").click().run()
    assert not at.exception
    second = rooms.current_round(code)
    assert second.vote == 2 and second.first_vote_id == first.id
    button(at, "Close the question").click().run()
    button(at, "Reveal the answer to the room").click().run()
    assert not at.exception
    assert rooms.get_round(second.id).revealed and rooms.get_round(first.id).revealed


def test_trainer_writes_a_scale_question_and_asks_it(app_home, rooms):
    at = trainer().run()
    at.button[0].click().run()
    code = at.session_state["workshop_host_code"]
    form_area = [t for t in at.text_area]
    form_area[0].input("How much do you trust the adoption dashboard?")
    next(r for r in at.radio if r.label == "Kind").set_value("scale")
    button(at, "Save the question with this room").click().run()
    assert not at.exception
    assert [q.prompt for q in rooms.saved_questions(code)] == [
        "How much do you trust the adoption dashboard?"]
    question_box = next(s for s in at.selectbox if s.label == "Question")
    key = next(k for k in question_box.options if "Your question 1" in k)
    question_box.select(key).run()
    button(at, "Open this question").click().run()
    assert rooms.current_round(code).question.options == ("1", "2", "3", "4", "5")


def test_a_reload_keeps_the_trainer_signed_in(app_home, rooms):
    from course.app_pages.common import PAGES_KEY
    from course.auth import add_staff
    from course.config import load_config

    add_staff(load_config().staff_path, "Grace", "trainer", "a-long-trainer-password")

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["staff_role"] = "trainer"
    at.session_state["staff_user"] = "Grace"
    at.run()
    token = at.query_params["staff"]
    token = token[0] if isinstance(token, list) else token
    reloaded = AppTest.from_file(APP, default_timeout=TIMEOUT)
    reloaded.query_params["staff"] = token
    reloaded.run()
    assert not reloaded.exception
    assert reloaded.session_state["staff_role"] == "trainer"
    assert reloaded.session_state["staff_user"] == "Grace"
    assert "workshop-present" in reloaded.session_state[PAGES_KEY]
    again = reloaded.query_params["staff"]
    assert (again[0] if isinstance(again, list) else again) == token   # no sliding expiry
    forged = AppTest.from_file(APP, default_timeout=TIMEOUT)
    forged.query_params["staff"] = token[:-3] + "abc"
    forged.run()
    assert "staff_role" not in forged.session_state


def test_the_send_button_keeps_its_identity_so_a_quick_change_is_not_lost(app_home, rooms):
    """A browser that sends a changed answer before the page updated refers to the widgets it
    has: if the button's identity changed after the first answer, the change was dropped."""
    room = rooms.create_workshop("startup", owner="Grace")
    current = rooms.open_question(room.code, QUESTION.key, QUESTION)
    at = _join(room.code, "Ada")
    first_ids = (at.radio[0].id, button(at, "Send my answer").id)
    at.radio[0].set_value("Value doubled")
    button(at, "Send my answer").click().run()
    assert (at.radio[0].id, button(at, "Send my answer").id) == first_ids
    at.radio[0].set_value("Nothing about value yet")
    button(at, "Send my answer").click().run()
    assert rooms.my_answer(at.session_state["workshop_seat"][1], current.id) == \
        "Nothing about value yet"
    assert rooms.answer_changes(current.id) == 2


def test_board_question_shows_the_dashboard_then_the_truth(app_home, rooms, monkeypatch,
                                                           small_company):
    import course.workshop

    monkeypatch.setattr(course.workshop, "room_company", lambda scenario, seed: small_company)
    at = trainer().run()
    at.button[0].click().run()
    code = at.session_state["workshop_host_code"]
    button(at, "Ask the board question: which dashboard number to believe?").click().run()
    assert not at.exception
    board = rooms.current_round(code)
    assert board.question.kind == "board"
    presenter = _presenter(code)
    assert not presenter.exception
    assert "adoption dashboard" in texts(presenter)
    assert "AI events per employee changed" in texts(presenter)     # the chart's summary
    assert "hidden labels" not in texts(presenter)                    # truth only on reveal
    rooms.reveal(code, board.id)
    presenter.run()
    assert "The truth, from this company's hidden labels" in texts(presenter)


def test_phone_projector_and_trainer_show_the_rooms_one_order_of_the_options(app_home, rooms):
    """A course question reaches the room in its own order; every screen letters it the same
    way, so 'option B' means one option, and an answer sent from the phone counts on it."""
    at = trainer().run()
    at.button[0].click().run()
    code = at.session_state["workshop_host_code"]
    button(at, "Open this question").click().run()
    assert not at.exception
    asked = rooms.current_round(code).question
    assert asked.shuffles and len(asked.options) >= 3
    lettered = [f"{letter}. {option}" for letter, option in asked.lettered()]
    trainer_lines = [line.removesuffix(" ✓ (right answer)") for m in at.markdown
                     for line in str(m.value).split("  \n") if line[:3] in {f"{x}. " for x in "ABCDEFGH"}]
    assert trainer_lines == lettered
    assert f"{asked.letter_of(asked.answer)}. {asked.answer} ✓ (right answer)" in texts(at)

    phone = _join(code, "Ada")
    assert phone.radio[0].options == lettered
    projector = _presenter(code)
    shown = texts(projector)
    positions = [shown.index(f">{line}<") for line in lettered]
    assert positions == sorted(positions)                 # same letters, same order
    assert "right answer" not in shown.lower()

    phone.radio[0].set_value(asked.answer)
    button(phone, "Send my answer").click().run()
    assert not phone.exception
    counts = {o.option: (o.count, o.correct) for o in rooms.aggregate(rooms.current_round(code).id,
                                                                        min_group=1).options}
    assert counts[asked.answer] == (1, True)
    assert sum(c for c, _ in counts.values()) == 1


def test_the_qr_code_and_join_link_carry_the_configured_public_url(app_home, rooms, monkeypatch):
    from course import workshop as live

    (app_home / "config.yaml").write_text("public_url: https://qr-test.example.org/theater\n")
    encoded = []
    real_qr = live.join_qr_svg
    monkeypatch.setattr(live, "join_qr_svg", lambda url, **kw: encoded.append(url) or real_qr(url, **kw))
    room = rooms.create_workshop("startup", "Hall", owner="Grace")
    at = _presenter(room.code)
    assert not at.exception
    expected = f"https://qr-test.example.org/theater/workshop?code={room.code}"
    assert expected in texts(at)
    assert encoded == [expected]                  # the QR code encodes the same link
    assert "localhost" not in texts(at) and "127.0.0.1" not in texts(at)


def test_under_theater_app_the_qr_code_and_join_link_open_the_light_phone_page(app_home, rooms,
                                                                              monkeypatch):
    from course import serve

    (app_home / "config.yaml").write_text("public_url: https://qr-test.example.org/theater\n")
    monkeypatch.setattr(serve, "phone_page_served", lambda: True)   # started through course.serve
    room = rooms.create_workshop("startup", "Hall", owner="Grace")
    at = _presenter(room.code)
    assert not at.exception
    assert f"https://qr-test.example.org/theater/room?code={room.code}" in texts(at)


def test_the_trainer_downloads_the_leader_brief_of_a_room_with_answers(app_home, rooms):
    room = rooms.create_workshop("startup", "Brief me", owner="Grace")
    asked = rooms.open_question(room.code, QUESTION.key, QUESTION)
    for i in range(6):
        person = rooms.join(room.code, f"Nick<{i}>")
        rooms.submit_answer(room.code, person.token, asked.id, QUESTION.options[i % 2])
    rooms.close_workshop(room.code)
    at = trainer(workshop_host_code=room.code).run()
    assert not at.exception
    labels = [b.label for b in at.get("download_button")]
    assert "Download the leader brief (printable HTML)" in labels
    assert "Download the leader brief (Markdown)" in labels
    assert "Nick<" not in texts(at)
