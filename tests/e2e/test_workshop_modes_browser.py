"""The room modes in a real browser: phones play the checker game and send open text, the
projector (1920×1080) shows the configured join link, the room's plans and the approved answers.

Screenshots: var/screenshots/workshop-checker-revealed.png and workshop-open-text.png.
"""

from __future__ import annotations

import os

import pytest

from course import auth, commands
from course import workshop_checker as checker
from course.config import load_config
from course.modules import load_modules
from course.progress import ProgressStore
from course.sessions import SessionStore
from course.workshop import WorkshopStore, plan_answer, trainer_question
from tests.e2e.support import SCREENSHOTS, STAFF_PASSWORD, running_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("browser")]

PUBLIC_URL = "https://workshop.example.org/theater/"
HOSTILE = "<img src=x onerror=\"window.__pwned=1\"> **bold** [link](javascript:window.__pwned=2)"


@pytest.fixture(scope="module")
def live_app(tmp_path_factory):
    home = tmp_path_factory.mktemp("workshop-modes-home")
    (home / "config.yaml").write_text(f"public_url: {PUBLIC_URL}\n")
    os.environ["THEATER_STAFF_PASSWORD"] = STAFF_PASSWORD
    with running_app(home, commands.streamlit_flags()) as url:
        progress = ProgressStore(load_config(home).database_url)
        rooms = WorkshopStore(progress.engine)
        yield url, rooms, SessionStore(progress.engine), home
        progress.engine.dispose()


def _room(rooms, sessions, title):
    room = rooms.create_workshop("startup", title, owner="Grace")
    return room, auth.presenter_session(sessions, room.code, "Grace", room.expires_at)


def _wait_text(page, text: str, timeout: float = 30_000) -> None:
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)


def _phone(browser, url, code, nickname):
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(f"{url}/workshop?code={code}")
    phone.get_by_role("textbox", name="Nickname").fill(nickname)
    phone.get_by_role("button", name="Join").click()
    _wait_text(phone, "Send my answer", timeout=60_000)
    return phone


def _choose(page, box: str, option: str, attempts: int = 3) -> None:
    """Pick an option of a selectbox; a rerun landing just then closes the list, so try again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        page.get_by_test_id("stSelectbox").filter(has_text=box).first.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")


def _slide(phone, index: int, steps: int) -> None:
    """Move a slider by `steps` with the arrow keys, checking where it landed: a key pressed while
    the page's fragment reruns can be lost, so press on until the slider shows the target."""
    handle = phone.get_by_role("slider").nth(index)
    handle.focus()

    def value() -> float:     # the number Streamlit draws above the slider's thumb
        return float(phone.locator('[data-testid="stSliderThumbValue"]').nth(index).inner_text().strip())

    start = value()
    key = "ArrowRight" if steps > 0 else "ArrowLeft"
    for _ in range(abs(steps)):
        handle.press(key)
    for _ in range(3 * abs(steps) + 3):
        now = value()
        if now == start + steps:
            return
        handle.focus()
        handle.press(key if (now < start + steps) == (steps > 0) else
                     ("ArrowLeft" if key == "ArrowRight" else "ArrowRight"))
        phone.wait_for_timeout(100)
    raise AssertionError(f"slider {index} stayed at {now}, not {start + steps}")


def test_phones_play_the_checker_game_and_the_projector_reveals_the_hidden_check(live_app, browser):
    url, rooms, sessions, home = live_app
    room, link = _room(rooms, sessions, "Checker in the room")
    game = checker.load_game(load_modules()[0])
    current = rooms.open_question(room.code, checker.KEY, checker.checker_question(game))
    projector = browser.new_page(viewport={"width": 1920, "height": 1080})
    projector.goto(f"{url}/workshop-present?room={room.code}&view={link}")
    _wait_text(projector, "sent a plan", timeout=60_000)
    assert f"{PUBLIC_URL}workshop?code={room.code}" in projector.inner_text("body")
    phones = []
    for nickname, (real_steps, padded_steps) in (("Ada", (0, 21)), ("Bo", (8, 15)), ("Cy", (6, 0))):
        phone = _phone(browser, url, room.code, nickname)
        _slide(phone, 0, real_steps)          # from 4 real, 0 padded
        _slide(phone, 1, padded_steps)
        phone.get_by_role("button", name="Send my answer").click()
        _wait_text(phone, "is in")
        phones.append(phone)
    sent = sorted(rooms.current_answers(current.id))
    assert sent == sorted(["4 real, 21 padded", "12 real, 15 padded", "10 real, 0 padded"])
    for i, plan in enumerate([(2, 30), (15, 0)]):
        person = rooms.join(room.code, f"extra{i}")
        rooms.submit_answer(room.code, person.token, current.id, plan_answer(*plan))
    _wait_text(projector, "5 of 5 sent a plan")
    rooms.close_question(room.code)
    _wait_text(projector, "3 of 5 plans (60%) turn the dashboard green")
    assert "hidden" not in projector.inner_text("body").lower()
    rooms.reveal(room.code, current.id)
    _wait_text(projector, "Of the 3 green plans, every one delivers less than that")
    chart = projector.locator("[data-testid='stVegaLiteChart']").first
    chart.wait_for(timeout=30_000)
    projector.wait_for_timeout(2500)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    projector.screenshot(path=str(SCREENSHOTS / "workshop-checker-revealed.png"))
    box = chart.bounding_box()
    assert box["x"] + box["width"] <= 1920, box
    _wait_text(phones[0], "On the hidden team your plan scores 100% on the dashboard",
               timeout=15_000)
    for phone in phones:
        phone.close()
    projector.close()


