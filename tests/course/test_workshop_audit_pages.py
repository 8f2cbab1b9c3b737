"""A room on an organisation's own audit, through AppTest: the trainer uploads the room file, the
host page, the projector and the phones work on it, and no page generates a company."""

from datetime import date

import pandas as pd
import pytest

from course.audit_room import FORMAT, AuditRoomFile, to_json
from course.progress import ProgressStore
from course.workshop import WorkshopStore
from tests.course.test_staff_pages import page, texts
from tests.course.test_workshop_pages import _join, _presenter, button, trainer

BOARD_BUTTON = "Ask the board question: which dashboard number to believe?"


@pytest.fixture
def rooms(app_home, monkeypatch):
    import course.workshop

    def no_company(*args, **kwargs):
        raise AssertionError("an audit room generated a company")

    monkeypatch.setattr(course.workshop, "room_company", no_company)
    app_home.mkdir(parents=True, exist_ok=True)
    progress = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}")
    yield WorkshopStore(progress.engine)
    progress.engine.dispose()


def audit_file(weeks: int = 8) -> AuditRoomFile:
    days = pd.date_range("2026-01-05", periods=weeks, freq="7D")
    weekly = [{"team": team, "week": day.date().isoformat(), "active_users": 6 if team == "Core" else None,
               "interactions": 10.0 + 5 * (n >= weeks / 2), "delivered": 4.0, "incidents": None}
              for n, day in enumerate(days) for team in ("Core", "Web")]
    return AuditRoomFile.model_validate({
        "format": FORMAT, "version": 1, "teams": [{"team": "Core", "people": 9}, {"team": "Web", "people": 7}],
        "weekly": weekly, "findings": ["The files cover 8 weeks [click](http://evil.example) **bold**."],
        "cautions": ["None of these numbers shows what AI caused."]})


def test_the_trainer_creates_a_room_on_an_uploaded_audit_file(rooms):
    at = trainer().run()
    uploader = next(u for u in at.file_uploader if "audit file" in u.label)
    uploader.set_value(("audit-room.json", to_json(audit_file()).encode(), "application/json"))
    at.text_input[0].input("Our own data")
    at.date_input[0].set_value(date(2026, 2, 2))
    button(at, "Create workshop and get a join code").click().run()
    assert not at.exception
    room = rooms.get_workshop(at.session_state["workshop_host_code"])
    assert room.is_audit and rooms.room_audit(room.code).teams[0].team == "Core"
    assert rooms.room_audit(room.code).compare_from == date(2026, 2, 2)
    assert "your organisation's own audit" in texts(at)


def test_a_hostile_upload_is_one_error_and_no_room(rooms):
    at = trainer().run()
    uploader = next(u for u in at.file_uploader if "audit file" in u.label)
    uploader.set_value(("audit-room.json", b'{"format": "' + FORMAT.encode() + b'", "version": 1, '
                        b'"weekly": [{"user": "ada"}]}', "application/json"))
    button(at, "Create workshop and get a join code").click().run()
    assert not at.exception
    assert [e.value for e in at.error] and "no person-level column" in at.error[0].value
    assert "workshop_host_code" not in at.session_state and not rooms.workshop_history("Grace")


def test_host_presenter_and_phone_work_on_an_audit_room_without_a_company(rooms):
    room = rooms.create_workshop("startup", "Own data", owner="Grace", audit=audit_file())
    at = trainer(workshop_host_code=room.code).run()
    assert not at.exception
    next(t for t in at.toggle if t.label == "Show the room's organisation").set_value(True).run()
    assert not at.exception and at.get("vega_lite_chart")
    shown = texts(at)
    assert "[click]" in shown.replace("&#91;", "[").replace("&#93;", "]")   # the text as typed,
    assert "<a " not in shown                                                # never a link
    button(at, BOARD_BUTTON).click().run()
    assert not at.exception
    board = rooms.current_round(room.code)
    assert board.question.kind == "board" and board.question.answer.startswith("Delivered work")

    presenter = _presenter(room.code)
    assert not presenter.exception
    assert "Your organisation's own data" in texts(presenter)
    assert presenter.get("vega_lite_chart")
    assert "no hidden truth" not in texts(presenter)
    phone = _join(room.code, "Ada")
    assert not phone.exception and "The dashboard is on the projector." in texts(phone)
    phone.radio[0].set_value(board.question.options[0])
    button(phone, "Send my answer").click().run()
    assert not phone.exception

    rooms.close_question(room.code)
    rooms.reveal(room.code, board.id)
    presenter.run()
    phone.run()
    assert not presenter.exception and not phone.exception
    assert "This is your organisation's own data: there is no hidden truth to reveal." in texts(presenter)
    assert "hidden labels" not in texts(presenter)


