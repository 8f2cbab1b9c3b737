"""The light phone page's state and actions: what a phone on `/room` reads and sends.

A phone of a live room either runs the Streamlit page (course/app_pages/workshop_join.py), whose
fragment reruns on the one Streamlit process, or the light page (course/static/room.html), which
polls a small JSON state over plain HTTP (course.phone_routes). Both are seats of the same room,
kept by course.workshop's store and its rules; this module only shapes what a phone may see.

What makes 300 phones cost little more than one: the room's state is read from the database once
per STATE_TTL_SECONDS per room (RoomSnapshot: the room, its latest question, the spread, the seats'
tokens and current answers) and shared by every phone; a phone's own part (its answer, what the
reveal says about it) is a dictionary lookup in that snapshot. Nothing a phone receives names
another seat: the shared part holds counts and texts the trainer approved, never a nickname, and
never the right answer or its explanation before the trainer reveals it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from course import checker_game as cg
from course import workshop
from course.workshop import Round, Workshop, WorkshopError, WorkshopStore

# A light page's check is a dictionary lookup, not a Streamlit rerun: one process answers this
# many a second and keeps room for a vote's answers (benchmarks/workshop.py --client light: 300
# phones at 2.5 s are 120 checks a second), so a hall's phones keep the configured interval.
LIGHT_CHECKS_PER_SECOND = 400
STATE_TTL_SECONDS = 0.25        # how stale a room's shared state may be (adds to question → phone)
BODY_MAX_BYTES = 4096           # a join, rejoin or answer request; the longest is a pasted link
SNAPSHOTS_KEPT = 64             # rooms whose state stays cached in one process


class RoomGone(WorkshopError):
    """No room has this code (never had, or it was deleted): the phone API answers 404."""


class SeatUnknown(WorkshopError):
    """The seat token is not one of this room's: the phone API answers 403."""


@dataclass
class RoomSnapshot:
    """A room as every phone sees it, read once and shared until it is STATE_TTL_SECONDS old."""

    code: str
    built_at: float                          # time.monotonic() when read
    room: Workshop
    latest: Round | None
    public: bytes                            # the shared part, serialized once
    etag: str                                # of `public`
    tokens: set[str] = field(default_factory=set)          # this room's seats (never sent)
    answers: dict[str, str] = field(default_factory=dict)  # token → answer to `latest`
    commitments: dict[str, str] = field(default_factory=dict)   # token → commitment, once closed
    gallery: list[str] | None = None         # approved open answers (None: under MIN_GROUP_SIZE)
    plan_scores: dict[str, dict] = field(default_factory=dict)  # plan → its hidden score, revealed


def seat_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def round_state(room: Workshop, latest: Round, store: WorkshopStore,
                answers: list[str]) -> dict[str, Any]:
    """The latest question as any phone of the room may read it: the prompt and options while
    it is open; once voting closed the spread (from MIN_GROUP_SIZE answers); the right answer and
    the explanation only once the trainer revealed them."""
    question = latest.question
    lettered = question.kind != "scale"
    state: dict[str, Any] = {
        "id": latest.id, "seq": latest.seq, "vote": latest.vote, "kind": question.kind,
        "prompt": question.prompt, "open": latest.is_open, "revealed": latest.revealed,
        "has_answer": question.has_answer,      # whether there is one to reveal, never which
        "closes_at": latest.closes_at.isoformat() if latest.closes_at and latest.is_open else None,
        "options": [{"letter": question.letter_of(o) if lettered else "", "text": o}
                    for o in question.options],
        "result": None, "reveal": None,
    }
    if question.kind == "checker":
        state["plan"] = {"target": question.dashboard_target, "real_max": cg.REAL_MAX,
                         "padded_max": cg.PADDED_MAX, "baseline_real": cg.BASELINE_REAL}
    if latest.is_open:
        return state
    if question.kind == "checker":
        from course import workshop_checker as checker

        plans = checker.room_plans(sorted(answers), room.seed, question.dashboard_target)
        state["result"] = {"shown": plans.shown, "status": plans.status,
                           "summary": plans.visible_summary() if plans.shown else plans.status}
        if latest.revealed:
            state["reveal"] = {"answer": None, "explanation": question.explanation,
                               "hidden_summary": plans.hidden_summary()}
        return state
    if question.kind == "text":
        state["result"] = {"shown": True, "status": "", "summary": ""}
        return state
    aggregate = store.aggregate(latest.id, round_=latest)
    from course import workshop_report as report

    state["result"] = {
        "shown": aggregate.shown, "status": aggregate.status, "answers": aggregate.answers,
        "summary": report.spread_summary(aggregate, latest.revealed),
        "spread": [{"letter": question.letter_of(o.option) if lettered else "", "text": o.option,
                    "count": o.count, "share": aggregate.share(o),
                    "correct": bool(latest.revealed and o.correct)}
                   for o in aggregate.options] if aggregate.shown else [],
    }
    if latest.revealed and question.has_answer:
        state["reveal"] = {"answer": question.answer, "explanation": question.explanation}
    return state


