"""Statements: one Statement, rendered as rich table, CSV and a self-contained HTML page."""

import csv
import io
import json
from datetime import date

import pytest
from billing_factory import event, work
from rich.console import Console

from maint.billing.account import Terms
from maint.billing.plans import CreditsPlan, HoursPlan, Plans
from maint.billing.rules import credits_usage, hours_usage, retainer_usage
from maint.billing.statement import (
    CSV_HEADER,
    build_statement,
    render_html,
    render_table,
    week_chart_svg,
    write_csv,
)

NOV = date(2026, 11, 1)


@pytest.fixture
def starter_statement(plans: Plans):
    plan = plans.get("starter")
    assert isinstance(plan, HoursPlan)
    items = [
        work("2026-11-02", 12, task="upgrade"),
        work("2026-11-04", 11, store="demo4", note="<script>alert(1)</script>"),
        work("2026-11-10", 14),
        work("2026-11-18", 9, task="health"),
    ]
    usage = hours_usage(plan, Terms(), items, NOV, date(2026, 12, 1))
    return build_statement("demo", "Demo & Sons", NOV, "R", usage)


def test_breakdowns_sum_hours_per_task_and_per_store(starter_statement) -> None:
    by_task = {b.name: (b.entries, b.hours) for b in starter_statement.by_task}
    assert by_task == {"health": (1, 9), "manual": (2, 25), "upgrade": (1, 12)}
    assert {b.name: b.hours for b in starter_statement.by_store} == {"demo": 35, "demo4": 11}


def test_summary_shows_used_included_overage_and_total(starter_statement) -> None:
    summary = dict(starter_statement.summary())
    assert summary["hours used"] == "46h00"
    assert summary["hours included"] == "40h00"
    assert summary["overage"] == "6h00 at R550.00/h"  # 3 h over the first week's cap, 3 h over the month
    assert summary["total due"] == "R21,300.00"


def test_the_table_renders_every_section(starter_statement) -> None:
    out = io.StringIO()
    Console(file=out, width=120).print(render_table(starter_statement))
    text = out.getvalue()
    for heading in ("statement for November 2026", "hours per week", "per task", "per store", "entries"):
        assert heading in text


def test_csv_is_one_flat_table_with_a_section_column(starter_statement) -> None:
    out = io.StringIO()
    write_csv(starter_statement, out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == CSV_HEADER
    sections = [r[0] for r in rows[1:]]
    assert sections[:4] == ["summary", "fee line", "fee", "overage"]
    assert sections.count("week") == 6 and sections.count("entry") == 4
    overage = rows[4]
    assert (overage[3], overage[6]) == ("6.00", "3300.00")


def test_html_is_self_contained_and_escapes_notes(starter_statement) -> None:
    page = render_html(starter_statement)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Demo &amp; Sons" in page
    assert "<link" not in page and "src=" not in page


def test_chart_draws_a_bar_per_week_the_part_over_the_cap_and_the_cap_line(starter_statement) -> None:
    svg = week_chart_svg(starter_statement.usage)
    assert svg.count('class="bar"') == 6
    assert svg.count('class="over"') == 1
    assert svg.count('class="cap"') == 1 and "weekly cap 20 h" in svg


def test_chart_without_a_cap_has_no_cap_line(plans: Plans) -> None:
    usage = retainer_usage(plans.get("retainer"), [work("2026-11-03", 2)], NOV)  # type: ignore[arg-type]
    assert 'class="cap"' not in week_chart_svg(usage)


def test_a_ticket_is_charged_once_to_the_task_and_store_of_its_first_entry(plans: Plans) -> None:
    plan = plans.get("credits")
    assert isinstance(plan, CreditsPlan)
    items = [
        work("2026-11-03", 1, ticket="T1", category=2),
        work("2026-11-04", 1, ticket="T1", category=2, task="prices", store="b"),
        work("2026-11-05", 0.1, task="upgrade"),
        work("2026-11-05", 0.2, task="upgrade"),  # the same task, store and day: one ticket
    ]
    confirmed = [event("confirm", "2026-11-03", ticket=t) for t in ("T1", "demo:upgrade:2026-11-05")]
    usage = credits_usage(plan, Terms(start=NOV), confirmed, items, NOV, date(2026, 11, 6))
    st = build_statement("acme", "Acme", NOV, "R", usage)
    assert {b.name: b.credits for b in st.by_task} == {"manual": 10, "prices": 0, "upgrade": 20}
    assert {b.name: b.credits for b in st.by_store} == {"demo": 30, "b": 0}
    data = json.loads(json.dumps(st.as_dict()))
    assert data["credits"] == {
        "brought_forward": 0, "bought": 0, "free_granted": 40, "spent": 30, "free_lapsed": 0,
        "balance": 10, "free_left": 10,
    }  # fmt: skip


def test_voided_entries_stay_out_of_the_client_csv_and_html_but_not_the_terminal(plans: Plans) -> None:
    plan = plans.get("starter")
    assert isinstance(plan, HoursPlan)
    kept, voided = work("2026-11-03", 2, note="kept work"), work("2026-11-04", 0, note="voided slip")
    st = build_statement(
        "demo", "Demo", NOV, "R", hours_usage(plan, Terms(), [kept, voided], NOV, date(2026, 12, 1))
    )
    out = io.StringIO()
    write_csv(st, out)
    assert "kept work" in out.getvalue() and "voided slip" not in out.getvalue()
    assert "kept work" in render_html(st) and "voided slip" not in render_html(st)
    console = io.StringIO()
    Console(file=console, width=160).print(render_table(st))
    assert "voided slip" in console.getvalue()  # the agency still sees it


def test_csv_and_html_show_the_over_cap_hours_the_terminal_shows(plans: Plans) -> None:
    plan = plans.get("starter")
    assert isinstance(plan, HoursPlan)
    usage = hours_usage(plan, Terms(), [work("2026-11-03", 23)], NOV, date(2026, 12, 1))
    st = build_statement("demo", "Demo", NOV, "R", usage)
    out = io.StringIO()
    write_csv(st, out)
    week = next(r for r in csv.DictReader(io.StringIO(out.getvalue())) if r["date"] == "2026-11-02")
    assert week["detail"] == "over cap 3.00"
    assert "<th class=n>over cap</th>" in render_html(st) and "<td class=n>3h00</td>" in render_html(st)
