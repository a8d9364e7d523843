"""Planning what a rollback carries over (maint.mirror.carryover): which tables follow an order, customer
or review, which columns go back into an older schema, and what is refused with its reason."""

from __future__ import annotations

from typing import Any

from maint.mirror.carryover import Held, Row, Shape, follow, plan_writes, values_of, zero_of

ORDER = Shape(("order_id", "customer_id", "email", "total"), ("order_id",))
LIVE = {
    "order": ORDER,
    "order_product": Shape(("order_product_id", "order_id", "product_id", "quantity"), ("order_product_id",)),
    "order_total": Shape(("order_total_id", "order_id", "code", "value"), ("order_total_id",)),
    "order_subscription": Shape(("order_subscription_id", "order_id"), ("order_subscription_id",)),
    "customer": Shape(("customer_id", "email", "commenter"), ("customer_id",)),
    "address": Shape(("address_id", "customer_id", "city"), ("address_id",)),
    "customer_online": Shape(("ip", "customer_id"), ("ip",)),
    "product": Shape(("product_id", "quantity"), ("product_id",)),
}


def row(table: str, owners: set[tuple[str, int]], **values: Any) -> Row:
    return Row(table, values, frozenset(owners))


def held(*rows: Row, ids: dict[str, list[int]] | None = None) -> Held:
    return Held("20261207T030000Z", ids or {"order": [12]}, list(rows), {r.table: LIVE[r.table] for r in rows}, {})


def order_12() -> list[Row]:
    return [row("order", {("order", 12)}, order_id=12, customer_id=0, email="late@example.com", total=42.5),
            row("order_product", {("order", 12)}, order_product_id=30, order_id=12, product_id=40, quantity=2),
            row("order_total", {("order", 12)}, order_total_id=70, order_id=12, code="total", value=42.5)]


def test_an_order_takes_every_table_with_an_order_id_along_and_a_customer_its_own_but_not_who_was_online() -> None:
    assert follow(LIVE, "order") == ["order", "order_product", "order_subscription", "order_total"]
    assert follow(LIVE, "customer") == ["customer", "address", "order"]
    assert follow(LIVE, "review") == []  # no review table: nothing to follow


def test_every_row_of_a_new_order_goes_back_with_its_ids_when_both_schemas_are_the_same() -> None:
    plan = plan_writes(held(*order_12()), LIVE, set(), set())
    assert plan.carried == {"order": [12]} and not plan.refused and not plan.left_out and not plan.filled
    assert list(plan.inserts) == ["order", "order_product", "order_total"] and plan.rows == 3
    columns, rows = plan.inserts["order_product"]
    assert values_of(rows[0], columns, LIVE["order_product"]) == (30, 12, 40, 2)


def test_a_column_only_the_newer_schema_has_is_left_out_and_one_the_older_requires_gets_its_zero() -> None:
    restored = {**LIVE, "customer": Shape(("customer_id", "email", "salt"), ("customer_id",), {"salt": "varchar"}),
                "order": Shape(("order_id", "customer_id", "email", "total", "date_modified"), ("order_id",),
                               {"date_modified": "datetime"})}
    customer = row("customer", {("customer", 5)}, customer_id=5, email="new@example.com", commenter=1)
    order = row("order", {("order", 12), ("customer", 5)}, order_id=12, customer_id=5, email="new@example.com",
                total=10)
    plan = plan_writes(held(customer, order, ids={"customer": [5], "order": [12]}), restored, set(), set())
    assert plan.carried == {"customer": [5], "order": [12]}
    assert plan.left_out == ["customer.commenter"]
    assert plan.filled == ["customer.salt = ''", "order.date_modified = '0000-00-00 00:00:00'"]
    columns, rows = plan.inserts["customer"]
    assert columns == ("customer_id", "email", "salt")
    assert values_of(rows[0], columns, restored["customer"]) == (5, "new@example.com", "")


def test_an_id_the_restored_store_already_has_refuses_that_order_and_everything_of_it_with_the_reason() -> None:
    rows = [*order_12(), row("order", {("order", 13)}, order_id=13, customer_id=0, email="b@example.com", total=1)]
    plan = plan_writes(held(*rows, ids={"order": [12, 13]}), LIVE, {("order_product", (30,))}, set())
    assert plan.carried == {"order": [13]}
    assert plan.refused == ["order #12: order_product 30 is already in the restored store (an id taken twice)"]
    assert [r.values["order_id"] for r in plan.inserts["order"][1]] == [13]
    assert "order_product" not in plan.inserts


