"""Instructor: how the class is doing in the course modules (aggregates of at least 5 learners), what to re-teach.

The roster and access codes, assignments and the gradebook have their own instructor pages."""

import pandas as pd
import streamlit as st

from course import analytics
from course.app_pages import common
from course.modules import pre_post_test
from datasets.errors import UserError

config = common.get_config()
st.title("Instructor: how the class is doing")

common.require_staff("instructor", "instructors")

K = analytics.MIN_GROUP_SIZE
st.caption(
    f"Everything here is aggregate. A group of fewer than {K} learners is hidden, and so is any "
    "cell that would let a hidden one be worked out by subtraction: those cells read "
    f"'{analytics.HIDDEN_LABEL}'. No page shows a single learner's answers; the course asks you "
    "to evaluate the teaching, not to rank people.")

modules, content_errors = common.get_modules()
titles = {m.id: f"{m.number}. {m.title}" for m in modules}
order = {m.id: m.number for m in modules}
prompts = {(m.id, q.id): q.prompt for m in modules
           for q in (*m.quiz, *m.retrieval, *(c.predict for c in m.charts if c.predict))}
try:
    test_questions = {q.id: q.prompt for q in pre_post_test()}
except UserError:  # a broken pre/post-test file only loses the prompt texts on this page
    test_questions = {}

if st.button("Refresh", icon=":material/refresh:"):
    st.rerun()


@st.cache_data(show_spinner="Summarising the class…", max_entries=4)
def _report(url: str, fingerprint: tuple, content_key: tuple, _modules: list):
    """Recomputed only when an attempt, hint or learner was added (or the content changed)."""
    return analytics.class_report(analytics.load_class_data(common.get_store()), _modules)


store = common.get_store()
report = _report(config.database_url, analytics.class_fingerprint(store),
                 tuple((m.id, len(m.quiz)) for m in modules), modules)


def labelled(frame):
    """Module titles instead of ids where the content knows them."""
    shown = analytics.display_frame(frame)
    if "module_id" in shown:
        shown = shown.iloc[sorted(range(len(shown)), key=lambda i: (
            order.get(shown["module_id"].iloc[i], len(order)), shown["module_id"].iloc[i]))]
        shown.insert(0, "module", shown["module_id"].map(lambda m: titles.get(m, m)))
        shown = shown.drop(columns="module_id")
    return shown


st.header("Re-teach")
if report.reteach.empty:
    st.write("No question has a wrong answer chosen by "
             f"{analytics.RETEACH_SHARE:.0%} or more of at least {K} respondents.")
for flag in report.reteach.itertuples():
    prompt = prompts.get((flag.module_id, flag.item_id)) or test_questions.get(flag.item_id,
                                                                               flag.item_id)
    st.warning(f"**{flag.flag}** — {flag.share:.0%} chose \u201c{flag.option}\u201d on "
               f"\u201c{prompt}\u201d ({titles.get(flag.module_id, flag.module_id)}, "
               f"{flag.kind}).", icon=":material/school:")

st.header("Class progress by module")
st.caption("Learners at each mastery level: attempted below 70%, familiar 70–99%, proficient "
           "100%, mastered = proficient and right again in a later review.")
if report.progress.empty:
    st.write("No learner has signed in yet.")
else:
    st.dataframe(labelled(report.progress), hide_index=True, width="stretch")

st.header("Pre/post test")
gain = report.gain
if not gain.shown:
    st.write(f"Shown once at least {K} learners have taken both the pre-test and the post-test.")
else:
    cols = st.columns(4)
    cols[0].metric("Learners with both tests", gain.learners)
    cols[1].metric("Pre-test mean", f"{gain.pre_mean:.0%}")
    cols[2].metric("Post-test mean", f"{gain.post_mean:.0%}",
                   delta=f"{100 * gain.mean_gain:+.0f} points",
                   help=f"95% interval of the class's gain: {100 * gain.gain_low:+.0f} to "
                        f"{100 * gain.gain_high:+.0f} points (learners resampled).")
    cols[3].metric("Normalized gain", "n/a" if gain.normalized_gain is None
                   else f"{gain.normalized_gain:.2f}",
                   help="(post − pre) / (1 − pre): the share of the possible improvement made.")
    st.caption(f"The class gained {100 * gain.mean_gain:+.0f} points, with a 95% interval from "
               f"{100 * gain.gain_low:+.0f} to {100 * gain.gain_high:+.0f}: "
               + ("the whole interval is above zero." if gain.gain_low > 0 else
                  "the interval includes no gain at all, so this class's result could be chance.")
               + " Reported for the class only, never per learner.")

shift = report.misconceptions
if gain.shown and len(shift):
    st.subheader("Which misconceptions moved")
    st.caption("Share of the learners who took both tests whose first answer carried each "
               "misconception, on the pre-test and on the post-test (groups under "
               f"{K} are not shown).")
    st.dataframe(shift.rename(columns={"before": "pre-test", "after": "post-test"}),
                 hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="percent")
                                for c in ("pre-test", "post-test", "change")})

st.header("Answer spreads")
st.caption("Each learner's first answer to each question, with the misconception each wrong "
           "option reveals.")
spreads = report.spreads
if spreads.empty:
    st.write("No answers yet.")
groups = sorted(spreads.groupby(["module_id", "item_id", "kind"], sort=False),
                key=lambda item: (order.get(item[0][0], len(order)), item[0][0]))
for (module_id, item_id, kind), group in groups:
    prompt = prompts.get((module_id, item_id)) or test_questions.get(item_id, item_id)
    respondents = group["respondents"].iloc[0]
    size = f"fewer than {K} answered" if pd.isna(respondents) else f"{respondents} answered"
    with st.expander(f"{titles.get(module_id, module_id)} · {kind} · {prompt} ({size})"):
        table = analytics.display_frame(group[["option", "correct", "misconception", "count",
                                               "share"]])
        table["correct"] = table["correct"].map({True: "right answer", False: ""})
        st.dataframe(table, hide_index=True, width="stretch")

st.header("Hint use")
if report.hints.empty:
    st.write("No hints or exercise attempts yet.")
else:
    st.dataframe(labelled(report.hints), hide_index=True, width="stretch")

st.header("Export")
st.download_button("Download all aggregates (CSV files in a zip)",
                   data=analytics.report_zip(report), file_name="class-aggregates.zip",
                   mime="application/zip", icon=":material/download:")
if content_errors:
    st.caption(f"{len(content_errors)} module file(s) could not be loaded; their questions show "
               "by id.")
