"""`fab prices`, `fab discounts`, `fab groups` and `fab undo` on real 3.0.5.1 (MyISAM) and 4.1.0.4 (InnoDB):
applied as planned, a second run plans nothing, `--dry-run` changes nothing, and undo restores exactly."""

from __future__ import annotations

import pytest
from realtier import REAL, db_state, query

from maint.tasks.prices import discounts, groups, prices, undo

STORES = [REAL["3.0.5.1"], REAL["4.1.0.4"]]
# Rows the storefront itself writes while a page is checked (sessions, online customers, 3.0's visit
# counter in product.viewed); compared apart where it matters.
VOLATILE = ("session", "customer_online", "product", "product_report", "product_viewed")


def price_rows(real, name: str) -> list[tuple]:
    return query(real, name, "SELECT product_id, price, status, quantity FROM {p}product ORDER BY product_id")


@pytest.mark.parametrize("name", STORES)
def test_prices_on_a_real_store_apply_then_plan_nothing_dry_run_nothing_and_undo_exactly(
    name, tmp_path, real, real_context
) -> None:
    sheet = tmp_path / "prices.csv"
    # Sample products by model: "Product 21" (id 47), "Product 15" (id 42) at 100.00, "product 11" (id 40) at 101.00
    sheet.write_text("model,price\nProduct 21,111.11\nProduct 15,+5%\nproduct 11,101\n")
    before, rows_before = db_state(real, name, skip=VOLATILE), price_rows(real, name)

    dry = prices(real_context, name, str(sheet), match="model", dry_run=True)
    assert (dry["changes"], dry["unchanged"], dry["applied"]) == (2, 1, False)
    assert db_state(real, name, skip=VOLATILE) == before and price_rows(real, name) == rows_before

    done = prices(real_context, name, str(sheet), match="model", yes=True)
    assert done["applied"] and done["rows_changed"] == 2
    new = dict((pid, str(price)) for pid, price, *_ in price_rows(real, name))
    assert new[47] == "111.1100" and new[42] == "105.0000" and new[40] == "101.0000"

    again = prices(real_context, name, str(sheet), match="model", yes=True)
    assert again["changes"] == 0

    undo(real_context, name, done["undo_file"], yes=True)
    assert price_rows(real, name) == rows_before
    assert db_state(real, name, skip=VOLATILE) == before


@pytest.mark.parametrize("name", STORES)
def test_discounts_on_a_real_store_apply_then_plan_nothing_dry_run_nothing_and_undo_exactly(
    name, tmp_path, real, real_context
) -> None:
    sheet = tmp_path / "tiers.csv"
    sheet.write_text("model,group,quantity,price\nproduct 11,Default,5,95.00\nproduct 11,Default,10,90.00\n")
    before = db_state(real, name, skip=VOLATILE)

    dry = discounts(real_context, name, str(sheet), match="model", dry_run=True)
    assert not dry["applied"]
    assert db_state(real, name, skip=VOLATILE) == before

    done = discounts(real_context, name, str(sheet), match="model", yes=True)
    assert done["applied"]
    tiers = query(real, name, "SELECT quantity, price FROM {p}product_discount WHERE product_id = 40 "
                  "AND customer_group_id = 1 ORDER BY quantity")
    assert [(q, str(p)) for q, p in tiers] == [(5, "95.0000"), (10, "90.0000")]

    again = discounts(real_context, name, str(sheet), match="model", yes=True)
    assert not again["applied"]

    undo(real_context, name, done["undo_file"], yes=True)
    assert db_state(real, name, skip=VOLATILE) == before


@pytest.mark.parametrize("name", STORES)
def test_groups_on_a_real_store_create_move_then_nothing_and_undo_exactly(name, tmp_path, real, real_context) -> None:
    query(real, name, "INSERT INTO {p}customer SET customer_group_id = 1, language_id = 1, firstname = 'Ann', "
          "lastname = 'Real', email = 'ann.real@example.test', status = 1, date_added = NOW()", relaxed=True)
    try:
        sheet = tmp_path / "groups.csv"
        sheet.write_text("email,group\n,Trade Partners\nann.real@example.test,Trade Partners\n")
        before = db_state(real, name, skip=VOLATILE)

        dry = groups(real_context, name, str(sheet), create_groups=True, dry_run=True)
        assert (len(dry["created"]), dry["moved"]) == (1, 1)
        assert db_state(real, name, skip=VOLATILE) == before

        done = groups(real_context, name, str(sheet), create_groups=True, yes=True)
        group_id = done["created"][0]["customer_group_id"]
        assert query(real, name, "SELECT customer_group_id FROM {p}customer WHERE email = %s",
                     ("ann.real@example.test",)) == [(group_id,)]

        again = groups(real_context, name, str(sheet), create_groups=True, yes=True)
        assert not again["applied"]

        undo(real_context, name, done["undo_file"], yes=True)
        assert db_state(real, name, skip=VOLATILE) == before
    finally:
        query(real, name, "DELETE FROM {p}customer WHERE email = %s", ("ann.real@example.test",))
