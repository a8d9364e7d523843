"""Issues 15 and 12 on real releases: spreadsheets as clients send them, a storefront check that knows what a
page should show and leaves nothing behind, group deletion, and undo back to every table's checksum
(`product` included: OpenCart 3.0 counts product page visits in product.viewed)."""

from __future__ import annotations

import json
import os
import stat
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from invoke.exceptions import Exit
from realtier import REAL, db_state, fab, files_state, query

from maint.tasks.prices import discounts, groups, prices, undo

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
        # rows the group owns in other tables: reward points, a tax rate, a custom field (issue 15)
        owned = {
            "product_reward": "INSERT INTO {p}product_reward (product_id, customer_group_id, points) "
            "VALUES (42, %s, 100)",
            "tax_rate_to_customer_group": "INSERT INTO {p}tax_rate_to_customer_group VALUES (86, %s)",
            "custom_field_customer_group": "INSERT INTO {p}custom_field_customer_group VALUES (1, %s, 0)",
        }
        for sql in owned.values():
            query(real, name, sql, (group_id,))

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
        dry = groups(real_context, name, str(delete), dry_run=True)
        assert not dry["applied"] and dry["deleted"][0]["rows_removed"] == dict.fromkeys(owned, 1)
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
        for owner in owned:
            assert query(
                real, name, f"SELECT COUNT(*) FROM {{p}}{owner} WHERE customer_group_id = %s", (group_id,)
            ) == [(0,)]
        assert not groups(real_context, name, str(delete), yes=True)["applied"]

        undo(real_context, name, deleted["undo_file"], yes=True)
        assert db_state(real, name) == middle
        for owner in owned:
            query(real, name, f"DELETE FROM {{p}}{owner} WHERE customer_group_id = %s", (group_id,))
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
    # a formula whose result Excel saved is refused too (the result may be stale), naming the cell
    saved = Path(__file__).resolve().parents[2] / "fixtures" / "sheets" / "bad_formula_with_saved_result.xlsx"
    with pytest.raises(Exit):
        prices(real_context, name, str(saved), yes=True, json=True)
    reasons = [(e["row"], e["reason"]) for e in json.loads(capsys.readouterr().out)["stores"][0]["issues"]]
    assert (3, "formula (its saved result may be out of date); paste values instead") in reasons
    assert db_state(real, name) == before

    rand = tmp_path / "rand.csv"
    rand.write_text("Modell;Preis\nProduct 15;R 1 049,50\n", encoding="utf-8")
    done = prices(real_context, name, str(rand), match="model", yes=True, allow_large_changes=True)
    assert query(real, name, "SELECT price FROM {p}product WHERE product_id = 42")[0][0] == Decimal(
        "1049.5000"
    )
    undo(real_context, name, done["undo_file"], yes=True)
    assert db_state(real, name) == before


def percent_workbook(path: Path, header: str, cells: list[tuple[str, float, str]]) -> Path:
    """An .xlsx as Excel writes percent cells: numbers (-0.1) shown through a `0%` number format."""
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.append(["model", header])
    for model, value, number_format in cells:
        sheet.append([model, value])
        sheet.cell(row=sheet.max_row, column=2).number_format = number_format
    wb.save(path)
    return path


@pytest.mark.parametrize("name", STORES)
def test_percent_cells_are_changes_in_a_change_column_and_refused_in_a_price_column(
    name, tmp_path, real, real_context, capsys
) -> None:
    # Product 4 (80.00) -10 %, product 20 (100.00) +5 %, Product 9 (100.00) +12.5 %
    cells = [("Product 4", -0.1, "0%"), ("product 20", 0.05, "0%"), ("Product 9", 0.125, "0.0%")]
    root = real.store(name).root
    before, files = db_state(real, name), files_state(root)

    refused = percent_workbook(tmp_path / "prices.xlsx", "Price", cells[1:])
    with pytest.raises(Exit):
        prices(real_context, name, str(refused), match="model", yes=True, json=True)
    issues = json.loads(capsys.readouterr().out)["stores"][0]["issues"]
    assert [(i["row"], i["column"], i["reason"].split(" (a price")[0]) for i in issues] == [
        (2, "B (Price)", "price: a percent-formatted cell (5%) in a price column is ambiguous"),
        (3, "B (Price)", "price: a percent-formatted cell (12.5%) in a price column is ambiguous"),
    ]
    assert (db_state(real, name), files_state(root)) == (before, files)

    changes = percent_workbook(tmp_path / "changes.xlsx", "Price change", cells)
    assert not prices(real_context, name, str(changes), match="model", dry_run=True)["applied"]
    assert (db_state(real, name), files_state(root)) == (before, files)
    done = prices(real_context, name, str(changes), match="model", yes=True)
    undo_file = Path(done["undo_file"])  # private, as ssh keeps its keys: 0600 files in 0700 folders
    assert [stat.S_IMODE(p.stat().st_mode) for p in (undo_file, undo_file.parent / "audit.jsonl", undo_file.parent)
            ] == [0o600, 0o600, 0o700]
    assert query(real, name, "SELECT product_id, price FROM {p}product WHERE product_id IN (31, 36, 48) "
                 "ORDER BY product_id") == [(31, Decimal("72.0000")), (36, Decimal("112.5000")),
                                            (48, Decimal("105.0000"))]
    undo(real_context, name, done["undo_file"], yes=True)
    assert db_state(real, name) == before


