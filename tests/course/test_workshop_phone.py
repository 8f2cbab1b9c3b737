"""The light phone page over HTTP (course.phone_routes in front of a stand-in for Streamlit):
join, poll, answer, rejoin, reveal, a closed room, and what a determined participant tries."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from starlette.testclient import TestClient

from course import workshop_phone
from course.phone_routes import PAGE_FILE, PhoneRoutes, route_of
from course.progress import ProgressStore
from course.workshop import (FULL_PAGE, RoundQuestion, WorkshopStore, join_url, plan_answer)
from course.workshop import ANSWERS_PER_WINDOW, ANSWER_WINDOW_SECONDS, TooManyAnswers
from course.workshop_phone import BODY_MAX_BYTES, PhoneRooms
from tests.course.workshop_fixtures import Clock

QUESTION = RoundQuestion(
    key="room/usage", prompt="Usage doubled. What do you know?",
    options=("Value doubled", "Nothing about value yet", "Teams got lazier"),
    answer="Nothing about value yet", misconceptions=("usage-is-value", None, "lazy-teams"),
    explanation="Usage answered the mandate; value needs an outcome measure.",
    feedback=("Usage is what was rewarded.", "", "Effort is not what the count shows."))
TEXT = RoundQuestion(key="room/redesign", prompt="One metric you would drop?", options=(),
                     answer=None, misconceptions=(), kind="text")
CHECKER = RoundQuestion(key="checker-game", prompt="Turn the dashboard green.", options=(),
                        answer=None, misconceptions=(), explanation="The count was gamed.",
                        kind="checker", dashboard_target=10.0)


class Streamlit:
    """Stands in for Streamlit's app behind the middleware: records what reached it."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"streamlit"})


@pytest.fixture
def live(tmp_path):
    """(client, store, clock, phones, streamlit): the phone routes on a store whose clock moves."""
    clock = Clock()
    progress = ProgressStore(f"sqlite:///{tmp_path / 'progress.sqlite'}")
    store = WorkshopStore(progress.engine, clock=clock)
    phones = PhoneRooms(store, refresh_setting=2.5, ttl=0.0)    # every check reads the room
    streamlit = Streamlit()
    with TestClient(PhoneRoutes(streamlit, phones), base_url="http://hall.test") as client:
        yield client, store, clock, phones, streamlit
    progress.engine.dispose()


def _join(client, code, nickname):
    response = client.post("/room/api/join", json={"code": code, "nickname": nickname})
    assert response.status_code == 200, response.text
    return response.json()


def _state(client, code, token, **headers):
    return client.get("/room/api/state", params={"code": code},
                      headers={"X-Seat-Token": token, **headers})


def _answer(client, code, token, round_id, answer):
    return client.post("/room/api/answer", json={"code": code, "round": round_id, "answer": answer},
                       headers={"X-Seat-Token": token})


# ------------------------------------------------------------------------------ the page
def test_the_page_is_one_file_whose_script_alone_may_run_and_inserts_text_as_text(live):
    client, *_ = live
    page = client.get("/room?code=ABCDEF")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'sha256-" in policy and "unsafe-inline" not in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    source = PAGE_FILE.read_text()
    script = re.search(r"<script>(.*?)</script>", source, flags=re.S).group(1)
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    assert "document.write" not in script and "eval(" not in script
    assert "textContent" in script
    assert not re.search(r"<(script|link)[^>]+(src|href)=", source)      # nothing loaded from elsewhere


def test_other_paths_reach_streamlit_and_the_routes_work_under_a_base_url(live):
    client, store, _, _, streamlit = live
    assert client.get("/workshop?code=X").text == "streamlit"
    assert client.get("/roomy").text == "streamlit"
    assert streamlit.paths == ["/workshop", "/roomy"]
    assert route_of("/theater/room/api/state") == "/room/api/state"
    assert route_of("//theater//room/") == "/room"
    room = store.create_workshop("startup", "Hall")
    assert client.post("/theater/room/api/join", json={"code": room.code,
                                                        "nickname": "Ada"}).status_code == 200


