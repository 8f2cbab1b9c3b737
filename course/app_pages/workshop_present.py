"""The presenter view for the projector: the question, how many answered, the room's bars once
voting closed, the right answer only once revealed. No controls, nothing of the next question.

Opened by a signed-in trainer (their own rooms), or by a presenter link (`?view=HANDLE`, made on
Run a workshop): that link shows its one room, read-only, grants no staff page, and ends when the
room closes."""

import html

import streamlit as st

from course import auth, serve, workshop
from course import workshop_report as report
from course.app_pages import common
from datasets.errors import UserError

HOST_CODE_KEY = "workshop_host_code"
ROOM_PARAM = "room"
# The board's refresh: every second, so the answered count keeps up with a hall (send -> board
# p95 within 2 s for 1,000 phones, benchmarks/workshop.py); one tab, so the idle cost stays small.
REFRESH_SECONDS = 1
FONT = 30            # chart text in px: readable from the back of a room at 1920×1080
STAGE_FONT = 18      # a revealed simulator stage: two panels beside the room's spread

config = common.get_config()
linked_room = None if common.staff_role() else common.presenter_room()
if linked_room is None:
    common.require_staff("trainer", "trainers and instructors")


rooms = common.workshop_store()


def _link_ended() -> None:
    st.info("This presenter link has ended (the workshop closed). Open a new one from "
            "**Run a workshop**.")


if linked_room is not None:     # a presenter link: its own room, whatever the url says
    try:
        room = rooms.get_workshop(linked_room)
    except UserError:
        _link_ended()
        st.stop()
    if not room.is_open(workshop.utcnow()):
        common.end_presenter_links(room.code)
        _link_ended()
        st.stop()
else:
    owner = st.session_state.get(auth.SESSION_USER_KEY)
    code = st.query_params.get(ROOM_PARAM) or st.session_state.get(HOST_CODE_KEY)
    if not owner or not code:
        st.info("Open the presenter view from **Run a workshop**: it shows the room you run there.")
        st.stop()
    try:
        room = rooms.owned_workshop(code, owner)
    except UserError as error:
        st.error(str(error))
        st.stop()
    if st.query_params.get(ROOM_PARAM) != room.code:
        st.query_params[ROOM_PARAM] = room.code

# The projector shows the room, not the app: no sidebar, no header, large type.
st.markdown("""<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header,
[data-testid="stElementToolbar"] {display: none !important;}
[data-testid="stMainBlockContainer"] {padding-top: 1.5rem; max-width: 100%;}
</style>""", unsafe_allow_html=True)
STYLES = {   # inline: Streamlit's own paragraph style would win over a class
    "present-question": "font-size:3rem;font-weight:700;line-height:1.2;margin:0 0 1rem 0",
    "present-status": "font-size:2.4rem;margin:.2rem 0 1rem 0",
    "present-code": "font-size:4rem;font-weight:800;letter-spacing:.4rem;margin:0;line-height:1.1",
    "present-small": "font-size:2rem;margin:.3rem 0;line-height:1.3",
    "present-answer": "font-size:2.6rem;font-weight:700;margin:.8rem 0",
    "present-note": "font-size:1.3rem;color:#444444;margin:.2rem 0",
}

# The light phone page where this server answers it (`theater app`), else the Streamlit one.
link = workshop.join_url(st.context.url or "", room.code, common.workshop_settings().public_url,
                         workshop.PHONE_PAGE if serve.phone_page_served() else workshop.FULL_PAGE)


def join_panel(now_room: workshop.Workshop) -> None:
    """The code, the QR code and the link while the room takes people in; once it closed, only
    that it closed (a QR code left on the wall would send late-comers to a dead room)."""
    if now_room.is_open(workshop.utcnow()):
        st.markdown(f"<p style='{STYLES['present-small']}'>Join with the code</p>"
                    f"<p style='{STYLES['present-code']}'>{now_room.code}</p>",
                    unsafe_allow_html=True)
        st.image(_qr(link), width="stretch")
        st.markdown(f"<p style='{STYLES['present-small']};font-size:1.3rem'>Scan to join, or "
                    f"open<br>{html.escape(link)}</p>", unsafe_allow_html=True)


@st.cache_data(show_spinner=False, max_entries=8)
def _qr(url: str) -> str:
    return workshop.join_qr_svg(url)


@st.cache_data(show_spinner="Drawing the room company's dashboard…", max_entries=8)
def _dashboard(scenario: str, seed: int) -> tuple[dict, str]:
    """The adoption dashboard the board question asks about: the room's own company."""
    from course.charts import CHARTS

    result = CHARTS["adoption_vs_output"](workshop.room_company(scenario, seed))
    return result.chart.to_dict(), result.summary


