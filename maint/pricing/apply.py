"""Apply a list of operations atomically on InnoDB and on MyISAM.

The rows go into temporary tables in bulk (LOAD DATA LOCAL, or batched inserts where the server refuses
it), then set-based statements: `UPDATE … JOIN` for column updates, delete-and-insert per (product, group)
for discount sets. InnoDB: one transaction. MyISAM has no transactions, so the tables are locked, the
result is verified against the plan, and any failure restores the previous values from the undo data, on
a new connection if the old one dropped. Either way the list ends applied whole or not at all.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import pymysql

from maint.errors import PreconditionError, SqlError, VerificationError
from maint.pricing.catalog import table_engine
from maint.pricing.undo import COLUMN_TYPES, ColumnUpdate, Operation, SetReplace, Stored
from maint.remote.sql import table

Db: TypeAlias = Any  # pymysql.connections.Connection (pymysql ships no type hints)
Connector = Callable[[], Db]
Hook = Callable[[str, Db], None]  # called between steps; tests use it to drop the connection
INSERT_BATCH = 5000
_NO_LOCAL_INFILE = {1148, 2068, 3948, 4166}  # server or client refuses LOAD DATA LOCAL
# Temporary tables of column updates live in memory up to this many rows (the database server's RAM is the
# shop's: at most ~64 MB); a row with its hash index entry takes well under MEMORY_ROW_BYTES.
MEMORY_MAX_ROWS = 500_000
MEMORY_ROW_BYTES = 128
MEMORY_SLACK_BYTES = 1 << 20
_NO_MEMORY_TABLE = {1286, 1289, 1041}  # unknown or disabled storage engine, out of memory: use the default
_TABLE_FULL = 1114
# Identifiers are checked by table()/_ident(); column types come from these lists, never from a file as-is.
SQL_TYPES = frozenset({"DECIMAL(15,4)", "INT"})


@dataclass
class ApplyResult:
    rows_changed: int
    engine: str
    loaded_with: str


def _ident(name: str) -> str:
    table("", name)  # same rule as table names: letters, digits, _
    return f"`{name}`"


def _noop_hook(step: str, db: Db) -> None:
    return None


def _execute(db: Db, sql: str, params: Any = None) -> int:
    with db.cursor() as cur:
        cur.execute(sql, params)
        return int(cur.rowcount)


# -- temporary tables ---------------------------------------------------------------------------------


class _Loader:
    """Fills temporary tables, with LOAD DATA LOCAL while the server allows it, else batched inserts."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self.method = "load data local"

    def create(
        self, name: str, columns: Sequence[tuple[str, str]], key: str = "", *, in_memory_rows: int = 0
    ) -> bool:
        """Create the table; with `in_memory_rows` (fixed-size columns only) as a MEMORY table sized for that
        many rows, when the server allows. Returns whether it is in memory."""
        body = ", ".join(f"{_ident(c)} {t}" for c, t in columns)
        definition = f"({body}{f', PRIMARY KEY ({key})' if key else ''})"
        _execute(self.db, f"DROP TEMPORARY TABLE IF EXISTS {name}")
        if 0 < in_memory_rows <= MEMORY_MAX_ROWS:
            # A MEMORY table (hash primary key) loads, joins and verifies several times faster than the
            # default engine's: for 100,000 prices 0.3 s less on InnoDB stores, 0.5 s less on MyISAM ones.
            # Its size limit is fixed at creation from the session's max_heap_table_size, set just for it.
            try:
                _execute(self.db, "SET @maint_heap = @@SESSION.max_heap_table_size")
                _execute(
                    self.db,
                    "SET SESSION max_heap_table_size = %s",
                    (in_memory_rows * MEMORY_ROW_BYTES + MEMORY_SLACK_BYTES,),
                )
                try:
                    _execute(self.db, f"CREATE TEMPORARY TABLE {name} {definition} ENGINE=MEMORY")
                    return True
                finally:
                    _execute(self.db, "SET SESSION max_heap_table_size = @maint_heap")
            except pymysql.err.MySQLError as exc:
                if not exc.args or exc.args[0] not in _NO_MEMORY_TABLE:
                    raise
        _execute(self.db, f"CREATE TEMPORARY TABLE {name} {definition}")
        return False

    def fill(
        self, name: str, columns: Sequence[str], rows: Sequence[Sequence[object]], *, lines: str | None = None
    ) -> None:
        """`lines`: the rows already as LOAD DATA lines (a column update's, see ColumnUpdate.lines)."""
        if not rows:
            return
        if self.method == "load data local":
            try:
                self._load_data_local(name, columns, rows, lines)
                return
            except pymysql.err.MySQLError as exc:
                if not exc.args or exc.args[0] not in _NO_LOCAL_INFILE:
                    raise
                self.method = "batched inserts"
        marks = ", ".join(["%s"] * len(columns))
        names = ", ".join(_ident(c) for c in columns)
        with self.db.cursor() as cur:
            for start in range(0, len(rows), INSERT_BATCH):
                cur.executemany(
                    f"INSERT INTO {name} ({names}) VALUES ({marks})",  # noqa: S608
                    [tuple(r) for r in rows[start : start + INSERT_BATCH]],
                )

    def _load_data_local(
        self, name: str, columns: Sequence[str], rows: Sequence[Sequence[object]], lines: str | None
    ) -> None:
        fd, path = tempfile.mkstemp(prefix="maint-rows-", suffix=".tsv")
        self.db._local_infile = True  # only for our own statement: see limit_local_infile()
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                if lines is not None:
                    out.write(lines)
                else:
                    out.writelines("\t".join(_tsv(v) for v in row) + "\n" for row in rows)
            names = ", ".join(_ident(c) for c in columns)
            loaded = _execute(
                self.db,
                f"LOAD DATA LOCAL INFILE %s INTO TABLE {name} CHARACTER SET utf8mb4 "
                f"FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' ({names})",
                (path,),
            )
        finally:
            self.db._local_infile = False
            os.unlink(path)
        if loaded != len(rows):
            raise SqlError(f"loading the change list: {loaded} of {len(rows)} rows arrived")


