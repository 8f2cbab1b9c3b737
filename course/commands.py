"""`theater app`: start the course app on its embedded defaults."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")


def run_app(port: int = 8501, headless: bool = True) -> int:
    """Run `streamlit run course/app.py`; state goes under var/ unless THEATER_HOME says otherwise."""
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(port),
        "--server.headless", "true" if headless else "false",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
    ]
    return subprocess.call(cmd, env=os.environ.copy())


def register(subparsers: argparse._SubParsersAction) -> None:
    app = subparsers.add_parser("app", help="start the course app (http://localhost:8501)")
    app.add_argument("--port", type=int, default=8501)
    app.set_defaults(func=lambda a: run_app(port=a.port))
