"""Chart builders: the learner's company in, a pre-aggregated Altair chart + text summary + table out.

Every chart is built from at most a few thousand pre-aggregated rows (never raw events), uses the
Okabe-Ito colours that reach 3:1 on white, never relies on colour alone (dash, shape or labels
carry the same information), and hides any group of fewer than MIN_GROUP employees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd

from datasets import measures
from datasets.measures import AFTER, BEFORE, Company, closed_work, mandate_date, split_date, week_start

PALETTE: dict[str, str] = {
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "bluish_green": "#009E73",
    "reddish_purple": "#CC79A7",
}
SERIES_COLORS = list(PALETTE.values())
MIN_GROUP = 5
MAX_MARKS = 5000
DEADLINE_TYPES = measures.DEADLINE_TYPES


@dataclass(frozen=True)
class ChartResult:
    chart: alt.TopLevelMixin
    summary: str
    table: pd.DataFrame


ChartBuilder = Callable[[Company], ChartResult]


# ----------------------------------------------------------------------------- helpers

def _hidden(count: int, noun: str) -> str:
    """'1 team ... is' / '3 teams ... are' for the small-group notes under the charts."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _are(count: int) -> str:
    return "is" if count == 1 else "are"


def _scale(domain: list[str]) -> alt.Scale:
    return alt.Scale(domain=domain, range=SERIES_COLORS[:len(domain)])


def _dash(domain: list[str]) -> alt.Scale:
    dashes = [[1, 0], [6, 3], [2, 2], [8, 2, 2, 2]]
    return alt.Scale(domain=domain, range=dashes[:len(domain)])


def _shape(domain: list[str]) -> alt.Scale:
    return alt.Scale(domain=domain, range=["circle", "square", "triangle-up", "diamond"][:len(domain)])


def suppress_small_groups(frame: pd.DataFrame, count_column: str = "employees") -> tuple[pd.DataFrame, int]:
    """Drop rows that describe fewer than MIN_GROUP employees; return the rest and how many went."""
    small = frame[count_column] < MIN_GROUP
    return frame.loc[~small].reset_index(drop=True), int(small.sum())


MERGED_COLOR = "#8c8c8c"


def merge_small_cells(frame: pd.DataFrame, group: str, category: str, order: list[str],
                      count_column: str = "employees") -> tuple[pd.DataFrame, list]:
    """Within each group, draw a cell under MIN_GROUP together with the next-smallest cell (again
    until every drawn cell has MIN_GROUP or more): the small cell cannot be read off, even by
    subtraction from a known total, and no larger cell disappears to protect it. Returns the frame
    and the groups where cells were merged."""
    rows, merged_in = [], []
    for key, cells in frame.groupby(group, sort=True):
        parts = [([c], int(n)) for c, n in zip(cells[category], cells[count_column])]
        merged = False
        while len(parts) > 1 and min(n for _, n in parts) < MIN_GROUP:
            parts.sort(key=lambda part: part[1])
            (first, a), (second, b) = parts[0], parts[1]
            parts = [(first + second, a + b)] + parts[2:]
            merged = True
        if merged:
            merged_in.append(key)
        for names, n in parts:
            names = sorted(names, key=order.index)
            rows.append({group: key, category: " + ".join(names), count_column: n})
    return pd.DataFrame(rows, columns=[group, category, count_column]), merged_in


def _pct_change(after: float, before: float) -> float:
    return float("nan") if not before else 100.0 * (after / before - 1.0)


def _fmt_pct(value: float) -> str:
    return "an unknown amount" if not np.isfinite(value) else f"{value:+.0f}%"


def _mandate_rule(when: pd.Timestamp | None, label: str = "mandate") -> alt.Chart | None:
    if when is None:
        return None
    frame = pd.DataFrame({"date": [when], "label": [label]})
    rule = alt.Chart(frame).mark_rule(color="#555555", strokeDash=[4, 4]).encode(x="date:T")
    text = alt.Chart(frame).mark_text(align="left", dx=4, dy=-6, color="#333333").encode(
        x="date:T", y=alt.value(8), text="label:N")
    return rule + text


# ----------------------------------------------------------------------------- per-employee features

_FEATURE_CACHE: dict[int, tuple[Company, pd.DataFrame]] = {}


def employee_features(company: Company) -> pd.DataFrame:
    """Observable signals per employee (no labels), from datasets.measures; cached per company."""
    hit = _FEATURE_CACHE.get(id(company))
    if hit is not None and hit[0] is company:
        return hit[1].copy()
    features = measures.employee_features(company)
    if len(_FEATURE_CACHE) >= 8:
        _FEATURE_CACHE.clear()
    _FEATURE_CACHE[id(company)] = (company, features)
    return features.copy()


def flag_by_ranges(features: pd.DataFrame, ranges: dict[str, tuple[float, float]]) -> list[str]:
    """A learner's detector: AI users whose every chosen feature lies in its range are flagged.

    No ranges flags nobody; a missing value never satisfies a range."""
    if not ranges:
        return []
    users = features[features["ai_events"] > 0]
    mask = pd.Series(True, index=users.index)
    for column, (low, high) in ranges.items():
        mask &= users[column].between(low, high).fillna(False).astype(bool)
    return users.loc[mask, "employee_id"].tolist()


