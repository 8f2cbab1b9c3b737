"""The board question: the room reads its company's adoption dashboard, votes which number to
believe, and the reveal tells the truth from that company's hidden labels. In a room created on
an organisation's own audit file (course.audit_room) the same three numbers come from the audit's
team-week aggregates, and the reveal says there is no hidden truth (audit_board_question).

Dashboard figures come from the same weekly table the exercises grade against, the truth from
`exercises.truth` (theater share, the pilot's effect of AI access): nothing here re-derives a label.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from course.workshop import RoundQuestion, WorkshopError
from exercises import truth

BOARD_KEY = "board/which-number"
USAGE_FEEDBACK = "Usage rose because the mandate asked for it; it says nothing yet about work."
# An audit has no mandate date and its usage may fall: the same lesson, without the mandate.
AUDIT_USAGE_FEEDBACK = "Usage counts how much the tool was used; it says nothing yet about work."
ADOPTION_FEEDBACK = "Adoption counts people who touched the tool, not what it did for their work."
AUDIT_PROMPT = ("Your board sees this dashboard of your organisation's own AI usage. Which number "
                "should it believe about what AI does for the organisation?")
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
        feedback=(USAGE_FEEDBACK, ADOPTION_FEEDBACK, ""),
        kind="board")
    return question, figures


# ----------------------------------------------------------------------------- an audit room

@dataclass(frozen=True)
class AuditBoardFigures:
    """The same three dashboard numbers, from an audit's team-week aggregates (no truth behind
    them: it is the organisation's own data). NaN where the file cannot give a number."""

    weeks: int                   # whole weeks in the file
    before_weeks: int            # weeks compared on each side (0: nothing to compare there)
    after_weeks: int
    compare_from: dt.date | None  # the trainer's date splitting before from after, if any
    usage_before: float          # mean AI interactions per week, before
    usage_after: float           # … after
    output_before: float         # mean delivered items per week, before
    output_after: float
    weekly_users: float          # mean share of the people shown active in a week, after
    users_suppressed: bool       # a team-week under five people counted as none: a lower bound
    people: int                  # people in the teams shown

    @property
    def usage_change(self) -> float:
        return _change(self.usage_before, self.usage_after)

    @property
    def output_change(self) -> float:
        return _change(self.output_before, self.output_after)

    @property
    def comparable(self) -> bool:
        return bool(self.before_weeks and self.after_weeks)


def _change(before: float, after: float) -> float:
    return float(100.0 * (after / before - 1.0)) if before and np.isfinite(before) \
        and np.isfinite(after) else float("nan")


