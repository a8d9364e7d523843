"""borg target: the database's fingerprint, and the last dump kept for a run that finds it unchanged.

A no-change borg mirror spent most of its time dumping (and `borg create` reading) a database nobody had
written to. A fingerprint that cannot miss a change lets such a run reuse the last verified dump instead:

- the schema: every table's and view's name, type, engine, options, collation, comment and
  AUTO_INCREMENT (a rolled-back insert moves it too), every column, index, trigger, routine and view
  definition, as information_schema gives them;
- each table's rows: its UPDATE_TIME when the server has one (MyISAM: the data file's mtime; InnoDB: set
  at each commit that wrote to the table, kept in memory only), else `CHECKSUM TABLE … EXTENDED`, a full
  read. InnoDB forgets the time after a restart or when the table leaves the dictionary cache: the table
  is then read in full, never trusted blind.

A fingerprint is recorded as the dump's only when it is read before the dump and again after it with the
same value, and every update time in it is older than the second the first read began: a write after that
moment gets a later time (or a different checksum), so an equal fingerprint on a later run means no write
since, and the kept dump is exactly the database. When in doubt (no fingerprint, a different key, a file
that is not the one recorded), the run dumps. The one case it cannot see: a table without an update time
changed and changed back during the dump, then dropped from InnoDB's cache before the second read.

The kept dump (`.borg-db/`, 0700/0600 like `.current`) is linked into each reusing snapshot's archive, so
every archive still holds its own dump (borg stores the bytes once) and restore, serve and prune see no
difference; the manifest says which snapshot the dump was first made for (`dump.reused_from`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pymysql

from maint.mirror.manifest import DumpInfo, Newest
from maint.mirror.modes import open_private, private_dirs, private_file
from maint.remote.sql import table

DB_STATE = ".borg-db"  # in the store's mirror folder: the last dump and what it was made of
STATE_FILE = "state.json"

_SCHEMA_QUERIES = (
    "SELECT TABLE_NAME, TABLE_TYPE, ENGINE, ROW_FORMAT, TABLE_COLLATION, CREATE_OPTIONS, TABLE_COMMENT, "
    "AUTO_INCREMENT, CREATE_TIME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME",
    "SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_DEFAULT, IS_NULLABLE, COLUMN_TYPE, EXTRA, "
    "COLLATION_NAME, COLUMN_COMMENT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
    "ORDER BY TABLE_NAME, ORDINAL_POSITION",
    "SELECT TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE, SUB_PART, INDEX_TYPE "
    "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
    "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, EVENT_MANIPULATION, ACTION_TIMING, ACTION_STATEMENT, CREATED, "
    "SQL_MODE, DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s ORDER BY TRIGGER_NAME",
    "SELECT ROUTINE_NAME, ROUTINE_TYPE, CREATED, LAST_ALTERED, DEFINER FROM information_schema.ROUTINES "
    "WHERE ROUTINE_SCHEMA = %s ORDER BY ROUTINE_TYPE, ROUTINE_NAME",
    "SELECT TABLE_NAME, VIEW_DEFINITION, DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s "
    "ORDER BY TABLE_NAME",
)


@dataclass(frozen=True)
class Fingerprint:
    digest: str
    began: datetime  # the server's clock when the read began
    newest_update: datetime | None  # the latest UPDATE_TIME the digest relies on
    checksummed: int  # tables read in full (no update time)


def read_fingerprint(db: pymysql.connections.Connection, database: str) -> Fingerprint:
    """The database's fingerprint, read with one connection (a few information_schema queries, plus one
    CHECKSUM TABLE for the tables whose update time the server does not know)."""
    digest = hashlib.blake2b(digest_size=20)
    with db.cursor() as cur:
        cur.execute("SELECT NOW()")
        began = cur.fetchone()[0]
        for query in _SCHEMA_QUERIES:
            cur.execute(query, (database,))
            digest.update(repr(cur.fetchall()).encode())
        cur.execute("SELECT TABLE_NAME, UPDATE_TIME FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", (database,))
        times = [(str(name), when) for name, when in cur.fetchall()]
        blind = [name for name, when in times if when is None]
        sums: dict[str, Any] = {}
        if blind:
            cur.execute("CHECKSUM TABLE " + ", ".join(table("", name) for name in blind) + " EXTENDED")
            sums = {str(row[0]).rpartition(".")[2]: row[1] for row in cur.fetchall()}
    digest.update(repr([(name, when if when is not None else ("checksum", sums.get(name)))
                        for name, when in times]).encode())
    known = [when for _, when in times if when is not None]
    return Fingerprint(digest.hexdigest(), began, max(known) if known else None, len(blind))


def settled(before: Fingerprint, after: Fingerprint) -> bool:
    """Whether a dump taken between two reads holds the state `before` describes: nothing was written
    from the second `before` began (an update time from then on, or a checksum that moved, would show)."""
    if before.digest != after.digest:
        return False
    return before.newest_update is None or before.newest_update < before.began.replace(microsecond=0)


@dataclass
class DumpState:
    """The kept dump: the snapshot it was made for, the key it depends on, its manifest entry and the
    fingerprint of the database it holds."""

    snapshot: str
    key: str
    fingerprint: str
    dump: DumpInfo
    file_sha256: str  # of the file as kept (encrypted when mirror.encrypt is on)
    newest: dict[str, Newest] = field(default_factory=dict)

    @staticmethod
    def folder(store_dir: Path) -> Path:
        return store_dir / DB_STATE

    @classmethod
    def read(cls, store_dir: Path) -> DumpState | None:
        try:
            data = json.loads((cls.folder(store_dir) / STATE_FILE).read_text(encoding="utf-8"))
            return cls(str(data["snapshot"]), str(data["key"]), str(data["fingerprint"]), DumpInfo(**data["dump"]),
                       str(data["file_sha256"]), {k: Newest(**v) for k, v in data.get("newest", {}).items()})
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def path(self, store_dir: Path) -> Path:
        return self.folder(store_dir) / self.dump.file

    def keep(self, store_dir: Path, source: Path) -> None:
        """Keep source (the verified dump, hard-linked) and this state, replacing the last ones."""
        folder = self.folder(store_dir)
        forget(store_dir)
        private_dirs(folder)
        os.link(source, folder / self.dump.file)
        private_file(folder / self.dump.file)  # 0600 already when maint wrote it; whatever else made it
        tmp = folder / (STATE_FILE + ".tmp")
        with open(open_private(tmp), "w", encoding="utf-8") as handle:
            json.dump({**asdict(self), "dump": asdict(self.dump),
                       "newest": {k: asdict(v) for k, v in self.newest.items()}}, handle)
        os.replace(tmp, folder / STATE_FILE)


def forget(store_dir: Path) -> None:
    """Drop the kept dump (a run that could not fingerprint the database must not leave an old one)."""
    folder = DumpState.folder(store_dir)
    if folder.is_dir():
        for entry in os.scandir(folder):
            os.unlink(entry.path)
        os.rmdir(folder)


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()  # streamed, never the whole file in memory


def dump_key(**parts: Any) -> str:
    """What a dump depends on besides the data (database, compression, tool, stripped tables, recipient)."""
    return json.dumps(parts, sort_keys=True, default=str)
