"""Course modules as data: load and validate module files, score quiz answers, derive mastery.

A module is `course/content/NN-slug/module.md`: YAML front matter between `---` lines, then a
Markdown lesson split into sections on `## ` headings. Directives alone on a line mark where the
app puts a widget: `<!-- chart: ID -->`, `<!-- quiz: ID -->`, `<!-- exercise -->`,
`<!-- simulator: STAGE -->`. docs/writing-modules.md is the author's reference.

The front matter is validated by pydantic models (FrontMatter and its parts); a problem becomes
one ContentError naming the file and the field (datasets.validation.invalid_file).
This module never imports streamlit: pages call it, tests call it, and so does the content lint.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (AfterValidator, BeforeValidator, Field, Strict, StringConstraints, ValidationError,
                      field_validator, model_validator)

from datasets.validation import FileModel, FileRecord, InvalidFile, file_record, invalid_file

CONTENT_DIR = Path(__file__).with_name("content")
PRE_POST_TEST_FILE = "pre-post-test.yaml"

# The fixed vocabularies shared with the app and the exercises registry (see docs/writing-modules.md).
# Adding a chart, an exercise kind or a simulator stage is one line here (and its widget in the app);
# a check id is registered once, in exercises.checks (CHECK_IDS below reads that registry).
CHART_IDS = frozenset({
    "adoption_vs_output", "tokens_by_archetype_hidden", "acceptance_vs_tokens",
    "self_authored_share", "deadline_bursts", "sessions_linked_to_work",
    "cycle_time_before_after", "detector_tradeoff", "cohort_flows", "perception_vs_measured",
    "goodhart_simulator",
})
ExerciseKind = Literal[
    "goodhart_sim",
    "label_sessions",
    "estimate",
    "flag_employees",
    "flag_converts",
    "choose_metrics",
]
EXERCISE_KINDS = frozenset(get_args(ExerciseKind))
SimulatorStage = Literal["metric", "incentive", "gaming", "combined", "sandbox"]
SIMULATOR_STAGES: tuple[str, ...] = get_args(SimulatorStage)
DIRECTIVE_KINDS = ("chart", "quiz", "exercise", "simulator", "game")

# libyaml's parser is about ten times faster than the pure-Python one; same results.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

WORDS_PER_MINUTE = 200
QUIZ_MINUTES = 1.0            # reading a question, answering, reading the feedback
DEFAULT_CHART_MINUTES = 2.0
DEFAULT_SIMULATOR_MINUTES = 3.0
DEFAULT_EXERCISE_MINUTES = 10.0
DEFAULT_GAME_MINUTES = 5.0

MODULE_DIR_PATTERN = re.compile(r"^(\d{2})-([a-z0-9]+(?:-[a-z0-9]+)*)$")
DIRECTIVE_PATTERN = re.compile(r"^\s*<!--\s*([A-Za-z_]+)\s*(?::\s*(.*?))?\s*-->\s*$")
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
QUALIFIED_OBJECTIVE_PATTERN = re.compile(r"^([a-z0-9-]+):([a-z0-9_-]+)$")


class ContentError(InvalidFile):
    """A module file an author must fix; the other modules still load. `problem` says what and where."""


# --------------------------------------------------------------------------- field types

def _none_is_empty(value: Any) -> Any:
    """`quiz:` with nothing after it is YAML's null: the same as no entries."""
    return () if value is None else value


def _none_is_blank(value: Any) -> Any:
    return "" if value is None else value


def _identifier_rule(value: str) -> str:
    if not ID_PATTERN.match(value):
        raise ValueError(f"'{value}' must be lower-case letters, digits, '-' or '_'")
    return value


Text = Annotated[str, StringConstraints(min_length=1)]
OptionalText = Annotated[str, BeforeValidator(_none_is_blank)]
Identifier = Annotated[str, StringConstraints(min_length=1), AfterValidator(_identifier_rule)]
Minutes = Annotated[float, Strict(), Field(ge=0)]
Texts = Annotated[tuple[Text, ...], BeforeValidator(_none_is_empty)]


# --------------------------------------------------------------------------- the module's parts

