"""Live workshops: a trainer opens questions, participants answer with a code and a nickname.

Participants need no account and give no real identity. The room only ever sees aggregates:
nobody, not even the trainer, sees who answered what, and an answer spread appears only once
at least 5 people have answered (smaller option counts hidden as in the instructor analytics).
State lives in the progress database (its own tables), so several app replicas can share a room
on PostgreSQL, and SQLite in WAL mode takes participants answering at the same moment.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from course.analytics import (MIN_GROUP_SIZE, RETEACH_SHARE, GainSummary, pre_post_gain,
                              suppress_partition)
from datasets.errors import UserError

# No 0/O, 1/I/L: a code read aloud or from a projector is typed right the first time.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
DEFAULT_HOURS = 8.0
MAX_HOURS = 72.0
NICKNAME_MAX = 24
FALLBACK_SCENARIOS = ("mandate-bigco", "startup", "consultancy")
PROFILES_DIR = Path(__file__).resolve().parent.parent / "datasets" / "profiles"
TEST_STAGES = ("pretest", "posttest")
# Charts a trainer can project from the room's shared company (all aggregate, no labels shown).
ROOM_CHARTS = ("adoption_vs_output", "sessions_linked_to_work", "cycle_time_before_after",
               "acceptance_vs_tokens", "deadline_bursts", "perception_vs_measured")
ROOM_EMPLOYEES = 150
ROOM_DAYS = 180

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
    sa.UniqueConstraint("round_id", "token", name="uq_workshop_answer"),
)


class WorkshopError(UserError):
    """A workshop action that cannot be done: unknown or closed code, taken nickname, …"""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def normalize_code(raw: str | None) -> str:
    """What the participant typed, as a code: case, spaces and dashes do not matter."""
    return re.sub(r"[\s\-]", "", raw or "").upper()


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def available_scenarios(profiles_dir: Path = PROFILES_DIR) -> tuple[str, ...]:
    """Company profiles a workshop can use: the generator's presets."""
    found = tuple(sorted(p.stem for p in profiles_dir.glob("*.yaml"))) \
        if profiles_dir.is_dir() else ()
    return found or FALLBACK_SCENARIOS


@dataclass(frozen=True)
class RoundQuestion:
    """A snapshot of the question asked, so a round reads the same after content changes."""

    key: str
    prompt: str
    options: tuple[str, ...]
    answer: str
    misconceptions: tuple[str | None, ...]

    @classmethod
    def from_question(cls, key: str, question: Any) -> RoundQuestion:
        """From a course Question (course.modules): its options, right answer and misconceptions."""
        return cls(key=key, prompt=question.prompt,
                   options=tuple(o.text for o in question.options), answer=question.answer,
                   misconceptions=tuple(o.misconception for o in question.options))

    @property
    def stage(self) -> str | None:
        """'pretest' or 'posttest' for a pre/post-test item, None for a module question."""
        head = self.key.split("/", 1)[0]
        return head if head in TEST_STAGES else None

    def to_json(self) -> str:
        return json.dumps({"key": self.key, "prompt": self.prompt, "options": list(self.options),
                           "answer": self.answer, "misconceptions": list(self.misconceptions)})

    @classmethod
    def from_json(cls, text: str) -> RoundQuestion:
        data = json.loads(text)
        return cls(data["key"], data["prompt"], tuple(data["options"]), data["answer"],
                   tuple(data["misconceptions"]))


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

    def is_open(self, now: dt.datetime) -> bool:
        return self.closed_at is None and now < self.expires_at


def room_company(scenario: str, seed: int, employees: int = ROOM_EMPLOYEES,
                 days: int = ROOM_DAYS) -> Any:
    """The one company the whole room discusses: the workshop's scenario and seed."""
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

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class Participant:
    token: str
    code: str
    nickname: str


@dataclass(frozen=True)
class OptionCount:
    option: str
    count: int | None          # None: hidden (too few answers to show safely)
    correct: bool
    misconception: str | None


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
            return f"{self.answers} answers"
        more = self.waiting_for
        return f"Waiting for {more} more answer{'s' if more != 1 else ''} before showing the spread."

    @property
    def popular_wrong_answer(self) -> OptionCount | None:
        """The most chosen wrong option when it is shown and worth re-teaching (≥ RETEACH_SHARE)."""
        wrong = [o for o in self.options if not o.correct and o.count]
        top = max(wrong, key=lambda o: o.count, default=None)
        if top is None or top.count / self.answers < RETEACH_SHARE:
            return None
        return top

    def table(self) -> pd.DataFrame:
        """One row per option; a hidden count is <NA>. Empty until enough people answered."""
        if not self.shown:
            return pd.DataFrame(columns=["option", "count", "correct", "misconception"])
        frame = pd.DataFrame([o.__dict__ for o in self.options])
        frame["count"] = frame["count"].astype("Int64")
        return frame


