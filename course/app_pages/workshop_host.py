"""Run a live workshop: show the join code, open and close questions, watch the room's answers."""

import pandas as pd
import streamlit as st

from course import workshop
from course.app_pages import common
from course.modules import pre_post_test
from datasets.errors import UserError

HOST_CODE_KEY = "workshop_host_code"
REFRESH_SECONDS = 3

config = common.get_config()
st.title("Run a live workshop")

common.require_staff("trainer", "trainers and instructors")


@st.cache_resource(show_spinner=False)
def _workshops(url: str) -> workshop.WorkshopStore:
    return workshop.WorkshopStore(common.get_store().engine)


rooms = _workshops(config.database_url)
code = st.session_state.get(HOST_CODE_KEY)

if not code:
    st.subheader("Start a workshop")
    with st.form("create_workshop"):
        title = st.text_input("Title", placeholder="e.g. Leadership offsite: AI metrics")
        scenario = st.selectbox("Company scenario", workshop.available_scenarios(),
                                help="The kind of company whose logs the room discusses.")
        hours = st.number_input("Closes by itself after (hours)", min_value=0.5,
                                max_value=workshop.MAX_HOURS, value=workshop.DEFAULT_HOURS,
                                step=0.5)
        create = st.form_submit_button("Create workshop and get a join code", type="primary")
    if create:
        try:
            created = rooms.create_workshop(scenario, title, hours=float(hours))
        except UserError as error:
            st.error(str(error))
        else:
            st.session_state[HOST_CODE_KEY] = created.code
            st.rerun()
    active = rooms.active_workshops()
    if active:
        st.subheader("Or continue an open workshop")
        labels = {w.code: f"{w.code} · {w.title} · {w.scenario} · until {w.expires_at:%H:%M} UTC"
                  for w in active}
        chosen = st.selectbox("Open workshops", list(labels), format_func=labels.get)
        if st.button("Continue this workshop"):
            st.session_state[HOST_CODE_KEY] = chosen
            st.rerun()
    st.stop()

try:
    room = rooms.get_workshop(code)
except UserError as error:
    st.session_state.pop(HOST_CODE_KEY, None)
    st.error(str(error))
    st.stop()

if not room.is_open(workshop.utcnow()):
    st.warning(f"Workshop {room.code} is closed. Its answers stay below for the debrief.")
else:
    st.markdown("Participants open **Join a workshop** in this app and type the code")
    st.markdown(f"<p style='font-size:3.5rem;font-weight:700;letter-spacing:0.3rem;margin:0'>"
                f"{room.code}</p>", unsafe_allow_html=True)
st.caption(f"{room.title} · scenario **{room.scenario}** · closes at {room.expires_at:%H:%M} UTC. "
           "Participants choose a nickname; nobody, you included, sees who answered what.")



@st.cache_resource(show_spinner="Generating the room's company…", max_entries=8)
def _room_company(scenario: str, seed: int):
    return workshop.room_company(scenario, seed)


@st.cache_data(show_spinner=False, max_entries=64)
def _room_chart(chart_id: str, scenario: str, seed: int) -> tuple[dict, str, pd.DataFrame]:
    """(Vega-Lite spec, one-line summary, data table) of one chart of the room's company."""
    from course.charts import CHARTS

    result = CHARTS[chart_id](_room_company(scenario, seed))
    return result.chart.to_dict(), result.summary, result.table


if st.toggle("Show the room's company", key="workshop_show_company",
             help="Charts of the workshop's synthetic company, the same for everyone: put them "
                  "on the projector."):
    with st.container(border=True):
        chart_id = st.selectbox("Chart", workshop.ROOM_CHARTS,
                                format_func=lambda c: c.replace("_", " ").capitalize())
        try:
            spec, summary, table = _room_chart(chart_id, room.scenario, room.seed)
        except UserError as error:
            st.error(str(error))
        else:
            st.vega_lite_chart(spec=spec, width="stretch", key=f"room_chart:{chart_id}")
            st.markdown(f"**What the chart shows:** {summary}")
            with st.expander("Data table for this chart"):
                st.dataframe(table, hide_index=True, width="stretch")