@file_record
class Option(FileRecord):
    text: Text
    misconception: str | None = None   # None on the right answer
    feedback: OptionalText = ""

    @model_validator(mode="before")
    @classmethod
    def _plain_text_is_an_option(cls, data: Any) -> Any:
        """`- Flat` is an option without feedback, like `- text: Flat`."""
        return {"text": data} if isinstance(data, str | int | float) else data

    @field_validator("misconception", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


@file_record
class Question(FileRecord):
    id: Identifier
    prompt: Text
    options: Annotated[tuple[Option, ...], Field(min_length=1)]
    answer: Text
    objective: Text             # an objective id of this module; "module-id:objective-id" in retrieval
    explain: Text

    @model_validator(mode="after")
    def _answer_is_one_unmarked_option(self) -> Question:
        texts = [o.text for o in self.options]
        if len(set(texts)) != len(texts):
            raise ValueError("two options have the same text")
        if self.answer not in texts:
            raise ValueError(f"answer '{self.answer}' is not among the options")
        right = self.options[texts.index(self.answer)]
        if right.misconception is not None:
            raise ValueError("the right answer must not carry a misconception tag")
        if not right.feedback:  # the right answer's feedback is the explanation unless written
            options = list(self.options)
            options[texts.index(self.answer)] = Option(text=right.text, feedback=self.explain)
            object.__setattr__(self, "options", tuple(options))
        return self


Questions = Annotated[tuple[Question, ...], BeforeValidator(_none_is_empty)]


@file_record
class Objective(FileRecord):
    id: Identifier
    text: Text


@file_record
class ChartRef(FileRecord):
    id: Text                    # a key of course.charts.CHARTS (CHART_IDS)
    takeaway: Text
    predict: Question | None = None
    minutes: Minutes = DEFAULT_CHART_MINUTES


@file_record
class Exercise(FileRecord):
    id: Identifier
    kind: ExerciseKind
    check: Text                 # a key of exercises.checks.CHECKS (CHECK_IDS)
    prompt: Text
    hints: Texts
    solution: Text
    objective: Text
    minutes: Minutes = DEFAULT_EXERCISE_MINUTES


@file_record
class CheckerGame(FileRecord):
    """The words around course.checker_game: a visible checker to game, then the hidden check."""

    prompt: Text
    target: Annotated[float, Strict(), Field(gt=0, le=60)]   # the dashboard's target, sessions per person per week
    real_label: Text
    padded_label: Text
    visible_pass: Text          # shown when the dashboard turns green
    hidden_intro: Text          # shown beside the hidden check's button
    lesson: Text                # shown after the hidden check
    objective: Text
    minutes: Minutes = DEFAULT_GAME_MINUTES


def _check_ids() -> frozenset[str]:
    """The ids of exercises.checks.CHECKS, imported when a module is parsed (it needs numpy and pandas)."""
    from exercises.checks import CHECKS

    return frozenset(CHECKS)


def __getattr__(name: str) -> Any:
    if name == "CHECK_IDS":  # `from course.modules import CHECK_IDS` stays the registry's ids
        return _check_ids()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _registered(value: str, registry: frozenset[str], noun: str) -> str:
    if value not in registry:
        raise ValueError(f"unknown {noun} '{value}' (known: {', '.join(sorted(registry))})")
    return value


class FrontMatter(FileModel):
    """A module.md's YAML front matter (docs/writing-modules.md), checked field by field."""

    id: Identifier
    title: Text
    minutes: Annotated[int, Strict(), Field(gt=0)]
    framing_questions: tuple[Text, ...]
    objectives: Annotated[tuple[Objective, ...], Field(min_length=1)]
    new_concepts: Texts = ()
    key_points: tuple[Text, ...]
    sources: Texts = ()
    retrieval: Questions = ()
    quiz: Questions = ()
    charts: Annotated[tuple[ChartRef, ...], BeforeValidator(_none_is_empty)] = ()
    exercise: Exercise | None = None
    simulator_minutes: Annotated[dict[SimulatorStage, Minutes], BeforeValidator(
        lambda value: {} if value is None else value)] = {}
    checker_game: CheckerGame | None = None

    @field_validator("charts")
    @classmethod
    def _known_charts(cls, charts: tuple[ChartRef, ...]) -> tuple[ChartRef, ...]:
        for chart in charts:
            _registered(chart.id, CHART_IDS, "chart id")
        if len({c.id for c in charts}) != len(charts):
            raise ValueError("a chart is listed twice in 'charts'")
        return charts

    @field_validator("exercise")
    @classmethod
    def _known_check(cls, exercise: Exercise | None) -> Exercise | None:
        if exercise is not None:
            _registered(exercise.check, _check_ids(), "check id")
        return exercise

    @model_validator(mode="after")
    def _objectives_and_ids_agree(self) -> FrontMatter:
        objective_ids = {o.id for o in self.objectives}
        if len(objective_ids) != len(self.objectives):
            raise ValueError("two objectives share an id")
        own = list(self.quiz) + [c.predict for c in self.charts if c.predict is not None]
        for q in own:
            if q.objective not in objective_ids:
                raise ValueError(f"question '{q.id}' names unknown objective '{q.objective}' "
                                 f"(this module's objectives: {', '.join(sorted(objective_ids))})")
        for q in self.retrieval:
            if not QUALIFIED_OBJECTIVE_PATTERN.match(q.objective):
                raise ValueError(f"retrieval question '{q.id}' must name an earlier module's objective "
                                 f"as 'module-id:objective-id', not '{q.objective}'")
        ids = [q.id for q in own + list(self.retrieval)]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"question id used twice: {', '.join(duplicates)}")
        for name, part in (("exercise", self.exercise), ("checker_game", self.checker_game)):
            if part is not None and part.objective not in objective_ids:
                raise ValueError(f"{name} names unknown objective '{part.objective}'")
        return self


