"""The checker game: a visible checker the learner can game, then the hidden check."""

from __future__ import annotations

import streamlit as st

from course import practice
from course.app_pages import common


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

