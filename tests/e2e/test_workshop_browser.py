"""The presenter view in a real browser at projector size (1920×1080), with the shipped settings.

Screenshots go to var/screenshots/workshop-*.png for people to look at: the question open, the
room's bars after voting closed (no answer marked), and after the reveal.
"""

from __future__ import annotations

import os

import pytest

from course import auth, commands
from course.config import load_config
from course.progress import ProgressStore
from course.sessions import SessionStore
from course.workshop import RoundQuestion, WorkshopStore
from tests.e2e.support import SCREENSHOTS, STAFF_PASSWORD, _settle, running_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("browser")]

QUESTION = RoundQuestion(
    "m1/proxy", "After the mandate, AI sessions per employee doubled. What do you know about "
    "the value AI creates?",
    ("Value doubled", "Nothing about value yet", "Teams got lazier"), "Nothing about value yet",
    ("usage-equals-value", None, "activity-means-effort"),
    explanation="Usage answered the mandate directly; value depends on whether the sessions "
                "touched real work.")


@pytest.fixture(scope="module")
def live_room(tmp_path_factory):
    """The app as `theater app` starts it, and a room with 20 answers on its database."""
    home = tmp_path_factory.mktemp("workshop-home")
    os.environ["THEATER_STAFF_PASSWORD"] = STAFF_PASSWORD
    with running_app(home, commands.streamlit_flags()) as url:
        config = load_config(home)
        progress = ProgressStore(config.database_url)
        rooms = WorkshopStore(progress.engine)
        room = rooms.create_workshop("startup", "Leadership offsite", owner="Grace")
        account = auth.add_staff(config.staff_path, "Grace", "trainer", "a-long-trainer-password")
        sessions = SessionStore(progress.engine)
        presenter = auth.presenter_session(sessions, room.code, "Grace",
                                           room.expires_at)   # the presenter link of Run a workshop
        staff = auth.staff_session(sessions, account)         # Grace signed in (her url's handle)
        yield url, rooms, room, presenter, staff
        progress.engine.dispose()


PHONE_REFRESH_SECONDS = 4        # at least config.yaml's workshop_refresh_seconds (2.5 s by default),
                                 # with room for a loaded machine


def _wait_text(page, text: str, timeout: float = 30_000) -> None:
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)


def test_presenter_view_at_projector_size(live_room, browser):
    url, rooms, room, token, _ = live_room
    current = rooms.open_question(room.code, QUESTION.key, QUESTION)
    people = [rooms.join(room.code, f"p{i}") for i in range(20)]
    for i, person in enumerate(people[:14]):
        rooms.submit_answer(room.code, person.token, current.id,
                            QUESTION.options[0] if i < 7 else QUESTION.options[1])
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{url}/workshop-present?room={room.code}&view={token}")
    _wait_text(page, "14 of 20 answered")
    page.wait_for_timeout(1500)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "workshop-presenter-open.png"))
    body = page.inner_text("body")
    assert QUESTION.prompt in body and room.code in body
    assert "right answer" not in body.lower() and "✓" not in body
    buttons = page.get_by_role("button")
    labels = [buttons.nth(i).get_attribute("aria-label") or buttons.nth(i).inner_text()
              for i in range(buttons.count())]
    assert [x for x in labels if buttons.nth(labels.index(x)).is_visible()] == [], labels
    assert page.locator("img").count() >= 1                  # the join QR code

    for person in people[14:]:
        rooms.submit_answer(room.code, person.token, current.id, QUESTION.options[1])
    rooms.close_question(room.code)
    _wait_text(page, "voting closed")
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for(timeout=30_000)
    page.wait_for_timeout(2500)
    page.screenshot(path=str(SCREENSHOTS / "workshop-presenter-closed.png"))
    body = page.inner_text("body")
    assert "20 of 20 answered" in body and "✓" not in body
    assert "35%" in body or "35%" in page.content()

    rooms.reveal(room.code, current.id)
    _wait_text(page, "✓ Nothing about value yet")
    page.wait_for_timeout(2500)
    page.screenshot(path=str(SCREENSHOTS / "workshop-presenter-revealed.png"))
    assert "value depends on whether" in page.inner_text("body")
    page.close()


