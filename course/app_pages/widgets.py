"""Widgets that replace lesson directives: questions, predict-then-reveal charts, the simulator,
exercises. They record every attempt and hint; the scoring itself lives in pure modules."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from course import data as course_data
from course import exercise_tools as tools
from course import practice
from course import simulator as sim
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


# ----------------------------------------------------------------------------- charts

def chart_block(chart_id: str, ref, module_id: str, learner: str, previous: dict) -> None:
    """Predict first (when the chart asks for it), then reveal the chart, summary and table."""
    from course.charts import CHARTS

    if ref is not None and ref.predict is not None:
        st.markdown("**Predict before you look.** The chart appears once you commit.")
        committed = question(ref.predict, module_id, "prediction", learner,
                             previous.get(("prediction", ref.predict.id)))
        if not committed:
            return
    if chart_id not in CHARTS:
        st.error(f"This lesson refers to a chart '{chart_id}' the app does not know.")
        return
    from course.charts import NEEDS_LABELS

    try:
        if chart_id in NEEDS_LABELS:   # labels exist only on the practice company
            company, key = common.get_practice_company(learner), common.practice_key(learner)
        else:
            company, key = common.get_company(learner), common.company_key(learner)
        payload = common.chart_payload(chart_id, key, company)
    except UserError as error:
        st.error(str(error))
        return
    if chart_id in NEEDS_LABELS:
        st.caption(PRACTICE_CHART_NOTE)
    render_chart(payload, chart_id, ref.takeaway if ref is not None else None)


PRACTICE_CHART_NOTE = (":material/science: This chart uses your **practice company**: a second "
                       "company of the same kind as yours, made for you alone, whose hidden "
                       "labels the app may use. Your own company's hidden truth never reaches "
                       "the app; your notebooks are graded on it.")
PRACTICE_EXERCISE_NOTE = (":material/science: This exercise uses your **practice company**: a "
                          "second company of the same kind as yours, made for you alone. Its data "
                          "is shown here and your answer is checked against its hidden truth; "
                          "your graded notebooks use your own company, whose answers the app "
                          "never checks.")


def render_chart(payload: common.ChartPayload, key: str, takeaway: str | None = None) -> None:
    """The chart, then the same information as text: a summary, the takeaway, the data table."""
    st.vega_lite_chart(spec=payload.vega_spec(), width="stretch", key=f"chart:{key}",
                       alt=payload.summary)
    st.markdown(f"**What the chart shows:** {payload.summary}")
    if takeaway:
        st.info(takeaway, icon=":material/lightbulb:")
    with st.expander("Data table for this chart"):
        st.dataframe(payload.table, hide_index=True, width="stretch")


# ----------------------------------------------------------------------------- simulator

STAGE_TEXT = {
    "metric": "Usage is measured and shown. Nobody is rewarded for it.",
    "incentive": "Usage is rewarded; people use the tools more on real work.",
    "gaming": "The reward also buys performative usage from those willing to game it.",
    "combined": "Gaming spreads as it pays, and performing takes time from real work.",
    "sandbox": "Every control is yours.",
}


def simulator_params(learner: str) -> sim.SimParams:
    """The learner's own sandbox population and starting settings (the exercise's variant)."""
    secret = common.get_config().course_secret
    return sim.learner_params(practice.variant_key(secret, learner, "goodhart-simulator"))


def simulator_block(stage: str, module_id: str, gate_open: bool = True,
                    learner: str | None = None) -> None:
    """One stage of the Goodhart simulator; revealed after the prediction just before it.

    The earlier stages run the same population for everyone (the lesson's shared picture); the
    sandbox runs the learner's own variant, the one the exercise asks about.
    """
    if stage not in sim.STAGES:
        st.error(f"Unknown simulator stage '{stage}'.")
        return
    if not gate_open:
        st.caption(":material/lock: Answer the prediction above to run this stage of the "
                   "simulator.")
        return
    with st.container(border=True):
        st.markdown(f"**Goodhart simulator — {stage}.** {STAGE_TEXT[stage]}")
        _simulator_stage(stage, module_id, learner)


@st.fragment
def _simulator_stage(stage: str, module_id: str, learner: str | None) -> None:
    """The stage's sliders and run: a fragment, so moving a slider reruns only this stage."""
    defaults = (simulator_params(learner) if stage == "sandbox" and learner
                else sim.SimParams(stage=stage))
    values: dict[str, Any] = {"stage": stage}
    if stage != "metric":
        values["reward"] = st.slider(
            "How strongly usage is rewarded", 0.0, 1.0,
            0.8 if stage == "combined" else defaults.reward, 0.01,
            key=f"sim:{module_id}:{stage}:reward",
            help="0 = usage is not rewarded at all; 1 = usage is heavily rewarded")
    if stage == "sandbox":
        cols = st.columns(3)
        values["gamers_share"] = cols[0].slider(
            "Share willing to game at the start", 0.0, 1.0, defaults.gamers_share, 0.05,
            key=f"sim:{module_id}:gamers")
        values["gaming_cost"] = cols[1].slider(
            "Output lost to performing", 0.0, 1.0, defaults.gaming_cost, 0.05,
            key=f"sim:{module_id}:cost")
        values["spread"] = cols[2].slider(
            "How fast gaming spreads", 0.0, 1.0, defaults.spread, 0.05,
            key=f"sim:{module_id}:spread")
        st.caption("This sandbox is your own: its workers and starting values differ from "
                   "your classmates'. The exercise asks for the collapse point with these three "
                   f"at their starting values ({defaults.gamers_share:g}, "
                   f"{defaults.gaming_cost:g}, {defaults.spread:g}).")
    from dataclasses import replace

    params = replace(defaults, **values)
    result, payload = _simulation(params)
    cols = st.columns(3)
    cols[0].metric("Usage change", f"{result.usage_change_pct:+.0f}%")
    cols[1].metric("Output change", f"{result.output_change_pct:+.1f}%")
    cols[2].metric("Usage–output correlation", f"{result.final_correlation:.2f}",
                   delta=f"{result.final_correlation - result.baseline_correlation:+.2f} "
                         "since the reward", delta_color="off")
    render_chart(payload, f"sim:{module_id}:{stage}")


@st.cache_resource(show_spinner=False, max_entries=512)
def _simulation(params: sim.SimParams) -> tuple[sim.SimResult, common.ChartPayload]:
    """One simulator run and its chart, cached per parameter set (sliders revisit values) and
    shared read-only."""
    from course.charts import simulator_chart

    result = sim.simulate(params)
    chart = simulator_chart(result, params)
    return result, common.prepare_chart(chart.chart.to_dict(), chart.summary, chart.table)


# ----------------------------------------------------------------------------- the checker game

def checker_game_block(game, module_id: str, learner: str) -> None:
    """A visible checker the learner can game, then the hidden check on their own hidden team."""
    from course import checker_game as cg

    if game is None:
        return
    key = f"game:{module_id}"
    with st.container(border=True):
        st.markdown(f"#### Game the checker\n{game.prompt}")
        real = st.slider(game.real_label, 0, cg.REAL_MAX, cg.BASELINE_REAL, 1, key=f"{key}:real")
        padded = st.slider(game.padded_label, 0, cg.PADDED_MAX, 0, 1, key=f"{key}:padded")
        if st.button("Ask the dashboard's checker", key=f"{key}:visible"):
            st.session_state[f"{key}:checked"] = True
        if not st.session_state.get(f"{key}:checked"):
            return
        score = cg.dashboard_score(real, padded, game.target)
        st.metric("Dashboard score", f"{score:.0%}",
                  help=f"Sessions per person per week against the target of {game.target:g}")
        if score < 1.0:
            st.warning(f"Not green yet: {real + padded} sessions per person per week, the target "
                       f"is {game.target:g}. Change the habits and ask again.",
                       icon=":material/hourglass_empty:")
            return
        st.success(game.visible_pass, icon=":material/check_circle:")
        st.caption(game.hidden_intro)
        if st.button("Run the hidden check", key=f"{key}:hidden", type="primary"):
            st.session_state[f"{key}:hidden_plan"] = (real, padded)
        plan = st.session_state.get(f"{key}:hidden_plan")
        if plan is None:
            return
        secret = common.get_config().course_secret
        team = cg.team_variant(practice.variant_key(secret, learner, "checker-game"))
        verdict = cg.hidden_check(plan[0], plan[1], team, game.target)
        cols = st.columns(2)
        cols[0].metric("Your plan: dashboard", f"{verdict.dashboard:.0%}")
        cols[0].metric("Your plan: the hidden team's output", f"{verdict.output_change_pct:+.1f}%",
                       help="Change in weekly delivered work against the team's habits before "
                            "the dashboard existed")
        cols[1].metric("Best plan for output: dashboard", f"{verdict.best_dashboard:.0%}")
        cols[1].metric("Best plan for output: output", f"{verdict.best_output_change_pct:+.1f}%")
        st.markdown(f"**What the two checks say:** your plan ({plan[0]} real and {plan[1]} "
                    f"padded sessions) scores {verdict.dashboard:.0%} on the dashboard and changes "
                    f"the hidden team's output by {verdict.output_change_pct:+.1f}%. The plan that "
                    f"delivers the most output scores {verdict.best_dashboard:.0%} on the dashboard.")
        if verdict.gamed:
            st.error("Your plan passed the dashboard while the hidden team delivers less than it "
                     "did before the dashboard existed.", icon=":material/trending_down:")
        st.info(game.lesson, icon=":material/lightbulb:")


# ----------------------------------------------------------------------------- exercises

def _degenerate_answer(exercise, answer: Any, learner: str, company) -> str | None:
    """Why an answer is refused before scoring (it then costs no attempt), or None."""
    if exercise.check == "measure.productivity_effect" and isinstance(answer, dict):
        features = _features(learner, company)
        size = practice.comparison_group_size(features["ai_events"], answer["comparison_group"])
        problem = practice.comparison_group_problem(size, len(features))
        if problem is None and "users" in answer:
            problem = practice.user_group_problem(int(answer["users"]), len(features))
        return problem
    if exercise.check.startswith("detect.") and isinstance(answer, list) and answer:
        users = int((_features(learner, company)["ai_events"] > 0).sum())
        return practice.blind_flags_problem(len(set(answer)), users)
    return None


def _scored_part(answer: Any) -> Any:
    """The part of an answer the registry's check scores (the estimate of a designed estimate)."""
    if isinstance(answer, dict) and "estimate" in answer:
        return answer["estimate"]
    return answer


def _comparison_estimate(key: str, learner: str, company) -> dict | None:
    """Module 3 in the app: the learner defines both groups (their sizes are shown), reads the
    groups' closed work per person per week before and after the mandate, and gives the estimate."""
    features = _features(learner, company)
    groups = practice.COMPARISON_GROUPS
    st.caption("Do it here, or in pandas: your practice company's tables (`ai_events`, "
               "`work_items`, `employees`, `calendar`) are in the practice zip below this "
               "exercise, under `company-practice-<your id>/data/`; the *measure* notebook on the "
               "Capstone page uses the same definitions on your own company.")
    _init(f"{key}:group", "tenth-of-median")
    choice = st.radio("Your comparison group (the non-users)", list(groups),
                      format_func=lambda g: groups[g][0], key=f"{key}:group")
    comparison = tools.comparison_group_ids(features, choice)
    st.caption(f"In your practice company this definition selects **{len(comparison)}** of "
               f"{len(features)} people.")
    _init(f"{key}:performed", 1.0)
    most = st.slider("Your users: among people with at least the median number of AI events since "
                     "the mandate, keep those whose habits look performed at most this much in both "
                     "halves of the time since then (0–1, the detect notebook's scale)", 0.2, 1.0,
                     step=0.02, key=f"{key}:performed", format="%.2f")
    users = _genuine_looking(learner, company, most) - comparison
    st.caption(f"Your users: **{len(users)}** people.")
    rates = _group_rates(learner, company, choice, round(float(most), 2))
    st.dataframe(rates.rename(columns={"before": "closed work per person-week, before the mandate",
                                       "after": "closed work per person-week, after"}),
                 hide_index=True, width="stretch")
    _init(f"{key}:number", None)
    estimate = st.number_input("Productivity effect (percent)", step=0.1, key=f"{key}:number",
                               placeholder="type a number")
    if estimate is None:
        return None
    return {"comparison_group": choice, "most_performed": most, "users": len(users),
            "estimate": estimate}


@st.cache_data(show_spinner=False, max_entries=256)
def _genuine_looking_cached(key: str, most: float, _company) -> set[str]:
    return tools.genuine_looking_users(_company, most)


@st.cache_data(show_spinner=False, max_entries=256)
def _group_rates_cached(key: str, choice: str, most: float, _company) -> pd.DataFrame:
    features = _features_cached(key, _company)
    comparison = tools.comparison_group_ids(features, choice)
    users = _genuine_looking_cached(key, most, _company) - comparison
    return tools.group_rates(_company, {"your users": users, "comparison group": comparison})


def _group_rates(learner: str, company, choice: str, most: float) -> pd.DataFrame:
    return _group_rates_cached(common.practice_key(learner), choice, most, company)


def _genuine_looking(learner: str, company, most: float) -> set[str]:
    return _genuine_looking_cached(common.practice_key(learner), round(float(most), 2), company)


def _exercise_input(exercise, learner: str, company) -> Any:
    """The answer widget for the exercise's kind; returns the answer in the check's shape."""
    key = f"exercise:{exercise.id}"
    kind = exercise.kind
    if exercise.check == "measure.productivity_effect":
        return _comparison_estimate(key, learner, company)
    if exercise.check in ("goodhart.collapse_point", "measure.theater_share",
                          "measure.productivity_effect") or kind in ("goodhart_sim", "estimate"):
        label = {"goodhart.collapse_point": "Collapse point (reward strength, 0–1)",
                 "measure.theater_share": "Theater share of post-mandate AI events (0–1)",
                 "measure.productivity_effect": "Productivity effect (percent)"}.get(
            exercise.check, "Your estimate")
        return st.number_input(label, value=None, step=0.01, key=f"{key}:number",
                               placeholder="type a number")
    if exercise.check == "spot.label_sessions" or kind == "label_sessions":
        sample = _session_sample(learner, company)
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
    if exercise.check == "detect.flag_converts" or kind == "flag_converts":
        return _change_point_detector(learner, company, key)
    if exercise.check.startswith("detect.") or kind == "flag_employees":
        return _score_detector(learner, company, key)
    if exercise.check == "metrics.dashboard_design" or kind == "choose_metrics":
        from exercises.metrics import METRIC_CATALOGUE

        names = {m.id: m.name for m in METRIC_CATALOGUE.values()}   # judging the kind is the task
        return st.multiselect("Metrics on your dashboard", list(names), format_func=names.get,
                              key=f"{key}:metrics")
    if exercise.check == "explore.weekly_usage_output":
        upload = st.file_uploader("Upload your weekly table as CSV (columns week, team, "
                                  "ai_events, ai_users, closed_items)", type=["csv"],
                                  key=f"{key}:upload")
        return pd.read_csv(upload) if upload is not None else None
    st.info("This exercise is done in the notebook: download it from the Capstone page.")
    return None


# ----------------------------------------------------------------------------- detectors

def _init(key: str, default: Any) -> None:
    """A widget's starting value, set through session state so a restored value is never
    overridden and Streamlit never sees a default and a state value for one widget."""
    if key not in st.session_state:
        st.session_state[key] = default


def _pct(value: float) -> str:
    return f"{value:.0%}"


def _tuning_panel(result: tools.TradeOff, positives: int, group: str) -> None:
    """What the current settings do on the course's labelled tuning company."""
    st.markdown(f"**On the labelled tuning company** (the same for the whole class; {positives} "
                f"{group} among its people), the same settings give:")
    cols = st.columns(4)
    cols[0].metric("Flagged", f"{result.flagged}")
    cols[1].metric("Precision", _pct(result.precision),
                   help="Share of flags that are right: the rest are false accusations")
    cols[2].metric("Recall", _pct(result.recall), help=f"Share of the {group} caught")
    cols[3].metric("F1", f"{result.f1:.2f}", help="Balances precision and recall")


def _tradeoff_spec(curve: pd.DataFrame, threshold: float) -> dict:
    """Precision, recall and F1 against the threshold, with a rule at the learner's threshold."""
    long = curve.melt(id_vars=["threshold", "flagged"], value_vars=["precision", "recall", "f1"],
                      var_name="measure", value_name="value")
    return {
        "height": 240,
        "layer": [
            {"data": {"values": long.to_dict("records")},
             "mark": {"type": "line", "strokeWidth": 2.5},
             "encoding": {
                 "x": {"field": "threshold", "type": "quantitative", "title": "Threshold"},
                 "y": {"field": "value", "type": "quantitative", "title": "On the tuning company",
                       "axis": {"format": "%"}, "scale": {"domain": [0, 1]}},
                 "color": {"field": "measure", "type": "nominal", "title": None,
                           "scale": {"domain": ["precision", "recall", "f1"],
                                     "range": [common_palette(0), common_palette(1),
                                               common_palette(2)]},
                           "legend": {"orient": "top"}},
                 "strokeDash": {"field": "measure", "type": "nominal", "title": None,
                                "scale": {"domain": ["precision", "recall", "f1"],
                                          "range": [[1, 0], [6, 3], [2, 2]]}},
                 "tooltip": [{"field": "threshold", "type": "quantitative"},
                             {"field": "measure", "type": "nominal"},
                             {"field": "value", "type": "quantitative", "format": ".0%"},
                             {"field": "flagged", "type": "quantitative"}]}},
            {"data": {"values": [{"threshold": threshold}]},
             "mark": {"type": "rule", "color": "#333333", "strokeWidth": 2},
             "encoding": {"x": {"field": "threshold", "type": "quantitative"}}},
        ],
    }


def common_palette(index: int) -> str:
    from course.charts import SERIES_COLORS

    return SERIES_COLORS[index % len(SERIES_COLORS)]


def _score_detector(learner: str, company, key: str) -> list[str]:
    """Module 4: a weighted score from features the learner picks, and a threshold on it."""
    st.caption("Build your detector as a score: pick features and give each a weight. A positive "
               "weight says a *higher* value looks more performed, a negative one a *lower* value. "
               "Each feature is put on a 0–1 scale (shares as they are, counts as their rank), the "
               "score is their weighted mean — 1 means every chosen feature at its performed end — "
               "and everyone above your threshold is flagged. The table shows observable features only — no labels.")
    _init(f"{key}:features", [])
    chosen = st.multiselect("Features in your score", list(tools.SCORE_FEATURES),
                            format_func=tools.SCORE_FEATURES.get, key=f"{key}:features")
    weights: dict[str, float] = {}
    cols = st.columns(3)
    for index, column in enumerate(chosen):
        _init(f"{key}:weight:{column}", 1.0)
        weights[column] = cols[index % 3].slider(
            f"Weight: {tools.SCORE_FEATURES[column]}", *tools.WEIGHT_RANGE, step=0.5,
            key=f"{key}:weight:{column}")
    _init(f"{key}:active", True)
    active = st.checkbox("Score only people with real usage (at least half the median AI user's "
                         "events)", key=f"{key}:active")
    _init(f"{key}:threshold", 0.8)
    threshold = st.slider("Threshold: flag everyone whose score is above it",
                          *tools.THRESHOLD_RANGE, step=0.01, key=f"{key}:threshold")
    features = _features(learner, company)
    users = int((features["ai_events"] > 0).sum())
    if not any(weights.values()):
        st.info("Pick at least one feature with a weight other than 0 to build a score.")
        return []
    score = tools.weighted_score(features, weights, active)
    flagged = tools.flag_above(score, threshold)
    tuning_score = tools.weighted_score(_tuning_features(), weights, active)
    truth = _tuning_truth("detect.flag_tokenmaxxers")
    _tuning_panel(tools.trade_off(tools.flag_above(tuning_score, threshold), truth),
                  len(truth), "tokenmaxxers")
    st.vega_lite_chart(_tradeoff_spec(tools.threshold_curve(tuning_score, truth), threshold),
                       width="stretch", key=f"{key}:tradeoff")
    st.markdown(f"**In your practice company: {len(flagged)}** of {users} AI users flagged.")
    shown = features.merge(score.round(2).reset_index(), on="employee_id", how="left")
    shown = shown.assign(flagged=shown["employee_id"].isin(set(flagged)))
    shown = shown.sort_values(["score", "employee_id"], ascending=[False, True], na_position="last")
    st.dataframe(shown[["flagged", "score", "employee_id", "team", *tools.SCORE_FEATURES]],
                 hide_index=True, width="stretch", height=260)
    return flagged


def _timeline_spec(timeline: pd.DataFrame, label: str) -> dict:
    frame = timeline.assign(week=timeline["week"].astype(str))
    return {
        "height": 220,
        "data": {"values": frame.to_dict("records")},
        "mark": {"type": "line", "point": True, "strokeWidth": 2.5},
        "encoding": {
            "x": {"field": "week", "type": "temporal", "title": "Week"},
            "y": {"field": "level", "type": "quantitative", "title": label,
                  "axis": {"format": "%"}, "scale": {"domain": [0, 1]}},
            "color": {"field": "group", "type": "nominal", "title": None,
                      "scale": {"range": [common_palette(0), common_palette(1)]},
                      "legend": {"orient": "top"}},
            "strokeDash": {"field": "group", "type": "nominal", "title": None,
                           "scale": {"range": [[1, 0], [6, 3]]}},
            "tooltip": [{"field": "week", "type": "temporal"}, {"field": "group", "type": "nominal"},
                        {"field": "level", "type": "quantitative", "format": ".0%"},
                        {"field": "people", "type": "quantitative"}],
        },
    }


def _change_point_detector(learner: str, company, key: str) -> list[str]:
    """Module 5: per-person weekly series, a change point, and a rule on the rise at it."""
    st.caption("Each AI user's weeks, one series per person. Choose the signal to follow and how "
               "to find the change; then say how large a lasting rise counts as a conversion and "
               "how low the level must have been before it (genuine adopters start high, "
               "calcified performers never rise).")
    _init(f"{key}:signal", "accepted")
    signal = st.radio("Signal", list(tools.SIGNALS), format_func=tools.SIGNALS.get,
                      key=f"{key}:signal")
    _init(f"{key}:method", "fixed_week")
    method = st.radio("How to find the change", list(tools.METHODS),
                      format_func=tools.METHODS.get, key=f"{key}:method")
    signals = _weekly_signals(learner, company)
    split = None
    if method == "fixed_week" and len(signals.weeks) > 1:
        last = len(signals.weeks) - 1
        _init(f"{key}:week", max(1, last // 2))
        split = st.slider("The week the change happens for everyone (week number)", 1,
                          max(2, last), key=f"{key}:week")
        split = min(split, last)
        st.caption(f"Week {split + 1} starts on {signals.weeks[split]:%Y-%m-%d}; the weeks before "
                   "it are compared with it and the weeks after.")
    cols = st.columns(2)
    _init(f"{key}:rise", 0.2)
    min_rise = cols[0].slider("Smallest rise that counts as a conversion", 0.0, 0.5, step=0.01,
                              key=f"{key}:rise")
    _init(f"{key}:before", 0.4)
    max_before = cols[1].slider("Highest level before the change", 0.0, 1.0, step=0.05,
                                key=f"{key}:before")
    points = tools.change_points(signals, signal, method, split)
    flagged = tools.flag_converts(points, min_rise, max_before)
    tuning = _tuning_signals()
    tuning_split = None if split is None else min(split, max(1, len(tuning.weeks) - 1))
    tuning_flags = tools.flag_converts(
        tools.change_points(tuning, signal, method, tuning_split), min_rise, max_before)
    truth = _tuning_truth("detect.flag_converts")
    _tuning_panel(tools.trade_off(tuning_flags, truth), len(truth), "converts")
    st.markdown(f"**In your practice company: {len(flagged)}** of {len(points)} AI users flagged "
                "(people with under a tenth of the median person's AI events are non-users and "
                "left out). Their weekly level against the other AI users':")
    st.vega_lite_chart(_timeline_spec(tools.group_timeline(signals, signal, flagged),
                                      tools.SIGNALS[signal].split(" (")[0]),
                       width="stretch", key=f"{key}:timeline")
    shown = points.assign(flagged=points["employee_id"].isin(set(flagged)))
    shown = shown.sort_values(["flagged", "rise"], ascending=[False, False], na_position="last")
    st.dataframe(shown[["flagged", "employee_id", "change_week", "before", "after", "rise"]],
                 hide_index=True, width="stretch", height=260)
    return flagged


@st.cache_resource(show_spinner=False, max_entries=8)
def _tuning_cached(course_key: str) -> dict:
    """The tuning company's features, weekly signals and truths (read-only, shared)."""
    from course.charts import employee_features

    company = common.get_tuning_company()
    return {"features": employee_features(company), "signals": tools.weekly_signals(company),
            **{check_id: course_data.exercise_truth(check_id, company)
               for check_id in ("detect.flag_tokenmaxxers", "detect.flag_converts")}}


def _tuning_key() -> str:
    config = common.get_config()
    return f"{config.course.root}|{config.profile}|{config.employees}|{config.days}"


def _tuning_features() -> pd.DataFrame:
    return _tuning_cached(_tuning_key())["features"]


def _tuning_signals() -> tools.WeeklySignals:
    return _tuning_cached(_tuning_key())["signals"]


def _tuning_truth(check_id: str) -> set[str]:
    return set(_tuning_cached(_tuning_key())[check_id])


@st.cache_resource(show_spinner=False, max_entries=64)
def _weekly_signals_cached(key: str, _company) -> tools.WeeklySignals:
    return tools.weekly_signals(_company)


def warm_up_exercises(learner: str, company) -> None:
    """The exercises' data on the learner's practice company, the shared tuning company and the
    simulator stages (the shared ones and the learner's own sandbox) at their defaults."""
    key = common.practice_key(learner)
    _features_cached(key, company)
    _weekly_signals_cached(key, company)
    _session_sample_cached(key, company)
    _tuning_cached(_tuning_key())
    for stage in sim.STAGES:
        _simulation(_stage_params(stage, learner, {}))


def _stage_params(stage: str, learner: str | None, values: dict) -> sim.SimParams:
    """A stage's parameters: its defaults (the learner's own in the sandbox), then the sliders."""
    from dataclasses import replace

    defaults = (simulator_params(learner) if stage == "sandbox" and learner
                else sim.SimParams(stage=stage))
    if stage == "combined" and "reward" not in values:
        values = {**values, "reward": 0.8}
    return replace(defaults, **values)


def _weekly_signals(learner: str, company) -> tools.WeeklySignals:
    return _weekly_signals_cached(common.practice_key(learner), company)


@st.cache_data(show_spinner=False, max_entries=64)
def _session_sample_cached(key: str, _company) -> pd.DataFrame:
    import zlib

    from exercises.truth import sample_sessions

    return sample_sessions(_company, n=8, seed=zlib.crc32(key.encode()))


def _session_sample(learner: str, company) -> pd.DataFrame:
    return _session_sample_cached(common.practice_key(learner), company)


@st.cache_data(show_spinner=False, max_entries=64)
def _features_cached(key: str, _company) -> pd.DataFrame:
    from course.charts import employee_features

    return employee_features(_company)


def _features(learner: str, company) -> pd.DataFrame:
    return _features_cached(common.practice_key(learner), company)


def _exercise_scores(learner: str, module_id: str, exercise_id: str) -> list[float | None]:
    """The learner's checked attempts at one exercise, oldest first."""
    frame = common.get_store().attempts_frame(module_id=module_id, learner_id=learner)
    if frame.empty:
        return []
    mine = frame[(frame["kind"] == "exercise") & (frame["item_id"] == exercise_id)]
    return [None if pd.isna(s) else float(s) for s in mine["score"]]


# Session-state suffixes of an exercise that are not the learner's inputs (buttons, results).
NOT_INPUTS = frozenset({"check", "hint", "show_solution", "result", "hints", "solution", "upload",
                        "saved_inputs", "tradeoff", "timeline", "practice_zip"})


def _rerun_exercise() -> None:
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


def _restore_inputs(key: str, learner: str, item_id: str) -> dict:
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


def _save_inputs(key: str, learner: str, item_id: str, saved: dict) -> None:
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


def _forget_inputs(key: str, learner: str, item_id: str) -> None:
    for name in _input_keys(key):
        del st.session_state[name]
    st.session_state[f"{key}:saved_inputs"] = {}
    try:
        common.get_store().save_inputs(learner, item_id, {})
    except UserError:
        pass


def exercise_block(exercise, module_id: str, learner: str, previous: dict) -> None:
    """Prompt, answer widget, check (against truth held in server memory), tiered hints, solution.

    A fragment: moving a slider or clicking check reruns only the exercise, not the lesson.
    Checks are budgeted (AppConfig.attempt_budget); once the budget is spent the solution shows.
    Feedback is banded, never a score to solve for. After a success checking is free practice.
    The inputs are saved per learner and put back on a reload.
    """
    if exercise is None:
        return
    with st.container(border=True):
        st.markdown(f"#### Exercise\n{exercise.prompt}")
        if uses_practice_company(exercise.check):
            st.caption(PRACTICE_EXERCISE_NOTE)
        if exercise.check in PANDAS_CHECKS:
            st.download_button(
                "Download your practice company's tables (CSV zip)",
                data=lambda: course_data.practice_zip(common.get_config(), learner,
                                                      common.get_practice_company(learner), "csv"),
                file_name=f"company-practice-{learner}-csv.zip", mime="application/zip",
                key=f"exercise:{exercise.id}:practice_zip", icon=":material/download:")
        _exercise_fragment(exercise, module_id, learner, previous)


# Checks that need no company at all (the simulator's own variant, a choice from a catalogue).
COMPANY_FREE_CHECKS = frozenset({"goodhart.collapse_point", "metrics.dashboard_design"})
# Checks whose work can be done in pandas: the practice company's tables are offered beside them.
PANDAS_CHECKS = frozenset({"measure.productivity_effect", "measure.theater_share",
                           "explore.weekly_usage_output"})


def uses_practice_company(check_id: str) -> bool:
    """Whether an exercise shows company data and is checked against a company's truth: then it
    is always the learner's practice company, never the graded one."""
    return check_id not in COMPANY_FREE_CHECKS


@st.fragment
def _exercise_fragment(exercise, module_id: str, learner: str, previous: dict) -> None:
    from streamlit.errors import StreamlitAPIException

    from exercises.checks import CHECKS, run_check

    key = f"exercise:{exercise.id}"
    item_id = f"{module_id}:{exercise.id}"
    budget = common.get_config().attempt_budget
    pass_mark = CHECKS[exercise.check].pass_mark
    try:   # the data shown and the truth checked: the practice company, never the graded one
        company = (common.get_practice_company(learner) if uses_practice_company(exercise.check)
                   else None)
    except UserError as error:
        st.error(str(error))
        return
    saved = _restore_inputs(key, learner, item_id)
    try:
        answer = _exercise_input(exercise, learner, company)
    except StreamlitAPIException:
        if not saved:
            raise
        _forget_inputs(key, learner, item_id)   # inputs saved by an older version of the exercise
        _rerun_exercise()
    _save_inputs(key, learner, item_id, saved)
    state = practice.attempt_state(_exercise_scores(learner, module_id, exercise.id),
                                   pass_mark, budget)
    clicked = st.button("Check my answer", key=f"{key}:check", type="primary",
                        disabled=not state.can_check)
    if clicked and state.can_check:
        try:
            truth = course_data.exercise_truth(exercise.check, company, answer,
                                               simulator_params=simulator_params(learner))
            problem = _degenerate_answer(exercise, answer, learner, company)
            result = (practice.Rejected(problem) if problem
                      else run_check(exercise.check, _scored_part(answer), truth))
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
                _exercise_scores(learner, module_id, exercise.id), pass_mark, budget)
            if counted is None:          # the budget was spent meanwhile (another tab): no result
                result = None
        st.session_state[f"{key}:result"] = result
        if not state.can_check:          # the budget just ran out: redraw with the check closed
            _rerun_exercise()
    result = st.session_state.get(f"{key}:result")
    if result is not None:
        band, text = practice.learner_feedback(exercise.check, result)
        if band == "correct":
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
            _rerun_exercise()
    if solution_unlocked or st.session_state.get(f"{key}:solution"):
        st.markdown(f"**Solution.** {exercise.solution}")
    elif cols[1].button("Give up and show the solution", key=f"{key}:show_solution"):
        common.get_store().record_hint(learner, module_id, exercise.id, len(exercise.hints) + 1)
        st.session_state[f"{key}:solution"] = True
        _rerun_exercise()


def _answer_text(answer: Any) -> str | None:
    """A compact text of the answer for the progress store (tables are summarised by shape)."""
    if answer is None:
        return None
    if isinstance(answer, pd.DataFrame):
        return f"table {answer.shape[0]}x{answer.shape[1]}"
    if isinstance(answer, (dict, list, tuple, set)):
        return json.dumps(sorted(answer) if isinstance(answer, set) else answer, default=str)[:2000]
    return str(answer)[:2000]
