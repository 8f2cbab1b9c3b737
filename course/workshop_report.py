"""What a room's answers become: the projector's bar and shift charts, the export and the summary.

Pure functions over `course.workshop` aggregates (no streamlit): charts are Altair, tested through
`.to_dict()`; the export holds counts per option only, never who answered what.
"""

from __future__ import annotations

import io
import textwrap
from typing import Any

import altair as alt
import pandas as pd

from course.charts import PALETTE
from course.workshop import MIN_GROUP_SIZE, RoomAggregate, Round, Workshop, WorkshopStore

RIGHT_LABEL = "right answer"
OTHER_LABEL = "other options"
LABEL_WIDTH = 38          # characters per line of an option label on the bar chart


def _wrap(text: str, width: int = LABEL_WIDTH) -> list[str]:
    return textwrap.wrap(text, width) or [text]


def _option_axis(frame: pd.DataFrame, font_size: int) -> alt.Y:
    """Options top to bottom in the question's order, long ones wrapped over several lines."""
    order = list(dict.fromkeys(frame.sort_values("order")["label"]))
    return alt.Y("label:N", sort=order, title=None,
                 axis=alt.Axis(labelExpr="split(datum.label, '\\n')", labelFontSize=font_size,
                               labelColor="#222222", labelLimit=2000, labelPadding=8))


def spread_frame(aggregate: RoomAggregate, revealed: bool) -> pd.DataFrame:
    """One row per option with count, share and a label; the right answer is marked only when
    `revealed` (a projector must not give the answer away while the room still thinks)."""
    rows = []
    for order, option in enumerate(aggregate.options):
        share = aggregate.share(option)
        right = revealed and option.correct
        rows.append({"order": order, "option": option.option,
                     "label": "\n".join(_wrap(option.option)),
                     "count": option.count, "share": share,
                     "text": "" if share is None else f"{share:.0%} ({option.count})",
                     "group": RIGHT_LABEL if right else OTHER_LABEL})
    return pd.DataFrame(rows)


