"""The workshop kit: versions add up to their minutes, every question it asks can be opened in a
room, every block says what to do with the answers, and the leader brief stands on its own."""

from __future__ import annotations

import pytest

from course.modules import load_modules, load_pre_post_test
from course.workshop import question_choices
from course.workshop_kit import KIT_FILE, InvalidKit, leader_brief_html, load_kit, unknown_questions


def test_the_kit_has_a_90_and_a_45_minute_version_that_add_up():
    kit = load_kit()
    assert {v.id: v.minutes for v in kit.versions} == {"full": 90, "short": 45}
    for version in kit.versions:
        assert sum(b.minutes for b in kit.version(version.id)) == version.minutes


def test_every_question_the_kit_asks_can_be_opened_in_a_room():
    modules, _ = load_modules()
    choices = question_choices(modules, load_pre_post_test())
    kit = load_kit()
    assert unknown_questions(kit, choices) == []
    asked = {key for block in kit.blocks for key in block.ask}
    assert any(k.startswith("pretest/pp-") for k in asked) and any(k.startswith("posttest/pb-") for k in asked)
    assert not any(k.startswith("posttest/pp-") or k.startswith("pretest/pb-") for k in asked), \
        "form A before, form B after: never the same items twice"


def test_the_kit_check_fails_on_a_question_that_does_not_exist():
    modules, _ = load_modules()
    choices = question_choices(modules, load_pre_post_test())
    kit = load_kit()
    broken = kit.model_copy(update={"blocks": (kit.blocks[0].model_copy(update={"ask": ("nowhere/x",)}),
                                               *kit.blocks[1:])})
    assert unknown_questions(broken, choices) == [f"{kit.blocks[0].id}: nowhere/x"]


def test_versions_that_do_not_add_up_are_one_error(tmp_path):
    text = KIT_FILE.read_text().replace("    minutes: 90\n", "    minutes: 95\n", 1)
    path = tmp_path / "kit.yaml"
    path.write_text(text)
    with pytest.raises(InvalidKit, match="version full is 95 minutes, but its blocks add up to 90"):
        load_kit.__wrapped__(path)


def test_the_leader_brief_covers_what_leaders_need_and_escapes_text():
    page = leader_brief_html(load_kit())
    for heading in ("Stop targeting usage", "Evaluate AI with a design", "firewall", "legal duties"):
        assert heading in page
    assert "<script" not in page and "http" not in page


def test_the_kit_page_is_behind_the_staff_sign_in(app_home):
    from streamlit.testing.v1 import AppTest

    from tests.course.test_staff_pages import PAGES, TIMEOUT

    at = AppTest.from_file(str(PAGES / "workshop_kit.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any(t.label == "Staff account" for t in at.text_input)
    assert not any("Goal." in m.value for m in at.markdown)


def test_the_kit_check_fails_on_an_open_text_prompt_it_does_not_define():
    modules, _ = load_modules()
    choices = question_choices(modules, load_pre_post_test())
    kit = load_kit()
    assert {t.key for t in kit.texts} == {"text/dashboard", "text/commitment"}
    broken = kit.model_copy(update={"texts": ()})
    missing = unknown_questions(broken, choices)
    assert missing and all(": text/" in entry for entry in missing)


def test_every_leader_brief_section_cites_modules_the_course_has():
    from course.workshop_kit import unknown_brief_modules

    modules, _ = load_modules()
    ids = {m.id for m in modules}
    kit = load_kit()
    assert unknown_brief_modules(kit, ids) == []
    cited = {m for s in kit.leader_brief.sections for m in s.modules}
    assert {"activity-vs-outcome", "building-a-detector", "metrics-that-survive"} <= cited
    broken = kit.leader_brief.sections[0].model_copy(update={"modules": ("no-such-module",)})
    brief = kit.leader_brief.model_copy(update={"sections": (broken, *kit.leader_brief.sections[1:])})
    assert unknown_brief_modules(kit.model_copy(update={"leader_brief": brief}), ids) == \
        [f"{broken.heading}: no-such-module"]
