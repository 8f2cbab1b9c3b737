"""`theater audit`: an organisation's usage exports and delivery files in, a team-level report out."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from datasets.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser(
        "audit", help="a team-level report of AI usage beside delivered work, from your own exports",
        description="Reads AI-usage exports (every kind `theater import` reads) and delivery files "
                    "(a GitHub pull-request export, a Jira issues CSV, an incident list CSV), joins "
                    "them by team and week through --roster, and writes a self-contained HTML report "
                    "that shows no person and no team under five people.")
    audit.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="export files or folders")
    audit.add_argument("--html", required=True, type=Path, metavar="FILE", help="where to write the report")
    audit.add_argument("--roster", type=Path, metavar="CSV",
                       help="who is in which team: a 'team' column and 'user'/'login'/'email' columns")
    audit.add_argument("--title", default="AI usage beside delivered work", help="the report's title")
    audit.add_argument("--purge", action="store_true",
                       help="delete the input files (and the roster) once the report is written")
    audit.set_defaults(func=run_audit)


def _files(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(f"{path}: no such file or folder")
    return found


def split_inputs(paths: list[Path]) -> tuple[list[Path], list[Path], list[str]]:
    """(usage files, outcome files, skipped with reasons), telling each file by its content."""
    from datasets.importers import USAGE_KINDS, ExportFormatError, detect_kind
    from datasets.outcomes import outcome_kind

    usage, outcomes, skipped = [], [], []
    for file in _files(paths):
        if outcome_kind(file):
            outcomes.append(file)
            continue
        try:
            kind = detect_kind(file)
        except ExportFormatError as error:
            skipped.append(f"{file}: neither a usage export nor a delivery file ({error})"[:300])
            continue
        if kind in USAGE_KINDS:
            usage.append(file)
        else:   # GitHub's team and repository reports are tables of their own, not per-person usage
            skipped.append(f"{file}: a {kind} report, not per-person usage (teams come from --roster)")
    return usage, outcomes, skipped


def run_audit(args: argparse.Namespace) -> int:
    from course.audit import audit_html, build_audit
    from datasets.importers import read_exports
    from datasets.outcomes import read_outcomes, read_roster

    usage_files, outcome_files, skipped = split_inputs(args.paths)
    if not usage_files:
        raise UserError("no AI-usage export among the inputs: give at least one file `theater import` reads")
    roster = read_roster(args.roster) if args.roster else None
    audit = build_audit(read_exports(usage_files), read_outcomes(outcome_files), roster)
    page = audit_html(audit, args.title)
    out: Path = args.html
    partial = out.with_name(f".{out.name}.partial")
    try:
        partial.write_text(page, encoding="utf-8")
        os.replace(partial, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from exc
    print(f"wrote {out}: {len(usage_files)} usage file(s), {len(outcome_files)} delivery file(s), "
          f"{audit.weekly['team'].nunique() if len(audit.weekly) else 0} team(s) shown")
    for line in skipped + audit.dropped:
        print(f"left out: {line}")
    if args.purge:
        for file in usage_files + outcome_files + ([args.roster] if args.roster else []):
            file.unlink(missing_ok=True)
            print(f"deleted {file}")
    return 0
