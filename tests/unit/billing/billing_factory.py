"""Factories for billing tests (imported by name: tests have no packages)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import count
from pathlib import Path

from maint.billing.account import AccountEvent, WorkItem

PLANS_FILE = Path(__file__).resolve().parents[3] / "maint" / "playbooks" / "plans.yaml"
_ids = count(1)


def work(day: str, hours: float, *, task: str = "manual", store: str = "demo", **kw: object) -> WorkItem:
    """A work item at 09:00 UTC on `day` (YYYY-MM-DD) lasting `hours`."""
    started = datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC)
    return WorkItem(next(_ids), "demo", store, task, started, hours * 3600, **kw)  # type: ignore[arg-type]


def event(kind: str, day: str, amount: int = 0, **data: object) -> AccountEvent:
    return AccountEvent(next(_ids), "demo", kind, date.fromisoformat(day), amount, dict(data))


def term(day: str, name: str, value: object) -> AccountEvent:
    """A dated term event: `name` is `value` from `day` on."""
    return event("term", day, name=name, value=value)
