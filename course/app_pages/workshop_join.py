"""Join a live workshop with the trainer's code and any nickname, answer, see the room's spread
once voting closed and the answer with its explanation once the trainer reveals it.

The full Streamlit page: the QR code opens the light phone page (/room, course.phone_routes),
which shows the same room without a Streamlit rerun per check; this one stays for anyone who
follows its "full page" link or opens Join a workshop in the menu."""

import streamlit as st

from course import workshop
from course import workshop_report as report
from course.app_pages import common
from datasets.errors import UserError

SEAT_KEY = "workshop_seat"          # (code, token, nickname, rejoin code) of this session's seat
REJOIN_PARAM = workshop.REJOIN_PARAM   # the seat's rejoin code in the address: a reload, a
CODE_PARAM = "code"                    # bookmark or another device gets the same seat back
# Every open phone reruns its fragment this often (config.yaml `workshop_refresh_seconds`, 2.5 s by
# default, slower in a big room: workshop.phone_refresh_seconds): 50 phones then cost the server 15%
# of one core idle, and a new question reaches 95% of them within 2.5 s (benchmarks/workshop.py).
JUST_JOINED_KEY = "workshop_just_joined"   # a new seat shows its rejoin link unfolded, once

st.title("Join a workshop")


rooms = common.workshop_store()


def take_seat(participant: workshop.Participant) -> None:
    """Hold the seat in this session, and put its rejoin link in the address bar."""
    st.session_state[SEAT_KEY] = (participant.code, participant.token, participant.nickname,
                                  participant.rejoin)
    st.query_params[CODE_PARAM] = participant.code
    st.query_params[REJOIN_PARAM] = participant.rejoin


seat = st.session_state.get(SEAT_KEY)
linked = st.query_params.get(REJOIN_PARAM)
if linked and (seat is None or seat[3] != linked):      # a rejoin link opened here wins
    try:
        take_seat(rooms.rejoin(st.query_params.get(CODE_PARAM, ""),
                               st.query_params[REJOIN_PARAM]))
    except UserError as error:
        del st.query_params[REJOIN_PARAM]
        st.error(str(error), icon=":material/error:")
    else:
        seat = st.session_state[SEAT_KEY]

if seat is None:
    st.markdown("Type the code on the trainer's screen and pick a nickname. The nickname can be "
                "anything: nobody sees who answered what, only how the room answered.")
    with st.form("join_workshop"):
        code = st.text_input("Workshop code", max_chars=12, placeholder="e.g. K7Q2MX",
                             value=workshop.normalize_code(st.query_params.get(CODE_PARAM))[:12])
        nickname = st.text_input("Nickname", max_chars=workshop.NICKNAME_MAX)
        rejoin = st.text_input("Rejoin code or link (only to get your seat back)",
                               max_chars=workshop.REJOIN_MAX)
        # A caption, not a help tooltip: its button would share the Join button's name.
        st.caption("The rejoin code is on the device you joined with, under *Keep this to "
                   "rejoin*: with it you get your own seat and answers back and are counted "
                   "once. Leave the nickname empty then.")
        join = st.form_submit_button("Join", type="primary")
    if join:
        try:
            participant = (rooms.rejoin(code, rejoin) if rejoin.strip()
                           else rooms.join(code, nickname))
        except UserError as error:
            st.error(str(error), icon=":material/error:")
        else:
            take_seat(participant)
            st.session_state[JUST_JOINED_KEY] = not rejoin.strip()
            st.rerun()
    st.stop()

code, token, nickname, rejoin_code = seat
if st.query_params.get(REJOIN_PARAM) != rejoin_code:    # the address is the rejoin link again
    st.query_params[CODE_PARAM] = code
    st.query_params[REJOIN_PARAM] = rejoin_code
try:
    room, _ = rooms.room_now(code)       # a deleted room says so (not "no such code")
    rooms.participant(code, token)     # a seat of a deleted room is gone with it
except UserError as error:
    st.session_state.pop(SEAT_KEY, None)
    st.query_params.pop(REJOIN_PARAM, None)
    st.error(str(error))
    st.stop()

st.caption(f"Workshop **{room.code}** · {room.title} · you are **{nickname}**")
with st.expander("Keep this to rejoin", icon=":material/key:",
                 expanded=st.session_state.pop(JUST_JOINED_KEY, False)):
    st.markdown("Your personal link brings this seat back, with your answers, after a browser "
                "restart or on another device, so you are counted once. Bookmark it or copy it "
                "somewhere; anyone with it can answer as you. It stops working when the room is "
                "deleted.")
    st.code(workshop.rejoin_url(st.context.url or "", room.code, rejoin_code, common.workshop_settings().public_url,
                                page=workshop.FULL_PAGE), language=None, wrap_lines=True)
    st.markdown("Or, on the other device, type the workshop code and this rejoin code:")
    st.code(rejoin_code, language=None)
