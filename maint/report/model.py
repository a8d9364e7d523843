"""The monthly client report as data, gathered only from what maint already recorded.

Sources: the billing ledger and its statement (the same `Statement` `fab hours` prints), the health
history (`health.sqlite`), the mirror's snapshot manifests, the price/discount/group audit files
(`<state_dir>/undo/<client>/<store>/audit.jsonl`) and the upgrade journal
(`<state_dir>/upgrade/<client>/<store>/*-upgrade.json`), the products-list undo files, the mail journal
(`mail.sqlite`, read-only) and `fab check`'s recorded verdicts (maint.verdicts). What no source recorded is said as unknown,
never guessed: a store without health results is "not monitored this month", not 100 % up.
Nothing here reads a store: the report can be made offline, for a past month, from the records.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from maint.advisories import URGENT_SEVERITIES
from maint.billing.account import WorkItem
from maint.billing.rules import add_months
from maint.billing.statement import Statement
from maint.errors import MaintError
from maint.health.history import AVAILABILITY_CHECKS
from maint.mirror.layout import parse_timestamp
from maint.mirror.listing import SnapshotPlace
from maint.mirror.retention import Retention
from maint.pricing.undo import read_audit
from maint.pricing.undo import store_dir as undo_dir
from maint.report.campaigns import CampaignBook
from maint.report.formats import DEFAULT, Formats
from maint.verdicts import VERSION_COMPONENTS, Recorded

# A newest verified backup older than this at month end is worth a next step.
STALE_BACKUP = timedelta(days=7)
LEVEL_WORDS = {
    1: "1: shop down or no orders",
    2: "2: partly down",
    3: "3: a feature broken",
    4: "4: a small issue",
}
# Tasks that only look: said in plain words, grouped per day so 30 health runs are one line.
LOOKING = {
    "info": "Checked the shop's platform and versions",
    "check": "Ran the compatibility and security check",
    "health": "Ran the health checks",
    "doctor": "Checked the maintenance set-up",
}


CHANGE_STOPPED = {
    "prices": "A price list was checked and not applied (a problem in the file or the shop); nothing changed",
    "discounts": "A discount list was checked and not applied; nothing changed",
    "groups": "A customer-group list was checked and not applied; nothing changed",
    "undo": "An undo was stopped before changing anything",
}


@dataclass(frozen=True)
class Month:
    """A calendar month in the agency's time zone, as dates and as UTC epoch bounds."""

    first: date
    zone: ZoneInfo

    @property
    def next_first(self) -> date:
        return add_months(self.first, 1)

    @property
    def last(self) -> date:
        return self.next_first - timedelta(days=1)

    def moment(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=self.zone)

    @property
    def start(self) -> float:
        return self.moment(self.first).timestamp()

    @property
    def end(self) -> float:
        return self.moment(self.next_first).timestamp()

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment.timestamp() < self.end


@dataclass
class WorkLine:
    day: date
    store: str
    text: str
    seconds: float = 0.0
    ok: bool = True


@dataclass
class Incident:
    start: float
    end: float | None  # None: still down at the month's end
    level: int | None
    checks: list[str]
    evidence: str

    @property
    def seconds(self) -> float | None:
        return None if self.end is None else self.end - self.start


@dataclass
class Availability:
    runs: int
    up_runs: int
    first_run: float | None
    last_run: float | None
    incidents: list[Incident] = field(default_factory=list)
    # (start, end, up) spans for the timeline chart, epoch seconds
    spans: list[tuple[float, float, bool]] = field(default_factory=list)

    @property
    def percent(self) -> float | None:
        return None if not self.runs else 100.0 * self.up_runs / self.runs


@dataclass
class Snapshot:
    name: str
    taken: datetime
    verified: bool
    opencart_version: str = ""
    php_version: str = ""
    bytes: int = 0


@dataclass
class Backups:
    in_month: list[Snapshot] = field(default_factory=list)
    newest: Snapshot | None = None  # newest at the month's end, any month
    age_at_end: timedelta | None = None
    kept: int = 0  # snapshots on disk now
    retention: Retention | None = None
    failed_runs: list[WorkLine] = field(default_factory=list)
    mirror_root: str = ""  # where the backups are: the store's mirror folder or its repository
    unreadable: str = ""  # why the backups could not be read (a repository without its passphrase here)


