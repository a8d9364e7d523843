"""Orders, customers and reviews placed after a snapshot, carried over a rollback to it.

An upgrade (or an extension install) that fails its storefront verification is rolled back after the
maintenance window has ended: customers could order for those seconds. Instead of discarding what they
placed, the rollback holds the store in maintenance, reads those rows (`hold`, before the restore),
restores the snapshot, and writes them back (`put_back`) into the restored, older schema:

- which rows: each new order, customer and review (ids above the snapshot's newest, as `newer_rows`
  finds them) and, in every other table with its key column (order_id, customer_id, review_id), the rows
  of it: an order's products, options, totals, history, vouchers...; a customer's addresses, IPs...;
- which columns: those both schemas have. A column only the new schema has is left out (named in the
  report); a column only the old schema requires (NOT NULL, no default) gets its type's zero (named too);
- ids kept: they are above the snapshot's, so they cannot clash; any that does (a row with that primary
  key, or rows of that order/customer already in the restored store) is not carried, with the reason;
- stock: the restore puts back the snapshot's quantities, which the carried orders had already taken
  from on the live store (OpenCart subtracts on the order's first processing status): the quantities of
  the products and option values the carried orders name are set back to what the live store had;
- one transaction; OpenCart 3.0's tables are MyISAM, which ignore a rollback, so a failed write also
  deletes the rows it had inserted: nothing half-applied;
- what was read is also saved (0600, in the state folder) before the restore, and kept when anything
  could not be carried: nothing is silently lost.

The planning (`follow`, `plan_writes`) is pure, for unit tests; `hold` and `put_back` talk to the database.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql
from fabric import Connection

from maint.config import StoreConfig
from maint.facts.opencart import StoreFacts
from maint.mirror.manifest import Manifest, Newest
from maint.mirror.modes import open_private, private_dirs
from maint.mirror.run import NEWEST_TABLES, newest_rows
from maint.ops.mirror import NOUNS
from maint.remote.sql import open_db, table

# Tables a page visit writes to: who was online is no order's data.
SKIP = frozenset({"customer_online", "session"})
CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class Shape:
    """One table as information_schema describes it: what can be written, and what must be."""

    columns: tuple[str, ...]  # writable columns (generated ones left out), in the table's order
    primary: tuple[str, ...] = ()
    required: Mapping[str, str] = field(default_factory=dict)  # NOT NULL, no default, not auto: column → type
    transactional: bool = True  # InnoDB; MyISAM (OpenCart 3.0) keeps an insert through a rollback
    # NOT NULL columns → what goes in for a NULL (4.1 made most columns nullable; 4.0 and 3.0 refuse NULL there,
    # even outside strict mode): the column's default, else its type's zero.
    not_null: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    table: str
    values: Mapping[str, Any]
    owners: frozenset[tuple[str, int]]  # the new orders/customers/reviews this row belongs to

    def key(self, primary: Sequence[str]) -> tuple[Any, ...]:
        return tuple(self.values.get(c) for c in primary)


@dataclass
class Held:
    """What `hold` read from the live store before the restore."""

    snapshot: str
    ids: dict[str, list[int]]  # entity → its new ids
    rows: list[Row]
    shapes: dict[str, Shape]  # the live (newer) schema's tables that were read
    guard: dict[str, Newest]  # the newest rows when read: a row arriving after that refuses the restore
    saved: Path | None = None
    # The stock the live store had after those orders: (table, id) → (quantity, the orders that took from it).
    stock: dict[tuple[str, int], tuple[int, frozenset[int]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any(self.ids.values())

    def describe(self) -> list[str]:
        """One line per entity: "2 order(s) #12, #13 with order_product 3, order_total 6 row(s)"."""
        out = []
        for entity, ids in self.ids.items():
            if not ids:
                continue
            owned: dict[str, int] = {}
            for row in self.rows:
                if row.table != entity and any(o[0] == entity for o in row.owners):
                    owned[row.table] = owned.get(row.table, 0) + 1
            shown = ", ".join(f"#{i}" for i in ids[:5]) + (", …" if len(ids) > 5 else "")
            extra = " with " + ", ".join(f"{t} {n}" for t, n in sorted(owned.items())) + " row(s)" if owned else ""
            out.append(f"{len(ids)} {NOUNS.get(entity, entity)} {shown}{extra}")
        return out


@dataclass
class WritePlan:
    inserts: dict[str, tuple[tuple[str, ...], list[Row]]] = field(default_factory=dict)  # table → (columns, rows)
    carried: dict[str, list[int]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # "order #13: why" / "3 order_subscription row(s) …: why"
    left_out: list[str] = field(default_factory=list)  # columns only the live schema has
    filled: list[str] = field(default_factory=list)  # columns only the restored schema requires
    stock: dict[tuple[str, int], int] = field(default_factory=dict)  # (table, id) → the live store's quantity

    @property
    def rows(self) -> int:
        return sum(len(rows) for _, rows in self.inserts.values())


def follow(shapes: Mapping[str, Shape], entity: str) -> list[str]:
    """The tables holding rows of a new `entity`: its own table first, then every other table with its key
    column (found in the schema, so a release's or an extension's own order tables come along)."""
    key = NEWEST_TABLES[entity]
    if entity not in shapes:
        return []
    others = sorted(name for name, shape in shapes.items()
                    if name != entity and name not in SKIP and key in shape.columns)
    return [entity, *others]


def zero_of(data_type: str) -> Any:
    """The value MySQL itself stores for a missing NOT NULL column outside strict mode."""
    kind = data_type.lower()
    if kind in ("datetime", "timestamp"):
        return "0000-00-00 00:00:00"
    if kind == "date":
        return "0000-00-00"
    if kind == "time":
        return "00:00:00"
    if kind in ("tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "float", "double",
                "bit", "year"):
        return 0
    return ""


def plan_writes(held: Held, restored: Mapping[str, Shape], present: set[tuple[str, tuple[Any, ...]]],
                owned: set[tuple[str, int]], version: str = "the snapshot") -> WritePlan:
    """Which rows and columns go back. present: (table, primary key) of the held rows the restored store
    already has; owned: the new (entity, id)s the restored store already has rows of. Either refuses the
    entity (and whatever belongs to it); a table the restored schema lacks loses only its own rows (listed)."""
    plan = WritePlan()
    refused: dict[tuple[str, int], str] = {}
    for entity, ids in held.ids.items():
        for i in ids:
            if entity not in restored:
                refused[(entity, i)] = f"{version}'s schema has no {entity} table"
            elif (entity, i) in owned:
                refused[(entity, i)] = f"the restored store already has rows of {entity} #{i}"
    for row in held.rows:
        shape = restored.get(row.table)
        if shape is not None and shape.primary and (row.table, row.key(shape.primary)) in present:
            for owner in row.owners:
                refused.setdefault(owner, f"{row.table} {'/'.join(map(str, row.key(shape.primary)))} is already "
                                          "in the restored store (an id taken twice)")
    # A refused customer takes its orders and reviews along (a row of it), and so on until nothing changes.
    changed = True
    while changed:
        changed = False
        for row in held.rows:
            if row.table in NEWEST_TABLES and refused.keys() & row.owners:
                own = (row.table, int(row.values[NEWEST_TABLES[row.table]]))
                if own not in refused:
                    by = min(refused.keys() & row.owners)
                    refused[own] = f"it belongs to {by[0]} #{by[1]} ({refused[by]})"
                    changed = True
    plan.refused += [f"{NOUNS.get(e, e).replace('(s)', '')} #{i}: {why}" for (e, i), why in sorted(refused.items())]
    missing: dict[str, int] = {}
    for row in held.rows:
        if refused.keys() & row.owners:
            continue
        shape = restored.get(row.table)
        if shape is None:
            missing[row.table] = missing.get(row.table, 0) + 1
            continue
        if row.table not in plan.inserts:
            live = held.shapes[row.table].columns
            columns = tuple(c for c in shape.columns if c in live or c in shape.required)
            plan.inserts[row.table] = (columns, [])
            plan.left_out += [f"{row.table}.{c}" for c in live if c not in shape.columns]
            plan.filled += [f"{row.table}.{c} = {zero_of(t)!r}" for c, t in shape.required.items() if c not in live]
        for column, value in shape.not_null.items():
            note = f"{row.table}.{column} NULL → {value!r}"
            if row.values.get(column, 0) is None and note not in plan.filled:
                plan.filled.append(note)
        plan.inserts[row.table][1].append(row)
    plan.refused += [f"{n} {t} row(s): {version}'s schema has no {t} table" for t, n in sorted(missing.items())]
    for entity, ids in held.ids.items():
        kept = [i for i in ids if (entity, i) not in refused]
        if kept:
            plan.carried[entity] = kept
    # The restore put back the snapshot's stock; a carried order took its products from the live store's.
    carried = set(plan.carried.get("order", ()))
    plan.stock = {k: qty for k, (qty, orders) in held.stock.items() if orders & carried and k[0] in restored}
    return plan


def values_of(row: Row, columns: Sequence[str], restored: Shape) -> tuple[Any, ...]:
    out = []
    for column in columns:
        value = row.values[column] if column in row.values else zero_of(restored.required.get(column, ""))
        out.append(restored.not_null[column] if value is None and column in restored.not_null else value)
    return tuple(out)


def default_of(default: str | None, data_type: str) -> Any:
    """information_schema's COLUMN_DEFAULT as a value ('abc' quoted by MariaDB, numbers bare; an expression
    such as current_timestamp() or none at all: the type's zero)."""
    if default is not None and len(default) >= 2 and default[0] == default[-1] == "'":
        return default[1:-1].replace("''", "'")
    if default is not None and re.fullmatch(r"-?\d+(\.\d+)?", default):
        return default
    return zero_of(data_type)