def test_control_view_and_a_phone_after_the_reveal(live_room, browser):
    url, rooms, room, _, token = live_room
    trainer = browser.new_page(viewport={"width": 1440, "height": 900})
    # A reload keeps the sign-in (for staff who are not learners the control view is the
    # app's default page, at the root address).
    trainer.goto(f"{url}/?staff={token}")
    go = trainer.get_by_role("button", name="Go to this workshop")
    go.wait_for(timeout=60_000)
    _settle(trainer)
    go.click()
    _wait_text(trainer, "Ask the room")
    trainer.wait_for_timeout(3000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    trainer.screenshot(path=str(SCREENSHOTS / "workshop-control.png"), full_page=True)
    assert "Presenter view for the projector" in trainer.inner_text("body")
    trainer.close()

    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(f"{url}/workshop?code={room.code}")             # what the QR code opens
    phone.get_by_role("textbox", name="Nickname").fill("Ada")
    phone.get_by_role("button", name="Join").click()
    _wait_text(phone, "you are")
    latest = rooms.latest_round(room.code)
    if latest is not None and latest.revealed:
        _wait_text(phone, "Right answer")
        phone.wait_for_timeout(2000)
        phone.screenshot(path=str(SCREENSHOTS / "workshop-phone-revealed.png"), full_page=True)
        assert "value depends on whether" in phone.inner_text("body")
    phone.close()


def test_pause_and_close_reach_a_phone_and_the_projector_without_a_reload(live_room, browser):
    """The pages refresh in fragments: each refresh must re-read the room itself, or a close
    never reaches a phone and the projector keeps its QR code (as a trainer once found)."""
    import time

    url, rooms, _, _, _ = live_room
    room = rooms.create_workshop("startup", "Closing time", owner="Grace")
    link = auth.presenter_session(SessionStore(rooms.engine), room.code, "Grace", room.expires_at)
    rooms.open_question(room.code, QUESTION.key, QUESTION)
    projector = browser.new_page(viewport={"width": 1920, "height": 1080})
    projector.goto(f"{url}/workshop-present?room={room.code}&view={link}")
    _wait_text(projector, "0 of 0 answered")
    projector.locator("[data-testid='stImage']").first.wait_for(timeout=30_000)   # the QR code (an SVG,
    assert projector.locator("[data-testid='stImage']").count() == 1            # drawn a moment later)
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(f"{url}/workshop?code={room.code}")
    phone.get_by_role("textbox", name="Nickname").fill("Ada")
    phone.get_by_role("button", name="Join").click()
    _wait_text(phone, "Send my answer")

    within = (PHONE_REFRESH_SECONDS + 4) * 1000        # one refresh and the page's own work
    rooms.pause_workshop(room.code, owner="Grace")
    _wait_text(phone, "paused the room", timeout=within)
    _wait_text(projector, "Paused: eyes on the front", timeout=within)
    rooms.resume_workshop(room.code, owner="Grace")
    _wait_text(phone, "Send my answer", timeout=within)

    rooms.close_workshop(room.code, owner="Grace")
    started = time.monotonic()
    _wait_text(phone, "This workshop has closed", timeout=within)
    _wait_text(projector, "This workshop has closed", timeout=within)
    elapsed = time.monotonic() - started
    projector.wait_for_timeout(500)
    assert projector.locator("[data-testid='stImage']").count() == 0     # no QR code left
    assert room.code not in projector.inner_text("body")
    assert phone.get_by_role("button", name="Send my answer").count() == 0
    print(f"close reached the phone and the projector in {elapsed:.1f} s")
    phone.close()
    projector.close()


def test_goodhart_live_reveal_fits_the_projector(live_room, browser):
    """A revealed simulator stage: the range marked, the value said, module 1's chart for the
    room's population, at 1920×1080 (screenshot var/screenshots/workshop-goodhart-live.png)."""
    from course import workshop_simulator as live

    url, rooms, _, _, _ = live_room
    room = rooms.create_workshop("startup", "Goodhart live", owner="Grace")
    link = auth.presenter_session(SessionStore(rooms.engine), room.code, "Grace", room.expires_at)
    question = live.stage_question(live.load_simulator_room().stage("combined"), room.seed)
    asked = rooms.open_question(room.code, question.key, question)
    for i in range(12):
        person = rooms.join(room.code, f"g{i}")
        rooms.submit_answer(room.code, person.token, asked.id, question.options[i % 4])
    rooms.close_question(room.code)
    rooms.reveal(room.code, asked.id)
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{url}/workshop-present?room={room.code}&view={link}")
    _wait_text(page, f"✓ {question.answer}")
    charts = page.locator("[data-testid='stVegaLiteChart']")
    charts.nth(1).wait_for(timeout=30_000)
    page.wait_for_timeout(2500)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "workshop-goodhart-live.png"))
    assert "In this room's company" in page.inner_text("body")
    box = charts.nth(1).bounding_box()
    assert box["x"] + box["width"] <= 1920, box              # the stage's chart is not cut off
    page.close()


