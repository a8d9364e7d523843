"""The column-wise plan (PriceRows, ProductMatches, PriceChanges) decides exactly as row by row would."""

from __future__ import annotations

import gc
import random
from decimal import Decimal
from pathlib import Path

import pytest

from maint.pricing import prices
from maint.pricing.prices import (
    CatalogEntry,
    PriceChanges,
    PriceDiff,
    PriceRow,
    PriceRows,
    ProductMatches,
    normalise_key,
    resolve_prices,
)
from maint.pricing.service import gc_paused, read_price_sheet
from maint.pricing.undo import ColumnRows, ColumnUpdate
from maint.sheets.values import PriceChange


def catalog() -> dict[str, list[CatalogEntry]]:
    found = {normalise_key(f"SKU-{i:04d}"): [CatalogEntry(i, Decimal(f"{i % 50}.{i % 100:02d}"))] for i in range(1, 400)}
    found[normalise_key("TWIN")] = [CatalogEntry(900, Decimal("1")), CatalogEntry(901, Decimal("1"))]
    return found


def plan_of(rows, found=None):  # type: ignore[no-untyped-def]
    return resolve_prices(rows, found or catalog(), file="p.csv", match="sku", column="A (sku)")


def summary(result):  # type: ignore[no-untyped-def]
    plan, issues = result
    return (
        list(plan.changes),
        plan.unchanged,
        plan.relative,
        [(s[0], s[2], s[4]) for s in plan.specials],
        [(i.row, i.reason) for i in issues],
    )


def test_a_sheet_read_column_wise_plans_exactly_as_the_same_rows_one_by_one(tmp_path, monkeypatch) -> None:
    pick = random.Random(7)
    cells = ["19.99", "0", "007.50", "12.3456", "10.00005", "99999999999.9999", "5", "-10%", "+2.5%", "1.234,50 €"]
    keys = [f"SKU-{i:04d}" for i in range(1, 400)] + ["TWIN", "NOPE", " sku-0003 "]
    plain = cells[:7]  # whole batches of these take the column-wise path
    lines = [f'"{pick.choice(keys)}","{pick.choice(plain)}"\n' for _ in range(4096)]
    lines += [f'"{pick.choice(keys)}","{pick.choice(cells)}"\n' for _ in range(3000)]
    path = tmp_path / "prices.csv"
    path.write_text("sku,price\n" + "".join(lines), encoding="utf-8")
    fast = read_price_sheet(path)
    with monkeypatch.context() as m:
        m.setattr(prices, "_plain_batch", lambda *args: False)
        general = read_price_sheet(path)
    assert fast.rows == general.rows and fast.issues == general.issues
    assert len(fast.rows.general) < len(fast.rows) - 4000 and len(general.rows.general) == len(general.rows)
    one_by_one = list(fast.rows)  # PriceRow objects: resolved through PriceRows.of()
    assert summary(plan_of(fast.rows)) == summary(plan_of(one_by_one))
    changes = plan_of(fast.rows)[0].changes
    assert len(changes) > 100 and changes.largest(3) == sorted(
        changes, key=lambda c: (-(abs(c.ratio) if c.ratio is not None else Decimal("Infinity")), c.product_id)
    )[:3]


def test_two_keys_naming_one_product_make_the_later_row_a_duplicate() -> None:
    found = {"a": [CatalogEntry(5, Decimal("10"))], "b": [CatalogEntry(5, Decimal("10"))]}
    rows = [PriceRow(2, "A", PriceChange(Decimal("11")), "11"), PriceRow(3, "B", PriceChange(Decimal("12")), "12")]
    plan, issues = plan_of(rows, found)
    assert [(c.row, c.new) for c in plan.changes] == [(2, Decimal("11.0000"))]
    assert [(i.row, i.reason) for i in issues] == [(3, "duplicate: product 5 is already in row 2")]


def test_a_key_found_again_in_a_later_chunk_becomes_ambiguous() -> None:
    matches = ProductMatches(["x", "y"])
    matches.add(["1", "2"], ["x", "zzz"], ["1.0000", "2.0000"])
    matches.add(["3"], ["x"], ["3.0000"])
    assert [e.product_id for e in matches["x"]] == [1, 3]
    assert "y" not in matches and "zzz" not in matches and len(matches) == 1
    _, issues = plan_of([PriceRow(2, "x", PriceChange(Decimal("5")), "5")], matches)
    assert [i.reason for i in issues] == ["sku matches 2 products (1, 3)"]