# ----------------------------------------------------------------------------- the charts

def adoption_vs_output(company: Company) -> ChartResult:
    """Usage and closed work on one time axis: the 'dashboards up, output flat' picture."""
    n_employees = max(1, len(company.employees))
    events = company.ai_events
    weeks = measures.complete_weeks(company)
    usage = events.groupby(week_start(events["timestamp"])).size().reindex(weeks, fill_value=0) / n_employees
    closed = closed_work(company.work_items)
    output = closed.groupby(week_start(closed["closed_at"])).size().reindex(weeks, fill_value=0) / n_employees
    split = split_date(company)
    # the week the mandate falls in is partly both: it counts on neither side
    before, after = weeks + pd.Timedelta(days=7) <= split, weeks >= split
    base_u = usage[before].mean() if before.any() else usage.iloc[0]
    base_o = output[before].mean() if before.any() else output.iloc[0]
    table = pd.DataFrame({
        "week": weeks,
        "ai_events_per_employee": usage.to_numpy().round(2),
        "closed_items_per_employee": output.to_numpy().round(3),
    })
    names = ["AI usage", "Closed work"]
    long = pd.concat([
        pd.DataFrame({"week": weeks, "series": names[0],
                      "index": (100 * usage / base_u if base_u else usage * 0).to_numpy().round(1)}),
        pd.DataFrame({"week": weeks, "series": names[1],
                      "index": (100 * output / base_o if base_o else output * 0).to_numpy().round(1)}),
    ])
    lines = alt.Chart(long).mark_line(point=True, strokeWidth=2.5).encode(
        x=alt.X("week:T", title="Week"),
        y=alt.Y("index:Q", title="Index (weeks before the mandate = 100)"),
        color=alt.Color("series:N", scale=_scale(names), title=None, legend=alt.Legend(orient="top")),
        strokeDash=alt.StrokeDash("series:N", scale=_dash(names), title=None),
        shape=alt.Shape("series:N", scale=_shape(names), title=None),
        tooltip=["week:T", "series:N", alt.Tooltip("index:Q", format=".0f")],
    )
    rule = _mandate_rule(mandate_date(company))
    chart = (lines + rule if rule is not None else lines).properties(height=320)
    u_change = _pct_change(usage[after].mean(), base_u) if after.any() else float("nan")
    o_change = _pct_change(output[after].mean(), base_o) if after.any() else float("nan")
    summary = (f"In the whole weeks after the mandate ({split.date()}), AI events per employee "
               f"changed by {_fmt_pct(u_change)} compared with the weeks before, while closed work "
               f"per employee changed by {_fmt_pct(o_change)}.")
    return ChartResult(chart, summary, table)


def between_team_share(users: pd.DataFrame) -> float:
    """The share of the variance of log token volume that lies between team means (eta squared):
    a spread statistic that compares like with like, unlike a ratio of team medians."""
    logs = np.log1p(users["tokens_per_week"].astype(float))
    total = float(((logs - logs.mean()) ** 2).sum())
    if total <= 0:
        return 0.0
    means = logs.groupby(users["team"]).transform("mean")
    return float(((means - logs.mean()) ** 2).sum() / total)


def tokens_by_archetype_hidden(company: Company) -> ChartResult:
    """Token volume per employee by team, with no labels: volume alone does not sort people."""
    features = employee_features(company)
    users = features[features["ai_events"] > 0]
    grouped = users.groupby("team")["tokens_per_week"]
    table = pd.DataFrame({
        "employees": grouped.size(),
        "p25": grouped.quantile(0.25).round(0),
        "median": grouped.median().round(0),
        "p75": grouped.quantile(0.75).round(0),
        "p90": grouped.quantile(0.90).round(0),
    }).reset_index()
    table, hidden = suppress_small_groups(table)
    table = table.sort_values("median", ascending=False).reset_index(drop=True)
    base = alt.Chart(table).encode(y=alt.Y("team:N", sort=list(table["team"]), title=None))
    box = base.mark_bar(color=PALETTE["blue"], opacity=0.35, stroke=PALETTE["blue"],
                         strokeWidth=1.5, height=18).encode(
        x=alt.X("p25:Q", title="Tokens per employee per week"), x2="p75:Q",
        tooltip=["team:N", "employees:Q", "p25:Q", "median:Q", "p75:Q", "p90:Q"])
    median = base.mark_tick(color=PALETTE["blue"], thickness=3, size=22).encode(x="median:Q")
    p90 = base.mark_point(shape="diamond", color=PALETTE["vermillion"], filled=True, size=80).encode(
        x="p90:Q")
    label = base.mark_text(align="left", dx=6, color="#333333").encode(
        x="p90:Q", text=alt.Text("p90:Q", format=",.0f"))
    chart = (box + median + p90 + label).properties(height=max(120, 36 * len(table)))
    if len(table):
        within = float((table["p90"] / table["p25"].clip(lower=1)).median())
        share = between_team_share(users[users["team"].isin(set(table["team"]))])
        spread = (f"{share:.0%} lies between teams and {1 - share:.0%} between people in the "
                  "same team: volume varies most between people" if share < 0.5 else
                  f"{share:.0%} lies between teams: volume varies most between teams")
        summary = (f"Within a typical team the top tenth of users burn about {within:.1f}× the "
                   f"tokens of the bottom quarter. Of all the variation in (log) token volume, "
                   f"{spread}, and nothing in it says whose use is real.")
    else:
        summary = "No team has enough AI users to show without identifying people."
    if hidden:
        summary += f" {_hidden(hidden, 'team')} with fewer than {MIN_GROUP} users {_are(hidden)} hidden."
    return ChartResult(chart, summary, table)