def test_a_phone_rejoins_its_seat_by_its_link_after_the_browser_is_gone(live_room, browser):
    """Join, answer, close the browser; the rejoin link on a new device gives the same seat back
    (its answer shown, a change counted once); another room's rejoin code is refused plainly."""
    url, rooms, _, _, _ = live_room
    room = rooms.create_workshop("startup", "Rejoin", owner="Grace")
    asked = rooms.open_question(room.code, QUESTION.key, QUESTION)
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(f"{url}/workshop?code={room.code}")
    phone.get_by_role("textbox", name="Nickname").fill("Ada")
    phone.get_by_role("button", name="Join").click()
    _wait_text(phone, "Keep this to rejoin")
    _wait_text(phone, "rejoin=")
    link = next(line for line in phone.inner_text("body").split() if "rejoin=" in line)
    assert link.startswith("http") and f"code={room.code}" in link
    assert "rejoin=" in phone.url                       # a reload or restored tab keeps the seat
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SCREENSHOTS / "workshop-phone-rejoin.png"), full_page=True)
    phone.get_by_text("Value doubled").click()
    phone.get_by_role("button", name="Send my answer").click()
    _wait_text(phone, "is in")
    phone.context.close()                               # the browser, and its session, are gone

    laptop = browser.new_page(viewport={"width": 1280, "height": 800})
    laptop.goto(link)
    _wait_text(laptop, "you are Ada")
    _wait_text(laptop, "Your answer “Value doubled” is in")
    laptop.get_by_text("Nothing about value yet").click()
    laptop.get_by_role("button", name="Send my answer").click()
    _wait_text(laptop, "Your answer “Nothing about value yet” is in")
    aggregate = rooms.aggregate(asked.id, min_group=1)
    assert aggregate.answers == 1 and aggregate.participants == 1       # counted once
    laptop.context.close()

    other = rooms.create_workshop("startup", "Elsewhere", owner="Grace")
    stranger = rooms.join(other.code, "Bob")
    intruder = browser.new_page(viewport={"width": 390, "height": 844})
    intruder.goto(f"{url}/workshop?code={room.code}&rejoin={stranger.rejoin}")
    _wait_text(intruder, f"That rejoin code is not for a seat in workshop {room.code}")
    intruder.get_by_role("textbox", name="Nickname").wait_for(timeout=30_000)   # the join form
    assert rooms.participant_count(room.code) == 1
    intruder.context.close()
