"""`fab report CLIENT --month 2026-11`: the monthly maintenance report a client reads.

Made only from what maint recorded (maint.report); this task parses flags, writes the files
(0600 in 0700 folders), prints the PDF and mails them.
"""

from __future__ import annotations

import smtplib
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from maint.billing.ledger import Ledger
from maint.billing.plans import load_plans
from maint.billing.service import local_today
from maint.errors import ConfigError, MaintError, UsageError
from maint.report import pdf as pdfs
from maint.report import send as mail
from maint.report.html import Branding, render_html
from maint.report.service import build_report, private_dir, write_private
from maint.tasks.common import TaskContext, emit_json, maint_task, task
from maint.tasks.hours import parse_month


def now() -> datetime:
    """The clock, in one place so tests can set it."""
    return datetime.now(UTC)


@task(
    name="report",
    examples=[
        "fab report demo --month 2026-11",
        "fab report demo --month 2026-11 --pdf --send",
        "fab report --all --pdf",
    ],
    positional=["client"],
    help={
        "client": "client name from the inventory",
        "month": "the month to report, as 2026-11 (default: last month)",
        "out": "folder for the files (default: <state_dir>/reports/<client>)",
        "pdf": "also print the report to PDF (needs Chromium: scripts/install-system-deps)",
        "send": "mail the report to the client's contacts through maint.smtp",
        "all_": "a report for every client in the inventory",
        "json": "print JSON for machines",
    },
)
@maint_task
def report(c, client=None, month="", out="", pdf=False, send=False, all_=False, json=False):
    """Write a client's monthly maintenance report (HTML, optionally PDF and e-mail)."""
    tc = TaskContext.from_c(c)
    if client and all_:
        raise UsageError("give a CLIENT or --all, not both")
    if not client and not all_:
        raise UsageError("which client? give a CLIENT name or --all")
    brand = Branding.from_config(tc.settings.raw.get("report"))
    plans = load_plans(tc.settings.plans_file)
    clock = now()
    today = local_today(plans, clock)
    # By default the month just closed: the report is sent at the start of the next one.
    first = parse_month(month, today) if month else (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    clients = list(tc.inventory.clients) if all_ else [tc.client(client)]
    if send:
        if not all_:
            mail.recipients(clients[0])  # a client without an address fails before any work
        if not tc.settings.smtp.get("host"):
            raise ConfigError(
                "--send needs an SMTP server: set maint.smtp.host (and port, from) in fabric.yaml"
            )
    if pdf:
        pdfs.find_browser()
    results: list[dict[str, Any]] = []
    failed: list[str] = []
    with Ledger.in_state_dir(tc.settings.state_dir) as ledger:
        for found in clients:
            try:
                results.append(_one(tc, plans, ledger, found, first, today, clock, brand, out, pdf, send))
            except (MaintError, OSError, smtplib.SMTPException) as exc:
                if not all_:
                    raise
                text = exc.message if isinstance(exc, MaintError) else f"{type(exc).__name__}: {exc}"
                failed.append(f"{found.name}: {text}")
                code = exc.exit_code if isinstance(exc, MaintError) else 2
                results.append({"store": None, "client": found.name, "error": text, "exit_code": code})
    if json:
        emit_json(results, month=first.strftime("%Y-%m"))
    else:
        for r in results:
            if "error" in r:
                continue
            files = ", ".join(p for p in (r["html"], r.get("pdf")) if p)
            sent = f"; sent to {', '.join(r['sent_to'])}" if r.get("sent_to") else ""
            sys.stdout.write(f"{r['client']}: {files}{sent}\n")
    if failed:
        raise MaintError("report failed for " + "; ".join(failed))


def _one(tc, plans, ledger, found, first, today, clock, brand, out, pdf, send) -> dict[str, Any]:
    built = build_report(tc.settings, plans, ledger, found, first, today, now=clock)
    folder = private_dir(
        Path(out).expanduser() if out else Path(tc.settings.state_dir).expanduser() / "reports" / found.name
    )
    stem = f"{found.name}-{first:%Y-%m}"
    html_file = write_private(folder / f"{stem}.html", render_html(built, brand).encode("utf-8"))
    result: dict[str, Any] = {
        "store": None,
        "client": found.name,
        "shops": [s.name for s in found.stores],
        "html": str(html_file),
        "pdf": None,
        "sent_to": [],
    }
    files = [html_file]
    if pdf:
        pdf_file = folder / f"{stem}.pdf"
        pdfs.html_to_pdf(html_file, pdf_file)
        pdf_file.chmod(0o600)
        result["pdf"] = str(pdf_file)
        files = [pdf_file, html_file]
    if send:
        to = mail.recipients(found)
        subject = f"{built.title}: maintenance report for {built.month_label}"
        text = (
            f"Hello,\n\nattached is the maintenance report for {built.title}, {built.month_label}: "
            "the work done, how often the shop was up, its backups and its security.\n\n"
            f"{brand.agency}\n"
        )
        mail.send_report(tc.settings.smtp, mail.build_message(tc.settings.smtp, to, subject, text, files))
        result["sent_to"] = to
    return result
