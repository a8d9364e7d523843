"""The two calls the task decorator makes around every task: the budget guard and the ledger entry."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime

from maint.billing.ledger import Ledger
from maint.billing.plans import CreditsPlan, load_plans
from maint.billing.rules import confirmed_tickets
from maint.billing.service import client_usage, local_today
from maint.config import Settings
from maint.errors import BudgetError, CancelledByUser, MaintError

# Tasks that look after the ledger itself: guarding or logging them would only add noise.
UNTRACKED_TASKS = frozenset({"hours", "log", "account"})


def before_task(
    settings: Settings,
    client: str,
    plan: str,
    task: str,
    *,
    over_budget: bool = False,
    confirm: Callable[[str], bool] | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Warnings to show (plan spent, week cap reached, credits out, period expired/suspended). Raises
    maint.errors.BudgetError when the plan is spent and settings.block_over_budget is set, unless over_budget."""
    if task in UNTRACKED_TASKS:
        return []
    plans = load_plans(settings.plans_file)
    today = local_today(plans, now)
    definition = plans.get(plan)
    try:
        with Ledger.in_state_dir(settings.state_dir) as ledger:
            usage = client_usage(plans, ledger, client, plan, today, today)
            events = ledger.events(client)
    except sqlite3.Error as exc:
        raise MaintError(f"time ledger in {settings.state_dir} could not be read: {exc}") from None
    warnings = list(usage.warnings)
    if isinstance(definition, CreditsPlan) and (number := definition.task_categories.get(task)):
        category = definition.categories[number]
        # The operator's answer (or --yes) is not the client's confirmation: that is its own
        # event (who, when, how), and the ticket is charged only once it is recorded.
        suffix = f":{task}:{today}"
        if category.confirm and not any(t.endswith(suffix) for t in confirmed_tickets(events)):
            warnings.append(
                f"{task} for {client} is category {number} ({category.name}, {category.credits} credits): "
                f"it is charged only once the client's confirmation is recorded "
                f"(fab account {client} --confirm STORE{suffix} --by NAME --how email)"
            )
            question = (
                f"{task} for {client} is category {number} work the client has not confirmed yet; go ahead?"
            )
            if confirm is not None and not confirm(question):
                raise CancelledByUser(f"{client}: category {number} work not confirmed by the client")
    if usage.spent:
        if settings.block_over_budget and not over_budget:
            raise BudgetError(
                f"{client}: plan {plan!r} is spent ({'; '.join(usage.warnings)}); "
                "use --over-budget (or MAINT_OVER_BUDGET=1) to work anyway"
            )
        if over_budget:
            warnings.append(f"{client}: working over budget on plan {plan!r} (--over-budget)")
    return warnings


def record_task(
    settings: Settings,
    *,
    client: str,
    store: str,
    task: str,
    started: datetime,
    ended: datetime,
    outcome: str,
    detail: str = "",
) -> None:
    """Append one automatic ledger entry (also when the task failed: outcome 'failed: …')."""
    if task in UNTRACKED_TASKS:
        return
    try:
        with Ledger.in_state_dir(settings.state_dir) as ledger:
            ledger.add(
                client=client,
                store=store,
                task=task,
                started=started,
                ended=max(ended, started),
                outcome=outcome,
                note=detail,
                source="auto",
            )
    except sqlite3.Error as exc:
        raise MaintError(f"time ledger in {settings.state_dir} could not be written: {exc}") from None
