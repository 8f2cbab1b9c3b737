"""My learning: the learner's own activity beside their outcomes — the course's lesson, applied to itself."""

import altair as alt
import streamlit as st

from course.app_pages import common
from course.charts import PALETTE
from exercises.checks import band_of_credit
from course.progress import learning_mirror, pre_post_scores

# What a learner sees of an exercise: its band, never the exact score (that stays in the progress
# store and on the instructor's pages). An exact score in the "close" band would give the distance
# to the hidden truth, which is what the banded feedback exists to withhold. The bands are the one
# ladder of exercises.checks.bands, in words.


def exercise_band(score) -> str:
    """The band of the learner's best checked answer, in words ('not checked yet' without one)."""
    if score is None or score != score:    # None or NaN
        return "not checked yet"
    return band_of_credit(float(score)).name


def share_in_words(share) -> str:
    """A share of questions right at the first try, in whole percent ('none answered' without)."""
    if share is None or share != share:
        return "none answered"
    return f"{float(share):.0%}"

learner = common.require_learner()
store = common.get_store()
modules, _ = common.get_modules()

st.title("My learning")
st.markdown(
    "This page is yours alone: instructors and trainers only ever see groups of five or more. "
    "It puts what you *did* (time on pages, attempts, hints) beside what you *achieved* "
    "(mastery, how close your exercise answers came) — the same activity-versus-outcome "
    "question the course asks of AI dashboards. Lots of activity is not the same as learning.")

summary = store.learner_summary(learner)
cols = st.columns(4)
cols[0].metric("Minutes in the course", f"{summary['seconds_total'] / 60:.0f}")
cols[1].metric("Answers submitted", summary["attempts_total"])
cols[2].metric("Hints opened", summary["hints_total"])
levels = [m for m in summary["mastery"].values() if m in ("proficient", "mastered")]
cols[3].metric("Modules proficient or better", f"{len(levels)} of {len(modules)}")

mirror = learning_mirror(store, learner, modules)
if mirror.empty:
    st.info("No modules yet.")
else:
    names = ["minutes on the page", "answers submitted", "hints opened"]
    activity = mirror.rename(columns=dict(zip(["minutes_on_page", "attempts", "hints_opened"],
                                              names)))
    activity = activity.melt(id_vars=["module"], value_vars=names, var_name="activity",
                             value_name="amount")
    chart = alt.Chart(activity).mark_bar().encode(
        y=alt.Y("module:N", title=None, sort=list(mirror["module"]),
                axis=alt.Axis(labelLimit=260)),
        x=alt.X("amount:Q", title="Activity"),
        color=alt.Color("activity:N", scale=alt.Scale(domain=names, range=list(PALETTE.values())[:3]),
                        title=None, legend=alt.Legend(orient="top")),
        yOffset="activity:N",
        tooltip=["module:N", "activity:N", "amount:Q"])
    text = chart.mark_text(align="left", dx=3, color="#333333").encode(text="amount:Q")
    st.altair_chart((chart + text).properties(height=max(160, 60 * len(mirror))),
                    width="stretch")
    busiest = mirror.sort_values("attempts", ascending=False).iloc[0]
    st.markdown(
        f"**What it shows:** you spent about {mirror['minutes_on_page'].sum():.0f} minute(s) on module "
        f"pages and submitted {int(mirror['attempts'].sum())} answers; your most active module "
        f"was *{busiest['module']}* ({int(busiest['attempts'])} answers, mastery "
        f"**{busiest['mastery']}**). Compare activity with the mastery column below.")
    shown = mirror.drop(columns=["module_id"])
    if "first_try_right" in shown:
        shown["first_try_right"] = shown["first_try_right"].map(share_in_words)
    if "best_exercise_score" in shown:
        shown["best_exercise_check"] = shown.pop("best_exercise_score").map(exercise_band)
    shown = shown.rename(columns={
        "minutes_on_page": "minutes on the page", "hints_opened": "hints opened",
        "first_try_right": "questions right at the first try",
        "best_exercise_check": "best exercise check"})
    st.dataframe(shown, hide_index=True, width="stretch")
    st.caption("Exercises show the band of your best checked answer (within the tolerance, close, "
               "off), never a score: your graded notebooks are scored on your own company, and "
               "the exercises on your practice company.")

try:
    from course.modules import load_pre_post_forms
    from course.practice import pre_post_forms
    forms = load_pre_post_forms().forms
except Exception:  # the test is optional content; its absence must not hide the rest
    forms = {}
if forms:
    # The learner sees which tests they took, not a score: the test measures the course, and its
    # result is reported for the class with an interval (the instructor's page), never per learner.
    pre_form, post_form = pre_post_forms(learner)
    taken = {kind: pre_post_scores(store, learner, {q.id: q.answer for q in forms[form]})[kind] is not None
             for kind, form in (("pretest", pre_form), ("posttest", post_form))}
    st.subheader("Before and after")
    st.caption("The two tests ask about the same ideas with different questions. They measure "
               "the course, not you: your answers count only in the class's result, which your "
               "instructor sees for groups of at least five.")
    left, right = st.columns(2)
    left.metric("Pre-test", "taken" if taken["pretest"] else "not taken")
    right.metric("Post-test", "taken" if taken["posttest"] else "not taken")