def test_open_text_reaches_the_projector_only_approved_and_as_plain_text(live_app, browser):
    url, rooms, sessions, home = live_app
    room, link = _room(rooms, sessions, "Commitments")
    current = rooms.open_question(room.code, "text/commitment",
                                  trainer_question("One sentence: what will you stop targeting?",
                                                   "text"))
    phone = _phone(browser, url, room.code, "Ada")
    phone.get_by_role("textbox").last.fill(HOSTILE)
    phone.get_by_role("button", name="Send my answer").click()
    _wait_text(phone, "Your answer is in")
    for i in range(4):
        person = rooms.join(room.code, f"t{i}")
        rooms.submit_answer(room.code, person.token, current.id, f"Stop ranking teams by tokens ({i})")
    projector = browser.new_page(viewport={"width": 1920, "height": 1080})
    projector.goto(f"{url}/workshop-present?room={room.code}&view={link}")
    _wait_text(projector, "5 of 5 answered", timeout=60_000)
    assert "Stop ranking" not in projector.inner_text("body")        # nothing before approval
    for answer in rooms.text_answers(current.id)[:3]:
        rooms.moderate(room.code, answer.id, "approved", seen_text=answer.text)
    hostile_shown = HOSTILE in [a.text for a in rooms.text_answers(current.id)[:3]]
    _wait_text(projector, "Stop ranking teams by tokens")
    projector.wait_for_timeout(1500)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    projector.screenshot(path=str(SCREENSHOTS / "workshop-open-text.png"))
    body = projector.inner_text("body")
    assert body.count("Stop ranking teams by tokens") == (2 if hostile_shown else 3)
    if hostile_shown:
        assert HOSTILE in body                     # the characters typed, as typed
    assert projector.evaluate("window.__pwned") is None
    assert phone.evaluate("window.__pwned") is None
    assert projector.locator("img[onerror]").count() == 0
    assert projector.locator("a[href^='javascript']").count() == 0
    phone.close()
    projector.close()


def test_the_control_view_follows_the_kit_and_moderates(live_app, browser):
    """The trainer's screen in a browser: pick the 45-minute run-of-show, press Next in the kit,
    and approve an open-text answer (screenshot var/screenshots/workshop-control-kit.png)."""
    from course.auth import add_staff

    url, rooms, sessions, home = live_app
    account = add_staff(load_config(home).staff_path, "Grace", "trainer", "a-long-trainer-password")
    staff = auth.staff_session(sessions, account)
    room, _ = _room(rooms, sessions, "Kit run")
    trainer = browser.new_page(viewport={"width": 1440, "height": 900})
    trainer.goto(f"{url}/?staff={staff}")
    go = trainer.get_by_role("button", name="Go to this workshop")
    go.wait_for(timeout=60_000)
    go.click()
    _wait_text(trainer, "Ask the room", timeout=60_000)
    _choose(trainer, "Run-of-show", "45 minutes")
    next_step = trainer.get_by_role("button", name="Next in the kit")
    next_step.wait_for(timeout=30_000)
    next_step.click()
    _wait_text(trainer, "Block 1 of 6", timeout=30_000)
    assert rooms.current_round(room.code).question.key == "pretest/pp-usage-outcome"
    text = rooms.open_question(room.code, "text/commitment",
                               trainer_question("What will you stop targeting?", "text"))
    for i in range(5):
        person = rooms.join(room.code, f"m{i}")
        rooms.submit_answer(room.code, person.token, text.id, f"<b>answer</b> number {i}")
    _wait_text(trainer, "5 waiting", timeout=30_000)      # the control view refreshes by itself
    assert trainer.locator("b", has_text="answer").count() == 0     # shown as text, not markup
    trainer.get_by_role("button", name="Approve").first.click()
    _wait_text(trainer, "1 approved for the projector", timeout=30_000)
    assert [a.state for a in rooms.text_answers(text.id)].count("approved") == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    trainer.screenshot(path=str(SCREENSHOTS / "workshop-control-kit.png"), full_page=True)
    trainer.close()