modules, _ = common.get_modules()
try:
    tests = pre_post_test()
except UserError as error:
    tests = []
    st.caption(f"The pre/post test could not be loaded: {error}")
choices = workshop.question_choices(modules, tests)

if room.is_open(workshop.utcnow()):
    with st.container(border=True):
        st.subheader("Ask the room")
        if choices:
            key = st.selectbox("Question", list(choices), format_func=lambda k: choices[k][0])
            ask, stop = st.columns(2)
            if ask.button("Open this question", type="primary", icon=":material/play_arrow:"):
                rooms.open_question(room.code, key, choices[key][1])
                st.rerun()
            if stop.button("Close the question", icon=":material/stop:"):
                rooms.close_question(room.code)
                st.rerun()
        else:
            st.write("No questions are available: the course content did not load.")

paused = st.toggle("Pause live updates", key="workshop_host_paused",
                   help=f"The view below refreshes every {REFRESH_SECONDS} s; pause it to read "
                        "or discuss without it moving.")


def live_view() -> None:
    """The room now: participants, answers in, and the spread once enough people answered."""
    latest = rooms.latest_round(room.code)
    participants = rooms.participant_count(room.code)
    if latest is None:
        st.metric("Participants", participants)
        st.write("No question asked yet.")
        return
    aggregate = rooms.aggregate(latest.id)
    state = "open: taking answers" if latest.is_open else "closed"
    st.markdown(f"**Question {latest.seq}** ({state}): {latest.question.prompt}")
    left, right = st.columns(2)
    left.metric("Participants", participants)
    right.metric("Answers", aggregate.answers)
    if not aggregate.shown:
        st.info(aggregate.status, icon=":material/hourglass_top:")
        return
    table = aggregate.table()
    table["answer"] = table["correct"].map({True: "right answer", False: ""})
    table["count"] = ["hidden" if pd.isna(n) else str(n) for n in table["count"].tolist()]
    table["misconception"] = table["misconception"].fillna("")
    st.dataframe(table[["option", "count", "answer", "misconception"]], hide_index=True,
                 width="stretch")
    hidden = [o for o in aggregate.options if o.count is None]
    if hidden:
        st.caption(f"'hidden': fewer than {aggregate.min_group} people, or a count that would "
                   "reveal one by subtraction.")
    top = aggregate.popular_wrong_answer
    if top is not None:
        st.warning(f"Worth discussing: {top.count} of {aggregate.answers} chose "
                   f"\u201c{top.option}\u201d ({top.misconception or 'a wrong answer'}).")
    gain = rooms.gain(room.code)
    if gain.shown:
        st.markdown(f"**Pre/post test in this room** ({gain.learners} people took both): "
                    f"{gain.pre_mean:.0%} → {gain.post_mean:.0%}.")


st.fragment(run_every=None if paused else REFRESH_SECONDS)(live_view)()

history = rooms.rounds(room.code)
if len(history) > 1:
    with st.expander("Earlier questions"):
        rows = []
        for past in history[:-1]:
            aggregate = rooms.aggregate(past.id)
            counts = {o.option: ("hidden" if o.count is None else o.count)
                      for o in aggregate.options} if aggregate.shown else {}
            rows.append({"question": f"{past.seq}. {past.question.prompt}",
                         "answers": str(aggregate.answers) if aggregate.shown
                         else f"fewer than {aggregate.min_group}",
                         "spread": "; ".join(f"{k}: {v}" for k, v in counts.items())})
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

st.divider()
left, right = st.columns(2)
if room.is_open(workshop.utcnow()) and left.button("Close the workshop", icon=":material/lock:"):
    rooms.close_workshop(room.code)
    st.rerun()
if right.button("Leave this view (the workshop stays open)"):
    st.session_state.pop(HOST_CODE_KEY, None)
    st.rerun()
