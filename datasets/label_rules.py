"""Does a simple rule on the released columns label AI sessions? A search, for tests and benchmarks.

The detector a learner builds should have to weigh several noisy habits. A generator artefact can
undo that: if the way work items are linked to sessions depends on the hidden mode through a
deterministic rule, some pattern of links labels sessions outright (a rule with precision 1 on the
sessions it flags). This module describes every session by what the released tables say about its
links to work (never by the labels), builds simple threshold rules on each description and on
pairs of them, and reports the rule that most precisely says "theater" while still flagging a
meaningful share of the theater sessions. The hidden labels only score the rules.

Session descriptions (per session; `person_*` are per employee over all their sessions):
- skipped / times_skipped: a later session's work item linked to an earlier session of the same
  person, passing over this one;
- linked / linked_items / linked_closed: work items naming the session (any status; closed or
  merged only);
- rank_before_next_item: how many of the person's sessions come between this one and their next
  work item (0: the latest session before it; capped at RANK_CAP), and latest_unlinked: the latest session before an
  item that does not name it;
- hours_to_next_item, hours_to_next_linked_item, hours_from_previous_item: gaps to the person's
  work items (no linked work within N hours is `hours_to_next_linked_item >= N`);
- person_linked_share, person_skipped_share, person_linked_items_share, person_items_per_session.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from datasets.measures import Company

HOUR_THRESHOLDS = (1.0, 3.0, 6.0, 12.0, 24.0, 36.0, 48.0, 72.0)
QUANTILES = np.linspace(0.05, 0.95, 19)
NO_ITEM_HOURS = 1e6  # the gap given when there is no such work item
RANK_CAP = 5  # link order counts the sessions just before an item: 0, 1, ... "5 or more"


@dataclass(frozen=True)
class Rule:
    """A rule that says "theater", how precisely, and what share of the theater sessions it flags."""

    text: str
    precision: float
    coverage: float
    flagged: int
    company: int = 0

    def __str__(self) -> str:
        return (f"{self.text}: precision {self.precision:.3f}, covers {self.coverage:.1%} of theater sessions "
                f"({self.flagged} flagged, company {self.company})")


def session_links(company: Company) -> pd.DataFrame:
    """One row per AI session: its employee, start, and how work items are linked around it."""
    events = company.ai_events
    ts = pd.to_datetime(events["timestamp"]).astype("int64") // 10**9
    sessions = (pd.DataFrame({"session_id": events["session_id"].astype("int64").to_numpy(),
                              "employee_id": events["employee_id"].astype(str).to_numpy(), "ts": ts.to_numpy()})
                .groupby("session_id").agg(employee_id=("employee_id", "first"), start=("ts", "min"))
                .reset_index())
    everyone = set(sessions["employee_id"]) | set(company.work_items["employee_id"].astype(str))
    people = {e: i for i, e in enumerate(sorted(everyone))}
    s_emp = sessions["employee_id"].map(people).to_numpy(np.int64)
    s_key = (s_emp << 34) + sessions["start"].to_numpy(np.int64)
    order = np.argsort(s_key, kind="stable")
    sessions = sessions.iloc[order].reset_index(drop=True)
    s_emp, s_key = s_emp[order], s_key[order]
    n = len(sessions)
    index_of = pd.Series(np.arange(n), index=sessions["session_id"].to_numpy())

    work = company.work_items
    w_emp = work["employee_id"].astype(str).map(people).to_numpy(np.int64)
    created = pd.to_datetime(work["created_at"]).astype("int64").to_numpy() // 10**9
    w_key = (w_emp << 34) + created
    linked_id = work["linked_session_id"]
    has_link = linked_id.notna().to_numpy().copy()
    link_idx = np.full(len(work), -1, np.int64)
    link_idx[has_link] = index_of.reindex(linked_id[has_link].astype("int64").to_numpy()).fillna(-1).to_numpy(np.int64)
    has_link &= link_idx >= 0
    closed = (work["status"].astype(str).isin(["closed", "merged"]) & work["closed_at"].notna()).to_numpy()

    linked_items = np.bincount(link_idx[has_link], minlength=n)
    linked_closed = np.bincount(link_idx[has_link & closed], minlength=n)
    # sessions passed over: strictly after the linked session, before the item was created
    first = link_idx[has_link] + 1
    last = np.searchsorted(s_key, w_key[has_link], side="left")  # sessions starting before creation
    diff = np.zeros(n + 1, np.int64)
    np.add.at(diff, first, 1)
    np.add.at(diff, np.maximum(last, first), -1)
    times_skipped = np.cumsum(diff)[:n]

    # each session's next and previous work item of the same person
    w_order = np.argsort(w_key, kind="stable")
    w_key_s, w_emp_s, w_link_s = w_key[w_order], w_emp[w_order], link_idx[w_order]
    w_created_s = created[w_order]
    nxt = np.searchsorted(w_key_s, s_key, side="right")
    ok_next = nxt < len(w_key_s)
    ok_next[ok_next] &= w_emp_s[nxt[ok_next]] == s_emp[ok_next]
    start = sessions["start"].to_numpy(np.int64)
    hours_next = np.full(n, NO_ITEM_HOURS)
    hours_next[ok_next] = (w_created_s[nxt[ok_next]] - start[ok_next]) / 3600.0
    prv = nxt - 1
    ok_prev = prv >= 0
    ok_prev[ok_prev] &= w_emp_s[prv[ok_prev]] == s_emp[ok_prev]
    hours_prev = np.full(n, NO_ITEM_HOURS)
    hours_prev[ok_prev] = (start[ok_prev] - w_created_s[prv[ok_prev]]) / 3600.0
    # sessions between this one and the next item; the latest before an item that does not name it
    item_pos = np.searchsorted(s_key, np.where(ok_next, w_key_s[np.minimum(nxt, len(w_key_s) - 1)], 0), side="left")
    rank = np.minimum(np.where(ok_next, item_pos - 1 - np.arange(n), RANK_CAP), RANK_CAP).astype(float)
    latest_unlinked = np.zeros(n, bool)
    latest_before = np.searchsorted(s_key, w_key_s, side="left") - 1
    same = latest_before >= 0
    same[same] &= s_emp[latest_before[same]] == w_emp_s[same]
    miss = same & (w_link_s != latest_before)
    latest_unlinked[latest_before[miss]] = True
    # the next work item that names a session (any session)
    lk = w_link_s >= 0
    lk_key, lk_emp, lk_created = w_key_s[lk], w_emp_s[lk], w_created_s[lk]
    nl = np.searchsorted(lk_key, s_key, side="right")
    ok_nl = nl < len(lk_key)
    ok_nl[ok_nl] &= lk_emp[nl[ok_nl]] == s_emp[ok_nl]
    hours_next_linked = np.full(n, NO_ITEM_HOURS)
    hours_next_linked[ok_nl] = (lk_created[nl[ok_nl]] - start[ok_nl]) / 3600.0

    frame = pd.DataFrame({
        "session_id": sessions["session_id"].to_numpy(), "employee": s_emp,
        "skipped": times_skipped > 0, "times_skipped": times_skipped,
        "linked": linked_items > 0, "linked_items": linked_items, "linked_closed": linked_closed > 0,
        "rank_before_next_item": rank, "latest_unlinked": latest_unlinked,
        "hours_to_next_item": hours_next, "hours_to_next_linked_item": hours_next_linked,
        "hours_from_previous_item": hours_prev,
    })
    person = frame.groupby("employee")
    items_per_person = np.bincount(w_emp, minlength=len(people))
    linked_per_person = np.bincount(w_emp[has_link], minlength=len(people))
    frame["person_linked_share"] = person["linked"].transform("mean")
    frame["person_skipped_share"] = person["skipped"].transform("mean")
    frame["person_linked_items_share"] = (linked_per_person / np.maximum(items_per_person, 1))[s_emp]
    frame["person_items_per_session"] = items_per_person[s_emp] / person["linked"].transform("size")
    return frame


def session_theater(company: Company, session_ids: np.ndarray) -> np.ndarray:
    """The hidden mode of each session (scoring only): True where its events are theater."""
    mode = company.event_labels.set_index("event_id")["is_theater"]
    events = company.ai_events
    per_session = pd.Series(mode.reindex(events["event_id"].to_numpy()).to_numpy(bool),
                            index=events["session_id"].astype("int64").to_numpy()).groupby(level=0).max()
    return per_session.reindex(session_ids).to_numpy(bool)


def single_rules(frame: pd.DataFrame) -> tuple[np.ndarray, list[str], list[str]]:
    """(sessions x rules) boolean matrix of every single-feature threshold rule, their texts and
    the feature each one reads."""
    columns, texts, features = [], [], []
    for name in frame.columns.drop(["session_id", "employee"]):
        values = frame[name].to_numpy()
        if values.dtype == bool:
            columns += [values, ~values]
            texts += [name, f"not {name}"]
            features += [name, name]
            continue
        values = values.astype(float)
        finite = values[values < NO_ITEM_HOURS]
        cuts = set(np.quantile(finite, QUANTILES).round(3)) if len(finite) else set()
        if name.startswith("hours"):
            cuts |= set(HOUR_THRESHOLDS)
        for cut in sorted(cuts):
            columns += [values <= cut, values >= cut]
            texts += [f"{name} <= {cut:g}", f"{name} >= {cut:g}"]
            features += [name, name]
    matrix = np.stack(columns, axis=1) if columns else np.zeros((len(frame), 0), bool)
    return matrix, texts, features


def best_rule(frame: pd.DataFrame, theater: np.ndarray, min_coverage: float = 0.05, company: int = 0) -> Rule:
    """The most precise rule, single or a conjunction of two, that flags >= min_coverage of theater."""
    matrix, texts, features = single_rules(frame)
    keep = matrix.any(axis=0) & ~matrix.all(axis=0)
    matrix, texts = matrix[:, keep], [t for t, k in zip(texts, keep) if k]
    feature = np.array([f for f, k in zip(features, keep) if k])
    m = matrix.astype(np.float32)
    flagged = m.T @ m                                   # conjunction counts (the diagonal: single rules)
    hits = m.T @ (m * theater[:, None].astype(np.float32))
    total = max(int(theater.sum()), 1)
    coverage = hits / total
    precision = np.where(flagged > 0, hits / np.maximum(flagged, 1), 0.0)
    precision[coverage < min_coverage] = -1.0
    # a band on one feature (a <= x <= b) picks out single people, not a rule: pairs use two features
    same = feature[:, None] == feature[None, :]
    np.fill_diagonal(same, False)
    precision[same] = -1.0
    i, j = np.unravel_index(int(np.argmax(precision)), precision.shape)
    text = texts[i] if i == j else f"{texts[i]} and {texts[j]}"
    return Rule(text=text, precision=float(max(precision[i, j], 0.0)), coverage=float(coverage[i, j]),
                flagged=int(flagged[i, j]), company=company)


def search(companies: Iterable[Company], min_coverage: float = 0.05) -> Rule:
    """Over several companies (each searched on its own): the most precise theater rule found."""
    found = [best_rule(frame, session_theater(company, frame["session_id"].to_numpy()), min_coverage, k)
             for k, company in enumerate(companies) for frame in [session_links(company)]]
    return max(found, key=lambda rule: rule.precision)
