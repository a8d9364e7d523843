"""`fab hours`, `fab log`, `fab account`: time against the client's plan.

The rules live in maint.billing; these tasks only parse flags, open the ledger and print.
"""

from __future__ import annotations

import dataclasses
import sys
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from maint import render
from maint.billing.account import TERM_DEFAULTS, AccountEvent, TermBook
from maint.billing.duration import format_hours, parse_duration
from maint.billing.ledger import Ledger
from maint.billing.plans import CreditsPlan, HoursPlan, IncidentPlan, Plans, SupportPlan, load_plans
from maint.billing.rules import check_entry_day, check_pack, check_support_events, month_start
from maint.billing.service import client_usage, local_items, local_today
from maint.billing.statement import (
    OVERVIEW_COLUMNS,
    build_statement,
    overview_row,
    overview_rows,
    render_html,
    render_table,
    write_csv,
)
from maint.errors import InputError, UsageError
from maint.tasks.common import TaskContext, emit_json, maint_task, task


def now() -> datetime:
    """The clock, in one place so tests can set it."""
    return datetime.now(UTC)


def parse_month(text: str, today: date) -> date:
    if not text:
        return today.replace(day=1)
    try:
        return datetime.strptime(text.strip(), "%Y-%m").date()
    except ValueError:
        raise InputError(f"month {text!r} must look like 2026-11", column="month") from None


def parse_day(text: str, today: date) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"date {text!r} must look like 2026-11-03", column="on") from None
    if day > today:
        raise InputError(f"{day} is in the future", column="on")
    return day


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        return
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    sys.stderr.write(f"wrote {target}\n")


def _write_csv(path: str, statement: Any) -> None:
    if path == "-":
        write_csv(statement, sys.stdout)
        return
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as out:
        write_csv(statement, out)
    sys.stderr.write(f"wrote {target}\n")


@task(
    name="hours",
    examples=[
        "fab hours demo",
        "fab hours demo --month 2026-11 --csv nov.csv --html nov.html",
        "fab hours --all",
    ],
    positional=["client"],
    help={
        "client": "client name from the inventory",
        "month": "the month to report, as 2026-11 (default: this month)",
        "csv": "also write the statement as CSV to this file ('-' for stdout)",
        "html": "also write the statement as a self-contained HTML page to this file",
        "json": "print JSON for machines",
        "all_": "the agency's overview of every client for the month",
        "detail": "also list automatic runs that changed nothing (info, check, dry runs, failed validations)",
    },
)
@maint_task
def hours(c, client=None, month="", csv="", html="", json=False, all_=False, detail=False):
    """Show a client's time and credits against their plan for a month (statement)."""
    tc = TaskContext.from_c(c)
    if client and all_:
        raise UsageError("give a CLIENT or --all, not both")
    if not client and not all_:
        raise UsageError("which client? give a CLIENT name or --all")
    plans = load_plans(tc.settings.plans_file)
    today = local_today(plans, now())
    first = parse_month(month, today)
    with Ledger.in_state_dir(tc.settings.state_dir) as ledger:
        if all_:
            usages = [(cl, client_usage(plans, ledger, cl.name, cl.plan, first, today)) for cl in tc.inventory.clients]
            if json:  # numbers, with the currency beside them (the table's "R32,400.00" is for people)
                emit_json(
                    [
                        {"store": None, **money_as_numbers(build_statement(
                            cl.name, cl.title or cl.name, first, plans.currency, usage).as_dict())}
                        for cl, usage in usages
                    ],
                    month=first.strftime("%Y-%m"),
                )
            else:
                rows = [overview_row(cl.name, usage, plans.currency) for cl, usage in usages]
                render.table(f"all clients, {first:%B %Y}", OVERVIEW_COLUMNS, overview_rows(rows))
            return
        found = tc.client(client)
        usage = client_usage(plans, ledger, found.name, found.plan, first, today)
    plan = plans.get(found.plan)
    levels = plan.levels if isinstance(plan, HoursPlan) else None
    statement = build_statement(found.name, found.title or found.name, first, plans.currency, usage, levels)
    if json:
        emit_json([{"store": None, **money_as_numbers(statement.as_dict())}], month=first.strftime("%Y-%m"))
    elif "-" not in (csv, html):  # stdout carries the CSV or HTML itself
        shown, hidden = client_view(statement, detail, levels)
        render.show(render_table(shown))
        if hidden:
            render.console().print(
                f"{len(hidden)} automatic run(s) that changed nothing are not listed (read-only looks, dry "
                f"runs, failed validations: {format_hours(sum(i.seconds for i in hidden))} in all); "
                "--detail lists them",
                highlight=False,
                markup=False,
            )
    if csv:
        _write_csv(csv, statement)
    if html:
        _write(html, render_html(statement))