def _merged_header(path: Path) -> Path:
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.append(["model", "price", None])
    sheet.append([None, "net", "gross"])
    sheet.append(["Product 15", 10, 12])
    sheet.merge_cells("A1:A2")
    wb.save(path)
    return path


def _header_only(path: Path) -> Path:
    wb = openpyxl.Workbook()
    wb.active.append(["model", "price"])
    wb.save(path)
    return path


REFUSED_FILES = {
    "empty.xlsx": (lambda p: p.write_bytes(b""), "the file is empty"),
    "empty.csv": (lambda p: p.write_bytes(b""), "the file is empty"),
    "header-only.csv": (lambda p: p.write_text("model,price\n"), "no rows below the header (row 1)"),
    "header-only.xlsx": (_header_only, "no rows below the header (row 1)"),
    "csv-text.xlsx": (
        lambda p: p.write_text("model,price\nProduct 15,10\n"),
        "this is not an xlsx workbook; it looks like CSV text",
    ),
    "workbook.csv": (
        lambda p: p.write_bytes(_header_only(p.with_suffix(".tmp.xlsx")).read_bytes()),
        "this is an Excel (.xlsx) file with a .csv name",
    ),
    "merged.xlsx": (_merged_header, "merged header cells A1:A2"),
}


@pytest.mark.parametrize("name", STORES)
def test_empty_header_only_misnamed_and_merged_header_files_are_refused_in_plain_words(
    name, tmp_path, real, real_context, capsys
) -> None:
    root = real.store(name).root
    before, files = db_state(real, name), files_state(root)
    for file_name, (make, sentence) in REFUSED_FILES.items():
        path = tmp_path / file_name
        make(path)
        with pytest.raises(Exit) as caught:
            prices(real_context, name, str(path), match="model", yes=True, json=True)
        out = capsys.readouterr().out
        assert caught.value.code == 50 and sentence in out and file_name in out, (file_name, out)
        assert "zip" not in out.lower() and "Traceback" not in out
    assert (db_state(real, name), files_state(root)) == (before, files)


@pytest.mark.parametrize("name", [REAL["3.0.5.1"], REAL["4.0.2.3"], REAL["4.1.0.4"]])
def test_percent_discounts_list_their_rounding_or_are_stored_as_percent(name, tmp_path, real, real_context) -> None:
    sheet = tmp_path / "tiers.csv"
    sheet.write_text("model,group,quantity,price\nproduct 11,Default,50,-3.33%\n")  # 101.00 - 3.33 % = 97.6367
    before = db_state(real, name)
    dry = discounts(real_context, name, str(sheet), match="model", dry_run=True)
    assert db_state(real, name) == before
    native = name == REAL["4.1.0.4"]  # 4.1 keeps the percent itself (type P): nothing to round
    assert dry["rounded"] == ([] if native else [
        {"row": 2, "key": "product 11", "what": "discount Default ≥50", "old": "101.0000", "change": "-3.33%",
         "exact": "97.6367", "new": "97.6400"}
    ])
    done = discounts(real_context, name, str(sheet), match="model", yes=True)
    stored = query(real, name, "SELECT price FROM {p}product_discount WHERE product_id = 40 AND quantity = 50")
    assert stored == [(Decimal("3.3300") if native else Decimal("97.6400"),)]
    assert discounts(real_context, name, str(sheet), match="model", yes=True)["pairs_changed"] == 0
    undo(real_context, name, done["undo_file"], yes=True)
    assert db_state(real, name) == before