def limit_local_infile(db: Db) -> Db:
    """Refuse the server's LOAD DATA LOCAL file requests except during our own LOAD statements.

    With local_infile on, PyMySQL sends whatever local file the *server* names; a compromised shop
    database could ask for ~/.ssh/id_rsa in reply to any query. The capability stays negotiated (it is
    fixed at connect time) but PyMySQL checks this flag per request, so we keep it off in between.
    """
    db._local_infile = False
    return db


def _tsv(value: object) -> str:
    """One LOAD DATA field: NULL as \\N; backslash, tab and line breaks escaped (names are free text)."""
    if value is None:
        return "\\N"
    text = str(value)
    if isinstance(value, str):
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _names(index: int) -> tuple[str, str, str]:
    return f"maint_tmp_{index}", f"maint_new_{index}", f"maint_old_{index}"


def load_temp_tables(db: Db, ops: Sequence[Operation]) -> str:
    loader = _Loader(db)
    for index, op in enumerate(ops):
        tmp, new, old = _names(index)
        if isinstance(op, ColumnUpdate):
            if op.sql_type not in SQL_TYPES:
                raise SqlError(f"refusing column type {op.sql_type!r}")
            value = f"{op.sql_type} NULL"
            columns = [("k", "INT NOT NULL"), ("old_v", value), ("new_v", value)]
            in_memory = loader.create(tmp, columns, key="k", in_memory_rows=len(op.rows))
            try:
                loader.fill(tmp, ("k", "old_v", "new_v"), op.rows, lines=op.lines)
            except pymysql.err.MySQLError as exc:
                if not (in_memory and exc.args and exc.args[0] == _TABLE_FULL):
                    raise
                loader.create(tmp, columns, key="k")  # bigger than estimated: start over on disk
                loader.fill(tmp, ("k", "old_v", "new_v"), op.rows, lines=op.lines)
            continue
        stored = _stored_columns(op)
        types = [(c, f"{_column_type(c)} NULL") for c in stored]
        scope = _SCOPE_NAMES[: len(op.scope)]
        loader.create(tmp, [(c, "INT NOT NULL") for c in scope], key=", ".join(scope))
        loader.fill(tmp, scope, op.scopes())
        for name, rows in ((new, op.after), (old, op.before)):
            loader.create(name, types)
            loader.fill(name, stored, [r if op.pk else r[1:] for r in rows])
    return loader.method


_SCOPE_NAMES = ("a", "b")


def _stored_columns(op: SetReplace) -> tuple[str, ...]:
    return (op.pk, *op.columns) if op.pk else op.columns


def _column_type(column: str) -> str:
    if column.endswith("_id") and column not in COLUMN_TYPES:
        return "INT"  # primary keys: product_discount_id, product_special_id
    try:
        return COLUMN_TYPES[column]
    except KeyError:
        raise SqlError(f"refusing unknown column {column!r}") from None


# -- per-operation statements ---------------------------------------------------------------------------


def _count_column(db: Db, prefix: str, op: ColumnUpdate, index: int, which: str, lock: str = "") -> int:
    target, tmp = table(prefix, op.table), _names(index)[0]
    with db.cursor() as cur:
        cur.execute(
            f"SELECT COUNT(*) FROM {target} JOIN {tmp} ON {target}.{_ident(op.key)} = {tmp}.k "  # noqa: S608
            f"WHERE {target}.{_ident(op.column)} <=> {tmp}.{which}{lock}"
        )
        row = cur.fetchone()
    return int(row[0]) if row else 0


