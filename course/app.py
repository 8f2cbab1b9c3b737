"""Signal or Theater: the course app's router (`streamlit run course/app.py`)."""

import sys

# jsonschema (pulled in by Altair) builds an IRI grammar with lark at import when the optional
# rfc3987_syntax package is installed: 3–8 s on every cold start, for a format check charts never
# use. Marking it absent makes jsonschema skip that check.
sys.modules.setdefault("rfc3987_syntax", None)

import streamlit as st  # noqa: E402

from course.app_pages import common  # noqa: E402
from datasets.errors import UserError  # noqa: E402

st.set_page_config(page_title="Signal or Theater", page_icon=":material/insights:",
                   layout="wide")

common.get_config()
common.ensure_default_dataset()
warning = common.store_warning()
if warning and not st.session_state.get("_store_warning_shown"):
    st.warning(warning, icon=":material/database:")
    st.session_state["_store_warning_shown"] = True

common.restore_sign_in()
page = st.navigation(common.build_navigation())
common.go_home_after_sign_in(page)
common.keep_sign_in_in_url()
common.select_module(page)
common.track_page(page)
with st.sidebar:
    learner = common.learner_id()
    role = common.staff_role()
    if learner or role:
        staff = common.signed_in_staff_markdown() if role else None
        who = ", ".join(x for x in (learner and f"learner **{learner}**", staff or role) if x)
        st.caption(f"Signed in as {who}")
        if st.button("Sign out", key="sidebar_sign_out", icon=":material/logout:"):
            common.sign_out()
            st.rerun()
try:
    page.run()
except UserError as error:   # a problem the user can act on: one clear line, never a traceback
    st.error(str(error), icon=":material/error:")