def audit_board_figures(file: Any) -> AuditBoardFigures:
    """Before vs after in an audit room file (course.audit_room.AuditRoomFile): the weeks before
    and from its `compare_from` date, or else its first and last `window_weeks` weeks."""
    weekly = file.weekly_frame()
    per_week = weekly.groupby("week")[["interactions", "delivered"]].sum(min_count=1).sort_index()
    active = weekly.groupby("week")["active_users"].sum(min_count=0).reindex(per_week.index)
    suppressed = weekly["active_users"].isna().groupby(weekly["week"]).any().reindex(per_week.index)
    weeks = len(per_week)
    if file.compare_from is not None:
        split = pd.Timestamp(file.compare_from) - pd.Timedelta(days=pd.Timestamp(file.compare_from).weekday())
        later = per_week.index >= split
        before, after = per_week[~later], per_week[later]
    else:
        window = min(file.window_weeks, weeks // 2)
        before, after = per_week.iloc[:window], per_week.iloc[weeks - window:weeks if window else 0]
    nan = float("nan")

    def mean(frame: pd.DataFrame, column: str) -> float:
        return float(frame[column].mean()) if len(frame) else nan

    people = file.people
    users = float(active.reindex(after.index).mean() / people) if len(after) and people else nan
    return AuditBoardFigures(
        weeks=weeks, before_weeks=len(before), after_weeks=len(after),
        compare_from=file.compare_from,
        usage_before=mean(before, "interactions"), usage_after=mean(after, "interactions"),
        output_before=mean(before, "delivered"), output_after=mean(after, "delivered"),
        weekly_users=users, users_suppressed=bool(len(after) and suppressed.reindex(after.index).any()),
        people=people)


def _weeks(count: int) -> str:
    return f"{count} week{'' if count == 1 else 's'}"


def _week_of(day: dt.date) -> str:
    """The trainer's date as the whole week it falls in: weeks are compared whole."""
    return "the week of " + f"{day:%d %B %Y}".lstrip("0")


def _sides(figures: AuditBoardFigures) -> tuple[str, str]:
    """How the two sides compared are named: ("the first 4 weeks", "the last 4 weeks")."""
    if figures.compare_from is not None:
        when = _week_of(figures.compare_from)
        return (f"the {_weeks(figures.before_weeks)} before {when}",
                f"the {_weeks(figures.after_weeks)} from {when}")
    return f"the first {_weeks(figures.before_weeks)}", f"the last {_weeks(figures.after_weeks)}"


def _change_words(before: float, after: float, figures: AuditBoardFigures, what: str) -> str:
    """A change from before to after, or why this file gives none."""
    if not figures.comparable:
        if figures.compare_from is not None:
            when = _week_of(figures.compare_from)
            side = "before" if not figures.before_weeks else "from"
            return f"no change to show: the file holds no whole week {side} {when}"
        return (f"no change to show: the file holds {_weeks(figures.weeks)}, and a change "
                "needs two")
    first, last = _sides(figures)
    if not (np.isfinite(before) or np.isfinite(after)):
        return f"not in this file (it holds no {what})"
    if not (np.isfinite(before) and np.isfinite(after)):
        return f"no change to show: the file holds no {what} in {first if not np.isfinite(before) else last}"
    if not before:
        return (f"none in {first} and none in {last}" if not after
                else f"none in {first}, {after:,.1f} a week in {last}: no percentage to give")
    return f"{_signed(_change(before, after))} from {first} to {last}"


def _users_words(figures: AuditBoardFigures) -> str:
    if not figures.people:
        return "no team in the file, so no share to give"
    if not figures.after_weeks:
        return f"no weeks to average over, of the {figures.people:,} people shown"
    if not np.isfinite(figures.weekly_users):
        return f"not in this file, of the {figures.people:,} people shown"
    bound = "at least " if figures.users_suppressed else ""
    return (f"{bound}{figures.weekly_users:.0%} of the {figures.people:,} people shown, "
            f"over {_sides(figures)[1]}")


def audit_board_question(file: Any) -> tuple[RoundQuestion, AuditBoardFigures]:
    """The board question on an organisation's own audit: the same three numbers and the same
    key (delivered work, the only outcome on the dashboard); the reveal says there is no hidden
    truth and what the two changes can and cannot say, in sentences true for this file."""
    figures = audit_board_figures(file)
    usage_words = _change_words(figures.usage_before, figures.usage_after, figures,
                                "AI interaction counts")
    output_words = _change_words(figures.output_before, figures.output_after, figures,
                                 "delivered work")
    usage = f"AI interactions per week: {usage_words}"
    users = f"People using AI in a week: {_users_words(figures)}"
    output = f"Delivered work per week: {output_words}"
    caused = ("Without a rollout or a pilot neither number says what AI caused: usage and "
              "delivered work both move with deadlines, staffing and the kind of work.")
    if figures.compare_from is not None:
        caused += (" A date you chose splits the weeks, but it is no comparison group: "
                   "everything else that changed around it changed too.")
    suppressed = (" The share of people using AI counts a team-week of fewer than five as none, "
                  "so it is a lower bound." if figures.users_suppressed else "")
    explanation = (
        "This is your organisation's own data: there is no hidden truth to reveal. "
        f"Delivered work per week: {output_words}; AI interactions per week: {usage_words}. "
        f"{caused} Delivered work is still the number to read, because it is the only outcome "
        "on the dashboard; a staggered rollout or a randomised pilot is what would show whether "
        f"AI moved it.{suppressed}")
    question = RoundQuestion(
        key=BOARD_KEY, prompt=AUDIT_PROMPT, options=(usage, users, output), answer=output,
        misconceptions=("usage-equals-value", "adoption-equals-impact", None),
        explanation=explanation,
        feedback=(AUDIT_USAGE_FEEDBACK, ADOPTION_FEEDBACK, ""), kind="board")
    return question, figures


def room_board_question(room: Any, store: Any, room_company: Any) -> RoundQuestion:
    """The board question of a room: on its audit file for an audit room (never generating a
    company), else on the company `room_company()` generates."""
    if room.is_audit:
        audit = store.room_audit(room.code)
        if audit is None:
            raise WorkshopError(f"Workshop {room.code} has lost its audit file; create the "
                                   "room again from the file.")
        return audit_board_question(audit)[0]
    return board_question(room_company())[0]