def acceptance_vs_tokens(company: Company) -> ChartResult:
    """Each AI user's token volume against how often their AI output is kept."""
    features = employee_features(company)
    users = features[features["ai_events"] > 0][["tokens_per_week", "acceptance_rate"]].copy()
    if len(users) > MAX_MARKS:   # bin instead of plotting more than MAX_MARKS points
        users["tokens_per_week"] = np.exp(np.round(np.log(users["tokens_per_week"].clip(lower=1)), 1))
        users["acceptance_rate"] = users["acceptance_rate"].round(2)
        users = users.value_counts().rename("employees").reset_index()
    else:
        users = users.assign(employees=1)
    table = users.reset_index(drop=True)
    chart = alt.Chart(table).mark_point(filled=True, opacity=0.6, color=PALETTE["blue"], stroke=PALETTE["blue"],
                                        strokeWidth=1, strokeOpacity=1,
                                        shape="circle").encode(
        x=alt.X("tokens_per_week:Q", scale=alt.Scale(type="log"), title="Tokens per week (log scale)"),
        y=alt.Y("acceptance_rate:Q", title="Share of AI output accepted or kept",
                axis=alt.Axis(format="%")),
        size=alt.Size("employees:Q", legend=None),
        tooltip=["tokens_per_week:Q", alt.Tooltip("acceptance_rate:Q", format=".0%"), "employees:Q"],
    ).properties(height=320)
    if len(table) >= 3:
        r = float(np.corrcoef(np.log(table["tokens_per_week"].clip(lower=1)),
                              table["acceptance_rate"])[0, 1])
        top = table["tokens_per_week"] >= table["tokens_per_week"].quantile(0.9)
        summary = (f"Across {len(features[features['ai_events'] > 0])} AI users the correlation "
                   f"between token volume (log) and acceptance is {r:+.2f}; the top tenth by tokens "
                   f"keep {table.loc[top, 'acceptance_rate'].mean():.0%} of their AI output against "
                   f"{table.loc[~top, 'acceptance_rate'].mean():.0%} for everyone else.")
    else:
        summary = "Too few AI users to compare token volume with acceptance."
    return ChartResult(chart, summary, table)


def self_authored_share(company: Company) -> ChartResult:
    """How much of each person's AI use is about documents they wrote themselves."""
    features = employee_features(company)
    # a non-user's share rests on a handful of prompts: it is noise, so only regular users count
    regular = ~measures.non_users(features.set_index("employee_id")["ai_events"]).to_numpy()
    shares = features.loc[regular & (features["ai_events"] > 0).to_numpy(),
                          "self_authored_share"].dropna().clip(0, 1)
    bins = np.minimum((shares * 10).astype(int), 9)
    counts = [int((bins == b).sum()) for b in range(10)]
    edges = list(range(11))          # bin b spans edges[b]..edges[b + 1] tenths
    while len(counts) > 1 and counts[-1] < MIN_GROUP:
        last = counts.pop()          # top-code sparse high bins into one open-ended bar
        counts[-1] += last
        edges.pop(-2)
    table = pd.DataFrame({
        "share_from": [edges[b] / 10 for b in range(len(counts))],
        "label": [f"{edges[b] * 10}–{edges[b + 1] * 10}%" for b in range(len(counts))],
        "employees": counts,
    })
    hidden = int(((table["employees"] > 0) & (table["employees"] < MIN_GROUP)).sum())
    table = table[(table["employees"] == 0) | (table["employees"] >= MIN_GROUP)]
    bars = alt.Chart(table).mark_bar(color=PALETTE["blue"]).encode(
        x=alt.X("label:N", sort=list(table["label"]), axis=alt.Axis(labelAngle=0),
                title="Share of an employee's prompts about documents they wrote themselves"),
        y=alt.Y("employees:Q", title="Employees"),
        tooltip=["label:N", "employees:Q"])
    text = bars.mark_text(dy=-6, color="#333333").encode(text="employees:Q")
    chart = (bars + text).properties(height=300)
    high = int((shares >= 0.5).sum())
    high_text = str(high) if high == 0 or high >= MIN_GROUP else f"fewer than {MIN_GROUP}"
    summary = (f"{high_text} of {len(shares)} regular AI users direct at least half of their prompts "
               f"at documents they wrote themselves, {int((shares < 0.2).sum())} less than a fifth; "
               f"half of them sit below {shares.median():.0%}. ")
    summary += ("The bars form one hump with a tail to the right: no empty gap sets a group apart."
                if not self_authored_gap(counts) else
                "An empty gap in the bars sets a group at high shares apart from the rest.")
    if hidden:
        summary += f" {_hidden(hidden, 'bar')} with fewer than {MIN_GROUP} employees {_are(hidden)} hidden."
    return ChartResult(chart, summary, table.reset_index(drop=True))


