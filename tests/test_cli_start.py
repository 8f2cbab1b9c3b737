"""`theater` starts light: building its parser imports no pandas, so `theater --help` and every
subcommand's start cost what they need, and the lists an option accepts stay exact."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_building_the_parser_imports_neither_pandas_nor_the_vendor_readers():
    probe = ("import sys, theater.cli as cli; cli.build_parser(); "
             "print(sorted(m for m in ('pandas', 'pyarrow', 'datasets.importers', 'grader.lti') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_help_of_every_command_imports_neither_numpy_nor_pandas_nor_the_readers():
    """argparse expands every option's choices for its help text; the lazy lists must stay unread
    there, and the profile names in `generate`'s help come from the file names alone."""
    probe = ("import sys, contextlib, io, theater.cli as cli\n"
             "parser = cli.build_parser()\n"
             "commands = parser._subparsers._group_actions[0].choices\n"
             "texts = [parser.format_help()] + [sub.format_help() for sub in commands.values()]\n"
             "print(len(texts), sorted(m for m in ('numpy', 'pandas', 'datasets.importers', 'datasets.api') "
             "if m in sys.modules))\n"
             "print(commands['generate'].format_help())")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    first, _, generate_help = done.stdout.partition("\n")
    count, loaded = first.split(" ", 1)
    assert int(count) > 10 and loaded == "[]"
    unwrapped = re.sub(r"-\s+", "-", " ".join(generate_help.split()))   # help lines break at hyphens
    assert "mandate-bigco" in unwrapped and "service-desk" in unwrapped


def test_the_lazy_option_lists_accept_and_refuse_exactly_what_the_libraries_do(capsys):
    import pytest

    from datasets.api import EXPORTS, FORMATS
    from datasets.importers import IMPORTERS
    from theater.cli import build_parser

    parser = build_parser()
    generate = parser._subparsers._group_actions[0].choices["generate"]
    options = {a.dest: a for a in generate._actions}
    assert tuple(options["format"].choices) == FORMATS and tuple(options["export"].choices) == EXPORTS
    assert all(name in options["export"].help for name in EXPORTS)       # the help names every one
    importer = parser._subparsers._group_actions[0].choices["import"]
    assert list({a.dest: a for a in importer._actions}["kind"].choices) == sorted(IMPORTERS)
    with pytest.raises(SystemExit):
        parser.parse_args(["generate", "--profile", "startup", "--employees", "5", "--days", "5",
                           "--out", "x", "--format", "xlsx"])
    assert "invalid choice: 'xlsx'" in capsys.readouterr().err
