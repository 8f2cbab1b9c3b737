"""The `theater` console script: one thin subcommand per documented Python function.

Each part of the project registers its own subcommands (`register(subparsers)` in
`datasets/commands.py`, `course/commands.py`, `grader/commands.py`), so the CLI has one entry
point and no logic of its own. Errors meant for users are one line and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from datasets.commands import CommandParser
from datasets.errors import UserError
from datasets.filelocks import busy_message, is_locked_error

COMMAND_MODULES = ("datasets.commands", "course.commands", "course.audit_command", "grader.commands",
                   "grader.lti_commands")


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="theater",
        description="Signal or Theater: the course app, the synthetic-company generator and the grader.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback of internal errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except UserError as exc:
        print(f"theater {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"theater {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line unless --debug
        if is_locked_error(exc) and not args.debug:   # a database locked mid-command is contention
            print(f"theater {args.command}: error: {busy_message('A database of the course', None)}",
                  file=sys.stderr)
            return 1
        if args.debug:
            raise
        print(
            f"theater {args.command}: internal error: {type(exc).__name__}: {exc} "
            "(run with --debug for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 1
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
