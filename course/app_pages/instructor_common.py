"""Plumbing shared by the instructor pages: the gate, the course, the assignment being worked on."""

from __future__ import annotations

import streamlit as st

from course.app_pages import common

ASSIGNMENT_KEY = "_instructor_assignment"


def open_page(title: str):
    """The page title, then the instructor gate (trainers and learners get the sign-in form only);
    returns the course the app serves."""
    st.title(title)
    common.require_staff("instructor", "instructors")
    return common.get_config().course


def choose_assignment(course, only: list[str] | None = None, label: str = "Assignment") -> str | None:
    """One assignment picker whose choice follows the instructor from page to page."""
    from grader.review import assignments

    names = only if only is not None else assignments(course)
    if not names:
        return None
    remembered = st.session_state.get(ASSIGNMENT_KEY)
    index = names.index(remembered) if remembered in names else 0
    chosen = st.selectbox(label, names, index=index, key=f"{ASSIGNMENT_KEY}_{label}")
    st.session_state[ASSIGNMENT_KEY] = chosen
    return chosen


def one_line(error: Exception) -> str:
    """A user error as the one line the CLI prints."""
    return " ".join(str(error).split())