def _set_column(db: Db, prefix: str, op: ColumnUpdate, index: int, source: str, guard: str) -> int:
    """Set the column from `source` where it still holds `guard`: rows someone else changed are left alone,
    and the affected-row count tells whether every row was still as the plan read it."""
    target, tmp = table(prefix, op.table), _names(index)[0]
    column = f"{target}.{_ident(op.column)}"
    return _execute(
        db,
        f"UPDATE {target} JOIN {tmp} ON {target}.{_ident(op.key)} = {tmp}.k "  # noqa: S608
        f"SET {column} = {tmp}.{source} WHERE {column} <=> {tmp}.{guard}",
    )


def _scope_join(prefix: str, op: SetReplace, index: int) -> str:
    target, tmp = table(prefix, op.table), _names(index)[0]
    on = " AND ".join(
        f"{target}.{_ident(c)} = {tmp}.{n}" for c, n in zip(op.scope, _SCOPE_NAMES, strict=False)
    )
    where = " AND ".join(f"{target}.{_ident(c)} = %s" for c, _ in op.filters) or "1=1"
    return f"{target} JOIN {tmp} ON {on} WHERE {where}"


def read_sets(db: Db, prefix: str, op: SetReplace, index: int, lock: str = "") -> list[Stored]:
    """The rows of the operation's scopes as they are now, every value as text (CAST … AS CHAR)."""
    target = table(prefix, op.table)
    key = f"CAST({target}.{_ident(op.pk)} AS CHAR)" if op.pk else "NULL"
    columns = ", ".join([key, *(f"CAST({target}.{_ident(c)} AS CHAR)" for c in op.columns)])
    with db.cursor() as cur:
        cur.execute(
            f"SELECT {columns} FROM {_scope_join(prefix, op, index)}{lock}",  # noqa: S608
            [v for _, v in op.filters],
        )
        return [tuple(r) for r in cur.fetchall()]


def _same(rows: Iterable[Stored], expected: Iterable[Stored], *, with_keys: bool) -> bool:
    start = 0 if with_keys else 1
    return Counter(tuple(r[start:]) for r in rows) == Counter(tuple(r[start:]) for r in expected)


def _replace_sets(db: Db, prefix: str, op: SetReplace, index: int, source: str) -> int:
    target = table(prefix, op.table)
    params = [v for _, v in op.filters]
    deleted = _execute(db, f"DELETE {target} FROM {_scope_join(prefix, op, index)}", params)  # noqa: S608
    names = ", ".join(_ident(c) for c in _stored_columns(op))
    inserted = _execute(db, f"INSERT INTO {target} ({names}) SELECT {names} FROM {source}")  # noqa: S608
    return deleted + inserted


def _drifted(op: ColumnUpdate, changed: int) -> str:
    return f"{len(op.rows) - changed} of {len(op.rows)} {op.table} rows changed or vanished"


def _check_sets(db: Db, prefix: str, op: SetReplace, index: int, lock: str) -> str:
    """'' when the scopes still hold what the plan read, else what differs."""
    if not _same(read_sets(db, prefix, op, index, lock), op.before, with_keys=True):
        return f"{op.table} rows of {len(op.scopes())} product/group pair(s) changed"
    return ""


def _change(db: Db, prefix: str, op: Operation, index: int) -> int:
    if isinstance(op, ColumnUpdate):
        changed = _set_column(db, prefix, op, index, "new_v", guard="old_v")
        if changed != len(op.rows):
            raise PreconditionError(
                f"{_drifted(op, changed)} since the plan was made; nothing was changed, run the task again"
            )
        return changed
    return _replace_sets(db, prefix, op, index, _names(index)[1])


def _verify_after(db: Db, prefix: str, op: Operation, index: int) -> bool:
    if isinstance(op, ColumnUpdate):
        return _count_column(db, prefix, op, index, "new_v") == len(op.rows)
    return _same(read_sets(db, prefix, op, index), op.after, with_keys=False)


def _restore(db: Db, prefix: str, op: Operation, index: int) -> int:
    if isinstance(op, ColumnUpdate):
        return _set_column(db, prefix, op, index, "old_v", guard="new_v")
    if _same(read_sets(db, prefix, op, index), op.before, with_keys=True):
        return 0
    return _replace_sets(db, prefix, op, index, _names(index)[2])


def _verify_before(db: Db, prefix: str, op: Operation, index: int) -> bool:
    """After a restore: no row holds a value this run wrote (column updates), or the scopes are as before."""
    if isinstance(op, ColumnUpdate):
        return _count_column(db, prefix, op, index, "new_v") == 0
    return _check_sets(db, prefix, op, index, "") == ""


