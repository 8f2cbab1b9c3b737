"""`theater audit`: a generated company's Copilot export, its pull requests and a roster in; a
team-level report out that shows no person, no team under five and nothing to subtract."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from course.audit import build_audit
from course.pdf import chromium, html_to_pdf
from datasets.api import generate_company
from datasets.exports import vendor_identities, write_export
from datasets.importers import read_exports
from datasets.outcomes import read_outcomes, read_roster
from theater.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A company's Copilot export, a `gh pr list --json` file of its merged pull requests, and a
    roster of logins and emails by team, with one team cut to three people."""
    folder = tmp_path_factory.mktemp("audit")
    company = generate_company("startup", employees=60, days=140, seed=5)  # usage starts at the pilot: 8+ weeks of it
    exports = folder / "exports"
    write_export(company, "github-copilot", exports)
    ids = vendor_identities(company.employees).merge(company.employees[["employee_id", "team"]], on="employee_id")
    small_team = ids["team"].value_counts().index[-1]
    keep_small = ids[ids["team"] == small_team].head(3)
    ids = pd.concat([ids[ids["team"] != small_team], keep_small])
    roster = folder / "roster.csv"
    ids[["github_login", "email", "team"]].rename(columns={"github_login": "login"}).to_csv(roster, index=False)
    login = vendor_identities(company.employees).set_index("employee_id")["github_login"]
    prs = company.work_items[company.work_items["kind"] == "pull_request"]
    pulls = [{"number": i + 1, "author": {"login": login[row.employee_id]},
              "createdAt": pd.Timestamp(row.created_at).isoformat() + "Z",
              "mergedAt": None if pd.isna(row.closed_at) or row.status != "merged"
              else pd.Timestamp(row.closed_at).isoformat() + "Z", "state": row.status.upper()}
             for i, row in enumerate(prs.itertuples())]
    (exports / "prs.json").write_text(json.dumps(pulls))
    return {"folder": folder, "exports": exports, "roster": roster, "small_team": small_team,
            "company": company, "kept_small": set(keep_small["github_login"])}


def test_the_report_joins_usage_and_pull_requests_by_team_and_week(files):
    usage = read_exports([files["exports"] / "copilot-usage-users.ndjson"])
    outcomes = read_outcomes([files["exports"] / "prs.json"])
    audit = build_audit(usage, outcomes, read_roster(files["roster"]))
    assert files["small_team"] not in set(audit.weekly["team"])
    assert any("fewer than 5 people" in line for line in audit.dropped)
    merged = files["company"].work_items.query("kind == 'pull_request' and status == 'merged'")
    people = files["company"].employees.set_index("employee_id")["team"]
    shown = merged[merged["employee_id"].map(people) != files["small_team"]]
    first, last = audit.weekly["week"].min(), audit.weekly["week"].max() + pd.Timedelta(days=7)
    in_period = shown[(pd.to_datetime(shown["closed_at"]) >= first) & (pd.to_datetime(shown["closed_at"]) < last)]
    assert audit.weekly["delivered"].sum() == len(in_period), "totals leave the hidden team out"
    assert (audit.weekly["active_users"].dropna() >= 5).all()
    assert any("Delivered work" in line for line in audit.findings)
    assert any("2 of 28 days" in line for line in audit.cautions)


def test_the_cli_writes_a_page_with_no_person_and_purges_on_request(files, tmp_path, capsys):
    work = tmp_path / "in"
    work.mkdir()
    for source in (files["exports"] / "copilot-usage-users.ndjson", files["exports"] / "prs.json", files["roster"]):
        (work / source.name).write_bytes(source.read_bytes())
    (work / "notes.txt").write_text("not an export")
    page = tmp_path / "audit.html"
    roster = work / "roster.csv"
    code = main(["audit", str(work / "copilot-usage-users.ndjson"), str(work / "prs.json"),
                 "--roster", str(roster), "--html", str(page), "--purge"])
    out = capsys.readouterr().out
    assert code == 0, out
    text = page.read_text()
    assert "<svg" in text and "<script" not in text and "http://" not in text.split("<svg", 1)[0]
    people = vendor_identities(files["company"].employees)
    named = [p for p in list(people["github_login"]) + list(people["email"]) if p in text]
    assert not named, f"the report names people: {named[:3]}"
    assert files["small_team"] not in text
    assert not (work / "copilot-usage-users.ndjson").exists() and not roster.exists()
    assert "deleted" in out


def _audit_args(files, out: Path, *flags: str) -> list[str]:
    return ["audit", str(files["exports"] / "copilot-usage-users.ndjson"), str(files["exports"] / "prs.json"),
            "--roster", str(files["roster"]), *flags]


@pytest.mark.skipif(chromium() is None, reason="no Chromium to print with (make system-deps installs it)")
def test_the_cli_prints_the_same_report_to_pdf(files, tmp_path, capsys):
    page, pdf = tmp_path / "audit.html", tmp_path / "audit.pdf"
    code = main(_audit_args(files, tmp_path, "--html", str(page), "--pdf", str(pdf)))
    out = capsys.readouterr().out
    assert code == 0, out
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF") and len(data) > 20_000
    assert re.search(rb"/Type\s*/Page\b", data), "a PDF with at least one page"
    assert f"wrote {pdf}" in out and f"wrote {page}" in out


