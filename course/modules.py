"""Course modules as data: load and validate module files, score quiz answers, derive mastery.

A module is `course/content/NN-slug/module.md`: YAML front matter between `---` lines, then a
Markdown lesson split into sections on `## ` headings. Directives alone on a line mark where the
app puts a widget: `<!-- chart: ID -->`, `<!-- quiz: ID -->`, `<!-- exercise -->`,
`<!-- simulator: STAGE -->`. docs/writing-modules.md is the author's reference.

This module never imports streamlit: pages call it, tests call it, and so does the content lint.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from datasets.errors import UserError

CONTENT_DIR = Path(__file__).with_name("content")
PRE_POST_TEST_FILE = "pre-post-test.yaml"

# The fixed vocabularies shared with the app and the exercises registry (see docs/writing-modules.md).
CHART_IDS = frozenset({
    "adoption_vs_output", "tokens_by_archetype_hidden", "acceptance_vs_tokens",
    "self_authored_share", "deadline_bursts", "sessions_linked_to_work",
    "cycle_time_before_after", "detector_tradeoff", "cohort_flows", "perception_vs_measured",
    "goodhart_simulator",
})
CHECK_IDS = frozenset({
    "explore.weekly_usage_output", "spot.label_sessions", "detect.flag_tokenmaxxers",
    "detect.flag_converts", "measure.theater_share", "measure.productivity_effect",
    "goodhart.collapse_point", "metrics.dashboard_design",
})
EXERCISE_KINDS = frozenset({
    "goodhart_sim", "label_sessions", "estimate", "flag_employees", "flag_converts",
    "choose_metrics",
})
SIMULATOR_STAGES = ("metric", "incentive", "gaming", "combined", "sandbox")
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


class ContentError(UserError):
    """A module file an author must fix; the other modules still load."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class Option:
    text: str
    misconception: str | None   # None on the right answer
    feedback: str


@dataclass(frozen=True)
class Question:
    id: str
    prompt: str
    options: tuple[Option, ...]
    answer: str
    objective: str              # an objective id of this module; "module-id:objective-id" in retrieval
    explain: str


@dataclass(frozen=True)
class Objective:
    id: str
    text: str


@dataclass(frozen=True)
class ChartRef:
    id: str                     # a key of course.charts.CHARTS
    takeaway: str
    predict: Question | None
    minutes: float = DEFAULT_CHART_MINUTES


@dataclass(frozen=True)
class Exercise:
    id: str
    kind: str
    check: str
    prompt: str
    hints: tuple[str, ...]
    solution: str
    objective: str
    minutes: float = DEFAULT_EXERCISE_MINUTES


@dataclass(frozen=True)
class CheckerGame:
    """The words around course.checker_game: a visible checker to game, then the hidden check."""

    prompt: str
    target: float               # the dashboard's target, sessions per person per week
    real_label: str
    padded_label: str
    visible_pass: str           # shown when the dashboard turns green
    hidden_intro: str           # shown beside the hidden check's button
    lesson: str                 # shown after the hidden check
    objective: str
    minutes: float = DEFAULT_GAME_MINUTES


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


# --------------------------------------------------------------------------- field readers

class _Invalid(Exception):
    """Raised inside parsing; turned into a ContentError carrying the file's path."""


def _require(data: dict, key: str, where: str) -> Any:
    if not isinstance(data, dict):
        raise _Invalid(f"{where} must be a mapping")
    if key not in data or data[key] is None:
        raise _Invalid(f"{where} is missing required field '{key}'")
    return data[key]


def _text(data: dict, key: str, where: str, required: bool = True, default: str = "") -> str:
    value = _require(data, key, where) if required else data.get(key, default)
    if value is None:
        value = default
    if isinstance(value, bool):
        raise _Invalid(f"{where}: field '{key}' must be text (quote yes/no/true/false: YAML reads them as booleans)")
    if not isinstance(value, (str, int, float)):
        raise _Invalid(f"{where}: field '{key}' must be text")
    value = str(value).strip()
    if required and not value:
        raise _Invalid(f"{where}: field '{key}' is empty")
    return value


