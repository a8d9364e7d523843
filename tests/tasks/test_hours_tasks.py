"""`fab hours`, `fab log` and `fab account` wired to a temporary ledger and inventory."""

import csv
import importlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from invoke import Config, MockContext
from invoke.exceptions import Exit

from maint.billing.hooks import record_task
from maint.billing.ledger import Ledger
from maint.config import load_settings

PROJECT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
tasks = importlib.import_module("maint.tasks.hours")

CLIENTS = {
    "acme": "credits",
    "bolt": "support-3m",
    "cask": "one-incident",
    "dune": "retainer",
}


@pytest.fixture
def maint_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    inventory = tmp_path / "clients"
    inventory.mkdir()
    (inventory / "demo.yaml").write_text((PROJECT / "maint" / "playbooks" / "clients" / "demo.yaml").read_text())
    for name, plan in CLIENTS.items():
        (inventory / f"{name}.yaml").write_text(
            f"name: {name}\nplan: {plan}\nstores:\n  - {{name: {name}-shop, host: h, root: /srv/{name}}}\n"
        )
    monkeypatch.setattr(tasks, "now", lambda: NOW)
    return {
        "inventory": str(inventory),
        "playbooks": str(PROJECT / "maint" / "playbooks"),
        "state_dir": str(tmp_path / "state"),
    }


@pytest.fixture
def c(maint_config: dict[str, str]) -> MockContext:
    return MockContext(config=Config(overrides={"maint": maint_config}))


def _ledger(maint_config: dict[str, str]) -> Ledger:
    return Ledger.in_state_dir(Path(maint_config["state_dir"]))


def _rows(maint_config: dict[str, str]) -> list[tuple[int, str, float]]:
    with _ledger(maint_config) as ledger:
        return [(i.id, i.store, i.seconds) for i in ledger.items()]


def _exit_code(call) -> int:
    with pytest.raises(Exit) as err:
        call()
    return err.value.code


@pytest.fixture
def demo_month(maint_config: dict[str, str]) -> None:
    """A November for the demo client: automatic runs, a failure and manual work."""
    settings = load_settings(maint_config)
    for day, task, minutes, outcome in [
        (2, "mirror", 25, "ok"),
        (3, "upgrade", 50, "failed: disk full"),
        (3, "upgrade", 70, "ok"),
        (17, "health", 5, "ok"),
    ]:
        start = datetime(2026, 11, day, 8, 0, tzinfo=UTC)
        record_task(
            settings, client="demo", store="demo4" if task == "health" else "demo", task=task,
            started=start, ended=start + timedelta(minutes=minutes), outcome=outcome,
        )  # fmt: skip
    with _ledger(maint_config) as ledger:
        for day, hours in [(4, 12), (10, 14), (18, 9)]:
            start = datetime(2026, 11, day, 9, 0, tzinfo=UTC)
            ledger.add(client="demo", store="demo", task="manual", started=start,
                       ended=start + timedelta(hours=hours), source="manual", note="theme fixes")  # fmt: skip


def test_demo_statement_renders_as_table_csv_and_html(c, maint_config, demo_month, tmp_path, capsys) -> None:
    out_csv, out_html = tmp_path / "out" / "demo.csv", tmp_path / "out" / "demo.html"
    tasks.hours(c, "demo", month="2026-11", csv=str(out_csv), html=str(out_html))
    table = capsys.readouterr().out
    assert "statement for November 2026" in table
    assert "hours included" in table and "40h00" in table
    assert "per task" in table and "upgrade" in table and "demo4" in table

    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    summary = rows[0]
    assert (summary["section"], summary["name"], summary["limit"]) == ("summary", "demo", "40")
    assert float(summary["hours"]) == pytest.approx(35 + 150 / 60)
    assert [r["date"] for r in rows if r["section"] == "week"] == [
        "2026-10-26", "2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30",
    ]  # fmt: skip
    assert sum(1 for r in rows if r["section"] == "entry") == 7

    page = out_html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and 'class="cap"' in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched


