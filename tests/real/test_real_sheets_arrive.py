"""Issues 15 and 12 on real releases: spreadsheets as clients send them, a storefront check that knows what a
page should show and leaves nothing behind, group deletion, and undo back to every table's checksum
(`product` included: OpenCart 3.0 counts product page visits in product.viewed)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from invoke.exceptions import Exit
from realtier import REAL, db_state, query

from maint.tasks.prices import groups, prices, undo

STORES = [REAL["3.0.5.1"], REAL["4.1.0.4"]]


@pytest.mark.parametrize("name", [REAL["3.0.5.1"], REAL["4.0.2.3"], REAL["4.1.0.4"]])
def test_the_storefront_check_knows_the_special_and_taxes_and_leaves_every_table_as_it_was(
    name, tmp_path, real, real_context
) -> None:
    # issue 12: stock 4.0.2.3 product 42 ("Product 15", 100.00, special 90.00, taxable goods: +20 % +2.00)
    # set to 122.22 rightly shows the special (110.00) and 148.66 struck through; no warning is due
    sheet = tmp_path / "one.csv"
    sheet.write_text("model,price\nProduct 15,122.22\n")
    before = db_state(real, name)
    sessions = Path(real.store(name).storage, "session")
    session_files = sorted(sessions.iterdir()) if sessions.is_dir() else []

    done = prices(real_context, name, str(sheet), match="model", yes=True)
    assert done["applied"] and done["warnings"] == []
    after = db_state(real, name)
    assert [t for t in before if before[t] != after[t]] == [f"{real.store(name).prefix}product"]
    assert (sorted(sessions.iterdir()) if sessions.is_dir() else []) == session_files

    undo(real_context, name, done["undo_file"], yes=True)
    assert db_state(real, name) == before


@pytest.mark.parametrize("name", STORES)
def test_a_percent_change_is_rounded_to_the_currency_and_shown(name, tmp_path, real, real_context) -> None:
    sheet = tmp_path / "percent.csv"
    sheet.write_text("model,price change\nproduct 11,-3.33%\n")  # 101.00 - 3.33 % = 97.6367
    before = db_state(real, name)
    dry = prices(real_context, name, str(sheet), match="model", dry_run=True)
    assert dry["rounded"] == [
        {
            "row": 2,
            "key": "product 11",
            "what": "price",
            "old": "101.0000",
            "change": "-3.33%",
            "exact": "97.6367",
            "new": "97.6400",
        }
    ]
    assert db_state(real, name) == before
    done = prices(real_context, name, str(sheet), match="model", yes=True)
    assert query(real, name, "SELECT price FROM {p}product WHERE product_id = 40")[0][0] == Decimal("97.6400")
    assert prices(real_context, name, str(sheet), match="model", yes=True)["changes"] == 0
    undo(real_context, name, done["undo_file"], yes=True)
    assert db_state(real, name) == before


def groups_workbook(path: Path, members: list[list[str]]) -> Path:
    wb = openpyxl.Workbook()
    first = wb.active
    first.title = "Groups"
    for row in (
        ["Group name", "Description", "Sort order"],
        ["Trade Partners", "Resellers with an account", 5],
    ):
        first.append(row)
    second = wb.create_sheet("Members")
    for row in [["E-mail", "Group"], *members]:
        second.append(row)
    wb.save(path)
    return path


@pytest.mark.parametrize("name", STORES)
def test_a_groups_workbook_then_deleting_the_group_and_undoing_both(
    name, tmp_path, real, real_context, capsys
) -> None:
    query(
        real,
        name,
        "INSERT INTO {p}customer SET customer_group_id = 1, language_id = 1, firstname = 'Bo', "
        "lastname = 'Real', email = 'bo.real@example.test', status = 1, date_added = NOW()",
        relaxed=True,
    )
    try:
        before = db_state(real, name)
        bad = groups_workbook(
            tmp_path / "bad.xlsx", [["bo.real@example.test", "Trade Partners"], ["bo@", "x"]]
        )
        with pytest.raises(Exit):
            groups(real_context, name, str(bad), yes=True, json=True)
        errors = json.loads(capsys.readouterr().out)["stores"][0]["issues"]
        assert [(e["file"], e["row"]) for e in errors] == [("bad.xlsx [Members]", 3)]
        assert db_state(real, name) == before  # the Groups sheet's group was not created either

        good = groups_workbook(tmp_path / "good.xlsx", [["bo.real@example.test", "Trade Partners"]])
        assert not groups(real_context, name, str(good), dry_run=True)["applied"]
        assert db_state(real, name) == before
        created = groups(real_context, name, str(good), yes=True)
        group_id = created["created"][0]["customer_group_id"]
        assert (
            query(
                real,
                name,
                "SELECT description FROM {p}customer_group_description WHERE customer_group_id = %s",
                (group_id,),
            )[0][0]
            == "Resellers with an account"
        )
        assert not groups(real_context, name, str(good), yes=True)["applied"]

        delete = tmp_path / "delete.csv"
        delete.write_text(
            "group,action,move customers to\nTrade Partners,delete,\nDefault,delete,Trade Partners\n"
        )
        with pytest.raises(Exit):
            groups(real_context, name, str(delete), yes=True)
        err = capsys.readouterr().err
        assert "bo.real@example.test" in err and "default customer group" in err
        delete.write_text("group,action,move customers to\nTrade Partners,delete,Default\n")
        middle = db_state(real, name)
        assert not groups(real_context, name, str(delete), dry_run=True)["applied"]
        assert db_state(real, name) == middle
        deleted = groups(real_context, name, str(delete), yes=True)
        assert query(
            real,
            name,
            "SELECT customer_group_id FROM {p}customer WHERE email = %s",
            ("bo.real@example.test",),
        ) == [(1,)]
        assert query(
            real, name, "SELECT COUNT(*) FROM {p}customer_group WHERE customer_group_id = %s", (group_id,)
        ) == [(0,)]
        assert not groups(real_context, name, str(delete), yes=True)["applied"]

        undo(real_context, name, deleted["undo_file"], yes=True)
        assert db_state(real, name) == middle
        undo(real_context, name, created["undo_file"], yes=True)
        assert db_state(real, name) == before
    finally:
        query(real, name, "DELETE FROM {p}customer WHERE email = %s", ("bo.real@example.test",))


@pytest.mark.parametrize("name", STORES)
def test_ragged_lines_rand_amounts_and_formulas_on_a_real_store(
    name, tmp_path, real, real_context, capsys
) -> None:
    before = db_state(real, name)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("model,price\nproduct 11,107.00,oops\nProduct 15,R 1 049,50\n")
    with pytest.raises(Exit):
        prices(real_context, name, str(ragged), match="model", yes=True, json=True)
    errors = json.loads(capsys.readouterr().out)["stores"][0]["issues"]
    assert [e["row"] for e in errors] == [2, 3]  # line 3: "R 1 049" and "50" are two fields of a comma file
    wb = openpyxl.Workbook()
    for row in (["model", "price"], ["product 11", 10], ["Product 15", "=B2*2"]):
        wb.active.append(row)
    wb.save(tmp_path / "formula.xlsx")
    with pytest.raises(Exit):
        prices(real_context, name, str(tmp_path / "formula.xlsx"), match="model", yes=True)
    assert db_state(real, name) == before

    rand = tmp_path / "rand.csv"
    rand.write_text("Modell;Preis\nProduct 15;R 1 049,50\n", encoding="utf-8")
    done = prices(real_context, name, str(rand), match="model", yes=True, allow_large_changes=True)
    assert query(real, name, "SELECT price FROM {p}product WHERE product_id = 42")[0][0] == Decimal(
        "1049.5000"
    )
    undo(real_context, name, done["undo_file"], yes=True)
    assert db_state(real, name) == before
