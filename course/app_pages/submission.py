"""The Submit section of an assignment (not a page): upload, the course's policy, the queue, the result.

Everything it shows and stores comes from grader/submissions.py, always for the signed-in learner
passed in by the page. Until the submission is final a result is a validity report (the notebook
ran, each answer is in the expected form); once final, bands and the checks' messages. Never points.
"""

from __future__ import annotations

import streamlit as st

from course import data as course_data
from course.app_pages import common
from datasets.errors import UserError
from grader import submissions
from grader.deadlines import deadlines

POLL_SECONDS = 1.0
BAND_ICONS = {"full marks": ":material/check_circle:", "close": ":material/adjust:",
              "not yet": ":material/radio_button_unchecked:",
              "well formed": ":material/task_alt:", "missing": ":material/help:",
              "not in the expected form": ":material/error:", "not read": ":material/error:"}


def _part_title(grade_id: str) -> str:
    return grade_id.replace("_", " ").replace("-", " ").capitalize()


def _show_result(result: submissions.LearnerResult) -> None:
    attempt = f" (attempt {result.attempt})" if result.attempt else ""
    if result.final:
        st.markdown(f"**Your result{attempt}: {result.band}**")
    else:
        st.markdown(f"**Your submission{attempt} was checked: here is what the grader found.**")
    if result.late:
        st.caption("Submitted after the due date: the course's late penalty is applied to this result.")
    for part in result.parts:
        st.markdown(f"{BAND_ICONS.get(part.band, '')} {_part_title(part.grade_id)}: **{part.band}**")
        if part.message:
            st.text(part.message)  # the check's message, or the answer's form, as plain text
    if result.comments:
        with st.expander("Grader notes"):
            for comment in result.comments:
                st.text(comment)
    elif not result.final:
        st.caption("Your notebook ran in the grader's sandbox with nothing to report.")
    if result.final:
        st.caption(f"{result.why} Bands, not points: the exact points are in your instructor's gradebook.".strip())
    else:
        st.info(result.why, icon=":material/schedule:")


def _status(assignment, learner: str, busy_before: bool) -> None:
    """Queue position or grading with a spinner, then the result; polls while the work is under way."""
    course = common.get_config().course
    status = submissions.queue_status(course, assignment.name, learner)
    busy = status.state in ("queued", "grading")
    if busy_before and not busy:
        st.rerun()  # done: redraw the whole section (attempts left, result) without polling
    if status.state == "queued":
        ahead = f"{status.ahead} ahead of you" if status.ahead else "you are next"
        st.status(f"Queued for grading ({ahead})", state="running")
    elif status.state == "grading":
        st.status("Grading your notebook: running it in the sandbox and scoring it", state="running")
    elif status.state == "error":
        st.error("Your notebook could not be graded. This is a problem on our side, not in your work: "
                 "your instructor can see what went wrong. Try again; it uses no attempt.",
                 icon=":material/error:")
        if st.button("Grade it again", key=f"retry:{assignment.name}"):
            submissions.retry(course, assignment.name, learner)
            st.rerun()
    if status.state in ("graded", "error", "queued", "grading"):
        result = submissions.learner_result(course, assignment.name, learner)
        if result is not None:
            if busy:
                st.caption("Your previous result, until the new one is ready:")
            _show_result(result)
            if result.final and not busy:
                _regrade_section(course, assignment, learner)


def _regrade_section(course, assignment, learner: str) -> None:
    """The learner's regrade requests about this result, their answers, and a form to send one."""
    from grader import regrades

    for request in regrades.requests_of(course, assignment.name, learner):
        with st.container(border=True):
            st.caption(f"Your regrade request {request.number} ({request.requested_at[:16].replace('T', ' ')} UTC):")
            st.text(request.text)  # plain text, as written
            if request.is_open:
                st.caption("With your instructor: their answer will appear here.")
            else:
                st.markdown("**Your instructor's answer:**")
                st.text(request.note)
    why_not = regrades.can_request(course, assignment.name, learner)
    if why_not:
        return
    with st.expander("Ask for a regrade"):
        with st.form(f"regrade:{assignment.name}", clear_on_submit=True):
            text = st.text_area("What should your instructor look at again, and why?", max_chars=regrades.MAX_TEXT,
                                key=f"regrade-text:{assignment.name}")
            sent = st.form_submit_button("Send regrade request", icon=":material/flag:")
        if sent:
            try:
                regrades.request_regrade(course, assignment.name, learner, text)
            except UserError as error:
                st.error(str(error), icon=":material/block:")
            else:
                st.rerun()


