"""The exercises' data, cached per learner: the practice company's features, weekly signals and
session sample, and the course's shared labelled tuning company."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from course import data as course_data
from course import exercise_tools as tools
from course import simulator as sim
from course.app_pages import common
from course.app_pages.widgets.simulator import simulation, stage_params


@st.cache_resource(show_spinner=False, max_entries=8)
def _tuning_cached(course_key: str) -> dict:
    """The tuning company's features, weekly signals and truths (read-only, shared)."""
    from course.charts import employee_features

    company = common.get_tuning_company()
    return {"features": employee_features(company), "signals": tools.weekly_signals(company),
            **{check_id: course_data.exercise_truth(check_id, company)
               for check_id in ("detect.flag_tokenmaxxers", "detect.flag_converts")}}


def _tuning_key() -> str:
    config = common.get_config()
    return f"{config.course.root}|{config.profile}|{config.employees}|{config.days}"


def tuning_features() -> pd.DataFrame:
    return _tuning_cached(_tuning_key())["features"]


def tuning_signals() -> tools.WeeklySignals:
    return _tuning_cached(_tuning_key())["signals"]


def tuning_truth(check_id: str) -> set[str]:
    return set(_tuning_cached(_tuning_key())[check_id])


@st.cache_resource(show_spinner=False, max_entries=64)
def _weekly_signals_cached(key: str, _company) -> tools.WeeklySignals:
    return tools.weekly_signals(_company)


def warm_up_exercises(learner: str, company) -> None:
    """The exercises' data on the learner's practice company, the shared tuning company and the
    simulator stages (the shared ones and the learner's own sandbox) at their defaults."""
    key = common.practice_key(learner)
    _features_cached(key, company)
    _weekly_signals_cached(key, company)
    _session_sample_cached(key, company)
    _tuning_cached(_tuning_key())
    for stage in sim.STAGES:
        simulation(stage_params(stage, learner, {}))




def practice_signals(learner: str, company) -> tools.WeeklySignals:
    return _weekly_signals_cached(common.practice_key(learner), company)


@st.cache_data(show_spinner=False, max_entries=64)
def _session_sample_cached(key: str, _company) -> pd.DataFrame:
    import zlib

    from exercises.truth import sample_sessions

    return sample_sessions(_company, n=8, seed=zlib.crc32(key.encode()))


def session_sample(learner: str, company) -> pd.DataFrame:
    return _session_sample_cached(common.practice_key(learner), company)


@st.cache_data(show_spinner=False, max_entries=64)
def _features_cached(key: str, _company) -> pd.DataFrame:
    from course.charts import employee_features

    return employee_features(_company)


def practice_features(learner: str, company) -> pd.DataFrame:
    return _features_cached(common.practice_key(learner), company)

