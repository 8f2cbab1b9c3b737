"""`theater course init | assign | collect | grade | feedback | override | rubric | extend | export`: one
documented function each.

Every command but `course init` works on a course directory: `--course DIR`, or the nearest
folder at or above the current directory that holds a theater.toml.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from datasets.errors import UserError


class GradeUnavailable(UserError):
    """The autograder module is not installed in this checkout."""


def _add_course_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--course", metavar="DIR", type=Path, default=None,
                        help="the course directory (default: found from the current directory)")


def _course(args: argparse.Namespace):
    from grader.course_dir import find_course

    return find_course(course=args.course)


def _cmd_course_init(args: argparse.Namespace) -> int:
    from grader.course_dir import init_course

    data = {"profile": args.profile, "employees": args.employees, "days": args.days, "format": args.format}
    course = init_course(args.directory, course_id=args.course_id, data=data, source_dir=args.source,
                         require_sources=True)
    print(f"created course {course.course_id!r} in {course.root}")
    print(f"assignments: {', '.join(sorted(p.name for p in (course.root / 'source').iterdir() if p.is_dir()))}")
    print(f"next: theater assign explore --roster roster.csv --course {course.root}")
    return 0


def _cmd_assign(args: argparse.Namespace) -> int:
    from grader.assign import assign

    report = assign(_course(args), args.assignment, args.roster, progress=not args.quiet,
                    codes_file=args.codes, reissue_codes=args.reissue_code or (), source_dir=args.source)
    print(report.summary())
    return 0


def _cmd_collect(args: argparse.Namespace) -> int:
    from grader.collect import collect

    report = collect(_course(args), args.source, args.assignment)
    print(report.summary())
    for warning in report.warnings:
        print(f"warning: {warning}")
    return 1 if report.unmatched and not report.collected else 0


def _cmd_grade(args: argparse.Namespace) -> int:
    try:
        from grader.grade import grade
    except ModuleNotFoundError as exc:
        if exc.name != "grader.grade":
            raise
        raise GradeUnavailable("the autograder (grader/grade.py) is not available in this installation") from None
    if args.workers < 1:
        raise UserError("--workers must be at least 1")
    from grader.grade import grading_scheduler, scheduler_address

    learners = args.learner or None
    course = _course(args)
    # --scheduler beats theater.toml's [grading] scheduler; "local" grades on this machine either way
    scheduler = scheduler_address(args.scheduler) if args.scheduler else grading_scheduler(course)
    report = grade(course.root, args.assignment, workers=args.workers, learners=learners,
                   progress=not args.quiet, force=args.force, scheduler=scheduler)
    summary = getattr(report, "summary", None)
    print(summary() if callable(summary) else report)
    # a learner who could not be graded (a grader-side problem) fails the command: scripts must not
    # take a partial gradebook for a finished one
    return 1 if getattr(report, "errors", None) else 0


def _cmd_feedback(args: argparse.Namespace) -> int:
    from grader.feedback import feedback

    report = feedback(_course(args), args.assignment, learners=args.learner or None)
    print(report.summary())
    return 1 if report.failed and not report.written else 0


def _cmd_export(args: argparse.Namespace) -> int:
    from grader.export import export_grades

    path = export_grades(_course(args), fmt=args.format, to=args.to, assignments=args.assignment or None,
                         sections=args.section or None)
    print(f"grades written to {path}")
    return 0


def _cmd_override(args: argparse.Namespace) -> int:
    from grader.overrides import clear_override, override

    course = _course(args)
    if args.clear:
        clear_override(course, args.assignment, args.learner, args.part)
        print(f"{args.assignment}/{args.learner}/{args.part}: override removed, the autograder's score counts")
        return 0
    if args.score is None:
        raise UserError("give a SCORE (or --clear to remove an override)")
    done = override(course, args.assignment, args.learner, args.part, args.score, args.comment or "")
    print(f"{done.assignment}/{done.learner}/{done.part}: {done.score:g}/{done.max_score:g} "
          f"(autograder: {'-' if done.auto_score is None else format(done.auto_score, 'g')}); kept when regraded")
    return 0


def _cmd_rubric(args: argparse.Namespace) -> int:
    """Grade one rubric answer, or (without --points) show each question's rubric and what is left."""
    import getpass

    from grader import rubric

    course = _course(args)
    spec = course.assignment(args.assignment)
    if not spec.rubric:
        raise UserError(f"{spec.name} has no rubric part: its parts are autograded (use `theater override`)")
    if args.points is None:
        if args.learner or args.comment:
            raise UserError("give --points with --learner and --part to grade an answer")
        done = rubric.progress(course, spec.name)
        for part in spec.rubric:
            graded, total = done.get(part.grade_id, (0, 0))
            print(f"{part.grade_id} ({part.question}, {part.points:g} points): {graded} of {total} graded")
            for level in part.rubric:
                print(f"  {level.points:g}: {level.descriptor}")
        return 0
    if not args.learner or not args.part:
        raise UserError("give --learner and --part with --points")
    grader = args.grader or getpass.getuser()
    done = rubric.grade_answer(course, spec.name, args.learner, args.part, args.points, args.comment or "", grader)
    print(f"{spec.name}/{done.learner}/{done.part}: {done.points:g}/{rubric.rubric_part(spec, done.part).points:g} "
          f"by {done.graded_by} at {done.graded_at}" + (f"; comment: {done.comment}" if done.comment else ""))
    return 0


