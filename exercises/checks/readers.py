"""Answer readers: turn what a learner may reasonably hand in into one shape, or say what is wrong.

Each raises `Incorrect` with a message the learner can act on; none ever sees the truth.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from exercises.checks.core import Incorrect


def as_id_set(answer: Any, what: str = "employee ids") -> set[str]:
    """A collection of ids (list, set, Series, array, JSON text, or a table with an id column)."""
    if isinstance(answer, str):
        text = answer.strip()
        if text.startswith("["):
            try:
                answer = json.loads(text)
            except json.JSONDecodeError:
                raise Incorrect(f"Expected a list of {what}; the text is not a valid JSON list.") from None
        else:
            answer = [part for part in text.replace(",", " ").split() if part]
    if isinstance(answer, pd.DataFrame):
        id_cols = [c for c in answer.columns if str(c).endswith("_id")]
        if len(id_cols) != 1:
            raise Incorrect(f"Expected a list of {what}; a table needs exactly one *_id column.")
        answer = answer[id_cols[0]]
    if isinstance(answer, Mapping):
        raise Incorrect(f"Expected a list of {what}, not a dictionary.")
    if isinstance(answer, numbers.Number | bool):
        raise Incorrect(f"Expected a list of {what}, not a single number.")
    if isinstance(answer, pd.Series | np.ndarray):
        answer = list(answer)
    if not isinstance(answer, Iterable):
        raise Incorrect(f"Expected a list of {what}, not {type(answer).__name__}.")
    ids: set[str] = set()
    for item in answer:
        if isinstance(item, np.generic):
            item = item.item()
        if not isinstance(item, str):
            raise Incorrect(f"Expected {what} as text (like 'E00042'); found a {type(item).__name__}.")
        if item.strip():
            ids.add(item.strip())
    return ids


def as_number(answer: Any, what: str) -> float:
    """One finite number; text that parses as a number is accepted."""
    if isinstance(answer, np.generic):
        answer = answer.item()
    if isinstance(answer, bool):
        raise Incorrect(f"Expected {what} as a number, not True/False.")
    if isinstance(answer, str):
        try:
            answer = float(answer.strip().rstrip("%"))
        except ValueError:
            raise Incorrect(f"Expected {what} as a number; the text is not one.") from None
    if isinstance(answer, Mapping | list | tuple | set | pd.Series | pd.DataFrame | np.ndarray):
        raise Incorrect(f"Expected {what} as a single number, not a {type(answer).__name__}.")
    if not isinstance(answer, numbers.Real):
        raise Incorrect(f"Expected {what} as a number, not {type(answer).__name__}.")
    value = float(answer)
    if not math.isfinite(value):
        raise Incorrect(f"Expected {what} as a finite number.")
    return value


def truth_number(truth: Any) -> tuple[float, Mapping[str, float]]:
    """A truth given as a number, or as {'value': v, 'full_within': a, 'zero_at': b}."""
    if isinstance(truth, Mapping):
        return float(truth["value"]), truth
    return float(truth), {}



def frame_from_answer(answer: Any) -> pd.DataFrame:
    if isinstance(answer, pd.DataFrame):
        return answer.copy()
    if isinstance(answer, list) and answer and all(isinstance(r, Mapping) for r in answer):
        return pd.DataFrame(answer)
    raise Incorrect(f"Expected a table (a pandas DataFrame), not a {type(answer).__name__}.")

