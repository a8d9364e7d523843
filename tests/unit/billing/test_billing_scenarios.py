"""Every plan scenario as data: events and work in, the statement computed by hand out.

Each file in scenarios/ is one client's story (see scenarios/README.md for the keys). The
statement is built the way `fab hours` builds it (a real ledger, the agency's time zone) and must
come out identical in JSON, CSV, HTML and the terminal table.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from maint.billing.ledger import Ledger
from maint.billing.plans import HoursPlan, Plans
from maint.billing.service import client_usage
from maint.billing.statement import build_statement, overview_row, render_html, render_table, write_csv

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.yaml"))


def _fill(ledger: Ledger, plans: Plans, story: dict[str, Any]) -> None:
    for e in story.get("events", []):
        e = dict(e)
        kind, on, amount = e.pop("kind"), date.fromisoformat(str(e.pop("day"))), int(e.pop("amount", 0))
        ledger.add_event(client="client", kind=kind, on=on, amount=amount, data=e)
    for w in story.get("work", []):
        if "utc" in w:
            started = datetime.fromisoformat(str(w["utc"])).replace(tzinfo=UTC)
        else:
            at = time.fromisoformat(str(w.get("at", "09:00")))
            started = datetime.combine(date.fromisoformat(str(w["day"])), at, tzinfo=plans.timezone)
        seconds = round(float(w["hours"]) * 3600)
        ledger.add(
            client="client",
            store=w.get("store", "shop"),
            task=w.get("task", "manual"),
            started=started,
            ended=started + timedelta(seconds=seconds),
            outcome=w.get("outcome", "ok"),
            source="manual" if w.get("task", "manual") == "manual" else "auto",
            ticket=str(w.get("ticket", "")),
            category=w.get("level", w.get("category")),
            on_demand=bool(w.get("on_demand", False)),
            pays=w.get("pays", ""),
        )


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_statement_is_the_hand_computed_one_in_every_rendering(
    path: Path, plans: Plans, tmp_path: Path
) -> None:
    # YAML reads 2026-10-01 as a date: the ledger and the JSON statement hold ISO text.
    story = json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        _fill(ledger, plans, story)
        for check in story["statements"]:
            month = datetime.strptime(str(check["month"]), "%Y-%m").date()
            today = date.fromisoformat(str(check["today"]))
            usage = client_usage(plans, ledger, "client", story["plan"], month, today)
            plan = plans.get(story["plan"])
            levels = plan.levels if isinstance(plan, HoursPlan) else None
            st = build_statement("client", "Client", month, plans.currency, usage, levels)
            _check(st, check["expect"], f"{path.name} {check['month']}")


def _check(st: Any, expect: dict[str, Any], where: str) -> None:
    data = json.loads(json.dumps(st.as_dict()))
    row = overview_row("client", st.usage, st.currency)
    got: dict[str, Any] = {
        "period": [data["period_start"], data["period_end"]],
        "hours_used": data["hours_used"],
        "hours_covered": data["hours_covered"],
        "overage_hours": data["overage_hours"],
        "fee": data["fee"],
        "overage_amount": data["overage_amount"],
        "total_due": data["total_due"],
        "billed_on": data["billed_on"],
        "credits": data["credits"],
        "flags": data["flags"],
        "status": row["status"],
        "by_level": {b["name"]: b["hours"] for b in data["by_level"]},
        "weeks_over_cap": {w["week"]: w["over_cap"] for w in data["weeks"] if w["over_cap"]},
    }
    for key, value in expect.items():
        if key == "warnings":
            for part in value:
                assert any(part in w for w in data["warnings"]), f"{where}: no warning with {part!r}"
        elif key == "notes":
            for part in value:
                assert any(part in n for n in data["notes"]), f"{where}: no note with {part!r}"
        else:
            assert got[key] == value, f"{where}: {key}"
    # The same numbers in CSV, HTML and the terminal.
    out = io.StringIO()
    write_csv(st, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    summary = next(r for r in rows if r["section"] == "summary")
    assert summary["amount"] == data["total_due"], where
    assert next(r for r in rows if r["section"] == "fee")["amount"] == data["fee"], where
    overage = [r["amount"] for r in rows if r["section"] == "overage"]
    assert overage == ([data["overage_amount"]] if data["overage_hours"] else []), where
    if data["credits"]:
        csv_credits = {
            r["name"].replace(" ", "_"): int(r["credits"]) for r in rows if r["section"] == "credits"
        }
        assert csv_credits == {k: v for k, v in data["credits"].items() if k != "free_left"}, where
    money = [f"R{float(data[k]):,.2f}" for k in ("fee", "total_due", "overage_amount")]
    page = render_html(st)
    console = io.StringIO()
    Console(file=console, width=200).print(render_table(st))
    for text in money:
        assert text in page and text in console.getvalue(), f"{where}: {text} missing"
