"""Goodhart live: the room predicts each stage of module 1's simulator, then sees it run.

Each stage is an ordinary workshop round (course.workshop) whose options are ranges of one of
the stage's numbers (course/content/workshop-simulator.yaml): the room's spread shows once
voting closes, and the reveal marks the range the stage's real value fell in. The stage runs on
the room's own population (the room's seed), so the answer is the room's, not one remembered
from another workshop or read off the course page.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, StringConstraints, ValidationError, model_validator

from course import simulator as sim
from course.workshop import RoundQuestion
from datasets.errors import UserError
from datasets.validation import FileModel, InvalidFile, invalid_file

SIMULATOR_FILE = Path(__file__).resolve().parent / "content" / "workshop-simulator.yaml"
KEY_PREFIX = "simulator/"
KIND = "simulator"
Text = Annotated[str, StringConstraints(min_length=2)]
Measure = Literal["final_correlation", "usage_change_pct", "output_change_pct"]
# How the reveal names each measure and writes its value.
MEASURE_WORDS = {"final_correlation": ("the usage–output correlation at the end of the year",
                                       "{:.2f}"),
                 "usage_change_pct": ("the change in usage", "{:+.0f}%"),
                 "output_change_pct": ("the change in output", "{:+.1f}%")}


class SimulatorRoomError(UserError):
    """The simulator's room mode content is wrong, or a stage it does not have was asked for."""


class InvalidSimulatorRoom(InvalidFile, SimulatorRoomError):
    """The content file fails validation; the message names the field."""


class ValueRange(FileModel):
    label: Text
    low: float | None = None          # included
    high: float | None = None         # excluded

    def holds(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value < self.high)


class StageQuestion(FileModel):
    stage: Literal["metric", "incentive", "gaming", "combined"]
    reward: Annotated[float, Field(ge=0.0, le=1.0)]
    measure: Measure
    prompt: Text
    ranges: Annotated[tuple[ValueRange, ...], Field(min_length=2, max_length=8)]
    explain: Text

    @model_validator(mode="after")
    def _ranges_cover_every_value_once(self) -> StageQuestion:
        first, last = self.ranges[0], self.ranges[-1]
        if first.low is not None or last.high is not None:
            raise ValueError(f"stage {self.stage}: the first range needs no low and the last no "
                             "high, so every value falls in one")
        for before, after in zip(self.ranges, self.ranges[1:]):
            if before.high is None or after.low != before.high:
                raise ValueError(f"stage {self.stage}: range {after.label!r} must start where "
                                 f"{before.label!r} ends ({before.high})")
            if after.high is not None and after.high <= after.low:
                raise ValueError(f"stage {self.stage}: range {after.label!r} is empty")
        if len({r.label for r in self.ranges}) != len(self.ranges):
            raise ValueError(f"stage {self.stage}: two ranges share a label")
        return self

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.stage


class SimulatorRoom(FileModel):
    title: Text
    stages: Annotated[tuple[StageQuestion, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _stages_once_in_the_lesson_order(self) -> SimulatorRoom:
        names = [s.stage for s in self.stages]
        if names != sorted(set(names), key=sim.STAGES.index):
            raise ValueError("each stage comes once, in the simulator's order "
                             f"({', '.join(sim.STAGES[:-1])})")
        return self

    def stage(self, name: str) -> StageQuestion:
        for stage in self.stages:
            if stage.stage == name or stage.key == name:
                return stage
        raise SimulatorRoomError(f"The simulator's room mode has no stage {name!r}; it has "
                                 f"{', '.join(s.stage for s in self.stages)}.")


@cache
def load_simulator_room(path: Path = SIMULATOR_FILE) -> SimulatorRoom:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SimulatorRoomError(f"{path}: cannot be read ({exc})") from None
    try:
        return SimulatorRoom.model_validate(raw)
    except ValidationError as exc:
        raise invalid_file(path, exc, InvalidSimulatorRoom, raw) from None


def stage_params(stage: StageQuestion, room_seed: int) -> sim.SimParams:
    """The stage as module 1 runs it, on the room's own population of workers."""
    return replace(sim.SimParams(stage=stage.stage), reward=stage.reward,
                   seed=int(room_seed) % 2**31)


def stage_value(stage: StageQuestion, room_seed: int) -> tuple[float, sim.SimResult]:
    """The number the room predicted, as the stage really ran for this room, and the run."""
    result = sim.simulate(stage_params(stage, room_seed))
    return float(getattr(result, stage.measure)), result


def stage_question(stage: StageQuestion, room_seed: int) -> RoundQuestion:
    """The round to open: the ranges as options in their order, the right one the range the
    room's value fell in, the reveal's text naming the value and what else the stage did."""
    value, result = stage_value(stage, room_seed)
    right = next(r.label for r in stage.ranges if r.holds(value))
    words, fmt = MEASURE_WORDS[stage.measure]
    explanation = (f"{stage.explain} In this room's company {words} came out at "
                   f"{fmt.format(value)} (usage {result.usage_change_pct:+.0f}%, output "
                   f"{result.output_change_pct:+.1f}%, correlation "
                   f"{result.baseline_correlation:.2f} before the reward, "
                   f"{result.final_correlation:.2f} at the end).")
    labels = tuple(r.label for r in stage.ranges)
    return RoundQuestion(key=stage.key, prompt=stage.prompt, options=labels, answer=right,
                         misconceptions=(None,) * len(labels), explanation=explanation,
                         kind=KIND)


def stage_chart(stage_name: str, room_seed: int, font_size: int = 0):
    """The stage's chart (module 1's), for the projector once the answer is revealed; with
    `font_size` its two panels grow and its text is set in that size (the back of a room)."""
    from course.charts import simulator_chart

    stage = load_simulator_room().stage(stage_name)
    params = stage_params(stage, room_seed)
    result = simulator_chart(sim.simulate(params), params)
    if font_size:
        chart = result.chart.copy()
        chart.hconcat = [panel.properties(width=font_size * 18, height=font_size * 16)
                         for panel in chart.hconcat]
        chart = (chart.configure_axis(labelFontSize=font_size * 0.8, titleFontSize=font_size * 0.8)
                 .configure_title(fontSize=font_size).configure_legend(labelFontSize=font_size * 0.8))
        result = replace(result, chart=chart)
    return result
