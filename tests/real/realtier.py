"""Helpers for the real-release tier's tests (imported as `from realtier import ...`)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

from maint.sandbox import Sandbox
from maint.sandbox.real import REAL_VERSIONS

PROJECT = Path(__file__).resolve().parents[2]
FAB = PROJECT / ".venv" / "bin" / "fab"
REAL = {version: "r" + version.replace(".", "") for version in REAL_VERSIONS}


def fab(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The `fab` command line, as a maintainer runs it (no terminal: plain output)."""
    return subprocess.run([str(FAB), "-r", str(PROJECT), *args], capture_output=True, text=True, timeout=timeout,
                          env=env or dict(os.environ), check=False, stdin=subprocess.DEVNULL)


def db_state(sandbox: Sandbox, name: str, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """CHECKSUM TABLE of every table of a store (byte-for-byte comparison of its rows)."""
    store = sandbox.store(name)
    sums: dict[str, Any] = {}
    with sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("SHOW TABLES")
        tables = sorted(row[0] for row in cur.fetchall())
        for table in tables:
            if table.removeprefix(store.prefix) in skip:
                continue
            cur.execute(f"CHECKSUM TABLE `{table}` EXTENDED")
            sums[table] = cur.fetchone()[1]
    return sums


def files_state(root: Path, *, skip_parts: tuple[str, ...] = ("cache", "session", "logs")) -> str:
    """A hash of every file's path, mode and bytes under root (caches, sessions and logs left out)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        if skip_parts and any(part in skip_parts for part in path.relative_to(root).parts):
            continue
        digest.update(str(path).encode() + oct(path.stat().st_mode).encode() + path.read_bytes())
    return digest.hexdigest()


def query(sandbox: Sandbox, name: str, sql: str, args: tuple[Any, ...] = (), *, relaxed: bool = False
          ) -> list[tuple[Any, ...]]:
    """Rows of one statement on a store's database, as the database's admin ({p} is the table prefix).
    relaxed: no strict sql_mode, so an INSERT may leave out NOT NULL columns that differ between releases."""
    store = sandbox.store(name)
    with sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        if relaxed:
            cur.execute("SET SESSION sql_mode = ''")
        cur.execute(sql.replace("{p}", store.prefix), args)
        rows = list(cur.fetchall())
        db.commit()
        return rows
