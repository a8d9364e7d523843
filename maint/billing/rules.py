"""The rules per plan kind, as pure functions of the plan, the client's account and its work.

Each `*_usage` function returns a Usage: what was included, what was used, what to bill and
what to warn about, for the billing period holding `month` as seen on day `today`.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from maint.billing.account import AccountEvent, Terms, WorkItem
from maint.billing.plans import (
    SUPPORT_MONTHS,
    CreditsPlan,
    HoursPlan,
    IncidentPlan,
    PlanDef,
    RetainerPlan,
    SupportPlan,
)
from maint.errors import InputError

WARN_AT = 0.8  # share of the included hours at which the guard starts warning


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def month_start(day: date) -> date:
    return day.replace(day=1)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass
class WeekUsage:
    start: date
    hours: float
    cap: float | None = None

    @property
    def over_cap(self) -> float:
        return max(0.0, self.hours - self.cap) if self.cap is not None else 0.0


@dataclass
class Usage:
    """One client's plan over one billing period. End dates are inclusive."""

    plan: str
    kind: str
    period_start: date | None
    period_end: date | None
    hours_used: float = 0.0
    hours_included: float | None = None
    hours_covered: float = 0.0
    weeks: list[WeekUsage] = field(default_factory=list)
    overage_hours: float = 0.0
    overage_rate: float = 0.0
    fee: float = 0.0
    credits_spent: int = 0
    credits_bought: int = 0
    credits_free_left: int = 0
    credits_balance: int | None = None
    tickets: dict[str, int] = field(default_factory=dict)
    items: list[WorkItem] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def overage_amount(self) -> float:
        return round(self.overage_hours * self.overage_rate, 2)

    @property
    def total_due(self) -> float:
        return round(self.fee + self.overage_amount, 2)

    @property
    def spent(self) -> bool:
        """The plan gives no more work right now: what the budget guard blocks on."""
        return bool(self.flags & {"spent", "week-cap", "credits-out", "expired", "suspended"})


def _in(items: Iterable[WorkItem], start: date, end: date) -> list[WorkItem]:
    return sorted((i for i in items if start <= i.day <= end), key=lambda i: (i.started, i.id))


# --- monthly retainer -------------------------------------------------------------------------


def retainer_usage(plan: RetainerPlan, items: Iterable[WorkItem], month: date) -> Usage:
    """A fixed fee for the calendar month; hours are shown, never limited. Cancel any time."""
    start = month_start(month)
    end = add_months(start, 1) - timedelta(days=1)
    mine = _in(items, start, end)
    usage = Usage(plan.name, plan.kind, start, end, fee=plan.fee_per_month, items=mine)
    usage.hours_used = usage.hours_covered = sum(i.hours for i in mine)
    usage.weeks = _weeks(mine, None, start, end)
    usage.notes.append("covers: " + "; ".join(plan.services) if plan.services else "fixed monthly fee")
    return usage


# --- hour packages ----------------------------------------------------------------------------


def hours_period(terms: Terms, month: date) -> tuple[date, date, int]:
    """The billing period holding `month`: a calendar month, or two pooled months counted from
    the contract start when the client agreed to group them."""
    start = month_start(month)
    months = 1
    if terms.group_months == 2:
        anchor = month_start(terms.start or month)
        offset = (start.year * 12 + start.month) - (anchor.year * 12 + anchor.month)
        start = add_months(start, -(offset % 2))
        months = 2
    return start, add_months(start, months) - timedelta(days=1), months


def _weeks(items: list[WorkItem], cap: float | None, start: date, end: date) -> list[WeekUsage]:
    """Every week (from Monday) touching the period, empty weeks included, so a chart shows gaps."""
    weeks: dict[date, float] = {}
    day = week_start(start)
    while day <= end:
        weeks[day] = 0.0
        day += timedelta(days=7)
    for item in items:
        weeks[week_start(item.day)] = weeks.get(week_start(item.day), 0.0) + item.hours
    return [WeekUsage(day, hours, cap) for day, hours in sorted(weeks.items())]


