"""A team-level audit of an organisation's own AI-usage exports beside its delivered work.

The course's rules, applied to real files: usage and outcomes are joined on team and week, never
on a person; a team with fewer than five people on the roster is not shown, and the company
totals are summed over the teams shown, so a hidden team cannot be found by subtraction; no person
is ranked or named; every sentence is computed from the data, and the report says what the data
cannot show without a rollout or a pilot. The report holds only team-week aggregates.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import altair as alt
import numpy as np
import pandas as pd

from datasets.outcomes import Roster, monday

MIN_GROUP = 5
WINDOW_WEEKS = 4           # the first and the last weeks compared for the change over the period
ADOPTED_DAYS, ACTIVE_DAYS = 2, 8   # GitHub's adoption bar (2 of 28 days) against regular use
WHOLE_ORGANISATION = "whole organisation"


@dataclass
class Audit:
    """What the report shows: team-week aggregates and computed sentences (no person-level data)."""

    weekly: pd.DataFrame                 # team, week, active_users, interactions, delivered, incidents
    findings: list[str] = field(default_factory=list)
    cautions: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    design: list[str] = field(default_factory=list)
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None
    people: dict[str, int] = field(default_factory=dict)   # size of each team shown (all >= MIN_GROUP)


def _team_of(ids: pd.Series, roster: Roster | None) -> pd.Series:
    if roster is None:
        return pd.Series(WHOLE_ORGANISATION, index=ids.index, dtype="object")
    return ids.map(lambda person: roster.teams.get(person) if isinstance(person, str) else None)


def _pct(after: float, before: float) -> float:
    return float("nan") if not before else 100.0 * (after / before - 1.0)


def _fmt(value: float) -> str:
    return "an unknown share" if not np.isfinite(value) else f"{value:+.0f}%"


def build_audit(usage: pd.DataFrame, outcomes: pd.DataFrame, roster: Roster | None = None,
                min_group: int = MIN_GROUP) -> Audit:
    """Aggregate usage (the importers' tidy table) and outcomes (datasets.outcomes) by team and week."""
    # counts in float64 whatever the importer stored them as (float32 where exact): sums over a
    # company's weeks would otherwise round
    counts = {column: usage[column].astype("float64") for column in usage.columns
              if column not in ("user", "day", "source") and usage[column].dtype == "float32"}
    usage = usage.assign(team=_team_of(usage["user"].astype("object"), roster),
                         week=monday(usage["day"]), **counts)
    outcomes = outcomes.copy()
    if len(outcomes):
        by_person = _team_of(outcomes["person"].astype("object"), roster)
        outcomes["team"] = outcomes["team"].where(outcomes["team"].notna(), by_person)
        if roster is None:
            outcomes["team"] = WHOLE_ORGANISATION
        outcomes["week"] = monday(outcomes["day"])
    audit = Audit(weekly=pd.DataFrame())

    unmapped = usage["team"].isna()
    if unmapped.any():
        audit.dropped.append(f"{int(unmapped.sum()):,} user-days of usage from "
                             f"{usage.loc[unmapped, 'user'].nunique():,} identities that are not on the roster")
    usage = usage[~unmapped]
    if len(outcomes):
        lost = outcomes["team"].isna()
        if lost.any():
            audit.dropped.append(f"{int(lost.sum()):,} delivered items or incidents whose person is not on the roster")
        outcomes = outcomes[~lost]

    sizes = (pd.Series(roster.sizes) if roster is not None
             else pd.Series({WHOLE_ORGANISATION: usage["user"].nunique()}))
    small = sorted(team for team, size in sizes.items() if size < min_group)
    if small:
        audit.dropped.append(f"{len(small)} team(s) with fewer than {min_group} people on the roster are "
                             "left out entirely, and the totals below leave them out too, so they cannot "
                             "be worked out by subtraction")
    shown = [team for team in sizes.index if team not in small]
    audit.people = {str(team): int(sizes[team]) for team in shown}
    usage = usage[usage["team"].isin(shown)]
    outcomes = outcomes[outcomes["team"].isin(shown)] if len(outcomes) else outcomes

    if usage.empty:
        audit.findings.append("No usage is left to report once small teams and unknown identities are set aside.")
        return audit
    # whole weeks only: a week the files cover in part would look like a fall in everything
    first_day, last_day = pd.Timestamp(usage["day"].min()), pd.Timestamp(usage["day"].max())
    first_week = first_day + pd.Timedelta(days=(7 - first_day.weekday()) % 7)
    last_week = last_day - pd.Timedelta(days=(last_day.weekday() + 1) % 7) - pd.Timedelta(days=6)
    if last_week < first_week:
        audit.findings.append("The files cover less than one whole week (Monday to Sunday): nothing to compare.")
        return audit
    partial = (usage["week"] < first_week) | (usage["week"] > last_week)
    if partial.any():
        audit.dropped.append(f"{int(partial.sum()):,} user-days in the weeks the files cover only in part "
                             "(at the start or the end), so every week compared is a whole week")
    usage = usage[~partial]
    if len(outcomes):
        outcomes = outcomes[(outcomes["week"] >= first_week) & (outcomes["week"] <= last_week)]
    weeks = pd.date_range(first_week, last_week, freq="7D")
    grid = pd.MultiIndex.from_product([shown, weeks], names=["team", "week"])
    active = usage[usage[["interactions", "acceptances", "tokens_in"]].fillna(0).sum(axis=1) > 0
                   ].groupby(["team", "week"])["user"].nunique()
    if usage["interactions"].isna().all():          # date-only reports (M365): a day listed is use
        active = usage.groupby(["team", "week"])["user"].nunique()
    weekly = pd.DataFrame(index=grid)
    weekly["active_users"] = active.reindex(grid).fillna(0)
    weekly["interactions"] = usage.groupby(["team", "week"])["interactions"].sum(min_count=1).reindex(grid)
    delivered = outcomes[outcomes["kind"] != "incident"] if len(outcomes) else outcomes
    incidents = outcomes[outcomes["kind"] == "incident"] if len(outcomes) else outcomes
    weekly["delivered"] = (delivered.groupby(["team", "week"]).size().reindex(grid).fillna(0)
                           if len(delivered) else np.nan)
    weekly["incidents"] = (incidents.groupby(["team", "week"]).size().reindex(grid).fillna(0)
                           if len(incidents) else np.nan)
    weekly = weekly.reset_index()
    # a count of people under five in one team-week is shown as missing, never as a number
    weekly["active_users"] = weekly["active_users"].where(weekly["active_users"] >= min_group)
    audit.weekly = weekly
    audit.period = (first_week, last_week + pd.Timedelta(days=6))
    _findings(audit, usage, delivered, weekly, shown, min_group)
    _cautions(audit, usage)
    audit.design = [
        "Roll the tool out team by team in an order drawn at random, and compare teams that have it "
        "with teams that do not yet, week by week (a staggered rollout); or run a pilot with a "
        "randomised group and a holdout.",
        "Write down before the rollout which outcome decides (delivered work that reached users, "
        "cycle time), which guardrail must not get worse (incidents, rework) and the review date.",
        "Report teams, never people, and keep usage data out of performance reviews: a usage "
        "number that counts in a review becomes a target, and targets get gamed.",
    ]
    return audit


def _findings(audit: Audit, usage: pd.DataFrame, delivered: pd.DataFrame, weekly: pd.DataFrame,
              shown: list[str], min_group: int) -> None:
    org = weekly.groupby("week")[["interactions", "delivered", "incidents"]].sum(min_count=1)
    people = usage.groupby("week")["user"].nunique()
    weeks = list(org.index)
    start, end = audit.period
    audit.findings.append(
        f"The files cover {start:%d %B %Y} to {end:%d %B %Y}: {len(weeks)} weeks, {len(shown)} team(s) "
        f"of at least {min_group} people.")
    if len(weeks) < 2 * WINDOW_WEEKS:
        audit.findings.append(f"That is too short to compare the first {WINDOW_WEEKS} weeks with the last "
                              f"{WINDOW_WEEKS}; collect at least {2 * WINDOW_WEEKS} weeks.")
        return
    first, last = weeks[:WINDOW_WEEKS], weeks[-WINDOW_WEEKS:]
    users_change = _pct(people.reindex(last).mean(), people.reindex(first).mean())
    use_change = _pct(org.loc[last, "interactions"].mean(), org.loc[first, "interactions"].mean())
    audit.findings.append(
        f"People using AI each week changed by {_fmt(users_change)} from the first {WINDOW_WEEKS} weeks to the "
        f"last {WINDOW_WEEKS}; AI interactions changed by {_fmt(use_change)}.")
    if len(delivered):
        work_change = _pct(org.loc[last, "delivered"].mean(), org.loc[first, "delivered"].mean())
        if not (np.isfinite(use_change) and np.isfinite(work_change)):
            verdict = "the two changes cannot be compared"
        elif use_change > work_change + 5:
            verdict = "usage grew faster than delivered work"
        elif work_change > use_change + 5:
            verdict = "delivered work grew faster than usage"
        else:
            verdict = "the two moved by about as much"
        audit.findings.append(f"Delivered work (merged pull requests and resolved issues) changed by "
                              f"{_fmt(work_change)} over the same weeks: {verdict}.")
        together = 0
        judged = 0
        for _, team in weekly.groupby("team"):
            pair = team[["interactions", "delivered"]].dropna()
            if len(pair) >= 2 * WINDOW_WEEKS and pair["interactions"].std() > 0 and pair["delivered"].std() > 0:
                judged += 1
                together += pair["interactions"].corr(pair["delivered"]) >= 0.3
        if judged:
            audit.findings.append(
                f"In {together} of {judged} team(s) the weeks with more AI use were also weeks with more "
                "delivered work (a correlation of 0.3 or more); in the rest the two did not move together.")
        idle = weekly[(weekly["interactions"] > 0)]
        if len(idle):
            share = float((idle["delivered"] == 0).mean())
            audit.findings.append(f"In {share:.0%} of the team-weeks with AI use, the team delivered no "
                                  "merged pull request or resolved issue.")
    if weekly["incidents"].notna().any() and len(delivered):
        rate_first = org.loc[first, "incidents"].sum() / max(1.0, org.loc[first, "delivered"].sum())
        rate_last = org.loc[last, "incidents"].sum() / max(1.0, org.loc[last, "delivered"].sum())
        audit.findings.append(f"Incidents per delivered item went from {rate_first:.2f} to {rate_last:.2f}: "
                              "the guardrail to read beside any speed-up.")
    days = pd.to_datetime(usage["day"])
    business = pd.bdate_range(days.min(), days.max())
    month_end = set()
    for _, month in pd.Series(business).groupby(pd.Series(business).dt.to_period("M")):
        month_end.update(month.iloc[-2:])
    if usage["interactions"].notna().any() and len(business) >= 40:
        per_day = usage.groupby(days)["interactions"].sum()
        on_business = per_day.reindex(business).fillna(0)
        burst = on_business[on_business.index.isin(month_end)].mean() / max(1e-9, on_business[
            ~on_business.index.isin(month_end)].mean())
        audit.findings.append(f"On the last two working days of each month there were {burst:.1f}× the AI "
                              "interactions of an ordinary working day"
                              + (" — a burst before the numbers are read." if burst >= 1.3 else "."))


def _cautions(audit: Audit, usage: pd.DataFrame) -> None:
    last_day = pd.to_datetime(usage["day"]).max()
    recent = usage[pd.to_datetime(usage["day"]) > last_day - pd.Timedelta(days=28)]
    days_used = recent.groupby("user", observed=True)["day"].nunique()   # only users seen recently
    if len(days_used) >= MIN_GROUP:
        adopted = int((days_used >= ADOPTED_DAYS).sum())
        regular = int((days_used >= ACTIVE_DAYS).sum())
        audit.cautions.append(
            f"GitHub counts a person as having adopted Copilot after using it on {ADOPTED_DAYS} of 28 days. In the "
            f"last 28 days of these files {adopted} identities passed that bar, but only {regular} used AI on "
            f"{ACTIVE_DAYS} days or more: an adoption figure says little about how work is done.")
    audit.cautions += [
        "A comparison of AI users with non-users (a vendor's 'adoption multiplier') compares two "
        "different groups of people: those who choose to use a tool differ in their work before they "
        "use it, so the gap is not what the tool did.",
        "None of these numbers shows what AI caused. Usage and delivery both move with deadlines, "
        "staffing and the kind of work; only a comparison the organisation sets up (a staggered "
        "rollout or a randomised pilot) can separate the tool from everything else.",
    ]


def weekly_chart(weekly: pd.DataFrame) -> alt.Chart:
    """AI interactions and delivered work per week, each indexed to its first weeks' mean (= 100)."""
    org = weekly.groupby("week")[["interactions", "delivered"]].sum(min_count=1).reset_index()
    long = org.melt("week", var_name="series", value_name="value").dropna()
    base = long.groupby("series")["value"].transform(lambda v: v.head(WINDOW_WEEKS).mean() or np.nan)
    long = long.assign(index=100 * long["value"] / base).dropna()
    names = {"interactions": "AI interactions", "delivered": "delivered work"}
    long["series"] = long["series"].map(names)
    return alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("week:T", title="Week"),
        y=alt.Y("index:Q", title="Index (first weeks = 100)"),
        color=alt.Color("series:N", scale=alt.Scale(range=["#0072B2", "#D55E00"]), title=None),
        strokeDash=alt.StrokeDash("series:N", title=None),
    ).properties(width=640, height=260)


