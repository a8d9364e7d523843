"""`fab report`: files and their modes, the same hours as `fab hours`, --pdf, --send to a real local
SMTP server process (aiosmtpd), --all, and the page in a real headless browser."""

from __future__ import annotations

import importlib
import json
import mailbox
import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from invoke import Config, MockContext
from invoke.exceptions import Exit

from maint.report.pdf import QUIET
from maint.sandbox.ports import free_port, release
from tests.unit.report.report_month import build_month, write_inventory

PROJECT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
report_tasks = importlib.import_module("maint.tasks.report")
hours_tasks = importlib.import_module("maint.tasks.hours")
needs_chromium = pytest.mark.skipif(
    not shutil.which("chromium"), reason="needs Chromium (scripts/install-system-deps)"
)


@pytest.fixture(scope="module")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """aiosmtpd as its own process on 127.0.0.1, delivering into a Maildir."""
    box = tmp_path_factory.mktemp("mail") / "Maildir"
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Mailbox",
            str(box),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"aiosmtpd did not start: {proc.stderr.read() if proc.stderr else ''}"
                    ) from None
                time.sleep(0.1)
        yield port, box
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        release(port)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("month")
    build_month(base / "state", base / "mirror")
    write_inventory(base / "clients", base / "mirror")
    return base


