"""Who a campaign goes to: the store's customers over SQL, the client's own list file, the suppression list.

`--to` names the sources, comma-separated: `newsletter` (customers with newsletter=1, the default),
`customers` (every enabled customer), `group:NAME` (a customer group) and `list:FILE` (the client's
external addresses, .csv or .xlsx, validated like a price sheet: every bad row is named).
Addresses are deduplicated case-insensitively, the first source naming one wins.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql.connections

from maint.errors import InputError
from maint.mail.journal import Recipient
from maint.pricing.issues import Issue, SheetInvalidError
from maint.remote.sql import query, table
from maint.sheets import Field, open_sheet
from maint.sheets.values import cell_text

# A deliverable address as clients write them: one @, a dot in the domain, no spaces or list separators.
_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]{2,}$")
EMAIL = Field("email", ("e-mail", "mail", "email address", "e-mail-adresse", "emailadresse", "adresse", "courriel"),
              required=True)
NAME = Field("name", ("firstname", "first name", "vorname", "prénom", "prenom", "voornaam", "full name"))
SUPPRESSION_FILE = "suppressed.csv"


@dataclass(frozen=True)
class Source:
    kind: str  # newsletter | customers | group | list
    arg: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.arg}" if self.arg else self.kind


def parse_sources(option: str) -> list[Source]:
    """`newsletter,list:extra.csv` → sources; bad names fail before any connection opens."""
    sources: list[Source] = []
    for part in filter(None, (p.strip() for p in (option or "newsletter").split(","))):
        kind, _, arg = part.partition(":")
        kind = kind.strip().lower()
        if kind in ("newsletter", "customers") and not arg:
            sources.append(Source(kind))
        elif kind == "group" and arg.strip():
            sources.append(Source("group", arg.strip()))
        elif kind == "list" and arg.strip():
            path = Path(arg.strip()).expanduser()
            if not path.is_file():
                raise InputError("file not found", file=str(path), column="--to")
            sources.append(Source("list", str(path)))
        else:
            raise InputError(
                f"--to {part!r}: use newsletter, customers, group:NAME or list:FILE.csv|xlsx", column="--to"
            )
    if len(set(sources)) != len(sources):
        raise InputError("--to names the same source twice", column="--to")
    return sources


def valid_email(address: str) -> bool:
    return len(address) <= 254 and bool(_EMAIL.match(address))


def read_list(path: Path, *, skip_invalid: bool = False) -> tuple[list[Recipient], list[Issue]]:
    """The client's list: every row with a valid, new address; all bad rows as issues.

    Raises SheetInvalidError listing every bad row, unless `skip_invalid` (then they come back as issues)."""
    sheet = open_sheet(path, (EMAIL, NAME))
    column = sheet.columns["email"]
    found: list[Recipient] = []
    issues: list[Issue] = []
    seen: dict[str, int] = {}
    for row in sheet.rows:
        text = cell_text(row.values["email"])
        for letter, value, reason in row.problems:
            issues.append(Issue(sheet.file, row.number, letter, value, reason))
        if not text:
            issues.append(Issue(sheet.file, row.number, column.letter, "", "no e-mail address"))
            continue
        if not valid_email(text):
            issues.append(Issue(sheet.file, row.number, column.letter, text, "not an e-mail address"))
            continue
        key = text.lower()
        if key in seen:
            continue  # a repeat is not an error: the client's list was merged from several
        seen[key] = row.number
        found.append(Recipient(text, cell_text(row.values.get("name")), f"list:{path.name}"))
    if issues and not skip_invalid:
        raise SheetInvalidError(issues)
    return found, issues


def store_customers(db: pymysql.connections.Connection, prefix: str, source: Source, store_id: int = 0
                    ) -> list[Recipient]:
    """Enabled customers of the store for a newsletter / customers / group source. A multi-store install
    keeps every store's customers in one table: only those who signed up in `store_id` are this store's."""
    customer = table(prefix, "customer")
    sql = f"SELECT c.email, TRIM(CONCAT(c.firstname, ' ', c.lastname)) FROM {customer} c"
    params: tuple[Any, ...] = (store_id,)
    where = ["c.store_id = %s", "c.status = 1", "c.email <> ''"]
    if source.kind == "newsletter":
        where.append("c.newsletter = 1")
    elif source.kind == "group":
        groups = query(
            db,
            f"SELECT DISTINCT customer_group_id FROM {table(prefix, 'customer_group_description')} "
            "WHERE LOWER(name) = LOWER(%s)",
            (source.arg,),
        )
        if not groups:
            names = [r[0] for r in query(db, f"SELECT DISTINCT name FROM {table(prefix, 'customer_group_description')}")]
            raise InputError(f"no customer group named {source.arg!r}; the store has: {', '.join(names)}",
                             column="--to")
        where.append(f"c.customer_group_id IN ({','.join('%s' for _ in groups)})")
        params += tuple(g[0] for g in groups)
    rows = query(db, f"{sql} WHERE {' AND '.join(where)} ORDER BY c.customer_id", params)
    return [Recipient(str(email).strip(), str(name or ""), str(source)) for email, name in rows]


def opted_out(db: pymysql.connections.Connection, prefix: str) -> set[str]:
    """Customers who said no to the newsletter in the store: the client's list can't bring them back."""
    rows = query(db, f"SELECT LOWER(TRIM(email)) FROM {table(prefix, 'customer')} WHERE newsletter = 0")
    return {r[0] for r in rows}


def suppression_path(state_dir: Path, client: str) -> Path:
    return Path(state_dir).expanduser() / "clients" / client / SUPPRESSION_FILE


def read_suppressed(path: Path) -> dict[str, str]:
    """address (lower-case) → reason, from the client's suppression list (address,reason,date)."""
    if not path.exists():
        return {}
    found: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or not row[0].strip() or row[0].strip().lower() == "address":
                continue
            address = row[0].strip().lower()
            if not valid_email(address):
                raise InputError("not an e-mail address", file=str(path), row=number, value=row[0])
            found[address] = row[1].strip() if len(row) > 1 and row[1].strip() else "suppressed"
    return found


