"""What the workshop tests share: a settable clock and a room store on a temporary SQLite file."""

from __future__ import annotations

import datetime as dt

import pytest

from course.progress import ProgressStore
from course.workshop import WorkshopStore


class Clock:
    """Stands in for `utcnow`, so a test moves time by setting `now`."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 2, 9, 0)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def store(tmp_path):
    progress = ProgressStore(f"sqlite:///{tmp_path / 'progress.sqlite'}")
    yield WorkshopStore(progress.engine)
    progress.engine.dispose()