@pytest.mark.skipif(chromium() is None, reason="no Chromium to print with (make system-deps installs it)")
def test_a_script_in_the_page_never_runs_when_it_is_printed():
    """The report holds no script; if a roster's team name ever smuggled one in, printing would not run it
    (the PDF's title is the page's title when printed, so a script that changes it shows)."""
    page = "<html><head><title>clean</title></head><body><script>document.title='ran'</script></body></html>"
    printed = html_to_pdf(page)
    assert b"(clean)" in printed and b"(ran)" not in printed


@pytest.mark.parametrize("binary", ["/nonexistent/chromium", "/bin/false"])
def test_without_a_working_chromium_the_pdf_is_refused_in_one_line_and_nothing_is_written(
        files, tmp_path, capsys, monkeypatch, binary):
    monkeypatch.setenv("THEATER_CHROMIUM", binary)
    page, pdf = tmp_path / "audit.html", tmp_path / "audit.pdf"
    code = main(_audit_args(files, tmp_path, "--html", str(page), "--pdf", str(pdf)))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and ("needs Chromium" in err or "could not print" in err), err
    assert not page.exists() and not pdf.exists() and not list(tmp_path.glob(".*partial"))


def test_bad_delivery_files_are_one_line_errors(tmp_path, capsys):
    usage = tmp_path / "users.ndjson"
    usage.write_text(json.dumps({"day": "2025-10-01", "user_login": "ada", "user_initiated_interaction_count": 3,
                                 "code_acceptance_activity_count": 1}) + "\n")
    jira = tmp_path / "jira.csv"
    jira.write_text("Issue key,Created,Resolved,Assignee\nAB-1,02/10/2026 09:00,03/10/2026 10:00,ada\n")
    code = main(["audit", str(usage), str(jira), "--html", str(tmp_path / "r.html")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "day or month first" in err and "\n" not in err
    assert not (tmp_path / "r.html").exists()


def test_a_roster_listing_one_person_twice_is_refused(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("login,team\nada,Core\nada,Web\n")
    with pytest.raises(Exception, match="on the roster twice"):
        read_roster(roster)


def test_weeks_the_files_cover_in_part_are_left_out_and_said_so():
    days = pd.date_range("2025-10-01", "2025-12-10", freq="D")          # a Wednesday to a Wednesday
    usage = pd.DataFrame({"user": [f"u{i}" for i in range(6)] * len(days),
                          "day": [d for d in days for _ in range(6)], "source": "github-copilot",
                          "interactions": 4.0, "acceptances": 1.0, "tokens_in": float("nan"),
                          "tokens_out": float("nan"), "lines_added": float("nan")})
    audit = build_audit(usage, read_outcomes([]))
    weeks = pd.to_datetime(audit.weekly["week"])
    assert weeks.min() == pd.Timestamp("2025-10-06") and weeks.max() == pd.Timestamp("2025-12-01")
    assert any("cover only in part" in line for line in audit.dropped)
    assert any("changed by +0%" in line for line in audit.findings), audit.findings


def test_the_audit_page_is_behind_the_staff_sign_in(app_home):
    from streamlit.testing.v1 import AppTest

    from tests.course.test_staff_pages import PAGES, TIMEOUT

    at = AppTest.from_file(str(PAGES / "audit_logs.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any(t.label == "Staff account" for t in at.text_input)
    assert "Build the report" not in [b.label for b in at.button]


def test_the_report_is_the_same_whatever_the_usage_table_dtypes(files):
    """The importers' categorical user and source and float32 counts give the report the old
    string and float64 columns gave, number for number and sentence for sentence."""
    usage = read_exports([files["exports"] / "copilot-usage-users.ndjson"])
    assert usage["user"].dtype == "category" and (usage[["interactions", "acceptances"]].dtypes == "float32").all()
    counts = [column for column in usage.columns if column not in ("user", "day", "source")]
    plain = usage.astype({"user": "string", "source": "string", **dict.fromkeys(counts, "float64")})
    outcomes = read_outcomes([files["exports"] / "prs.json"])
    roster = read_roster(files["roster"])
    ours, theirs = build_audit(usage, outcomes, roster), build_audit(plain, outcomes, roster)
    pd.testing.assert_frame_equal(ours.weekly, theirs.weekly, check_exact=True)
    assert (ours.findings, ours.cautions, ours.dropped, ours.period) == (
        theirs.findings, theirs.cautions, theirs.dropped, theirs.period)
    # a roster that leaves most identities out: categories with no rows must not count as users
    few = build_audit(usage[usage["user"].astype(str) < str(usage["user"].iloc[len(usage) // 2])], outcomes)
    fewer = build_audit(plain[plain["user"] < str(usage["user"].iloc[len(usage) // 2])], outcomes)
    assert few.cautions == fewer.cautions and few.findings == fewer.findings