@dataclass(frozen=True)
class Section:
    title: str
    body_md: str
    minutes: float
    items: tuple[str, ...]      # ordered directive refs: "chart:ID", "quiz:ID", "exercise", "simulator:STAGE"


@dataclass(frozen=True)
class Module:
    id: str
    number: int
    slug: str
    title: str
    minutes: int
    framing_questions: tuple[str, ...]
    objectives: tuple[Objective, ...]
    retrieval: tuple[Question, ...]
    quiz: tuple[Question, ...]
    charts: tuple[ChartRef, ...]
    exercise: Exercise | None
    sections: tuple[Section, ...]
    key_points: tuple[str, ...]
    sources: tuple[str, ...]
    path: Path
    new_concepts: tuple[str, ...] = ()
    simulator_minutes: tuple[tuple[str, float], ...] = ()   # (stage, minutes) as declared
    checker_game: CheckerGame | None = None

    def question(self, question_id: str) -> Question:
        """Any question of this module by id: quiz, retrieval or a chart's prediction."""
        for q in self.all_questions():
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    def all_questions(self) -> tuple[Question, ...]:
        predictions = tuple(c.predict for c in self.charts if c.predict is not None)
        return self.retrieval + self.quiz + predictions

    def chart(self, chart_id: str) -> ChartRef:
        for c in self.charts:
            if c.id == chart_id:
                return c
        raise KeyError(chart_id)


@dataclass(frozen=True)
class Feedback:
    correct: bool
    message: str
    misconception: str | None



class _Invalid(Exception):
    """Raised inside parsing; turned into a ContentError carrying the file's path."""


# --------------------------------------------------------------------------- lesson body

def reading_minutes(markdown: str) -> float:
    """Minutes to read prose at WORDS_PER_MINUTE, ignoring directives and Markdown punctuation."""
    words = 0
    for line in markdown.splitlines():
        if DIRECTIVE_PATTERN.match(line):
            continue
        words += len(re.findall(r"[A-Za-z0-9][A-Za-z0-9'’.%,-]*", line))
    return words / WORDS_PER_MINUTE


def _directive(line: str) -> tuple[str, str] | None:
    m = DIRECTIVE_PATTERN.match(line)
    if not m:
        return None
    return m.group(1), (m.group(2) or "").strip()


