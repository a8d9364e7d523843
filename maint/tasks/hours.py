"""`fab hours`, `fab log`, `fab account`: time against the client's plan.

The rules live in maint.billing; these tasks only parse flags, open the ledger and print.
"""

from __future__ import annotations

import dataclasses
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from maint import render
from maint.billing.account import AccountEvent, Terms
from maint.billing.duration import format_hours, parse_duration
from maint.billing.ledger import Ledger
from maint.billing.plans import CreditsPlan, HoursPlan, IncidentPlan, Plans, SupportPlan, load_plans
from maint.billing.rules import check_entry_day, check_pack, check_support_events
from maint.billing.service import client_usage
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
    today = now().date()
    first = parse_month(month, today)
    plans = load_plans(tc.settings.plans_file)
    with Ledger.in_state_dir(tc.settings.state_dir) as ledger:
        if all_:
            usages = [(cl, client_usage(plans, ledger, cl.name, cl.plan, first, today)) for cl in tc.inventory.clients]
            if json:  # numbers, with the currency beside them (the table's "R32,400.00" is for people)
                emit_json(
                    [
                        {"store": None, **build_statement(cl.name, cl.title or cl.name, first, plans.currency,
                                                          usage).as_dict()}
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
    statement = build_statement(found.name, found.title or found.name, first, plans.currency, usage)
    if json:
        emit_json([{"store": None, **statement.as_dict()}], month=first.strftime("%Y-%m"))
    elif "-" not in (csv, html):  # stdout carries the CSV or HTML itself
        shown, hidden = client_view(statement, detail)
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


# Automatic runs that only looked: the client's statement leaves them out unless --detail.
READ_ONLY_TASKS = frozenset({"info", "check"})


def changed_nothing(item: Any) -> bool:
    if item.source != "auto":
        return False
    failed_fast = item.outcome.startswith("failed") and item.seconds < 60  # e.g. a sheet refused at once
    return item.task in READ_ONLY_TASKS or item.outcome == "dry run" or failed_fast


def client_view(statement: Any, detail: bool) -> tuple[Any, list[Any]]:
    """The statement as the client reads it, and the entries it leaves out."""
    if detail:
        return statement, []
    hidden = [i for i in statement.items if changed_nothing(i)]
    if not hidden:
        return statement, []
    kept = [i for i in statement.items if not changed_nothing(i)]
    usage = dataclasses.replace(statement.usage, items=kept)  # totals stay; the lists and breakdowns shrink
    return build_statement(statement.client, statement.title, statement.month, statement.currency, usage), hidden


def _category(plans: Plans, plan: Any, level: int, category: str) -> int | None:
    """--level 2 or --category settings → a credit category number (from the client's credits plan,
    or the agency's credits plan for clients on other plans)."""
    if not level and not category:
        return None
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
        "duration": "time spent: 1h30, 90m or 1.5h",
        "note": "what was done",
        "level": "credit category number (1 explanation, 2 settings, 3 server or modified files)",
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
    seconds = parse_duration(duration)
    number = _category(plans, plan, int(level or 0), category)
    if on:
        started = datetime.combine(parse_day(on, moment.date()), time(12, 0), tzinfo=UTC)
        ended = started + timedelta(seconds=seconds)
    else:
        ended = moment
        started = ended - timedelta(seconds=seconds)
    with Ledger.in_state_dir(tc.settings.state_dir) as ledger:
        events = ledger.events(cfg.client)
        check_entry_day(plan, events, list(ledger.items(cfg.client)), started.date())
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
            now=moment,
        )
        usage = client_usage(plans, ledger, cfg.client, cfg.plan, moment.date(), moment.date())
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
        seconds = parse_duration(duration, allow_zero=True) if duration else None
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
        "licences": "licences covered by that support period (extra ones cost extra)",
        "suspend": "suspend the support period (once)",
        "resume": "resume the suspended support period (once)",
        "close": "the incident is solved (one-incident plans)",
        "start": "contract start, 2026-11-01 (sets the terms)",
        "one_year": "one-year contract: the package discount applies (sets the terms)",
        "group_months": "2 to pool two months' package hours by agreement (sets the terms)",
        "priority": "priority handling for an incident (sets the terms)",
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
    suspend=False,
    resume=False,
    close=False,
    start="",
    one_year=False,
    group_months=0,
    priority=False,
    on="",
    note="",
    json=False,
):
    """Record what a client bought or agreed (packs, periods, terms, suspension), or list it."""
    tc = TaskContext.from_c(c)
    if not client:
        raise UsageError("which client? give a CLIENT name")
    found = tc.client(client)
    plans = load_plans(tc.settings.plans_file)
    plan = plans.get(found.plan)
    today = now().date()
    day = parse_day(on, today) if on else today
    set_terms = bool(start or one_year or group_months or priority)
    actions = [bool(pack), bool(period), suspend, resume, close, set_terms]
    if sum(actions) > 1:
        raise UsageError("one change at a time: --pack, --period, --suspend, --resume, --close or terms")
    with Ledger.in_state_dir(tc.settings.state_dir) as ledger:
        events = ledger.events(found.name)
        if sum(actions) == 0:
            _show_events(found.name, events, json)
            return
        kind, amount, data = _event_for(
            plan,
            events,
            day,
            pack,
            period,
            licences,
            suspend,
            resume,
            close,
            start,
            one_year,
            group_months,
            priority,
        )
        new = ledger.add_event(client=found.name, kind=kind, on=day, amount=amount, data=data, note=note)
    if json:
        emit_json([{"store": None, "client": found.name, "recorded": {"id": new, "kind": kind, "on": day,
                                                                       "amount": amount, "data": data}}])
        return
    details = ", ".join([*([str(amount)] if amount else []), *(_term(k, v) for k, v in data.items())])
    print(f"recorded #{new} for {found.name} on {day}: {kind}" + (f" ({details})" if details else ""))


