"""A kit step in a live room: the question a run-of-show step opens, whatever its kind, so the
trainer's "Next in the kit" button stands in for the long question list.

The kit (course/content/workshop-kit.yaml) names questions by key: a course or pre/post-test
question (course.workshop.question_choices), "board", a Goodhart live stage ("simulator/…"),
"checker-game", or an open-text prompt ("text/…").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from course import workshop
from course.workshop_kit import BOARD, CHECKER, TEXT_PREFIX, Kit, KitError

STEP_LABEL_MAX = 110


def step_question(key: str, room: workshop.Workshop, kit: Kit, choices: dict[str, tuple[str, Any]],
                  modules: list[Any], room_board: Callable[[], Any]) -> tuple[str, Any]:
    """(round key, question) to open for a kit step; `room_board` gives the room's board
    question (course.workshop_board.room_board_question) and is called only for that step
    (generating the room's company takes seconds)."""
    from course import workshop_checker, workshop_simulator

    if key == BOARD:
        from course.workshop_board import BOARD_KEY

        return BOARD_KEY, room_board()
    if key.startswith(workshop_simulator.KEY_PREFIX):
        stage = workshop_simulator.load_simulator_room().stage(key)
        return stage.key, workshop_simulator.stage_question(stage, room.seed)
    if key == CHECKER:
        return workshop_checker.KEY, workshop_checker.checker_question(
            workshop_checker.load_game(modules))
    if key.startswith(TEXT_PREFIX):
        prompt = kit.text_prompt(key)
        question = workshop.trainer_question(prompt.prompt, "text")
        return key, question
    if key in choices:
        return key, choices[key][1]
    raise KitError(f"The kit asks {key!r}, which this course does not have; pick a question "
                   "from the list instead.")


def asked_kit_keys(round_keys: Iterable[str]) -> set[str]:
    """The kit's names of the questions a room was asked (the board question's round has its own
    key), so the kit passes over what was asked by hand."""
    from course.workshop_board import BOARD_KEY

    return {BOARD if key == BOARD_KEY else key for key in round_keys}


def step_label(step: Any, choices: dict[str, tuple[str, Any]], kit: Kit) -> str:
    """What the "Next in the kit" button says it will open."""
    if step.key is None:
        what = "no question: " + step.block.activity
    elif step.key == BOARD:
        what = "the board question"
    elif step.key == CHECKER:
        what = "the checker game, played by the room"
    elif step.key.startswith("simulator/"):
        what = "Goodhart live, stage " + step.key.split("/", 1)[1]
    elif step.key.startswith(TEXT_PREFIX):
        try:
            what = "open text: " + kit.text_prompt(step.key).prompt
        except KitError:
            what = step.key
    else:
        what = choices.get(step.key, (step.key, None))[0]
    if len(what) > STEP_LABEL_MAX:      # a button, not a paragraph: the control view shows the rest
        what = what[:STEP_LABEL_MAX - 1].rstrip() + "…"
    return f"{step.block.title} · {what}"