MONEY_KEYS = frozenset({"overage_rate", "overage_amount", "fee", "total_due", "amount"})


def money_as_numbers(value: Any) -> Any:
    """The statement's exact amounts ("32400.00") as JSON numbers, beside its `currency` (issue #14);
    cents are exact in a double up to 90 trillion."""
    if isinstance(value, dict):
        return {k: _number(v) if k in MONEY_KEYS else money_as_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [money_as_numbers(v) for v in value]
    return value


def _number(value: Any) -> Any:
    try:
        return float(Decimal(value)) if isinstance(value, str | Decimal) else value
    except ArithmeticError:
        return value


# Automatic runs that only looked: the client's statement leaves them out unless --detail.
READ_ONLY_TASKS = frozenset({"info", "check"})


def changed_nothing(item: Any) -> bool:
    if item.source != "auto":
        return False
    failed_fast = item.outcome.startswith("failed") and item.seconds < 60  # e.g. a sheet refused at once
    return item.task in READ_ONLY_TASKS or item.outcome == "dry run" or failed_fast


def client_view(statement: Any, detail: bool, levels: Any = None) -> tuple[Any, list[Any]]:
    """The statement as the client reads it, and the entries it leaves out."""
    if detail:
        return statement, []
    hidden = [i for i in statement.items if changed_nothing(i)]
    if not hidden:
        return statement, []
    kept = [i for i in statement.items if not changed_nothing(i)]
    usage = dataclasses.replace(statement.usage, items=kept)  # totals stay; the lists and breakdowns shrink
    shown = build_statement(statement.client, statement.title, statement.month, statement.currency, usage, levels)
    return shown, hidden


def _category(plans: Plans, plan: Any, level: int, category: str) -> int | None:
    """--level 2 or --category settings → a credit category number (from the client's credits plan,
    or the agency's credits plan for clients on other plans); on an hour package with support
    levels, --level is the request's level (1-4)."""
    if not level and not category:
        return None
    if isinstance(plan, HoursPlan) and plan.levels and level and not category:
        if level not in plan.levels:
            names = ", ".join(f"{n} {name}" for n, name in sorted(plan.levels.items()))
            raise InputError(f"support level {level} is not one of {names}", column="--level")
        return level
    credit_plans = [plan] if isinstance(plan, CreditsPlan) else []
    credit_plans += [p for p in plans.plans.values() if isinstance(p, CreditsPlan)]
    if not credit_plans:
        raise InputError("no credits plan defines categories", column="category")
    credits = credit_plans[0]
    key: int | str = level or category
    try:
        found = credits.category(key)
    except KeyError:
        names = ", ".join(f"{c.number} {c.name}" for c in credits.categories.values())
        raise InputError(f"unknown category {key!r} (categories: {names})", column="category") from None
    if level and category and credits.category(category).number != level:
        raise InputError(f"--level {level} and --category {category} disagree", column="category")
    return found.number


@task(
    name="log",
    examples=[
        'fab log demo 1h30 "fixed the checkout" --category settings',
        "fab log --correct 12 2h",
    ],
    positional=["store", "duration", "note"],
    help={
        "store": "the store the work was for",
        "duration": "time spent with a unit: 1h30, 90m, 1.5h or 0:45 (a bare number is refused)",
        "span": "days the work spanned (default 1): more than 24 h a day is refused",
        "pays": "what the client chose to pay this request with: 'period' (a support period) or 'credits'",
        "note": "what was done",
        "level": "credit category number (1 explanation, 2 settings, 3 server or modified files);"
        " on hour packages, the request's support level 1-4",
        "category": "credit category by name (explanation, settings, server)",
        "ticket": "ticket reference: entries with the same ticket are charged credits once",
        "on": "the day the work was done, 2026-11-03 (default: now)",
        "on_demand": "on-demand work, outside the hour package (package work has priority)",
        "correct": "correct ledger entry ID instead: give the new DURATION (0 voids it) and/or --category",
        "json": "print JSON for machines",
    },
)
@maint_task
def log(
    c,
    store=None,
    duration=None,
    note=None,
    level=0,
    category="",
    ticket="",
    on="",
    on_demand=False,
    correct=0,
    json=False,
    span=1,
    pays="",
):
    """Log manual work on a store against the client's plan, or correct an entry (--correct ID)."""
    tc = TaskContext.from_c(c)
    plans = load_plans(tc.settings.plans_file)
    moment = now()
    if correct:
        # `fab log --correct 7 2h "why"`: the positionals shift, there is no STORE.
        new_duration, new_note = (store or "", duration or "") if store else (duration or "", note or "")
        _correct(tc, plans, int(correct), new_duration, new_note, level, category, ticket, moment, json)
        return
    if not store or not duration:
        raise UsageError('usage: fab log STORE DURATION "note"  (or fab log --correct ID DURATION)')
    cfg = tc.store(store)
    plan = plans.get(cfg.plan)
    seconds = parse_duration(duration, days=int(span or 1))
    number = _category(plans, plan, int(level or 0), category)
    if on:
        # Noon in the agency's time zone: the entry belongs to that local day.
        day = parse_day(on, local_today(plans, moment))
        started = datetime.combine(day, time(12, 0), tzinfo=plans.timezone).astimezone(UTC)
        ended = started + timedelta(seconds=seconds)
    else:
        ended = moment
        started = ended - timedelta(seconds=seconds)
    with Ledger.in_state_dir(tc.settings.state_dir) as ledger:
        events = ledger.events(cfg.client)
        local = started.astimezone(plans.timezone)
        check_entry_day(plan, events, local_items(plans, ledger.items(cfg.client)), local.date(), pays=pays)
        entry = ledger.add(
            client=cfg.client,
            store=cfg.store,
            task="manual",
            started=started,
            ended=ended,
            note=note or "",
            source="manual",
            ticket=ticket,
            category=number,
            on_demand=on_demand,
            pays=pays,
            now=moment,
        )
        today = local_today(plans, moment)
        usage = client_usage(plans, ledger, cfg.client, cfg.plan, today, today)
    if json:
        emit_json([{"store": cfg.store, "client": cfg.client, "entry": entry, "hours": round(seconds / 3600, 4),
                    "started": started, "ended": ended, "warnings": list(usage.warnings)}])
        return
    print(f"logged #{entry}: {format_hours(seconds)} on {cfg.store} for {cfg.client} ({cfg.plan})")
    for warning in usage.warnings:
        print(f"warning: {warning}")


def _correct(
    tc: TaskContext,
    plans: Plans,
    entry_id: int,
    duration: str,
    note: str,
    level: int,
    category: str,
    ticket: str,
    moment: datetime,
    json: bool = False,
) -> None:
    with Ledger.in_state_dir(tc.settings.state_dir) as ledger:
        old = ledger.get(entry_id)
        plan = plans.get(tc.client(old.client).plan)
        seconds = parse_duration(duration, allow_zero=True, days=366) if duration else None
        number = _category(plans, plan, int(level or 0), category)
        if seconds is None and number is None and not note and not ticket:
            raise UsageError("--correct needs a new DURATION, note, --category/--level or --ticket")
        new = ledger.correct(
            entry_id, seconds=seconds, note=note or None, category=number, ticket=ticket or None, now=moment
        )
        fixed = ledger.get(new)
    if json:
        emit_json([{"store": fixed.store, "client": fixed.client, "entry": new, "replaces": entry_id,
                    "hours": round(fixed.seconds / 3600, 4), "old_hours": round(old.seconds / 3600, 4)}])
        return
    print(
        f"#{new} replaces #{entry_id}: {format_hours(old.seconds)} → {format_hours(fixed.seconds)}"
        f" on {fixed.store} ({fixed.started:%Y-%m-%d})"
    )


@task(
    name="account",
    examples=[
        "fab account demo",
        "fab account demo --start 2026-11-01 --one-year",
        "fab account demo --pack 50",
    ],
    positional=["client"],
    help={
        "client": "client name from the inventory",
        "pack": "credits bought: a pack of 25, 50, 100 or 200 (credits plans)",
        "period": "support period bought, in months: 1, 3, 6 or 12 (support plans)",
        "licences": "licences covered by that support period (extra ones cost the period's licence price)",
        "extra_licences": "additional licences (credits plans: each brings the plan's free credits)",
        "suspend": "suspend the support period (once per subscription period)",
        "resume": "resume the suspended support period",
        "close": "the incident is solved (one-incident plans)",
        "incident": "a new incident bought, with its ticket reference (one-incident plans)",
        "cancel": "the client cancelled: billing ends at the end of the month of --on",
        "confirm": "the client confirmed category 2/3 work on this ticket (with --by and --how)",
        "by": "who confirmed (with --confirm)",
        "how": "how they confirmed: email, phone, ticket... (with --confirm)",
        "group_once": "pool two specific months once by agreement: the first one, as 2026-10",
        "start": "term: contract start, 2026-11-01",
        "one_year": "term: one-year contract from --from (the package discount applies for its year)",
        "monthly": "term: no one-year contract from --from (month to month, no discount)",
        "group_months": "term: 2 to pool two months' package hours from --from, 1 to stop",
        "priority": "term: priority handling for an incident",
        "free_start": "term (credits plans): the client's free start, 'days' or 'credits'",
        "agree_categories": "term (credits plans): the client agreed in advance to the category assessment",
        "from_": "the day the terms take effect (default: today); a month already under way is kept",
        "retroactive": "allow terms from a day before this month (rewrites statements already issued)",
        "on": "the day it happened, 2026-11-03 (default: today)",
        "note": "free text kept with the event",
        "json": "print JSON for machines",
    },
)
@maint_task
def account(
    c,
    client=None,
    pack=0,
    period=0,
    licences=1,
    extra_licences=0,
    suspend=False,
    resume=False,
    close=False,
    incident="",
    cancel=False,
    confirm="",
    by="",
    how="",
    group_once="",
    start="",
    one_year=False,
    monthly=False,
    group_months=0,
    priority=False,
    free_start="",
    agree_categories=False,
    from_="",
    retroactive=False,
    on="",
    note="",
    json=False,
):
    """Record what a client bought or agreed (dated terms, packs, periods...), or list it all."""
    tc = TaskContext.from_c(c)
    if not client:
        raise UsageError("which client? give a CLIENT name")
    found = tc.client(client)
    plans = load_plans(tc.settings.plans_file)
    plan = plans.get(found.plan)
    today = local_today(plans, now())
    day = parse_day(on, today) if on else today
    terms = _terms_given(start, one_year, monthly, group_months, priority, free_start, agree_categories)
    actions = [
        bool(pack), bool(period), bool(extra_licences), suspend, resume, close, bool(incident), cancel,
        bool(confirm), bool(group_once), bool(terms),
    ]  # fmt: skip
    if sum(actions) > 1:
        raise UsageError(
            "one change at a time: --pack, --period, --extra-licences, --suspend, --resume, --close,"
            " --incident, --cancel, --confirm, --group-once or terms"
        )
    with Ledger.in_state_dir(tc.settings.state_dir) as ledger:
        events = ledger.events(found.name)
        if sum(actions) == 0:
            _show_events(found.name, events, json)
            return
        if terms:
            effective = parse_day(from_, date.max) if from_ else today
            new_events = _term_events(plan, events, terms, effective, today, retroactive)
        else:
            new_events = [
                _event_for(plan, events, day, pack, period, licences, extra_licences, suspend, resume,
                           close, incident, cancel, confirm, by, how, group_once, today, retroactive,
                           items=local_items(plans, ledger.items(found.name)))
            ]  # fmt: skip
        recorded = []
        with ledger.transaction():  # several terms at once: all of them or none
            for when, kind, amount, data in new_events:
                new = ledger.add_event(
                    client=found.name, kind=kind, on=when, amount=amount, data=data, note=note
                )
                recorded.append((new, when, kind, amount, data))
    if json:
        emit_json([{"store": None, "client": found.name, "recorded": [
            {"id": new, "kind": kind, "on": when, "amount": amount, "data": data}
            for new, when, kind, amount, data in recorded
        ]}])
        return
    for new, when, kind, amount, data in recorded:
        details = _event_words(kind, amount, data)
        print(f"recorded #{new} for {found.name} on {when}: {kind}" + (f" ({details})" if details else ""))


def _terms_given(
    start, one_year, monthly, group_months, priority, free_start, agree_categories
) -> dict[str, Any]:
    """The terms named on the command line, each its own event."""
    if one_year and monthly:
        raise UsageError("--one-year or --monthly, not both")
    terms: dict[str, Any] = {}
    if start:
        terms["start"] = parse_day(start, date.max).isoformat()
    if one_year or monthly:
        terms["one_year"] = bool(one_year)
    if group_months:
        if int(group_months) not in (1, 2):
            raise InputError(
                "--group-months is 1 or 2 (two months pooled by agreement)", column="--group-months"
            )
        terms["group_months"] = int(group_months)
    if priority:
        terms["priority"] = True
    if free_start:
        if free_start not in ("days", "credits"):
            raise InputError(
                "--free-start is 'days' or 'credits' (the client's choice, not both)", column="--free-start"
            )
        terms["free_start"] = free_start
    if agree_categories:
        terms["category_agreement"] = True
    return terms


def _term_events(
    plan, events, terms, effective, today, retroactive
) -> list[tuple[date, str, int, dict[str, Any]]]:
    """One dated `term` event per term. A term taking effect before this month would rewrite
    statements already issued: refused unless --retroactive."""
    if "group_months" in terms and not isinstance(plan, HoursPlan):
        raise InputError(f"plan {plan.name!r} is not an hour package; months cannot be grouped")
    if {"free_start", "category_agreement"} & set(terms) and not isinstance(plan, CreditsPlan):
        raise InputError(f"plan {plan.name!r} is not a credits plan")
    book = TermBook.from_events(events)
    past = effective < month_start(today)
    if "start" in terms and book.start and terms["start"] != book.start.isoformat():
        past = True  # moving the contract start changes every statement since
    if past and not retroactive:
        raise InputError(
            f"terms from {effective} would change statements already issued (this month began on "
            f"{month_start(today)}); give --retroactive if the client agreed to that",
            column="--from",
        )
    out = []
    for name, value in terms.items():
        assert name in TERM_DEFAULTS
        data = {"name": name, "value": value}
        if retroactive and past:
            data["retroactive"] = True
        out.append((effective, "term", 0, data))
    return out


def _event_for(
    plan, events, day, pack, period, licences, extra_licences, suspend, resume, close, incident, cancel,
    confirm, by, how, group_once, today, retroactive, items=(),
) -> tuple[date, str, int, dict[str, Any]]:  # fmt: skip
    """Validate one account change against the plan kind; nothing is written if it is refused."""
    name = plan.name
    if pack:
        if not isinstance(plan, CreditsPlan):
            raise InputError(f"plan {name!r} is not a credits plan; packs do not apply")
        check_pack(plan, int(pack))
        return day, "pack", int(pack), {}
    if extra_licences:
        if int(extra_licences) < 1:
            raise InputError("--extra-licences must be at least 1", column="--extra-licences")
        return day, "licence", int(extra_licences), {}
    if period or suspend or resume:
        # Credits clients may buy support periods too, and choose per request what pays.
        if not isinstance(plan, SupportPlan | CreditsPlan):
            raise InputError(f"plan {name!r} is not a support or credits plan")
        if int(licences) < 1:
            raise InputError("--licences must be at least 1")
        kind = "period" if period else "suspend" if suspend else "resume"
        new = AccountEvent(0, "", kind, day, int(period or 0))
        check_support_events(events, new, items)
        return day, kind, int(period or 0), ({"licences": int(licences)} if period else {})
    if close or incident:
        if not isinstance(plan, IncidentPlan):
            raise InputError(f"plan {name!r} is not a one-incident plan")
        closes = sum(e.kind == "close" for e in events)
        bought = 1 + sum(e.kind == "incident" for e in events)
        if close:
            if closes >= bought:
                raise InputError("the incident is already closed")
            return day, "close", 0, {}
        if closes < bought:
            raise InputError("the current incident is still open; close it before buying a new one")
        priority = TermBook.from_events(events).at(day).priority
        price = plan.price + (plan.priority_price if priority else 0)
        return day, "incident", 0, {"ticket": str(incident), "price": str(price)}
    if cancel:
        if any(e.kind == "cancel" for e in events):
            raise InputError("the contract is already cancelled")
        return day, "cancel", 0, {}
    if confirm:
        if not by or not how:
            raise InputError(
                "--confirm needs --by (who confirmed) and --how (email, phone...)", column="--confirm"
            )
        return day, "confirm", 0, {"ticket": str(confirm), "by": str(by), "how": str(how)}
    if not isinstance(plan, HoursPlan):
        raise InputError(f"plan {name!r} is not an hour package; months cannot be grouped")
    first = parse_month(group_once, today)
    if first < month_start(today) and not retroactive:
        raise InputError(
            f"grouping {first:%Y-%m} would change statements already issued; give --retroactive",
            column="--group-once",
        )
    return first, "group", 0, {"months": 2}


TERM_LABELS = {
    "start": "contract start",
    "one_year": "one-year contract",
    "group_months": "months pooled",
    "priority": "priority handling",
    "licences": "licences",
}


def _term(key: str, value: Any) -> str:
    """`one_year=True` as people read it: "one-year contract: yes"."""
    shown = ("yes" if value else "no") if isinstance(value, bool) else ("none" if value is None else value)
    return f"{TERM_LABELS.get(key, key.replace('_', ' '))}: {shown}"


def _event_words(kind: str, amount: Any, data: dict[str, Any]) -> str:
    """An account event as people read it: "one-year contract: yes", not one_year=True."""
    if kind == "term" and "name" in data:
        words = [_term(data["name"], data.get("value"))] + (["retroactive"] if data.get("retroactive") else [])
    else:
        words = [*([str(amount)] if amount else []), *(_term(k, v) for k, v in data.items())]
    return ", ".join(words)


def _show_events(client: str, events: list[AccountEvent], json: bool) -> None:
    book = TermBook.from_events(events)
    terms = [
        {"from": on.isoformat() if on != date.min else None, "term": name, "value": value}
        for on, name, value in book.listing()
    ]
    if json:
        emit_json([{"store": None, "client": client, "terms": terms, "events": [vars(e) for e in events]}])
        return
    render.table(
        f"terms of {client} (each from its day on)",
        ("from", "term", "value"),
        [(t["from"] or "", *_term(t["term"], t["value"]).split(": ", 1)) for t in terms],
    )
    rows = [
        (
            str(e.id),
            str(e.on),
            e.kind,
            str(e.amount or ""),
            _event_words(e.kind, 0, e.data),
            e.note,
        )
        for e in events
    ]
    render.table(f"account of {client}", ("id", "on", "kind", "amount", "data", "note"), rows)
