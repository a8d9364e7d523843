"""Read-only facts from the store's database: server, sizes, counts, settings, extensions."""

from __future__ import annotations

from typing import Any

import pymysql

from maint.facts.mysql import get_setting
from maint.remote.sql import query, scalar, table

COUNTED_TABLES = ("product", "customer", "order", "customer_group")


def get_server_version(db: pymysql.connections.Connection) -> str:
    return str(scalar(db, "SELECT VERSION()"))


def get_table_engines(db: pymysql.connections.Connection, database: str, prefix: str) -> dict[str, str]:
    """Engine per table of this store (only tables with the store's prefix)."""
    rows = query(
        db,
        "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME LIKE %s",
        (database, prefix.replace("_", "\\_") + "%"),
    )
    return {str(name): str(engine or "") for name, engine in rows}


def get_database_size(db: pymysql.connections.Connection, database: str) -> int:
    size = scalar(
        db,
        "SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
        (database,),
    )
    return int(size or 0)


def get_counts(db: pymysql.connections.Connection, prefix: str, tables: tuple[str, ...] = COUNTED_TABLES) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in tables:
        try:
            counts[name] = int(scalar(db, f"SELECT COUNT(*) FROM {table(prefix, name)}") or 0)
        except pymysql.err.ProgrammingError:
            counts[name] = -1  # table absent in this release
    return counts


def get_extensions(db: pymysql.connections.Connection, prefix: str) -> list[dict[str, str]]:
    """Installed extensions (type and code; 4.x also the extension folder)."""
    columns = {str(r[0]) for r in query(db, f"SHOW COLUMNS FROM {table(prefix, 'extension')}")}
    select = "`extension`, " if "extension" in columns else "'' AS extension, "
    rows = query(db, f"SELECT {select}`type`, `code` FROM {table(prefix, 'extension')} ORDER BY `type`, `code`")
    return [{"extension": str(e), "type": str(t), "code": str(c)} for e, t, c in rows]


def get_db_summary(db: pymysql.connections.Connection, database: str, prefix: str) -> dict[str, Any]:
    engines = get_table_engines(db, database, prefix)
    engine_counts: dict[str, int] = {}
    for engine in engines.values():
        engine_counts[engine] = engine_counts.get(engine, 0) + 1
    return {
        "server_version": get_server_version(db),
        "database_bytes": get_database_size(db, database),
        "tables": len(engines),
        "engines": engine_counts,
        "maintenance": get_setting(db, prefix, "config_maintenance") == "1",
        "counts": get_counts(db, prefix),
        "extensions": get_extensions(db, prefix),
    }