if st.button("Leave the workshop", help="Frees this device. To come back, on this device or "
                                          "another, open your rejoin link: your answers stay "
                                          "yours and count once."):
    st.session_state.pop(SEAT_KEY, None)
    st.query_params.pop(REJOIN_PARAM, None)
    st.rerun()
# Set on every full run of the page (joining, a reload): a phone that joins a hall checks less often.
REFRESH_SECONDS = workshop.phone_refresh_seconds(common.workshop_settings().refresh_seconds,
                                                 rooms.participant_count(room.code))
paused = st.toggle("Pause live updates", key="workshop_join_paused",
                   help=f"This page checks for the trainer's next question every "
                        f"{REFRESH_SECONDS:g} s; pause it if the movement distracts you.")
if paused:
    st.button("Check for a new question now", icon=":material/refresh:")


def show_result(round_: workshop.Round) -> None:
    """After voting closed: how the room answered; after the reveal, the answer and why."""
    if round_.question.free:
        free_result(round_)
        return
    mine = rooms.my_answer(token, round_.id)
    question = round_.question
    if round_.revealed and question.has_answer:
        st.success(f"Right answer: \u201c{question.answer}\u201d", icon=":material/check_circle:")
        if question.explanation:
            st.markdown(question.explanation)
        if mine is not None and mine != question.answer:
            words = question.misconception_words(mine)
            note = question.feedback_for(mine)
            st.markdown(f"You answered \u201c{mine}\u201d"
                        + (f" — a common misconception: *{words}*." if words else ".")
                        + (f" {note}" if note else ""))
        elif mine is not None:
            st.markdown(f"You answered \u201c{mine}\u201d: right.")
    elif mine is not None:
        st.markdown(f"You answered \u201c{mine}\u201d." + (
            " The trainer reveals the answer after the discussion." if question.has_answer
            else ""))
    aggregate = rooms.aggregate(round_.id, round_=round_)
    if not aggregate.shown:
        st.info(aggregate.status, icon=":material/hourglass_top:")
        return
    st.markdown(f"**How the room answered** ({aggregate.answers} answers)")
    st.vega_lite_chart(report.spread_chart(aggregate, round_.revealed, font_size=14).to_dict(),
                       width="stretch")
    st.caption(report.spread_summary(aggregate, round_.revealed))


def free_answer(current: workshop.Round, mine: str | None) -> None:
    """A checker-game plan (the game's two sliders) or an open-text answer, sent and changeable
    until the round closes."""
    from course import checker_game as cg

    question = current.question
    with st.form(f"answer_{current.id}"):
        if question.kind == "checker":
            real, padded = workshop.parse_plan(mine) if mine else (cg.BASELINE_REAL, 0)
            real = st.slider("AI sessions per person per week on real work", 0, cg.REAL_MAX,
                             real, key=f"workshop_real_{current.id}")
            padded = st.slider("Extra sessions per person per week just for the count", 0,
                               cg.PADDED_MAX, padded, key=f"workshop_padded_{current.id}")
            answer = workshop.plan_answer(real, padded)
        else:
            answer = st.text_area("Your answer (anonymous; the trainer approves what the room "
                                  "sees)", value=mine or "", max_chars=workshop.TEXT_MAX,
                                  key=f"workshop_text_{current.id}")
        send = st.form_submit_button("Send my answer", type="primary",
                                     key=f"workshop_send_{current.id}")
    if send:
        try:
            green = rooms.submit_answer(room.code, token, current.id, answer)
        except UserError as error:
            st.error(str(error))
        else:
            mine = workshop.plan_answer(*workshop.parse_plan(answer)) \
                if question.kind == "checker" else " ".join(answer.split())
            if question.kind == "checker":
                score = cg.dashboard_score(*workshop.parse_plan(mine), question.dashboard_target)
                st.metric("Dashboard score", f"{score:.0%}")
                if not green:
                    st.warning(f"Not green yet: the target is {question.dashboard_target:g} "
                               "sessions per person per week. Change your plan and send again.")
    if mine is not None and question.kind == "checker":
        st.success(f"Your plan ({mine}) is in. You can change it until the round closes.",
                   icon=":material/check:")
    elif mine is not None:        # a text is shown as typed, never read as Markdown
        st.success("Your answer is in. You can change it until the round closes.",
                   icon=":material/check:")
        st.text(mine)
        room_gallery(current)     # only once this seat has answered: nobody copies the first ones


def room_gallery(round_: workshop.Round) -> None:
    """The answers the trainer approved for the room, the same as on the projector, anonymous
    and as plain text, so a participant at the back or on a call reads them on the phone."""
    approved = report.gallery(rooms, round_)
    if approved is None:
        st.caption(f"The room's approved answers appear here once {workshop.MIN_GROUP_SIZE} people "
                   "have answered.")
        return
    if not approved:
        st.caption("The trainer has not approved any answers for the room yet.")
        return
    st.markdown(f"**The room's answers** ({len(approved)} approved by the trainer, without names)")
    for text in approved:
        with st.container(border=True):
            st.text(text)