@st.cache_data(show_spinner=False, max_entries=8)
def _audit_dashboard(code: str, created_at) -> tuple[dict | None, str]:
    """An audit room's dashboard: the audit's own weekly chart (no generated company); cached
    per room (`created_at` tells a room from a later one with the same code)."""
    from course.audit import WINDOW_WEEKS, weekly_chart

    try:
        audit = rooms.room_audit(code)
    except UserError as error:
        return None, str(error)
    if audit is None:
        return None, "This room has lost its audit file."
    frame = audit.weekly_frame()
    summary = (f"Your organisation's own data: AI interactions and delivered work per week, each "
               f"as an index of its first {WINDOW_WEEKS} weeks (= 100), over "
               f"{len(audit.teams)} team(s) of at least {audit.min_group} people.")
    if not len(frame):
        return None, "The audit file holds no whole week of data to draw."
    return weekly_chart(frame).to_dict(), summary


@st.cache_data(show_spinner=False, max_entries=16)
def _simulator_stage(key: str, seed: int) -> dict | None:
    """The revealed stage of Goodhart live, run on the room's population (module 1's chart)."""
    from course import workshop_simulator as live

    try:
        return live.stage_chart(key, seed, font_size=STAGE_FONT).chart.to_dict()
    except UserError:
        return None


def _big(text: str, css: str) -> None:
    st.markdown(f"<p style='{STYLES[css]}'>{html.escape(text, quote=False)}</p>",
                unsafe_allow_html=True)


def screen() -> None:
    """What the room may see now; refreshed every REFRESH_SECONDS without reloading the page, the
    room's state included, so a close or a pause shows on the projector within one refresh."""
    try:
        now_room, latest = rooms.room_now(room.code)
    except UserError:
        now_room, latest = None, None
    if now_room is None or not now_room.is_open(workshop.utcnow()):
        if linked_room is not None:
            common.end_presenter_links(room.code)
        _big("This workshop has closed. Thank you for taking part!", "present-question")
        if linked_room is not None or now_room is None:
            _link_ended()
            return
    elif linked_room is not None and not common.presenter_link_active():
        common.end_presenter_links(room.code)
        _link_ended()
        return
    main, side = st.columns([4, 1], gap="large")
    with side:
        join_panel(now_room)
    with main:
        if now_room.paused:
            _big("⏸ Paused: eyes on the front", "present-question")
            _big("Voting resumes when the trainer says so.", "present-status")
            return
        kit_banner(now_room)
        board(latest)


