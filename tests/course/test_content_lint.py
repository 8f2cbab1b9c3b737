"""Content lint: every checkable criterion of the course-quality standard, run on every module.

Each rule is a function `(module, all_modules) -> list[str]` of problems. The shipped modules must
give none; each rule also has a test showing it fires on a deliberately broken module, so no rule
can pass vacuously. The quiz-cue rules (the key's length rank, absolute words) look at all
items of the course at once, so they live in course/lint.py and are run on the shipped course here.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import re
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

from course.lint import (
    ABSOLUTE_WORDS,
    absolute_side,
    absolute_word_problems,
    absolute_words,
    course_cue_problems,
    key_length_rank,
    longest_cue_problems,
    module_questions,
    rank_spread_problems,
    right_answer_is_longest,
)
from course.modules import (
    CHECK_IDS,
    Option,
    EXERCISE_KINDS,
    SIMULATOR_STAGES,
    Module,
    Question,
    load_modules,
    minutes_between_checks,
    module_minutes,
    pre_post_test,
)

ACTION_VERBS = frozenset("""
analyse analyze apply argue assess build calculate choose classify compare compute construct
contrast critique decide defend describe design detect diagnose distinguish estimate evaluate
explain flag identify interpret justify label link list locate measure name plan predict propose
quantify rank read recognise recognize redesign select separate summarise summarize trace use
""".split())
MAX_MINUTES_BETWEEN_CHECKS = 15.0
MISCONCEPTION_TAG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
FIGURE = re.compile(r"(?<![\w.])[-−+]?\d+(?:\.\d+)?\s?%")
CITATION_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
LEARNER_VALUE = re.compile(r"\d+\.\d+|\d+\s?%")
DIRECTIVE = re.compile(r"^\s*<!--\s*([A-Za-z_]+)\s*(?::\s*(.*?))?\s*-->\s*$")

Rule = Callable[[Module, list[Module]], list[str]]


def _directives(module: Module) -> list[tuple[str, str, int, int]]:
    """(kind, arg, section index, line index) for every directive, in lesson order."""
    found = []
    for s_index, section in enumerate(module.sections):
        for l_index, line in enumerate(section.body_md.splitlines()):
            m = DIRECTIVE.match(line)
            if m:
                found.append((m.group(1), (m.group(2) or "").strip(), s_index, l_index))
    return found


def _own_questions(module: Module) -> list[Question]:
    return list(module.quiz) + [c.predict for c in module.charts if c.predict is not None]


# --------------------------------------------------------------------------- §1 module shape

def rule_sections_have_headings(module: Module, _: list[Module]) -> list[str]:
    return [f"section {i + 1} has no '## ' heading" for i, s in enumerate(module.sections) if not s.title]


def rule_framing_questions(module: Module, _: list[Module]) -> list[str]:
    n = len(module.framing_questions)
    problems = [] if 1 <= n <= 3 else [f"has {n} framing questions; 1-3 are expected"]
    problems += [f"framing question '{q}' is not a question" for q in module.framing_questions
                 if not q.rstrip().endswith("?")]
    return problems


def rule_objectives_start_with_action_verb(module: Module, _: list[Module]) -> list[str]:
    n = len(module.objectives)
    problems = [] if 2 <= n <= 4 else [f"has {n} objectives; 2-4 are expected"]
    for o in module.objectives:
        first = re.split(r"\W+", o.text.strip(), maxsplit=1)[0].lower()
        if first not in ACTION_VERBS:
            problems.append(f"objective '{o.id}' starts with '{first}', not an action verb")
    return problems


def rule_key_points(module: Module, _: list[Module]) -> list[str]:
    n = len(module.key_points)
    return [] if 2 <= n <= 6 else [f"has {n} key points; 2-6 are expected"]


def rule_minutes_in_range_and_honest(module: Module, _: list[Module]) -> list[str]:
    problems = []
    if not 20 <= module.minutes <= 60:
        problems.append(f"declares {module.minutes} minutes; a module takes 20-60")
    estimate = module_minutes(module)
    if not 0.6 * module.minutes <= estimate <= 1.25 * module.minutes:
        problems.append(f"declares {module.minutes} minutes but its content adds up to about "
                        f"{estimate:.0f} (reading at 200 words/min plus declared interactive minutes)")
    return problems


def rule_few_new_concepts(module: Module, _: list[Module]) -> list[str]:
    n = len(module.new_concepts)
    return [] if 1 <= n <= 4 else [f"declares {n} new concepts; 1-4 are expected"]


# --------------------------------------------------------------------------- §2 alignment

def rule_every_objective_assessed(module: Module, _: list[Module]) -> list[str]:
    assessed = {q.objective for q in _own_questions(module)}
    if module.exercise is not None:
        assessed.add(module.exercise.objective)
    return [f"objective '{o.id}' is assessed by no question or exercise"
            for o in module.objectives if o.id not in assessed]


def rule_quiz_has_three_questions(module: Module, _: list[Module]) -> list[str]:
    return [] if len(module.quiz) >= 3 else [f"has {len(module.quiz)} quiz questions; at least 3 are expected"]


def rule_every_item_placed_once(module: Module, _: list[Module]) -> list[str]:
    refs = [f"{k}:{a}" if a else k for k, a, _, _ in _directives(module)]
    expected = [f"quiz:{q.id}" for q in module.quiz] + [f"chart:{c.id}" for c in module.charts]
    expected += ["exercise"] if module.exercise else []
    expected += ["game"] if module.checker_game else []
    problems = [f"'{e}' appears {refs.count(e)} times in the lesson; once is expected"
                for e in expected if refs.count(e) != 1]
    stages = [r for r in refs if r.startswith("simulator:")]
    problems += [f"'{s}' appears more than once" for s in sorted(set(stages)) if stages.count(s) > 1]
    return problems


# --------------------------------------------------------------------------- §3 check often

def rule_check_often(module: Module, _: list[Module]) -> list[str]:
    longest = max(minutes_between_checks(module))
    if longest > MAX_MINUTES_BETWEEN_CHECKS:
        return [f"has {longest:.1f} minutes of content without a check (at most "
                f"{MAX_MINUTES_BETWEEN_CHECKS:.0f})"]
    return []


# --------------------------------------------------------------------------- §4 diagnostic multiple choice

def _question_problems(q: Question) -> list[str]:
    problems = []
    if not 3 <= len(q.options) <= 5:
        problems.append(f"question '{q.id}' has {len(q.options)} options; 3-5 are expected")
    wrong = [o for o in q.options if o.text != q.answer]
    for o in wrong:
        if not o.misconception:
            problems.append(f"question '{q.id}': wrong option '{o.text}' has no misconception tag")
        elif not MISCONCEPTION_TAG.match(o.misconception):
            problems.append(f"question '{q.id}': misconception tag '{o.misconception}' is not kebab-case")
        if not o.feedback:
            problems.append(f"question '{q.id}': wrong option '{o.text}' has no feedback of its own")
    feedbacks = [o.feedback for o in wrong if o.feedback]
    if len(set(feedbacks)) != len(feedbacks):
        problems.append(f"question '{q.id}': two wrong options share the same feedback")
    if any(q.answer in o.feedback for o in wrong):
        problems.append(f"question '{q.id}': a wrong option's feedback prints the right answer")
    return problems


def rule_diagnostic_options(module: Module, _: list[Module]) -> list[str]:
    problems = []
    for q in _own_questions(module) + list(module.retrieval):
        problems += _question_problems(q)
    return problems


def rule_answer_position_varies(module: Module, _: list[Module]) -> list[str]:
    questions = _own_questions(module) + list(module.retrieval)
    positions = {[o.text for o in q.options].index(q.answer) for q in questions}
    if len(questions) >= 4 and len(positions) == 1:
        return [f"the right answer is always option {positions.pop() + 1}"]
    return []


def rule_right_answer_not_the_longest(module: Module, _: list[Module]) -> list[str]:
    return longest_cue_problems(_own_questions(module) + list(module.retrieval), "module")


# --------------------------------------------------------------------------- §5, §6 predict, then observe

def rule_prediction_before_every_result(module: Module, _: list[Module]) -> list[str]:
    problems = [f"chart '{c.id}' reveals a result but asks for no prediction first"
                for c in module.charts if c.predict is None]
    directives = _directives(module)
    for i, (kind, arg, section, _) in enumerate(directives):
        if kind != "simulator" or arg == "sandbox":
            continue
        before = directives[i - 1] if i > 0 else None
        if before is None or before[0] != "quiz" or before[2] != section:
            problems.append(f"simulator stage '{arg}' is not directly preceded by a prediction question")
    return problems


def rule_simulator_built_one_mechanic_at_a_time(module: Module, _: list[Module]) -> list[str]:
    stages = [arg for kind, arg, _, _ in _directives(module) if kind == "simulator"]
    if not stages:
        return []
    if stages != list(SIMULATOR_STAGES):
        return [f"simulator stages appear as {stages}; expected {list(SIMULATOR_STAGES)} in that "
                "order (the free sandbox last)"]
    return []


# --------------------------------------------------------------------------- §8 feedback loop

def rule_exercise_feedback_loop(module: Module, _: list[Module]) -> list[str]:
    ex = module.exercise
    if ex is None:
        return ["has no hands-on exercise"]
    problems = []
    if ex.kind not in EXERCISE_KINDS:
        problems.append(f"exercise kind '{ex.kind}' is not one the app renders")
    if not 2 <= len(ex.hints) <= 3:
        problems.append(f"exercise has {len(ex.hints)} hints; 2-3 tiered hints are expected")
    if len(set(ex.hints)) != len(ex.hints):
        problems.append("exercise repeats a hint")
    if LEARNER_VALUE.search(ex.solution):
        problems.append("exercise solution contains a specific value; it must explain the method")
    if len(ex.solution.split()) < 25:
        problems.append("exercise solution is too short to explain the method")
    return problems


def rule_check_ids_registered(module: Module, _: list[Module]) -> list[str]:
    if module.exercise is None:
        return []
    registry = set(CHECK_IDS)
    if importlib.util.find_spec("exercises.checks") is not None:
        registry &= set(importlib.import_module("exercises.checks").CHECKS)
    check = module.exercise.check
    return [] if check in registry else [f"exercise check '{check}' is not in exercises.checks.CHECKS"]


# --------------------------------------------------------------------------- §10 retrieval

def rule_retrieval_on_earlier_modules(module: Module, all_modules: list[Module]) -> list[str]:
    numbers = {m.id: m.number for m in all_modules}
    if module.number == min(numbers.values(), default=module.number):
        return [f"the first module has {len(module.retrieval)} retrieval questions; it should have none"] \
            if module.retrieval else []
    problems = [] if 2 <= len(module.retrieval) <= 3 else [
        f"has {len(module.retrieval)} retrieval questions; 2-3 on earlier modules are expected"]
    for q in module.retrieval:
        owner = q.objective.partition(":")[0]
        if numbers.get(owner, module.number) >= module.number:
            problems.append(f"retrieval question '{q.id}' is about '{owner}', not an earlier module")
    return problems


# --------------------------------------------------------------------------- §11 text alternatives

def rule_chart_takeaways(module: Module, _: list[Module]) -> list[str]:
    problems = []
    for c in module.charts:
        sentences = len(SENTENCE_END.findall(c.takeaway.strip() + " "))
        if not 1 <= sentences <= 2 or len(c.takeaway) > 320:
            problems.append(f"chart '{c.id}' takeaway should be 1-2 sentences (has {sentences}, "
                            f"{len(c.takeaway)} characters)")
    return problems


def rule_chart_ids_exist(module: Module, _: list[Module]) -> list[str]:
    chart_ids = _chart_registry()["CHARTS"]
    return [f"chart '{c.id}' is not in course.charts.CHARTS" for c in module.charts if c.id not in chart_ids]


# --------------------------------------------------------------------------- sources

def rule_figures_are_cited(module: Module, _: list[Module]) -> list[str]:
    problems = [] if module.sources else ["lists no sources"]
    for section in module.sections:
        for paragraph in re.split(r"\n\s*\n", section.body_md):
            figure = FIGURE.search(paragraph)
            if figure and not CITATION_YEAR.search(paragraph):
                problems.append(f"section '{section.title}': the figure '{figure.group(0)}' has no "
                                "citation (Author, year) in its paragraph")
    return problems


RULES: dict[str, Rule] = {
    name.removeprefix("rule_"): func for name, func in sorted(globals().items())
    if name.startswith("rule_") and callable(func)
}
NEEDS_CHARTS = {"chart_ids_exist"}


CHARTS_FILE = Path(__file__).resolve().parents[2] / "course" / "charts.py"


@functools.cache
def _chart_registry() -> dict[str, object]:
    """CHARTS keys and PALETTE of course/charts.py, read from its source when they are literals.

    Reading the source avoids importing Altair and the generator (seconds on a busy machine);
    anything not written as a literal falls back to importing the module.
    """
    if not CHARTS_FILE.exists():
        pytest.skip("course/charts.py does not exist yet, so chart ids cannot be checked against CHARTS")
    found: dict[str, object] = {}
    for node in ast.parse(CHARTS_FILE.read_text(encoding="utf-8")).body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if isinstance(target, ast.Name) and target.id in ("CHARTS", "PALETTE") and isinstance(node.value, ast.Dict):
            keys = [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
            values = [v.value for v in node.value.values if isinstance(v, ast.Constant)]
            found[target.id] = set(keys) if target.id == "CHARTS" else dict(zip(keys, values))
    if "CHARTS" not in found:
        module = importlib.import_module("course.charts")
        found = {"CHARTS": set(module.CHARTS), "PALETTE": getattr(module, "PALETTE", None)}
    found.setdefault("PALETTE", None)
    return found


# --------------------------------------------------------------------------- the shipped content

SHIPPED, LOAD_ERRORS = load_modules()


def test_every_shipped_module_loads():
    assert [str(e) for e in LOAD_ERRORS] == []
    assert len(SHIPPED) >= 7


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("module", SHIPPED, ids=[m.id for m in SHIPPED])
def test_shipped_module_meets_rule(module, rule):
    assert RULES[rule](module, SHIPPED) == []


def test_misconception_tags_are_reused_consistently_across_modules():
    """The same misconception keeps one tag, so answer spreads add up across modules."""
    tags: dict[str, set[str]] = {}
    for m in SHIPPED:
        for q in _own_questions(m) + list(m.retrieval):
            for o in q.options:
                if o.misconception:
                    tags.setdefault(o.misconception, set()).add(m.id)
    assert tags, "no misconception tags found"
    shared = [t for t, mods in tags.items() if len(mods) > 1]
    assert shared, "no misconception is revisited in a later module"


# Where each pre/post objective is taught: the module and a phrase of its lesson text.
PRE_POST_TAUGHT_AS = {
    "usage-not-outcome": ("metric-became-mission", "Those numbers count activity"),
    "target-gets-gamed": ("metric-became-mission", "When the measure becomes the target"),
    "averages-hide-skew": ("metric-became-mission", "the typical person, the median"),
    "volume-not-intent": ("anatomy-of-tokenmaxxing", "can burn the same tokens"),
    "signals-agree": ("anatomy-of-tokenmaxxing", "Why one signal is never enough"),
    "self-report-drifts": ("activity-vs-outcome", "believed they"),
    "need-comparison": ("activity-vs-outcome", "When is a comparison fair?"),
    "selection-into-use": ("activity-vs-outcome", "People choose."),
    "offer-versus-use": ("activity-vs-outcome", "effect of *offering*"),
    "cost-of-accusation": ("building-a-detector", "false accusations"),
    "converts-change": ("converts-and-calcification", "convert"),
    "guardrail-pairs": ("activity-vs-outcome", "guardrail"),
}


def test_pre_post_test_is_a_diagnostic_misconception_test():
    from course.modules import load_pre_post_forms

    test = load_pre_post_forms()
    for form, questions in test.forms.items():
        questions = list(questions)
        assert len(questions) >= 12, f"form {form}: at least twelve questions"
        assert {len(q.options) for q in questions} == {4}, f"form {form}: four options each"
        problems = [p for q in questions for p in _question_problems(q)]
        problems += longest_cue_problems(questions, f"form {form}")
        assert problems == []
        objectives = {q.objective for q in questions}
        assert {"usage-not-outcome", "averages-hide-skew", "target-gets-gamed"} <= objectives
        # every wrong option names the misconception it reveals: the trainer sees which ones moved
        assert all(o.misconception for q in questions for o in q.options if o.text != q.answer)
    # every objective is taught: its lesson text is where the table says, so the test cannot
    # ask about something the course never covers
    lessons = {m.id: " ".join(m.path.read_text(encoding="utf-8").split("\n---\n", 1)[-1].lower().split())
               for m in SHIPPED}
    for objective, (module_id, phrase) in PRE_POST_TAUGHT_AS.items():
        assert phrase.lower() in lessons[module_id], f"{objective}: not taught in {module_id}"
    assert set(PRE_POST_TAUGHT_AS) == {o.id for o in test.objectives}


def test_the_right_option_is_the_longest_in_at_most_a_third_of_all_items():
    questions = [q for m in SHIPPED for q in _own_questions(m) + list(m.retrieval)] + pre_post_test()
    longest = [q.id for q in questions if right_answer_is_longest(q)]
    assert len(longest) <= len(questions) / 3, longest


def test_shipped_items_give_no_quiz_cue():
    """Over every module item together, and over the pre/post forms together: the key's length
    rank is spread, it is the longest in at most a third, and absolute words do not tell it."""
    assert course_cue_problems(SHIPPED, pre_post_test()) == []


def test_the_cue_rules_see_every_multiple_choice_item():
    items = module_questions(SHIPPED)
    kinds = {"quiz": sum(len(m.quiz) for m in SHIPPED), "retrieval": sum(len(m.retrieval) for m in SHIPPED),
             "prediction": sum(c.predict is not None for m in SHIPPED for c in m.charts)}
    assert len(items) == sum(kinds.values()) and all(kinds.values())
    assert {q.id for q in items} >= {"predict-metric", "predict-dashboard", "r1-proxy"}   # simulator, chart, retrieval


def _item(qid: str, key: str, *wrong: str) -> Question:
    options = [Option(text=key)] + [Option(text=w, misconception="some-idea", feedback=f"Not {i}.")
                                    for i, w in enumerate(wrong)]
    return Question(id=qid, prompt="Which?", options=tuple(options), answer=key, objective="o", explain="Because.")


def test_key_length_rank_splits_ties_between_the_places_they_share():
    assert key_length_rank(_item("a", "bb", "a", "ccc")) == {1: 1}
    assert key_length_rank(_item("a", "a", "bb", "ccc", "dddd")) == {0: 1}
    assert key_length_rank(_item("a", "cc", "a", "bb")) == {1: Fraction(1, 2), 2: Fraction(1, 2)}
    assert key_length_rank(_item("a", "75%", "50%", "67%")) == {r: Fraction(1, 3) for r in range(3)}


def test_keys_piled_on_one_length_rank_are_flagged():
    middle = [_item(f"m{i}", "a middle one", "short", "the longest option of all here") for i in range(10)]
    problems = rank_spread_problems(middle, "modules")
    assert len(problems) == 1 and "middle of 3 options in 10.0 of 10" in problems[0]
    spread = [_item(f"s{i}", key, *others) for i, (key, *others) in enumerate(
        [("x", "yy", "zzz"), ("yy", "x", "zzz"), ("zzz", "x", "yy")] * 4)]
    assert rank_spread_problems(spread, "modules") == []
    four = [_item(f"f{i}", "ccc", "a", "bb", "dddd") for i in range(5)] + \
        [_item(f"g{i}", "a", "bb", "ccc", "dddd") for i in range(5)]
    assert [p for p in rank_spread_problems(four, "modules") if "second-longest" in p]   # 5 of 10 > 40%
    assert rank_spread_problems([_item("lone", "x", "yy", "zzz", "wwww", "vvvvv")], "modules") == []


def test_absolute_words_are_found_as_whole_words_and_phrases():
    assert absolute_words("You can’t tell; nothing more is needed, ALL of it") == ["can't", "nothing more", "all"]
    assert absolute_words("Allow for overall small teams; everyday use") == []
    assert absolute_words("Almost all of them") == ["almost all"]
    assert "only" in ABSOLUTE_WORDS and "never" in ABSOLUTE_WORDS


def test_absolute_words_in_distractors_only_are_flagged():
    cue = [_item(f"c{i}", "Some do, some do not", "Everyone does", "Nobody ever does") for i in range(4)]
    plain = [_item(f"p{i}", "It rose", "It fell", "It held") for i in range(16)]
    assert absolute_side(cue[0]) == "distractors" and absolute_side(plain[0]) is None
    problems = absolute_word_problems(cue + plain, "modules")
    assert any("only distractors carry" in p and "4 of 20" in p for p in problems)      # over 15%
    assert any("must not pay" in p for p in problems)                                   # 4 against 0
    assert [p for p in absolute_word_problems(cue[:3] + plain[:17], "modules") if "must not pay" in p]
    definite = [_item(f"k{i}", "Only the outcome can tell", "The count rose", "Ask the team") for i in range(6)]
    assert absolute_side(definite[0]) == "key"
    assert absolute_word_problems(cue[:3] + definite[:3] + plain[:14], "modules") == []  # 3 and 3 of 20
    problems = absolute_word_problems(cue[:3] + definite + plain[:11], "modules")        # 6 keys of 20
    assert len(problems) == 1 and "only the right option carries" in problems[0]


def test_absolute_words_on_both_sides_are_no_cue():
    both = _item("b", "It can never show value alone", "It always shows value", "It shows some value")
    assert absolute_side(both) == "key"      # the hedged distractor is left out by "pick the absolute"
    balanced = _item("n", "It can never show value alone", "It always shows value", "It only shows cost")
    assert absolute_side(balanced) is None


def _contrast_on_white(hex_colour: str) -> float:
    """WCAG 2.x contrast ratio of a colour against white."""
    channels = [int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 1.05 / (luminance + 0.05)


def test_contrast_formula_matches_published_okabe_ito_values():
    assert _contrast_on_white("#0072B2") == pytest.approx(5.2, abs=0.05)
    assert _contrast_on_white("#D55E00") == pytest.approx(3.9, abs=0.05)
    assert _contrast_on_white("#E69F00") < 3.0           # orange fails on white
    assert _contrast_on_white("#000000") == pytest.approx(21.0)


def test_chart_palette_reaches_three_to_one_on_white():
    palette = _chart_registry()["PALETTE"]
    if palette is None:
        pytest.skip("course.charts exposes no PALETTE to check")
    colours = list(palette.values()) if isinstance(palette, dict) else list(palette)
    assert colours
    low = {c: round(_contrast_on_white(c), 2) for c in colours if _contrast_on_white(c) < 3.0}
    assert low == {}


# --------------------------------------------------------------------------- each rule can fail

CLEAN_FIRST = """\
---
id: first
title: First
minutes: 20
framing_questions:
  - Why count?
