"""The rules per plan kind, as pure functions of the plan, the client's account and its work.

Each `*_usage` function returns a Usage: what was included, what was used, what to bill and
what to warn about, for the billing period holding `month` as seen on day `today`. Amounts are
exact decimals (Decimal, cents); hours are floats of whole seconds, turned into money only as
whole seconds times a rate.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from maint.billing.account import AccountEvent, TermBook, Terms, WorkItem, as_book, money
from maint.billing.plans import (
    SUPPORT_MONTHS,
    CreditsPlan,
    HoursPlan,
    IncidentPlan,
    PlanDef,
    RetainerPlan,
    SupportPlan,
)
from maint.errors import BudgetError, InputError

WARN_AT = 0.8  # share of the included hours at which the guard starts warning
ZERO = Decimal("0.00")
TermsLike = Terms | TermBook
NO_TERMS = Terms()


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return add_months(month_start(day), 1) - timedelta(days=1)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def plain(amount: Decimal) -> str:
    """10, 12.5: a rate or percentage without trailing zeros, for sentences."""
    return format(amount.normalize(), "f")


def hours_amount(hours: float, rate: Decimal) -> Decimal:
    """Whole seconds times an hourly rate, rounded once to cents."""
    seconds = Decimal(round(hours * 3600))
    return (seconds * rate / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class WeekUsage:
    start: date
    hours: float  # this period's hours in the week
    cap: float | None = None
    carried: float = 0.0  # hours of the same week already covered by the previous period

    @property
    def over_cap(self) -> float:
        """This period's hours of the week beyond the cap (the week counts whole)."""
        if self.cap is None:
            return 0.0
        return round(min(self.hours, max(0.0, self.hours + self.carried - self.cap)), 6)


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
    overage_rate: Decimal = ZERO
    fee: Decimal = ZERO
    fee_lines: list[tuple[str, Decimal]] = field(default_factory=list)
    billed_on: date | None = None  # a pooled period: the month whose statement bills it
    credits_spent: int = 0
    credits_bought: int = 0
    credits_free_left: int = 0
    credits_balance: int | None = None
    credits_brought_forward: int = 0
    credits_free_granted: int = 0
    credits_free_lapsed: int = 0
    tickets: dict[str, int] = field(default_factory=dict)
    items: list[WorkItem] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def overage_amount(self) -> Decimal:
        return hours_amount(self.overage_hours, self.overage_rate)

    @property
    def total_due(self) -> Decimal:
        return money(self.fee + self.overage_amount)

    @property
    def spent(self) -> bool:
        """The plan gives no more work right now: what the budget guard blocks on."""
        return bool(self.flags & {"spent", "week-cap", "credits-out", "expired", "suspended", "no-contract"})

    def charge(self, label: str, amount: Decimal) -> None:
        self.fee_lines.append((label, money(amount)))
        self.fee = money(self.fee + amount)


def _in(items: Iterable[WorkItem], start: date, end: date) -> list[WorkItem]:
    return sorted((i for i in items if start <= i.day <= end), key=lambda i: (i.started, i.id))


# --- the contract -----------------------------------------------------------------------------


def contract_on(book: TermBook, day: date) -> bool:
    """Is `day` inside the client's contract? Before the start, after the month of a cancellation
    and after a one-year contract's year (unless a later term continued it) it is not."""
    if book.start and day < book.start:
        return False
    if book.cancelled and day > month_end(book.cancelled):
        return False
    terms = book.at(day)
    return not (terms.one_year and terms.one_year_from and day >= add_months(terms.one_year_from, 12))


def month_in_contract(book: TermBook, month: date) -> bool:
    return contract_on(book, month_start(month)) or contract_on(book, month_end(month))


def _contract_warning(usage: Usage, book: TermBook, today: date) -> None:
    if not contract_on(book, today) and usage.period_start and usage.period_start <= today:
        usage.flags.add("no-contract")
        usage.warnings.append(f"{usage.plan}: {today} is outside the contract ({contract_text(book)})")


def contract_text(book: TermBook) -> str:
    parts = [f"from {book.start}" if book.start else "no start recorded"]
    if book.cancelled:
        parts.append(f"cancelled on {book.cancelled}, billed to {month_end(book.cancelled)}")
    year = book.change("one_year", date.max)
    if year and year.value:
        since = book.at(date.max).one_year_from
        if since:
            parts.append(f"one year to {add_months(since, 12) - timedelta(days=1)}")
    return "; ".join(parts)


