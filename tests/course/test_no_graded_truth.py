"""The app never hands out the graded answer.

The company a learner's notebooks are graded on reaches the app as released tables only; every
check, chart and sentence that needs labels runs on the learner's practice company. Proved here
end to end: every module page is rendered for several learners (predictions committed so every
chart is revealed, every exercise checked), once with the graded companies' real labels and once
with those labels replaced while their released tables stay byte for byte the same. Everything
sent to the browser must be identical.
"""

from __future__ import annotations

import dataclasses
import threading
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1.element_tree import Block

from course.modules import CONTENT_DIR, load_modules
from course.progress import ProgressStore
from grader.course_dir import is_learner_id
from tests.course.fakes import fake_api
from tests.course.test_app_pages import _answer_exercise, _app, _open_module, _sign_in

LEARNERS = ("ada", "bob")  # two companies: enough for a page that tells learners apart to differ


def _other_labels(company):
    """The same company with different hidden truth: archetypes moved one person along, every
    event's theater flag flipped. The released tables are the very same objects."""
    archetypes = company.labels["archetype"].to_numpy()
    labels = company.labels.assign(archetype=pd.array(np.roll(archetypes, 1), dtype="string"))
    theater = company.event_labels["is_theater"].astype(bool)
    return dataclasses.replace(company, labels=labels,
                               event_labels=company.event_labels.assign(is_theater=~theater))


def _api(replace_graded_labels: bool) -> SimpleNamespace:
    """The fake generator; optionally every company seeded for a learner id (a graded company)
    gets other labels. Practice and tuning companies (owners that are not learner ids) keep
    theirs."""
    base = fake_api()
    graded_seeds: set[int] = set()

    def learner_seed(secret: str, learner_id: str) -> int:
        seed = base.learner_seed(secret, learner_id)
        if is_learner_id(learner_id):
            graded_seeds.add(seed)
        return seed

    def generate_company(profile: str, employees: int = 60, days: int = 70, seed: int = 0):
        company = base.generate_company(profile=profile, employees=employees, days=days, seed=seed)
        return _other_labels(company) if replace_graded_labels and seed in graded_seeds else company

    return SimpleNamespace(learner_seed=learner_seed, generate_company=generate_company,
                           write_company=base.write_company)


def _fresh_app_state(app_home) -> None:
    """Forget every cached company, chart and store (the next render starts from nothing)."""
    from course import charts
    from course.app_pages import common

    for thread in threading.enumerate():   # a warm-up still running must not fill the new caches
        if thread.name.startswith("warm-up"):
            thread.join(timeout=120)
    st.cache_resource.clear()
    st.cache_data.clear()
    common._WARMED.clear()
    charts._FEATURE_CACHE.clear()
    for path in app_home.glob("progress.sqlite*"):
        path.unlink()


def _payload(at) -> list[tuple[str, object]]:
    """Everything the page sent: each element's type and its full message (a download button by
    its label: its file is made only on a click)."""
    sent = []
    for root in (at.main, at.sidebar):
        for node in root:
            proto = getattr(node, "proto", None)
            if node.type == "download_button":
                sent.append((node.type, proto.label))
            elif proto is not None and not isinstance(node, Block):
                sent.append((node.type, proto.SerializeToString(deterministic=True)))
            elif proto is not None:
                sent.append((f"block:{node.type}", proto.SerializeToString(deterministic=True)))
    assert not at.exception, at.exception
    return sent


def _commit_every_prediction_and_quiz(store: ProgressStore, learner: str, modules) -> None:
    """As if the learner had answered every prediction and quiz: every chart and stage shows."""
    for module in modules:
        for ref in module.charts:
            if ref.predict is not None:
                store.record_attempt(learner, module.id, ref.predict.id, "prediction",
                                     ref.predict.answer, True, 1.0, None)
        for q in module.quiz:
            store.record_attempt(learner, module.id, q.id, "quiz", q.answer, True, 1.0, None)


def _render_course(app_home, monkeypatch, replace_graded_labels: bool) -> dict:
    import course.data

    _fresh_app_state(app_home)
    api = _api(replace_graded_labels)
    monkeypatch.setattr(course.data, "_api", lambda: api)
    modules, _ = load_modules(CONTENT_DIR)
    sent: dict[tuple[str, str], list] = {}
    for learner in LEARNERS:
        at = _sign_in(_app(), learner)
        store = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}")
        _commit_every_prediction_and_quiz(store, learner, modules)
        for module in modules:
            _open_module(at, module)
            if module.exercise is not None:
                _answer_exercise(at, module.exercise)
                at.button(key=f"exercise:{module.exercise.id}:check").click().run()
            charts = [c for c in module.charts if c.predict is not None]
            assert len(at.get("vega_lite_chart")) >= len(charts), module.id   # all revealed
            sent[(learner, module.id)] = _payload(at)
        at.switch_page("app_pages/capstone.py").run()
        sent[(learner, "the capstone page")] = _payload(at)
    return sent


