"""Glue between the plans file, the ledger and the pure rules: a client's usage for a month."""

from __future__ import annotations

from datetime import date

from maint.billing.account import Terms
from maint.billing.ledger import Ledger
from maint.billing.plans import HoursPlan, Plans, RetainerPlan, SupportPlan
from maint.billing.rules import Usage, add_months, hours_period, month_start, usage_for


def support_prices(plans: Plans) -> dict[int, float]:
    """Months → price of a support period of that length, from every support plan."""
    return {p.months: p.price for p in plans.plans.values() if isinstance(p, SupportPlan)}


def client_usage(
    plans: Plans, ledger: Ledger, client: str, plan_name: str, month: date, today: date
) -> Usage:
    plan = plans.get(plan_name)
    events = ledger.events(client)
    if isinstance(plan, HoursPlan | RetainerPlan):
        # Only the period's entries matter: no need to read the client's whole history.
        start, end, _ = hours_period(Terms.from_events(events), month)
        if isinstance(plan, RetainerPlan):
            start, end = month_start(month), add_months(month_start(month), 1)
        items = list(ledger.items(client, since=start, until=end))
    else:
        items = list(ledger.items(client))
    return usage_for(
        plan, events=events, items=items, month=month, today=today, support_prices=support_prices(plans)
    )
