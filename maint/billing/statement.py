"""Monthly statements: used versus included, week by week, credits, overage, per task and store.

One Statement, three renderings: a rich table for the terminal, CSV for the books and a
self-contained HTML page (inline CSS and SVG chart, nothing fetched) for the client.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from html import escape
from typing import Any, TextIO

from rich.console import Group
from rich.markup import escape as escape_markup
from rich.table import Table

from maint.billing.account import WorkItem
from maint.billing.duration import format_hours
from maint.billing.rules import Usage, ticket_key


@dataclass
class Breakdown:
    name: str
    entries: int = 0
    hours: float = 0.0
    credits: int = 0


@dataclass
class Statement:
    client: str
    title: str
    month: date
    currency: str
    usage: Usage
    by_task: list[Breakdown] = field(default_factory=list)
    by_store: list[Breakdown] = field(default_factory=list)
    by_level: list[Breakdown] = field(default_factory=list)

    @property
    def items(self) -> list[WorkItem]:
        return self.usage.items

    @property
    def client_items(self) -> list[WorkItem]:
        """What the client sees: voided entries stay in the ledger (and the agency's terminal view)."""
        return [i for i in self.usage.items if i.seconds > 0]

    def summary(self) -> list[tuple[str, str]]:
        """(label, value) lines common to every rendering."""
        u, cur = self.usage, self.currency
        lines = [("plan", f"{u.plan} ({u.kind})"), ("period", _period(u.period_start, u.period_end))]
        lines.append(("hours used", _h(u.hours_used)))
        if u.hours_included is not None:
            lines.append(("hours included", _h(u.hours_included)))
            lines.append(("hours covered", _h(u.hours_covered)))
            lines.append(("hours left", _h(max(0.0, u.hours_included - u.hours_covered))))
        if u.credits_balance is not None:
            # Reconciles: brought forward + bought + granted - spent - lapsed = balance.
            lines += [
                ("credits brought forward", str(u.credits_brought_forward)),
                ("credits bought", str(u.credits_bought)),
                ("free credits granted", str(u.credits_free_granted)),
                ("credits spent", str(u.credits_spent)),
                ("free credits lapsed", str(u.credits_free_lapsed)),
                ("credit balance", str(u.credits_balance)),
                ("free credits left", str(u.credits_free_left)),
            ]
        if u.overage_hours:
            lines.append(("overage", f"{_h(u.overage_hours)} at {cur}{u.overage_rate:,.2f}/h"))
        lines += [(f"  {label}", f"{cur}{amount:,.2f}") for label, amount in u.fee_lines]
        if u.billed_on:
            lines.append(("billed on", f"the {u.billed_on:%Y-%m} statement (pooled period)"))
        lines += [
            ("fee", f"{cur}{u.fee:,.2f}"),
            ("overage to bill", f"{cur}{u.overage_amount:,.2f}"),
            ("total due", f"{cur}{u.total_due:,.2f}"),
        ]
        return lines

    def as_dict(self) -> dict[str, Any]:
        u = self.usage
        return {
            "client": self.client,
            "month": self.month.strftime("%Y-%m"),
            "plan": u.plan,
            "kind": u.kind,
            "period_start": u.period_start.isoformat() if u.period_start else None,
            "period_end": u.period_end.isoformat() if u.period_end else None,
            "hours_used": round(u.hours_used, 4),
            "hours_included": u.hours_included,
            "hours_covered": round(u.hours_covered, 4),
            "overage_hours": round(u.overage_hours, 4),
            # Money as exact decimal text ("41500.00"), never a binary float.
            "overage_rate": str(u.overage_rate),
            "overage_amount": str(u.overage_amount),
            "fee": str(u.fee),
            "fee_lines": [{"item": label, "amount": str(amount)} for label, amount in u.fee_lines],
            "billed_on": u.billed_on.strftime("%Y-%m") if u.billed_on else None,
            "total_due": str(u.total_due),
            "currency": self.currency,
            "credits": None
            if u.credits_balance is None
            else {
                "brought_forward": u.credits_brought_forward,
                "bought": u.credits_bought,
                "free_granted": u.credits_free_granted,
                "spent": u.credits_spent,
                "free_lapsed": u.credits_free_lapsed,
                "balance": u.credits_balance,
                "free_left": u.credits_free_left,
            },
            "weeks": [
                {
                    "week": w.start.isoformat(),
                    "hours": round(w.hours, 4),
                    "cap": w.cap,
                    "carried": round(w.carried, 4),
                    "over_cap": round(w.over_cap, 4),
                }
                for w in u.weeks
            ],
            "by_task": [vars(b) for b in self.by_task],
            "by_store": [vars(b) for b in self.by_store],
            "by_level": [vars(b) for b in self.by_level],
            "entries": [
                {
                    "id": i.id,
                    "store": i.store,
                    "task": i.task,
                    "started": i.started.isoformat(),
                    "hours": round(i.hours, 4),
                    "outcome": i.outcome,
                    "note": i.note,
                    "ticket": i.ticket,
                    "category": i.category,
                    "on_demand": i.on_demand,
                }
                for i in u.items
            ],
            "flags": sorted(u.flags),
            "warnings": list(u.warnings),
            "notes": list(u.notes),
        }


def _h(hours: float) -> str:
    return format_hours(hours * 3600)


def _period(start: date | None, end: date | None) -> str:
    if start is None:
        return "not started"
    return f"{start} to {end}" if end else f"from {start}"


def build_statement(
    client: str, title: str, month: date, currency: str, usage: Usage, levels: Mapping[int, str] | None = None
) -> Statement:
    """`levels`: an hour package's support levels; requests are then also shown per level."""
    tasks: dict[str, Breakdown] = {}
    stores: dict[str, Breakdown] = {}
    by_level: dict[int, Breakdown] = {}
    credit_of = usage.tickets
    charged: set[str] = set()
    for item in usage.items:
        if levels and item.category is not None:
            row = by_level.setdefault(
                item.category, Breakdown(f"{item.category} {levels.get(item.category, '')}".strip())
            )
            row.entries += 1
            row.hours += item.hours
        for key, table in ((item.task, tasks), (item.store, stores)):
            row = table.setdefault(key, Breakdown(key))
            row.entries += 1
            row.hours += item.hours
        # A ticket's credits go to the task and store of its first entry this month.
        ticket = ticket_key(item)
        if ticket in credit_of and ticket not in charged:
            charged.add(ticket)
            tasks[item.task].credits += credit_of[ticket]
            stores[item.store].credits += credit_of[ticket]
    return Statement(
        client,
        title,
        month,
        currency,
        usage,
        by_task=[tasks[k] for k in sorted(tasks)],
        by_store=[stores[k] for k in sorted(stores)],
        by_level=[by_level[k] for k in sorted(by_level)],
    )


# --- terminal -----------------------------------------------------------------------------------


def render_table(st: Statement) -> Group:
    u = st.usage
    head = Table(show_header=False)
    head.add_column("item")
    head.add_column("value", justify="right")
    for label, value in st.summary():
        head.add_row(label, value)
    parts: list[Any] = [f"[bold]{escape_markup(st.title)}: statement for {st.month:%B %Y}[/]", head]
    if u.weeks:
        weeks = Table(title="hours per week", title_justify="left")
        for name in ("week of", "hours", "cap", "over cap"):
            weeks.add_column(name, justify="right" if name != "week of" else "left")
        for w in u.weeks:
            over = _h(w.over_cap) if w.over_cap else ""
            weeks.add_row(str(w.start), _h(w.hours), _h(w.cap) if w.cap is not None else "-", over)
        parts.append(weeks)
    for title, rows in (
        ("per support level", st.by_level),
        ("per task", st.by_task),
        ("per store", st.by_store),
    ):
        if rows:
            table = Table(title=title, title_justify="left")
            for name in ("name", "entries", "hours", "credits"):
                table.add_column(name, justify="left" if name == "name" else "right")
            for b in rows:
                table.add_row(b.name, str(b.entries), _h(b.hours), str(b.credits) if b.credits else "")
            parts.append(table)
    if st.items:
        entries = Table(
            title="entries (correct one with: fab log --correct ID DURATION)", title_justify="left"
        )
        for name in ("id", "started", "store", "task", "time", "outcome", "note"):
            entries.add_column(name, justify="right" if name in ("id", "time") else "left")
        for i in st.items:
            entries.add_row(
                str(i.id), f"{i.started:%Y-%m-%d %H:%M}", i.store, i.task, _h(i.hours), i.outcome, i.note
            )
        parts.append(entries)
    parts += [f"[yellow]warning:[/] {w}" for w in u.warnings]
    parts += [f"note: {n}" for n in u.notes]
    return Group(*parts)


# --- CSV ----------------------------------------------------------------------------------------

CSV_HEADER = ("section", "name", "date", "hours", "limit", "credits", "amount", "detail")


def write_csv(st: Statement, out: TextIO) -> None:
    """One flat table (section column first) so a spreadsheet can filter it."""
    u = st.usage
    w = csv.writer(out)
    w.writerow(CSV_HEADER)
    w.writerow(
        (
            "summary",
            st.client,
            st.month.strftime("%Y-%m"),
            f"{u.hours_used:.2f}",
            "" if u.hours_included is None else f"{u.hours_included:g}",
            "" if u.credits_balance is None else u.credits_balance,
            f"{u.total_due:.2f}",
            f"plan {u.plan}; period {_period(u.period_start, u.period_end)}"
            + (f"; billed on the {u.billed_on:%Y-%m} statement" if u.billed_on else ""),
        )
    )
    for label, amount in u.fee_lines:
        w.writerow(("fee line", label, "", "", "", "", f"{amount:.2f}", ""))
    w.writerow(("fee", u.plan, "", "", "", "", f"{u.fee:.2f}", ""))
    if u.overage_hours:
        w.writerow(
            (
                "overage",
                u.plan,
                "",
                f"{u.overage_hours:.2f}",
                "",
                "",
                f"{u.overage_amount:.2f}",
                f"{u.overage_rate}/h",
            )
        )
    if u.credits_balance is not None:
        for name, value in (
            ("brought forward", u.credits_brought_forward),
            ("bought", u.credits_bought),
            ("free granted", u.credits_free_granted),
            ("spent", u.credits_spent),
            ("free lapsed", u.credits_free_lapsed),
        ):
            w.writerow(("credits", name, "", "", "", value, "", ""))
        w.writerow(("credits", "balance", "", "", "", u.credits_balance, "", f"{u.credits_free_left} free"))
    for week in u.weeks:
        cap = "" if week.cap is None else f"{week.cap:g}"
        over = f"over cap {week.over_cap:.2f}" if week.over_cap else ""
        w.writerow(("week", "", week.start.isoformat(), f"{week.hours:.2f}", cap, "", "", over))
    for section, rows in (("level", st.by_level), ("task", st.by_task), ("store", st.by_store)):
        for b in rows:
            w.writerow(
                (section, b.name, "", f"{b.hours:.2f}", "", b.credits or "", "", f"{b.entries} entries")
            )
    for i in st.client_items:
        w.writerow(
            (
                "entry",
                f"{i.store}/{i.task}",
                i.started.isoformat(),
                f"{i.hours:.2f}",
                "",
                "",
                "",
                f"#{i.id} {i.outcome} {i.note}".strip(),
            )
        )
    for warning in u.warnings:
        w.writerow(("warning", "", "", "", "", "", "", warning))
    for note in u.notes:
        w.writerow(("note", "", "", "", "", "", "", note))


# --- HTML -----------------------------------------------------------------------------------------


def week_chart_svg(usage: Usage, width: int = 640, height: int = 240) -> str:
    """Bars of hours per week with the weekly cap as a dashed line; plain SVG, no script."""
    weeks = usage.weeks
    cap = next((w.cap for w in weeks if w.cap is not None), None)
    top = max([w.hours for w in weeks] + [cap or 0.0, 1.0]) * 1.15
    left, bottom, plot_h = 44, height - 28, height - 48
    slot = (width - left - 10) / max(1, len(weeks))

    def y(hours: float) -> float:
        return bottom - hours / top * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="hours per week against the weekly cap" width="{width}" height="{height}">',
        f'<line x1="{left}" y1="{bottom}" x2="{width - 10}" y2="{bottom}" stroke="#555"/>',
    ]
    for tick in range(0, int(top) + 1, max(1, int(top // 4) or 1)):
        parts.append(
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end">{tick} h</text>'
        )
    for n, w in enumerate(weeks):
        bar_w = min(slot * 0.7, 56.0)
        x = left + n * slot + (slot - bar_w) / 2
        within = min(w.hours, w.cap) if w.cap is not None else w.hours
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y(within):.1f}" width="{bar_w:.1f}" '
            f'height="{bottom - y(within):.1f}" fill="#3b7dd8"><title>week of {w.start}: '
            f"{_h(w.hours)}</title></rect>"
        )
        if w.over_cap:
            parts.append(
                f'<rect class="over" x="{x:.1f}" y="{y(w.hours):.1f}" width="{bar_w:.1f}" '
                f'height="{y(within) - y(w.hours):.1f}" fill="#d8553b"/>'
            )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{bottom + 16}" font-size="11" text-anchor="middle">'
            f"{w.start:%d %b}</text>"
        )
    if cap is not None:
        parts.append(
            f'<line class="cap" x1="{left}" y1="{y(cap):.1f}" x2="{width - 10}" y2="{y(cap):.1f}" '
            f'stroke="#d8553b" stroke-dasharray="6 4"/>'
            f'<text x="{width - 12}" y="{y(cap) - 5:.1f}" font-size="11" text-anchor="end">'
            f"weekly cap {cap:g} h</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:50rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}
td.n,th.n{text-align:right}.warn{color:#a33}
"""


def _rows(headers: Iterable[str], rows: Iterable[Iterable[object]], numeric: set[int]) -> str:
    head = "".join(f"<th{' class=n' if n in numeric else ''}>{escape(h)}</th>" for n, h in enumerate(headers))
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if n in numeric else ''}>{escape(str(v))}</td>" for n, v in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(st: Statement) -> str:
    """A self-contained page for the client: no scripts, fonts or images fetched."""
    u = st.usage
    title = f"{st.title}: statement for {st.month:%B %Y}"
    out = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>",
        _rows(("", ""), st.summary(), {1}),
    ]
    if u.weeks:
        out.append("<h2>Hours per week</h2>" + week_chart_svg(u))
        out.append(
            _rows(
                ("week of", "hours", "cap", "over cap"),
                (
                    (
                        w.start,
                        _h(w.hours),
                        "-" if w.cap is None else _h(w.cap),
                        _h(w.over_cap) if w.over_cap else "",
                    )
                    for w in u.weeks
                ),
                {1, 2, 3},
            )
        )
    for heading, rows in (
        ("Per support level", st.by_level),
        ("Per task", st.by_task),
        ("Per store", st.by_store),
    ):
        if rows:
            out.append(f"<h2>{heading}</h2>")
            out.append(
                _rows(
                    ("", "entries", "hours", "credits"),
                    ((b.name, b.entries, _h(b.hours), b.credits) for b in rows),
                    {1, 2, 3},
                )
            )
    if st.client_items:
        out.append("<h2>Work done</h2>")
        out.append(
            _rows(
                ("date", "store", "task", "time", "note"),
                ((f"{i.started:%Y-%m-%d}", i.store, i.task, _h(i.hours), i.note) for i in st.client_items),
                {3},
            )
        )
    out += [f'<p class="warn">{escape(w)}</p>' for w in u.warnings]
    out += [f"<p>{escape(n)}</p>" for n in u.notes]
    out.append("</body></html>\n")
    return "".join(out)


# --- the agency's overview ------------------------------------------------------------------------


def overview_row(client: str, usage: Usage, currency: str) -> dict[str, Any]:
    used = _h(usage.hours_used)
    if usage.hours_included is not None:
        used += f" of {_h(usage.hours_included)}"
    return {
        "client": client,
        "plan": usage.plan,
        "period": _period(usage.period_start, usage.period_end),
        "hours": used,
        "credits": "" if usage.credits_balance is None else str(usage.credits_balance),
        "overage": f"{currency}{usage.overage_amount:,.2f}" if usage.overage_hours else "",
        "due": f"{currency}{usage.total_due:,.2f}",
        "status": ", ".join(sorted(_status(usage))) or "ok",
    }


def _status(usage: Usage) -> set[str]:
    """The guard's flags, plus what a bookkeeper must act on in any month: overage to bill."""
    status = set(usage.flags)
    if usage.overage_hours:
        status.add("overage")
    if usage.billed_on:
        status.add(f"billed {usage.billed_on:%Y-%m}")
    return status


OVERVIEW_COLUMNS = ("client", "plan", "period", "hours", "credits", "overage", "due", "status")


def overview_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [[row[k] for k in OVERVIEW_COLUMNS] for row in rows]
