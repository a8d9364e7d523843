"""Wiring of `fab prices|discounts|groups|undo`: argument errors before any connection, dry run never applies,
--json shape, the invalid-rows table."""

from __future__ import annotations

import json
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from invoke import Config, Context
from invoke.exceptions import Exit

from maint.pricing.issues import Issue, SheetInvalidError
from maint.pricing.prices import PriceDiff, PricePlan
from maint.pricing.undo import ColumnUpdate, write_undo
from maint.tasks import prices as tasks

PROJECT = Path(__file__).resolve().parents[2]
CORPUS = PROJECT / "fixtures" / "sheets"


@pytest.fixture
def context(tmp_path: Path) -> Context:
    return Context(
        config=Config(
            overrides={
                "maint": {
                    "inventory": str(PROJECT / "maint" / "playbooks" / "clients"),
                    "state_dir": str(tmp_path / "state"),
                }
            }
        )
    )


@pytest.fixture
def no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "connect", lambda cfg: pytest.fail("must not connect"))


@pytest.fixture
def fake_store(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A store that answers facts and SQL with canned data; records whether anything was applied."""
    calls: list[str] = []
    monkeypatch.setattr(tasks, "connect", lambda cfg: SimpleNamespace(close=lambda: None))
    facts = SimpleNamespace(db=SimpleNamespace(prefix="oc_"), version="4.1.0.4", url="http://127.0.0.1:1/")
    monkeypatch.setattr(tasks, "get_store_facts", lambda conn, cfg: facts)

    @contextmanager
    def open_db(conn, creds, **kwargs):  # type: ignore[no-untyped-def]
        yield None

    monkeypatch.setattr(tasks, "open_db", open_db)

    @contextmanager
    def early_lock(conn, cfg, task, facts, *, enabled=True):  # type: ignore[no-untyped-def]
        if enabled:
            calls.append("lock")
        yield SimpleNamespace(start=lambda: None, wait=lambda: None) if enabled else None

    monkeypatch.setattr(tasks.service, "early_lock", early_lock)
    plan = PricePlan("p.csv", [PriceDiff(1, "SKU-1", 2, Decimal("10.0000"), Decimal("11.0000"))], unchanged=3)
    monkeypatch.setattr(tasks.service, "plan_prices", lambda *a, **k: plan)
    monkeypatch.setattr(tasks, "get_product_names", lambda db, prefix, ids: {1: "iMac"})
    monkeypatch.setattr(tasks.service, "apply_changes", lambda *a, **k: calls.append("apply"))
    return calls


def test_an_unknown_match_fails_before_any_connection(context, no_connection, capsys) -> None:
    with pytest.raises(Exit) as caught:
        tasks.prices(context, "demo", str(CORPUS / "good_prices.csv"), match="ean")
    assert caught.value.code == 50
    assert "--match" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name", ["bad_wrong_headers.csv", "bad_missing_sheet.xlsx", "bad_utf16_without_bom.csv"]
)
def test_an_unreadable_sheet_fails_before_any_connection_naming_the_file(
    name, context, no_connection, capsys
) -> None:
    with pytest.raises(Exit) as caught:
        tasks.prices(context, "demo", str(CORPUS / name), sheet="Preise" if "sheet" in name else "")
    assert caught.value.code == 50
    assert name in capsys.readouterr().err


def test_dry_run_never_applies_and_json_has_the_plan(context, fake_store, capsys) -> None:
    tasks.prices(context, "demo", str(CORPUS / "good_prices.csv"), dry_run=True, json=True)
    assert fake_store == []  # a dry run doesn't even take the store lock
    out = json.loads(capsys.readouterr().out)["stores"][0]
    assert (out["changes"], out["unchanged"], out["dry_run"], out["applied"]) == (1, 3, True, False)
    assert out["largest"][0] == {
        "row": 2,
        "key": "SKU-1",
        "product_id": 1,
        "old": "10.0000",
        "new": "11.0000",
        "change_percent": 10.0,
        "product": "iMac",
    }


def test_without_a_terminal_or_yes_nothing_is_applied(context, fake_store, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: False))
    with pytest.raises(Exit) as caught:
        tasks.prices(context, "demo", str(CORPUS / "good_prices.csv"))
    assert caught.value.code == 3
    assert fake_store == ["lock"]  # taken while planning (and released), never applied


def test_invalid_rows_are_shown_as_a_table_and_exit_50(context, fake_store, monkeypatch, capsys) -> None:
    issues = [
        Issue("p.csv", 3, "B (price)", "call us", "price: not a number"),
        Issue("p.csv", 4, "A (sku)", "X", "unknown product (sku not in the store)"),
    ]

    def invalid(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise SheetInvalidError(issues)

    monkeypatch.setattr(tasks.service, "plan_prices", invalid)
    with pytest.raises(Exit) as caught:
        tasks.prices(context, "demo", str(CORPUS / "good_prices.csv"), yes=True)
    assert caught.value.code == 50
    err = capsys.readouterr().err
    assert "2 problem(s) in good_prices.csv" in err and "call us" in err and "row 3" in err
    assert fake_store == ["lock"]


def test_an_undo_file_of_another_store_is_refused_before_any_connection(
    context, no_connection, tmp_path, capsys
) -> None:
    op = ColumnUpdate("product", "product_id", "price", "DECIMAL(15,4)", [(1, Decimal(1), Decimal(2))])
    path = write_undo(tmp_path, "prices", {"client": "someone", "store": "elsewhere"}, [op])
    with pytest.raises(Exit) as caught:
        tasks.undo(context, "demo", str(path))
    assert caught.value.code == 50
    assert "belongs to someone/elsewhere" in capsys.readouterr().err


def test_every_task_has_a_summary_and_help_for_every_argument() -> None:
    for task in (tasks.prices, tasks.discounts, tasks.groups, tasks.undo):
        assert task.__doc__ and task.__doc__.strip().splitlines()[0]
        # invoke pops task.help while it builds the parser, so the option help is checked in
        # tests/tasks/test_cli_help.py through the real `fab --help TASK`.
