"""Putting a verified snapshot back on the live host (`fab restore`; the upgrade rollback uses it).

Runs under the store's remote lock. Files go back with rsync --delete (excluded caches are left alone);
the dump is streamed to the host and piped into the `mysql` client there, with the password in the
same kind of temporary 0600 defaults file as the dump, removed on every path.
"""

from __future__ import annotations

import shlex
import subprocess
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
from fabric import Connection

from maint.config import StoreConfig
from maint.errors import RemoteCommandError, VerificationError
from maint.facts.opencart import StoreFacts
from maint.lock import store_lock
from maint.mirror.dump import COMPRESSORS, defaults_file
from maint.mirror.layout import FILES
from maint.mirror.manifest import Manifest
from maint.mirror.run import _raise_for_rsync, count_rows, probe_tools
from maint.mirror.sshmux import SshMux
from maint.model import Plan
from maint.ops.mirror import RestoreFacts, TreeSource, plan_restore
from maint.remote.sql import open_db, table
from maint.remote.ssh import quote, run


def live_tables(db: pymysql.connections.Connection, database: str) -> list[str]:
    with db.cursor() as cur:
        cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                    "AND TABLE_TYPE = 'BASE TABLE'", (database,))
        return sorted(str(r[0]) for r in cur.fetchall())


def prepare_restore(conn: Connection, cfg: StoreConfig, facts: StoreFacts, snapshot: Path, man: Manifest) -> Plan:
    with open_db(conn, facts.db, store=cfg.store) as db:
        tables = live_tables(db, facts.db.database)
    extra = tuple(t for t in tables if t not in man.dump.tables)
    trees = tuple(TreeSource(r.name, r.remote) for r in man.roots)
    return plan_restore(RestoreFacts(
        store=cfg.store, snapshot=snapshot.name, verified=man.verified, snapshot_version=man.opencart_version,
        live_version=facts.version, trees=trees, database=facts.db.database, tables=len(man.dump.tables),
        rows=sum(man.dump.tables.values()), stripped=tuple(man.dump.stripped), extra_tables=extra))


def import_script(creds_size: int, database: str, decompress: str | None) -> str:
    """Read the defaults file (exactly creds_size bytes: dd, since head may read ahead), then SQL from stdin."""
    unpack = f"{decompress} | " if decompress else ""
    return ("umask 077; f=$(mktemp \"${TMPDIR:-/tmp}/maint-restore.XXXXXXXX\") || exit 97; "
            "trap 'rm -f \"$f\"' EXIT; trap 'exit 98' HUP INT TERM PIPE; "
            f"dd bs=1 count={creds_size} of=\"$f\" 2>/dev/null || exit 97; "
            f"{unpack}mysql --defaults-extra-file=\"$f\" --max-allowed-packet=512M {shlex.quote(database)}")


@dataclass
class RestoreResult:
    store: str
    snapshot: str
    steps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"store": self.store, "snapshot": self.snapshot, "steps": self.steps}


def apply_restore(conn: Connection, cfg: StoreConfig, facts: StoreFacts, snapshot: Path, man: Manifest,
                  plan: Plan, *, lock: bool = True) -> RestoreResult:
    """lock=False when the caller already holds the store's lock (the upgrade's rollback)."""
    result = RestoreResult(cfg.store, snapshot.name)
    with store_lock(conn, cfg, "restore") if lock else nullcontext(), SshMux(cfg) as mux:
        for change in plan:
            if change.kind == "files":
                src = snapshot / FILES / change.data["name"]
                from maint.mirror.rsync import STORAGE_EXCLUDES, WEBROOT_EXCLUDES

                rules = STORAGE_EXCLUDES if change.data["name"] != "www" else WEBROOT_EXCLUDES
                argv = ["rsync", "-a", "--delete", "-e", shlex.join(mux.ssh_args), *[f"--exclude={r}" for r in rules],
                        f"{src}/", f"{cfg.host}:{change.data['remote'].rstrip('/')}/"]
                done = subprocess.run(argv, capture_output=True, text=True, check=False)
                _raise_for_rsync(done.returncode, done.stderr, cfg.store)
                result.steps.append(f"files/{change.data['name']} -> {change.data['remote']}")
            elif change.kind == "database":
                _import(mux, cfg, facts, snapshot / man.dump.file, probe_tools(conn, cfg.store).zstd)
                result.steps.append(f"database {facts.db.database} from {man.dump.file}")
            elif change.kind == "drop":
                with open_db(conn, facts.db, store=cfg.store) as db, db.cursor() as cur:
                    for name in change.target.split(", "):
                        cur.execute(f"DROP TABLE IF EXISTS {table('', name)}")
                result.steps.append(f"dropped {change.target}")
            elif change.kind == "cache" and facts.path("DIR_CACHE"):
                run(conn, f"rm -f {quote(facts.path('DIR_CACHE'))}cache.*", check=False, store=cfg.store)
                result.steps.append("data cache cleared")
    with open_db(conn, facts.db, store=cfg.store) as db:
        counts = count_rows(db, sorted(man.dump.tables))
    wrong = [t for t, n in man.dump.tables.items() if counts.get(t) != n]
    if wrong:
        raise VerificationError(f"after the restore {len(wrong)} table(s) differ from the snapshot: "
                                f"{', '.join(wrong[:5])}", store=cfg.store)
    result.steps.append(f"verified: {len(counts)} tables' row counts equal the snapshot's")
    return result


def _import(mux: SshMux, cfg: StoreConfig, facts: StoreFacts, dump: Path, host_has_zstd: bool) -> None:
    creds = defaults_file(facts.db)
    compression = "zstd" if dump.name.endswith(".zst") else "gzip"
    remote_unpack = " ".join(COMPRESSORS[compression][1]) if compression == "gzip" or host_has_zstd else None
    script = import_script(len(creds), facts.db.database, remote_unpack)
    proc = subprocess.Popen([*mux.argv(), script], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None
    try:
        proc.stdin.write(creds)
        if remote_unpack:
            with open(dump, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    proc.stdin.write(chunk)
        else:
            local = subprocess.Popen([*COMPRESSORS[compression][1], str(dump)], stdout=subprocess.PIPE)
            assert local.stdout is not None
            while chunk := local.stdout.read(1 << 20):
                proc.stdin.write(chunk)
            local.wait()
        proc.stdin.close()
    except BrokenPipeError:
        pass
    err = proc.stderr.read().decode(errors="replace")
    if proc.wait() != 0:
        raise RemoteCommandError(f"importing the dump on the host failed: {err.strip()[-300:]}", store=cfg.store)
