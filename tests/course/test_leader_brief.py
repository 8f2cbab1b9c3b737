"""The leader take-away of a room: its findings, its change from form A to form B with an
interval, its approved commitments and the course's recommendations; never a nickname, never a
group under MIN_GROUP, every participant's text escaped."""

from __future__ import annotations

import re

import pytest

from course import leader_brief as lb
from course.charts import MIN_GROUP
from course.workshop import RoundQuestion, trainer_question
from course.workshop_kit import load_kit
from tests.course.workshop_fixtures import store  # noqa: F401 - the fixture

QUESTION = RoundQuestion(
    key="m1/proxy", prompt="Sessions doubled after the mandate. What do you know?",
    options=("Value doubled", "Nothing about value yet", "Teams got lazier"),
    answer="Nothing about value yet",
    misconceptions=("usage-is-value", None, "activity-means-effort"))
HOSTILE = '<script>alert(1)</script> [click](http://evil.example) **bold** `x` | # & "q"'
NICK = "Zelda<b>Quill"


def _people(store, code, n, prefix="person"):
    return [store.join(code, f"{prefix}{i}" if i else NICK) for i in range(n)]


def _commitments(store, code, people, texts):
    question = trainer_question(load_kit().text_prompt(lb.COMMITMENT_KEY).prompt, "text")
    round_ = store.open_question(code, lb.COMMITMENT_KEY, question)
    for person, text in zip(people, texts):
        store.submit_answer(code, person.token, round_.id, text)
    return round_


@pytest.fixture
def full_room(store):
    """A room of 8: a form-A and a form-B item, a module question, six commitments."""
    room = store.create_workshop("mandate-bigco", "Leaders' <i>offsite</i> [x](y)")
    people = _people(store, room.code, 8)
    pre = store.open_question(room.code, "pretest/usage", QUESTION)
    for i, person in enumerate(people):      # 2 of 8 right before
        store.submit_answer(room.code, person.token, pre.id,
                            "Nothing about value yet" if i < 2 else "Value doubled")
    asked = store.open_question(room.code, QUESTION.key, QUESTION)
    for i, person in enumerate(people):
        store.submit_answer(room.code, person.token, asked.id,
                            "Value doubled" if i < 4 else "Nothing about value yet")
    post = store.open_question(room.code, "posttest/usage", QUESTION)
    for i, person in enumerate(people):      # 7 of 8 right after
        store.submit_answer(room.code, person.token, post.id,
                            "Nothing about value yet" if i < 7 else "Teams got lazier")
    commit = _commitments(store, room.code, people[:6],
                          [HOSTILE, "Stop ranking people by tokens.", "Stagger the rollout.",
                           "Hide me", "Pilot with a holdout.", "Add a rework guardrail."])
    for answer in store.text_answers(commit.id):
        store.moderate(room.code, answer.id, "hidden" if answer.text == "Hide me" else "approved")
    store.close_workshop(room.code)
    return store, store.get_workshop(room.code)


def test_the_brief_holds_the_rooms_findings_change_and_commitments(full_room):
    store, room = full_room
    brief = lb.room_brief(store, room)
    assert brief.participants == 8 and brief.code == room.code
    assert brief.company.startswith("mandate-bigco: ") and len(brief.company) > 20
    assert [f.stage for f in brief.findings] == ["pretest", None, "posttest"]
    module_q = brief.findings[1]
    assert module_q.key == "Nothing about value yet" and module_q.answers == 8
    assert {o.text: (o.count, o.right) for o in module_q.options} == {
        "Value doubled": (4, False), "Nothing about value yet": (4, True),
        "Teams got lazier": (0, False)}
    assert any("usage is value" in n for n in module_q.notes)       # 50% chose a wrong answer
    gain = brief.gain
    assert gain.learners == 8 and gain.pre_mean == 0.25 and gain.post_mean == 0.875
    assert gain.gain_low is not None and gain.gain_low <= gain.mean_gain <= gain.gain_high
    assert brief.commitments_written == 6
    assert sorted(brief.commitments) == sorted(
        [HOSTILE, "Stop ranking people by tokens.", "Stagger the rollout.",
         "Pilot with a holdout.", "Add a rework guardrail."])         # the hidden one is left out
    assert {r.heading for r in brief.recommendations} >= {"Stop targeting usage",
                                                          "Keep a firewall around usage data"}
    assert all(s.startswith("Module ") for r in brief.recommendations for s in r.sources)


