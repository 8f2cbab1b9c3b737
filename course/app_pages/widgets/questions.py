"""Questions: multiple choice with explained feedback, and the pre/post test. Every answer is recorded."""

from __future__ import annotations

from typing import Any

import streamlit as st

from course import practice
from course.app_pages import common
from datasets.errors import UserError

KIND_LABEL = {"quiz": "Check answer", "retrieval": "Check answer", "prediction": "Commit my prediction",
              "pretest": "Save answer", "posttest": "Save answer", "review": "Check answer"}


def last_attempts(learner: str, module_id: str) -> dict[tuple[str, str], dict]:
    """The learner's latest attempt per (kind, item) in a module: restores state after a reload."""
    frame = common.get_store().attempts_frame(module_id=module_id, learner_id=learner)
    if frame.empty:
        return {}
    latest = frame.groupby(["kind", "item_id"], sort=False).tail(1)
    return {(row.kind, row.item_id): row._asdict() for row in latest.itertuples(index=False)}


def _record(learner: str, module_id: str, item_id: str, kind: str, answer: Any,
            correct: bool | None, score: float | None, misconception: str | None) -> None:
    try:
        common.get_store().record_attempt(learner, module_id, item_id, kind, answer, correct,
                                          score, misconception,
                                          common.workshop_code())
    except UserError as error:
        st.warning(f"Your answer was checked but could not be saved: {error}")


def _show_feedback(feedback, chosen: str | None, kind: str) -> None:
    if kind in ("pretest", "posttest"):
        st.caption(f"Saved: {chosen}")
        return
    if feedback.correct:
        st.success(f"**Right.** {feedback.message}", icon=":material/check_circle:")
    else:
        st.error(f"**Not quite.** {feedback.message}", icon=":material/cancel:")
        if feedback.misconception:
            st.caption(f"The idea behind that answer: *{feedback.misconception.replace('-', ' ')}*")


FIRST_ANSWER_NOTE = "Your first answer counts towards mastery; answering again is practice."


def question(q, module_id: str, kind: str, learner: str, previous: dict | None = None) -> bool:
    """A multiple-choice question with explained feedback; True once the learner has answered.

    Every answer is recorded; for a quiz or retrieval question mastery counts the first one
    (course.practice.mastery_scores), and the page says so once the learner has answered.
    """
    from course.modules import score_answer

    key = f"{kind}:{module_id}:{q.id}"
    state = st.session_state.setdefault("_answers", {})
    with st.form(f"form:{key}", border=True):
        options = [o.text for o in practice.shuffled(q.options, learner, q.id)]
        choice = st.radio(f"**{q.prompt}**", options, index=None, key=f"choice:{key}")
        submitted = st.form_submit_button(KIND_LABEL.get(kind, "Check answer"))
    if submitted:
        if choice is None:
            st.warning("Choose one of the options first.")
        else:
            feedback = score_answer(q, choice)
            _record(learner, module_id, q.id, kind, choice, feedback.correct,
                    1.0 if feedback.correct else 0.0, feedback.misconception)
            reviewed_module = q.objective.partition(":")[0] if ":" in q.objective else None
            if kind == "retrieval" and reviewed_module:   # a later, mixed review of that module
                _record(learner, reviewed_module, q.id, "review", choice, feedback.correct,
                        1.0 if feedback.correct else 0.0, feedback.misconception)
            state[key] = (choice, feedback)
    practice_note = FIRST_ANSWER_NOTE if kind in practice.FIRST_ANSWER_KINDS else ""
    if key in state:
        choice, feedback = state[key]
        _show_feedback(feedback, choice, kind)
        if practice_note:
            st.caption(practice_note)
        return True
    if previous is not None and previous.get("answer") is not None:
        feedback = score_answer(q, previous["answer"])
        st.caption(f"Earlier you answered: *{previous['answer']}* "
                   f"({'right' if feedback.correct else 'not right'}). "
                   + (practice_note or "You can answer again."))
        return True
    return False


def pre_post_test(kind: str, learner: str) -> None:
    """The short misconception test (before module 1, after the capstone): one form, no feedback.

    The pre- and post-test are two parallel forms; which one comes first is counterbalanced
    across learners (course.practice.pre_post_forms), so the gain is not the memory of an item.
    """
    try:
        from course.modules import load_pre_post_forms
        forms = load_pre_post_forms()
    except (ImportError, UserError) as error:
        st.info(f"The {kind} is not available: {error}")
        return
    form = practice.pre_post_forms(learner)[0 if kind == "pretest" else 1]
    questions = forms.forms[form]
    title = ("Before you start: a 3-minute check" if kind == "pretest"
             else "After the course: the same ideas, new questions")
    with st.form(f"form:{kind}", border=True):
        st.subheader(title)
        st.caption("Answer from what you think now; there is no score and no feedback here. "
                   "Comparing it with a parallel set of questions at the other end of the course "
                   "shows what the course changed.")
        choices = {}
        for number, q in enumerate(questions, start=1):
            choices[q.id] = st.radio(f"{number}. {q.prompt}",
                                     [o.text for o in practice.shuffled(q.options, learner, q.id)],
                                     index=None, key=f"choice:{kind}:{q.id}")
        submitted = st.form_submit_button("Save my answers", type="primary")
    if submitted:
        answered = {qid: choice for qid, choice in choices.items() if choice is not None}
        if not answered:
            st.warning("Choose at least one answer, or skip the check for now.")
        by_id = {q.id: q for q in questions}
        for qid, choice in answered.items():
            right = choice == by_id[qid].answer     # stored for the class gain, never shown here
            _record(learner, kind, qid, kind, choice, right, 1.0 if right else 0.0, None)
        if answered:
            st.session_state[f"{kind}_saved"] = True
            st.rerun()
    if kind == "pretest" and st.button("Skip the check for now", key="skip_pretest"):
        st.session_state["pretest_skipped"] = True
        st.rerun()

