"""Capstone: estimate the theater share and the real productivity effect in your own company."""

from pathlib import Path

import streamlit as st

from course import data as course_data
from course.app_pages import common, widgets
from datasets.errors import UserError

SOURCE_DIR = Path(__file__).resolve().parents[2] / "exercises" / "source"

learner = common.require_learner()
config = common.get_config()

st.title("Capstone: how much of your company's AI use is theater?")
st.markdown(
    "Your board sees an adoption dashboard that keeps climbing. Your job: estimate, from your own "
    "company's logs, **what share of AI activity since the mandate is theater** and **what the real "
    "productivity effect is**. Work in the notebook with your dataset, then submit your two numbers "
    "here for feedback, and hand in the notebook to your instructor for grading.")

notebooks = sorted(SOURCE_DIR.glob("capstone*/*.ipynb")) or sorted(SOURCE_DIR.glob("*/capstone*.ipynb"))
left, right = st.columns(2)
with left:
    st.subheader("1. Get the notebook")
    if notebooks:
        for path in notebooks:
            st.download_button(f"Download {path.name}", data=path.read_bytes(), file_name=path.name,
                               mime="application/x-ipynb+json", key=f"nb:{path.name}",
                               icon=":material/description:")
    else:
        st.info("Your instructor releases the capstone notebook with the assignment; it is not "
                "bundled with this app yet.")
with right:
    st.subheader("2. Get your data")
    st.download_button("Download your company (Parquet, zip)",
                       data=lambda: course_data.company_zip(config, learner,
                                                            common.get_company(learner), "parquet"),
                       file_name=f"company-{learner}-parquet.zip", mime="application/zip",
                       key="capstone_parquet", icon=":material/download:")
    st.download_button("Download your company (CSV, zip)",
                       data=lambda: course_data.company_zip(config, learner,
                                                            common.get_company(learner), "csv"),
                       file_name=f"company-{learner}-csv.zip", mime="application/zip",
                       key="capstone_csv", icon=":material/download:")

st.subheader("3. Check your estimates")
try:
    from course.modules import Exercise
except ImportError as error:
    st.error(f"The exercise definitions cannot be loaded: {error}")
    st.stop()

previous = widgets.last_attempts(learner, "capstone")
for exercise in (
    Exercise(id="capstone-theater-share", kind="estimate", check="measure.theater_share",
             prompt="What share (0–1) of AI events on or after the mandate date is theater?",
             hints=("Only events on or after the mandate date count.",
                    "Which events would have happened without the mandate? Look at who produced "
                    "them and whether their output was kept or linked to work.",
                    "Estimate per group of employees, then weight each group by its share of "
                    "post-mandate events."),
             solution="Group employees by their observable pattern (outcome-linked use, activity "
                      "without outcome, converts), estimate the theater share of each group's "
                      "post-mandate events, and weight by events. The notebook walks through it.",
             objective="capstone"),
    Exercise(id="capstone-productivity-effect", kind="estimate",
             check="measure.productivity_effect",
             prompt="By how many percent did closed work per person per week change for genuine "
                    "adopters, relative to non-users, from before to after the mandate?",
             hints=("Compare closed or merged work per person per week before and after the "
                    "mandate.",
                    "Non-users are your control group: their change is what would have happened "
                    "anyway.",
                    "Take the ratio of the two changes, minus 1, in percent."),
             solution="Difference in differences: (after/before for adopters) / (after/before "
                      "for non-users) − 1, in percent.",
             objective="capstone"),
):
    try:
        widgets.exercise_block(exercise, "capstone", learner, previous)
    except UserError as error:
        st.error(str(error))

st.subheader("4. After the course")
posttest_done = bool(len(common.get_store().attempts_frame(module_id="posttest", learner_id=learner)))
if posttest_done:
    st.success("You have taken the closing test. Compare it with your first answers on "
               "*My learning*.")
widgets.pre_post_test("posttest", learner)
