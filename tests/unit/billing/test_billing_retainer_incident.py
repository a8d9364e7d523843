from datetime import date

import pytest
from billing_factory import event, term, work

from maint.billing.account import Terms
from maint.billing.plans import HoursPlan, IncidentPlan, Plans, RetainerPlan
from maint.billing.rules import check_entry_day, incident_usage, retainer_usage, usage_for
from maint.errors import BudgetError, InputError

NOV = date(2026, 11, 1)


def test_a_retainer_is_a_fixed_monthly_fee_whatever_the_hours(plans: Plans) -> None:
    plan = plans.get("retainer")
    assert isinstance(plan, RetainerPlan)
    usage = retainer_usage(plan, [work("2026-11-02", 30), work("2026-11-09", 30), work("2026-12-01", 1)], NOV)
    assert (usage.fee, usage.hours_used, usage.overage_hours) == (4000, 60, 0)
    assert not usage.spent
    assert usage.notes[0].startswith("covers: core and extension updates")


@pytest.fixture
def incident(plans: Plans) -> IncidentPlan:
    p = plans.get("one-incident")
    assert isinstance(p, IncidentPlan)
    return p


def test_one_incident_is_billed_once_with_optional_priority(incident: IncidentPlan) -> None:
    items = [work("2026-11-02", 3), work("2026-11-03", 2)]
    assert incident_usage(incident, Terms(), [], items, NOV).fee == incident.price
    priority = incident_usage(incident, Terms(priority=True), [], items, NOV)
    assert priority.fee == incident.price + incident.priority_price
    assert "priority handling" in priority.notes
    assert any("minor upgrade within the current branch" in n for n in priority.notes)
    assert incident_usage(incident, Terms(), [], items, date(2026, 12, 1)).fee == 0


def test_one_incident_is_spent_once_closed_or_when_a_second_problem_appears(incident: IncidentPlan) -> None:
    items = [work("2026-11-02", 3, ticket="A")]
    assert not incident_usage(incident, Terms(), [], items, NOV).spent
    closed = incident_usage(incident, Terms(), [event("close", "2026-11-04")], items, NOV)
    assert closed.spent and "closed on 2026-11-04" in closed.warnings[0]
    second = incident_usage(incident, Terms(), [], [*items, work("2026-11-05", 1, ticket="B")], NOV)
    assert second.spent and "A, B" in second.warnings[0]


def test_usage_for_dispatches_on_the_plan_kind(plans: Plans) -> None:
    for name in plans.plans:
        usage = usage_for(plans.get(name), events=[], items=[], month=NOV, today=date(2026, 11, 5))
        assert usage.plan == name


def test_entries_before_the_contract_or_after_a_one_year_contract_are_refused(plans: Plans) -> None:
    plan = plans.get("starter")
    assert isinstance(plan, HoursPlan)
    events = [term("2026-11-01", "start", "2026-11-01"), term("2026-11-01", "one_year", True)]
    check_entry_day(plan, events, [], date(2027, 10, 31))
    with pytest.raises(InputError, match="before the contract start"):
        check_entry_day(plan, events, [], date(2026, 10, 31))
    with pytest.raises(
        BudgetError, match=r"outside the contract \(from 2026-11-01; one year to 2027-10-31\)"
    ):
        check_entry_day(plan, events, [], date(2027, 11, 1))
