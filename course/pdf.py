"""A self-contained HTML report printed to PDF by headless Chromium, so the PDF a trainer hands to a
client is the HTML report itself, charts included (they are inline SVG).

Chromium is a system package (`make system-deps` installs Debian's); THEATER_CHROMIUM names another
binary. The page is printed under a content security policy that allows no script and no fetch
(the report holds everything it shows: inline styles, inline SVG, data: images), with a throw-away
profile and no name resolution.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from datasets.errors import UserError

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PRINT_SECONDS = 90
LOCKED_DOWN = ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
               'style-src \'unsafe-inline\'; img-src data:; font-src data:">')


class PdfUnavailable(UserError):
    """No Chromium on this machine: the HTML report is still there."""


def chromium() -> str | None:
    """The Chromium binary to print with, or None."""
    named = os.environ.get("THEATER_CHROMIUM")
    if named:
        return named if Path(named).is_file() and os.access(named, os.X_OK) else None
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def html_to_pdf(html: str) -> bytes:
    """The PDF of a self-contained HTML page (Chromium's default paper, no header or footer line)."""
    binary = chromium()
    if binary is None:
        raise PdfUnavailable("a PDF needs Chromium, which is not installed here (`make system-deps` installs "
                             "Debian's; THEATER_CHROMIUM names another binary): the HTML report prints to "
                             "PDF from any browser too")
    with tempfile.TemporaryDirectory(prefix="theater-pdf-") as folder:
        page, pdf = Path(folder) / "report.html", Path(folder) / "report.pdf"
        page.write_text(_locked_down(html), encoding="utf-8")
        command = [binary, "--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   "--host-resolver-rules=MAP * ~NOTFOUND",
                   f"--user-data-dir={Path(folder) / 'profile'}", "--no-pdf-header-footer",
                   f"--print-to-pdf={pdf}", page.as_uri()]
        if os.geteuid() == 0:     # Chromium will not start its own sandbox as root
            command.insert(1, "--no-sandbox")
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PRINT_SECONDS,
                                  stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired:
            raise UserError(f"Chromium did not print the report within {PRINT_SECONDS} s") from None
        except OSError as exc:
            raise PdfUnavailable(f"cannot start Chromium ({binary}): {exc.strerror or exc}") from None
        if not pdf.is_file() or not pdf.read_bytes().startswith(b"%PDF"):
            last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "no message")
            raise UserError(f"Chromium could not print the report (exit {done.returncode}: {last[:200]})")
        return pdf.read_bytes()


def _locked_down(html: str) -> str:
    """The page with LOCKED_DOWN first in its head (a policy meta tag only counts there)."""
    at = html.lower().find("<head>")
    if at < 0:
        return LOCKED_DOWN + html
    return html[:at + len("<head>")] + LOCKED_DOWN + html[at + len("<head>"):]
