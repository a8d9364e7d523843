"""The PDF of the report, printed by headless Chromium (Debian's `chromium`, installed by
scripts/install-system-deps): the same engine that shows the HTML, so both look alike."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from maint.errors import PreconditionError

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Headless Chromium still calls home (component updates, time, accounts): these switches stop most of
# it, and the resolver rule makes any name it still asks for resolve nowhere, so nothing leaves.
QUIET = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


def find_browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    raise PreconditionError(
        "--pdf needs Chromium: run scripts/install-system-deps (Debian package 'chromium')"
    )


def html_to_pdf(html_file: Path, pdf_file: Path, timeout: float = 120) -> None:
    """Print html_file to pdf_file. The page makes no request (its CSP forbids any), and the
    browser gets a throw-away profile so nothing of the maintainer's own is read or kept."""
    browser = find_browser()
    with tempfile.TemporaryDirectory(prefix="maint-report-") as profile:
        command = [
            browser,
            *QUIET,
            "--no-pdf-header-footer",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf_file}",
            html_file.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise PreconditionError(f"Chromium did not print the PDF within {timeout:.0f} s") from None
    if done.returncode != 0 or not pdf_file.exists() or pdf_file.stat().st_size == 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise PreconditionError(f"Chromium could not print the PDF (exit {done.returncode}): {last}")
