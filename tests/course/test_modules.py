"""Loading, validating and scoring course modules."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from course.modules import (
    CONTENT_DIR,
    ContentError,
    Feedback,
    Module,
    get_module,
    load_modules,
    load_pre_post_forms,
    load_pre_post_test,
    mastery,
    minutes_between_checks,
    parse_module,
    pre_post_test,
    reading_minutes,
    score_answer,
)
from datasets.errors import UserError

GOOD_FRONT = """\
id: sample
title: A sample module
minutes: 25
framing_questions:
  - Why would anyone count sessions?
objectives:
  - id: explain
    text: Explain why a count is a proxy.
  - id: spot
    text: Identify a gamed session.
key_points:
  - Counts are proxies.
charts:
  - id: adoption_vs_output
    takeaway: Usage climbs, output stays flat.
    predict:
      id: guess
      prompt: What happens to output?
      objective: explain
      answer: Flat
      explain: Usage was rewarded, not output.
      options:
        - text: Flat
        - text: Doubles
          misconception: usage-equals-value
          feedback: Usage is not output.
        - text: Halves
          misconception: theater-destroys-output
          feedback: Theater is cheap.
quiz:
  - id: proxy
    prompt: Sessions doubled. What do you know?
    objective: explain
    answer: Nothing about value yet
    explain: Activity is what was rewarded; value needs an outcome measure.
    options:
      - text: Value doubled
        misconception: usage-equals-value
        feedback: The count is a proxy, not the value.
      - text: Nothing about value yet
      - text: Value fell
        misconception: all-use-is-theater
        feedback: Much usage is genuine.
exercise:
  id: label
  kind: label_sessions
  check: spot.label_sessions
  objective: spot
  prompt: Label the sessions.
  hints: [Look at acceptance., Look at links to work.]
  solution: Weigh outcome evidence first, then input and timing.
"""

GOOD_BODY = """\
## First section

Some words about proxies.

<!-- quiz: proxy -->

## Second section

<!-- chart: adoption_vs_output -->

More words.

