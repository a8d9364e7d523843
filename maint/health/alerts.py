"""State-change alerts by e-mail (SMTP) and/or a webhook POST.

Only transitions are sent (a new problem, a changed state, a recovery), so a store that stays
down does not page anyone every 15 minutes. A failing alert channel never fails the run: its
problem comes back as a warning line (without the SMTP password).
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

import requests

from maint.errors import MaintError
from maint.health.history import Transition
from maint.mail.smtp import open_smtp, settings_from_config

LEVEL_NAMES = {
    1: "level 1 (site down / can't order / security)",
    2: "level 2 (partial outage)",
    3: "level 3 (feature broken)",
    4: "level 4 (small issue)",
}


def describe(t: Transition) -> str:
    """One line naming store, check, level and evidence."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t.at))
    before = t.old.value if t.old else "new"
    if t.recovered:
        return f"RECOVERED {t.store} {t.check}: {before} -> {t.new.value} at {when}"
    level = LEVEL_NAMES.get(t.level or 0, "no level")
    return (
        f"{t.new.value} {t.store} {t.check} [{level}]: {t.evidence or 'no detail'} (was {before}) at {when}"
    )


def subject(transitions: list[Transition]) -> str:
    problems = [t for t in transitions if not t.recovered]
    urgent = min((t.level for t in problems if t.level), default=None)
    stores = sorted({t.store for t in transitions})
    head = f"[maint health] {len(problems)} problem(s), {len(transitions) - len(problems)} recovered"
    return f"{head}{f', level {urgent}' if urgent else ''}: {', '.join(stores)}"


def build_email(smtp: Mapping[str, Any], transitions: list[Transition]) -> EmailMessage:
    msg = EmailMessage()
    recipients = smtp.get("to") or []
    msg["From"] = str(smtp.get("from") or "maint@localhost")
    msg["To"] = ", ".join([recipients] if isinstance(recipients, str) else list(recipients))
    msg["Subject"] = subject(transitions)
    msg.set_content("\n".join(describe(t) for t in transitions) + "\n")
    return msg


def send_email(smtp: Mapping[str, Any], transitions: list[Transition]) -> None:
    client = open_smtp(settings_from_config(smtp))
    try:
        client.send_message(build_email(smtp, transitions))
    finally:
        client.quit()


def webhook_payload(transitions: list[Transition]) -> dict[str, Any]:
    """JSON for the POST; ``text`` makes it readable in chat tools that show only that field."""
    return {
        "text": subject(transitions) + "\n" + "\n".join(describe(t) for t in transitions),
        "transitions": [t.as_dict() for t in transitions],
    }


def post_webhook(url: str, transitions: list[Transition], timeout: float = 10.0) -> None:
    response = requests.post(url, json=webhook_payload(transitions), timeout=timeout)
    response.raise_for_status()


def deliver(transitions: list[Transition], smtp: Mapping[str, Any], webhook: str) -> list[str]:
    """Send the alerts over every configured channel; return one warning per channel that failed."""
    if not transitions:
        return []
    problems = []
    if smtp and smtp.get("to"):
        try:
            send_email(smtp, transitions)
        except MaintError as exc:  # open_smtp's message names host, port and the server's answer, never the password
            problems.append(f"alert e-mail failed: {exc.message}")
        except (OSError, smtplib.SMTPException) as exc:
            problems.append(
                f"alert e-mail via {smtp.get('host')}:{smtp.get('port') or 25} failed: {type(exc).__name__}"
            )
    if webhook:
        try:
            post_webhook(webhook, transitions)
        except requests.RequestException as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            problems.append(
                f"alert webhook failed: {type(exc).__name__}{f' (HTTP {status})' if status else ''}"
            )
    return problems