@pytest.mark.slow
def test_nothing_sent_to_the_browser_depends_on_the_graded_companies_labels(app_home, monkeypatch):
    real = _render_course(app_home, monkeypatch, replace_graded_labels=False)
    other = _render_course(app_home, monkeypatch, replace_graded_labels=True)
    assert real.keys() == other.keys()
    for page in real:
        assert len(real[page]) == len(other[page]), page
        for index, (a, b) in enumerate(zip(real[page], other[page])):
            assert a == b, (page, index, a[0])
    # every exercise was really checked, and the label-based chart really shown, on each page
    exercises = [m for m in load_modules(CONTENT_DIR)[0] if m.exercise is not None]
    checked = [page for page, sent in real.items()
               if any(b"**Correct.**" in v or b"**Not yet.**" in v
                      for _, v in sent if isinstance(v, bytes))]
    assert sorted(checked) == sorted((learner, m.id) for learner in LEARNERS for m in exercises)
    assert all(any(b"This chart uses your **practice company**" in v
                   for _, v in real[(learner, "building-a-detector")] if isinstance(v, bytes))
               for learner in LEARNERS)


def test_a_practice_companys_labels_do_change_what_the_page_shows(app_home, monkeypatch):
    """The comparison above can fail: other labels on the PRACTICE company change the detector
    chart and the exercise feedback."""
    import course.data

    module = next(m for m in load_modules(CONTENT_DIR)[0] if m.id == "building-a-detector")

    def render(api) -> list:
        _fresh_app_state(app_home)
        monkeypatch.setattr(course.data, "_api", lambda: api)
        at = _sign_in(_app(), "ada")
        store = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}")
        _commit_every_prediction_and_quiz(store, "ada", [module])
        _open_module(at, module)
        return [v for kind, v in _payload(at) if "vega" in kind]

    base = fake_api()

    def practice_swapped(profile: str, employees: int = 60, days: int = 70, seed: int = 0):
        company = base.generate_company(profile=profile, employees=employees, days=days, seed=seed)
        return company if seed in graded else _other_labels(company)

    graded: set[int] = set()

    def learner_seed(secret: str, learner_id: str) -> int:
        seed = base.learner_seed(secret, learner_id)
        if is_learner_id(learner_id):
            graded.add(seed)
        return seed

    real = render(_api(False))
    swapped = render(SimpleNamespace(learner_seed=learner_seed, generate_company=practice_swapped,
                                     write_company=base.write_company))
    assert real and real != swapped


def test_the_apps_graded_company_has_no_labels_and_the_practice_company_has(app_home):
    from course.app_pages import common

    at = _sign_in(_app(), "ada")
    assert not at.exception
    graded = common._company_for(*_cache_args("ada"))
    assert not hasattr(graded, "labels") and not hasattr(graded, "event_labels")
    practice = common._practice_company_for(*_cache_args("ada"))
    assert len(practice.labels) and len(practice.event_labels)
    assert not practice.ai_events.equals(graded.ai_events)


def _cache_args(learner: str) -> tuple:
    from course.config import load_config

    config = load_config()
    return (str(config.course.root), learner, config.profile, config.employees, config.days, config)


def test_my_learning_shows_bands_never_an_exercise_score(app_home):
    from exercises.checks import band_of_credit

    modules, _ = load_modules(CONTENT_DIR)
    with_exercise = [m for m in modules if m.exercise is not None]
    scores = (0.96, 1.0, 0.73, 0.04)
    at = _sign_in(_app(), "ada")
    store = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}")
    for module, score in zip(with_exercise, scores):
        store.record_attempt("ada", module.id, module.exercise.id, "exercise", "0.5", score == 1.0,
                             score, None)
    at.switch_page("app_pages/my_learning.py").run()
    assert not at.exception
    texts = [str(getattr(e, "value", "")) for e in at.main if not isinstance(e, Block)]
    tables = [d.value for d in at.dataframe]
    shown = "\n".join(texts + [t.to_csv(index=False) for t in tables])
    for exact in ("0.96", "96%", "0.73", "73%", "0.04", " 4%", ",4%"):
        assert exact not in shown, exact
    table = next(t for t in tables if "best exercise check" in t.columns)
    bands = dict(zip(table["module"], table["best exercise check"]))
    for module, score in zip(with_exercise, scores):
        assert bands[f"{module.number}. {module.title}"] == band_of_credit(score).name, module.id
    assert bands[f"{with_exercise[-1].number}. {with_exercise[-1].title}"] == "not checked yet"


def test_the_practice_company_is_made_in_the_background_after_sign_in(app_home, monkeypatch):
    """Sign-in waits for the graded company only; the practice company is generated by the
    warm-up thread, once, and the module pages then find it cached."""
    import course.data

    _fresh_app_state(app_home)
    made_by: list[str] = []
    original = course.data.learner_practice_company

    def counting(config, learner_id):
        made_by.append(threading.current_thread().name)
        return original(config, learner_id)

    monkeypatch.setattr(course.data, "learner_practice_company", counting)
    at = _sign_in(_app(), "ada")
    assert not at.exception
    for thread in threading.enumerate():
        if thread.name.startswith("warm-up"):
            thread.join(timeout=120)
    assert len(made_by) == 1 and made_by[0].startswith("warm-up"), made_by
    module = next(m for m in load_modules(CONTENT_DIR)[0] if m.id == "building-a-detector")
    _open_module(at, module)
    assert not at.exception and len(made_by) == 1
