"""Excel specifics: position of the data, sheets, and the quick formatting scan."""

from __future__ import annotations

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
