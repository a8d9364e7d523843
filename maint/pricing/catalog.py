"""Read-only snapshots of what the store holds: products by key, customer groups, table engines."""

from __future__ import annotations

import queue
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pymysql.connections
import pymysql.cursors

from maint.errors import SqlError
from maint.pricing.groups import GroupSnapshot
from maint.pricing.prices import ProductMatches, normalise_key
from maint.pricing.schema import PriceSchema
from maint.remote.sql import table

IN_BATCH = 1000
FULL_SCAN_ABOVE = 5000  # beyond this many keys one streamed scan beats many IN (…) queries
SPLIT_ABOVE = 20_000  # a prefetch reads the products in two halves at once beyond about this many


@dataclass(frozen=True)
class ProductSource:
    """Where a store keeps (product_id, key, price) for a match field: product, or product_code on 4.1."""

    id_expr: str
    key_expr: str
    price_expr: str  # 4 decimal places whatever the column's type: plans compare prices as text
    from_where: str  # ends in a WHERE clause, so filters can be appended with AND
    order_expr: str  # a unique integer key to read it in chunks by (a primary key: a cheap range scan)
    order_table: str  # the table order_expr belongs to


def product_source(prefix: str, schema: PriceSchema, match: str) -> ProductSource:
    product = table(prefix, "product")
    if match == "sku" and schema.sku_in_product_code:
        code = table(prefix, "product_code")
        return ProductSource(
            f"{product}.product_id",
            f"{code}.value",
            f"CAST({product}.price AS DECIMAL(15,4))",
            f"{code} JOIN {product} ON {product}.product_id = {code}.product_id WHERE {code}.code = 'SKU'",
            f"{code}.product_code_id",
            code,
        )
    column = {"sku": "sku", "model": "model", "product_id": "product_id"}[match]
    return ProductSource(
        f"{product}.product_id",
        f"{product}.{column}",
        f"CAST({product}.price AS DECIMAL(15,4))",
        f"{product} WHERE 1=1",
        f"{product}.product_id",
        product,
    )


def read_catalog(
    db: pymysql.connections.Connection,
    prefix: str,
    schema: PriceSchema,
    match: str,
    keys: Iterable[str],
    *,
    prefetched: CatalogPrefetch | None = None,
    normalised: bool = False,
) -> ProductMatches:
    """Products whose key (sku, model or product_id) is among `keys`, by normalised key.

    `prefetched`: the full scan already started (see CatalogPrefetch); used when the keys are many enough
    for a full scan anyway, else waited for and dropped. `normalised`: `keys` is a list already through
    normalise_key() (kept by the result: resolve_prices() then uses the result as it is)."""
    wanted = keys if normalised and isinstance(keys, list) else list(map(str.casefold, map(str.strip, keys)))
    matches = ProductMatches(wanted)
    source = product_source(prefix, schema, match)
    distinct = len(matches.first_of) - ("" in matches.first_of)
    if prefetched is not None:
        if distinct > FULL_SCAN_ABOVE and prefetched.source == source:
            for count, text in prefetched.chunks():
                _add_packed(matches, count, text)
            return matches
        prefetched.close()
    exprs = [source.id_expr, source.key_expr, source.price_expr]
    if distinct > FULL_SCAN_ABOVE:
        for count, text in packed_chunks(db, exprs, source.from_where, [], source.order_expr):
            _add_packed(matches, count, text)
        return matches
    select = f"SELECT {source.id_expr}, {source.key_expr}, {source.price_expr} FROM {source.from_where}"
    few = sorted(k for k in matches.first_of if k)
    with db.cursor() as cur:
        for start in range(0, len(few), IN_BATCH):
            chunk = few[start : start + IN_BATCH]
            marks = ",".join(["%s"] * len(chunk))
            cur.execute(f"{select} AND {source.key_expr} IN ({marks})", chunk)  # noqa: S608
            rows = cur.fetchall()
            if rows:
                ids, found, prices = zip(*rows, strict=True)
                norm = [normalise_key("" if k is None else str(k)) for k in found]
                matches.add(ids, norm, [str(p) for p in prices])
    return matches


