"""Instructor: the roster (nbgrader's student CSV, as `theater assign --roster`) and access codes."""

import pandas as pd
import streamlit as st

from course import auth
from course.app_pages.instructor_common import one_line, open_page
from datasets.errors import UserError
from grader import lti
from grader.assign import codes_csv, import_roster, parse_roster, roster

course = open_page("Roster and access codes")
NEW_CODES_KEY = "_new_codes_csv"

st.caption("The same roster file and rules as `theater assign ASSIGNMENT --roster roster.csv`: "
           "id,first_name,last_name,email[,lms_user_id,section,sis_user_id]. Importing adds or updates learners in the "
           "gradebook and issues a personal access code to each learner who has none; it releases "
           "nothing (release on the Assignments page).")

with st.form("import_roster", clear_on_submit=True):
    upload = st.file_uploader("Roster CSV", type=["csv"])
    imported = st.form_submit_button("Import roster", type="primary", icon=":material/upload:")
if imported:
    if upload is None:
        st.error("Choose a roster CSV file first.")
    else:
        try:
            learners = parse_roster(upload.getvalue(), upload.name)
            codes = import_roster(course, learners)
        except UserError as error:
            st.error(one_line(error), icon=":material/error:")
        else:
            st.success(f"{len(learners)} learner(s) imported from {upload.name}; {len(codes)} new access "
                       f"code(s) issued, {len(learners) - len(codes)} learner(s) already had one.")
            if codes:
                st.session_state[NEW_CODES_KEY] = codes_csv(learners, codes)

if st.session_state.get(NEW_CODES_KEY):
    st.download_button("Download the new codes (CSV; codes are stored hashed and shown only in this session)",
                       data=st.session_state[NEW_CODES_KEY], file_name="access-codes.csv", mime="text/csv",
                       icon=":material/key:")

learners = roster(course)
issued = auth.load_access_codes(course.access_codes_path)
st.header(f"Learners ({len(learners)})")
if not learners:
    st.write("No learner on the roster yet: import a roster CSV above.")
else:
    st.dataframe(pd.DataFrame({
        "id": [x.id for x in learners],
        "name": [" ".join(p for p in (x.first_name, x.last_name) if p) for x in learners],
        "email": [x.email for x in learners],
        "LMS user id": [x.lms_user_id for x in learners],
        "section": [x.section or "" for x in learners],
        "SIS user id": [x.sis_user_id or "" for x in learners],
        "access code": ["issued" if x.id in issued else "none" for x in learners],
    }), hide_index=True, width="stretch")
    without = [x for x in learners if x.id not in issued]
    if without and st.button(f"Issue codes to the {len(without)} learner(s) without one", icon=":material/key:"):
        try:
            codes = auth.issue_access_codes(course.access_codes_path, [x.id for x in learners])
        except UserError as error:
            st.error(one_line(error), icon=":material/error:")
        else:
            st.session_state[NEW_CODES_KEY] = codes_csv(learners, codes)
            st.rerun()

    st.subheader("A learner lost their code")
    with st.form("reissue_code"):
        who = st.selectbox("Learner", [x.id for x in learners])
        reissue = st.form_submit_button("Issue a new code (the old one stops working)")
    if reissue:
        try:
            codes = auth.issue_access_codes(course.access_codes_path, [who], reissue=[who])
        except UserError as error:
            st.error(one_line(error), icon=":material/error:")
        else:
            st.success(f"New access code for {who}: **{codes[who]}** (shown once; it signs them out everywhere).")

st.header("From the LMS")
lms_courses = [c for c in lti.contexts(course) if c.memberships_url]
if not lms_courses:
    st.caption("With LTI 1.3 set up (docs/lti.md), the LMS course's class list can be merged here once "
               "anyone (an instructor's launch is enough) has opened the app from the LMS course.")
else:
    st.caption("Merges the LMS course's active learners into the roster (Names and Role Provisioning), as "
               "`theater lti roster` does: known learners keep their ids, new ones get an id and an access "
               "code, nobody is removed (who is not listed by the LMS any more is only reported).")
    chosen = st.selectbox("LMS course", lms_courses, format_func=lambda c: c.label)
    match_email = st.checkbox("Also match by e-mail a learner who has no LMS id yet", help=(
        "Only if your LMS does not let its users change their own e-mail: otherwise anyone could take a "
        "classmate's place on the roster."))
    preview_col, merge_col = st.columns(2)
    preview = preview_col.button("Preview the LMS roster (nothing is written)", icon=":material/visibility:")
    merge = merge_col.button("Merge the LMS roster", type="primary", icon=":material/sync:")
    if preview or merge:
        try:
            result = lti.sync_roster(course, context_id=chosen.context_id, dry_run=preview, match_email=match_email)
        except UserError as error:
            st.error(one_line(error), icon=":material/error:")
        else:
            st.success(result.summary())
            for line in result.lines():
                st.write(line)
            if result.codes:
                st.session_state[NEW_CODES_KEY] = codes_csv(result.new_learners, result.codes)
                st.download_button(f"Download the {len(result.codes)} new learners' access codes (CSV; shown only "
                                   "now, stored hashed)", data=codes_csv(result.new_learners, result.codes),
                                   file_name="access-codes-lms.csv", mime="text/csv", icon=":material/key:")
