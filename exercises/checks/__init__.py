"""One registry of exercise checks, shared by the app's exercises, the grader and the tests.

An exercise is one record (`Check`, as learntools' `Problem` is): its scoring function, the truth
it scores against, its tolerances, the band ladder its credit is read on, what a learner may see,
the instructor's reading its result carries and the app widget that takes its answer. The
modules, one per kind of answer:
- `core`: the record, the registry, `run_check`, `Result` and its `Reading`;
- `bands`: THE band ladder (within / close / off) and `linear_credit`;
- `readers`: what a learner may hand in, turned into one shape;
- `flags`: flag sets (`detect.*`), F1 against the hidden ids;
- `tables`: the weekly table (`explore.*`) and labelled sessions (`spot.*`);
- `estimates`: numbers against a tolerance and the measure finding (`measure.*`);
- `simulator`: the collapse point (`goodhart.*`);
- `design`: dashboard design (`metrics.*`).
Scoring rules are also in docs/instructors.md.
"""

from exercises.checks.bands import (CLOSE, LADDER, OFF, WITHIN, Band, Tolerance, band_by_id, band_of_credit,
                                    estimate_band, linear_credit)
from exercises.checks.core import (CHECKS, CORRECT, INCORRECT, NOT_ATTEMPTED, TRUTH_SOURCES, UNREADABLE, VISIBILITIES,
                                   WIDGET_KINDS, AppWidget, Check, Example, Incorrect, Reading, Result,
                                   _clip_score, check, clip_score, is_empty, run_check, score_with)
from exercises.checks.readers import as_id_set, as_number, frame_from_answer, truth_number
from exercises.checks.flags import (FLAG_FULL_F1, FLAG_MARGIN, FLAG_ZERO_F1, chance_f1, f1_score,  # noqa: I001
                                    flag_converts, flag_thresholds, flag_tokenmaxxers)
from exercises.checks.tables import WEEKLY_KEYS, WEEKLY_VALUES, label_sessions, weekly_usage_output
from exercises.checks.estimates import (ESTIMATE_RULES, FINDING_KEYS, FINDING_PARTS, INTERVAL_KEYS, EstimateRule,
                                        access_effect, default_tolerance, measure_finding, theater_share)
from exercises.checks.simulator import COLLAPSE_FULL_WITHIN, COLLAPSE_GRID, collapse_point
from exercises.checks.design import DASHBOARD_MAX, DASHBOARD_MIN, dashboard_design

__all__ = [
    "CHECKS", "CLOSE", "COLLAPSE_FULL_WITHIN", "COLLAPSE_GRID", "CORRECT", "DASHBOARD_MAX", "DASHBOARD_MIN",
    "ESTIMATE_RULES", "FINDING_KEYS", "FINDING_PARTS", "INTERVAL_KEYS", "FLAG_FULL_F1", "FLAG_MARGIN", "FLAG_ZERO_F1", "INCORRECT", "LADDER",
    "NOT_ATTEMPTED", "OFF", "TRUTH_SOURCES", "UNREADABLE", "VISIBILITIES", "WEEKLY_KEYS", "WEEKLY_VALUES",
    "WIDGET_KINDS", "WITHIN",
    "AppWidget", "Band", "Check", "EstimateRule", "Example", "Incorrect", "Reading", "Result", "Tolerance",
    "_clip_score", "as_id_set", "as_number", "band_by_id", "band_of_credit", "chance_f1", "check", "clip_score",
    "collapse_point", "dashboard_design", "default_tolerance", "estimate_band", "f1_score", "flag_converts",
    "flag_thresholds", "flag_tokenmaxxers", "frame_from_answer", "is_empty", "label_sessions", "linear_credit",
    "access_effect", "measure_finding", "run_check", "score_with", "theater_share", "truth_number",
    "weekly_usage_output",
]