@dataclass
class Platform:
    opencart: str = ""
    php: str = ""
    database: str = ""
    source: str = ""  # where the versions come from, said in the report
    changes: list[str] = field(default_factory=list)
    web_server: str = ""
    advisories_state: str = ""  # the last health `advisories` result of the month
    advisories_detail: str = ""
    advisories_cleared: list[str] = field(default_factory=list)
    # `fab check`'s last recorded verdict of the month (maint.verdicts); None: no check ran in it.
    check: Recorded | None = None
    check_before: Recorded | None = None  # the last one before the month, when none ran in it
    advisories_at: float = float("-inf")  # when the health check last judged the advisories

    @property
    def check_is_newest(self) -> bool:
        """The recorded check is the latest word on advisories (newer than the health check's)."""
        return self.check is not None and self.check.at.timestamp() >= self.advisories_at

    @property
    def advisories_apply(self) -> bool:
        if self.check is not None and self.check_is_newest:
            return bool(self.check.advisories)
        return self.advisories_state in ("CRITICAL", "WARNING")

    @property
    def advisory_rows(self) -> list[dict[str, Any]]:
        """The advisories applying at the month's end, from whichever judged last: the recorded check,
        or the health check's evidence (with the check's summaries where it knows the same id)."""
        if self.check is not None and self.check_is_newest:
            return self.check.advisories
        if self.advisories_state not in ("CRITICAL", "WARNING"):
            return []
        known = {str(a.get("id")): a for a in (self.check or self.check_before or _NO_CHECK).advisories}
        rows = parse_advisory_lines(self.advisories_detail)
        return [{**row, "summary": known.get(row["id"], {}).get("summary") or ""} for row in rows]


_NO_CHECK = Recorded(datetime(1970, 1, 1, tzinfo=UTC), "", "unknown")
# One graded advisory as the health `advisories` check writes it (maint.advisories.GradedAdvisory.line).
_ADVISORY_LINE = re.compile(
    r"(?P<id>[A-Z][\w.-]+) \((?P<severity>[^,()]+), (?P<access>[^,()]+), "
    r"(?:fixed in (?P<fixed>[\d.]+)|no fix)\): (?P<action>.*?)(?=; [A-Z][\w.-]+ \(|$)"
)


def parse_advisory_lines(detail: str) -> list[dict[str, Any]]:
    """'3.0.3.8: CVE-… (critical, unauthenticated, fixed in 3.0.4.0): upgrade to 3.0.4.0; …' as rows,
    graded by the rule of maint.advisories (fixed and critical/high or needing no login: urgent)."""
    out = []
    for m in _ADVISORY_LINE.finditer(detail):
        urgent = m["fixed"] and (m["severity"] in URGENT_SEVERITIES or m["access"] == "unauthenticated")
        out.append(
            {"id": m["id"], "grade": "critical" if urgent else "warning", "fixed": m["fixed"],
             "severity": m["severity"], "action": m["action"].strip()}
        )
    return out


@dataclass
class StoreReport:
    name: str
    url: str
    availability: Availability | None
    backups: Backups
    platform: Platform
    next_steps: list[str] = field(default_factory=list)
    # Health checks about the shop's set-up still failing at the month's end: check id → evidence.
    standing: dict[str, str] = field(default_factory=dict)
    monitored_since: float | None = None  # the store's first health run ever, when it was in this month


@dataclass
class Report:
    client: str
    title: str
    month: Month
    statement: Statement
    stores: list[StoreReport]
    work: list[WorkLine]
    notes: list[str] = field(default_factory=list)
    generated: datetime = field(default_factory=lambda: datetime.now(UTC))
    fmt: Formats = DEFAULT
    contacts: list[str] = field(default_factory=list)  # the inventory's contact names (never addresses)

    @property
    def month_label(self) -> str:
        return self.fmt.month(self.month.first)


# --- work done -----------------------------------------------------------------------------------


def _plural(n: int, word: str, fmt: Formats = DEFAULT) -> str:
    return f"{fmt.number(n)} {word}{'' if n == 1 else 's'}"


def _file_name(path: Any) -> str:
    return Path(str(path or "")).name or "a file"