def hours_usage(plan: HoursPlan, terms: Terms, items: Iterable[WorkItem], month: date, today: date) -> Usage:
    """Hours per month with a weekly cap; no rollover; overage billed at the plan's rate.

    Package work is allocated before on-demand work (it has priority on the included hours);
    within each, in the order it was done. Hours beyond a week's cap, or beyond the period's
    hours, are overage.
    """
    start, end, months = hours_period(terms, month)
    mine = _in(items, start, end)
    included = plan.hours_per_month * months
    discount = plan.one_year_discount_pct / 100 if terms.one_year else 0.0
    usage = Usage(
        plan.name,
        plan.kind,
        start,
        end,
        hours_included=included,
        overage_rate=plan.overage_rate,
        fee=round(plan.price_per_month * months * (1 - discount), 2),
        items=mine,
    )
    if terms.one_year:
        usage.notes.append(f"one-year contract: {plan.one_year_discount_pct:g}% off the package price")
    if months == 2:
        usage.notes.append(f"two months pooled: {included:g} h from {start} to {end}")
    left = included
    week_left: dict[date, float] = defaultdict(lambda: plan.weekly_cap)
    for item in sorted(mine, key=lambda i: (i.on_demand, i.started, i.id)):
        week = week_start(item.day)
        covered = max(0.0, min(item.hours, left, week_left[week]))
        left -= covered
        week_left[week] -= covered
        usage.hours_covered += covered
        usage.overage_hours += item.hours - covered
    usage.hours_used = sum(i.hours for i in mine)
    usage.weeks = _weeks(mine, plan.weekly_cap, start, end)
    usage.overage_hours = round(usage.overage_hours, 6)
    if start <= today <= end:
        _hours_warnings(usage, plan, left, week_left[week_start(today)])
    return usage


def _hours_warnings(usage: Usage, plan: HoursPlan, left: float, week_left: float) -> None:
    included = usage.hours_included or 0.0
    if left <= 0:
        usage.flags.add("spent")
        usage.warnings.append(
            f"{plan.name}: all {included:g} h of the period are used; more work is overage "
            f"at {plan.overage_rate:g}/h"
        )
    elif usage.hours_covered >= WARN_AT * included:
        usage.warnings.append(
            f"{plan.name}: {usage.hours_covered:.1f} h of {included:g} h used, {left:.1f} h left"
        )
    if week_left <= 0 and left > 0:
        usage.flags.add("week-cap")
        usage.warnings.append(f"{plan.name}: this week's cap of {plan.weekly_cap:g} h is reached")


# --- credits ----------------------------------------------------------------------------------


def item_category(plan: CreditsPlan, item: WorkItem) -> int | None:
    """A manual entry's own category, else what the task costs; None is free (time only)."""
    return item.category if item.category is not None else plan.task_categories.get(item.task)


def ticket_key(item: WorkItem) -> str:
    """Which ticket an entry belongs to. Without a ticket reference a manual entry is its own
    ticket, and automatic runs of one task on one store on one day are one ticket, so a dry run
    followed by the real run (or a retry) is not charged twice."""
    if item.ticket:
        return item.ticket
    if item.task == "manual":
        return f"#{item.id}"
    return f"{item.store}:{item.task}:{item.day}"


def tickets(plan: CreditsPlan, items: Iterable[WorkItem]) -> dict[str, tuple[date, int]]:
    """Ticket → (day it started, category). Credits are spent per ticket, however long it takes;
    the category may change while working, so the latest entry's category counts."""
    found: dict[str, tuple[date, int]] = {}
    for item in sorted(items, key=lambda i: (i.started, i.id)):
        category = item_category(plan, item)
        if category is None:
            continue
        key = ticket_key(item)
        first_day = found[key][0] if key in found else item.day
        found[key] = (first_day, category)
    return found


def credits_usage(
    plan: CreditsPlan,
    terms: Terms,
    events: Iterable[AccountEvent],
    items: Iterable[WorkItem],
    month: date,
    today: date,
) -> Usage:
    """Credit balance through `today` (or the end of `month` for a past month).

    The free start gives `free_credits` for `free_days` from the start, whichever ends first:
    free credits are spent before bought ones and lapse when the window closes.
    """
    all_items = list(items)
    events = [e for e in events if e.kind == "pack"]
    start_m = month_start(month)
    end_m = add_months(start_m, 1) - timedelta(days=1)
    upto = min(today, end_m)
    charges = tickets(plan, all_items)
    first_days = [d for d, _ in charges.values()] + [e.on for e in events] + [i.day for i in all_items]
    start = terms.start or (min(first_days) if first_days else today)
    free_end = start + timedelta(days=plan.free_days)  # first day without free credits
    moves: list[tuple[date, int, str]] = [(e.on, e.amount, "pack") for e in events]
    moves += [(day, -plan.categories[cat].credits, key) for key, (day, cat) in charges.items()]
    free, paid = plan.free_credits, 0
    usage = Usage(plan.name, plan.kind, start_m, end_m, items=_in(all_items, start_m, end_m))
    for day, amount, what in sorted(moves, key=lambda m: (m[0], m[1] < 0)):
        if day > upto:
            break
        if day >= free_end:
            free = 0
        if amount > 0:
            paid += amount
            if day >= start_m:
                usage.credits_bought += amount
                usage.fee += plan.packs.get(amount, 0.0)
            continue
        cost = -amount
        from_free = min(free, cost)
        free -= from_free
        paid -= cost - from_free
        if day >= start_m:
            usage.credits_spent += cost
            usage.tickets[what] = cost
    if upto >= free_end:
        free = 0
    usage.credits_free_left = free
    usage.credits_balance = free + paid
    usage.hours_used = usage.hours_covered = sum(i.hours for i in usage.items)
    usage.weeks = _weeks(usage.items, None, start_m, end_m)
    if free and upto < free_end:
        usage.notes.append(f"free start: {free} credits left until {free_end - timedelta(days=1)}")
    if usage.credits_balance <= 0:
        usage.flags.add("credits-out")
        usage.warnings.append(f"{plan.name}: no credits left (balance {usage.credits_balance}); sell a pack")
    elif usage.credits_balance < max(c.credits for c in plan.categories.values()):
        usage.warnings.append(f"{plan.name}: only {usage.credits_balance} credits left")
    return usage


