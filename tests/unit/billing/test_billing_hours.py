"""Hour packages: Starter is 40 h a month, at most 20 h in a week, no rollover, overage billed."""

from datetime import date
from decimal import Decimal

import pytest
from billing_factory import term, work

from maint.billing.account import TermBook, Terms
from maint.billing.plans import HoursPlan, Plans
from maint.billing.rules import hours_period, hours_usage

NOV = date(2026, 11, 1)
# November 2026 weeks start on Mondays 2, 9, 16, 23 and 30.


@pytest.fixture
def starter(plans: Plans) -> HoursPlan:
    plan = plans.get("starter")
    assert isinstance(plan, HoursPlan)
    return plan


def test_work_within_the_package_is_covered_and_costs_the_package_price(starter: HoursPlan) -> None:
    usage = hours_usage(
        starter, Terms(), [work("2026-11-03", 6), work("2026-11-10", 4)], NOV, date(2026, 12, 5)
    )
    assert (usage.hours_used, usage.hours_covered, usage.overage_hours) == (10, 10, 0)
    assert usage.fee == starter.price_per_month
    assert (usage.period_start, usage.period_end) == (date(2026, 11, 1), date(2026, 11, 30))
    assert not usage.flags


def test_hours_beyond_the_weekly_cap_are_overage(starter: HoursPlan) -> None:
    items = [work("2026-11-02", 12), work("2026-11-04", 13)]  # 25 h in one week, cap 20
    usage = hours_usage(starter, Terms(), items, NOV, date(2026, 12, 1))
    assert usage.hours_covered == 20
    assert usage.overage_hours == 5
    assert usage.overage_amount == 5 * starter.overage_rate
    assert [(w.start, w.hours, w.over_cap) for w in usage.weeks if w.hours] == [(date(2026, 11, 2), 25, 5)]


def test_the_statement_shows_every_week_touching_the_period_even_empty_ones(starter: HoursPlan) -> None:
    usage = hours_usage(starter, Terms(), [work("2026-11-10", 3)], NOV, date(2026, 12, 1))
    mondays = [w.start.day for w in usage.weeks]
    assert mondays == [26, 2, 9, 16, 23, 30]  # 1 November 2026 is a Sunday
    assert [w.hours for w in usage.weeks] == [0, 0, 3, 0, 0, 0]


def test_hours_beyond_the_month_are_overage_at_the_plan_rate(starter: HoursPlan) -> None:
    items = [work(day, 15) for day in ("2026-11-02", "2026-11-09", "2026-11-16")]  # 45 h, 15 a week
    usage = hours_usage(starter, Terms(), items, NOV, date(2026, 12, 1))
    assert (usage.hours_covered, usage.overage_hours) == (40, 5)
    assert usage.total_due == starter.price_per_month + 5 * starter.overage_rate


def test_unused_hours_do_not_roll_over(starter: HoursPlan) -> None:
    items = [work("2026-10-05", 2), *(work(day, 15) for day in ("2026-11-02", "2026-11-09", "2026-11-16"))]
    usage = hours_usage(starter, Terms(), items, NOV, date(2026, 12, 1))
    assert usage.hours_included == 40  # October's 38 unused hours are gone
    assert usage.overage_hours == 5


def test_two_grouped_months_pool_their_hours(starter: HoursPlan) -> None:
    terms = Terms(start=date(2026, 11, 1), group_months=2)
    items = [*(work(day, 15) for day in ("2026-11-02", "2026-11-09", "2026-11-16")), work("2026-12-07", 20)]
    usage = hours_usage(starter, terms, items, date(2026, 12, 1), date(2027, 1, 2))
    assert (usage.period_start, usage.period_end) == (date(2026, 11, 1), date(2026, 12, 31))
    assert usage.hours_included == 80
    assert (usage.hours_used, usage.overage_hours) == (65, 0)  # 45 h in November alone would be overage
    assert usage.fee == 2 * starter.price_per_month


@pytest.mark.parametrize(
    ("month", "period"),
    [
        (date(2026, 11, 1), (date(2026, 11, 1), date(2026, 12, 31))),
        (date(2026, 12, 1), (date(2026, 11, 1), date(2026, 12, 31))),
        (date(2027, 1, 1), (date(2027, 1, 1), date(2027, 2, 28))),
        (date(2026, 10, 1), (date(2026, 10, 1), date(2026, 10, 31))),  # before the contract: alone
    ],
)
def test_grouped_months_pair_up_from_the_contract_start(month: date, period: tuple[date, date]) -> None:
    assert hours_period(Terms(start=date(2026, 11, 15), group_months=2), month)[:2] == period


def test_one_year_contract_takes_ten_percent_off(starter: HoursPlan) -> None:
    usage = hours_usage(starter, Terms(one_year=True), [], NOV, date(2026, 11, 5))
    assert usage.fee == starter.price_per_month * Decimal("0.9") == Decimal("16200.00")


def test_package_work_is_prioritised_over_on_demand_work(starter: HoursPlan) -> None:
    # On-demand work came first, but the package hours go to package work before it.
    items = [
        work("2026-11-02", 10, on_demand=True),
        work("2026-11-09", 18),
        work("2026-11-16", 17),
    ]
    usage = hours_usage(starter, Terms(), items, NOV, date(2026, 12, 1))
    assert usage.hours_covered == 40
    assert usage.overage_hours == 5  # 5 of the 10 on-demand hours fit, the rest is billed


def test_guard_flags_a_spent_month_and_a_reached_week_cap(starter: HoursPlan) -> None:
    spent = hours_usage(
        starter, Terms(), [work(d, 20) for d in ("2026-11-02", "2026-11-09")], NOV, date(2026, 11, 20)
    )
    assert "spent" in spent.flags and spent.spent
    assert "all 40 h" in spent.warnings[0]
    capped = hours_usage(starter, Terms(), [work("2026-11-16", 20)], NOV, date(2026, 11, 18))
    assert capped.flags == {"week-cap"}


def test_guard_warns_before_the_package_runs_out(starter: HoursPlan) -> None:
    usage = hours_usage(
        starter, Terms(), [work("2026-11-02", 17), work("2026-11-09", 17)], NOV, date(2026, 11, 20)
    )
    assert not usage.spent
    assert usage.warnings == ["starter: 34.0 h of 40 h used, 6.0 h left"]


def test_past_months_raise_no_warnings(starter: HoursPlan) -> None:
    usage = hours_usage(
        starter, Terms(), [work("2026-11-02", 20), work("2026-11-09", 20)], NOV, date(2027, 1, 5)
    )
    assert not usage.flags and not usage.warnings


def test_each_term_event_changes_only_its_own_term_from_its_day() -> None:
    events = [
        term("2026-11-01", "start", "2026-11-01"),
        term("2026-11-01", "one_year", True),
        term("2026-12-01", "group_months", 2),
    ]
    book = TermBook.from_events(events)
    assert book.at(date(2026, 11, 15)) == Terms(
        start=date(2026, 11, 1), one_year=True, one_year_from=date(2026, 11, 1)
    )
    later = book.at(date(2026, 12, 1))
    assert (later.one_year, later.group_months) == (True, 2)  # grouping did not drop the discount