objectives:
  - {id: explain, text: Explain why a count is a proxy.}
  - {id: predict, text: Predict what a reward does to usage.}
new_concepts: [Proxy]
key_points: [Counts are proxies., Rewards bend counts.]
sources: ["Goodhart, C. (1975)."]
simulator_minutes: {metric: 1, incentive: 1, gaming: 1, combined: 1, sandbox: 1}
charts:
  - id: adoption_vs_output
    takeaway: Usage climbs while output stays flat.
    predict:
      id: guess
      prompt: What happens to output?
      objective: predict
      answer: Flat
      explain: Usage was rewarded, not output.
      options:
        - {text: Doubles, misconception: usage-equals-value, feedback: Usage is not output.}
        - {text: Flat}
        - {text: Halves, misconception: theater-destroys-output, feedback: Theater is cheap.}
quiz:
  - id: q1
    prompt: Sessions doubled. What do you know?
    objective: explain
    answer: Nothing yet
    explain: You need an outcome.
    options:
      - {text: Nothing yet}
      - {text: Value doubled, misconception: usage-equals-value, feedback: A count is not value.}
      - {text: Value fell, misconception: all-use-is-theater, feedback: Much use is real.}
  - id: q2
    prompt: A reward for usage arrives. Prediction?
    objective: predict
    answer: Usage rises more than output
    explain: People produce what is counted.
    options:
      - {text: Output rises just as much as usage does, misconception: usage-equals-value, feedback: Extra sessions help less.}
      - {text: Usage rises more than output}
      - {text: Nothing changes, misconception: metric-immune-if-unofficial, feedback: People respond to counts.}
  - id: q3
    prompt: Gaming starts. The correlation?
    objective: predict
    answer: Falls
    explain: Gamed usage carries no output.
    options:
      - {text: Rises, misconception: more-usage-better-signal, feedback: More usage is not more signal.}
      - {text: Unchanged since noise averages out, misconception: noise-averages-out, feedback: Gaming is not random noise.}
      - {text: Falls}
  - id: q4
    prompt: Everything combined. Dashboard?
    objective: predict
    answer: "Usage up, output flat"
    explain: The count no longer tracks value.
    options:
      - {text: Both up, misconception: usage-equals-value, feedback: That is the sponsors' hope.}
      - {text: "Usage up, output flat"}
      - {text: Usage down, misconception: mandates-reduce-usage, feedback: Rewarded usage rarely falls.}
exercise:
  id: collapse
  kind: goodhart_sim
  check: goodhart.collapse_point
  objective: predict
  minutes: 5
  prompt: Find the collapse point.
  hints: [Read the correlation with no reward., Halve it and raise the reward slowly.]
  solution: Read the correlation with no reward as the baseline, halve it, then raise the reward in small steps and report the first setting where the correlation is below that threshold, because gamed usage grows while output does not.
---
## Proxies

A count stands in for value.

<!-- quiz: q1 -->

<!-- chart: adoption_vs_output -->

The lines diverge.

## The simulator

<!-- quiz: q2 -->
<!-- simulator: metric -->
<!-- quiz: q3 -->
<!-- simulator: incentive -->

Text between stages.

<!-- quiz: q4 -->
<!-- simulator: gaming -->
<!-- quiz: guess-again -->
<!-- simulator: combined -->
<!-- simulator: sandbox -->
<!-- exercise -->
"""

CLEAN_SECOND = """\
---
id: second
title: Second
minutes: 20
framing_questions:
  - What does theater look like?
objectives:
  - {id: label, text: Label a session from its log.}
  - {id: justify, text: Justify combining signals.}
new_concepts: [Log signature]
key_points: [Signals leave traces., Combine them.]
sources: ["METR (2025)."]
retrieval:
  - id: r1
    prompt: Back in module 1, what is a count?
    objective: first:explain
    answer: A proxy
    explain: It stands in for value.
    options:
      - {text: The value itself, misconception: usage-equals-value, feedback: It only stands in.}
      - {text: A proxy}
      - {text: Noise, misconception: logs-say-nothing, feedback: Counts carry signal.}
  - id: r2
    prompt: Back in module 1, what does a reward do?
    objective: first:predict
    answer: Bends the count
    explain: People produce what is counted.
    options:
      - {text: Bends the count}
      - {text: Nothing, misconception: metric-immune-if-unofficial, feedback: People respond.}
      - {text: Improves it, misconception: more-data-fixes-proxy, feedback: More is not better.}
charts:
  - id: deadline_bursts
    takeaway: Usage spikes before deadlines.
    predict:
      id: when
      prompt: When does performed usage pile up?
      objective: label
      answer: Before deadlines
      explain: It is timed for its audience.
      options:
        - {text: Evenly, misconception: usage-follows-work, feedback: Look for spikes.}
        - {text: After deadlines when people have time, misconception: theater-is-idle-time, feedback: Nobody is watching then.}
        - {text: Before deadlines}
quiz:
  - id: s1
    prompt: Same prompt forty times. Signal?
    objective: label
    answer: Near-duplicates
    explain: Real tasks vary.
    options:
      - {text: Skill with a well-tuned workflow, misconception: volume-means-skill, feedback: Skill shows in kept output.}
      - {text: Near-duplicates}
      - {text: A bug, misconception: anomalies-are-bugs, feedback: It is a known behaviour.}
  - id: s2
    prompt: Why combine signals?
    objective: justify
    answer: Each alone misfires
    explain: Agreement is rare among genuine sessions.
    options:
      - {text: Each alone misfires}
      - {text: More features always help, misconception: more-features-better, feedback: Not always.}
      - {text: Tactics change, misconception: gaming-is-random, feedback: That is not the core reason.}
  - id: s3
    prompt: Self-authored summary, no link. Label?
    objective: label
    answer: Theater if other signals agree
    explain: Require agreement.
    options:
      - {text: Always theater, misconception: one-signal-proof, feedback: One signal is not proof.}
      - {text: Always genuine, misconception: story-over-evidence, feedback: A story fits anything.}
      - {text: Theater if other signals agree}
exercise:
  id: spot
  kind: label_sessions
  check: spot.label_sessions
  objective: label
  minutes: 8
  prompt: Label the sessions.
  hints: [Start with the outcome evidence., Then input and timing.]
  solution: Look first at outcome evidence such as acceptance and linked work, then at input evidence such as self-authored documents and repeated prompts, then at timing, and label theater only when several signals agree.
---
## Signals

Sessions leave traces in the log.

<!-- quiz: s1 -->

<!-- chart: deadline_bursts -->

<!-- quiz: s2 -->

## Practice

<!-- quiz: s3 -->

<!-- exercise -->
"""


def _fix_first(text: str) -> str:
    """The clean first module needs its combined-stage prediction declared."""
    extra = """  - id: guess-again
    prompt: Combined, what now?
    objective: explain
    answer: Correlation near zero
    explain: The count stops ranking people by value.
    options:
      - {text: Correlation holds, misconception: usage-equals-value, feedback: Gaming breaks it.}
      - {text: Correlation rises, misconception: more-usage-better-signal, feedback: More usage is not signal.}
      - {text: Correlation near zero}
"""
    return text.replace("exercise:\n  id: collapse", extra + "exercise:\n  id: collapse")


def _write_course(root: Path, first: str, second: str) -> list[Module]:
    for folder, text in (("01-first", first), ("02-second", second)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "module.md").write_text(text, encoding="utf-8")
    modules, errors = load_modules(root)
    assert [str(e) for e in errors] == []
    return modules


def _lint(modules: list[Module], rule: str) -> list[str]:
    return [p for m in modules for p in RULES[rule](m, modules)]


def test_clean_fixture_course_passes_every_rule(tmp_path):
    modules = _write_course(tmp_path, _fix_first(CLEAN_FIRST), CLEAN_SECOND)
    for rule in sorted(set(RULES) - NEEDS_CHARTS):
        assert _lint(modules, rule) == [], rule


def _drop_block(header: str) -> Callable[[str], str]:
    """A mutation removing a YAML block: the header line and every more-indented line after it."""
    def mutate(text: str) -> str:
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if line.rstrip() == header.rstrip())
        depth = len(header) - len(header.lstrip())
        end = start + 1
        while end < len(lines) and (len(lines[end]) - len(lines[end].lstrip()) > depth
                                    or (depth == 0 and lines[end].startswith("  "))):
            end += 1
        return "\n".join(lines[:start] + lines[end:]) + "\n"
    return mutate


def _swap(*pairs: tuple[str, str]) -> Callable[[str], str]:
    """A mutation replacing each old text (which must be present) by the new one."""
    def mutate(text: str) -> str:
        for old, new in pairs:
            assert old in text, f"mutation text not found: {old!r}"
            text = text.replace(old, new, 1)
        return text
    return mutate


EXTRA_OBJECTIVES = "".join(f"  - {{id: extra{i}, text: Explain extra {i}.}}\n" for i in range(3))

# (rule, which module to break, mutation of its text): each mutation must make that rule fire.
BREAKS: list[tuple[str, int, Callable[[str], str]]] = [
    ("framing_questions", 1, _swap(("  - Why count?\n", "  - Why count?\n  - Why a?\n  - Why b?\n  - Why c?\n"))),
    ("framing_questions", 1, _swap(("  - Why count?\n", "  - Counting matters.\n"))),
    ("sections_have_headings", 2, _swap(("---\n## Signals\n", "---\nAn untitled opening.\n\n## Signals\n"))),
    ("objectives_start_with_action_verb", 1, _swap(("text: Explain why a count", "text: Understanding why a count"))),
    ("objectives_start_with_action_verb", 2, _swap(("  - {id: justify, text: Justify combining signals.}\n",
                                                    "  - {id: justify, text: Justify combining signals.}\n"
                                                    + EXTRA_OBJECTIVES))),
    ("key_points", 1, _swap(("key_points: [Counts are proxies., Rewards bend counts.]",
                             "key_points: [Counts are proxies.]"))),
    ("minutes_in_range_and_honest", 1, _swap(("minutes: 20", "minutes: 90"))),
    ("minutes_in_range_and_honest", 2, _swap(("minutes: 20", "minutes: 59"))),
    ("few_new_concepts", 1, _swap(("new_concepts: [Proxy]", "new_concepts: [A, B, C, D, E]"))),
    ("every_objective_assessed", 2, _swap(("objective: justify\n    answer: Each", "objective: label\n    answer: Each"))),
    ("quiz_has_three_questions", 2, lambda t: _swap(("\n<!-- quiz: s3 -->\n", "\n"))(_drop_block("  - id: s3")(t))),
    ("every_item_placed_once", 2, _swap(("<!-- quiz: s2 -->", "<!-- quiz: s1 -->"))),
    ("check_often", 2, _swap(("Sessions leave traces in the log.", "word " * 3200))),
    ("diagnostic_options", 2, _swap((", misconception: anomalies-are-bugs", ""))),
    ("diagnostic_options", 2, _swap((", feedback: It is a known behaviour.}", "}"))),
    ("diagnostic_options", 2, _swap(("misconception: anomalies-are-bugs", "misconception: Anomalies Are Bugs"))),
    ("diagnostic_options", 2, _swap(("feedback: Skill shows in kept output.}", "feedback: It is a known behaviour.}"))),
    ("diagnostic_options", 1, _swap(("      - {text: Value fell, misconception: all-use-is-theater, "
                                      "feedback: Much use is real.}\n", ""))),
    ("diagnostic_options", 2, _swap(("feedback: Look for spikes.}", "feedback: Say Before deadlines.}"))),
    ("prediction_before_every_result", 2, _drop_block("    predict:")),
    ("prediction_before_every_result", 1, _swap(("<!-- quiz: q3 -->\n<!-- simulator: incentive -->",
                                                 "<!-- simulator: incentive -->\n<!-- quiz: q3 -->"))),
    ("simulator_built_one_mechanic_at_a_time", 1, _swap(("<!-- simulator: sandbox -->\n", ""))),
    ("simulator_built_one_mechanic_at_a_time", 1, _swap(("<!-- simulator: metric -->", "<!-- simulator: combined -->"),
                                                        ("<!-- simulator: combined -->\n<!-- simulator: sandbox",
                                                         "<!-- simulator: metric -->\n<!-- simulator: sandbox"))),
    ("exercise_feedback_loop", 2, _swap(("hints: [Start with the outcome evidence., Then input and timing.]",
                                         "hints: [Start with the outcome evidence.]"))),
    ("exercise_feedback_loop", 2, _swap(("then at timing, and label", "then at timing (about 0.3 of sessions), and label"))),
    ("exercise_feedback_loop", 2, _swap(("solution: Look first at outcome evidence such as acceptance and linked work, "
                                         "then at input evidence such as self-authored documents and repeated prompts, "
                                         "then at timing, and label theater only when several signals agree.",
                                         "solution: Use the logs."))),
    ("retrieval_on_earlier_modules", 2, _swap(("objective: first:predict", "objective: second:label"))),
    ("retrieval_on_earlier_modules", 2, _drop_block("retrieval:")),
    ("chart_takeaways", 1, _swap(("takeaway: Usage climbs while output stays flat.",
                                  "takeaway: Usage climbs. Output stays flat. Nobody notices. For months."))),
    ("figures_are_cited", 2, _swap(("Sessions leave traces in the log.", "Developers were 19% slower."))),
    ("figures_are_cited", 2, _swap(('sources: ["METR (2025)."]', "sources: []"))),
]


@pytest.mark.parametrize(("rule", "which", "mutate"), BREAKS, ids=[f"{b[0]}-{i}" for i, b in enumerate(BREAKS)])
def test_rule_fires_on_a_deliberately_broken_module(tmp_path, rule, which, mutate):
    first, second = _fix_first(CLEAN_FIRST), CLEAN_SECOND
    if which == 1:
        first = mutate(first)
    else:
        second = mutate(second)
    modules = _write_course(tmp_path, first, second)
    assert _lint(modules, rule), f"rule '{rule}' did not fire"


def test_every_rule_has_a_breaking_example():
    """Rules broken by a dedicated test below are listed by name."""
    dedicated = {"check_ids_registered", "chart_ids_exist", "answer_position_varies",
                 "right_answer_not_the_longest"}
    assert set(RULES) - {b[0] for b in BREAKS} - dedicated == set()


def test_answer_always_in_the_same_position_is_flagged(tmp_path):
    from dataclasses import replace

    modules = _write_course(tmp_path, _fix_first(CLEAN_FIRST), CLEAN_SECOND)

    def right_first(q: Question) -> Question:
        right = [o for o in q.options if o.text == q.answer]
        return replace(q, options=tuple(right + [o for o in q.options if o.text != q.answer]))

    m = modules[1]
    broken = replace(m, quiz=tuple(map(right_first, m.quiz)), retrieval=tuple(map(right_first, m.retrieval)),
                     charts=tuple(replace(c, predict=right_first(c.predict)) for c in m.charts))
    assert RULES["answer_position_varies"](m, modules) == []
    assert RULES["answer_position_varies"](broken, modules)


def test_right_option_longest_in_most_questions_is_flagged(tmp_path):
    from dataclasses import replace

    modules = _write_course(tmp_path, _fix_first(CLEAN_FIRST), CLEAN_SECOND)

    def right_longest(q: Question) -> Question:
        padded = q.answer + ", as the evidence in the logs clearly and consistently shows"
        options = tuple(replace(o, text=padded) if o.text == q.answer else o for o in q.options)
        return replace(q, answer=padded, options=options)

    m = modules[1]
    broken = replace(m, quiz=tuple(map(right_longest, m.quiz)),
                     retrieval=tuple(map(right_longest, m.retrieval)),
                     charts=tuple(replace(c, predict=right_longest(c.predict)) for c in m.charts))
    assert RULES["right_answer_not_the_longest"](m, modules) == []
    problems = RULES["right_answer_not_the_longest"](broken, modules)
    assert problems and "at most a third" in problems[0]


def test_retrieval_in_the_first_module_is_flagged(tmp_path):
    modules = _write_course(tmp_path, _fix_first(CLEAN_FIRST), CLEAN_SECOND)
    first, second = modules
    problems = RULES["retrieval_on_earlier_modules"](first.__class__(**{**first.__dict__, "retrieval": second.retrieval}), modules)
    assert problems and "should have none" in problems[0]


def test_a_missing_exercise_is_flagged(tmp_path):
    modules = _write_course(tmp_path, _fix_first(CLEAN_FIRST), CLEAN_SECOND)
    without = modules[1].__class__(**{**modules[1].__dict__, "exercise": None})
    assert RULES["exercise_feedback_loop"](without, modules) == ["has no hands-on exercise"]


def test_unregistered_check_id_is_flagged(tmp_path):
    from dataclasses import replace

    modules = _write_course(tmp_path, _fix_first(CLEAN_FIRST), CLEAN_SECOND)
    broken = replace(modules[1], exercise=replace(modules[1].exercise, check="spot.nowhere"))
    assert RULES["check_ids_registered"](broken, modules)


def test_unknown_chart_id_is_flagged_once_charts_exist(tmp_path):
    from dataclasses import replace

    modules = _write_course(tmp_path, _fix_first(CLEAN_FIRST), CLEAN_SECOND)
    chart = replace(modules[1].charts[0], id="no_such_chart")
    broken = replace(modules[1], charts=(chart,))
    assert RULES["chart_ids_exist"](broken, modules)


@pytest.mark.slow
def test_chart_registry_read_from_source_matches_the_imported_module():
    registry = _chart_registry()
    charts = importlib.import_module("course.charts")
    assert registry["CHARTS"] == set(charts.CHARTS)
    assert registry["PALETTE"] == getattr(charts, "PALETTE", None)


SEED_ARTICLE = Path(__file__).resolve().parents[3] / "shared" / "seed" / "adoption-theater-article.txt"
COPY_RUN = 8   # words in a row shared with the seed article that count as copying


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def _authored_text(module: Module) -> str:
    """Everything the module's author wrote, except the source list (titles are quoted there)."""
    parts = [module.title, *module.framing_questions, *(o.text for o in module.objectives),
             *module.key_points, *(s.body_md for s in module.sections), *(c.takeaway for c in module.charts)]
    for q in _own_questions(module) + list(module.retrieval):
        parts += [q.prompt, q.explain, *(o.text for o in q.options), *(o.feedback for o in q.options)]
    if module.exercise:
        parts += [module.exercise.prompt, module.exercise.solution, *module.exercise.hints]
    return "\n".join(parts)


def _copied_runs(text: str, source_words: list[str], n: int = COPY_RUN) -> list[str]:
    grams = {tuple(source_words[i:i + n]) for i in range(len(source_words) - n + 1)}
    words = _words(text)
    return [" ".join(words[i:i + n]) for i in range(len(words) - n + 1) if tuple(words[i:i + n]) in grams]


def test_copy_detector_finds_a_pasted_sentence():
    source = _words("The quick brown fox jumps over the lazy dog near the quiet river bank today.")
    assert _copied_runs("As they say, the fox jumps over the lazy dog near the quiet river.", source)
    assert _copied_runs("A fox leapt across a sleeping dog by the water.", source) == []


@pytest.mark.parametrize("module", SHIPPED, ids=[m.id for m in SHIPPED])
def test_module_text_is_written_not_pasted_from_the_seed_article(module):
    if not SEED_ARTICLE.exists():
        pytest.skip(f"the seed article is not at {SEED_ARTICLE}")
    source = _words(SEED_ARTICLE.read_text(encoding="utf-8"))
    assert _copied_runs(_authored_text(module), source) == []
