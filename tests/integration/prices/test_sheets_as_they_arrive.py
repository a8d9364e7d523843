"""Issue 15 against the stand-in stores: spreadsheets as clients send them, and no side effects on the shop.

Every mutating case is proven three ways (a dry run changes nothing, the apply does what the plan said, a
second run plans nothing) and undone to the checksum of every table of the store, `product` included.
"""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from invoke.exceptions import Exit

from maint.tasks.prices import discounts, groups, prices, undo


@pytest.fixture
def whole_store(price_sandbox: Any) -> Callable[[str], dict[str, Any]]:
    """CHECKSUM TABLE of every table of the store's database, and a hash of its files (caches and logs
    aside: 3.0.3.8 on PHP 8.2 logs deprecations on every request, as the real release does)."""

    def state(name: str) -> dict[str, Any]:
        store = price_sandbox.store(name)
        sums: dict[str, Any] = {}
        with price_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
            cur.execute("SHOW TABLES")
            for (table,) in cur.fetchall():
                cur.execute(f"CHECKSUM TABLE `{table}` EXTENDED")
                sums[table] = cur.fetchone()[1]
        digest = hashlib.sha256()
        for path in sorted(
            p for p in Path(store.root).rglob("*") if p.is_file() and not {"cache", "logs"} & set(p.parts)
        ):
            digest.update(str(path).encode() + path.read_bytes())
        sums["files"] = digest.hexdigest()
        return sums

    return state


