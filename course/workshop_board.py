"""The board question: the room reads its company's adoption dashboard, votes which number to
believe, and the reveal tells the truth from that company's hidden labels.

Dashboard figures come from the same weekly table the exercises grade against, the truth from
`exercises.truth` (theater share, the pilot's effect of AI access): nothing here re-derives a label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from course.workshop import RoundQuestion
from exercises import truth

BOARD_KEY = "board/which-number"
PROMPT = ("Your board sees this adoption dashboard of the room's company. Which number should "
          "it believe about what AI does for the company?")


@dataclass(frozen=True)
class BoardFigures:
    """The dashboard's three headline numbers and the truth behind them."""

    usage_change: float          # % change in AI events per week, after vs before the mandate
    weekly_users: float          # share of employees using AI in an average week after it
    output_change: float         # % change in closed work per week, after vs before
    theater_share: float         # share of AI events after the mandate that are theater
    measured_effect: float       # % effect of AI access on the pilot wave's closed work (exercises.truth.access_effect)


def board_figures(company: Any) -> BoardFigures:
    """The dashboard numbers of this company and, from its labels, what is really going on."""
    weekly = truth.weekly_usage_output(company)
    mandate = truth.mandate_date(company)
    if mandate is None:
        raise truth.TruthError("this company has no mandate date: the dashboard has no before "
                               "and after")
    per_week = weekly.groupby("week")[["ai_events", "ai_users", "closed_items"]].sum()
    after = pd.to_datetime(per_week.index) >= mandate.normalize() - pd.Timedelta(days=6)
    before, later = per_week[~after], per_week[after]
    if before.empty or later.empty:
        raise truth.TruthError("the data holds no weeks on one side of the mandate")

    def change(column: str) -> float:
        base = before[column].mean()
        return float(100.0 * (later[column].mean() / base - 1.0)) if base else float("nan")

    employees = max(1, len(company.employees))
    return BoardFigures(
        usage_change=change("ai_events"),
        weekly_users=float(later["ai_users"].mean() / employees),
        output_change=change("closed_items"),
        theater_share=truth.theater_share(company),
        measured_effect=truth.access_effect(company)["value"])


def _signed(value: float) -> str:
    return f"{value:+.0f}%"


def board_question(company: Any) -> tuple[RoundQuestion, BoardFigures]:
    """The question for the room, with the truth as the explanation its reveal shows."""
    figures = board_figures(company)
    usage = f"AI events per week: {_signed(figures.usage_change)} since the mandate"
    users = f"Employees using AI in a week: {figures.weekly_users:.0%}"
    output = f"Closed work per week: {_signed(figures.output_change)} since the mandate"
    explanation = (
        f"The truth, from this company's hidden labels: {figures.theater_share:.0%} of the AI "
        f"activity after the mandate was theater, and AI access changed the pilot wave's closed "
        f"work by {_signed(figures.measured_effect)} (the effect of access: the randomly chosen "
        "staff who got AI before the mandate, with and without it). Usage "
        f"({_signed(figures.usage_change)}) and the share of users answer the mandate, not the "
        "question whether work got better; closed work is the only outcome on the dashboard — "
        "and even it needs a comparison group, such as the colleagues still waiting for access "
        "during the pilot, before it says what AI caused.")
    question = RoundQuestion(
        key=BOARD_KEY, prompt=PROMPT, options=(usage, users, output), answer=output,
        misconceptions=("usage-equals-value", "adoption-equals-impact", None),
        explanation=explanation,
        feedback=("Usage rose because the mandate asked for it; it says nothing yet about work.",
                  "Adoption counts people who touched the tool, not what it did for their work.",
                  ""),
        kind="board")
    return question, figures
