"""One page file renders any module: the router tells it which module the url stands for."""

import re

import streamlit as st

from course.app_pages import common, widgets
from datasets.errors import UserError

DIRECTIVE = re.compile(r"^\s*<!--\s*([A-Za-z_]+)\s*(?::\s*(.*?))?\s*-->\s*$")

learner = common.require_learner()
module_id = common.current_module_id()
modules, errors = common.get_modules()
module = next((m for m in modules if m.id == module_id), None)
if module is None:
    broken = [e for e in errors if module_id and module_id in str(getattr(e, "path", ""))]
    for error in broken:
        st.error(f"This module cannot be shown: {error}", icon=":material/error:")
    if not broken:
        st.error(f"The module '{module_id}' is not available. Pick a module from the menu.")
    st.stop()

previous = widgets.last_attempts(learner, module.id)

st.title(f"{module.number}. {module.title}")
st.caption(f"About {module.minutes} minutes · {len(module.quiz)} questions"
           + (" · 1 exercise" if module.exercise else ""))
left, right = st.columns(2)
with left:
    st.markdown("**Questions to keep in mind**\n" + "\n".join(f"- {q}" for q in
                                                             module.framing_questions))
with right:
    st.markdown("**By the end you can**\n" + "\n".join(f"- {o.text}" for o in module.objectives))

if module.retrieval:
    with st.expander("Warm-up: questions from earlier modules", expanded=True):
        for q in module.retrieval:
            widgets.question(q, module.id, "retrieval", learner, previous.get(("retrieval", q.id)))


def render_item(kind: str, arg: str, gate_open: bool) -> bool:
    """Render one directive; returns whether it was an answered question (opens the next gate)."""
    try:
        if kind == "quiz":
            q = next((q for q in module.quiz if q.id == arg), None)
            if q is None:
                st.error(f"{module.path}: the lesson refers to a quiz question '{arg}' that the "
                         "front matter does not define.")
                return True
            return widgets.question(q, module.id, "quiz", learner, previous.get(("quiz", q.id)))
        if kind == "chart":
            ref = next((c for c in module.charts if c.id == arg), None)
            widgets.chart_block(arg, ref, module.id, learner, previous)
        elif kind == "simulator":
            widgets.simulator_block(arg, module.id, gate_open, learner)
        elif kind == "exercise":
            widgets.exercise_block(module.exercise, module.id, learner, previous)
        elif kind == "game":
            widgets.checker_game_block(module.checker_game, module.id, learner)
    except UserError as error:
        st.error(str(error))
    return True


for section in module.sections:
    if section.title:
        st.header(section.title, divider="gray")
    chunk: list[str] = []
    gate_open = True
    for line in section.body_md.splitlines():
        match = DIRECTIVE.match(line)
        if match is None:
            chunk.append(line)
            continue
        text = "\n".join(chunk).strip()
        if text:
            st.markdown(text)
            gate_open = True
        chunk = []
        kind, arg = match.group(1), (match.group(2) or "").strip()
        answered = render_item(kind, arg, gate_open)
        gate_open = answered if kind == "quiz" else True
    text = "\n".join(chunk).strip()
    if text:
        st.markdown(text)

st.header("Key points", divider="gray")
st.markdown("\n".join(f"- {p}" for p in module.key_points))
if module.sources:
    with st.expander("Sources"):
        from course.evidence import cited

        st.markdown("\n".join(f"- {s}" for s in cited(module.sources)))

position = [m.id for m in modules].index(module.id)
if position + 1 < len(modules):
    nxt = modules[position + 1]
    page = common.page_for(common.module_url(nxt.id))
    if page is not None:
        st.page_link(page, label=f"Next: {nxt.number}. {nxt.title}",
                     icon=":material/arrow_forward:")
else:
    page = common.page_for("capstone")
    if page is not None:
        st.page_link(page, label="Next: the capstone", icon=":material/arrow_forward:")
