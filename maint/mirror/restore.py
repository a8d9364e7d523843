"""Putting a verified snapshot back on the live host (`fab restore`; the upgrade rollback uses it).

Before: the orders, customers and reviews the live store has and the snapshot lacks (ids above the
snapshot's recorded maximum, or added later) are listed, and the files that would change counted by
an rsync dry run. Runs under the store's remote lock. Files go back with rsync --delete (excluded
caches are left alone); the dump is streamed to the host and piped into the `mysql` client there,
with the password in the same kind of temporary 0600 defaults file as the dump, removed on every
path. Afterwards every table's CHECKSUM is recorded, so running the same restore again can say
"nothing to restore" instead of reloading an identical database.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
from fabric import Connection

from maint.config import StoreConfig
from maint.errors import PreconditionError, RemoteCommandError, SqlError, VerificationError
from maint.facts.opencart import StoreFacts
from maint.lock import store_lock
from maint.mirror import carryover, crypt
from maint.mirror.dump import COMPRESSORS, defaults_file
from maint.mirror.layout import FILES, StoreMirror, parse_timestamp
from maint.mirror.manifest import Manifest, Newest
from maint.mirror.modes import open_private, private_dirs
from maint.mirror.repository import Repository
from maint.mirror.rsync import STORAGE_EXCLUDES, WEBROOT_EXCLUDES, parse_itemized
from maint.mirror.run import (
    NEWEST_TABLES,
    _raise_for_rsync,
    count_rows,
    newest_rows,
    probe_tools,
    remote_modes,
    trees_of,
)
from maint.mirror.secrets import excludes_for, push_secrets
from maint.mirror.sshmux import SshMux
from maint.model import Plan
from maint.ops.mirror import NewerRows, RestoreFacts, TreeSource, plan_restore
from maint.remote.sql import open_db, table
from maint.remote.ssh import quote, run

EXAMPLES = 5
# How each table's lost rows are shown: "#12 2026-12-06 10:01:02 ann@example.com 101.0000".
_LABELS = {"order": "CONCAT_WS(' ', email, total)", "customer": "email", "review": "CONCAT_WS(' ', author, product_id)"}


def snapshot_rows(mirror: StoreMirror) -> list[dict[str, Any]]:
    """Every published snapshot, newest first: what `fab restore STORE` lists."""
    from maint.mirror import manifest as manifest_io

    latest = mirror.latest()
    rows = []
    for ts in reversed(mirror.snapshots()):
        folder = mirror.snapshot(ts)
        try:
            man = manifest_io.read(folder)
        except VerificationError:
            rows.append({"snapshot": ts, "date": parse_timestamp(ts).isoformat(), "opencart": "?", "bytes": 0,
                         "verified": False, "encrypted": "", "latest": ts == latest, "note": "no readable manifest"})
            continue
        stored = sum(p.stat().st_size for p in folder.iterdir() if p.is_file() and p.name != "manifest.json")
        rows.append({"snapshot": ts, "date": parse_timestamp(ts).isoformat(), "opencart": man.opencart_version,
                     "bytes": man.bytes + stored, "verified": man.verified, "encrypted": man.encryption,
                     "latest": ts == latest, "note": man.note})
    return rows


def archive_rows(repo: Repository) -> list[dict[str, Any]]:
    """The store's snapshots in a borg or restic repository, newest first, as `snapshot_rows` lists folders
    (from their summaries: one `borg list` or `restic snapshots`, nothing extracted)."""
    found = repo.summaries()
    rows = []
    for ts, summary in reversed(found):
        rows.append({"snapshot": ts, "date": parse_timestamp(ts).isoformat(),
                     "opencart": str(summary.get("opencart_version") or ""), "bytes": int(summary.get("bytes") or 0),
                     "verified": bool(summary.get("verified")), "encrypted": repo.kind, "latest": ts == found[-1][0],
                     "note": str(summary.get("note") or "")})
    return rows


def live_tables(db: pymysql.connections.Connection, database: str) -> list[str]:
    with db.cursor() as cur:
        cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                    "AND TABLE_TYPE = 'BASE TABLE'", (database,))
        return sorted(str(r[0]) for r in cur.fetchall())


def identity_of(cfg: StoreConfig) -> str:
    """`mirror.identity`: the private key (age identity file, or a GnuPG home) serve and restore decrypt with."""
    return str(cfg.option("mirror", "identity", "") or "")


def newer_where(man: Manifest, name: str, key: str) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) of one table's rows the snapshot lacks (see `newer_rows`)."""
    known = man.newest.get(name)
    if known is None:
        latest = parse_timestamp(man.timestamp).strftime("%Y-%m-%d %H:%M:%S")
        return "date_added > %s", [latest]
    if known.latest:
        return f"{key} > %s OR date_added > %s", [known.max_id, known.latest]
    return f"{key} > %s", [known.max_id]