def submit_section(assignment, learner: str) -> None:
    """Upload a notebook for `assignment` as `learner` (the signed-in id) and follow its grading."""
    config = common.get_config()
    course = config.course
    self_study = not course_data.has_roster(config)
    try:
        rules = submissions.policy(course, assignment.name, learner)  # their own dates (extensions)
    except UserError as error:
        st.error(f"Submissions are closed: {error}")
        return
    if not self_study and not submissions.is_released(course, assignment.name):
        st.info("Submissions open when your instructor releases this assignment.")
        return
    submissions.start_worker(course, self_study=self_study)
    done = submissions.attempts(course, assignment.name, learner)
    left = rules.attempts_left(len(done))
    shown = submissions.release(course, assignment.name, learner)
    st.caption(f"Policy: {rules.describe()}")
    if deadlines(course, assignment.name, learner).extended:
        st.caption("Your instructor gave you an extension: these dates are your own.")
    if done:
        last = done[-1]
        late = " (late)" if last.late else ""
        left_text = "" if left is None else f"; {left} attempt(s) left"
        st.caption(f"You have submitted {len(done)} time(s); the last at {last.timestamp:%Y-%m-%d %H:%M} UTC"
                   f"{late}{left_text}.")
    elif left is not None and not shown.final:
        st.caption(f"{left} attempt(s) left.")
    if left == 0:
        st.warning(f"You have used all {rules.attempts} attempt(s): your last submission stands.")
    elif shown.final:
        st.info(shown.why, icon=":material/lock:")
    else:
        if not done:
            st.caption(shown.why)  # when bands appear, and why not on every attempt
        _upload_form(assignment, learner, course, self_study)
        if done:
            _finalise_form(assignment, learner, course, done[-1].number)
    busy = submissions.queue_status(course, assignment.name, learner).state in ("queued", "grading")
    st.fragment(run_every=POLL_SECONDS if busy else None)(_status)(assignment, learner, busy)


def _upload_form(assignment, learner: str, course, self_study: bool) -> None:
    with st.form(f"submit:{assignment.name}", clear_on_submit=True):
        upload = st.file_uploader(
            f"Your {assignment.notebook}", key=f"upload:{assignment.name}",
            max_upload_size=submissions.MAX_NOTEBOOK_BYTES // 2**20,
            help="The notebook as saved by Jupyter (File > Save) from this assignment's download.")
        sent = st.form_submit_button("Submit for grading", type="primary", icon=":material/upload:")
    if sent:
        if upload is None:
            st.error(f"Choose your {assignment.notebook} first, then press Submit.")
        else:
            try:
                attempt = submissions.submit(course, assignment.name, learner, upload.getvalue(),
                                             filename=upload.name, self_study=self_study)
            except UserError as error:
                st.error(str(error), icon=":material/block:")
            else:
                late = " It is after the due date: the late penalty applies." if attempt.late else ""
                st.success(f"Attempt {attempt.number} received at {attempt.timestamp:%H:%M:%S} UTC.{late}",
                           icon=":material/inbox:")


def _finalise_form(assignment, learner: str, course, number: int) -> None:
    """Make the last attempt final, to see its bands now instead of at the close."""
    with st.form(f"finalise:{assignment.name}"):
        sure = st.checkbox(f"I will not submit again: attempt {number} is my final submission.",
                           key=f"finalise-sure:{assignment.name}")
        sent = st.form_submit_button(f"Make attempt {number} final and see its bands", icon=":material/lock:")
    if sent:
        if not sure:
            st.error("Tick the box first: a final submission cannot be replaced.")
            return
        try:
            submissions.finalise(course, assignment.name, learner)
        except UserError as error:
            st.error(str(error), icon=":material/block:")
            return
        st.rerun()
