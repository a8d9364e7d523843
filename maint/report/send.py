"""Mailing the report to the client's contacts.

Until `maint/mail/` (the sender of `fab mail`, with its journal) lands, reports go through the
`maint.smtp` server health alerts use; `send_report` is the one place to switch over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from typing import Any

from maint.errors import ConfigError
from maint.health.alerts import send_message
from maint.inventory import Client


def recipients(client: Client) -> list[str]:
    """The contacts with an e-mail address, as "Name <address>"."""
    found = [formataddr((c.name, c.email)) for c in client.contacts if c.email]
    if not found:
        raise ConfigError(f"client {client.name} has no contact with an e-mail address (inventory: contacts)")
    return found


def build_message(
    smtp: Mapping[str, Any],
    to: Sequence[str],
    subject: str,
    text: str,
    files: Sequence[Path],
    sender: str = "",
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender or str(smtp.get("from") or "maint@localhost")
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg.set_content(text)
    for path in files:
        kind = ("application", "pdf") if path.suffix == ".pdf" else ("text", "html")
        data = path.read_bytes()
        if kind[0] == "text":
            msg.add_attachment(data.decode("utf-8"), subtype="html", filename=path.name)
        else:
            msg.add_attachment(data, maintype=kind[0], subtype=kind[1], filename=path.name)
    return msg


def send_report(smtp: Mapping[str, Any], message: EmailMessage) -> None:
    """Send through the configured SMTP server (OSError / smtplib errors propagate to the task)."""
    if not smtp or not smtp.get("host"):
        raise ConfigError("--send needs an SMTP server: set maint.smtp.host (and port, from) in fabric.yaml")
    send_message(smtp, message)
