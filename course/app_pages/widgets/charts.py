"""Predict-then-reveal charts: the chart, its summary, takeaway and data table."""

from __future__ import annotations

import streamlit as st

from course.app_pages import common
from course.app_pages.widgets.questions import question
from datasets.errors import UserError


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

def render_chart(payload: common.ChartPayload, key: str, takeaway: str | None = None) -> None:
    """The chart, then the same information as text: a summary, the takeaway, the data table."""
    st.vega_lite_chart(spec=payload.vega_spec(), width="stretch", key=f"chart:{key}",
                       alt=payload.summary)
    st.markdown(f"**What the chart shows:** {payload.summary}")
    if takeaway:
        st.info(takeaway, icon=":material/lightbulb:")
    with st.expander("Data table for this chart"):
        st.dataframe(payload.table, hide_index=True, width="stretch")

