"""Instructor: the gradebook with exact scores, charts of the class, overrides, feedback and export."""

import io
import tempfile
import zipfile
from pathlib import Path

import streamlit as st

from course import auth, gradebook_charts
from course.app_pages.instructor_common import choose_assignment, one_line, open_page
from datasets.errors import UserError
from grader import lti, regrades, review
from grader.assign import sections, with_sections
from grader.export import export_grades
from grader.feedback import feedback
from grader.overrides import clear_override, override, overrides

course = open_page("Gradebook", "instructor_gradebook.py")
released = review.released(course)
assignment = choose_assignment(course, released)
if assignment is None:
    st.info("No assignment has been released yet: release one on the Assignments page.")
    st.stop()
spec = course.assignment(assignment)
frame = review.gradebook_frame(course, assignment)
section = None
if course_sections := sections(course):
    chosen = st.selectbox("Section", ["All sections", *course_sections], key="_gradebook_section")
    section = None if chosen == "All sections" else chosen
    frame = with_sections(course, frame, section)
st.caption("Exact scores are for staff: learners see only bands (full marks, close, not yet) "
           "in their feedback. An override wins over the autograder and survives regrading.")

if frame.empty:
    st.info(f"No graded submission of {assignment} yet: grade on the Assignments page.")
else:
    cols = st.columns(4)
    cols[0].metric("Graded learners", len(frame))
    cols[1].metric("Median score", f"{frame['score'].median():.1f} / {spec.max_score:g}")
    cols[2].metric("Overridden", int((frame["overridden"] != "").sum()))
    cols[3].metric("Flagged", int(((frame["integrity flags"] > 0) | (frame["copy flags"] > 0)).sum()))
    st.dataframe(frame, hide_index=True, width="stretch", height=min(35 * (len(frame) + 1) + 3, 1100),
                 column_config={"max": None})

    st.header("The class")
    left, right = st.columns(2)
    with left:
        st.altair_chart(gradebook_charts.score_distribution(frame, spec.max_score), width="stretch")
    with right:
        difficulty = review.part_difficulty(frame, spec)
        if not difficulty.empty:
            st.altair_chart(gradebook_charts.part_difficulty(difficulty), width="stretch")

    st.subheader("The spread of answers")
    st.caption("What the checks can tell about each wrong answer: for estimates, the direction and size of the "
               "error against the tolerance; for flagged ids, wrong flags against misses and whether everyone "
               "who used AI was flagged; for tables, the column that disagrees most. 'What it suggests' is a "
               "likely cause, for re-teaching, not a verdict on a learner.")
    spread = review.answer_spread(course, assignment)
    if spread.empty:
        st.write("No grading records yet.")
    else:
        st.altair_chart(gradebook_charts.answer_spread(spread), width="stretch")
        table = spread.drop(columns="correct").rename(columns={"misconception": "what it suggests"})
        table["share"] = table["share"].map("{:.0%}".format)
        st.table(table.set_index(["part", "band"]))  # a static table wraps the long readings

    st.subheader("Integrity and copy flags")
    flags = with_sections(course, review.flags_frame(course, assignment), section)
    if flags.empty:
        st.write("No flags.")
    else:
        st.caption("For you only: learners never see flags (a copy flag names another learner). Review each "
                   "before acting; an override below is the way to change a score.")
        st.table(flags.set_index(["learner", "kind"]))

    # ------------------------------------------------------------------------- overrides
    st.header("Override a score")
    parts = {p.grade_id: p.points for p in spec.graded}
    if spec.rubric:
        st.caption(f"{', '.join(p.grade_id for p in spec.rubric)}: graded by a person on the Rubric grading page "
                   "(or `theater rubric`), not overridden here.")
    if parts:  # the autograded parts (a memo has none)
        with st.form("override"):
            c1, c2, c3 = st.columns(3)
            learner = c1.selectbox("Learner", frame["learner"].tolist())
            part = c2.selectbox("Part", list(parts))
            score = c3.number_input("Points", min_value=0.0, max_value=float(max(parts.values())), step=0.5)
            comment = st.text_input("Why (the learner reads this in their feedback)")
            save = st.form_submit_button("Save override", type="primary")
        if save:
            try:
                done = override(course, assignment, learner, part, score, comment)
            except UserError as error:
                st.error(one_line(error), icon=":material/error:")
            else:
                st.success(f"{learner} · {part}: {done.score:g} of {done.max_score:g} (autograder: "
                           f"{'-' if done.auto_score is None else format(done.auto_score, 'g')}). Write feedback "
                           "again for the learner to see it.")
                st.rerun()
        existing = overrides(course, assignment)
        for item in existing:
            c1, c2 = st.columns([5, 1])
            review_note = " · regraded since: review" if item.regraded_since else ""
            c1.write(f"**{item.learner}** · {item.part}: {item.score:g} of {item.max_score:g} (autograder "
                     f"{'-' if item.auto_score is None else format(item.auto_score, 'g')}) — {item.comment}{review_note}")
            if c2.button("Remove", key=f"clear_{item.learner}_{item.part}"):
                try:
                    clear_override(course, assignment, item.learner, item.part)
                except UserError as error:
                    st.error(one_line(error), icon=":material/error:")
                else:
                    st.rerun()

