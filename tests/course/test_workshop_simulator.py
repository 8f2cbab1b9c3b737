"""Goodhart live: the room predicts each simulator stage as a range, sees its spread, then the
stage's real value for the room's own population."""

import pytest
import yaml

from course import simulator as sim
from course import workshop_simulator as live
from tests.course.test_staff_pages import texts
from tests.course.test_workshop_pages import (_join, _presenter, button, chart_data,  # noqa: F401
                                              rooms, trainer)
from tests.course.workshop_fixtures import store  # noqa: F401 - the fixture


def test_the_content_covers_the_lessons_four_stages_in_order():
    content = live.load_simulator_room()
    assert [s.stage for s in content.stages] == list(sim.STAGES[:-1])   # the sandbox is solo


@pytest.mark.parametrize("seed", [1, 2026, 2**31 - 1])
def test_each_stages_right_range_holds_the_value_the_stage_really_gives(seed):
    for stage in live.load_simulator_room().stages:
        question = live.stage_question(stage, seed)
        value, result = live.stage_value(stage, seed)
        assert value == getattr(result, stage.measure)
        holding = [r.label for r in stage.ranges if r.holds(value)]
        assert holding == [question.answer]                  # exactly one range, the right one
        assert question.options == tuple(r.label for r in stage.ranges)
        assert question.kind == "simulator" and not question.shuffles
        assert question.key == f"simulator/{stage.stage}"


def test_the_answer_is_the_rooms_own_not_one_to_remember():
    """The strong-reward stage lands in different ranges for different rooms' populations."""
    stage = live.load_simulator_room().stage("combined")
    answers = {live.stage_question(stage, seed).answer for seed in range(0, 4000, 97)}
    assert len(answers) >= 2


def test_the_stages_tell_the_lessons_story_for_any_room():
    content = live.load_simulator_room()
    for seed in (3, 77, 900001):
        metric, _ = live.stage_value(content.stage("metric"), seed)
        gaming, _ = live.stage_value(content.stage("gaming"), seed)
        combined, _ = live.stage_value(content.stage("combined"), seed)
        output, result = live.stage_value(content.stage("incentive"), seed)
        assert metric > gaming > combined
        assert 0 < output < result.usage_change_pct / 5        # more usage, far less value


def _write(tmp_path, stages):
    path = tmp_path / "sim.yaml"
    path.write_text(yaml.safe_dump({"title": "Goodhart live", "stages": stages}))
    return path


STAGE = {"stage": "metric", "reward": 0.0, "measure": "final_correlation",
         "prompt": "How close is the link?", "explain": "Honest at first.",
         "ranges": [{"label": "low", "high": 0.5}, {"label": "high", "low": 0.5}]}


@pytest.mark.parametrize("change, message", [
    ({"ranges": [{"label": "low", "high": 0.4}, {"label": "high", "low": 0.5}]}, "must start"),
    ({"ranges": [{"label": "low", "low": 0.0, "high": 0.5}, {"label": "high", "low": 0.5}]},
     "first range needs no low"),
    ({"ranges": [{"label": "same", "high": 0.5}, {"label": "same", "low": 0.5}]}, "share a label"),
    ({"measure": "happiness"}, "measure"),
    ({"stage": "sandbox"}, "stage"),
])
def test_content_with_ranges_that_miss_a_value_or_a_wrong_field_is_refused(tmp_path, change,
                                                                           message):
    with pytest.raises(live.InvalidSimulatorRoom, match=message):
        live.load_simulator_room(_write(tmp_path, [{**STAGE, **change}]))


def test_stages_out_of_order_are_refused(tmp_path):
    later = {**STAGE, "stage": "gaming", "reward": 0.5}
    with pytest.raises(live.InvalidSimulatorRoom, match="simulator's order"):
        live.load_simulator_room(_write(tmp_path, [later, STAGE]))
    with pytest.raises(live.SimulatorRoomError, match="no stage 'combined'"):
        live.load_simulator_room(_write(tmp_path, [STAGE])).stage("combined")


def test_a_stage_runs_as_a_round_spread_then_reveal(store):
    room = store.create_workshop("startup")
    stage = live.load_simulator_room().stage("gaming")
    question = live.stage_question(stage, room.seed)
    asked = store.open_question(room.code, question.key, question)
    assert asked.question.options == question.options          # ranges keep their order
    for i in range(6):
        person = store.join(room.code, f"p{i}")
        store.submit_answer(room.code, person.token, asked.id, question.options[i % 3 + 1])
    store.close_question(room.code)
    spread = store.aggregate(asked.id)
    assert spread.shown and sum(o.count for o in spread.options) == 6
    assert [o.option for o in spread.options if o.correct] == [question.answer]
    store.reveal(room.code, asked.id)
    assert store.get_round(asked.id).revealed


def test_the_trainer_asks_a_stage_and_the_projector_reveals_the_rooms_run(app_home, rooms):
    at = trainer().run()
    at.button[0].click().run()
    code = at.session_state["workshop_host_code"]
    stages = next(s for s in at.selectbox if s.label.startswith("Goodhart live"))
    assert stages.value == "metric"                           # the first stage not yet asked
    button(at, "Ask this stage").click().run()
    assert not at.exception
    asked = rooms.current_round(code)
    seed = rooms.get_workshop(code).seed
    assert asked.question.key == "simulator/metric"
    assert asked.question.answer == live.stage_question(
        live.load_simulator_room().stage("metric"), seed).answer
    assert next(s for s in at.selectbox if s.label.startswith("Goodhart live")).value == \
        "incentive"                                           # the next one is offered

    phone = _join(code, "Ada")
    assert [o.split(". ", 1)[1] for o in phone.radio[0].options] == list(asked.question.options)
    projector = _presenter(code)
    assert "Does usage still track output?" not in (chart_data(projector)
                                                    if projector.get("vega_lite_chart") else "")
    rooms.close_question(code)
    rooms.reveal(code, asked.id)
    projector.run()
    assert not projector.exception
    assert f"✓ {asked.question.answer}" in texts(projector)
    assert "In this room's company" in texts(projector)
    specs = [c.proto.spec for c in projector.get("vega_lite_chart")]
    assert any("Does usage still track output?" in spec for spec in specs)
    phone.run()
    assert f"Right answer: “{asked.question.answer}”" in texts(phone)