def test_statement_json_has_usage_weeks_tasks_and_entries(c, demo_month, capsys) -> None:
    tasks.hours(c, "demo", month="2026-11", json=True)
    data = json.loads(capsys.readouterr().out)["stores"][0]
    assert (data["client"], data["plan"], data["month"], data["hours_included"]) == (
        "demo",
        "starter",
        "2026-11",
        40,
    )
    assert data["overage_hours"] == 0
    assert [w["cap"] for w in data["weeks"]] == [20] * 6
    assert {t["name"] for t in data["by_task"]} == {"mirror", "upgrade", "health", "manual"}
    assert any(e["outcome"] == "failed: disk full" for e in data["entries"])


def test_all_gives_an_overview_of_every_client(c, demo_month, capsys) -> None:
    tasks.hours(c, all_=True, json=True)
    data = json.loads(capsys.readouterr().out)
    assert data["month"] == "2026-11"
    assert [row["client"] for row in data["stores"]] == ["acme", "bolt", "cask", "demo", "dune"]
    assert "expired" in {row["client"]: row["flags"] for row in data["stores"]}["bolt"]
    assert all(isinstance(row["total_due"], int | float) and row["currency"] for row in data["stores"])
    tasks.hours(c, all_=True)
    assert "all clients, November 2026" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "kwargs", "code"),
    [
        (("demo",), {"all_": True}, 2),
        ((), {}, 2),
        (("nobody",), {}, 11),
        (("demo",), {"month": "November"}, 50),
    ],
)
def test_bad_hours_arguments_exit_with_their_code(c, args, kwargs, code) -> None:
    assert _exit_code(lambda: tasks.hours(c, *args, **kwargs)) == code


def test_log_adds_manual_work_to_the_store_client(c, maint_config, capsys) -> None:
    tasks.log(c, "demo4", "1h30", "checked the payment module", level=2)
    assert "logged #1: 1h30 on demo4 for demo (starter)" in capsys.readouterr().out
    with _ledger(maint_config) as ledger:
        entry = ledger.get(1)
    assert (entry.client, entry.source, entry.category, entry.note) == (
        "demo",
        "manual",
        2,
        "checked the payment module",
    )
    assert entry.started == NOW - timedelta(minutes=90)


@pytest.mark.parametrize(
    ("args", "kwargs", "code"),
    [
        (("demo", "abc", "x"), {}, 50),
        (("demo", "-2h", "x"), {}, 50),
        (("demo", "0m", "x"), {}, 50),
        (("demo", "1h", "x"), {"category": "gardening"}, 50),
        (("demo", "1h", "x"), {"level": 1, "category": "server"}, 50),
        (("demo", "1h", "x"), {"on": "2026-12-01"}, 50),
        (("nope", "1h", "x"), {}, 11),
        (("demo",), {}, 2),
    ],
)
def test_bad_log_input_is_refused_and_the_ledger_unchanged(c, maint_config, args, kwargs, code) -> None:
    tasks.log(c, "demo", "1h", "first")
    assert _exit_code(lambda: tasks.log(c, *args, **kwargs)) == code
    assert len(_rows(maint_config)) == 1


def test_log_correct_supersedes_an_entry_and_keeps_the_original(c, maint_config, capsys) -> None:
    tasks.log(c, "demo", "1h", "first")
    tasks.log(c, "2h", correct=1)  # `fab log --correct 1 2h`: the positionals shift
    assert "#2 replaces #1: 1h00 → 2h00" in capsys.readouterr().out
    assert [(i, s) for i, _, s in _rows(maint_config)] == [(2, 7200)]
    with _ledger(maint_config) as ledger:
        assert [e.seconds for e in ledger.history(1)] == [3600, 7200]
    assert _exit_code(lambda: tasks.log(c, "3h", correct=1)) == 50  # already corrected by #2
    tasks.log(c, "0", correct=2)  # void
    assert _rows(maint_config)[0][2] == 0


