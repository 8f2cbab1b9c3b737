"""Live workshops: a trainer opens questions, participants answer with a code and a nickname.

Participants need no account and give no real identity. The room only ever sees aggregates:
nobody, not even the trainer, sees who answered what, and an answer spread appears only once
at least 5 people have answered (then every option's count: a poll answer is not data about a
person, see analytics.poll_spread). Participants see a spread only after the question closes,
so a first vote is never swayed by the room, and the right answer only once the trainer reveals
it. State lives in the progress database (its own tables), so several app replicas can share a
room on PostgreSQL, and SQLite in WAL mode takes participants answering at the same moment.
Every answer and every change of it is kept in an append-only log, until the room is deleted:
by its trainer once closed, or by the store RETENTION_DAYS after it ended, answers, log and
nicknames together.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from course.analytics import (MIN_GROUP_SIZE, RETEACH_SHARE, GainSummary, poll_spread,
                              pre_post_gain)
from course import checker_game
from course.practice import keyed_unit
from course.schema import lock_schema
from datasets.errors import UserError

# No 0/O, 1/I/L: a code read aloud or from a projector is typed right the first time.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
DEFAULT_HOURS = 8.0
MAX_HOURS = 72.0
PHONE_CHECKS_PER_SECOND = 60   # phone checks one app process answers with room left for a vote's
                               # answers (benchmarks/workshop.py: 300 phones at 2.5 s saturate it)
NICKNAME_MAX = 24
FALLBACK_SCENARIOS = ("mandate-bigco", "startup", "consultancy")
PROFILES_DIR = Path(__file__).resolve().parent.parent / "datasets" / "profiles"
TEST_STAGES = ("pretest", "posttest")
AUDIT_SCENARIO = "audit"      # a room on an organisation's own audit file, not a generated company
# Charts a trainer can project from the room's shared company (all aggregate, no labels shown).
ROOM_CHARTS = ("adoption_vs_output", "sessions_linked_to_work", "cycle_time_before_after",
               "acceptance_vs_tokens", "deadline_bursts", "perception_vs_measured")
ROOM_EMPLOYEES = 150
ROOM_DAYS = 180
OWNER_MAX = 64
QUESTION_KINDS = ("choice", "scale", "board", "simulator", "checker", "text")
# Kinds whose answer is not one of a list of options: a checker-game plan, a free text.
FREE_KINDS = ("checker", "text")
TEXT_MAX = 280                          # characters of one open-text answer
PLAN_PATTERN = re.compile(r"(\d{1,3}) real, (\d{1,3}) padded")   # a checker-game plan as stored
SCALE_OPTIONS = ("1", "2", "3", "4", "5")
OPTION_LETTERS = "ABCDEFGH"            # a question has at most 8 options (trainer_question)
TRAINER_KEY_PREFIX = "room/"          # questions a trainer wrote keep the order they were written in
_ROOM_ORDER_KEY = b"signal-or-theater/workshop-options/v1"
MAX_TIMER_SECONDS = 3600
# A closed or expired room, with its answers and nicknames, is deleted this many days after it
# ended (docs/workshops.md, "After the session"): long enough for a debrief and the export.
RETENTION_DAYS = 30
# A seat's rejoin code (secrets.token_urlsafe: 96 random bits, 16 characters): it brings the seat
# back on another device or after a browser restart, so nobody is counted twice. Only its hash
# is stored, keyed to the room's code, and it goes with the seat when the room is deleted.
REJOIN_BYTES = 12
REJOIN_PARAM = "rejoin"                 # the rejoin code in a join link's query
REJOIN_MAX = 400                        # characters of a pasted rejoin code or link we read
# What a join link opens: the light phone page (course/static/room.html, served by course.serve
# in front of Streamlit), or the full Streamlit page, which stays for anyone who prefers it.
PHONE_PAGE = "room"
FULL_PAGE = "workshop"

metadata = sa.MetaData()
workshops = sa.Table(
    "workshops", metadata,
    sa.Column("code", sa.String(CODE_LENGTH), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("scenario", sa.String(100), nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("closed_at", sa.DateTime),
    sa.Column("owner", sa.String(OWNER_MAX), index=True),
    sa.Column("paused_at", sa.DateTime),            # the trainer paused the room: no voting
    sa.Column("paused_timer_seconds", sa.Float),    # what the open question's timer had left
    sa.Column("kit_version", sa.String(40)),        # the kit's run-of-show the trainer follows
    sa.Column("kit_step", sa.Integer),              # where in it (workshop_kit.kit_steps)
    sa.Column("kit_block_at", sa.DateTime),         # when the current block began
    sa.Column("joins_locked_at", sa.DateTime),      # the trainer shut the door: no new seats
)
workshop_rounds = sa.Table(
    "workshop_rounds", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("code", sa.String(CODE_LENGTH), sa.ForeignKey("workshops.code"), nullable=False,
              index=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("question_key", sa.String(300), nullable=False),
    sa.Column("question_json", sa.Text, nullable=False),
    sa.Column("opened_at", sa.DateTime, nullable=False),
    sa.Column("closed_at", sa.DateTime),
    sa.Column("closes_at", sa.DateTime),          # the timer: no answers taken from then on
    sa.Column("revealed_at", sa.DateTime),        # right answer shown to the room from then on
    sa.Column("vote", sa.Integer),                # 2 on a peer-instruction revote
    sa.Column("first_vote_id", sa.Integer),       # the revote's first round
    sa.UniqueConstraint("code", "seq", name="uq_workshop_round_seq"),
)
workshop_participants = sa.Table(
    "workshop_participants", metadata,
    sa.Column("token", sa.String(64), primary_key=True),
    sa.Column("code", sa.String(CODE_LENGTH), sa.ForeignKey("workshops.code"), nullable=False,
              index=True),
    sa.Column("nickname", sa.String(NICKNAME_MAX), nullable=False),
    sa.Column("nickname_key", sa.String(NICKNAME_MAX), nullable=False),
    sa.Column("joined_at", sa.DateTime, nullable=False),
    # sha256 of the room code and the seat's rejoin code (rejoin_hash): never the code itself.
    sa.Column("rejoin_hash", sa.String(64), index=True),
    sa.UniqueConstraint("code", "nickname_key", name="uq_workshop_nickname"),
)
workshop_answers = sa.Table(
    "workshop_answers", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("round_id", sa.Integer, sa.ForeignKey("workshop_rounds.id"), nullable=False,
              index=True),
    sa.Column("token", sa.String(64), sa.ForeignKey("workshop_participants.token"),
              nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("correct", sa.Boolean, nullable=False),
    sa.Column("answered_at", sa.DateTime, nullable=False),
    # An open-text answer's moderation: None waiting, "approved" (on the projector) or "hidden".
    sa.Column("moderation", sa.String(10)),
    sa.UniqueConstraint("round_id", "token", name="uq_workshop_answer"),
)
# Every answer sent, changes included, in arrival order: the current answer above is the last.
workshop_answer_log = sa.Table(
    "workshop_answer_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("round_id", sa.Integer, sa.ForeignKey("workshop_rounds.id"), nullable=False,
              index=True),
    sa.Column("token", sa.String(64), nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("answered_at", sa.DateTime, nullable=False),
)
# a seat's answers of the last few seconds, counted by every replica (ANSWERS_PER_WINDOW)
ANSWER_RATE_INDEX = sa.Index("ix_workshop_answer_log_token_at", workshop_answer_log.c.token,
                             workshop_answer_log.c.answered_at)
# Questions a trainer wrote for a room, kept with it.
workshop_questions = sa.Table(
    "workshop_questions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("code", sa.String(CODE_LENGTH), sa.ForeignKey("workshops.code"), nullable=False,
              index=True),
    sa.Column("question_json", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
# Staff accounts the room's owner lets run the room too (a co-host): not delete it, not add others.
workshop_cohosts = sa.Table(
    "workshop_cohosts", metadata,
    sa.Column("code", sa.String(CODE_LENGTH), sa.ForeignKey("workshops.code"), nullable=False,
              index=True),
    sa.Column("account", sa.String(OWNER_MAX), nullable=False),
    sa.Column("account_key", sa.String(OWNER_MAX), nullable=False, index=True),
    sa.Column("added_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("code", "account_key", name="uq_workshop_cohost"),
)
# A room created on an organisation's own audit (course.audit_room): the room file, as the trainer
# gave it, validated again whenever it is read. A table of its own, so an older database gets it
# from create_all; it goes with the room when the room is deleted.
workshop_audits = sa.Table(
    "workshop_audits", metadata,
    sa.Column("code", sa.String(CODE_LENGTH), sa.ForeignKey("workshops.code"), primary_key=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
# Columns added after the first release, created on an older database when it is opened.
_ADDED_COLUMNS = {"workshops": ("owner", "paused_at", "paused_timer_seconds", "kit_version",
                                "kit_step", "kit_block_at", "joins_locked_at"),
                  "workshop_rounds": ("closes_at", "revealed_at", "vote", "first_vote_id"),
                  "workshop_participants": ("rejoin_hash",),
                  "workshop_answers": ("moderation",)}
ADDED_INDEXES = (ANSWER_RATE_INDEX,)     # created on a table an earlier version made
MODERATION_STATES = ("approved", "hidden")


# Seats per room: a hall of 1,000 with room to spare; past it a join is refused, so a script
# that invents nicknames cannot flood one room (lock_joins shuts the door once everyone is in).
MAX_SEATS = 2_000


class WorkshopError(UserError):
    """A workshop action that cannot be done: unknown or closed code, taken nickname, …"""


ANSWERS_PER_WINDOW = 20         # answers (changes included) one seat may send …
ANSWER_WINDOW_SECONDS = 10.0    # … within this many seconds, counted in the shared answer log


class TooManyAnswers(WorkshopError):
    """One seat sent more answers than a person changes their mind: the phone API answers 429."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def normalize_code(raw: str | None) -> str:
    """What the participant typed, as a code: case, spaces and dashes do not matter."""
    return re.sub(r"[\s\-]", "", raw or "").upper()


