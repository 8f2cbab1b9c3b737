"""The trainer's control view: open and close questions, run peer instruction, watch the room.

The projector gets the presenter view (workshop_present.py); this page is for the trainer's own
screen, so it shows the room's spread live and the right answer before the reveal.
"""

import pandas as pd
import streamlit as st

from course import auth, leader_brief, workshop
from course import workshop_kit as kit_lib
from course import workshop_report as report
from course.app_pages import common
from course.modules import pre_post_test
from datasets.errors import UserError

HOST_CODE_KEY = "workshop_host_code"
REFRESH_SECONDS = 3
TIMER_CHOICES = {"no timer": None, "30 s": 30, "60 s": 60, "90 s": 90, "2 min": 120,
                 "3 min": 180, "5 min": 300}

config = common.get_config()
st.title("Run a live workshop")

common.require_staff("trainer", "trainers and instructors")


rooms = common.workshop_store()

owner = st.session_state.get(auth.SESSION_USER_KEY)
if not owner:
    st.warning("Rooms belong to the staff account that opens them, and this session holds no "
               "account name. Sign out and sign in again with your staff account.")
    st.stop()

code = st.session_state.get(HOST_CODE_KEY)


def _room_label(room: workshop.Workshop) -> str:
    state = (f"open until {room.expires_at:%H:%M} UTC" if room.is_open(workshop.utcnow())
             else f"closed {room.ended_at():%Y-%m-%d %H:%M} UTC")
    return f"{room.code} · {room.title} · {room.scenario} · {state}"


if not code:
    deleted = st.session_state.pop("workshop_deleted", None)
    if deleted:
        st.success(f"Workshop {deleted} is deleted: its answers and nicknames are gone.")
    st.caption(f"Staff account **{owner}**")
    st.subheader("Start a workshop")
    with st.form("create_workshop"):
        title = st.text_input("Title", placeholder="e.g. Leadership offsite: AI metrics")
        scenario = st.selectbox("Company scenario", workshop.available_scenarios(),
                                format_func=workshop.scenario_label,
                                help="The kind of company whose logs the room discusses. Pick the "
                                     "one closest to the room's own work, so people recognise it "
                                     "in the data.")
        audit_upload = st.file_uploader(
            "…or your own organisation's audit file", type=["json"],
            help="The room file `theater audit --room-file` or the Audit your own logs page "
                 "writes: teams and weeks only. The room then discusses your own data instead "
                 "of a generated company; the board question has no hidden truth to reveal.")
        compare_from = st.date_input(
            "With your audit file: compare the weeks before and from (optional)", value=None,
            help="A rollout's date, say. Left empty, the board question compares the audit's "
                 "first and last four weeks.")
        hours = st.number_input("Closes by itself after (hours)", min_value=0.5,
                                max_value=workshop.MAX_HOURS, value=workshop.DEFAULT_HOURS,
                                step=0.5)
        create = st.form_submit_button("Create workshop and get a join code", type="primary")
    if create:
        try:
            audit = None
            if audit_upload is not None:
                from course.audit_room import read_room_file

                audit = read_room_file(audit_upload.getvalue(), name=audit_upload.name)
                if compare_from is not None:
                    from course.audit_room import with_comparison

                    audit = with_comparison(audit, compare_from)
            created = rooms.create_workshop(scenario, title, hours=float(hours), owner=owner,
                                            audit=audit)
        except UserError as error:
            st.error(str(error))
        else:
            st.session_state[HOST_CODE_KEY] = created.code
            st.rerun()
    rooms.delete_expired_workshops()
    history = rooms.workshop_history(owner)
    if history:
        st.subheader("Your workshops")
        st.caption(f"Open ones to continue, closed ones for the debrief and the export. A room "
                   f"is deleted, answers and nicknames with it, {workshop.RETENTION_DAYS} days "
                   "after it closed.")
        labels = {w.code: _room_label(w) for w in history}
        picked = st.selectbox("Workshop", list(labels), format_func=labels.get)
        if st.button("Go to this workshop"):
            st.session_state[HOST_CODE_KEY] = picked
            st.rerun()
    st.stop()