def _text_list(data: dict, key: str, where: str, required: bool = True) -> tuple[str, ...]:
    value = _require(data, key, where) if required else (data.get(key) or [])
    if isinstance(value, str) or not isinstance(value, list):
        raise _Invalid(f"{where}: field '{key}' must be a list")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, (str, int, float)) or isinstance(item, bool) or not str(item).strip():
            hint = " (quote it: an unquoted ': ' makes YAML read a mapping)" if isinstance(item, dict) else ""
            raise _Invalid(f"{where}: {key}[{i}] must be non-empty text{hint}")
        out.append(str(item).strip())
    return tuple(out)


def _minutes(data: dict, key: str, where: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise _Invalid(f"{where}: field '{key}' must be a non-negative number of minutes")
    return float(value)


def _identifier(data: dict, key: str, where: str) -> str:
    value = _text(data, key, where)
    if not ID_PATTERN.match(value):
        raise _Invalid(f"{where}: {key} '{value}' must be lower-case letters, digits, '-' or '_'")
    return value


MODULE_FIELDS = frozenset({"id", "title", "minutes", "framing_questions", "objectives", "new_concepts",
                           "key_points", "sources", "retrieval", "quiz", "charts", "exercise",
                           "simulator_minutes", "checker_game"})
QUESTION_FIELDS = frozenset({"id", "prompt", "options", "answer", "objective", "explain"})
OPTION_FIELDS = frozenset({"text", "misconception", "feedback"})
CHART_FIELDS = frozenset({"id", "takeaway", "predict", "minutes"})
EXERCISE_FIELDS = frozenset({"id", "kind", "check", "prompt", "hints", "solution", "objective", "minutes"})
GAME_FIELDS = frozenset({"prompt", "target", "real_label", "padded_label", "visible_pass",
                         "hidden_intro", "lesson", "objective", "minutes"})


def _no_unknown_fields(data: dict, allowed: frozenset[str], where: str) -> None:
    """A misspelt field would otherwise be ignored silently."""
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise _Invalid(f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def _parse_question(raw: Any, where: str) -> Question:
    if not isinstance(raw, dict):
        raise _Invalid(f"{where} must be a mapping with id, prompt, options, answer, objective, explain")
    qid = _identifier(raw, "id", where)
    where = f"{where} '{qid}'"
    _no_unknown_fields(raw, QUESTION_FIELDS, where)
    prompt = _text(raw, "prompt", where)
    answer = _text(raw, "answer", where)
    objective = _text(raw, "objective", where)
    explain = _text(raw, "explain", where)
    raw_options = _require(raw, "options", where)
    if not isinstance(raw_options, list) or not raw_options:
        raise _Invalid(f"{where}: options must be a non-empty list")
    options: list[Option] = []
    for i, opt in enumerate(raw_options):
        if isinstance(opt, bool):
            raise _Invalid(f"{where}: option {i + 1} must be text (quote yes/no/true/false: YAML reads them as booleans)")
        if isinstance(opt, (str, int, float)):
            text, misconception, feedback = str(opt).strip(), None, ""
        elif isinstance(opt, dict):
            _no_unknown_fields(opt, OPTION_FIELDS, f"{where} option {i + 1}")
            text = _text(opt, "text", f"{where} option {i + 1}")
            misconception = _text(opt, "misconception", f"{where} option {i + 1}", required=False) or None
            feedback = _text(opt, "feedback", f"{where} option {i + 1}", required=False)
        else:
            raise _Invalid(f"{where}: option {i + 1} must be text or a mapping with text/misconception/feedback")
        if not text:
            raise _Invalid(f"{where}: option {i + 1} is empty")
        options.append(Option(text=text, misconception=misconception, feedback=feedback))
    texts = [o.text for o in options]
    if len(set(texts)) != len(texts):
        raise _Invalid(f"{where}: two options have the same text")
    if answer not in texts:
        raise _Invalid(f"{where}: answer '{answer}' is not among the options")
    right = options[texts.index(answer)]
    if right.misconception is not None:
        raise _Invalid(f"{where}: the right answer must not carry a misconception tag")
    if not right.feedback:
        options[texts.index(answer)] = Option(text=right.text, misconception=None, feedback=explain)
    return Question(id=qid, prompt=prompt, options=tuple(options), answer=answer,
                    objective=objective, explain=explain)


def _parse_questions(raw: Any, key: str) -> tuple[Question, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _Invalid(f"'{key}' must be a list of questions")
    return tuple(_parse_question(q, f"{key} question {i + 1}") for i, q in enumerate(raw))


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


def _parse_module(path: Path) -> Module:
    m = MODULE_DIR_PATTERN.match(path.parent.name)
    if not m:
        raise _Invalid(f"the module folder '{path.parent.name}' must be named NN-slug (e.g. 01-metric-became-mission)")
    number, slug = int(m.group(1)), m.group(2)
    front_text, body, body_first_line = _split_front_matter(path.read_text(encoding="utf-8"))
    try:
        data = yaml.load(front_text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise _Invalid(f"front matter is not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise _Invalid("front matter must be a YAML mapping of fields")
    _no_unknown_fields(data, MODULE_FIELDS, "front matter")

    module_id = _identifier(data, "id", "front matter")
    if module_id != slug:
        raise _Invalid(f"id '{module_id}' must equal the folder's slug '{slug}'")
    title = _text(data, "title", "front matter")
    minutes_raw = _require(data, "minutes", "front matter")
    if isinstance(minutes_raw, bool) or not isinstance(minutes_raw, int) or minutes_raw <= 0:
        raise _Invalid("front matter: 'minutes' must be a positive whole number")
    framing = _text_list(data, "framing_questions", "front matter")
    key_points = _text_list(data, "key_points", "front matter")
    sources = _text_list(data, "sources", "front matter", required=False)
    new_concepts = _text_list(data, "new_concepts", "front matter", required=False)

    raw_objectives = _require(data, "objectives", "front matter")
    if not isinstance(raw_objectives, list) or not raw_objectives:
        raise _Invalid("front matter: 'objectives' must be a non-empty list")
    objectives = []
    for i, raw in enumerate(raw_objectives):
        objectives.append(Objective(id=_identifier(raw, "id", f"objective {i + 1}"),
                                    text=_text(raw, "text", f"objective {i + 1}")))
    objective_ids = {o.id for o in objectives}
    if len(objective_ids) != len(objectives):
        raise _Invalid("two objectives share an id")

    quiz = _parse_questions(data.get("quiz"), "quiz")
    retrieval = _parse_questions(data.get("retrieval"), "retrieval")

    charts: list[ChartRef] = []
    raw_charts = data.get("charts") or []
    if not isinstance(raw_charts, list):
        raise _Invalid("'charts' must be a list")
    for i, raw in enumerate(raw_charts):
        where = f"chart {i + 1}"
        chart_id = _text(raw, "id", where)
        _no_unknown_fields(raw, CHART_FIELDS, f"{where} '{chart_id}'")
        if chart_id not in CHART_IDS:
            raise _Invalid(f"{where}: unknown chart id '{chart_id}' (known: {', '.join(sorted(CHART_IDS))})")
        predict = raw.get("predict")
        charts.append(ChartRef(
            id=chart_id,
            takeaway=_text(raw, "takeaway", f"{where} '{chart_id}'"),
            predict=_parse_question(predict, f"chart '{chart_id}' predict") if predict is not None else None,
            minutes=_minutes(raw, "minutes", where, DEFAULT_CHART_MINUTES),
        ))
    chart_by_id = {c.id: c for c in charts}
    if len(chart_by_id) != len(charts):
        raise _Invalid("a chart is listed twice in 'charts'")

    exercise = None
    raw_ex = data.get("exercise")
    if raw_ex is not None:
        where = "exercise"
        kind = _text(raw_ex, "kind", where)
        _no_unknown_fields(raw_ex, EXERCISE_FIELDS, where)
        if kind not in EXERCISE_KINDS:
            raise _Invalid(f"exercise: unknown kind '{kind}' (known: {', '.join(sorted(EXERCISE_KINDS))})")
        check = _text(raw_ex, "check", where)
        if check not in CHECK_IDS:
            raise _Invalid(f"exercise: unknown check id '{check}' (known: {', '.join(sorted(CHECK_IDS))})")
        exercise = Exercise(
            id=_identifier(raw_ex, "id", where), kind=kind, check=check,
            prompt=_text(raw_ex, "prompt", where),
            hints=_text_list(raw_ex, "hints", where),
            solution=_text(raw_ex, "solution", where),
            objective=_text(raw_ex, "objective", where),
            minutes=_minutes(raw_ex, "minutes", where, DEFAULT_EXERCISE_MINUTES),
        )
        if exercise.objective not in objective_ids:
            raise _Invalid(f"exercise names unknown objective '{exercise.objective}'")

    game = None
    raw_game = data.get("checker_game")
    if raw_game is not None:
        where = "checker_game"
        if not isinstance(raw_game, dict):
            raise _Invalid("checker_game must be a mapping with prompt, target, labels and texts")
        _no_unknown_fields(raw_game, GAME_FIELDS, where)
        target = raw_game.get("target")
        if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target <= 60:
            raise _Invalid("checker_game: target must be a number of sessions between 0 and 60")
        game = CheckerGame(
            prompt=_text(raw_game, "prompt", where), target=float(target),
            real_label=_text(raw_game, "real_label", where),
            padded_label=_text(raw_game, "padded_label", where),
            visible_pass=_text(raw_game, "visible_pass", where),
            hidden_intro=_text(raw_game, "hidden_intro", where),
            lesson=_text(raw_game, "lesson", where),
            objective=_text(raw_game, "objective", where),
            minutes=_minutes(raw_game, "minutes", where, DEFAULT_GAME_MINUTES),
        )
        if game.objective not in objective_ids:
            raise _Invalid(f"checker_game names unknown objective '{game.objective}'")

    simulator: dict[str, float] = {}
    raw_sim = data.get("simulator_minutes") or {}
    if not isinstance(raw_sim, dict):
        raise _Invalid("'simulator_minutes' must map a stage to minutes")
    for stage in raw_sim:
        if stage not in SIMULATOR_STAGES:
            raise _Invalid(f"simulator_minutes: unknown stage '{stage}' (known: {', '.join(SIMULATOR_STAGES)})")
        simulator[stage] = _minutes(raw_sim, stage, "simulator_minutes", DEFAULT_SIMULATOR_MINUTES)

    own_questions = list(quiz) + [c.predict for c in charts if c.predict is not None]
    for q in own_questions:
        if q.objective not in objective_ids:
            raise _Invalid(f"question '{q.id}' names unknown objective '{q.objective}' "
                           f"(this module's objectives: {', '.join(sorted(objective_ids))})")
    for q in retrieval:
        if not QUALIFIED_OBJECTIVE_PATTERN.match(q.objective):
            raise _Invalid(f"retrieval question '{q.id}' must name an earlier module's objective "
                           f"as 'module-id:objective-id', not '{q.objective}'")
    all_ids = [q.id for q in own_questions + list(retrieval)]
    duplicates = sorted({i for i in all_ids if all_ids.count(i) > 1})
    if duplicates:
        raise _Invalid(f"question id used twice: {', '.join(duplicates)}")

    quiz_ids = {q.id for q in quiz}
    sections: list[Section] = []
    for section_title, lines, items in _split_sections(body, body_first_line):
        for ref, line_no in items:
            kind, _, arg = ref.partition(":")
            if kind == "chart" and arg not in chart_by_id:
                raise _Invalid(f"line {line_no}: chart '{arg}' is not declared under 'charts'")
            if kind == "quiz" and arg not in quiz_ids:
                raise _Invalid(f"line {line_no}: quiz question '{arg}' is not declared under 'quiz'")
            if kind == "exercise" and exercise is None:
                raise _Invalid(f"line {line_no}: exercise directive but no 'exercise' in the front matter")
            if kind == "game" and game is None:
                raise _Invalid(f"line {line_no}: game directive but no 'checker_game' in the front matter")
            if kind == "simulator" and arg not in SIMULATOR_STAGES:
                raise _Invalid(f"line {line_no}: unknown simulator stage '{arg}' "
                               f"(known: {', '.join(SIMULATOR_STAGES)})")
        body_md = "\n".join(lines).strip("\n")
        item_refs = tuple(ref for ref, _ in items)
        minutes = reading_minutes(body_md) + sum(
            _item_minutes(ref, chart_by_id, exercise, simulator, game) for ref in item_refs)
        sections.append(Section(title=section_title, body_md=body_md, minutes=round(minutes, 2), items=item_refs))
    if not sections:
        raise _Invalid("the lesson body is empty")

    return Module(
        id=module_id, number=number, slug=slug, title=title, minutes=minutes_raw,
        framing_questions=framing, objectives=tuple(objectives), retrieval=retrieval, quiz=quiz,
        charts=tuple(charts), exercise=exercise, sections=tuple(sections), key_points=key_points,
        sources=sources, path=path, new_concepts=new_concepts,
        simulator_minutes=tuple(simulator.items()), checker_game=game,
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


def load_pre_post_forms(path: Path | None = None) -> PrePostTest:
    """The misconception test as data; a problem becomes ContentError with the file's path."""
    path = Path(path) if path is not None else CONTENT_DIR / PRE_POST_TEST_FILE
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except OSError as exc:
        raise ContentError(path, f"cannot read the file ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ContentError(path, f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    try:
        if not isinstance(data, dict):
            raise _Invalid("must be a mapping with 'objectives' and 'forms'")
        _no_unknown_fields(data, frozenset({"objectives", "forms"}), "pre/post test")
        raw_objectives = data.get("objectives") or []
        if not isinstance(raw_objectives, list):
            raise _Invalid("'objectives' must be a list")
        objectives = tuple(Objective(id=_identifier(o, "id", f"objective {i + 1}"),
                                     text=_text(o, "text", f"objective {i + 1}"))
                           for i, o in enumerate(raw_objectives))
        objective_ids = {o.id for o in objectives}
        raw_forms = _require(data, "forms", "pre/post test")
        if not isinstance(raw_forms, dict) or sorted(map(str, raw_forms)) != list(PRE_POST_FORMS):
            raise _Invalid(f"'forms' must map exactly the forms {', '.join(PRE_POST_FORMS)} to questions")
        forms: dict[str, tuple[Question, ...]] = {}
        for form in PRE_POST_FORMS:
            questions = _parse_questions(raw_forms[form], f"form {form}")
            if not questions:
                raise _Invalid(f"form {form} has no questions")
            for q in questions:
                if q.objective not in objective_ids:
                    raise _Invalid(f"question '{q.id}' names unknown objective '{q.objective}'")
            covered = [q.objective for q in questions]
            if len(set(covered)) != len(covered):
                raise _Invalid(f"form {form} asks about one objective twice: one question per objective")
            forms[form] = questions
        a_objectives = {q.objective for q in forms["A"]}
        b_objectives = {q.objective for q in forms["B"]}
        if a_objectives != b_objectives:
            lonely = sorted(a_objectives ^ b_objectives)
            raise _Invalid("the forms must be parallel: objective(s) "
                           f"{', '.join(lonely)} are tested in one form only")
        ids = [q.id for form in PRE_POST_FORMS for q in forms[form]]
        if len(set(ids)) != len(ids):
            raise _Invalid("two questions share an id (ids must differ across the forms too)")
    except _Invalid as exc:
        raise ContentError(path, str(exc)) from None
    return PrePostTest(objectives=objectives, forms=forms)


def load_pre_post_test(path: Path | None = None) -> list[Question]:
    """Every question of both forms (A then B): ids are unique across the forms."""
    return load_pre_post_forms(path).all_questions()


def pre_post_test() -> list[Question]:
    """The short misconception test: one form before module 1, the other after the capstone."""
    return load_pre_post_test()


def content_dir_from_env() -> Path:
    """THEATER_CONTENT_DIR lets an author preview modules from another folder; default: the package's."""
    return Path(os.environ.get("THEATER_CONTENT_DIR") or CONTENT_DIR)