def is_room_code(code: str) -> bool:
    """Whether a normalized code could be a room's (so it is safe to repeat in a message)."""
    return len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def available_scenarios(profiles_dir: Path = PROFILES_DIR) -> tuple[str, ...]:
    """Company profiles a workshop can use: the generator's presets."""
    found = tuple(sorted(p.stem for p in profiles_dir.glob("*.yaml"))) \
        if profiles_dir.is_dir() else ()
    return found or FALLBACK_SCENARIOS


def phone_refresh_seconds(setting: float, participants: int,
                          checks_per_second: float = PHONE_CHECKS_PER_SECOND) -> float:
    """How often each phone of a room checks for the next question: the configured interval, or,
    in a room too big for it, the next multiple of it that keeps the checks under
    `checks_per_second` (Streamlit phones: PHONE_CHECKS_PER_SECOND, 300 phones at 2.5 s → 5 s;
    the light page answers far more, course.workshop_phone), so a hall slows its phones a little
    instead of leaving the projector's count seconds behind."""
    needed = participants / checks_per_second
    return setting * max(1, math.ceil(needed / setting - 1e-9))


@functools.lru_cache(maxsize=32)
def scenario_label(scenario: str, profiles_dir: Path = PROFILES_DIR) -> str:
    """A scenario as the trainer picks it: its name and the profile's own description, so a mixed
    room's trainer sees which company is about support or sales work rather than code."""
    from datasets.scenario import ScenarioError, load_scenario

    try:
        description = " ".join(load_scenario(profiles_dir / f"{scenario}.yaml").description.split())
    except ScenarioError:
        return scenario
    return f"{scenario} · {description}" if description else scenario


@dataclass(frozen=True)
class RoundQuestion:
    """A snapshot of the question asked, so a round reads the same after content changes."""

    key: str
    prompt: str
    options: tuple[str, ...]
    answer: str | None                       # None: an opinion or a 1–5 scale, nothing is right
    misconceptions: tuple[str | None, ...]
    explanation: str = ""                    # why the right answer is right (the content's text)
    feedback: tuple[str, ...] = ()           # per option: what the content says to someone who chose it
    kind: str = "choice"                     # one of QUESTION_KINDS
    dashboard_target: float | None = None    # a checker-game round: sessions that turn it green

    @classmethod
    def from_question(cls, key: str, question: Any) -> RoundQuestion:
        """From a course Question (course.modules): options, right answer, misconceptions, texts."""
        return cls(key=key, prompt=question.prompt,
                   options=tuple(o.text for o in question.options), answer=question.answer,
                   misconceptions=tuple(o.misconception for o in question.options),
                   explanation=getattr(question, "explain", "") or "",
                   feedback=tuple(getattr(o, "feedback", "") or "" for o in question.options))

    @property
    def has_answer(self) -> bool:
        return self.answer is not None

    @property
    def free(self) -> bool:
        """Answered with a plan or a text, not by choosing one of the options."""
        return self.kind in FREE_KINDS

    @property
    def revealable(self) -> bool:
        """Something to reveal after the vote: a right answer, or a checker game's hidden check."""
        return self.has_answer or self.kind == "checker"

    def clean_answer(self, raw: str) -> str:
        """The answer as stored, or a WorkshopError a participant can act on."""
        if self.kind == "text":
            text = " ".join((raw or "").split())
            if not text:
                raise WorkshopError("Write your answer first.")
            if len(text) > TEXT_MAX:
                raise WorkshopError(f"Keep your answer to {TEXT_MAX} characters; it has {len(text)}.")
            if any(not ch.isprintable() for ch in text):
                raise WorkshopError("Your answer holds characters that cannot be shown.")
            return text
        if self.kind == "checker":
            real, padded = parse_plan(raw)
            return plan_answer(real, padded)
        if raw not in self.options:
            raise WorkshopError("Choose one of the options shown.")
        return raw

    def counts_as_correct(self, answer: str) -> bool:
        """What the round's `correct` column records: the right option; for a checker-game plan,
        whether it turns the visible dashboard green."""
        if self.kind == "checker":
            return checker_game.dashboard_score(*parse_plan(answer), self.dashboard_target) >= 1.0
        return self.answer is not None and answer == self.answer

    def misconception_words(self, option: str) -> str | None:
        """The misconception a wrong option reveals, in words ('usage-equals-value' → 'usage
        equals value'), for a room that never sees the content's tags."""
        code = dict(zip(self.options, self.misconceptions)).get(option)
        return misconception_in_words(code)

    def feedback_for(self, option: str) -> str:
        return dict(zip(self.options, self.feedback)).get(option, "")

    def lettered(self) -> tuple[tuple[str, str], ...]:
        """(letter, option) in the room's order: 'B' means one option on every screen of a room."""
        return tuple(zip(OPTION_LETTERS, self.options))

    def letter_of(self, option: str) -> str:
        return dict((text, letter) for letter, text in self.lettered()).get(option, "")

    @property
    def shuffles(self) -> bool:
        """Whether a room sees this question's options in its own order: course items do; a
        1-5 scale, the board question and a trainer's own question keep their written order."""
        return self.kind == "choice" and not self.key.startswith(TRAINER_KEY_PREFIX)

    def in_room_order(self, code: str) -> RoundQuestion:
        """The options (with their tags and feedback) in this room's order for this question.

        The order comes from a keyed hash of the room code, the question key and each option's
        text, so the projector, the phones and the trainer, who all read the stored snapshot, see
        one order; ordering an already ordered question changes nothing (a revote keeps it); and
        across rooms the right answer lands in every position, not where the file put it.
        """
        if not self.shuffles:
            return self
        room = normalize_code(code)
        rank = {text: keyed_unit(_ROOM_ORDER_KEY, room, self.key, text) for text in self.options}
        order = sorted(range(len(self.options)), key=lambda i: (rank[self.options[i]], i))

        def reorder(values: tuple) -> tuple:
            return tuple(values[i] for i in order) if len(values) == len(self.options) else values

        return replace(self, options=reorder(self.options),
                       misconceptions=reorder(self.misconceptions), feedback=reorder(self.feedback))

    @property
    def stage(self) -> str | None:
        """'pretest' or 'posttest' for a pre/post-test item, None for a module question."""
        head = self.key.split("/", 1)[0]
        return head if head in TEST_STAGES else None

    def to_json(self) -> str:
        return json.dumps({"key": self.key, "prompt": self.prompt, "options": list(self.options),
                           "answer": self.answer, "misconceptions": list(self.misconceptions),
                           "explanation": self.explanation, "feedback": list(self.feedback),
                           "kind": self.kind, "dashboard_target": self.dashboard_target})

    @classmethod
    def from_json(cls, text: str) -> RoundQuestion:
        data = json.loads(text)
        return cls(data["key"], data["prompt"], tuple(data["options"]), data["answer"],
                   tuple(data["misconceptions"]), data.get("explanation", ""),
                   tuple(data.get("feedback", ())), data.get("kind", "choice"),
                   data.get("dashboard_target"))


