"""Read-only snapshots of what the store holds: products by key, customer groups, table engines."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pymysql.connections
import pymysql.cursors

from maint.errors import SqlError
from maint.pricing.groups import GroupSnapshot
from maint.pricing.prices import CatalogEntry, normalise_key
from maint.pricing.schema import PriceSchema
from maint.remote.sql import table

IN_BATCH = 1000
FULL_SCAN_ABOVE = 5000  # beyond this many keys one streamed scan beats many IN (…) queries


@dataclass(frozen=True)
class ProductSource:
    """Where a store keeps (product_id, key, price) for a match field: product, or product_code on 4.1."""

    id_expr: str
    key_expr: str
    price_expr: str
    from_where: str  # ends in a WHERE clause, so filters can be appended with AND
    order_expr: str  # a unique integer key to read it in chunks by (a primary key: a cheap range scan)


def product_source(prefix: str, schema: PriceSchema, match: str) -> ProductSource:
    product = table(prefix, "product")
    if match == "sku" and schema.sku_in_product_code:
        code = table(prefix, "product_code")
        return ProductSource(
            f"{product}.product_id",
            f"{code}.value",
            f"{product}.price",
            f"{code} JOIN {product} ON {product}.product_id = {code}.product_id WHERE {code}.code = 'SKU'",
            f"{code}.product_code_id",
        )
    column = {"sku": "sku", "model": "model", "product_id": "product_id"}[match]
    return ProductSource(
        f"{product}.product_id",
        f"{product}.{column}",
        f"{product}.price",
        f"{product} WHERE 1=1",
        f"{product}.product_id",
    )


def read_catalog(
    db: pymysql.connections.Connection,
    prefix: str,
    schema: PriceSchema,
    match: str,
    keys: Iterable[str],
    *,
    prefetched: CatalogPrefetch | None = None,
) -> dict[str, list[CatalogEntry]]:
    """Products whose key (sku, model or product_id) is among `keys`, by normalised key.

    `prefetched`: the full scan already started (see CatalogPrefetch); used when the keys are many enough
    for a full scan anyway, else waited for and dropped."""
    wanted_set = {k.strip().casefold() for k in keys if k.strip()}  # normalise_key(), inlined: 100,000 keys
    source = product_source(prefix, schema, match)
    if prefetched is not None:
        chunks = prefetched.result()
        if len(wanted_set) > FULL_SCAN_ABOVE and prefetched.source == source:
            catalog_: dict[str, list[CatalogEntry]] = {}
            _add_wanted(catalog_, wanted_set, (r for count, text in chunks for r in unpack(count, text, 3)))
            return catalog_
    catalog: dict[str, list[CatalogEntry]] = {}

    def add(rows: Iterable[Sequence[Any]]) -> None:
        _add_wanted(catalog, wanted_set, rows)

    wanted = sorted(wanted_set)
    if len(wanted) > FULL_SCAN_ABOVE:
        add(
            packed_select(
                db,
                [source.id_expr, source.key_expr, source.price_expr],
                source.from_where,
                [],
                source.order_expr,
            )
        )
        return catalog
    select = f"SELECT {source.id_expr}, {source.key_expr}, {source.price_expr} FROM {source.from_where}"
    with db.cursor() as cur:
        for start in range(0, len(wanted), IN_BATCH):
            chunk = wanted[start : start + IN_BATCH]
            marks = ",".join(["%s"] * len(chunk))
            cur.execute(f"{select} AND {source.key_expr} IN ({marks})", chunk)  # noqa: S608
            add(cur.fetchall())
    return catalog


def _add_wanted(
    found: dict[str, list[CatalogEntry]], wanted: set[str], rows: Iterable[Sequence[Any]]
) -> None:
    # the hot loop of a 100,000-row list: locals only, no helper calls
    for product_id, key, price in rows:
        norm = str(key).strip().casefold()  # = normalise_key()
        if norm in wanted:
            entry = CatalogEntry(int(product_id), Decimal(price))
            if norm in found:
                found[norm].append(entry)
            else:
                found[norm] = [entry]


def table_engine(db: pymysql.connections.Connection, prefix: str, name: str) -> str:
    table(prefix, name)  # validates the name
    with db.cursor() as cur:
        cur.execute(
            "SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = %s",
            (prefix + name,),
        )
        row = cur.fetchone()
    return str(row[0]) if row else ""


def read_groups(db: pymysql.connections.Connection, prefix: str) -> dict[str, int]:
    """Customer groups by normalised name (every language) and by id."""
    groups: dict[str, int] = {}
    group, description = table(prefix, "customer_group"), table(prefix, "customer_group_description")
    with db.cursor() as cur:
        cur.execute(
            f"SELECT {group}.customer_group_id, {description}.name FROM {group} "  # noqa: S608
            f"LEFT JOIN {description} ON {description}.customer_group_id = {group}.customer_group_id"
        )
        for group_id, name in cur.fetchall():
            groups[str(group_id)] = int(group_id)
            if name:
                groups.setdefault(normalise_key(str(name)), int(group_id))
    return groups


def read_discounts(
    db: pymysql.connections.Connection,
    prefix: str,
    columns: tuple[str, ...],
    filters: tuple[tuple[str, str], ...],
    product_ids: Iterable[int],
    *,
    table_name: str = "product_discount",
    pk: str = "product_discount_id",
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
            cur.execute(
                f"SELECT {select} FROM {target} WHERE product_id IN ({marks}){where}",  # noqa: S608
                [*chunk, *(v for _, v in filters)],
            )
            for row in cur.fetchall():
                found.setdefault((int(row[1]), int(row[2])), []).append(tuple(row))
    return found


def read_group_snapshot(db: pymysql.connections.Connection, prefix: str) -> GroupSnapshot:
    group, description, language = (
        table(prefix, n) for n in ("customer_group", "customer_group_description", "language")
    )
    with db.cursor() as cur:
        cur.execute(f"SELECT customer_group_id, approval, sort_order FROM {group}")  # noqa: S608
        groups = {int(g): (int(a or 0), int(s or 0)) for g, a, s in cur.fetchall()}
        columns = "customer_group_id, language_id, name, description"
        cur.execute(f"SELECT {columns} FROM {description}")  # noqa: S608
        descriptions = [(int(g), int(lang), str(n or ""), str(d or "")) for g, lang, n, d in cur.fetchall()]
        cur.execute(f"SELECT language_id FROM {language} ORDER BY language_id")  # noqa: S608
        languages = [int(row[0]) for row in cur.fetchall()] or sorted(
            {lang for _, lang, _, _ in descriptions}
        )
    return GroupSnapshot(descriptions, groups, languages)


def read_customers(
    db: pymysql.connections.Connection, prefix: str, emails: Iterable[str]
) -> dict[str, list[tuple[int, int]]]:
    """Customers by lower-case e-mail: (customer_id, customer_group_id)."""
    target = table(prefix, "customer")
    wanted = sorted({e.lower() for e in emails if e})
    found: dict[str, list[tuple[int, int]]] = {}
    with db.cursor() as cur:
        for start in range(0, len(wanted), IN_BATCH):
            chunk = wanted[start : start + IN_BATCH]
            marks = ",".join(["%s"] * len(chunk))
            cur.execute(
                f"SELECT customer_id, email, customer_group_id FROM {target} "  # noqa: S608
                f"WHERE email IN ({marks})",
                chunk,
            )
            for customer_id, email, group_id in cur.fetchall():
                found.setdefault(str(email).strip().lower(), []).append(
                    (int(customer_id), int(group_id or 0))
                )
    return found


def read_default_group(db: pymysql.connections.Connection, prefix: str) -> int:
    """The store's default customer group (setting config_customer_group_id), 1 when unset."""
    with db.cursor() as cur:
        cur.execute(
            f"SELECT value FROM {table(prefix, 'setting')} WHERE store_id = 0 "  # noqa: S608
            "AND `key` = 'config_customer_group_id'"
        )
        row = cur.fetchone()
    return int(row[0]) if row and str(row[0]).isdigit() else 1


