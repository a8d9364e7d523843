"""Sending a journalled campaign over one SMTP session: rate limit, retries, resume.

Each recipient: journal `sending` (committed), send, journal the answer. A temporary refusal (4xx)
is retried with backoff and left `deferred` (the next run tries again); a permanent one (5xx) is
`refused` and its address goes on the suppression list as a hard bounce; a dropped connection is
reopened and the same message sent again, since the server never accepted it; a refused login
stops everything at once (SmtpAuthError), with every unsent recipient still `pending`.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from maint.mail.journal import Journal, Recipient
from maint.mail.message import MessageFactory
from maint.mail.recipients import add_suppressed
from maint.mail.smtp import SmtpError, SmtpSettings, open_smtp

Progress = Callable[[int, Recipient, str], None]  # (messages handled so far, recipient, new state)


@dataclass
class SendPolicy:
    rate_per_minute: float = 0.0  # 0: no limit
    retries: int = 3  # per message, for 4xx answers and dropped connections
    backoff: float = 2.0  # seconds before the first retry; doubled each time
    reconnects: int = 5  # dropped connections in a row before giving up


@dataclass
class SendReport:
    sent: int = 0
    refused: int = 0
    deferred: int = 0
    reconnects: int = 0
    refused_addresses: list[str] = field(default_factory=list)


class _Session:
    """The SMTP connection, opened on first use and reopened after a drop."""

    def __init__(self, settings: SmtpSettings, connect: Callable[[SmtpSettings], smtplib.SMTP]) -> None:
        self.settings, self.connect = settings, connect
        self.client: smtplib.SMTP | None = None

    def get(self) -> smtplib.SMTP:
        if self.client is None:
            self.client = self.connect(self.settings)
        return self.client

    def drop(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            finally:
                self.client = None

    def quit(self) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (OSError, smtplib.SMTPException):
                self.client.close()
            self.client = None


def send_campaign(
    journal: Journal,
    campaign_id: str,
    factory: MessageFactory,
    settings: SmtpSettings,
    *,
    policy: SendPolicy | None = None,
    suppression_file: Path | None = None,
    progress: Progress | None = None,
    connect: Callable[[SmtpSettings], smtplib.SMTP] = open_smtp,
    sleep: Callable[[float], None] = time.sleep,
) -> SendReport:
    policy = policy or SendPolicy()
    report = SendReport()
    session = _Session(settings, connect)
    interval = 60.0 / policy.rate_per_minute if policy.rate_per_minute > 0 else 0.0
    started = time.monotonic()
    handled = 0
    envelope_from = factory.sender
    try:
        for recipient in journal.to_send(campaign_id):
            if interval:
                wait = started + handled * interval - time.monotonic()
                if wait > 0:
                    sleep(wait)
            body = factory.build(recipient)
            state, detail = _deliver(journal, campaign_id, session, envelope_from, recipient, body, policy, report, sleep)
            journal.mark(campaign_id, recipient, state, detail)
            if state == "sent":
                report.sent += 1
            elif state == "refused":
                report.refused += 1
                report.refused_addresses.append(recipient.address)
                if suppression_file is not None:
                    add_suppressed(suppression_file, [recipient.address], f"hard bounce: {detail}")
            else:
                report.deferred += 1
            handled += 1
            if progress is not None:
                progress(handled, recipient, state)
    finally:
        session.quit()
    return report


def _deliver(
    journal: Journal,
    campaign_id: str,
    session: _Session,
    envelope_from: str,
    recipient: Recipient,
    body: bytes,
    policy: SendPolicy,
    report: SendReport,
    sleep: Callable[[float], None],
) -> tuple[str, str]:
    """Send one message; the state and detail to journal. Raises SmtpError when the server is gone."""
    delay = policy.backoff
    drops = 0
    attempt = 0
    while True:
        try:
            client = session.get()
        except SmtpError:
            journal.mark(campaign_id, recipient, "pending")
            raise
        journal.mark(campaign_id, recipient, "sending")
        try:
            client.sendmail(envelope_from, [recipient.address], body)
            return "sent", ""
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            detail = f"{code} {_text(text)}"
            if code >= 500:
                return "refused", detail
        except smtplib.SMTPDataError as exc:
            detail = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            if exc.smtp_code >= 500:
                return "refused", detail
        except smtplib.SMTPSenderRefused as exc:
            journal.mark(campaign_id, recipient, "pending")
            raise SmtpError(f"the mail server refuses the sender {envelope_from}: {exc.smtp_code}") from None
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, OSError) as exc:
            # no 250 came back, so the server did not take the message: send it again on a new connection
            journal.mark(campaign_id, recipient, "pending")
            session.drop()
            drops += 1
            report.reconnects += 1
            if drops > policy.reconnects:
                raise SmtpError(f"mail server {session.settings.host}:{session.settings.port} keeps dropping "
                                f"the connection ({type(exc).__name__}); run again to resume") from None
            sleep(delay)
            delay *= 2
            continue
        attempt += 1
        if attempt > policy.retries:
            return "deferred", detail
        sleep(delay)
        delay *= 2


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
