"""Home: progress per module, resume where the learner left off, the pre-test before module 1."""

import streamlit as st

from course import data as course_data
from course.app_pages import common, widgets
from course.time_plan import time_plan

learner = common.require_learner()
store = common.get_store()
modules, errors = common.get_modules()

st.title("Your course")
for error in errors:
    st.error(f"A module could not be loaded and is left out: {error}", icon=":material/error:")

items = {m.id: len(m.quiz) + (1 if m.exercise else 0) for m in modules}
summary = store.learner_summary(learner, items)

last = store.resume_page(learner)
resume = common.page_for(last) if last else None
if resume is not None:
    st.page_link(resume, label=f"Resume where you left off: {resume.title}",
                 icon=":material/play_arrow:")
elif modules:
    first = common.page_for(common.module_url(modules[0].id))
    if first is not None:
        st.page_link(first, label=f"Start with module {modules[0].number}: {modules[0].title}",
                     icon=":material/play_arrow:")

pretest_done = bool(len(store.attempts_frame(module_id="pretest", learner_id=learner)))
if st.session_state.pop("pretest_saved", False):
    st.success("Thank you: your answers are saved. At the end you take a parallel test: new "
               "questions on the same ideas, so a higher score is not just remembering these.")
elif not pretest_done and not st.session_state.get("pretest_skipped"):
    widgets.pre_post_test("pretest", learner)

st.subheader("Progress by module")
st.caption(time_plan(modules, course_data.course_assignments(common.get_config())))
if not modules:
    st.info("No modules are available yet.")
LEVEL_SHARE = {"not started": 0.0, "attempted": 0.25, "familiar": 0.6, "proficient": 0.85,
               "mastered": 1.0}
for module in modules:
    info = summary["modules"].get(module.id, {})
    level = info.get("mastery", "not started")
    left, mid, right = st.columns([4, 2, 2], vertical_alignment="center")
    page = common.page_for(common.module_url(module.id))
    with left:
        if page is not None:
            st.page_link(page, label=f"{module.number}. {module.title}")
        st.caption(f"about {module.minutes} min · {len(module.objectives)} objectives")
    mid.progress(LEVEL_SHARE.get(level, 0.0), text=f"Mastery: **{level}**")
    done = len(info.get("item_scores", {}))
    right.caption(f"{done} of {items[module.id]} checks answered · {info.get('attempts', 0)} attempts")

with st.expander("What the mastery levels mean"):
    st.markdown("- **attempted**: below 70% of the module's checks right\n"
                "- **familiar**: 70–99% right\n- **proficient**: all right\n"
                "- **mastered**: proficient, and right again later in a mixed review")
