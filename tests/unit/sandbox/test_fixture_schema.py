"""The fixture's tables per release (facts B3.3) and its generated rows."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from maint.sandbox import fixture_data as data
from maint.sandbox.fixture import VERSIONS, StoreSize, table_rows
from maint.sandbox.fixture_schema import NO_DEFAULT, schema_for

CODES = ["sku", "upc", "ean", "jan", "isbn", "mpn"]


def columns(version: str, table: str) -> list[str]:
    return list(schema_for(version).table(table).column_names)


@pytest.mark.parametrize("version", ["3.0.3.8", "3.0.5.1", "4.0.2.3"])
def test_product_keeps_its_codes_before_41(version: str) -> None:
    cols = columns(version, "product")
    assert cols[:8] == ["product_id", "model", *CODES]
    assert "viewed" in cols and "master_id" not in cols


def test_41_moves_codes_to_product_code_and_adds_variant_columns() -> None:
    cols = columns("4.1.0.4", "product")
    assert not set(CODES) & set(cols) and "viewed" not in cols
    assert {"master_id", "variant", "override", "rating"} <= set(cols)
    assert columns("4.1.0.4", "product_code") == ["product_code_id", "product_id", "code", "value"]


def test_discount_type_and_special_exist_only_in_41_with_their_defaults() -> None:
    schema = schema_for("4.1.0.4").table("product_discount")
    by_name = {c.name: c for c in schema.columns}
    assert by_name["type"].type == "char(1)" and by_name["type"].default == "P"
    assert by_name["special"].default == 0
    assert by_name["date_start"].default is NO_DEFAULT
    for version in ("3.0.3.8", "4.0.2.3"):
        cols = schema_for(version).table("product_discount").columns
        assert "type" not in [c.name for c in cols]
        assert {c.name: c.default for c in cols}["date_start"] == "0000-00-00"


@pytest.mark.parametrize(("version", "special", "modification", "session"), [
    ("3.0.3.8", True, True, True), ("3.0.5.1", True, True, True),
    ("4.0.2.3", True, False, False), ("4.1.0.4", False, True, False),
])
def test_tables_present_per_version(version: str, special: bool, modification: bool, session: bool) -> None:
    names = schema_for(version).table_names
    assert ("product_special" in names) == special
    assert ("modification" in names) == modification
    assert ("session" in names) == session
    assert ("product_code" in names) == (version == "4.1.0.4")


def test_30_customer_and_store_columns() -> None:
    assert columns("3.0.3.8", "customer")[:14] == [
        "customer_id", "customer_group_id", "store_id", "language_id", "firstname", "lastname", "email", "telephone",
        "fax", "password", "salt", "cart", "wishlist", "newsletter"]
    assert columns("3.0.3.8", "store") == ["store_id", "name", "url", "ssl"]
    assert columns("4.1.0.4", "store") == ["store_id", "name", "url"]
    assert "commenter" in columns("4.1.0.4", "customer") and "commenter" not in columns("4.0.2.3", "customer")
    assert columns("4.1.0.4", "extension") == ["extension_id", "extension", "type", "code"]
    assert "description" in columns("4.1.0.4", "extension_install")
    assert "description" not in columns("4.0.2.3", "extension_install")


def test_engines_and_collations_per_version() -> None:
    engines = Counter(t.engine for t in schema_for("3.0.5.1").tables)
    assert engines["InnoDB"] == 2 and engines["MyISAM"] == len(schema_for("3.0.5.1").tables) - 2
    assert {t.engine for t in schema_for("4.0.2.3").tables} == {"InnoDB"}
    assert {t.engine for t in schema_for("3.0.3.8", "InnoDB").tables} == {"InnoDB"}
    assert schema_for("3.0.3.8").collation == "utf8mb3_general_ci"
    assert schema_for("3.0.5.1").collation == "utf8mb4_unicode_ci"
    assert schema_for("4.0.2.3").collation == "utf8mb4_general_ci"
    assert schema_for("4.1.0.4").collation == "utf8mb4_unicode_ci"


def test_41_columns_are_nullable_and_40_are_not() -> None:
    price41 = {c.name: c for c in schema_for("4.1.0.4").table("product").columns}["price"]
    price40 = {c.name: c for c in schema_for("4.0.2.3").table("product").columns}["price"]
    assert price41.nullable and not price40.nullable
    assert "NULL DEFAULT '0.0000'" in price41.ddl() and "NOT NULL DEFAULT '0.0000'" in price40.ddl()


def test_create_sql_uses_prefix_engine_and_collation() -> None:
    sql = schema_for("3.0.3.8").table("order").create_sql("shop_", "utf8mb3", "utf8mb3_general_ci")
    assert sql.startswith("CREATE TABLE `shop_order`")
    assert "ENGINE=MyISAM DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci" in sql


# -- rows --------------------------------------------------------------------------------------

SIZE = StoreSize(products=60, customers=9, orders=12, customer_groups=3, image_files=5)


def digest(version: str, seed: int) -> str:
    h = hashlib.sha256()
    for rows in table_rows(version, SIZE, seed):
        for row in rows.rows:
            h.update(repr((rows.table, row)).encode())
    return h.hexdigest()


@pytest.mark.parametrize("version", VERSIONS)
def test_same_seed_gives_same_rows_and_another_seed_other_rows(version: str) -> None:
    assert digest(version, 1) == digest(version, 1)
    assert digest(version, 1) != digest(version, 2)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_row_fits_its_columns(version: str) -> None:
    schema = schema_for(version)
    for rows in table_rows(version, SIZE, 1):
        assert set(rows.columns) <= set(schema.table(rows.table).column_names), rows.table
        for row in rows.rows:
            assert len(row) == len(rows.columns), rows.table


def test_models_and_skus_are_unique_and_zero_padded() -> None:
    prod = data.products("3.0.3.8", 500, 1, 0)
    rows = list(prod.rows)
    model, sku = prod.columns.index("model"), prod.columns.index("sku")
    assert rows[0][model] == "M00001" and rows[0][sku] == "SKU-00001"
    assert len({r[model] for r in rows}) == len({r[sku] for r in rows}) == 500
    # the large size widens the codes so they stay unique and sort in order
    assert data.product_model(1, 100_000) == "M000001" and data.product_sku(100_000, 100_000) == "SKU-100000"


def test_41_discounts_are_fixed_prices_with_specials_as_quantity_one_rows() -> None:
    rows = data.discounts("4.1.0.4", 20, 1, 3)
    cols = rows.columns
    found = [dict(zip(cols, r, strict=True)) for r in rows.rows]
    assert {r["type"] for r in found} == {"F"}
    specials = [r for r in found if r["special"] == 1]
    assert specials and all(r["quantity"] == 1 for r in specials)
    assert all(r["date_start"] == r["date_end"] == "0000-00-00" for r in found)
    tiers = [r for r in found if r["special"] == 0]
    assert {r["customer_group_id"] for r in tiers} == {1, 3}


def test_30_specials_live_in_their_own_table() -> None:
    assert [r for r in data.discounts("3.0.3.8", 20, 1, 3).rows]
    specials = list(data.specials(20, 1).rows)
    assert [r[0] for r in specials] == [pid for pid in range(1, 21) if data.has_special(pid)]


def test_settings_follow_the_version_keys() -> None:
    def keys(version: str) -> dict[str, object]:
        rows = data.settings(version, "S")
        return {r[3]: r[4] for r in rows.rows}  # type: ignore[attr-defined]

    s30, s40, s41 = keys("3.0.3.8"), keys("4.0.2.3"), keys("4.1.0.4")
    for k in (s30, s40, s41):
        assert k["config_maintenance"] == "0" and k["config_error_display"] == "1"
        assert k["config_customer_group_id"] == "1"
    assert "config_admin_language" in s30 and s30["config_theme"] == "default"
    assert "config_language" in s40 and "config_language_admin" in s40
    assert "config_language_catalog" in s41 and "config_language" not in s41
    assert s41["config_session_samesite"] == "Strict" and s41["config_theme"] == "basic"


def test_admin_password_hash_matches_opencart_30_scheme() -> None:
    user = data.admin_users("3.0.3.8")[1]
    row = dict(zip(user.columns, next(iter(user.rows)), strict=True))
    assert row["password"] == data.sha1_salted(data.ADMIN_PASSWORD, str(row["salt"]))