def newer_rows(db: pymysql.connections.Connection, prefix: str, man: Manifest) -> tuple[NewerRows, ...]:
    """Orders, customers and reviews above the snapshot's newest: ids past its max or added after it.

    A snapshot made before maint recorded its newest rows falls back to the snapshot's time (UTC)
    against date_added (the store's own time zone: approximate, said in the plan).
    """
    out = []
    with db.cursor() as cur:
        cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
        present = {str(r[0]) for r in cur.fetchall()}
        for name, key in NEWEST_TABLES.items():
            if prefix + name not in present:
                continue
            where, args = newer_where(man, name, key)
            tbl = table(prefix, name)
            cur.execute(f"SELECT COUNT(*) FROM {tbl} WHERE {where}", args)  # noqa: S608 - names are ours
            count = int(cur.fetchone()[0])
            if not count:
                continue
            cur.execute(f"SELECT {key}, CAST(date_added AS CHAR), {_LABELS[name]} FROM {tbl} "  # noqa: S608
                        f"WHERE {where} ORDER BY {key} DESC LIMIT {EXAMPLES}", args)
            examples = tuple(f"#{r[0]} {r[1]} {r[2] or ''}".strip() for r in cur.fetchall())
            out.append(NewerRows(name, count, examples))
    return tuple(out)


def table_checksums(db: pymysql.connections.Connection, tables: list[str]) -> dict[str, int]:
    """CHECKSUM TABLE of every table (a full read; done after a restore and to find "nothing to restore")."""
    if not tables:
        return {}
    with db.cursor() as cur:
        try:
            cur.execute("CHECKSUM TABLE " + ", ".join(table("", t) for t in tables))
        except pymysql.MySQLError as exc:
            raise SqlError(f"CHECKSUM TABLE failed: {exc.args[-1] if exc.args else exc}") from None
        return {str(r[0]).split(".", 1)[-1]: int(r[1] or 0) for r in cur.fetchall()}


def restore_record(cfg: StoreConfig) -> Path:
    """What the last restore left: the snapshot and the live tables' checksums right after it."""
    return Path(cfg.state_dir).expanduser() / "restores" / f"{cfg.client}-{cfg.store}.json"


def _read_record(cfg: StoreConfig) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(restore_record(cfg).read_text())
        return data
    except (OSError, ValueError):
        return {}


def restore_rules(cfg: StoreConfig, facts: StoreFacts, man: Manifest, name: str) -> list[str]:
    """rsync rules for one tree: what the mirror leaves out of it (`trees_of`: caches, logs and sessions, also
    where storage lives inside the web root), so the restore neither deletes nor replaces them; and
    (encrypted snapshots) the secret paths the tar brings."""
    trees, _ = trees_of(cfg, facts)
    rules = next((list(t.excludes) for t in trees if t.name == name),
                 list(STORAGE_EXCLUDES if name != "www" else WEBROOT_EXCLUDES))
    for archive in man.secrets:
        if archive.tree == name:
            rules += excludes_for(archive.paths)
    return rules


def file_changes(mux: SshMux, cfg: StoreConfig, facts: StoreFacts, snapshot: Path, man: Manifest) -> dict[str, int]:
    """Per tree, how many files the restore would create, change or delete (an rsync dry run; reads only)."""
    out = {}
    for root in man.roots:
        argv = _push_argv(mux, cfg, snapshot / FILES / root.name, root.remote,
                           restore_rules(cfg, facts, man, root.name))
        argv[1:1] = ["--dry-run", "--out-format=%i %n"]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        _raise_for_rsync(done.returncode, done.stderr, cfg.store)
        items = parse_itemized(done.stdout.splitlines())
        out[root.name] = sum(len(v) for v in items.values())
    return out


def _push_argv(mux: SshMux, cfg: StoreConfig, src: Path, remote: str, rules: list[str]) -> list[str]:
    return ["rsync", "-a", "--delete", "-e", shlex.join(mux.ssh_args), *[f"--exclude={r}" for r in rules],
            f"{src}/", f"{cfg.host}:{remote.rstrip('/')}/"]