def as_plain_html(text: str) -> str:
    """A participant's text for an HTML page: every tag escaped, and the characters Markdown or
    Streamlit would read as a link, emphasis, icon or formula written as entities, so an answer
    shows as the letters typed and nothing else."""
    import html

    return "".join(f"&#{ord(ch)};" if ch in "[]()*_`$:~|!#\\{}" else html.escape(ch, quote=True)
                   for ch in text)


def plan_answer(real: int, padded: int) -> str:
    """A checker-game plan as a round stores it (one readable text, like an option)."""
    return f"{int(real)} real, {int(padded)} padded"


def parse_plan(answer: str) -> tuple[int, int]:
    """(real, padded) sessions per person per week of a stored or sent plan, within the game's
    sliders; anything else is refused, so a hand-made request cannot send a plan the game has not."""
    match = PLAN_PATTERN.fullmatch((answer or "").strip())
    if match is None:
        raise WorkshopError("Set your plan with the two sliders and send it.")
    real, padded = int(match[1]), int(match[2])
    if not (0 <= real <= checker_game.REAL_MAX and 0 <= padded <= checker_game.PADDED_MAX):
        raise WorkshopError(f"A plan has 0 to {checker_game.REAL_MAX} real and 0 to "
                            f"{checker_game.PADDED_MAX} padded sessions a week.")
    return real, padded


def misconception_in_words(code: str | None) -> str | None:
    """A content tag such as 'transition-cost-excuse' as words: 'transition cost excuse'."""
    if not code:
        return None
    return re.sub(r"[-_]+", " ", code).strip()


def trainer_question(prompt: str, kind: str, options: Iterable[str] = (),
                     answer: str | None = None, explanation: str = "") -> RoundQuestion:
    """A question the trainer writes for the room: multiple choice (with or without a right
    answer), a 1–5 scale, or an open text (answers up to TEXT_MAX characters, moderated before
    the projector shows any); checked here so the page only shows the one message."""
    clean_prompt = " ".join((prompt or "").split())
    if not clean_prompt:
        raise WorkshopError("Write the question first.")
    if len(clean_prompt) > 500:
        raise WorkshopError("Keep the question under 500 characters.")
    if kind == "text":
        texts: tuple[str, ...] = ()
        answer = None
    elif kind == "scale":
        texts = SCALE_OPTIONS
        answer = None
    elif kind == "choice":
        texts = tuple(dict.fromkeys(t for t in (" ".join(o.split()) for o in options) if t))
        if not 2 <= len(texts) <= 8:
            raise WorkshopError("A multiple-choice question needs 2 to 8 different options.")
        if any(len(t) > 200 for t in texts):
            raise WorkshopError("Keep each option under 200 characters.")
        answer = " ".join(answer.split()) if answer else None
        if answer is not None and answer not in texts:
            raise WorkshopError(f"The right answer {answer!r} is not one of the options.")
    else:
        raise WorkshopError(f"Unknown question kind {kind!r}; choose choice, scale or text.")
    key = TRAINER_KEY_PREFIX + re.sub(r"[^a-z0-9]+", "-", clean_prompt.lower()).strip("-")[:60]
    return RoundQuestion(key=key, prompt=clean_prompt, options=texts, answer=answer,
                         misconceptions=(None,) * len(texts),
                         explanation=" ".join((explanation or "").split()), kind=kind)


def question_choices(modules: Iterable[Any], test_questions: Iterable[Any] = ()
                     ) -> dict[str, tuple[str, Any]]:
    """Every question a trainer can open: key → (label for a menu, Question)."""
    choices: dict[str, tuple[str, Any]] = {}
    test_questions = list(test_questions)
    for stage in TEST_STAGES:
        for question in test_questions:
            choices[f"{stage}/{question.id}"] = (f"{stage.capitalize()}: {question.prompt}",
                                                 question)
    for module in modules:
        for question in (*module.retrieval, *module.quiz):
            choices[f"{module.id}/{question.id}"] = (
                f"Module {module.number} ({module.title}): {question.prompt}", question)
    return choices


@dataclass(frozen=True)
class Workshop:
    code: str
    title: str
    scenario: str
    seed: int
    created_at: dt.datetime
    expires_at: dt.datetime
    closed_at: dt.datetime | None
    owner: str | None = None
    paused_at: dt.datetime | None = None
    paused_timer_seconds: float | None = None
    kit_version: str | None = None
    kit_step: int | None = None
    kit_block_at: dt.datetime | None = None
    joins_locked_at: dt.datetime | None = None

    def is_open(self, now: dt.datetime) -> bool:
        return self.closed_at is None and now < self.expires_at

    @property
    def is_audit(self) -> bool:
        """The room discusses its organisation's own audit (WorkshopStore.room_audit), so there
        is no generated company: never call room_company for it."""
        return self.scenario == AUDIT_SCENARIO

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    def ended_at(self) -> dt.datetime:
        return self.closed_at or self.expires_at

    def deleted_after(self) -> dt.datetime:
        """When the room, its answers and its nicknames are deleted (RETENTION_DAYS after it ended)."""
        return self.ended_at() + dt.timedelta(days=RETENTION_DAYS)


@functools.lru_cache(maxsize=4)
def room_company(scenario: str, seed: int, employees: int = ROOM_EMPLOYEES,
                 days: int = ROOM_DAYS) -> Any:
    """The one company the whole room discusses: the workshop's scenario and seed (generated
    once per process and shared by the trainer's and the projector's pages; read-only)."""
    from datasets.api import generate_company

    return generate_company(profile=scenario, employees=employees, days=days, seed=seed)


@dataclass(frozen=True)
class Round:
    id: int
    code: str
    seq: int
    question: RoundQuestion
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    closes_at: dt.datetime | None = None
    revealed_at: dt.datetime | None = None
    vote: int = 1
    first_vote_id: int | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def revealed(self) -> bool:
        return self.revealed_at is not None

    @property
    def room_sees_spread(self) -> bool:
        """Participants and the projector see the spread only once voting closed, so nobody's
        vote follows the room's (the first vote of peer instruction must be their own)."""
        return not self.is_open

    def seconds_left(self, now: dt.datetime) -> float | None:
        """Seconds until the timer closes the question; None without a timer or once closed."""
        if self.closes_at is None or not self.is_open:
            return None
        return max(0.0, (self.closes_at - now).total_seconds())


@dataclass(frozen=True)
class Participant:
    token: str                   # the seat's key on the server; never shown or put in a link
    code: str
    nickname: str
    rejoin: str = ""             # the seat's rejoin code, known only where it was just given


def rejoin_hash(code: str, rejoin: str) -> str:
    """What the store keeps of a rejoin code: bound to one room, so another room's code, even
    the same one, never matches; a random 96-bit code needs no slow hash."""
    return hashlib.sha256(f"{normalize_code(code)}\n{rejoin}".encode()).hexdigest()