def test_log_for_support_outside_the_period_is_refused_as_plan_spent(c, maint_config) -> None:
    assert _exit_code(lambda: tasks.log(c, "bolt-shop", "1h", "no period yet")) == 62
    tasks.account(c, "bolt", period=3, on="2026-11-02")
    tasks.log(c, "bolt-shop", "1h", "first request", on="2026-11-05")
    assert _exit_code(lambda: tasks.log(c, "bolt-shop", "1h", "too early", on="2026-11-01")) == 62
    assert len(_rows(maint_config)) == 1


def test_account_records_packs_and_refuses_odd_sizes(c, maint_config, capsys) -> None:
    tasks.account(c, "acme", pack=50, on="2026-11-02")
    assert _exit_code(lambda: tasks.account(c, "acme", pack=30)) == 50
    assert _exit_code(lambda: tasks.account(c, "demo", pack=50)) == 50
    tasks.log(c, "acme-shop", "2h", "server move", category="server", on="2026-11-03", ticket="T1")
    capsys.readouterr()
    tasks.hours(c, "acme", json=True)
    unconfirmed = json.loads(capsys.readouterr().out)["stores"][0]
    assert unconfirmed["credits"]["spent"] == 0  # category 3: not charged before the client confirms
    assert "T1 (category 3) is not charged" in unconfirmed["warnings"][0]
    tasks.account(c, "acme", confirm="T1", by="Ann Smith", how="email", on="2026-11-03")
    tasks.hours(c, "acme", json=True)
    credits = json.loads(capsys.readouterr().out.split("\n", 1)[1])["stores"][0]["credits"]
    assert credits == {
        "brought_forward": 0, "bought": 50, "free_granted": 40, "spent": 20, "free_lapsed": 0,
        "balance": 70, "free_left": 20,
    }  # fmt: skip


def test_account_allows_one_suspension_and_one_resume(c, maint_config) -> None:
    tasks.account(c, "bolt", period=3, on="2026-11-02")
    tasks.account(c, "bolt", suspend=True, on="2026-11-10")
    tasks.account(c, "bolt", resume=True, on="2026-11-20")
    assert _exit_code(lambda: tasks.account(c, "bolt", suspend=True)) == 50
    assert _exit_code(lambda: tasks.account(c, "bolt", period=2)) == 50
    with _ledger(maint_config) as ledger:
        assert [e.kind for e in ledger.events("bolt")] == ["period", "suspend", "resume"]


def test_account_terms_set_discount_and_grouping(c, maint_config, capsys) -> None:
    tasks.account(c, "demo", start="2026-11-01", one_year=True, group_months=2, from_="2026-11-01")
    assert _exit_code(lambda: tasks.account(c, "demo", group_months=3)) == 50
    assert _exit_code(lambda: tasks.account(c, "demo", pack=25, one_year=True)) == 2
    capsys.readouterr()
    tasks.hours(c, "demo", month="2026-12", json=True)
    data = json.loads(capsys.readouterr().out)["stores"][0]
    assert (data["period_start"], data["period_end"], data["hours_included"]) == (
        "2026-11-01",
        "2026-12-31",
        80,
    )
    assert data["fee"] == data["total_due"] == 32400.00  # 2 x 18,000 less 10 %, exactly (a number, cents exact)
    tasks.account(c, "demo", json=True)
    listed = json.loads(capsys.readouterr().out)["stores"][0]
    assert [(t["from"], t["term"], t["value"]) for t in listed["terms"]] == [
        ("2026-11-01", "start", "2026-11-01"), ("2026-11-01", "one_year", True), ("2026-11-01", "group_months", 2),
    ]  # fmt: skip


def test_closing_an_incident_twice_is_refused(c) -> None:
    tasks.account(c, "cask", close=True)
    assert _exit_code(lambda: tasks.account(c, "cask", close=True)) == 50


def test_csv_to_stdout_is_not_mixed_with_the_table(c, demo_month, capsys) -> None:
    tasks.hours(c, "demo", month="2026-11", csv="-")
    out = capsys.readouterr().out
    assert out.startswith("section,name,date,hours") and "statement for" not in out


# --- issue 19: dated terms, events of their own, refusals -----------------------------------------


