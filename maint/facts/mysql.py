"""The database server as the store sees it: MySQL or MariaDB, its version and global sql_mode."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pymysql

from maint.errors import FactError
from maint.remote.sql import table

# MariaDB's server version before 11.x may carry the "5.5.5-" replication prefix in the handshake.
_MARIADB_PREFIX = re.compile(r"^5\.5\.5-(?=\d+\.\d+)")
_NUMBER = re.compile(r"^\s*(\d+\.\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class DbServer:
    kind: str  # "mysql" or "mariadb"
    version: str  # dotted number only, e.g. "10.11.6"
    raw: str  # what VERSION() returned
    sql_mode: tuple[str, ...] = ()
    comment: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": self.version,
            "raw": self.raw,
            "sql_mode": list(self.sql_mode),
            "comment": self.comment,
        }


def parse_server_version(version: str, comment: str = "") -> tuple[str, str]:
    """``("10.11.6-MariaDB-0+deb12u1", "Debian 12")`` → ("mariadb", "10.11.6"); FactError if unreadable."""
    text = _MARIADB_PREFIX.sub("", (version or "").strip())
    match = _NUMBER.match(text)
    if not match:
        raise FactError(f"unparseable database server version {version!r}")
    kind = "mariadb" if "mariadb" in f"{text} {comment}".lower() else "mysql"
    return kind, match.group(1)


def parse_sql_mode(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip().upper() for part in (text or "").split(",") if part.strip())


def get_db_server(db: pymysql.connections.Connection) -> DbServer:
    with db.cursor() as cur:
        cur.execute("SELECT VERSION(), @@version_comment, @@GLOBAL.sql_mode")
        row = cur.fetchone()
    if not row:
        raise FactError("the database server did not report its version")
    raw, comment, mode = (str(v) if v is not None else "" for v in row)
    kind, version = parse_server_version(raw, comment)
    return DbServer(kind, version, raw, parse_sql_mode(mode), comment)


def get_setting(db: pymysql.connections.Connection, prefix: str, key: str) -> str | None:
    """One store-0 setting value (e.g. ``config_error_display``); None when the row is missing."""
    with db.cursor() as cur:
        # `key` is a reserved word in MySQL, hence the back-quotes; the value is a parameter.
        sql = f"SELECT value FROM {table(prefix, 'setting')} WHERE store_id = 0 AND `key` = %s LIMIT 1"  # noqa: S608
        cur.execute(sql, (key,))
        row = cur.fetchone()
    return None if row is None else str(row[0])
