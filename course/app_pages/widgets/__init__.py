"""Widgets that replace lesson directives: questions, predict-then-reveal charts, the simulator,
the checker game and exercises. They record every attempt and hint; the scoring lives in pure
modules (exercises.checks, course.practice), and an exercise's widget is chosen by its check
record's widget kind (answers.ANSWER_WIDGETS), never by comparing check ids.

One module per directive: `questions`, `charts`, `simulator`, `checker_game`, `exercise` (with
`answers` for the answer widget of each kind, `detectors` for the two detector widgets, `state`
for saved inputs and attempts, `practice_data` for the cached practice and tuning data).
"""

from course.app_pages.widgets.charts import PRACTICE_CHART_NOTE, chart_block, render_chart
from course.app_pages.widgets.checker_game import checker_game_block
from course.app_pages.widgets.exercise import PRACTICE_EXERCISE_NOTE, exercise_block, uses_practice_company
from course.app_pages.widgets.practice_data import warm_up_exercises
from course.app_pages.widgets.questions import FIRST_ANSWER_NOTE, KIND_LABEL, last_attempts, pre_post_test, question
from course.app_pages.widgets.simulator import STAGE_TEXT, simulator_block, simulator_params

__all__ = ["FIRST_ANSWER_NOTE", "KIND_LABEL", "PRACTICE_CHART_NOTE", "PRACTICE_EXERCISE_NOTE", "STAGE_TEXT",
           "chart_block", "checker_game_block", "exercise_block", "last_attempts", "pre_post_test", "question",
           "render_chart", "simulator_block", "simulator_params", "uses_practice_company", "warm_up_exercises"]