# --- monthly retainer -------------------------------------------------------------------------


def retainer_usage(
    plan: RetainerPlan,
    items: Iterable[WorkItem],
    month: date,
    terms: TermsLike = NO_TERMS,
    today: date | None = None,
) -> Usage:
    """A fixed fee for each calendar month of the contract; hours are shown, never limited.
    A cancellation ends billing at the end of the month it was given in."""
    book = as_book(terms)
    start = month_start(month)
    end = month_end(start)
    mine = _in(items, start, end)
    usage = Usage(plan.name, plan.kind, start, end, items=mine)
    if month_in_contract(book, start):
        usage.charge("monthly fee", plan.fee_per_month)
    else:
        usage.notes.append(f"no fee: {start:%Y-%m} is outside the contract ({contract_text(book)})")
    usage.hours_used = usage.hours_covered = sum(i.hours for i in mine)
    usage.weeks = _weeks(mine, None, start, end)
    usage.notes.append("covers: " + "; ".join(plan.services) if plan.services else "fixed monthly fee")
    if book.cancelled:
        usage.notes.append(f"cancelled on {book.cancelled}: billing ends on {month_end(book.cancelled)}")
    if today is not None and start <= today <= end:
        _contract_warning(usage, book, today)
    return usage


# --- hour packages ----------------------------------------------------------------------------


def _group_anchor(book: TermBook, on: date) -> date:
    """The first month a grouping term applies to: its own month if it starts on the 1st, else the
    next one (a change never reaches back into a month already under way)."""
    if on == date.min:
        return month_start(book.start) if book.start else date.min
    return on if on.day == 1 else add_months(month_start(on), 1)


def hours_period(terms: TermsLike, month: date) -> tuple[date, date, int]:
    """The billing period holding `month`: a calendar month, or two pooled months.

    Pairs are counted from the month a `group_months 2` term takes effect (or a one-off grouping
    of two months), walking forward, so an earlier period never changes when terms change later.
    """
    book = as_book(terms)
    target = month_start(month)
    anchors = [_group_anchor(book, c.on) for c in book.changes if c.name == "group_months" and c.value == 2]
    anchors = [target if a == date.min else a for a in anchors] + list(book.groups)
    cursor = min([a for a in anchors if a <= target], default=None)
    if cursor is None:
        return target, month_end(target), 1
    while True:
        pooled = cursor in book.groups or _grouping(book, cursor) == 2
        length = 2 if pooled else 1
        if target < add_months(cursor, length):
            return cursor, add_months(cursor, length) - timedelta(days=1), length
        cursor = add_months(cursor, length)


def _grouping(book: TermBook, first: date) -> int:
    """group_months in force for a period starting on `first` (mid-month changes apply next month)."""
    value = 1
    for c in book.changes:
        if c.name == "group_months" and _group_anchor(book, c.on) <= first:
            value = int(c.value)
    return value


def _weeks(
    items: list[WorkItem],
    cap: float | None,
    start: date,
    end: date,
    carried: Mapping[date, float] | None = None,
) -> list[WeekUsage]:
    """Every week (from Monday) touching the period, empty weeks included, so a chart shows gaps."""
    weeks: dict[date, float] = {}
    day = week_start(start)
    while day <= end:
        weeks[day] = 0.0
        day += timedelta(days=7)
    for item in items:
        weeks[week_start(item.day)] = weeks.get(week_start(item.day), 0.0) + item.hours
    carried = carried or {}
    return [WeekUsage(day, hours, cap, carried.get(day, 0.0)) for day, hours in sorted(weeks.items())]


def _allocate(
    plan: HoursPlan, items: list[WorkItem], included: float, week_used: Mapping[date, float]
) -> tuple[dict[int, float], float, dict[date, float]]:
    """Covered hours per item. Package work before on-demand work (it has priority on the
    included hours), each in the order it was done; a week's cap counts hours the previous
    period already covered in the same week (`week_used`)."""
    left = included
    week_left: dict[date, float] = defaultdict(lambda: plan.weekly_cap)
    for week, used in week_used.items():
        week_left[week] = plan.weekly_cap - used
    covered: dict[int, float] = {}
    for item in sorted(items, key=lambda i: (i.on_demand, i.started, i.id)):
        week = week_start(item.day)
        part = max(0.0, min(item.hours, left, week_left[week]))
        left -= part
        week_left[week] -= part
        covered[item.id] = part
    return covered, left, week_left