def self_authored_gap(counts: list[int]) -> bool:
    """Whether a histogram's bars have an empty bin between two occupied ones (a separate group)."""
    occupied = [i for i, n in enumerate(counts) if n > 0]
    return bool(occupied) and any(counts[i] == 0 for i in range(occupied[0], occupied[-1] + 1))


def deadline_bursts(company: Company) -> ChartResult:
    """AI events per working day by days left until the next deadline or dashboard refresh."""
    events = company.ai_events
    cal = company.calendar
    deadlines = pd.to_datetime(cal.loc[cal["event_type"].isin(DEADLINE_TYPES), "date"]).sort_values()
    days = pd.to_datetime(events["timestamp"]).dt.normalize()
    daily = days.value_counts().sort_index()
    daily = daily[daily.index.weekday < 5]
    if deadlines.empty or daily.empty:
        table = pd.DataFrame({"days_to_deadline": [], "events_per_day": [], "days": []})
        chart = alt.Chart(table).mark_line()
        return ChartResult(chart, "This company's calendar has no deadlines or dashboard refreshes.",
                           table)
    positions = np.searchsorted(deadlines.to_numpy(), daily.index.to_numpy())
    valid = positions < len(deadlines)
    next_deadline = deadlines.to_numpy()[positions[valid]]
    gap = (next_deadline - daily.index.to_numpy()[valid]) / np.timedelta64(1, "D")
    frame = pd.DataFrame({"days_to_deadline": gap.astype(int), "events": daily.to_numpy()[valid]})
    frame = frame[frame["days_to_deadline"] <= 14]
    grouped = frame.groupby("days_to_deadline")["events"]
    table = pd.DataFrame({"events_per_day": grouped.mean().round(1), "days": grouped.size()}).reset_index()
    line = alt.Chart(table).mark_line(point=alt.OverlayMarkDef(shape="square", size=60),
                                      color=PALETTE["vermillion"], strokeWidth=2.5).encode(
        x=alt.X("days_to_deadline:Q", scale=alt.Scale(reverse=True),
                title="Days until the next deadline or dashboard refresh"),
        y=alt.Y("events_per_day:Q", title="AI events per working day"),
        tooltip=["days_to_deadline:Q", "events_per_day:Q", "days:Q"])
    chart = line.properties(height=300)
    near = table.loc[table["days_to_deadline"] <= 2, "events_per_day"].mean()
    far = table.loc[table["days_to_deadline"] >= 7, "events_per_day"].mean()
    ratio = near / far if far and np.isfinite(far) and far > 0 else float("nan")
    summary = (f"In the last two days before a deadline or dashboard refresh the company logs "
               f"{near:.0f} AI events per working day, "
               + (f"{ratio:.1f}× the level a week or more earlier" if np.isfinite(ratio)
                  else "with no earlier days to compare")
               + ": bursts timed to what gets reported are a sign of usage made for the dashboard.")
    return ChartResult(chart, summary, table)


def sessions_linked_to_work(company: Company) -> ChartResult:
    """Weekly AI sessions and the share of them that fed closed or merged work."""
    events = company.ai_events
    sessions = events.groupby("session_id")["timestamp"].min()
    linked = measures.delivered_sessions(company.work_items)
    frame = pd.DataFrame({"week": week_start(sessions), "linked": sessions.index.isin(linked)})
    frame = frame[frame["week"].isin(measures.complete_weeks(company))]
    grouped = frame.groupby("week")["linked"]
    table = pd.DataFrame({"sessions": grouped.size(), "linked_share": grouped.mean().round(3)}).reset_index()
    bars = alt.Chart(table).mark_bar(color=PALETTE["blue"], opacity=0.5, stroke=PALETTE["blue"],
                                     strokeWidth=1).encode(
        x=alt.X("week:T", title="Week"), y=alt.Y("sessions:Q", title="AI sessions (bars)"),
        tooltip=["week:T", "sessions:Q", alt.Tooltip("linked_share:Q", format=".0%")])
    line = alt.Chart(table).mark_line(color=PALETTE["vermillion"], strokeDash=[6, 3], strokeWidth=2.5,
                                      point=alt.OverlayMarkDef(shape="triangle-up", size=50,
                                                               color=PALETTE["vermillion"])).encode(
        x="week:T", y=alt.Y("linked_share:Q", title="Share linked to work (dashed line)",
                            axis=alt.Axis(format="%")))
    layers = [bars, line]
    rule = _mandate_rule(mandate_date(company))
    chart = alt.layer(*layers).resolve_scale(y="independent")
    if rule is not None:
        chart = alt.layer(chart, rule)
    chart = chart.properties(height=320)
    split = split_date(company)
    before = table[table["week"] + pd.Timedelta(days=7) <= split]
    after = table[table["week"] >= split]
    def _share(part: pd.DataFrame) -> float:
        return float((part["sessions"] * part["linked_share"]).sum() / max(1, part["sessions"].sum()))
    summary = (f"Weekly sessions went from {before['sessions'].mean():.0f} before the mandate to "
               f"{after['sessions'].mean():.0f} after it, while the share of sessions that fed closed or "
               f"merged work went from {_share(before):.0%} to {_share(after):.0%}."
               if len(before) and len(after) else
               f"{_share(table):.0%} of AI sessions fed closed or merged work.")
    return ChartResult(chart, summary, table)