# -- the transaction / lock frame ----------------------------------------------------------------------


def _lock_sql(prefix: str, ops: Sequence[Operation]) -> str:
    names = sorted({table(prefix, op.table) for op in ops})
    return "LOCK TABLES " + ", ".join(f"{n} WRITE" for n in names)


def apply_operations(
    connect: Connector,
    db: Db,
    prefix: str,
    ops: Sequence[Operation],
    *,
    hook: Hook | None = None,
    ready: Callable[[], object] | None = None,
) -> ApplyResult:
    """Apply every operation, or leave the store as it was.

    `db` is an open connection (with local_infile); `connect` opens a new one for the restore if `db`
    drops. The caller has already written the undo file. `ready` runs after the change list is loaded and
    before the first statement that can change the store (the caller waits there for a lock it is taking
    meanwhile); if it raises, nothing was changed.
    """
    hook = hook or _noop_hook
    try:
        engines = {op.table: table_engine(db, prefix, op.table) for op in ops}
        method = load_temp_tables(db, ops)
    except (pymysql.err.MySQLError, OSError) as exc:
        raise SqlError(f"loading the change list failed ({_describe(exc)}); nothing was changed") from None
    if ready is not None:
        ready()
    transactional = all(e.lower() == "innodb" for e in engines.values())
    engine = "/".join(sorted(set(engines.values())))
    hook("loaded", db)
    touched = False
    try:
        _execute(db, "START TRANSACTION" if transactional else _lock_sql(prefix, ops))
        hook("locked", db)
        lock = " FOR UPDATE" if transactional else ""
        for index, op in enumerate(ops):  # column updates check themselves through their guarded UPDATE
            drift = _check_sets(db, prefix, op, index, lock) if isinstance(op, SetReplace) else ""
            if drift:
                raise PreconditionError(
                    f"{drift} since the plan was made; nothing was changed, run the task again"
                )
        changed = 0
        for index, op in enumerate(ops):
            touched = True
            changed += _change(db, prefix, op, index)
            hook(f"updated:{op.table}", db)
        if not transactional:  # inside a transaction the guarded statements' counts already prove it
            for index, op in enumerate(ops):
                if not _verify_after(db, prefix, op, index):
                    raise VerificationError(f"{op.table}: the rows do not match the plan after the change")
        hook("verified", db)
        _execute(db, "COMMIT" if transactional else "UNLOCK TABLES")
        return ApplyResult(changed, engine, method)
    except PreconditionError:
        _release(db, transactional)
        if touched and not transactional:
            restore_previous(connect, db, prefix, ops, transactional)
        raise
    except (pymysql.err.MySQLError, OSError, VerificationError) as exc:
        _release(db, transactional)
        outcome = restore_previous(connect, db, prefix, ops, transactional)
        raise SqlError(f"applying failed ({_describe(exc)}); {outcome}") from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, pymysql.err.MySQLError) and exc.args:
        return f"database error {exc.args[0]}: {exc.args[-1]}"
    return str(exc) or type(exc).__name__


def _release(db: Db, transactional: bool) -> None:
    try:
        _execute(db, "ROLLBACK" if transactional else "UNLOCK TABLES")
    except (pymysql.err.MySQLError, OSError):
        pass  # a dropped connection releases locks and rolls back on the server side


def _alive(db: Db) -> bool:
    try:
        db.ping(reconnect=False)
        return True
    except (pymysql.err.MySQLError, OSError):
        return False


def restore_previous(
    connect: Connector, db: Db, prefix: str, ops: Sequence[Operation], transactional: bool
) -> str:
    """Put every row back as it was (a no-op when a rollback already did); describe the outcome."""
    fresh = None if _alive(db) else connect()
    work = fresh or db
    try:
        load_temp_tables(work, ops)
        _execute(work, "START TRANSACTION" if transactional else _lock_sql(prefix, ops))
        try:
            restored = sum(_restore(work, prefix, op, i) for i, op in enumerate(ops))
            for index, op in enumerate(ops):
                if not _verify_before(work, prefix, op, index):
                    raise VerificationError(f"{op.table}: previous values did not all come back")
        finally:
            _execute(work, "COMMIT" if transactional else "UNLOCK TABLES")
    except (pymysql.err.MySQLError, OSError, VerificationError) as exc:
        raise SqlError(
            f"applying failed and restoring the previous values failed too ({_describe(exc)}); "
            "run `fab undo` with the undo file to finish the restore"
        ) from None
    finally:
        if fresh is not None:
            fresh.close()
    if restored:
        return f"restored {restored} previous value(s) from the undo data; the store is as before"
    return "nothing was changed; the store is as before"
