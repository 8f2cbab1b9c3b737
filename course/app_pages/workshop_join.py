"""Join a live workshop with the trainer's code and any nickname, answer, see the room's spread."""

import streamlit as st

from course import workshop
from course.app_pages import common
from datasets.errors import UserError

SEAT_KEY = "workshop_seat"          # (code, token, nickname) of this browser session's seat
SEAT_PARAM = "seat"                 # the seat token in the URL, so a reload keeps the seat
REFRESH_SECONDS = 3

config = common.get_config()
st.title("Join a workshop")


@st.cache_resource(show_spinner=False)
def _workshops(url: str) -> workshop.WorkshopStore:
    return workshop.WorkshopStore(common.get_store().engine)


rooms = _workshops(config.database_url)
seat = st.session_state.get(SEAT_KEY)
if seat is None and st.query_params.get(SEAT_PARAM):
    try:
        returning = rooms.participant_by_token(st.query_params[SEAT_PARAM])
    except UserError:
        del st.query_params[SEAT_PARAM]
    else:
        seat = (returning.code, returning.token, returning.nickname)
        st.session_state[SEAT_KEY] = seat

if seat is None:
    st.markdown("Type the code on the trainer's screen and pick a nickname. The nickname can be "
                "anything: nobody sees who answered what, only how the room answered.")
    with st.form("join_workshop"):
        code = st.text_input("Workshop code", max_chars=12, placeholder="e.g. K7Q2MX")
        nickname = st.text_input("Nickname", max_chars=workshop.NICKNAME_MAX)
        join = st.form_submit_button("Join", type="primary")
    if join:
        try:
            participant = rooms.join(code, nickname)
        except UserError as error:
            st.error(str(error), icon=":material/error:")
        else:
            st.session_state[SEAT_KEY] = (participant.code, participant.token,
                                          participant.nickname)
            st.query_params[SEAT_PARAM] = participant.token
            st.rerun()
    st.stop()

code, token, nickname = seat
try:
    room = rooms.get_workshop(code)
    rooms.participant(code, token)
except UserError as error:
    st.session_state.pop(SEAT_KEY, None)
    st.query_params.pop(SEAT_PARAM, None)
    st.error(str(error))
    st.stop()

st.caption(f"Workshop **{room.code}** · {room.title} · scenario **{room.scenario}** · you are "
           f"**{nickname}**")
if st.button("Leave the workshop"):
    st.session_state.pop(SEAT_KEY, None)
    st.query_params.pop(SEAT_PARAM, None)
    st.rerun()
paused = st.toggle("Pause live updates", key="workshop_join_paused",
                   help=f"This page checks for the trainer's next question every "
                        f"{REFRESH_SECONDS} s; pause it if the movement distracts you.")
if paused:
    st.button("Check for a new question now", icon=":material/refresh:")


def show_spread(round_: workshop.Round) -> None:
    """The room's answers once enough people answered; the right one only after closing."""
    aggregate = rooms.aggregate(round_.id)
    if not aggregate.shown:
        st.info(aggregate.status, icon=":material/hourglass_top:")
        return
    st.markdown(f"**How the room answered** ({aggregate.answers} answers)")
    for option in aggregate.options:
        count = "hidden (a small group)" if option.count is None else option.count
        mark = " ✓ right answer" if option.correct and not round_.is_open else ""
        st.markdown(f"- {option.option}: **{count}**{mark}")


def question_view() -> None:
    """The open question to answer, or the last one's result while the trainer prepares."""
    if not room.is_open(workshop.utcnow()):
        st.warning("This workshop has closed. Thank you for taking part!")
        return
    current = rooms.current_round(room.code)
    if current is None:
        latest = rooms.latest_round(room.code)
        if latest is None:
            st.info("Waiting for the trainer's first question…", icon=":material/hourglass_top:")
            return
        st.markdown(f"**Question {latest.seq}** (closed): {latest.question.prompt}")
        mine = rooms.my_answer(token, latest.id)
        if mine is not None:
            verdict = "right" if mine == latest.question.answer else "not the right answer"
            st.markdown(f"You answered \u201c{mine}\u201d: {verdict}.")
        show_spread(latest)
        return
    st.markdown(f"**Question {current.seq}:** {current.question.prompt}")
    mine = rooms.my_answer(token, current.id)
    options = list(current.question.options)
    with st.form(f"answer_{current.id}"):
        choice = st.radio("Your answer", options, key=f"workshop_choice_{current.id}",
                          index=options.index(mine) if mine in options else None)
        send = st.form_submit_button("Send answer" if mine is None else "Change my answer",
                                     type="primary")
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
        st.success(f"Your answer \u201c{mine}\u201d is in. You can change it until the trainer "
                   "closes the question.", icon=":material/check:")
        show_spread(current)


st.fragment(run_every=None if paused else REFRESH_SECONDS)(question_view)()
