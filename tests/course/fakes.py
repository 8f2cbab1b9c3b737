"""A small seeded company with the data-model tables and labels, for app tests.

It follows docs/data-model.md closely enough for charts, truth and pages, and is fast (tens of
milliseconds). Tests use it through `fake_api`, which mimics datasets.api's four functions.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

ARCHETYPES = ("genuine", "tokenmaxxer", "convert", "non_user", "quiet_expert")
TEAMS = ("Payments", "Data Platform", "Mobile", "Support Tools", "Tiny Team")


@dataclass
class FakeCompany:
    employees: pd.DataFrame
    ai_events: pd.DataFrame
    work_items: pd.DataFrame
    calendar: pd.DataFrame
    survey: pd.DataFrame
    labels: pd.DataFrame
    event_labels: pd.DataFrame
    meta: dict = field(default_factory=dict)


@lru_cache(maxsize=16)
def make_company(employees: int = 60, days: int = 70, seed: int = 1) -> FakeCompany:
    """Employees with archetypes, AI events whose signals follow them, work items, calendar.

    Cached: callers only read it, and building one takes about a second."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-05")
    mandate = start + pd.Timedelta(days=days // 2)
    ids = [f"E{i:05d}" for i in range(1, employees + 1)]
    teams = [TEAMS[i % 4] for i in range(employees)]
    teams[-3:] = [TEAMS[4]] * 3                       # a team below the minimum group size
    archetype = np.array([ARCHETYPES[i % 5] for i in range(employees)])
    emp = pd.DataFrame({
        "employee_id": pd.array(ids, dtype="string"),
        "name": pd.array([f"Person {i}" for i in range(employees)], dtype="string"),
        "email": pd.array([f"p{i}@example.com" for i in range(employees)], dtype="string"),
        "team": pd.array(teams, dtype="string"),
        "role": pd.array(["Software Engineer"] * employees, dtype="string"),
        "manager_id": pd.array([None] + ids[:-1], dtype="string"),
        "hire_date": pd.to_datetime(["2020-01-01"] * employees).date,
    })
    # a pilot as the generator runs one: every third person got AI access three weeks before the
    # mandate (no potential-outcome model here: the labels below expect 20% more work with access
    # for the genuine and quiet experts, none for the rest)
    pilot_day = start + pd.Timedelta(days=max(1, days // 2 - 21))
    in_wave = np.arange(employees) % 3 == 0
    emp["ai_access_from"] = np.where(in_wave, pilot_day.date(), mandate.date())
    rows = []
    session = 0
    for e, kind in zip(ids, archetype):
        if kind == "non_user":
            continue
        per_day = {"genuine": 3, "tokenmaxxer": 2, "convert": 2, "quiet_expert": 1}[kind]
        for day in range(days):
            date = start + pd.Timedelta(days=day)
            if date.weekday() >= 5:
                continue
            after = date >= mandate
            n_sessions = per_day * (3 if kind == "tokenmaxxer" and after else 1)
            for _ in range(int(rng.integers(0, n_sessions + 1))):
                session += 1
                theater = kind == "tokenmaxxer" and after or (kind == "convert" and not after)
                n_events = int(rng.integers(1, 4))
                for k in range(n_events):
                    rows.append((e, date + pd.Timedelta(hours=9 + k, minutes=int(rng.integers(60))),
                                 session, theater))
    events = pd.DataFrame(rows, columns=["employee_id", "timestamp", "session_id", "theater"])
    n = len(events)
    theater = events.pop("theater").to_numpy()
    events.insert(0, "event_id", np.arange(1, n + 1, dtype="int64"))
    events["employee_id"] = events["employee_id"].astype("string")
    events["tool"] = pd.array(rng.choice(["ide-assistant", "chat-assistant"], n), dtype="string")
    events["feature"] = pd.array(rng.choice(["chat", "summarize", "code_completion"], n), dtype="string")
    events["session_id"] = events["session_id"].astype("int64")
    events["prompt_category"] = pd.array(rng.choice(["code", "summarize", "question"], n), dtype="string")
    events["prompt_fingerprint"] = np.where(theater, 7, rng.integers(100, 10**6, n)).astype("int64")
    events["document_id"] = pd.array([f"D{x}" for x in rng.integers(0, 500, n)], dtype="string")
    events["doc_authored_by_self"] = np.where(theater, rng.random(n) < 0.8, rng.random(n) < 0.2)
    events["tokens_in"] = rng.lognormal(6, 1, n).astype("int64")
    events["tokens_out"] = rng.lognormal(6, 1, n).astype("int64")
    events["accepted"] = np.where(theater, rng.random(n) < 0.1, rng.random(n) < 0.7)

    work = []
    sessions_by_emp = events.groupby("employee_id")["session_id"].unique()
    for e, kind in zip(ids, archetype):
        for i in range(days // 3):
            created = start + pd.Timedelta(days=int(rng.integers(0, days - 3)), hours=10)
            hours = float(rng.lognormal(3.5, 0.5))
            closed = created + pd.Timedelta(hours=hours)
            linked = None
            if e in sessions_by_emp.index and kind in ("genuine", "quiet_expert") and rng.random() < 0.6:
                linked = int(rng.choice(sessions_by_emp[e]))
            work.append((e, rng.choice(["ticket", "pull_request", "document"]), created, closed,
                         "merged", hours, bool(rng.random() < 0.1), linked))
    items = pd.DataFrame(work, columns=["employee_id", "kind", "created_at", "closed_at", "status",
                                        "cycle_time_hours", "rework", "linked_session_id"])
    items.insert(0, "work_item_id", pd.array([f"W{i:06d}" for i in range(1, len(items) + 1)],
                                             dtype="string"))
    for col in ("employee_id", "kind", "status"):
        items[col] = items[col].astype("string")
    items["linked_session_id"] = items["linked_session_id"].astype("Int64")

    cal_dates = [mandate.date()] + [(start + pd.Timedelta(days=d)).date() for d in range(13, days, 14)]
    calendar = pd.DataFrame({
        "date": cal_dates,
        "event_type": pd.array(["mandate"] + ["reporting_deadline"] * (len(cal_dates) - 1),
                               dtype="string"),
        "description": pd.array(["AI mandate"] + ["Quarterly report"] * (len(cal_dates) - 1),
                                dtype="string"),
    })
    survey = pd.DataFrame({
        "employee_id": pd.array(ids * 2, dtype="string"),
        "survey_date": [start.date()] * employees + [(start + pd.Timedelta(days=days - 1)).date()] * employees,
        "perceived_speedup_pct": rng.normal(20, 10, employees * 2),
        "uses_ai_because_obliged": rng.random(employees * 2) < 0.3,
        "satisfaction": rng.integers(1, 6, employees * 2),
    })
    window_days = (mandate - pilot_day).days
    expected_without = np.where(in_wave, window_days * (days // 3) / days, 0.0)
    lift = np.isin(archetype, ["genuine", "quiet_expert"]) * 0.2
    labels = pd.DataFrame({"employee_id": pd.array(ids, dtype="string"),
                           "archetype": pd.array(archetype, dtype="string"),
                           "convert_date": [mandate.date() if a == "convert" else None for a in archetype],
                           "pilot_expected_without": expected_without,
                           "pilot_expected_with": expected_without * (1 + lift)})
    event_labels = pd.DataFrame({"event_id": events["event_id"], "is_theater": theater})
    meta = {"profile": "fake", "employees": employees, "days": days,
            "start_date": str(start.date()), "mandate_date": str(mandate.date()), "version": "fake",
            "family": "theater"}   # in memory only, as the real generator keeps it (people were randomised)
    return FakeCompany(emp, events, items, calendar, survey, labels, event_labels, meta)


def _write(company: FakeCompany, out_dir: Path, fmt: str = "parquet", with_labels: bool = False) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = ["employees", "ai_events", "work_items", "calendar", "survey"]
    if with_labels:
        names += ["labels", "event_labels"]
    for name in names:
        frame = getattr(company, name)
        if fmt == "csv":
            frame.to_csv(out / f"{name}.csv", index=False)
        else:
            frame.to_parquet(out / f"{name}.parquet", index=False)
    released_meta = {k: v for k, v in company.meta.items() if k != "family"}   # as datasets.api writes it
    (out / "manifest.json").write_text(json.dumps({"files": names, **released_meta}))
    return out


def fake_api(employees: int = 60, days: int = 70) -> SimpleNamespace:
    """Stands in for datasets.api: same four names, same keyword arguments."""
    def learner_seed(secret: str, learner_id: str) -> int:
        digest = hmac.new(secret.encode(), learner_id.encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") >> 1

    def generate_company(profile: str, employees: int = employees, days: int = days, seed: int = 0):
        return make_company(employees=min(employees, 60), days=min(days, 70), seed=seed % 1000)

    return SimpleNamespace(learner_seed=learner_seed, generate_company=generate_company,
                           write_company=_write)