_UNIT, _RECORD, _NULL = "\x1f", "\x1e", "\x1d"  # ASCII separators: they don't occur in prices, SKUs or models
PACKED_ROWS: int | None = None  # rows per packed result; None: as many as max_allowed_packet surely holds
PACKED_ROW_BYTES = 160  # a generous upper bound for one packed (id, key, price) row


def packed_select(
    db: pymysql.connections.Connection,
    exprs: Sequence[str],
    from_where: str,
    params: Sequence[Any],
    key_expr: str,
    *,
    chunk: int | None = None,
) -> Iterator[list[str | None]]:
    """Stream a large result as a few big packets: the server joins each chunk of rows into one string.

    Reading 100,000 small rows one packet at a time through the SSH channel costs seconds; packed it
    costs a few round trips. `from_where` must end in a WHERE clause; `key_expr` (an integer key) orders
    the chunks.
    """
    for count, text in packed_chunks(db, exprs, from_where, params, key_expr, chunk=chunk):
        yield from unpack(count, text, len(exprs))


def packed_chunks(
    db: pymysql.connections.Connection,
    exprs: Sequence[str],
    from_where: str,
    params: Sequence[Any],
    key_expr: str,
    *,
    chunk: int | None = None,
) -> Iterator[tuple[int, str]]:
    """The packed chunks of packed_select() as (row count, text), not yet split (compact to keep)."""
    fields = ", ".join(f"IFNULL(CAST({e} AS CHAR), CHAR(29 USING utf8mb4))" for e in exprs)
    with db.cursor() as cur:
        cur.execute("SELECT @@max_allowed_packet")
        (packet,) = cur.fetchone()
        chunk = chunk or PACKED_ROWS or max(1000, int(packet) // PACKED_ROW_BYTES)
        cur.execute("SET SESSION group_concat_max_len = %s", (int(packet),))
        last: int | None = None
        while True:
            after = f" AND {key_expr} > %s" if last is not None else ""
            cur.execute(
                # noqa: S608 - identifiers from table()/fixed expressions; values are parameters
                f"SELECT COUNT(*), MAX(k), GROUP_CONCAT(line SEPARATOR '{_RECORD}') FROM ("
                f"SELECT {key_expr} AS k, CONCAT_WS(CHAR(31 USING utf8mb4), {fields}) AS line "
                f"FROM {from_where}{after} ORDER BY {key_expr} LIMIT {int(chunk)}) AS chunk",
                [*params, last] if last is not None else list(params),
            )
            count, last_key, packed = cur.fetchone()
            if not count:
                return
            yield int(count), str(packed)
            if count < chunk:
                return
            last = int(last_key)


def unpack(count: int, text: str, width: int) -> Iterator[list[str | None]]:
    """The rows of one packed chunk."""
    # separator counts checked on the whole string (C speed) instead of row by row
    if text.count(_RECORD) != count - 1 or text.count(_UNIT) != count * (width - 1):
        raise SqlError("the data holds ASCII separator characters; cannot read it packed")
    has_null = _NULL in text
    for record in text.split(_RECORD):  # one row at a time: 100,000 row lists at once cost ~20 MB
        values: list[str | None] = record.split(_UNIT)  # type: ignore[assignment]
        yield [None if v == _NULL else v for v in values] if has_null else values


IO_SWITCH_INTERVAL = 0.001  # seconds


@contextmanager
def quick_thread_switches() -> Iterator[None]:
    """Pass the interpreter lock on every 1 ms instead of every 5 ms while threads wait on the SSH connection.

    Paramiko's transport thread needs the lock for every packet that arrives; a thread busy parsing the
    file would otherwise keep it waiting up to 5 ms each time, which doubled the time of the product read
    running alongside the parse (and of the lock taken alongside the load)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, IO_SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


class CatalogPrefetch:
    """The full (product_id, key, price) scan read_catalog() does for a big list, started in a thread so it
    runs while the file is still being parsed: most of it is waiting on the server and the SSH channel.

    Only the packed chunk texts are kept (about 25 bytes a product); the wanted keys filter them later.
    `db` must not be used by anyone else until result() or close() returned.
    """

    def __init__(
        self, db: pymysql.connections.Connection, prefix: str, schema: PriceSchema, match: str
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.source = product_source(prefix, schema, match)
        source = self.source
        self._switches = quick_thread_switches()
        self._switches.__enter__()
        self._switching = True
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._future = self._pool.submit(
            lambda: list(
                packed_chunks(
                    db,
                    [source.id_expr, source.key_expr, source.price_expr],
                    source.from_where,
                    [],
                    source.order_expr,
                )
            )
        )

    def result(self) -> list[tuple[int, str]]:
        try:
            return self._future.result()
        finally:
            self.close()

    def close(self) -> None:
        """Wait for the thread (the connection is free again after this); its outcome is dropped."""
        self._pool.shutdown(wait=True)
        if self._switching:
            self._switching = False
            self._switches.__exit__(None, None, None)
