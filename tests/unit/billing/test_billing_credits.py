"""Credits: 5 / 10 / 20 per ticket by category, packs of 25-200, a free start of 30 days or 40 credits.

Most tests here are about amounts, so every ticket's confirmation is recorded (confirmed_usage);
the tests about confirmation itself call credits_usage."""

from datetime import date

import pytest
from billing_factory import event, work

from maint.billing.account import AccountEvent, Terms, WorkItem
from maint.billing.plans import CreditsPlan, Plans
from maint.billing.rules import Usage, check_pack, credits_usage, ticket_key, tickets
from maint.errors import InputError

NOV = date(2026, 11, 1)
START = Terms(start=date(2026, 11, 1))


def confirmed_usage(
    plan: CreditsPlan,
    terms: Terms,
    events: list[AccountEvent],
    items: list[WorkItem],
    month: date,
    today: date,
) -> Usage:
    confirmations = [
        event("confirm", str(i.day), ticket=ticket_key(i), by="client", how="email") for i in items
    ]
    return credits_usage(plan, terms, [*events, *confirmations], items, month, today)


@pytest.fixture
def plan(plans: Plans) -> CreditsPlan:
    p = plans.get("credits")
    assert isinstance(p, CreditsPlan)
    return p


@pytest.mark.parametrize(("category", "cost"), [(1, 5), (2, 10), (3, 20)])
def test_a_ticket_costs_its_category(plan: CreditsPlan, category: int, cost: int) -> None:
    usage = confirmed_usage(
        plan, START, [], [work("2026-11-03", 1, category=category)], NOV, date(2026, 11, 4)
    )
    assert usage.credits_spent == cost
    assert usage.credits_balance == 40 - cost


def test_credits_are_spent_per_ticket_not_per_hour(plan: CreditsPlan) -> None:
    long = [work("2026-11-03", 6, ticket="T1", category=2), work("2026-11-04", 9, ticket="T1", category=2)]
    usage = confirmed_usage(plan, START, [], long, NOV, date(2026, 11, 5))
    assert usage.credits_spent == 10
    assert usage.tickets == {"T1": 10}


def test_the_category_may_change_while_working(plan: CreditsPlan) -> None:
    items = [work("2026-11-03", 1, ticket="T7", category=1), work("2026-11-04", 2, ticket="T7", category=3)]
    assert tickets(plan, items) == {"T7": (date(2026, 11, 3), 3)}
    assert confirmed_usage(plan, START, [], items, NOV, date(2026, 11, 5)).credits_spent == 20


def test_automatic_runs_cost_their_task_category_and_others_are_free(plan: CreditsPlan) -> None:
    items = [work("2026-11-03", 0.2, task="upgrade"), work("2026-11-03", 0.1, task="health")]
    usage = confirmed_usage(plan, START, [], items, NOV, date(2026, 11, 4))
    assert usage.credits_spent == plan.categories[plan.task_categories["upgrade"]].credits == 20


def test_runs_of_one_task_on_one_store_on_one_day_are_one_ticket(plan: CreditsPlan) -> None:
    # a dry run, a failed run and the retry: charged once; the next day or another store is new work
    items = [work("2026-11-03", 0.1, task="upgrade") for _ in range(3)]
    items += [work("2026-11-04", 0.1, task="upgrade"), work("2026-11-04", 0.1, task="upgrade", store="other")]
    usage = confirmed_usage(plan, START, [], items, NOV, date(2026, 11, 5))
    assert usage.tickets == {
        "demo:upgrade:2026-11-03": 20,
        "demo:upgrade:2026-11-04": 20,
        "other:upgrade:2026-11-04": 20,
    }


def test_free_start_ends_after_30_days(plan: CreditsPlan) -> None:
    items = [work("2026-11-02", 1, category=2)]
    during = confirmed_usage(plan, START, [], items, NOV, date(2026, 11, 30))
    assert (during.credits_free_left, during.credits_balance) == (30, 30)
    after = confirmed_usage(plan, START, [], items, date(2026, 12, 1), date(2026, 12, 1))
    assert (after.credits_free_left, after.credits_balance) == (0, 0)
    assert after.flags == {"credits-out"}


def test_free_start_ends_after_40_credits_even_within_30_days(plan: CreditsPlan) -> None:
    items = [work(f"2026-11-0{d}", 1, category=3) for d in (2, 3)]
    usage = confirmed_usage(plan, START, [], items, NOV, date(2026, 11, 5))
    assert (usage.credits_free_left, usage.credits_balance) == (0, 0)
    assert "credits-out" in usage.flags


def test_bought_packs_add_up_and_are_spent_after_the_free_credits(plan: CreditsPlan) -> None:
    events = [event("pack", "2026-11-02", 50), event("pack", "2026-11-20", 25)]
    items = [work(f"2026-11-0{d}", 1, category=3) for d in (3, 4, 5)]  # 60 credits
    usage = confirmed_usage(plan, START, events, items, NOV, date(2026, 11, 25))
    assert usage.credits_balance == 40 + 50 + 25 - 60
    assert usage.credits_bought == 75
    assert usage.fee == plan.packs[50] + plan.packs[25]


def test_a_negative_balance_is_work_on_credit_and_flags_credits_out(plan: CreditsPlan) -> None:
    items = [work(f"2026-11-0{d}", 1, category=3) for d in (2, 3, 4)]
    usage = confirmed_usage(plan, START, [], items, NOV, date(2026, 11, 5))
    assert usage.credits_balance == -20
    assert usage.spent


def test_free_start_begins_with_the_first_activity_when_no_contract_date(plan: CreditsPlan) -> None:
    items = [work("2026-11-10", 1, category=1)]
    usage = confirmed_usage(plan, Terms(), [], items, NOV, date(2026, 12, 9))
    assert usage.credits_free_left == 35  # 10 Nov + 30 days: free until 9 Dec


def test_low_balance_warns_before_it_runs_out(plan: CreditsPlan) -> None:
    usage = confirmed_usage(
        plan,
        START,
        [],
        [work("2026-11-02", 1, category=3), work("2026-11-02", 1, category=1)],
        NOV,
        date(2026, 11, 3),
    )
    assert usage.warnings == ["credits: only 15 credits left"]


@pytest.mark.parametrize("size", [25, 50, 100, 200])
def test_credit_packs_come_in_four_sizes(plan: CreditsPlan, size: int) -> None:
    check_pack(plan, size)


def test_other_pack_sizes_are_refused(plan: CreditsPlan) -> None:
    with pytest.raises(InputError, match="25, 50, 100, 200"):
        check_pack(plan, 30)