def audit_text(record: dict[str, Any], fmt: Formats = DEFAULT) -> str:
    """One audit line (prices, discounts, groups, undo) in a shop owner's words."""
    task, counts, name = record.get("task"), record.get("counts") or {}, _file_name(record.get("file"))
    if task == "prices":
        text = f"Updated {_plural(int(counts.get('changed', 0)), 'price', fmt)} from {name}"
        if counts.get("specials"):
            text += f" and {_plural(int(counts['specials']), 'special price', fmt)}"
        return text
    if task == "discounts":
        pairs = _plural(int(counts.get("pairs", 0)), "product/group pair", fmt)
        return f"Updated quantity discounts for {pairs} from {name}"
    if task == "groups":
        parts = [f"{fmt.number(counts[k])} {k}" for k in ("created", "renamed", "moved") if counts.get(k)]
        return f"Updated customer groups from {name}" + (f" ({', '.join(parts)})" if parts else "")
    if task == "undo":
        undone = {"prices": "price", "discounts": "discount", "groups": "customer-group"}.get(
            str(record.get("undoes")), "an earlier"
        )
        what = f"the earlier {undone} change" if undone != "an earlier" else "an earlier change"
        return f"Undid {what} ({_plural(int(counts.get('restored', 0)), 'value', fmt)} restored)"
    return f"Applied {task} from {name}"


# The ledger note `fab flyer` leaves (maint/tasks/flyer.py); `fab mail`'s campaigns are read from its journal.
_FLYER_NOTE = re.compile(r"flyer \S+: (?P<count>\d+) product\(s\), (?P<headline>.*)")


def flyer_text(note: str, fmt: Formats = DEFAULT) -> str:
    found = _FLYER_NOTE.search(note)
    if not found:
        return "Made a flyer"
    headline = found["headline"].strip()
    named = f" “{headline}”" if headline and headline != "no headline" else ""
    return f"Made the flyer{named} with {_plural(int(found['count']), 'product', fmt)}"


# Extension runs note what they installed or removed and how it ended (maint/tasks/extension.py).
_EXTENSION_NOTE = re.compile(r"^(?P<action>install|remove) (?P<subject>.+?): (?P<end>done|failed, (?P<how>.+))$")


def extension_text(task: str, note: str) -> str:
    action = task.split()[-1]
    found = _EXTENSION_NOTE.match(note.strip())
    subject = f" {found['subject']}" if found else ""
    if found is None or found["end"] == "done":
        return f"{'Installed' if action == 'install' else 'Removed'} the extension{subject}"
    if found["how"] == "rolled back":
        return f"Tried to {action} the extension{subject}; it failed and the shop was put back as it was"
    return f"Tried to {action} the extension{subject}; it failed before changing the live shop"


LIST_NAMES = {"featured": "Featured products", "quote": "Add to Quote"}


def products_text(record: dict[str, Any], fmt: Formats = DEFAULT) -> str:
    """A products-list undo file (maint.extension.lists.write_undo): what the run added and removed."""
    before, after = set(record.get("before") or []), set(record.get("after") or [])
    name = str(record.get("list") or "")
    label = LIST_NAMES.get(name, f"“{name}”" if name else "a product")
    parts = [
        f"{_plural(len(ids), 'product', fmt)} {verb}"
        for ids, verb in ((after - before, "added"), (before - after, "removed"))
        if ids
    ]
    what = ", ".join(parts) or "no product changed"
    return f"Updated the {label} list from {_file_name(record.get('source'))}: {what}"


def upgrade_text(journal: dict[str, Any], fmt: Formats = DEFAULT) -> str:
    before, after = journal.get("from") or "?", journal.get("to") or "?"
    if journal.get("ok"):
        live = journal.get("live") or {}
        window = live.get("maintenance_window_seconds")
        down = f", {_downtime(float(window), fmt)} of downtime" if window is not None else ""
        return f"Upgraded OpenCart {before} → {after}{down}"
    if journal.get("rolled_back"):
        return f"Tried to upgrade OpenCart {before} → {after}; it was rolled back and the shop kept {before}"
    return f"Tried to upgrade OpenCart {before} → {after}; it stopped before changing the live shop"


def _downtime(seconds: float, fmt: Formats) -> str:
    """'42 s', '3 min 05 s': a shop owner reads minutes better than 185 s."""
    whole = round(seconds)
    if whole < 120:
        return f"{fmt.number(whole)} s"
    return f"{fmt.number(whole // 60)} min {whole % 60:02d} s"


