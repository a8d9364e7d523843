"""Mailing the report to the client's contacts, through the agency's `maint.smtp` server and the
connection code `fab mail` and health alerts share (`maint.mail.smtp`)."""

from __future__ import annotations

import smtplib
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from typing import Any

from maint.errors import ConfigError
from maint.inventory import Client
from maint.mail.smtp import SmtpError, open_smtp, settings_from_config


def recipients(client: Client) -> list[str]:
    """The contacts with an e-mail address, as "Name <address>"."""
    found = [formataddr((c.name, c.email)) for c in client.contacts if c.email]
    if not found:
        raise ConfigError(f"client {client.name} has no contact with an e-mail address (inventory: contacts)")
    return found


def build_message(
    smtp: Mapping[str, Any], to: Sequence[str], subject: str, text: str, files: Sequence[Path]
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = str(smtp.get("from") or "maint@localhost")
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg.set_content(text)
    for path in files:
        if path.suffix == ".pdf":
            msg.add_attachment(path.read_bytes(), maintype="application", subtype="pdf", filename=path.name)
        else:
            msg.add_attachment(path.read_text(encoding="utf-8"), subtype="html", filename=path.name)
    return msg


def send_report(smtp: Mapping[str, Any], message: EmailMessage) -> None:
    """One message, one session: ConfigError without a server, SmtpError (exit 40) naming host and
    port only (never the login) when the server is unreachable or refuses."""
    settings = settings_from_config(smtp)
    client = open_smtp(settings)
    try:
        client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise SmtpError(f"mail server {settings.host}:{settings.port} did not take the report: {type(exc).__name__}") from None
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