<!-- exercise -->
"""


def write_module(root: Path, folder: str = "01-sample", front: str = GOOD_FRONT, body: str = GOOD_BODY) -> Path:
    path = root / folder / "module.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{front}---\n{body}", encoding="utf-8")
    return path


def test_shipped_modules_all_load_without_errors():
    modules, errors = load_modules()
    assert errors == []
    assert len(modules) >= 2
    assert [m.number for m in modules] == sorted(m.number for m in modules)


def test_sample_module_parses_into_the_documented_dataclasses(tmp_path):
    path = write_module(tmp_path)
    module = parse_module(path)
    assert isinstance(module, Module)
    assert (module.id, module.number, module.slug, module.minutes) == ("sample", 1, "sample", 25)
    assert module.title == "A sample module"
    assert [o.id for o in module.objectives] == ["explain", "spot"]
    assert module.quiz[0].answer == "Nothing about value yet"
    assert module.quiz[0].options[0].misconception == "usage-equals-value"
    assert module.charts[0].predict.id == "guess"
    assert module.exercise.check == "spot.label_sessions"
    assert module.exercise.hints == ("Look at acceptance.", "Look at links to work.")
    assert [s.title for s in module.sections] == ["First section", "Second section"]
    assert module.sections[0].items == ("quiz:proxy",)
    assert module.sections[1].items == ("chart:adoption_vs_output", "exercise")
    assert "<!-- quiz: proxy -->" in module.sections[0].body_md
    assert module.path == path


def test_right_option_without_feedback_falls_back_to_the_explanation(tmp_path):
    module = parse_module(write_module(tmp_path))
    right = next(o for o in module.quiz[0].options if o.text == module.quiz[0].answer)
    assert right.feedback == module.quiz[0].explain
    assert right.misconception is None


@pytest.mark.parametrize(
    ("front", "body", "expected"),
    [
        (GOOD_FRONT.replace("title: A sample module", "title: [unclosed"), GOOD_BODY, "not valid YAML"),
        (GOOD_FRONT.replace("title: A sample module\n", ""), GOOD_BODY, "missing required field 'title'"),
        (GOOD_FRONT.replace("answer: Nothing about value yet", "answer: Something else"), GOOD_BODY,
         "answer 'Something else' is not among the options"),
        (GOOD_FRONT.replace("    objective: explain\n    answer: Nothing", "    objective: nowhere\n    answer: Nothing"),
         GOOD_BODY, "names unknown objective 'nowhere'"),
        (GOOD_FRONT, GOOD_BODY + "\n<!-- poll: x -->\n", "unknown directive 'poll'"),
        (GOOD_FRONT, GOOD_BODY + "\n<!-- quiz: missing -->\n", "quiz question 'missing' is not declared"),
        (GOOD_FRONT, GOOD_BODY + "\n<!-- simulator: turbo -->\n", "unknown simulator stage 'turbo'"),
        (GOOD_FRONT.replace("kind: label_sessions", "kind: essay"), GOOD_BODY, "unknown kind 'essay'"),
        (GOOD_FRONT.replace("check: spot.label_sessions", "check: spot.nothing"), GOOD_BODY, "unknown check id"),
        (GOOD_FRONT.replace("- id: adoption_vs_output", "- id: pie_of_feelings"), GOOD_BODY, "unknown chart id"),
        (GOOD_FRONT.replace("id: sample", "id: other"), GOOD_BODY, "must equal the folder's slug"),
        (GOOD_FRONT.replace("framing_questions:", "framing_question:"), GOOD_BODY, "unknown field(s) framing_question"),
        (GOOD_FRONT.replace("    explain: Activity", "    explian: x\n    explain: Activity"), GOOD_BODY,
         "unknown field(s) explian"),
        (GOOD_FRONT.replace("minutes: 25", "minutes: soon"), GOOD_BODY, "field 'minutes': must be a whole number, not 'soon'"),
        (GOOD_FRONT.replace("minutes: 25", "minutes: 0"), GOOD_BODY, "field 'minutes': must be greater than 0, not 0"),
        (GOOD_FRONT.replace("key_points:\n  - Counts are proxies.", "key_points:\n  - Counts: proxies."),
         GOOD_BODY, "quote it"),
    ],
)
def test_a_broken_module_is_reported_with_its_path_and_problem(tmp_path, front, body, expected):
    path = write_module(tmp_path, front=front, body=body)
    with pytest.raises(ContentError) as caught:
        parse_module(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert expected in caught.value.problem
    assert caught.value.path == path
    assert isinstance(caught.value, UserError)


def test_unquoted_yes_is_reported_as_a_boolean_not_text(tmp_path):
    front = GOOD_FRONT.replace("answer: Nothing about value yet", "answer: yes")
    with pytest.raises(ContentError, match="quote yes/no"):
        parse_module(write_module(tmp_path, front=front))


def test_missing_front_matter_is_a_content_error(tmp_path):
    path = tmp_path / "01-sample" / "module.md"
    path.parent.mkdir()
    path.write_text("## Just a lesson\n", encoding="utf-8")
    with pytest.raises(ContentError, match="missing YAML front matter"):
        parse_module(path)


def test_one_broken_module_does_not_stop_the_others_loading(tmp_path):
    write_module(tmp_path, "01-sample")
    broken = write_module(tmp_path, "02-broken", front=GOOD_FRONT.replace("id: sample", "id: broken")
                          .replace("minutes: 25\n", "minutes: 25\n  bad indent: [\n"))
    (tmp_path / "03-empty").mkdir()
    modules, errors = load_modules(tmp_path)
    assert [m.id for m in modules] == ["sample"]
    assert {e.path for e in errors} == {broken, tmp_path / "03-empty" / "module.md"}
    assert all(str(e).startswith(str(e.path)) for e in errors)


def test_retrieval_must_name_an_objective_of_an_existing_module(tmp_path):
    write_module(tmp_path, "01-sample")
    retrieval = textwrap.dedent("""\
        retrieval:
          - id: back
            prompt: From module 1?
            objective: sample:{objective}
            answer: Agree
            explain: Because.
            options:
              - text: Agree
              - text: Disagree
                misconception: forgot
                feedback: Look again.
        """)
    second = GOOD_FRONT.replace("id: sample", "id: second")
    write_module(tmp_path, "02-second", front=second + retrieval.format(objective="explain"))
    write_module(tmp_path, "03-third", front=GOOD_FRONT.replace("id: sample", "id: third")
                 + retrieval.format(objective="no-such-objective"))
    modules, errors = load_modules(tmp_path)
    assert [m.id for m in modules] == ["sample", "second"]
    assert len(errors) == 1 and "unknown objective 'sample:no-such-objective'" in str(errors[0])


def test_unqualified_retrieval_objective_is_rejected(tmp_path):
    front = GOOD_FRONT + textwrap.dedent("""\
        retrieval:
          - id: back
            prompt: From module 1?
            objective: explain
            answer: Agree
            explain: Because.
            options: [Agree, Disagree]
        """)
    with pytest.raises(ContentError, match="as 'module-id:objective-id'"):
        parse_module(write_module(tmp_path, "02-sample", front=front))


def test_get_module_finds_by_id_folder_and_number(tmp_path):
    write_module(tmp_path, "01-sample")
    assert get_module("sample", tmp_path).id == "sample"
    assert get_module("01-sample", tmp_path).id == "sample"
    assert get_module(1, tmp_path).id == "sample"
    with pytest.raises(ContentError, match="no module with id 'nothing'"):
        get_module("nothing", tmp_path)


def test_get_module_sees_an_edited_file(tmp_path):
    import os

    path = write_module(tmp_path)
    assert get_module("sample", tmp_path).title == "A sample module"
    path.write_text(path.read_text().replace("title: A sample module", "title: Renamed"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert get_module("sample", tmp_path).title == "Renamed"


def test_score_right_answer_gives_the_explanation(tmp_path):
    question = parse_module(write_module(tmp_path)).quiz[0]
    assert score_answer(question, "Nothing about value yet") == Feedback(
        correct=True, message=question.explain, misconception=None)


def test_score_wrong_answer_gives_that_options_feedback_and_misconception(tmp_path):
    question = parse_module(write_module(tmp_path)).quiz[0]
    feedback = score_answer(question, "Value fell")
    assert feedback == Feedback(correct=False, message="Much usage is genuine.", misconception="all-use-is-theater")


@pytest.mark.parametrize("chosen", [None, "", "   "])
def test_score_without_an_answer_is_not_attempted(tmp_path, chosen):
    question = parse_module(write_module(tmp_path)).quiz[0]
    feedback = score_answer(question, chosen)
    assert not feedback.correct and feedback.misconception is None
    assert "Not attempted" in feedback.message


def test_score_of_an_unknown_option_is_wrong_without_revealing_the_answer(tmp_path):
    question = parse_module(write_module(tmp_path)).quiz[0]
    feedback = score_answer(question, "Something invented")
    assert not feedback.correct
    assert question.answer not in feedback.message


@pytest.mark.parametrize(
    ("scores", "reviewed", "level"),
    [
        ([], False, "not started"),
        ([], True, "not started"),
        ([0.0, 0.5], False, "attempted"),
        ([1.0, 1.0, 0.0], True, "attempted"),
        ([1.0, 0.3], False, "attempted"),
        ([1.0, 0.38], True, "attempted"),
        ([0.7], False, "familiar"),
        ([1.0, 1.0, 1.0, 0.5], True, "familiar"),
        ([1.0, 0.99], False, "familiar"),
        ([1.0, 1.0], False, "proficient"),
        ([1.0, 1.0], True, "mastered"),
        ([1], True, "mastered"),
    ],
)
def test_mastery_levels_follow_the_course_thresholds(scores, reviewed, level):
    assert mastery(scores, reviewed) == level


@pytest.mark.parametrize("bad", [[1.5], [-0.1], [float("nan")], ["1"]])
def test_mastery_rejects_scores_outside_zero_to_one(bad):
    with pytest.raises(ValueError):
        mastery(bad, False)


def test_pre_post_test_has_two_parallel_forms_of_twelve_four_option_questions():
    test = load_pre_post_forms()
    assert set(test.forms) == {"A", "B"}
    for questions in test.forms.values():
        assert len(questions) >= 12
        for q in questions:
            wrong = [o for o in q.options if o.text != q.answer]
            assert len(q.options) == 4
            assert all(o.misconception and o.feedback for o in wrong)
    assert len(pre_post_test()) == sum(len(f) for f in test.forms.values())


def test_parallel_forms_ask_the_same_objectives_with_different_questions():
    test = load_pre_post_forms()
    a, b = test.forms["A"], test.forms["B"]
    assert sorted(q.objective for q in a) == sorted(q.objective for q in b)
    by_objective = {q.objective: q for q in b}
    for q in a:
        twin = by_objective[q.objective]
        assert twin.prompt != q.prompt and twin.answer != q.answer
        assert not {o.text for o in q.options} & {o.text for o in twin.options}


_FORM = ("    {form}:\n      - id: {qid}\n        prompt: p\n        objective: {objective}\n"
         "        answer: a\n        explain: e\n        options: [a, b, c]\n")


def _test_file(tmp_path, a_objective="o1", b_objective="o1", b_id="q2"):
    path = tmp_path / "pre-post-test.yaml"
    path.write_text("objectives:\n  - {id: o1, text: one}\n  - {id: o2, text: two}\nforms:\n"
                    + _FORM.format(form="A", qid="q1", objective=a_objective)
                    + _FORM.format(form="B", qid=b_id, objective=b_objective))
    return path


def test_broken_pre_post_test_reports_its_path(tmp_path):
    path = _test_file(tmp_path, a_objective="nowhere")
    with pytest.raises(ContentError, match="unknown objective 'nowhere'") as caught:
        load_pre_post_test(path)
    assert str(caught.value).startswith(str(path))


def test_forms_that_are_not_parallel_are_refused(tmp_path):
    assert len(load_pre_post_test(_test_file(tmp_path))) == 2
    with pytest.raises(ContentError, match="parallel: objective"):
        load_pre_post_test(_test_file(tmp_path, b_objective="o2"))
    with pytest.raises(ContentError, match="share an id"):
        load_pre_post_test(_test_file(tmp_path, b_id="q1"))


def test_reading_minutes_counts_words_at_two_hundred_per_minute_and_skips_directives():
    text = " ".join(["word"] * 400) + "\n<!-- quiz: proxy -->\n"
    assert reading_minutes(text) == pytest.approx(2.0)


def test_minutes_between_checks_resets_at_each_check(tmp_path):
    body = ("## One\n\n" + " ".join(["word"] * 600) + "\n\n<!-- quiz: proxy -->\n\n"
            + " ".join(["word"] * 200) + "\n\n<!-- chart: adoption_vs_output -->\n\n<!-- exercise -->\n")
    module = parse_module(write_module(tmp_path, body=body))
    stretches = minutes_between_checks(module)
    # 600 words + heading, then 200 words, then the chart's 2 minutes of viewing after its prediction.
    assert stretches[0] == pytest.approx(3.0, abs=0.02)
    assert stretches[1] == pytest.approx(1.0, abs=0.02)
    assert stretches[2] == pytest.approx(2.0, abs=0.02)


def test_default_content_dir_is_inside_the_package():
    assert CONTENT_DIR == Path(__file__).resolve().parents[2] / "course" / "content"


def test_two_modules_with_the_same_number_keep_the_first_and_report_the_second(tmp_path):
    later = write_module(tmp_path, "01-sample")
    write_module(tmp_path, "01-other", front=GOOD_FRONT.replace("id: sample", "id: other"))
    modules, errors = load_modules(tmp_path)
    assert [m.id for m in modules] == ["other"]          # folders are read in name order
    assert len(errors) == 1 and "module number 01 is already used by 01-other" in errors[0].problem
    assert errors[0].path == later


def test_get_module_of_a_broken_module_raises_its_content_error(tmp_path):
    write_module(tmp_path, "01-sample", front=GOOD_FRONT.replace("title: A sample module\n", ""))
    with pytest.raises(ContentError, match="missing required field 'title'"):
        get_module("sample", tmp_path)


def test_a_missing_content_folder_is_one_error_not_a_crash(tmp_path):
    modules, errors = load_modules(tmp_path / "nowhere")
    assert modules == [] and "does not exist" in errors[0].problem


def test_content_dir_from_env_prefers_the_environment(tmp_path, monkeypatch):
    from course.modules import content_dir_from_env

    monkeypatch.delenv("THEATER_CONTENT_DIR", raising=False)
    assert content_dir_from_env() == CONTENT_DIR
    monkeypatch.setenv("THEATER_CONTENT_DIR", str(tmp_path))
    assert content_dir_from_env() == tmp_path


def test_every_shipped_question_scores_right_and_wrong_with_its_own_feedback():
    modules, _ = load_modules()
    for module in modules:
        for q in module.all_questions():
            assert score_answer(q, q.answer).correct
            for option in q.options:
                if option.text != q.answer:
                    feedback = score_answer(q, option.text)
                    assert not feedback.correct
                    assert (feedback.message, feedback.misconception) == (option.feedback, option.misconception)


def test_a_checker_game_with_a_bad_target_names_the_field(tmp_path):
    from course.modules import CONTENT_DIR, parse_module

    source = (CONTENT_DIR / "01-metric-became-mission" / "module.md").read_text(encoding="utf-8")
    folder = tmp_path / "01-metric-became-mission"
    folder.mkdir()
    (folder / "module.md").write_text(source.replace("  target: 25\n", "  target: lots\n"),
                                      encoding="utf-8")
    with pytest.raises(ContentError, match=r"field 'checker_game.target': must be a number"):
        parse_module(folder / "module.md")
    (folder / "module.md").write_text(source.replace("<!-- game -->", "<!-- game: now -->"),
                                      encoding="utf-8")
    with pytest.raises(ContentError, match="the game directive takes no argument"):
        parse_module(folder / "module.md")
