"""Support periods: 1/3/6/12 months, extra licences, start at the first request, one suspension."""

from datetime import date
from decimal import Decimal

import pytest
from billing_factory import event, work

from maint.billing.plans import Plans, SupportPlan
from maint.billing.rules import (
    check_entry_day,
    check_support_events,
    support_span,
    support_spans,
    support_usage,
)
from maint.billing.service import support_prices
from maint.errors import BudgetError, InputError


@pytest.fixture
def plan(plans: Plans) -> SupportPlan:
    p = plans.get("support-3m")
    assert isinstance(p, SupportPlan)
    return p


def test_the_period_starts_at_the_first_request_not_the_purchase() -> None:
    span = support_span([event("period", "2026-11-01", 3)], [work("2026-11-10", 1)])
    assert (span.start, span.end) == (date(2026, 11, 10), date(2027, 2, 9))


def test_an_unused_purchase_has_not_started() -> None:
    span = support_span([event("period", "2026-11-01", 3)], [])
    assert (span.start, span.end, span.months) == (None, None, 3)


def test_consecutive_periods_add_up() -> None:
    events = [event("period", "2026-11-01", 3), event("period", "2027-01-15", 6)]
    span = support_span(events, [work("2026-11-10", 1)])
    assert (span.start, span.end) == (date(2026, 11, 10), date(2027, 8, 9))


def test_a_suspension_pushes_the_end_back_by_its_length() -> None:
    events = [event("period", "2026-11-01", 1), event("suspend", "2026-11-20"), event("resume", "2026-11-30")]
    span = support_span(events, [work("2026-11-10", 1)])
    assert span.end == date(2026, 12, 19)


@pytest.mark.parametrize(
    ("kinds", "message"),
    [
        (["suspend", "resume", "suspend"], "only once"),
        (["suspend", "suspend"], "only once"),
        (["resume"], "not suspended"),
    ],
)
def test_only_one_suspension_and_one_resume_in_order(kinds: list[str], message: str) -> None:
    events = [event("period", "2026-11-01", 3)]
    *before, new = [event(kind, f"2026-11-{10 + n}") for n, kind in enumerate(kinds)]
    with pytest.raises(InputError, match=message):
        check_support_events([*events, *before], new)


def test_periods_come_in_1_3_6_or_12_months() -> None:
    with pytest.raises(InputError, match="1, 3, 6, 12 months, not 2"):
        check_support_events([], event("period", "2026-11-01", 2))


def test_fee_is_the_period_price_plus_extra_licences(plans: Plans, plan: SupportPlan) -> None:
    events = [event("period", "2026-11-01", 3, licences=3)]
    usage = support_usage(
        plan, support_prices(plans), events, [work("2026-11-02", 1)], date(2026, 11, 1), date(2026, 11, 3)
    )
    assert usage.fee == plan.price + 2 * plan.extra_licence_price


def test_a_period_of_another_length_is_priced_from_its_own_plan(plans: Plans, plan: SupportPlan) -> None:
    events = [event("period", "2026-11-01", 12)]
    usage = support_usage(plan, support_prices(plans), events, [], date(2026, 11, 1), date(2026, 11, 3))
    assert usage.fee == plans.get("support-12m").price  # type: ignore[union-attr]


def test_guard_flags_an_expired_period(plans: Plans, plan: SupportPlan) -> None:
    events = [event("period", "2026-08-01", 3)]
    usage = support_usage(
        plan, support_prices(plans), events, [work("2026-08-03", 1)], date(2026, 11, 1), date(2026, 11, 5)
    )
    assert usage.flags == {"expired"}
    assert "ended on 2026-11-02" in usage.warnings[0]


def test_guard_flags_a_suspended_period(plans: Plans, plan: SupportPlan) -> None:
    events = [event("period", "2026-11-01", 3), event("suspend", "2026-11-04")]
    usage = support_usage(
        plan, support_prices(plans), events, [work("2026-11-02", 1)], date(2026, 11, 1), date(2026, 11, 5)
    )
    assert usage.flags == {"suspended"}


def test_guard_flags_a_client_without_any_period(plans: Plans, plan: SupportPlan) -> None:
    usage = support_usage(plan, support_prices(plans), [], [], date(2026, 11, 1), date(2026, 11, 5))
    assert usage.flags == {"expired"}


@pytest.mark.parametrize(
    ("day", "ok"),
    [
        ("2026-10-30", False),  # before the purchase
        ("2026-11-03", True),  # the first request starts the period
        ("2026-11-12", True),
        ("2026-11-21", False),  # suspended
        ("2026-12-02", True),  # resumed
        ("2027-02-09", True),  # 3 months from 2 Nov, plus the 10 days suspended
        ("2027-02-13", False),
    ],
)
def test_entries_outside_the_period_are_refused(plan: SupportPlan, day: str, ok: bool) -> None:
    events = [event("period", "2026-11-01", 3), event("suspend", "2026-11-20"), event("resume", "2026-11-30")]
    items = [work("2026-11-02", 1)]
    when = date.fromisoformat(day)
    if ok:
        check_entry_day(plan, events, items, when)
    else:
        with pytest.raises(BudgetError, match="outside the support period|during the suspension"):
            check_entry_day(plan, events, items, when)


def test_a_period_bought_after_the_old_one_ended_starts_at_the_next_request() -> None:
    # Issue 19: it was added to the old period, so the new month started in the past.
    events = [event("period", "2026-08-01", 1), event("period", "2026-11-01", 1)]
    items = [work("2026-08-03", 1), work("2026-11-10", 1)]
    old, new = support_spans(events, items)
    assert (old.start, old.end) == (date(2026, 8, 3), date(2026, 9, 2))
    assert (new.start, new.end) == (date(2026, 11, 10), date(2026, 12, 9))


def test_one_suspension_per_subscription_period_not_once_ever() -> None:
    events = [
        event("period", "2026-08-01", 1),
        event("suspend", "2026-08-10"),
        event("resume", "2026-08-20"),
        event("period", "2026-11-01", 1),
    ]
    items = [work("2026-08-03", 1), work("2026-11-10", 1)]
    check_support_events(events, event("suspend", "2026-11-20"), items)
    with pytest.raises(InputError, match="once per subscription period"):
        check_support_events([*events, event("suspend", "2026-11-20")], event("suspend", "2026-11-25"), items)


def test_extra_licences_are_priced_from_the_period_bought_not_the_clients_plan(plans: Plans) -> None:
    one_month = plans.get("support-1m")
    assert isinstance(one_month, SupportPlan)
    events = [event("period", "2026-11-02", 12, licences=3)]
    usage = support_usage(one_month, support_prices(plans), events, [], date(2026, 11, 1), date(2026, 11, 5))
    assert usage.fee == Decimal("13500") + 2 * Decimal("3200")