def _retry(action: Callable[[], Any], attempts: int = 8) -> Any:
    """Run a write, retrying briefly when SQLite reports another writer holding the lock."""
    for attempt in range(attempts):
        try:
            return action()
        except sa.exc.OperationalError as exc:
            if "locked" not in str(exc).lower() or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return None  # unreachable: the last attempt either returns or raises


class WorkshopStore:
    """Workshops, rounds, participants and answers on the progress store's engine."""

    def __init__(self, engine: sa.Engine, clock: Callable[[], dt.datetime] = utcnow):
        self.engine = engine
        self.clock = clock
        metadata.create_all(engine)

    # ---------------------------------------------------------------- trainer side
    def create_workshop(self, scenario: str, title: str | None = None,
                        hours: float = DEFAULT_HOURS) -> Workshop:
        """A new room with a fresh join code; it closes by itself after `hours`."""
        scenarios = available_scenarios()
        if scenario not in scenarios:
            raise WorkshopError(f"Unknown scenario {scenario!r}; choose one of: "
                                f"{', '.join(scenarios)}.")
        if not 0 < hours <= MAX_HOURS:
            raise WorkshopError(f"A workshop lasts between a minute and {MAX_HOURS:g} hours; "
                                f"got {hours:g}.")
        now = self.clock()
        clean_title = (title or "").strip()[:200] or f"Workshop {now:%Y-%m-%d}"
        for _ in range(20):
            code = new_code()
            row = {"code": code, "title": clean_title, "scenario": scenario,
                   "seed": secrets.randbelow(2**31), "created_at": now,
                   "expires_at": now + dt.timedelta(hours=hours), "closed_at": None}
            try:
                _retry(lambda: self._execute(workshops.insert().values(**row)))
            except sa.exc.IntegrityError:
                continue
            return Workshop(**row)
        raise WorkshopError("Could not find a free join code; close some old workshops.")

    def close_workshop(self, code: str) -> None:
        workshop = self.get_workshop(code)
        now = self.clock()
        self._close_open_rounds(workshop.code, now)
        if workshop.closed_at is None:
            _retry(lambda: self._execute(workshops.update().where(workshops.c.code == workshop.code)
                                         .values(closed_at=now)))

    def active_workshops(self) -> list[Workshop]:
        """Rooms still open, newest first: a trainer who reloaded the page picks theirs again."""
        now = self.clock()
        query = (sa.select(workshops).where(workshops.c.closed_at.is_(None),
                                            workshops.c.expires_at > now)
                 .order_by(workshops.c.created_at.desc()))
        with self.engine.connect() as conn:
            return [Workshop(**row._mapping) for row in conn.execute(query)]

    def open_question(self, code: str, question_key: str, question: Any) -> Round:
        """Ask the room a question; the previous question, if still open, closes first."""
        workshop = self._open_workshop(code)
        snapshot = replace(question, key=question_key) if isinstance(question, RoundQuestion) \
            else RoundQuestion.from_question(question_key, question)
        if len(snapshot.options) < 2 or snapshot.answer not in snapshot.options:
            raise WorkshopError(f"Question {question_key!r} needs at least two options and its "
                                "answer among them.")
        now = self.clock()

        def write() -> int:
            with self.engine.begin() as conn:
                conn.execute(workshop_rounds.update()
                             .where(workshop_rounds.c.code == workshop.code,
                                    workshop_rounds.c.closed_at.is_(None))
                             .values(closed_at=now))
                last = conn.execute(sa.select(sa.func.max(workshop_rounds.c.seq))
                                    .where(workshop_rounds.c.code == workshop.code)).scalar()
                result = conn.execute(workshop_rounds.insert().values(
                    code=workshop.code, seq=(last or 0) + 1, question_key=snapshot.key,
                    question_json=snapshot.to_json(), opened_at=now, closed_at=None))
                return int(result.inserted_primary_key[0])

        round_id = _retry(write)
        return self.get_round(round_id)

    def close_question(self, code: str) -> None:
        """Stop taking answers for the open question (the spread stays visible)."""
        workshop = self.get_workshop(code)
        self._close_open_rounds(workshop.code, self.clock())

    # ---------------------------------------------------------------- participant side
    def join(self, code: str, nickname: str) -> Participant:
        """Enter a room with a nickname; no real name or account is needed."""
        workshop = self._open_workshop(code)
        clean = " ".join((nickname or "").split())
        if not clean:
            raise WorkshopError("Choose a nickname (any name you like; it need not be your own).")
        if len(clean) > NICKNAME_MAX or any(not ch.isprintable() for ch in clean):
            raise WorkshopError(f"A nickname is at most {NICKNAME_MAX} printable characters.")
        token = secrets.token_urlsafe(24)
        row = {"token": token, "code": workshop.code, "nickname": clean,
               "nickname_key": clean.casefold(), "joined_at": self.clock()}
        try:
            _retry(lambda: self._execute(workshop_participants.insert().values(**row)))
        except sa.exc.IntegrityError:
            raise WorkshopError(f"The nickname {clean!r} is already taken in this room; "
                                "pick another.") from None
        return Participant(token, workshop.code, clean)

    def participant_by_token(self, token: str) -> Participant:
        """The seat a returning browser holds (its token survives a page reload in the URL)."""
        query = sa.select(workshop_participants).where(workshop_participants.c.token == token)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise WorkshopError("That workshop seat no longer exists; join again with the code.")
        return Participant(row.token, row.code, row.nickname)

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

    def submit_answer(self, code: str, token: str, round_id: int, answer: str) -> bool:
        """Record (or change) a participant's answer to the open question; True if correct."""
        self._open_workshop(code)
        participant = self.participant(code, token)
        current = self.current_round(participant.code)
        if current is None or current.id != round_id:
            raise WorkshopError("That question is closed; wait for the trainer's next one.")
        if answer not in current.question.options:
            raise WorkshopError("Choose one of the options shown.")
        correct = answer == current.question.answer
        now = self.clock()

        def write() -> None:
            try:
                self._execute(workshop_answers.insert().values(
                    round_id=round_id, token=token, answer=answer, correct=correct,
                    answered_at=now))
            except sa.exc.IntegrityError:
                self._execute(workshop_answers.update()
                              .where(workshop_answers.c.round_id == round_id,
                                     workshop_answers.c.token == token)
                              .values(answer=answer, correct=correct, answered_at=now))

        _retry(write)
        return correct

    def my_answer(self, token: str, round_id: int) -> str | None:
        query = sa.select(workshop_answers.c.answer).where(workshop_answers.c.round_id == round_id,
                                                           workshop_answers.c.token == token)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

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
        return self._round(row)

    def current_round(self, code: str) -> Round | None:
        """The question taking answers now, if any."""
        query = (sa.select(workshop_rounds)
                 .where(workshop_rounds.c.code == normalize_code(code),
                        workshop_rounds.c.closed_at.is_(None))
                 .order_by(workshop_rounds.c.seq.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else self._round(row)

    def rounds(self, code: str) -> list[Round]:
        query = (sa.select(workshop_rounds).where(workshop_rounds.c.code == normalize_code(code))
                 .order_by(workshop_rounds.c.seq))
        with self.engine.connect() as conn:
            return [self._round(row) for row in conn.execute(query)]

    def latest_round(self, code: str) -> Round | None:
        """The open question, or else the last one asked (its spread stays up for discussion)."""
        rounds = self.rounds(code)
        return rounds[-1] if rounds else None

    def participant_count(self, code: str) -> int:
        query = sa.select(sa.func.count()).select_from(workshop_participants).where(
            workshop_participants.c.code == normalize_code(code))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def aggregate(self, round_id: int, min_group: int = MIN_GROUP_SIZE) -> RoomAggregate:
        """Answer counts per option for one round, hidden below the minimum group size."""
        current = self.get_round(round_id)
        query = (sa.select(workshop_answers.c.answer, sa.func.count())
                 .where(workshop_answers.c.round_id == round_id)
                 .group_by(workshop_answers.c.answer))
        with self.engine.connect() as conn:
            raw = {answer: int(n) for answer, n in conn.execute(query)}
        question = current.question
        counts = pd.Series({option: raw.get(option, 0) for option in question.options},
                           dtype="int64")
        total = int(counts.sum())
        shown = suppress_partition(counts, min_group) if total >= min_group else \
            pd.Series(pd.NA, index=counts.index, dtype="Int64")
        options = tuple(
            OptionCount(option, None if pd.isna(shown[option]) else int(shown[option]),
                        option == question.answer, misconception)
            for option, misconception in zip(question.options, question.misconceptions))
        return RoomAggregate(current, self.participant_count(current.code), total, options,
                             min_group)

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
        _retry(lambda: self._execute(workshop_rounds.update()
                                     .where(workshop_rounds.c.code == code,
                                            workshop_rounds.c.closed_at.is_(None))
                                     .values(closed_at=now)))

    @staticmethod
    def _round(row: Any) -> Round:
        return Round(row.id, row.code, row.seq, RoundQuestion.from_json(row.question_json),
                     row.opened_at, row.closed_at)