def room_state(room: Workshop, latest: Round | None, store: WorkshopStore, answers: list[str],
               refresh_seconds: float, now) -> dict[str, Any]:
    """The shared part of every phone's state: the room (open, paused, closed), how often to
    check, and the latest question."""
    status = "closed" if not room.is_open(now) else "paused" if room.paused else "open"
    return {"room": {"code": room.code, "title": room.title, "status": status},
            "refresh_seconds": refresh_seconds,
            "round": None if latest is None else round_state(room, latest, store, answers)}


class PhoneRooms:
    """The phone API over one store: cached room snapshots, joins, rejoins and answers.

    Safe to call from several threads: a stale snapshot is rebuilt by one of them while the
    others wait for it, so a room is read once per STATE_TTL_SECONDS however many phones ask."""

    def __init__(self, store: WorkshopStore, refresh_setting: float = 2.5,
                 public_url: str | None = None, ttl: float = STATE_TTL_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic,
                 settings: Callable[[], Any] | None = None):
        self.store = store
        self._fixed = (refresh_setting, public_url)
        self._settings = settings     # () -> course.config.WorkshopSettings, read on every use
        self.ttl = ttl
        self.monotonic = monotonic
        self._snapshots: dict[str, RoomSnapshot] = {}
        # A fixed set of locks, one picked per room code: made-up codes cannot grow it.
        self._locks = tuple(threading.Lock() for _ in range(16))
        self._guard = threading.Lock()
        self._answered: dict[str, float] = {}     # seat token → when this process last took its answer

    def _seen_recently(self, token: str) -> bool:
        """Has this process taken an answer from the seat within the answer window? Only then is
        the shared limit counted (a query per answer would slow a hall's burst of first answers):
        a seat spread over N replicas gets at most N − 1 answers past the limit in a window, one
        first answer per replica."""
        now = self.monotonic()
        with self._guard:
            last = self._answered.get(token)
            self._answered[token] = now
            if len(self._answered) > 10_000:        # forget seats that stopped answering
                self._answered = {k: t for k, t in self._answered.items()
                                  if now - t <= workshop.ANSWER_WINDOW_SECONDS}
        return last is not None and now - last <= workshop.ANSWER_WINDOW_SECONDS

    @property
    def refresh_setting(self) -> float:
        return self._settings().refresh_seconds if self._settings else self._fixed[0]

    @property
    def public_url(self) -> str | None:
        return self._settings().public_url if self._settings else self._fixed[1]

    # ---------------------------------------------------------------- the shared state
    def fresh(self, code: str) -> RoomSnapshot | None:
        """The room's snapshot if it is recent enough, without touching the database (so the
        server answers most checks without leaving its event loop)."""
        snapshot = self._snapshots.get(workshop.normalize_code(code))
        if snapshot is not None and self.monotonic() - snapshot.built_at < self.ttl:
            return snapshot
        return None

    def snapshot(self, code: str) -> RoomSnapshot:
        """The room's shared state, read again if it is older than the TTL; RoomGone if none."""
        clean = workshop.normalize_code(code)
        if not clean:
            raise WorkshopError("Enter the workshop code your trainer shows.")
        if not workshop.is_room_code(clean):
            raise RoomGone("That is not a workshop code: it has 6 letters and digits, as on the "
                           "trainer's screen.")
        ready = self.fresh(clean)
        if ready is not None:
            return ready
        with self._locks[hash(clean) % len(self._locks)]:
            ready = self.fresh(clean)       # another thread read it while this one waited
            if ready is not None:
                return ready
            snapshot = self._build(clean)
            with self._guard:
                self._snapshots[clean] = snapshot
                while len(self._snapshots) > SNAPSHOTS_KEPT:
                    oldest = min(self._snapshots.values(), key=lambda s: s.built_at)
                    self._snapshots.pop(oldest.code, None)
            return snapshot

    def _build(self, code: str) -> RoomSnapshot:
        try:
            room, latest = self.store.room_now(code)
        except WorkshopError:
            raise RoomGone(f"No workshop has the code {code}: check the code on the trainer's "
                           "screen, or the workshop was deleted.") from None
        tokens = {row[0] for row in self._rows(sa.select(workshop.workshop_participants.c.token)
                                              .where(workshop.workshop_participants.c.code == code))}
        answers: dict[str, str] = {}
        if latest is not None:
            answers = {token: text for token, text in self._rows(
                sa.select(workshop.workshop_answers.c.token, workshop.workshop_answers.c.answer)
                .where(workshop.workshop_answers.c.round_id == latest.id))}
        now = self.store.clock()
        refresh = workshop.phone_refresh_seconds(self.refresh_setting, len(tokens),
                                                 LIGHT_CHECKS_PER_SECOND)
        public = room_state(room, latest, self.store, list(answers.values()), refresh, now)
        gallery = None
        if latest is not None and latest.question.kind == "text":
            from course import workshop_report as report

            gallery = report.gallery(self.store, latest)
            if not latest.is_open:           # once closed the whole room may read it
                public["round"]["gallery"] = gallery
        commitments = self._commitments(code) if not room.is_open(now) else {}
        body = json.dumps(public, separators=(",", ":"), ensure_ascii=False).encode()
        return RoomSnapshot(code, self.monotonic(), room, latest, body,
                            hashlib.sha256(body).hexdigest()[:20], tokens, answers, commitments,
                            gallery)

    def _rows(self, statement: sa.Executable) -> list[Any]:
        with self.store.engine.connect() as conn:
            return list(conn.execute(statement).fetchall())

    def _commitments(self, code: str) -> dict[str, str]:
        """Each seat's last commitment (the kit's closing question), shown once the room closed."""
        from course.workshop_kit import COMMITMENT_KEY

        rounds = workshop.workshop_rounds
        answers = workshop.workshop_answers
        rows = self._rows(sa.select(answers.c.token, answers.c.answer)
                          .join(rounds, rounds.c.id == answers.c.round_id)
                          .where(rounds.c.code == code, rounds.c.question_key == COMMITMENT_KEY)
                          .order_by(rounds.c.seq))
        return {token: text for token, text in rows if text}

    # ---------------------------------------------------------------- one phone's part
    def knows_seat(self, snapshot: RoomSnapshot, token: str) -> bool:
        return bool(token) and token in snapshot.tokens

    def check_seat(self, snapshot: RoomSnapshot, token: str) -> None:
        """A seat that joined after the snapshot was read is looked up once, then remembered."""
        if self.knows_seat(snapshot, token):
            return
        try:
            self.store.participant(snapshot.code, token or "")
        except WorkshopError:
            raise SeatUnknown("You are not in this workshop any more; join again with the "
                              "code.") from None
        snapshot.tokens.add(token)

    def seat_state(self, snapshot: RoomSnapshot, token: str) -> dict[str, Any]:
        """What only this seat sees: its own answer, the gallery once it answered an open
        question, what the reveal says about its answer, its commitment once the room closed."""
        latest = snapshot.latest
        mine = snapshot.answers.get(token) if latest is not None else None
        seat: dict[str, Any] = {"answer": mine}
        if snapshot.commitments.get(token):
            seat["commitment"] = snapshot.commitments[token]
        if latest is None:
            return seat
        question = latest.question
        if question.kind == "text" and latest.is_open and mine is not None:
            seat["gallery"] = snapshot.gallery
        if not latest.revealed or mine is None:
            return seat
        if question.kind == "checker":
            seat["plan_score"] = self._plan_score(snapshot, mine)
        elif question.has_answer and mine != question.answer:
            seat["misconception"] = question.misconception_words(mine)
            seat["feedback"] = question.feedback_for(mine)
        return seat

    def _plan_score(self, snapshot: RoomSnapshot, plan: str) -> dict | None:
        if plan not in snapshot.plan_scores:
            from course import workshop_checker as checker

            try:
                real, padded = workshop.parse_plan(plan)
            except WorkshopError:
                return None
            score = checker.score_plan(real, padded, checker.room_team(snapshot.room.seed),
                                       snapshot.latest.question.dashboard_target)
            snapshot.plan_scores[plan] = {"dashboard": score.dashboard,
                                          "output_change_pct": score.output_change_pct}
        return snapshot.plan_scores[plan]

    def state_body(self, snapshot: RoomSnapshot, token: str) -> tuple[bytes, str]:
        """(the JSON a phone receives, its ETag): the shared bytes as read once, this seat's
        part and the seconds left on the timer added around them."""
        seat = self.seat_state(snapshot, token)
        seat_json = json.dumps(seat, separators=(",", ":"), ensure_ascii=False).encode()
        etag = f'"{snapshot.etag}-{hashlib.sha256(seat_json).hexdigest()[:12]}"'
        left = None
        latest = snapshot.latest
        if latest is not None:
            left = latest.seconds_left(self.store.clock())
        body = (b'{"state":' + snapshot.public + b',"seat":' + seat_json
                + b',"seconds_left":' + json.dumps(left).encode() + b"}")
        return body, etag

    # ---------------------------------------------------------------- what a phone sends
    def join(self, code: str, nickname: str, app_url: str) -> dict[str, Any]:
        self.snapshot(code)                      # an unknown room is a 404, not a 400
        return self._seat(self.store.join(code, nickname), app_url)

    def rejoin(self, code: str, rejoin: str, app_url: str) -> dict[str, Any]:
        linked, typed = workshop.parse_rejoin(rejoin)
        if typed and (workshop.normalize_code(code) or linked):
            self.snapshot(workshop.normalize_code(code) or linked)   # an unknown room: 404
        return self._seat(self.store.rejoin(code, rejoin), app_url)

    def _seat(self, participant: workshop.Participant, app_url: str) -> dict[str, Any]:
        snapshot = self._snapshots.get(participant.code)
        if snapshot is not None:
            snapshot.tokens.add(participant.token)
        return {"token": participant.token, "code": participant.code,
                "nickname": participant.nickname, "rejoin": participant.rejoin,
                "rejoin_link": workshop.rejoin_url(app_url, participant.code, participant.rejoin,
                                                   self.public_url),
                "full_page": workshop.rejoin_url(app_url, participant.code, participant.rejoin,
                                                 self.public_url, page=workshop.FULL_PAGE)}

    def answer(self, code: str, token: str, round_id: Any, answer: Any) -> dict[str, Any]:
        """Record the seat's answer by the store's own checks (closed question, timer, paused
        room, unknown option, over-long text, one answer per seat: a new one replaces it)."""
        snapshot = self.snapshot(code)
        self.check_seat(snapshot, token)
        if isinstance(round_id, bool) or not isinstance(round_id, int):
            raise WorkshopError("Say which question you answer (its number in the state).")
        if not isinstance(answer, str):
            raise WorkshopError("An answer is a text: the option, the plan or what you wrote.")
        green = self.store.submit_answer(snapshot.code, token, round_id, answer,
                                         check_rate=self._seen_recently(token))
        stored = self.store.my_answer(token, round_id)
        fresh = self._snapshots.get(snapshot.code)
        if fresh is not None and fresh.latest is not None and fresh.latest.id == round_id:
            fresh.answers[token] = stored        # this phone's next check shows it at once
        reply: dict[str, Any] = {"answer": stored}
        latest = snapshot.latest
        if latest is not None and latest.id == round_id and latest.question.kind == "checker":
            real, padded = workshop.parse_plan(stored)
            reply["dashboard"] = cg.dashboard_score(real, padded, latest.question.dashboard_target)
            reply["green"] = green
        return reply
