"""Kept so `python -m grader.cli` and `from grader.cli import main` go on working: the `theater`
console script now lives in theater/cli.py, above grader/ and course/ whose commands it runs.
The one module of grader/ allowed to import `theater` (tests/test_layers.py)."""

from __future__ import annotations

import sys

from theater.cli import COMMAND_MODULES, build_parser, main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