def check_pack(plan: CreditsPlan, size: int) -> None:
    if size not in plan.packs:
        raise InputError(f"credit packs are {', '.join(map(str, sorted(plan.packs)))}, not {size}")


# --- support periods --------------------------------------------------------------------------


@dataclass(frozen=True)
class SupportSpan:
    """When a client's support runs: from the first request, periods added up, plus suspension."""

    start: date | None
    end: date | None  # inclusive; None while suspended or not started
    months: int
    suspended_on: date | None = None
    resumed_on: date | None = None
    bought: date | None = None


def check_support_events(events: Iterable[AccountEvent], new: AccountEvent | None = None) -> None:
    """A period is 1/3/6/12 months; one suspension, resumed once, in that order."""
    suspends = resumes = 0
    for event in [*events, *([new] if new else [])]:
        if event.kind == "period" and event.amount not in SUPPORT_MONTHS:
            raise InputError(
                f"support periods are {', '.join(map(str, SUPPORT_MONTHS))} months, not {event.amount}"
            )
        if event.kind == "suspend":
            suspends += 1
            if suspends > 1:
                raise InputError("support can be suspended only once; it was already suspended")
        if event.kind == "resume":
            resumes += 1
            if resumes > suspends:
                raise InputError("support is not suspended, so it cannot be resumed")


def support_span(events: Iterable[AccountEvent], items: Iterable[WorkItem]) -> SupportSpan:
    events = sorted(events, key=lambda e: (e.on, e.id))
    check_support_events(events)
    periods = [e for e in events if e.kind == "period"]
    if not periods:
        return SupportSpan(None, None, 0)
    bought = periods[0].on
    requests = sorted(i.day for i in items if i.day >= bought)
    months = sum(e.amount for e in periods)
    suspended = next((e.on for e in events if e.kind == "suspend"), None)
    resumed = next((e.on for e in events if e.kind == "resume"), None)
    if not requests:
        return SupportSpan(None, None, months, suspended, resumed, bought)
    start = requests[0]
    end: date | None = add_months(start, months) - timedelta(days=1)
    if suspended and resumed and end is not None:
        end += resumed - suspended
    elif suspended:
        end = None
    return SupportSpan(start, end, months, suspended, resumed, bought)


def in_support(span: SupportSpan, day: date) -> bool:
    if span.months == 0:
        return False
    if span.suspended_on and span.suspended_on <= day and (span.resumed_on is None or day < span.resumed_on):
        return False
    if span.start is None:
        return span.bought is not None and span.bought <= day  # this request starts the period
    return span.start <= day and (span.end is None or day <= span.end)