def spread_chart(aggregate: RoomAggregate, revealed: bool = False, font_size: int = 16,
                 width: int | str = "container") -> alt.Chart:
    """Horizontal bars of the room's answers with each option's share written on its bar."""
    frame = spread_frame(aggregate, revealed)
    # Before the reveal the spec does not even name a right answer (a projector's page source
    # is as visible as its pixels).
    colors = alt.Scale(domain=[OTHER_LABEL, RIGHT_LABEL] if revealed else [OTHER_LABEL],
                       range=[PALETTE["blue"], PALETTE["bluish_green"]] if revealed
                       else [PALETTE["blue"]])
    y = _option_axis(frame, font_size)
    base = alt.Chart(frame).encode(y=y)
    bars = base.mark_bar(height={"band": 0.7}).encode(
        x=alt.X("share:Q", title=None, scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%", labelFontSize=font_size * 0.8, tickCount=5)),
        color=alt.Color("group:N", scale=colors, title=None,
                        legend=alt.Legend(orient="top", labelFontSize=font_size * 0.8)
                        if revealed else None),
        tooltip=["option:N", "count:Q", alt.Tooltip("share:Q", format=".0%")])
    labels = base.mark_text(align="left", dx=8, fontSize=font_size, fontWeight="bold",
                            color="#222222").encode(x="share:Q", text="text:N")
    # A right answer also carries a word, not only a colour.
    layers = [bars, labels]
    if revealed:
        layers.append(base.transform_filter(alt.datum.group == RIGHT_LABEL).mark_text(
            align="right", dx=-8, fontSize=font_size, color="white", fontWeight="bold").encode(
            x="share:Q", text=alt.value("✓")))
    rows = len(frame)
    label_lines = max((label.count("\n") + 1 for label in frame["label"]), default=1)
    height = max(160, rows * max(2 * font_size, label_lines * font_size * 1.3) * 1.6)
    return alt.layer(*layers).properties(width=width, height=int(height))


def shift_frame(first: RoomAggregate, second: RoomAggregate, revealed: bool) -> pd.DataFrame:
    """Both votes per option, side by side, as shares of each vote's answers."""
    rows = []
    for vote, aggregate in (("vote 1", first), ("vote 2", second)):
        for order, option in enumerate(aggregate.options):
            share = aggregate.share(option)
            rows.append({"order": order, "option": option.option,
                         "label": "\n".join(_wrap(option.option)), "vote": vote, "share": share, "count": option.count,
                         "text": "" if share is None else f"{share:.0%}",
                         "right": bool(revealed and option.correct)})
    return pd.DataFrame(rows)


def shift_chart(first: RoomAggregate, second: RoomAggregate, revealed: bool = False,
                font_size: int = 16, width: int | str = "container") -> alt.Chart:
    """Peer instruction's shift: per option a vote-1 and a vote-2 bar, each labelled."""
    frame = shift_frame(first, second, revealed)
    if revealed:
        frame["label"] = [f"✓ {label}" if right else label
                          for label, right in zip(frame["label"], frame["right"])]
    y = _option_axis(frame, font_size)
    votes = alt.Scale(domain=["vote 1", "vote 2"], range=["#9BB8D3", PALETTE["blue"]])
    base = alt.Chart(frame).encode(y=y, yOffset=alt.YOffset("vote:N", sort=["vote 1", "vote 2"]))
    bars = base.mark_bar().encode(
        x=alt.X("share:Q", title=None, scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%", labelFontSize=font_size * 0.8)),
        color=alt.Color("vote:N", scale=votes, title=None,
                        legend=alt.Legend(orient="top", labelFontSize=font_size * 0.8)),
        tooltip=["option:N", "vote:N", "count:Q", alt.Tooltip("share:Q", format=".0%")])
    labels = base.mark_text(align="left", dx=6, fontSize=font_size * 0.85).encode(
        x="share:Q", text=alt.Text("text:N"),
        detail="vote:N")
    vote_names = base.mark_text(align="right", dx=-4, fontSize=font_size * 0.6,
                                color="white").encode(x="share:Q", text="vote:N")
    rows = len(frame) // 2
    height = max(200, rows * font_size * 5)
    return (bars + labels + vote_names).properties(width=width, height=int(height))


def shift_summary(first: RoomAggregate, second: RoomAggregate, revealed: bool) -> str:
    """The shift in one sentence per option, for anyone who cannot read the chart."""
    if not (first.shown and second.shown):
        return "The shift appears once both votes have at least 5 answers."
    parts = []
    for a, b in zip(first.options, second.options):
        mark = " (right answer)" if revealed and a.correct else ""
        parts.append(f"“{a.option}”{mark}: {first.share(a):.0%} → {second.share(b):.0%}")
    return "; ".join(parts) + "."


def spread_summary(aggregate: RoomAggregate, revealed: bool) -> str:
    """The bar chart in words (a plan or a text round has no bars: its count of answers)."""
    if not aggregate.shown:
        return aggregate.status
    if aggregate.round.question.free:
        noun = "plans" if aggregate.round.question.kind == "checker" else "answers"
        return f"{aggregate.answers} {noun}; the summary download has the room's result."
    parts = [f"“{o.option}”{' (right answer)' if revealed and o.correct else ''}: "
             f"{aggregate.share(o):.0%}" for o in aggregate.options]
    return f"{aggregate.answers} answers. " + "; ".join(parts) + "."


# ----------------------------------------------------------------------------- after the session

EXPORT_COLUMNS = ["room", "title", "question_no", "vote", "question", "option", "right_answer",
                  "count", "share", "answers", "participants", "opened_at", "closed_at"]


def free_rows(store: WorkshopStore, round_: Round) -> list[tuple[str, int | None]]:
    """(option, count) rows for a round answered without options, from 5 answers on: a checker
    game's green and not-green plans, or an open text's approved answers (count left blank)."""
    from course.analytics import MIN_GROUP_SIZE
    from course import workshop_checker as checker

    answers = store.current_answers(round_.id)
    if len(answers) < MIN_GROUP_SIZE:
        return []
    if round_.question.kind == "checker":
        # Green or not is the visible checker's verdict: no hidden team needed (seed 0 unused).
        plans = checker.room_plans(answers, 0, round_.question.dashboard_target)
        return [(checker.GREEN, len(plans.green)),
                (checker.NOT_GREEN, len(plans.plans) - len(plans.green))]
    return [(text, None) for text in store.approved_texts(round_)]


def room_results(store: WorkshopStore, workshop: Workshop) -> pd.DataFrame:
    """Every question of a room, one row per option: counts (blank below 5 answers), shares, and
    which option was right where the question had one. Nothing about any one participant."""
    rows: list[dict[str, Any]] = []
    for round_ in store.rounds(workshop.code):
        aggregate = store.aggregate(round_.id, round_=round_)
        if round_.question.free:
            for option, count in free_rows(store, round_):
                rows.append({
                    "room": workshop.code, "title": workshop.title, "question_no": round_.seq,
                    "vote": round_.vote, "question": round_.question.prompt, "option": option,
                    "right_answer": None, "count": count,
                    "share": None if count is None else round(count / aggregate.answers, 4),
                    "answers": aggregate.answers, "participants": aggregate.participants,
                    "opened_at": round_.opened_at, "closed_at": round_.closed_at})
            continue
        for option in aggregate.options:
            share = aggregate.share(option)
            rows.append({
                "room": workshop.code, "title": workshop.title, "question_no": round_.seq,
                "vote": round_.vote, "question": round_.question.prompt, "option": option.option,
                "right_answer": (option.correct if round_.question.has_answer else None),
                "count": option.count, "share": None if share is None else round(share, 4),
                "answers": aggregate.answers if aggregate.shown else None,
                "participants": aggregate.participants,
                "opened_at": round_.opened_at, "closed_at": round_.closed_at})
    frame = pd.DataFrame(rows, columns=EXPORT_COLUMNS)
    frame["count"] = frame["count"].astype("Int64")
    frame["answers"] = frame["answers"].astype("Int64")
    return frame


def results_csv(store: WorkshopStore, workshop: Workshop) -> bytes:
    buffer = io.StringIO()
    room_results(store, workshop).to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")


def room_summary(store: WorkshopStore, workshop: Workshop) -> str:
    """A one-page debrief in Markdown: each question's spread (and shift on a revote), the
    misconception worth discussing, the pre/post gain once 5 people took both."""
    rounds = store.rounds(workshop.code)
    lines = [f"# {workshop.title}", "",
             f"Room {workshop.code} · company scenario {workshop.scenario} · "
             f"{workshop.created_at:%Y-%m-%d %H:%M} to {workshop.ended_at():%H:%M} UTC · "
             f"{store.participant_count(workshop.code)} participants · {len(rounds)} questions", ""]
    by_id = {r.id: r for r in rounds}
    for round_ in rounds:
        aggregate = store.aggregate(round_.id, round_=round_)
        vote = f" (vote {round_.vote})" if round_.vote > 1 or any(
            r.first_vote_id == round_.id for r in rounds) else ""
        lines.append(f"**{round_.seq}. {round_.question.prompt}**{vote}")
        lines.append("")
        if round_.question.free:
            lines.extend(_free_summary(store, workshop, round_))
        elif not aggregate.shown:
            lines.append(f"- fewer than {aggregate.min_group} answers: spread not shown")
        else:
            for option in aggregate.options:
                mark = " ✓" if option.correct else ""
                lines.append(f"- {option.option}{mark}: {aggregate.share(option):.0%} "
                             f"({option.count})")
            first = by_id.get(round_.first_vote_id) if round_.first_vote_id else None
            if first is not None:
                first_aggregate = store.aggregate(first.id, round_=first)
                lines.append(f"- shift from vote 1: "
                             f"{shift_summary(first_aggregate, aggregate, True)}")
            top = aggregate.popular_wrong_answer
            if top is not None:
                named = f" ({top.misconception})" if top.misconception else ""
                lines.append(f"- worth discussing: {aggregate.share(top):.0%} chose "
                             f"“{top.option}”{named}")
        lines.append("")
    gain = store.gain(workshop.code)
    if gain.shown:
        lines.append(f"Pre/post test ({gain.learners} people took both): "
                     f"{gain.pre_mean:.0%} → {gain.post_mean:.0%}.")
    else:
        lines.append("Pre/post test: fewer than 5 people took both, so no gain is shown.")
    return "\n".join(lines) + "\n"


def _free_summary(store: WorkshopStore, workshop: Workshop, round_: Round) -> list[str]:
    """A checker game's two verdicts, or an open text's approved answers (as quoted text)."""
    from course.analytics import MIN_GROUP_SIZE
    from course import workshop_checker as checker

    answers = store.current_answers(round_.id)
    if len(answers) < MIN_GROUP_SIZE:
        return [f"- fewer than {MIN_GROUP_SIZE} answers: not shown"]
    if round_.question.kind == "checker":
        plans = checker.room_plans(answers, workshop.seed, round_.question.dashboard_target)
        return [f"- {plans.visible_summary()}", f"- hidden check: {plans.hidden_summary()}"]
    approved = store.approved_texts(round_)
    return [f"- {len(answers)} answers, {len(approved)} approved for the room:",
            *(f"  - {escape_markdown(text)}" for text in approved)]


def escape_markdown(text: str) -> str:
    """A participant's text as plain text in Markdown: no HTML, link or emphasis it could carry."""
    import html
    import re

    return re.sub(r"([\\`*_{}\[\]()#+\-.!|>~])", r"\\\1", html.escape(text, quote=False))


def round_label(round_: Round) -> str:
    vote = f" · vote {round_.vote}" if round_.vote > 1 else ""
    return f"{round_.seq}. {round_.question.prompt[:90]}{vote}"


def gallery(store: WorkshopStore, round_: Round) -> list[str] | None:
    """The open answers the whole room may see (projector and phones alike): the ones the trainer
    approved, in the room's keyed order; None while fewer than MIN_GROUP_SIZE people answered, so
    nobody's text is shown where it could be told apart from three others."""
    if store.answer_count(round_.id) < MIN_GROUP_SIZE:
        return None
    return store.approved_texts(round_)
