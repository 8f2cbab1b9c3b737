"""The home page's time plan counts the notebooks, not only the modules."""

from types import SimpleNamespace

from course.modules import load_modules
from course.time_plan import time_plan
from exercises.assignments import load_assignment
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "exercises" / "source"


def test_the_plan_adds_the_notebooks_to_the_modules_and_says_hours():
    modules = [SimpleNamespace(minutes=40), SimpleNamespace(minutes=50)]
    notebooks = [SimpleNamespace(name="explore", minutes=(30, 60)),
                 SimpleNamespace(name="measure", minutes=(45, 90))]
    text = time_plan(modules, notebooks)
    assert "about 90 minutes in the app" in text
    assert "(explore, measure) add about 75–150 minutes" in text
    assert "Plan on 3 to 4 hours" in text


def test_without_timed_notebooks_only_the_modules_are_counted():
    assert time_plan([SimpleNamespace(minutes=25)], []) == "The modules take about 25 minutes in the app."


def test_the_shipped_course_is_planned_at_more_than_six_hours():
    modules, _ = load_modules()
    assignments = [load_assignment(folder) for folder in sorted(SOURCE.iterdir()) if folder.is_dir()]
    assert all(a.minutes for a in assignments), "every graded notebook declares its minutes"
    text = time_plan(modules, assignments)
    low = sum(m.minutes for m in modules) + sum(a.minutes[0] for a in assignments)
    assert low >= 360, text