try:
    room = rooms.owned_workshop(code, owner)
except UserError as error:
    st.session_state.pop(HOST_CODE_KEY, None)
    st.error(str(error))
    st.stop()

is_open = room.is_open(workshop.utcnow())
if not is_open:
    st.warning(f"Workshop {room.code} is closed. Its answers stay below for the debrief until "
               f"{room.deleted_after():%Y-%m-%d}, when the room, its answers and its nicknames "
               "are deleted.")
elif room.paused:
    waiting = (f" The open question's timer waits with {room.paused_timer_seconds:.0f} s left."
               if room.paused_timer_seconds is not None else "")
    st.info("The room is **paused**: phones and the projector say so and no answers are "
            f"taken.{waiting}", icon=":material/pause_circle:")
    if st.button("Resume the room", type="primary", icon=":material/play_arrow:"):
        rooms.resume_workshop(room.code, owner=owner)
        st.rerun()
else:
    st.markdown("Participants open **Join a workshop** in this app and type the code")
    st.markdown(f"<p style='font-size:3.5rem;font-weight:700;letter-spacing:0.3rem;margin:0'>"
                f"{room.code}</p>", unsafe_allow_html=True)
company_words = ("your organisation's own audit" if room.is_audit
                 else f"scenario **{room.scenario}**")
st.caption(f"{room.title} · {company_words} · "
           f"{'closes' if is_open else 'closed'} at {room.ended_at():%H:%M} UTC · staff account "
           f"**{owner}**. Participants choose a nickname; nobody, you included, sees who "
           "answered what.")
if is_open:   # a link that shows this room and nothing else, and ends when the room closes
    presenter = common.presenter_link(room)
    st.markdown(f":material/tv: [Presenter view for the projector](./workshop-present?room="
                f"{room.code}&{common.PRESENTER_PARAM}={presenter}) (opens in a new tab: drag it to the "
                "projector and go full screen; the link shows this room only, grants nothing "
                "else and stops working when the workshop closes)")
    if not common.workshop_settings().public_url:
        st.caption("The projector's QR code and join link use the address that tab was opened "
                   "with. If phones cannot reach it (127.0.0.1, localhost), set `public_url` in "
                   "var/config.yaml or start the app with `theater app --public-url URL` "
                   "(docs/workshops.md).")


def co_hosts() -> None:
    """The owner adds or removes another staff account that can run this room with them."""
    names = rooms.cohosts(room.code)
    if not rooms.is_owner(room, owner):
        st.caption(f"You co-host this workshop for **{room.owner}**: you can run it; only they "
                   "can delete it or change its co-hosts.")
        return
    with st.expander(f"Co-hosts ({len(names)})" if names else "Co-hosts"):
        st.caption("Another staff account you add here sees this room under *Your workshops* and "
                   "can run it with you: open questions, moderate, pause, close. Only you can "
                   "delete the room or change its co-hosts.")
        for name in names:
            who, remove = st.columns([4, 1], vertical_alignment="center")
            who.markdown(f"**{name}**")
            if remove.button("Remove", key=f"cohost_remove_{name}"):
                rooms.remove_cohost(room.code, owner, name)
                st.rerun()
        with st.form("add_cohost", clear_on_submit=True):
            account = st.text_input("Staff account to add", max_chars=workshop.OWNER_MAX)
            add = st.form_submit_button("Add co-host", icon=":material/group_add:")
        if add:
            known = {name.casefold(): name for name in common.staff_accounts()}
            name = known.get(" ".join(account.split()).casefold())
            if name is None:
                st.error("No staff account has that name; ask whoever runs the app to create it "
                         "(`theater users add NAME --role trainer`).")
                return
            try:
                rooms.add_cohost(room.code, owner, name)
            except UserError as error:
                st.error(str(error))
            else:
                st.rerun()


