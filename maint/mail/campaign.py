"""`fab mail`: what to send, through which server, to whom, at what rate; the campaign's plan; preview and report files."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from maint.errors import ConfigError
from maint.mail.journal import Journal, Recipient
from maint.mail.message import Content, MessageFactory, html_to_text
from maint.mail.recipients import Audience, Source
from maint.mail.smtp import SmtpSettings, settings_from_config, settings_from_store
from maint.model import Change, Plan


def client_dir(state_dir: Path, client: str) -> Path:
    return Path(state_dir).expanduser() / "clients" / client


def choose_smtp(store_settings: Mapping[str, str], agency: Mapping[str, Any], server: str) -> SmtpSettings:
    """`server`: "store" (its own SMTP settings; the agency's when it uses PHP mail()), "agency", or "auto"
    (the same as "store"). The sender is always the store's config_email unless maint.smtp.from_store is false."""
    own = settings_from_store(store_settings) if server in ("auto", "store") else None
    if own is not None:
        return own
    if not agency or not agency.get("host"):
        engine = store_settings.get("config_mail_engine") or "mail"
        raise ConfigError(
            f"the store sends with PHP {engine}(), which maint can't use from here, and no maint.smtp is set: "
            "set maint.smtp (host, port, user, password, starttls) in fabric.yaml"
        )
    chosen = settings_from_config(agency)
    sender = store_settings.get("config_email") or chosen.sender
    return SmtpSettings(chosen.host, chosen.port, chosen.user, chosen.password, chosen.starttls, chosen.ssl,
                        chosen.timeout, sender, store_settings.get("config_name") or "", "maint.smtp")


def sending_rate(flag: float, layers: Sequence[tuple[str, Mapping[str, Any]]], plan: str, plan_rate: float
                 ) -> tuple[float, str]:
    """Messages per minute and where that came from: `--rate` (when ≥ 0), else `options.mail.rate_per_minute`
    of the first of `layers` (highest first: the store, its client, fabric.yaml) that sets it, else the plan's
    `marketing.rate_per_minute`; 0 is no limit."""
    if flag >= 0:
        return float(flag), "--rate"
    for where, options in layers:
        section = options.get("mail") if isinstance(options, Mapping) else None
        value = section.get("rate_per_minute") if isinstance(section, Mapping) else None
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{where}: options.mail.rate_per_minute: {value!r} is not a number of messages "
                              "per minute (0 = no limit)")
        return float(value), where
    if plan_rate:
        return float(plan_rate), f"plan {plan!r}"
    return 0.0, "none set"


def campaign_id(store: str, content: Content, sources: Sequence[Source]) -> str:
    """The same content to the same sources is the same campaign: running it again resumes it."""
    key = content.sha + "|" + ",".join(sorted(str(s) for s in sources))
    return f"{store}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def unsubscribe_links(store_url: str, store_email: str) -> tuple[str, str]:
    """The opt-out URL (the store's own newsletter page, where a customer unticks it) and a mailto: to the shop."""
    url = f"{store_url.rstrip('/')}/index.php?route=account/newsletter" if store_url else ""
    mailto = f"mailto:{store_email}?subject=unsubscribe" if store_email else ""
    return url, mailto


def plan_campaign(store: str, campaign: str, audience: Audience, new: Sequence[Recipient], earlier: Mapping[str, int],
                  *, resend_unsure: bool = False) -> Plan:
    """What a run would send: new recipients per source, what an earlier run left pending or deferred, and
    (when asked) the unsure ones. Empty, with the reason, when everyone has it already."""
    plan = Plan(store, "mail")
    per_source: dict[str, int] = {}
    for r in new:
        per_source[r.source] = per_source.get(r.source, 0) + 1
    for source, count in per_source.items():
        plan.changes.append(Change("send", source, f"{count} new recipient(s)", data={"count": count}))
    waiting = earlier.get("pending", 0) + earlier.get("deferred", 0)
    if waiting:
        plan.changes.append(Change("resume", campaign, f"{earlier.get('pending', 0)} pending and "
                                   f"{earlier.get('deferred', 0)} deferred from an earlier run", data={"count": waiting}))
    if resend_unsure and earlier.get("sending", 0):
        plan.changes.append(Change("resend", campaign, f"{earlier['sending']} that were in flight when a run stopped",
                                   data={"count": earlier["sending"]}))
    if not plan:
        if earlier:
            plan.noop_reason = (f"campaign {campaign}: everyone has had it ({earlier.get('sent', 0)} sent, "
                                f"{earlier.get('refused', 0)} refused, {earlier.get('suppressed', 0)} suppressed, "
                                f"{earlier.get('sending', 0)} unsure)")
        else:
            plan.noop_reason = f"nobody to send to ({len(audience.suppressed)} suppressed)"
    return plan


def write_preview(folder: Path, factory: MessageFactory, first: Recipient | None, audience: Audience) -> list[Path]:
    """The first message's HTML and text, the whole message (.eml) and the counts, for a dry run."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    sample = first or Recipient("preview@example.invalid", "Preview Name", "preview")
    html_body = factory.personalise(factory.content.html, sample, escape=True)
    files = {
        "preview.html": html_body.encode(),
        "preview.txt": factory.personalise(html_to_text(factory.content.html), sample, escape=False).encode(),
        "preview.eml": factory.build(sample),
        "recipients.json": json.dumps({"per_source": audience.per_source, "to_send": len(audience.recipients),
                                       "suppressed": len(audience.suppressed)}, indent=2).encode(),
    }
    for cid, name, data in factory.content.images:  # so preview.html shows its images in a browser
        files[name] = data
        files["preview.html"] = files["preview.html"].replace(f"cid:{cid}".encode(), name.encode())
    written = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        path.chmod(0o600)
        written.append(path)
    return written


def write_report(path: Path, journal: Journal, campaign: str) -> None:
    """The per-recipient CSV report: address, name, source, state, attempts, detail, updated."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        path.chmod(0o600)  # customers' addresses: client data
        writer = csv.writer(handle)
        writer.writerow(("address", "name", "source", "state", "attempts", "detail", "updated"))
        writer.writerows(journal.rows(campaign))
