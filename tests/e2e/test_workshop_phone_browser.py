"""The light phone page (/room) in a real phone-sized browser against the app as `theater app`
serves it: a phone joins from the join link, answers, and the projector counts the answer; a
hostile nickname and answer show as typed. Screenshots: var/screenshots/workshop-light-phone-*.png.
"""

from __future__ import annotations

import os

import pytest

from course import auth, commands
from course.config import load_config
from course.progress import ProgressStore
from course.sessions import SessionStore
from course.workshop import RoundQuestion, WorkshopStore, join_url
from tests.e2e.support import SCREENSHOTS, STAFF_PASSWORD, running_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("browser")]

QUESTION = RoundQuestion(
    "room/usage", "After the mandate, AI sessions per employee doubled. What do you know?",
    ("Value doubled", "Nothing about value yet", "Teams got lazier"), "Nothing about value yet",
    ("usage-equals-value", None, "activity-means-effort"),
    explanation="Usage answered the mandate directly; value depends on the work.")
HOSTILE = "<img src=x onerror=z=1>"        # a nickname fits 24 characters


def _wait_text(page, text: str, timeout: float = 30_000) -> None:
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)


def _http(url: str, body: bytes | None = None, content_type: str = "application/json"):
    """(status, body) of one request to the real server, refusals included."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_phone_on_the_light_page_answers_and_the_projector_counts_it(tmp_path, browser):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text("workshop_refresh_seconds: 1\n")   # the phone checks often
    os.environ["THEATER_STAFF_PASSWORD"] = STAFF_PASSWORD
    with running_app(home, commands.streamlit_flags(), serve=True) as url:
        progress = ProgressStore(load_config(home).database_url)
        rooms = WorkshopStore(progress.engine)
        room = rooms.create_workshop("startup", "Leadership offsite", owner="Grace")
        presenter = auth.presenter_session(SessionStore(progress.engine), room.code, "Grace",
                                           room.expires_at)
        try:                    # the real server's refusals, through Streamlit's whole stack
            assert _http(f"{url}/room/api/join", b'{"code": "ZZZZZZ", "nickname": "A"}')[0] == 404
            status, text = _http(f"{url}/room/api/join", b"{oops")
            assert status == 400 and "not valid JSON" in text and "Traceback" not in text
            assert _http(f"{url}/room/api/join", b"x" * 10_000)[0] == 413
            assert _http(f"{url}/_stcore/health")[0] == 200                # Streamlit's own
            assert _http(f"{url}/_stcore/metrics")[0] == 404               # still closed

            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(join_url(url, room.code))                     # what the QR code opens
            assert phone.get_by_role("textbox", name="Workshop code").input_value() == room.code
            phone.get_by_role("textbox", name="Nickname").fill(HOSTILE)
            phone.get_by_role("button", name="Join").click()
            _wait_text(phone, "Waiting for the trainer's first question")
            assert phone.eval_on_selector("#keep", "box => box.open")   # a new seat shows its link
            assert f"you are {HOSTILE}" in phone.inner_text("#whoami")   # shown as typed
            assert "rejoin=" in phone.url                            # a reload keeps the seat

            board = browser.new_page(viewport={"width": 1920, "height": 1080})
            board.goto(f"{url}/workshop-present?room={room.code}&view={presenter}")
            _wait_text(board, "1 joined", timeout=60_000)
            assert f"{url}/room?code={room.code}" in board.inner_text("body")   # its QR code's link

            asked = rooms.open_question(room.code, QUESTION.key, QUESTION)
            _wait_text(phone, QUESTION.prompt)
            # the rejoin link, unfolded when the seat was new, folds so the question fills the screen
            assert not phone.eval_on_selector("#keep", "box => box.open")
            letter = asked.question.letter_of("Nothing about value yet")
            phone.get_by_text(f"{letter}. Nothing about value yet").click()
            phone.get_by_role("button", name="Send my answer").click()
            _wait_text(phone, "Your answer \u201cNothing about value yet\u201d is in")
            _wait_text(board, "1 of 1 answered")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            phone.screenshot(path=str(SCREENSHOTS / "workshop-light-phone-answered.png"),
                             full_page=True)

            phone.reload()                                           # the rejoin link in the address
            _wait_text(phone, "Your answer \u201cNothing about value yet\u201d is in")
            rooms.reveal(room.code, asked.id)
            _wait_text(phone, "Right answer")
            assert QUESTION.explanation in phone.inner_text("body")
            phone.screenshot(path=str(SCREENSHOTS / "workshop-light-phone-revealed.png"),
                             full_page=True)
            assert phone.evaluate("() => typeof window.z") == "undefined"   # the tag never ran
            assert rooms.participant_count(room.code) == 1
            assert rooms.my_answer(rooms.rejoin(room.code, phone.url).token,
                                   asked.id) == "Nothing about value yet"
        finally:
            progress.engine.dispose()
