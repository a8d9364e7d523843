"""PyMySQL through the store's SSH connection.

The database is reached from the host's side of an SSH ``direct-tcpip`` channel (what
``Connection.forward_local`` does, without opening a listening port on the maintainer's
machine that other local users could use). Every session sets the sql_mode OpenCart's own
mysqli driver sets, so its ``'0000-00-00'`` dates keep working.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import paramiko
import pymysql
import pymysql.cursors
from fabric import Connection

from maint.errors import DbAuthError, SqlError

OPENCART_SQL_MODE = "NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION"
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]*$")


@dataclass(frozen=True)
class DbCredentials:
    """Read from the store's config.php; the password never appears in repr, logs or errors."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    prefix: str = "oc_"
    driver: str = "mysqli"

    def __str__(self) -> str:
        return f"{self.database} on {self.host}:{self.port}"


def table(prefix: str, name: str) -> str:
    """A back-quoted table name from the store's DB_PREFIX, checked so it can't carry SQL."""
    if not _IDENTIFIER.match(prefix) or not name or not _IDENTIFIER.match(name):
        raise SqlError(f"refusing table name {prefix + name!r}: only letters, digits and _ are allowed")
    return f"`{prefix}{name}`"


def _db_host(creds: DbCredentials) -> str:
    # mysqli treats "localhost" as the local socket; over SSH the TCP loopback is what we can reach.
    return "127.0.0.1" if creds.host in ("localhost", "") else creds.host


def connect_db(
    conn: Connection,
    creds: DbCredentials,
    *,
    local_infile: bool = False,
    autocommit: bool = True,
    timeout: float = 30.0,
    store: str | None = None,
) -> pymysql.connections.Connection:
    """Open a PyMySQL connection over a direct-tcpip channel of the SSH connection."""
    host = _db_host(creds)
    transport = conn.client.get_transport() if conn.is_connected else None
    if transport is None:
        conn.open()
        transport = conn.client.get_transport()
    try:
        channel = transport.open_channel("direct-tcpip", (host, creds.port), ("127.0.0.1", 0), timeout=timeout)
    except paramiko.ChannelException as exc:
        raise SqlError(
            f"the host cannot reach its database server at {host}:{creds.port} ({exc.text})", store=store
        ) from None
    except (paramiko.SSHException, OSError) as exc:
        raise SqlError(f"cannot open a tunnel to the database: {exc}", store=store) from None
    db = pymysql.connections.Connection(
        host=host,
        port=creds.port,
        user=creds.user,
        password=creds.password,
        database=creds.database,
        charset="utf8mb4",
        sql_mode=OPENCART_SQL_MODE,
        autocommit=autocommit,
        local_infile=local_infile,
        defer_connect=True,
        read_timeout=None,
    )
    try:
        channel.settimeout(timeout)
        db.connect(sock=channel)
        channel.settimeout(None)
    except pymysql.err.OperationalError as exc:
        channel.close()
        raise _sql_error(exc, creds, store) from None
    return db


def _sql_error(exc: pymysql.err.MySQLError, creds: DbCredentials, store: str | None) -> SqlError:
    code = exc.args[0] if exc.args else 0
    if code in (1044, 1045, 1698):
        return DbAuthError(
            f"database login refused for {creds} (the credentials in config.php are wrong or lack access)",
            store=store,
        )
    if code == 1049:
        return SqlError(f"database {creds.database!r} does not exist on {creds.host}:{creds.port}", store=store)
    return SqlError(f"database error {code} on {creds}", store=store)


@contextmanager
def open_db(
    conn: Connection,
    creds: DbCredentials,
    *,
    local_infile: bool = False,
    autocommit: bool = True,
    store: str | None = None,
) -> Iterator[pymysql.connections.Connection]:
    """Context manager around :func:`connect_db`; closes the connection and its channel."""
    db = connect_db(conn, creds, local_infile=local_infile, autocommit=autocommit, store=store)
    try:
        yield db
    finally:
        try:
            db.close()
        except pymysql.err.Error:
            pass


def query(db: pymysql.connections.Connection, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Run one read query and return all rows (for small results)."""
    with db.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def scalar(db: pymysql.connections.Connection, sql: str, params: Any = None) -> Any:
    rows = query(db, sql, params)
    return rows[0][0] if rows else None