def _cmd_extend(args: argparse.Namespace) -> int:
    from grader.deadlines import extend

    dates = extend(_course(args), args.assignment, args.learner, until=args.until, days=args.days, clear=args.clear)
    if args.clear:
        print(f"{args.assignment}/{args.learner}: extension removed, the class's dates apply")
    else:
        due = f"{dates.due:%Y-%m-%d %H:%M} UTC" if dates.due else "no due date"
        closes = f"; closes for them {dates.closes:%Y-%m-%d %H:%M} UTC" if dates.closes else ""
        print(f"{args.assignment}/{args.learner}: due {due}{closes} (theater.toml "
              f"[assignments.{args.assignment}.extensions])")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the instructor workflow commands to the `theater` CLI."""
    course = subparsers.add_parser("course", help="create an instructor's course directory")
    course_sub = course.add_subparsers(dest="course_command", metavar="ACTION", required=True)
    init = course_sub.add_parser("init", help="create a new nbgrader course directory with a course secret")
    init.add_argument("directory", type=Path, metavar="DIR")
    init.add_argument("--course-id", default=None, help="nbgrader course id (default: the folder name)")
    init.add_argument("--profile", default=None, help="company profile of every learner's dataset")
    init.add_argument("--employees", type=int, default=None, help="employees per learner's company")
    init.add_argument("--days", type=int, default=None, help="days of logs per learner's company")
    init.add_argument("--format", choices=("csv", "parquet"), default=None, help="data file format")
    init.add_argument("--source", type=Path, default=None, metavar="DIR",
                      help="the instructor's source notebooks: a folder of <name>/assignment.yaml + notebook "
                           "(default: exercises/source of the repository checkout; an installed package "
                           "carries the student versions only)")
    init.set_defaults(func=_cmd_course_init)

    assign = subparsers.add_parser("assign", help="release an assignment: one folder per learner with their own data")
    assign.add_argument("assignment", metavar="ASSIGNMENT")
    assign.add_argument("--roster", required=True, type=Path,
                        help="nbgrader's student CSV: id,first_name,last_name,email[,lms_user_id,section,sis_user_id]")
    assign.add_argument("--quiet", action="store_true", help="no progress bar")
    assign.add_argument("--codes", type=Path, default=None, metavar="FILE",
                        help="where new access codes are written (default: access-codes.csv in the course)")
    assign.add_argument("--reissue-code", action="append", metavar="LEARNER",
                        help="give this learner a new access code, voiding the old one (repeatable)")
    assign.add_argument("--source", type=Path, default=None, metavar="DIR",
                        help="copy the assignment's source notebook from DIR/<assignment>/ into the course "
                             "first (needed when the course was made without the source notebooks)")
    _add_course_option(assign)
    assign.set_defaults(func=_cmd_assign)

    collect = subparsers.add_parser("collect", help="copy submissions (folder or LMS zip) into submitted/")
    collect.add_argument("source", type=Path, metavar="SOURCE")
    collect.add_argument("--assignment", required=True)
    _add_course_option(collect)
    collect.set_defaults(func=_cmd_collect)

    grade = subparsers.add_parser("grade", help="autograde submissions in a sandbox, in parallel")
    grade.add_argument("assignment", metavar="ASSIGNMENT")
    grade.add_argument("--workers", type=int, default=2,
                       help="worker processes on this machine (default 2; ignored with a cluster)")
    grade.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="grade on an existing Dask cluster, e.g. tcp://host:8786 (default: theater.toml's "
                            "[grading] scheduler, else this machine; \"local\" forces this machine)")
    grade.add_argument("--learner", action="append", help="grade only this learner (repeatable)")
    grade.add_argument("--quiet", action="store_true", help="no progress bar")
    grade.add_argument("--force", action="store_true",
                       help="regrade submissions already graded (by default an unchanged submission is kept)")
    _add_course_option(grade)
    grade.set_defaults(func=_cmd_grade)

    feedback = subparsers.add_parser("feedback", help="HTML feedback per learner, without hidden tests")
    feedback.add_argument("assignment", metavar="ASSIGNMENT")
    feedback.add_argument("--learner", action="append", help="only this learner (repeatable)")
    _add_course_option(feedback)
    feedback.set_defaults(func=_cmd_feedback)

    override = subparsers.add_parser("override", help="set a part's score by hand, with a comment; survives regrading")
    override.add_argument("assignment", metavar="ASSIGNMENT")
    override.add_argument("learner", metavar="LEARNER")
    override.add_argument("part", metavar="PART", help="the graded part's grade_id (see assignment.yaml)")
    override.add_argument("score", metavar="SCORE", nargs="?", help="points for the part")
    override.add_argument("--comment", help="why (the learner reads it in their feedback); required with SCORE")
    override.add_argument("--clear", action="store_true", help="remove the override: the autograder's score counts")
    _add_course_option(override)
    override.set_defaults(func=_cmd_override)

    rubric = subparsers.add_parser("rubric", help="grade a written answer against its rubric (the memo), "
                                                  "or show each question's rubric and progress")
    rubric.add_argument("assignment", metavar="ASSIGNMENT")
    rubric.add_argument("--learner", help="the learner whose answer is graded")
    rubric.add_argument("--part", help="the rubric part's grade_id (see assignment.yaml)")
    rubric.add_argument("--points", type=float, help="one of the rubric's levels")
    rubric.add_argument("--comment", help="for the learner: shown in their feedback beside the level")
    rubric.add_argument("--grader", help="who graded (default: your user name), kept in the audit trail")
    _add_course_option(rubric)
    rubric.set_defaults(func=_cmd_rubric)

    extend = subparsers.add_parser("extend", help="give a learner their own due date for an assignment")
    extend.add_argument("assignment", metavar="ASSIGNMENT")
    extend.add_argument("learner", metavar="LEARNER")
    when = extend.add_mutually_exclusive_group(required=True)
    when.add_argument("--until", metavar="DATE", help='their own due date, e.g. "2026-12-10 17:00 UTC"')
    when.add_argument("--days", type=float, metavar="N", help="N days after the assignment's due date")
    when.add_argument("--clear", action="store_true", help="remove the extension: the class's dates apply")
    _add_course_option(extend)
    extend.set_defaults(func=_cmd_extend)

    export = subparsers.add_parser("export", help="export grades as nbgrader CSV or a Canvas gradebook CSV")
    export.add_argument("--format", choices=("nbgrader", "canvas"), default="nbgrader")
    export.add_argument("--to", type=Path, default=Path("grades.csv"), metavar="FILE")
    export.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    export.add_argument("--section", action="append", help="only learners of this roster section (repeatable)")
    _add_course_option(export)
    export.set_defaults(func=_cmd_export)
