"""The Goodhart simulator's stages: the shared lesson picture and the learner's own sandbox."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import streamlit as st

from course import practice
from course import simulator as sim
from course.app_pages import common
from course.app_pages.widgets.charts import render_chart


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
    params = replace(defaults, **values)
    result, payload = simulation(params)
    cols = st.columns(3)
    cols[0].metric("Usage change", f"{result.usage_change_pct:+.0f}%")
    cols[1].metric("Output change", f"{result.output_change_pct:+.1f}%")
    cols[2].metric("Usage–output correlation", f"{result.final_correlation:.2f}",
                   delta=f"{result.final_correlation - result.baseline_correlation:+.2f} "
                         "since the reward", delta_color="off")
    render_chart(payload, f"sim:{module_id}:{stage}")


@st.cache_resource(show_spinner=False, max_entries=512)
def simulation(params: sim.SimParams) -> tuple[sim.SimResult, common.ChartPayload]:
    """One simulator run and its chart, cached per parameter set (sliders revisit values) and
    shared read-only."""
    from course.charts import simulator_chart

    result = sim.simulate(params)
    chart = simulator_chart(result, params)
    return result, common.prepare_chart(chart.chart.to_dict(), chart.summary, chart.table)



def stage_params(stage: str, learner: str | None, values: dict) -> sim.SimParams:
    """A stage's parameters: its defaults (the learner's own in the sandbox), then the sliders."""
    defaults = (simulator_params(learner) if stage == "sandbox" and learner
                else sim.SimParams(stage=stage))
    if stage == "combined" and "reward" not in values:
        values = {**values, "reward": 0.8}
    return replace(defaults, **values)

