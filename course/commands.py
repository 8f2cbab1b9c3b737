"""`theater app`: start the course app on its embedded defaults."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")
# Streamlit's default red gives white button text 3.2:1; Okabe-Ito blue gives 5.2:1 (WCAG AA).
THEME_FLAGS = ("--theme.primaryColor", "#0072B2")


def run_app(port: int = 8501, headless: bool = True, home: str | None = None) -> int:
    """Run `streamlit run course/app.py`; state lives under var/ unless home or THEATER_HOME is set."""
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(port),
        "--server.headless", "true" if headless else "false",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
        *THEME_FLAGS,
    ]
    env = os.environ.copy()
    if home:
        env["THEATER_HOME"] = str(Path(home).expanduser().resolve())
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:   # Ctrl-C stops the app; that is not an error
        return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    app = subparsers.add_parser("app", help="start the course app (http://localhost:8501)")
    app.add_argument("--port", type=int, default=8501)
    app.add_argument("--home", default=None,
                     help="folder for the app's state (default: var/, or $THEATER_HOME)")
    app.set_defaults(func=lambda a: run_app(port=a.port, home=a.home))
