"""An audit as a workshop room's scenario: `theater audit --room-file` writes team-week aggregates,
a room is created on them, and the board question reads them with no hidden truth to reveal."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from course import workshop
from course.audit import build_audit
from course.audit_room import (FORMAT, MAX_FILE_BYTES, AuditRoomError, AuditRoomFile,
                               read_room_file, room_file, room_file_json, with_comparison)
from course.progress import ProgressStore
from course.workshop import AUDIT_SCENARIO, WorkshopError, WorkshopStore
from course.workshop_board import (ADOPTION_FEEDBACK, BOARD_KEY, audit_board_figures,
                                   audit_board_question, board_question, room_board_question)
from datasets.exports import vendor_identities
from datasets.importers import read_exports
from datasets.outcomes import read_outcomes, read_roster
from tests.course.test_audit import files  # noqa: F401  (the module's generated company and exports)
from theater.cli import main


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def store(request, tmp_path):
    """The room store on SQLite (the app's default) and on a real PostgreSQL server (replicas)."""
    url = (f"sqlite:///{tmp_path / 'progress.sqlite'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    progress = ProgressStore(url)
    yield WorkshopStore(progress.engine)
    progress.engine.dispose()


@pytest.fixture(scope="module")
def real_audit(files):  # noqa: F811
    usage = read_exports([files["exports"] / "copilot-usage-users.ndjson"])
    outcomes = read_outcomes([files["exports"] / "prs.json"])
    return build_audit(usage, outcomes, read_roster(files["roster"]))


def _file(weekly: list[dict], teams: dict[str, int] | None = None, **extra) -> AuditRoomFile:
    teams = teams if teams is not None else {"Core": 10}
    return AuditRoomFile.model_validate({"format": FORMAT, "version": 1, "weekly": weekly,
                                         "teams": [{"team": t, "people": n} for t, n in teams.items()],
                                         **extra})


def _weeks(n: int, start: str = "2026-01-05") -> list[str]:
    return [d.date().isoformat() for d in pd.date_range(start, periods=n, freq="7D")]


def _rows(interactions, delivered, active=None, team="Core") -> list[dict]:
    active = active if active is not None else [6] * len(interactions)
    return [{"team": team, "week": week, "active_users": a, "interactions": i, "delivered": d,
             "incidents": None}
            for week, i, d, a in zip(_weeks(len(interactions)), interactions, delivered, active)]


# ----------------------------------------------------------------------------- the round trip

def test_audit_to_room_file_to_room_to_board_question_keeps_the_aggregates_numbers(real_audit, store):
    text = room_file_json(real_audit)
    room = store.create_workshop("startup", "Our own data", owner="Grace", audit=read_room_file(text))
    assert room.scenario == AUDIT_SCENARIO and room.is_audit
    stored = store.room_audit(room.code)
    back = stored.weekly_frame()
    expected = real_audit.weekly.sort_values(["week", "team"], ignore_index=True)
    pd.testing.assert_frame_equal(back[list(expected.columns)], expected, check_dtype=False)
    assert stored.findings == real_audit.findings and stored.cautions == real_audit.cautions
    assert (stored.period_start, stored.period_end) == tuple(p.date() for p in real_audit.period)

    figures = audit_board_figures(stored)
    org = expected.groupby("week")[["interactions", "delivered"]].sum()
    first, last = org.iloc[:4], org.iloc[-4:]
    assert (figures.before_weeks, figures.after_weeks) == (4, 4) and figures.weeks == len(org)
    assert figures.usage_change == pytest.approx(100 * (last["interactions"].mean() / first["interactions"].mean() - 1))
    assert figures.output_change == pytest.approx(100 * (last["delivered"].mean() / first["delivered"].mean() - 1))
    active = expected.groupby("week")["active_users"].sum().iloc[-4:].mean()
    assert figures.weekly_users == pytest.approx(active / sum(real_audit.people.values()))

    question = room_board_question(room, store, lambda: pytest.fail("generated a company"))
    assert question.key == BOARD_KEY and question.kind == "board"
    assert question.answer == question.options[2] and question.answer.startswith("Delivered work")
    assert f"{figures.output_change:+.0f}%" in question.answer
    assert f"{figures.usage_change:+.0f}%" in question.options[0]
    assert "no hidden truth" in question.explanation and "hidden labels" not in question.explanation


def test_the_stored_payload_names_no_person(real_audit, store, files):  # noqa: F811
    room = store.create_workshop("startup", owner="Grace", audit=room_file(real_audit))
    with store.engine.connect() as conn:
        payload = conn.execute(sa.select(workshop.workshop_audits.c.payload)
                               .where(workshop.workshop_audits.c.code == room.code)).scalar()
    people = vendor_identities(files["company"].employees)
    named = [p for p in list(people["github_login"]) + list(people["email"])
             + list(files["company"].employees["employee_id"]) if str(p) in payload]
    assert not named, f"the stored audit names people: {named[:3]}"
    data = json.loads(payload)
    assert {key for row in data["weekly"] for key in row} == {
        "team", "week", "active_users", "interactions", "delivered", "incidents"}
    assert files["small_team"] not in payload
    assert all(row["active_users"] is None or row["active_users"] >= 5 for row in data["weekly"])


def test_deleting_the_room_deletes_its_audit(real_audit, store):
    room = store.create_workshop("startup", owner="Grace", audit=room_file(real_audit))
    store.close_workshop(room.code)
    store.delete_workshop(room.code, owner="Grace")
    with store.engine.connect() as conn:
        left = conn.execute(sa.select(sa.func.count()).select_from(workshop.workshop_audits)).scalar()
    assert left == 0 and store.room_audit(room.code) is None


def test_an_audit_room_needs_its_file(store):
    with pytest.raises(WorkshopError, match="needs its audit file"):
        store.create_workshop(AUDIT_SCENARIO, owner="Grace")


def test_an_older_database_gets_the_audit_table_without_a_migration(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    tables = [t for name, t in workshop.metadata.tables.items() if name != "workshop_audits"]
    workshop.metadata.create_all(engine, tables=tables)
    assert "workshop_audits" not in sa.inspect(engine).get_table_names()
    WorkshopStore(engine)
    assert "workshop_audits" in sa.inspect(engine).get_table_names()


def test_the_synthetic_board_question_is_unchanged(small_company):
    question, _ = board_question(small_company)
    assert question.feedback[0] == "Usage rose because the mandate asked for it; it says nothing yet about work."
    assert question.feedback[1] == ADOPTION_FEEDBACK


# ----------------------------------------------------------------------------- the board question

def test_the_board_question_of_known_aggregates_says_what_they_say():
    file = _file(_rows([10, 10, 10, 10, 15, 15, 15, 15], [20] * 8))
    question, figures = audit_board_question(file)
    assert figures.usage_change == pytest.approx(50) and figures.output_change == pytest.approx(0)
    assert question.options == (
        "AI interactions per week: +50% from the first 4 weeks to the last 4 weeks",
        "People using AI in a week: 60% of the 10 people shown, over the last 4 weeks",
        "Delivered work per week: +0% from the first 4 weeks to the last 4 weeks")
    assert question.answer == question.options[2]
    assert "Delivered work per week: +0% from" in question.explanation
    assert "AI interactions per week: +50% from" in question.explanation
    assert "neither number says what AI caused" in question.explanation
    assert question.feedback[1] == ADOPTION_FEEDBACK and question.feedback[2] == ""
    assert question.misconceptions == ("usage-equals-value", "adoption-equals-impact", None)


EDGE_FILES = {
    "no data": lambda: _file([], teams={}),
    "one week": lambda: _file(_rows([5], [2])),
    "three weeks": lambda: _file(_rows([5, 6, 7], [2, 2, 3])),
    "no interaction counts": lambda: _file(_rows([None] * 8, [3] * 8)),
    "no delivered work": lambda: _file(_rows([4] * 8, [None] * 8)),
    "zero baselines": lambda: _file(_rows([0, 0, 0, 0, 9, 9, 9, 9], [0] * 8)),
    "interactions only at the end": lambda: _file(_rows([None] * 4 + [9] * 4, [1] * 8)),
    "every team-week under five": lambda: _file(_rows([4] * 8, [1] * 8, active=[None] * 8)),
    "some under five": lambda: _file(_rows([4] * 8, [1] * 8, active=[6, None] * 4)),
    "a date before every week": lambda: with_comparison(_file(_rows([4] * 8, [1] * 8)),
                                                        pd.Timestamp("2025-06-01").date()),
    "a date and no data": lambda: with_comparison(_file([], teams={}), pd.Timestamp("2026-03-02").date()),
}


def test_a_date_the_trainer_gives_splits_before_from_after():
    file = with_comparison(_file(_rows([10, 10, 10, 20, 20, 20, 20, 20], [5, 5, 5, 4, 4, 4, 4, 4])),
                           pd.Timestamp("2026-01-28").date())          # a Wednesday: its week counts as after
    question, figures = audit_board_question(file)
    assert (figures.before_weeks, figures.after_weeks) == (3, 5)
    assert figures.usage_change == pytest.approx(100) and figures.output_change == pytest.approx(-20)
    assert question.options[0] == ("AI interactions per week: +100% from the 3 weeks before the week of "
                                   "28 January 2026 to the 5 weeks from the week of 28 January 2026")
    assert question.answer.startswith("Delivered work per week: -20% from the 3 weeks before")
    assert "no comparison group" in question.explanation
    too_late = with_comparison(file, pd.Timestamp("2027-01-04").date())
    question, _ = audit_board_question(too_late)
    assert "no whole week from the week of 4 January 2027" in question.answer
    assert "no weeks to average over" in question.options[1]


@pytest.mark.parametrize("case", list(EDGE_FILES))
def test_every_sentence_holds_for_any_valid_file(case):
    question, figures = audit_board_question(EDGE_FILES[case]())
    words = " ".join((*question.options, question.explanation, *question.feedback))
    for wrong in ("nan", "inf", "None", "%%"):
        assert wrong not in words, (case, words)
    assert len(set(question.options)) == 3 and question.answer == question.options[2]
    assert "no hidden truth" in question.explanation
    if not figures.comparable:
        assert "no change to show" in question.answer
    if case == "zero baselines":
        assert "no percentage to give" in question.options[0]
        assert "none in the first 4 weeks and none in the last" in question.answer
    if case == "interactions only at the end":
        assert "no AI interaction counts in the first 4 weeks" in question.options[0]
    if case == "some under five":
        assert "at least 30%" in question.options[1] and "lower bound" in question.explanation
    if case == "every team-week under five":
        assert "at least 0%" in question.options[1]


@pytest.mark.parametrize("case", ["no data", "one week", "no delivered work", "zero baselines"])
def test_the_audit_chart_draws_for_edge_files(case):
    from course.audit import weekly_chart

    assert weekly_chart(EDGE_FILES[case]().weekly_frame()).to_dict()["mark"]["type"] == "line"


# ----------------------------------------------------------------------------- hostile files

def _good() -> dict:
    return json.loads(json.dumps(_file(_rows([10] * 8, [3] * 8)).model_dump(mode="json")))


def _rename_team(data: dict, name: str) -> None:
    data["teams"][0]["team"] = name
    for row in data["weekly"]:
        row["team"] = name


def _with(change) -> str:
    data = _good()
    change(data)
    return json.dumps(data)


HOSTILE = {
    "not JSON": (b"\x89PNG\r\n", "not JSON"),
    "JSON list": ("[1, 2]", "not an object"),
    "another format": (json.dumps({"format": "copilot", "version": 1}), "is not a room file"),
    "wrong version": (_with(lambda d: d.update(version=2)), "version '2'"),
    "a user column": (_with(lambda d: d["weekly"][0].update(user="ada")), "no person-level column"),
    "a person list": (_with(lambda d: d.update(users=["ada"])), "no person-level column"),
    "negative count": (_with(lambda d: d["weekly"][1].update(delivered=-3)), "weekly[1].delivered"),
    "NaN literal": (json.dumps(_good()).replace('"interactions": 10.0', '"interactions": NaN', 1),
                    "NaN is not a count"),
    "a 400-digit count": (_with(lambda d: d["weekly"][0].update(interactions=10 ** 400)), "interactions"),
    "a group under five": (_with(lambda d: d["weekly"][0].update(active_users=2)), "under 5 is left blank"),
    "a small team": (_with(lambda d: d["teams"][0].update(people=4)), "people"),
    "a smaller min_group": (_with(lambda d: d.update(min_group=1)), "min_group"),
    "an e-mail as team": (_with(lambda d: _rename_team(d, "ada@example.org")), "e-mail"),
    "an unknown team": (_with(lambda d: d["weekly"][0].update(team="Web")), "not among the file's teams"),
    "a week twice": (_with(lambda d: d["weekly"].append(dict(d["weekly"][0]))), "twice"),
    "not a Monday": (_with(lambda d: d["weekly"][0].update(week="2026-01-06")), "Monday"),
    "duplicate keys": ('{"format": "x", "format": "y"}', "appears twice"),
    "deep nesting": ("[" * 100_000, "not JSON"),
    "huge file": (b" " * (MAX_FILE_BYTES + 1), "at most 5 MB"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_wrong_or_hostile_room_file_is_one_clear_message(case):
    data, expected = HOSTILE[case]
    with pytest.raises(AuditRoomError) as caught:
        read_room_file(data, name="upload.json")
    message = str(caught.value)
    assert expected in message and "\n" not in message and message.startswith("upload.json"), message
    assert len(message) < 400


def test_an_audit_whose_teams_are_named_by_email_cannot_become_a_room_file():
    audit = build_audit(pd.DataFrame({"user": [f"u{i}" for i in range(6)] * 14,
                                      "day": [d for d in pd.date_range("2026-01-05", periods=14) for _ in range(6)],
                                      "source": "github-copilot", "interactions": 2.0, "acceptances": 1.0,
                                      "tokens_in": np.nan, "tokens_out": np.nan, "lines_added": np.nan}),
                        read_outcomes([]))
    audit.weekly["team"] = "boss@example.org"
    audit.people = {"boss@example.org": 6}
    with pytest.raises(AuditRoomError, match="cannot become a room file.*e-mail"):
        room_file(audit)


# ----------------------------------------------------------------------------- the shell

def test_the_cli_writes_a_room_file_and_a_room_is_created_on_it(files, tmp_path, capsys):  # noqa: F811
    room_path = tmp_path / "room.json"
    code = main(["audit", str(files["exports"] / "copilot-usage-users.ndjson"),
                 str(files["exports"] / "prs.json"), "--roster", str(files["roster"]),
                 "--room-file", str(room_path)])
    out = capsys.readouterr().out
    assert code == 0 and "wrote" in out and "team-week aggregates" in out, out
    assert read_room_file(room_path.read_bytes()).weekly
    home = ["workshop", "--home", str(tmp_path / "home")]
    assert main([*home, "create", "--audit-file", str(room_path), "--owner", "Grace",
                 "--title", "Our data"]) == 0
    line = capsys.readouterr().out
    assert "Our data (audit)" in line
    store = WorkshopStore(ProgressStore(f"sqlite:///{tmp_path / 'home' / 'progress.sqlite'}").engine)
    assert store.room_audit(line.split()[0]).weekly


def test_cli_refusals_are_one_line_and_exit_2(files, tmp_path, capsys):  # noqa: F811
    usage = str(files["exports"] / "copilot-usage-users.ndjson")
    assert main(["audit", usage]) == 2                                  # neither output
    assert main(["audit", usage, "--room-file", usage]) == 2             # over its own input
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": FORMAT, "version": 1, "weekly": [{"user": "ada"}]}))
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * (MAX_FILE_BYTES + 10))
    home = ["workshop", "--home", str(tmp_path / "home"), "create", "--owner", "Grace"]
    assert main([*home, "--audit-file", str(bad)]) == 2
    assert main([*home, "--audit-file", str(huge)]) == 2
    assert main([*home, "--audit-file", str(tmp_path / "missing.json")]) == 2
    assert main([*home, "--audit-file", str(bad), "--scenario", "startup"]) == 2
    assert main([*home, "--scenario", AUDIT_SCENARIO]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 7 and all(": error: " in line for line in errors), errors
    assert "--html FILE" in errors[0] and "overwrite an input" in errors[1]
    assert "no person-level column" in errors[2] and "at most 5 MB" in errors[3]
    assert "cannot read" in errors[4] and "not both" in errors[5] and "needs its audit file" in errors[6]


def test_the_shell_takes_a_comparison_date_for_an_audit_room(tmp_path, capsys):
    room_path = tmp_path / "room.json"
    room_path.write_text(json.dumps(_good()))
    home = ["workshop", "--home", str(tmp_path / "home"), "create", "--owner", "Grace"]
    assert main([*home, "--audit-file", str(room_path), "--compare-from", "2026-02-02"]) == 0
    code = capsys.readouterr().out.split()[0]
    store = WorkshopStore(ProgressStore(f"sqlite:///{tmp_path / 'home' / 'progress.sqlite'}").engine)
    assert str(store.room_audit(code).compare_from) == "2026-02-02"
    assert main([*home, "--audit-file", str(room_path), "--compare-from", "02/03/2026"]) == 2
    assert main([*home, "--compare-from", "2026-02-02"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert "YYYY-MM-DD" in errors[0] and "give --audit-file too" in errors[1]


def test_the_leader_brief_of_an_audit_room_does_not_call_its_data_synthetic(real_audit, store):
    from course.leader_brief import leader_brief_files

    room = store.create_workshop("startup", "Own data", owner="Grace", audit=room_file(real_audit))
    page, markdown = leader_brief_files(store, room)
    assert "(synthetic)" not in markdown and "(synthetic)" not in page
    assert "discussed its own organisation" in markdown and "discussed its own organisation" in page
    synthetic = store.create_workshop("startup", "Generated", owner="Grace")
    assert "The company the room discussed (synthetic): startup" in leader_brief_files(store, synthetic)[1]


def test_an_audit_too_large_for_a_room_file_is_refused_when_written(monkeypatch, real_audit):
    import course.audit_room

    monkeypatch.setattr(course.audit_room, "MAX_FILE_BYTES", 1_000)
    with pytest.raises(AuditRoomError, match="too large for a room file"):
        room_file_json(real_audit)


def test_a_room_file_keeps_the_reports_own_smallest_group():
    from course import audit, audit_room

    assert audit_room.MIN_GROUP == audit.MIN_GROUP   # kept apart only so the room file loads without Altair
