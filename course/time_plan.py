"""How long the course takes, said honestly: the modules in the app plus the graded notebooks.

The modules declare their own minutes (front matter); the notebooks declare a low and a high
figure in assignment.yaml, because setting up a folder and working in pandas varies far more
between learners than reading a lesson does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _hours(minutes: float) -> str:
    half_hours = max(1, round(minutes / 30))
    whole, half = divmod(half_hours, 2)
    return f"{whole}½" if half and whole else ("½" if half else str(whole))


def time_plan(modules: Sequence[Any], assignments: Sequence[Any]) -> str:
    """One sentence: minutes in the app, minutes for the notebooks, and the total in hours."""
    in_app = sum(int(m.minutes) for m in modules)
    timed = [a for a in assignments if getattr(a, "minutes", None)]
    if not timed:
        return f"The modules take about {in_app} minutes in the app."
    low = sum(a.minutes[0] for a in timed)
    high = sum(a.minutes[1] for a in timed)
    names = ", ".join(a.name for a in timed)
    return (f"The modules take about {in_app} minutes in the app; the graded notebooks ({names}) "
            f"add about {low}–{high} minutes at home. Plan on {_hours(in_app + low)} to "
            f"{_hours(in_app + high)} hours in all, spread over several sittings.")
