"""Helpers for the stand-in tier's tests that drive `fab` against a Sandbox (imported as `from standin import
...`, like tests/real/realtier.py for the real tier)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from maint.sandbox import Sandbox

PROJECT = Path(__file__).resolve().parents[2]
FAB = PROJECT / ".venv" / "bin" / "fab"
VOLATILE = ("session", "customer_online")  # tables a page visit writes to


def fab(sandbox: Sandbox, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The `fab` command line against the sandbox's stores, as a maintainer runs it (no terminal)."""
    env = {**os.environ, **sandbox.env()}
    return subprocess.run([str(FAB), "-r", str(PROJECT), *args], capture_output=True, text=True, timeout=timeout,
                          env=env, check=False, stdin=subprocess.DEVNULL)


def rows(sandbox: Sandbox, name: str, sql: str) -> list[tuple[object, ...]]:
    """The rows of one statement on the store's database (`{p}` stands for its table prefix), committed."""
    store = sandbox.store(name)
    with sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute(sql.replace("{p}", store.prefix))
        found = list(cur.fetchall())
        db.commit()
        return found


def state(sandbox: Sandbox, name: str, volatile: tuple[str, ...] = VOLATILE,
          skip: tuple[str, ...] = ()) -> tuple[dict[str, object], str]:
    """(CHECKSUM TABLE of every table but the volatile ones, a hash of every file's path and bytes outside
    caches, sessions, logs and the `skip` folders): equal states are byte-for-byte the same store."""
    store = sandbox.store(name)
    sums: dict[str, object] = {}
    with sandbox.db_admin(store.db_name) as db, db.cursor() as cur:
        cur.execute("SHOW TABLES")
        for (table,) in sorted(cur.fetchall()):
            if table.removeprefix(store.prefix) not in volatile:
                cur.execute(f"CHECKSUM TABLE `{table}` EXTENDED")
                sums[table] = cur.fetchone()[1]
    digest = hashlib.sha256()
    for path in sorted(p for p in store.root.rglob("*") if p.is_file()):
        rel = path.relative_to(store.root)
        if not {"cache", "session", "logs"} & set(rel.parts) and not str(rel).startswith(skip):
            digest.update(str(path).encode() + path.read_bytes())
    return sums, digest.hexdigest()