def _statement(c, capsys, client: str, month: str) -> dict:
    capsys.readouterr()
    tasks.hours(c, client, month=month, json=True)
    return json.loads(capsys.readouterr().out)["stores"][0]


def test_terms_before_this_month_need_retroactive_and_are_listed_with_their_day(
    c, maint_config, capsys
) -> None:
    # NOW is 26 Nov 2026: November is under way, October's statement was issued.
    assert _exit_code(lambda: tasks.account(c, "demo", group_months=2, from_="2026-10-01")) == 50
    with _ledger(maint_config) as ledger:
        assert ledger.events("demo") == []  # nothing half-recorded
    tasks.account(c, "demo", start="2026-10-01", from_="2026-10-01", retroactive=True)
    tasks.account(c, "demo", one_year=True, from_="2026-11-01")
    capsys.readouterr()
    tasks.account(c, "demo")
    listing = capsys.readouterr().out
    assert "terms of demo" in listing and "one-year contract: yes" in listing and "one_year" not in listing and "2026-11-01" in listing


def test_a_later_term_does_not_change_an_issued_statement(c, maint_config, capsys) -> None:
    tasks.account(c, "demo", start="2026-10-01", group_months=2, from_="2026-10-01", retroactive=True)
    with _ledger(maint_config) as ledger:
        for day in (5, 12, 19, 26):
            start = datetime(2026, 10, day, 7, tzinfo=UTC)
            ledger.add(
                client="demo", store="demo", task="manual", started=start, ended=start + timedelta(hours=20)
            )
        start = datetime(2026, 11, 2, 7, tzinfo=UTC)
        ledger.add(
            client="demo", store="demo", task="manual", started=start, ended=start + timedelta(hours=10)
        )
    before = _statement(c, capsys, "demo", "2026-11")
    assert (before["total_due"], _statement(c, capsys, "demo", "2026-10")["total_due"]) == (
        41500.00,
        0.00,
    )
    # Grouping stops from December, and a one-year discount starts then: the Oct-Nov bill stays.
    tasks.account(c, "demo", group_months=1, from_="2026-12-01")
    tasks.account(c, "demo", one_year=True, from_="2026-12-01")
    assert _statement(c, capsys, "demo", "2026-11") == before
    december = _statement(c, capsys, "demo", "2026-12")
    assert (december["period_start"], december["fee"]) == ("2026-12-01", 16200.00)


def test_a_cancelled_retainer_is_billed_to_the_end_of_that_month(c, capsys) -> None:
    tasks.account(c, "dune", start="2026-01-01", from_="2026-01-01", retroactive=True)
    tasks.account(c, "dune", cancel=True, on="2026-11-10")
    assert _statement(c, capsys, "dune", "2026-11")["total_due"] == 4000.00
    assert _statement(c, capsys, "dune", "2026-12")["total_due"] == 0.00
    assert _statement(c, capsys, "dune", "2025-06")["total_due"] == 0.00


def test_a_confirmation_names_who_and_how(c, maint_config, capsys) -> None:
    assert _exit_code(lambda: tasks.account(c, "acme", confirm="T1")) == 50
    tasks.account(c, "acme", confirm="T1", by="Ann Smith", how="phone")
    with _ledger(maint_config) as ledger:
        (event,) = ledger.events("acme")
    assert (event.kind, event.data) == ("confirm", {"ticket": "T1", "by": "Ann Smith", "how": "phone"})


def test_a_new_incident_is_bought_before_work_on_it_is_logged(c, maint_config, capsys) -> None:
    tasks.log(c, "cask-shop", "2h", "checkout broken", ticket="A", on="2026-11-02")
    assert _exit_code(lambda: tasks.account(c, "cask", incident="B")) == 50  # A is still open
    tasks.account(c, "cask", close=True, on="2026-11-05")
    assert (
        _exit_code(lambda: tasks.log(c, "cask-shop", "1h", "new problem", ticket="B", on="2026-11-10")) == 62
    )
    tasks.account(c, "cask", incident="B", on="2026-11-10")
    tasks.log(c, "cask-shop", "1h", "new problem", ticket="B", on="2026-11-10")
    data = _statement(c, capsys, "cask", "2026-11")
    assert (data["fee"], data["flags"]) == (5000.00, [])


