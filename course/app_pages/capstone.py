"""Capstone materials: the notebook and the learner's dataset to take away, and the closing test."""

from pathlib import Path

import streamlit as st

from course import data as course_data
from course.app_pages import common, widgets

SOURCE_DIR = Path(__file__).resolve().parents[2] / "exercises" / "source"

learner = common.require_learner()
config = common.get_config()
modules, _ = common.get_modules()

st.title("Capstone: your notebook and your data")
st.markdown(
    "The capstone asks how much of your company's AI activity since the mandate is theater, and "
    "what AI really did to output. You work in a notebook on your own company's files; your "
    "instructor grades the notebook against hidden truth that only the grader can regenerate.")

capstone = next((m for m in modules if m.id == "capstone"), None)
if capstone is not None:
    page = common.page_for(common.module_url(capstone.id))
    if page is not None:
        st.page_link(page, label=f"Read the capstone brief and check your estimate in the app: "
                                 f"{capstone.title}", icon=":material/arrow_forward:")

every_notebook = sorted(SOURCE_DIR.glob("*/*.ipynb"))
notebooks = [p for p in every_notebook if "capstone" in str(p).lower()] or every_notebook
left, right = st.columns(2)
with left:
    st.subheader("1. The notebook")
    if notebooks:
        for path in notebooks:
            st.download_button(f"Download {path.parent.name}/{path.name}",
                               data=lambda p=path: course_data.learner_notebook(p),
                               file_name=path.name,
                               mime="application/x-ipynb+json", key=f"nb:{path.parent.name}:{path.name}",
                               icon=":material/description:")
    else:
        st.info("Your instructor releases the capstone notebook with the assignment; this "
                "installation does not bundle it.")
with right:
    st.subheader("2. Your company's files")
    st.caption("The same tables you explored in the app, without any labels.")
    st.download_button("Download Parquet files (zip)",
                       data=lambda: course_data.company_zip(config, learner,
                                                            common.get_company(learner), "parquet"),
                       file_name=f"company-{learner}-parquet.zip", mime="application/zip",
                       key="capstone_parquet", icon=":material/download:")
    st.download_button("Download CSV files (zip)",
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