def test_rows_of_the_order_already_in_the_restored_store_refuse_it() -> None:
    plan = plan_writes(held(*order_12()), LIVE, set(), {("order", 12)})
    assert not plan.carried and not plan.inserts
    assert plan.refused == ["order #12: the restored store already has rows of order #12"]


def test_a_refused_customer_takes_its_orders_along_and_says_why() -> None:
    customer = row("customer", {("customer", 5)}, customer_id=5, email="new@example.com", commenter=0)
    order = row("order", {("order", 12), ("customer", 5)}, order_id=12, customer_id=5, email="n@example.com", total=1)
    plan = plan_writes(held(customer, order, ids={"customer": [5], "order": [12]}), LIVE, {("customer", (5,))}, set())
    assert not plan.carried and not plan.inserts
    assert plan.refused == ["customer #5: customer 5 is already in the restored store (an id taken twice)",
                            "order #12: it belongs to customer #5 (customer 5 is already in the restored store "
                            "(an id taken twice))"]


def test_rows_of_a_table_the_older_schema_lacks_are_listed_while_the_order_goes_back() -> None:
    sub = row("order_subscription", {("order", 12)}, order_subscription_id=3, order_id=12)
    restored = {k: v for k, v in LIVE.items() if k != "order_subscription"}
    plan = plan_writes(held(*order_12(), sub), restored, set(), set(), "OpenCart 4.0.2.3")
    assert plan.carried == {"order": [12]} and plan.rows == 3
    assert plan.refused == ["1 order_subscription row(s): OpenCart 4.0.2.3's schema has no order_subscription table"]


def test_a_schema_without_the_entitys_table_refuses_it() -> None:
    plan = plan_writes(held(*order_12()), {"customer": LIVE["customer"]}, set(), set(), "OpenCart 3.0.3.8")
    assert not plan.carried and not plan.inserts
    assert plan.refused == ["order #12: OpenCart 3.0.3.8's schema has no order table"]


def test_the_plan_line_names_the_rows_that_come_along() -> None:
    assert held(*order_12()).describe() == ["1 order(s) #12 with order_product 1, order_total 1 row(s)"]
    assert not held(ids={"order": []})


def test_zero_values_are_what_mysql_stores_for_a_missing_column() -> None:
    assert [zero_of(t) for t in ("int", "DECIMAL", "datetime", "date", "varchar", "text")] == \
        [0, 0, "0000-00-00 00:00:00", "0000-00-00", "", ""]


def test_the_stock_a_carried_order_took_is_kept_and_a_refused_orders_is_not() -> None:
    rows = [*order_12(), row("order", {("order", 13)}, order_id=13, customer_id=0, email="b@example.com", total=1)]
    h = held(*rows, ids={"order": [12, 13]})
    h.stock = {("product", 40): (6, frozenset({12})), ("product", 41): (3, frozenset({13})),
               ("product_option_value", 7): (1, frozenset({12}))}
    plan = plan_writes(h, LIVE, set(), {("order", 13)})
    assert plan.carried == {"order": [12]}
    assert plan.stock == {("product", 40): 6}  # the restored schema here has no product_option_value table


def test_a_null_the_older_schema_refuses_becomes_the_columns_default_or_its_zero_and_is_named() -> None:
    # 4.1 made order.invoice_prefix nullable; 4.0.2.3 has it NOT NULL (a real rollback found this).
    restored = {**LIVE, "order": Shape(ORDER.columns, ("order_id",), not_null={"email": "", "total": "0.0000"})}
    order = row("order", {("order", 12)}, order_id=12, customer_id=0, email=None, total=None)
    plan = plan_writes(held(order), restored, set(), set(), "OpenCart 4.0.2.3")
    assert plan.filled == ["order.email NULL → ''", "order.total NULL → '0.0000'"]
    columns, rows = plan.inserts["order"]
    assert values_of(rows[0], columns, restored["order"]) == (12, 0, "", "0.0000")


def test_information_schema_defaults_are_read_as_values() -> None:
    from maint.mirror.carryover import default_of

    assert [default_of(d, t) for d, t in (("'P'", "char"), ("'it''s'", "varchar"), ("0", "int"), ("-1.5", "decimal"),
                                           ("current_timestamp()", "datetime"), (None, "int"))] == \
        ["P", "it's", "0", "-1.5", "0000-00-00 00:00:00", 0]
