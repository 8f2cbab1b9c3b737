"""The leader take-away of one workshop room: what the room found, how its answers moved from
form A to form B, the commitments it wrote, and the course's recommendations for leaders.

A trainer hands it to the people who run the programme the room discussed, so it holds the
room's aggregates only: no nickname, no one person's answers, nothing from fewer than MIN_GROUP
answers, and participants' texts only once the trainer approved them (open text's moderation).
Everything a participant or a trainer wrote is escaped for the page it lands on. Pure functions
over `course.workshop`; the host page only offers the two downloads.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from course import workshop_checker
from course.analytics import GainSummary
from course.charts import MIN_GROUP
from course.workshop import Round, Workshop, WorkshopStore
from course.workshop_kit import COMMITMENT_KEY, Kit, load_kit, module_sources
from course.workshop_report import escape_markdown
from datasets.errors import UserError

STAGE_NAMES = {"pretest": "before, form A", "posttest": "after, form B"}


@dataclass(frozen=True)
class OptionShare:
    text: str
    share: float
    count: int
    right: bool


@dataclass(frozen=True)
class Finding:
    """One question the room answered, as a leader reads it."""

    number: int
    vote: int
    prompt: str
    stage: str | None                  # "pretest"/"posttest" for the test's two forms
    answers: int
    shown: bool                        # at least MIN_GROUP answers
    options: tuple[OptionShare, ...]   # empty when not shown, or for a plan or an open text
    key: str | None                    # the right answer's text; None: opinion, scale or free
    notes: tuple[str, ...] = ()        # a checker game's verdicts, a wrong answer worth discussing
    texts: tuple[str, ...] = ()        # an open text's approved answers


@dataclass(frozen=True)
class Recommendation:
    heading: str
    points: tuple[str, ...]
    sources: tuple[str, ...]           # "Module 3 · Activity versus outcome"


@dataclass(frozen=True)
class RoomBrief:
    title: str
    room_title: str
    code: str
    held: str                          # "2026-03-02, 09:00 to 10:30 UTC"
    company: str                       # the scenario's name and description
    participants: int
    findings: tuple[Finding, ...]
    gain: GainSummary
    commitments: tuple[str, ...]       # approved commitments, in a keyed (not arrival) order
    commitments_written: int           # people who answered the commitment prompt(s), approved or not
    recommendations: tuple[Recommendation, ...]
    min_group: int = MIN_GROUP
    own_data: bool = False             # the room discussed its organisation's own audit

    @property
    def company_line(self) -> str:
        """What the room discussed, in words true for the room (an audit room is not synthetic)."""
        if self.own_data:
            return ("The room discussed its own organisation's audit: team-week aggregates of "
                    "real usage and delivered work, no person, no team under five.")
        return f"The company the room discussed (synthetic): {self.company}"


def _company(scenario: str) -> str:
    try:
        from datasets.scenario import load_scenario

        description = " ".join(load_scenario(scenario).description.split())
    except (UserError, OSError, ValueError):
        description = ""
    return f"{scenario}: {description}" if description else scenario


def _finding(store: WorkshopStore, room: Workshop, round_: Round, min_group: int) -> Finding:
    question = round_.question
    aggregate = store.aggregate(round_.id, min_group=min_group, round_=round_)
    base = dict(number=round_.seq, vote=round_.vote, prompt=question.prompt,
                stage=question.stage, answers=aggregate.answers, shown=aggregate.shown,
                key=question.answer)
    if not aggregate.shown:
        return Finding(options=(), **base)
    if question.kind == "checker":
        plans = workshop_checker.room_plans(store.current_answers(round_.id), room.seed,
                                            question.dashboard_target)
        return Finding(options=(), notes=(plans.visible_summary(),
                                          f"Hidden check: {plans.hidden_summary()}"), **base)
    if question.kind == "text":
        return Finding(options=(), texts=tuple(store.approved_texts(round_)), **base)
    options = tuple(OptionShare(o.option, aggregate.share(o) or 0.0, o.count or 0, o.correct)
                    for o in aggregate.options)
    notes = ()
    top = aggregate.popular_wrong_answer
    if top is not None:
        named = f" (misconception: {top.misconception})" if top.misconception else ""
        notes = (f"Worth following up: {aggregate.share(top):.0%} chose “{top.option}”{named}.",)
    return Finding(options=options, notes=notes, **base)


def room_brief(store: WorkshopStore, room: Workshop, kit: Kit | None = None,
               min_group: int = MIN_GROUP) -> RoomBrief:
    """Everything the leader brief shows for `room`, read from the store (during or after it)."""
    kit = kit or load_kit()
    rounds = store.rounds(room.code)
    findings, commitments, asked = [], [], []
    for round_ in rounds:
        if round_.question.key == COMMITMENT_KEY:
            asked.append(round_.id)
            if store.answer_count(round_.id) >= min_group:
                commitments.extend(t for t in store.approved_texts(round_) if t not in commitments)
            continue
        findings.append(_finding(store, room, round_, min_group))
    written = store.answerer_count(asked)   # people, not answers: the prompt may be asked twice
    ended = min(room.ended_at(), store.clock())
    held = (f"{room.created_at:%Y-%m-%d}, {room.created_at:%H:%M} to "
            f"{ended:%H:%M} UTC" + ("" if ended.date() == room.created_at.date()
                                    else f" on {ended:%Y-%m-%d}"))
    recommendations = tuple(Recommendation(s.heading, s.points, module_sources(s.modules))
                            for s in kit.leader_brief.sections)
    return RoomBrief(kit.leader_brief.title, room.title, room.code, held, _company(room.scenario),
                     store.participant_count(room.code), tuple(findings),
                     store.gain(room.code, min_group=min_group), tuple(commitments), written,
                     recommendations, min_group, own_data=room.is_audit)


# ----------------------------------------------------------------------------- the words

def gain_sentence(gain: GainSummary, min_group: int = MIN_GROUP) -> str:
    """The room's change from form A to form B, with its interval, or why there is none."""
    if not gain.shown:
        return (f"Fewer than {min_group} people answered both the test before (form A) and the "
                "test after (form B), so the room's change is not shown.")
    points = round(100 * gain.mean_gain)
    low, high = round(100 * gain.gain_low), round(100 * gain.gain_high)
    sentence = (f"{gain.learners} people answered both tests. The room's share of right "
                f"answers went from {gain.pre_mean:.0%} before (form A) to {gain.post_mean:.0%} "
                f"after (form B): {points:+d} points, 95% interval {low:+d} to {high:+d}.")
    if low <= 0 <= high:
        sentence += (" The interval includes no change: with a room this size, read the "
                     "direction, not the figure.")
    return sentence