def test_a_commitment_prompt_asked_twice_counts_each_person_once(store):
    room = store.create_workshop("mandate-bigco", "Asked twice")
    people = _people(store, room.code, 7)
    first = _commitments(store, room.code, people[:6], [f"First try {i}." for i in range(6)])
    second = _commitments(store, room.code, people[1:7], [f"Second try {i}." for i in range(6)])
    assert first.id != second.id
    brief = lb.room_brief(store, store.get_workshop(room.code))
    assert brief.commitments_written == 7          # seven people wrote, twelve answers in all
    assert "7 people wrote a commitment" in lb._commitments_intro(brief)


def test_the_change_from_form_a_to_form_b_reads_with_its_interval(full_room):
    store, room = full_room
    sentence = lb.gain_sentence(lb.room_brief(store, room).gain)
    assert re.search(r"from 25% before \(form A\) to 88% after \(form B\): \+62 points, "
                     r"95% interval \+\d+ to \+\d+\.", sentence), sentence


def test_no_nickname_and_no_raw_participant_text_reaches_either_file(full_room):
    store, room = full_room
    page, markdown = lb.leader_brief_files(store, room)
    for nickname in (NICK, "person1", "person7"):
        assert nickname not in page and nickname not in markdown
    assert "Zelda" not in page and "Zelda" not in markdown
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href' not in page and "<a " not in page                # the link stays text
    assert "<script" not in markdown and "&lt;script&gt;" in markdown
    assert "[click](" not in markdown and r"\[click\]\(" in markdown   # no Markdown link
    assert "**bold**" not in markdown
    assert "Hide me" not in page and "Hide me" not in markdown
    assert page.startswith("<!doctype html>") and "<link" not in page and "src=" not in page
    assert "@media print" in page
    assert "<i>offsite" not in page and "&lt;i&gt;offsite&lt;/i&gt;" in page   # the room's title
    assert r"\[x\]\(y\)" in markdown


def test_groups_under_min_group_are_not_shown(store):
    room = store.create_workshop("startup", "Small room")
    people = _people(store, room.code, MIN_GROUP - 1)
    asked = store.open_question(room.code, QUESTION.key, QUESTION)
    for person in people:
        store.submit_answer(room.code, person.token, asked.id, "Value doubled")
    commit = _commitments(store, room.code, people, ["A secret plan"] * len(people))
    for answer in store.text_answers(commit.id):
        store.moderate(room.code, answer.id, "approved")
    brief = lb.room_brief(store, store.get_workshop(room.code))
    finding = brief.findings[0]
    assert not finding.shown and finding.options == () and finding.answers == MIN_GROUP - 1
    assert brief.commitments == () and not brief.gain.shown
    page, markdown = lb.brief_html(brief), lb.brief_markdown(brief)
    assert "A secret plan" not in page and "A secret plan" not in markdown
    assert "Value doubled" not in page and "Value doubled" not in markdown
    assert f"Fewer than {MIN_GROUP} answers: not shown" in page
    assert f"fewer than {MIN_GROUP} answers: not shown" in markdown
    assert "so the room's change is not shown" in markdown
    assert f"Fewer than {MIN_GROUP} people wrote a commitment" in page


def test_an_open_text_round_shows_only_approved_answers_once_enough_wrote(store):
    room = store.create_workshop("startup", "Designs")
    people = _people(store, room.code, 5)
    design = store.open_question(room.code, "text/dashboard",
                                 trainer_question("Your dashboard in one line", "text"))
    for i, person in enumerate(people):
        store.submit_answer(room.code, person.token, design.id, f"design {i}")
    first = store.text_answers(design.id)[0]
    store.moderate(room.code, first.id, "approved")
    brief = lb.room_brief(store, store.get_workshop(room.code))
    assert brief.findings[0].texts == (first.text,)
    markdown = lb.brief_markdown(brief)
    assert "5 answers; 1 approved by the trainer" in markdown and first.text in markdown
    assert sum(f"design {i}" in markdown for i in range(5)) == 1
    assert "The room was not asked for commitments." in markdown
