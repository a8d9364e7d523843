"""Excel specifics: position of the data, sheets, and the quick formatting scan."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from maint.errors import InputError
from maint.pricing.fields import price_fields
from maint.sheets import open_sheet


def test_row_numbers_and_column_letters_match_what_excel_shows(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["C3"], ws["D3"], ws["C4"], ws["D4"], ws["C6"], ws["D6"] = "SKU", "Price", "A-1", 1.5, "A-2", "x"
    wb.save(tmp_path / "offset.xlsx")
    opened = open_sheet(tmp_path / "offset.xlsx", price_fields("sku"))
    assert opened.header_row == 3
    assert (opened.columns["sku"].letter, opened.columns["price"].letter) == ("C", "D")
    assert [(r.number, r.values["price"]) for r in opened.rows] == [(4, 1.5), (6, "x")]


def test_a_chosen_sheet_is_read_and_hidden_sheets_are_not_the_default(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "Notes"
    wb.active.sheet_state = "hidden"
    prices = wb.create_sheet("Preise")
    prices.append(["sku", "price"])
    prices.append(["A-1", 2])
    wb.save(tmp_path / "two.xlsx")
    assert open_sheet(tmp_path / "two.xlsx", price_fields("sku")).sheet == "Preise"
    assert open_sheet(tmp_path / "two.xlsx", price_fields("sku"), sheet="Preise").sheet == "Preise"
    with pytest.raises(InputError, match="no sheet named 'Prices'"):
        open_sheet(tmp_path / "two.xlsx", price_fields("sku"), sheet="Prices")


def test_a_damaged_workbook_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="the workbook is damaged"):
        open_sheet(tmp_path / "broken.xlsx", price_fields("sku"))


def test_every_sheet_with_the_header_is_read_and_errors_name_the_sheet(tmp_path: Path) -> None:
    from maint.pricing.prices import CatalogEntry, resolve_prices
    from maint.pricing.service import read_price_sheet

    wb = openpyxl.Workbook()
    wb.active.title = "Readme"
    wb.active.append(["Prices for spring"])
    for title, rows in (
        ("Shoes", [["sku", "price"], ["S-1", 10]]),
        ("Bags", [["sku", "price"], ["B-1", "call"]]),
    ):
        sheet = wb.create_sheet(title)
        for row in rows:
            sheet.append(row)
    wb.save(tmp_path / "book.xlsx")
    parsed = read_price_sheet(tmp_path / "book.xlsx")
    assert [(i.file, i.row, i.column) for i in parsed.issues] == [("book.xlsx [Bags]", 2, "B (price)")]
    assert any("ignored sheet(s) 'Readme'" in note for note in parsed.notes)
    plan, unresolved = resolve_prices(
        parsed.rows, {"s-1": [CatalogEntry(1, Decimal("5"))]}, file="book.xlsx", match="sku", column="A (sku)"
    )
    assert [c.product_id for c in plan.changes] == [1] and unresolved == []