# -- the database side --------------------------------------------------------------------------------------------
def read_shapes(db: pymysql.connections.Connection, prefix: str) -> dict[str, Shape]:
    """Every table of the store's prefix: columns (generated ones left out), primary key, required columns."""
    columns: dict[str, list[str]] = {}
    required: dict[str, dict[str, str]] = {}
    not_null: dict[str, dict[str, Any]] = {}
    with db.cursor() as cur:
        cur.execute("SELECT TABLE_NAME, COLUMN_NAME, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, DATA_TYPE "
                    "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, "
                    "ORDINAL_POSITION")
        for name, column, nullable, default, extra, data_type in cur.fetchall():
            if not str(name).startswith(prefix) or "GENERATED" in str(extra or "").upper():
                continue
            short = str(name)[len(prefix):]
            columns.setdefault(short, []).append(str(column))
            if nullable == "NO" and "auto_increment" not in str(extra or "").lower():
                not_null.setdefault(short, {})[str(column)] = default_of(default, str(data_type))
                if default is None:
                    required.setdefault(short, {})[str(column)] = str(data_type)
        cur.execute("SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
                    "AND INDEX_NAME = 'PRIMARY' ORDER BY TABLE_NAME, SEQ_IN_INDEX")
        primary: dict[str, list[str]] = {}
        for name, column in cur.fetchall():
            if str(name).startswith(prefix):
                primary.setdefault(str(name)[len(prefix):], []).append(str(column))
        cur.execute("SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
        plain = {str(name)[len(prefix):] for name, engine in cur.fetchall()
                 if str(name).startswith(prefix) and str(engine or "").lower() in ("myisam", "aria", "memory")}
    return {t: Shape(tuple(cols), tuple(primary.get(t, ())), required.get(t, {}), t not in plain, not_null.get(t, {}))
            for t, cols in columns.items()}


def _chunks(ids: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def new_ids(db: pymysql.connections.Connection, prefix: str, man: Manifest, entity: str) -> list[int]:
    """The ids `newer_rows` counts: past the snapshot's max id, or added after its newest row."""
    from maint.mirror.restore import newer_where

    key = NEWEST_TABLES[entity]
    where, args = newer_where(man, entity, key)
    with db.cursor() as cur:
        cur.execute(f"SELECT {key} FROM {table(prefix, entity)} WHERE {where} ORDER BY {key}", args)  # noqa: S608
        return [int(r[0]) for r in cur.fetchall()]


def read_held(db: pymysql.connections.Connection, prefix: str, man: Manifest, snapshot: str) -> Held:
    """Read-only: the new orders, customers and reviews and every row of them (the plan shows it too)."""
    shapes = read_shapes(db, prefix)
    ids = {entity: new_ids(db, prefix, man, entity) for entity in NEWEST_TABLES if entity in shapes}
    found: dict[tuple[str, tuple[Any, ...]], Row] = {}
    with db.cursor(pymysql.cursors.DictCursor) as cur:
        for entity, wanted in ids.items():
            key = NEWEST_TABLES[entity]
            for name in follow(shapes, entity) if wanted else []:
                shape = shapes[name]
                for part in _chunks(wanted):
                    marks = ", ".join(["%s"] * len(part))
                    cur.execute(f"SELECT * FROM {table(prefix, name)} WHERE {key} IN ({marks})", list(part))  # noqa: S608
                    for values in cur.fetchall():
                        ident = tuple(values.get(c) for c in shape.primary) or tuple(sorted(values.items()))
                        owner = (entity, int(values[key]))
                        old = found.get((name, ident))
                        found[(name, ident)] = Row(name, values, (old.owners if old else frozenset()) | {owner})
    guard = newest_rows(db, prefix, [prefix + t for t in shapes])
    held = Held(snapshot, ids, list(found.values()), {t: shapes[t] for t in {r.table for r in found.values()}}, guard)
    held.stock = read_stock(db, prefix, shapes, held.rows)
    return held


# Where an order's lines take stock from: (line table, its column naming the stock row, the stock table).
STOCK = (("order_product", "product_id", "product"), ("order_option", "product_option_value_id", "product_option_value"))


def read_stock(db: pymysql.connections.Connection, prefix: str, shapes: Mapping[str, Shape],
               rows: Sequence[Row]) -> dict[tuple[str, int], tuple[int, frozenset[int]]]:
    """The quantity of every product (and option value) the held orders' lines name, as the live store has it."""
    out: dict[tuple[str, int], tuple[int, frozenset[int]]] = {}
    with db.cursor() as cur:
        for lines, column, stock in STOCK:
            if stock not in shapes or "quantity" not in shapes[stock].columns:
                continue
            orders: dict[int, set[int]] = {}
            for row in rows:
                if row.table == lines and row.values.get(column):
                    orders.setdefault(int(row.values[column]), set()).add(int(row.values["order_id"]))
            ids = sorted(orders)
            for part in _chunks(ids):
                marks = ", ".join(["%s"] * len(part))
                cur.execute(f"SELECT {column}, quantity FROM {table(prefix, stock)} WHERE {column} IN ({marks})",  # noqa: S608
                            list(part))
                out |= {(stock, int(i)): (int(q), frozenset(orders[int(i)])) for i, q in cur.fetchall()}
    return out


def save(cfg: StoreConfig, held: Held) -> Path:
    """The held rows as JSON (0600, folder 0700): the copy that is kept when anything could not go back."""
    folder = Path(cfg.state_dir).expanduser() / "carryover"
    private_dirs(folder)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{cfg.client}-{cfg.store}-{stamp}.json"
    with open(open_private(path), "w", encoding="utf-8") as handle:
        json.dump({"store": cfg.store, "snapshot": held.snapshot, "ids": held.ids,
                   "rows": [{"table": r.table, "values": dict(r.values)} for r in held.rows]},
                  handle, indent=1, default=lambda v: v.hex() if isinstance(v, bytes) else str(v))
    return path


def hold(conn: Connection, cfg: StoreConfig, facts: StoreFacts, man: Manifest, snapshot: str) -> Held:
    """Before the restore, with the store in maintenance: read (and save) what it must carry over."""
    with open_db(conn, facts.db, store=cfg.store) as db:
        held = read_held(db, facts.db.prefix, man, snapshot)
    if held:
        held.saved = save(cfg, held)
    return held


def _present(db: pymysql.connections.Connection, prefix: str, held: Held,
             restored: Mapping[str, Shape]) -> tuple[set[tuple[str, tuple[Any, ...]]], set[tuple[str, int]]]:
    """Which held rows' primary keys, and which new entities' rows, the restored store already has."""
    present: set[tuple[str, tuple[Any, ...]]] = set()
    owned: set[tuple[str, int]] = set()
    with db.cursor() as cur:
        by_table: dict[str, list[Row]] = {}
        for row in held.rows:
            by_table.setdefault(row.table, []).append(row)
        for name, rows in by_table.items():
            shape = restored.get(name)
            if shape is None:
                continue
            if shape.primary and all(c in held.shapes[name].columns for c in shape.primary):
                keys = sorted({r.key(shape.primary) for r in rows}, key=repr)
                cols = ", ".join(f"`{c}`" for c in shape.primary)
                for part in _chunks(keys):
                    marks = ", ".join(["(" + ", ".join(["%s"] * len(shape.primary)) + ")"] * len(part))
                    cur.execute(f"SELECT {cols} FROM {table(prefix, name)} WHERE ({cols}) IN ({marks})",  # noqa: S608
                                [v for k in part for v in k])
                    present |= {(name, tuple(r)) for r in cur.fetchall()}
            for entity, ids in held.ids.items():
                key = NEWEST_TABLES[entity]
                if key not in shape.columns or not ids or (name != entity and key not in held.shapes[name].columns):
                    continue
                for part in _chunks(ids):
                    marks = ", ".join(["%s"] * len(part))
                    cur.execute(f"SELECT DISTINCT {key} FROM {table(prefix, name)} WHERE {key} IN ({marks})",  # noqa: S608
                                list(part))
                    owned |= {(entity, int(r[0])) for r in cur.fetchall()}
    return present, owned


def put_back(conn: Connection, cfg: StoreConfig, facts: StoreFacts, held: Held, version: str) -> list[str]:
    """After the restore: write the held rows into the restored schema in one transaction. Returns the lines
    the rollback reports: what was carried, what could not be and why, columns left out or filled."""
    if not held:
        return []
    prefix = facts.db.prefix
    with open_db(conn, facts.db, autocommit=False, store=cfg.store) as db:
        restored = read_shapes(db, prefix)
        present, owned = _present(db, prefix, held, restored)
        plan = plan_writes(held, restored, present, owned, f"OpenCart {version}")
        failed, moved = _write(db, prefix, plan, restored)
    lines = []
    if failed:
        plan.refused = [f"{', '.join(held.describe())}: writing them back failed ({failed}); nothing of them was "
                        "kept"]
        plan.carried = {}
    if plan.carried:
        carried = ", ".join(f"{len(ids)} {NOUNS.get(e, e)} ({', '.join(f'#{i}' for i in ids[:5])}"
                            f"{', …' if len(ids) > 5 else ''})" for e, ids in plan.carried.items())
        lines.append(f"carried over: {carried} placed after snapshot {held.snapshot}: {plan.rows} row(s) in "
                     f"{len(plan.inserts)} table(s), ids kept")
    lines += [f"NOT carried over: {why}" for why in plan.refused]
    if plan.left_out and plan.carried:
        lines.append(f"left out (not in OpenCart {version}'s schema): {', '.join(plan.left_out)}")
    if plan.filled and plan.carried:
        lines.append(f"filled (required by OpenCart {version}'s schema): {', '.join(plan.filled)}")
    if moved:
        lines.append(f"stock as the live store had it after the carried orders: {', '.join(moved)}")
    if held.saved is not None:
        if plan.refused:
            lines.append(f"the rows read before the restore are kept in {held.saved}")
        else:
            os.unlink(held.saved)
    return lines


def _write(db: pymysql.connections.Connection, prefix: str, plan: WritePlan,
           restored: Mapping[str, Shape]) -> tuple[str, list[str]]:
    """The inserts and stock in one transaction: ("", stock moved) when committed, else (why, []), and every
    row it inserted deleted again and stock put back (MyISAM tables keep their changes through a rollback)."""
    done: list[tuple[str, Row]] = []
    moved: list[tuple[str, int, int, int]] = []  # (table, id, restored quantity, live quantity)
    try:
        with db.cursor() as cur:
            for name, (columns, rows) in plan.inserts.items():
                shape = restored[name]
                cols = ", ".join(f"`{c}`" for c in columns)
                marks = ", ".join(["%s"] * len(columns))
                for row in rows:
                    cur.execute(f"INSERT INTO {table(prefix, name)} ({cols}) VALUES ({marks})",  # noqa: S608
                                values_of(row, columns, shape))
                    done.append((name, row))
            for (stock, ident), quantity in sorted(plan.stock.items()):
                column = restored[stock].primary[0]
                cur.execute(f"SELECT quantity FROM {table(prefix, stock)} WHERE {column} = %s", (ident,))  # noqa: S608
                found = cur.fetchone()
                if found is not None and int(found[0]) != quantity:
                    cur.execute(f"UPDATE {table(prefix, stock)} SET quantity = %s WHERE {column} = %s",  # noqa: S608
                                (quantity, ident))
                    moved.append((stock, ident, int(found[0]), quantity))
        db.commit()
        return "", [f"{stock.replace('_', ' ')} {ident} {was} → {now}" for stock, ident, was, now in moved]
    except pymysql.MySQLError as exc:
        reason = str(exc.args[-1] if exc.args else exc)
        db.rollback()
        with db.cursor() as cur:
            for stock, ident, was, _ in moved:
                if not restored[stock].transactional:
                    cur.execute(f"UPDATE {table(prefix, stock)} SET quantity = %s "  # noqa: S608
                                f"WHERE {restored[stock].primary[0]} = %s", (was, ident))
            for name, row in reversed(done):
                shape = restored[name]
                if shape.transactional:  # already undone by the rollback
                    continue
                match = shape.primary or tuple(c for c in shape.columns if c in row.values)
                where = " AND ".join(f"`{c}` <=> %s" for c in match)
                cur.execute(f"DELETE FROM {table(prefix, name)} WHERE {where} LIMIT 1",  # noqa: S608
                            [row.values.get(c) for c in match])
        db.commit()
        return reason, []


def preview(conn: Connection, cfg: StoreConfig, facts: StoreFacts, man: Manifest, snapshot: str) -> list[str]:
    """Read-only, for a plan: what a rollback with --carry-newer would write back (nothing saved)."""
    with open_db(conn, facts.db, store=cfg.store) as db:
        return read_held(db, facts.db.prefix, man, snapshot).describe()
