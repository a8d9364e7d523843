"""A second store in a sandbox install, as OpenCart's admin makes one (Settings → Stores → Add): an
`oc_store` row, its own `config_name`, and customers who signed up in it. For tests of multi-store shops
on the stand-in and on real releases alike (the columns are read, not assumed: 3.0 has `ssl`, 4.x not)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _columns(cur: Any, table: str) -> list[str]:
    cur.execute(f"SHOW COLUMNS FROM `{table}`")
    return [str(r[0]) for r in cur.fetchall()]


def add_store(db: Any, prefix: str, store_id: int, name: str, url: str, subscribers: Sequence[str]) -> None:
    """The store row and setting, and one enabled newsletter subscriber of `store_id` per address."""
    with db.cursor() as cur:
        row = {"store_id": store_id, "name": name, "url": url, "ssl": url}
        cols = [c for c in _columns(cur, f"{prefix}store") if c in row]
        cur.execute(f"INSERT INTO `{prefix}store` ({', '.join(f'`{c}`' for c in cols)}) "
                    f"VALUES ({', '.join(['%s'] * len(cols))})", tuple(row[c] for c in cols))
        cur.execute(f"INSERT INTO `{prefix}setting` (store_id, code, `key`, value, serialized) "
                    "VALUES (%s, 'config', 'config_name', %s, 0)", (store_id, name))
        # no strict mode for these rows: the NOT NULL columns without a default differ between releases
        cur.execute("SET SESSION sql_mode = ''")
        for n, address in enumerate(subscribers):
            cur.execute(f"INSERT INTO `{prefix}customer` SET customer_group_id = 1, store_id = %s, language_id = 1, "
                        "firstname = %s, lastname = 'Customer', email = %s, newsletter = 1, status = 1, "
                        "date_added = NOW()", (store_id, f"Second{n}", address))
    db.commit()


def remove_store(db: Any, prefix: str, store_id: int) -> None:
    """Everything add_store made, and products linked to the store since."""
    with db.cursor() as cur:
        for table in ("customer", "setting", "store", "product_to_store"):
            cur.execute(f"DELETE FROM `{prefix}{table}` WHERE store_id = %s", (store_id,))
    db.commit()