def _svg(chart: alt.Chart) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(chart.to_dict())


def audit_html(audit: Audit, title: str = "AI usage beside delivered work") -> str:
    """A self-contained page (charts inline as SVG, no script, no network) to hand to a client."""
    def items(lines: list[str]) -> str:
        return "".join(f"<li>{html.escape(line)}</li>" for line in lines)

    chart = _svg(weekly_chart(audit.weekly)) if len(audit.weekly) else ""
    table = audit.weekly.copy().dropna(axis="columns", how="all")
    if len(table):
        for column in ("interactions", "delivered", "incidents"):
            if column in table:
                table[column] = table[column].map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
        table["week"] = pd.to_datetime(table["week"]).dt.strftime("%Y-%m-%d")
        table["active_users"] = table["active_users"].map(lambda v: "fewer than 5" if pd.isna(v) else f"{v:.0f}")
    rows = "".join("<tr>" + "".join(f"<td>{html.escape('' if pd.isna(v) else str(v))}</td>" for v in row)
                   + "</tr>" for row in table.itertuples(index=False))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;line-height:1.45;color:#222}}
table{{border-collapse:collapse;font-size:.85rem}}td,th{{border:1px solid #ccc;padding:.2rem .5rem}}
h2{{margin-top:2rem}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Teams and weeks only: no person is shown or ranked, teams under {MIN_GROUP} people are left out,
and this page holds aggregates only.</p>
<h2>What the data shows</h2><ul>{items(audit.findings)}</ul>
{chart}
<h2>Where the usual numbers mislead</h2><ul>{items(audit.cautions)}</ul>
<h2>What would show the effect</h2><ul>{items(audit.design)}</ul>
<h2>What was left out, and why</h2><ul>{items(audit.dropped) or '<li>Nothing.</li>'}</ul>
<h2>Team-week table</h2><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>
</body></html>
"""