def _option_line(option: OptionShare) -> str:
    return f"{option.share:.0%} ({option.count})"


def _finding_heading(finding: Finding) -> str:
    parts = [f"{finding.number}."]
    if finding.stage:
        parts.append(f"[{STAGE_NAMES[finding.stage]}]")
    if finding.vote > 1:
        parts.append(f"[vote {finding.vote}]")
    return " ".join(parts)


def brief_markdown(brief: RoomBrief) -> str:
    """The leader brief in Markdown: everything the room's people wrote (titles, questions,
    options, answers) escaped; the kit's own, linted text as written, so it stays readable."""
    md = escape_markdown
    lines = [f"# {brief.title}", "",
             f"**{md(brief.room_title)}** · room {brief.code} · {brief.held} · "
             f"{brief.participants} participants", "",
             brief.company_line, "",
             "## What the room found", ""]
    if not brief.findings:
        lines += ["The room was asked no questions.", ""]
    for finding in brief.findings:
        lines.append(f"**{_finding_heading(finding)} {md(finding.prompt)}**")
        lines.append("")
        if not finding.shown:
            lines.append(f"- fewer than {brief.min_group} answers: not shown")
        for option in finding.options:
            mark = " — right answer" if option.right else ""
            lines.append(f"- {md(option.text)}: {_option_line(option)}{mark}")
        if finding.shown and finding.options and finding.key is None:
            lines.append("- (an opinion: no answer is right)")
        for note in finding.notes:
            lines.append(f"- {md(note)}")
        if finding.shown and not finding.options and not finding.notes:
            lines.append(f"- {finding.answers} answers; {len(finding.texts)} approved by the "
                         "trainer:")
            lines.extend(f"  - {md(text)}" for text in finding.texts)
        lines.append("")
    lines += ["## Before and after", "", gain_sentence(brief.gain, brief.min_group), "",
              "## The room's commitments", "", _commitments_intro(brief), ""]
    lines.extend(f"- {md(text)}" for text in brief.commitments)
    lines += ["", "## What the course recommends", ""]
    for rec in brief.recommendations:
        lines.append(f"### {rec.heading}")
        lines.append("")
        lines.extend(f"- {point}" for point in rec.points)
        lines.append(f"- *From the course: {'; '.join(rec.sources)}*")
        lines.append("")
    lines.append(_footer(brief))
    return "\n".join(lines) + "\n"


def _commitments_intro(brief: RoomBrief) -> str:
    if brief.commitments_written < brief.min_group:
        return (f"Fewer than {brief.min_group} people wrote a commitment, so none is shown."
                if brief.commitments_written else "The room was not asked for commitments.")
    if not brief.commitments:
        return (f"{brief.commitments_written} people wrote a commitment; the trainer approved "
                "none for sharing.")
    return (f"{brief.commitments_written} people wrote a commitment; these "
            f"{len(brief.commitments)} were approved by the trainer for sharing, without names:")