co_hosts()


def _room_company(scenario: str, seed: int):
    with st.spinner("Generating the room's company (once per workshop)…"):
        return workshop.room_company(scenario, seed)


@st.cache_data(show_spinner=False, max_entries=64)
def _room_chart(chart_id: str, scenario: str, seed: int) -> tuple[dict, str, pd.DataFrame]:
    """(Vega-Lite spec, one-line summary, data table) of one chart of the room's company."""
    from course.charts import CHARTS

    result = CHARTS[chart_id](_room_company(scenario, seed))
    return result.chart.to_dict(), result.summary, result.table


def _room_board():
    """The room's board question: on its audit file, or on its generated company."""
    from course.workshop_board import room_board_question

    return room_board_question(room, rooms, lambda: _room_company(room.scenario, room.seed))


def audit_company() -> None:
    """An audit room's data: the audit's own weekly chart and sentences (plain text: they come
    from a file the trainer uploaded), never a generated company."""
    from course.audit import WINDOW_WEEKS, weekly_chart

    try:
        audit = rooms.room_audit(room.code)
    except UserError as error:
        st.error(str(error))
        return
    if audit is None:
        st.error("This room has lost its audit file; create the room again from the file.")
        return
    frame = audit.weekly_frame()
    with st.container(border=True):
        if len(frame):
            st.vega_lite_chart(spec=weekly_chart(frame).to_dict(), width="stretch",
                               key="room_audit_chart")
        st.caption(f"AI interactions and delivered work per week, each as an index of its first "
                   f"{WINDOW_WEEKS} weeks (= 100), over {len(audit.teams)} team(s) of at "
                   f"least {audit.min_group} people: teams and weeks only.")
        st.markdown("  \n".join(f"• {workshop.as_plain_html(line)}" for line in audit.findings),
                    unsafe_allow_html=True)
        with st.expander("Cautions and the team-week table"):
            st.markdown("  \n".join(f"• {workshop.as_plain_html(line)}" for line in audit.cautions),
                        unsafe_allow_html=True)
            st.dataframe(frame, hide_index=True, width="stretch")


if room.is_audit:
    if st.toggle("Show the room's organisation", key="workshop_show_company",
                 help="Your own audit's weekly chart and findings, the same for everyone: put "
                      "them on the projector."):
        audit_company()
