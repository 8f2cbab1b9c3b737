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
                    "(or the same report as PDF) that shows no person and no team under five people, "
                    "and/or a room file of its team-week aggregates for a live workshop.")
    audit.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="export files or folders")
    audit.add_argument("--html", type=Path, metavar="FILE", help="where to write the report")
    audit.add_argument("--pdf", type=Path, metavar="FILE.pdf",
                       help="also (or instead) write the report as PDF, printed by headless Chromium")
    audit.add_argument("--room-file", type=Path, metavar="FILE.json",
                       help="also (or instead) write the audit's team-week aggregates as a file a "
                            "trainer creates a workshop room on (`theater workshop create "
                            "--audit-file`)")
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


def _write(out: Path, content: str | bytes) -> None:
    """All of it or nothing: a half-written file is never left where the trainer looks."""
    partial = out.with_name(f".{out.name}.partial")
    try:
        if isinstance(content, bytes):
            partial.write_bytes(content)
        else:
            partial.write_text(content, encoding="utf-8")
        os.replace(partial, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from exc


def run_audit(args: argparse.Namespace) -> int:
    from course.audit import audit_html, build_audit
    from course.audit_room import room_file_json
    from course.pdf import html_to_pdf
    from datasets.importers import read_exports
    from datasets.outcomes import read_outcomes, read_roster

    if args.html is None and args.pdf is None and args.room_file is None:
        raise UserError("give --html FILE (the report), --pdf FILE.pdf (the report as PDF), --room-file "
                        "FILE.json (for a workshop room), or several")
    outputs = [path.resolve() for path in (args.html, args.pdf, args.room_file) if path is not None]
    usage_files, outcome_files, skipped = split_inputs(args.paths)
    if not usage_files:
        raise UserError("no AI-usage export among the inputs: give at least one file `theater import` reads")
    inputs = {file.resolve() for file in usage_files + outcome_files + ([args.roster] if args.roster else [])}
    clash = [str(path) for path in outputs if path in inputs]
    if clash or len(set(outputs)) < len(outputs):
        raise UserError(f"{(clash or [str(outputs[0])])[0]}: an output would overwrite an input or "
                        "the other output; write it elsewhere")
    roster = read_roster(args.roster) if args.roster else None
    audit = build_audit(read_exports(usage_files), read_outcomes(outcome_files), roster)
    teams = audit.weekly['team'].nunique() if len(audit.weekly) else 0
    room_text = room_file_json(audit) if args.room_file is not None else None   # may refuse: before any write
    page = audit_html(audit, args.title)
    pdf = html_to_pdf(page) if args.pdf is not None else None    # may refuse too (no Chromium): before any write
    for out, content in ((args.html, page), (args.pdf, pdf)):
        if out is not None:
            _write(out, content)
            print(f"wrote {out}: {len(usage_files)} usage file(s), {len(outcome_files)} "
                  f"delivery file(s), {teams} team(s) shown")
    if args.room_file is not None:
        _write(args.room_file, room_text)
        print(f"wrote {args.room_file}: team-week aggregates of {teams} team(s) over "
              f"{audit.weekly['week'].nunique() if len(audit.weekly) else 0} week(s), for "
              "`theater workshop create --audit-file`")
    for line in skipped + audit.dropped:
        print(f"left out: {line}")
    if args.purge:
        for file in usage_files + outcome_files + ([args.roster] if args.roster else []):
            file.unlink(missing_ok=True)
            print(f"deleted {file}")
    return 0
