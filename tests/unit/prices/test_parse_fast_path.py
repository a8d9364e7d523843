"""The fast path of parse_price_rows (plain "19.99" cells) gives exactly what the general path gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from maint.pricing import prices
from maint.pricing.service import read_price_sheet

CELLS = [
    "19.99",
    "0",
    "007.50",
    " 12.5 ",
    "12.",
    ".5",
    "1e5",
    "-1",
    "+5%",
    "-10 %",
    "99999999999.9999",
    "100000000000",
    "123456789012345",
    "1.123456789",
    "",
    "abc",
    "12,50",
    "١٢.٥",  # other scripts' digits: \d matches them on both paths
]


def sheet(tmp_path: Path, header: str, rows: list[str]) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text(header + "\n" + "".join(rows), encoding="utf-8")
    return path


def both_paths(monkeypatch: pytest.MonkeyPatch, path: Path, match: str = "sku") -> tuple[object, object]:
    fast = read_price_sheet(path, match=match)
    with monkeypatch.context() as m:
        m.setattr(prices, "_plain_batch", lambda *args: False)  # general path only
        general = read_price_sheet(path, match=match)
    return (fast.rows, fast.issues), (general.rows, general.issues)


def test_every_kind_of_price_cell_parses_the_same_on_the_fast_path(tmp_path, monkeypatch) -> None:
    rows = [f'SKU-{i},"{cell}"\n' for i, cell in enumerate(CELLS)] + ['  ,"1.00"\n', 'SKU-X,"1.00"\n']
    fast, general = both_paths(monkeypatch, sheet(tmp_path, "sku,price", rows))
    assert fast == general
    assert len(fast[0]) > 5 and fast[1]  # both valid and invalid rows were exercised


def test_product_ids_that_are_not_whole_numbers_are_reported_on_both_paths(tmp_path, monkeypatch) -> None:
    rows = ['12,"1.00"\n', 'A1,"2.00"\n', '3.5,"3.00"\n']
    fast, general = both_paths(monkeypatch, sheet(tmp_path, "product_id,price", rows), match="product_id")
    assert fast == general
    assert [r.key for r in fast[0]] == ["12"] and len(fast[1]) == 2
