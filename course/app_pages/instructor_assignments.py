"""Instructor: release an assignment, see who submitted, grade all or one learner (the CLI's functions)."""

import streamlit as st

from course.app_pages.instructor_common import choose_assignment, is_instructor, one_line, open_page
from datasets.errors import UserError
from grader import review, runs
from grader.assign import assign, roster

course = open_page("Assignments: release, submissions, grading", "instructor_assignments.py")
assignment = choose_assignment(course)
if assignment is None:
    st.info(f"The course has no assignments in {course.path('source')}.")
    st.stop()
spec = course.assignment(assignment)
learners = roster(course)
ids = [x.id for x in learners]

# ----------------------------------------------------------------------------- release
st.header("Release")
record = course.release_record(assignment)
if record:
    data = record.get("data", {})
    st.caption(f"Released: {spec.title}, notebook {spec.notebook}, each learner's own company "
               f"({data.get('employees')} employees, {data.get('days')} days, profile {data.get('profile')}, "
               f"{data.get('format')} files, generator {record.get('generator_version')}). Releasing again "
               "is safe: learners keep their data; new learners on the roster get theirs.")
else:
    st.caption(f"Not released yet. Releasing runs `theater assign {assignment}` for the roster: nbgrader's "
               "student version, then one folder per learner in outbound/ with their own data.")
if not is_instructor():
    st.caption("Releasing (and the access codes it issues) is for instructors; you can grade below.")
elif not ids:
    st.warning("No learner on the roster: import a roster on the Roster page first.")
elif st.button(f"Release {assignment} to the {len(ids)} learner(s) on the roster", type="primary",
               icon=":material/send:"):
    with st.spinner(f"Releasing {assignment}: generating each learner's company…"):
        try:
            report = assign(course, assignment, learners, progress=False)
        except UserError as error:
            st.error(one_line(error), icon=":material/error:")
        else:
            st.success(f"{assignment} released to {len(report.released)} learner(s) in {report.outbound}: "
                       f"{', '.join(report.released)}.")
            if report.codes_issued:
                st.info(f"{len(report.codes_issued)} new access code(s) written to {report.codes_file} "
                        "(only you can read it).")

# ----------------------------------------------------------------------------- submissions
st.header("Submissions")
rows = review.submissions(course, assignment, ids)
submitted = [r for r in rows if r.status != review.NO_SUBMISSION]
due = review.due_date(course, assignment)
cols = st.columns(4)
cols[0].metric("Submitted", f"{len(submitted)} of {len(ids) or len(rows)}")
cols[1].metric("Late", sum(1 for r in rows if r.late_by_hours))
cols[2].metric("Graded", sum(1 for r in rows if r.status == review.GRADED))
cols[3].metric("Due", due.strftime("%Y-%m-%d %H:%M UTC") if due else "no due date")
if rows:
    st.dataframe(review.submissions_frame(rows), hide_index=True, width="stretch",
                 height=min(35 * (len(rows) + 1) + 3, 1100))
else:
    st.write("No learner on the roster and no submission yet.")

# ----------------------------------------------------------------------------- grading
st.header("Grade")
st.caption("Grading runs as a process of its own (`theater grade`, on the course's Dask cluster or this "
           "machine's): it goes on if you leave this page or the app restarts, and this page follows it.")
run = runs.current(course.root, assignment)
if not submitted:
    st.write("Nothing to grade yet.")
elif run is None or run.finished:
    with st.form("grade"):
        who = st.radio("Grade", ["every submission", "one learner"], horizontal=True)
        one = st.selectbox("Learner (for one learner)", [r.learner for r in submitted])
        force = st.checkbox("Regrade submissions already graded (`--force`)",
                            help="By default a submission graded before and unchanged since is kept. "
                                 "Overrides survive a regrade.")
        go = st.form_submit_button("Grade", type="primary", icon=":material/grading:")
    if go:
        runs.start(course.root, assignment, learners=[one] if who == "one learner" else None, force=force)
        st.rerun()


@st.fragment(run_every=1.0 if run is not None and not run.finished else None)
def progress() -> None:
    current = runs.current(course.root, assignment)
    if current is None:
        return
    if not current.finished:
        done = f"{current.done} of {current.total}" if current.total else "starting"
        st.progress(current.fraction, text=f"Grading {assignment}: {done} submission(s) graded "
                                           f"({current.seconds:.0f} s){' · ' + current.last if current.last else ''}")
        if st.button("Cancel grading", icon=":material/cancel:",
                     help="Submissions graded so far are kept; the next run grades the others."):
            runs.cancel(course.root, assignment)
            st.toast("Cancelling: the run stops after closing its workers.")
        return
    if st.session_state.get("_graded_run_seen") != current.run_id:
        st.session_state["_graded_run_seen"] = current.run_id
        st.rerun(scope="app")  # the submissions table above shows the new state
    if current.state == runs.CANCELLED:
        st.warning(f"Grading cancelled after {current.done} submission(s): those are graded; "
                   "grading again grades the others.", icon=":material/cancel:")
    elif current.error:
        st.error(f"Grading stopped: {one_line(current.error)}", icon=":material/error:")
    elif current.summary:
        st.success(current.summary, icon=":material/task_alt:")
        if current.not_graded:
            st.warning("Not graded (retried on the next run): " + "; ".join(
                f"{k}: {v}" for k, v in sorted(current.not_graded.items())))


progress()