def _footer(brief: RoomBrief) -> str:
    return (f"Answers are anonymous. Questions with fewer than {brief.min_group} answers are left "
            "out, and no one person's answers appear.")


_STYLE = ("body{font-family:system-ui,sans-serif;max-width:46rem;margin:1.5rem auto;padding:0 1rem;"
          "line-height:1.35;color:#222;font-size:15px}h1{font-size:1.35rem;margin:0 0 .3rem}"
          "h2{font-size:1.1rem;margin:1.1rem 0 .3rem;border-bottom:1px solid #ccc}"
          "h3{font-size:1rem;margin:.7rem 0 .2rem}ul{margin:.2rem 0 .5rem;padding-left:1.2rem}"
          ".q{margin:.5rem 0 .1rem;font-weight:600}.meta{color:#555}"
          "table{border-collapse:collapse;width:100%;margin:.1rem 0 .4rem}"
          "td{padding:.1rem .3rem;vertical-align:middle}td.o{width:55%}td.n{width:7rem;"
          "text-align:right;white-space:nowrap}.bar{height:.8rem;background:#0072B2}"
          ".right .bar{background:#009E73}.right td.o{font-weight:600}.src{color:#555;font-size:.9em}"
          "@media print{body{margin:0;font-size:11pt}a{color:inherit}}"
          "@page{size:A4;margin:14mm}")


def brief_html(brief: RoomBrief) -> str:
    """The leader brief as one self-contained, printable page: no script, no outside file;
    the spreads are drawn as bars in the page's own style."""
    e = html.escape
    out = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
           f"<title>{e(brief.title)} - {e(brief.room_title)}</title><style>{_STYLE}</style>"
           f"</head><body><h1>{e(brief.title)}</h1>",
           f"<p class=\"meta\"><strong>{e(brief.room_title)}</strong> · room {e(brief.code)} · "
           f"{e(brief.held)} · {brief.participants} participants<br>{e(brief.company_line)}</p>",
           "<h2>What the room found</h2>"]
    if not brief.findings:
        out.append("<p>The room was asked no questions.</p>")
    for finding in brief.findings:
        out.append(f"<p class=\"q\">{e(_finding_heading(finding))} {e(finding.prompt)}</p>")
        if not finding.shown:
            out.append(f"<p class=\"meta\">Fewer than {brief.min_group} answers: not shown.</p>")
        if finding.options:
            out.append("<table>")
            for option in finding.options:
                right = " class=\"right\"" if option.right else ""
                mark = " ✓ right answer" if option.right else ""
                out.append(f"<tr{right}><td class=\"o\">{e(option.text)}{mark}</td>"
                           f"<td class=\"n\">{_option_line(option)}</td><td><div class=\"bar\" "
                           f"style=\"width:{100 * option.share:.0f}%\"></div></td></tr>")
            out.append("</table>")
            if finding.key is None:
                out.append("<p class=\"meta\">An opinion: no answer is right.</p>")
        if finding.notes:
            out.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in finding.notes) + "</ul>")
        if finding.shown and not finding.options and not finding.notes:
            out.append(f"<p class=\"meta\">{finding.answers} answers; {len(finding.texts)} "
                       "approved by the trainer:</p>")
            if finding.texts:
                out.append("<ul>" + "".join(f"<li>{e(t)}</li>" for t in finding.texts) + "</ul>")
    out.append(f"<h2>Before and after</h2><p>{e(gain_sentence(brief.gain, brief.min_group))}</p>")
    out.append(f"<h2>The room's commitments</h2><p>{e(_commitments_intro(brief))}</p>")
    if brief.commitments:
        out.append("<ul>" + "".join(f"<li>{e(t)}</li>" for t in brief.commitments) + "</ul>")
    out.append("<h2>What the course recommends</h2>")
    for rec in brief.recommendations:
        out.append(f"<h3>{e(rec.heading)}</h3><ul>"
                   + "".join(f"<li>{e(p)}</li>" for p in rec.points)
                   + f"</ul><p class=\"src\">From the course: {e('; '.join(rec.sources))}</p>")
    out.append(f"<p class=\"meta\">{e(_footer(brief))}</p></body></html>\n")
    return "".join(out)


def leader_brief_files(store: WorkshopStore, room: Workshop) -> tuple[str, str]:
    """(HTML, Markdown) of the room's leader brief, read once for both downloads."""
    brief = room_brief(store, room)
    return brief_html(brief), brief_markdown(brief)
