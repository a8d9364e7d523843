"""Read-only snapshots of what the store holds: products by key, customer groups, table engines."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import pymysql.connections
import pymysql.cursors

from maint.pricing.groups import GroupSnapshot
from maint.pricing.prices import CatalogEntry, normalise_key
from maint.pricing.schema import PriceSchema
from maint.remote.sql import table

IN_BATCH = 1000
FULL_SCAN_ABOVE = 5000  # beyond this many keys one streamed scan beats many IN (…) queries


def _product_query(prefix: str, schema: PriceSchema, match: str) -> tuple[str, str]:
    """The query listing (product_id, key, price), and the key expression to filter it on."""
    product = table(prefix, "product")
    if match == "sku" and schema.sku_in_product_code:
        code = table(prefix, "product_code")
        return (f"SELECT {product}.product_id, {code}.value, {product}.price FROM {code} "  # noqa: S608
                f"JOIN {product} ON {product}.product_id = {code}.product_id WHERE {code}.code = 'SKU'",
                f"{code}.value")
    column = {"sku": "sku", "model": "model", "product_id": "product_id"}[match]
    return f"SELECT product_id, {column}, price FROM {product} WHERE 1=1", column  # noqa: S608


def read_catalog(
    db: pymysql.connections.Connection, prefix: str, schema: PriceSchema, match: str, keys: Iterable[str]
) -> dict[str, list[CatalogEntry]]:
    """Products whose key (sku, model or product_id) is among `keys`, by normalised key."""
    wanted = sorted({normalise_key(k) for k in keys if k.strip()})
    base, key_expr = _product_query(prefix, schema, match)
    catalog: dict[str, list[CatalogEntry]] = {}
    wanted_set = set(wanted)

    def add(rows: Iterable[tuple[int, object, Decimal]]) -> None:
        for product_id, key, price in rows:
            norm = normalise_key(str(key))
            if norm in wanted_set:
                catalog.setdefault(norm, []).append(CatalogEntry(int(product_id), Decimal(price)))

    with db.cursor(pymysql.cursors.SSCursor) as cur:
        if len(wanted) > FULL_SCAN_ABOVE:
            cur.execute(base)
            while batch := cur.fetchmany(10000):
                add(batch)
        else:
            for start in range(0, len(wanted), IN_BATCH):
                chunk = wanted[start : start + IN_BATCH]
                marks = ",".join(["%s"] * len(chunk))
                cur.execute(f"{base} AND {key_expr} IN ({marks})", chunk)  # noqa: S608
                add(cur.fetchall())
    return catalog


def table_engine(db: pymysql.connections.Connection, prefix: str, name: str) -> str:
    table(prefix, name)  # validates the name
    with db.cursor() as cur:
        cur.execute("SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                    "AND TABLE_NAME = %s", (prefix + name,))
        row = cur.fetchone()
    return str(row[0]) if row else ""


def read_groups(db: pymysql.connections.Connection, prefix: str) -> dict[str, int]:
    """Customer groups by normalised name (every language) and by id."""
    groups: dict[str, int] = {}
    group, description = table(prefix, "customer_group"), table(prefix, "customer_group_description")
    with db.cursor() as cur:
        cur.execute(f"SELECT {group}.customer_group_id, {description}.name FROM {group} "  # noqa: S608
                    f"LEFT JOIN {description} ON {description}.customer_group_id = {group}.customer_group_id")
        for group_id, name in cur.fetchall():
            groups[str(group_id)] = int(group_id)
            if name:
                groups.setdefault(normalise_key(str(name)), int(group_id))
    return groups


def read_discounts(
    db: pymysql.connections.Connection, prefix: str, columns: tuple[str, ...], filters: tuple[tuple[str, str], ...],
    product_ids: Iterable[int], *, table_name: str = "product_discount", pk: str = "product_discount_id",
) -> dict[tuple[int, int], list[tuple[str | None, ...]]]:
    """Existing discount (or special) rows of these products, as text, by (product_id, customer_group_id).

    `columns` must start with product_id, customer_group_id."""
    target = table(prefix, table_name)
    table("", pk)
    for name in columns:
        table("", name)  # identifiers: letters, digits, _ only
    select = ", ".join(f"CAST(`{c}` AS CHAR)" for c in (pk, *columns))
    for name, _ in filters:
        table("", name)  # identifiers: letters, digits, _ only
    where = "".join(f" AND `{c}` = %s" for c, _ in filters)
    ids = sorted(set(product_ids))
    found: dict[tuple[int, int], list[tuple[str | None, ...]]] = {}
    with db.cursor() as cur:
        for start in range(0, len(ids), IN_BATCH):
            chunk = ids[start : start + IN_BATCH]
            marks = ",".join(["%s"] * len(chunk))
            cur.execute(f"SELECT {select} FROM {target} WHERE product_id IN ({marks}){where}",  # noqa: S608
                        [*chunk, *(v for _, v in filters)])
            for row in cur.fetchall():
                found.setdefault((int(row[1]), int(row[2])), []).append(tuple(row))
    return found


def read_group_snapshot(db: pymysql.connections.Connection, prefix: str) -> GroupSnapshot:
    group, description, language = (table(prefix, n) for n in ("customer_group", "customer_group_description",
                                                                 "language"))
    with db.cursor() as cur:
        cur.execute(f"SELECT customer_group_id, approval, sort_order FROM {group}")  # noqa: S608
        groups = {int(g): (int(a or 0), int(s or 0)) for g, a, s in cur.fetchall()}
        cur.execute(f"SELECT customer_group_id, language_id, name, description FROM {description}")  # noqa: S608
        descriptions = [(int(g), int(lang), str(n or ""), str(d or "")) for g, lang, n, d in cur.fetchall()]
        cur.execute(f"SELECT language_id FROM {language} ORDER BY language_id")  # noqa: S608
        languages = [int(row[0]) for row in cur.fetchall()] or sorted({lang for _, lang, _, _ in descriptions})
    return GroupSnapshot(descriptions, groups, languages)


def read_customers(db: pymysql.connections.Connection, prefix: str, emails: Iterable[str]
                   ) -> dict[str, list[tuple[int, int]]]:
    """Customers by lower-case e-mail: (customer_id, customer_group_id)."""
    target = table(prefix, "customer")
    wanted = sorted({e.lower() for e in emails if e})
    found: dict[str, list[tuple[int, int]]] = {}
    with db.cursor() as cur:
        for start in range(0, len(wanted), IN_BATCH):
            chunk = wanted[start : start + IN_BATCH]
            marks = ",".join(["%s"] * len(chunk))
            cur.execute(f"SELECT customer_id, email, customer_group_id FROM {target} "  # noqa: S608
                        f"WHERE email IN ({marks})", chunk)
            for customer_id, email, group_id in cur.fetchall():
                found.setdefault(str(email).strip().lower(), []).append((int(customer_id), int(group_id or 0)))
    return found


def read_default_group(db: pymysql.connections.Connection, prefix: str) -> int:
    """The store's default customer group (setting config_customer_group_id), 1 when unset."""
    with db.cursor() as cur:
        cur.execute(f"SELECT value FROM {table(prefix, 'setting')} WHERE store_id = 0 "  # noqa: S608
                    "AND `key` = 'config_customer_group_id'")
        row = cur.fetchone()
    return int(row[0]) if row and str(row[0]).isdigit() else 1