elif st.toggle("Show the room's company", key="workshop_show_company",
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
for number, own in enumerate(rooms.saved_questions(room.code), start=1):
    choices[f"{own.key}#{number}"] = (f"Your question {number}: {own.prompt}", own)

def goodhart_live(room: workshop.Workshop, seconds: int | None) -> None:
    """Module 1's simulator in room mode: the room predicts a stage's number as a range, sees
    its spread, and the reveal runs the stage on the room's own population."""
    from course import workshop_simulator as live

    try:
        content = live.load_simulator_room()
    except UserError as error:
        st.caption(f"Goodhart live is not available: {error}")
        return
    asked = {r.question.key for r in rooms.rounds(room.code)}
    names = [s.stage for s in content.stages]
    pending = [n for n in names if live.KEY_PREFIX + n not in asked]
    pick, go = st.columns([2, 1], vertical_alignment="bottom")
    stage = pick.selectbox(
        "Goodhart live: the room predicts a stage of the simulator", names,
        index=names.index(pending[0]) if pending else 0, key="workshop_simulator_stage",
        format_func=lambda n: f"Stage {names.index(n) + 1}: {n}"
        + (" (asked)" if live.KEY_PREFIX + n in asked else ""),
        help="Ask before the stage is shown; close, discuss, then reveal: the projector runs "
             "the stage on this room's company and marks the range it landed in.")
    if go.button("Ask this stage", icon=":material/query_stats:"):
        question = live.stage_question(content.stage(stage), room.seed)
        rooms.open_question(room.code, question.key, question, seconds=seconds)
        st.session_state.pop("workshop_simulator_stage", None)   # offer the next stage
        st.rerun()


def open_step_question(step, seconds: int | None) -> None:
    """Open a kit step's question (a step without one only marks its block as on)."""
    from course.workshop_steps import step_question

    if step.key is not None:
        try:
            key, question = step_question(step.key, room, kit, choices, modules, _room_board)
            rooms.open_question(room.code, key, question, seconds=seconds)
        except UserError as error:
            st.error(str(error))
            return
    current = kit_lib.current_kit_step(steps, room.kit_step)
    rooms.mark_kit_step(room.code, step.index, current is None or current.block.id != step.block.id,
                        owner=owner)
    st.rerun()


def follow_the_kit(seconds: int | None) -> None:
    """The run-of-show, step by step: one button opens the next block's next question."""
    from course.workshop_steps import asked_kit_keys, step_label

    versions = {"": "none (pick questions from the list)",
                **{v.id: f"{v.minutes} minutes" for v in kit.versions}}
    key = f"workshop_kit_version_{room.code}"
    # The room's choice, not this browser's: a co-host may have changed it since.
    st.session_state[key] = room.kit_version if room.kit_version in versions else ""
    st.selectbox("Run-of-show from the workshop kit", list(versions), format_func=versions.get,
                 key=key, on_change=lambda: rooms.follow_kit(
                     room.code, st.session_state[key] or None, owner=owner))
    if not room.kit_version:
        return
    current = kit_lib.current_kit_step(steps, room.kit_step)
    if current is not None:
        st.markdown(f"**Now:** {current.budget}")
        st.caption(f"Goal: {current.block.goal}  \nSay: {current.block.script}")
    asked = asked_kit_keys(r.question.key for r in rooms.rounds(room.code))
    following = kit_lib.next_kit_step(steps, room.kit_step, asked)
    if following is None:
        st.success("That was the last step of the run-of-show.", icon=":material/flag:")
        return
    if st.button(f"Next in the kit: {step_label(following, choices, kit)}", type="primary",
                 icon=":material/skip_next:", key="workshop_kit_next"):
        open_step_question(following, seconds)


def play_the_checker_game(seconds: int | None) -> None:
    from course import workshop_checker as checker

    if st.button("Play the checker game with the room", icon=":material/sports_esports:",
                 help="Every phone sets a plan with module 1's two sliders; the projector shows "
                      "how much of the room turns the dashboard green, and on reveal each plan's "
                      "hidden score."):
        try:
            question = checker.checker_question(checker.load_game(modules))
            rooms.open_question(room.code, checker.KEY, question, seconds=seconds)
        except UserError as error:
            st.error(str(error))
        else:
            st.rerun()


try:
    kit = kit_lib.load_kit()
except UserError as error:
    kit, steps = None, []
    st.caption(f"The workshop kit could not be loaded: {error}")
else:
    try:
        steps = kit_lib.kit_steps(kit, room.kit_version) if room.kit_version else []
    except UserError:          # the kit lost the version this room followed
        steps = []

timer = "no timer"
if is_open and not room.paused:
    with st.container(border=True):
        st.subheader("Ask the room")
        timer = st.radio("Timer (closes the question by itself)", list(TIMER_CHOICES),
                         horizontal=True, key="workshop_timer")
        if kit is not None:
            follow_the_kit(TIMER_CHOICES[timer])
        if choices:
            key = st.selectbox("Question", list(choices), format_func=lambda k: choices[k][0])
            ask, stop = st.columns(2)
            if ask.button("Open this question", type="primary", icon=":material/play_arrow:"):
                rooms.open_question(room.code, key.split("#", 1)[0], choices[key][1],
                                    seconds=TIMER_CHOICES[timer])
                st.rerun()
            if stop.button("Close the question", icon=":material/stop:"):
                rooms.close_question(room.code)
                st.rerun()
        else:
            st.write("No questions are available: the course content did not load.")
        if st.button("Ask the board question: which dashboard number to believe?",
                     icon=":material/dashboard:",
                     help="The projector shows your audit's weekly dashboard; the reveal says "
                          "there is no hidden truth and what the numbers cannot show."
                     if room.is_audit else
                     "The projector shows the room company's adoption dashboard; the "
                     "reveal tells the truth from the company's hidden labels."):
            from course.workshop_board import BOARD_KEY

            try:
                with st.spinner("Reading the room's company…"):
                    board = _room_board()
            except UserError as error:
                st.error(str(error))
            else:
                rooms.open_question(room.code, BOARD_KEY, board, seconds=TIMER_CHOICES[timer])
                st.rerun()
        goodhart_live(room, TIMER_CHOICES[timer])
        play_the_checker_game(TIMER_CHOICES[timer])
        latest = rooms.latest_round(room.code)
        if latest is not None and not latest.is_open:
            actions = st.columns(2)
            if latest.vote == 1 and not latest.revealed and latest.question.has_answer and \
                    not latest.question.free and \
                    actions[0].button("Vote again on this question (peer instruction)",
                                    icon=":material/replay:"):
                rooms.revote(room.code, latest.id, seconds=TIMER_CHOICES[timer])
                st.rerun()
            if latest.question.revealable and not latest.revealed and \
                    actions[1].button("Reveal the hidden check to the room"
                                    if latest.question.kind == "checker"
                                    else "Reveal the answer to the room",
                                    icon=":material/visibility:"):
                rooms.reveal(room.code, latest.id)
                st.rerun()
        with st.expander("Write your own question"):
            with st.form("own_question", clear_on_submit=True):
                prompt = st.text_area("Question", max_chars=500)
                kind = st.radio("Kind", ["choice", "scale", "text"], horizontal=True,
                                format_func={"choice": "multiple choice",
                                             "scale": "scale from 1 to 5",
                                             "text": "open text (you approve answers)"}.get)
                options = st.text_area("Options, one per line (multiple choice)")
                right = st.text_input("Right answer, copied from the options (leave empty for "
                                      "an opinion question)")
                explanation = st.text_area("Explanation shown when you reveal the answer")
                save = st.form_submit_button("Save the question with this room")
            if save:
                try:
                    written = workshop.trainer_question(prompt, kind, options.splitlines(),
                                                        right or None, explanation)
                    rooms.save_question(room.code, written)
                except UserError as error:
                    st.error(str(error))
                else:
                    st.success("Saved: pick it under Question above.")
                    st.rerun()

paused = st.toggle("Pause live updates", key="workshop_host_paused",
                   help=f"The view below refreshes every {REFRESH_SECONDS} s; pause it to read "
                        "or discuss without it moving.")


def checker_live(latest: workshop.Round) -> None:
    """The room's plans: the dashboard's verdict and, for the trainer before the reveal, the
    hidden check of every plan (the projector shows it once revealed)."""
    from course import workshop_checker as checker

    plans = checker.room_plans(rooms.current_answers(latest.id), room.seed,
                               latest.question.dashboard_target)
    if not plans.shown:
        st.info(plans.status, icon=":material/hourglass_top:")
        return
    st.markdown(f"**Dashboard:** {plans.visible_summary()}")
    st.vega_lite_chart(checker.plans_chart(plans).to_dict(), width="stretch")
    st.caption(f"Hidden check{'' if latest.revealed else ' (only you see it until the reveal)'}: "
               f"{plans.hidden_summary()}")


def moderation_queue(latest: workshop.Round) -> None:
    """Open-text answers to approve for the projector or hide: text only, never who wrote it."""
    answers = rooms.text_answers(latest.id)
    approved = sum(a.state == "approved" for a in answers)
    waiting = sum(a.state is None for a in answers)
    st.markdown(f"**Moderation:** {waiting} waiting · {approved} approved for the projector · "
                f"{len(answers) - waiting - approved} hidden")
    st.caption(f"The projector shows approved answers, anonymous, once {workshop.MIN_GROUP_SIZE} "
               "people have answered. A changed answer comes back here to approve again.")
    labels = {None: "waiting", "approved": "on the projector", "hidden": "hidden"}
    for answer in answers:
        with st.container(border=True):
            text, state, approve, hide = st.columns([5, 2, 2, 2], vertical_alignment="center")
            text.text(answer.text)            # plain text: nothing in an answer is markup
            state.caption(labels[answer.state])
            # A callback runs before the view redraws, so the list shows the new state at once.
            if answer.state != "approved":
                approve.button("Approve", key=f"approve_{answer.id}", icon=":material/check:",
                               on_click=_moderate, args=(answer.id, "approved", answer.text))
            if answer.state != "hidden":
                hide.button("Hide", key=f"hide_{answer.id}", icon=":material/visibility_off:",
                            on_click=_moderate, args=(answer.id, "hidden", answer.text))


def _moderate(answer_id: int, state: str, seen_text: str) -> None:
    try:
        rooms.moderate(room.code, answer_id, state, owner=owner, seen_text=seen_text)
    except UserError as error:       # the answer changed or went meanwhile: say so, carry on
        st.toast(str(error))


def live_view() -> None:
    """The room now, for the trainer only: the spread live, the right answer marked."""
    latest = rooms.latest_round(room.code)
    participants = rooms.participant_count(room.code)
    if latest is None:
        st.metric("Participants", participants)
        st.write("No question asked yet.")
        return
    aggregate = rooms.aggregate(latest.id, round_=latest)
    state = "open: taking answers" if latest.is_open else "closed"
    if latest.revealed:
        state += ", answer revealed"
    vote = f", vote {latest.vote}" if latest.vote > 1 else ""
    st.markdown(f"**Question {latest.seq}{vote}** ({state}): {latest.question.prompt}")
    if latest.question.kind not in ("scale", *workshop.FREE_KINDS):
        # The room's order, lettered as on the projector and the phones; the key marked for the
        # trainer alone.
        st.markdown("  \n".join(
            f"{letter}. {option}" + (" ✓ (right answer)" if option == latest.question.answer else "")
            for letter, option in latest.question.lettered()))
    left, middle, right = st.columns(3)
    left.metric("Participants", participants)
    middle.metric("Answered", f"{aggregate.answers} of {participants}")
    seconds = latest.seconds_left(workshop.utcnow())
    if seconds is not None:
        right.metric("Closes in", f"{int(seconds)} s")
    if latest.question.kind == "checker":
        checker_live(latest)
        return
    if latest.question.kind == "text":
        moderation_queue(latest)
        return
    if not aggregate.shown:
        st.info(aggregate.status, icon=":material/hourglass_top:")
        return
    first = rooms.get_round(latest.first_vote_id) if latest.first_vote_id else None
    if first is not None:
        first_aggregate = rooms.aggregate(first.id, round_=first)
        st.vega_lite_chart(report.shift_chart(first_aggregate, aggregate, revealed=True)
                           .to_dict(), width="stretch")
        st.caption(report.shift_summary(first_aggregate, aggregate, revealed=True))
    else:
        st.vega_lite_chart(report.spread_chart(aggregate, revealed=True).to_dict(),
                           width="stretch")
        st.caption(report.spread_summary(aggregate, revealed=True))
    top = aggregate.popular_wrong_answer
    if top is not None:
        named = f" — {top.misconception}" if top.misconception else ""
        st.warning(f"Worth discussing: {aggregate.share(top):.0%} ({top.count} of "
                   f"{aggregate.answers}) chose \u201c{top.option}\u201d{named}.")
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
            aggregate = rooms.aggregate(past.id, round_=past)
            rows.append({"question": report.round_label(past),
                         "answers": str(aggregate.answers) if aggregate.shown
                         else f"fewer than {aggregate.min_group}",
                         "spread": report.spread_summary(aggregate, revealed=True)
                         if aggregate.shown else ""})
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

if history:
    with st.container(border=True):
        st.markdown("**Results of this workshop** (counts per option only; nobody's answers)")
        csv_col, summary_col = st.columns(2)
        csv_col.download_button("Download the results (CSV)", report.results_csv(rooms, room),
                                file_name=f"workshop-{room.code}.csv", mime="text/csv",
                                on_click="ignore", icon=":material/download:")
        summary_col.download_button("Download a one-page summary (Markdown)",
                                    report.room_summary(rooms, room).encode("utf-8"),
                                    file_name=f"workshop-{room.code}-summary.md",
                                    mime="text/markdown", on_click="ignore",
                                    icon=":material/description:")
        st.markdown("**Leader brief**: what the room found, its change from form A to form B, "
                    "the commitments you approved and the course's recommendations; no "
                    f"nicknames, nothing from fewer than {leader_brief.MIN_GROUP} answers.")
        brief_html, brief_markdown = leader_brief.leader_brief_files(rooms, room)
        html_col, markdown_col = st.columns(2)
        html_col.download_button("Download the leader brief (printable HTML)",
                                 brief_html.encode("utf-8"),
                                 file_name=f"workshop-{room.code}-leader-brief.html",
                                 mime="text/html", on_click="ignore", icon=":material/print:")
        markdown_col.download_button("Download the leader brief (Markdown)",
                                     brief_markdown.encode("utf-8"),
                                     file_name=f"workshop-{room.code}-leader-brief.md",
                                     mime="text/markdown", on_click="ignore",
                                     icon=":material/description:")

st.divider()
left, middle, right = st.columns(3)
if is_open and not room.paused and middle.button(
        "Pause the room", icon=":material/pause:",
        help="Stops voting and tells every phone and the projector: eyes on the front."):
    rooms.pause_workshop(room.code, owner=owner)
    st.rerun()
if is_open and room.joins_locked_at is None and middle.button(
        "Close to newcomers", icon=":material/door_front:",
        help="Once everyone is in: no new seats, so nobody can add votes under invented "
             "nicknames. Seats already taken keep answering and can be rejoined."):
    rooms.lock_joins(room.code, owner=owner)
    st.rerun()
if is_open and room.joins_locked_at is not None:
    middle.caption(f"Closed to newcomers since {room.joins_locked_at:%H:%M} UTC.")
    if middle.button("Let newcomers in", icon=":material/door_open:"):
        rooms.lock_joins(room.code, owner=owner, locked=False)
        st.rerun()
if is_open and left.button("Close the workshop", icon=":material/lock:"):
    rooms.close_workshop(room.code, owner=owner)
    common.end_presenter_links(room.code)
    st.rerun()
if right.button("Back to my workshops (this one stays as it is)"):
    st.session_state.pop(HOST_CODE_KEY, None)
    st.rerun()
if not is_open and rooms.is_owner(room, owner):
    with st.expander("Delete this workshop now"):
        st.write("Deletes the room's questions, every answer and every nickname at once, instead "
                 f"of on {room.deleted_after():%Y-%m-%d}. Download the results first if you need "
                 "them: this cannot be undone.")
        sure = st.checkbox(f"Yes, delete workshop {room.code} and all its answers",
                           key=f"workshop_delete_sure_{room.code}")
        if st.button("Delete the workshop", type="primary", disabled=not sure,
                     icon=":material/delete:"):
            rooms.delete_workshop(room.code, owner=owner)
            st.session_state.pop(HOST_CODE_KEY, None)
            st.session_state["workshop_deleted"] = room.code
            st.rerun()