def test_the_kit_opens_an_audit_rooms_board_question(rooms):
    from course import workshop_kit as kit_lib
    from course.workshop_board import BOARD_KEY, room_board_question
    from course.workshop_steps import step_question

    room = rooms.create_workshop("startup", owner="Grace", audit=audit_file())
    key, question = step_question(kit_lib.BOARD, room, kit_lib.load_kit(), {}, [],
                                  lambda: room_board_question(room, rooms, None))
    assert key == BOARD_KEY and "no hidden truth" in question.explanation


def test_an_audit_room_with_no_whole_week_still_opens(rooms):
    empty = AuditRoomFile.model_validate({"format": FORMAT, "version": 1})
    room = rooms.create_workshop("startup", owner="Grace", audit=empty)
    at = trainer(workshop_host_code=room.code).run()
    next(t for t in at.toggle if t.label == "Show the room's organisation").set_value(True).run()
    button(at, BOARD_BUTTON).click().run()
    assert not at.exception
    presenter = _presenter(room.code)
    assert not presenter.exception and "holds no whole week" in texts(presenter)


def test_the_audit_page_offers_the_room_file(app_home):
    page_test = _audit_page_with_a_report()
    page_test.run()
    assert not page_test.exception
    labels = [b.label for b in page_test.get("download_button")]
    assert "Download the room file for a workshop (JSON)" in labels


def _audit_page_with_a_report():
    page_test = page("audit_logs.py", staff_role="trainer", staff_user="Grace")
    from course.audit import build_audit
    from datasets.outcomes import read_outcomes

    days = pd.date_range("2026-01-05", periods=63)
    usage = pd.DataFrame({"user": [f"u{i}" for i in range(6)] * len(days),
                          "day": [d for d in days for _ in range(6)], "source": "github-copilot",
                          "interactions": 3.0, "acceptances": 1.0, "tokens_in": float("nan"),
                          "tokens_out": float("nan"), "lines_added": float("nan")})
    page_test.session_state["_audit_report"] = (build_audit(usage, read_outcomes([])),
                                                "<html><head><title>audit</title></head><body>r</body></html>", [])
    return page_test


def test_the_audit_page_prints_the_report_to_pdf_on_request(app_home):
    from course.pdf import chromium
    if chromium() is None:
        pytest.skip("no Chromium to print with (make system-deps installs it)")
    page_test = _audit_page_with_a_report()
    page_test.run()
    assert "Download the report (PDF)" not in [b.label for b in page_test.get("download_button")]
    next(b for b in page_test.button if b.label == "Make a PDF of the report").click().run(timeout=60)
    assert not page_test.exception and not page_test.error
    assert "Download the report (PDF)" in [b.label for b in page_test.get("download_button")]
    assert page_test.session_state["_audit_pdf"].startswith(b"%PDF-")


@pytest.mark.parametrize(("binary", "says"), [("/nonexistent/chromium", "needs Chromium on this server"),
                                              ("/bin/false", "Chromium could not print")])
def test_without_a_working_chromium_the_audit_page_says_so_and_keeps_the_html(app_home, monkeypatch, binary, says):
    monkeypatch.setenv("THEATER_CHROMIUM", binary)
    page_test = _audit_page_with_a_report()
    page_test.run()
    buttons = [b for b in page_test.button if b.label == "Make a PDF of the report"]
    if buttons:
        buttons[0].click().run(timeout=30)
    shown = " ".join([c.value for c in page_test.caption] + [e.value for e in page_test.error])
    assert says in shown and not page_test.exception
    assert "Download the report (self-contained HTML)" in [b.label for b in page_test.get("download_button")]
