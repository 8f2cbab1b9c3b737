"""Module 1's checker game in room mode: the whole room games the visible checker at once.

Each phone sends a plan (the game's two sliders: real and padded AI sessions per person per
week). While the room plays, the projector counts plans; once the round closes it shows the share
of the room's plans that turn the dashboard green; the reveal scores every plan on one hidden team
(the room's, keyed by its seed) and shows the room's spread, no names, beside the plan that
delivers the most. Every number comes from course.checker_game, the learner's game itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd

from course import checker_game as cg
from course.analytics import MIN_GROUP_SIZE
from course.charts import PALETTE
from course.workshop import RoundQuestion, parse_plan
from datasets.errors import UserError

KEY = "checker-game"          # the kit's name for it (course.workshop_kit.CHECKER)
KIND = "checker"
GREEN = "turns the dashboard green"
NOT_GREEN = "does not"


class CheckerRoomError(UserError):
    """The course content holds no checker game to play with the room."""


def load_game(modules: list[Any]) -> Any:
    """The checker game's words and target: the first module that carries one (module 1)."""
    for module in modules:
        if getattr(module, "checker_game", None) is not None:
            return module.checker_game
    raise CheckerRoomError("No module of the course has a checker game to play with the room.")


def room_team(room_seed: int) -> cg.TeamVariant:
    """The room's one hidden team: every plan in the room is scored on the same team, so the
    spread compares plans, not teams; another room (another seed) gets another team."""
    return cg.team_variant(hashlib.sha256(f"workshop-checker:{int(room_seed)}".encode()).digest())


def checker_question(game: Any) -> RoundQuestion:
    """The round to open: the game's target, in a prompt short enough for a projector (the
    learner's prompt talks of a checker button the room does not have); the game's lesson is
    what the reveal says."""
    prompt = (f"You lead a team. The company's AI dashboard turns it green at {game.target:g} AI "
              "sessions per person per week. Set your team's habits on your phone and send "
              "your plan: can you get it green?")
    return RoundQuestion(key=KEY, prompt=prompt, options=(), answer=None, misconceptions=(),
                         explanation=game.lesson, kind=KIND, dashboard_target=float(game.target))


@dataclass(frozen=True)
class PlanScore:
    real: int
    padded: int
    dashboard: float               # the visible checker's score, 0-1
    output_change_pct: float       # the hidden team's output change under this plan

    @property
    def green(self) -> bool:
        return self.dashboard >= 1.0


@dataclass(frozen=True)
class RoomPlans:
    """The room's plans scored both ways, and the plan that delivers the most."""

    plans: tuple[PlanScore, ...]
    best: PlanScore
    target: float
    min_group: int = MIN_GROUP_SIZE

    @property
    def shown(self) -> bool:
        return len(self.plans) >= self.min_group

    @property
    def green(self) -> tuple[PlanScore, ...]:
        return tuple(p for p in self.plans if p.green)

    @property
    def green_share(self) -> float | None:
        return len(self.green) / len(self.plans) if self.plans else None

    @property
    def status(self) -> str:
        if self.shown:
            return f"{len(self.plans)} plans sent"
        more = self.min_group - len(self.plans)
        return f"Waiting for {more} more plan{'s' if more != 1 else ''} before showing the room's."

    def visible_summary(self) -> str:
        """What the room may read once the round closed: the dashboard's verdict only."""
        if not self.shown:
            return self.status
        return (f"{len(self.green)} of {len(self.plans)} plans ({self.green_share:.0%}) turn the "
                f"dashboard green (at least {self.target:g} sessions per person per week).")

    def hidden_summary(self) -> str:
        """The reveal: how the green plans fare on the hidden check against the best plan."""
        if not self.shown:
            return self.status
        best = (f"The plan that delivers the most, {self.best.real} real sessions and no "
                f"padding, changes output by {self.best.output_change_pct:+.1f}% and scores "
                f"{self.best.dashboard:.0%} on the dashboard")
        if not self.green:
            return best + ". No plan in the room turned the dashboard green."
        below = [p for p in self.green if p.output_change_pct < self.best.output_change_pct]
        worse = [p for p in self.green if p.output_change_pct < 0]
        every = "every one" if len(below) == len(self.green) else f"{len(below)}"
        return (f"{best}. Of the {len(self.green)} green plans, {every} delivers less than "
                f"that, and {len(worse)} of them less than the team did before the dashboard "
                f"(the best green plan: {max(p.output_change_pct for p in self.green):+.1f}%).")


def score_plan(real: int, padded: int, team: cg.TeamVariant, target: float) -> PlanScore:
    verdict = cg.hidden_check(real, padded, team, target)
    return PlanScore(real, padded, verdict.dashboard, verdict.output_change_pct)


def room_plans(answers: list[str], room_seed: int, target: float,
               min_group: int = MIN_GROUP_SIZE) -> RoomPlans:
    """Score the room's stored plans (course.workshop.plan_answer texts) on the room's team."""
    team = room_team(room_seed)
    plans = tuple(score_plan(*parse_plan(a), team, target) for a in answers)
    best_real, best_padded = cg.best_plan(team)
    return RoomPlans(tuple(sorted(plans, key=lambda p: (p.real, p.padded))),
                     score_plan(best_real, best_padded, team, target), target, min_group)


def plans_chart(room: RoomPlans, font_size: int = 16, width: int | str = "container",
                height: int | None = None) -> alt.Chart:
    """One dot per plan: its dashboard score across, its hidden output change up; the best plan
    as a line. The green plans sit right, and all below the line: the lesson in one picture."""
    rows = [{"plan": f"{p.real} real + {p.padded} padded", "dashboard": p.dashboard,
             "output": p.output_change_pct, "verdict": GREEN if p.green else NOT_GREEN}
            for p in room.plans]
    frame = pd.DataFrame(rows, columns=["plan", "dashboard", "output", "verdict"])
    colors = alt.Scale(domain=[GREEN, NOT_GREEN], range=[PALETTE["bluish_green"], PALETTE["blue"]])
    axis = {"labelFontSize": font_size * 0.8, "titleFontSize": font_size * 0.8}
    dots = alt.Chart(frame).mark_circle(size=font_size * 12, opacity=0.75).encode(
        x=alt.X("dashboard:Q", title="Dashboard score (the visible checker)",
                scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%", **axis)),
        y=alt.Y("output:Q", title="Hidden team's output change (%)", axis=alt.Axis(**axis)),
        color=alt.Color("verdict:N", scale=colors, title=None,
                        legend=alt.Legend(orient="top", labelFontSize=font_size * 0.8,
                                          labelLimit=1000)),
        shape=alt.Shape("verdict:N", title=None, legend=None),   # not by colour alone
        tooltip=["plan:N", alt.Tooltip("dashboard:Q", format=".0%"),
                 alt.Tooltip("output:Q", format="+.1f")])
    best = pd.DataFrame([{"output": room.best.output_change_pct,
                          "label": f"best plan for output: {room.best.output_change_pct:+.1f}%"}])
    line = alt.Chart(best).mark_rule(strokeDash=[6, 4], color="#222222").encode(y="output:Q")
    text = alt.Chart(best).mark_text(align="left", dx=4, dy=-font_size * 0.6, x=0,
                                     fontSize=font_size * 0.8, color="#222222").encode(
        y="output:Q", text="label:N")
    return alt.layer(dots, line, text).properties(width=width, height=height or font_size * 22)