def parse_rejoin(raw: str | None) -> tuple[str, str]:
    """(room code, rejoin code) in what a participant pasted or typed: the rejoin code alone
    (no room code then), or the whole rejoin link."""
    from urllib.parse import parse_qs, urlsplit

    text = (raw or "").strip()[:REJOIN_MAX]
    if "?" not in text and "=" not in text:
        return "", text
    query = parse_qs(urlsplit(text).query or text.split("?", 1)[-1])
    return (normalize_code((query.get("code") or [""])[0]),
            (query.get(REJOIN_PARAM) or [""])[0].strip())


def rejoin_url(app_url: str, code: str, rejoin: str, public_url: str | None = None,
               page: str = PHONE_PAGE) -> str:
    """A seat's personal link: the room's join link (to `page`) with the rejoin code added."""
    from urllib.parse import quote

    return f"{join_url(app_url, code, public_url, page)}&{REJOIN_PARAM}={quote(rejoin, safe='')}"


@dataclass(frozen=True)
class TextAnswer:
    """One open-text answer as the trainer moderates it: no nickname, no time."""

    id: int
    text: str
    state: str | None          # None: waiting; "approved" or "hidden" (MODERATION_STATES)


@dataclass(frozen=True)
class OptionCount:
    option: str
    count: int | None          # None: hidden (fewer than MIN_GROUP_SIZE answers so far)
    correct: bool
    misconception: str | None  # in words (see misconception_in_words)


@dataclass(frozen=True)
class RoomAggregate:
    """What the room may see of one round: counts only, and only from MIN_GROUP_SIZE answers."""

    round: Round
    participants: int
    answers: int
    options: tuple[OptionCount, ...]
    min_group: int = MIN_GROUP_SIZE

    @property
    def shown(self) -> bool:
        return self.answers >= self.min_group

    @property
    def waiting_for(self) -> int:
        return max(0, self.min_group - self.answers)

    @property
    def status(self) -> str:
        if self.shown:
            return f"{self.answers} of {self.participants} answered"
        more = self.waiting_for
        return f"Waiting for {more} more answer{'s' if more != 1 else ''} before showing the spread."

    @property
    def popular_wrong_answer(self) -> OptionCount | None:
        """The most chosen wrong option when it is shown and worth re-teaching (≥ RETEACH_SHARE)."""
        if not self.round.question.has_answer:
            return None
        wrong = [o for o in self.options if not o.correct and o.count]
        top = max(wrong, key=lambda o: o.count, default=None)
        if top is None or top.count / self.answers < RETEACH_SHARE:
            return None
        return top

    def share(self, option: OptionCount) -> float | None:
        return None if option.count is None or not self.answers else option.count / self.answers

    def table(self) -> pd.DataFrame:
        """One row per option with count and share. Empty until enough people answered."""
        columns = ["option", "count", "share", "correct", "misconception"]
        if not self.shown:
            return pd.DataFrame(columns=columns)
        frame = pd.DataFrame([{**o.__dict__, "share": self.share(o)} for o in self.options])
        frame["count"] = frame["count"].astype("Int64")
        return frame[columns]


def join_url(app_url: str, code: str, public_url: str | None = None,
             page: str = PHONE_PAGE) -> str:
    """The address a phone opens to join: the light phone page (or `page`, e.g. FULL_PAGE, the
    Streamlit one) with the code filled in.

    With a configured `public_url` (config.check_public_url) the link is built on it, path
    included (an app served under /theater/ behind a proxy); otherwise on the host the page was
    opened with, which is only right when the projector's tab used the room's address."""
    from urllib.parse import quote, urlsplit, urlunsplit

    if public_url:
        parts = urlsplit(public_url)
        path = parts.path.rstrip("/") + "/" + page
    else:
        parts = urlsplit(app_url or "http://localhost:8501/")
        path = "/" + page
    return urlunsplit((parts.scheme or "http", parts.netloc, path,
                       f"code={quote(normalize_code(code))}", ""))


def join_qr_svg(url: str) -> str:
    """A QR code of the join link (segno) as SVG with a viewBox: it scales to whatever the
    projector gives it without blurring, so it scans from the back of a room."""
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", border=2, omitsize=True, xmldecl=False,
                                    nl=False, dark="#000", light="#fff")
    return buffer.getvalue().decode("ascii")


def _retry(action: Callable[[], Any], attempts: int = 12) -> Any:
    """Run a write, retrying briefly when SQLite reports another writer holding the lock."""
    for attempt in range(attempts):
        try:
            return action()
        except sa.exc.OperationalError as exc:
            if "locked" not in str(exc).lower() or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return None  # unreachable: the last attempt either returns or raises


def _closing_time(now: dt.datetime) -> sa.ColumnElement:
    """The closing time to record for a round closed `now`: the moment its timer ran out if that
    came first, so exports say when voting ended, not when the trainer next pressed a button."""
    timer = workshop_rounds.c.closes_at
    return sa.case((sa.and_(timer.is_not(None), timer < now), timer), else_=now)


def clean_owner(raw: str | None) -> str:
    """A staff account name as rooms store it: trimmed, single spaces, case kept for display."""
    name = " ".join((raw or "").split())
    if not name:
        raise WorkshopError("Give your staff account name: the rooms you open belong to it.")
    if len(name) > OWNER_MAX or any(not ch.isprintable() for ch in name):
        raise WorkshopError(f"A staff account name is at most {OWNER_MAX} printable characters.")
    return name