def kit_banner(now_room: workshop.Workshop) -> None:
    """Which block of the run-of-show is on and its time budget, when the trainer follows one."""
    from course import workshop_kit as kit_lib

    if not now_room.kit_version:
        return
    try:
        step = kit_lib.current_kit_step(kit_lib.kit_steps(kit_lib.load_kit(), now_room.kit_version),
                                        now_room.kit_step)
    except UserError:
        return
    if step is None:
        return
    running = ""
    if now_room.kit_block_at is not None:
        minutes = int((workshop.utcnow() - now_room.kit_block_at).total_seconds() // 60)
        running = f" · on for {minutes} min"
    _big(step.budget + running, "present-note")


def checker_board(latest: workshop.Round, participants: int) -> None:
    """The room's checker game: plans coming in, the share that turns the dashboard green once
    the round closed, and on reveal every plan's hidden score beside the best plan's."""
    from course import workshop_checker as checker

    plans = checker.room_plans(rooms.current_answers(latest.id), room.seed,
                               latest.question.dashboard_target)
    target = f"{latest.question.dashboard_target:g}"
    if latest.is_open:
        seconds = latest.seconds_left(workshop.utcnow())
        timer = f" · {int(seconds)} s left" if seconds is not None else ""
        _big(f"{len(plans.plans)} of {participants} sent a plan{timer}", "present-status")
        _big(f"The dashboard turns green at {target} AI sessions per person per week.",
             "present-small")
        return
    _big(f"{len(plans.plans)} of {participants} sent a plan · the game is closed",
         "present-status")
    if not plans.shown:
        _big(plans.status, "present-small")
        return
    _big(plans.visible_summary(), "present-small")
    if latest.revealed:        # the chart beside its words: all of it above a 1080p fold
        chart, words = st.columns([3, 2], gap="large")
        with chart:
            st.vega_lite_chart(checker.plans_chart(plans, font_size=24, height=460)
                               .to_dict(), width="stretch")
        with words:
            _big(plans.hidden_summary(), "present-note")
            _big(latest.question.explanation, "present-note")


def text_board(latest: workshop.Round, participants: int) -> None:
    """An open question: how many answered, then the answers the trainer approved, anonymous."""
    answered = rooms.answer_count(latest.id)
    state = "" if latest.is_open else " · closed"
    _big(f"{answered} of {participants} answered{state}", "present-status")
    approved = report.gallery(rooms, latest)
    if approved is None:
        if not latest.is_open:
            _big(f"Answers show once {workshop.MIN_GROUP_SIZE} people have answered.",
                 "present-small")
        return
    columns = st.columns(2, gap="medium")
    for number, text in enumerate(approved):
        with columns[number % 2].container(border=True):
            st.markdown(f"<p style='{STYLES['present-small']}'>{workshop.as_plain_html(text)}</p>",
                        unsafe_allow_html=True)


def simulator_reveal(latest: workshop.Round, aggregate: workshop.RoomAggregate) -> None:
    """A revealed Goodhart live stage on one 1080p screen: the range and the value first, then
    the room's spread beside the stage's run on the room's own population."""
    _big(f"✓ {latest.question.answer}", "present-answer")
    _big(latest.question.explanation, "present-note")
    spread, run = st.columns([2, 3], gap="large")
    with spread:
        if aggregate.shown:
            st.vega_lite_chart(report.spread_chart(aggregate, True, font_size=20).to_dict(),
                               width="stretch")
        else:
            _big(aggregate.status, "present-small")
    with run:
        spec = _simulator_stage(latest.question.key, room.seed)
        if spec is not None:
            st.vega_lite_chart(spec, key="simulator_stage")


def board(latest: workshop.Round | None) -> None:
    """The question, how many answered, the bars once voting closed, the answer once revealed."""
    participants = rooms.participant_count(room.code)
    if latest is None:
        _big(room.title, "present-question")
        _big(f"{participants} joined · the first question comes soon", "present-status")
        return
    vote = f" · vote {latest.vote}" if latest.vote > 1 else ""
    _big(f"{latest.seq}{vote}. {latest.question.prompt}", "present-question")
    if latest.question.kind == "checker":
        checker_board(latest, participants)
        return
    if latest.question.kind == "text":
        text_board(latest, participants)
        return
    if latest.question.kind == "board" and (latest.is_open or not latest.revealed):
        spec, summary = (_audit_dashboard(room.code, room.created_at) if room.is_audit
                         else _dashboard(room.scenario, room.seed))
        if spec is not None:
            st.vega_lite_chart(spec, width="stretch", key="board_dashboard")
        _big(summary, "present-note")
    if latest.is_open:
        answered = rooms.answer_count(latest.id)
        seconds = latest.seconds_left(workshop.utcnow())
        timer = f" · {int(seconds)} s left" if seconds is not None else ""
        _big(f"{answered} of {participants} answered{timer}", "present-status")
        for letter, option in latest.question.lettered():
            _big(f"{letter}. {option}", "present-small")
        return
    aggregate = rooms.aggregate(latest.id, round_=latest)
    _big(f"{aggregate.answers} of {participants} answered · voting closed", "present-status")
    if latest.revealed and latest.question.kind == "simulator":
        simulator_reveal(latest, aggregate)
        return
    if not aggregate.shown:
        _big(aggregate.status, "present-small")
    else:
        first = rooms.get_round(latest.first_vote_id) if latest.first_vote_id else None
        if first is not None:
            first_aggregate = rooms.aggregate(first.id, round_=first)
            chart = report.shift_chart(first_aggregate, aggregate, latest.revealed,
                                       font_size=FONT)
            summary = report.shift_summary(first_aggregate, aggregate, latest.revealed)
        else:
            chart = report.spread_chart(aggregate, latest.revealed, font_size=FONT)
            summary = report.spread_summary(aggregate, latest.revealed)
        st.vega_lite_chart(chart.to_dict(), width="stretch")
        _big(summary, "present-note")
    if latest.revealed and latest.question.has_answer:
        _big(f"✓ {latest.question.answer}", "present-answer")
        if latest.question.explanation:
            _big(latest.question.explanation, "present-small")
        top = aggregate.popular_wrong_answer
        if top is not None and top.misconception:
            _big(f"Worth discussing: “{top.option}” — {top.misconception}", "present-small")


st.fragment(run_every=REFRESH_SECONDS)(screen)()