def test_a_request_during_a_suspension_is_refused_as_plan_spent_with_the_suspension(c, capsys) -> None:
    tasks.account(c, "bolt", period=1, on="2026-08-01")
    tasks.log(c, "bolt-shop", "1h", "first", on="2026-08-03")
    tasks.account(c, "bolt", suspend=True, on="2026-08-10")
    with pytest.raises(Exit) as err:
        tasks.log(c, "bolt-shop", "1h", "during", on="2026-08-12")
    assert err.value.code == 62
    assert (
        "during the suspension of the support period (suspended from 2026-08-10)" in capsys.readouterr().err
    )
    tasks.account(c, "bolt", resume=True, on="2026-08-20")
    # A new subscription after the first one ended may be suspended once again.
    tasks.account(c, "bolt", period=1, on="2026-11-01")
    tasks.log(c, "bolt-shop", "1h", "new period", on="2026-11-10")
    tasks.account(c, "bolt", suspend=True, on="2026-11-20")
    assert _exit_code(lambda: tasks.account(c, "bolt", suspend=True, on="2026-11-21")) == 50


def test_work_over_several_days_needs_a_span(c, maint_config) -> None:
    assert _exit_code(lambda: tasks.log(c, "demo", "30h", "migration")) == 50
    tasks.log(c, "demo", "30h", "migration", span=2)
    assert _rows(maint_config)[0][2] == 30 * 3600


def test_hour_package_requests_carry_a_support_level(c, maint_config, capsys) -> None:
    tasks.log(c, "demo", "2h", "checkout", level=3, on="2026-11-03")
    assert _exit_code(lambda: tasks.log(c, "demo", "2h", "x", level=5)) == 50
    data = _statement(c, capsys, "demo", "2026-11")
    assert data["by_level"] == [{"name": "3 development", "entries": 1, "hours": 2.0, "credits": 0}]


def test_an_old_ledger_is_migrated_and_its_statement_is_unchanged(c, maint_config, capsys) -> None:
    path = Path(maint_config["state_dir"]) / "ledger.sqlite"
    with Ledger(path) as ledger:
        ledger.db.execute(
            "INSERT INTO account (client, kind, on_day, amount, data, note, recorded) VALUES"
            " ('demo', 'terms', '2026-11-20', 0, ?, '', '2026-11-20T00:00:00+00:00')",
            (json.dumps({"start": "2026-10-01", "one_year": True, "group_months": 1, "priority": False}),),
        )
        ledger.db.execute("PRAGMA user_version = 0")
    # The undated terms held for all time: October keeps its discount after the migration.
    assert _statement(c, capsys, "demo", "2026-10")["fee"] == 16200.00
    tasks.account(c, "demo", json=True)
    terms = json.loads(capsys.readouterr().out)["stores"][0]["terms"]
    assert [(t["from"], t["term"]) for t in terms] == [("2026-10-01", "start"), ("2026-10-01", "one_year")]


def test_a_credits_client_with_a_support_period_chooses_what_pays(c, maint_config, capsys) -> None:
    assert (
        _exit_code(lambda: tasks.log(c, "acme-shop", "1h", "x", category=1, pays="period", on="2026-11-05"))
        == 62
    )
    tasks.account(c, "acme", period=3, on="2026-11-02")
    tasks.log(c, "acme-shop", "1h", "by the period", category=1, pays="period", ticket="T1", on="2026-11-05")
    tasks.log(c, "acme-shop", "1h", "by credits", category=1, pays="credits", ticket="T2", on="2026-11-06")
    assert _exit_code(lambda: tasks.log(c, "acme-shop", "1h", "x", pays="cash")) == 50
    data = _statement(c, capsys, "acme", "2026-11")
    assert (data["credits"]["spent"], data["fee"]) == (5, 4000.00)