def _event_for(
    plan, events, day, pack, period, licences, suspend, resume, close, start, one_year, group_months, priority
):
    """Validate one account change against the plan kind; nothing is written if it is refused."""
    name = plan.name
    if pack:
        if not isinstance(plan, CreditsPlan):
            raise InputError(f"plan {name!r} is not a credits plan; packs do not apply")
        check_pack(plan, int(pack))
        return "pack", int(pack), {}
    if period or suspend or resume:
        if not isinstance(plan, SupportPlan):
            raise InputError(f"plan {name!r} is not a support plan")
        if int(licences) < 1:
            raise InputError("--licences must be at least 1")
        kind = "period" if period else "suspend" if suspend else "resume"
        new = AccountEvent(0, "", kind, day, int(period or 0))
        check_support_events(events, new)
        return kind, int(period or 0), ({"licences": int(licences)} if period else {})
    if close:
        if not isinstance(plan, IncidentPlan):
            raise InputError(f"plan {name!r} is not a one-incident plan")
        if any(e.kind == "close" for e in events):
            raise InputError("the incident is already closed")
        return "close", 0, {}
    if group_months and not isinstance(plan, HoursPlan):
        raise InputError(f"plan {name!r} is not an hour package; months cannot be grouped")
    if group_months not in (0, 1, 2):
        raise InputError("--group-months is 1 or 2 (two months pooled by agreement)")
    previous = Terms.from_events(events)
    begin = (
        parse_day(start, date.max).isoformat()
        if start
        else (previous.start.isoformat() if previous.start else None)
    )
    data = {
        "start": begin,
        "one_year": bool(one_year),
        "group_months": int(group_months or 1),
        "priority": bool(priority),
    }
    return "terms", 0, data


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


def _show_events(client: str, events: list[AccountEvent], json: bool) -> None:
    if json:
        emit_json([{"store": None, "client": client, "events": [vars(e) for e in events]}])
        return
    rows = [
        (
            str(e.id),
            str(e.on),
            e.kind,
            str(e.amount or ""),
            ", ".join(_term(k, v) for k, v in e.data.items()),
            e.note,
        )
        for e in events
    ]
    render.table(f"account of {client}", ("id", "on", "kind", "amount", "data", "note"), rows)
