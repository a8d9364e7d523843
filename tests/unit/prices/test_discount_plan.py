"""Planning discount tiers per (product, group), in each release's schema."""

from __future__ import annotations

from decimal import Decimal

from maint.pricing.discounts import DiscountRow, resolve_discounts
from maint.pricing.prices import CatalogEntry, normalise_key
from maint.pricing.schema import price_schema
from maint.sheets.values import PriceChange

CATALOG = {normalise_key("A"): [CatalogEntry(1, Decimal("100.0000"))]}
GROUPS = {"default": 1, "1": 1, "wholesale": 3, "3": 3}
NO = "0000-00-00"


def tier(
    number: int, quantity: int, amount: str, percent: bool = False, group: str = "Default"
) -> DiscountRow:
    return DiscountRow(number, "A", group, quantity, 1, PriceChange(Decimal(amount), percent), NO, NO)


def plan(rows, existing, version="3.0.3.8", mode="replace"):  # type: ignore[no-untyped-def]
    return resolve_discounts(
        rows,
        CATALOG,
        GROUPS,
        existing,
        price_schema(version),
        file="d.csv",
        match="sku",
        key_column="A (sku)",
        group_column="B (group)",
        mode=mode,
    )


def test_percent_off_becomes_a_fixed_price_on_3_0_and_type_p_on_4_1() -> None:
    old, _ = plan([tier(2, 10, "-10", percent=True)], {})
    assert old.pairs[0].after == [("1", "1", "10", "1", "90.0000", NO, NO)]
    new, _ = plan([tier(2, 10, "-10", percent=True), tier(3, 20, "80")], {}, version="4.1.0.4")
    assert new.pairs[0].after == [
        ("1", "1", "10", "1", "10.0000", "P", "0", NO, NO),
        ("1", "1", "20", "1", "80.0000", "F", "0", NO, NO),
    ]


def test_identical_tiers_plan_nothing_in_any_order() -> None:
    existing = {
        (1, 1): [("7", "1", "1", "20", "1", "80.0000", NO, NO), ("8", "1", "1", "10", "1", "90.0000", NO, NO)]
    }
    result, issues = plan([tier(2, 10, "90"), tier(3, 20, "80")], existing)
    assert issues == [] and result.pairs == [] and result.unchanged_pairs == 1


def test_replace_drops_tiers_the_file_omits_and_merge_keeps_them() -> None:
    existing = {
        (1, 1): [("7", "1", "1", "20", "1", "80.0000", NO, NO), ("8", "1", "1", "10", "1", "90.0000", NO, NO)]
    }
    replaced, _ = plan([tier(2, 10, "85")], existing)
    assert (replaced.deleted, replaced.inserted) == (2, 1)
    merged, _ = plan([tier(2, 10, "85")], existing, mode="merge")
    assert sorted(merged.pairs[0].after) == [
        ("1", "1", "10", "1", "85.0000", NO, NO),
        ("1", "1", "20", "1", "80.0000", NO, NO),
    ]


def test_unknown_groups_products_and_duplicate_tiers_are_reported() -> None:
    rows = [
        tier(2, 10, "85"),
        tier(3, 10, "80"),
        tier(4, 5, "1", group="Gold"),
        DiscountRow(5, "Z", "Default", 1, 1, PriceChange(Decimal(1)), NO, NO),
    ]
    _, issues = plan(rows, {})
    assert [(i.row, i.reason.split(":")[0].split(" (")[0]) for i in issues] == [
        (3, "duplicate"),
        (4, "unknown customer group"),
        (5, "unknown product"),
    ]


def test_a_percent_discount_rounded_to_the_currency_is_listed_in_the_plan() -> None:
    # 100.00 - 3.33 % = 96.67 exactly (listed nowhere); 101.00 - 3.33 % = 97.6367 → 97.64 (listed)
    catalog = {**CATALOG, normalise_key("B"): [CatalogEntry(2, Decimal("101.0000"))]}
    rows = [
        DiscountRow(2, "A", "Default", 10, 1, PriceChange(Decimal("-3.33"), True), NO, NO, raw="-3.33%"),
        DiscountRow(3, "B", "Wholesale", 5, 1, PriceChange(Decimal("-3.33"), True), NO, NO, raw="-3.33%"),
    ]
    result, issues = resolve_discounts(
        rows, catalog, GROUPS, {}, price_schema("3.0.5.1"), file="d.csv", match="sku",
        key_column="A (sku)", group_column="B (group)", places=2,
    )
    assert issues == [] and result.places == 2
    assert [r.as_dict() for r in result.rounded] == [
        {"row": 3, "key": "B", "what": "discount Wholesale ≥5", "old": "101.0000", "change": "-3.33%",
         "exact": "97.6367", "new": "97.6400"}
    ]
    assert result.pairs[1].after[0][4] == "97.6400"
    # 4.1 stores the percent itself (type P): nothing is rounded
    native, _ = resolve_discounts(
        rows, catalog, GROUPS, {}, price_schema("4.1.0.4"), file="d.csv", match="sku",
        key_column="A (sku)", group_column="B (group)", places=2,
    )
    assert native.rounded == []