@pytest.mark.parametrize("name", STORES)
def test_plans_show_open_dates_small_percentages_and_the_undo_command_on_its_own_line(
    name, tmp_path, real, real_env
) -> None:
    tiers = tmp_path / "tiers.csv"
    tiers.write_text("model,group,quantity,price,date_start,date_end\nProduct 15,Default,10,85,,31.12.2027\n")
    wide = {**os.environ, "COLUMNS": "200"}  # table cells are not wrapped
    shown = fab("discounts", name, str(tiers), "--match", "model", "--dry-run", env=wide)
    assert shown.returncode == 0, shown.stderr
    assert "open..2027-12-31" in shown.stdout and "0000-00-00" not in shown.stdout
    assert "≥10: 88.0000" in shown.stdout and " open" not in shown.stdout.split("≥10: 88.0000")[1][:12]

    sheet = tmp_path / "p.csv"
    sheet.write_text("model,price\nProduct 3,99.95\n")  # 100.00 → 99.95
    before = db_state(real, name)
    plan = fab("prices", name, str(sheet), "--match", "model", "--dry-run", env=wide)
    assert "-0.05%" in plan.stdout and "-0.0%" not in plan.stdout
    narrow = fab("prices", name, str(sheet), "--match", "model", "--yes", env={**os.environ, "COLUMNS": "40"})
    assert narrow.returncode == 0, narrow.stderr
    lines = narrow.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.endswith("undo with:"))
    command = lines[at + 1].strip()
    assert command.startswith(f"fab undo {name} /") and command.endswith("-prices.undo") and len(command) > 40
    assert Path(command.split()[-1]).is_file()
    back = fab("undo", name, command.split()[-1], "--yes")
    assert back.returncode == 0, back.stderr
    assert db_state(real, name) == before


@pytest.mark.parametrize("name", STORES)
def test_a_price_check_leaves_views_sessions_carts_and_product_reports_as_they_were(
    name, tmp_path, real, real_context
) -> None:
    # 3.0 counts product page visits in product.viewed and keeps sessions in the database; 4.x logs each
    # visit in product_report when config_product_report_status is on (turned on here) and keeps
    # session files: the check reads pages through maint.storefront.StorefrontReader, which takes all back
    tables = {row[0].removeprefix(real.store(name).prefix) for row in query(real, name, "SHOW TABLES")}
    report = query(real, name, "SELECT value FROM {p}setting WHERE store_id = 0 AND `key` = "
                   "'config_product_report_status'")

    def set_report(value: str | None, existing: list[tuple[object, ...]]) -> None:
        where = "WHERE store_id = 0 AND `key` = 'config_product_report_status'"
        if value is None:
            query(real, name, f"DELETE FROM {{p}}setting {where}")
        elif existing:
            query(real, name, f"UPDATE {{p}}setting SET value = %s {where}", (value,))
        else:
            query(real, name, "INSERT INTO {p}setting (store_id, code, `key`, value, serialized) VALUES "
                  "(0, 'config', 'config_product_report_status', %s, 0)", (value,))
    if "product_report" in tables:
        set_report("1", report)
    sessions = Path(real.store(name).storage, "session")

    def left_behind() -> dict[str, object]:
        seen: dict[str, object] = {
            t: query(real, name, f"SELECT * FROM {{p}}{t} ORDER BY 1")
            for t in ("session", "cart", "product_report") if t in tables
        }
        if name == REAL["3.0.5.1"]:
            seen["viewed"] = query(real, name, "SELECT product_id, viewed FROM {p}product ORDER BY product_id")
        seen["session files"] = sorted(p.name for p in sessions.iterdir()) if sessions.is_dir() else []
        return seen

    sheet = tmp_path / "one.csv"
    sheet.write_text("model,price\nProduct 15,122.22\nproduct 11,99.99\n")
    try:
        before, sums = left_behind(), db_state(real, name)
        done = prices(real_context, name, str(sheet), match="model", yes=True)
        assert done["applied"] and left_behind() == before
        undo(real_context, name, done["undo_file"], yes=True)
        assert left_behind() == before and db_state(real, name) == sums
    finally:
        if "product_report" in tables:
            set_report(report[0][0] if report else None, report)
