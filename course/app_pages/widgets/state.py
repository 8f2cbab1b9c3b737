"""An exercise's state in the session and the store: starting values, saved inputs, checked attempts."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from course.app_pages import common
from datasets.errors import UserError


def init_widget(key: str, default: Any) -> None:
    """A widget's starting value, set through session state so a restored value is never
    overridden and Streamlit never sees a default and a state value for one widget."""
    if key not in st.session_state:
        st.session_state[key] = default



def exercise_scores(learner: str, module_id: str, exercise_id: str) -> list[float | None]:
    """The learner's checked attempts at one exercise, oldest first."""
    frame = common.get_store().attempts_frame(module_id=module_id, learner_id=learner)
    if frame.empty:
        return []
    mine = frame[(frame["kind"] == "exercise") & (frame["item_id"] == exercise_id)]
    return [None if pd.isna(s) else float(s) for s in mine["score"]]


# Session-state suffixes of an exercise that are not the learner's inputs (buttons, results).
NOT_INPUTS = frozenset({"check", "hint", "show_solution", "result", "hints", "solution", "upload",
                        "saved_inputs", "tradeoff", "timeline", "practice_zip"})


def rerun_exercise() -> None:
    """Rerun only the exercise when this run is the exercise fragment's own, else the page
    (Streamlit refuses a fragment-scoped rerun during a full run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    st.rerun(scope="fragment" if ctx is not None and ctx.fragment_ids_this_run else "app")


def _input_keys(key: str) -> list[str]:
    prefix = f"{key}:"
    return sorted(k for k in st.session_state
                  if isinstance(k, str) and k.startswith(prefix)
                  and k[len(prefix):].partition(":")[0] not in NOT_INPUTS)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def restore_inputs(key: str, learner: str, item_id: str) -> dict:
    """Put the learner's saved inputs back into session state (read once per session; again only
    for widgets Streamlit forgot, e.g. after visiting another page)."""
    saved = st.session_state.get(f"{key}:saved_inputs")
    if saved is None:
        try:
            saved = common.get_store().load_inputs(learner, item_id) or {}
        except UserError:
            saved = {}
        st.session_state[f"{key}:saved_inputs"] = saved
    for name, value in saved.items():
        if name not in st.session_state and name.startswith(f"{key}:"):
            st.session_state[name] = value
    return saved


def save_inputs(key: str, learner: str, item_id: str, saved: dict) -> None:
    """Write the inputs when they changed since the last save (one row per learner and exercise)."""
    current = {name: st.session_state[name] for name in _input_keys(key)
               if _jsonable(st.session_state[name])}
    if current == saved:
        return
    try:
        common.get_store().save_inputs(learner, item_id, current)
        st.session_state[f"{key}:saved_inputs"] = current
    except UserError as error:
        st.caption(f"Your inputs could not be saved for later: {error}")


def forget_inputs(key: str, learner: str, item_id: str) -> None:
    for name in _input_keys(key):
        del st.session_state[name]
    st.session_state[f"{key}:saved_inputs"] = {}
    try:
        common.get_store().save_inputs(learner, item_id, {})
    except UserError:
        pass

