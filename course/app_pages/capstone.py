"""Capstone materials: the notebook and the learner's dataset to take away, and the closing test."""

import streamlit as st

from course import data as course_data
from course.app_pages import common, submission, widgets

learner = common.require_learner()
config = common.get_config()
modules, _ = common.get_modules()

st.title("Capstone: your notebook and your data")
st.markdown(
    "The capstone asks how much of your company's AI activity since the mandate is theater, and "
    "what AI really did to output. You work in a notebook on your own company's files; your "
    "instructor grades the notebook against hidden truth that only the grader can regenerate. "
    "The app never checks an answer about your own company: the capstone module's in-app check "
    "runs on your practice company, and your results here are bands, never points.")

capstone = next((m for m in modules if m.id == "capstone"), None)
if capstone is not None:
    page = common.page_for(common.module_url(capstone.id))
    if page is not None:
        st.page_link(page, label=f"Read the capstone brief and try the estimate on your "
                                 f"practice company: {capstone.title}",
                     icon=":material/arrow_forward:")

assignments = course_data.course_assignments(config)
st.subheader("1. Your assignments: download, work, submit")
st.caption("Each zip unpacks to one folder holding the notebook, your company's files in `data/` "
           "(no labels) and `DATA_DICTIONARY.md`. Open the notebook from that folder and it runs "
           "as it is. These are exactly the files your instructor releases to you. When you are "
           "done, save the notebook and submit it below: it is graded on your own company's hidden "
           "truth, and your result appears here.")
if not assignments:
    st.info("This course has no assignments yet; your instructor releases them.")
for assignment in assignments:
    with st.container(border=True):
        st.markdown(f"**{assignment.title}**")
        st.download_button(f"Download {assignment.title} ({assignment.name}.zip)",
                           data=lambda a=assignment: course_data.assignment_zip(
                               config, a, learner, common.get_company(learner)),
                           file_name=f"{assignment.name}-{learner}.zip", mime="application/zip",
                           key=f"assignment:{assignment.name}", icon=":material/description:")
        submission.submit_section(assignment, learner)

st.subheader("2. Just your company's files")
st.caption("The same tables you explored in the app, without any labels, with the data dictionary.")
left, right = st.columns(2)
left.download_button("Download Parquet files (zip)",
                     data=lambda: course_data.company_zip(config, learner,
                                                          common.get_company(learner), "parquet"),
                     file_name=f"company-{learner}-parquet.zip", mime="application/zip",
                     key="capstone_parquet", icon=":material/download:")
right.download_button("Download CSV files (zip)",
                      data=lambda: course_data.company_zip(config, learner,
                                                           common.get_company(learner), "csv"),
                      file_name=f"company-{learner}-csv.zip", mime="application/zip",
                      key="capstone_csv", icon=":material/download:")

st.subheader("3. After the course")
if st.session_state.pop("posttest_saved", False):
    st.success("Saved. *My learning* now shows your answers before and after the course.")
posttest_done = bool(len(common.get_store().attempts_frame(module_id="posttest",
                                                           learner_id=learner)))
if posttest_done:
    st.caption("You have taken the closing check; answering again replaces your answers.")
widgets.pre_post_test("posttest", learner)
