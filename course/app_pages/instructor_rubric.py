"""Staff: rubric grading of written answers (the memo), one question at a time across the class.

Reading every learner's answer to the same question in a row is how graders stay consistent
(nbgrader's formgrader and CoCalc users ask for this view). The grades are grader.rubric's: nbgrader
manual grades with the comment the learner reads, and who graded when. Answers are shown as plain
text, never rendered: a memo holding HTML or markdown is shown as written.
"""

import hashlib

import streamlit as st

from course import auth
from course.app_pages.instructor_common import choose_assignment, one_line, open_page
from datasets.errors import UserError
from grader import review, rubric

course = open_page("Rubric grading", "instructor_rubric.py")
with_rubric = [name for name in review.released(course) if course.assignment(name).rubric]
assignment = choose_assignment(course, with_rubric)
if assignment is None:
    st.info("No released assignment has written answers to grade: release the memo on the Assignments page.")
    st.stop()
spec = course.assignment(assignment)
QUESTION_KEY = f"_rubric_question:{assignment}"
questions = [part.grade_id for part in spec.rubric]
question = st.radio("Question", questions, horizontal=True, key=QUESTION_KEY,
                    format_func=lambda grade_id: f"{spec.rubric_part(grade_id).question} "
                                                 f"({spec.rubric_part(grade_id).points:g} points)")
part = spec.rubric_part(question)
anonymous = st.toggle("Anonymous grading: learner ids hidden, answers in a shuffled order", key="_rubric_anonymous")

found = rubric.answers(course, assignment, question)
if not found:
    st.info(f"No graded submission of {assignment} yet: grade it on the Assignments page "
            "(nothing runs for written answers; grading records each submission for you to read here).")
    st.stop()
if anonymous:  # a fixed order that is not the roster's, so a position does not give the learner away
    found.sort(key=lambda a: hashlib.sha256(f"{assignment}:{a.learner}".encode()).hexdigest())

done = sum(not a.needs_grade for a in found)
st.progress(done / len(found), text=f"{done} of {len(found)} graded for this question")
st.caption(" · ".join(f"{spec.rubric_part(grade_id).question}: {graded} of {total}"
                      for grade_id, (graded, total) in rubric.progress(course, assignment).items()))

POSITION_KEY = f"_rubric_position:{assignment}:{question}"
position = min(max(int(st.session_state.get(POSITION_KEY, 0)), 0), len(found) - 1)
answer = found[position]


def move(step: int) -> None:
    st.session_state[POSITION_KEY] = (position + step) % len(found)


def next_question() -> None:
    st.session_state[QUESTION_KEY] = questions[(questions.index(question) + 1) % len(questions)]


who = f"Learner {position + 1}" if anonymous else answer.learner
st.subheader(f"{who} · {position + 1} of {len(found)}")
if answer.points is None:
    st.caption("Not graded yet.")
elif answer.needs_grade:
    st.warning(f"Graded {answer.points:g} before this answer was resubmitted: read it again.", icon=":material/update:")
else:
    by = f" by {answer.graded_by}" if answer.graded_by and not anonymous else ""
    st.caption(f"Graded {answer.points:g} of {part.points:g}{by}"
               + (f" on {answer.graded_at[:16].replace('T', ' ')} UTC" if answer.graded_at else "") + ".")
with st.container(border=True):
    if answer.blank:
        st.caption("No answer was written.")
    else:
        st.text(answer.text)  # plain text: the learner's markdown and HTML are shown as written

levels = [level.points for level in part.rubric]
descriptors = {level.points: level.descriptor for level in part.rubric}
key = f"{assignment}:{question}:{answer.learner}"
chosen = st.radio("Rubric level", levels, key=f"_rubric_level:{key}",
                  index=levels.index(answer.points) if answer.points in levels else None,
                  format_func=lambda points: f"{points:g} — {descriptors[points]}")
comment = st.text_area("Comment for the learner (shown in their feedback with the level's description)",
                       value=answer.comment, key=f"_rubric_comment:{key}", max_chars=2000)
left, middle, right, last = st.columns(4)
save = left.button("Save and next learner", type="primary", icon=":material/done:")
middle.button("Previous learner", on_click=move, args=(-1,))
right.button("Next learner", on_click=move, args=(1,))
last.button("Next question", on_click=next_question, disabled=len(questions) < 2)
if save:
    if chosen is None:
        st.error("Pick a rubric level first.", icon=":material/error:")
    else:
        try:
            rubric.grade_answer(course, assignment, answer.learner, question, chosen, comment,
                                grader=auth.staff_user(st.session_state) or "staff")
        except UserError as error:
            st.error(one_line(error), icon=":material/error:")
        else:
            st.session_state[POSITION_KEY] = (position + 1) % len(found)
            st.rerun()
st.caption("Learners see the level's description and your comment in their feedback once their submission is "
           "final and feedback is written again (Gradebook page); the memo's total goes to the export.")
