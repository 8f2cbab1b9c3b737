"""Altair charts of an assignment's gradebook, readable for a class of 30 or more.

Built from the frames of grader.review; the pages only place them. Scores are binned (a class of
30 gives 30 bars otherwise), parts are sorted hardest first, and answer bands are stacked per part
with the misconception in the tooltip.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

BAR_HEIGHT = 48
FRAME_HEIGHT = 100  # title and x axis: the app fits the whole chart, frame included, into `height`
NICE_STEPS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
RIGHT_COLOUR = "#2e7d32"
BAND_COLOURS = ["#c62828", "#ef6c00", "#f9a825", "#6a1b9a", "#1565c0", "#546e7a", "#8d6e63", "#00838f"]


def score_distribution(frame: pd.DataFrame, max_score: float) -> alt.Chart:
    """How many learners scored in each tenth of the points (after the late penalty)."""
    scores = pd.DataFrame({"score": pd.to_numeric(frame["score"], errors="coerce").dropna()})
    step = min(NICE_STEPS, key=lambda s: abs(s - max_score / 10.0))  # about ten bins on round numbers
    return (
        alt.Chart(scores, title="Score distribution (after late penalties)")
        .mark_bar(color="#1565c0")
        .encode(
            x=alt.X("score:Q", bin=alt.Bin(extent=[0, max_score], step=step),
                    title=f"score (of {max_score:g} points)"),
            y=alt.Y("count():Q", title="learners", axis=alt.Axis(tickMinStep=1)),
            tooltip=[alt.Tooltip("count():Q", title="learners")],
        )
        .properties(height=240)
    )


def part_difficulty(difficulty: pd.DataFrame) -> alt.Chart:
    """Mean share of each part's points, hardest part on top."""
    order = difficulty.sort_values("mean share of points")["part"].tolist()
    return (
        alt.Chart(difficulty, title="Per-part difficulty: mean share of the points")
        .mark_bar(color="#ef6c00")
        .encode(
            y=alt.Y("part:N", sort=order, title=None),
            x=alt.X("mean share of points:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"),
                    title="mean share of the part's points"),
            tooltip=["part", "learners", alt.Tooltip("mean share of points:Q", format=".0%"),
                     alt.Tooltip("full marks:Q", format=".0%", title="full marks")],
        )
        .properties(height=FRAME_HEIGHT + BAR_HEIGHT * len(difficulty))
    )


def answer_spread(spread: pd.DataFrame) -> alt.Chart:
    """Per part, the share of learners in each answer band; the right band is green."""
    bands = spread.drop_duplicates("band").sort_values(["correct", "band"], ascending=[False, True])
    wrong = [b for b, right in zip(bands["band"], bands["correct"], strict=True) if not right]
    right = [b for b, ok in zip(bands["band"], bands["correct"], strict=True) if ok]
    domain = right + wrong
    colours = [RIGHT_COLOUR] * len(right) + [BAND_COLOURS[i % len(BAND_COLOURS)] for i in range(len(wrong))]
    shown = spread.assign(order=spread["band"].map({b: i for i, b in enumerate(domain)}))
    return (
        alt.Chart(shown, title="The spread of answers: share of learners per band")
        .mark_bar()
        .encode(
            y=alt.Y("part:N", title=None),
            x=alt.X("share:Q", stack="normalize", axis=alt.Axis(format="%"), title="share of graded learners"),
            color=alt.Color("band:N", scale=alt.Scale(domain=domain, range=colours),
                            legend=alt.Legend(orient="right", title="answer band", labelLimit=220)),
            order=alt.Order("order:Q"),
            tooltip=["part", "band", "learners", alt.Tooltip("share:Q", format=".0%"),
                     alt.Tooltip("misconception:N", title="what it suggests")],
        )
        .properties(height=FRAME_HEIGHT + max(BAR_HEIGHT * spread["part"].nunique(), 18 * len(domain)))
    )