def _item_ref(kind: str, arg: str, line_no: int) -> str:
    if kind not in DIRECTIVE_KINDS:
        raise _Invalid(f"line {line_no}: unknown directive '{kind}' "
                       f"(known: {', '.join(DIRECTIVE_KINDS)})")
    if kind in ("exercise", "game"):
        if arg:
            raise _Invalid(f"line {line_no}: the {kind} directive takes no argument")
        return kind
    if not arg:
        raise _Invalid(f"line {line_no}: directive '{kind}' needs an argument, e.g. <!-- {kind}: ID -->")
    return f"{kind}:{arg}"


def _item_minutes(item: str, charts: dict[str, ChartRef], exercise: Exercise | None,
                  simulator: dict[str, float], game: CheckerGame | None = None) -> float:
    kind, _, arg = item.partition(":")
    if kind == "game":
        return game.minutes if game else 0.0
    if kind == "quiz":
        return QUIZ_MINUTES
    if kind == "chart":
        return charts[arg].minutes
    if kind == "simulator":
        return simulator.get(arg, DEFAULT_SIMULATOR_MINUTES)
    return exercise.minutes if exercise else 0.0


def _split_sections(body: str, line_offset: int) -> list[tuple[str, list[str], list[tuple[str, int]]]]:
    """(title, lines, [(item ref, line number)]) per `## ` heading; text before the first is untitled."""
    sections: list[tuple[str, list[str], list[tuple[str, int]]]] = [("", [], [])]
    in_fence = False
    for i, line in enumerate(body.splitlines()):
        line_no = line_offset + i
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.startswith("## "):
            sections.append((line[3:].strip(), [], []))
            continue
        title, lines, items = sections[-1]
        lines.append(line)
        if not in_fence:
            d = _directive(line)
            if d is not None:
                items.append((_item_ref(d[0], d[1], line_no), line_no))
    first_title, first_lines, first_items = sections[0]
    if not "\n".join(first_lines).strip() and not first_items:
        sections.pop(0)
    return sections


# --------------------------------------------------------------------------- one module

def _split_front_matter(text: str) -> tuple[str, str, int]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise _Invalid("missing YAML front matter: the file must start with a line '---'")
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1:]), i + 2
    raise _Invalid("front matter is not closed: add a line '---' after it")