def _carried(
    plan: HoursPlan, book: TermBook, items: list[WorkItem], start: date, depth: int = 0
) -> dict[date, float]:
    """Hours the previous period covered in the week that straddles into this one."""
    week = week_start(start)
    before = [i for i in items if week <= i.day < start]
    if not before:
        return {}
    prev_start, prev_end, months = hours_period(book, start - timedelta(days=1))
    prev_items = _in(items, prev_start, prev_end)
    carry = _carried(plan, book, items, prev_start, depth + 1) if depth < 2 else {}
    covered, _, _ = _allocate(plan, prev_items, plan.hours_per_month * months, carry)
    return {week: sum(covered[i.id] for i in prev_items if week_start(i.day) == week)}


def hours_usage(
    plan: HoursPlan, terms: TermsLike, items: Iterable[WorkItem], month: date, today: date
) -> Usage:
    """Hours per month with a weekly cap; no rollover; overage billed at the plan's rate.

    A week belongs to the cap whole: hours the previous period covered in a week that straddles
    the month end count against the cap. Hours beyond a week's cap, or beyond the period's hours,
    are overage. A pooled period is billed once, on the statement of its last month.
    `items` may hold more than the period (the straddling week before it is read from them).
    """
    book = as_book(terms)
    all_items = list(items)  # time is time, a failed run's too (credits are what a failure does not cost)
    start, end, months = hours_period(book, month)
    mine = _in(all_items, start, end)
    included = plan.hours_per_month * months
    usage = Usage(
        plan.name, plan.kind, start, end, hours_included=included, overage_rate=plan.overage_rate, items=mine
    )
    m = start
    while m <= end:
        terms_m = book.at(m)
        if not month_in_contract(book, m):
            usage.notes.append(f"no fee for {m:%Y-%m}: outside the contract ({contract_text(book)})")
        elif terms_m.one_year and (terms_m.one_year_from is None or m >= month_start(terms_m.one_year_from)):
            pct = plan.one_year_discount_pct
            usage.charge(
                f"package {m:%Y-%m} (one-year contract, {plain(pct)}% off)",
                plan.price_per_month * (100 - pct) / 100,
            )
        else:
            usage.charge(f"package {m:%Y-%m}", plan.price_per_month)
        m = add_months(m, 1)
    if any("one-year" in label for label, _ in usage.fee_lines):
        usage.notes.append(f"one-year contract: {plain(plan.one_year_discount_pct)}% off the package price")
    carried = _carried(plan, book, all_items, start)
    covered, left, week_left = _allocate(plan, mine, included, carried)
    usage.hours_covered = sum(covered.values())
    usage.hours_used = sum(i.hours for i in mine)
    usage.overage_hours = round(usage.hours_used - usage.hours_covered, 6)
    usage.weeks = _weeks(mine, plan.weekly_cap, start, end, carried)
    if carried.get(week_start(start)):
        usage.notes.append(
            f"the week of {week_start(start)} counts whole against the {plan.weekly_cap:g} h cap: "
            f"{carried[week_start(start)]:g} h of it were covered before {start}"
        )
    if months == 2:
        usage.notes.append(f"two months pooled: {included:g} h from {start} to {end}")
        if month_start(month) != month_start(end):
            usage.billed_on = month_start(end)
            usage.notes.append(
                f"this pooled period is billed once, on the {end:%Y-%m} statement (so far: {usage.total_due:,.2f})"
            )
            usage.fee, usage.fee_lines, usage.overage_hours = ZERO, [], 0.0
    if start <= today <= end:
        week = week_start(today)
        _hours_warnings(
            usage,
            plan,
            left,
            week_left[week] if week in week_left else plan.weekly_cap - carried.get(week, 0.0),
        )
        _contract_warning(usage, book, today)
    return usage


