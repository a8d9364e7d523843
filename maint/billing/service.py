"""Glue between the plans file, the ledger and the pure rules: a client's usage for a month.

Days and weeks are the agency's (plans.yaml `timezone`): entries are stored in UTC and turned
into local time here, before any rule reads their day.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from maint.billing.account import TermBook, WorkItem
from maint.billing.ledger import Ledger
from maint.billing.plans import HoursPlan, Plans, RetainerPlan, SupportPlan
from maint.billing.rules import Usage, add_months, hours_period, month_start, usage_for, week_start
from maint.billing.statement import Statement, build_statement


def support_prices(plans: Plans) -> dict[int, SupportPlan]:
    """Months → the support plan of that length (its price and its extra licence price)."""
    return {p.months: p for p in plans.plans.values() if isinstance(p, SupportPlan)}


def local_today(plans: Plans, moment: datetime | None = None) -> date:
    """Today in the agency's time zone."""
    return (moment or datetime.now(UTC)).astimezone(plans.timezone).date()


def local_items(plans: Plans, items: Iterable[WorkItem]) -> list[WorkItem]:
    zone = plans.timezone
    return [dataclasses.replace(i, started=i.started.astimezone(zone)) for i in items]


def client_usage(
    plans: Plans, ledger: Ledger, client: str, plan_name: str, month: date, today: date
) -> Usage:
    plan = plans.get(plan_name)
    events = ledger.events(client)
    if isinstance(plan, HoursPlan | RetainerPlan):
        # Only the period's entries matter (and, for the weekly cap, the previous period's, since
        # the week straddling into this one counts whole): not the client's whole history.
        start, end, _ = hours_period(TermBook.from_events(events), month)
        if isinstance(plan, RetainerPlan):
            start, end = month_start(month), add_months(month_start(month), 1)
        else:
            start = add_months(week_start(start) - timedelta(days=1), -2)
        # The UTC day bounds are widened by a day: the local day is decided below.
        items = list(ledger.items(client, since=start - timedelta(days=1), until=end + timedelta(days=1)))
    else:
        items = list(ledger.items(client))
    return usage_for(
        plan,
        events=events,
        items=local_items(plans, items),
        month=month,
        today=today,
        support_prices=support_prices(plans),
    )


def client_statement(
    plans: Plans, ledger: Ledger, client: str, title: str, plan_name: str, month: date, today: date
) -> Statement:
    """The statement `fab hours CLIENT` prints (and the monthly report shows): one place, same numbers."""
    usage = client_usage(plans, ledger, client, plan_name, month, today)
    plan = plans.get(plan_name)
    levels = plan.levels if isinstance(plan, HoursPlan) else None
    return build_statement(client, title or client, month, plans.currency, usage, levels)