def query(price_sandbox: Any, name: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    store = price_sandbox.store(name)
    with price_sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute(sql.replace("oc_", store.prefix), params)
        rows = list(cur.fetchall())
        db.commit()
        return rows


def changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(k for k in before if before[k] != after.get(k))


@pytest.mark.parametrize("store", ["s3", "s40", "s4"])
def test_percent_changes_are_rounded_to_the_currency_and_nothing_else_of_the_shop_changes(
    store, tmp_path, price_sandbox, task_context, whole_store, prices_of
) -> None:
    # SKU-00002 has a special (the page shows it over the new price): no false warning either
    old = prices_of(store, [1, 2])
    sheet = tmp_path / "minus3.csv"
    sheet.write_text("sku;Änderung\nSKU-00001;-3%\nSKU-00002;-3 %\n", encoding="utf-8")
    before = whole_store(store)

    dry = prices(task_context, store, str(sheet), dry_run=True)
    assert whole_store(store) == before and dry["rounded_to_places"] == 2

    done = prices(task_context, store, str(sheet), yes=True)
    expected = {
        pid: str(
            (Decimal(price) * Decimal("0.97"))
            .quantize(Decimal("0.01"), ROUND_HALF_UP)
            .quantize(Decimal("0.0001"))
        )
        for pid, price in old.items()
    }
    assert prices_of(store, [1, 2]) == expected
    assert done["warnings"] == []  # the storefront check knew what the pages should show
    rounded = {r["row"]: r for r in done["rounded"]}
    for row, pid in ((2, 1), (3, 2)):
        exact = Decimal(old[pid]) * Decimal("0.97")
        assert (row in rounded) == (exact != Decimal(expected[pid]))
    # the check opened product pages: OpenCart 3.0 counted the views and every store kept a session, and
    # both were taken back, so only the prices differ
    assert changed(before, whole_store(store)) == [f"{price_sandbox.store(store).prefix}product"]

    undo_file = Path(done["undo_file"])
    assert stat.S_IMODE(undo_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((undo_file.parent / "audit.jsonl").stat().st_mode) == 0o600
    assert stat.S_IMODE(undo_file.parent.stat().st_mode) == 0o700

    again = prices(task_context, store, str(sheet), yes=True)
    assert again["changes"] == 0 and not again["applied"]

    undo(task_context, store, done["undo_file"], yes=True)
    assert whole_store(store) == before


@pytest.mark.parametrize("store", ["s3", "s40"])
def test_percent_discounts_stored_as_prices_list_their_rounding_in_the_plan(
    store, tmp_path, price_sandbox, task_context, whole_store, prices_of, capsys
) -> None:
    # 3.0 and 4.0 store a discount as a price: -3.33 % of the base price is rounded to the currency (2
    # places, half up) and the plan lists each rounding as prices does
    old = prices_of(store, [1, 2])
    sheet = tmp_path / "tiers.csv"
    sheet.write_text("sku,group,quantity,price\nSKU-00001,Default,50,-3.33%\nSKU-00002,Default,50,-3.33%\n")
    exact = {pid: Decimal(price) * Decimal("0.9667") for pid, price in old.items()}
    new = {pid: value.quantize(Decimal("0.01"), ROUND_HALF_UP) for pid, value in exact.items()}
    listed = [
        {"row": row, "key": f"SKU-0000{pid}", "what": "discount Default ≥50", "old": old[pid], "change": "-3.33%",
         "exact": f"{exact[pid].normalize():f}", "new": str(new[pid].quantize(Decimal("0.0001")))}
        for row, pid in ((2, 1), (3, 2)) if exact[pid] != new[pid]
    ]
    assert listed  # the sample prices give at least one rounding
    before = whole_store(store)

    dry = discounts(task_context, store, str(sheet), dry_run=True)
    assert dry["rounded_to_places"] == 2 and dry["rounded"] == listed
    assert whole_store(store) == before
    discounts(task_context, store, str(sheet), dry_run=True)
    shown = capsys.readouterr().out
    assert "percent change(s) rounded half up to 2 decimal(s)" in shown
    assert f"= {listed[0]['exact']} → {listed[0]['new']}" in shown

    done = discounts(task_context, store, str(sheet), yes=True)
    stored = query(
        price_sandbox, store,
        "SELECT product_id, CAST(price AS CHAR) FROM oc_product_discount WHERE quantity = 50 AND product_id IN (1, 2) "
        "ORDER BY product_id",
    )
    assert stored == [(pid, str(new[pid].quantize(Decimal("0.0001")))) for pid in (1, 2)]
    assert discounts(task_context, store, str(sheet), yes=True)["pairs_changed"] == 0
    undo(task_context, store, done["undo_file"], yes=True)
    assert whole_store(store) == before


@pytest.mark.parametrize("store", ["s3", "s4"])
def test_discount_plans_show_open_dates_as_open(store, tmp_path, task_context, whole_store, monkeypatch, capsys) -> None:
    # OpenCart's "no date" is 0000-00-00 (4.1: NULL too); a plan says "open", never 0000-00-00
    monkeypatch.setenv("COLUMNS", "200")
    sheet = tmp_path / "tiers.csv"
    sheet.write_text("sku,group,quantity,price,date_start,date_end\nSKU-00001,Default,10,85,,31.12.2027\n")
    before = whole_store(store)
    discounts(task_context, store, str(sheet), dry_run=True)
    shown = capsys.readouterr().out
    assert "open..2027-12-31" in shown and "0000-00-00" not in shown and "None" not in shown
    assert whole_store(store) == before


@pytest.mark.parametrize("store", ["s3", "s4"])
def test_a_page_showing_a_quantity_one_discount_instead_of_the_new_price_is_not_a_warning(
    store, tmp_path, price_sandbox, task_context, prices_of
) -> None:
    # issue 12: stock 4.0.2.3 product 42 shows its special (110.00), not the new 122.22; here a
    # quantity-1 discount replaces the price the same way (getProduct: discount ?: price)
    extra = ", type, special" if store == "s4" else ""
    values = ", 'F', 0" if store == "s4" else ""
    query(
        price_sandbox,
        store,
        f"INSERT INTO oc_product_discount (product_id, customer_group_id, quantity, priority, price{extra}, "
        f"date_start, date_end) VALUES (21, 1, 1, 1, 7.5{values}, '0000-00-00', '0000-00-00')",
    )
    old = prices_of(store, [21])
    sheet = tmp_path / "one.csv"
    sheet.write_text("sku,price\nSKU-00021,122.22\n")
    try:
        done = prices(task_context, store, str(sheet), yes=True, allow_large_changes=True)
        assert done["warnings"] == []
        undo(task_context, store, done["undo_file"], yes=True)
    finally:
        query(price_sandbox, store, "DELETE FROM oc_product_discount WHERE product_id = 21 AND quantity = 1")
    assert prices_of(store, [21]) == old


def workbook(path: Path, members: list[list[str]]) -> Path:
    wb = openpyxl.Workbook()
    first = wb.active
    first.title = "Groups"
    for row in (
        ["Group name", "Description", "Sort order"],
        ["Gold", "Our best customers", 9],
        ["Silver", "", 10],
    ):
        first.append(row)
    second = wb.create_sheet("Members")
    for row in [["E-mail", "Group"], *members]:
        second.append(row)
    notes = wb.create_sheet("Notes")
    notes.append(["sent by Ann, 3 March"])
    wb.save(path)
    return path


@pytest.mark.parametrize("store", ["s3", "s4"])
def test_a_groups_workbook_is_one_unit_and_one_bad_row_in_any_sheet_changes_nothing(
    store, tmp_path, price_sandbox, task_context, whole_store, capsys
) -> None:
    before = whole_store(store)
    bad = workbook(
        tmp_path / "bad.xlsx",
        [["customer00001@example.test", "Gold"], ["not-an-address", "Gold"], ["x@", "Silver"]],
    )
    with pytest.raises(Exit):
        groups(task_context, store, str(bad), yes=True, json=True)
    report = json.loads(capsys.readouterr().out)["stores"][0]
    assert {(e["file"], e["row"]) for e in report["issues"]} == {
        ("bad.xlsx [Members]", 3),
        ("bad.xlsx [Members]", 4),
    }
    assert whole_store(store) == before  # the Groups sheet's groups were not created either

    good = workbook(
        tmp_path / "good.xlsx",
        [["customer00001@example.test", "Gold"], ["CUSTOMER00002@example.test", "Silver"]],
    )
    dry = groups(task_context, store, str(good), dry_run=True)
    assert whole_store(store) == before
    assert [g["name"] for g in dry["created"]] == ["Gold", "Silver"] and dry["moved"] == 2
    assert any("ignored sheet(s) 'Notes'" in note for note in dry["notes"])

    done = groups(task_context, store, str(good), yes=True)
    gold = done["created"][0]["customer_group_id"]
    assert query(
        price_sandbox,
        store,
        "SELECT d.name, d.description, g.sort_order FROM oc_customer_group g JOIN oc_customer_group_description d "
        "USING (customer_group_id) WHERE customer_group_id = %s",
        (gold,),
    ) == [("Gold", "Our best customers", 9)]
    again = groups(task_context, store, str(good), yes=True)
    assert not again["applied"]
    undo(task_context, store, done["undo_file"], yes=True)
    assert whole_store(store) == before


@pytest.mark.parametrize("store", ["s3", "s4"])
def test_deleting_a_group_moves_its_customers_removes_its_rows_and_undoes_exactly(
    store, tmp_path, price_sandbox, task_context, whole_store, capsys
) -> None:
    display = query(
        price_sandbox, store, "SELECT value FROM oc_setting WHERE `key` = 'config_customer_group_display'"
    )
    query(
        price_sandbox,
        store,
        "UPDATE oc_setting SET value = '[\"1\",\"3\"]' WHERE `key` = 'config_customer_group_display'",
    )
    try:
        members = [
            r[0]
            for r in query(
                price_sandbox, store, "SELECT customer_id FROM oc_customer WHERE customer_group_id = 3"
            )
        ]
        assert (
            members
            and query(
                price_sandbox, store, "SELECT COUNT(*) FROM oc_product_discount WHERE customer_group_id = 3"
            )[0][0]
        )
        before = whole_store(store)

        refused = tmp_path / "refused.csv"
        refused.write_text("group,action\nWholesale,delete\nDefault,delete\n")
        with pytest.raises(Exit):
            groups(task_context, store, str(refused), yes=True)
        err = capsys.readouterr().err
        assert "customer00003@example.test" in err and "default customer group" in err
        assert whole_store(store) == before

        sheet = tmp_path / "delete.csv"
        sheet.write_text(
            "Kundengruppe;Aktion;Move customers to\nWholesale;löschen;Default\n", encoding="utf-8"
        )
        dry = groups(task_context, store, str(sheet), dry_run=True)
        discounts = query(
            price_sandbox, store, "SELECT COUNT(*) FROM oc_product_discount WHERE customer_group_id = 3"
        )[0][0]
        specials = query(
            price_sandbox, store, "SELECT COUNT(*) FROM oc_product_special WHERE customer_group_id = 3"
        )[0][0] if store == "s3" else 0
        removed = {"product_discount": discounts, "product_special": specials, "product_reward": 3,
                   "tax_rate_to_customer_group": 2, "custom_field_customer_group": 1}
        assert dry["deleted"] == [
            {"customer_group_id": 3, "name": "Wholesale", "customers_moved_to": 1, "customers": len(members),
             "rows_removed": {t: n for t, n in removed.items() if n}}
        ]
        assert whole_store(store) == before

        done = groups(task_context, store, str(sheet), yes=True)
        assert (
            query(price_sandbox, store, "SELECT COUNT(*) FROM oc_customer_group WHERE customer_group_id = 3")[
                0
            ][0]
            == 0
        )
        assert (
            query(
                price_sandbox,
                store,
                "SELECT COUNT(*) FROM oc_customer_group_description WHERE customer_group_id = 3",
            )[0][0]
            == 0
        )
        assert (
            query(
                price_sandbox, store, "SELECT COUNT(*) FROM oc_product_discount WHERE customer_group_id = 3"
            )[0][0]
            == 0
        )
        assert (
            query(price_sandbox, store, "SELECT COUNT(*) FROM oc_customer WHERE customer_group_id = 3")[0][0]
            == 0
        )
        for table in ("product_reward", "tax_rate_to_customer_group", "custom_field_customer_group"):
            assert query(price_sandbox, store, f"SELECT COUNT(*) FROM oc_{table} WHERE customer_group_id = 3") == [
                (0,)
            ]
            assert query(price_sandbox, store, f"SELECT COUNT(*) FROM oc_{table} WHERE customer_group_id = 1")[0][0]
        assert query(
            price_sandbox, store, "SELECT value FROM oc_setting WHERE `key` = 'config_customer_group_display'"
        ) == [('["1"]',)]

        again = groups(task_context, store, str(sheet), yes=True)
        assert not again["applied"] and again["unchanged"] == 1

        undo(task_context, store, done["undo_file"], yes=True)
        assert whole_store(store) == before
    finally:
        query(
            price_sandbox,
            store,
            "UPDATE oc_setting SET value = %s WHERE `key` = 'config_customer_group_display'",
            (display[0][0],),
        )


def test_a_ragged_csv_line_and_an_ambiguous_amount_are_refused_naming_them(
    tmp_path, task_context, whole_store, capsys
) -> None:
    sheet = tmp_path / "ragged.csv"
    sheet.write_text('sku,price\nSKU-00001,105.00\nSKU-00003,107.00,oops\nSKU-00004,"1,050"\n')
    before = whole_store("s3")
    with pytest.raises(Exit) as caught:
        prices(task_context, "s3", str(sheet), yes=True, json=True)
    assert caught.value.code == 50
    errors = json.loads(capsys.readouterr().out)["stores"][0]["issues"]
    assert [e["row"] for e in errors] == [3, 4]
    assert errors[0]["reason"].startswith("line 3 has 3 fields, the header (line 1) has 2")
    assert errors[1]["reason"].startswith("price: ambiguous: '1,050' could be 1050 or 1.05")
    assert whole_store("s3") == before


def test_rand_amounts_are_read_and_applied(tmp_path, task_context, prices_of) -> None:
    old = prices_of("s4", [5, 6])
    sheet = tmp_path / "rand.csv"
    sheet.write_text("Artikel;Preis\nSKU-00005;R 1 049,50\nSKU-00006;R\u00a0104,99\n", encoding="utf-8")
    done = prices(task_context, "s4", str(sheet), yes=True, allow_large_changes=True)
    assert prices_of("s4", [5, 6]) == {5: "1049.5000", 6: "104.9900"}
    undo(task_context, "s4", done["undo_file"], yes=True)
    assert prices_of("s4", [5, 6]) == old


CORPUS = Path(__file__).resolve().parents[3] / "fixtures" / "sheets"
REFUSED = [
    "bad_percent_cells_in_price_column.xlsx",
    "bad_merged_header.xlsx",
    "bad_empty.xlsx",
    "bad_empty.csv",
    "bad_header_only.csv",
    "bad_header_only.xlsx",
    "bad_csv_named_xlsx.xlsx",
    "bad_excel_named_csv.csv",
    "bad_formula.xlsx",
    "bad_formula_with_saved_result.xlsx",
]


@pytest.mark.parametrize("store", ["s3", "s4"])
def test_files_as_they_arrive_are_refused_with_the_store_unchanged(store, task_context, whole_store, capsys) -> None:
    before = whole_store(store)
    for name in REFUSED:
        with pytest.raises(Exit) as caught:
            prices(task_context, store, str(CORPUS / name), yes=True, json=True)
        out = capsys.readouterr().out
        assert caught.value.code == 50 and name in out, (name, out)
    assert whole_store(store) == before


@pytest.mark.parametrize("store", ["s3", "s4"])
def test_percent_formatted_cells_in_a_change_column_are_applied_as_percent_changes(
    store, task_context, whole_store, prices_of
) -> None:
    # the corpus workbook: SKU-00001..3 with -0.1, 0.05, 0.125 shown as -10%, 5%, 12.5% under "Price change"
    sheet = CORPUS / "good_percent_cells_in_change_column.xlsx"
    old = prices_of(store, [1, 2, 3])
    before = whole_store(store)
    assert not prices(task_context, store, str(sheet), dry_run=True)["applied"]
    assert whole_store(store) == before
    done = prices(task_context, store, str(sheet), yes=True)
    factors = {1: Decimal("0.9"), 2: Decimal("1.05"), 3: Decimal("1.125")}
    assert prices_of(store, [1, 2, 3]) == {
        pid: str((Decimal(old[pid]) * f).quantize(Decimal("0.01"), ROUND_HALF_UP).quantize(Decimal("0.0001")))
        for pid, f in factors.items()
    }
    again = prices(task_context, store, str(sheet), yes=True)  # relative changes would compound: refused
    assert not again["applied"] and "already applied" in again["noop_reason"]
    undo(task_context, store, done["undo_file"], yes=True)
    assert whole_store(store) == before
