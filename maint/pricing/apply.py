"""Apply column updates atomically on InnoDB and on MyISAM.

The rows go into a temporary table in bulk (LOAD DATA LOCAL, or batched inserts where the server
refuses it), then one `UPDATE … JOIN` per operation. InnoDB: one transaction. MyISAM has no
transactions, so the tables are locked, the result is verified against the plan, and any failure
restores the previous values from the undo data, on a new connection if the old one dropped.
Either way the list ends applied whole or not at all.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import pymysql
import pymysql.connections

from maint.errors import PreconditionError, SqlError, VerificationError
from maint.pricing.catalog import table_engine
from maint.pricing.undo import ColumnUpdate
from maint.remote.sql import table

Db: TypeAlias = Any  # pymysql.connections.Connection (pymysql ships no type hints)
Connector = Callable[[], Db]
Hook = Callable[[str, Db], None]  # called between steps; tests use it to drop the connection
INSERT_BATCH = 5000
_NO_LOCAL_INFILE = {1148, 2068, 3948, 4166}  # server or client refuses LOAD DATA LOCAL
# Identifiers are checked by table()/_ident(); column types come from this list, never from a file as-is.
SQL_TYPES = frozenset({"DECIMAL(15,4)", "INT"})


@dataclass
class ApplyResult:
    rows_changed: int
    engine: str
    loaded_with: str


def _tmp_name(index: int) -> str:
    return f"maint_tmp_{index}"


def _noop_hook(step: str, db: Db) -> None:
    return None


def load_temp_tables(db: Db, ops: Sequence[ColumnUpdate]) -> str:
    """Create one temporary table per operation (key, old, new) and fill it; returns the method used."""
    method = "load data local"
    for index, op in enumerate(ops):
        name = _tmp_name(index)
        if op.sql_type not in SQL_TYPES:
            raise SqlError(f"refusing column type {op.sql_type!r}")
        with db.cursor() as cur:
            cur.execute(f"DROP TEMPORARY TABLE IF EXISTS {name}")
            cur.execute(f"CREATE TEMPORARY TABLE {name} (k INT NOT NULL PRIMARY KEY, "
                        f"old_v {op.sql_type} NULL, new_v {op.sql_type} NULL)")
        if method == "load data local":
            try:
                _load_data_local(db, name, op)
                continue
            except pymysql.err.MySQLError as exc:
                if not exc.args or exc.args[0] not in _NO_LOCAL_INFILE:
                    raise
                method = "batched inserts"
        _insert_batches(db, name, op)
    return method


def _load_data_local(db: Db, name: str, op: ColumnUpdate) -> None:
    fd, path = tempfile.mkstemp(prefix="maint-rows-", suffix=".tsv")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.writelines(f"{k}\t{_tsv(old)}\t{_tsv(new)}\n" for k, old, new in op.rows)
        with db.cursor() as cur:
            cur.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE {name} FIELDS TERMINATED BY '\\t' "
                        "LINES TERMINATED BY '\\n' (k, old_v, new_v)", (path,))
            loaded = cur.rowcount
    finally:
        os.unlink(path)
    if loaded != len(op.rows):
        raise SqlError(f"loading the change list: {loaded} of {len(op.rows)} rows arrived")


def _tsv(value: object) -> str:
    return "\\N" if value is None else str(value)


def _insert_batches(db: Db, name: str, op: ColumnUpdate) -> None:
    with db.cursor() as cur:
        for start in range(0, len(op.rows), INSERT_BATCH):
            cur.executemany(f"INSERT INTO {name} (k, old_v, new_v) VALUES (%s, %s, %s)",  # noqa: S608
                            list(op.rows[start : start + INSERT_BATCH]))


def _count(db: Db, prefix: str, op: ColumnUpdate, index: int, which: str, lock: str = "") -> int:
    target = table(prefix, op.table)
    key, column = _ident(op.key), _ident(op.column)
    with db.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {target} JOIN {_tmp_name(index)} "  # noqa: S608
                    f"ON {target}.{key} = {_tmp_name(index)}.k "
                    f"WHERE {target}.{column} <=> {_tmp_name(index)}.{which}{lock}")
        row = cur.fetchone()
    return int(row[0]) if row else 0


def _ident(name: str) -> str:
    table("", name)  # same rule as table names: letters, digits, _
    return f"`{name}`"


def _update(db: Db, prefix: str, op: ColumnUpdate, index: int, source: str) -> int:
    target = table(prefix, op.table)
    key, column = _ident(op.key), _ident(op.column)
    with db.cursor() as cur:
        cur.execute(f"UPDATE {target} JOIN {_tmp_name(index)} ON {target}.{key} = {_tmp_name(index)}.k "  # noqa: S608
                    f"SET {target}.{column} = {_tmp_name(index)}.{source}")
        return int(cur.rowcount)


def _engines(db: Db, prefix: str, ops: Sequence[ColumnUpdate]) -> dict[str, str]:
    return {op.table: table_engine(db, prefix, op.table) for op in ops}


def _lock_sql(prefix: str, ops: Sequence[ColumnUpdate]) -> str:
    names = sorted({table(prefix, op.table) for op in ops})
    return "LOCK TABLES " + ", ".join(f"{n} WRITE" for n in names)


def apply_updates(
    connect: Connector, db: Db, prefix: str, ops: Sequence[ColumnUpdate], *, hook: Hook | None = None
) -> ApplyResult:
    """Change every row of `ops` from old to new, or leave the store as it was.

    `db` is an open connection (with local_infile); `connect` opens a new one for the restore if `db`
    drops. The caller has already written the undo file.
    """
    hook = hook or _noop_hook
    engines = _engines(db, prefix, ops)
    transactional = all(e.lower() == "innodb" for e in engines.values())
    engine = "/".join(sorted(set(engines.values())))
    method = load_temp_tables(db, ops)
    hook("loaded", db)
    started = False
    try:
        with db.cursor() as cur:
            cur.execute("START TRANSACTION" if transactional else _lock_sql(prefix, ops))
        started = True
        hook("locked", db)
        lock = " FOR UPDATE" if transactional else ""
        for index, op in enumerate(ops):
            current = _count(db, prefix, op, index, "old_v", lock)
            if current != len(op.rows):
                raise PreconditionError(
                    f"{len(op.rows) - current} of {len(op.rows)} {op.table} rows changed or vanished since the "
                    "plan was made; nothing was changed, run the task again")
        changed = 0
        for index, op in enumerate(ops):
            changed += _update(db, prefix, op, index, "new_v")
            hook(f"updated:{op.table}", db)
        for index, op in enumerate(ops):
            done = _count(db, prefix, op, index, "new_v")
            if done != len(op.rows):
                raise VerificationError(f"{op.table}: {done} of {len(op.rows)} rows hold the new value after the update")
        hook("verified", db)
        with db.cursor() as cur:
            cur.execute("COMMIT" if transactional else "UNLOCK TABLES")
        started = False
        return ApplyResult(changed, engine, method)
    except PreconditionError:
        _release(db, transactional)
        raise
    except Exception as exc:
        if not started and not isinstance(exc, pymysql.err.MySQLError | VerificationError):
            raise
        _release(db, transactional)
        restored = restore_previous(connect, db, prefix, ops, transactional)
        raise SqlError(f"applying failed ({_describe(exc)}); {restored}") from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, pymysql.err.MySQLError) and exc.args:
        return f"database error {exc.args[0]}: {exc.args[-1]}"
    return str(exc) or type(exc).__name__


def _release(db: Db, transactional: bool) -> None:
    try:
        with db.cursor() as cur:
            cur.execute("ROLLBACK" if transactional else "UNLOCK TABLES")
    except (pymysql.err.MySQLError, OSError):
        pass  # a dropped connection releases locks and rolls back on the server side


def _alive(db: Db) -> bool:
    try:
        db.ping(reconnect=False)
        return True
    except (pymysql.err.MySQLError, OSError):
        return False


def restore_previous(connect: Connector, db: Db, prefix: str, ops: Sequence[ColumnUpdate], transactional: bool) -> str:
    """Put every row back to its old value (a no-op when a rollback already did); describe the outcome."""
    fresh = None if _alive(db) else connect()
    work = fresh or db
    try:
        load_temp_tables(work, ops)
        with work.cursor() as cur:
            cur.execute("START TRANSACTION" if transactional else _lock_sql(prefix, ops))
        try:
            restored = sum(_update(work, prefix, op, i, "old_v") for i, op in enumerate(ops))
            for index, op in enumerate(ops):
                if _count(work, prefix, op, index, "old_v") != len(op.rows):
                    raise VerificationError(f"{op.table}: previous values did not all come back")
        finally:
            with work.cursor() as cur:
                cur.execute("COMMIT" if transactional else "UNLOCK TABLES")
    except (pymysql.err.MySQLError, OSError, VerificationError) as exc:
        raise SqlError(f"applying failed and restoring the previous values failed too ({_describe(exc)}); "
                       "run `fab undo` with the undo file to finish the restore") from None
    finally:
        if fresh is not None:
            fresh.close()
    if restored:
        return f"restored {restored} previous value(s) from the undo data; the store is as before"
    return "nothing was changed; the store is as before"
