"""The answer widgets, one per widget kind of a check record (exercises.checks.AppWidget.kind).

`ANSWER_WIDGETS` maps a kind to the function that draws its inputs and returns the answer in the
check's shape (None while there is none); `REFUSALS` maps a kind to the rule that refuses a
degenerate answer before it is scored (it then costs no attempt). A new kind of exercise adds
its widget here and names the kind on its check record: no page compares check ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from course import exercise_tools as tools
from course import practice
from course.app_pages import common
from course.app_pages.widgets.detectors import change_point_detector, score_detector
from course.app_pages.widgets.practice_data import practice_features, session_sample
from course.app_pages.widgets.state import init_widget
from exercises import causal
from exercises.checks import Check

AnswerWidget = Callable[[Check, str, Any, str], Any]   # (check, learner, company, key) -> answer


def number_answer(check: Check, learner: str, company, key: str) -> Any:
    """One number (an estimate, the collapse point), labelled by the check record."""
    return st.number_input(check.widget.label or "Your estimate", value=None, step=0.01,
                           key=f"{key}:number", placeholder="type a number")


def pilot_estimate(check: Check, learner: str, company, key: str) -> float | None:
    """Module 3 in the app: the pilot's two groups (their sizes and closed work per person-week
    before the first access date and up to the second) from the practice company's released tables, the
    dashboard shortcut's number beside them for comparison, and the learner's estimate."""
    st.caption("Do it here, or in pandas: your practice company's tables (`employees` with "
               "`ai_access_from`, `work_items`, `ai_events`, `calendar`) are in the practice zip "
               "below this exercise, under `company-practice-<your id>/data/`; the *measure* "
               "notebook on the Capstone page asks the same of your own company, with an interval.")
    first, second, last = tools.pilot_dates(company)
    later = ("everyone else" if second == last else "the next wave") + f" on **{second:%d %B %Y}**"
    st.caption(f"In your practice company the first wave got AI access on **{first:%d %B %Y}**, "
               f"{later}" + ("" if second == last else f", the last on **{last:%d %B %Y}**") + ". "
               "Closed work is counted by the day it was opened, so work started before someone's "
               "access counts as work without it.")
    rates = _pilot_rates(learner, company)
    st.dataframe(rates.rename(columns={"before the pilot": "closed work per person-week, before the pilot",
                                       "pilot window": "closed work per person-week, first to second access date"}),
                 hide_index=True, width="stretch")
    st.caption(f"For comparison, the dashboard shortcut (heavy AI users against non-users, before "
               f"the pilot against after the mandate) gives **{_shortcut(learner, company):+.1f}%** "
               "here. It compares two different populations, so it need not agree with the pilot.")
    init_widget(f"{key}:number", None)
    return st.number_input(check.widget.label or "Your estimate", step=0.1, key=f"{key}:number",
                           placeholder="type a number")


@st.cache_data(show_spinner=False, max_entries=256)
def _pilot_rates_cached(key: str, _company) -> pd.DataFrame:
    return tools.pilot_rates(_company)


@st.cache_data(show_spinner=False, max_entries=256)
def _shortcut_cached(key: str, _company) -> float:
    return float(causal.naive_estimate(_company).value)


def _pilot_rates(learner: str, company) -> pd.DataFrame:
    return _pilot_rates_cached(common.practice_key(learner), company)


def _shortcut(learner: str, company) -> float:
    return _shortcut_cached(common.practice_key(learner), company)


def label_sessions(check: Check, learner: str, company, key: str) -> dict[int, str]:
    """Module 2: a sample of the practice company's sessions, each labelled genuine or theater."""
    sample = session_sample(learner, company)
    st.caption("Each row is one AI session from your practice company. Label it from what "
               "the logs show: accepted output, prompts on your own documents, repeated prompts, "
               "whether work was linked to it.")
    order = ["session_id", "events", "prompt_category", "accepted_share", "distinct_prompts",
             "self_authored_share", "linked_work_items", "tokens_in", "tokens_out",
             "started_at", "tool"]
    shown = sample[[c for c in order if c in sample.columns]]
    st.dataframe(shown, hide_index=True, width="stretch")
    labels: dict[int, str] = {}
    cols = st.columns(2)
    for index, session in enumerate(shown["session_id"]):
        choice = cols[index % 2].radio(
            f"Session {int(session)}", ["genuine", "theater"], index=None, horizontal=True,
            key=f"{key}:session:{int(session)}")
        if choice is not None:
            labels[int(session)] = choice
    return labels


def choose_metrics(check: Check, learner: str, company, key: str) -> list[str]:
    """Module 6: metrics picked from the catalogue by name (judging their kind is the task)."""
    from exercises.metrics import METRIC_CATALOGUE

    names = {m.id: m.name for m in METRIC_CATALOGUE.values()}
    return st.multiselect("Metrics on your dashboard", list(names), format_func=names.get,
                          key=f"{key}:metrics")


def upload_table(check: Check, learner: str, company, key: str) -> pd.DataFrame | None:
    """A table made in pandas on the practice company, uploaded as CSV."""
    upload = st.file_uploader("Upload your weekly table as CSV (columns week, team, "
                              "ai_events, ai_users, closed_items)", type=["csv"],
                              key=f"{key}:upload")
    return pd.read_csv(upload) if upload is not None else None


def notebook_only(check: Check, learner: str, company, key: str) -> None:
    st.info("This exercise is done in the notebook: download it from the Capstone page.")
    return None


def _detector(draw: Callable[[str, Any, str], list[str]]) -> AnswerWidget:
    return lambda check, learner, company, key: draw(learner, company, key)


ANSWER_WIDGETS: dict[str, AnswerWidget] = {
    "number": number_answer,
    "pilot_estimate": pilot_estimate,
    "label_sessions": label_sessions,
    "flag_employees": _detector(score_detector),
    "flag_converts": _detector(change_point_detector),
    "choose_metrics": choose_metrics,
    "upload_table": upload_table,
    "notebook": notebook_only,
}


def blind_flags_refusal(answer: Any, learner: str, company) -> str | None:
    """Flagging every AI user is not a detector: refused before scoring."""
    if not isinstance(answer, list) or not answer:
        return None
    users = int((practice_features(learner, company)["ai_events"] > 0).sum())
    return practice.blind_flags_problem(len(set(answer)), users)


REFUSALS: dict[str, Callable[[Any, str, Any], str | None]] = {
    "flag_employees": blind_flags_refusal,
    "flag_converts": blind_flags_refusal,
}


def answer_input(check: Check, learner: str, company, key: str) -> Any:
    """The answer widget of the check record's kind; returns the answer in the check's shape."""
    return ANSWER_WIDGETS[check.widget.kind](check, learner, company, key)


def refusal(check: Check, answer: Any, learner: str, company) -> str | None:
    """Why an answer is refused before scoring (it then costs no attempt), or None."""
    rule = REFUSALS.get(check.widget.kind)
    return rule(answer, learner, company) if rule is not None else None


def scored_part(answer: Any) -> Any:
    """The part of an answer the registry's check scores (the estimate of a designed estimate)."""
    if isinstance(answer, dict) and "estimate" in answer:
        return answer["estimate"]
    return answer
