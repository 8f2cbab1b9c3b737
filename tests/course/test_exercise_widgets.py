"""Issue 10: every option of every exercise widget runs, degenerate answers are refused, and the
learner's inputs come back after a reload."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from course import exercise_tools as tools
from course.progress import ProgressStore
from tests.course.test_app_pages import APP, TIMEOUT, _app, _module_with_check, _open_module, _sign_in


def _exercise_rows(app_home, module) -> int:
    frame = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}").attempts_frame(module.id)
    return int((frame["kind"] == "exercise").sum())


def _ok(at: AppTest, what) -> None:
    assert not at.exception, (what, at.exception)


def test_every_score_feature_weight_and_threshold_runs(app_home):
    module = _module_with_check("detect.flag_tokenmaxxers")
    key = f"exercise:{module.exercise.id}"
    at = _open_module(_sign_in(_app()), module)
    for feature in tools.SCORE_FEATURES:
        at.multiselect(key=f"{key}:features").set_value([feature]).run()
        _ok(at, feature)
        for weight in (tools.WEIGHT_RANGE[0], 0.0, tools.WEIGHT_RANGE[1]):
            at.slider(key=f"{key}:weight:{feature}").set_value(weight)
            for threshold in tools.THRESHOLD_RANGE:
                at.slider(key=f"{key}:threshold").set_value(threshold).run()
                _ok(at, (feature, weight, threshold))
    at.multiselect(key=f"{key}:features").set_value(list(tools.SCORE_FEATURES)).run()
    at.checkbox(key=f"{key}:active").uncheck().run()
    _ok(at, "all features, everyone scored")
    assert any("On the labelled tuning company" in m.value for m in at.markdown)
    assert {m.label for m in at.metric} >= {"Precision", "Recall", "F1", "Flagged"}


def test_a_score_detector_is_checked_and_flagging_everyone_is_refused(app_home):
    module = _module_with_check("detect.flag_tokenmaxxers")
    key = f"exercise:{module.exercise.id}"
    at = _open_module(_sign_in(_app()), module)
    at.multiselect(key=f"{key}:features").set_value(["acceptance_rate"]).run()
    at.slider(key=f"{key}:weight:acceptance_rate").set_value(-1.0)
    at.checkbox(key=f"{key}:active").uncheck()
    at.slider(key=f"{key}:threshold").set_value(tools.THRESHOLD_RANGE[0]).run()   # everyone
    at.button(key=f"{key}:check").click().run()
    _ok(at, "flag everyone")
    assert any("flags all" in e.value for e in at.error)
    assert _exercise_rows(app_home, module) == 0          # refused: no attempt used
    at.slider(key=f"{key}:threshold").set_value(0.6).run()
    assert "**In your practice company: 0**" not in next(m.value for m in at.markdown
                                                if "AI users flagged" in m.value)
    at.button(key=f"{key}:check").click().run()
    _ok(at, "a real detector")
    assert at.error or at.success
    assert _exercise_rows(app_home, module) == 1


def test_every_change_point_option_runs(app_home):
    module = _module_with_check("detect.flag_converts")
    key = f"exercise:{module.exercise.id}"
    at = _open_module(_sign_in(_app()), module)
    for signal in tools.SIGNALS:
        at.radio(key=f"{key}:signal").set_value(signal)
        for method in tools.METHODS:
            at.radio(key=f"{key}:method").set_value(method).run()
            _ok(at, (signal, method))
            if method == "fixed_week":
                weeks = at.slider(key=f"{key}:week")
                for week in (weeks.min, weeks.max):               # the first and last split
                    at.slider(key=f"{key}:week").set_value(week).run()
                    _ok(at, (signal, method, week))
            top = at.slider(key=f"{key}:rise").max
            for rise, before in ((0.0, 0.0), (top, 1.0), (0.0, 1.0)):
                at.slider(key=f"{key}:rise").set_value(rise)
                at.slider(key=f"{key}:before").set_value(before).run()
                _ok(at, (signal, method, rise, before))
    at.radio(key=f"{key}:method").set_value("detected")
    at.slider(key=f"{key}:rise").set_value(0.2)
    at.slider(key=f"{key}:before").set_value(0.4).run()
    at.button(key=f"{key}:check").click().run()
    _ok(at, "check")
    assert _exercise_rows(app_home, module) == 1


def test_module_3_is_done_in_the_app_on_the_pilots_two_groups(app_home):
    module = _module_with_check("measure.access_effect")
    key = f"exercise:{module.exercise.id}"
    at = _open_module(_sign_in(_app()), module)
    assert any("practice zip below" in c.value for c in at.caption)   # where the data is
    assert any("uses your **practice company**" in c.value for c in at.caption)
    assert any("dashboard shortcut" in c.value for c in at.caption)
    assert any(b.proto.label.startswith("Download your practice company's tables")
               for b in at.get("download_button"))
    rates = at.dataframe[-1].value
    assert list(rates["group"]) == list(tools.PILOT_GROUPS)
    assert (rates["people"] > 0).all()
    at.number_input(key=f"{key}:number").set_value(5.0)
    at.button(key=f"{key}:check").click().run()
    _ok(at, "estimate")
    assert _exercise_rows(app_home, module) == 1


def _reload(at: AppTest) -> AppTest:
    """A new browser session carrying the signed url token, as a reload does."""
    token = at.query_params["u"]
    fresh = AppTest.from_file(APP, default_timeout=TIMEOUT)
    fresh.query_params["u"] = token[0] if isinstance(token, list) else token
    fresh.run()
    return fresh


def test_exercise_inputs_survive_a_reload_and_a_visit_elsewhere(app_home):
    module = _module_with_check("detect.flag_tokenmaxxers")
    key = f"exercise:{module.exercise.id}"
    at = _open_module(_sign_in(_app()), module)
    at.multiselect(key=f"{key}:features").set_value(["acceptance_rate", "repeated_prompt_share"]).run()
    at.slider(key=f"{key}:weight:acceptance_rate").set_value(-1.5)
    at.slider(key=f"{key}:threshold").set_value(0.7).run()
    at.switch_page("app_pages/home.py").run()
    at = _open_module(at, module)                         # Streamlit forgot the widgets meanwhile
    assert at.multiselect(key=f"{key}:features").value == ["acceptance_rate", "repeated_prompt_share"]
    reloaded = _open_module(_reload(at), module)
    _ok(reloaded, "restored")
    assert reloaded.multiselect(key=f"{key}:features").value == ["acceptance_rate",
                                                                  "repeated_prompt_share"]
    assert reloaded.slider(key=f"{key}:weight:acceptance_rate").value == -1.5
    assert reloaded.slider(key=f"{key}:threshold").value == pytest.approx(0.7)


def test_inputs_saved_by_an_older_exercise_are_dropped_not_a_crash(app_home):
    module = _module_with_check("detect.flag_tokenmaxxers")
    key = f"exercise:{module.exercise.id}"
    at = _sign_in(_app())
    ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}").save_inputs(
        "ada", f"{module.id}:{module.exercise.id}", {f"{key}:features": ["no_such_feature"]})
    at = _open_module(at, module)
    _ok(at, "stale inputs")
    assert at.multiselect(key=f"{key}:features").value == []


def test_every_widget_kind_of_the_registry_has_an_answer_widget_and_the_pages_dispatch_on_it():
    """The app picks an exercise's answer widget by its check record's widget kind: every kind a
    record may name has a widget, and no widget module compares check ids."""
    import inspect

    from course.app_pages import widgets
    from course.app_pages.widgets import answers, exercise
    from exercises.checks import CHECKS, WIDGET_KINDS

    assert set(answers.ANSWER_WIDGETS) == set(WIDGET_KINDS)
    assert set(answers.REFUSALS) <= set(WIDGET_KINDS)
    assert {c.widget.kind for c in CHECKS.values()} <= set(answers.ANSWER_WIDGETS)
    for module in (answers, exercise):
        source = inspect.getsource(module)
        assert ".check ==" not in source and "check.startswith" not in source, module.__name__
        assert not any(f'"{check_id}"' in source for check_id in CHECKS), module.__name__
    for check_id, chk in CHECKS.items():
        assert widgets.uses_practice_company(check_id) is chk.widget.company
