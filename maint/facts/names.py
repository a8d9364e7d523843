"""The names people know things by (a product's, a customer group's), for plans and results that
say "Product 14 (iMac)" and "Default → Wholesale" rather than bare ids. Read-only, a few rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from maint.remote.sql import table


def get_product_names(db: Any, prefix: str, product_ids: Iterable[int]) -> dict[int, str]:
    """product_id → name, in the store's first language (the lowest language_id that has one)."""
    ids = sorted({int(i) for i in product_ids})
    if not ids:
        return {}
    marks = ",".join(["%s"] * len(ids))
    found: dict[int, str] = {}
    with db.cursor() as cur:
        cur.execute(
            f"SELECT product_id, name FROM {table(prefix, 'product_description')} "
            f"WHERE product_id IN ({marks}) ORDER BY language_id",
            ids,
        )
        for product_id, name in cur.fetchall():
            found.setdefault(int(product_id), str(name))
    return found


def get_group_names(db: Any, prefix: str) -> dict[int, str]:
    """customer_group_id → name, in the store's first language."""
    found: dict[int, str] = {}
    with db.cursor() as cur:
        cur.execute(
            f"SELECT customer_group_id, name FROM {table(prefix, 'customer_group_description')} "
            "ORDER BY language_id"
        )
        for group_id, name in cur.fetchall():
            found.setdefault(int(group_id), str(name))
    return found


def product_label(product_id: int, names: dict[int, str]) -> str:
    name = names.get(int(product_id))
    return f"Product {product_id} ({name})" if name else f"Product {product_id}"
