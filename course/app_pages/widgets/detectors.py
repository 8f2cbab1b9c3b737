"""The detector exercises' answer widgets: a weighted score (module 4) and a change point (module 5),
each tuned against the course's labelled tuning company and applied to the practice company."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from course import exercise_tools as tools
from course.app_pages.widgets.practice_data import (practice_features, practice_signals, tuning_features,
                                                    tuning_signals, tuning_truth)
from course.app_pages.widgets.state import init_widget


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


def score_detector(learner: str, company, key: str) -> list[str]:
    """Module 4: a weighted score from features the learner picks, and a threshold on it."""
    st.caption("Build your detector as a score: pick features and give each a weight. A positive "
               "weight says a *higher* value looks more performed, a negative one a *lower* value. "
               "Each feature is put on a 0–1 scale (shares as they are, counts as their rank), the "
               "score is their weighted mean — 1 means every chosen feature at its performed end — "
               "and everyone above your threshold is flagged. The table shows observable features only — no labels.")
    init_widget(f"{key}:features", [])
    chosen = st.multiselect("Features in your score", list(tools.SCORE_FEATURES),
                            format_func=tools.SCORE_FEATURES.get, key=f"{key}:features")
    weights: dict[str, float] = {}
    cols = st.columns(3)
    for index, column in enumerate(chosen):
        init_widget(f"{key}:weight:{column}", 1.0)
        weights[column] = cols[index % 3].slider(
            f"Weight: {tools.SCORE_FEATURES[column]}", *tools.WEIGHT_RANGE, step=0.5,
            key=f"{key}:weight:{column}")
    init_widget(f"{key}:active", True)
    active = st.checkbox("Score only people with real usage (at least half the median AI user's "
                         "events)", key=f"{key}:active")
    init_widget(f"{key}:threshold", 0.8)
    threshold = st.slider("Threshold: flag everyone whose score is above it",
                          *tools.THRESHOLD_RANGE, step=0.01, key=f"{key}:threshold")
    features = practice_features(learner, company)
    users = int((features["ai_events"] > 0).sum())
    if not any(weights.values()):
        st.info("Pick at least one feature with a weight other than 0 to build a score.")
        return []
    score = tools.weighted_score(features, weights, active)
    flagged = tools.flag_above(score, threshold)
    tuning_score = tools.weighted_score(tuning_features(), weights, active)
    truth = tuning_truth("detect.flag_tokenmaxxers")
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


def change_point_detector(learner: str, company, key: str) -> list[str]:
    """Module 5: per-person weekly series, a change point, and a rule on the rise at it."""
    st.caption("Each AI user's weeks, one series per person. Choose the signal to follow and how "
               "to find the change; then say how large a lasting rise counts as a conversion and "
               "how low the level must have been before it (genuine adopters start high, "
               "calcified performers never rise).")
    init_widget(f"{key}:signal", "accepted")
    signal = st.radio("Signal", list(tools.SIGNALS), format_func=tools.SIGNALS.get,
                      key=f"{key}:signal")
    init_widget(f"{key}:method", "fixed_week")
    method = st.radio("How to find the change", list(tools.METHODS),
                      format_func=tools.METHODS.get, key=f"{key}:method")
    signals = practice_signals(learner, company)
    split = None
    if method == "fixed_week" and len(signals.weeks) > 1:
        last = len(signals.weeks) - 1
        init_widget(f"{key}:week", max(1, last // 2))
        split = st.slider("The week the change happens for everyone (week number)", 1,
                          max(2, last), key=f"{key}:week")
        split = min(split, last)
        st.caption(f"Week {split + 1} starts on {signals.weeks[split]:%Y-%m-%d}; the weeks before "
                   "it are compared with it and the weeks after.")
    cols = st.columns(2)
    init_widget(f"{key}:rise", 0.2)
    min_rise = cols[0].slider("Smallest rise that counts as a conversion", 0.0, 0.5, step=0.01,
                              key=f"{key}:rise")
    init_widget(f"{key}:before", 0.4)
    max_before = cols[1].slider("Highest level before the change", 0.0, 1.0, step=0.05,
                                key=f"{key}:before")
    points = tools.change_points(signals, signal, method, split)
    flagged = tools.flag_converts(points, min_rise, max_before)
    tuning = tuning_signals()
    tuning_split = None if split is None else min(split, max(1, len(tuning.weeks) - 1))
    tuning_flags = tools.flag_converts(
        tools.change_points(tuning, signal, method, tuning_split), min_rise, max_before)
    truth = tuning_truth("detect.flag_converts")
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