def free_result(round_: workshop.Round) -> None:
    """After a checker game or an open question closed: the room's verdict, your own plan's."""
    from course import workshop_checker as checker

    mine = rooms.my_answer(token, round_.id)
    if round_.question.kind == "text":
        if mine is not None:
            st.markdown("You answered:")
            st.text(mine)
        room_gallery(round_)
        return
    plans = checker.room_plans(rooms.current_answers(round_.id), room.seed,
                               round_.question.dashboard_target)
    if mine is not None:
        st.markdown(f"Your plan: {mine}.")
    if not plans.shown:
        st.info(plans.status, icon=":material/hourglass_top:")
        return
    st.markdown(f"**The room:** {plans.visible_summary()}")
    if not round_.revealed:
        st.caption("The trainer reveals the hidden check after the discussion.")
        return
    if mine is not None:
        score = checker.score_plan(*workshop.parse_plan(mine), checker.room_team(room.seed),
                                   round_.question.dashboard_target)
        st.markdown(f"On the hidden team your plan scores {score.dashboard:.0%} on the dashboard "
                    f"and changes output by {score.output_change_pct:+.1f}%.")
    st.markdown(plans.hidden_summary())
    st.info(round_.question.explanation, icon=":material/lightbulb:")


def my_commitment() -> None:
    """After the room closed: the commitment this seat wrote, to take away (the rejoin link
    shows it until the room is deleted)."""
    from course.workshop_kit import COMMITMENT_KEY

    mine = [rooms.my_answer(token, r.id) for r in rooms.rounds(room.code)
            if r.question.key == COMMITMENT_KEY]
    mine = [text for text in mine if text]
    if mine:
        st.markdown("**Your commitment**")
        st.text(mine[-1])


def question_view() -> None:
    """The open question to answer, or the last one's result while the trainer prepares."""
    try:
        now_room, latest = rooms.room_now(room.code)   # the room itself too: a close or a
    except UserError as error:                         # pause must reach this phone
        st.warning(str(error))
        return
    if not now_room.is_open(workshop.utcnow()):
        st.warning("This workshop has closed. Thank you for taking part!",
                   icon=":material/lock:")
        my_commitment()
        if latest is not None and not latest.is_open:
            st.markdown(f"**Last question** ({latest.seq}): {latest.question.prompt}")
            show_result(latest)
        return
    if now_room.paused:
        st.info("The trainer has paused the room: eyes on the front. Voting resumes when the "
                "trainer says so.", icon=":material/pause_circle:")
        return
    current = latest if latest is not None and latest.is_open else None
    if current is None:
        if latest is None:
            st.info("Waiting for the trainer's first question…", icon=":material/hourglass_top:")
            return
        vote = f", vote {latest.vote}" if latest.vote > 1 else ""
        st.markdown(f"**Question {latest.seq}{vote}** (voting closed): {latest.question.prompt}")
        show_result(latest)
        return
    vote = f" (vote {current.vote}: answer again after the discussion)" if current.vote > 1 else ""
    st.markdown(f"**Question {current.seq}{vote}:** {current.question.prompt}")
    if current.question.kind == "board":
        st.caption("The dashboard is on the projector.")
    seconds = current.seconds_left(workshop.utcnow())
    if seconds is not None:
        st.caption(f"Closes in about {int(seconds)} s.")
    mine = rooms.my_answer(token, current.id)
    if current.question.free:
        free_answer(current, mine)
        return
    options = list(current.question.options)
    with st.form(f"answer_{current.id}"):
        # Letters as on the projector (the room's own order of the options); the answer sent is
        # the option's text, so counts and exports never depend on the order.
        lettered = current.question.kind != "scale"
        choice = st.radio("Your answer", options, key=f"workshop_choice_{current.id}",
                          index=options.index(mine) if mine in options else None,
                          format_func=(lambda o: f"{current.question.letter_of(o)}. {o}")
                          if lettered else str,
                          horizontal=current.question.kind == "scale")
        # A fixed key and label keep the button's identity across reruns: a change sent before
        # the page updated after the first answer still reaches this button (a label that
        # changed after the first answer made such a change vanish).
        send = st.form_submit_button("Send my answer", type="primary",
                                     key=f"workshop_send_{current.id}")
    if send:
        if choice is None:
            st.error("Choose one of the options first.")
        else:
            try:
                rooms.submit_answer(room.code, token, current.id, choice)
            except UserError as error:
                st.error(str(error))
            else:
                mine = choice
    if mine is not None:
        st.success(f"Your answer \u201c{mine}\u201d is in. You can change it until voting "
                   "closes; the room's answers appear then.", icon=":material/check:")


st.fragment(run_every=None if paused else REFRESH_SECONDS)(question_view)()
