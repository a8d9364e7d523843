"""SMTP settings and connections: the agency's `maint.smtp` from fabric.yaml, or a store's own mail settings.

Health alerts and `fab mail` both send through `open_smtp()`. The password is a secret like the
database password: `SmtpSettings` keeps it out of repr, and every error names host and port only.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from maint.errors import ConfigError, MaintError


class SmtpError(MaintError):
    """The mail server could not be reached or refused the session."""

    exit_code = 40


class SmtpAuthError(SmtpError):
    """The mail server refused the login: stop at once, retrying would only lock the account."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    user: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    ssl: bool = False
    timeout: float = 10.0
    sender: str = ""  # the From address
    sender_name: str = ""
    source: str = "maint.smtp"  # where the settings came from, for the plan: "maint.smtp" or "store"

    def __str__(self) -> str:
        tls = " (SSL)" if self.ssl else " (STARTTLS)" if self.starttls else ""
        return f"{self.host}:{self.port}{tls}{f' as {self.user}' if self.user else ''}"


def _flag(value: Any) -> bool:
    return value in (True, 1) or str(value).strip().lower() in ("1", "true", "yes", "on")


def settings_from_config(smtp: Mapping[str, Any]) -> SmtpSettings:
    """`maint.smtp` from fabric.yaml: host, port, user, password, starttls, ssl, timeout, from."""
    if not smtp or not smtp.get("host"):
        raise ConfigError("no SMTP server: set maint.smtp.host (and port, user, password, starttls) in fabric.yaml")
    try:
        port = int(smtp.get("port") or (465 if _flag(smtp.get("ssl")) else 25))
        timeout = float(smtp.get("timeout") or 10)
    except (TypeError, ValueError):
        raise ConfigError("maint.smtp.port and maint.smtp.timeout must be numbers") from None
    return SmtpSettings(
        host=str(smtp["host"]),
        port=port,
        user=str(smtp.get("user") or ""),
        password=str(smtp.get("password") or ""),
        starttls=_flag(smtp.get("starttls")),
        ssl=_flag(smtp.get("ssl")),
        timeout=timeout,
        sender=str(smtp.get("from") or ""),
        source="maint.smtp",
    )


def settings_from_store(values: Mapping[str, str]) -> SmtpSettings | None:
    """The store's own SMTP settings from `oc_setting` (config_mail_*), or None when it uses PHP mail().

    OpenCart writes STARTTLS as a `tls://` prefix on the host name and implicit TLS as `ssl://`, and
    keeps the password HTML-escaped (its Mail class html_entity_decode()s it), in 3.0 and 4.x alike."""
    if (values.get("config_mail_engine") or "mail").strip().lower() != "smtp":
        return None
    host = (values.get("config_mail_smtp_hostname") or "").strip()
    starttls = use_ssl = False
    if host.lower().startswith("tls://"):
        host, starttls = host[6:], True
    elif host.lower().startswith("ssl://"):
        host, use_ssl = host[6:], True
    if not host:
        raise ConfigError("the store's mail engine is SMTP but config_mail_smtp_hostname is empty")
    try:
        port = int(values.get("config_mail_smtp_port") or (465 if use_ssl else 25))
        timeout = float(values.get("config_mail_smtp_timeout") or 5)
    except ValueError:
        raise ConfigError("the store's config_mail_smtp_port / _timeout are not numbers") from None
    return SmtpSettings(
        host=host,
        port=port,
        user=values.get("config_mail_smtp_username") or "",
        password=html.unescape(values.get("config_mail_smtp_password") or ""),
        starttls=starttls,
        ssl=use_ssl,
        timeout=timeout,
        sender=values.get("config_email") or "",
        sender_name=values.get("config_name") or "",
        source="store",
    )


def open_smtp(settings: SmtpSettings) -> smtplib.SMTP:
    """A connected, logged-in SMTP session. SmtpAuthError on a refused login, SmtpError otherwise."""
    where = f"{settings.host}:{settings.port}"
    client: smtplib.SMTP | None = None
    try:
        if settings.ssl:
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
            if settings.starttls:
                client.starttls(context=ssl.create_default_context())
        if settings.user:
            client.login(settings.user, settings.password)
        return client
    except smtplib.SMTPAuthenticationError as exc:
        _quit(client)
        raise SmtpAuthError(f"mail server {where} refused the login for {settings.user!r} ({exc.smtp_code})") from None
    except (OSError, smtplib.SMTPException) as exc:
        _quit(client)
        raise SmtpError(f"mail server {where}: {type(exc).__name__}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    """The server's words without anything we sent (smtplib errors may echo a login argument)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace') if isinstance(exc.smtp_error, bytes) else exc.smtp_error}"
    return str(exc) if isinstance(exc, OSError) else type(exc).__name__


def _quit(client: smtplib.SMTP | None) -> None:
    if client is None:
        return
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()