def parse_module(path: Path) -> Module:
    """Read and validate one module.md; a problem becomes ContentError('<path>: <problem>')."""
    path = Path(path)
    try:
        return _parse_module(path)
    except _Invalid as exc:
        raise ContentError(path, str(exc)) from None
    except OSError as exc:
        raise ContentError(path, f"cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ContentError(path, "the file is not UTF-8 text") from None


def _load_yaml(text: str, first_line: int = 1) -> Any:
    """YAML as data; a syntax error names its line in the file (front matter starts on line 2)."""
    try:
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + first_line}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise _Invalid(f"not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise _Invalid("not valid YAML: nested too deeply") from None


def _parse_module(path: Path) -> Module:
    m = MODULE_DIR_PATTERN.match(path.parent.name)
    if not m:
        raise _Invalid(f"the module folder '{path.parent.name}' must be named NN-slug (e.g. 01-metric-became-mission)")
    number, slug = int(m.group(1)), m.group(2)
    front_text, body, body_first_line = _split_front_matter(path.read_text(encoding="utf-8"))
    try:
        data = _load_yaml(front_text, first_line=2)
    except _Invalid as exc:
        raise _Invalid(f"front matter is {exc}") from None
    if not isinstance(data, dict):
        raise _Invalid("front matter must be a YAML mapping of fields")
    try:
        front = FrontMatter.model_validate(data)
    except ValidationError as exc:
        raise invalid_file(path, exc, ContentError, data, context="front matter") from None
    if front.id != slug:
        raise _Invalid(f"id '{front.id}' must equal the folder's slug '{slug}'")

    chart_by_id = {c.id: c for c in front.charts}
    quiz_ids = {q.id for q in front.quiz}
    simulator = dict(front.simulator_minutes)
    sections: list[Section] = []
    for section_title, lines, items in _split_sections(body, body_first_line):
        for ref, line_no in items:
            kind, _, arg = ref.partition(":")
            if kind == "chart" and arg not in chart_by_id:
                raise _Invalid(f"line {line_no}: chart '{arg}' is not declared under 'charts'")
            if kind == "quiz" and arg not in quiz_ids:
                raise _Invalid(f"line {line_no}: quiz question '{arg}' is not declared under 'quiz'")
            if kind == "exercise" and front.exercise is None:
                raise _Invalid(f"line {line_no}: exercise directive but no 'exercise' in the front matter")
            if kind == "game" and front.checker_game is None:
                raise _Invalid(f"line {line_no}: game directive but no 'checker_game' in the front matter")
            if kind == "simulator" and arg not in SIMULATOR_STAGES:
                raise _Invalid(f"line {line_no}: unknown simulator stage '{arg}' "
                               f"(known: {', '.join(SIMULATOR_STAGES)})")
        body_md = "\n".join(lines).strip("\n")
        item_refs = tuple(ref for ref, _ in items)
        minutes = reading_minutes(body_md) + sum(
            _item_minutes(ref, chart_by_id, front.exercise, simulator, front.checker_game) for ref in item_refs)
        sections.append(Section(title=section_title, body_md=body_md, minutes=round(minutes, 2), items=item_refs))
    if not sections:
        raise _Invalid("the lesson body is empty")

    return Module(
        id=front.id, number=number, slug=slug, title=front.title, minutes=front.minutes,
        framing_questions=front.framing_questions, objectives=front.objectives,
        retrieval=front.retrieval, quiz=front.quiz, charts=front.charts, exercise=front.exercise,
        sections=tuple(sections), key_points=front.key_points, sources=front.sources, path=path,
        new_concepts=front.new_concepts, simulator_minutes=tuple(simulator.items()),
        checker_game=front.checker_game,
    )


# --------------------------------------------------------------------------- all modules

def load_modules(content_dir: Path | None = None) -> tuple[list[Module], list[ContentError]]:
    """Every valid module in number order, and one ContentError per broken file (others still load)."""
    content_dir = Path(content_dir) if content_dir is not None else CONTENT_DIR
    modules: list[Module] = []
    errors: list[ContentError] = []
    if not content_dir.is_dir():
        return [], [ContentError(content_dir, "the content folder does not exist")]
    for entry in sorted(content_dir.iterdir()):
        if not entry.is_dir() or not re.match(r"^\d{2}-", entry.name):
            continue
        path = entry / "module.md"
        if not path.is_file():
            errors.append(ContentError(path, "module folder has no module.md"))
            continue
        try:
            modules.append(parse_module(path))
        except ContentError as exc:
            errors.append(exc)

    kept: list[Module] = []
    seen_numbers: dict[int, Module] = {}
    for module in modules:
        if module.number in seen_numbers:
            errors.append(ContentError(module.path, f"module number {module.number:02d} is already "
                                                    f"used by {seen_numbers[module.number].path.parent.name}"))
            continue
        seen_numbers[module.number] = module
        kept.append(module)

    objectives = {(m.id, o.id): m.number for m in kept for o in m.objectives}
    valid: list[Module] = []
    for module in kept:
        problem = None
        for q in module.retrieval:
            mod_id, _, obj_id = q.objective.partition(":")
            if (mod_id, obj_id) not in objectives:
                problem = f"retrieval question '{q.id}' names unknown objective '{q.objective}'"
                break
        if problem:
            errors.append(ContentError(module.path, problem))
        else:
            valid.append(module)
    valid.sort(key=lambda m: m.number)
    return valid, errors


_cache: dict[Path, tuple[tuple, tuple[list[Module], list[ContentError]]]] = {}


def _fingerprint(content_dir: Path) -> tuple:
    """Modification times of every module file, so edits are picked up without a restart."""
    stamps = []
    try:
        for entry in sorted(content_dir.iterdir()):
            path = entry / "module.md"
            stamps.append((entry.name, path.stat().st_mtime_ns if path.is_file() else None))
    except OSError:
        return ()
    return tuple(stamps)


def load_modules_cached(content_dir: Path | None = None) -> tuple[list[Module], list[ContentError]]:
    """load_modules, re-read only when a module file changed."""
    content_dir = Path(content_dir) if content_dir is not None else CONTENT_DIR
    stamp = _fingerprint(content_dir)
    hit = _cache.get(content_dir)
    if hit is None or hit[0] != stamp or not stamp:
        hit = (stamp, load_modules(content_dir))
        _cache[content_dir] = hit
    return list(hit[1][0]), list(hit[1][1])


def get_module(module_id: str | int, content_dir: Path | None = None) -> Module:
    """One module by id ('metric-became-mission'), folder name ('01-metric-became-mission') or number."""
    modules, errors = load_modules_cached(content_dir)
    for m in modules:
        if module_id in (m.id, m.number, f"{m.number:02d}-{m.slug}", str(m.number)):
            return m
    for err in errors:
        if err.path.parent.name.endswith(f"-{module_id}") or err.path.parent.name == module_id:
            raise err
    where = Path(content_dir) if content_dir is not None else CONTENT_DIR
    raise ContentError(where, f"no module with id '{module_id}'")


# --------------------------------------------------------------------------- scoring

def score_answer(question: Question, chosen: str | None) -> Feedback:
    """The right answer's explanation, or the chosen wrong option's own feedback and misconception."""
    if chosen is None or (isinstance(chosen, str) and not chosen.strip()):
        return Feedback(correct=False, message="Not attempted yet: choose one option, then check it.",
                        misconception=None)
    chosen = chosen.strip()
    if chosen == question.answer:
        return Feedback(correct=True, message=question.explain, misconception=None)
    for option in question.options:
        if option.text == chosen:
            message = option.feedback or "Not quite. Read the question again and try another option."
            return Feedback(correct=False, message=message, misconception=option.misconception)
    return Feedback(correct=False, message="That answer is not one of the options.", misconception=None)


MASTERY_LEVELS = ("not started", "attempted", "familiar", "proficient", "mastered")


def mastery(scores: list[float], reviewed_correct: bool) -> str:
    """Khan-style level from item scores in [0, 1]: <70% attempted, 70–99% familiar, 100% proficient."""
    if not scores:
        return "not started"
    for s in scores:
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not (0.0 <= s <= 1.0):
            raise ValueError(f"scores must be numbers between 0 and 1, got {s!r}")
    share = sum(scores) / len(scores)
    if share >= 1.0 - 1e-9:
        return "mastered" if reviewed_correct else "proficient"
    if share >= 0.7 - 1e-9:
        return "familiar"
    return "attempted"


# --------------------------------------------------------------------------- checks between content

def is_check(item: str, module: Module) -> bool:
    """Items where the learner answers something: a quiz, the exercise, a chart's prediction."""
    kind, _, arg = item.partition(":")
    if kind in ("quiz", "exercise", "game"):
        return True
    if kind == "chart":
        try:
            return module.chart(arg).predict is not None
        except KeyError:
            return False
    return False


def minutes_between_checks(module: Module) -> list[float]:
    """Minutes of reading and watching in each stretch without a check, in lesson order.

    Retrieval questions count as the check that opens the module. A chart's prediction comes
    before the chart, so the chart's viewing time belongs to the stretch after it.
    """
    charts = {c.id: c for c in module.charts}
    simulator = dict(module.simulator_minutes)
    stretches: list[float] = []
    current = 0.0
    for section in module.sections:
        segment: list[str] = []
        for line in section.body_md.splitlines():
            d = _directive(line)
            if d is None:
                segment.append(line)
                continue
            current += reading_minutes("\n".join(segment))
            segment = []
            ref = _item_ref(d[0], d[1], 0)
            if is_check(ref, module):
                stretches.append(round(current, 2))
                current = 0.0
                if ref.startswith("chart:"):
                    current += charts[ref.partition(":")[2]].minutes
            else:
                current += _item_minutes(ref, charts, module.exercise, simulator, module.checker_game)
        current += reading_minutes("\n".join(segment)) + reading_minutes(section.title)
    stretches.append(round(current, 2))
    return stretches


def module_minutes(module: Module) -> float:
    """Estimated minutes for the whole module: sections plus the retrieval questions."""
    return sum(s.minutes for s in module.sections) + QUIZ_MINUTES * len(module.retrieval)


# --------------------------------------------------------------------------- pre/post test

PRE_POST_FORMS = ("A", "B")


@dataclass(frozen=True)
class PrePostTest:
    """Two parallel forms of the misconception test: one question per objective in each form.

    The two questions of an objective test the same idea on a different surface, so a learner
    who takes form A before the course and form B after it (or the other way round) is measured
    on the ideas, not on remembering the items.
    """

    objectives: tuple[Objective, ...]
    forms: dict[str, tuple[Question, ...]]

    def all_questions(self) -> list[Question]:
        return [q for form in PRE_POST_FORMS for q in self.forms[form]]

    def form_of(self, question_id: str) -> str | None:
        for form, questions in self.forms.items():
            if any(q.id == question_id for q in questions):
                return form
        return None




class PrePostFile(FileModel):
    """pre-post-test.yaml: the objectives, then forms A and B asking one question per objective each."""

    objectives: Annotated[tuple[Objective, ...], BeforeValidator(_none_is_empty)] = ()
    forms: dict[Literal["A", "B"], Annotated[tuple[Question, ...], Field(min_length=1)]]

    @model_validator(mode="after")
    def _parallel_forms(self) -> PrePostFile:
        if sorted(self.forms) != list(PRE_POST_FORMS):
            raise ValueError(f"'forms' must map exactly the forms {', '.join(PRE_POST_FORMS)} to questions")
        objective_ids = {o.id for o in self.objectives}
        for form in PRE_POST_FORMS:
            for q in self.forms[form]:
                if q.objective not in objective_ids:
                    raise ValueError(f"question '{q.id}' names unknown objective '{q.objective}'")
            covered = [q.objective for q in self.forms[form]]
            if len(set(covered)) != len(covered):
                raise ValueError(f"form {form} asks about one objective twice: one question per objective")
        a_objectives = {q.objective for q in self.forms["A"]}
        b_objectives = {q.objective for q in self.forms["B"]}
        if a_objectives != b_objectives:
            lonely = sorted(a_objectives ^ b_objectives)
            raise ValueError("the forms must be parallel: objective(s) "
                             f"{', '.join(lonely)} are tested in one form only")
        ids = [q.id for form in PRE_POST_FORMS for q in self.forms[form]]
        if len(set(ids)) != len(ids):
            raise ValueError("two questions share an id (ids must differ across the forms too)")
        return self


def load_pre_post_forms(path: Path | None = None) -> PrePostTest:
    """The misconception test as data; a problem becomes ContentError with the file's path."""
    path = Path(path) if path is not None else CONTENT_DIR / PRE_POST_TEST_FILE
    try:
        data = _load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ContentError(path, f"cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ContentError(path, "the file is not UTF-8 text") from None
    except _Invalid as exc:
        raise ContentError(path, str(exc)) from None
    if not isinstance(data, dict):
        raise ContentError(path, "must be a mapping with 'objectives' and 'forms'")
    try:
        parsed = PrePostFile.model_validate(data)
    except ValidationError as exc:
        raise invalid_file(path, exc, ContentError, data, context="pre/post test") from None
    return PrePostTest(objectives=parsed.objectives,
                       forms={form: parsed.forms[form] for form in PRE_POST_FORMS})


def load_pre_post_test(path: Path | None = None) -> list[Question]:
    """Every question of both forms (A then B): ids are unique across the forms."""
    return load_pre_post_forms(path).all_questions()


def pre_post_test() -> list[Question]:
    """The short misconception test: one form before module 1, the other after the capstone."""
    return load_pre_post_test()


def content_dir_from_env() -> Path:
    """THEATER_CONTENT_DIR lets an author preview modules from another folder; default: the package's."""
    return Path(os.environ.get("THEATER_CONTENT_DIR") or CONTENT_DIR)