def read_products(state_dir: Path, client: str, store: str) -> list[tuple[float, dict[str, Any]]]:
    """The undo files `fab products` writes, with the time each was written (during the run)."""
    folder = undo_dir(state_dir, client, store)
    out = []
    for path in sorted(folder.glob("*-products-*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            at = parse_timestamp(str(data.get("time") or path.name.split("-")[0])[:15] + "Z").timestamp()
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            out.append((at, {**data, "task": "products", "file": path.name}))
    return out


def _near(
    records: Sequence[tuple[float, dict[str, Any]]], item: WorkItem, slack: float = 60
) -> dict[str, Any] | None:
    """The record this ledger entry's run wrote: same task, written during the run (a minute of
    slack either side), the closest to the run's end when several qualify (a prices run and its
    undo a few seconds apart)."""
    start, end = item.started.timestamp(), item.started.timestamp() + item.seconds
    found = [
        (abs(at - end), record)
        for at, record in records
        if start - slack <= at <= end + slack and record.get("task", item.task) == item.task
    ]
    return min(found, key=lambda pair: pair[0])[1] if found else None


# A `fab products` run's ledger note names the undo file it wrote, an `--undo` run's the one it read
# (`maint.tasks.products` writes them): a change and its undo are told apart by them, however close in time.
NOTE_WROTE, NOTE_UNDID = "undo file ", "undo of "
PRODUCTS_UNDONE = "Put a product list back as it was before an earlier change"


def _products_text(records: Sequence[tuple[float, dict[str, Any]]], item: WorkItem, fmt: Formats) -> str:
    """A `fab products` run in words, from the undo file it wrote: the one its ledger note names; for an
    entry from before notes named it, the one written during the run (a tight window: a quick `--undo` run
    after it, which writes none, must not take it for its own). An `--undo` run (its note says so) wrote none."""
    parts = item.note.split("; ") if item.note else []
    if any(p.startswith(NOTE_UNDID) for p in parts):
        return PRODUCTS_UNDONE
    named = next((p[len(NOTE_WROTE):] for p in parts if p.startswith(NOTE_WROTE)), None)
    if named is None:
        record = _near(records, item, slack=2)
        return products_text(record, fmt) if record else PRODUCTS_UNDONE
    record = next((r for _, r in records if r.get("file") == named), None)
    return products_text(record, fmt) if record else "Changed a product list (its undo file is no longer kept)"


def read_audits(state_dir: Path, client: str, store: str) -> list[tuple[float, dict[str, Any]]]:
    out = []
    for record in read_audit(undo_dir(state_dir, client, store)):
        try:
            at = datetime.fromisoformat(str(record["when"])).timestamp()
        except (KeyError, ValueError):
            continue
        if str(record.get("result", "")).startswith("applied"):
            out.append((at, record))
    return out


def read_upgrades(state_dir: Path, client: str, store: str) -> list[tuple[float, dict[str, Any]]]:
    folder = state_dir / "upgrade" / client / store
    out = []
    for path in sorted(folder.glob("*-upgrade.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            # The journal is written when the run ends: its time is the end of the ledger entry.
            at = parse_timestamp(str(data.get("time") or path.name.split("-")[0])).timestamp()
        except (OSError, ValueError):
            continue
        out.append((at, data))
    return out


def work_lines(
    items: Iterable[WorkItem],
    month: Month,
    audits: dict[str, list[tuple[float, dict[str, Any]]]],
    upgrades: dict[str, list[tuple[float, dict[str, Any]]]],
    *,
    products: dict[str, list[tuple[float, dict[str, Any]]]] | None = None,
    campaigns: CampaignBook | None = None,
    fmt: Formats = DEFAULT,
) -> list[WorkLine]:
    """Every run and manual entry of the month in plain words; dry runs and voided entries left out,
    failed runs kept (said as not completed), look-only runs folded into one line per store and day."""
    lines: list[WorkLine] = []
    looked: dict[tuple[date, str, str], WorkLine] = {}
    for item in sorted(items, key=lambda i: i.started):
        if not month.holds(item.started) or item.seconds <= 0 or item.outcome.startswith("dry run"):
            continue
        ok = item.done
        if item.source == "manual" or item.task in ("manual", "log"):
            text = item.note or "Work by hand"
        elif item.task in LOOKING:
            key = (item.day, item.store, item.task)
            if key in looked and ok:
                looked[key].seconds += item.seconds
                continue
            text = LOOKING[item.task]
            if ok:
                looked[key] = line = WorkLine(item.day, item.store, text, item.seconds, ok)
                lines.append(line)
                continue
        elif item.task in ("prices", "discounts", "groups", "undo"):
            if not ok:
                # These apply in one transaction: a failed run changed nothing in the shop.
                lines.append(WorkLine(item.day, item.store, CHANGE_STOPPED[item.task], item.seconds, ok))
                continue
            record = _near(audits.get(item.store, []), item)
            text = audit_text(record, fmt) if record else f"{item.task.capitalize()} change run"
        elif item.task in ("upgrade", "rollback"):
            journal = _near(upgrades.get(item.store, []), item)
            if item.task == "rollback":
                undone = f" {journal.get('to')} → {journal.get('from')}" if journal else ""
                text = f"Rolled the OpenCart upgrade back{undone}"
            elif journal is not None:
                # The journal says how the run ended (a rolled-back upgrade ends its ledger entry normally).
                text = upgrade_text(journal, fmt)
                lines.append(WorkLine(item.day, item.store, text, item.seconds, ok and bool(journal.get("ok"))))
                continue
            else:
                text = "Upgraded OpenCart (no journal of the run was found)"
        elif item.task == "restore":
            text = "Put the shop back from a backup"
        elif item.task == "mirror":
            text = "Took a backup of the shop's files and database"
        elif item.task == "mail":
            text = (campaigns or CampaignBook.empty()).text(item, fmt)
        elif item.task == "flyer":
            text = flyer_text(item.note, fmt)
        elif item.task.startswith("extension "):
            # A failed change is rolled back inside the run, which itself ends normally: the note says so.
            text = extension_text(item.task, item.note) + ("" if ok else " (did not complete)")
            lines.append(WorkLine(item.day, item.store, text, item.seconds, ok and "failed" not in item.note))
            continue
        elif item.task == "products":
            text = _products_text((products or {}).get(item.store, []), item, fmt)
        else:
            text = f"Ran {item.task}"
        if not ok:
            text += " (did not complete)"
        lines.append(WorkLine(item.day, item.store, text, item.seconds, ok))
    return lines


# --- availability --------------------------------------------------------------------------------


def availability(db: sqlite3.Connection, store: str, month: Month) -> Availability | None:
    """Runs of the month: a run is down when home, cart or checkout was CRITICAL, or UNKNOWN because
    another failure explained it (the database was down); OK with a cause (planned maintenance) is
    up. The rule of `History.availability`. An incident runs from its first down run to the first
    up run after it."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(results)")}
    # A history written before causes were recorded has no column (read-only here: not added).
    down = "(state = 'CRITICAL' OR (state = 'UNKNOWN' AND cause != ''))" if "cause" in columns else "state = 'CRITICAL'"
    marks = ",".join("?" * len(AVAILABILITY_CHECKS))
    hit = f"{down} AND check_id IN ({marks})"
    rows = db.execute(
        f"SELECT run_at, MAX({hit}), MIN(CASE WHEN {hit} THEN level END), "  # noqa: S608 (fixed text, '?' marks)
        f"GROUP_CONCAT(CASE WHEN {hit} THEN check_id END), MAX(CASE WHEN {hit} THEN evidence END) "
        "FROM results WHERE store = ? AND run_at >= ? AND run_at < ? GROUP BY run_at ORDER BY run_at",
        (*AVAILABILITY_CHECKS * 4, store, month.start, month.end),
    ).fetchall()
    if not rows:
        return None
    result = Availability(runs=len(rows), up_runs=0, first_run=rows[0][0], last_run=rows[-1][0])
    current: Incident | None = None
    span_start, span_up = rows[0][0], not rows[0][1]
    for run_at, down, level, checks, evidence in rows:
        up = not down
        if up != span_up:
            result.spans.append((span_start, run_at, span_up))
            span_start, span_up = run_at, up
        if up:
            result.up_runs += 1
            if current is not None:
                current.end = run_at
                current = None
            continue
        if current is None:
            current = Incident(run_at, None, level, sorted(set(str(checks).split(","))), evidence or "")
            result.incidents.append(current)
        else:
            if level is not None and (current.level is None or level < current.level):
                current.level = level
            current.checks = sorted({*current.checks, *str(checks).split(",")})
    result.spans.append((span_start, rows[-1][0], span_up))
    return result


def last_result(
    db: sqlite3.Connection, store: str, check: str, month: Month
) -> tuple[str, str, str, float] | None:
    row = db.execute(
        "SELECT state, COALESCE(value, ''), evidence, run_at FROM results WHERE store = ? AND check_id = ? "
        "AND run_at >= ? AND run_at < ? ORDER BY run_at DESC LIMIT 1",
        (store, check, month.start, month.end),
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]), str(row[2]), float(row[3]))


_CHANGE = re.compile(r"^(?P<what>[A-Za-z][\w ]*?) (?P<old>\S+) (?:->|→) (?P<new>\S+)")


def _change_key(text: str) -> tuple[str, str, str] | str:
    """The same change said by the health check, the upgrade journal and `fab check` counts once."""
    found = _CHANGE.match(text)
    return (found["what"].lower(), found["old"], found["new"]) if found else text


def _add_change(found: Platform, text: str) -> None:
    if _change_key(text) not in {_change_key(t) for t in found.changes}:
        found.changes.append(text)


def health_changes(evidence: str) -> list[str]:
    """The health `versions_changed` evidence ("opencart 3.0.3.8 → 3.0.5.1; php 8.1 → 8.2 (run `fab
    check`)") as one change each, named as the report names them, without the note for maintainers."""
    out = []
    for part in evidence.split("; "):
        part = part.removesuffix(" (run `fab check`)").strip()
        found = _CHANGE.match(part)
        if found and found["what"].lower() in VERSION_COMPONENTS:
            part = f"{VERSION_COMPONENTS[found['what'].lower()]} {found['old']} → {found['new']}"
        if part:
            out.append(part)
    return out


def check_changes(records: Sequence[Recorded], month: Month, fmt: Formats = DEFAULT) -> list[str]:
    """Version changes seen by recorded checks in the month ("PHP 8.1.27 → 8.2.29 (seen 12 Nov)"),
    each against the last value known before it (the checks before the month are the starting point)."""
    out: list[str] = []
    # Against the last value known, not the run before: a check that could not read PHP (unknown)
    # sits between two that could without hiding the change.
    known: dict[str, str] = {}
    for record in records:
        for key, label in VERSION_COMPONENTS.items():
            old, new = known.get(key), record.versions.get(key)
            if old and new and old != new and month.start <= record.at.timestamp() < month.end:
                out.append(f"{label} {old} → {new} (seen {fmt.day(record.at.astimezone(month.zone))})")
            if new:
                known[key] = new
    return out


def platform(
    db: sqlite3.Connection | None,
    store: str,
    month: Month,
    backups: Backups,
    upgrades: Sequence[tuple[float, dict[str, Any]]],
    checks: Sequence[Recorded] = (),
    fmt: Formats = DEFAULT,
) -> Platform:
    found = Platform()
    seen_at = float("-inf")  # when the versions shown were read: a later source replaces them
    if backups.newest is not None:
        found.opencart, found.php = backups.newest.opencart_version, backups.newest.php_version
        found.source = f"the backup of {fmt.long_day(backups.newest.taken.astimezone(month.zone))}"
        seen_at = backups.newest.taken.timestamp()
    for at, journal in upgrades:
        if month.start <= at < month.end and journal.get("ok"):
            _add_change(found, f"OpenCart {journal.get('from')} → {journal.get('to')}")
            found.opencart = str(journal.get("to") or found.opencart)
            seen_at = max(seen_at, at)
    in_month = [r for r in checks if month.start <= r.at.timestamp() < month.end]
    before = [r for r in checks if r.at.timestamp() < month.start]
    for text in check_changes(list(checks), month, fmt):
        _add_change(found, text)
    if in_month:
        found.check = last = in_month[-1]
        if last.at.timestamp() >= seen_at and last.versions:
            found.opencart = last.versions.get("opencart", found.opencart)
            found.php = last.versions.get("php", found.php)
            found.source = f"the check of {fmt.long_day(last.at.astimezone(month.zone))}"
            seen_at = last.at.timestamp()
        found.database = last.versions.get("database", "")
        found.web_server = last.versions.get("web server", "")
        # Cleared: applied at the month's start (the last check before it) or earlier in it, not at its end.
        standing = {str(a.get("id")) for a in last.advisories}
        earlier: dict[str, str] = {}
        for r in [*before[-1:], *in_month[:-1]]:
            for a in r.advisories:
                earlier.setdefault(str(a.get("id")), str(a.get("summary") or ""))
        found.advisories_cleared = [
            f"{aid}: {summary}" if summary else aid for aid, summary in earlier.items() if aid not in standing
        ]
    elif before:
        found.check_before = before[-1]
    if db is None:
        return found
    for (evidence,) in db.execute(
        "SELECT evidence FROM results WHERE store = ? AND check_id = 'versions_changed' "
        "AND state NOT IN ('OK', 'SKIPPED') AND run_at >= ? AND run_at < ? ORDER BY run_at",
        (store, month.start, month.end),
    ):
        for text in health_changes(evidence or ""):
            _add_change(found, text)
    memo = db.execute("SELECT value FROM memo WHERE store = ? AND key = 'versions'", (store,)).fetchone()
    if memo and last_result(db, store, "versions_changed", month):
        versions = json.loads(memo[0])
        found.database = found.database or str(versions.get("database") or "")
        if not found.source:
            found.opencart, found.php = str(versions.get("opencart") or ""), str(versions.get("php") or "")
            found.source = "the health checks"
    advisories = last_result(db, store, "advisories", month)
    if advisories:
        found.advisories_state, _, found.advisories_detail, found.advisories_at = advisories
        # Cleared: an advisory result that was a problem earlier in the month and is healthy at its end.
        if advisories[0] in ("OK", "SKIPPED") and not found.check_is_newest:
            evidence = [
                str(e)
                for (e,) in db.execute(
                    "SELECT DISTINCT evidence FROM results WHERE store = ? AND check_id = 'advisories' "
                    "AND state IN ('CRITICAL', 'WARNING') AND run_at >= ? AND run_at < ?",
                    (store, month.start, month.end),
                )
            ]
            found.advisories_cleared = _cleared_by_id(evidence, [*checks])
    return found


def _cleared_by_id(evidence: list[str], checks: Sequence[Recorded]) -> list[str]:
    """Each advisory of the health evidence once, by id with the check's summary where one knows it
    ("CVE-2024-21514: SQL injection"); evidence in no known shape is kept as written."""
    summaries = {str(a.get("id")): str(a.get("summary") or "") for r in checks for a in r.advisories}
    out: list[str] = []
    for text in evidence:
        rows = parse_advisory_lines(text)
        for line in [f"{r['id']}: {summaries[r['id']]}" if summaries.get(r["id"]) else r["id"] for r in rows] or [text]:
            if line not in out:
                out.append(line)
    return out


# --- backups -------------------------------------------------------------------------------------


def backups(
    mirror_root: str,
    client: str,
    store: str,
    month: Month,
    options: dict[str, Any],
    now: datetime | None = None,
) -> Backups:
    """Snapshots of the month; the newest verified one and its age at the month's end (or now, for
    a month not over yet). From the mirror folder or the store's borg repository alike
    (`options["repository"]`, read through `maint.mirror.listing`)."""
    found = Backups(mirror_root=mirror_root)
    keep = options.get("keep") if isinstance(options, dict) else None
    try:
        found.retention = Retention.from_options(keep if isinstance(keep, dict) else None)
    except Exception:  # noqa: BLE001 (a bad option is `fab mirror`'s to report; the report says unknown)
        found.retention = None
    place = SnapshotPlace.of(mirror_root, options, client, store)
    if not place.configured:
        return found
    found.mirror_root = place.describe()
    try:
        summaries = place.summaries()
    except MaintError as exc:  # a repository maint can't read now (no passphrase here, drive unplugged)
        found.unreadable = exc.message
        return found
    found.kept = len(summaries)
    end = datetime.fromtimestamp(month.end, UTC)
    for summary in summaries:
        taken = summary.taken
        if taken >= end:
            continue
        # A damaged manifest is an unverified backup, said as such.
        snap = Snapshot(summary.name, taken, summary.verified and summary.readable, summary.opencart_version,
                        summary.php_version, summary.bytes)
        if taken.timestamp() >= month.start:
            found.in_month.append(snap)
        if snap.verified:
            found.newest = snap
    if found.newest is not None:
        found.age_at_end = min(end, now or end) - found.newest.taken
    return found


# --- next steps ----------------------------------------------------------------------------------

# Set-up problems the health checks find, said as what we will do (the last result of the month).
SETTING_STEPS = {
    "error_display": "Settings: the shop shows PHP errors to visitors (error display is on); we will turn it off.",
    "install_dir": "Security: OpenCart's install/ folder is still on the server; we will remove it.",
    "disk_free": "Hosting: the server's disk is nearly full; we will free space or ask the host for more.",
    "php_fatals": "Errors: the shop's error log shows PHP errors; we will look into them.",
    "ocmod_disabled": "Settings: some of the shop's modifications are switched off; we will check they should be.",
    "tls": "Security: the shop's TLS (https) certificate expires soon; we will renew it.",
    "maintenance": "Settings: the shop was left in maintenance mode; we will open it again.",
    "admin_login": "Admin: the shop's admin login page did not work; we will fix it.",
}


def standing_problems(db: sqlite3.Connection, store: str, month: Month) -> dict[str, str]:
    """The set-up checks (SETTING_STEPS) whose last result of the month was WARNING or CRITICAL."""
    found = {}
    for check in SETTING_STEPS:
        last = last_result(db, store, check, month)
        if last is not None and last[0] in ("WARNING", "CRITICAL"):
            found[check] = last[2]
    return found


def monitored_since(db: sqlite3.Connection, store: str, month: Month) -> float | None:
    """The store's first health run ever, when it fell after the month's first day (a shop added mid-month)."""
    first = db.execute("SELECT MIN(run_at) FROM results WHERE store = ?", (store,)).fetchone()[0]
    return float(first) if first is not None and month.start + 86400 <= first < month.end else None


_UPGRADE_TO = re.compile(r"upgrade to (\d+(?:\.\d+)+)")
_ADVISORY = re.compile(r"\bCVE-\d{4}-\d+")


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _weaknesses(known: int, version: str) -> str:
    what = f"{known} known security weakness{'es' if known != 1 else ''}" if known else "a known security weakness"
    return f"{what} affect{'s' if known == 1 else ''} this shop's OpenCart{f' {version}' if version else ''}"


def security_step(p: Platform) -> str:
    """The advisories (as `fab check` grades them, in its record or the health check's evidence) in a
    shop owner's words: the release that fixes what a release can fix, and how many weaknesses are known."""
    rows = p.advisory_rows
    known = len(rows) or len(set(_ADVISORY.findall(p.advisories_detail)))
    targets = sorted({str(a["fixed"]) for a in rows if a.get("fixed")}, key=_version_key) or sorted(
        set(_UPGRADE_TO.findall(p.advisories_detail)), key=_version_key
    )
    if p.check is not None and p.check.recommended:
        # The check's target fixes them too and suits the server: one release named, not two.
        targets = [p.check.recommended]
    if targets:
        return (
            f"Security: {_weaknesses(known, p.opencart)}. "
            f"Upgrading to OpenCart {targets[-1]} fixes those a release can fix; we recommend planning it."
        )
    return f"Security: {_weaknesses(known, p.opencart)}; see the advice above."


def next_steps(store: StoreReport, month_closed: bool) -> list[str]:
    steps = []
    p, b, a = store.platform, store.backups, store.availability
    if p.advisories_apply:
        steps.append(security_step(p))  # names the check's recommended release when there is one
    if p.check is not None and p.check.status in ("critical", "warning", "unsupported") and p.check.recommended:
        if p.check.recommended != p.opencart and not p.advisories_apply:
            steps.append(
                f"Platform: we recommend upgrading OpenCart{f' {p.opencart}' if p.opencart else ''} to "
                f"{p.check.recommended}, the newest release that suits this shop's server."
            )
    elif p.check is not None and p.check.status in ("critical", "unsupported"):
        steps.append("Platform: the compatibility check found a problem with the server; we will look into it.")
    steps += [SETTING_STEPS[check] for check in store.standing]
    if b.unreadable:
        steps.append("Backups: the backups could not be read when this report was made; we will check them.")
    elif b.newest is None:
        steps.append("Backups: no verified backup exists yet; we will set up regular backups.")
    elif b.age_at_end is not None and b.age_at_end > STALE_BACKUP:
        steps.append(
            f"Backups: the newest verified backup is {b.age_at_end.days} days old; we will take a fresh one."
        )
    if a is None:
        steps.append("Monitoring: the shop was not monitored this month; we recommend turning it on.")
    elif a.incidents and a.incidents[-1].end is None:
        when = "was still open at the end of the month" if month_closed else "is still open"
        steps.append(f"Availability: a problem {when}; we are on it.")
    if not month_closed:
        steps.append("This month is not over yet: this report shows it up to today.")
    return steps
