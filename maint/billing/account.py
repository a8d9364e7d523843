"""What the rules read: a client's work items and account events, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

# Account event kinds and what `amount` means for each.
EVENT_KINDS = {
    "terms": "contract terms (data: start, one_year, group_months, priority)",
    "pack": "credits bought (amount: pack size)",
    "period": "support period bought (amount: months; data: licences)",
    "suspend": "support period suspended",
    "resume": "support period resumed",
    "close": "the incident is solved",
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

    @property
    def hours(self) -> float:
        return self.seconds / 3600

    @property
    def day(self) -> date:
        return self.started.date()


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
    """A client's contract terms; the latest `terms` event wins."""

    start: date | None = None
    one_year: bool = False
    group_months: int = 1
    priority: bool = False

    @classmethod
    def from_events(cls, events: list[AccountEvent]) -> Terms:
        terms = [e for e in events if e.kind == "terms"]
        if not terms:
            return cls()
        data = terms[-1].data
        start = data.get("start")
        return cls(
            start=date.fromisoformat(start) if start else None,
            one_year=bool(data.get("one_year", False)),
            group_months=int(data.get("group_months", 1)),
            priority=bool(data.get("priority", False)),
        )
