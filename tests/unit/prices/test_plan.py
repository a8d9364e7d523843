"""Planning a price list against a catalog snapshot: old → new, unchanged, large changes, duplicates."""

from __future__ import annotations

from decimal import Decimal

from maint.pricing.prices import CatalogEntry, PriceRow, normalise_key, resolve_prices
from maint.pricing.service import check_large
from maint.sheets.values import PriceChange

CATALOG = {
    normalise_key("A"): [CatalogEntry(1, Decimal("10.0000"))],
    normalise_key("B"): [CatalogEntry(2, Decimal("20.0000"))],
    normalise_key("C"): [CatalogEntry(3, Decimal("0.0000"))],
    normalise_key("TWIN"): [CatalogEntry(4, Decimal("1")), CatalogEntry(5, Decimal("1"))],
}


def row(number: int, key: str, amount: str, percent: bool = False) -> PriceRow:
    return PriceRow(number, key, PriceChange(Decimal(amount), percent), amount)


def plan_of(*rows: PriceRow):  # type: ignore[no-untyped-def]
    return resolve_prices(rows, CATALOG, file="f.csv", match="sku", column="A (sku)")


def test_changes_carry_old_and_new_and_unchanged_rows_are_counted() -> None:
    plan, issues = plan_of(row(2, "A", "12"), row(3, "b", "20.00"))
    assert issues == []
    assert [(c.product_id, c.old, c.new) for c in plan.changes] == [
        (1, Decimal("10.0000"), Decimal("12.0000"))
    ]
    assert plan.unchanged == 1


def test_relative_changes_apply_to_the_current_price_and_mark_the_plan() -> None:
    plan, _ = plan_of(row(2, "A", "-10", percent=True))
    assert plan.changes[0].new == Decimal("9.0000")
    assert plan.relative


def test_unknown_ambiguous_and_duplicate_products_are_all_reported() -> None:
    plan, issues = plan_of(row(2, "A", "11"), row(3, "Z", "1"), row(4, "TWIN", "2"), row(5, " a ", "12"))
    assert [(i.row, i.reason.split(" (")[0].split(":")[0]) for i in issues] == [
        (3, "unknown product"),
        (4, "sku matches 2 products"),
        (5, "duplicate"),
    ]
    assert len(plan.changes) == 1


def test_changes_beyond_fifty_percent_need_permission() -> None:
    plan, _ = plan_of(row(2, "A", "16"), row(3, "B", "25"), row(4, "C", "5"))
    assert [c.product_id for c in plan.large] == [1, 3]  # +60 %, and any price from zero
    assert [c.product_id for c in plan.largest(2)] == [3, 1]
    try:
        check_large(plan, allow_large_changes=False)
    except Exception as exc:  # noqa: BLE001 - asserting the message below
        assert "2 price change(s) exceed ±50 %" in str(exc)
    else:
        raise AssertionError("large changes passed without --allow-large-changes")
    check_large(plan, allow_large_changes=True)


def test_a_special_is_planned_from_the_new_price_and_must_be_below_it() -> None:
    from maint.pricing.prices import Special

    rows = [
        PriceRow(2, "A", PriceChange(Decimal("20")), "20", Special(PriceChange(Decimal("-25"), True))),
        PriceRow(3, "B", None, "", Special(PriceChange(Decimal("25")), "2026-12-01", "2026-12-31")),
    ]
    plan, issues = plan_of(*rows)
    assert [(s[0], s[4]) for s in plan.specials] == [(1, Decimal("15.0000"))]
    assert [(c.product_id, c.new) for c in plan.changes] == [(1, Decimal("20.0000"))]
    assert [(i.row, i.reason) for i in issues] == [
        (3, "special price 25.0000 is not below the price 20.0000")
    ]
