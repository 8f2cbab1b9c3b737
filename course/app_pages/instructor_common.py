"""Plumbing shared by the instructor pages: the gate, the course, the assignment being worked on."""

from __future__ import annotations

import streamlit as st

from course.app_pages import common

ASSIGNMENT_KEY = "_instructor_assignment"


AUDIENCES = {"instructor": "instructors", "ta": "instructors and teaching assistants"}


def open_page(title: str, page_file: str | None = None):
    """The page title, then the gate of the role the page is meant for (course.auth.STAFF_PAGE_ROLES:
    instructors only, or instructors and teaching assistants; everyone else gets the sign-in form
    only); returns the course the app serves."""
    from course.auth import STAFF_PAGE_ROLES

    st.title(title)
    role = STAFF_PAGE_ROLES.get(page_file or "", "instructor")
    common.require_staff(role, AUDIENCES[role])
    return common.get_config().course


def is_instructor() -> bool:
    """Whether the signed-in staff member may change the course (release, roster, settings), not only grade."""
    from course import auth

    return auth.require_role(st.session_state, "instructor")


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