def cycle_time_before_after(company: Company) -> ChartResult:
    """Median cycle time by kind of work, before and after the mandate."""
    done = closed_work(company.work_items)
    done = done[done["cycle_time_hours"].notna()]
    done = done.assign(period=measures.period(done["created_at"], company))
    grouped = done.groupby(["kind", "period"])
    table = pd.DataFrame({"median_hours": grouped["cycle_time_hours"].median().round(1),
                          "items": grouped.size(),
                          "employees": grouped["employee_id"].nunique()}).reset_index()
    table, hidden = suppress_small_groups(table)
    periods = list(measures.PERIODS)
    bars = alt.Chart(table).mark_bar().encode(
        x=alt.X("kind:N", title="Kind of work", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("period:N", sort=periods),
        y=alt.Y("median_hours:Q", title="Median cycle time (hours)"),
        color=alt.Color("period:N", scale=_scale(periods), sort=periods, title=None,
                        legend=alt.Legend(orient="top")),
        tooltip=["kind:N", "period:N", "median_hours:Q", "items:Q"])
    text = alt.Chart(table).mark_text(dy=-6, color="#333333", fontSize=10).encode(
        x="kind:N", xOffset=alt.XOffset("period:N", sort=periods), y="median_hours:Q",
        text=alt.Text("period_short:N"))
    table_with_short = table.assign(period_short=table["period"].str.split().str[0])
    text = text.properties(data=table_with_short)
    chart = (bars + text).properties(height=300)
    parts = []
    for kind, rows in table.groupby("kind"):
        values = dict(zip(rows["period"], rows["median_hours"]))
        if len(values) == 2:
            parts.append(f"{kind.replace('_', ' ')}s {values[BEFORE]:.0f} → {values[AFTER]:.0f} h")
    summary = ("Median cycle time before → after the mandate: " + "; ".join(parts) + "."
               if parts else "Not enough closed work on both sides of the mandate to compare.")
    if hidden:
        summary += f" {_hidden(hidden, 'group')} with fewer than {MIN_GROUP} employees {_are(hidden)} hidden."
    return ChartResult(chart, summary, table)


def _detector_scores(company: Company) -> pd.DataFrame:
    """Every AI user's token rank and outcome-linked score (the reference detector, untrained: no
    labels go into the score), beside the hidden truth the chart is scored against: a labelled
    (practice) company only, see NEEDS_LABELS."""
    from datasets import reference

    features = employee_features(company)
    users = features[features["ai_events"] > 0].copy()
    users["token_score"] = users["tokens_per_week"].rank(pct=True)
    outcome = reference.employee_features(company)
    score = reference.default_detector(outcome).score(outcome)
    # people with no AI events since the mandate have no performed use to find: they rank last
    users["outcome_score"] = users["employee_id"].map(score).fillna(float(score.min()) - 1.0).astype(float)
    labels = company.labels   # an AttributeError on a graded company (the app holds no labels)
    if labels is None or not len(labels):
        raise ValueError("the detector chart needs the practice company's labels (held in server "
                         "memory)")
    archetype = users["employee_id"].map(labels.set_index("employee_id")["archetype"])
    users["is_tokenmaxxer"] = (archetype == "tokenmaxxer").to_numpy()
    users["is_genuine"] = (archetype == "genuine").to_numpy()
    return users


def precision_at_recall(table: pd.DataFrame, detector: str, recall: float = 0.5) -> float:
    """The precision of a detector's first threshold that reaches `recall` (a detector_tradeoff table)."""
    part = table[(table["detector"] == detector) & (table["recall"] >= recall)]
    return float(part["precision"].iloc[0]) if len(part) else float("nan")


def detector_tradeoff(company: Company) -> ChartResult:
    """Precision and recall of a token-count detector against an outcome-linked one."""
    users = _detector_scores(company)
    positives = max(1, int(users["is_tokenmaxxer"].sum()))
    rows = []
    names = {"token_score": "Token count", "outcome_score": "Outcome-linked features"}
    for column, name in names.items():
        ranked = users.sort_values(column, ascending=False)
        hits = ranked["is_tokenmaxxer"].to_numpy().cumsum()
        for share in np.arange(0.05, 1.0001, 0.05):
            k = max(1, int(round(share * len(ranked))))
            rows.append({"detector": name, "flagged_share": round(float(share), 2), "flagged": k,
                         "precision": round(hits[k - 1] / k, 3),
                         "recall": round(hits[k - 1] / positives, 3)})
    table = pd.DataFrame(rows)
    domain = list(names.values())
    chart = alt.Chart(table).mark_line(point=True, strokeWidth=2.5).encode(
        x=alt.X("recall:Q", title="Recall: share of tokenmaxxers caught", axis=alt.Axis(format="%")),
        y=alt.Y("precision:Q", title="Precision: share of flags that are right", axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("detector:N", scale=_scale(domain), title=None, legend=alt.Legend(orient="top")),
        strokeDash=alt.StrokeDash("detector:N", scale=_dash(domain), title=None),
        shape=alt.Shape("detector:N", scale=_shape(domain), title=None),
        order="flagged_share:Q",
        tooltip=["detector:N", "flagged:Q", alt.Tooltip("precision:Q", format=".0%"),
                 alt.Tooltip("recall:Q", format=".0%")],
    ).properties(height=320)
    token_p, outcome_p = (precision_at_recall(table, name) for name in domain)
    false_flags = int(round((1 - token_p) * positives / 2 / max(token_p, 1e-9))) if token_p > 0 else 0
    pairs = users[users["is_tokenmaxxer"] | users["is_genuine"]]
    summary = (f"To catch half of the tokenmaxxers, flagging by token count is right "
               f"{token_p:.0%} of the time, outcome-linked features {outcome_p:.0%}; with the token "
               f"detector that is about {false_flags} people wrongly accused on the way.")
    if pairs["is_tokenmaxxer"].any() and pairs["is_genuine"].any():
        from datasets.reference import roc_auc

        token_auc = roc_auc(pairs["token_score"], pairs["is_tokenmaxxer"])
        outcome_auc = roc_auc(pairs["outcome_score"], pairs["is_tokenmaxxer"])
        summary += (f" Of all pairs of a tokenmaxxer and a genuine adopter, the outcome-linked score "
                    f"ranks the tokenmaxxer higher in {outcome_auc:.0%}, the token count in "
                    f"{token_auc:.0%}.")
    return ChartResult(chart, summary, table)


def _monthly_categories(company: Company) -> pd.DataFrame:
    events = company.ai_events
    month = pd.to_datetime(events["timestamp"]).dt.to_period("M").dt.start_time
    linked = measures.delivered_sessions(company.work_items)
    frame = pd.DataFrame({"employee_id": events["employee_id"], "month": month,
                          "accepted": events["accepted"].astype("float64"),
                          "linked": events["session_id"].isin(linked).astype("float64")})
    per = frame.groupby(["employee_id", "month"]).agg(accepted=("accepted", "mean"),
                                                      linked=("linked", "mean"),
                                                      events=("accepted", "size")).reset_index()
    per["category"] = np.where((per["accepted"] >= 0.4) | (per["linked"] >= 0.2),
                               "outcome-linked use", "activity without outcome")
    # a month the data covers only in part would look like a fall in use: only whole months count
    months = measures.complete_months(company) or sorted(per["month"].unique())
    per = per[per["month"].isin(months)]
    everyone = pd.MultiIndex.from_product([company.employees["employee_id"], months],
                                          names=["employee_id", "month"]).to_frame(index=False)
    full = everyone.merge(per, on=["employee_id", "month"], how="left")
    full["category"] = full["category"].fillna("no AI use")
    return full


def first_months_with_access(company: Company, months: list) -> pd.Series:
    """Per employee, the first whole month that starts on or after their AI access (NaT when none
    does; every month when the company has no access dates): before it they could not use AI, so
    nobody can be said to move out of activity without outcome there."""
    employees = company.employees
    ids = employees["employee_id"]
    if "ai_access_from" not in employees.columns or not months:
        return pd.Series(pd.Timestamp(months[0]) if months else pd.NaT, index=ids.to_numpy())
    starts = pd.DatetimeIndex(sorted(pd.Timestamp(m) for m in months))
    access = pd.to_datetime(employees["ai_access_from"]).dt.normalize().to_numpy()
    position = starts.searchsorted(access)
    first = [starts[p] if p < len(starts) else pd.NaT for p in position]
    return pd.Series(first, index=ids.to_numpy())


def cohort_flows(company: Company) -> ChartResult:
    """Each month, how many people use AI in ways linked to outcomes, only perform it, or not at all."""
    full = _monthly_categories(company)
    categories = ["outcome-linked use", "activity without outcome", "no AI use"]
    table = full.groupby(["month", "category"]).size().rename("employees").reset_index()
    table, merged_months = merge_small_cells(table, "month", "category", categories)
    drawn = categories + sorted(set(table["category"]) - set(categories))
    colours = alt.Scale(domain=drawn, range=SERIES_COLORS[:len(categories)]
                        + [MERGED_COLOR] * (len(drawn) - len(categories)))
    chart = alt.Chart(table).mark_bar().encode(
        x=alt.X("yearmonth(month):O", title="Month"),
        y=alt.Y("employees:Q", title="Employees", stack="zero"),
        color=alt.Color("category:N", scale=colours, sort=drawn, title=None,
                        legend=alt.Legend(orient="top", labelLimit=320)),
        order=alt.Order("category_order:Q"),
        tooltip=["yearmonth(month):O", "category:N", "employees:Q"])
    table = table.assign(category_order=table["category"].map({c: i for i, c in enumerate(drawn)}))
    chart = chart.properties(data=table)
    labels = alt.Chart(table).mark_text(color="white", fontSize=11).encode(
        x="yearmonth(month):O", y=alt.Y("employees:Q", stack="zero", bandPosition=0.5),
        detail="category:N", order=alt.Order("category_order:Q"),
        text=alt.Text("short:N"))
    shorts = {"outcome-linked use": "linked", "activity without outcome": "activity", "no AI use": "none"}
    short = table["category"].map(lambda name: "+".join(shorts[part] for part in name.split(" + ")))
    labels = labels.properties(data=table.assign(short=short))
    chart = alt.layer(chart, labels).properties(height=320)
    months = sorted(full["month"].unique())
    last_month = pd.Timestamp(months[-1])
    first_month = first_months_with_access(company, months)
    first_month = first_month[first_month.notna() & (first_month < last_month)]
    start = pd.DataFrame({"employee_id": first_month.index, "month": first_month.to_numpy()})
    first = start.merge(full, on=["employee_id", "month"])
    last = full[full["month"] == last_month]
    moved = first.merge(last, on="employee_id", suffixes=("_first", "_last"))
    converts = int(((moved["category_first"] == "activity without outcome")
                    & (moved["category_last"] == "outcome-linked use")).sum())
    calcified = int(((moved["category_first"] == "activity without outcome")
                     & (moved["category_last"] == "activity without outcome")).sum())
    def shown(n: int) -> str:
        return str(n) if n >= MIN_GROUP or n == 0 else f"fewer than {MIN_GROUP}"
    summary = (f"Between each person's first full month with AI access and the last full month "
               f"({last_month:%B %Y}), {shown(converts)} people moved from activity "
               f"without outcome to outcome-linked use (converts), while {shown(calcified)} stayed in "
               "activity without outcome (calcified).")
    table = table.drop(columns="category_order")
    if merged_months:
        names = ", ".join(f"{pd.Timestamp(m):%B %Y}" for m in merged_months)
        summary += (f" In {names} a group of fewer than {MIN_GROUP} people is drawn together with "
                    "the next-smallest group (a grey bar labelled with both), so it cannot be read "
                    "off and no larger group is left out.")
    return ChartResult(chart, summary, table)


def perception_vs_measured(company: Company) -> ChartResult:
    """Per team: how much faster people say AI makes them, against the measured change in output."""
    survey = company.survey
    latest = survey[pd.to_datetime(survey["survey_date"]) == pd.to_datetime(survey["survey_date"]).max()]
    teams = company.employees[["employee_id", "team"]]
    perceived = latest.merge(teams, on="employee_id").groupby("team").agg(
        perceived_speedup_pct=("perceived_speedup_pct", "mean"), employees=("employee_id", "nunique"))
    done = closed_work(company.work_items).merge(teams, on="employee_id")
    start, end = measures.data_period(company)
    done = done[(done["closed_at"] >= start) & (done["closed_at"] < end)]
    weeks = measures.period_weeks(company)
    counts = (done.groupby(["team", measures.period(done["closed_at"], company).to_numpy()]).size()
              .unstack(fill_value=0).reindex(columns=list(measures.PERIODS), fill_value=0))
    rate_before = counts[BEFORE] / max(weeks[BEFORE], 1e-9)
    rate_after = counts[AFTER] / max(weeks[AFTER], 1e-9)
    measured = (100 * (rate_after / rate_before - 1)).replace([np.inf, -np.inf], np.nan)
    table = perceived.join(measured.rename("measured_change_pct").dropna(), how="inner").reset_index()
    table, hidden = suppress_small_groups(table)
    table = table.round({"perceived_speedup_pct": 1, "measured_change_pct": 1})
    lo = float(min(table[["perceived_speedup_pct", "measured_change_pct"]].min().min(), 0)) if len(table) else 0
    hi = float(max(table[["perceived_speedup_pct", "measured_change_pct"]].max().max(), 10)) if len(table) else 10
    diagonal = alt.Chart(pd.DataFrame({"x": [lo, hi], "y": [lo, hi]})).mark_line(
        color="#777777", strokeDash=[4, 4]).encode(x="x:Q", y="y:Q")
    points = alt.Chart(table).mark_point(filled=True, size=120, shape="diamond",
                                         color=PALETTE["reddish_purple"]).encode(
        x=alt.X("perceived_speedup_pct:Q", title="Perceived speed-up from AI (survey, %)"),
        y=alt.Y("measured_change_pct:Q", title="Measured change in closed work (%)"),
        tooltip=["team:N", "employees:Q", "perceived_speedup_pct:Q", "measured_change_pct:Q"])
    # labels point away from the right edge so a team far to the right keeps its name in view
    middle = (lo + hi) / 2
    right_of = alt.datum.perceived_speedup_pct > middle
    labels = (points.mark_text(align="left", dx=8, color="#333333").encode(text="team:N")
              .transform_filter(~right_of)
              + points.mark_text(align="right", dx=-8, color="#333333").encode(text="team:N")
              .transform_filter(right_of))
    chart = (diagonal + points + labels).properties(height=320)
    if len(table):
        below = int((table["measured_change_pct"] < table["perceived_speedup_pct"]).sum())
        summary = (f"Teams report feeling {table['perceived_speedup_pct'].mean():.0f}% faster on "
                   f"average, while their closed work per week changed by "
                   f"{table['measured_change_pct'].mean():+.0f}%; {below} of {len(table)} teams sit "
                   "below the dashed line, feeling faster than they measure.")
    else:
        summary = "No team is large enough to compare perception with measured output."
    if hidden:
        summary += f" {_hidden(hidden, 'team')} with fewer than {MIN_GROUP} employees {_are(hidden)} hidden."
    return ChartResult(chart, summary, table)


def goodhart_simulator(company: Company | None = None) -> ChartResult:
    """The simulator's default run (it does not depend on the company)."""
    from course.simulator import SimParams, simulate

    params = SimParams()
    return simulator_chart(simulate(params), params)


def simulator_chart(result, params) -> ChartResult:
    """Usage and output indexed to the weeks before the reward, beside the usage–output correlation."""
    from course.simulator import COLLAPSE_FRACTION, describe

    weekly = result.weekly
    before = weekly[weekly["week"] <= params.reward_week]
    rewarded = params.effective_reward > 0
    baseline = "weeks before the reward" if rewarded else f"first {params.reward_week} weeks"
    names = ["Usage", "Output"]
    long = pd.concat([
        pd.DataFrame({"week": weekly["week"], "series": "Usage",
                      "index": (100 * weekly["usage"] / before["usage"].mean()).round(1)}),
        pd.DataFrame({"week": weekly["week"], "series": "Output",
                      "index": (100 * weekly["output"] / before["output"].mean()).round(1)}),
    ])
    lines = alt.Chart(long).mark_line(strokeWidth=2.5).encode(
        x=alt.X("week:Q", title="Week"),
        y=alt.Y("index:Q", title=f"Index ({baseline} = 100)"),
        color=alt.Color("series:N", scale=_scale(names), title=None, legend=alt.Legend(orient="top")),
        strokeDash=alt.StrokeDash("series:N", scale=_dash(names), title=None),
        tooltip=["week:Q", "series:N", "index:Q"])
    if rewarded:   # no reward, no line saying one starts
        reward_rule = alt.Chart(pd.DataFrame({"week": [params.reward_week + 1], "label": ["reward starts"]}))
        rule = reward_rule.mark_rule(color="#555555", strokeDash=[4, 4]).encode(x="week:Q")
        rule_text = reward_rule.mark_text(align="left", dx=4, color="#333333").encode(
            x="week:Q", y=alt.value(10), text="label:N")
        lines = lines + rule + rule_text
    left = lines.properties(title="Usage and output", height=260, width=320)
    threshold = COLLAPSE_FRACTION * result.baseline_correlation
    corr = alt.Chart(weekly).mark_line(color=PALETTE["bluish_green"], strokeWidth=2.5,
                                       point=alt.OverlayMarkDef(shape="square", size=30,
                                                                color=PALETTE["bluish_green"])).encode(
        x=alt.X("week:Q", title="Week"),
        y=alt.Y("correlation:Q", title="Usage–output correlation", scale=alt.Scale(domain=[-0.2, 1])),
        tooltip=["week:Q", alt.Tooltip("correlation:Q", format=".2f")])
    half = alt.Chart(pd.DataFrame({"y": [threshold], "label": ["half the starting value"]}))
    half_rule = half.mark_rule(color=PALETTE["vermillion"], strokeDash=[2, 2]).encode(y="y:Q")
    half_text = half.mark_text(align="right", dx=-4, dy=-6, color=PALETTE["vermillion"]).encode(
        x=alt.value("width"), y="y:Q", text="label:N")
    right = alt.layer(corr, half_rule, half_text, *([rule] if rewarded else [])).properties(
        title="Does usage still track output?", height=260, width=320)
    chart = alt.hconcat(left, right)
    table = weekly.assign(usage=weekly["usage"].round(2), output=weekly["output"].round(2),
                          correlation=weekly["correlation"].round(3))
    return ChartResult(chart, describe(result, params), table)


CHARTS: dict[str, ChartBuilder] = {
    "adoption_vs_output": adoption_vs_output,
    "tokens_by_archetype_hidden": tokens_by_archetype_hidden,
    "acceptance_vs_tokens": acceptance_vs_tokens,
    "self_authored_share": self_authored_share,
    "deadline_bursts": deadline_bursts,
    "sessions_linked_to_work": sessions_linked_to_work,
    "cycle_time_before_after": cycle_time_before_after,
    "detector_tradeoff": detector_tradeoff,
    "cohort_flows": cohort_flows,
    "perception_vs_measured": perception_vs_measured,
    "goodhart_simulator": goodhart_simulator,
}

# Charts built from hidden labels. The app builds them on the learner's practice company only:
# the graded company it holds has no labels (course.data.ReleasedCompany), so a chart missing
# from this set that reaches for labels fails instead of showing the graded truth.
NEEDS_LABELS: frozenset[str] = frozenset({"detector_tradeoff"})
