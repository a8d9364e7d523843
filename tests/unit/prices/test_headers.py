"""Header rows matched to a task's fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from maint.errors import InputError
from maint.pricing.fields import price_fields
from maint.sheets import open_sheet
from maint.sheets.headers import match_header, normalise, parse_columns_option


def test_header_names_compare_on_letters_and_digits_only() -> None:
    assert normalise("Art.-Nr.") == normalise("art nr") == "artnr"
    assert normalise(" Preis (€) ") == "preis"


def test_aliases_find_german_headers() -> None:
    found, missing = match_header(["Artikelnummer", "Preis", "Bemerkung"], price_fields("sku"), {})
    assert missing == []
    assert (found["sku"].letter, found["price"].letter) == ("A", "B")


def test_explicit_columns_win_over_aliases() -> None:
    found, missing = match_header(
        ["Code", "Preis", "VK neu"], price_fields("sku"), {"sku": "code", "price": "VK neu"}
    )
    assert missing == []
    assert (found["sku"].index, found["price"].index) == (0, 2)


def test_columns_option_parses_pairs_and_refuses_unknown_fields() -> None:
    assert parse_columns_option("price=Preis, sku=Artikel", price_fields("sku")) == {
        "price": "Preis",
        "sku": "Artikel",
    }
    with pytest.raises(InputError, match="unknown field"):
        parse_columns_option("colour=Farbe", price_fields("sku"))
    with pytest.raises(InputError, match="field=Header"):
        parse_columns_option("price", price_fields("sku"))


def test_header_row_is_found_below_a_title_block(tmp_path: Path) -> None:
    sheet = tmp_path / "list.csv"
    sheet.write_text("Price list spring,\n,\nsku,price\nSKU-1,10\n")
    opened = open_sheet(sheet, price_fields("sku"))
    assert opened.header_row == 3
    assert [(r.number, r.values["sku"]) for r in opened.rows] == [(4, "SKU-1")]


def test_empty_file_is_refused(tmp_path: Path) -> None:
    sheet = tmp_path / "empty.csv"
    sheet.write_text("\n\n")
    with pytest.raises(InputError, match="empty"):
        open_sheet(sheet, price_fields("sku"))


def test_unsupported_type_and_missing_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "list.ods").write_bytes(b"x")
    with pytest.raises(InputError, match="unsupported"):
        open_sheet(tmp_path / "list.ods", price_fields("sku"))
    with pytest.raises(InputError, match="not found"):
        open_sheet(tmp_path / "nope.csv", price_fields("sku"))
