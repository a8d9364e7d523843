"""What the rules read: a client's work items and account events, as plain data.

Contract terms are dated events: each `term` event sets one term (its name and value) from its
day on, so a later change never rewrites a period that had already started, and setting one term
leaves the others as they were. `TermBook` answers "which terms were in force on day D".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# Account event kinds and what `amount` and `data` mean for each.
EVENT_KINDS = {
    "term": "one contract term from this day on (data: name, value)",
    "terms": "old undated terms (data: start, one_year, group_months, priority); read only to migrate",
    "group": "two months pooled once by agreement, from this month (first day of the first month)",
    "cancel": "the client cancelled: billing ends at this month's end",
    "confirm": "the client confirmed category 2/3 work (data: ticket, by, how)",
    "pack": "credits bought (amount: pack size)",
    "licence": "an additional licence (amount: licences; brings free credits on credits plans)",
    "period": "support period bought (amount: months; data: licences, plan)",
    "suspend": "support period suspended",
    "resume": "support period resumed",
    "incident": "a new incident bought (data: ticket, price, priority)",
    "close": "the incident is solved",
}

# What a request may be paid with, when a client has both (CS-Cart: periods and credits).
PAYS = ("", "period", "credits")

# Terms, their type and their value before any event sets them.
TERM_DEFAULTS: dict[str, Any] = {
    "start": None,  # contract start (date); a fact of the contract, not dated itself
    "one_year": False,  # one-year contract from this term's day: the package discount applies
    "group_months": 1,  # 2: months pooled in pairs from this term's month
    "priority": False,  # priority handling for an incident
    "free_start": "",  # credits: "days" or "credits", the client's choice of free start
    "category_agreement": False,  # credits: the client agreed in advance to the category assessment
}


@dataclass(frozen=True)
class WorkItem:
    """One effective (not superseded) ledger entry."""

    id: int
    client: str
    store: str
    task: str
    started: datetime
    seconds: float
    outcome: str = "ok"
    note: str = ""
    source: str = "auto"
    ticket: str = ""
    category: int | None = None
    on_demand: bool = False
    pays: str = ""  # the client's choice for a request: "" (the plan's way), "period" or "credits"

    @property
    def hours(self) -> float:
        return self.seconds / 3600

    @property
    def day(self) -> date:
        return self.started.date()

    @property
    def done(self) -> bool:
        """Work that happened: not a failed run, not a dry run, not voided."""
        return self.seconds > 0 and not self.outcome.startswith(("failed", "dry run"))


@dataclass(frozen=True)
class AccountEvent:
    id: int
    client: str
    kind: str
    on: date
    amount: int = 0
    data: dict[str, Any] = field(default_factory=dict, compare=False)
    note: str = ""


@dataclass(frozen=True)
class Terms:
    """A client's contract terms as in force on one day (or set for a test)."""

    start: date | None = None
    one_year: bool = False
    group_months: int = 1
    priority: bool = False
    free_start: str = ""
    category_agreement: bool = False
    one_year_from: date | None = None  # the day the one-year contract began
    cancelled: date | None = None  # the day the client cancelled


@dataclass(frozen=True)
class TermChange:
    on: date
    name: str
    value: Any
    event: int


def _value(name: str, raw: Any) -> Any:
    if name == "start":
        return date.fromisoformat(raw) if raw else None
    if name == "group_months":
        return int(raw or 1)
    if name == "free_start":
        return str(raw or "")
    return bool(raw)


@dataclass(frozen=True)
class TermBook:
    """Every dated term change of a client, oldest first, and the events that end or group periods."""

    changes: tuple[TermChange, ...] = ()
    groups: tuple[date, ...] = ()  # first days of months pooled once with the next
    cancelled: date | None = None

    @classmethod
    def from_events(cls, events: Iterable[AccountEvent]) -> TermBook:
        changes: list[TermChange] = []
        groups: list[date] = []
        cancelled = None
        for e in sorted(events, key=lambda e: (e.on, e.id)):
            if e.kind == "term" and e.data.get("name") in TERM_DEFAULTS:
                changes.append(
                    TermChange(e.on, e.data["name"], _value(e.data["name"], e.data.get("value")), e.id)
                )
            elif e.kind == "group":
                groups.append(e.on.replace(day=1))
            elif e.kind == "cancel":
                cancelled = e.on
        return cls(tuple(changes), tuple(groups), cancelled)

    @classmethod
    def of(cls, terms: Terms) -> TermBook:
        """A book where `terms` hold from the beginning (tests, migrated ledgers)."""
        since = terms.one_year_from or terms.start or date.min
        changes = [TermChange(date.min, "start", terms.start, 0)]
        for name in ("group_months", "priority", "free_start", "category_agreement"):
            changes.append(TermChange(date.min, name, getattr(terms, name), 0))
        changes.append(TermChange(since, "one_year", terms.one_year, 0))
        return cls(tuple(changes), (), terms.cancelled)

    @property
    def start(self) -> date | None:
        """The contract start: the latest recorded start, whatever its day (a correction)."""
        starts = [c for c in self.changes if c.name == "start"]
        return max(starts, key=lambda c: c.event).value if starts else None

    def change(self, name: str, day: date) -> TermChange | None:
        """The change of `name` in force on `day`."""
        found = None
        for c in self.changes:
            if c.name == name and c.on <= day:
                found = c
        return found

    def at(self, day: date) -> Terms:
        values = {
            name: (c.value if (c := self.change(name, day)) else default)
            for name, default in TERM_DEFAULTS.items()
        }
        values["start"] = self.start
        year = self.change("one_year", day)
        one_year_from = max(year.on, self.start or year.on) if year and year.value else None
        if one_year_from == date.min:
            one_year_from = self.start
        return Terms(**values, one_year_from=one_year_from, cancelled=self.cancelled)

    def listing(self) -> list[tuple[date, str, Any]]:
        return [(c.on, c.name, c.value) for c in self.changes]


def as_book(terms: Terms | TermBook | Iterable[AccountEvent]) -> TermBook:
    if isinstance(terms, TermBook):
        return terms
    if isinstance(terms, Terms):
        return TermBook.of(terms)
    return TermBook.from_events(terms)


def migrate_terms(events: list[AccountEvent]) -> list[tuple[date, dict[str, Any], int]]:
    """The dated `term` events that replace a client's old undated `terms` events.

    Old terms had no date and the latest one held for all time, so each of its values is dated from
    the contract start (or the first event's day) to keep every statement as it was; the old rows
    stay in the ledger as history. Returns (effective day, data, old event id) per new event."""
    old = [e for e in events if e.kind == "terms"]
    if not old or any(e.kind == "term" and e.data.get("migrated_from") for e in events):
        return []
    latest = max(old, key=lambda e: (e.on, e.id))
    start = latest.data.get("start")
    since = date.fromisoformat(start) if start else min(e.on for e in events)
    out = []
    for name in ("start", "one_year", "group_months", "priority"):
        value = latest.data.get(name, TERM_DEFAULTS[name])
        if value == TERM_DEFAULTS[name]:
            continue
        out.append((since, {"name": name, "value": value, "migrated_from": latest.id}, latest.id))
    if not out:  # nothing set: still mark the client as migrated
        out.append((since, {"name": "group_months", "value": 1, "migrated_from": latest.id}, latest.id))
    return out


def money(value: Any) -> Decimal:
    """An exact amount from plan data or arithmetic, in cents."""
    return Decimal(str(value)).quantize(Decimal("0.01"))