def test_the_join_link_and_qr_open_the_light_page_and_the_full_page_stays_reachable():
    assert join_url("http://10.0.0.5:8501/workshop-present", "k7q2mx") == \
        "http://10.0.0.5:8501/room?code=K7Q2MX"
    assert join_url("", "K7Q2MX", "https://hall.example.org/theater/") == \
        "https://hall.example.org/theater/room?code=K7Q2MX"
    assert join_url("", "K7Q2MX", "https://hall.example.org/", page=FULL_PAGE) == \
        "https://hall.example.org/workshop?code=K7Q2MX"


def test_the_app_server_puts_the_phone_routes_in_front_of_streamlit(monkeypatch):
    from streamlit.web.server.starlette import starlette_server

    from course import serve

    class FakeApp:
        def __init__(self):
            self.middleware = []

        def add_middleware(self, cls):
            self.middleware.append(cls)

    monkeypatch.setattr(starlette_server, "create_starlette_app", lambda runtime: FakeApp())
    serve.close_endpoints()
    app = starlette_server.create_starlette_app(None)
    assert PhoneRoutes in app.middleware and serve.CloseEndpoints in app.middleware


# ------------------------------------------------------------------------------ a phone's life
def test_join_poll_answer_change_and_the_echo(live):
    client, store, _, _, _ = live
    room = store.create_workshop("startup", "Hall")
    seat = _join(client, room.code.lower(), "  Ada  ")
    assert seat["code"] == room.code and seat["nickname"] == "Ada"
    assert seat["rejoin_link"] == f"http://hall.test/room?code={room.code}&rejoin={seat['rejoin']}"
    assert seat["full_page"].startswith(f"http://hall.test/workshop?code={room.code}&rejoin=")
    waiting = _state(client, room.code, seat["token"]).json()
    assert waiting["state"]["room"] == {"code": room.code, "title": "Hall", "status": "open"}
    assert waiting["state"]["round"] is None and waiting["state"]["refresh_seconds"] == 2.5

    asked = store.open_question(room.code, QUESTION.key, QUESTION, seconds=60)
    state = _state(client, room.code, seat["token"]).json()
    round_ = state["state"]["round"]
    assert round_["open"] and round_["prompt"] == QUESTION.prompt and round_["id"] == asked.id
    assert [o["text"] for o in round_["options"]] == list(asked.question.options)
    assert [o["letter"] for o in round_["options"]] == ["A", "B", "C"]
    assert state["seconds_left"] == 60 and state["seat"] == {"answer": None}

    assert _answer(client, room.code, seat["token"], asked.id, "Value doubled").json() == \
        {"answer": "Value doubled"}
    assert _answer(client, room.code, seat["token"], asked.id, "Teams got lazier").status_code == 200
    assert _state(client, room.code, seat["token"]).json()["seat"]["answer"] == "Teams got lazier"
    assert store.aggregate(asked.id, min_group=1).answers == 1          # one seat, one answer
    assert store.answer_changes(asked.id) == 2