def _hours_warnings(usage: Usage, plan: HoursPlan, left: float, week_left: float) -> None:
    included = usage.hours_included or 0.0
    if left <= 0:
        usage.flags.add("spent")
        usage.warnings.append(
            f"{plan.name}: all {included:g} h of the period are used; more work is overage "
            f"at {plain(plan.overage_rate)}/h"
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
    """Ticket → (day it started, category), for work that was done (a failed or dry run, or a
    voided entry, costs nothing). Credits are spent per ticket, however long it takes; the
    category may change while working, so the latest entry's category counts."""
    found: dict[str, tuple[date, int]] = {}
    for item in sorted(items, key=lambda i: (i.started, i.id)):
        category = item_category(plan, item)
        if category is None or not item.done:
            continue
        key = ticket_key(item)
        first_day = found[key][0] if key in found else item.day
        found[key] = (first_day, category)
    return found


def confirmed_tickets(events: Iterable[AccountEvent]) -> set[str]:
    return {str(e.data.get("ticket", "")) for e in events if e.kind == "confirm"}


def credits_usage(
    plan: CreditsPlan,
    terms: TermsLike,
    events: Iterable[AccountEvent],
    items: Iterable[WorkItem],
    month: date,
    today: date,
    periods: Mapping[int, SupportPlan] | None = None,
) -> Usage:
    """Credit balance through `today` (or the end of `month` for a past month).

    The free start is the client's choice (term free_start): `days` (requests in the first
    free_days days cost nothing) or `credits` (free_credits to spend first). Ledgers without a
    recorded choice keep the old rule: the credits lapse when the days end. Each additional
    licence brings licence_credits free credits. Category 2/3 tickets are charged only once the
    client's confirmation is recorded (`fab account CLIENT --confirm TICKET`).

    A client who also bought support periods (`periods`: months → support plan, for their price)
    chooses per request what pays: a ticket logged with `pays="period"` on a day a period covers
    costs no credits.
    """
    book = as_book(terms)
    all_items = list(items)
    events = list(events)
    packs = [e for e in events if e.kind == "pack"]
    licences = [e for e in events if e.kind == "licence"]
    confirmed = confirmed_tickets(events)
    start_m = month_start(month)
    end_m = month_end(start_m)
    upto = min(today, end_m)
    charges = tickets(plan, all_items)
    first_days = [d for d, _ in charges.values()] + [e.on for e in packs] + [i.day for i in all_items]
    start = book.start or (min(first_days) if first_days else today)
    choice = book.at(start).free_start or book.at(upto).free_start
    free_end = start + timedelta(days=plan.free_days)  # first day after the free days
    usage = Usage(plan.name, plan.kind, start_m, end_m, items=_in(all_items, start_m, end_m))
    # (day, order, amount, what): grants and purchases before spending on the same day.
    moves: list[tuple[date, int, int, str]] = [(e.on, 1, e.amount, "pack") for e in packs]
    if choice != "days":
        moves.append((start, 0, plan.free_credits, "free"))
    if choice == "":
        moves.append((free_end, 0, 0, "lapse"))
    moves += [(e.on, 0, e.amount * plan.licence_credits, "free") for e in licences if plan.licence_credits]
    waiting: list[str] = []
    spans = support_spans(events, all_items)
    by_period = {ticket_key(i) for i in all_items if i.pays == "period"}
    for key, (day, cat) in charges.items():
        category = plan.categories[cat]
        if key in by_period:
            if any(s.covers(day) for s in spans):
                if start_m <= day <= upto:
                    usage.tickets[key] = 0
                    usage.notes.append(f"ticket {key}: paid by the support period, not credits")
                continue
            if start_m <= day <= upto:
                usage.warnings.append(f"ticket {key}: to be paid by a support period, but none covers {day}")
        if choice == "days" and start <= day < free_end:
            if day >= start_m and day <= upto:
                usage.tickets[key] = 0
            continue
        if category.confirm and key not in confirmed:
            if start_m <= day <= upto:
                waiting.append(f"{key} (category {cat})")
            continue
        moves.append((day, 2, category.credits, key))
    free = paid = 0
    brought = False
    for day, _order, amount, what in sorted(moves, key=lambda m: (m[0], m[1])):
        if day > upto:
            break
        if day >= start_m and not brought:
            usage.credits_brought_forward, brought = free + paid, True
        in_month = day >= start_m
        if what == "lapse":
            if in_month:
                usage.credits_free_lapsed += free
            free = 0
        elif what == "free":
            free += amount
            usage.credits_free_granted += amount if in_month else 0
        elif what == "pack":
            paid += amount
            if in_month:
                usage.credits_bought += amount
                usage.charge(f"pack of {amount} credits ({day})", plan.packs.get(amount, ZERO))
        else:
            from_free = min(free, amount)
            free -= from_free
            paid -= amount - from_free
            if in_month:
                usage.credits_spent += amount
                usage.tickets[what] = amount
    if not brought:
        usage.credits_brought_forward = free + paid
    _charge_periods(usage, plan.name, periods or {}, events, start_m, end_m)
    usage.credits_free_left = free
    usage.credits_balance = free + paid
    usage.hours_used = usage.hours_covered = sum(i.hours for i in usage.items if i.done)
    usage.weeks = _weeks(usage.items, None, start_m, end_m)
    if choice == "days" and upto < free_end:
        usage.notes.append(f"free start: requests cost nothing until {free_end - timedelta(days=1)}")
    elif choice == "" and free and upto < free_end:
        usage.notes.append(f"free start: {free} credits left until {free_end - timedelta(days=1)}")
    if choice == "":
        usage.notes.append(
            "free start choice (days or credits) not recorded: fab account CLIENT --free-start"
        )
    if book.at(upto).category_agreement:
        usage.notes.append("the client agreed in advance to the category assessment")
    for ticket in waiting:
        usage.warnings.append(f"ticket {ticket} is not charged until the client's confirmation is recorded")
    if usage.credits_balance <= 0 and not (choice == "days" and upto < free_end):
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
    """One subscription: periods bought back to back, from its first request, plus a suspension.
    A period bought after the previous subscription ended starts a new one."""

    start: date | None
    end: date | None  # inclusive; None while suspended or not started
    months: int
    suspended_on: date | None = None
    resumed_on: date | None = None
    bought: date | None = None

    def covers(self, day: date) -> bool:
        if (
            self.suspended_on
            and self.suspended_on <= day
            and (self.resumed_on is None or day < self.resumed_on)
        ):
            return False
        if self.start is None:
            return self.bought is not None and self.bought <= day  # this request starts the period
        return self.start <= day and (self.end is None or day <= self.end)


def _span_end(start: date, months: int, suspended: date | None, resumed: date | None) -> date | None:
    end = add_months(start, months) - timedelta(days=1)
    if suspended and resumed:
        return end + (resumed - suspended)
    return None if suspended else end


def support_spans(events: Iterable[AccountEvent], items: Iterable[WorkItem]) -> list[SupportSpan]:
    """Every subscription, oldest first."""
    events = sorted(events, key=lambda e: (e.on, e.id))
    days = sorted(i.day for i in items if i.done)
    spans: list[SupportSpan] = []
    for event in events:
        current = spans[-1] if spans else None
        if event.kind == "period":
            if current is None or (current.end is not None and event.on > current.end):
                first = next((d for d in days if d >= event.on), None)
                end = _span_end(first, event.amount, None, None) if first else None
                spans.append(SupportSpan(first, end, event.amount, bought=event.on))
            else:
                months = current.months + event.amount
                end = (
                    _span_end(current.start, months, current.suspended_on, current.resumed_on)
                    if current.start
                    else None
                )
                spans[-1] = SupportSpan(
                    current.start, end, months, current.suspended_on, current.resumed_on, current.bought
                )
        elif current is not None and event.kind in ("suspend", "resume"):
            suspended = event.on if event.kind == "suspend" else current.suspended_on
            resumed = event.on if event.kind == "resume" else current.resumed_on
            end = _span_end(current.start, current.months, suspended, resumed) if current.start else None
            spans[-1] = SupportSpan(current.start, end, current.months, suspended, resumed, current.bought)
    return spans


def check_support_events(
    events: Iterable[AccountEvent], new: AccountEvent | None = None, items: Iterable[WorkItem] = ()
) -> None:
    """A period is 1/3/6/12 months; one suspension per subscription, resumed once, in that order.
    `items` (the requests) tell when subscriptions started and ended."""
    events = sorted(events, key=lambda e: (e.on, e.id))
    for event in [*events, *([new] if new else [])]:
        if event.kind == "period" and event.amount not in SUPPORT_MONTHS:
            raise InputError(
                f"support periods are {', '.join(map(str, SUPPORT_MONTHS))} months, not {event.amount}"
            )
    if new is None or new.kind not in ("suspend", "resume"):
        return
    spans = support_spans(events, [i for i in items if i.day <= new.on])
    if not spans:
        raise InputError("no support period bought, so there is nothing to suspend or resume")
    span = spans[-1]
    if new.kind == "suspend" and span.suspended_on:
        raise InputError(
            f"support can be suspended only once per subscription period; it was suspended on {span.suspended_on}"
        )
    if new.kind == "resume" and (span.suspended_on is None or span.resumed_on is not None):
        raise InputError("support is not suspended, so it cannot be resumed")


def support_span(
    events: Iterable[AccountEvent], items: Iterable[WorkItem], day: date | None = None
) -> SupportSpan:
    """The subscription in force on `day` (default: the latest)."""
    spans = support_spans(events, items)
    if not spans:
        return SupportSpan(None, None, 0)
    if day is not None:
        for span in reversed(spans):
            if span.bought and span.bought <= day:
                return span
    return spans[-1]


def in_support(span: SupportSpan, day: date) -> bool:
    return span.months > 0 and span.covers(day)


def _charge_periods(
    usage: Usage,
    plan: SupportPlan | str,
    prices: Mapping[int, SupportPlan | Decimal],
    events: Iterable[AccountEvent],
    start_m: date,
    end_m: date,
) -> None:
    """The support periods bought this month, each at its own plan's price and licence price."""
    for event in events:
        if event.kind != "period" or not start_m <= event.on <= end_m:
            continue
        bought = prices.get(event.amount)
        period = (
            bought if isinstance(bought, SupportPlan) else plan if isinstance(plan, SupportPlan) else None
        )
        if period is None:
            usage.warnings.append(f"no support plan of {event.amount} months prices the period of {event.on}")
            continue
        price = bought if isinstance(bought, Decimal) else period.price
        licences = int(event.data.get("licences", 1))
        usage.charge(f"support {event.amount} months ({event.on})", price)
        if licences > 1:
            usage.charge(
                f"{licences - 1} extra licences at {period.extra_licence_price:,.2f}",
                (licences - 1) * period.extra_licence_price,
            )


def support_usage(
    plan: SupportPlan,
    prices: Mapping[int, SupportPlan | Decimal],
    events: Iterable[AccountEvent],
    items: Iterable[WorkItem],
    month: date,
    today: date,
) -> Usage:
    """`prices`: months → the support plan of that length (its price and its licence price)."""
    events = list(events)
    all_items = [i for i in items if i.done]
    spans = support_spans(events, all_items)
    start_m = month_start(month)
    end_m = month_end(start_m)
    span = support_span(events, all_items, min(today, end_m))
    mine = _in(all_items, start_m, end_m)
    usage = Usage(plan.name, plan.kind, span.start, span.end, items=mine)

    def covered(day: date) -> bool:
        return any(s.covers(day) for s in spans)

    usage.hours_used = sum(i.hours for i in mine)
    usage.hours_covered = sum(i.hours for i in mine if covered(i.day))
    usage.weeks = _weeks(mine, None, start_m, end_m)
    _charge_periods(usage, plan, prices, events, start_m, end_m)
    outside = [i for i in mine if not covered(i.day)]
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
        usage.notes.append(f"{span.months} months bought; the period starts at the next request")
    elif span.end is not None and (span.end - today).days < 14:
        usage.warnings.append(f"{plan.name}: support period ends on {span.end}")
    return usage


# --- one incident -----------------------------------------------------------------------------


def incident_usage(
    plan: IncidentPlan,
    terms: TermsLike,
    events: Iterable[AccountEvent],
    items: Iterable[WorkItem],
    month: date,
) -> Usage:
    """One complex problem per incident bought: the first is bought with the first entry, each
    further one is an `incident` event with its price. Once every incident bought is closed (or
    more tickets were logged than incidents bought) the plan is spent."""
    book = as_book(terms)
    events = list(events)
    all_items = sorted((i for i in items if i.done), key=lambda i: (i.started, i.id))
    start_m = month_start(month)
    end_m = month_end(start_m)
    first = all_items[0].day if all_items else None
    closes = [e.on for e in events if e.kind == "close"]
    bought = [e for e in events if e.kind == "incident"]
    usage = Usage(
        plan.name, plan.kind, first, closes[-1] if closes else None, items=_in(all_items, start_m, end_m)
    )
    usage.hours_used = usage.hours_covered = sum(i.hours for i in usage.items)
    usage.weeks = _weeks(usage.items, None, start_m, end_m)
    priority = book.at(first or start_m).priority
    if first and start_m <= first <= end_m:
        usage.charge("incident", plan.price)
        if priority:
            usage.charge("priority handling", plan.priority_price)
    for e in bought:
        if start_m <= e.on <= end_m:
            label = f"incident {e.data.get('ticket', '')}".strip()
            usage.charge(label, Decimal(str(e.data.get("price", plan.price))))
    usage.notes.extend(plan.includes)
    if priority:
        usage.notes.append("priority handling")
    incidents = 1 + len(bought)
    named = list(dict.fromkeys(i.ticket for i in all_items if i.ticket))
    if len(closes) >= incidents:
        usage.flags.add("spent")
        usage.warnings.append(
            f"{plan.name}: the incident was closed on {closes[-1]}; a new incident must be bought "
            "(fab account CLIENT --incident TICKET)"
        )
    elif len(named) > incidents:
        usage.flags.add("spent")
        usage.warnings.append(
            f"{plan.name}: {incidents} incident(s) bought, but tickets {', '.join(named)} were logged"
        )
    return usage


# --- one entry point --------------------------------------------------------------------------


def usage_for(
    plan: PlanDef,
    *,
    events: list[AccountEvent],
    items: list[WorkItem],
    month: date,
    today: date,
    support_prices: Mapping[int, SupportPlan | Decimal] | None = None,
) -> Usage:
    book = TermBook.from_events(events)
    if isinstance(plan, RetainerPlan):
        return retainer_usage(plan, items, month, book, today)
    if isinstance(plan, HoursPlan):
        return hours_usage(plan, book, items, month, today)
    if isinstance(plan, CreditsPlan):
        periods = {m: p for m, p in (support_prices or {}).items() if isinstance(p, SupportPlan)}
        return credits_usage(plan, book, events, items, month, today, periods)
    if isinstance(plan, SupportPlan):
        return support_usage(plan, support_prices or {plan.months: plan}, events, items, month, today)
    return incident_usage(plan, book, events, items, month)


def check_entry_day(
    plan: PlanDef, events: list[AccountEvent], items: list[WorkItem], day: date, *, pays: str = ""
) -> None:
    """Refuse a manual entry dated outside the plan's contract or period (the ledger stays
    unchanged): InputError before the contract starts, BudgetError (plan spent) after it ended,
    outside a support period or during a suspension."""
    book = TermBook.from_events(events)
    if book.start and day < book.start:
        raise InputError(f"{day} is before the contract start {book.start}")
    if not isinstance(plan, SupportPlan | CreditsPlan) and not contract_on(book, day):
        raise BudgetError(f"{day} is outside the contract ({contract_text(book)})")
    if pays == "period" and not isinstance(plan, SupportPlan | CreditsPlan):
        raise InputError(f"plan {plan.name!r} has no support periods to pay with", column="--pays")
    if isinstance(plan, SupportPlan) or pays == "period":
        span = support_span(events, [i for i in items if i.day <= day], day)
        if not in_support(span, day):
            raise BudgetError(f"{day} is {_span_text(span, day)}")
    if isinstance(plan, IncidentPlan):
        usage = incident_usage(plan, book, events, [i for i in items if i.day <= day], day)
        if "spent" in usage.flags:
            raise BudgetError(usage.warnings[-1])


def _span_text(span: SupportSpan, day: date) -> str:
    if span.months == 0:
        return "outside the support period (no period bought)"
    if span.suspended_on and span.suspended_on <= day and (span.resumed_on is None or day < span.resumed_on):
        until = f" to {span.resumed_on - timedelta(days=1)}" if span.resumed_on else ""
        return f"during the suspension of the support period (suspended from {span.suspended_on}{until})"
    return f"outside the support period ({span.start} to {span.end})"