def prepare_restore(conn: Connection, cfg: StoreConfig, facts: StoreFacts, snapshot: Path, man: Manifest, *,
                    discard_newer: bool = False, carry_newer: bool = False, identity: str = "",
                    safety_snapshot: bool = False) -> Plan:
    """Read-only: the key (encrypted snapshots), live tables, newer rows, files that differ; then the plan.

    safety_snapshot: the caller snapshots the live store before applying (`fab restore` does); identity
    defaults to `mirror.identity`, so the upgrade's rollback decrypts an encrypted snapshot too.
    carry_newer: the plan lists the newer rows `restore_carrying` would write back, instead of losing them.
    """
    identity = identity or identity_of(cfg)
    if man.encryption and man.dump.file:
        crypt.check_key(man.encryption, identity, snapshot / man.dump.file, store=cfg.store)
    with open_db(conn, facts.db, store=cfg.store) as db:
        tables = live_tables(db, facts.db.database)
        newer = newer_rows(db, facts.db.prefix, man)
        carry = tuple(carryover.read_held(db, facts.db.prefix, man, snapshot.name).describe()) if (
            carry_newer and newer) else ()
        record = _read_record(cfg)
        unchanged = ""
        # A restore that carried rows over left them newer than the snapshot: only a carrying restore is a no-op then.
        same = record.get("snapshot") == snapshot.name and (carry_newer or not record.get("carried"))
        if same and set(tables) == set(man.dump.tables):
            if table_checksums(db, tables) == record.get("checksums"):
                unchanged = f"{cfg.store} is as the restore of {snapshot.name} on {record.get('at', '?')} left it"
    with SshMux(cfg) as mux:
        changes = file_changes(mux, cfg, facts, snapshot, man)
    if unchanged and any(changes.values()):
        unchanged = ""
    if unchanged:
        unchanged += f" (every table's checksum equal, {sum(changes.values())} files differ)"
    extra = tuple(t for t in tables if t not in man.dump.tables)
    trees = tuple(TreeSource(r.name, r.remote) for r in man.roots)
    live_modes = remote_modes(conn, cfg, facts)
    return plan_restore(RestoreFacts(
        store=cfg.store, snapshot=snapshot.name, verified=man.verified, snapshot_version=man.opencart_version,
        live_version=facts.version, trees=trees, database=facts.db.database, tables=len(man.dump.tables),
        rows=sum(man.dump.tables.values()), stripped=tuple(man.dump.stripped), extra_tables=extra,
        newer=newer, discard_newer=discard_newer, carry_newer=carry_newer, carry=carry, file_changes=changes,
        unchanged_since=unchanged,
        encrypted=man.encryption, safety_snapshot=safety_snapshot, modes={**live_modes, **man.modes}))


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
    undo_snapshot: str = ""  # the snapshot of the live store taken first

    def as_dict(self) -> dict[str, Any]:
        return {"store": self.store, "snapshot": self.snapshot, "steps": self.steps,
                "undo_snapshot": self.undo_snapshot}


def check_nothing_new(db: pymysql.connections.Connection, facts: StoreFacts, guard: dict[str, Newest],
                      store: str) -> None:
    """Refuse when orders, customers or reviews arrived after the safety snapshot (they would be lost)."""
    now = newest_rows(db, facts.db.prefix, live_tables(db, facts.db.database))
    for name, before in guard.items():
        after = now.get(name)
        if after is not None and (after.max_id > before.max_id or after.rows > before.rows):
            raise PreconditionError(f"new {name} rows arrived after the safety snapshot ({after.max_id} > "
                                    f"{before.max_id}); nothing was changed: run the restore again", store=store)


def apply_restore(conn: Connection, cfg: StoreConfig, facts: StoreFacts, snapshot: Path, man: Manifest,
                  plan: Plan, *, identity: str = "", guard: dict[str, Newest] | None = None,
                  lock: bool = True) -> RestoreResult:
    """lock=False when the caller already holds the store's lock (the upgrade's rollback); guard: the safety
    snapshot's newest rows, checked again under the lock."""
    result = RestoreResult(cfg.store, snapshot.name)
    identity = identity or identity_of(cfg)
    with store_lock(conn, cfg, "restore") if lock else nullcontext(), SshMux(cfg) as mux:
        if guard is not None:
            with open_db(conn, facts.db, store=cfg.store) as db:
                check_nothing_new(db, facts, guard, cfg.store)
        for change in plan:
            if change.kind == "files":
                name = change.data["name"]
                argv = _push_argv(mux, cfg, snapshot / FILES / name, change.data["remote"],
                                   restore_rules(cfg, facts, man, name))
                done = subprocess.run(argv, capture_output=True, text=True, check=False)
                _raise_for_rsync(done.returncode, done.stderr, cfg.store)
                result.steps.append(f"files/{name} -> {change.data['remote']}")
            elif change.kind == "secrets":
                remote = {r.name: r.remote for r in man.roots}
                for archive in man.secrets:
                    push_secrets(mux.argv(), snapshot / archive.file, man.encryption, identity, remote[archive.tree],
                                 store=cfg.store)
                    result.steps.append(f"{archive.file}: {archive.files} files -> {remote[archive.tree]}")
            elif change.kind == "modes":
                remote = {r.name: r.remote.rstrip("/") for r in man.roots}
                commands = [f"chmod {int(mode, 8):o} {quote(remote[rel.split('/', 1)[0]] + '/' + rel.split('/', 1)[1])}"
                            for rel, mode in change.data["modes"].items() if rel.split("/", 1)[0] in remote]
                run(conn, " ; ".join(commands) + " ; true", store=cfg.store)
                result.steps.append("modes put back: " + change.summary.split(" (", 1)[1].split(")")[0])
            elif change.kind == "database":
                _import(mux, cfg, facts, snapshot / man.dump.file, probe_tools(conn, cfg.store).zstd,
                        man.encryption, identity)
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
        checksums = table_checksums(db, sorted(man.dump.tables))
    result.steps.append(f"verified: {len(counts)} tables' row counts equal the snapshot's")
    _write_record(cfg, snapshot.name, checksums)
    return result