def support_usage(
    plan: SupportPlan,
    prices: Mapping[int, float],
    events: Iterable[AccountEvent],
    items: Iterable[WorkItem],
    month: date,
    today: date,
) -> Usage:
    """`prices`: months → price of a period of that length (from every support plan)."""
    events = list(events)
    all_items = list(items)
    span = support_span(events, all_items)
    start_m = month_start(month)
    end_m = add_months(start_m, 1) - timedelta(days=1)
    mine = _in(all_items, start_m, end_m)
    usage = Usage(plan.name, plan.kind, span.start, span.end, items=mine)
    usage.hours_used = sum(i.hours for i in mine)
    usage.hours_covered = sum(i.hours for i in mine if in_support(span, i.day))
    usage.weeks = _weeks(mine, None, start_m, end_m)
    for event in events:
        if event.kind == "period" and start_m <= event.on <= end_m:
            licences = int(event.data.get("licences", 1))
            usage.fee += (
                prices.get(event.amount, plan.price) + max(0, licences - 1) * plan.extra_licence_price
            )
    outside = [i for i in mine if not in_support(span, i.day)]
    if outside:
        usage.warnings.append(f"{len(outside)} entries this month fall outside the support period")
    if span.months == 0:
        usage.flags.add("expired")
        usage.warnings.append(f"{plan.name}: no support period bought yet")
    elif span.suspended_on and span.resumed_on is None and span.suspended_on <= today:
        usage.flags.add("suspended")
        usage.warnings.append(f"{plan.name}: support is suspended since {span.suspended_on}")
    elif span.end is not None and today > span.end:
        usage.flags.add("expired")
        usage.warnings.append(f"{plan.name}: support period ended on {span.end}")
    elif span.start is None:
        usage.notes.append(f"{span.months} months bought; the period starts at the first request")
    elif span.end is not None and (span.end - today).days < 14:
        usage.warnings.append(f"{plan.name}: support period ends on {span.end}")
    return usage


# --- one incident -----------------------------------------------------------------------------


def incident_usage(
    plan: IncidentPlan, terms: Terms, events: Iterable[AccountEvent], items: Iterable[WorkItem], month: date
) -> Usage:
    """One complex problem: every entry belongs to it (named tickets beyond the first are a new
    incident); once it is closed the plan is spent."""
    all_items = sorted(items, key=lambda i: (i.started, i.id))
    start_m = month_start(month)
    end_m = add_months(start_m, 1) - timedelta(days=1)
    first = all_items[0].day if all_items else None
    closed = next((e.on for e in events if e.kind == "close"), None)
    usage = Usage(plan.name, plan.kind, first, closed, items=_in(all_items, start_m, end_m))
    usage.hours_used = usage.hours_covered = sum(i.hours for i in usage.items)
    usage.weeks = _weeks(usage.items, None, start_m, end_m)
    if first and start_m <= first <= end_m:
        usage.fee = plan.price + (plan.priority_price if terms.priority else 0.0)
    usage.notes.extend(plan.includes)
    if terms.priority:
        usage.notes.append("priority handling")
    named = list(dict.fromkeys(i.ticket for i in all_items if i.ticket))
    if closed:
        usage.flags.add("spent")
        usage.warnings.append(f"{plan.name}: the incident was closed on {closed}; new work needs a new plan")
    elif len(named) > 1:
        usage.flags.add("spent")
        usage.warnings.append(f"{plan.name}: covers one incident, but tickets {', '.join(named)} were logged")
    return usage


# --- one entry point --------------------------------------------------------------------------


def usage_for(
    plan: PlanDef,
    *,
    events: list[AccountEvent],
    items: list[WorkItem],
    month: date,
    today: date,
    support_prices: Mapping[int, float] | None = None,
) -> Usage:
    terms = Terms.from_events(events)
    if isinstance(plan, RetainerPlan):
        return retainer_usage(plan, items, month)
    if isinstance(plan, HoursPlan):
        return hours_usage(plan, terms, items, month, today)
    if isinstance(plan, CreditsPlan):
        return credits_usage(plan, terms, events, items, month, today)
    if isinstance(plan, SupportPlan):
        return support_usage(plan, support_prices or {plan.months: plan.price}, events, items, month, today)
    return incident_usage(plan, terms, events, items, month)


def check_entry_day(plan: PlanDef, events: list[AccountEvent], items: list[WorkItem], day: date) -> None:
    """Refuse a manual entry dated outside the plan's period (the ledger stays unchanged)."""
    terms = Terms.from_events(events)
    if terms.start and day < terms.start:
        raise InputError(f"{day} is before the contract start {terms.start}")
    if isinstance(plan, HoursPlan) and terms.one_year and terms.start and day >= add_months(terms.start, 12):
        raise InputError(f"{day} is after the one-year contract that started {terms.start}")
    if isinstance(plan, SupportPlan):
        span = support_span(events, [i for i in items if i.day <= day])
        if not in_support(span, day):
            raise InputError(f"{day} is outside the support period ({_span_text(span)})")


def _span_text(span: SupportSpan) -> str:
    if span.months == 0:
        return "no period bought"
    if span.suspended_on and span.resumed_on is None:
        return f"suspended since {span.suspended_on}"
    return f"{span.start} to {span.end}"
