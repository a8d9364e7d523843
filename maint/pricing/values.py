"""Reading current values of one column for a set of keys (for undo plans)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pymysql.cursors

from maint.remote.sql import table

IN_BATCH = 1000


def read_values(db: Any, prefix: str, table_name: str, key: str, column: str,
                keys: Sequence[int]) -> dict[int, Decimal | None]:
    target = table(prefix, table_name)
    table("", key), table("", column)  # identifiers: letters, digits, _ only
    found: dict[int, Decimal | None] = {}
    with db.cursor(pymysql.cursors.SSCursor) as cur:
        for start in range(0, len(keys), IN_BATCH):
            chunk = list(keys[start : start + IN_BATCH])
            marks = ",".join(["%s"] * len(chunk))
            cur.execute(f"SELECT `{key}`, `{column}` FROM {target} WHERE `{key}` IN ({marks})", chunk)  # noqa: S608
            for k, value in cur.fetchall():
                found[int(k)] = None if value is None else Decimal(value)
    return found
