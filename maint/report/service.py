"""Gather one client's month into a Report, and write its files (0600 in 0700 folders)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from maint import verdicts
from maint.billing.ledger import Ledger
from maint.billing.plans import Plans
from maint.billing.service import client_statement, local_items
from maint.config import Settings
from maint.inventory import Client, StoreEntry
from maint.report.campaigns import CampaignBook
from maint.report.formats import Formats
from maint.report.model import (
    Month,
    Report,
    StoreReport,
    availability,
    backups,
    monitored_since,
    next_steps,
    platform,
    read_audits,
    read_products,
    read_upgrades,
    standing_problems,
    work_lines,
)

HEALTH_DB = "health.sqlite"


def _health_db(state_dir: Path) -> sqlite3.Connection | None:
    """The health history read-only (a report never creates or changes it); None when there is none."""
    path = state_dir / HEALTH_DB
    if not path.exists():
        return None
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def client_formats(settings: Settings, client: Client) -> Formats:
    """The client's locale (inventory `locale:`), else the agency's `maint.report.locale`, else the default."""
    if client.locale:
        return Formats.of(client.locale, f"{client.file}: locale")
    section = settings.raw.get("report")
    agency = section.get("locale") if isinstance(section, Mapping) else ""
    return Formats.of(str(agency or ""), "maint.report.locale")


def _mirror_options(settings: Settings, entry: StoreEntry) -> dict[str, Any]:
    """The store's `mirror` options over the agency's (fabric.yaml maint.options.mirror), as `fab mirror`
    merges them: where its backups are (`root`, `repository`) and what is kept."""
    agency = settings.raw.get("options")
    theirs = agency.get("mirror") if isinstance(agency, Mapping) else None
    own = entry.options.get("mirror") if entry.options else None
    return {**(dict(theirs) if isinstance(theirs, Mapping) else {}), **(dict(own) if isinstance(own, Mapping) else {})}


def build_report(
    settings: Settings,
    plans: Plans,
    ledger: Ledger,
    client: Client,
    first: date,
    today: date,
    now: datetime | None = None,
) -> Report:
    fmt = client_formats(settings, client)
    month = Month(first, plans.timezone)
    state_dir = Path(settings.state_dir).expanduser()
    statement = client_statement(plans, ledger, client.name, client.title, client.plan, first, today)
    # UTC days widened by one: the agency's local day is decided by Month.holds.
    items = local_items(
        plans, ledger.items(client.name, since=first - timedelta(days=1), until=month.next_first)
    )
    audits = {s.name: read_audits(state_dir, client.name, s.name) for s in client.stores}
    upgrades = {s.name: read_upgrades(state_dir, client.name, s.name) for s in client.stores}
    products = {s.name: read_products(state_dir, client.name, s.name) for s in client.stores}
    campaigns = CampaignBook.open(state_dir, client.name)
    try:
        work = work_lines(items, month, audits, upgrades, products=products, campaigns=campaigns, fmt=fmt)
    finally:
        campaigns.close()
    db = _health_db(state_dir)
    notes = []
    try:
        stores = []
        for entry in client.stores:
            snaps = backups(entry.mirror, client.name, entry.name, month, _mirror_options(settings, entry), now)
            # Failed backup runs are the ledger's: a failed run leaves no snapshot to read.
            snaps.failed_runs = [w for w in work if w.store == entry.name and not w.ok and "backup" in w.text]
            store = StoreReport(
                name=entry.name,
                url=entry.url,
                availability=None if db is None else availability(db, entry.name, month),
                backups=snaps,
                platform=platform(
                    db, entry.name, month, snaps, upgrades[entry.name], verdicts.read(state_dir, entry.name), fmt
                ),
            )
            if db is not None:
                store.standing = standing_problems(db, entry.name, month)
                store.monitored_since = monitored_since(db, entry.name, month)
            store.next_steps = next_steps(store, month_closed=today >= month.next_first)
            stores.append(store)
    finally:
        if db is not None:
            db.close()
    if not items:
        notes.append("No work was recorded for this month.")
    if today < month.first:
        notes.append("This month has not started yet.")
    return Report(
        client=client.name,
        title=client.title or client.name,
        month=month,
        statement=statement,
        stores=stores,
        work=work,
        notes=notes,
        generated=now or datetime.now(UTC),
        fmt=fmt,
        contacts=[c.name for c in client.contacts],
    )


def private_dir(path: Path) -> Path:
    """Create the folder (and missing parents) 0700; an existing one is tightened to 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes) -> Path:
    """Write a report file 0600, atomically (a reader never sees half a report)."""
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