@pytest.fixture
def c(
    records: Path, tmp_path: Path, smtp_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> MockContext:
    monkeypatch.setattr(report_tasks, "now", lambda: NOW)
    monkeypatch.setattr(hours_tasks, "now", lambda: NOW)
    config = {
        "inventory": str(records / "clients"),
        "playbooks": str(PROJECT / "maint" / "playbooks"),
        "state_dir": str(records / "state"),
        "smtp": {"host": "127.0.0.1", "port": smtp_server[0], "from": "reports@agency.invalid"},
        "report": {"agency": "Acme Web", "colour": "#225588", "footer": "Acme Web, Cape Town"},
    }
    return MockContext(config=Config(overrides={"maint": config}))


def run(call, capsys: pytest.CaptureFixture[str]) -> dict:
    call()
    return json.loads(capsys.readouterr().out)


def test_writes_the_html_0600_in_a_0700_folder_with_the_hours_of_fab_hours(c, tmp_path, capsys) -> None:
    out = tmp_path / "reports" / "nov"
    result = run(lambda: report_tasks.report(c, "demo", month="2026-11", out=str(out), json=True), capsys)
    html_file = Path(result["stores"][0]["html"])
    assert html_file == out / "demo-2026-11.html"
    assert stat.S_IMODE(html_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    statement = run(lambda: hours_tasks.hours(c, "demo", month="2026-11", json=True), capsys)["stores"][0]
    html = html_file.read_text()
    hours_used = hours_tasks.format_hours(statement["hours_used"] * 3600)
    assert f"<td>hours used</td><td class=n>{hours_used}</td>" in html
    assert f"R{float(statement['total_due']):,.2f}" in html
    assert "Updated 1,240 prices from prices-nov.xlsx" in html and "Acme Web, Cape Town" in html


def test_month_defaults_to_the_month_just_closed(c, tmp_path, capsys) -> None:
    result = run(lambda: report_tasks.report(c, "demo", out=str(tmp_path), json=True), capsys)
    assert result["month"] == "2026-11"


def test_all_writes_one_report_per_client_with_only_its_own_data(c, tmp_path, capsys) -> None:
    result = run(
        lambda: report_tasks.report(c, all_=True, month="2026-11", out=str(tmp_path), json=True), capsys
    )
    files = {r["client"]: Path(r["html"]).read_text() for r in result["stores"]}
    assert set(files) == {"demo", "other", "quiet"}
    assert "other-shop" not in files["demo"] and "secret work" in files["other"]
    assert "Fixed the shipping rule" not in files["other"]


def test_send_reaches_the_local_smtp_server_with_the_report_attached(
    c, tmp_path, smtp_server, capsys
) -> None:
    result = run(
        lambda: report_tasks.report(c, "demo", month="2026-11", out=str(tmp_path), send=True, json=True),
        capsys,
    )
    assert result["stores"][0]["sent_to"] == ["Dana Demo <dana@demo.invalid>"]
    box = mailbox.Maildir(smtp_server[1])
    messages = [m for m in box if "Demo Outfitters" in m["Subject"]]
    assert len(messages) == 1
    msg = messages[0]
    assert msg["To"] == "Dana Demo <dana@demo.invalid>" and msg["From"] == "reports@agency.invalid"
    names = [part.get_filename() for part in msg.walk() if part.get_filename()]
    assert names == ["demo-2026-11.html"]


def test_all_with_send_mails_every_client_with_an_address_and_fails_for_the_others(
    c, tmp_path, smtp_server, capsys
) -> None:
    with pytest.raises(Exit) as err:
        report_tasks.report(c, all_=True, month="2026-10", out=str(tmp_path), send=True, json=True)
    assert err.value.code == 2
    result = json.loads(capsys.readouterr().out)
    sent = {r["client"]: r.get("sent_to") for r in result["stores"]}
    assert sent["demo"] == ["Dana Demo <dana@demo.invalid>"] and sent["other"] == ["Olga <olga@other.invalid>"]
    assert "no contact with an e-mail address" in next(r["error"] for r in result["stores"] if r["client"] == "quiet")
    assert (tmp_path / "quiet-2026-10.html").exists()  # written, only not sent
    subjects = [m["Subject"] for m in mailbox.Maildir(smtp_server[1])]
    assert sum("October 2026" in s for s in subjects) == 2


def test_send_without_an_smtp_server_fails_before_writing(records, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(report_tasks, "now", lambda: NOW)
    config = {
        "inventory": str(records / "clients"),
        "playbooks": str(PROJECT / "maint" / "playbooks"),
        "state_dir": str(records / "state"),
    }
    c = MockContext(config=Config(overrides={"maint": config}))
    with pytest.raises(Exit) as err:
        report_tasks.report(c, "demo", month="2026-11", out=str(tmp_path / "r"), send=True)
    assert err.value.code == 10  # ConfigError
    assert "maint.smtp.host" in capsys.readouterr().err and not (tmp_path / "r").exists()


def test_a_client_and_all_together_are_refused(c) -> None:
    with pytest.raises(Exit):
        report_tasks.report(c, "demo", all_=True)


@needs_chromium
def test_pdf_has_the_expected_pages_and_text(c, tmp_path, capsys) -> None:
    if not shutil.which("pdftotext"):
        pytest.skip("needs pdftotext (poppler-utils)")
    result = run(
        lambda: report_tasks.report(c, "demo", month="2026-11", out=str(tmp_path), pdf=True, json=True),
        capsys,
    )
    pdf = Path(result["stores"][0]["pdf"])
    assert stat.S_IMODE(pdf.stat().st_mode) == 0o600
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    # The summary and work, then each shop on a page of its own (print CSS: .store breaks before).
    assert 3 <= pages <= 6
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    for fact in (
        "Demo Outfitters",
        "November 2026",
        "Upgraded OpenCart 3.0.3.8",
        "Availability: 99.31 %",
        "Not monitored this month",
    ):
        assert fact in text


def _browse(page: Path, profile: Path, netlog: Path) -> str:
    done = subprocess.run(
        [
            "chromium",
            *QUIET,
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            f"--log-net-log={netlog}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stderr


@needs_chromium
def test_the_page_renders_in_a_browser_with_no_console_error_and_no_request(c, tmp_path, capsys) -> None:
    result = run(
        lambda: report_tasks.report(c, "demo", month="2026-11", out=str(tmp_path), json=True), capsys
    )
    page = Path(result["stores"][0]["html"])
    log = _browse(page, tmp_path / "profile", tmp_path / "net.json")
    assert "CONSOLE" not in log
    # Without its CSP too (which would block a request silently), the page asks the network for nothing.
    bare = tmp_path / "bare.html"
    bare.write_text(
        page.read_text().split("<meta http-equiv=Content-Security-Policy", 1)[0]
        + page.read_text().split('img-src data:">', 1)[1]
    )
    _browse(bare, tmp_path / "profile2", tmp_path / "net2.json")
    assert _page_urls(tmp_path / "net2.json") == set()
    # The checks themselves work: a page with an outside image is caught by both.
    bad = tmp_path / "bad.html"
    bad.write_text(bare.read_text().replace("<main>", '<main><img src="http://cdn.example.invalid/x.png">'))
    _browse(bad, tmp_path / "profile3", tmp_path / "net3.json")
    assert "http://cdn.example.invalid/x.png" in _page_urls(tmp_path / "net3.json")
    bad.write_text(page.read_text().replace("<main>", '<main><img src="http://cdn.example.invalid/x.png">'))
    assert "CONSOLE" in _browse(bad, tmp_path / "profile4", tmp_path / "net4.json")


def _page_urls(netlog: Path) -> set[str]:
    """URLs the browser asked for, less Chromium's own calls home (which QUIET makes resolve nowhere)."""
    text = json.dumps(json.loads(netlog.read_text())["events"])
    own = ("google.com", "googleapis.com", "gstatic.com", "~notfound")
    return {
        u
        for u in text.split('"')
        if u.startswith(("http://", "https://", "ws://"))
        and " " not in u
        and not any(host in u.split("/")[2] for host in own)
    }