def add_suppressed(path: Path, addresses: Iterable[str], reason: str) -> list[str]:
    """Append addresses (unsubscribed, bounced) to the suppression list; returns those that were new."""
    known = read_suppressed(path)
    new = []
    for address in addresses:
        key = address.strip().lower()
        if not valid_email(key):
            raise InputError(f"{address!r} is not an e-mail address", column="--suppress")
        if key not in known and key not in new:
            new.append(key)
    if new:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fresh = not path.exists()
        with path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if fresh:
                writer.writerow(("address", "reason", "date"))
            today = datetime.now(UTC).date().isoformat()
            writer.writerows((a, reason, today) for a in new)
        path.chmod(0o600)
    return new


@dataclass
class Audience:
    """The campaign's recipients after dedup and suppression, with counts per source for the plan."""

    recipients: list[Recipient] = field(default_factory=list)
    suppressed: list[tuple[Recipient, str]] = field(default_factory=list)
    per_source: dict[str, dict[str, int]] = field(default_factory=dict)  # source → found/duplicate/…
    issues: list[Issue] = field(default_factory=list)

    def __iter__(self) -> Iterator[Recipient]:
        return iter(self.recipients)


def build_audience(
    batches: Sequence[tuple[Source, list[Recipient]]],
    suppressed: dict[str, str],
    store_opt_outs: set[str],
) -> Audience:
    """Dedupe across sources (first wins) and apply the suppression list and the store's opt-outs."""
    audience = Audience()
    seen: set[str] = set()
    for source, found in batches:
        counts = {"found": len(found), "duplicate": 0, "suppressed": 0, "invalid": 0, "to_send": 0}
        audience.per_source[str(source)] = counts
        for r in found:
            if not valid_email(r.address):
                counts["invalid"] += 1
                audience.issues.append(Issue(str(source), 0, "email", r.address, "not an e-mail address"))
                continue
            if r.key in seen:
                counts["duplicate"] += 1
                continue
            seen.add(r.key)
            why = suppressed.get(r.key)
            if why is None and source.kind == "list" and r.key in store_opt_outs:
                why = "opted out of the newsletter in the store"
            if why:
                counts["suppressed"] += 1
                audience.suppressed.append((r, why))
                continue
            counts["to_send"] += 1
            audience.recipients.append(r)
    return audience