def test_a_poll_with_nothing_new_answers_304_and_a_change_a_new_state(live):
    client, store, _, _, _ = live
    room = store.create_workshop("startup")
    seat = _join(client, room.code, "Ada")
    first = _state(client, room.code, seat["token"])
    etag = first.headers["etag"]
    again = _state(client, room.code, seat["token"], **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    store.open_question(room.code, QUESTION.key, QUESTION)
    changed = _state(client, room.code, seat["token"], **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_a_phone_on_the_light_page_and_one_on_the_streamlit_page_are_seats_of_one_room(live):
    client, store, _, _, _ = live
    room = store.create_workshop("startup")
    asked = store.open_question(room.code, QUESTION.key, QUESTION)
    streamlit_phone = store.join(room.code, "Grace")             # what workshop_join.py does
    store.submit_answer(room.code, streamlit_phone.token, asked.id, "Value doubled")
    light = _join(client, room.code, "Ada")
    _answer(client, room.code, light["token"], asked.id, "Nothing about value yet")
    taken = client.post("/room/api/join", json={"code": room.code, "nickname": "GRACE"})
    assert taken.status_code == 400 and "already taken" in taken.json()["error"]
    counts = {o.option: o.count for o in store.aggregate(asked.id, min_group=1).options}
    assert counts == {"Value doubled": 1, "Nothing about value yet": 1, "Teams got lazier": 0}
    assert store.participant_count(room.code) == 2


def test_rejoin_by_code_or_pasted_link_gets_the_same_seat_and_answer_back(live):
    client, store, _, _, _ = live
    room = store.create_workshop("startup")
    asked = store.open_question(room.code, QUESTION.key, QUESTION)
    seat = _join(client, room.code, "Ada")
    _answer(client, room.code, seat["token"], asked.id, "Value doubled")
    by_code = client.post("/room/api/rejoin", json={"code": room.code, "rejoin": seat["rejoin"]})
    by_link = client.post("/room/api/rejoin", json={"code": "", "rejoin": seat["rejoin_link"]})
    for response in (by_code, by_link):
        assert response.status_code == 200 and response.json()["token"] == seat["token"]
    again = _state(client, room.code, by_link.json()["token"]).json()
    assert again["seat"]["answer"] == "Value doubled"
    wrong = client.post("/room/api/rejoin", json={"code": room.code, "rejoin": "not-my-code"})
    assert wrong.status_code == 400 and "not for a seat" in wrong.json()["error"]
    assert store.participant_count(room.code) == 1


def test_after_close_the_spread_from_five_answers_and_after_the_reveal_key_and_why(live):
    client, store, _, _, _ = live
    room = store.create_workshop("startup")
    asked = store.open_question(room.code, QUESTION.key, QUESTION)
    seats = [_join(client, room.code, f"p{i}") for i in range(6)]
    for i, seat in enumerate(seats[:4]):
        _answer(client, room.code, seat["token"], asked.id, QUESTION.options[i % 2])
    store.close_question(room.code)
    few = _state(client, room.code, seats[0]["token"]).json()["state"]["round"]
    assert not few["open"] and few["result"]["shown"] is False and few["result"]["spread"] == []
    assert "Waiting for 1 more answer" in few["result"]["status"]

    asked = store.open_question(room.code, QUESTION.key + "-2", QUESTION)
    for i, seat in enumerate(seats):
        _answer(client, room.code, seat["token"], asked.id, QUESTION.options[0 if i < 4 else 1])
    store.close_question(room.code)
    closed = _state(client, room.code, seats[0]["token"]).json()
    result = closed["state"]["round"]["result"]
    assert result["shown"] and result["answers"] == 6
    assert {o["text"]: o["count"] for o in result["spread"]} == {
        "Value doubled": 4, "Nothing about value yet": 2, "Teams got lazier": 0}
    assert not any(o["correct"] for o in result["spread"])          # nothing marked before the reveal
    assert closed["state"]["round"]["reveal"] is None
    assert QUESTION.explanation not in json.dumps(closed)

    store.reveal(room.code, asked.id)
    revealed = _state(client, room.code, seats[0]["token"]).json()
    assert revealed["state"]["round"]["reveal"] == {"answer": QUESTION.answer,
                                                   "explanation": QUESTION.explanation}
    assert [o["correct"] for o in revealed["state"]["round"]["result"]["spread"]] == [
        o == QUESTION.answer for o in asked.question.options]
    assert revealed["seat"] == {"answer": "Value doubled", "misconception": "usage is value",
                                "feedback": "Usage is what was rewarded."}
    right = _state(client, room.code, seats[5]["token"]).json()["seat"]
    assert right == {"answer": QUESTION.answer}


def test_a_closed_room_says_so_refuses_answers_and_shows_each_seat_its_commitment(live):
    from course.workshop_kit import COMMITMENT_KEY

    client, store, _, _, _ = live
    room = store.create_workshop("startup")
    commitment = store.open_question(room.code, COMMITMENT_KEY,
                                     TEXT.__class__(**{**TEXT.__dict__, "key": COMMITMENT_KEY}))
    ada, bob = _join(client, room.code, "Ada"), _join(client, room.code, "Bob")
    _answer(client, room.code, ada["token"], commitment.id, "Stop <b>ranking</b> by sessions")
    store.close_workshop(room.code)
    state = _state(client, room.code, ada["token"]).json()
    assert state["state"]["room"]["status"] == "closed"
    assert state["seat"]["commitment"] == "Stop <b>ranking</b> by sessions"
    assert "commitment" not in _state(client, room.code, bob["token"]).json()["seat"]
    refused = _answer(client, room.code, ada["token"], commitment.id, "again")
    assert refused.status_code == 400 and "closed" in refused.json()["error"]
    late = client.post("/room/api/join", json={"code": room.code, "nickname": "Late"})
    assert late.status_code == 400 and "closed" in late.json()["error"]


def test_a_paused_room_and_a_timed_out_question_refuse_answers(live):
    client, store, clock, _, _ = live
    room = store.create_workshop("startup")
    asked = store.open_question(room.code, QUESTION.key, QUESTION, seconds=30)
    seat = _join(client, room.code, "Ada")
    store.pause_workshop(room.code)
    assert _state(client, room.code, seat["token"]).json()["state"]["room"]["status"] == "paused"
    paused = _answer(client, room.code, seat["token"], asked.id, "Value doubled")
    assert paused.status_code == 400 and "paused" in paused.json()["error"]
    store.resume_workshop(room.code)
    clock.now += dt.timedelta(seconds=31)
    late = _answer(client, room.code, seat["token"], asked.id, "Value doubled")
    assert late.status_code == 400 and "closed" in late.json()["error"]
    assert _state(client, room.code, seat["token"]).json()["state"]["round"]["open"] is False


def test_open_text_the_gallery_goes_only_to_a_seat_that_answered_and_only_approved_texts(live):
    client, store, _, _, _ = live
    room = store.create_workshop("startup")
    asked = store.open_question(room.code, TEXT.key, TEXT)
    seats = [_join(client, room.code, f"p{i}") for i in range(6)]
    for i, seat in enumerate(seats[:5]):
        _answer(client, room.code, seat["token"], asked.id, f"<script>alert({i})</script>")
    approved = store.text_answers(asked.id)[0]
    store.moderate(room.code, approved.id, "approved")
    mine = _state(client, room.code, seats[0]["token"]).json()
    assert mine["seat"]["gallery"] == [approved.text]
    assert mine["seat"]["answer"] == "<script>alert(0)</script>"       # as typed, shown as text
    silent = _state(client, room.code, seats[5]["token"]).json()
    assert "gallery" not in silent["seat"] and "alert" not in json.dumps(silent)
    too_long = _answer(client, room.code, seats[5]["token"], asked.id, "x" * 281)
    assert too_long.status_code == 400 and "280 characters" in too_long.json()["error"]
    store.close_question(room.code)
    closed = _state(client, room.code, seats[5]["token"]).json()
    assert closed["state"]["round"]["gallery"] == [approved.text]      # the room's, once closed


def test_the_checker_game_plan_is_scored_and_the_hidden_check_waits_for_the_reveal(live):
    client, store, _, _, _ = live
    room = store.create_workshop("startup")
    asked = store.open_question(room.code, CHECKER.key, CHECKER)
    seats = [_join(client, room.code, f"p{i}") for i in range(5)]
    state = _state(client, room.code, seats[0]["token"]).json()["state"]["round"]
    assert state["plan"]["target"] == 10.0 and state["plan"]["real_max"] == 20
    reply = _answer(client, room.code, seats[0]["token"], asked.id, plan_answer(2, 30)).json()
    assert reply["answer"] == "2 real, 30 padded" and reply["green"] is True
    assert reply["dashboard"] == 1.0
    bad = _answer(client, room.code, seats[1]["token"], asked.id, "99 real, 0 padded")
    assert bad.status_code == 400 and "0 to 20 real" in bad.json()["error"]
    for seat in seats[1:]:
        _answer(client, room.code, seat["token"], asked.id, plan_answer(4, 0))
    store.close_question(room.code)
    closed = _state(client, room.code, seats[0]["token"]).json()
    assert "turn the dashboard green" in closed["state"]["round"]["result"]["summary"]
    assert closed["state"]["round"]["reveal"] is None and "plan_score" not in closed["seat"]
    assert CHECKER.explanation not in json.dumps(closed)
    store.reveal(room.code, asked.id)
    revealed = _state(client, room.code, seats[0]["token"]).json()
    assert revealed["state"]["round"]["reveal"]["explanation"] == CHECKER.explanation
    assert "green plans" in revealed["state"]["round"]["reveal"]["hidden_summary"]
    assert revealed["seat"]["plan_score"]["dashboard"] == 1.0


# ------------------------------------------------------------------------------ attacks
def test_the_state_never_carries_the_key_the_explanation_or_anyones_nickname(live):
    client, store, _, _, _ = live
    room = store.create_workshop("startup")
    asked = store.open_question(room.code, QUESTION.key, QUESTION)
    seats = [_join(client, room.code, name) for name in ("Ada<script>", "Bob", "Cy", "Di", "Ed")]
    for seat in seats:                           # the reply says what was stored, not if it is right
        assert _answer(client, room.code, seat["token"], asked.id, QUESTION.answer).json() == \
            {"answer": QUESTION.answer}
    raw = _state(client, room.code, seats[1]["token"]).text
    for secret in (QUESTION.explanation, "usage-is-value", "usage is value", "lazy-teams",
                   "Usage is what was rewarded", "Ada", "Bob", seats[0]["token"], "correct\":true",
                   seats[0]["rejoin"]):
        assert secret not in raw, secret
    store.close_question(room.code)
    raw = _state(client, room.code, seats[1]["token"]).text
    assert "Ada" not in raw and "Bob" not in raw and QUESTION.explanation not in raw
    assert '"reveal":null' in raw


def test_the_seat_travels_in_a_header_and_a_cookie_or_another_rooms_seat_is_refused(live):
    client, store, _, _, _ = live
    room, other = store.create_workshop("startup"), store.create_workshop("startup")
    asked = store.open_question(room.code, QUESTION.key, QUESTION)
    seat = _join(client, room.code, "Ada")
    stranger = _join(client, other.code, "Eve")
    client.cookies.set("X-Seat-Token", seat["token"])
    as_cookie = client.post("/room/api/answer", json={"code": room.code, "round": asked.id,
                                                      "answer": "Value doubled"})
    assert as_cookie.status_code == 403 and "join again" in as_cookie.json()["error"]
    assert client.get("/room/api/state", params={"code": room.code}).status_code == 403
    wrong_room = _answer(client, room.code, stranger["token"], asked.id, "Value doubled")
    assert wrong_room.status_code == 403
    assert _state(client, room.code, stranger["token"]).status_code == 403
    assert store.aggregate(asked.id, min_group=1).answers == 0


def test_an_unknown_option_an_old_question_or_a_wrong_type_is_refused_with_a_message(live):
    client, store, _, _, _ = live
    room = store.create_workshop("startup")
    first = store.open_question(room.code, QUESTION.key, QUESTION)
    second = store.open_question(room.code, QUESTION.key + "-2", QUESTION)
    seat = _join(client, room.code, "Ada")
    cases = [(second.id, "Value tripled", "Choose one of the options"),
             (first.id, "Value doubled", "That question is closed"),
             (str(second.id), "Value doubled", "Say which question"),
             (True, "Value doubled", "Say which question"),
             (second.id, ["Value doubled"], "An answer is a text")]
    for round_id, answer, message in cases:
        response = _answer(client, room.code, seat["token"], round_id, answer)
        assert response.status_code == 400 and message in response.json()["error"], response.text
    assert store.aggregate(second.id, min_group=1).answers == 0


@pytest.mark.parametrize("body, content_type, status, message", [
    (b"{not json", "application/json", 400, "not valid JSON"),
    (b"[1, 2]", "application/json", 400, "must be a JSON object"),
    (b"\xff\xfe", "application/json", 400, "not valid JSON"),
    (b'{"code": 5, "nickname": "Ada"}', "application/json", 400, "must be a text"),
    (b"code=X&nickname=Ada", "application/x-www-form-urlencoded", 415, "JSON body"),
    (b'{"nickname": "' + b"x" * BODY_MAX_BYTES + b'"}', "application/json", 413, "at most"),
])
def test_a_malformed_or_oversized_request_gets_a_clear_refusal(live, body, content_type, status,
                                                                message):
    client, store, _, _, _ = live
    store.create_workshop("startup")
    response = client.post("/room/api/join", content=body, headers={"Content-Type": content_type})
    assert response.status_code == status and message in response.json()["error"]
    assert "Traceback" not in response.text


def test_a_streamed_body_past_the_limit_is_refused_without_reading_it_all(live):
    client, *_ = live

    def chunks():
        for _ in range(10):
            yield b"x" * 1000

    response = client.post("/room/api/join", content=chunks(),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_an_unknown_room_answers_404_with_a_message(live):
    client, store, _, _, _ = live
    for response in (client.post("/room/api/join", json={"code": "ZZZZZZ", "nickname": "Ada"}),
                     client.post("/room/api/rejoin", json={"code": "ZZZZZZ", "rejoin": "abc"}),
                     client.get("/room/api/state", params={"code": "ZZZZZZ"},
                                headers={"X-Seat-Token": "t"}),
                     client.get("/room/api/state", params={"code": "<script>"},
                                headers={"X-Seat-Token": "t"})):
        assert response.status_code == 404 and "code" in response.json()["error"]
        assert "<script>" not in response.text
    assert client.get("/room/api/join").status_code == 405
    empty = client.post("/room/api/join", json={"code": " ", "nickname": "Ada"})
    assert empty.status_code == 400 and "Enter the workshop code" in empty.json()["error"]
    no_code = client.post("/room/api/rejoin", json={"code": "", "rejoin": ""})
    assert no_code.status_code == 400 and "rejoin" in no_code.json()["error"]


def test_a_server_fault_is_a_message_never_a_traceback(live, monkeypatch):
    client, store, _, phones, _ = live
    room = store.create_workshop("startup")
    seat = _join(client, room.code, "Ada")

    def broken(code):
        raise RuntimeError("secret internals /var/lib/progress.sqlite")

    monkeypatch.setattr(store, "room_now", broken)
    response = _state(client, room.code, seat["token"])
    assert response.status_code == 500 and "try again" in response.json()["error"]
    assert "secret internals" not in response.text and "Traceback" not in response.text


def test_a_broken_app_config_is_a_503_with_its_reason(monkeypatch):
    from course import phone_routes
    from course.config import ConfigError

    def broken():
        raise ConfigError("config.yaml: workshop_refresh_seconds must be 1-30")

    monkeypatch.setattr(phone_routes, "open_phones", broken)
    client = TestClient(PhoneRoutes(Streamlit()))
    response = client.post("/room/api/join", json={"code": "ABCDEF", "nickname": "Ada"})
    assert response.status_code == 503 and "workshop_refresh_seconds" in response.json()["error"]


def test_one_seat_sending_answers_in_a_loop_is_slowed_down(live):
    client, store, _, _, _ = live
    room = store.create_workshop("startup")
    asked = store.open_question(room.code, QUESTION.key, QUESTION)
    seat, other = _join(client, room.code, "Ada"), _join(client, room.code, "Bob")
    codes = [_answer(client, room.code, seat["token"], asked.id, QUESTION.options[i % 3]).status_code
             for i in range(ANSWERS_PER_WINDOW + 3)]
    assert codes[:ANSWERS_PER_WINDOW] == [200] * ANSWERS_PER_WINDOW and set(codes[-3:]) == {429}
    assert _answer(client, room.code, other["token"], asked.id, "Value doubled").status_code == 200


def test_the_answer_limit_holds_across_replicas_and_lifts_after_its_window(live):
    """Two app processes on one database (replicas behind a load balancer): a seat that spreads
    its answers over both still meets one limit, since both count the shared answer log; the
    Streamlit page's answers (the store's submit_answer) count too. The window then lets it in."""
    client, store, clock, _, streamlit = live
    room = store.create_workshop("startup")
    asked = store.open_question(room.code, QUESTION.key, QUESTION)
    seat = _join(client, room.code, "Ada")
    other_replica = PhoneRooms(WorkshopStore(store.engine, clock=clock), refresh_setting=2.5, ttl=0.0)
    with TestClient(PhoneRoutes(streamlit, other_replica), base_url="http://hall.test") as second:
        codes = [_answer(client if i % 2 else second, room.code, seat["token"], asked.id,
                         QUESTION.options[i % 3]).status_code for i in range(ANSWERS_PER_WINDOW - 1)]
        store.submit_answer(room.code, seat["token"], asked.id, QUESTION.options[0])
        assert codes == [200] * (ANSWERS_PER_WINDOW - 1)
        refused = [_answer(c, room.code, seat["token"], asked.id, QUESTION.options[1]) for c in (client, second)]
        assert [r.status_code for r in refused] == [429, 429] and "wait a moment" in refused[0].json()["error"]
        with pytest.raises(TooManyAnswers):
            store.submit_answer(room.code, seat["token"], asked.id, QUESTION.options[1])
        assert store.my_answer(seat["token"], asked.id) == QUESTION.options[0]    # the refused ones changed nothing
        clock.now += dt.timedelta(seconds=ANSWER_WINDOW_SECONDS + 0.5)
        assert _answer(second, room.code, seat["token"], asked.id, QUESTION.options[2]).status_code == 200


# ------------------------------------------------------------------------------ cheap state
def test_many_phones_polling_one_room_read_the_database_once_per_interval(tmp_path):
    clock = Clock()
    progress = ProgressStore(f"sqlite:///{tmp_path / 'progress.sqlite'}")
    store = WorkshopStore(progress.engine, clock=clock)
    now = [100.0]
    phones = PhoneRooms(store, ttl=0.25, monotonic=lambda: now[0])
    room = store.create_workshop("startup")
    store.open_question(room.code, QUESTION.key, QUESTION)
    reads = []
    real_room_now = store.room_now
    store.room_now = lambda code: reads.append(code) or real_room_now(code)
    with TestClient(PhoneRoutes(Streamlit(), phones)) as client:
        seats = [_join(client, room.code, f"p{i}") for i in range(30)]
        now[0] += 0.3                                            # the joins' snapshot went stale
        reads.clear()
        bodies = [_state(client, room.code, seat["token"]).json() for seat in seats]
        assert len(reads) == 1                                   # 30 checks, one read of the room
        assert all(b["state"] == bodies[0]["state"] for b in bodies)
        now[0] += 0.3
        _state(client, room.code, seats[0]["token"])
        assert len(reads) == 2
    progress.engine.dispose()


def test_a_hall_keeps_the_configured_interval_on_the_light_page():
    from course.workshop import phone_refresh_seconds

    assert phone_refresh_seconds(2.5, 300, workshop_phone.LIGHT_CHECKS_PER_SECOND) == 2.5
    assert phone_refresh_seconds(2.5, 300) == 5            # the Streamlit page's, unchanged


def test_an_edited_join_address_and_refresh_reach_phones_without_a_restart(tmp_path):
    """PhoneRooms reads its settings on every use: the seat's links and the poll interval follow
    var/config.yaml's edit (course.config.LiveWorkshopSettings) within its check interval."""
    import os

    from course.config import LiveWorkshopSettings, WorkshopSettings

    now = [0.0]
    live = LiveWorkshopSettings(tmp_path, WorkshopSettings(None, 2.5), monotonic=lambda: now[0])
    progress = ProgressStore(f"sqlite:///{tmp_path / 'progress.sqlite'}")
    store = WorkshopStore(progress.engine, clock=Clock())
    phones = PhoneRooms(store, ttl=0.0, settings=live.current)
    room = store.create_workshop("startup", "Hall")
    with TestClient(PhoneRoutes(Streamlit(), phones), base_url="http://127.0.0.1:8501") as client:
        seat = _join(client, room.code, "Ada")
        assert seat["rejoin_link"].startswith("http://127.0.0.1:8501/")
        assert _state(client, room.code, seat["token"]).json()["state"]["refresh_seconds"] == 2.5
        path = tmp_path / "config.yaml"
        path.write_text("public_url: https://hall.example.org/\nworkshop_refresh_seconds: 6\n")
        os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
        now[0] += 3
        again = client.post("/room/api/rejoin", json={"code": room.code, "rejoin": seat["rejoin"]}).json()
        assert again["rejoin_link"].startswith("https://hall.example.org/")
        store.open_question(room.code, QUESTION.key, QUESTION, seconds=60)   # a new state to build
        assert _state(client, room.code, seat["token"]).json()["state"]["refresh_seconds"] == 6.0
    progress.engine.dispose()


def test_a_room_closed_to_newcomers_tells_a_new_phone_why_and_lets_a_seated_one_back(live):
    client, store, _, _, _ = live
    room = store.create_workshop("startup", "Hall")
    seat = _join(client, room.code, "Ada")
    store.lock_joins(room.code)
    refused = client.post("/room/api/join", json={"code": room.code, "nickname": "Bot"})
    assert refused.status_code == 400 and "no new participants" in refused.json()["error"]
    back = client.post("/room/api/rejoin", json={"code": room.code, "rejoin": seat["rejoin"]})
    assert back.status_code == 200 and back.json()["token"] == seat["token"]
