"""The exercise block: prompt, the answer widget of the check record's kind, a budgeted check
against truth held in server memory, banded feedback, tiered hints and the solution.

Everything exercise-specific is read from the check's record (exercises.checks.CHECKS): which
widget takes the answer, whether it needs a company (always the practice company), whether the
practice tables are offered for pandas work, and what the learner may see of a checked answer
(course.practice.learner_feedback reads its visibility).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from course import data as course_data
from course import practice
from course.app_pages import common
from course.app_pages.widgets.answers import answer_input, refusal, scored_part
from course.app_pages.widgets.simulator import simulator_params
from course.app_pages.widgets.state import (exercise_scores, forget_inputs, rerun_exercise, restore_inputs,
                                            save_inputs)
from datasets.errors import UserError
from exercises.checks import CHECKS, WITHIN, Check, run_check

PRACTICE_EXERCISE_NOTE = (":material/science: This exercise uses your **practice company**: a "
                          "second company of the same kind as yours, made for you alone. Its data "
                          "is shown here and your answer is checked against its hidden truth; "
                          "your graded notebooks use your own company, whose answers the app "
                          "never checks.")


def exercise_block(exercise, module_id: str, learner: str, previous: dict) -> None:
    """Prompt, answer widget, check (against truth held in server memory), tiered hints, solution.

    A fragment: moving a slider or clicking check reruns only the exercise, not the lesson.
    Checks are budgeted (AppConfig.attempt_budget); once the budget is spent the solution shows.
    Feedback is banded, never a score to solve for. After a success checking is free practice.
    The inputs are saved per learner and put back on a reload.
    """
    if exercise is None:
        return
    widget = CHECKS[exercise.check].widget
    with st.container(border=True):
        st.markdown(f"#### Exercise\n{exercise.prompt}")
        if widget.company:
            st.caption(PRACTICE_EXERCISE_NOTE)
        if widget.tables:
            st.download_button(
                "Download your practice company's tables (CSV zip)",
                data=lambda: course_data.practice_zip(common.get_config(), learner,
                                                      common.get_practice_company(learner), "csv"),
                file_name=f"company-practice-{learner}-csv.zip", mime="application/zip",
                key=f"exercise:{exercise.id}:practice_zip", icon=":material/download:")
        _exercise_fragment(exercise, module_id, learner, previous)


def uses_practice_company(check_id: str) -> bool:
    """Whether an exercise shows company data and is checked against a company's truth: then it
    is always the learner's practice company, never the graded one (the check record says)."""
    return CHECKS[check_id].widget.company


@st.fragment
def _exercise_fragment(exercise, module_id: str, learner: str, previous: dict) -> None:
    from streamlit.errors import StreamlitAPIException

    check: Check = CHECKS[exercise.check]
    key = f"exercise:{exercise.id}"
    item_id = f"{module_id}:{exercise.id}"
    budget = common.get_config().attempt_budget
    pass_mark = check.pass_mark
    try:   # the data shown and the truth checked: the practice company, never the graded one
        company = common.get_practice_company(learner) if check.widget.company else None
    except UserError as error:
        st.error(str(error))
        return
    saved = restore_inputs(key, learner, item_id)
    try:
        answer = answer_input(check, learner, company, key)
    except StreamlitAPIException:
        if not saved:
            raise
        forget_inputs(key, learner, item_id)   # inputs saved by an older version of the exercise
        rerun_exercise()
    save_inputs(key, learner, item_id, saved)
    state = practice.attempt_state(exercise_scores(learner, module_id, exercise.id),
                                   pass_mark, budget)
    clicked = st.button("Check my answer", key=f"{key}:check", type="primary",
                        disabled=not state.can_check)
    if clicked and state.can_check:
        try:
            truth = course_data.exercise_truth(exercise.check, company, answer,
                                               simulator_params=simulator_params(learner))
            problem = refusal(check, answer, learner, company)
            result = (practice.Rejected(problem) if problem
                      else run_check(exercise.check, scored_part(answer), truth))
        except UserError as error:
            st.error(f"This exercise cannot be checked right now: {error}")
            return
        if result.status != "not_attempted" and not problem:
            try:   # counted atomically: checks sent at once from several tabs never pass the budget
                counted = common.get_store().record_checked_attempt(
                    learner, module_id, exercise.id, _answer_text(answer),
                    result.status == "correct", result.score, budget=budget,
                    workshop_code=common.workshop_code())
            except UserError as error:
                st.error(f"Your check could not be saved, so its result is not shown: {error}")
                return
            state = practice.attempt_state(
                exercise_scores(learner, module_id, exercise.id), pass_mark, budget)
            if counted is None:          # the budget was spent meanwhile (another tab): no result
                result = None
        st.session_state[f"{key}:result"] = result
        if not state.can_check:          # the budget just ran out: redraw with the check closed
            rerun_exercise()
    result = st.session_state.get(f"{key}:result")
    if result is not None:
        band, text = practice.learner_feedback(exercise.check, result)
        if band == WITHIN.id:
            st.success(f"**Correct.** {text}", icon=":material/check_circle:")
        elif band == "not_attempted":
            st.info(text)
        else:
            st.error(f"**Not yet.** {text}", icon=":material/cancel:")
    elif ("exercise", exercise.id) in previous:
        earlier = previous[("exercise", exercise.id)]
        band, text = practice.feedback_band(float(earlier["score"] or 0))
        st.caption(f"Your last checked answer: {text}")
    st.caption(practice.budget_message(state))
    _hints(exercise, module_id, learner, key, state.solution_unlocked)


def _hints(exercise, module_id: str, learner: str, key: str, solution_unlocked: bool) -> None:
    shown = st.session_state.get(f"{key}:hints", 0)
    for tier, hint in enumerate(exercise.hints[:shown], start=1):
        st.info(f"Hint {tier}: {hint}", icon=":material/help:")
    cols = st.columns(2)
    if shown < len(exercise.hints):
        if cols[0].button(f"Show hint {shown + 1} of {len(exercise.hints)}", key=f"{key}:hint"):
            common.get_store().record_hint(learner, module_id, exercise.id, shown + 1)
            st.session_state[f"{key}:hints"] = shown + 1
            rerun_exercise()
    if solution_unlocked or st.session_state.get(f"{key}:solution"):
        st.markdown(f"**Solution.** {exercise.solution}")
    elif cols[1].button("Give up and show the solution", key=f"{key}:show_solution"):
        common.get_store().record_hint(learner, module_id, exercise.id, len(exercise.hints) + 1)
        st.session_state[f"{key}:solution"] = True
        rerun_exercise()


def _answer_text(answer: Any) -> str | None:
    """A compact text of the answer for the progress store (tables are summarised by shape)."""
    if answer is None:
        return None
    if isinstance(answer, pd.DataFrame):
        return f"table {answer.shape[0]}x{answer.shape[1]}"
    if isinstance(answer, (dict, list, tuple, set)):
        return json.dumps(sorted(answer) if isinstance(answer, set) else answer, default=str)[:2000]
    return str(answer)[:2000]