# ----------------------------------------------------------------------------- regrade requests
st.header("Regrade requests")
queue = regrades.open_requests(course)
mine = [r for r in queue if r.assignment == assignment]
others = len(queue) - len(mine)
st.caption(f"{len(mine)} open for {assignment}" + (f", {others} for other assignments" if others else "")
           + ". Learners send them from their final result; your answer is what they read beside it. "
             "To change a score, override it above first.")
for request in mine:
    with st.container(border=True):
        st.markdown(f"**{request.learner}** · request {request.number} · {request.requested_at[:16].replace('T', ' ')} UTC")
        st.text(request.text)  # the learner's words, as plain text
        with st.form(f"resolve:{request.assignment}:{request.learner}", clear_on_submit=True):
            note = st.text_area("Your answer (the learner reads it)", max_chars=regrades.MAX_TEXT,
                                key=f"resolve-note:{request.assignment}:{request.learner}")
            answered = st.form_submit_button("Resolve with this answer", icon=":material/done:")
        if answered:
            try:
                regrades.resolve(course, request.assignment, request.learner, note,
                                 by=auth.staff_user(st.session_state) or "staff")
            except UserError as error:
                st.error(one_line(error), icon=":material/error:")
            else:
                st.rerun()

# ----------------------------------------------------------------------------- feedback and export
st.header("Feedback")
st.caption("Writes each graded learner's feedback page (feedback/<learner>/<assignment>/), as `theater feedback`: "
           "bands and the checks' messages, overrides' comments, never points, hidden tests or flags.")
if st.button(f"Release feedback for {assignment}", icon=":material/rate_review:"):
    try:
        written = feedback(course, assignment)
    except UserError as error:
        st.error(one_line(error), icon=":material/error:")
    else:
        (st.warning if written.failed else st.success)(written.summary())
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for who, path in sorted(written.written.items()):
                archive.write(path, f"{who}/{assignment}/{path.name}")
        st.session_state["_feedback_zip"] = (assignment, buffer.getvalue())
kept = st.session_state.get("_feedback_zip")
if kept and kept[0] == assignment:
    st.download_button("Download the feedback pages (zip)", data=kept[1], file_name=f"feedback-{assignment}.zip",
                       mime="application/zip", icon=":material/download:")

st.header("Export grades")
st.caption("As `theater export`: every assignment in the gradebook, late penalties applied by nbgrader's plugin"
           + (f", learners of section {section} only." if section else "."))
if st.button("Prepare the CSV files", icon=":material/table:"):
    try:
        with tempfile.TemporaryDirectory() as folder:
            files = {fmt: export_grades(course, fmt=fmt, to=Path(folder) / f"{fmt}.csv",
                                        sections=[section] if section else None).read_bytes()
                     for fmt in ("nbgrader", "canvas")}
    except UserError as error:
        st.error(one_line(error), icon=":material/error:")
    else:
        st.session_state["_exports"] = (section, files)
kept_exports = st.session_state.get("_exports")
exports = kept_exports[1] if kept_exports and kept_exports[0] == section else None
if exports:
    c1, c2 = st.columns(2)
    c1.download_button("nbgrader CSV", data=exports["nbgrader"], file_name="grades-nbgrader.csv", mime="text/csv",
                       icon=":material/download:")
    c2.download_button("Canvas gradebook CSV", data=exports["canvas"], file_name="grades-canvas.csv",
                       mime="text/csv", icon=":material/download:")

# ----------------------------------------------------------------------------- LMS grade pass-back
st.header("Send scores to the LMS")
lms_courses = lti.contexts(course)
if not lms_courses:
    st.caption("No LMS course has launched this app yet. Once learners open it from an LMS assignment "
               "(LTI 1.3, `theater lti register`), their scores can be sent back from here.")
elif not auth.has_grant(st.session_state.get(auth.SESSION_ROLE_KEY), "instructor"):
    st.caption("Only an instructor sends scores to the LMS.")
else:
    st.caption("As `theater lti push`: each learner's effective score (overrides and late penalties applied, "
               "as in the export) goes to the assignment's column in the LMS course, created when missing. "
               "A score the LMS already has is not sent again.")
    labels = {context.label: context.context_id for context in lms_courses}
    chosen_lms = st.selectbox("LMS course", list(labels), key="_lms_course")
    c1, c2 = st.columns(2)
    preview = c1.button("Preview (nothing is sent)", icon=":material/visibility:")
    send = c2.button(f"Send {assignment} scores", type="primary", icon=":material/send:")
    if preview or send:
        try:
            with st.spinner("Talking to the LMS…"):
                lines = lti.push_scores(course, assignment, dry_run=preview, context_id=labels[chosen_lms])
        except UserError as error:
            st.error(one_line(error), icon=":material/error:")
        else:
            failed = [line for line in lines if line.failed]
            (st.warning if failed else st.success)(lti.push_summary(assignment, lines))
            st.dataframe([{"learner": line.learner, "score": line.score, "outcome": line.outcome,
                           "why": line.detail} for line in lines], hide_index=True, width="stretch")