def _add_packed(matches: ProductMatches, count: int, text: str) -> None:
    ids, keys, prices = unpack_columns(count, text, 3)
    if _NULL in text:
        keys = ["" if k is None else k for k in keys]  # a product without this key: no row matches ""
        if None in prices or None in ids:
            raise SqlError("a product without an id or a price; cannot plan prices for it")
    norm = list(map(str.casefold, map(str.strip, keys)))  # type: ignore[arg-type]
    matches.add(ids, norm, prices)  # type: ignore[arg-type]


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
GROUP_CONCAT_BYTES: int | None = None  # longest packed result; None: max_allowed_packet (tests: smaller)


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
    line = f"CONCAT_WS(CHAR(31 USING utf8mb4), {fields})"
    with db.cursor() as cur:
        cur.execute("SELECT @@max_allowed_packet")
        (packet,) = cur.fetchone()
        fits = max(1000, int(packet) // PACKED_ROW_BYTES)  # rows one result packet surely holds
        chunk = min(chunk or PACKED_ROWS or fits, fits)
        cur.execute("SET SESSION group_concat_max_len = %s", (GROUP_CONCAT_BYTES or int(packet),))
        if 2 * _estimated_rows(cur, from_where, params) <= chunk:
            # surely one chunk: read it without ordering it first (for 100,000 products 50 ms less)
            cur.execute(
                # noqa: S608 - identifiers from table()/fixed expressions; values are parameters
                f"SELECT COUNT(*), GROUP_CONCAT({line} SEPARATOR '{_RECORD}') FROM {from_where}",
                list(params),
            )
            count, packed = cur.fetchone()
            if not count:
                return
            if packed is not None and packed.count(_RECORD) == count - 1:
                yield int(count), str(packed)
                return
            # cut at the packet size (the estimate was far off) or separators in the data: in chunks
        last: int | None = None
        while True:
            after = f" AND {key_expr} > %s" if last is not None else ""
            cur.execute(
                # noqa: S608 - identifiers from table()/fixed expressions; values are parameters
                f"SELECT COUNT(*), MAX(k), GROUP_CONCAT(line SEPARATOR '{_RECORD}') FROM ("
                f"SELECT {key_expr} AS k, {line} AS line "
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


def _estimated_rows(cur: pymysql.cursors.Cursor, from_where: str, params: Sequence[Any]) -> int:
    """The optimizer's estimate of the rows a FROM … WHERE gives (EXPLAIN: no rows are read)."""
    cur.execute(f"EXPLAIN SELECT 1 FROM {from_where}", list(params))  # noqa: S608 - as in packed_chunks
    column = [d[0].lower() for d in cur.description].index("rows")
    estimate = 1
    for row in cur.fetchall():
        estimate *= max(1, int(row[column] or 1))  # per joined table
    return estimate


def unpack_columns(count: int, text: str, width: int) -> list[list[str | None]]:
    """The columns of one packed chunk: splitting the whole text once is C speed, row by row is not."""
    cells: list[str | None] = text.replace(_RECORD, _UNIT).split(_UNIT)  # type: ignore[assignment]
    if len(cells) != count * width or text.count(_RECORD) != count - 1:
        raise SqlError("the data holds ASCII separator characters; cannot read it packed")
    columns = [cells[i::width] for i in range(width)]
    if _NULL in text:
        columns = [[None if v == _NULL else v for v in column] for column in columns]
    return columns


def unpack(count: int, text: str, width: int) -> Iterator[list[str | None]]:
    """The rows of one packed chunk (its columns, zipped)."""
    return map(list, zip(*unpack_columns(count, text, width), strict=True))


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


Connector = Callable[[], pymysql.connections.Connection]


class CatalogPrefetch:
    """The full (product_id, key, price) scan read_catalog() does for a big list, started in threads so it
    runs while the file is still being parsed: most of it is waiting on the server and the SSH channel.

    With `second` (opens another database connection), the products are read in two halves at once, one
    on each connection: the server packs them on two cores (for 100,000 products on 4.1, which joins
    product_code, about 60 ms sooner). The chunks (packed texts, about 25 bytes a product) are handed
    over in order as they arrive (chunks()), so the caller indexes the first half while the second is
    still on its way. `db` must not be used by anyone else until the chunks are all read or close()
    returned.
    """

    def __init__(
        self,
        db: pymysql.connections.Connection,
        prefix: str,
        schema: PriceSchema,
        match: str,
        *,
        second: Connector | None = None,
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.source = product_source(prefix, schema, match)
        self._queues: list[queue.SimpleQueue[tuple[int, str] | None]] = [queue.SimpleQueue()]
        self._switches = quick_thread_switches()
        self._switches.__enter__()
        self._switching = True
        self._pool = ThreadPoolExecutor(max_workers=2)
        halves = self._halves(db) if second is not None else None
        if halves is None or second is None:
            self._futures = [self._pool.submit(self._read, db, "", self._queues[0])]
            return
        self._queues.append(queue.SimpleQueue())
        first = self._pool.submit(self._read, db, halves[0], self._queues[0])
        self._futures = [first, self._pool.submit(self._read_apart, second, db, first, halves[1])]

    def _halves(self, db: pymysql.connections.Connection) -> tuple[str, str] | None:
        """Two conditions splitting the products in two by their ordering key (its table's primary key:
        MIN and MAX cost nothing); None when there is little to split."""
        key = self.source.order_expr
        with db.cursor() as cur:
            cur.execute(f"SELECT MIN({key}), MAX({key}) FROM {self.source.order_table}")  # noqa: S608
            low, high = cur.fetchone()
        if low is None or int(high) - int(low) < 2 * SPLIT_ABOVE:
            return None
        middle = (int(low) + int(high)) // 2
        return f" AND {key} <= {middle}", f" AND {key} > {middle}"

    def _read(
        self, db: pymysql.connections.Connection, where: str, out: queue.SimpleQueue[tuple[int, str] | None]
    ) -> None:
        source = self.source
        try:
            for chunk in packed_chunks(
                db,
                [source.id_expr, source.key_expr, source.price_expr],
                source.from_where + where,
                [],
                source.order_expr,
            ):
                out.put(chunk)
        finally:
            out.put(None)  # the end, or a failure that chunks() raises

    def _read_apart(
        self, second: Connector, db: pymysql.connections.Connection, first: Future[None], where: str
    ) -> None:
        """The second half on a connection of its own; on the first one, after the first half, when a second
        connection can't be had (the server's max_connections, say)."""
        try:
            other = second()
        except Exception:  # noqa: BLE001 - any failure to connect: the first connection will do
            first.exception()  # waits for the first half, whatever its outcome
            self._read(db, where, self._queues[1])
            return
        except BaseException:
            self._queues[1].put(None)  # chunks() must not wait for a half that never comes
            raise
        try:
            self._read(other, where, self._queues[1])
        finally:
            other.close()

    def chunks(self) -> Iterator[tuple[int, str]]:
        """The chunks in order, as they arrive; a thread's error, if one failed, at the end."""
        try:
            for part in self._queues:
                while (chunk := part.get()) is not None:
                    yield chunk
            for future in self._futures:
                future.result()
        finally:
            self.close()

    def result(self) -> list[tuple[int, str]]:
        return list(self.chunks())

    def close(self) -> None:
        """Wait for the threads (the connection is free again after this); their outcome is dropped."""
        self._pool.shutdown(wait=True)
        if self._switching:
            self._switching = False
            self._switches.__exit__(None, None, None)
