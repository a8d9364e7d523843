"""Fallback dump through PyMySQL, for hosts without mysqldump. About 17-19x slower than mysqldump
(opencart-facts part C), so it is used only when the host has no dump tool.

Rows stream with an unbuffered cursor and are written as extended INSERTs in mysqldump's layout, ending
with the same completion marker, so verification and import treat both dumps alike. Values arrive as
text (decoders switched off), so dates like '0000-00-00' and decimals survive exactly.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql
import pymysql.cursors

from maint.errors import MaintError, SqlError
from maint.mirror.crypt import Recipient
from maint.mirror.dump import COMPRESSORS, DumpResult
from maint.mirror.dumpfile import DumpCount
from maint.mirror.modes import open_private
from maint.remote.sql import table

INSERT_BYTES = 1 << 20  # like mysqldump's net_buffer_length: one INSERT line per ~1 MB


def _ident(name: str) -> str:
    """A checked, back-quoted table name (OpenCart tables are letters, digits and _ only)."""
    return table("", name)


def _literal(db: pymysql.connections.Connection, value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes | bytearray):
        return "0x" + value.hex() if value else "''"
    return str(db.escape(str(value)))


def _insert(name: str, rows: list[str]) -> str:
    """One extended INSERT line of the dump file (values already escaped by the server's rules)."""
    return "INSERT INTO " + _ident(name) + " VALUES " + ",".join(rows) + ";\n"  # noqa: S608 - written, not run


class _Writer:
    """Compress through a local zstd/gzip process; hash and count what lands on disk."""

    def __init__(self, dest: Path, compression: str, recipient: Recipient | None = None) -> None:
        compress = COMPRESSORS[compression][0].split()
        self.out = open(open_private(dest), "wb")
        self.encrypt = None
        if recipient is None:
            self.proc = subprocess.Popen(compress, stdin=subprocess.PIPE, stdout=self.out)
        else:  # compress, then encrypt as it streams: the clear dump never reaches the disk
            self.proc = subprocess.Popen(compress, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            self.encrypt = subprocess.Popen(recipient.encrypt_argv(), stdin=self.proc.stdout, stdout=self.out,
                                            stderr=subprocess.DEVNULL)
            assert self.proc.stdout is not None
            self.proc.stdout.close()

    def write(self, text: str) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(text.encode("utf-8", "surrogateescape"))

    def close(self) -> int:
        assert self.proc.stdin
        self.proc.stdin.close()
        code = self.proc.wait()
        if self.encrypt is not None:
            code = code or self.encrypt.wait()
        self.out.close()
        return code


def dump_with_pymysql(
    db: pymysql.connections.Connection,
    database: str,
    dest: Path,
    *,
    consistency: str,
    stripped: Sequence[str] = (),
    compression: str = "gzip",
    on_rows: Callable[[int], None] | None = None,
    store: str | None = None,
    recipient: Recipient | None = None,
) -> DumpResult:
    db.decoders = {}  # every value as text (binary columns stay bytes)
    count = DumpCount()
    skip = set(stripped)
    writer = _Writer(dest, compression, recipient)
    done = 0
    try:
        with db.cursor() as cur:
            cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                        "AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", (database,))
            tables = [str(r[0]) for r in cur.fetchall()]
            if consistency == "single-transaction":
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            elif tables:
                cur.execute("LOCK TABLES " + ", ".join(f"{_ident(t)} READ" for t in tables))
        writer.write("/*!40101 SET NAMES utf8mb4 */;\nSET FOREIGN_KEY_CHECKS=0;\nSET UNIQUE_CHECKS=0;\n"
                     "SET SQL_MODE='NO_AUTO_VALUE_ON_ZERO';\n")
        for name in tables:
            with db.cursor() as cur:
                cur.execute(f"SHOW CREATE TABLE {_ident(name)}")
                create = str(cur.fetchone()[1])
            writer.write(f"\nDROP TABLE IF EXISTS {_ident(name)};\n{create};\n")
            count.rows[name] = 0
            if name in skip:
                continue
            with db.cursor(pymysql.cursors.SSCursor) as cur:
                cur.execute(f"SELECT * FROM {_ident(name)}")  # noqa: S608 - name checked by table()
                batch: list[str] = []
                size = 0
                for row in cur:
                    text = "(" + ",".join(_literal(db, v) for v in row) + ")"
                    batch.append(text)
                    size += len(text)
                    if size >= INSERT_BYTES:
                        writer.write(_insert(name, batch))
                        count.rows[name] += len(batch)
                        done += len(batch)
                        batch, size = [], 0
                        if on_rows:
                            on_rows(done)
                if batch:
                    writer.write(_insert(name, batch))
                    count.rows[name] += len(batch)
                    done += len(batch)
        with db.cursor() as cur:
            cur.execute("COMMIT" if consistency == "single-transaction" else "UNLOCK TABLES")
        writer.write(f"SET FOREIGN_KEY_CHECKS=1;\n-- Dump completed on {datetime.now(UTC):%Y-%m-%d %H:%M:%S}\n")
    except pymysql.MySQLError as exc:
        writer.close()
        raise SqlError(f"PyMySQL dump failed: {exc.args[-1] if exc.args else exc}", store=store) from None
    except OSError as exc:
        writer.close()
        raise MaintError(f"writing the dump to {dest} failed: {exc.strerror or exc}", store=store) from None
    if writer.close() != 0:
        raise MaintError(f"compressing the dump into {dest} failed", store=store)
    count.completed = True
    digest, total = hashlib.sha256(), 0
    with open(dest, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            total += len(chunk)
    return DumpResult(dest, total, digest.hexdigest(), count, "")