def test_prices_with_more_than_four_decimals_are_rounded_before_they_are_compared() -> None:
    found = {"a": [CatalogEntry(1, Decimal("10.0000"))], "b": [CatalogEntry(2, Decimal("10.0000"))]}
    rows = PriceRows()
    rows.extend_plain([2, 3], ["a", "b"], ["10.00004", "10.00005"])
    plan, _ = plan_of(rows, found)
    assert plan.unchanged == 1
    assert [(c.product_id, c.new) for c in plan.changes] == [(2, Decimal("10.0001"))]
    assert plan.changes.new_texts == ["10.0001"]


def test_a_plain_price_is_stored_as_written_and_shown_with_four_places() -> None:
    rows = PriceRows()
    rows.extend_plain([2], ["a"], ["12.5"])
    plan, _ = plan_of(rows, {"a": [CatalogEntry(1, Decimal("10.0000"))]})
    assert plan.changes.new_texts == ["12.5"] and plan.changes.old_texts == ["10.0000"]
    assert str(plan.changes[0].new) == "12.5000"
    op = ColumnUpdate("product", "product_id", "price", "DECIMAL(15,4)", ColumnRows(*_columns(plan.changes)))
    assert op.lines == "1\t10.0000\t12.5\n"


def _columns(changes: PriceChanges) -> tuple[list[str], list[str], list[str]]:
    return changes.id_texts, changes.old_texts, changes.new_texts


def test_a_percent_change_beyond_what_the_store_can_hold_is_reported() -> None:
    rows = [PriceRow(2, "a", PriceChange(Decimal("1e20"), percent=True), "1e20%")]
    plan, issues = plan_of(rows, {"a": [CatalogEntry(1, Decimal("10"))]})
    assert not plan.changes
    assert [i.reason for i in issues] == ["the new price is too large for the store"]


def test_the_change_list_reads_as_tuples_and_slices() -> None:
    rows = ColumnRows(["1", "2", "3"], ["1.0000", "2.0000", None], ["1.5", "2.5", "3.5"])
    assert len(rows) == 3 and rows[1] == ("2", "2.0000", "2.5") and rows[-1][2] == "3.5"
    assert rows[1:] == [("2", "2.0000", "2.5"), ("3", None, "3.5")]
    op = ColumnUpdate("product", "product_id", "price", "DECIMAL(15,4)", rows)
    assert op.lines.splitlines()[2] == "3\t\\N\t3.5"


def test_plans_made_from_price_diffs_keep_their_order_and_values() -> None:
    diffs = [PriceDiff(3, "C", 4, Decimal("1"), Decimal("2")), PriceDiff(1, "A", 2, Decimal("0"), Decimal("5"))]
    plan = prices.PricePlan("p.csv", diffs)  # type: ignore[arg-type]
    assert list(plan.changes) == [
        PriceDiff(3, "C", 4, Decimal("1.0000"), Decimal("2.0000")),
        PriceDiff(1, "A", 2, Decimal("0.0000"), Decimal("5.0000")),
    ]
    assert [c.product_id for c in plan.largest(5)] == [1, 3]  # from zero first, then +100 %
    assert [c.product_id for c in plan.large] == [3, 1]


@pytest.mark.skipif(not gc.isenabled(), reason="the collector is off for this run")
def test_pausing_the_collector_turns_it_back_on_without_a_backlog_of_young_objects() -> None:
    with gc_paused():
        assert not gc.isenabled()
        made = [[i] for i in range(50_000)]
    assert gc.isenabled()
    assert gc.get_count()[0] < 1000  # the objects made while paused are not waiting for a young collection
    assert len(made) == 50_000


def test_rows_read_back_from_the_columns_are_the_rows_put_in(tmp_path: Path) -> None:
    rows = PriceRows()
    rows.extend_plain([2, 3], ["a", "b"], ["1.5", "2"])
    special = prices.Special(PriceChange(Decimal("-10"), percent=True))
    rows.append(PriceRow(4, "c", PriceChange(Decimal("5"), percent=True), "+5%", special))
    assert rows[0] == PriceRow(2, "a", PriceChange(Decimal("1.5")), "1.5")
    assert rows[-1].special == special and rows.irregular == [2]
    assert [r.row for r in rows[1:]] == [3, 4]
    with pytest.raises(IndexError):
        rows[3]