class WorkshopStore:
    """Workshops, rounds, participants and answers on the progress store's engine."""

    def __init__(self, engine: sa.Engine, clock: Callable[[], dt.datetime] = utcnow):
        self.engine = engine
        self.clock = clock
        with engine.begin() as conn:       # under the lock replicas share (course.schema)
            lock_schema(conn)
            metadata.create_all(conn)
            self._add_missing_columns(conn)
            for index in ADDED_INDEXES:
                index.create(conn, checkfirst=True)
        self.delete_expired_workshops()

    # ---------------------------------------------------------------- trainer side
    def create_workshop(self, scenario: str, title: str | None = None,
                        hours: float = DEFAULT_HOURS, owner: str | None = None,
                        audit: Any = None) -> Workshop:
        """A new room with a fresh join code, belonging to `owner`; it closes after `hours`.
        With `audit` (a course.audit_room.AuditRoomFile) the room discusses that organisation's
        own data instead of a generated company, and `scenario` is ignored."""
        payload = None
        if audit is not None:
            from course.audit_room import AuditRoomFile, to_json

            if not isinstance(audit, AuditRoomFile):
                raise WorkshopError("An audit room needs a validated audit room file.")
            scenario, payload = AUDIT_SCENARIO, to_json(audit)
        elif scenario == AUDIT_SCENARIO:
            raise WorkshopError("A room on your own audit needs its audit file (theater workshop "
                                "create --audit-file FILE.json).")
        scenarios = available_scenarios()
        if payload is None and scenario not in scenarios:
            raise WorkshopError(f"Unknown scenario {scenario!r}; choose one of: "
                                f"{', '.join(scenarios)}.")
        if not 0 < hours <= MAX_HOURS:
            raise WorkshopError(f"A workshop lasts between a minute and {MAX_HOURS:g} hours; "
                                f"got {hours:g}.")
        owner = clean_owner(owner) if owner is not None else None
        now = self.clock()
        clean_title = (title or "").strip()[:200] or f"Workshop {now:%Y-%m-%d}"
        for _ in range(20):
            code = new_code()
            row = {"code": code, "title": clean_title, "scenario": scenario,
                   "seed": secrets.randbelow(2**31), "created_at": now,
                   "expires_at": now + dt.timedelta(hours=hours), "closed_at": None,
                   "owner": owner}
            try:
                _retry(lambda: self._insert_room(row, payload))
            except sa.exc.IntegrityError:
                continue
            return Workshop(**row)
        raise WorkshopError("Could not find a free join code; close some old workshops.")

    def _insert_room(self, row: dict, audit_payload: str | None) -> None:
        with self.engine.begin() as conn:           # a room and its audit, or neither
            conn.execute(workshops.insert().values(**row))
            if audit_payload is not None:
                conn.execute(workshop_audits.insert().values(
                    code=row["code"], payload=audit_payload, created_at=row["created_at"]))

    def room_audit(self, code: str) -> Any:
        """The audit room file (course.audit_room.AuditRoomFile) a room was created on, validated
        again as it is read; None for a room on a generated company."""
        from course.audit_room import read_room_file

        query = sa.select(workshop_audits.c.payload).where(
            workshop_audits.c.code == normalize_code(code))
        with self.engine.connect() as conn:
            payload = conn.execute(query).scalar()
        if payload is None:
            return None
        return read_room_file(payload, name=f"workshop {normalize_code(code)}'s audit file")

    def owned_workshop(self, code: str, owner: str) -> Workshop:
        """The room, if `owner` opened it or co-hosts it; another staff account gets the same
        answer as for a code that does not exist, so rooms of others cannot even be found by
        trying codes."""
        workshop = self.get_workshop(code)
        if workshop.owner is not None and workshop.owner.casefold() != owner.casefold() and \
                owner.casefold() not in {c.casefold() for c in self.cohosts(workshop.code)}:
            raise WorkshopError(f"No workshop of yours has the code {workshop.code}.")
        return workshop

    def _owners_own(self, code: str, owner: str) -> Workshop:
        """The room, if `owner` opened it: what only the owner may do (co-hosts, delete)."""
        workshop = self.owned_workshop(code, owner)
        if workshop.owner is not None and workshop.owner.casefold() != owner.casefold():
            raise WorkshopError(f"Only {workshop.owner}, who opened workshop {workshop.code}, "
                                "can do that.")
        return workshop

    def is_owner(self, workshop: Workshop, account: str) -> bool:
        return workshop.owner is None or workshop.owner.casefold() == account.casefold()

    def add_cohost(self, code: str, owner: str, account: str) -> None:
        """Let another staff account run the room (open questions, moderate, pause, close);
        the page checks that the account exists."""
        workshop = self._owners_own(code, owner)
        name = clean_owner(account)
        if workshop.owner is not None and name.casefold() == workshop.owner.casefold():
            raise WorkshopError("You run this workshop already; add another staff account.")
        row = {"code": workshop.code, "account": name, "account_key": name.casefold(),
               "added_at": self.clock()}
        try:
            _retry(lambda: self._execute(workshop_cohosts.insert().values(**row)))
        except sa.exc.IntegrityError:
            raise WorkshopError(f"{name} already co-hosts workshop {workshop.code}.") from None

    def remove_cohost(self, code: str, owner: str, account: str) -> None:
        workshop = self._owners_own(code, owner)
        _retry(lambda: self._execute(workshop_cohosts.delete().where(
            workshop_cohosts.c.code == workshop.code,
            workshop_cohosts.c.account_key == " ".join(account.split()).casefold())))

    def cohosts(self, code: str) -> list[str]:
        query = (sa.select(workshop_cohosts.c.account)
                 .where(workshop_cohosts.c.code == normalize_code(code))
                 .order_by(workshop_cohosts.c.account_key))
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def close_workshop(self, code: str, owner: str | None = None) -> None:
        workshop = self.get_workshop(code) if owner is None else self.owned_workshop(code, owner)
        now = self.clock()
        self._close_open_rounds(workshop.code, now)
        if workshop.closed_at is None:
            _retry(lambda: self._execute(workshops.update().where(workshops.c.code == workshop.code)
                                         .values(closed_at=now)))

    def lock_joins(self, code: str, owner: str | None = None, locked: bool = True) -> None:
        """Shut the room to new seats once everyone is in (or open it again): a script that
        joins under made-up nicknames cannot then stuff the room's votes. Seats already taken
        keep answering and can still be rejoined."""
        workshop = self._owned_open(code, owner)
        if (workshop.joins_locked_at is not None) == locked:
            return
        _retry(lambda: self._execute(workshops.update().where(workshops.c.code == workshop.code)
                                     .values(joins_locked_at=self.clock() if locked else None)))

    def pause_workshop(self, code: str, owner: str | None = None) -> None:
        """Stop the room: no answers are taken, phones and the projector say it is paused, and
        an open question's timer stops with what it had left (resume_workshop restarts it)."""
        workshop = self._owned_open(code, owner)
        if workshop.paused:
            return
        current = self.current_round(workshop.code)      # a timer that already ran out closes
        now = self.clock()
        left = None if current is None else current.seconds_left(now)

        def write() -> None:
            with self.engine.begin() as conn:
                if left is not None:
                    conn.execute(workshop_rounds.update()
                                 .where(workshop_rounds.c.id == current.id)
                                 .values(closes_at=None))
                conn.execute(workshops.update().where(workshops.c.code == workshop.code)
                             .values(paused_at=now, paused_timer_seconds=left))

        _retry(write)

    def resume_workshop(self, code: str, owner: str | None = None) -> None:
        """Take answers again; a question that was timed gets the seconds it had left."""
        workshop = self._owned_open(code, owner)
        if not workshop.paused:
            return
        latest = self._latest_stored_round(workshop.code)
        now = self.clock()
        left = workshop.paused_timer_seconds

        def write() -> None:
            with self.engine.begin() as conn:
                if latest is not None and latest.is_open and left is not None:
                    conn.execute(workshop_rounds.update()
                                 .where(workshop_rounds.c.id == latest.id)
                                 .values(closes_at=now + dt.timedelta(seconds=left)))
                conn.execute(workshops.update().where(workshops.c.code == workshop.code)
                             .values(paused_at=None, paused_timer_seconds=None))

        _retry(write)

    def delete_workshop(self, code: str, owner: str | None = None) -> None:
        """Delete a closed room now: its questions, answers, answer log, nicknames and audit file
        (its owner only, not a co-host)."""
        workshop = self.get_workshop(code) if owner is None else self._owners_own(code, owner)
        if workshop.is_open(self.clock()):
            raise WorkshopError(f"Workshop {workshop.code} is still open; close it before "
                                "deleting it.")
        self._delete_rooms([workshop.code])

    def delete_expired_workshops(self) -> int:
        """Delete every room that ended more than RETENTION_DAYS ago; how many were deleted."""
        cutoff = self.clock() - dt.timedelta(days=RETENTION_DAYS)
        ended = sa.func.coalesce(workshops.c.closed_at, workshops.c.expires_at)
        with self.engine.connect() as conn:
            codes = list(conn.execute(sa.select(workshops.c.code).where(ended < cutoff)).scalars())
        if codes:
            self._delete_rooms(codes)
        return len(codes)

    def _delete_rooms(self, codes: list[str]) -> None:
        """Rows go child first (PostgreSQL checks the foreign keys); on SQLite the freed pages
        are overwritten, so a copy of the database file does not keep the nicknames either."""
        rounds = sa.select(workshop_rounds.c.id).where(workshop_rounds.c.code.in_(codes))

        def write() -> None:
            with self.engine.begin() as conn:
                if self.engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("PRAGMA secure_delete = ON")
                for table in (workshop_answers, workshop_answer_log):
                    conn.execute(table.delete().where(table.c.round_id.in_(rounds)))
                for table in (workshop_participants, workshop_questions, workshop_cohosts,
                              workshop_audits, workshop_rounds):
                    conn.execute(table.delete().where(table.c.code.in_(codes)))
                conn.execute(workshops.delete().where(workshops.c.code.in_(codes)))

        _retry(write)

    def _owned_open(self, code: str, owner: str | None) -> Workshop:
        workshop = self.get_workshop(code) if owner is None else self.owned_workshop(code, owner)
        return self._open_workshop(workshop.code)

    def active_workshops(self, owner: str | None = None) -> list[Workshop]:
        """Rooms still open, newest first (only `owner`'s when given)."""
        now = self.clock()
        return [w for w in self.workshop_history(owner) if w.is_open(now)]

    def workshop_history(self, owner: str | None = None) -> list[Workshop]:
        """Every room, open or closed, newest first (only `owner`'s when given): a closed room's
        results stay reachable for the debrief and the export."""
        query = sa.select(workshops).order_by(workshops.c.created_at.desc())
        if owner is not None:      # the rooms it opened, and those it co-hosts
            cohosted = sa.select(workshop_cohosts.c.code).where(
                workshop_cohosts.c.account_key == owner.casefold())
            query = query.where(sa.or_(sa.func.lower(workshops.c.owner) == owner.casefold(),
                                       workshops.c.code.in_(cohosted)))
        with self.engine.connect() as conn:
            return [Workshop(**row._mapping) for row in conn.execute(query)]

    def open_question(self, code: str, question_key: str, question: Any,
                      seconds: float | None = None, first_vote_id: int | None = None) -> Round:
        """Ask the room a question (the previous one, if still open, closes first). With `seconds`
        a timer closes it by itself; `first_vote_id` makes it the revote of that round."""
        workshop = self._open_workshop(code)
        if workshop.paused:
            raise WorkshopError("The room is paused: resume it before asking a question.")
        snapshot = replace(question, key=question_key) if isinstance(question, RoundQuestion) \
            else RoundQuestion.from_question(question_key, question)
        if first_vote_id is None:     # a revote keeps the first vote's order, whatever it was
            snapshot = snapshot.in_room_order(workshop.code)
        if snapshot.kind not in QUESTION_KINDS:
            raise WorkshopError(f"Question {question_key!r} is of an unknown kind {snapshot.kind!r}.")
        if snapshot.kind == "checker" and not (snapshot.dashboard_target or 0) > 0:
            raise WorkshopError("A checker-game round needs the dashboard's target.")
        if not snapshot.free and (len(snapshot.options) < 2 or (
                snapshot.answer is not None and snapshot.answer not in snapshot.options)):
            raise WorkshopError(f"Question {question_key!r} needs at least two options and its "
                                "answer among them.")
        if seconds is not None and not 5 <= seconds <= MAX_TIMER_SECONDS:
            raise WorkshopError(f"A timer runs 5 to {MAX_TIMER_SECONDS} seconds; got {seconds:g}.")
        now = self.clock()
        closes_at = now + dt.timedelta(seconds=seconds) if seconds else None

        def write() -> int:
            with self.engine.begin() as conn:
                conn.execute(workshop_rounds.update()
                             .where(workshop_rounds.c.code == workshop.code,
                                    workshop_rounds.c.closed_at.is_(None))
                             .values(closed_at=_closing_time(now)))
                last = conn.execute(sa.select(sa.func.max(workshop_rounds.c.seq))
                                    .where(workshop_rounds.c.code == workshop.code)).scalar()
                result = conn.execute(workshop_rounds.insert().values(
                    code=workshop.code, seq=(last or 0) + 1, question_key=snapshot.key,
                    question_json=snapshot.to_json(), opened_at=now, closed_at=None,
                    closes_at=closes_at, vote=2 if first_vote_id else 1,
                    first_vote_id=first_vote_id))
                return int(result.inserted_primary_key[0])

        round_id = _retry(write)
        return self.get_round(round_id)

    def revote(self, code: str, first_round_id: int, seconds: float | None = None) -> Round:
        """Peer instruction's second vote on the same question, after the room discussed it."""
        first = self.get_round(first_round_id)
        if first.code != normalize_code(code):
            raise WorkshopError("That question was asked in another room.")
        if first.vote != 1:
            raise WorkshopError("Only a first vote can be voted on again.")
        if first.question.free:
            raise WorkshopError("Only a question with options can be voted on again.")
        if first.revealed:
            raise WorkshopError("The answer is already revealed: a second vote would measure "
                                "nothing. Ask a new question instead.")
        return self.open_question(code, first.question.key, first.question, seconds=seconds,
                                  first_vote_id=first.id)

    def close_question(self, code: str) -> None:
        """Stop taking answers for the open question (the spread stays visible)."""
        workshop = self.get_workshop(code)
        self._close_open_rounds(workshop.code, self.clock())

    def reveal(self, code: str, round_id: int) -> None:
        """Show the room the right answer and the explanation (closing the question first);
        a revote's first vote is revealed with it."""
        round_ = self.get_round(round_id)
        if round_.code != normalize_code(code):
            raise WorkshopError("That question was asked in another room.")
        now = self.clock()
        if round_.is_open:
            self._close_open_rounds(round_.code, now)
        ids = [round_.id] + ([round_.first_vote_id] if round_.first_vote_id else [])
        _retry(lambda: self._execute(workshop_rounds.update()
                                     .where(workshop_rounds.c.id.in_(ids),
                                            workshop_rounds.c.revealed_at.is_(None))
                                     .values(revealed_at=now)))

    def follow_kit(self, code: str, version: str | None, owner: str | None = None) -> None:
        """Follow one of the kit's run-of-shows in this room (None: none), from its start."""
        workshop = self._owned_open(code, owner)
        _retry(lambda: self._execute(workshops.update().where(workshops.c.code == workshop.code)
                                     .values(kit_version=version, kit_step=None,
                                             kit_block_at=None)))

    def mark_kit_step(self, code: str, step: int, new_block: bool,
                      owner: str | None = None) -> None:
        """Record that the room is at `step` of its run-of-show; a new block starts its clock."""
        workshop = self._owned_open(code, owner)
        if workshop.kit_version is None:
            raise WorkshopError("Choose a run-of-show first.")
        values: dict[str, Any] = {"kit_step": int(step)}
        if new_block or workshop.kit_block_at is None:
            values["kit_block_at"] = self.clock()
        _retry(lambda: self._execute(workshops.update().where(workshops.c.code == workshop.code)
                                     .values(**values)))

    def save_question(self, code: str, question: RoundQuestion) -> None:
        """Keep a trainer-written question with the room, to ask now or later."""
        workshop = self.get_workshop(code)
        _retry(lambda: self._execute(workshop_questions.insert().values(
            code=workshop.code, question_json=question.to_json(), created_at=self.clock())))

    def saved_questions(self, code: str) -> list[RoundQuestion]:
        query = (sa.select(workshop_questions.c.question_json)
                 .where(workshop_questions.c.code == normalize_code(code))
                 .order_by(workshop_questions.c.id))
        with self.engine.connect() as conn:
            return [RoundQuestion.from_json(text) for text in conn.execute(query).scalars()]

    # ---------------------------------------------------------------- participant side
    def join(self, code: str, nickname: str) -> Participant:
        """Enter a room with a nickname; no real name or account is needed.

        The new seat comes with a rejoin code (Participant.rejoin), shown once on the phone
        inside a personal link: opened later, on this device or another, it gives the same seat
        back (rejoin), so leaving, a browser restart or a new device never counts anyone twice.
        The nickname alone never takes a seat that is already held."""
        workshop = self._open_workshop(code)
        if workshop.joins_locked_at is not None:
            raise WorkshopError(f"Workshop {workshop.code} takes no new participants: the trainer "
                                "has closed it to newcomers. If you already had a seat, open your "
                                "rejoin link or type its rejoin code.")
        clean = " ".join((nickname or "").split())
        if not clean:
            raise WorkshopError("Choose a nickname (any name you like; it need not be your own).")
        if self.participant_count(workshop.code) >= MAX_SEATS:
            raise WorkshopError(f"Workshop {workshop.code} is full ({MAX_SEATS:,} seats); ask the "
                                "trainer to open a second room.")
        if len(clean) > NICKNAME_MAX or any(not ch.isprintable() for ch in clean):
            raise WorkshopError(f"A nickname is at most {NICKNAME_MAX} printable characters.")
        token = secrets.token_urlsafe(24)
        rejoin = secrets.token_urlsafe(REJOIN_BYTES)
        row = {"token": token, "code": workshop.code, "nickname": clean,
               "nickname_key": clean.casefold(), "joined_at": self.clock(),
               "rejoin_hash": rejoin_hash(workshop.code, rejoin)}
        try:
            _retry(lambda: self._execute(workshop_participants.insert().values(**row)))
        except sa.exc.IntegrityError:
            raise WorkshopError(f"The nickname {clean!r} is already taken in this room; pick "
                                "another, or, if it is yours, open your rejoin link or type its "
                                "rejoin code.") from None
        return Participant(token, workshop.code, clean, rejoin)

    def rejoin(self, code: str, rejoin: str) -> Participant:
        """The seat a rejoin code (or a pasted rejoin link) was given for, in this room: open,
        paused or closed (its results stay readable until the room is deleted)."""
        linked_code, typed = parse_rejoin(rejoin)
        clean_code = normalize_code(code) or linked_code
        if not typed:
            raise WorkshopError("Paste your rejoin link or type its rejoin code.")
        if not clean_code:
            raise WorkshopError("Enter the workshop code your trainer shows.")
        if not is_room_code(clean_code) or (linked_code and not is_room_code(linked_code)):
            raise WorkshopError("That is not a workshop code: it has 6 letters and digits, as "
                                "on the trainer's screen or in your rejoin link.")
        if linked_code and linked_code != clean_code:
            raise WorkshopError(f"That rejoin link is for workshop {linked_code}, not "
                                f"{clean_code}: open the link itself.")
        self.room_now(clean_code)              # a deleted room says so, not "wrong code"
        query = sa.select(workshop_participants).where(
            workshop_participants.c.code == clean_code,
            workshop_participants.c.rejoin_hash == rejoin_hash(clean_code, typed))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise WorkshopError(f"That rejoin code is not for a seat in workshop {clean_code}. "
                                "Check that you copied all of it and that the workshop code is "
                                "right, or join with a new nickname.")
        return Participant(row.token, row.code, row.nickname, typed)

    def participant(self, code: str, token: str) -> Participant:
        """The participant behind a session token, checked against the room it was issued for."""
        query = sa.select(workshop_participants).where(
            workshop_participants.c.token == token,
            workshop_participants.c.code == normalize_code(code))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise WorkshopError("You are not in this workshop any more; join again with the code.")
        return Participant(row.token, row.code, row.nickname)

    def submit_answer(self, code: str, token: str, round_id: int, answer: str,
                      check_rate: bool = True) -> bool:
        """Record (or change) a participant's answer to the open question; True if correct.

        One transaction logs the answer and upserts the current one, so a change sent a moment
        after the first answer can never be overtaken by it: the last write is the answer.
        `check_rate=False` skips the shared answer limit's count, for a caller that knows this is
        the seat's first answer in the window it has seen (course.workshop_phone)."""
        if self._open_workshop(code).paused:
            raise WorkshopError("The trainer has paused the room; send your answer again once "
                                "it resumes.")
        participant = self.participant(code, token)
        current = self.current_round(participant.code)
        if current is None or current.id != round_id:
            raise WorkshopError("That question is closed; wait for the trainer's next one.")
        answer = current.question.clean_answer(answer)
        correct = current.question.counts_as_correct(answer)
        now = self.clock()
        values = {"round_id": round_id, "token": token, "answer": answer, "correct": correct,
                  "answered_at": now}

        if check_rate:      # read before the write: inside it, on SQLite, answers would wait on locks
            with self.engine.connect() as conn:
                self._check_answer_rate(conn, token, now)

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(workshop_answer_log.insert().values(
                    round_id=round_id, token=token, answer=answer, answered_at=now))
                conn.execute(self._upsert_answer(values))

        _retry(write)
        return correct

    @staticmethod
    def _check_answer_rate(conn: sa.Connection, token: str, now: dt.datetime) -> None:
        """Refuse a seat's answer past ANSWERS_PER_WINDOW in ANSWER_WINDOW_SECONDS. The count is
        the answer log's, which every replica of the app writes: a script that spreads its answers
        over the replicas behind a load balancer meets the same limit as one that does not."""
        since = now - dt.timedelta(seconds=ANSWER_WINDOW_SECONDS)
        log = workshop_answer_log.c
        sent = conn.execute(sa.select(sa.func.count()).select_from(workshop_answer_log)
                            .where(log.token == token, log.answered_at > since)).scalar_one()
        if sent >= ANSWERS_PER_WINDOW:
            raise TooManyAnswers(f"That is {ANSWERS_PER_WINDOW} answers in {ANSWER_WINDOW_SECONDS:g} s; "
                                 "wait a moment and send your answer again.")

    def my_answer(self, token: str, round_id: int) -> str | None:
        query = sa.select(workshop_answers.c.answer).where(workshop_answers.c.round_id == round_id,
                                                           workshop_answers.c.token == token)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def current_answers(self, round_id: int) -> list[str]:
        """Every participant's current answer to a round, sorted by its text (never in the order
        they came in, which a room could match to who pressed Send when)."""
        query = (sa.select(workshop_answers.c.answer)
                 .where(workshop_answers.c.round_id == round_id)
                 .order_by(workshop_answers.c.answer))
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def text_answers(self, round_id: int) -> list[TextAnswer]:
        """An open-text round's answers for the trainer's moderation: text and state, no
        nickname, waiting ones first (then by text)."""
        query = (sa.select(workshop_answers.c.id, workshop_answers.c.answer,
                           workshop_answers.c.moderation)
                 .where(workshop_answers.c.round_id == round_id))
        with self.engine.connect() as conn:
            rows = [TextAnswer(int(i), text, state) for i, text, state in conn.execute(query)]
        return sorted(rows, key=lambda a: (a.state is not None, a.text))

    def moderate(self, code: str, answer_id: int, state: str | None,
                 owner: str | None = None, seen_text: str | None = None) -> None:
        """Approve an open-text answer for the projector, hide it, or put it back in the queue.

        With `seen_text` (what the trainer read) the change applies only while the answer still
        says that: one changed after the trainer read it is not approved unseen."""
        if state is not None and state not in MODERATION_STATES:
            raise WorkshopError(f"Unknown moderation {state!r}; approve or hide.")
        workshop = self.get_workshop(code) if owner is None else self.owned_workshop(code, owner)
        in_room = sa.select(workshop_rounds.c.id).where(workshop_rounds.c.code == workshop.code)
        statement = (workshop_answers.update()
                     .where(workshop_answers.c.id == int(answer_id),
                            workshop_answers.c.round_id.in_(in_room))
                     .values(moderation=state))
        if seen_text is not None:
            statement = statement.where(workshop_answers.c.answer == seen_text)

        def write() -> int:
            with self.engine.begin() as conn:
                return conn.execute(statement).rowcount

        if not _retry(write):
            raise WorkshopError("That answer changed after you read it, or is no longer in this "
                                "room: read it again in the queue.")

    def approved_texts(self, round_: Round) -> list[str]:
        """The answers the trainer approved, for the projector: anonymous, in an order keyed to
        the room and the text (not arrival, not the queue's), the same on every refresh."""
        query = sa.select(workshop_answers.c.answer).where(
            workshop_answers.c.round_id == round_.id, workshop_answers.c.moderation == "approved")
        with self.engine.connect() as conn:
            texts = list(conn.execute(query).scalars())
        return sorted(texts, key=lambda t: keyed_unit(_ROOM_ORDER_KEY, round_.code,
                                                      str(round_.id), t))

    def answer_changes(self, round_id: int) -> int:
        """How many answers were sent to a round, changes included (the log's length)."""
        query = sa.select(sa.func.count()).select_from(workshop_answer_log).where(
            workshop_answer_log.c.round_id == round_id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    # ---------------------------------------------------------------- reading
    def get_workshop(self, code: str) -> Workshop:
        clean = normalize_code(code)
        if not clean:
            raise WorkshopError("Enter the workshop code your trainer shows.")
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(workshops).where(workshops.c.code == clean)).first()
        if row is None:
            raise WorkshopError(f"No workshop has the code {clean[:CODE_LENGTH * 2]}. Check the code "
                                "on the trainer's screen (letters and digits, no 0/O or 1/I/L).")
        return Workshop(**row._mapping)

    def get_round(self, round_id: int) -> Round:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(workshop_rounds)
                               .where(workshop_rounds.c.id == round_id)).first()
        if row is None:
            raise WorkshopError(f"No such question round ({round_id}).")
        return self._timed(self._round(row))

    def current_round(self, code: str) -> Round | None:
        """The question taking answers now, if any; one whose timer ran out is closed here."""
        latest = self._latest_stored_round(code)
        if latest is None or not latest.is_open:
            return None
        if latest.closes_at is not None and self.clock() >= latest.closes_at:
            _retry(lambda: self._execute(workshop_rounds.update()
                                         .where(workshop_rounds.c.id == latest.id,
                                                workshop_rounds.c.closed_at.is_(None))
                                         .values(closed_at=latest.closes_at)))
            return None
        return latest

    def rounds(self, code: str) -> list[Round]:
        query = (sa.select(workshop_rounds).where(workshop_rounds.c.code == normalize_code(code))
                 .order_by(workshop_rounds.c.seq))
        with self.engine.connect() as conn:
            return [self._timed(self._round(row)) for row in conn.execute(query)]

    def latest_round(self, code: str) -> Round | None:
        """The open question, or else the last one asked (its spread stays up for discussion)."""
        latest = self._latest_stored_round(code)
        return None if latest is None else self._timed(latest)

    def room_now(self, code: str) -> tuple[Workshop, Round | None]:
        """The room as it stands (open, paused or closed) and its latest question, read together
        on every refresh of a phone or the projector, so a close or a pause reaches them."""
        clean = normalize_code(code)
        rounds = (sa.select(workshop_rounds).where(workshop_rounds.c.code == clean)
                  .order_by(workshop_rounds.c.seq.desc()).limit(1))
        with self.engine.connect() as conn:
            room = conn.execute(sa.select(workshops).where(workshops.c.code == clean)).first()
            latest = conn.execute(rounds).first() if room is not None else None
        if room is None:
            raise WorkshopError(f"Workshop {clean} no longer exists: its trainer deleted it or "
                                f"it ended more than {RETENTION_DAYS} days ago.")
        return Workshop(**room._mapping), None if latest is None else self._timed(self._round(latest))

    def _latest_stored_round(self, code: str) -> Round | None:
        query = (sa.select(workshop_rounds).where(workshop_rounds.c.code == normalize_code(code))
                 .order_by(workshop_rounds.c.seq.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else self._round(row)

    def _timed(self, round_: Round) -> Round:
        """A round whose timer ran out reads as closed at that moment, written or not yet."""
        if round_.is_open and round_.closes_at is not None and self.clock() >= round_.closes_at:
            return replace(round_, closed_at=round_.closes_at)
        return round_

    def participant_count(self, code: str) -> int:
        query = sa.select(sa.func.count()).select_from(workshop_participants).where(
            workshop_participants.c.code == normalize_code(code))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def answer_count(self, round_id: int) -> int:
        """Answers in so far: the one cheap figure a projector refreshes while a vote runs."""
        query = sa.select(sa.func.count()).select_from(workshop_answers).where(
            workshop_answers.c.round_id == round_id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def answerer_count(self, round_ids: list[int]) -> int:
        """People who answered at least one of these rounds: a prompt asked twice counts each once."""
        if not round_ids:
            return 0
        query = sa.select(sa.func.count(sa.distinct(workshop_answers.c.token))).where(
            workshop_answers.c.round_id.in_(round_ids))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def aggregate(self, round_id: int, min_group: int = MIN_GROUP_SIZE,
                  round_: Round | None = None) -> RoomAggregate:
        """Answer counts per option for one round, all shown from `min_group` answers on."""
        current = round_ if round_ is not None else self.get_round(round_id)
        query = (sa.select(workshop_answers.c.answer, sa.func.count())
                 .where(workshop_answers.c.round_id == current.id)
                 .group_by(workshop_answers.c.answer))
        with self.engine.connect() as conn:
            raw = {answer: int(n) for answer, n in conn.execute(query)}
        question = current.question
        counts = pd.Series({option: raw.get(option, 0) for option in question.options},
                           dtype="int64")
        shown = poll_spread(counts, min_group)
        options = tuple(
            OptionCount(option, None if pd.isna(shown[option]) else int(shown[option]),
                        question.has_answer and option == question.answer,
                        question.misconception_words(option))
            for option in question.options)
        # Every answer counts, a plan or a text too (their rounds have no options to count by).
        return RoomAggregate(current, self.participant_count(current.code), sum(raw.values()),
                             options, min_group)

    def gain(self, code: str, min_group: int = MIN_GROUP_SIZE) -> GainSummary:
        """The room's pre/post-test gain, over participants who answered both (≥ min_group)."""
        query = (sa.select(workshop_answers.c.token, workshop_answers.c.answer,
                           workshop_answers.c.correct, workshop_answers.c.answered_at,
                           workshop_rounds.c.question_key)
                 .join(workshop_rounds, workshop_rounds.c.id == workshop_answers.c.round_id)
                 .where(workshop_rounds.c.code == normalize_code(code)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).fetchall()
        records = []
        for token, answer, correct, answered_at, key in rows:
            stage, _, item = key.partition("/")
            if stage in TEST_STAGES:
                records.append({"learner_id": token, "module_id": "workshop", "item_id": item,
                                "kind": stage, "answer": answer, "correct": bool(correct),
                                "score": 1.0 if correct else 0.0, "created_at": answered_at})
        frame = pd.DataFrame(records, columns=["learner_id", "module_id", "item_id", "kind",
                                               "answer", "correct", "score", "created_at"])
        return pre_post_gain(frame, min_group)

    # ---------------------------------------------------------------- internals
    def _upsert_answer(self, values: dict) -> sa.Executable:
        """INSERT … ON CONFLICT (round, participant) DO UPDATE: one atomic statement."""
        # A changed answer goes back to the moderation queue: an approval was for the old text.
        changes = {**{k: values[k] for k in ("answer", "correct", "answered_at")},
                   "moderation": None}
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            raise WorkshopError(f"Live workshops need SQLite or PostgreSQL, not {dialect}.")
        return insert(workshop_answers).values(**values).on_conflict_do_update(
            index_elements=["round_id", "token"], set_=changes)

    def _add_missing_columns(self, conn: sa.Connection) -> None:
        """A database made by an earlier version gets the columns added since (all nullable)."""
        inspector = sa.inspect(conn)
        for table_name, names in _ADDED_COLUMNS.items():
            existing = {c["name"] for c in inspector.get_columns(table_name)}
            table = metadata.tables[table_name]
            for name in names:
                if name in existing:
                    continue
                column = table.c[name]
                kind = column.type.compile(dialect=self.engine.dialect)
                conn.execute(sa.text(f'ALTER TABLE {table_name} ADD COLUMN "{name}" {kind}'))

    def _execute(self, statement: sa.Executable) -> None:
        with self.engine.begin() as conn:
            conn.execute(statement)

    def _open_workshop(self, code: str) -> Workshop:
        workshop = self.get_workshop(code)
        if workshop.closed_at is not None:
            raise WorkshopError(f"Workshop {workshop.code} has been closed by its trainer.")
        if not workshop.is_open(self.clock()):
            raise WorkshopError(f"Workshop {workshop.code} has expired; ask the trainer for a "
                                "new code.")
        return workshop

    def _close_open_rounds(self, code: str, now: dt.datetime) -> None:
        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(workshop_rounds.update()
                             .where(workshop_rounds.c.code == code,
                                    workshop_rounds.c.closed_at.is_(None))
                             .values(closed_at=_closing_time(now)))
                conn.execute(workshops.update().where(workshops.c.code == code)
                             .values(paused_timer_seconds=None))   # no open question, no timer

        _retry(write)

    @staticmethod
    def _round(row: Any) -> Round:
        return Round(row.id, row.code, row.seq, RoundQuestion.from_json(row.question_json),
                     row.opened_at, row.closed_at, row.closes_at, row.revealed_at,
                     row.vote or 1, row.first_vote_id)
