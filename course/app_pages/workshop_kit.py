"""Trainers: the workshop kit - the run-of-show with timings, what to say, what to do with each
spread of answers, the ground rules, and the leader brief to hand out."""

import streamlit as st

from course.app_pages import common
from course.workshop_kit import KitError, leader_brief_html, load_kit

st.title("Workshop kit")
common.require_staff("trainer", "trainers and instructors")

try:
    kit = load_kit()
except KitError as error:
    st.error(str(error), icon=":material/error:")
    st.stop()

st.markdown(f"**{kit.title}**  \n{kit.audience}")
labels = {v.id: f"{v.minutes} minutes" for v in kit.versions}
chosen = st.radio("Length", list(labels), format_func=labels.get, horizontal=True)
blocks = kit.version(chosen)

with st.expander("Ground rules to read out at the start", expanded=True):
    st.markdown("\n".join(f"- {rule}" for rule in kit.ground_rules))

elapsed = 0
for block in blocks:
    start = elapsed
    elapsed += block.minutes
    with st.container(border=True):
        st.markdown(f"#### {start}–{elapsed} min · {block.title}")
        st.markdown(f"**Goal.** {block.goal}")
        st.markdown(f"**Room activity.** {block.activity}")
        if block.ask:
            st.caption("Questions *Next in the kit* opens in *Run a workshop*, in this order: "
                       + ", ".join(f"`{key}`" for key in block.ask))
        st.markdown(f"**Say.** {block.script}")
        st.markdown(f"**Notes.** {block.notes}")
        st.markdown("**If the answers look like this…**\n"
                    + "\n".join(f"- *{s.when}:* {s.then}" for s in block.spreads))

st.download_button("Download the leader brief (one page, HTML)", data=leader_brief_html(kit),
                   file_name="leader-brief.html", mime="text/html", icon=":material/download:")