def restore_carrying(conn: Connection, cfg: StoreConfig, facts: StoreFacts, snapshot: Path, man: Manifest,
                     plan: Plan, *, carry: bool, guard: dict[str, Newest] | None = None,
                     identity: str = "") -> RestoreResult:
    """`apply_restore` under the caller's lock (and, with carry, its maintenance window), as `fab restore` and
    the upgrade's rollbacks do it. With carry, the orders, customers and reviews newer than the snapshot are
    read right before the restore (`carryover.hold`; that read is the guard then) and written back after it
    (`carryover.put_back`, whose lines end the steps); the restore record then holds the checksums with them,
    so the same restore run again plans nothing."""
    held = carryover.hold(conn, cfg, facts, man, snapshot.name) if carry else None
    result = apply_restore(conn, cfg, facts, snapshot, man, plan, identity=identity, lock=False,
                           guard=held.guard if held is not None else guard)
    if held:
        result.steps += carryover.put_back(conn, cfg, facts, held, man.opencart_version)
        with open_db(conn, facts.db, store=cfg.store) as db:
            _write_record(cfg, snapshot.name, table_checksums(db, sorted(man.dump.tables)), carried=True)
    return result


def _write_record(cfg: StoreConfig, snapshot: str, checksums: dict[str, int], carried: bool = False) -> None:
    from datetime import UTC, datetime

    path = restore_record(cfg)
    private_dirs(path.parent)
    tmp = path.with_suffix(".tmp")
    with open(open_private(tmp), "w", encoding="utf-8") as handle:
        json.dump({"snapshot": snapshot, "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
                   "checksums": checksums, "carried": carried}, handle)
    os.replace(tmp, path)


def _import(mux: SshMux, cfg: StoreConfig, facts: StoreFacts, dump: Path, host_has_zstd: bool,
            encryption: str = "", identity: str = "") -> None:
    creds = defaults_file(facts.db)
    compression = "zstd" if ".zst" in dump.name else "gzip"
    remote_unpack = " ".join(COMPRESSORS[compression][1]) if compression == "gzip" or host_has_zstd else None
    script = import_script(len(creds), facts.db.database, remote_unpack)
    proc = subprocess.Popen([*mux.argv(), script], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None
    source = crypt.open_decrypt(encryption, identity, dump) if encryption else None
    try:
        proc.stdin.write(creds)
        if remote_unpack:
            handle = source.stdout if source is not None else open(dump, "rb")
            assert handle is not None
            with handle:
                while chunk := handle.read(1 << 20):
                    proc.stdin.write(chunk)
        else:
            args: list[str] = [*COMPRESSORS[compression][1]] + ([] if source is not None else [str(dump)])
            local = subprocess.Popen(args, stdin=source.stdout if source is not None else None,
                                     stdout=subprocess.PIPE)
            assert local.stdout is not None
            while chunk := local.stdout.read(1 << 20):
                proc.stdin.write(chunk)
            local.wait()
        proc.stdin.close()
    except BrokenPipeError:
        pass
    err = proc.stderr.read().decode(errors="replace")
    if source is not None and source.wait() != 0:
        proc.wait()
        reason = source.stderr.read().decode(errors="replace").strip() if source.stderr else ""
        raise RemoteCommandError(f"decrypting {dump.name} failed: {reason[-200:]}", store=cfg.store)
    if proc.wait() != 0:
        raise RemoteCommandError(f"importing the dump on the host failed: {err.strip()[-300:]}", store=cfg.store)
